"""Adapter throughput: env-steps/s of each library's stock PettingZoo path and of our batched one.

Random actions, resets included, stepped as the library's own rollouts step (for TorchRL,
``step_and_maybe_reset``, what ``rollout`` and the collectors call). An env-step is one retailer
advancing one tick, so a batched step of B retailers counts B. Each library is one function
returning rows; add a function to ``LIBRARIES`` for another library.

    python benchmarks/adapter_throughput.py [--seconds 3] [--scenarios small default]
        [--batch-sizes 16 256] [--libraries torchrl]

Prints a Markdown table (docs/adapters.md's numbers come from it).
"""

from __future__ import annotations

import argparse
import platform
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


LIBRARIES: dict[str, Callable[[list[str], list[int], float], list[Row]]] = {
    "torchrl": torchrl_rows,
}


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table, each with its ratio to its library's stock path."""
    stock = {(r.library, r.scenario): r.steps_per_second for r in rows if r.stock}
    lines = [
        "| library | path | scenario | B | env-steps/s | vs stock |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        base = stock.get((r.library, r.scenario))
        ratio = f"{r.steps_per_second / base:.1f}x" if base else "n/a"
        lines.append(
            f"| {r.library} | {r.path} | {r.scenario} | {r.num_envs} | "
            f"{r.steps_per_second:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per row")
    parser.add_argument("--scenarios", nargs="+", default=["small", "default"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 256])
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    args = parser.parse_args(argv)
    rows = []
    for library in args.libraries:
        rows += LIBRARIES[library](args.scenarios, args.batch_sizes, args.seconds)
    machine = platform.processor() or platform.machine()
    print(f"{machine}, Python {platform.python_version()}, {args.seconds:g} s per row\n")
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
