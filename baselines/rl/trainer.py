"""The interface every RL baseline's trainer implements, so one loop trains, logs, evaluates and
checkpoints them all (``coord-bench train``), and the one place where older checkpoint formats
are brought up to date (:func:`migrate_state`).

A trainer owns its networks, optimizers, rollout environments and random streams. ``learn``
advances it by environment steps; ``save``/``load`` capture everything needed to resume, so
``save`` then ``load`` then ``learn(n)`` gives exactly what ``learn(n)`` would have given.

Who writes what in a checkpoint folder:

- the trainer (``save``) writes its weights and its JSON config into the folder it is given,
  nothing else; ``load`` reads them back, checks their provenance against the scenario and
  spaces (:func:`coord_env.checkpoint.check_provenance`) and loads no pickle;
- the checkpoint contract (:mod:`coord_env.checkpoint`, through
  :func:`baselines.rl.training.save_trainer` and :func:`~baselines.rl.training.load_trainer`)
  writes everything else: ``manifest.json`` with the file checksums and provenance, the atomic
  swap and its recovery, and verifies the checksums before ``load`` runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from coord_env.checkpoint import CheckpointError
from coord_env.policy import Policy
from coord_env.scenarios import Scenario

__all__ = ["MTMA_FORMAT", "Trainer", "load_weights", "migrate_state"]

MTMA_FORMAT = 2  # the format of MTMA's model.pt payload


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
        """Write the weights and the JSON config needed to resume (weights, optimizer, random
        states, counters) into ``directory``; never ``manifest.json``."""

    @classmethod
    def load(cls, directory: Path, scenario: Scenario) -> Trainer:
        """Resume from ``save``'s files (through :func:`migrate_state`); raise
        ``CheckpointError`` on a mismatch."""


def migrate_state(baseline: str, state: dict[str, Any]) -> dict[str, Any]:
    """A trainer's stored state (MTMA's ``model.pt`` payload, an SB3 ``trainer.json``) in this
    version's format: every format migration, in one place.

    - MTMA format 1 (it saved one env per rollout env): the learners load as they are; the
      episodes under way are dropped (``rollout`` None, as ``drop_episodes_under_way`` does), so
      a resumed run starts a fresh batch of episodes.
    - ``shared_ppo`` configs from before ``rescale_actions`` were trained without it, and
      those from before ``vec_env`` on SuperSuit's wrappers.

    Raises ``CheckpointError`` on an MTMA format this version cannot read.

    Examples
    --------
    >>> migrate_state("shared_ppo", {"config": {"n_envs": 4}})["config"]
    {'rescale_actions': False, 'vec_env': 'supersuit', 'n_envs': 4}
    >>> migrate_state("mtma", {"format": 1, "rollout": "envs"})
    {'format': 2, 'rollout': None}
    """
    if "format" in state:  # MTMA's model.pt
        if state["format"] == 1:
            state = {**state, "format": MTMA_FORMAT, "rollout": None}
        if state["format"] != MTMA_FORMAT:
            raise CheckpointError(
                f"{baseline} checkpoint of format {state['format']!r}; this version reads "
                f"formats 1 and {MTMA_FORMAT}"
            )
    if baseline == "shared_ppo" and isinstance(state.get("config"), dict):
        config = {"rescale_actions": False, "vec_env": "supersuit", **state["config"]}
        state = {**state, "config": config}
    return state


def load_weights(source: bytes | Path, label: str) -> dict[str, Any]:
    """A trainer's torch state dict (weights, optimizer state, counters) read without unpickling.

    ``torch.load(weights_only=True)`` accepts tensors and plain containers only, so a pickled
    object (which would run code) is refused unread. Both MTMA's ``model.pt`` and the ``.pth``
    entries of SB3 zips load through here.

    Parameters
    ----------
    source : bytes or Path
        The serialized state, or a file holding it (a symlink is refused).
    label : str
        What ``source`` is, for the error message (e.g. ``"checkpoint file runs/x/model.pt"``).

    Returns
    -------
    dict
        The state dict, its tensors on the CPU.

    Raises
    ------
    CheckpointError
        If the file is missing or a symlink, holds anything but tensors and plain containers, is
        damaged, or does not hold a dict.

    Examples
    --------
    >>> import torch
    >>> buffer = io.BytesIO()
    >>> torch.save({"steps": 3}, buffer)
    >>> load_weights(buffer.getvalue(), "a test state")
    {'steps': 3}
    """
    import torch

    if isinstance(source, Path):
        if source.is_symlink():
            raise CheckpointError(f"{label} is a symlink; refused")
        if not source.is_file():
            raise CheckpointError(f"checkpoint {source.parent} is missing {source.name}")
    try:
        state = torch.load(
            io.BytesIO(source) if isinstance(source, bytes) else source,
            map_location="cpu",
            weights_only=True,
        )
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
        raise CheckpointError(
            f"{label} holds more than tensors, so it is not loaded "
            f"(torch.load with weights_only=True: {reason})"
        ) from None
    except Exception as error:  # torch raises many kinds on a damaged archive
        raise CheckpointError(f"{label} is not readable: {error}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{label} must hold a state dict, got {type(state).__name__}")
    return state
