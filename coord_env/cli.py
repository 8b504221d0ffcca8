"""coord-bench: the command line. It parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import coord_env
from coord_env.harness import EVALUATION_SEEDS, evaluate, resolve_policy, run_episode
from coord_env.harness.evaluate import policy_supports
from coord_env.harness.stats import relative_change

__all__ = ["main"]

TABLE_METRICS = (
    "fill_rate",
    "oos_impression_share",
    "exposure_stock_rank_correlation",
    "days_of_supply",
)


def _format_table(results: list[dict[str, Any]]) -> str:
    """Profit mean and 95% CI, normalized score and key coordination metrics, one row per policy."""
    width = max([22, *(len(r["policy"]) + 2 for r in results)])
    header = f"{'policy':<{width}}{'profit':>14}{'95% CI':>30}{'IQM':>14}{'norm.':>10}" + "".join(
        f"{name[:14]:>16}" for name in TABLE_METRICS
    )
    lines = [header, "-" * len(header)]
    for r in results:
        p = r["profit"]
        score = "n/a" if r["normalized_score"] is None else f"{r['normalized_score']:.1f}"
        metrics = "".join(
            f"{'n/a' if r['metrics'][name] is None else format(r['metrics'][name], '.3f'):>16}"
            for name in TABLE_METRICS
        )
        interval = f"[{p['ci_low']:,.0f}, {p['ci_high']:,.0f}]"
        lines.append(
            f"{r['policy']:<{width}}{p['mean']:>14,.0f}{interval:>30}{p['iqm']:>14,.0f}{score:>10}{metrics}"
        )
    return "\n".join(lines)


def _write_json(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")


def _run(args: argparse.Namespace) -> int:
    """The main job: every heuristic baseline on the official seeds, a table, JSON and plots."""
    from coord_env.harness.plots import plot_profit, plot_trajectories

    scenario = coord_env.load_scenario(args.scenario)
    seeds = list(EVALUATION_SEEDS[: args.num_seeds] if args.num_seeds else EVALUATION_SEEDS)
    out = Path(args.out)
    results = []
    from baselines import BUILTIN_POLICIES

    for name in args.policies or list(BUILTIN_POLICIES):
        if not policy_supports(name, scenario):
            if args.policies:  # asked for by name: say why it is missing
                print(
                    f"{name}: skipped, not available for {scenario.env_id} (coord-bench evaluate "
                    f"--policy {name} --scenario {scenario.name} says why)",
                    file=sys.stderr,
                )
            continue
        result = evaluate(name, scenario, seeds, workers=args.workers, progress=not args.quiet)
        _write_json(result, out / f"{scenario.name}_{name}.json")
        results.append(result)
    print(f"\n{scenario.env_id} (hash {scenario.content_hash[:12]}), {len(seeds)} official seeds\n")
    print(_format_table(results))
    by_name = {r["policy"]: r for r in results}
    if "siloed" in by_name and "coordinated" in by_name:
        change = relative_change(
            by_name["coordinated"]["profit"]["mean"], by_name["siloed"]["profit"]["mean"]
        )
        print(f"\ncoordinated vs siloed: {change} mean profit")
    plots = [plot_profit(results, out / f"{scenario.name}_profit.png")]
    shown = [name for name in ("siloed", "coordinated") if name in by_name] or [
        results[0]["policy"]
    ]
    trajectories = {
        name: run_episode(resolve_policy(name)[1], scenario, seeds[0], name) for name in shown
    }
    plots.append(
        plot_trajectories(trajectories, out / f"{scenario.name}_trajectories_seed{seeds[0]}.png")
    )
    print(f"\nwrote {len(results)} results documents and {len(plots)} plots to {out}/")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """One policy, built-in or third-party, on the official (or given) seeds."""
    seeds = args.seeds if args.seeds else None
    try:
        result = evaluate(
            args.policy, args.scenario, seeds, workers=args.workers, progress=not args.quiet
        )
    except KeyError as error:  # unknown policy or scenario name: the message lists the valid ones
        print(f"coord-bench evaluate: {error.args[0]}", file=sys.stderr)
        return 2
    _write_json(result, Path(args.out))
    print(_format_table([result]))
    print(f"\nwrote {args.out}")
    return 0


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
    out = Path(args.out or f"runs/{args.name}_{args.scenario}_seed{args.seed}")
    try:
        checkpoint = train(
            args.name,
            args.scenario,
            args.steps,
            args.seed,
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
    print(
        f"wrote {checkpoint} (evaluate it with: coord-bench evaluate --policy {checkpoint} "
        f"--scenario {args.scenario} --out results.json)"
    )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """docs/results.md and its figures, from the committed checkpoints or retrained."""
    from baselines.reproduce import reproduce

    page = reproduce(
        args.out,
        args.scenarios,
        retrain_models=args.retrain,
        num_seeds=args.num_seeds,
        workers=args.workers,
        runs=args.runs,
        progress=not args.quiet,
    )
    print(f"wrote {page} and its figures")
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    """List the catalog: id, sizes, hash and description."""
    for name in coord_env.list_scenarios():
        s = coord_env.load_scenario(name)
        print(f"{s.describe()}  hash {s.content_hash[:12]}")
        if args.verbose:
            print(f"    {s.description}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coord-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    scenario_names = coord_env.list_scenarios()

    run = commands.add_parser(
        "run",
        help="the main job: evaluate the heuristic baselines, print a table, write results and plots",
    )
    run.add_argument("--scenario", default="default", choices=scenario_names)
    run.add_argument(
        "--policies",
        nargs="+",
        default=None,
        metavar="NAME",
        help="default: every heuristic, and every RL baseline with a committed checkpoint",
    )
    run.add_argument(
        "--num-seeds", type=int, default=0, help="use only the first N official seeds (0: all)"
    )
    run.add_argument(
        "--workers", type=int, default=2, help="worker processes (0: none); results are identical"
    )
    run.add_argument("--out", default="coord_bench_output", help="output folder")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_run)

    one = commands.add_parser("evaluate", help="evaluate one policy and write its results document")
    one.add_argument(
        "--policy",
        required=True,
        help="a built-in name, module:factory, or a checkpoint folder from coord-bench train",
    )
    one.add_argument("--scenario", default="default", choices=scenario_names)
    one.add_argument("--out", required=True, help="results JSON file")
    one.add_argument("--seeds", type=int, nargs="*", help="default: the official evaluation seeds")
    one.add_argument("--workers", type=int, default=0)
    one.add_argument("--quiet", action="store_true")
    one.set_defaults(handler=_evaluate)

    from baselines.rl.training import RL_BASELINES

    training = commands.add_parser(
        "train", help="train an RL baseline: progress bar, logs, held-out evaluation, checkpoints"
    )
    training.add_argument(
        "name", choices=RL_BASELINES, metavar="NAME", help=", ".join(RL_BASELINES)
    )
    training.add_argument("--scenario", default="default", choices=scenario_names)
    training.add_argument("--steps", type=int, required=True, help="budget in environment steps")
    training.add_argument("--seed", type=int, default=0, help="training seed in [0, 1000000)")
    training.add_argument("--out", help="run folder (default: runs/NAME_SCENARIO_seedK)")
    training.add_argument(
        "--eval-every", type=int, default=0, help="steps between evaluations (0: 10 per run)"
    )
    training.add_argument("--resume", action="store_true", help="continue OUT/checkpoint")
    training.add_argument(
        "--config", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. n_envs=4"
    )
    training.add_argument("--quiet", action="store_true")
    training.set_defaults(handler=_train)

    again = commands.add_parser(
        "reproduce", help="write docs/results.md: every baseline, learning curves, claims, insights"
    )
    again.add_argument("--out", default="docs/results.md")
    again.add_argument(
        "--scenarios", nargs="+", default=["default", "multiscale"], choices=scenario_names
    )
    again.add_argument(
        "--retrain", action="store_true", help="retrain every RL baseline and seed first (hours)"
    )
    again.add_argument("--runs", default="runs", help="run folders for --retrain")
    again.add_argument("--num-seeds", type=int, default=0, help="first N official seeds (0: all)")
    again.add_argument("--workers", type=int, default=2)
    again.add_argument("--quiet", action="store_true")
    again.set_defaults(handler=_reproduce)

    from coord_env.leaderboard.commands import add_commands

    add_commands(commands, scenario_names)

    scenarios = commands.add_parser("scenarios", help="list the scenario catalog")
    scenarios.add_argument("-v", "--verbose", action="store_true", help="print descriptions")
    scenarios.set_defaults(handler=_scenarios)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "" not in sys.path and os.getcwd() not in sys.path:
        # As ``python -m`` does: --policy mypackage.module:factory finds code in the working directory.
        sys.path.insert(0, os.getcwd())
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in checkpoint manifests
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
