"""The scoring harness: evaluate policies on fixed seeds, compute metrics, write results documents."""

from coord_env.harness.evaluate import evaluate, resolve_policy, run_episode
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.harness.trajectory import Trajectory

__all__ = ["EVALUATION_SEEDS", "Trajectory", "evaluate", "resolve_policy", "run_episode"]
