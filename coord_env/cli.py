"""coord-bench: the command line. It parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

import coord_env

__all__ = ["main"]

PROFIT_PARTS = (
    "revenue",
    "salvage",
    "purchase_cost",
    "holding_cost",
    "lost_sale_penalty",
    "profit",
)


def _run(args: argparse.Namespace) -> int:
    """Run one episode with the built-in mean-demand policy and print the profit parts."""
    from baselines import MeanDemandPolicy

    env = coord_env.parallel_env(args.scenario)
    policy = MeanDemandPolicy(env)
    observations, _ = env.reset(seed=args.seed)
    totals = dict.fromkeys(PROFIT_PARTS, 0.0)
    units = {"units_sold": 0.0, "units_lost": 0.0, "units_ordered": 0.0, "units_disposed": 0.0}
    s = env.scenario
    with tqdm(
        total=s.num_ticks, desc=f"{s.env_id} seed {args.seed}", unit="tick", disable=args.quiet
    ) as bar:
        while env.agents:
            observations, _, _, _, infos = env.step(policy.act(observations))
            info = infos["inventory_0"]
            for key in totals:
                totals[key] += info[key]
            for key in units:
                units[key] += info[key]
            bar.update(1)
    print(f"\n{s.env_id} (hash {s.content_hash[:12]}), policy mean_demand, seed {args.seed}")
    for key in PROFIT_PARTS:
        sign = "-" if key in ("purchase_cost", "holding_cost", "lost_sale_penalty") else " "
        print(f"  {key:<18} {sign}{totals[key]:>14,.2f}")
    for key, value in units.items():
        print(f"  {key:<18} {value:>15,.0f}")
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
    run = commands.add_parser("run", help="the main job: run the built-in policy on a scenario")
    run.add_argument("--scenario", default="default", choices=coord_env.list_scenarios())
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)
    scenarios = commands.add_parser("scenarios", help="list the scenario catalog")
    scenarios.add_argument("-v", "--verbose", action="store_true", help="print descriptions")
    scenarios.set_defaults(handler=_scenarios)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
