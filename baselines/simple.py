"""A simple built-in policy: order up to a fixed cover of mean demand, show the best-margin products.

It uses only the scenario's static parameters and what the agents observe, so it also serves as a
worked example of reading observations through the layout object.
"""

from __future__ import annotations

import numpy as np

from baselines.heuristics.base_stock import inventory_position
from coord_env.env import RetailParallelEnv

__all__ = ["MeanDemandPolicy"]


class MeanDemandPolicy:
    """Order-up-to (L_i + 1 + cover) mean demands; each segment sees its top expected-margin products.

    Parameters
    ----------
    env : RetailParallelEnv
        Discrete actions, ``order_quantity`` inventory action, any observation mode that shows the
        inventory agent its on-hand and pipeline (all three do).
    cover : float
        Safety cover in periods of mean demand on top of the lead time.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> policy = MeanDemandPolicy(env)
    >>> observations, infos = env.reset(seed=0)
    >>> sorted(policy.act(observations, infos))
    ['inventory_0', 'recommender_0']
    """

    def __init__(self, env: RetailParallelEnv, cover: float = 1.0):
        if env.continuous_actions or env.inventory_action != "order_quantity":
            raise ValueError(
                "MeanDemandPolicy needs continuous_actions=False and inventory_action='order_quantity'"
            )
        s = env.scenario
        self.layout = env.observation_layouts["inventory_0"]
        self.order_step = s.order_step
        self.max_level = s.order_levels - 1
        self.target = (s.mean_lead_time + 1.0 + cover) * s.demand_scale
        margin_attraction = (s.price - s.cost)[None, :] * np.exp(s.utility)
        best = np.argsort(-margin_attraction, axis=1, kind="stable")[:, : s.num_slots]
        self.slates = best.reshape(-1).astype(np.int64)

    name = "mean_demand"

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is stateless."""

    def act(
        self, observations: dict[str, np.ndarray], infos: dict | None = None
    ) -> dict[str, np.ndarray]:
        """Actions for both agents from their observations."""
        blocks = self.layout.unscale(observations["inventory_0"])
        position = inventory_position(blocks)
        order = np.maximum(self.target - position, 0.0)
        levels = np.minimum(np.ceil(order / self.order_step), self.max_level).astype(np.int64)
        return {"inventory_0": levels, "recommender_0": self.slates.copy()}
