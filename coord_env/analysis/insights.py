"""The managerial-insight checks, measured on episode trajectories.

docs/results.md, "Managerial insights", reports them per scenario.

The paper's claims about what coordinated departments learn, each turned into a number:

- ``own_stock``: a product's exposure rises with its own stock. The harness metric
  :func:`~coord_env.harness.metrics.exposure_stock_rank_correlation` (across products, per period).
- ``substitute_stock``: a product's exposure falls when its substitutes' stock rises.
  :func:`substitute_stock_exposure_correlation` (over time, per product).
- ``orders_lead``: under lead times, orders lead exposure (orders now match what is pushed
  ``L_i`` periods later). The harness metric
  :func:`~coord_env.harness.metrics.order_exposure_lead_correlation`.

:func:`insight_checks` averages each over episodes; ``coord-bench reproduce`` compares MTMA with
the siloed heuristic on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coord_env.harness.metrics import (
    _row_pearson,
    exposure_stock_rank_correlation,
    order_exposure_lead_correlation,
)
from coord_env.harness.trajectory import Trajectory

__all__ = ["INSIGHTS", "insight_checks", "substitute_stock_exposure_correlation"]


def substitute_stock_exposure_correlation(trajectory: Trajectory) -> float:
    """Mean over products of the Pearson correlation, over periods, of the product's exposure and
    the start-of-period stock of all other products.

    Every other product is a substitute under MNL choice. Negative values mean exposure moves
    away from a product when the others hold more stock. A product counts when both series vary.

    Parameters
    ----------
    trajectory : Trajectory

    Returns
    -------
    float
        In ``[-1, 1]``; ``nan`` when no product's series vary (e.g. a fixed slate).

    Examples
    --------
    Two products, impressions of product 0 ``[1, 9, 1]`` and of product 1 ``[9, 1, 9]``, stock of
    product 0 ``[0, 5, 0]`` and of product 1 ``[5, 0, 5]``: each product's exposure falls exactly
    when the other's stock rises, so the value is -1.0.
    """
    exposure = np.asarray(trajectory.impressions, dtype=np.float64).T  # (N, T)
    stock = np.asarray(trajectory.on_hand_start, dtype=np.float64)
    others = (stock.sum(axis=1, keepdims=True) - stock).T  # (N, T)
    r, defined = _row_pearson(exposure, others)
    return float(np.mean(r[defined])) if defined.any() else float("nan")


INSIGHTS = {
    "own_stock": exposure_stock_rank_correlation,
    "substitute_stock": substitute_stock_exposure_correlation,
    "orders_lead": order_exposure_lead_correlation,
}


def insight_checks(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Each insight's mean over the episodes where it is defined (``nan`` if it never is)."""
    checks = {}
    for name, measure in INSIGHTS.items():
        values = np.array([measure(trajectory) for trajectory in trajectories], dtype=np.float64)
        values = values[np.isfinite(values)]
        checks[name] = float(values.mean()) if values.size else float("nan")
    return checks
