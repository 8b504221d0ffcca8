"""The checkpoint folder contract: manifest, checksums, provenance, the atomic swap and recovery.

A checkpoint is a folder holding a trainer's own files (its weights and its JSON config) and
``manifest.json``, which this module alone writes::

    {"baseline": "mtma", "scenario": "coord/default-v0", "scenario_hash": "...",
     "spaces": {...}, "seed": 0, "steps": 200000, "command": "coord-bench train ...",
     "wall_time_s": 812.4, "coord_env_version": "0.1.0", "files": {"model.pt": "<sha256>"}, ...}

:func:`save_checkpoint` writes a checkpoint whole to ``<folder>.new`` and swaps it in
(``<folder>`` -> ``<folder>.old``, ``<folder>.new`` -> ``<folder>``, then ``<folder>.old``
removed); after a crash at any point, :func:`recover_checkpoint` keeps the newest complete one.
:func:`read_manifest` re-hashes every listed file and compares the scenario and spaces, so a
corrupt, truncated or foreign checkpoint is refused with a message saying what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coord_env.fileio import atomic_write_text, fsync_directory
from coord_env.scenarios import Scenario

__all__ = [
    "MANIFEST",
    "CheckpointError",
    "check_provenance",
    "describe_spaces",
    "file_sha256",
    "newest_checkpoint",
    "read_manifest",
    "recover_checkpoint",
    "save_checkpoint",
    "update_checksums",
    "write_manifest",
]

MANIFEST = "manifest.json"
NEW, OLD = ".new", ".old"  # suffixes of the checkpoint being written and of the one it replaces


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or was trained on another scenario or other spaces."""


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_spaces(env: Any) -> dict[str, str]:
    """A comparable text form of every agent's observation and action space, and the state space."""
    described = {
        f"{agent}.{kind}": repr(getattr(env, f"{kind}_space")(agent))
        for agent in env.possible_agents
        for kind in ("observation", "action")
    }
    described["state"] = repr(env.state_space)
    return described


def write_manifest(directory: str | Path, scenario: Scenario, **fields: Any) -> dict[str, Any]:
    """Write ``manifest.json`` for every other file in ``directory``; return the manifest.

    ``fields`` carries the provenance (baseline, seed, steps, command, wall_time_s, spaces, ...).
    """
    from coord_env import __version__

    directory = Path(directory)
    files = {
        path.name: file_sha256(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {
        "scenario": scenario.env_id,
        "scenario_hash": scenario.content_hash,
        "coord_env_version": __version__,
        **fields,
        "files": files,
    }
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def read_manifest(
    directory: str | Path,
    scenario: Scenario | None = None,
    spaces: dict[str, str] | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Read and check a checkpoint's manifest.

    Parameters
    ----------
    directory : path
    scenario : Scenario, optional
        When given, the checkpoint must have been trained on this exact scenario version.
    spaces : dict, optional
        When given (see :func:`describe_spaces`), the checkpoint's spaces must equal these.
    baseline : str, optional
        When given, the checkpoint must be of this baseline.

    Raises
    ------
    CheckpointError
        If the manifest is missing, unreadable or a symlink; a listed name is not a plain file name
        in the folder (absolute, with a path separator or ``..``) or is a symlink; a file is
        missing or its checksum differs; or the scenario, spaces or baseline differ.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if path.is_symlink():
        raise CheckpointError(f"checkpoint {directory}: {MANIFEST} is a symlink; refusing it")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{directory} is not a checkpoint: it has no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CheckpointError(f"{path} has no 'files' table of checksums")
    for name, expected in manifest["files"].items():
        file = _listed_file(directory, name)
        if not file.is_file():
            raise CheckpointError(f"checkpoint {directory} is missing {name}")
        if file_sha256(file) != expected:
            raise CheckpointError(
                f"checkpoint file {file} is corrupt: its sha256 differs from the manifest's"
            )
    check_provenance(directory, manifest, scenario, spaces, baseline)
    return manifest


def _listed_file(directory: Path, name: Any) -> Path:
    """The file a manifest lists as ``name``, refused unless it is a plain file in ``directory``."""
    if (
        not isinstance(name, str)
        or name in ("", ".")
        or ".." in name
        or "/" in name
        or "\\" in name
        or os.path.isabs(name)
        or "\0" in name
    ):
        raise CheckpointError(
            f"checkpoint {directory}: its manifest lists {name!r}, which is not a file name in the "
            "folder (absolute, with a path separator or '..'); refusing it"
        )
    file = directory / name
    if file.is_symlink():
        raise CheckpointError(
            f"checkpoint {directory}: {name} is a symlink (to {os.readlink(file)}); refusing it"
        )
    if file.resolve().parent != directory.resolve():
        raise CheckpointError(f"checkpoint {directory}: {name} leaves the folder; refusing it")
    return file


def check_provenance(
    directory: str | Path,
    recorded: dict[str, Any],
    scenario: Scenario | None = None,
    spaces: dict[str, str] | None = None,
    baseline: str | None = None,
) -> None:
    """Compare a checkpoint's recorded baseline, scenario and spaces with the expected ones.

    ``recorded`` is the manifest, or any record with the same keys (``baseline``, ``scenario``,
    ``scenario_hash``, ``spaces``). Arguments left as None are not checked.

    Raises
    ------
    CheckpointError
        Naming what differs.
    """
    if baseline is not None and recorded.get("baseline") != baseline:
        raise CheckpointError(
            f"checkpoint {directory} is of baseline {recorded.get('baseline')!r}, not {baseline!r}"
        )
    if scenario is not None and (
        recorded.get("scenario") != scenario.env_id
        or recorded.get("scenario_hash") != scenario.content_hash
    ):
        raise CheckpointError(
            f"checkpoint {directory} was trained on {recorded.get('scenario')} (hash "
            f"{recorded.get('scenario_hash')}), not on {scenario.env_id} (hash "
            f"{scenario.content_hash})"
        )
    if spaces is not None and recorded.get("spaces") != spaces:
        saved = recorded.get("spaces") or {}
        differing = sorted(k for k in set(spaces) | set(recorded) if spaces.get(k) != saved.get(k))
        raise CheckpointError(
            f"checkpoint {directory} was trained on other spaces: {', '.join(differing)} differ"
        )


def update_checksums(directory: str | Path) -> dict[str, Any]:
    """Re-hash the files a manifest lists after one was rewritten in place; keep its other fields.

    Parameters
    ----------
    directory : path
        A checkpoint folder with a ``manifest.json``.

    Returns
    -------
    dict
        The rewritten manifest.

    Raises
    ------
    CheckpointError
        If the manifest is missing or unreadable, or lists a name that is not a plain file of
        the folder.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        listed = list(manifest["files"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a readable manifest: {error}") from None
    manifest["files"] = {name: file_sha256(_listed_file(directory, name)) for name in listed}
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def save_checkpoint(
    directory: str | Path,
    write_files: Callable[[Path], None],
    scenario: Scenario,
    *,
    steps: int,
    wall_time_s: float,
    env_options: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    """Write a checkpoint whole, then swap it in atomically; return its manifest.

    ``write_files(folder)`` writes the trainer's own files (``Trainer.save``) into a fresh
    ``<directory>.new``; the manifest (checksums, the scenario, the spaces under
    ``env_options``, ``steps``, ``wall_time_s`` and ``fields``) is written last, so a folder
    whose manifest verifies is complete. The swap then renames ``directory`` to
    ``<directory>.old`` and ``<directory>.new`` to ``directory``, and removes the old one: a
    crash at any point leaves a complete checkpoint that :func:`recover_checkpoint` finds.

    Parameters
    ----------
    directory : path
        The checkpoint folder (replaced whole when it exists).
    write_files : callable
        Writes the trainer's files into the folder it is given.
    scenario : Scenario
        The scenario trained on.
    steps : int
        Environment steps trained.
    wall_time_s : float
        Training wall time so far.
    env_options : dict
        The env options the policy acts under (the recorded spaces depend on them).
    **fields
        Further provenance (baseline, seed, budget, command, ...).

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp()) / "checkpoint"  # doctest: +SKIP
    >>> save_checkpoint(folder, trainer.save, trainer.scenario, steps=64, wall_time_s=1.0,
    ...                 env_options={}, baseline="mtma")  # doctest: +SKIP
    """
    from coord_env.env import RetailParallelEnv

    directory = Path(directory)
    staging, retired = _sibling(directory, NEW), _sibling(directory, OLD)
    _remove(staging)
    staging.mkdir(parents=True)
    write_files(staging)
    manifest = write_manifest(
        staging,
        scenario,
        steps=steps,
        wall_time_s=wall_time_s,
        env_options=env_options,
        spaces=describe_spaces(RetailParallelEnv(scenario, **env_options)),
        **fields,
    )
    fsync_directory(staging)
    if directory.exists():
        _remove(retired)
        os.replace(directory, retired)
    os.replace(staging, directory)
    fsync_directory(directory.parent)
    _remove(retired)
    return manifest


def newest_checkpoint(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint among ``directory`` and its swap siblings, or None.

    Complete: its manifest verifies and records integer ``steps`` and ``wall_time_s`` (what
    :func:`save_checkpoint` writes). On a tie ``directory`` itself wins. Reads only.

    Returns
    -------
    tuple or None
        The folder and its manifest.
    """
    found = [
        (folder, manifest)
        for folder in _swap_folders(Path(directory))
        if (manifest := _complete_manifest(folder)) is not None
    ]
    return max(found, key=lambda item: item[1]["steps"], default=None)


def recover_checkpoint(directory: str | Path) -> dict[str, Any] | None:
    """Finish or undo a checkpoint swap that a crash interrupted; return the kept manifest.

    The newest complete checkpoint of ``directory``, ``<directory>.new`` and
    ``<directory>.old`` becomes ``directory``; the others are removed. Safe to rerun after a
    crash inside it. Call it only on a folder known to be a checkpoint of this project (it
    deletes incomplete checkpoint folders).

    Parameters
    ----------
    directory : path
        A checkpoint folder, e.g. ``runs/mtma_tiny_seed0/checkpoint``.

    Returns
    -------
    dict or None
        The manifest of the kept checkpoint; None when none is complete (nothing is kept).

    Examples
    --------
    >>> recover_checkpoint("runs/mtma_tiny_seed0/checkpoint")  # doctest: +SKIP
    {'baseline': 'mtma', 'steps': 4096, ...}
    """
    directory = Path(directory)
    found = newest_checkpoint(directory)
    kept = found[0] if found else None
    for folder in _swap_folders(directory):
        if folder != kept:
            _remove(folder)
    if found is None:
        return None
    if kept != directory:
        os.replace(kept, directory)
        fsync_directory(directory.parent)
    return found[1]


def _sibling(directory: Path, suffix: str) -> Path:
    return directory.with_name(directory.name + suffix)


def _swap_folders(directory: Path) -> list[Path]:
    """The swap's three folders: the checkpoint, the one being written, the one replaced."""
    return [directory, _sibling(directory, NEW), _sibling(directory, OLD)]


def _complete_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of a complete checkpoint (see :func:`newest_checkpoint`), else None."""
    if directory.is_symlink() or not directory.is_dir():
        return None
    try:
        manifest = read_manifest(directory)
    except CheckpointError:
        return None
    if "wall_time_s" not in manifest or not isinstance(manifest.get("steps"), int):
        return None
    return manifest


def _remove(path: Path) -> None:
    """Delete a file, a symlink (not its target) or a folder; nothing when it does not exist."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
