"""PettingZoo wrappers for learning libraries with constraints the env's own spaces do not meet.

:func:`homogeneous` gives every agent the same observation and action space, for libraries that
require identical spaces across agents (one shared policy; SuperSuit's
``pettingzoo_env_to_vec_env_v1``; Tianshou's ``PettingZooEnv``). It is a training tool: the
harness scores the env itself (docs/adapters.md, "Env options for training").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from coord_env.env.actions import InvalidActionError

__all__ = ["HomogeneousWrapper", "homogeneous"]

CLIPPED = "clipped_actions"  # the info key counting clipped action entries (coord_env.INFO_KEYS)


def homogeneous(env: ParallelEnv, agent_indicator: bool = True) -> HomogeneousWrapper:
    """Pad observations and actions so that every agent has the same spaces.

    Observations are zero-padded to the longest agent's, then (``agent_indicator=True``) a
    one-hot of the agent's index in ``possible_agents`` is appended. Actions live in one ``Box``
    as long as the longest agent's action, bounded by the union of the agents' bounds; each agent
    uses its first ``k`` entries (``k`` its own action's size), clipped to its own bounds, and the
    rest is ignored. ``infos[agent]["clipped_actions"]`` counts the entries clipped (NaN and inf
    are not clipped: the env refuses them).

    Parameters
    ----------
    env : pettingzoo.ParallelEnv
        With 1-D ``Box`` observation and action spaces: ``coord_env.parallel_env(...,
        continuous_actions=True)``, possibly already wrapped.
    agent_indicator : bool
        Append the one-hot agent indicator (so a shared policy can tell the agents apart).

    Returns
    -------
    HomogeneousWrapper

    Raises
    ------
    ValueError
        An action or observation space that is not a 1-D Box (e.g. the default MultiDiscrete
        actions: build the env with ``continuous_actions=True``).

    Examples
    --------
    >>> import coord_env
    >>> from coord_env.wrappers import homogeneous
    >>> env = homogeneous(coord_env.parallel_env("tiny", continuous_actions=True))
    >>> env.observation_space("inventory_0") is env.observation_space("recommender_0")
    True
    >>> env.action_space("inventory_0")
    Box(-1.0, 1.0, (4,), float32)
    """
    return HomogeneousWrapper(env, agent_indicator)


def _padded(values: np.ndarray, size: int, fill: float) -> np.ndarray:
    out = np.full(size, fill, dtype=np.float64)
    out[: values.shape[0]] = values
    return out


class HomogeneousWrapper(ParallelEnv):
    """A parallel env whose agents share one observation and one action space (see
    :func:`homogeneous`, which builds it)."""

    def __init__(self, env: ParallelEnv, agent_indicator: bool = True):
        self.env = env
        self.agent_indicator = bool(agent_indicator)
        self.possible_agents = list(env.possible_agents)
        self.metadata = dict(getattr(env, "metadata", {}))
        for agent in self.possible_agents:
            for kind, space in (
                ("action", env.action_space(agent)),
                ("observation", env.observation_space(agent)),
            ):
                if not isinstance(space, spaces.Box) or len(space.shape) != 1:
                    raise ValueError(
                        f"homogeneous: the {kind} space of {agent} must be a 1-D Box, got "
                        f"{space}; build the env with continuous_actions=True"
                    )
        obs_spaces = [env.observation_space(a) for a in self.possible_agents]
        act_spaces = [env.action_space(a) for a in self.possible_agents]
        self._obs_sizes = {
            a: sp.shape[0] for a, sp in zip(self.possible_agents, obs_spaces, strict=True)
        }
        self._act_bounds = {
            a: (sp.shape[0], sp.low.astype(np.float64), sp.high.astype(np.float64))
            for a, sp in zip(self.possible_agents, act_spaces, strict=True)
        }
        obs_size = max(self._obs_sizes.values())
        count = len(self.possible_agents) if self.agent_indicator else 0
        low = np.min([_padded(sp.low, obs_size, 0.0) for sp in obs_spaces], axis=0)
        high = np.max([_padded(sp.high, obs_size, 0.0) for sp in obs_spaces], axis=0)
        self._observation_space = spaces.Box(
            np.concatenate([low, np.zeros(count)]).astype(np.float32),
            np.concatenate([high, np.ones(count)]).astype(np.float32),
            dtype=np.float32,
        )
        act_size = max(size for size, _, _ in self._act_bounds.values())
        # each entry bounded by the union of the bounds of the agents that use it
        low = np.min([_padded(sp.low, act_size, np.inf) for sp in act_spaces], axis=0)
        high = np.max([_padded(sp.high, act_size, -np.inf) for sp in act_spaces], axis=0)
        self._action_space = spaces.Box(
            low.astype(np.float32), high.astype(np.float32), dtype=np.float32
        )
        self.observation_spaces = dict.fromkeys(self.possible_agents, self._observation_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, self._action_space)
        self._indicator = {
            agent: np.eye(count, dtype=np.float32)[index] if count else np.zeros(0, np.float32)
            for index, agent in enumerate(self.possible_agents)
        }

    # ------------------------------------------------------------------ PettingZoo API
    @property
    def agents(self) -> list[str]:
        return self.env.agents

    @property
    def render_mode(self) -> str | None:
        return getattr(self.env, "render_mode", None)

    @property
    def unwrapped(self) -> ParallelEnv:
        return self.env.unwrapped

    @property
    def state_space(self) -> spaces.Space:
        return self.env.state_space

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """The env's reset, observations padded; ``clipped_actions`` is 0."""
        observations, infos = self.env.reset(seed=seed, options=options)
        return self.pad_observations(observations), self._infos(infos, dict.fromkeys(infos, 0.0))

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Each agent's first ``k`` action entries, clipped to its own bounds, to the env.

        Raises
        ------
        InvalidActionError
            An action of the wrong shape (the padded space's), or whatever the env refuses
            (NaN, inf, missing or unknown agents); nothing changes.
        """
        inner, clipped = {}, {}
        for agent, action in actions.items():
            if agent not in self._act_bounds:  # the env names unknown agents
                inner[agent] = action
                continue
            array = np.asarray(action)
            if array.shape != self._action_space.shape:
                raise InvalidActionError(
                    f"{agent}: the homogeneous action must have shape "
                    f"{self._action_space.shape}, got {array.shape}"
                )
            size, low, high = self._act_bounds[agent]
            own = array[:size]
            outside = (own < low) | (own > high)  # False for NaN, which the env refuses
            clipped[agent] = float(np.count_nonzero(outside))
            dtype = array.dtype if array.dtype.kind == "f" else np.float32
            inner[agent] = np.clip(own, low, high).astype(dtype)
        observations, rewards, terminations, truncations, infos = self.env.step(inner)
        return (
            self.pad_observations(observations),
            rewards,
            terminations,
            truncations,
            self._infos(infos, clipped),
        )

    def state(self) -> np.ndarray:
        return self.env.state()

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def pad_observations(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each agent's observation zero-padded to the shared width, then its indicator.

        Leading axes are kept, so a batch ``(B, obs_dim)`` becomes ``(B, width)``: the batched
        shared-policy adapter (:class:`coord_env.adapters.sb3.SharedAgentsBatchVecEnv`) pads
        with this too.

        Examples
        --------
        >>> import coord_env
        >>> env = homogeneous(coord_env.parallel_env("tiny", continuous_actions=True))
        >>> batch = {"recommender_0": np.ones((3, 13), np.float32)}
        >>> env.pad_observations(batch)["recommender_0"].shape
        (3, 17)
        """
        out = {}
        count = len(self.possible_agents)
        for agent, observation in observations.items():
            observation = np.asarray(observation)
            padded = np.zeros(
                (*observation.shape[:-1], *self._observation_space.shape), dtype=np.float32
            )
            padded[..., : self._obs_sizes[agent]] = observation
            if self.agent_indicator:
                padded[..., -count:] = self._indicator[agent]
            out[agent] = padded
        return out

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _infos(infos: dict[str, dict], clipped: dict[str, float]) -> dict[str, dict]:
        """New info dicts whose ``clipped_actions`` adds this wrapper's count to the env's."""
        return {
            agent: {**info, CLIPPED: float(info.get(CLIPPED, 0.0)) + clipped.get(agent, 0.0)}
            for agent, info in infos.items()
        }
