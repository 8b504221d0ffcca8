"""Training throughput of MTMA: rollout collection and full ``learn`` steps per second.

    python benchmarks/training_throughput.py [--scenario default] [--envs 4 8 16] [--steps 8192]

For each batch size it prints three numbers, all on one core and with one torch thread:

- ``envs``: stepping that many ``RetailParallelEnv`` objects with random actions, one ``env.step``
  each per tick, as MTMA collected before it drove the batched core. No network runs here, so
  this is an upper bound on that old collector;
- ``batched``: ``RolloutCollector``, the actors' forward passes and sampling included, with one
  ``coord_env.core.step`` for the whole batch;
- ``learn``: ``MTMATrainer.learn``, collection plus the PPO updates, in env steps per second.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import coord_env
from baselines.rl.mtma.trainer import MTMATrainer


def _parallel_envs(scenario: str, envs: int, ticks: int, options: dict) -> float:
    """Env steps per second of ``envs`` separate parallel envs with random valid actions."""
    rng = np.random.default_rng(0)
    batch = [coord_env.parallel_env(scenario, **options) for _ in range(envs)]
    for index, env in enumerate(batch):
        env.reset(seed=index)
    spaces = {a: batch[0].action_space(a) for a in batch[0].possible_agents}
    start = time.perf_counter()
    for _ in range(ticks):
        for index, env in enumerate(batch):
            actions = {a: rng.integers(0, space.nvec) for a, space in spaces.items()}
            _, _, _, truncations, _ = env.step(actions)
            if any(truncations.values()):
                env.reset(seed=index)
    return envs * ticks / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--envs", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--steps", type=int, default=8192, help="env steps timed per measurement")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"{'n_envs':>7}{'envs steps/s':>15}{'batched steps/s':>18}{'learn steps/s':>16}")
    for envs in args.envs:
        ticks = max(1, args.steps // envs)
        trainer = MTMATrainer(args.scenario, 0, n_envs=envs, n_steps=max(1, 1024 // envs))
        separate = _parallel_envs(args.scenario, envs, ticks, trainer.env_options)
        start = time.perf_counter()
        trainer.collector.collect(trainer.actors, ticks, trainer.generator)
        batched = envs * ticks / (time.perf_counter() - start)
        trainer.learn(1024)  # warm up
        start = time.perf_counter()
        done = trainer.steps_done
        trainer.learn(args.steps)
        learn = (trainer.steps_done - done) / (time.perf_counter() - start)
        print(f"{envs:>7}{separate:>15,.0f}{batched:>18,.0f}{learn:>16,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
