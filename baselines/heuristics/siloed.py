"""The siloed heuristic: each department optimizes alone.

Marketing shows every segment its revenue-maximizing slate (the exact cardinality-C MNL optimum)
under the popularity it estimates from its own observed sales, ignoring stock: as popularity
drifts, the push moves, and operations learns of it only through sales. Operations runs base-stock: the level is the Poisson quantile at the critical ratio
of demand over L_i + 1 periods, forecast by exponential smoothing of its own observed, censored
sales. This is the best each team does alone, so the gap to ``coordinated`` measures coordination.
"""

from __future__ import annotations

import numpy as np

from baselines.heuristics.base_stock import (
    critical_ratio,
    inventory_position,
    order_levels,
    poisson_base_stock,
)
from baselines.heuristics.demand_model import PopularityEstimator, expected_demand
from baselines.heuristics.mnl import best_slates
from coord_env.env import RetailParallelEnv
from coord_env.env.layout import INVENTORY_ACTS
from coord_env.scenarios import Scenario

__all__ = ["SiloedPolicy", "static_slates"]


def static_slates(scenario: Scenario) -> np.ndarray:
    """(M, C) every segment's revenue-maximizing slate under the base attractions: marketing's
    plan before it sees any sales (the exact cardinality-C MNL optimum, ``mnl.best_slates``)."""
    s = scenario
    revenue = np.broadcast_to(s.price, s.utility.shape)
    slates, _ = best_slates(revenue, s.base_attraction, s.no_purchase_attraction, s.slot_boost)
    return slates


class SiloedPolicy:
    """Revenue-maximizing slates ignoring stock; base-stock on smoothed observed sales.

    Parameters
    ----------
    env : RetailParallelEnv
        Discrete actions with ``inventory_action="order_quantity"``.
    smoothing : float
        Exponential smoothing weight of the latest period's sales (operations).
    marketing_smoothing : float
        Smoothing weight of marketing's popularity estimate (per period; 0 keeps a static slate).

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> policy = SiloedPolicy(env)
    >>> policy.reset(seed=0)
    >>> actions = policy.act(*env.reset(seed=0))
    >>> actions["recommender_0"].shape
    (2,)
    """

    name = "siloed"

    def __init__(
        self, env: RetailParallelEnv, smoothing: float = 0.3, marketing_smoothing: float = 0.1
    ):
        check_supported(env)
        s = env.scenario
        self.scenario = s
        self.layout = env.observation_layouts["inventory_0"]
        self.marketing_layout = env.observation_layouts["recommender_0"]
        self.marketing_smoothing = marketing_smoothing
        self.smoothing = smoothing
        self.ratio = critical_ratio(s)
        self.lead_time = s.mean_lead_time
        self.revenue = np.broadcast_to(s.price, s.utility.shape)
        self.static_slates = static_slates(s)
        # The forecast starts from the fitted model's mean demand under the marketing slates.
        self.initial_forecast = expected_demand(
            s, self.static_slates, np.ones(s.num_products), np.arange(1)
        )
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        s = self.scenario
        self.forecast = self.initial_forecast.copy()
        self.periods_seen = 0
        self.tick = 0
        self.slates = self.static_slates
        self.marketing = PopularityEstimator(
            s, self.marketing_smoothing / s.ticks_per_period, self.static_slates
        )

    def _marketing_slates(self, observation: np.ndarray) -> np.ndarray:
        """Re-optimize the slates on the popularity marketing infers from last tick's sales."""
        s = self.scenario
        if self.tick == 0 or self.marketing_smoothing == 0:
            return self.slates
        sales = self.marketing_layout.unscale(observation)["tick_sales"]
        period = (self.tick - 1) // s.ticks_per_period
        popularity = self.marketing.update(
            sales, self.slates, period, share_of_period=1 / s.ticks_per_period
        )
        slates, _ = best_slates(
            self.revenue, s.base_attraction * popularity, s.no_purchase_attraction, s.slot_boost
        )
        return slates

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        s = self.scenario
        self.slates = self._marketing_slates(observations["recommender_0"])
        self.tick += 1
        blocks = self.layout.unscale(observations["inventory_0"])
        levels = np.zeros(s.num_products, dtype=np.int64)
        if blocks["time"][INVENTORY_ACTS] == 1.0:  # the inventory agent acts on this tick
            if self.periods_seen > 0:
                sales = blocks["period_sales"]
                self.forecast = self.smoothing * sales + (1 - self.smoothing) * self.forecast
            self.periods_seen += 1
            target = poisson_base_stock((self.lead_time + 1) * self.forecast, self.ratio)
            position = inventory_position(blocks)
            levels = order_levels(target, position, s.order_step, s.order_levels - 1)
        return {"inventory_0": levels, "recommender_0": self.slates.reshape(-1).copy()}


def check_supported(env: RetailParallelEnv) -> None:
    """The heuristics act through the default discrete, order-quantity interface."""
    if env.continuous_actions or env.inventory_action != "order_quantity":
        raise ValueError(
            "the heuristic baselines need continuous_actions=False and inventory_action='order_quantity' "
            f"(got continuous_actions={env.continuous_actions}, inventory_action={env.inventory_action!r})"
        )
