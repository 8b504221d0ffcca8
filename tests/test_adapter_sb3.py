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
from coord_env.adapters.sb3 import (
    AgentVecEnv,
    JointVecEnv,
    SharedAgentsBatchVecEnv,
    SharedAgentsVecEnv,
    to_agent_space,
)

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


# ---------------------------------------------------------------- shared_ppo on the vector env
def assert_same_infos(infos, expected) -> None:
    """Row by row the same keys and values (arrays equal; VecMonitor's ``episode`` equal but
    for its wall-clock ``t``)."""
    assert len(infos) == len(expected)
    for info, reference in zip(infos, expected, strict=True):
        assert info.keys() == reference.keys()
        for key, value in reference.items():
            if key == "episode":
                assert {**info[key], "t": 0} == {**value, "t": 0}
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(info[key], value)
                assert info[key].dtype == value.dtype
            else:
                assert info[key] == value and type(info[key]) is type(value), key


@pytest.mark.parametrize("rescale_actions", [True, False], ids=["rescaled", "clipped"])
@pytest.mark.parametrize("scenario", ["tiny", "default"])
def test_shared_batch_vec_env_gives_the_supersuit_recipes_rows(scenario, rescale_actions):
    """One retailer (SuperSuit seeds copy i with seed + i, the vector env draws the batch from
    one generator, so only B = 1 has the same seeds): the same action space, and step for step
    through a reset the same observations, rewards, dones and infos, for the same actions, out
    of range ones included."""
    from baselines.rl.sb3.shared import make_shared_vec_env

    reward_scale = 1e-3
    supersuit = make_shared_vec_env(scenario, 1, reward_scale, rescale_actions=rescale_actions)
    batched = make_shared_vec_env(
        scenario, 1, reward_scale, rescale_actions=rescale_actions, vec_env="batched"
    )
    assert batched.action_space == supersuit.action_space
    assert batched.observation_space.shape == supersuit.observation_space.shape
    assert batched.seed(11) == [11, 11]  # the batch's one seed, per row
    supersuit.seed(11)
    np.testing.assert_array_equal(batched.reset(), supersuit.reset())
    assert_same_infos(batched.reset_infos, supersuit.reset_infos)
    rng = np.random.default_rng(0)
    horizon = coord_env.load_scenario(scenario).num_ticks
    for tick in range(horizon + 3):
        actions = rng.uniform(-1.5, 1.5, (2, *batched.action_space.shape)).astype(np.float32)
        rows, rewards, dones, infos = batched.step(actions)
        expected_rows, expected_rewards, expected_dones, expected_infos = supersuit.step(actions)
        np.testing.assert_array_equal(rows, expected_rows)
        assert rows.dtype == expected_rows.dtype
        np.testing.assert_array_equal(rewards, expected_rewards)
        assert rewards.dtype == expected_rewards.dtype
        np.testing.assert_array_equal(dones, expected_dones)
        assert dones.all() == (tick == horizon - 1)
        assert_same_infos(infos, expected_infos)
    assert rewards.any()  # the comparison saw money move


def test_shared_batch_vec_env_rows_are_each_retailers_agents():
    """B = 3: rows 2b and 2b + 1 are retailer b's inventory and recommender of the vector env
    seeded alike, padded as SuperSuit pads (zeros, then a 0/1 indicator); each row's action cut
    to its agent and mapped from [-1, 1]; rewards are the team profit times the scale."""
    from supersuit.utils.action_transforms.homogenize_ops import homogenize_observations

    venv = SharedAgentsBatchVecEnv("tiny", 3, reward_scale=SCALE, inventory_action="order_up_to")
    envs = coord_env.vector_env("tiny", 3, continuous_actions=True, inventory_action="order_up_to")
    agents = envs.possible_agents
    width = venv.observation_space.shape[0] - len(agents)

    def rows(observations):
        out = []
        for b in range(3):
            for index, agent in enumerate(agents):
                padded = homogenize_observations(
                    gymnasium.spaces.Box(0, 1, (width,)), observations[agent][b]
                )
                out.append(np.concatenate([padded, np.eye(len(agents))[index]]))
        return np.array(out, dtype=np.float32)

    venv.seed(2)
    observations, _ = envs.reset(seed=2)
    np.testing.assert_array_equal(venv.reset(), rows(observations))
    rng = np.random.default_rng(1)
    for _ in range(5):
        actions = rng.uniform(-1.0, 1.0, (6, *venv.action_space.shape)).astype(np.float32)
        env_actions = {
            agent: np.stack(
                [to_agent_space(actions[2 * b + index, : space.shape[0]], space) for b in range(3)]
            )
            for index, (agent, space) in enumerate(
                (agent, envs.single_action_space(agent)) for agent in agents
            )
        }
        observations, rewards, _, _, _ = envs.step(env_actions)
        got, got_rewards, _, _ = venv.step(actions)
        np.testing.assert_array_equal(got, rows(observations))
        expected = np.repeat(rewards[agents[0]].astype(np.float32).astype(np.float64) * SCALE, 2)
        np.testing.assert_array_equal(got_rewards, expected.astype(np.float32))


def test_shared_batch_vec_env_refuses_bad_input_and_stays_usable():
    with pytest.raises(ValueError, match="continuous_actions must be True"):
        SharedAgentsBatchVecEnv("tiny", 2, continuous_actions=False)
    with pytest.raises(ValueError, match="rescale_actions must be True or False"):
        SharedAgentsBatchVecEnv("tiny", 2, rescale_actions="yes")
    with pytest.raises(ValueError, match="reward_scale must be a finite number > 0"):
        SharedAgentsBatchVecEnv("tiny", 2, reward_scale=0.0)
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        SharedAgentsBatchVecEnv("tiny", 0)
    venv = SharedAgentsBatchVecEnv("tiny", 2, inventory_action="order_up_to")
    actions = np.zeros((4, 4), dtype=np.float32)
    nan = actions.copy()
    nan[3, 1] = np.nan  # retailer 1's recommender
    assert_refuses_and_stays_usable(venv, nan, actions, "recommender_0.*batch index 1")
    assert_refuses_and_stays_usable(venv, actions[:3], actions, r"actions must have shape \(4, 4\)")
    assert_refuses_and_stays_usable(venv, actions[:, :3], actions, r"one row per env.*\(4, 3\)")
    words = np.full((4, 4), "a")
    assert_refuses_and_stays_usable(venv, words, actions, "actions must be numbers")


def test_shared_ppo_vec_env_option():
    """``vec_env`` is checked, and a checkpoint config from before it loads as SuperSuit's."""
    from baselines.rl.sb3.config import SharedPPOConfig
    from baselines.rl.trainer import migrate_state

    assert SharedPPOConfig().vec_env == "supersuit"
    with pytest.raises(
        ValueError, match="vec_env must be one of 'supersuit', 'batched'; got 'gpu'"
    ):
        SharedPPOConfig(vec_env="gpu")
    old = migrate_state("shared_ppo", {"config": {"rescale_actions": True, "n_envs": 2}})
    assert old["config"] == {"rescale_actions": True, "vec_env": "supersuit", "n_envs": 2}


def test_shared_ppo_trains_deterministically_on_the_batched_env(tmp_path):
    """Two trainings from one seed on ``vec_env="batched"`` give the same weights bit for bit,
    another seed other weights; a checkpoint resumes on the batched env."""
    import torch

    from baselines.rl.sb3.trainers import SharedPPOTrainer
    from baselines.rl.training import load_trainer, save_trainer

    config = {"n_envs": 3, "n_steps": 16, "batch_size": 32, "n_epochs": 2, "vec_env": "batched"}

    def weights(seed: int) -> tuple[list[torch.Tensor], dict]:
        trainer = SharedPPOTrainer("tiny", seed, **config)
        assert isinstance(trainer.models["shared"].get_env().venv, SharedAgentsBatchVecEnv)
        stats = trainer.learn(96)
        assert trainer.steps_done == 96
        return [p.detach().clone() for p in trainer.models["shared"].policy.parameters()], stats

    first, first_stats = weights(4)
    second, second_stats = weights(4)
    other, _ = weights(5)
    assert first_stats == second_stats
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))

    trainer = SharedPPOTrainer("tiny", 4, **config)
    trainer.learn(48)
    save_trainer(trainer, tmp_path / "run")
    loaded = load_trainer(tmp_path / "run", coord_env.load_scenario("tiny"))
    assert loaded.config.vec_env == "batched" and loaded.steps_done == 48
    assert isinstance(loaded.models["shared"].get_env().venv, SharedAgentsBatchVecEnv)
    loaded.learn(48)
    assert loaded.steps_done == 96
