"""Time the main job end to end: ``coord-bench run`` on default, official seeds.

    python benchmarks/harness.py [--workers 2] [--repeats 1] [--all]

Prints the wall time of each run, heuristics only (the target is 60 s on 2 cores) or with
``--all`` every built-in policy (the RL baselines from their committed checkpoints too), and of
each heuristic's evaluation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import coord_env
from baselines.reproduce import HEURISTICS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--all", action="store_true", help="every built-in policy, not only heuristics"
    )
    args = parser.parse_args(argv)
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            command = [
                sys.executable,
                "-m",
                "coord_env.cli",
                "run",
                "--quiet",
                "--workers",
                str(args.workers),
                "--out",
                out,
            ]
            if not args.all:
                command += ["--policies", *HEURISTICS]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            print(
                f"coord-bench run ({'all policies' if args.all else 'heuristics'}, workers={args.workers}), run {repeat + 1}: {time.perf_counter() - start:.1f} s"
            )
    for name in HEURISTICS:
        start = time.perf_counter()
        coord_env.evaluate(name, "default", workers=args.workers)
        print(
            f"  {name:<12} {len(coord_env.EVALUATION_SEEDS)} seeds: {time.perf_counter() - start:.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
