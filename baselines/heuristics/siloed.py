"""The siloed heuristic (SPEC section 4): each department optimizes alone.

Marketing shows every segment its revenue-maximizing slate (the exact cardinality-C MNL optimum),
ignoring stock. Operations runs base-stock: the level is the Poisson quantile at the critical ratio
of demand over L_i + 1 periods, forecast by exponential smoothing of its own observed, censored
sales. This is the best each team does alone, so the gap to ``coordinated`` measures coordination.
"""

from __future__ import annotations

import numpy as np

from baselines.heuristics.base_stock import critical_ratio, order_levels, poisson_base_stock
from baselines.heuristics.demand_model import expected_demand
from baselines.heuristics.mnl import best_slates
from coord_env.env import RetailParallelEnv

__all__ = ["SiloedPolicy"]


class SiloedPolicy:
    """Revenue-maximizing slates ignoring stock; base-stock on smoothed observed sales.

    Parameters
    ----------
    env : RetailParallelEnv
        Discrete actions with ``inventory_action="order_quantity"``.
    smoothing : float
        Exponential smoothing weight of the latest period's sales.

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

    def __init__(self, env: RetailParallelEnv, smoothing: float = 0.3):
        check_supported(env)
        s = env.scenario
        self.scenario = s
        self.layout = env.observation_layouts["inventory_0"]
        self.smoothing = smoothing
        self.ratio = critical_ratio(s)
        self.lead_time = s.mean_lead_time
        revenue = np.broadcast_to(s.price, s.utility.shape)
        self.slates, _ = best_slates(
            revenue, s.base_attraction, s.no_purchase_attraction, s.slot_boost
        )
        # The forecast starts from the fitted model's mean demand under the marketing slates.
        self.initial_forecast = expected_demand(
            s, self.slates, np.ones(s.num_products), np.arange(1)
        )
        self.forecast = self.initial_forecast.copy()
        self.periods_seen = 0

    def reset(self, seed: int | None = None) -> None:
        self.forecast = self.initial_forecast.copy()
        self.periods_seen = 0

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        s = self.scenario
        blocks = self.layout.unscale(observations["inventory_0"])
        levels = np.zeros(s.num_products, dtype=np.int64)
        if blocks["time"][4] == 1.0:  # the inventory agent acts on this tick
            if self.periods_seen > 0:
                sales = blocks["period_sales"]
                self.forecast = self.smoothing * sales + (1 - self.smoothing) * self.forecast
            self.periods_seen += 1
            target = poisson_base_stock((self.lead_time + 1) * self.forecast, self.ratio)
            position = blocks["on_hand"] + blocks["pipeline"].sum(axis=-1)
            levels = order_levels(target, position, s.order_step, s.order_levels - 1)
        return {"inventory_0": levels, "recommender_0": self.slates.reshape(-1).copy()}


def check_supported(env: RetailParallelEnv) -> None:
    """The heuristics act through the default discrete, order-quantity interface."""
    if env.continuous_actions or env.inventory_action != "order_quantity":
        raise ValueError(
            "the heuristic baselines need continuous_actions=False and inventory_action='order_quantity' "
            f"(got continuous_actions={env.continuous_actions}, inventory_action={env.inventory_action!r})"
        )
