"""Tests of the BenchMARL task (coord_env.adapters.benchmarl): MAPPO and IPPO train through
``experiment.run()`` on the batched TorchRL adapter, and the task's specs are the adapter's.

BenchMARL brings its own torchrl and tensordict, so it lives in a venv of its own (CI's BenchMARL
step; docs/adapters.md, section BenchMARL); elsewhere these tests skip."""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest

pytest.importorskip("benchmarl")

import torch
from benchmarl.algorithms import IppoConfig, MappoConfig
from benchmarl.experiment import Experiment, ExperimentConfig
from benchmarl.models import MlpConfig
from helpers import ROOT

import coord_env
from coord_env.adapters.benchmarl import DEFAULT_CONFIG, CoordEnvTask, CoordEnvTaskClass
from coord_env.adapters.torchrl import RetailTorchRLEnv

EXAMPLE = ROOT / "examples" / "benchmarl_task.py"
FRAMES = 160  # per iteration: 8 retailers of `tiny` (horizon 20), one episode each


def tiny_experiment(algorithm, save_folder, seed: int = 0) -> Experiment:
    """Two iterations of ``FRAMES`` frames, one minibatch pass, no loggers or evaluation."""
    config = ExperimentConfig.get_from_yaml()
    config.max_n_frames = None
    config.max_n_iters = 2
    config.on_policy_collected_frames_per_batch = FRAMES
    config.on_policy_n_envs_per_worker = 8
    config.on_policy_n_minibatch_iters = 1
    config.on_policy_minibatch_size = FRAMES
    config.evaluation = False
    config.render = False
    config.loggers = []
    config.create_json = False
    config.checkpoint_at_end = False
    config.save_folder = str(save_folder)
    return Experiment(
        task=CoordEnvTask.TINY.get_task(),
        algorithm_config=algorithm.get_from_yaml(),
        model_config=MlpConfig.get_from_yaml(),
        critic_model_config=MlpConfig.get_from_yaml(),
        seed=seed,
        config=config,
    )


@pytest.mark.parametrize("algorithm", [MappoConfig, IppoConfig], ids=["mappo", "ippo"])
def test_mappo_and_ippo_train_to_completion(algorithm, tmp_path):
    experiment = tiny_experiment(algorithm, tmp_path)
    assert experiment.continuous_actions  # chosen by BenchMARL from the task's support
    assert isinstance(experiment.test_env.base_env, RetailTorchRLEnv)
    before = [p.detach().clone() for p in experiment.policy.parameters()]
    experiment.run()
    assert experiment.n_iters_performed == 2
    assert experiment.total_frames == 2 * FRAMES
    assert math.isfinite(experiment.mean_return)
    after = list(experiment.policy.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True)), "no update"


def test_the_same_seed_trains_the_same_policy(tmp_path):
    runs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        experiment = tiny_experiment(IppoConfig, folder, seed=3)
        experiment.run()
        runs.append([p.detach().clone() for p in experiment.policy.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_the_tasks_specs_are_the_adapters():
    task = CoordEnvTask.SMALL.get_task()
    assert isinstance(task, CoordEnvTaskClass)
    assert task.config == {"scenario": "small", **DEFAULT_CONFIG}
    env = task.get_env_fun(num_envs=4, continuous_actions=True, seed=0, device="cpu")()
    adapter = RetailTorchRLEnv(
        "small", 4, continuous_actions=True, return_state=True, reward_scale="auto", device="cpu"
    )
    assert isinstance(env, RetailTorchRLEnv) and env.batch_size == torch.Size([4])
    observation = adapter.full_observation_spec_unbatched
    assert (
        task.group_map(env)
        == adapter.group_map
        == {
            "inventory": ["inventory_0"],
            "recommender": ["recommender_0"],
        }
    )
    for group in task.group_map(env):
        assert task.observation_spec(env)[group] == observation[group]
        assert task.action_spec(env)[group] == adapter.full_action_spec_unbatched[group]
        assert task.action_spec(env)[group, "action"].dtype == torch.float32
    assert task.state_spec(env)["state"] == observation["state"]
    assert "state" not in list(task.observation_spec(env).keys())
    assert task.info_spec(env) is None and task.action_mask_spec(env) is None
    assert task.max_steps(env) == coord_env.load_scenario("small").horizon == 100
    assert env.vector_env.reward_scale == adapter.vector_env.reward_scale != 1.0


def test_the_env_is_seeded_and_clips_gaussian_samples():
    task = CoordEnvTask.TINY.get_task()
    make = task.get_env_fun(num_envs=3, continuous_actions=True, seed=5, device="cpu")
    first, second = make(), make()
    td = first.reset()
    assert torch.equal(td["inventory", "observation"], second.reset()["inventory", "observation"])
    action = first.full_action_spec.zero()
    for group in task.group_map(first):
        action[group, "action"] += 2.0  # outside every box: clipped, not refused
    td.update(action)
    out = first.step(td)
    assert torch.isfinite(out["next", "inventory", "reward"]).all()


def test_discrete_actions_and_reserved_config_keys_are_refused():
    task = CoordEnvTask.TINY.get_task()
    assert task.supports_continuous_actions() and not task.supports_discrete_actions()
    with pytest.raises(ValueError, match=r"continuous_actions: .*supports only True"):
        task.get_env_fun(num_envs=2, continuous_actions=False, seed=0, device="cpu")
    for key, value in (("continuous_actions", False), ("autoreset_mode", "next_step")):
        bad = CoordEnvTask.TINY.get_task(config={"scenario": "tiny", key: value})
        with pytest.raises(ValueError, match=f"{key}: not a task config key"):
            bad.get_env_fun(num_envs=2, continuous_actions=True, seed=0, device="cpu")
    bad = CoordEnvTask.TINY.get_task(config={"scenario": "tiny", "clip_actions": "yes"})
    with pytest.raises(ValueError, match="clip_actions"):
        bad.get_env_fun(num_envs=2, continuous_actions=True, seed=0, device="cpu")()


def test_the_example_runs_mappo_and_ippo(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("example_benchmarl_task", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its frozen dataclass resolves annotations there
    spec.loader.exec_module(module)
    for algorithm, evaluation in (("mappo", "0"), ("ippo", "80")):
        argv = ["--algorithm", algorithm, "--scenario", "tiny", "--iters", "1", "--frames", "80"]
        folder = tmp_path / algorithm
        folder.mkdir()
        argv += ["--evaluation-interval", evaluation, "--save-folder", str(folder)]
        experiment = module.main(argv)
        assert experiment.total_frames == 80 and experiment.n_iters_performed == 1
        assert f"{algorithm} on tiny: 80 frames, 1 iterations" in capsys.readouterr().out
        evaluations = list(folder.rglob("eval_reward_episode_reward_mean.csv"))
        assert len(evaluations) == (evaluation != "0")  # BenchMARL's evaluation over a horizon
    with pytest.raises(ValueError, match="algorithm: expected one of"):
        module.make_experiment("maddpg", "tiny", module.Budget(), 0, str(tmp_path))
