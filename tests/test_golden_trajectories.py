"""The kernel reproduces the recorded golden trajectories bit for bit (issue 20).

The goldens (tests/data/golden_trajectories.json) were recorded from the numpy kernel before the
compiled kernel replaced it; tests/golden_record.py says how. Every catalog scenario, every option
that reaches the kernel, the single env and the vector env at B = 1, 7 and 64, and the kernel
driven directly into shortages, substitution and over-demanded substitutes.
"""

import json

import numpy as np
import pytest
from golden_record import GOLDEN_PATH, run_case

GOLDEN = json.loads(GOLDEN_PATH.read_text())
CASES = {record["name"]: record for record in GOLDEN["cases"]}


def test_the_goldens_cover_every_scenario_option_and_batch_size():
    import coord_env

    names = set(CASES)
    for scenario in coord_env.list_scenarios():
        assert f"env/{scenario}/single/B1/opt0" in names
        for batch_size in (1, 7, 64):
            for option in range(4):
                assert f"env/{scenario}/vector/B{batch_size}/opt{option}" in names
            assert f"core/{scenario}/B{batch_size}/up_to=True" in names


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_its_golden_digests(name):
    record = CASES[name]
    digests, arrays = run_case(record)
    assert len(digests) == len(record["digests"])
    mismatches = [
        step for step, (a, b) in enumerate(zip(digests, record["digests"], strict=True)) if a != b
    ]
    assert not mismatches, f"{name}: first differing step {mismatches[0]} (0 is the reset)"
    if "arrays" in record:
        assert arrays == record["arrays"]


def test_a_changed_draw_changes_the_digests():
    """The comparison can fail: one more draw from the generator shifts every later digest."""
    import golden_record

    record = CASES["core/default/B7/up_to=False"]
    original = np.random.default_rng

    def shifted(seed=None):
        rng = original(seed)
        rng.random()
        return rng

    golden_record.np.random.default_rng = shifted
    try:
        digests, _ = run_case(record)
    finally:
        golden_record.np.random.default_rng = original
    assert digests[1:] != record["digests"][1:]
