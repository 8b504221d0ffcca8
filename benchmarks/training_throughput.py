"""Training throughput: end-to-end ``learn`` env steps per second, collection plus updates.

    python benchmarks/training_throughput.py [--scenario default] [--steps 16384] [--threads 1 2]

Prints two Markdown tables (docs/training.md and the README quote them):

- MTMA (``MTMATrainer.learn``) with its presets' rollout (4 envs x 256 steps, 10 epochs of
  minibatch 256) and with ``THROUGHPUT_ROLLOUT`` (128 x 32, 4 epochs of 2,048), the shape the
  million-step budgets train with, at each torch thread count;
- ``centralized`` (SB3 PPO on the joint view) collecting with a ``DummyVecEnv`` of
  ``JointView`` objects (one Python env step per rollout env and tick, as it trained before) and
  with :class:`~coord_env.adapters.sb3.JointVecEnv` (one vector-env call per tick), at its default
  rollout and at the wide one;
- ``siloed_rl`` (two departmental SB3 PPOs in turn, :class:`~coord_env.adapters.sb3.AgentVecEnv`: one
  vector-env call and one batched partner forward pass per tick) at both rollouts.

Each measurement first runs one warm-up ``learn`` of a rollout, then times ``--steps`` more.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.rl.mtma.config import THROUGHPUT_ROLLOUT
from baselines.rl.mtma.trainer import MTMATrainer
from baselines.rl.sb3 import (
    SB3_THROUGHPUT_ROLLOUT,
    CentralizedTrainer,
    PPOConfig,
    SiloedRLTrainer,
)
from baselines.rl.views import JointView
from coord_env.scenarios import load_scenario


def _timed(learn, steps_done, steps: int, warm_up: int) -> float:
    """Env steps per second of ``learn(steps)`` after one ``learn(warm_up)``."""
    learn(warm_up)
    start, done = time.perf_counter(), steps_done()
    learn(steps)
    return (steps_done() - done) / (time.perf_counter() - start)


def mtma_rate(scenario: str, rollout: dict, steps: int) -> float:
    """``MTMATrainer.learn`` env steps/s with the ``mtma`` preset and ``rollout`` overrides."""
    trainer = MTMATrainer(scenario, 0, **rollout)
    warm_up = trainer.config.n_envs * trainer.config.n_steps
    return _timed(trainer.learn, lambda: trainer.steps_done, steps, warm_up)


def centralized_rate(scenario: str, config: dict, steps: int, batched: bool) -> float:
    """SB3 PPO on the joint view: JointVecEnv (batched) or a DummyVecEnv of JointViews."""
    ppo_config = PPOConfig(**config, torch_threads=None)
    warm_up = ppo_config.n_envs * ppo_config.n_steps
    if batched:
        trainer = CentralizedTrainer(scenario, 0, **config, torch_threads=None)
        return _timed(trainer.learn, lambda: trainer.steps_done, steps, warm_up)
    s = load_scenario(scenario)

    def make_view() -> Monitor:
        return Monitor(JointView(s, None, **ppo_config.env_options()))

    venv = DummyVecEnv([make_view] * ppo_config.n_envs)
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", verbose=0, **ppo_config.ppo_kwargs())

    def learn(count: int) -> None:
        model.learn(total_timesteps=count, reset_num_timesteps=False)

    return _timed(learn, lambda: model.num_timesteps, steps, warm_up)


def departmental_rate(scenario: str, config: dict, steps: int) -> float:
    """``SiloedRLTrainer.learn`` env steps/s (both learners, in turn) on AgentVecEnv."""
    trainer = SiloedRLTrainer(scenario, 0, **config, torch_threads=None)
    warm_up = trainer.config.n_envs * trainer.config.n_steps
    return _timed(trainer.learn, lambda: trainer.steps_done, steps, warm_up)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--steps", type=int, default=16384, help="env steps timed per cell")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    print(f"{platform.machine()}, torch {torch.__version__}, scenario {args.scenario}\n")
    print("MTMA `learn`, env steps/s:\n")
    print("| rollout | " + " | ".join(f"{n} torch thread(s)" for n in args.threads) + " |")
    print("|---|" + "---:|" * len(args.threads))
    for label, rollout in (
        ("presets: 4 x 256, 10 epochs x 256", {}),
        ("THROUGHPUT_ROLLOUT: 128 x 32, 4 epochs x 2,048", THROUGHPUT_ROLLOUT),
    ):
        rates = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            rates.append(mtma_rate(args.scenario, rollout, args.steps))
        print(f"| {label} | " + " | ".join(f"{rate:,.0f}" for rate in rates) + " |")
    print("\n`centralized` (SB3 PPO) `learn`, env steps/s, one torch thread:\n")
    print("| rollout | DummyVecEnv of JointViews | JointVecEnv |")
    print("|---|---:|---:|")
    torch.set_num_threads(1)
    for label, config in (
        ("default: 16 x 128, 5 epochs x 256", {}),
        ("SB3_THROUGHPUT_ROLLOUT: 128 x 32, 4 epochs x 2,048", SB3_THROUGHPUT_ROLLOUT),
    ):
        before = centralized_rate(args.scenario, config, args.steps, batched=False)
        after = centralized_rate(args.scenario, config, args.steps, batched=True)
        print(f"| {label} | {before:,.0f} | {after:,.0f} |")
    print("\n`siloed_rl` (two SB3 PPOs in turn) `learn` on AgentVecEnv, env steps/s, one thread:\n")
    print("| rollout | AgentVecEnv |")
    print("|---|---:|")
    for label, config in (
        ("default: 16 x 128, 5 epochs x 256", {}),
        ("SB3_THROUGHPUT_ROLLOUT: 128 x 32, 4 epochs x 2,048", SB3_THROUGHPUT_ROLLOUT),
    ):
        print(f"| {label} | {departmental_rate(args.scenario, config, args.steps):,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
