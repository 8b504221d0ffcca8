"""The SB3 trainers (centralized, siloed_rl, ippo, shared_ppo): learning, evaluation, checkpoints,
seeding, and the shared policy's SuperSuit transforms. Tiny budgets on the ``tiny`` scenario."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import ROOT

import coord_env
from baselines.rl.sb3 import (
    SB3_TRAINERS,
    TRAINER_STATE,
    CentralizedTrainer,
    SharedPolicy,
    SharedPPOConfig,
    SiloedRLTrainer,
    derived_seed,
    deterministic_actions,
    make_shared_vec_env,
)
from baselines.rl.trainer import Trainer
from coord_env.checkpoint import CheckpointError
from coord_env.harness.seeds import TRAINING_SEED_LIMIT
from coord_env.policy import Policy

TINY_PPO = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1}  # rollouts of 64 steps
CHUNK = {"chunk_steps": 64}  # departmental learners alternate every rollout
LEARN_STEPS = 192


def tiny_config(name: str) -> dict:
    return {**TINY_PPO, **(CHUNK if name in ("siloed_rl", "ippo") else {})}


@pytest.fixture(scope="module", params=sorted(SB3_TRAINERS))
def trained(request):
    """Each trainer after a short learn(), with the statistics that learn() returned."""
    name = request.param
    trainer = SB3_TRAINERS[name]("tiny", seed=4, **tiny_config(name))
    assert trainer.steps_done == 0
    stats = trainer.learn(LEARN_STEPS)
    return trainer, stats


def episode_observations(env_options, seed=3):
    """The observation dicts of a whole tiny episode under random actions."""
    env = coord_env.parallel_env("tiny", **env_options)
    rng = np.random.default_rng(seed)
    observations, infos = env.reset(seed=seed)
    recorded = [(observations, infos)]
    while env.agents:
        actions = {}
        for agent in env.agents:
            space = env.action_space(agent)
            space.seed(int(rng.integers(2**31)))
            actions[agent] = space.sample()
        observations, _, _, _, infos = env.step(actions)
        recorded.append((observations, infos))
    return recorded


def test_registry_names_match_trainers():
    assert sorted(SB3_TRAINERS) == ["centralized", "ippo", "shared_ppo", "siloed_rl"]
    for name, trainer_class in SB3_TRAINERS.items():
        assert trainer_class.name == name


def test_learn_advances_and_reports_losses(trained):
    trainer, stats = trained
    assert isinstance(trainer, Trainer)
    assert LEARN_STEPS <= trainer.steps_done < LEARN_STEPS + 64  # whole rollouts
    value_losses = [value for key, value in stats.items() if key.endswith("value_loss")]
    assert value_losses and all(np.isfinite(value_losses))
    assert all(np.isfinite(value) for value in stats.values())
    assert trainer.learn(0) == {}
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        trainer.learn(-1)


def test_policy_runs_through_the_harness(trained):
    trainer, _ = trained
    policy = trainer.policy()
    assert isinstance(policy, Policy)
    results = coord_env.evaluate(
        lambda env: trainer.policy(), "tiny", seeds=[1, 2], env_options=trainer.env_options
    )
    assert [row["seed"] for row in results["per_seed"]] == [1, 2]
    assert all(np.isfinite(row["profit"]) for row in results["per_seed"])
    # deterministic: the same seed gives the same episode profit
    again = coord_env.evaluate(
        lambda env: trainer.policy(), "tiny", seeds=[1], env_options=trainer.env_options
    )
    assert again["per_seed"][0]["profit"] == results["per_seed"][0]["profit"]


def test_save_load_round_trips_to_identical_actions(trained, tmp_path):
    trainer, _ = trained
    trainer.save(tmp_path)
    assert not (tmp_path / "manifest.json").exists()  # the caller writes the manifest
    state = json.loads((tmp_path / TRAINER_STATE).read_text())
    assert state["baseline"] == trainer.name and state["steps_done"] == trainer.steps_done
    loaded = type(trainer).load(tmp_path, coord_env.load_scenario("tiny"))
    assert loaded.steps_done == trainer.steps_done
    assert loaded.env_options == trainer.env_options
    assert loaded.config == trainer.config
    original, restored = trainer.policy(), loaded.policy()
    for observations, infos in episode_observations(trainer.env_options):
        expected, actual = original.act(observations, infos), restored.act(observations, infos)
        assert expected.keys() == actual.keys() == {"inventory_0", "recommender_0"}
        for agent in expected:
            np.testing.assert_array_equal(actual[agent], expected[agent])
    before = loaded.steps_done
    loaded.learn(64)
    assert loaded.steps_done >= before + 64


def test_load_refuses_another_scenario(trained, tmp_path):
    trainer, _ = trained
    trainer.save(tmp_path)
    with pytest.raises(CheckpointError, match=r"trained on coord/tiny-v0 .* not on coord/small-v0"):
        type(trainer).load(tmp_path, coord_env.load_scenario("small"))
    # the same name with other parameters is another scenario too
    with pytest.raises(CheckpointError, match="hash"):
        type(trainer).load(tmp_path, coord_env.load_scenario("tiny", horizon=21))


def test_load_refuses_missing_or_foreign_files(tmp_path):
    trainer = SiloedRLTrainer("tiny", seed=1, **TINY_PPO)
    with pytest.raises(CheckpointError, match=f"no {TRAINER_STATE}"):
        SiloedRLTrainer.load(tmp_path, "tiny")
    trainer.save(tmp_path)
    with pytest.raises(CheckpointError, match="of baseline 'siloed_rl', not 'ippo'"):
        SB3_TRAINERS["ippo"].load(tmp_path, "tiny")
    (tmp_path / "recommender_0.zip").unlink()
    with pytest.raises(CheckpointError, match=r"missing recommender_0\.zip"):
        SiloedRLTrainer.load(tmp_path, "tiny")
    state = json.loads((tmp_path / TRAINER_STATE).read_text())
    state["env_options"]["observation_mode"] = "full"  # spaces no longer match the recorded ones
    (tmp_path / TRAINER_STATE).write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"other spaces: .*inventory_0\.observation"):
        SiloedRLTrainer.load(tmp_path, "tiny")


def test_departments_alternate_by_chunk_and_resume_their_turn(tmp_path):
    trainer = SiloedRLTrainer("tiny", seed=2, **TINY_PPO, chunk_steps=128)
    stats = trainer.learn(64)  # half of inventory's first chunk
    assert trainer.models["inventory_0"].num_timesteps == 64
    assert trainer.models["recommender_0"].num_timesteps == 0
    assert {key.split("/")[0] for key in stats} == {"inventory_0"}
    trainer.save(tmp_path)
    resumed = SiloedRLTrainer.load(tmp_path, "tiny")
    assert resumed.training_department == "inventory_0"
    stats = resumed.learn(128)  # the rest of inventory's chunk, then the recommender's turn
    assert resumed.models["inventory_0"].num_timesteps == 128
    assert resumed.models["recommender_0"].num_timesteps == 64
    assert {key.split("/")[0] for key in stats} == {"inventory_0", "recommender_0"}
    assert resumed.steps_done == 192
    assert resumed.training_department == "recommender_0"


def test_same_seed_trains_the_same_policy():
    observations, infos = episode_observations({})[4]

    def actions_after_training(seed):
        trainer = CentralizedTrainer("tiny", seed=seed, **TINY_PPO)
        trainer.learn(64)
        return trainer.policy().act(observations, infos)

    first, second = actions_after_training(7), actions_after_training(7)
    for agent in first:
        np.testing.assert_array_equal(first[agent], second[agent])


def test_seeds_stay_clear_of_the_evaluation_seeds():
    for bad in (TRAINING_SEED_LIMIT, -1, 1.5):
        with pytest.raises(ValueError, match="seed must be an integer in"):
            CentralizedTrainer("tiny", seed=bad)
    n_envs = 8
    for seed in (0, 1, TRAINING_SEED_LIMIT - 1):
        for learner in range(2):
            assert 0 <= derived_seed(seed, learner, 0, room=n_envs) + n_envs <= TRAINING_SEED_LIMIT


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"unknown centralized config field\(s\) 'chunk_steps'"):
        CentralizedTrainer("tiny", seed=0, chunk_steps=10)
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        CentralizedTrainer("tiny", seed=0, n_steps=0)
    with pytest.raises(ValueError, match="continuous_actions must be True for shared_ppo"):
        SharedPPOConfig(continuous_actions=False)


def test_shared_policy_transforms_exactly_like_its_training_env():
    """The policy's padding, agent indicator and unpadding reproduce the SuperSuit training env."""
    venv = make_shared_vec_env(
        "tiny", n_envs=1, reward_scale=1.0, inventory_action="order_quantity"
    )
    env = coord_env.parallel_env("tiny", continuous_actions=True)
    policy = SharedPolicy(model=None, env=coord_env.parallel_env("tiny", continuous_actions=True))
    venv.seed(7)
    rows = venv.reset()
    observations, _ = env.reset(seed=7)
    np.testing.assert_array_equal(rows, policy.shared_observations(observations))
    indicator = rows[:, -2:]
    np.testing.assert_array_equal(indicator, np.eye(2, dtype=np.float32))  # rescaled to 0/1
    rng = np.random.default_rng(0)
    low, high = venv.action_space.low, venv.action_space.high
    for step in range(env.scenario.num_ticks):
        padded = rng.uniform(low, high, size=(2, *low.shape)).astype(np.float32)
        rows, rewards, dones, infos = venv.step(padded)
        observations, profit, _, _, _ = env.step(policy.agent_actions(padded))
        np.testing.assert_array_equal(rewards, np.float32(profit["inventory_0"]))
        last = step == env.scenario.num_ticks - 1
        assert list(dones) == [last, last]
        if last:
            for index in range(2):
                assert infos[index]["TimeLimit.truncated"] is True  # the horizon is a time limit
                np.testing.assert_array_equal(
                    infos[index]["terminal_observation"],
                    policy.shared_observations(observations)[index],
                )
        else:
            np.testing.assert_array_equal(rows, policy.shared_observations(observations))
    venv.close()


def test_shared_ppo_acts_with_continuous_actions():
    trainer = SB3_TRAINERS["shared_ppo"]("tiny", seed=0, **TINY_PPO)
    assert trainer.env_options["continuous_actions"] is True
    env = coord_env.parallel_env("tiny", **trainer.env_options)
    observations, infos = env.reset(seed=0)
    actions = trainer.policy().act(observations, infos)
    for agent, action in actions.items():
        assert env.action_space(agent).contains(action)


@pytest.mark.parametrize("name", ["centralized", "siloed_rl", "ippo", "shared_ppo"])
def test_fast_deterministic_actions_equal_sb3_predict(name):
    """The evaluation fast path gives exactly ``predict(..., deterministic=True)``'s actions."""
    from baselines.rl.policies import CommittedPolicy

    scenario = coord_env.load_scenario("default")
    factory = CommittedPolicy(name)
    env = coord_env.parallel_env(scenario, **(factory.env_options_for(scenario) or {}))
    policy = factory(env)
    models = getattr(policy, "models", None) or {"joint": policy.model}
    rng = np.random.default_rng(0)
    for model in models.values():
        shape = model.observation_space.shape
        batch = rng.uniform(-1.0, 3.0, size=(64, *shape)).astype(np.float32)
        expected, _ = model.predict(batch, deterministic=True)
        assert np.array_equal(deterministic_actions(model, batch), expected)
    observations, infos = env.reset(seed=5)
    for _ in range(20):  # and along a real trajectory, through the policy object
        actions = policy.act(observations, infos)
        for agent, model in models.items():
            if agent == "joint" and name == "centralized":
                joint = policy.view.joint_observation(observations)
                expected = policy.view.agent_actions(model.predict(joint, deterministic=True)[0])
            elif agent == "joint":
                shared = policy.shared_observations(observations)
                expected = policy.agent_actions(model.predict(shared, deterministic=True)[0])
            else:
                expected = {agent: model.predict(observations[agent], deterministic=True)[0]}
            for key, value in expected.items():
                assert np.array_equal(actions[key], value)
        observations, _, _, _, infos = env.step(actions)


def test_shared_ppo_rescales_actions_and_old_checkpoints_load_without():
    """The policy acts in [-1, 1], mapped onto each agent's Box: a zero output orders half the
    largest target instead of nothing. Checkpoints from before the option load without it."""
    from baselines.rl.training import load_trainer
    from coord_env.checkpoint import read_manifest

    env = coord_env.parallel_env("tiny", continuous_actions=True)
    policy = SharedPolicy(None, env)
    actions = policy.agent_actions(np.zeros((2, 4), dtype=np.float32))
    np.testing.assert_allclose(actions["inventory_0"], 0.5)
    np.testing.assert_allclose(actions["recommender_0"], 0.0)
    legacy = SharedPolicy(None, env, rescale_actions=False).agent_actions(np.zeros((2, 4)))
    np.testing.assert_allclose(legacy["inventory_0"], 0.0)
    with pytest.raises(ValueError, match="rescale_actions"):
        SharedPPOConfig(rescale_actions="yes")
    committed = ROOT / "baselines/checkpoints/tiny/shared_ppo"
    stored = json.loads((committed / TRAINER_STATE).read_text())["config"]
    trainer = load_trainer(committed, coord_env.load_scenario("tiny"))
    assert trainer.config.rescale_actions is stored.get("rescale_actions", False)
    assert read_manifest(committed)["baseline"] == "shared_ppo"


@pytest.mark.parametrize("name", ["centralized", "ippo"])
def test_learning_rate_decays_linearly_over_the_trainers_steps(name, tmp_path):
    """``lr_decay_steps``: each update's rate is ``learning_rate * (1 - steps_done / decay)``
    over the trainer's steps (both learners' for ippo), across learn calls and a resume."""
    config = {**tiny_config(name), "learning_rate": 1e-3, "lr_decay_steps": 256}
    trainer = SB3_TRAINERS[name]("tiny", 0, **config)
    trainer.learn(64)
    learner = trainer.models[next(iter(trainer.models))]
    assert learner.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 64 / 256))
    trainer.save(tmp_path)
    resumed = SB3_TRAINERS[name].load(tmp_path, "tiny")
    resumed.learn(128)
    assert resumed.steps_done == 192
    rates = [model.policy.optimizer.param_groups[0]["lr"] for model in resumed.models.values()]
    assert min(rates) == pytest.approx(1e-3 * (1 - 192 / 256))
    assert resumed.current_learning_rate() == pytest.approx(1e-3 * (1 - 192 / 256))
    with pytest.raises(ValueError, match="lr_decay_steps must be an integer >= 0"):
        SB3_TRAINERS[name]("tiny", 0, lr_decay_steps=-1)
