"""The retail model as pure functions on batched arrays; it knows nothing of PettingZoo."""

from coord_env.core.dynamics import Outcome, slate_boost, step
from coord_env.core.state import State, reset

__all__ = ["Outcome", "State", "reset", "slate_boost", "step"]
