"""The random policy: uniform actions from each agent's action space, seeded by ``reset``."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from coord_env.env import RetailParallelEnv

__all__ = ["RandomPolicy"]


class RandomPolicy:
    """Uniformly random actions; the floor every method should beat.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> policy = RandomPolicy(env)
    >>> policy.reset(seed=0)
    >>> sorted(policy.act(*env.reset(seed=0)))
    ['inventory_0', 'recommender_0']
    """

    name = "random"

    def __init__(self, env: RetailParallelEnv):
        self.spaces = {agent: env.action_space(agent) for agent in env.possible_agents}
        self.rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        actions = {}
        for agent in observations:
            space = self.spaces[agent]
            if isinstance(space, spaces.MultiDiscrete):
                actions[agent] = self.rng.integers(0, space.nvec)
            else:
                actions[agent] = self.rng.uniform(space.low, space.high).astype(space.dtype)
        return actions
