"""The kernel reproduces the recorded golden trajectories bit for bit (issue 20).

The goldens (tests/data/golden_trajectories.json) were recorded from the numpy kernel before the
compiled kernel replaced it; tests/golden_record.py says how. Every catalog scenario, every option
that reaches the kernel, the single env and the vector env at B = 1, 7 and 64, and the kernel
driven directly into shortages, substitution and over-demanded substitutes.
"""

import copy
import dataclasses
import itertools
import json

import golden_record
import numba
import numpy as np
import numpy_kernel
import pytest
from golden_record import GOLDEN_PATH, _state_dict, run_case
from helpers import canonical

import coord_env
from coord_env import core
from coord_env.core import dynamics, kernel

GOLDEN = json.loads(GOLDEN_PATH.read_text())
CASES = {record["name"]: record for record in GOLDEN["cases"]}


def test_the_goldens_cover_every_scenario_option_and_batch_size():
    names = set(CASES)
    for scenario in coord_env.list_scenarios():
        assert f"env/{scenario}/single/B1/opt0" in names
        for batch_size in (1, 7, 64):
            for option in range(4):
                assert f"env/{scenario}/vector/B{batch_size}/opt{option}" in names
            assert f"core/{scenario}/B{batch_size}/up_to=True" in names


@pytest.mark.parametrize(
    "name",
    # the large scenario in batches of 64: in the full suite only (the B7 cases stay in the fast one)
    [
        pytest.param(n, marks=pytest.mark.slow) if "/large/" in n and "/B64" in n else n
        for n in sorted(CASES)
    ],
)
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


# The kernel's draws, one by one, against numpy's vectorized calls on the same generator state.


def _same_stream(a: np.random.Generator, b: np.random.Generator) -> bool:
    return a.bit_generator.state == b.bit_generator.state


@numba.njit
def _poissons(rng, lam):
    out = np.empty(lam.shape[0], dtype=np.int64)
    for index in range(lam.shape[0]):
        out[index] = kernel.poisson(rng, lam[index])
    return out


@pytest.mark.slow
def test_poisson_is_numpys_including_its_rare_ptrs_rejections():
    """lam >= 10 uses PTRS; numba's own port truncates where numpy floors (rare draws differ)."""
    lam = np.random.default_rng(0).uniform(0.0, 40.0, 300_000)
    lam[:1000] = 0.0
    lam[1000:60_000] = np.random.default_rng(1).uniform(10.0, 12.0, 59_000)
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(_poissons(ours, lam), theirs.poisson(lam))
    assert _same_stream(ours, theirs)


def test_multinomial_is_numpys():
    rng = np.random.default_rng(2)
    for size in (1, 2, 5, 12, 40, 210):
        for _ in range(60):
            p = rng.random(size) ** 3
            p[rng.random(size) < 0.3] = 0.0
            p = p / p.sum() if p.sum() > 0 else np.full(size, 1.0 / size)
            n = int(rng.integers(0, 2000))
            out = np.empty(size, dtype=np.int64)
            seed = int(rng.integers(1 << 30))
            ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
            kernel.multinomial(ours, n, p, out)
            assert out.tolist() == theirs.multinomial(n, p).tolist()
            assert _same_stream(ours, theirs)


@pytest.mark.parametrize("seed", range(3))
def test_hypergeometric_is_numpys_in_both_samplers(seed):
    """Below 10 draws (or within 10 of the urn) the simple sampler, else HRUA; empty colours too."""
    rng = np.random.default_rng(seed)
    for _ in range(3000):
        good = int(rng.choice([0, 1, 3, 10, 60, 500, 5000]) + rng.integers(0, 5))
        bad = int(rng.choice([0, 2, 9, 40, 700, 3000]) + rng.integers(0, 5))
        sample = int(rng.integers(0, good + bad + 1))
        draw = int(rng.integers(1 << 30))
        ours, theirs = np.random.default_rng(draw), np.random.default_rng(draw)
        assert kernel.hypergeometric(ours, good, bad, sample) == theirs.hypergeometric(
            good, bad, sample
        )
        assert _same_stream(ours, theirs)


def test_pairwise_sum_is_numpys_sum():
    rng = np.random.default_rng(4)
    for count in [*range(0, 300), 1000, 1029, 4099]:
        values = rng.random(count) * np.exp(rng.normal(0.0, 6.0, count))
        assert kernel.pairwise_sum(values, 0, count) == values.sum()


@pytest.mark.parametrize(
    ("batch_size", "name"),
    [
        pytest.param(32, "large", marks=pytest.mark.slow) if case == (32, "large") else case
        for case in itertools.product((1, 3, 32), ("small", "default", "capacity", "large"))
    ],
)
def test_the_kernel_matches_the_numpy_reference_from_random_states(name, batch_size):
    """Fuzz beyond the goldens: random stock, pipelines, orders and slates, every Outcome field."""
    scenario = golden_record.stress_scenario(name) if name != "capacity" else None
    scenario = scenario or coord_env.load_scenario(name)
    N, M, C = scenario.num_products, scenario.num_segments, scenario.num_slots
    setup = np.random.default_rng(batch_size)
    rng = np.random.default_rng(100 + batch_size)
    state = core.reset(scenario, rng, batch_size=batch_size)
    for tick in range(4 if name == "large" else 12):
        state.on_hand[:] = setup.integers(0, 3, size=state.on_hand.shape) * setup.integers(
            0, 60, size=state.on_hand.shape
        )
        state.pipeline[:] = setup.integers(0, 80, size=state.pipeline.shape)
        orders = setup.integers(0, 200, size=(batch_size, N))
        slates = setup.integers(-1, N, size=(batch_size, M, C))
        order_up_to = bool(tick % 2)
        reference_state, reference_rng = state.copy(), copy.deepcopy(rng)
        expected = numpy_kernel.step(
            scenario, reference_state, orders, slates, reference_rng, order_up_to=order_up_to
        )
        outcome = core.step(scenario, state, orders, slates, rng, order_up_to=order_up_to)
        assert canonical(_fields(outcome)) == canonical(_fields(expected)), f"tick {tick}"
        assert canonical(_state_dict(state)) == canonical(_state_dict(reference_state))
        assert _same_stream(rng, reference_rng)


def _fields(outcome: core.Outcome) -> dict[str, np.ndarray]:
    return {field.name: getattr(outcome, field.name) for field in dataclasses.fields(outcome)}


def test_admit_matches_the_numpy_reference():
    rng = np.random.default_rng(9)
    for _ in range(300):
        N = int(rng.integers(1, 12))
        arriving = rng.integers(0, 3, size=(5, N)) * rng.integers(0, 50, size=(5, N))
        on_hand = rng.integers(0, 40, size=(5, N))
        capacity = float(rng.choice([0.0, 10.0, 55.5, 120.0, 400.0, np.inf]))
        stored, disposed = dynamics._admit(arriving, on_hand, capacity)
        expected = numpy_kernel._admit(arriving, on_hand, capacity)
        assert stored.tolist() == expected[0].tolist()
        assert disposed.tolist() == expected[1].tolist()
