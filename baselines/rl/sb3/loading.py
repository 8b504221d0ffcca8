"""Pickle-free loading of SB3 checkpoint zips.

SB3's own loader deserializes the zip's ``data`` entry with cloudpickle, so a hostile zip would
run code. Here the model is rebuilt from the trainer's JSON state and only tensors are read from
the zip: ``policy.pth`` and ``policy.optimizer.pth`` with ``torch.load(weights_only=True)``, and
two integer counters from ``data`` parsed as JSON.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO

from baselines.rl.trainer import load_weights
from coord_env.checkpoint import CheckpointError

__all__ = ["TRAINER_STATE", "load_sb3_zip"]

TRAINER_STATE = "trainer.json"
# The entries of an SB3 zip that loading reads: tensors (torch.load with weights_only=True) and the
# JSON ``data`` entry, of which only plain integer counters are taken (its cloudpickled fields,
# stored as base64 text, are never decoded).
SB3_WEIGHTS = "policy.pth"
SB3_OPTIMIZER = "policy.optimizer.pth"
SB3_DATA = "data"
SB3_COUNTERS = ("num_timesteps", "_n_updates")
MAX_SB3_ENTRY_BYTES = 256 << 20  # an entry's uncompressed size: far above any MLP's weights


def _zip_entry(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """The bytes of one entry of an SB3 zip, refused when missing or larger than the cap."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CheckpointError(f"checkpoint file {path} has no {name!r} entry") from None
    with archive.open(info) as handle:  # read at most the cap, whatever the header claims
        data = handle.read(MAX_SB3_ENTRY_BYTES + 1)
    if len(data) > MAX_SB3_ENTRY_BYTES:
        raise CheckpointError(
            f"checkpoint file {path}: entry {name!r} is over {MAX_SB3_ENTRY_BYTES:,} bytes"
        )
    return data


def _tensor_entry(archive: zipfile.ZipFile, name: str, path: Path) -> dict[str, Any]:
    """A state dict from entry ``name``, read without unpickling (:func:`load_weights`)."""
    return load_weights(_zip_entry(archive, name, path), f"checkpoint file {path}: {name}")


def _counter_entries(archive: zipfile.ZipFile, path: Path) -> dict[str, int]:
    """``num_timesteps`` and ``_n_updates`` from the ``data`` entry, parsed as JSON only."""
    data = _zip_entry(archive, SB3_DATA, path)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(
            f"checkpoint file {path}: its {SB3_DATA!r} entry is not JSON (SB3 writes JSON)"
        ) from None
    if not isinstance(document, dict):
        raise CheckpointError(f"checkpoint file {path}: its {SB3_DATA!r} entry is not an object")
    counters = {}
    for key in SB3_COUNTERS:
        value = document.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(
                f"checkpoint file {path}: {SB3_DATA}.{key} must be an integer >= 0, "
                f"got {str(value)[:40]!r}"
            )
        counters[key] = value
    return counters


def load_sb3_zip(model: PPO, path: str | Path) -> dict[str, int]:
    """Load an SB3 zip's weights, optimizer state and step counters into ``model``, unpickling
    nothing the file carries.

    SB3's own loader rebuilds the model from the zip's ``data`` entry, whose cloudpickled fields
    (spaces, schedules, buffers) run code when deserialized. Here ``model`` is already built from
    the trainer's JSON config and the scenario's spaces, so only tensors are needed: ``policy.pth``
    and ``policy.optimizer.pth`` through ``torch.load(weights_only=True)``, and the integer
    counters ``num_timesteps`` and ``_n_updates`` from ``data`` read as plain JSON (its pickled
    fields stay undecoded text).

    Parameters
    ----------
    model : PPO
        Built with the same policy architecture and spaces as the saved one.
    path : str or Path
        An SB3 zip (``model.save``); a symlink is refused.

    Returns
    -------
    dict
        The counters set on ``model``: ``{"num_timesteps": ..., "_n_updates": ...}``.

    Raises
    ------
    CheckpointError
        If the file is a symlink or not a zip, an entry is missing or too large, a ``.pth`` entry
        holds anything but tensors and plain containers, or the weights do not fit ``model``.

    Examples
    --------
    >>> import tempfile
    >>> from baselines.rl.sb3 import CentralizedTrainer
    >>> trainer = CentralizedTrainer("tiny", 0, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> folder = Path(tempfile.mkdtemp())
    >>> trainer.save(folder)
    >>> fresh = CentralizedTrainer("tiny", 1, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> load_sb3_zip(fresh.models["joint"], folder / "joint.zip")
    {'num_timesteps': 0, '_n_updates': 0}
    """
    path = Path(path)
    if path.is_symlink():
        raise CheckpointError(f"checkpoint file {path} is a symlink; refused")
    try:
        with zipfile.ZipFile(path) as archive:
            weights = _tensor_entry(archive, SB3_WEIGHTS, path)
            optimizer = _tensor_entry(archive, SB3_OPTIMIZER, path)
            counters = _counter_entries(archive, path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"checkpoint file {path} is not loadable: {error}") from None
    try:
        model.set_parameters(
            {"policy": weights, "policy.optimizer": optimizer}, exact_match=True, device="cpu"
        )
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"checkpoint file {path} does not fit the model its {TRAINER_STATE} describes: {reason}"
        ) from None
    model.num_timesteps = counters["num_timesteps"]
    model._n_updates = counters["_n_updates"]
    return counters
