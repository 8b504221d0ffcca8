"""Base-stock (order-up-to) building blocks shared by the inventory heuristics."""

from __future__ import annotations

import numpy as np
from scipy import stats

from coord_env.scenarios import Scenario

__all__ = ["critical_ratio", "inventory_position", "order_levels", "poisson_base_stock"]


def critical_ratio(scenario: Scenario) -> np.ndarray:
    """(N,) newsvendor critical ratio (p - c + b) / (p - c + b + h).

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> critical_ratio(load_scenario("tiny")).round(3).tolist()
    [0.982, 0.987]
    """
    s = scenario
    underage = s.price - s.cost + s.lost_sale_penalty
    return underage / (underage + s.holding_cost)


def poisson_base_stock(mean_demand: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(N,) the smallest level S with P(Poisson(mean) <= S) >= ratio (0 for zero mean).

    Examples
    --------
    >>> poisson_base_stock(np.array([10.0, 0.0]), np.array([0.5, 0.9])).tolist()
    [10.0, 0.0]
    """
    return np.where(mean_demand > 0, stats.poisson.ppf(ratio, np.maximum(mean_demand, 1e-12)), 0.0)


def order_levels(
    target: np.ndarray, position: np.ndarray, step: np.ndarray, max_level: int
) -> np.ndarray:
    """(N,) discrete order levels that bring the inventory position up to ``target``.

    Orders ``ceil((target - position) / step)`` levels, at least 0 and at most ``max_level`` (the
    action space's largest level).

    Examples
    --------
    >>> order_levels(np.array([10.0, 3.0]), np.array([4.0, 5.0]), np.array([2, 1]), 40).tolist()
    [3, 0]
    """
    levels = np.ceil((target - position) / step)
    return np.clip(levels, 0, max_level).astype(np.int64)


def inventory_position(blocks: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) on-hand plus pipeline in whole units, from an unscaled inventory observation.

    Observations are float32, so unscaled counts carry rounding error (9 units may read
    8.99999996); rounding restores the integers before they meet a ceiling.

    Examples
    --------
    >>> inventory_position({"on_hand": np.array([8.99999996]), "pipeline": np.array([[1.0000001, 2.0]])}).tolist()
    [12.0]
    """
    return np.rint(blocks["on_hand"] + blocks["pipeline"].sum(axis=-1))
