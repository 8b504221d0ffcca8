"""Baseline policies for coord_env. Issue #3 adds the heuristics of SPEC section 4 and the harness."""

from baselines.simple import MeanDemandPolicy

__all__ = ["MeanDemandPolicy"]
