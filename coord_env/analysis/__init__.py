"""Analytical benchmarks: the fluid upper bound, the exact DP optimum of small scenarios (tiny)."""

from coord_env.analysis.optimal import (
    OptimalPolicy,
    OptimalSolution,
    check_supported,
    optimal_value,
    solve_optimal,
)
from coord_env.analysis.upper_bound import (
    FluidBound,
    FluidPlan,
    decomposed_upper_bound,
    fluid_upper_bound,
    solve_fluid_lp,
)

__all__ = [
    "FluidBound",
    "FluidPlan",
    "OptimalPolicy",
    "OptimalSolution",
    "check_supported",
    "decomposed_upper_bound",
    "fluid_upper_bound",
    "optimal_value",
    "solve_fluid_lp",
    "solve_optimal",
]
