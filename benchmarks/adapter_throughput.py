"""Adapter throughput: env-steps/s of each library's stock PettingZoo path and of our batched one.

Random actions, resets included, stepped as the library's own rollouts step (for TorchRL,
``step_and_maybe_reset``, what ``rollout`` and the collectors call). An env-step is one retailer
advancing one tick, so a batched step of B retailers counts B. Each library is one function
returning rows; add a function to ``LIBRARIES`` for another library.

    python benchmarks/adapter_throughput.py [--seconds 3] [--scenarios small default]
        [--batch-sizes 16 256] [--libraries torchrl benchmarl agilerl stable_baselines3]
        [--training-batch-sizes 16] [--shared-ppo-steps 50000] [--throughput-rollout]

By default every library of ``LIBRARIES`` that is installed. BenchMARL and AgileRL each need a venv
of their own (BenchMARL pins an older torchrl, AgileRL pettingzoo<1.27: docs/adapters.md), so run
the script once in each.

Prints a Markdown table (docs/adapters.md's numbers come from it). Training rows also give the
env-steps per second of the process's user CPU time, a figure less sensitive to other load on
the machine than the wall-clock rate.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import coord_env


@dataclass(frozen=True)
class Row:
    """One measured path: env-steps per second of ``path`` on ``scenario`` with B retailers."""

    library: str
    path: str
    scenario: str
    num_envs: int
    steps_per_second: float
    stock: bool  # the library's own PettingZoo path over the single env (the ratio's base)
    user_cpu_steps_per_second: float | None = None  # training rows: per second of user CPU


def torchrl_steps_per_second(env, seconds: float, seed: int = 0, pool: int = 16) -> float:
    """Env-steps/s of a TorchRL env under ``step_and_maybe_reset`` with random actions.

    The actions are drawn from the env's action spec before the clock starts (``pool`` of them,
    used in turn), so the time is the env's, not the sampler's.
    """
    import torch

    torch.manual_seed(seed)
    env.set_seed(seed)
    actions = [env.full_action_spec.rand() for _ in range(pool)]
    td = env.reset()
    batch = max(1, env.batch_size.numel())
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while steps < 3 or time.perf_counter() < deadline:
        td.update(actions[steps % pool])
        _, td = env.step_and_maybe_reset(td)
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def torchrl_rows(scenarios: list[str], batch_sizes: list[int], seconds: float) -> list[Row]:
    """TorchRL: PettingZooWrapper over the single env, the same in a SerialEnv of B copies (its
    stock batching; a ParallelEnv needs a process per copy, not measured on a shared 2-core
    machine), and ``coord_env.adapters.torchrl.RetailTorchRLEnv`` with and without infos."""
    import torch
    from torchrl.envs import SerialEnv
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    from coord_env.adapters.torchrl import RetailTorchRLEnv

    torch.set_num_threads(1)

    def wrapper(scenario: str) -> PettingZooWrapper:
        return PettingZooWrapper(coord_env.parallel_env(scenario), categorical_actions=True)

    rows = []
    with warnings.catch_warnings():  # "PettingZoo in TorchRL is tested using version == ..."
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL", category=UserWarning)
        for scenario in scenarios:
            rate = torchrl_steps_per_second(wrapper(scenario), seconds)
            rows.append(Row("TorchRL", "PettingZooWrapper", scenario, 1, rate, stock=True))
            for B in batch_sizes:
                serial = SerialEnv(B, lambda scenario=scenario: wrapper(scenario))
                rate = torchrl_steps_per_second(serial, seconds)
                serial.close()
                rows.append(
                    Row("TorchRL", "SerialEnv(PettingZooWrapper)", scenario, B, rate, False)
                )
                for info in (False, True):
                    env = RetailTorchRLEnv(scenario, B, return_info=info)
                    rate = torchrl_steps_per_second(env, seconds)
                    path = "RetailTorchRLEnv" + (" (return_info=True)" if info else "")
                    rows.append(Row("TorchRL", path, scenario, B, rate, stock=False))
    return rows


def benchmarl_rows(scenarios: list[str], batch_sizes: list[int], seconds: float) -> list[Row]:
    """BenchMARL: MAPPO's collection (its collector stepping the env under the MAPPO policy,
    ``continuous_actions=True``, ``reward_scale="auto"``, ``clip_actions=True``, the global state
    on) over B retailers, through BenchMARL's stock path for a non-batched env (a ``SerialEnv``
    of B ``PettingZooWrapper`` copies, full infos, as a task written over the wrapper gets) and
    through ``coord_env.adapters.benchmarl.CoordEnvTask`` (one ``RetailTorchRLEnv`` of batch B).
    Needs ``benchmarl`` (its own venv: docs/adapters.md)."""
    import gc
    import tempfile

    import torch
    from benchmarl.algorithms import MappoConfig
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models import MlpConfig
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    from coord_env.adapters.benchmarl import DEFAULT_CONFIG, CoordEnvTask, CoordEnvTaskClass

    torch.set_num_threads(1)

    class WrapperTask(CoordEnvTaskClass):
        """The same task over PettingZooWrapper(coord_env.parallel_env): BenchMARL batches it
        in a SerialEnv, as it does any env whose batch size is ()."""

        def get_env_fun(self, num_envs, continuous_actions, seed, device):
            options = {k: v for k, v in self.config.items() if k not in ("scenario", "infos")}
            return_state = options.pop("return_state")

            def make_env():
                env = PettingZooWrapper(
                    coord_env.parallel_env(
                        self.config["scenario"], continuous_actions=True, **options
                    ),
                    categorical_actions=True,
                    return_state=return_state,
                    device=device,
                )
                env.set_seed(seed)
                return env

            return make_env

        def max_steps(self, env):
            return coord_env.load_scenario(self.config["scenario"]).horizon

        def group_map(self, env):
            while not hasattr(env, "group_map") or callable(env.group_map):
                env = env.base_env
            return dict(env.group_map)

    # BenchMARL pickles the task into its folder: the class must be found by its module's name.
    WrapperTask.__qualname__ = WrapperTask.__name__
    globals()[WrapperTask.__name__] = WrapperTask

    def collection_rate(task, B: int, folder: str) -> float:
        torch.set_num_threads(1)  # as in torchrl_rows; a SerialEnv resets it to its own count
        config = ExperimentConfig.get_from_yaml()
        frames = 8 * B  # 8 ticks of B retailers per collector batch
        config.max_n_frames, config.max_n_iters = None, 10**6
        config.on_policy_collected_frames_per_batch = frames
        config.on_policy_n_envs_per_worker = B
        config.on_policy_minibatch_size = frames
        config.evaluation, config.render, config.loggers = False, False, []
        config.evaluation_episodes, config.create_json, config.save_folder = 1, False, folder
        experiment = Experiment(
            task=task,
            algorithm_config=MappoConfig.get_from_yaml(),
            model_config=MlpConfig.get_from_yaml(),
            critic_model_config=MlpConfig.get_from_yaml(),
            seed=0,
            config=config,
        )
        torch.set_num_threads(1)
        batches = iter(experiment.collector)
        next(batches)  # warm-up: the first reset and lazy initialisation
        total, start = 0, time.perf_counter()
        while total < 3 * frames or time.perf_counter() < start + seconds:
            total += next(batches).numel()
        rate = total / (time.perf_counter() - start)
        experiment.close()
        del experiment, batches
        gc.collect()  # a closed experiment's cycles otherwise slow the next row's collection
        return rate

    rows = []
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")  # BenchMARL's and TorchRL's version notices
        for scenario in scenarios:
            member = CoordEnvTask[scenario.upper()]
            config = {"scenario": scenario, **DEFAULT_CONFIG}
            for B in batch_sizes:
                rate = collection_rate(WrapperTask(member.name, config), B, folder)
                path = "MAPPO collection, SerialEnv(PettingZooWrapper)"
                rows.append(Row("BenchMARL", path, scenario, B, rate, stock=True))
                rate = collection_rate(member.get_task(), B, folder)
                path = "MAPPO collection, CoordEnvTask (RetailTorchRLEnv)"
                rows.append(Row("BenchMARL", path, scenario, B, rate, stock=False))
    return rows


def cycled_steps_per_second(step: Callable, actions: list, seconds: float, batch: int) -> float:
    """Env-steps/s of ``step`` called on ``actions`` in turn for ``seconds`` (at least 3 calls),
    each call advancing ``batch`` retailers one tick."""
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while steps < 3 or time.perf_counter() < deadline:
        step(actions[steps % len(actions)])
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def agilerl_steps_per_second(env, seconds: float, seed: int = 0, pool: int = 16) -> float:
    """Env-steps/s of an AgileRL ``PettingZooVecEnv`` under ``step`` with random actions (drawn
    from the MultiDiscrete action spaces before the clock starts, ``pool`` of them, used in turn);
    both paths reset on the step that ends the episodes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    actions = []
    for _ in range(pool):
        step = {}
        for agent in env.possible_agents:
            space = env.single_action_space(agent)  # MultiDiscrete
            step[agent] = rng.integers(0, space.nvec, size=(env.num_envs, *space.shape))
        actions.append(step)
    env.reset(seed=seed)
    return cycled_steps_per_second(env.step, actions, seconds, env.num_envs)


def agilerl_training_steps_per_second(env, horizon: int, seed: int = 0) -> float:
    """Env-steps/s of AgileRL's ``train_multi_agent_on_policy`` running IPPO on ``env``: one
    evolution step of two updates, each on one episode of every retailer (``learn_step`` =
    horizon x B), plus the trainer's own test episode; wall time of the whole call."""
    import torch
    from agilerl.algorithms import IPPO
    from agilerl.training.train_multi_agent_on_policy import train_multi_agent_on_policy

    torch.manual_seed(seed)
    agents = env.possible_agents
    learn_step = horizon * env.num_envs
    agent = IPPO(
        [env.single_observation_space(a) for a in agents],
        [env.single_action_space(a) for a in agents],
        agent_ids=agents,
        learn_step=learn_step,
        batch_size=min(learn_step, 1024),
    )
    env.reset(seed=seed)
    start = time.perf_counter()
    train_multi_agent_on_policy(
        env, "coord", "IPPO", [agent], max_steps=2 * learn_step, evo_steps=2 * learn_step,
        verbose=False,
    )  # fmt: skip
    return agent.steps / (time.perf_counter() - start)


def agilerl_rows(
    scenarios: list[str], batch_sizes: list[int], seconds: float, training: list[int] = ()
) -> list[Row]:
    """AgileRL: its stock ``make_multi_agent_vect_envs(coord_env.parallel_env, B)`` (one process
    per retailer) against ``coord_env.adapters.agilerl.RetailAgileRLVecEnv`` at the same B, with
    random actions; then IPPO training through AgileRL's own trainer on both at each B of
    ``training``. Stock rows are the ratio's base at their own B."""
    import torch
    from agilerl.utils.utils import make_multi_agent_vect_envs

    from coord_env.adapters.agilerl import RetailAgileRLVecEnv

    torch.set_num_threads(1)
    rows = []

    def stock(scenario: str, B: int):
        warm = coord_env.parallel_env(scenario)  # compile the kernel before the workers fork
        warm.reset(seed=0)
        warm.step({a: warm.action_space(a).sample() for a in warm.agents})
        return make_multi_agent_vect_envs(coord_env.parallel_env, B, scenario=scenario)

    def ours(scenario: str, B: int) -> RetailAgileRLVecEnv:
        return RetailAgileRLVecEnv(scenario, B)

    for scenario in scenarios:
        for B in batch_sizes:
            env = stock(scenario, B)
            try:
                rate = agilerl_steps_per_second(env, seconds)
            finally:
                env.close()
            rows.append(Row("AgileRL", "make_multi_agent_vect_envs", scenario, B, rate, True))
            rate = agilerl_steps_per_second(ours(scenario, B), seconds)
            rows.append(Row("AgileRL", "RetailAgileRLVecEnv", scenario, B, rate, stock=False))
        ticks = coord_env.load_scenario(scenario).num_ticks
        for B in training:
            env = stock(scenario, B)
            try:
                rate = agilerl_training_steps_per_second(env, ticks)
            finally:
                env.close()
            path = "IPPO training: make_multi_agent_vect_envs"
            rows.append(Row("AgileRL", path, scenario, B, rate, stock=True))
            rate = agilerl_training_steps_per_second(ours(scenario, B), ticks)
            rows.append(
                Row("AgileRL", "IPPO training: RetailAgileRLVecEnv", scenario, B, rate, False)
            )
    return rows


def sb3_steps_per_second(venv, seconds: float, seed: int = 0, pool: int = 16) -> float:
    """Env-steps/s of a shared-policy SB3 ``VecEnv`` (two rows per retailer) under ``step`` with
    random actions in [-1, 1] (``pool`` batches drawn before the clock starts, used in turn);
    both paths reset on the step that ends the episodes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = (venv.num_envs, *venv.action_space.shape)
    actions = [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for _ in range(pool)]
    venv.seed(seed)
    venv.reset()
    return cycled_steps_per_second(venv.step, actions, seconds, venv.num_envs // 2)


def shared_ppo_training_rates(
    scenario: str, n_envs: int, vec_env: str, steps: int, throughput_rollout: bool = False
) -> tuple:
    """Env-steps per wall second and per second of user CPU of ``shared_ppo`` training
    (``SharedPPOTrainer.learn(steps)``, one torch thread): its default PPO settings but
    ``n_envs`` and ``vec_env``, or with ``throughput_rollout`` the rollout and update shape of
    ``SB3_THROUGHPUT_ROLLOUT`` (its ``n_envs`` replaced). Building the trainer is not timed."""
    from baselines.rl.sb3.config import SB3_THROUGHPUT_ROLLOUT
    from baselines.rl.sb3.trainers import SharedPPOTrainer

    shape = dict(SB3_THROUGHPUT_ROLLOUT) if throughput_rollout else {}
    shape["n_envs"] = n_envs
    trainer = SharedPPOTrainer(scenario, 0, vec_env=vec_env, **shape)
    user, start = os.times().user, time.perf_counter()
    trainer.learn(steps)
    wall, user = time.perf_counter() - start, os.times().user - user
    return trainer.steps_done / wall, trainer.steps_done / user


def sb3_rows(
    scenarios: list[str],
    batch_sizes: list[int],
    seconds: float,
    training: list[int] = (),
    training_steps: int = 50_000,
    throughput_rollout: bool = False,
) -> list[Row]:
    """Stable-Baselines3, ``shared_ppo``'s two rollout envs: SuperSuit's per-env wrappers
    (``make_shared_vec_env(..., vec_env="supersuit")``, the stock path) against
    ``SharedAgentsBatchVecEnv`` over the vector env, stepped with random actions at each B; then
    ``shared_ppo`` training for ``training_steps`` env-steps on both at each B of ``training``
    (with ``throughput_rollout``, ``SB3_THROUGHPUT_ROLLOUT``'s shape)."""
    from baselines.rl.sb3.shared import make_shared_vec_env

    rows = []
    for scenario in scenarios:
        for B in batch_sizes:
            for vec_env in ("supersuit", "batched"):
                venv = make_shared_vec_env(scenario, B, vec_env=vec_env)
                rate = sb3_steps_per_second(venv, seconds)
                rows.append(
                    Row("SB3", f"shared rows: {vec_env}", scenario, B, rate, vec_env == "supersuit")
                )
        for B in training:
            for vec_env in ("supersuit", "batched"):
                wall, cpu = shared_ppo_training_rates(
                    scenario, B, vec_env, training_steps, throughput_rollout
                )
                shape = ", SB3_THROUGHPUT_ROLLOUT" if throughput_rollout else ""
                path = f"shared_ppo training{shape}: {vec_env}"
                rows.append(Row("SB3", path, scenario, B, wall, vec_env == "supersuit", cpu))
    return rows


LIBRARIES: dict[str, Callable[..., list[Row]]] = {
    "torchrl": torchrl_rows,
    "benchmarl": benchmarl_rows,  # needs its own venv (BenchMARL pins an older torchrl)
    "agilerl": agilerl_rows,  # needs its own venv (AgileRL pins pettingzoo<1.27)
    "stable_baselines3": sb3_rows,
}


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table, each with its ratio to its library's stock path: the stock
    row of the same kind (training or stepping) and B if there is one, else the first stock row
    of that library and scenario (TorchRL's wrapper over one env)."""
    stock: dict[tuple, float] = {}
    for r in rows:
        if r.stock:
            kind = r.path.partition(":")[0] if ":" in r.path else ""
            stock.setdefault((r.library, r.scenario, kind, r.num_envs), r.steps_per_second)
            stock.setdefault((r.library, r.scenario), r.steps_per_second)
    lines = [
        "| library | path | scenario | B | env-steps/s | vs stock | per user-CPU s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        kind = r.path.partition(":")[0] if ":" in r.path else ""
        base = stock.get(
            (r.library, r.scenario, kind, r.num_envs), stock.get((r.library, r.scenario))
        )
        ratio = f"{r.steps_per_second / base:.1f}x" if base else "n/a"
        cpu = "" if r.user_cpu_steps_per_second is None else f"{r.user_cpu_steps_per_second:,.0f}"
        lines.append(
            f"| {r.library} | {r.path} | {r.scenario} | {r.num_envs} | "
            f"{r.steps_per_second:,.0f} | {ratio} | {cpu} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per row")
    parser.add_argument("--scenarios", nargs="+", default=["small", "default"])
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[16, 256])
    parser.add_argument(
        "--libraries", nargs="+", default=None, choices=LIBRARIES, help="default: the installed"
    )
    parser.add_argument(
        "--training-batch-sizes",
        nargs="*",
        type=int,
        default=[16],
        help="AgileRL and SB3: B of the training rows (none: skip them)",
    )
    parser.add_argument(
        "--shared-ppo-steps",
        type=int,
        default=50_000,
        help="SB3: env-steps of each shared_ppo training row",
    )
    parser.add_argument(
        "--throughput-rollout",
        action="store_true",
        help="SB3: shared_ppo trains with SB3_THROUGHPUT_ROLLOUT's rollout and update shape",
    )
    args = parser.parse_args(argv)
    if args.libraries is None:  # each library's key is its module's name
        args.libraries = [name for name in LIBRARIES if importlib.util.find_spec(name)]
        for name in sorted(set(LIBRARIES) - set(args.libraries)):
            print(
                f"{name}: not installed, no rows (pass --libraries to require it)", file=sys.stderr
            )
    rows = []
    for library in args.libraries:
        if library == "agilerl":
            rows += agilerl_rows(
                args.scenarios, args.batch_sizes, args.seconds, args.training_batch_sizes
            )
        elif library == "stable_baselines3":
            rows += sb3_rows(
                args.scenarios,
                args.batch_sizes,
                args.seconds,
                args.training_batch_sizes,
                args.shared_ppo_steps,
                args.throughput_rollout,
            )
        else:
            rows += LIBRARIES[library](args.scenarios, args.batch_sizes, args.seconds)
    machine = platform.processor() or platform.machine()
    print(f"{machine}, Python {platform.python_version()}, {args.seconds:g} s per row\n")
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
