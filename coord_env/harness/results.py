"""The results document: the same JSON a leaderboard submission carries.

docs/plug_in.md §3 ("Evaluate it") describes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from coord_env.harness.metrics import METRICS
from coord_env.harness.stats import summarize
from coord_env.scenarios import Scenario

__all__ = ["RESULTS_FIELDS", "SCHEMA_VERSION", "build_results", "normalized_score"]

SCHEMA_VERSION = 1
# The top-level fields of a results document, in order.
RESULTS_FIELDS = (
    "schema_version",
    "package_version",
    "scenario",
    "scenario_hash",
    "policy",
    "seeds",
    "per_seed",
    "profit",
    "normalized_score",
    "metrics",
)


def normalized_score(profit: float, siloed_profit: float, upper_bound: float) -> float:
    """100 (profit - siloed) / (upper bound - siloed): 0 is the siloed heuristic, 100 the bound.

    Examples
    --------
    >>> normalized_score(70.0, 50.0, 90.0)
    50.0
    """
    return 100.0 * (profit - siloed_profit) / (upper_bound - siloed_profit)


def _json_number(value: float) -> float | None:
    """JSON has no NaN: an undefined metric is written as null."""
    return None if value is None or not math.isfinite(value) else float(value)


def build_results(
    policy: str,
    scenario: Scenario,
    seeds: Sequence[int],
    rows: list[dict[str, Any]],
    reference: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Assemble the results document from per-seed rows (each: seed, profit, money parts, metrics).

    ``reference`` holds the scenario version's fixed ``siloed_profit`` and ``upper_bound``; without
    it the normalized score is null.
    """
    from coord_env import __version__

    profits = np.array([row["profit"] for row in rows])
    summary = summarize(profits)
    metrics = {}
    for name in METRICS:
        values = np.array([row[name] for row in rows], dtype=float)
        finite = values[np.isfinite(values)]
        metrics[name] = _json_number(finite.mean()) if finite.size else None
    score = None
    if reference is not None:
        score = normalized_score(
            summary["mean"], reference["siloed_profit"], reference["upper_bound"]
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "package_version": __version__,
        "scenario": scenario.env_id,
        "scenario_hash": scenario.content_hash,
        "policy": policy,
        "seeds": [int(seed) for seed in seeds],
        "per_seed": [
            {key: (_json_number(value) if key != "seed" else value) for key, value in row.items()}
            for row in rows
        ],
        "profit": {key: summary[key] for key in ("mean", "iqm", "ci_low", "ci_high")},
        "normalized_score": score,
        "metrics": metrics,
    }
