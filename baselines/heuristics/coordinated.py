"""The coordinated heuristic: the two departments plan together.

Recommender: inventory balancing (Golrezaei, Nazerzadeh & Rusmevichientong 2014). Product i's
revenue is discounted by Psi(min(1, x_i / ref_i)), Psi(u) = (e / (e - 1)) (1 - e^-u), where x_i is
on-hand and ref_i the on-hand the inventory side's order-up-to level implies after a period's
arrivals (the level minus the demand still in the pipeline), and each segment gets the exact best
cardinality-C MNL slate under the discounted revenues. Inventory: base-stock on the demand the
planned slates will create over the lead time (the fitted demand model with seasonality and a
popularity factor estimated from observed sales), so orders anticipate what will be pushed.
"""

from __future__ import annotations

import math

import numpy as np

from baselines.heuristics.base_stock import (
    critical_ratio,
    inventory_position,
    order_levels,
    poisson_base_stock,
)
from baselines.heuristics.demand_model import PopularityEstimator, expected_demand
from baselines.heuristics.mnl import best_slates
from baselines.heuristics.siloed import check_supported
from coord_env.core import slate_boost
from coord_env.env import RetailParallelEnv
from coord_env.env.layout import INVENTORY_ACTS

__all__ = ["CoordinatedPolicy", "balancing_discount"]


def balancing_discount(on_hand: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Psi(min(1, x / ref)) with Psi(u) = (e / (e - 1)) (1 - exp(-u)); 1 where ref is 0.

    Examples
    --------
    >>> balancing_discount(np.array([0.0, 5.0, 20.0]), np.array([10.0, 10.0, 10.0])).round(4).tolist()
    [0.0, 0.6225, 1.0]
    """
    fraction = np.minimum(
        1.0,
        np.divide(on_hand, reference, out=np.ones_like(on_hand, dtype=float), where=reference > 0),
    )
    return (math.e / (math.e - 1.0)) * (1.0 - np.exp(-fraction))


class CoordinatedPolicy:
    """Inventory-balancing slates and base-stock levels that anticipate the planned exposure.

    Parameters
    ----------
    env : RetailParallelEnv
        Discrete actions with ``inventory_action="order_quantity"``.
    smoothing : float
        Weight of the latest period in the smoothed observed and model demand whose ratio is the
        popularity estimate (0 keeps popularity at 1: no drift estimation).

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> policy = CoordinatedPolicy(env)
    >>> policy.reset(seed=0)
    >>> sorted(policy.act(*env.reset(seed=0)))
    ['inventory_0', 'recommender_0']
    """

    name = "coordinated"

    def __init__(self, env: RetailParallelEnv, smoothing: float = 0.1):
        check_supported(env)
        s = env.scenario
        self.scenario = s
        self.inventory_layout = env.observation_layouts["inventory_0"]
        self.recommender_layout = env.observation_layouts["recommender_0"]
        if "on_hand" not in self.recommender_layout.names:
            raise ValueError(
                "the coordinated heuristic needs the recommender to observe stock "
                "(observation_mode 'partial' or 'full')"
            )
        self.smoothing = smoothing
        self.ratio = critical_ratio(s)
        self.lead_time = np.rint(s.mean_lead_time).astype(np.int64)
        self.revenue = np.broadcast_to(s.price, s.utility.shape)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        s = self.scenario
        self.popularity = np.ones(s.num_products)
        self.tick = 0
        self.shown: np.ndarray | None = None
        static_slates, _ = best_slates(
            self.revenue, s.base_attraction, s.no_purchase_attraction, s.slot_boost
        )
        self.estimator = PopularityEstimator(s, self.smoothing, static_slates)
        self.reference = self._push_reference(static_slates, 0)

    def _target(self, slates: np.ndarray, period: int) -> np.ndarray:
        """Base-stock levels for the demand ``slates`` create over each product's lead time."""
        s = self.scenario
        levels = np.empty(s.num_products)
        for lead in np.unique(self.lead_time).tolist():  # a few distinct lead times
            products = self.lead_time == lead
            demand = expected_demand(
                s, slates, self.popularity, np.arange(period, period + lead + 1)
            )
            levels[products] = poisson_base_stock(demand[products], self.ratio[products])
        return levels

    def _push_reference(self, slates: np.ndarray, period: int) -> np.ndarray:
        """ref_i: the stock product i needs to absorb one period of being pushed in every slate.

        A product that cannot cover the demand a push would create is discounted, however its stock
        compares with the small demand it sees when not shown; that keeps the recommender from
        moving demand onto products whose stock was sized for no push.
        """
        s = self.scenario
        boost, _ = slate_boost(s, slates[None])
        attraction = s.base_attraction * self.popularity  # (M, N)
        denominator = s.no_purchase_attraction + (attraction * boost[0]).sum(axis=1)  # (M,)
        pushed = attraction * s.slot_boost[:, :1]  # each product alone in slot 1
        share = pushed / (denominator[:, None] + pushed - attraction * boost[0])
        arrivals = s.tick_arrival_rate[min(period, s.horizon - 1)] * s.ticks_per_period
        return np.maximum(arrivals @ share, 1.0)

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        s = self.scenario
        seen = self.recommender_layout.unscale(observations["recommender_0"])
        discount = balancing_discount(seen["on_hand"], self.reference)
        slates, _ = best_slates(
            self.revenue * discount,
            s.base_attraction * self.popularity,
            s.no_purchase_attraction,
            s.slot_boost,
        )
        levels = np.zeros(s.num_products, dtype=np.int64)
        if seen["time"][INVENTORY_ACTS] == 1.0:  # period start: the inventory agent acts
            period = self.tick // s.ticks_per_period
            blocks = self.inventory_layout.unscale(observations["inventory_0"])
            self._update_popularity(blocks, slates, period)
            # Orders arrive after the lead time, when the product is back at its reference stock and
            # so undiscounted: plan on the slates the recommender shows at full availability.
            planned, _ = best_slates(
                self.revenue,
                s.base_attraction * self.popularity,
                s.no_purchase_attraction,
                s.slot_boost,
            )
            target = self._target(planned, period)
            position = inventory_position(blocks)
            levels = order_levels(target, position, s.order_step, s.order_levels - 1)
            self.reference = self._push_reference(planned, period)
        self.tick += 1
        return {"inventory_0": levels, "recommender_0": slates.reshape(-1)}

    def _update_popularity(
        self, blocks: dict[str, np.ndarray], slates: np.ndarray, period: int
    ) -> None:
        """Fold last period's sales plus lost sales (uncensored demand, roughly) into the estimate."""
        if self.shown is not None:
            observed = blocks["period_sales"] + blocks["period_lost"]
            self.popularity = self.estimator.update(observed, self.shown, period - 1)
        self.shown = slates
