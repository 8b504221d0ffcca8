"""Environment throughput: steps per second with random actions (resets included) and reset time.

Measures every coord_env scenario and, on the same run, PettingZoo's ``mpe2`` ``simple_spread_v3``
parallel env as a reference made by another team (``pip install mpe2``; skipped if missing).

    python benchmarks/env_throughput.py [--seconds 5] [--scenarios tiny default ...]

Prints a Markdown table (the README's numbers come from it).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np

import coord_env


def steps_per_second(make_env: Callable[[], object], seconds: float, seed: int = 0) -> float:
    """Random-action steps per second over ``seconds`` of wall time, resets included."""
    env = make_env()
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)
    env.reset(seed=seed)
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            if not env.agents:
                env.reset()
            env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        steps += 100
        if time.perf_counter() >= deadline:
            break
    return steps / (time.perf_counter() - start)


def reset_milliseconds(make_env: Callable[[], object], repeats: int = 200) -> float:
    """Median wall time of ``reset(seed=...)`` in milliseconds."""
    env = make_env()
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        env.reset(seed=seed)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per env")
    parser.add_argument("--scenarios", nargs="*", default=coord_env.list_scenarios())
    args = parser.parse_args(argv)

    rows = []
    reference = None
    try:
        from mpe2 import simple_spread_v3

        reference = steps_per_second(simple_spread_v3.parallel_env, args.seconds)
        rows.append(("mpe2 simple_spread_v3 (reference)", reference, None))
    except ImportError:
        print("mpe2 not installed: no reference measurement (pip install mpe2)")
    for name in args.scenarios:

        def make(name: str = name) -> object:
            return coord_env.parallel_env(name)

        rows.append(
            (f"coord/{name}-v0", steps_per_second(make, args.seconds), reset_milliseconds(make))
        )

    print(
        f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {args.seconds:g} s per env\n"
    )
    print("| environment | steps/s | x simple_spread | reset (ms) |")
    print("|---|---:|---:|---:|")
    for label, rate, reset_ms in rows:
        ratio = f"{rate / reference:.2f}" if reference else "n/a"
        reset_text = f"{reset_ms:.3f}" if reset_ms is not None else ""
        print(f"| {label} | {rate:,.0f} | {ratio} | {reset_text} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
