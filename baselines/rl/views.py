"""Gymnasium single-agent views of the retail env, so single-agent learners (SB3's PPO) can train on it.

Two views of one :class:`coord_env.RetailParallelEnv`:

- :class:`JointView`: one decision maker for the whole firm (the ``centralized`` baseline). It sees
  both agents' observations concatenated (inventory first), acts with the joint action, and earns
  the team profit.
- :class:`AgentView`: one department learns; the other department's actions come from a fixed
  ``partner`` policy that is part of the environment (``siloed_rl``, ``ippo``). It sees and acts
  with that agent's own spaces and earns that agent's reward under ``reward_mode``.

Both pass ``stable_baselines3.common.env_checker.check_env``.

Episodes end exactly as the parallel env ends them: never terminated, truncated on the step that
reaches the horizon (``T * R`` ticks). SB3 therefore treats the horizon as a time limit and
bootstraps the value of the last observation (``TimeLimit.truncated``), as for any truncation.

Reward scale. Raw rewards are money per tick, which differs by orders of magnitude across
scenarios. Every view multiplies its reward by ``reward_scale``; the default,
:func:`coord_env.env.rewards.inverse_revenue_per_tick` (the env option ``reward_scale="auto"``),
is ``1 / (expected revenue per tick)`` under a uniformly random slate, so a tick's revenue is
about 1 and profits are O(1) on every scenario. Infos stay in money.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from coord_env.adapters.joint import JointLayout
from coord_env.checks import check_choice
from coord_env.env import RetailParallelEnv
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.env.parallel import REWARD_MODES
from coord_env.env.rewards import inverse_revenue_per_tick
from coord_env.harness.evaluate import policy_seed
from coord_env.policy import AgentPolicies, Policy, as_policy
from coord_env.scenarios import Scenario

__all__ = [
    "DEPARTMENTS",
    "AgentView",
    "JointView",
    "resolve_reward_scale",
]

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
        Multiplies the profit (see the module docstring); None:
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


class AgentView(_RetailView):
    """One department learns; the other acts through a fixed ``partner`` inside the environment.

    Parameters
    ----------
    scenario : str or Scenario
    agent : {"inventory_0", "recommender_0"}
        The learning agent; its observation and action spaces are the view's.
    partner
        Acts for the other agent. Either a baselines Policy (``reset(seed)``,
        ``act(observations, infos) -> dict``) or a callable ``f(observations, infos) -> dict``:
        it gets the full parallel-API dicts and only its entry for the partner agent is used. Or a
        model with ``predict(observation)`` (e.g. an SB3 model) or a mapping
        ``{partner_agent: f(observation)}``: it gets the partner's observation only. To use a
        heuristic, build it on a parallel env of the same scenario and options, e.g.
        ``SiloedPolicy(coord_env.parallel_env("tiny"))``.
    reward_mode : {"team", "departmental"}
        The learning agent earns the profit, or its department's share (revenue for the
        recommender; salvage minus purchase, holding and lost-sale costs for inventory).
    reward_scale : float, optional
        Multiplies the reward (see the module docstring); None:
        :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    **env_options
        Other options of :class:`coord_env.RetailParallelEnv`.

    Notes
    -----
    The partner is reset with ``policy_seed(seed)`` (the harness's derivation) when the view is
    reset with a seed, and with seeds drawn from a generator seeded from it on later unseeded
    resets, so a seeded view is deterministic even with a random partner. Info: the env's info of
    the learning agent.

    Examples
    --------
    >>> partner = lambda observations, infos: {"recommender_0": np.array([0, 1])}
    >>> view = AgentView("tiny", "inventory_0", partner, reward_mode="departmental")
    >>> view.action_space
    MultiDiscrete([41 41])
    >>> observation, info = view.reset(seed=0)
    >>> _, reward, terminated, truncated, info = view.step(np.array([3, 2]))
    >>> operations = info["salvage"] - info["purchase_cost"] - info["holding_cost"]
    >>> round(reward, 9) == round((operations - info["lost_sale_penalty"]) * view.reward_scale, 9)
    True
    """

    def __init__(
        self,
        scenario: str | Scenario,
        agent: str,
        partner: Any,
        reward_mode: str = "team",
        reward_scale: float | None = None,
        **env_options,
    ):
        self.agent = check_choice("agent", agent, DEPARTMENTS)
        self.partner_agent = DEPARTMENTS[1 - DEPARTMENTS.index(agent)]
        self.reward_mode = check_choice("reward_mode", reward_mode, REWARD_MODES)
        super().__init__(
            RetailParallelEnv(scenario, reward_mode=reward_mode, **env_options), reward_scale
        )
        self.observation_space = self.env.observation_space(agent)
        self.action_space = self.env.action_space(agent)
        own_entry_only = isinstance(partner, Mapping) or (
            hasattr(partner, "predict") and not hasattr(partner, "act")
        )
        if own_entry_only:
            per_agent = partner if isinstance(partner, Mapping) else {self.partner_agent: partner}
            self.partner: Policy = AgentPolicies(per_agent, name="partner")
        else:
            self.partner = as_policy(partner)
        self._partner_sees_all = not own_entry_only
        self._partner_seeds: np.random.Generator | None = None
        self._observations: dict[str, np.ndarray] = {}
        self._infos: dict[str, dict[str, float]] = {}

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Start an episode and reset the partner; ``seed`` seeds the env and the partner."""
        super().reset(seed=seed)
        if seed is not None:
            partner_seed = policy_seed(seed)
            self._partner_seeds = np.random.default_rng((partner_seed, 1))
        elif self._partner_seeds is not None:
            partner_seed = int(self._partner_seeds.integers(0, 2**32))
        else:
            partner_seed = None
        self.partner.reset(partner_seed)
        self._observations, self._infos = self.env.reset(seed=seed, options=options)
        return self._observations[self.agent], dict(self._infos[self.agent])

    def partner_action(self) -> Any:
        """The partner's action for the coming tick, from the last observations and infos."""
        if self._partner_sees_all:
            actions = self.partner.act(self._observations, self._infos)
        else:
            actions = self.partner.act(
                {self.partner_agent: self._observations[self.partner_agent]},
                {self.partner_agent: self._infos[self.partner_agent]},
            )
        if not isinstance(actions, Mapping) or self.partner_agent not in actions:
            raise ValueError(
                f"partner must return a dict with an action for {self.partner_agent!r}; "
                f"got {actions!r}"
            )
        return actions[self.partner_agent]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        """Apply the learner's action and the partner's for one tick; return the learner's view."""
        actions = {self.agent: action, self.partner_agent: self.partner_action()}
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self._observations, self._infos = observations, infos
        return (
            observations[self.agent],
            float(rewards[self.agent]) * self.reward_scale,
            bool(terminations[self.agent]),
            bool(truncations[self.agent]),
            dict(infos[self.agent]),
        )
