"""Analytical benchmarks: the fluid upper bound (and, later, exact DP for tiny and insight metrics)."""

from coord_env.analysis.upper_bound import FluidBound, fluid_upper_bound

__all__ = ["FluidBound", "fluid_upper_bound"]
