"""Exact DP on tiny: solve time, truncation levels and error, and the stock-cap sensitivity.

    OMP_NUM_THREADS=1 python benchmarks/optimal_dp.py [--scenario tiny] [--extra-stock 5]

Run with one BLAS thread (``OMP_NUM_THREADS=1``) to measure one core. Prints the wall and CPU
time of the solve, the stock and demand caps, the truncation-error bound, the optimal value, and the
value of a second solve with every stock cap raised by ``--extra-stock`` units (it must not move
by more than the bound).
"""

from __future__ import annotations

import argparse
import os
import time

import coord_env
from coord_env.analysis import optimal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="tiny")
    parser.add_argument("--extra-stock", type=int, default=5)
    args = parser.parse_args()
    scenario = coord_env.load_scenario(args.scenario)
    optimal.check_supported(scenario)
    print(f"scenario {scenario.env_id} ({scenario.content_hash[:12]})")
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    wall, cpu = time.perf_counter(), time.process_time()
    solution = optimal._solve(scenario)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    states = int(solution.value_table[0].size)
    print(f"solve: {wall:.1f} s wall, {cpu:.1f} s CPU; {states} on-hand states per period")
    print(f"stock cap X_i: {solution.stock_cap.tolist()} (P(demand > X_i) < 1e-9 per period)")
    print(f"demand cap: {solution.demand_cap.tolist()}")
    print(f"truncation error bound: {solution.truncation_error:.3g}")
    print(f"optimal expected profit: {solution.value:.6f}")
    wider = optimal._solve(scenario, extra_stock=args.extra_stock)
    change = wider.value - solution.value
    print(f"stock cap +{args.extra_stock}: {wider.value:.6f} (change {change:.3g})")


if __name__ == "__main__":
    main()
