"""The whole firm as one decision maker: both agents' observations and actions side by side.

A centralized learner sees the agents' observations concatenated in ``possible_agents`` order
(inventory first) and acts with their actions concatenated in the same order. This module owns
that layout so that every adapter and view built on it agrees on spaces and slices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from gymnasium import spaces

__all__ = ["JointLayout"]


@dataclasses.dataclass(frozen=True)
class JointLayout:
    """The joint observation and action spaces of ``agents``, and where each agent's part lies.

    Observations are Box spaces; actions are all MultiDiscrete (the joint action concatenates
    their ``nvec``) or all Box (their bounds concatenated).

    Parameters
    ----------
    agents : sequence of str
        The agents in joint order.
    observation_spaces, action_spaces : sequence of gymnasium.spaces.Space
        Each agent's spaces, in the order of ``agents``.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> layout = JointLayout.of(env.possible_agents, env.observation_space, env.action_space)
    >>> layout.action_space
    MultiDiscrete([41 41 41 41])
    >>> sorted(layout.split(np.arange(4)).items())[0]
    ('inventory_0', array([0, 1]))
    """

    agents: tuple[str, ...]
    observation_space: spaces.Box
    action_space: spaces.Space
    action_slices: Mapping[str, slice]

    @classmethod
    def of(cls, agents: Sequence[str], observation_space, action_space) -> JointLayout:
        """The layout of ``agents`` given the functions ``observation_space(agent)`` and
        ``action_space(agent)`` (a parallel env's, or a vector env's single-env spaces)."""
        agents = tuple(agents)
        observation_parts = [observation_space(agent) for agent in agents]
        action_parts = [action_space(agent) for agent in agents]
        joint_observation = spaces.Box(
            np.concatenate([part.low for part in observation_parts]),
            np.concatenate([part.high for part in observation_parts]),
            dtype=np.float32,
        )
        if all(isinstance(part, spaces.Box) for part in action_parts):
            joint_action: spaces.Space = spaces.Box(
                np.concatenate([part.low for part in action_parts]),
                np.concatenate([part.high for part in action_parts]),
                dtype=np.float32,
            )
        else:
            joint_action = spaces.MultiDiscrete(
                np.concatenate([part.nvec for part in action_parts]).astype(np.int64)
            )
        slices, start = {}, 0
        for agent, part in zip(agents, action_parts, strict=True):
            size = int(np.prod(part.shape))
            slices[agent] = slice(start, start + size)
            start += size
        return cls(agents, joint_observation, joint_action, slices)

    def observation(self, observations: Mapping[str, np.ndarray]) -> np.ndarray:
        """The joint observation of a per-agent observation dict, along the last axis (so a
        batch of shape ``(B, obs_dim)`` per agent gives ``(B, joint_dim)``)."""
        return np.concatenate([observations[agent] for agent in self.agents], axis=-1).astype(
            np.float32, copy=False
        )

    def split(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Each agent's part of a joint action, along the last axis (batches keep their rows)."""
        action = np.asarray(action)
        return {agent: action[..., part] for agent, part in self.action_slices.items()}
