"""Stable-Baselines3 ``VecEnv`` adapters over coord_env's batched vector env.

SB3's algorithms learn one policy on a ``VecEnv``: one row per environment, one action per row.
These adapters turn :class:`coord_env.RetailVectorEnv` (B retailers stepped by one vectorized
call) into that interface, so that collection costs one simulator call per tick instead of B
Python env steps:

- :class:`JointVecEnv`: the whole firm as one agent (joint observation, joint action, team profit).
- :class:`AgentVecEnv`: one department learns; a :class:`PartnerPolicy` acts for the other
  department on the whole batch in one call per tick.
- :class:`SharedAgentsVecEnv`: SB3 over SuperSuit's ``ConcatVecEnv`` (one row per agent, for a
  parameter-shared policy), with the seeding and time limits that SuperSuit's own wrapper lacks.
- :class:`SharedAgentsBatchVecEnv`: the same rows as ``shared_ppo``'s SuperSuit recipe, over
  the batched vector env.

Episodes end as the env ends them: every retailer is truncated at the horizon, never
terminated. The adapters report that step as ``done`` with ``TimeLimit.truncated`` and the last
observation in ``terminal_observation``, and return the first observation of the next episode,
as SB3's own vec envs do, so PPO bootstraps the value at the horizon. ``seed(s)`` seeds the next
``reset``; later episodes continue the env's generator. Rewards are multiplied by
``reward_scale`` (1.0: money per tick); infos stay empty apart from the episode-end keys.

Importing this module imports stable_baselines3 (``pip install coord-env[rl]``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from coord_env.adapters.joint import JointLayout
from coord_env.checks import check_choice
from coord_env.env import InvalidActionError, RetailVectorEnv
from coord_env.env.parallel import REWARD_MODES, RetailParallelEnv
from coord_env.scenarios import Scenario
from coord_env.wrappers import homogeneous

__all__ = [
    "AdapterVecEnv",
    "AgentVecEnv",
    "JointVecEnv",
    "PartnerPolicy",
    "RetailBatchVecEnv",
    "SharedAgentsBatchVecEnv",
    "SharedAgentsVecEnv",
    "to_agent_space",
]


class PartnerPolicy(Protocol):
    """The department that does not learn in an :class:`AgentVecEnv`.

    Called once per tick with the partner agent's observations for the whole batch, shape
    ``(num_envs, obs_dim)``; returns its actions, shape ``(num_envs, *action_shape)`` in the
    partner agent's action space. Any callable fits, e.g. a trained SB3 model's
    ``lambda observations: model.predict(observations, deterministic=True)[0]``.
    """

    def __call__(self, observations: np.ndarray) -> np.ndarray: ...


def _check_reward_scale(reward_scale: Any) -> float:
    value = float(reward_scale)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"reward_scale must be a finite number > 0, got {reward_scale!r}")
    return value


def to_agent_space(action: np.ndarray, space: spaces.Box) -> np.ndarray:
    """Map an action in [-1, 1] affinely onto a Box: -1 to ``low``, 1 to ``high``.

    Works on a batch of actions too (leading axes broadcast against the Box's bounds).

    Examples
    --------
    >>> to_agent_space(np.array([-1.0, 0.0, 1.0]), spaces.Box(0.0, 1.0, (3,))).tolist()
    [0.0, 0.5, 1.0]
    """
    low, high = space.low, space.high
    mapped = low + (np.asarray(action, dtype=np.float32) + 1.0) * 0.5 * (high - low)
    return np.clip(mapped, low, high).astype(space.dtype)  # rounding may step outside


def _check_rows(name: str, actions: Any, num_envs: int, space: spaces.Space) -> np.ndarray:
    """``actions`` as an array, refused unless it has one row of ``space``'s shape per env."""
    actions = np.asarray(actions)
    expected = (num_envs, *space.shape)
    if actions.shape != expected:
        raise InvalidActionError(
            f"{name} must have shape {expected} (one row per env), got {actions.shape}"
        )
    return actions


class AdapterVecEnv(VecEnv):
    """SB3 ``VecEnv`` boilerplate of an adapter over one batched environment.

    ``seed(s)`` stores the seed of the next reset; ``step_async`` stores the actions. The rows
    share one batched object, so there are no per-env attributes or methods to reach (SB3 asks
    only for ``render_mode``, which is None).
    """

    def __init__(self, num_envs: int, observation_space: spaces.Space, action_space: spaces.Space):
        self._reset_seed: int | None = None
        self._actions: np.ndarray | None = None
        super().__init__(num_envs, observation_space, action_space)

    def _env_seeds(self) -> list[int | None]:
        """What ``seed`` reports per env: the batch's one seed, by default."""
        return [self._reset_seed] * self.num_envs

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed the next ``reset`` (None: continue the generators)."""
        self._reset_seed = None if seed is None else int(seed)
        return self._env_seeds()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(list(self._get_indices(indices)))
        raise AttributeError(f"{type(self).__name__} exposes no per-env attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise NotImplementedError(f"{type(self).__name__}'s envs share one batched env")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        raise NotImplementedError(f"{type(self).__name__}'s envs share one batched env")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


class RetailBatchVecEnv(AdapterVecEnv):
    """One learner's view of ``num_envs`` retailers stepped as one :class:`coord_env.RetailVectorEnv`.

    Every retailer ends its episode on the same tick (the horizon). ``reset`` with a seed draws
    the whole batch from one ``default_rng(seed)`` (the vector env's seeding). Subclasses say
    what the learner sees (``_observe``), how its actions become the env's (``_env_actions``),
    and whose reward it earns (``reward_agent``).
    """

    def __init__(
        self,
        envs: RetailVectorEnv,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        reward_agent: str,
        reward_scale: float,
    ):
        self.envs = envs
        self.reward_agent = reward_agent
        self.reward_scale = _check_reward_scale(reward_scale)
        self._observations: dict[str, np.ndarray] = {}
        super().__init__(envs.num_envs, observation_space, action_space)

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reset(self) -> np.ndarray:
        self._observations, _ = self.envs.reset(seed=self._reset_seed)
        self._reset_seed = None
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._observe(self._observations)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        actions = _check_rows("actions", self._actions, self.num_envs, self.action_space)
        observations, rewards, terminations, truncations, _ = self.envs.step(
            self._env_actions(actions)
        )
        self._observations = observations
        learner = self._observe(observations)
        scaled = (rewards[self.reward_agent] * self.reward_scale).astype(np.float32)
        ended, truncated = terminations[self.reward_agent], truncations[self.reward_agent]
        dones = ended | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():  # the horizon: every retailer's episode ends on this tick
            assert dones.all(), "the vector env ends every retailer's episode together"
            for index, info in enumerate(infos):
                info["terminal_observation"] = learner[index]
                info["TimeLimit.truncated"] = not bool(ended[index])
            self._observations, _ = self.envs.reset()
            learner = self._observe(self._observations)
        return learner, scaled, dones, infos

    def close(self) -> None:
        self.envs.close()


class JointVecEnv(RetailBatchVecEnv):
    """``num_envs`` retailers as one SB3 learner each: joint observation, joint action, team profit.

    The joint observation and action concatenate the agents' own (inventory first;
    :class:`~coord_env.adapters.joint.JointLayout`). The reward is the team profit times
    ``reward_scale``.

    Parameters
    ----------
    scenario : str or Scenario
    num_envs : int
    reward_scale : float
        Multiplies the profit; default 1.0 (money per tick).
    **env_options
        Options of the env (``observation_mode``, ``inventory_action``, ``continuous_actions``).

    Examples
    --------
    >>> venv = JointVecEnv("tiny", 4)
    >>> _ = venv.seed(0)
    >>> observations = venv.reset()
    >>> observations.shape == (4, *venv.observation_space.shape)
    True
    >>> observations, rewards, dones, infos = venv.step(
    ...     np.stack([venv.action_space.sample() for _ in range(4)]))
    >>> rewards.shape, bool(dones.any())
    ((4,), False)
    """

    def __init__(
        self,
        scenario: str | Scenario,
        num_envs: int,
        reward_scale: float = 1.0,
        **env_options: Any,
    ):
        envs = RetailVectorEnv(
            scenario, num_envs, reward_mode="team", autoreset_mode="disabled", **env_options
        )
        self.layout = JointLayout.of(
            envs.possible_agents, envs.single_observation_space, envs.single_action_space
        )
        super().__init__(
            envs,
            self.layout.observation_space,
            self.layout.action_space,
            envs.possible_agents[0],
            reward_scale,
        )

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        return self.layout.observation(observations)

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        return self.layout.split(actions)


class AgentVecEnv(RetailBatchVecEnv):
    """``num_envs`` retailers in which one department learns beside a batched partner policy.

    The learner sees and acts with ``agent``'s own spaces and earns ``agent``'s reward under
    ``reward_mode`` (times ``reward_scale``). The other department's actions for the whole batch
    come from one call of ``partner`` per tick, on its own observations.

    Parameters
    ----------
    scenario : str or Scenario
    agent : {"inventory_0", "recommender_0"}
        The learning agent.
    partner : PartnerPolicy
        ``partner(observations) -> actions`` for the other agent, one row per env.
    num_envs : int
    reward_mode : {"team", "departmental"}
    reward_scale : float
        Multiplies the reward; default 1.0 (money per tick).
    **env_options
        Options of the env (``observation_mode``, ``inventory_action``, ``continuous_actions``).

    Raises
    ------
    ValueError
        On an unknown ``agent`` or ``reward_mode``, a ``partner`` that is not callable, or a
        ``reward_scale`` that is not finite and > 0. ``step`` raises
        :class:`~coord_env.InvalidActionError` when the learner's or the partner's actions do not
        have one row per env, or an action is out of range (the env is left usable).

    Examples
    --------
    >>> slates = lambda observations: np.tile([0, 1], (len(observations), 1))
    >>> venv = AgentVecEnv("tiny", "inventory_0", slates, 4, reward_mode="departmental")
    >>> _ = venv.seed(0)
    >>> observations = venv.reset()
    >>> observations, rewards, dones, infos = venv.step(np.full((4, 2), 3))
    >>> observations.shape == (4, *venv.observation_space.shape), rewards.shape
    (True, (4,))
    """

    def __init__(
        self,
        scenario: str | Scenario,
        agent: str,
        partner: PartnerPolicy,
        num_envs: int,
        reward_mode: str = "team",
        reward_scale: float = 1.0,
        **env_options: Any,
    ):
        envs = RetailVectorEnv(
            scenario,
            num_envs,
            reward_mode=check_choice("reward_mode", reward_mode, REWARD_MODES),
            autoreset_mode="disabled",
            **env_options,
        )
        agents = tuple(envs.possible_agents)
        self.agent = check_choice("agent", agent, agents)
        self.partner_agent = agents[1 - agents.index(agent)]
        if not callable(partner):
            raise ValueError(
                f"partner must be callable (partner observations -> actions), got {partner!r}"
            )
        self.partner = partner
        self._partner_space = envs.single_action_space(self.partner_agent)
        super().__init__(
            envs,
            envs.single_observation_space(agent),
            envs.single_action_space(agent),
            agent,
            reward_scale,
        )

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        return observations[self.agent]

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        partner_actions = self.partner(self._observations[self.partner_agent])
        partner_actions = _check_rows(
            "partner actions", partner_actions, self.num_envs, self._partner_space
        )
        return {self.agent: actions, self.partner_agent: partner_actions}


class SharedAgentsVecEnv(AdapterVecEnv):
    """SB3 over SuperSuit's ``ConcatVecEnv``, with seeding, time limits and reward scaling.

    SuperSuit's own SB3 wrapper cannot be seeded (it forwards ``seed`` to a gymnasium
    ``VectorEnv`` that has no ``seed`` method, so ``PPO(seed=...)`` fails on it) and reports the
    horizon as a plain ``done``. This adapter stores the seed of the next reset (SuperSuit gives
    copy ``i`` of the parallel env ``seed + i``), marks truncations with ``TimeLimit.truncated``
    and multiplies rewards by ``reward_scale``.

    Parameters
    ----------
    concat_env
        ``supersuit.concat_vec_envs_v1(..., base_class="gymnasium")`` over
        ``supersuit.pettingzoo_env_to_vec_env_v1`` of a coord_env parallel env whose agents'
        spaces were made identical (padding).
    reward_scale : float
        Multiplies the rewards; default 1.0 (money per tick).
    """

    def __init__(self, concat_env: Any, reward_scale: float = 1.0):
        self.concat_env = concat_env
        self.reward_scale = _check_reward_scale(reward_scale)
        super().__init__(concat_env.num_envs, concat_env.observation_space, concat_env.action_space)

    def _env_seeds(self) -> list[int | None]:
        seed = self._reset_seed
        return [None if seed is None else seed + index for index in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        observations, infos = self.concat_env.reset(seed=self._reset_seed)
        self._reset_seed = None
        self.reset_infos = list(infos)
        return observations

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        observations, rewards, terminations, truncations, infos = self.concat_env.step(
            self._actions
        )
        terminations = np.asarray(terminations, dtype=bool)
        truncations = np.asarray(truncations, dtype=bool)
        dones = terminations | truncations
        for index in np.flatnonzero(dones):
            infos[index]["TimeLimit.truncated"] = bool(
                truncations[index] and not terminations[index]
            )
        scaled = (np.asarray(rewards, dtype=np.float64) * self.reward_scale).astype(np.float32)
        return observations, scaled, dones, infos

    def close(self) -> None:
        self.concat_env.close()


class SharedAgentsBatchVecEnv(AdapterVecEnv):
    """``num_envs`` retailers as ``2 * num_envs`` rows of one parameter-shared policy, batched.

    The rows of ``shared_ppo``'s SuperSuit recipe (:class:`SharedAgentsVecEnv` over
    ``baselines.rl.sb3.shared.make_shared_vec_env``), from one :class:`RetailVectorEnv` call per
    tick instead of a Python step per copy:

    - rows ``2b`` and ``2b + 1`` are retailer ``b``'s inventory and recommender agents;
    - each observation zero-padded to the widest agent's, then a 0/1 one-hot agent indicator
      (:meth:`coord_env.wrappers.HomogeneousWrapper.pad_observations`);
    - each action row cut to its agent's size, then with ``rescale_actions`` clipped to
      [-1, 1] and mapped onto the agent's Box (:func:`to_agent_space`), otherwise clipped to it;
    - rewards (team profit, as float32) times ``reward_scale``; at the horizon ``done`` with
      ``TimeLimit.truncated`` and ``terminal_observation``, and the next episode's first rows;
    - infos per row hold the env's info keys of that retailer and agent; at the horizon the
      next episode's reset values replace them, as SuperSuit's ``MarkovVectorEnv`` merges them.

    The action space is SuperSuit's (Box(-1, 1) with ``rescale_actions``, otherwise the union
    of the agents' Boxes); the observation bounds are the padded ones of
    :func:`~coord_env.wrappers.homogeneous` (PPO does not read them).

    Seeding differs from SuperSuit's: ``seed(s)`` then ``reset()`` draws the whole batch from
    one generator (the vector env's seeding), where SuperSuit seeds copy ``i`` with ``s + i``.
    With ``num_envs=1`` the two give the same rows.

    Parameters
    ----------
    scenario : str or Scenario
    num_envs : int
        Retailers B; the VecEnv has ``2 * B`` rows.
    reward_scale : float
        Multiplies the team profit; default 1.0 (money per tick).
    rescale_actions : bool
        Whether the policy acts in [-1, 1] on every dimension (default True).
    **env_options
        Options of the env (``observation_mode``, ``inventory_action``, ...);
        ``continuous_actions`` is always True.

    Raises
    ------
    ValueError
        ``continuous_actions`` other than True, a ``reward_scale`` that is not finite and > 0,
        or a ``rescale_actions`` that is not a bool. ``step`` raises
        :class:`~coord_env.InvalidActionError` on actions that are not ``(2 * B, width)``
        numbers, or that the env refuses (NaN); the env is left usable.

    Examples
    --------
    >>> venv = SharedAgentsBatchVecEnv("tiny", 3, inventory_action="order_up_to")
    >>> _ = venv.seed(0)
    >>> observations = venv.reset()
    >>> observations.shape, venv.action_space.shape
    ((6, 17), (4,))
    >>> observations, rewards, dones, infos = venv.step(np.zeros((6, 4), np.float32))
    >>> rewards.shape, sorted(infos[0])[:2]
    ((6,), ['acts', 'clipped_actions'])
    """

    def __init__(
        self,
        scenario: str | Scenario,
        num_envs: int,
        reward_scale: float = 1.0,
        rescale_actions: bool = True,
        **env_options: Any,
    ):
        if env_options.pop("continuous_actions", True) is not True:
            raise ValueError(
                "continuous_actions must be True for a shared policy: only Box spaces pad"
            )
        if not isinstance(rescale_actions, bool):
            raise ValueError(f"rescale_actions must be True or False, got {rescale_actions!r}")
        self.reward_scale = _check_reward_scale(reward_scale)
        self.rescale_actions = rescale_actions
        self.envs = RetailVectorEnv(
            scenario,
            num_envs,
            reward_mode="team",
            autoreset_mode="disabled",
            continuous_actions=True,
            **env_options,
        )
        self.agents = tuple(self.envs.possible_agents)
        self.padding = homogeneous(
            RetailParallelEnv(self.envs.scenario, continuous_actions=True, **env_options)
        )
        self.agent_spaces = {agent: self.envs.single_action_space(agent) for agent in self.agents}
        action_space = self.padding.action_space(self.agents[0])
        if rescale_actions:
            action_space = spaces.Box(-1.0, 1.0, action_space.shape, dtype=np.float32)
        super().__init__(
            len(self.agents) * self.envs.num_envs,
            self.padding.observation_space(self.agents[0]),
            action_space,
        )

    def _rows(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """The padded observations, one row per (retailer, agent), retailer-major."""
        padded = self.padding.pad_observations(observations)
        stacked = np.stack([padded[agent] for agent in self.agents], axis=1)
        return stacked.reshape(self.num_envs, -1)

    def _per_row(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Per-agent arrays of shape (B,) as one array of shape (2B,), retailer-major."""
        return np.stack([values[agent] for agent in self.agents], axis=1).reshape(-1)

    def _row_infos(self, infos: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
        """One dict per row: the env's info keys of that retailer and agent, as floats."""
        per_agent = []
        for agent in self.agents:
            keys = list(infos[agent])
            columns = zip(*(np.asarray(infos[agent][key]).tolist() for key in keys), strict=True)
            per_agent.append([dict(zip(keys, values, strict=True)) for values in columns])
        return [info for retailer in zip(*per_agent, strict=True) for info in retailer]

    def _env_actions(self, actions: Any) -> dict[str, np.ndarray]:
        actions = _check_rows("actions", actions, self.num_envs, self.action_space)
        if actions.dtype.kind not in "biuf":
            raise InvalidActionError(f"actions must be numbers, got dtype {actions.dtype}")
        rows = actions.astype(self.action_space.dtype).reshape(
            self.envs.num_envs, len(self.agents), -1
        )
        env_actions = {}
        for index, (agent, space) in enumerate(self.agent_spaces.items()):
            cut = rows[:, index, : space.shape[0]]
            if self.rescale_actions:
                env_actions[agent] = to_agent_space(np.clip(cut, -1.0, 1.0), space)
            else:
                env_actions[agent] = np.clip(cut, space.low, space.high)
        return env_actions

    def reset(self) -> np.ndarray:
        observations, infos = self.envs.reset(seed=self._reset_seed)
        self._reset_seed = None
        self.reset_infos = self._row_infos(infos)
        return self._rows(observations)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        observations, rewards, terminations, truncations, infos = self.envs.step(
            self._env_actions(self._actions)
        )
        rows = self._rows(observations)
        ended, truncated = self._per_row(terminations), self._per_row(truncations)
        # as SuperSuit hands them on: float32 rewards, scaled in float64
        money = self._per_row(rewards).astype(np.float32).astype(np.float64)
        scaled = (money * self.reward_scale).astype(np.float32)
        dones = ended | truncated
        if dones.any():  # the horizon: every retailer's episode ends on this tick
            assert dones.all(), "the vector env ends every retailer's episode together"
            observations, infos = self.envs.reset()
            row_infos = self._row_infos(infos)  # SuperSuit merges the reset infos over the step's
            for index, info in enumerate(row_infos):
                info["terminal_observation"] = rows[index]
                info["TimeLimit.truncated"] = not bool(ended[index])
            rows = self._rows(observations)
        else:
            row_infos = self._row_infos(infos)
        return rows, scaled, dones, row_infos

    def close(self) -> None:
        self.envs.close()
