"""A Gymnasium single-agent view of the retail env, for single-agent learners (SB3's PPO).

:class:`JointView` is one decision maker for the whole firm (the ``centralized`` baseline): it sees
both agents' observations concatenated (inventory first), acts with the joint action, and earns
the team profit. It passes ``stable_baselines3.common.env_checker.check_env``.

Episodes end exactly as the parallel env ends them: never terminated, truncated on the step that
reaches the horizon (``T * R`` ticks). SB3 therefore treats the horizon as a time limit and
bootstraps the value of the last observation (``TimeLimit.truncated``), as for any truncation.

The reward is multiplied by ``reward_scale``, by default
:func:`coord_env.env.rewards.inverse_revenue_per_tick` (docs/training.md, "Reward scale"); infos
stay in money.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from coord_env.adapters.joint import JointLayout
from coord_env.env import RetailParallelEnv
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.env.rewards import inverse_revenue_per_tick
from coord_env.scenarios import Scenario

__all__ = ["DEPARTMENTS", "JointView", "resolve_reward_scale"]

DEPARTMENTS = (INVENTORY, RECOMMENDER)  # the order of the joint observation and action


def resolve_reward_scale(scenario: Scenario, reward_scale: float | None) -> float:
    """``reward_scale`` checked to be finite and > 0; None:
    :func:`coord_env.env.rewards.inverse_revenue_per_tick`."""
    if reward_scale is None:
        return inverse_revenue_per_tick(scenario)
    value = float(reward_scale)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"reward_scale must be a finite number > 0 (or None for the scenario default), "
            f"got {reward_scale!r}"
        )
    return value


class _RetailView(gym.Env):
    """What both views share: the wrapped parallel env, the reward scale, rendering, closing."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": list(RetailParallelEnv.metadata["render_modes"])
    }

    def __init__(self, env: RetailParallelEnv, reward_scale: float | None):
        self.env = env
        self.scenario: Scenario = env.scenario
        self.reward_scale = resolve_reward_scale(env.scenario, reward_scale)
        self.render_mode = env.render_mode

    def render(self) -> str | np.ndarray | None:
        """The parallel env's rendering (``render_mode`` is an env option)."""
        return self.env.render()

    def close(self) -> None:
        self.env.close()


class JointView(_RetailView):
    """The whole firm as one agent: concatenated observations, joint action, team profit.

    Parameters
    ----------
    scenario : str or Scenario
        A catalog name or a Scenario.
    reward_scale : float, optional
        Multiplies the profit (docs/training.md, "Reward scale"); None:
        :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    **env_options
        Options of :class:`coord_env.RetailParallelEnv` (``observation_mode``,
        ``continuous_actions``, ``inventory_action``, ``render_mode``, scenario overrides).
        ``reward_mode`` may only be ``"team"``: the joint agent earns the profit.

    Notes
    -----
    Observation: ``Box`` whose bounds are the two agents' bounds concatenated, inventory first.
    Action: discrete mode, ``MultiDiscrete`` of the concatenated ``nvec`` (inventory levels, then
    slate slots); ``continuous_actions=True``, the concatenated ``Box`` (order fractions in
    [0, 1], then scores in [-1, 1]). Info: the env's info of ``inventory_0`` (both agents' infos
    are equal except ``acts``, which is 1.0 for the recommender on every tick).

    Examples
    --------
    >>> view = JointView("tiny", continuous_actions=True)
    >>> observation, info = view.reset(seed=3)
    >>> observation.shape == view.observation_space.shape
    True
    >>> _, reward, terminated, truncated, info = view.step(view.action_space.sample())
    >>> terminated, truncated, round(reward, 9) == round(info["profit"] * view.reward_scale, 9)
    (False, False, True)
    """

    def __init__(
        self, scenario: str | Scenario = "default", reward_scale: float | None = None, **env_options
    ):
        reward_mode = env_options.pop("reward_mode", "team")
        if reward_mode != "team":
            raise ValueError(
                f"reward_mode must be 'team' for JointView (it earns the firm's profit); "
                f"got {reward_mode!r}"
            )
        super().__init__(
            RetailParallelEnv(scenario, reward_mode="team", **env_options), reward_scale
        )
        env = self.env
        self.layout = JointLayout.of(DEPARTMENTS, env.observation_space, env.action_space)
        self.observation_space = self.layout.observation_space
        self.action_space = self.layout.action_space

    def joint_observation(self, observations: Mapping[str, np.ndarray]) -> np.ndarray:
        """The joint observation (inventory, then recommender) of a parallel-API observation dict."""
        return self.layout.observation(observations)

    def agent_actions(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Split a joint action into the parallel API's per-agent action dict."""
        return self.layout.split(action)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Start an episode; ``seed`` seeds the parallel env (None: continue its generator)."""
        super().reset(seed=seed)
        observations, infos = self.env.reset(seed=seed, options=options)
        return self.joint_observation(observations), dict(infos[INVENTORY])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        """Apply the joint action for one tick; the reward is the scaled team profit."""
        observations, rewards, terminations, truncations, infos = self.env.step(
            self.agent_actions(action)
        )
        reward = float(rewards[INVENTORY]) * self.reward_scale
        return (
            self.joint_observation(observations),
            reward,
            bool(any(terminations.values())),
            bool(any(truncations.values())),
            dict(infos[INVENTORY]),
        )
