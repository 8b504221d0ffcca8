"""Fixed reference values per scenario version: the siloed heuristic's profit and the upper bound.

The normalized score, 100 (profit - siloed) / (upper bound - siloed), uses these fixed numbers,
never a min-max over submissions. They are computed once per scenario version on the official
seeds and shipped as ``references.json``; a scenario whose content hash differs from the recorded
one has no reference, and its normalized score is null.

Regenerate with ``python -m coord_env.harness.references [SCENARIO ...]``.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import numpy as np

from coord_env.scenarios import Scenario, load_scenario

__all__ = ["compute_reference", "reference_for"]

PATH = Path(__file__).with_name("references.json")


@cache
def _load() -> dict[str, dict]:
    return json.loads(PATH.read_text()) if PATH.exists() else {}


def reference_for(scenario: Scenario) -> dict[str, float] | None:
    """The recorded ``siloed_profit`` and ``upper_bound`` of this exact scenario version, or None."""
    entry = _load().get(scenario.env_id)
    if entry is None or entry["scenario_hash"] != scenario.content_hash:
        return None
    return {"siloed_profit": entry["siloed_profit"], "upper_bound": entry["upper_bound"]}


def compute_reference(scenario: Scenario, workers: int = 2) -> dict[str, object]:
    """Evaluate the siloed heuristic and solve the fluid bound on every official seed."""
    from coord_env.analysis import fluid_upper_bound
    from coord_env.harness.evaluate import evaluate
    from coord_env.harness.seeds import EVALUATION_SEEDS

    siloed = evaluate("siloed", scenario, workers=workers)
    solved = [fluid_upper_bound(scenario, seed) for seed in EVALUATION_SEEDS]
    bounds = [bound.value for bound in solved]
    return {
        "upper_bound_formulation": solved[0].formulation,
        "scenario_hash": scenario.content_hash,
        "siloed_profit": siloed["profit"]["mean"],
        "upper_bound": float(np.mean(bounds)),
        "upper_bound_per_seed": bounds,
    }


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [
        "tiny",
        "small",
        "default",
        "multiscale",
        "capacity",
        "large",
    ]
    table = dict(_load())
    for name in names:
        scenario = load_scenario(name)
        table[scenario.env_id] = compute_reference(scenario)
        print(
            f"{scenario.env_id}: siloed {table[scenario.env_id]['siloed_profit']:,.0f}, "
            f"upper bound {table[scenario.env_id]['upper_bound']:,.0f}",
            flush=True,
        )
        PATH.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
