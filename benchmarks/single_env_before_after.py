"""Single-env throughput of two checkouts and mpe2's simple_spread, measured in turns.

On a shared machine, runs minutes apart are not comparable; this runs one worker process per
(checkout, scenario) plus one for ``simple_spread_v3`` and gives each, round after round, the same
short slice of wall time with ``benchmarks/env_throughput.py``'s loop (random actions sampled from
the spaces every step, resets included). It prints medians over rounds of steps/s, of the ratio to
simple_spread in the same round, and of after / before in the same round.

    python benchmarks/single_env_before_after.py --before /path/to/old/checkout \\
        [--after .] [--scenarios small default] [--rounds 20] [--seconds 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def _worker(kind: str) -> None:
    """Measure one env on request: read seconds from stdin, print steps/s."""
    spec = importlib.util.spec_from_file_location(
        "env_throughput", HERE.with_name("env_throughput.py")
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    if kind == "simple_spread":
        from mpe2 import simple_spread_v3

        make = simple_spread_v3.parallel_env
    else:
        import coord_env

        def make() -> object:
            return coord_env.parallel_env(kind)

    bench.steps_per_second(make, 0.5)  # warm up: compiled code, caches
    print("ready", flush=True)
    for line in sys.stdin:
        print(bench.steps_per_second(make, float(line)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout (PYTHONPATH) of the old code")
    parser.add_argument("--after", default=".", help="checkout of the new code")
    parser.add_argument("--scenarios", nargs="*", default=["small", "default"])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0, help="slice per worker and round")
    args = parser.parse_args(argv)

    workers: dict[str, subprocess.Popen] = {}

    def start(label: str, checkout: str, kind: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(checkout).resolve()))
        process = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker {label} failed to start")
        workers[label] = process

    start("simple_spread", args.after, "simple_spread")
    for name in args.scenarios:
        start(f"before {name}", args.before, name)
        start(f"after {name}", args.after, name)
    rates: dict[str, list[float]] = {label: [] for label in workers}
    for _ in range(args.rounds):
        for label, process in workers.items():
            process.stdin.write(f"{args.seconds}\n")
            process.stdin.flush()
            rates[label].append(float(process.stdout.readline()))
    for process in workers.values():
        process.stdin.close()
        process.wait()

    reference = rates["simple_spread"]
    print(f"{args.rounds} rounds of {args.seconds:g} s per env; medians over rounds\n")
    print("| env | steps/s | x simple_spread |")
    print("|---|---:|---:|")
    for label, values in rates.items():
        ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
        print(f"| {label} | {statistics.median(values):,.0f} | {ratio:.2f} |")
    print()
    for name in args.scenarios:
        pairs = zip(rates[f"after {name}"], rates[f"before {name}"], strict=True)
        print(
            f"{name}: after / before, median per round {statistics.median(a / b for a, b in pairs):.2f}"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(sys.argv[2])
    else:
        raise SystemExit(main())
