"""Fixed reference values per scenario version: the siloed heuristic's profit and the ceiling.

The normalized score, 100 (profit - siloed) / (ceiling - siloed), uses these fixed numbers,
never a min-max over submissions. They are computed once per scenario version on the official
seeds and shipped as ``references.json``; a scenario whose content hash differs from the recorded
one has no reference, and its normalized score is null.

The ceiling is the exact optimum where the DP of :mod:`coord_env.analysis.optimal` solves the
scenario (``tiny``): the mean over the official seeds of the optimal expected profit given each
seed's initial stock. Elsewhere it is the fluid upper bound (mean over the official seeds). Each
entry records which one in ``ceiling`` (``"optimum"`` or ``"fluid_bound"``); the fluid bound is
recorded in every entry. ``references.json`` carries a ``version`` that changes whenever a
recorded reference or its meaning changes (version 2: ``tiny`` uses the optimum).

Regenerate with ``python -m coord_env.harness.references [SCENARIO ...]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from coord_env.fileio import atomic_write_text
from coord_env.scenarios import Scenario, load_scenario

__all__ = ["ceiling_per_seed", "compute_reference", "reference_for"]

PATH = Path(__file__).with_name("references.json")
VERSION = 2  # of references.json; bump whenever a recorded reference or its meaning changes
CEILINGS = {"optimum": "optimum", "fluid_bound": "upper_bound"}  # ceiling -> entry field


@cache
def _load() -> dict[str, dict]:
    return json.loads(PATH.read_text())["scenarios"] if PATH.exists() else {}


def reference_for(scenario: Scenario) -> dict[str, float | str] | None:
    """The recorded references of this exact scenario version, or None.

    Returns
    -------
    dict or None
        ``siloed_profit``; ``upper_bound``, the ceiling of the normalized score (the exact
        optimum where known, else the fluid bound); ``ceiling``, which of the two it is.
    """
    entry = _load().get(scenario.env_id)
    if entry is None or entry["scenario_hash"] != scenario.content_hash:
        return None
    ceiling = entry["ceiling"]
    return {
        "siloed_profit": entry["siloed_profit"],
        "upper_bound": entry[CEILINGS[ceiling]],
        "ceiling": ceiling,
    }


def ceiling_per_seed(scenario: Scenario) -> list[float] | None:
    """The ceiling on each official seed (``optimum_per_seed`` or ``upper_bound_per_seed``, as
    ``ceiling`` says), in the order of ``EVALUATION_SEEDS``; None without a recorded reference.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> len(ceiling_per_seed(load_scenario("tiny")))
    30
    """
    entry = _load().get(scenario.env_id)
    if entry is None or entry["scenario_hash"] != scenario.content_hash:
        return None
    return list(entry[f"{CEILINGS[entry['ceiling']]}_per_seed"])


def compute_reference(
    scenario: Scenario, workers: int = 2, seeds: Sequence[int] | None = None
) -> dict[str, object]:
    """Evaluate the siloed heuristic and solve the fluid bound (and the optimum where the DP
    solves the scenario) on every seed of ``seeds`` (default: the official seeds)."""
    from coord_env.analysis import fluid_upper_bound
    from coord_env.analysis.optimal import OptimalPolicy, optimal_value, solve_optimal
    from coord_env.harness.evaluate import evaluate
    from coord_env.harness.seeds import EVALUATION_SEEDS

    seeds = list(EVALUATION_SEEDS if seeds is None else seeds)
    siloed = evaluate("siloed", scenario, seeds, workers=workers)
    solved = [fluid_upper_bound(scenario, seed) for seed in seeds]
    bounds = [bound.value for bound in solved]
    entry: dict[str, object] = {
        "ceiling": "fluid_bound",
        "upper_bound_formulation": solved[0].formulation,
        "scenario_hash": scenario.content_hash,
        "siloed_profit": siloed["profit"]["mean"],
        "upper_bound": float(np.mean(bounds)),
        "upper_bound_per_seed": bounds,
    }
    if OptimalPolicy.supports(scenario):
        optimum = [optimal_value(scenario, seed) for seed in seeds]
        solution = solve_optimal(scenario)
        entry.update(
            ceiling="optimum",
            optimum=float(np.mean(optimum)),
            optimum_per_seed=optimum,
            optimum_expected=solution.value,
            optimum_truncation_error=solution.truncation_error,
        )
    return entry


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
            f"upper bound {table[scenario.env_id]['upper_bound']:,.0f}, ceiling "
            f"{table[scenario.env_id]['ceiling']}",
            flush=True,
        )
        document = {"version": VERSION, "scenarios": table}
        atomic_write_text(PATH, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
