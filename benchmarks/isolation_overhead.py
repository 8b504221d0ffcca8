"""Time isolated evaluation against in-process evaluation: per-step overhead and episode wall time.

    python benchmarks/isolation_overhead.py [--seeds 3] [--cases siloed:default centralized:default]

For each policy and scenario, plays the same seeds in this process and then isolated (one child
process for every seed, as ``evaluate(isolate=True)`` does serially), and prints: the child's
start-up (interpreter, imports, resolving the policy; paid once per evaluation), the mean episode
wall time each way, their ratio, and the overhead per agent step (pipe transfers and encoding).
The results are checked to be identical.
"""

from __future__ import annotations

import argparse
import time

import coord_env
from coord_env.harness.evaluate import (
    _isolated_episode,
    isolated_identity,
    policy_supports,
    resolve_policy,
    run_episode,
)
from coord_env.harness.isolation import IsolatedPolicy, IsolationLimits

DEFAULT_CASES = ("siloed:default", "coordinated:default", "centralized:default", "optimal:tiny")


def measure(policy: str, scenario_name: str, seeds: list[int]) -> dict[str, float]:
    """Seconds: child start-up, mean episode in-process and isolated; microseconds per step."""
    scenario = coord_env.load_scenario(scenario_name)
    name, factory = resolve_policy(policy)
    run_episode(factory, scenario, seeds[0], name)  # warm caches (DP tables, checkpoints)
    start = time.perf_counter()
    plain = [run_episode(factory, scenario, seed, name) for seed in seeds]
    in_process = (time.perf_counter() - start) / len(seeds)
    _, privileged = isolated_identity(policy)
    with IsolatedPolicy(policy, scenario, name, None, privileged, IsolationLimits()) as child:
        start = time.perf_counter()
        first = _isolated_episode(child, scenario, seeds[0], name)
        startup_and_first = time.perf_counter() - start
        start = time.perf_counter()
        isolated = [_isolated_episode(child, scenario, seed, name) for seed in seeds]
        per_episode = (time.perf_counter() - start) / len(seeds)
    same = all(
        a.profit.tobytes() == b.profit.tobytes() for a, b in zip(plain, isolated, strict=True)
    )
    if not same or first.profit.tobytes() != plain[0].profit.tobytes():
        raise RuntimeError(f"{policy} on {scenario_name}: isolated results differ")
    steps = scenario.num_ticks
    return {
        "startup": startup_and_first - per_episode,
        "in_process": in_process,
        "isolated": per_episode,
        "per_step_us": (per_episode - in_process) / steps * 1e6,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="episodes timed each way")
    parser.add_argument(
        "--cases", nargs="+", default=list(DEFAULT_CASES), metavar="POLICY:SCENARIO"
    )
    args = parser.parse_args(argv)
    seeds = list(coord_env.EVALUATION_SEEDS[: args.seeds])
    print(
        f"{'policy':<14}{'scenario':<10}{'steps':>6}{'start-up s':>12}{'episode s':>11}"
        f"{'isolated s':>12}{'ratio':>7}{'overhead/step':>16}"
    )
    for case in args.cases:
        policy, _, scenario = case.rpartition(":")
        if not policy_supports(policy, coord_env.load_scenario(scenario)):
            print(f"{policy:<14}{scenario:<10} skipped (not available)")
            continue
        m = measure(policy, scenario, seeds)
        print(
            f"{policy:<14}{scenario:<10}{m['steps']:>6}{m['startup']:>12.2f}{m['in_process']:>11.3f}"
            f"{m['isolated']:>12.3f}{m['isolated'] / m['in_process']:>7.2f}"
            f"{m['per_step_us']:>13.0f} us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
