"""A third-party policy written against the public API only, in a few lines.

Evaluate it and put it on the leaderboard (from the repository root)::

    coord-bench evaluate --policy examples.custom_policy:make_policy --scenario default --out results.json
    coord-bench submit results.json --name "Stock-aware greedy" --authors "Your Name"

A policy is any object with ``reset(seed)`` and ``act(observations, infos) -> actions`` (see
docs/plug_in.md); ``make_policy(env)`` is the factory the harness calls once per episode.
"""

from __future__ import annotations

import numpy as np

from coord_env.env import RetailParallelEnv


class StockAwareGreedy:
    """Show each segment its most valuable in-stock products; order up to a base-stock level.

    The slate ranks products by price x base attraction among those with stock on hand (the
    recommender observes ``on_hand``); inventory orders up to ``(E[L] + 2)`` periods of mean
    demand, one period of safety stock beyond the lead time and review period.
    """

    def __init__(self, env: RetailParallelEnv):
        s = env.scenario
        self.inventory_layout = env.observation_layouts["inventory_0"]
        self.recommender_layout = env.observation_layouts["recommender_0"]
        self.value = s.price * s.base_attraction  # (segments, products)
        self.target = (s.mean_lead_time + 2.0) * s.demand_scale  # (products,) units
        self.order_step, self.max_level, self.slots = s.order_step, s.order_levels - 1, s.num_slots

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is a function of the current observation."""

    def act(self, observations: dict, infos: dict) -> dict:
        stock = self.recommender_layout.unscale(observations["recommender_0"])["on_hand"]
        score = np.where(stock > 0, self.value, self.value - self.value.max() - 1.0)
        slates = np.argsort(-score, axis=1, kind="stable")[:, : self.slots]
        blocks = self.inventory_layout.unscale(observations["inventory_0"])
        position = np.rint(blocks["on_hand"] + blocks["pipeline"].sum(axis=-1))
        levels = np.clip(np.ceil((self.target - position) / self.order_step), 0, self.max_level)
        return {"inventory_0": levels.astype(np.int64), "recommender_0": slates.reshape(-1)}


def make_policy(env: RetailParallelEnv) -> StockAwareGreedy:
    """The factory ``coord-bench evaluate --policy examples.custom_policy:make_policy`` calls."""
    return StockAwareGreedy(env)
