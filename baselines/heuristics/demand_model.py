"""The firm's fitted demand model: expected first-choice demand per period under given slates.

Uses only the scenario's static parameters (lambda, a(t), u, delta, eta) and a popularity factor
the policy estimates from what it observes; never the hidden drift path.
"""

from __future__ import annotations

import numpy as np

from coord_env.core import slate_boost
from coord_env.scenarios import Scenario

__all__ = ["PopularityEstimator", "choice_probabilities", "expected_demand"]


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
    """(N,) expected first-choice demand summed over ``periods``; periods past the horizon count 0.

    Seasonality and shocks are static scenario data, so the firm knows them. Periods with the same
    product shocks share one choice computation.
    """
    s = scenario
    periods = np.asarray(periods)
    periods = periods[(periods >= 0) & (periods < s.horizon)]
    demand = np.zeros(s.num_products)
    if periods.size == 0:
        return demand
    arrivals = s.tick_arrival_rate[periods] * s.ticks_per_period  # (P, M) customers per period
    shocks = s.product_shock[periods]  # (P, N)
    if np.all(shocks == shocks[0]):  # the common case: one choice model for every period
        return arrivals.sum(axis=0) @ choice_probabilities(s, slates, popularity * shocks[0])
    for arrival, shock in zip(arrivals, shocks, strict=True):  # a few periods at most
        demand += arrival @ choice_probabilities(s, slates, popularity * shock)
    return demand


class PopularityEstimator:
    """Estimates each product's popularity factor from observed sales, as a firm would.

    popularity_i = smoothed observed demand_i / smoothed model demand_i, where the model demand is
    the fitted demand at popularity 1 under the slates actually shown. A ratio of smoothed
    quantities is far less noisy than a smoothed ratio. What counts as "observed demand" is the
    caller's choice: sales only (censored by stockouts) or sales plus lost sales.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> s = load_scenario("tiny")
    >>> estimator = PopularityEstimator(s, smoothing=0.5, slates=np.array([[0], [1]]))
    >>> model = expected_demand(s, np.array([[0], [1]]), np.ones(2), np.arange(1))
    >>> estimator.update(2 * model, np.array([[0], [1]]), period=0).round(3).tolist()
    [1.5, 1.5]
    """

    def __init__(
        self,
        scenario: Scenario,
        smoothing: float,
        slates: np.ndarray,
        bounds: tuple[float, float] = (0.25, 4.0),
    ):
        self.scenario = scenario
        self.smoothing = smoothing
        self.bounds = bounds
        self.model_demand = expected_demand(
            scenario, slates, np.ones(scenario.num_products), np.arange(1)
        )
        self.observed_demand = self.model_demand.copy()
        self.popularity = np.ones(scenario.num_products)

    def update(
        self, observed: np.ndarray, shown: np.ndarray, period: int, share_of_period: float = 1.0
    ) -> np.ndarray:
        """Fold in demand observed while ``shown`` was displayed (a whole period, or a tick's share)."""
        s = self.scenario
        predicted = share_of_period * expected_demand(
            s, shown, np.ones(s.num_products), np.arange(period, period + 1)
        )
        scale = 1.0 / share_of_period  # smooth per-period rates, whatever the observation window
        a = self.smoothing
        self.observed_demand = a * scale * observed + (1 - a) * self.observed_demand
        self.model_demand = a * scale * predicted + (1 - a) * self.model_demand
        ratio = np.divide(
            self.observed_demand,
            self.model_demand,
            out=np.ones(s.num_products),
            where=self.model_demand > 0.5,
        )
        self.popularity = np.clip(ratio, *self.bounds)
        return self.popularity
