"""Analytical benchmarks: the fluid upper bound (and, later, exact DP for tiny and insight metrics)."""

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
    "decomposed_upper_bound",
    "fluid_upper_bound",
    "solve_fluid_lp",
]
