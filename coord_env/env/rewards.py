"""Reward scales: factors that make a tick's reward O(1) on every scenario, for learners.

Raw rewards are money per tick, which differs by orders of magnitude across scenarios (and the
last tick adds the salvage). Learners train better on rewards of order 1, so the env option
``reward_scale`` multiplies both agents' rewards by a factor. Two defaults exist, named for what
they compute (docs/training.md, "Reward scale"):

- :func:`inverse_revenue_per_tick`: ``reward_scale="auto"`` and the SB3 baselines;
- :func:`inverse_margin_per_tick`: MTMA (``MTMAConfig.reward_scale=None``).

Infos stay in money, so the harness and every metric are unaffected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coord_env.scenarios import Scenario, load_scenario

__all__ = ["inverse_margin_per_tick", "inverse_revenue_per_tick", "resolve_reward_scale"]


def inverse_revenue_per_tick(scenario: str | Scenario) -> float:
    """``1 / (expected revenue per tick)``: the factor that makes a tick's reward O(1).

    The expected revenue is ``sum_i price_i * mu_i / R``, with ``mu_i`` the scenario's demand scale
    (mean first-choice demand per period under a uniformly random slate) and ``R`` the ticks per
    period. The SB3 baselines train with it; ``reward_scale="auto"`` applies it.

    Parameters
    ----------
    scenario : str or Scenario

    Returns
    -------
    float

    Examples
    --------
    >>> scale = inverse_revenue_per_tick("tiny")
    >>> s = load_scenario("tiny")
    >>> round(scale * float((s.price * s.demand_scale).sum()) / s.ticks_per_period, 12)
    1.0
    """
    s = load_scenario(scenario)
    revenue_per_tick = float(np.sum(s.price * s.demand_scale)) / s.ticks_per_period
    return 1.0 / revenue_per_tick


def inverse_margin_per_tick(scenario: str | Scenario) -> float:
    """``1 / (expected gross margin per tick)``: MTMA's default reward scale.

    ``R / sum_i (p_i - c_i) mu_i``, with ``mu_i`` the demand scale (docs/model.md §2.1) and ``R``
    the ticks per period. A policy that sells every unit of demand at full margin earns about +1
    per tick, so value targets stay small and one learning rate fits every scenario. ``scenario``
    is a catalog name or a Scenario, as for :func:`inverse_revenue_per_tick`.

    Examples
    --------
    >>> s = load_scenario("tiny")
    >>> margin = float(((s.price - s.cost) * s.demand_scale).sum())
    >>> round(inverse_margin_per_tick(s) * margin / s.ticks_per_period, 12)
    1.0
    """
    s = load_scenario(scenario)
    margin = (s.price - s.cost) * s.demand_scale
    return float(s.ticks_per_period / margin.sum())


def resolve_reward_scale(scenario: Scenario, reward_scale: Any) -> float:
    """The factor of the env option ``reward_scale``: a finite number > 0, or ``"auto"``.

    Parameters
    ----------
    scenario : Scenario
    reward_scale : float or "auto"
        ``"auto"``: :func:`inverse_revenue_per_tick` of ``scenario``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Anything else (a bool, a string other than "auto", zero, a negative, NaN or inf).

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> resolve_reward_scale(load_scenario("tiny"), 0.5)
    0.5
    """
    if isinstance(reward_scale, str) and reward_scale == "auto":
        return inverse_revenue_per_tick(scenario)
    if isinstance(reward_scale, (bool, np.bool_)) or not isinstance(
        reward_scale, (int, float, np.integer, np.floating)
    ):
        raise ValueError(
            f"reward_scale must be a finite number > 0 or 'auto'; got {reward_scale!r}"
        )
    value = float(reward_scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"reward_scale must be a finite number > 0 or 'auto'; got {reward_scale!r}"
        )
    return value
