"""A demo coord_env plug-in: one policy, registered by name through an entry point."""

from __future__ import annotations

import numpy as np

import coord_env

__all__ = ["HoldPolicy", "register"]


class HoldPolicy:
    """Orders a fixed level of every product and shows each segment the first products."""

    def __init__(self, env: coord_env.RetailParallelEnv, level: int = 1):
        self.orders = np.full(env.scenario.num_products, level, dtype=np.int64)
        self.slate = (
            np.arange(env.action_space("recommender_0").shape[0]) % env.scenario.num_products
        )

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observations: dict, infos: dict) -> dict:
        return {"inventory_0": self.orders.copy(), "recommender_0": self.slate.copy()}


def register() -> None:
    """Entry point of the group ``coord_env.policies``."""
    coord_env.register_policy(
        "demo-hold",
        "coord_env_demo_plugin:HoldPolicy",
        description="orders one level of every product each period (demo plug-in)",
    )
