"""The interface every RL baseline's trainer implements, so one loop trains, logs, evaluates and
checkpoints them all (``coord-bench train``).

A trainer owns its networks, optimizers, rollout environments and random streams. ``learn``
advances it by environment steps; ``save``/``load`` capture everything needed to resume, so
``save`` then ``load`` then ``learn(n)`` gives exactly what ``learn(n)`` would have given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from coord_env.policy import Policy
from coord_env.scenarios import Scenario

__all__ = ["Trainer"]


@runtime_checkable
class Trainer(Protocol):
    """One RL baseline being trained on one scenario from one seed."""

    name: ClassVar[str]
    scenario: Scenario
    seed: int
    steps_done: int  # environment steps (calls of env.step, summed over rollout envs) so far
    env_options: dict[str, Any]  # RetailParallelEnv options the trained policy acts under

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more environment steps (whole rollouts); return the last
        update's statistics (losses, entropy, ...) for the log."""

    def policy(self) -> Policy:
        """The current deterministic policy, for ``coord_env.evaluate(lambda env: ...)``."""

    def save(self, directory: Path) -> None:
        """Write every file needed to resume (weights, optimizer, random states, counters)."""

    @classmethod
    def load(cls, directory: Path, scenario: Scenario) -> Trainer:
        """Resume from ``save``'s files; raise ``CheckpointError`` on a mismatch."""
