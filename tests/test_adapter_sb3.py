"""coord_env.adapters.sb3: each SB3 VecEnv adapter steps exactly as the env it adapts.

At B = 1 the reference is the single env (through the single-agent views for the joint and
departmental adapters, which themselves wrap one ``RetailParallelEnv``); at B = 7 it is the
vector env stepped directly, whose rows tests/test_vector_env.py ties to the single env. Both
run through the horizon: ``done`` with ``TimeLimit.truncated``, the last observation in
``terminal_observation``, then the next episode's first observation. Bad rows are refused.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from agent_view import AgentView
from supersuit import concat_vec_envs_v1, pad_action_space_v0, pad_observations_v0
from supersuit import pettingzoo_env_to_vec_env_v1 as to_vec_env

import coord_env
from baselines.rl.views import JointView
from coord_env.adapters.sb3 import AgentVecEnv, JointVecEnv, SharedAgentsVecEnv

INVENTORY, RECOMMENDER = "inventory_0", "recommender_0"
SCALE = 0.25  # a reward scale other than 1, so that scaling is checked
OPTIONS = [{"inventory_action": "order_up_to"}, {"continuous_actions": True}]
OPTION_IDS = ["multidiscrete", "box"]


class ViewRows:
    """One single-agent view as a batch of one row (autoresetting at the horizon)."""

    def __init__(self, view: gymnasium.Env):
        self.view = view

    def reset(self, seed: int) -> np.ndarray:
        return self.view.reset(seed=seed)[0][None]

    def step(self, actions: np.ndarray) -> tuple:
        observation, reward, terminated, truncated, _ = self.view.step(actions[0])
        terminal = None
        if terminated or truncated:
            terminal = observation[None]
            observation, _ = self.view.reset()
        return observation[None], np.array([reward]), np.array([terminated or truncated]), terminal


class VectorRows:
    """A RetailVectorEnv stepped directly: ``observe`` makes the learner's rows of its
    observation dict, ``env_actions`` the env's action dict of the learner's rows."""

    def __init__(self, envs: coord_env.RetailVectorEnv, observe, env_actions, reward_agent: str):
        self.envs, self.observe, self.env_actions = envs, observe, env_actions
        self.reward_agent = reward_agent
        self.observations: dict[str, np.ndarray] = {}

    def reset(self, seed: int) -> np.ndarray:
        self.observations, _ = self.envs.reset(seed=seed)
        return self.observe(self.observations)

    def step(self, actions: np.ndarray) -> tuple:
        self.observations, rewards, terminations, truncations, _ = self.envs.step(
            self.env_actions(actions, self.observations)
        )
        dones = terminations[self.reward_agent] | truncations[self.reward_agent]
        rows, terminal = self.observe(self.observations), None
        if dones.any():
            terminal = rows
            self.observations, _ = self.envs.reset()
            rows = self.observe(self.observations)
        return rows, rewards[self.reward_agent] * SCALE, dones, terminal


def assert_adapter_steps_like(venv, reference, seed: int, sample) -> None:
    """``venv`` and ``reference`` stepped with the same actions (``sample()``, one batch) from
    the same seed, one tick past the horizon: same observations, rewards (as float32) and
    dones; at the horizon ``TimeLimit.truncated`` and the reference's last observation in
    ``terminal_observation``, then the next episode's first observation."""
    venv.seed(seed)
    np.testing.assert_array_equal(venv.reset(), reference.reset(seed))
    horizon = coord_env.load_scenario("tiny").num_ticks
    for tick in range(horizon + 1):
        actions = sample()
        rows, rewards, dones, infos = venv.step(actions)
        expected, expected_rewards, expected_dones, terminal = reference.step(actions)
        np.testing.assert_array_equal(rewards, np.asarray(expected_rewards, dtype=np.float32))
        np.testing.assert_array_equal(dones, expected_dones)
        assert dones.all() == (tick == horizon - 1) == (terminal is not None)
        if terminal is not None:
            for index, info in enumerate(infos):
                assert info["TimeLimit.truncated"] is True
                np.testing.assert_array_equal(info["terminal_observation"], terminal[index])
        np.testing.assert_array_equal(rows, expected)


def batch_sampler(space: gymnasium.spaces.Space, num_rows: int, seed: int):
    space.seed(seed)
    return lambda: np.stack([space.sample() for _ in range(num_rows)])


def joint_rows(envs: coord_env.RetailVectorEnv) -> VectorRows:
    """The joint observation and action written out: inventory's part first."""
    size = int(np.prod(envs.single_action_space(INVENTORY).shape))

    def observe(observations):
        return np.concatenate([observations[INVENTORY], observations[RECOMMENDER]], axis=1)

    def env_actions(actions, _):
        return {INVENTORY: actions[:, :size], RECOMMENDER: actions[:, size:]}

    return VectorRows(envs, observe, env_actions, INVENTORY)


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("num_envs", [1, 7])
def test_joint_vec_env_steps_as_the_env(num_envs, options):
    venv = JointVecEnv("tiny", num_envs, reward_scale=SCALE, **options)
    if num_envs == 1:
        view = JointView("tiny", SCALE, **options)
        assert (venv.observation_space, venv.action_space) == (
            view.observation_space,
            view.action_space,
        )
        reference = ViewRows(view)
    else:
        envs = coord_env.vector_env("tiny", num_envs=num_envs, autoreset_mode="disabled", **options)
        reference = joint_rows(envs)
    sample = batch_sampler(venv.action_space, num_envs, seed=num_envs)
    assert_adapter_steps_like(venv, reference, seed=11, sample=sample)


def hashing_partner(agent: str, options: dict):
    """A deterministic batched partner for ``agent``: a function of its observation rows."""
    env = coord_env.parallel_env("tiny", **options)
    space = env.action_space(agent)
    weights = np.random.default_rng(5).uniform(size=env.observation_space(agent).shape)

    def partner(observations: np.ndarray) -> np.ndarray:
        level = (np.asarray(observations) @ weights) % 1.0
        if isinstance(space, gymnasium.spaces.Box):
            return (space.low + level[:, None] * (space.high - space.low)).astype(np.float32)
        return np.floor(level[:, None] * space.nvec).astype(np.int64)

    return partner


@pytest.mark.parametrize(
    ("agent", "reward_mode", "options"),
    [
        (INVENTORY, "departmental", OPTIONS[0]),
        (RECOMMENDER, "team", OPTIONS[1]),
        (RECOMMENDER, "departmental", OPTIONS[0]),
    ],
    ids=["inventory-departmental-multidiscrete", "recommender-team-box", "recommender-dep"],
)
@pytest.mark.parametrize("num_envs", [1, 7])
def test_agent_vec_env_steps_as_the_env(num_envs, agent, reward_mode, options):
    partner_agent = RECOMMENDER if agent == INVENTORY else INVENTORY
    partner = hashing_partner(partner_agent, options)
    venv = AgentVecEnv(
        "tiny", agent, partner, num_envs, reward_mode=reward_mode, reward_scale=SCALE, **options
    )
    if num_envs == 1:
        own = {partner_agent: lambda observation: partner(observation[None])[0]}
        view = AgentView("tiny", agent, own, reward_mode=reward_mode, reward_scale=SCALE, **options)
        assert (venv.observation_space, venv.action_space) == (
            view.observation_space,
            view.action_space,
        )
        reference = ViewRows(view)
    else:
        envs = coord_env.vector_env(
            "tiny",
            num_envs=num_envs,
            reward_mode=reward_mode,
            autoreset_mode="disabled",
            **options,
        )

        def env_actions(actions, observations):
            return {agent: actions, partner_agent: partner(observations[partner_agent])}

        reference = VectorRows(envs, lambda observations: observations[agent], env_actions, agent)
    sample = batch_sampler(venv.action_space, num_envs, seed=num_envs)
    assert_adapter_steps_like(venv, reference, seed=4, sample=sample)


class ParallelRows:
    """``copies`` single parallel envs (copy ``i`` seeded ``seed + i``, as SuperSuit seeds
    them), one row per agent: observations zero-padded to the widest, each agent's action the
    first entries of its padded row."""

    def __init__(self, copies: int):
        self.envs = [coord_env.parallel_env("tiny", continuous_actions=True) for _ in range(copies)]
        env = self.envs[0]
        self.agents = env.possible_agents
        self.width = max(env.observation_space(agent).shape[0] for agent in self.agents)

    def rows(self, observations: list[dict]) -> np.ndarray:
        rows = np.zeros((len(observations) * len(self.agents), self.width), dtype=np.float32)
        for copy, observation in enumerate(observations):
            for index, agent in enumerate(self.agents):
                part = observation[agent]
                rows[copy * len(self.agents) + index, : part.shape[0]] = part
        return rows

    def reset(self, seed: int) -> np.ndarray:
        return self.rows([env.reset(seed=seed + i)[0] for i, env in enumerate(self.envs)])

    def step(self, actions: np.ndarray) -> tuple:
        observations, rewards, dones, finished = [], [], [], []
        for copy, env in enumerate(self.envs):
            padded = actions[copy * len(self.agents) : (copy + 1) * len(self.agents)]
            step = {
                agent: padded[index, : env.action_space(agent).shape[0]]
                for index, agent in enumerate(self.agents)
            }
            observation, reward, terminated, truncated, _ = env.step(step)
            finished.append(observation)
            ended = [terminated[agent] or truncated[agent] for agent in self.agents]
            if all(ended):
                observation, _ = env.reset()
            observations.append(observation)
            rewards += [reward[agent] * SCALE for agent in self.agents]
            dones += ended
        terminal = self.rows(finished) if all(dones) else None
        return self.rows(observations), np.array(rewards), np.array(dones), terminal


def padded_actions(copies: int, seed: int):
    """Padded action rows whose every entry lies in both agents' Boxes (so no agent's env
    refuses its cut), drawn from ``seed``."""
    env = coord_env.parallel_env("tiny", continuous_actions=True)
    width = max(env.action_space(agent).shape[0] for agent in env.possible_agents)
    rng = np.random.default_rng(seed)
    return lambda: rng.uniform(0.0, 1.0, size=(2 * copies, width)).astype(np.float32)


@pytest.mark.parametrize("copies", [1, 7])
def test_shared_agents_vec_env_steps_as_the_env(copies):
    env = pad_action_space_v0(
        pad_observations_v0(coord_env.parallel_env("tiny", continuous_actions=True))
    )
    concat = concat_vec_envs_v1(to_vec_env(env), copies, num_cpus=0, base_class="gymnasium")
    venv = SharedAgentsVecEnv(concat, reward_scale=SCALE)
    assert venv.num_envs == 2 * copies
    assert venv.seed(3) == [3 + index for index in range(2 * copies)]
    assert_adapter_steps_like(venv, ParallelRows(copies), seed=3, sample=padded_actions(copies, 0))


def assert_refuses_and_stays_usable(venv, bad: np.ndarray, good: np.ndarray, match: str) -> None:
    """``bad`` is refused with a message matching ``match``; ``good`` then steps as usual."""
    venv.seed(0)
    venv.reset()
    with pytest.raises(coord_env.InvalidActionError, match=match):
        venv.step(bad)
    observations, _, dones, _ = venv.step(good)
    assert observations.shape == (venv.num_envs, *venv.observation_space.shape)
    assert not dones.any()


def test_joint_vec_env_refuses_bad_rows_and_stays_usable():
    venv = JointVecEnv("tiny", 3)
    actions = np.stack([venv.action_space.sample() for _ in range(3)])
    out_of_range = actions.copy()
    out_of_range[2, 0] = 10_000
    assert_refuses_and_stays_usable(venv, out_of_range, actions, "batch index 2")
    assert_refuses_and_stays_usable(venv, actions[:2], actions, r"actions must have shape \(3, 4\)")
    assert_refuses_and_stays_usable(venv, actions[:, :3], actions, r"one row per env.*\(3, 3\)")


def slates(observations: np.ndarray) -> np.ndarray:
    return np.tile([0, 1], (len(observations), 1))


def test_agent_vec_env_refuses_bad_input_and_stays_usable():
    with pytest.raises(ValueError, match="agent must be one of"):
        AgentVecEnv("tiny", "warehouse_0", slates, 2)
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        AgentVecEnv("tiny", INVENTORY, slates, 2, reward_mode="selfish")
    with pytest.raises(ValueError, match="partner must be callable"):
        AgentVecEnv("tiny", INVENTORY, {RECOMMENDER: slates}, 2)
    with pytest.raises(ValueError, match="reward_scale must be a finite number > 0"):
        AgentVecEnv("tiny", INVENTORY, slates, 2, reward_scale=float("nan"))
    venv = AgentVecEnv("tiny", INVENTORY, slates, 3)
    actions = np.full((3, 2), 3)
    out_of_range = actions.copy()
    out_of_range[1, 0] = 10_000
    assert_refuses_and_stays_usable(venv, out_of_range, actions, "batch index 1")
    assert_refuses_and_stays_usable(venv, actions[:1], actions, r"actions must have shape \(3, 2\)")


def test_agent_vec_env_refuses_a_partner_with_the_wrong_rows():
    """A partner that answers for another batch size is named, not blamed on the learner."""
    rows = {"count": 3}
    venv = AgentVecEnv("tiny", INVENTORY, lambda obs: slates(obs[: rows["count"]]), 3)
    venv.seed(0)
    venv.reset()
    rows["count"] = 2
    with pytest.raises(coord_env.InvalidActionError, match=r"partner actions must have shape"):
        venv.step(np.full((3, 2), 3))
    rows["count"] = 3
    assert venv.step(np.full((3, 2), 3))[0].shape == (3, *venv.observation_space.shape)
