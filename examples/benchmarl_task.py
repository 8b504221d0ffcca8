"""Train BenchMARL's MAPPO or IPPO on coord_env through ``experiment.run()``.

The task is :class:`coord_env.adapters.benchmarl.CoordEnvTask`: the batched TorchRL adapter
(``RetailTorchRLEnv``) with continuous actions, ``clip_actions=True``, ``infos="minimal"`` and
``reward_scale="auto"``. BenchMARL needs a venv of its own (docs/adapters.md, section BenchMARL):

    python3 -m venv .venv-benchmarl && . .venv-benchmarl/bin/activate
    pip install torch==2.13.0
    pip install -e ".[rl]" benchmarl -c <(echo torch==2.13.0)

A smoke run (seconds), then a longer one (the defaults: 100 iterations of 6,000 frames):

    python examples/benchmarl_task.py --algorithm mappo --scenario tiny --iters 2 --frames 160
    python examples/benchmarl_task.py --algorithm ippo --scenario small --save-folder runs/

Prints the frames, iterations, wall time and the last batch's mean episode return (scaled).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

from benchmarl.algorithms import IppoConfig, MappoConfig
from benchmarl.experiment import Experiment, ExperimentConfig
from benchmarl.models import MlpConfig

import coord_env
from coord_env.adapters.benchmarl import CoordEnvTask

ALGORITHMS = {"mappo": MappoConfig, "ippo": IppoConfig}


@dataclass(frozen=True)
class Budget:
    """What one run collects and trains on (BenchMARL's on-policy settings)."""

    iters: int = 100
    frames: int = 6_000  # per iteration, over all retailers
    num_envs: int = 60  # retailers stepped together by the batched adapter
    minibatch: int = 400
    minibatch_iters: int = 10  # passes over each batch
    evaluation_interval: int = 0  # frames between evaluations; 0: none


def make_experiment(
    algorithm: str, scenario: str, budget: Budget, seed: int, save_folder: str
) -> Experiment:
    """A BenchMARL experiment of ``algorithm`` on ``scenario``, loggers off (csv with
    evaluation on), ready for ``run()``.

    Raises
    ------
    ValueError
        An unknown ``algorithm`` or ``scenario``.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {sorted(ALGORITHMS)}, got {algorithm!r}")
    members = {member.name.lower(): member for member in CoordEnvTask}
    if scenario not in members:
        raise ValueError(f"scenario: expected one of {sorted(members)}, got {scenario!r}")
    config = ExperimentConfig.get_from_yaml()
    config.max_n_frames = None
    config.max_n_iters = budget.iters
    config.on_policy_collected_frames_per_batch = budget.frames
    config.on_policy_n_envs_per_worker = budget.num_envs
    config.on_policy_minibatch_size = budget.minibatch
    config.on_policy_n_minibatch_iters = budget.minibatch_iters
    config.evaluation = budget.evaluation_interval > 0
    config.evaluation_interval = max(budget.evaluation_interval, budget.frames)
    config.evaluation_episodes = 4
    config.render = False
    config.loggers = ["csv"] if config.evaluation else []
    config.create_json = False
    config.save_folder = save_folder
    return Experiment(
        task=members[scenario].get_task(),
        algorithm_config=ALGORITHMS[algorithm].get_from_yaml(),
        model_config=MlpConfig.get_from_yaml(),
        critic_model_config=MlpConfig.get_from_yaml(),
        seed=seed,
        config=config,
    )


def main(argv: list[str] | None = None) -> Experiment:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="mappo")
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iters", type=int, default=Budget.iters)
    parser.add_argument("--frames", type=int, default=Budget.frames)
    parser.add_argument("--num-envs", type=int, default=None, help="default: frames/horizon")
    parser.add_argument("--minibatch", type=int, default=Budget.minibatch)
    parser.add_argument("--minibatch-iters", type=int, default=Budget.minibatch_iters)
    parser.add_argument("--evaluation-interval", type=int, default=0)
    parser.add_argument("--save-folder", default=None, help="default: a temporary folder")
    args = parser.parse_args(argv)
    if args.scenario.upper() not in CoordEnvTask.__members__:
        parser.error(f"--scenario: expected one of {sorted(coord_env.list_scenarios())}")
    horizon = coord_env.load_scenario(args.scenario).horizon
    num_envs = args.num_envs or max(1, args.frames // horizon)  # one episode per retailer
    budget = Budget(
        args.iters,
        args.frames,
        num_envs,
        min(args.minibatch, args.frames),
        args.minibatch_iters,
        args.evaluation_interval,
    )
    with tempfile.TemporaryDirectory() as scratch:
        experiment = make_experiment(
            args.algorithm, args.scenario, budget, args.seed, args.save_folder or scratch
        )
        start = time.perf_counter()
        experiment.run()
        seconds = time.perf_counter() - start
    print(
        f"{args.algorithm} on {args.scenario}: {experiment.total_frames} frames, "
        f"{experiment.n_iters_performed} iterations, {seconds:.1f} s, "
        f"mean return {experiment.mean_return:.3f}"
    )
    return experiment


if __name__ == "__main__":
    main()
