"""The retail model as pure functions on batched arrays; it knows nothing of PettingZoo."""

from coord_env.core.dynamics import Outcome, boosts_of_slates, slate_boost, step
from coord_env.core.state import State, reset

__all__ = ["Outcome", "State", "boosts_of_slates", "reset", "slate_boost", "step"]
