"""The firm's fitted demand model: expected first-choice demand per period under given slates.

Uses only the scenario's static parameters (lambda, a(t), u, delta, eta) and a popularity factor
the policy estimates from what it observes; never the hidden drift path.
"""

from __future__ import annotations

import numpy as np

from coord_env.core import slate_boost
from coord_env.scenarios import Scenario

__all__ = ["choice_probabilities", "expected_demand"]


def choice_probabilities(
    scenario: Scenario, slates: np.ndarray, popularity: np.ndarray
) -> np.ndarray:
    """(M, N) MNL first-choice probabilities under slates (M, C) and popularity factors (N,).

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> p = choice_probabilities(load_scenario("tiny"), np.array([[0], [1]]), np.ones(2))
    >>> bool(p[0, 0] > p[1, 0])  # product 0 is on segment 0's slate only
    True
    """
    boost, _ = slate_boost(scenario, slates[None])
    attraction = scenario.base_attraction * popularity * boost[0]
    return attraction / (
        scenario.no_purchase_attraction[:, None] + attraction.sum(axis=1, keepdims=True)
    )


def expected_demand(
    scenario: Scenario, slates: np.ndarray, popularity: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """(N,) expected first-choice demand summed over ``periods`` (clipped to the horizon).

    Seasonality and segment shocks are static scenario data, so the firm knows them.
    """
    s = scenario
    periods = np.clip(periods, 0, s.horizon - 1)
    arrivals = (s.tick_arrival_rate[periods] * s.ticks_per_period).sum(axis=0)  # (M,) per period
    shock = s.product_shock[periods].mean(axis=0)
    return arrivals @ choice_probabilities(s, slates, popularity * shock)
