"""coord-bench: the command line of the coord_env benchmark (it parses arguments, calls the library)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import coord_env
from coord_env.checkpoint import CheckpointError
from coord_env.distributed import (
    SchedulerError,
    WorkerDiedError,
    add_scheduler_argument,
    local_cluster,
)
from coord_env.fileio import UnsafePathError, atomic_write_text, check_output_path
from coord_env.harness import EVALUATION_SEEDS, evaluate, resolve_policy, run_episode
from coord_env.harness.evaluate import policy_supports
from coord_env.harness.isolation import IsolatedPolicyError
from coord_env.harness.stats import relative_change
from coord_env.registry import (
    PolicyRegistrationError,
    builtin_policies,
    command_plugins,
    registered_policies,
)
from coord_env.scenarios import ScenarioError

__all__ = ["ONE_LINE_ERRORS", "main", "output_folder"]

# Errors of input or environment, not of coord_env: main prints them as one line, exit status 2.
ONE_LINE_ERRORS = (
    CheckpointError,
    ScenarioError,
    UnsafePathError,
    WorkerDiedError,
    SchedulerError,
    PolicyRegistrationError,
)

DESCRIPTION = """\
coord-bench: evaluate, train and compare policies on coord_env, a PettingZoo benchmark where an
inventory agent and a recommender agent run one simulated retailer together.

Start here:
  coord-bench run                  every built-in baseline on the default scenario: a table of
                                   profit and coordination metrics, results JSON and plots
                                   in coord_bench_output/ (about 2 minutes)
  coord-bench scenarios -v         the scenario catalog
  coord-bench policies             the policies you can evaluate by name
  coord-bench evaluate --policy NAME|module:factory|CHECKPOINT --scenario S --out FILE
"""

EPILOG = """\
Docs: README.md, and docs/ (model.md: the model and the env; plug_in.md: your own policy;
training.md: the RL baselines; leaderboard.md: submitting). Each command has --help.
"""

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
    atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


def output_folder(path: str | os.PathLike[str], first_file: str) -> Path:
    """Create the output folder ``path`` before any work, and check that ``first_file`` can be
    written in it (:func:`coord_env.fileio.check_output_path`); return the folder.

    Raises
    ------
    UnsafePathError
        ``path`` is a file, cannot be created, or is not writable; or ``first_file`` in it is a
        symlink or a folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> output_folder(pathlib.Path(tempfile.mkdtemp()) / "out", "table.json").name
    'out'
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UnsafePathError(f"cannot write into {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UnsafePathError(f"cannot create the folder {folder}: {error.strerror}") from None
    check_output_path(folder / first_file)
    return folder


def _evaluate_all(
    args: argparse.Namespace,
    scenario: coord_env.Scenario,
    seeds: list[int],
    out: Path,
    scheduler: str | None,
) -> list[dict[str, Any]]:
    """coord-bench run's evaluations: every chosen policy the scenario supports."""
    results = []
    for name in args.policies or list(builtin_policies()):
        if not policy_supports(name, scenario):
            if args.policies:  # asked for by name: say why it is missing
                print(
                    f"{name}: skipped, not available for {scenario.env_id} (coord-bench evaluate "
                    f"--policy {name} --scenario {scenario.name} says why)",
                    file=sys.stderr,
                )
            continue
        result = evaluate(
            name,
            scenario,
            seeds,
            workers=args.workers,
            progress=not args.quiet,
            scheduler=scheduler,
        )
        _write_json(result, out / f"{scenario.name}_{name}.json")
        results.append(result)
    return results


def _run(args: argparse.Namespace) -> int:
    """The main job: every heuristic baseline on the official seeds, a table, JSON and plots."""
    from coord_env.harness.plots import plot_profit, plot_trajectories

    scenario = coord_env.load_scenario(args.scenario)
    seeds = list(EVALUATION_SEEDS[: args.num_seeds] if args.num_seeds else EVALUATION_SEEDS)
    out = output_folder(args.out, f"{scenario.name}_profit.png")
    try:
        with local_cluster(args.scheduler, args.workers) as scheduler:  # one cluster for all
            results = _evaluate_all(args, scenario, seeds, out, scheduler)
    except (SchedulerError, ImportError, UnsafePathError) as error:  # ImportError: no Dask
        print(f"coord-bench run: {error}", file=sys.stderr)
        return 2
    print(f"\n{scenario.env_id} (hash {scenario.content_hash[:12]}), {len(seeds)} official seeds\n")
    print(_format_table(results))
    by_name = {r["policy"]: r for r in results}
    if "siloed" in by_name and "coordinated" in by_name:
        change = relative_change(
            by_name["coordinated"]["profit"]["mean"], by_name["siloed"]["profit"]["mean"]
        )
        print(f"\ncoordinated vs siloed: {change} mean profit")
    shown = [name for name in ("siloed", "coordinated") if name in by_name] or [
        results[0]["policy"]
    ]
    trajectories = {
        name: run_episode(resolve_policy(name)[1], scenario, seeds[0], name) for name in shown
    }
    try:
        plots = [
            plot_profit(results, out / f"{scenario.name}_profit.png"),
            plot_trajectories(
                trajectories, out / f"{scenario.name}_trajectories_seed{seeds[0]}.png"
            ),
        ]
    except UnsafePathError as error:
        print(f"coord-bench run: {error}", file=sys.stderr)
        return 2
    print(f"\nwrote {len(results)} results documents and {len(plots)} plots to {out}/")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """One policy, built-in or third-party, on the official (or given) seeds."""
    seeds = args.seeds if args.seeds else None
    out = Path(args.out)
    output_folder(out.parent, out.name)  # before the evaluation, not after it
    scenario = coord_env.load_scenario(args.scenario)
    try:
        if not policy_supports(args.policy, scenario):
            print(f"coord-bench evaluate: {_unsupported(args.policy, scenario)}", file=sys.stderr)
            return 2
        result = evaluate(
            args.policy,
            scenario,
            seeds,
            workers=args.workers,
            progress=not args.quiet,
            scheduler=args.scheduler,
            isolate=args.isolate,
        )
    except (SchedulerError, IsolatedPolicyError) as error:
        print(f"coord-bench evaluate: {error}", file=sys.stderr)
        return 2
    except ImportError as error:  # --scheduler without Dask; module:factory that does not import
        print(f"coord-bench evaluate: {error}", file=sys.stderr)
        return 2
    except KeyError as error:  # unknown policy or scenario name: the message lists the valid ones
        print(f"coord-bench evaluate: {error.args[0]}", file=sys.stderr)
        return 2
    _write_json(result, out)
    print(_format_table([result]))
    print(f"\nwrote {args.out}")
    return 0


def _unsupported(policy: str, scenario: coord_env.Scenario) -> str:
    """Why ``policy`` is not run on ``scenario``, and the catalog scenarios it does support."""
    supported = [
        name
        for name in coord_env.list_scenarios()
        if policy_supports(policy, coord_env.load_scenario(name))
    ]
    return (
        f"policy {policy} does not support {scenario.env_id} (its supports() says no: e.g. it "
        "was trained on another scenario, or has no checkpoint for this one); it supports: "
        + (", ".join(supported) or "no catalog scenario")
    )


def _policies(args: argparse.Namespace) -> int:
    """List every registered policy: built-in baselines and installed plug-ins."""
    policies = registered_policies()
    width = max(len(name) for name in policies) + 2
    for spec in policies.values():
        source = "built-in" if spec.builtin else f"plug-in {spec.plugin}"
        print(f"{spec.name:<{width}}{spec.description}  [{source}]")
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
    parser = argparse.ArgumentParser(
        prog="coord-bench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    scenario_names = coord_env.list_scenarios()

    run = commands.add_parser(
        "run",
        help="the main job: evaluate every built-in baseline, print a table, write results and plots",
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
    add_scheduler_argument(run, "evaluation episodes")
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
    one.add_argument(
        "--workers", type=int, default=0, help="worker processes (0: none); results are identical"
    )
    add_scheduler_argument(one, "evaluation episodes")
    one.add_argument(
        "--isolate",
        action="store_true",
        help="run the policy in a child process with memory and time limits; the env and the "
        "scoring stay in this one (results are identical)",
    )
    one.add_argument("--quiet", action="store_true")
    one.set_defaults(handler=_evaluate)

    from coord_env.leaderboard.commands import add_commands

    add_commands(commands, scenario_names)

    for add_plugin_commands in command_plugins():  # train, reproduce: from the baselines
        add_plugin_commands(commands, scenario_names)

    policies = commands.add_parser(
        "policies", help="list the registered policies: built-in baselines and plug-ins"
    )
    policies.set_defaults(handler=_policies)

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
    try:
        return args.handler(args)
    except ONE_LINE_ERRORS as error:  # bad input, a broken plug-in, a dead worker: no traceback
        message = " ".join(str(error).split())
        print(f"coord-bench {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
