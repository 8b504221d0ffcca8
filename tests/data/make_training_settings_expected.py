"""Record what retrain trains, for tests/test_training_settings.py.

For every RL baseline and every scenario with a training budget, the budget, the evaluation
interval, the trainer config and the ``coord-bench train`` command of two seeds, computed by
``baselines.reproduce`` with the tuned settings of ``tuned_settings_pinned.json`` (a copy of the
package's ``baselines/settings/tuned.json`` when recorded, so that retuning does not move the pin).
The reference was recorded from the code before the settings moved to
``baselines/settings/training.json`` (commit 27a4593):

    PYTHONPATH=<checkout> python tests/data/make_training_settings_expected.py

The test compares the same quantities, computed by the current code, with the JSON. The
entries of ``default`` and ``multiscale`` were dropped from the JSON when those scenarios moved to
the equal-effort protocol (tested against the tuned settings instead).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = ("tiny", "small", "default", "multiscale")
SEEDS = (0, 3)
PINNED_TUNED = HERE / "tuned_settings_pinned.json"
EXPECTED = HERE / "training_settings_expected.json"


def record() -> dict[str, Any]:
    """``{scenario: {baseline: {budget, eval_every, config, commands}}}`` from the code in use."""
    import baselines.reproduce as reproduce
    from baselines.rl.names import RL_BASELINES
    from coord_env.scenarios import load_scenario

    reproduce.TUNED_SETTINGS = PINNED_TUNED
    table: dict[str, Any] = {}
    for scenario_name in SCENARIOS:
        scenario = load_scenario(scenario_name)
        for name in RL_BASELINES:
            budget = reproduce.training_budget(name, scenario)
            table.setdefault(scenario_name, {})[name] = {
                "budget": budget,
                "eval_every": reproduce.eval_every(budget),
                "config": reproduce.training_config(name, scenario),
                "commands": {
                    str(seed): reproduce.training_command(name, scenario, seed) for seed in SEEDS
                },
            }
    return table


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    from coord_env.fileio import atomic_write_text

    atomic_write_text(EXPECTED, json.dumps(record(), indent=1) + "\n")
    print(f"wrote {EXPECTED}")
