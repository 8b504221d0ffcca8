"""Environment throughput: steps per second with random actions (resets included) and reset time.

Measures every coord_env scenario and, on the same run, PettingZoo's ``mpe2`` ``simple_spread_v3``
parallel env as a reference made by another team (``pip install mpe2``; skipped if missing); then
the vector env (``coord_env.vector_env``) at several batch sizes, in env-steps/s (retailer-ticks)
and product-steps/s (retailer-ticks times products).

    python benchmarks/env_throughput.py [--seconds 5] [--scenarios tiny default ...]
        [--batch-sizes 1 64 256 1024]

Prints Markdown tables (the README's numbers come from them): the single envs, the vector env
with each figure as a fraction of the exact-sampling floor (the first-choice Poisson draws alone,
per scenario and batch size: no step can be faster), that floor, and the start-up time of a fresh
process up to its first step, with an empty numba cache (cold: the kernel compiles) and with the
cache it left (warm). Run it with ``PYTHONPATH`` on another checkout for a before/after table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
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


def vector_steps_per_second(name: str, num_envs: int, seconds: float, seed: int = 0) -> float:
    """Env-steps per second (retailer-ticks) of the vector env, random actions, autoresets included.

    The actions are drawn beforehand (a pool of 16 batches, cycled), so the time is the env's.
    """
    envs = coord_env.vector_env(name, num_envs)
    for agent in envs.possible_agents:
        envs.action_space(agent).seed(seed)
    pool = [{a: envs.action_space(a).sample() for a in envs.possible_agents} for _ in range(16)]
    envs.reset(seed=seed)
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for actions in pool:
            envs.step(actions)
        steps += len(pool)
        if time.perf_counter() >= deadline:
            break
    return steps * num_envs / (time.perf_counter() - start)


def sampling_floor(name: str, num_envs: int, repeats: int = 20) -> tuple[float, float]:
    """The first-choice draws alone: their time per tick (ms) and the env-steps/s they allow.

    One tick draws a Poisson count per (retailer, segment, product) cell and per (retailer,
    segment) walk-away at the scenario's mean rates (``coord_env.core.step``'s batched path).
    No step can be faster than this, whatever else is optimized: the exact-sampling floor.
    """
    s = coord_env.load_scenario(name)
    cells = s.num_segments * (s.num_products + 1)
    rates = np.full((num_envs, cells), float(s.tick_total_arrival_rate.mean()) / cells)
    rng = np.random.default_rng(0)
    rng.poisson(rates)
    start = time.perf_counter()
    for _ in range(repeats):
        rng.poisson(rates)
    seconds = (time.perf_counter() - start) / repeats
    return 1000 * seconds, num_envs / seconds


_START = """
import time
start = time.perf_counter()
import coord_env
env = coord_env.parallel_env({name!r})
env.reset(seed=0)
env.step({{agent: env.action_space(agent).sample() for agent in env.agents}})
print(time.perf_counter() - start)
"""


def start_seconds(name: str = "default") -> tuple[float, float]:
    """Wall time of a fresh process from start to its first step: empty numba cache, then warm.

    The cold run compiles the kernel into a new, empty ``NUMBA_CACHE_DIR``; the warm run is the
    same command with the cache the cold run left. Both include the interpreter's own start.
    """
    times = []
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for _ in range(2):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", _START.format(name=name)],
                env=environment,
                cwd=cache,  # not the working folder: ``python -c`` would import from it first
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return times[0], times[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per env")
    parser.add_argument("--scenarios", nargs="*", default=coord_env.list_scenarios())
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 64, 256, 1024])
    parser.add_argument(
        "--no-start", action="store_true", help="skip the cold and warm start measurement"
    )
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

    if not args.batch_sizes:
        return 0
    floors = {
        (name, num_envs): sampling_floor(name, num_envs)
        for name in args.scenarios
        for num_envs in args.batch_sizes
    }
    print(
        "\nVector env (`coord_env.vector_env`), env-steps/s (x simple_spread; fraction of the"
        " exact-sampling floor), reset (ms):\n"
    )
    print("| scenario | N | " + " | ".join(f"B={b}" for b in args.batch_sizes) + " |")
    print("|---|---:|" + "---:|" * len(args.batch_sizes))
    for name in args.scenarios:
        products = coord_env.load_scenario(name).num_products
        cells = []
        for num_envs in args.batch_sizes:
            rate = vector_steps_per_second(name, num_envs, args.seconds)
            reset_ms = reset_milliseconds(
                lambda name=name, num_envs=num_envs: coord_env.vector_env(name, num_envs),
                repeats=5,
            )
            ratio = f"{rate / reference:.1f}x, " if reference else ""
            floor = rate / floors[name, num_envs][1]
            cells.append(f"{rate:,.0f} ({ratio}{floor:.0%}), {reset_ms:.2f} ms")
        print(f"| {name} | {products} | " + " | ".join(cells) + " |", flush=True)
    print(
        "\nThe exact-sampling floor: one Poisson draw per (retailer, segment, product) cell and"
        " per walk-away, alone, at the scenario's mean rates (ms per tick; env-steps/s at most):\n"
    )
    print("| scenario | " + " | ".join(f"B={b}" for b in args.batch_sizes) + " |")
    print("|---|" + "---:|" * len(args.batch_sizes))
    for name in args.scenarios:
        cells = []
        for num_envs in args.batch_sizes:
            milliseconds, floor = floors[name, num_envs]
            cells.append(f"{milliseconds:.2f} ms, {floor:,.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if not args.no_start:
        cold, warm = start_seconds()
        print(
            "\nStart-up, a fresh process up to its first step on `default` (interpreter start"
            f" included): cold (empty numba cache) {cold:.1f} s, warm {warm:.1f} s"
        )
    if reference:
        print(f"\nmpe2 simple_spread_v3 in the same run: {reference:,.0f} steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
