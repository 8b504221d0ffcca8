"""coord-bench: the command line. It parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import coord_env
from coord_env.harness import EVALUATION_SEEDS, evaluate, resolve_policy, run_episode

__all__ = ["main"]

HEURISTICS = ("random", "mean_demand", "siloed", "coordinated", "lp")
TABLE_METRICS = (
    "fill_rate",
    "oos_impression_share",
    "exposure_stock_rank_correlation",
    "days_of_supply",
)


def _format_table(results: list[dict[str, Any]]) -> str:
    """Profit mean and 95% CI, normalized score and key coordination metrics, one row per policy."""
    header = f"{'policy':<14}{'profit':>12}{'95% CI':>26}{'IQM':>12}{'norm.':>8}" + "".join(
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
            f"{r['policy']:<14}{p['mean']:>12,.0f}{interval:>26}{p['iqm']:>12,.0f}{score:>8}{metrics}"
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
    for name in args.policies:
        result = evaluate(name, scenario, seeds, workers=args.workers, progress=not args.quiet)
        _write_json(result, out / f"{scenario.name}_{name}.json")
        results.append(result)
    print(f"\n{scenario.env_id} (hash {scenario.content_hash[:12]}), {len(seeds)} official seeds\n")
    print(_format_table(results))
    by_name = {r["policy"]: r for r in results}
    if "siloed" in by_name and "coordinated" in by_name:
        gain = by_name["coordinated"]["profit"]["mean"] / by_name["siloed"]["profit"]["mean"] - 1
        print(f"\ncoordinated vs siloed: {100 * gain:+.1f}% mean profit")
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
    run.add_argument("--policies", nargs="+", default=list(HEURISTICS), metavar="NAME")
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
    one.add_argument("--policy", required=True, help="a built-in name or module:factory")
    one.add_argument("--scenario", default="default", choices=scenario_names)
    one.add_argument("--out", required=True, help="results JSON file")
    one.add_argument("--seeds", type=int, nargs="*", help="default: the official evaluation seeds")
    one.add_argument("--workers", type=int, default=0)
    one.add_argument("--quiet", action="store_true")
    one.set_defaults(handler=_evaluate)

    scenarios = commands.add_parser("scenarios", help="list the scenario catalog")
    scenarios.add_argument("-v", "--verbose", action="store_true", help="print descriptions")
    scenarios.set_defaults(handler=_scenarios)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
