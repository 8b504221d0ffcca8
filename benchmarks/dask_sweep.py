"""Time a small training sweep and an evaluation: serial against a loopback Dask cluster.

    python benchmarks/dask_sweep.py [--name mtma] [--scenario small] [--steps 6000] [--seeds 0 1 2 3]
                                    [--workers 2] [--eval-policy coordinated]

Trains ``--name`` on every seed in this process, then on ``--scheduler local`` with ``--workers``
processes (cluster start-up included), and says whether every checkpoint file matches byte for
byte (the manifests differ only in their measured wall time). Then evaluates ``--eval-policy`` on
the 30 official seeds of the scenario both ways and says whether the documents are equal.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import coord_env
from baselines.rl.training import TrainingRun, train_runs
from coord_env.checkpoint import read_manifest


def _digests(paths: list[Path]) -> list[dict[str, str]]:
    """Each checkpoint's file checksums, as its manifest lists them (verified on reading)."""
    return [read_manifest(path)["files"] for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="mtma")
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--eval-policy", default="coordinated")
    args = parser.parse_args(argv)
    timings, digests = {}, {}
    with tempfile.TemporaryDirectory() as root:
        for engine, scheduler in (("serial", None), ("dask", "local")):
            runs = [
                TrainingRun(
                    args.name,
                    args.scenario,
                    args.steps,
                    seed,
                    str(Path(root, engine, f"seed{seed}")),
                    command="benchmark",
                )
                for seed in args.seeds
            ]
            started = time.perf_counter()
            paths = train_runs(runs, scheduler=scheduler, workers=args.workers, progress=False)
            timings[engine] = time.perf_counter() - started
            digests[engine] = _digests(paths)
    print(
        f"train {args.name} on {args.scenario}, {len(args.seeds)} seeds x {args.steps:,} steps: "
        f"serial {timings['serial']:.1f} s, Dask local {args.workers} workers "
        f"{timings['dask']:.1f} s (x{timings['serial'] / timings['dask']:.2f}); checkpoints "
        f"identical: {digests['serial'] == digests['dask']}"
    )
    documents = {}
    for engine, scheduler in (("serial", None), ("dask", "local")):
        started = time.perf_counter()
        documents[engine] = coord_env.evaluate(
            args.eval_policy, args.scenario, scheduler=scheduler, workers=args.workers
        )
        timings[engine] = time.perf_counter() - started
    print(
        f"evaluate {args.eval_policy} on {args.scenario}, 30 official seeds: serial "
        f"{timings['serial']:.1f} s, Dask local {args.workers} workers {timings['dask']:.1f} s "
        f"(x{timings['serial'] / timings['dask']:.2f}); documents identical: "
        f"{documents['serial'] == documents['dask']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
