"""The baselines' ``coord-bench`` subcommands, ``train``, ``tune`` and ``reproduce``, added by plug-in.

``pyproject.toml`` names :func:`add_commands` in the entry-point group ``coord_env.commands``: the
commands live with the code they drive, and coord_env's command line stays free of baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from baselines.rl.names import RL_BASELINES
from coord_env.checkpoint import MANIFEST
from coord_env.distributed import add_scheduler_argument

__all__ = ["add_commands"]


def _train(args: argparse.Namespace) -> int:
    """Train one RL baseline; the checkpoint plugs into evaluate as --policy OUT/checkpoint."""
    from baselines.rl.training import train

    config = {}
    for item in args.config or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"coord-bench train: --config takes key=value; got {item!r}", file=sys.stderr)
            return 2
        try:
            config[key] = json.loads(value)  # numbers, true/false, lists
        except json.JSONDecodeError:
            config[key] = value  # plain words, e.g. memory=gru
    runs = [(name, seed) for name in args.names for seed in args.seeds]
    if len(runs) != len(set(runs)):
        print("coord-bench train: a baseline or seed is given twice", file=sys.stderr)
        return 2
    if len(runs) > 1 or args.scheduler:
        return _sweep(args, runs, config)
    name, seed = runs[0]
    out = Path(args.out or f"runs/{name}_{args.scenario}_seed{seed}")
    try:
        checkpoint = train(
            name,
            args.scenario,
            args.steps,
            seed,
            out,
            eval_every=args.eval_every,
            resume=args.resume,
            progress=not args.quiet,
            command="coord-bench " + " ".join(args.argv),
            config=config,
        )
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"coord-bench train: {message}", file=sys.stderr)
        return 2
    _report_budget(checkpoint)
    print(
        f"wrote {checkpoint} (evaluate it with: coord-bench evaluate --policy {checkpoint} "
        f"--scenario {args.scenario} --out results.json)"
    )
    return 0


def _report_budget(checkpoint: Path) -> None:
    """Say when the steps trained differ from the budget asked (PPO trains whole rollouts); the
    manifest records both, as ``budget`` and ``steps``."""
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    if manifest["steps"] != manifest["budget"]:
        print(
            f"{checkpoint}: trained {manifest['steps']:,} steps, not the {manifest['budget']:,} "
            "asked (training runs whole rollouts); the manifest records both (steps, budget)"
        )


def _sweep(args: argparse.Namespace, runs: list[tuple[str, int]], config: dict) -> int:
    """Several runs (or one on a cluster): each to its own folder, finished ones skipped."""
    from baselines.rl.training import TrainingRun, train_runs

    parent = Path(args.out or "runs")
    jobs = [
        TrainingRun(
            name,
            args.scenario,
            args.steps,
            seed,
            str(parent / f"{name}_{args.scenario}_seed{seed}"),
            eval_every=args.eval_every,
            command=f"coord-bench train {name} --scenario {args.scenario} --steps {args.steps} "
            f"--seed {seed}"
            + (f" --eval-every {args.eval_every}" if args.eval_every else "")
            + (" --config " + " ".join(args.config) if args.config else ""),
            config=config,
        )
        for name, seed in runs
    ]
    try:
        checkpoints = train_runs(
            jobs, scheduler=args.scheduler, workers=args.workers, progress=not args.quiet
        )
    except (KeyError, ValueError, ImportError) as error:  # ImportError: no dask extra
        message = error.args[0] if error.args else str(error)
        print(f"coord-bench train: {message}", file=sys.stderr)
        return 2
    for checkpoint in checkpoints:
        _report_budget(checkpoint)
        print(f"wrote {checkpoint}")
    print(
        f"evaluate one with: coord-bench evaluate --policy {checkpoints[0]} "
        f"--scenario {args.scenario} --out results.json"
    )
    return 0


def _parse_config(items: Sequence[str] | None, command: str) -> dict | None:
    """``key=value`` words as a dict (values parsed as JSON when they are); None on a bad word."""
    config = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"coord-bench {command}: --fix takes key=value; got {item!r}", file=sys.stderr)
            return None
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


class _NamesOrNone(tuple):
    """Choices for an optional list of names: argparse (before Python 3.12.7) checks the empty
    list of ``nargs="*"`` against the choices, so the empty list must be one of them."""

    def __contains__(self, item: object) -> bool:
        return item == [] or tuple.__contains__(self, item)


def _tune(args: argparse.Namespace) -> int:
    """Run or resume an Optuna study; print its summary and write the best settings."""
    from baselines.settings import TUNED_SETTINGS
    from baselines.tune import describe_spaces, describe_studies, tune

    if args.show_space:
        print(describe_spaces(args.names or None), end="")
        return 0
    if args.summary:
        print(describe_studies(args.settings or TUNED_SETTINGS), end="")
        return 0
    if len(args.names) != 1 or args.trials is None or args.steps is None:
        print("coord-bench tune: give one NAME, --trials and --steps", file=sys.stderr)
        return 2
    fixed = _parse_config(args.fix, "tune")
    if fixed is None:
        return 2
    try:
        summary = tune(
            args.names[0],
            args.scenario,
            args.trials,
            args.steps,
            args.study_dir,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            fixed=fixed,
            pruner_startup=args.pruner_startup,
            settings=None if args.no_settings else (args.settings or TUNED_SETTINGS),
            progress=None if args.quiet else print,
        )
    except (KeyError, ValueError, ImportError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"coord-bench tune: {message}", file=sys.stderr)
        return 2
    states = [row["state"] for row in summary["trials"]]
    print(
        f"{summary['baseline']} on {summary['scenario']}: {len(states)} trials "
        f"({states.count('complete')} complete, {states.count('pruned')} pruned), "
        f"{summary['compute_seconds']:,.0f} s of trials"
    )
    if summary["best"] is not None:
        print(
            f"best: trial {summary['best']['number']}, validation profit "
            f"{summary['best']['value']:,.1f}, settings {json.dumps(summary['config'])}"
        )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """docs/results.md and its figures, from the committed checkpoints or retrained."""
    from baselines.reproduce import HEADLINE_SCENARIOS, reproduce
    from coord_env.cli import output_folder

    output_folder(Path(args.out).parent, Path(args.out).name)  # before hours of work
    if args.convergence_runs:
        from baselines.protocol_report import CONVERGENCE, collect_convergence_runs

        try:
            collected = collect_convergence_runs(
                args.convergence_runs, workers=args.workers, progress=not args.quiet
            )
        except ValueError as error:
            print(f"coord-bench reproduce: {error}", file=sys.stderr)
            return 2
        print(f"collected {', '.join(collected)} into {CONVERGENCE}")
    page = reproduce(
        args.out,
        args.scenarios or HEADLINE_SCENARIOS,  # default: baselines/settings/training.json's
        retrain_models=args.retrain,
        num_seeds=args.num_seeds,
        workers=args.workers,
        runs=args.runs,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    print(f"wrote {page} and its figures")
    return 0


def add_commands(commands: argparse._SubParsersAction, scenario_names: Sequence[str]) -> None:
    """Add ``train``, ``tune`` and ``reproduce`` to coord-bench's subcommands."""
    training = commands.add_parser(
        "train", help="train an RL baseline: progress bar, logs, held-out evaluation, checkpoints"
    )
    training.add_argument(
        "names",
        nargs="+",
        choices=RL_BASELINES,
        metavar="NAME",
        help=", ".join(RL_BASELINES) + "; several names train one run each",
    )
    training.add_argument("--scenario", default="default", choices=scenario_names)
    training.add_argument("--steps", type=int, required=True, help="budget in environment steps")
    training.add_argument(
        "--seed",
        "--seeds",
        dest="seeds",
        type=int,
        nargs="+",
        default=[0],
        help="training seeds in [0, 1000000); several seeds train one run each",
    )
    training.add_argument(
        "--out",
        help="run folder (default: runs/NAME_SCENARIO_seedK); for several runs or --scheduler, "
        "the parent of their folders NAME_SCENARIO_seedK (default: runs)",
    )
    training.add_argument(
        "--eval-every", type=int, default=0, help="steps between evaluations (0: 10 per run)"
    )
    training.add_argument("--resume", action="store_true", help="continue OUT/checkpoint")
    training.add_argument(
        "--config", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. n_envs=4"
    )
    training.add_argument(
        "--workers",
        type=int,
        default=0,
        help="several runs: worker processes (0: one run at a time here); with --scheduler "
        "local: the cluster's workers (0: one per CPU core)",
    )
    add_scheduler_argument(training, "runs")
    training.add_argument("--quiet", action="store_true")
    training.set_defaults(handler=_train)

    tuning = commands.add_parser(
        "tune", help="an Optuna study of an RL baseline's hyperparameters (docs/training.md)"
    )
    from baselines.tune import PRUNER_STARTUP_TRIALS

    tuning.add_argument(
        "names",
        nargs="*",
        choices=_NamesOrNone(RL_BASELINES),
        metavar="NAME",
        help=", ".join(RL_BASELINES)
        + " (several or none only with --show-space, none with --summary)",
    )
    tuning.add_argument("--scenario", default="default", choices=scenario_names)
    tuning.add_argument("--trials", type=int, help="the study's total trials")
    tuning.add_argument("--steps", type=int, help="each trial's budget in environment steps")
    tuning.add_argument("--study-dir", default="studies", help="journal file and trial folders")
    tuning.add_argument("--seed", type=int, default=0, help="sampler seed and training seed")
    tuning.add_argument(
        "--workers",
        type=int,
        default=0,
        help="trials at a time (0: one, in this process); with --scheduler local: the workers",
    )
    tuning.add_argument(
        "--fix", nargs="*", metavar="KEY=VALUE", help="hold search-space parameters fixed"
    )
    tuning.add_argument(
        "--pruner-startup",
        type=int,
        default=PRUNER_STARTUP_TRIALS,
        help="finished trials before the median pruner prunes",
    )
    tuning.add_argument(
        "--settings", help="settings file to write the best trial into (default: the package's)"
    )
    tuning.add_argument("--no-settings", action="store_true", help="write no settings file")
    tuning.add_argument(
        "--summary",
        action="store_true",
        help="print the studies of the settings file (--settings) as a Markdown table and exit",
    )
    tuning.add_argument(
        "--show-space", action="store_true", help="print the search spaces as Markdown and exit"
    )
    add_scheduler_argument(tuning, "trials")
    tuning.add_argument("--quiet", action="store_true")
    tuning.set_defaults(handler=_tune)

    again = commands.add_parser(
        "reproduce", help="write docs/results.md: every baseline, learning curves, claims, insights"
    )
    again.add_argument("--out", default="docs/results.md")
    again.add_argument(
        "--scenarios", nargs="+", choices=scenario_names, help="default: the headline scenarios"
    )
    again.add_argument(
        "--retrain", action="store_true", help="retrain every RL baseline and seed first (hours)"
    )
    again.add_argument("--runs", default="runs", help="run folders for --retrain")
    again.add_argument(
        "--convergence-runs",
        metavar="DIR",
        help="first commit the finished tiny runs in DIR (logs, official-seed profits) to "
        "baselines/checkpoints/tiny/convergence/",
    )
    again.add_argument("--num-seeds", type=int, default=0, help="first N official seeds (0: all)")
    again.add_argument("--workers", type=int, default=2)
    add_scheduler_argument(again, "retraining runs and evaluation episodes")
    again.add_argument("--quiet", action="store_true")
    again.set_defaults(handler=_reproduce)
