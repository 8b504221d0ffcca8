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
    "read_json",
    "read_manifest",
    "recover_checkpoint",
    "save_checkpoint",
    "update_checksums",
    "write_manifest",
]

MANIFEST = "manifest.json"


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
    manifest = read_json(directory / MANIFEST)
    if not isinstance(manifest.get("files"), dict):
        raise CheckpointError(f"{directory / MANIFEST} has no 'files' table of checksums")
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


def read_json(path: str | Path) -> dict[str, Any]:
    """A checkpoint's JSON document (manifest or trainer config) as a dict.

    Raises
    ------
    CheckpointError
        If the file is missing, a symlink, not JSON or not a JSON object.
    """
    path = Path(path)
    if path.is_symlink():
        raise CheckpointError(f"checkpoint {path.parent}: {path.name} is a symlink; refusing it")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} is not a checkpoint: it has no {path.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return document


def update_checksums(directory: str | Path) -> dict[str, Any]:
    """Re-hash the files a manifest lists (one was rewritten in place); keep its other fields."""
    directory = Path(directory)
    manifest = read_json(directory / MANIFEST)
    listed = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    manifest["files"] = {name: file_sha256(_listed_file(directory, name)) for name in listed}
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
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
    """Write a checkpoint whole to ``<directory>.new``, then swap it in; return its manifest.

    ``write_files(folder)`` writes the trainer's files (``Trainer.save``); the manifest (with the
    spaces under ``env_options``, ``steps``, ``wall_time_s`` and the provenance ``fields``) comes
    last, so a folder whose manifest verifies is complete. Then ``directory`` becomes
    ``<directory>.old``, ``<directory>.new`` becomes ``directory``, and the old one is removed:
    after a crash at any point :func:`recover_checkpoint` finds a complete checkpoint.
    """
    from coord_env.env import RetailParallelEnv

    directory = Path(directory)
    staging, retired = _swap_folders(directory)[1:]
    _remove(staging)
    staging.mkdir(parents=True)
    write_files(staging)
    spaces = describe_spaces(RetailParallelEnv(scenario, **env_options))
    provenance = {"steps": steps, "wall_time_s": wall_time_s, "env_options": env_options}
    manifest = write_manifest(staging, scenario, spaces=spaces, **provenance, **fields)
    fsync_directory(staging)
    if directory.exists():
        _remove(retired)
        os.replace(directory, retired)
    os.replace(staging, directory)
    fsync_directory(directory.parent)
    _remove(retired)
    return manifest


def newest_checkpoint(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint among ``directory`` and its swap's ``.new`` and ``.old``
    (complete: its manifest verifies and records ``steps`` and ``wall_time_s``) and its
    manifest; on a tie ``directory`` itself; None when there is none. Reads only."""
    found = []
    for folder in _swap_folders(Path(directory)):
        try:
            manifest = None if folder.is_symlink() else read_manifest(folder)
        except CheckpointError:
            manifest = None
        if manifest and "wall_time_s" in manifest and isinstance(manifest.get("steps"), int):
            found.append((folder, manifest))
    return max(found, key=lambda item: item[1]["steps"], default=None)


def recover_checkpoint(directory: str | Path) -> dict[str, Any] | None:
    """Finish or undo a checkpoint swap a crash interrupted; return the kept manifest or None.

    The newest complete checkpoint (:func:`newest_checkpoint`) becomes ``directory``; the other
    swap folders are deleted, so call it only on a checkpoint folder of this project. Safe to
    rerun after a crash inside it.

    Examples
    --------
    >>> recover_checkpoint("runs/mtma_tiny_seed0/checkpoint")  # doctest: +SKIP
    {'baseline': 'mtma', 'steps': 4096, ...}
    """
    directory = Path(directory)
    found = newest_checkpoint(directory)
    for folder in _swap_folders(directory):
        if found is None or folder != found[0]:
            _remove(folder)
    if found is not None and found[0] != directory:
        os.replace(found[0], directory)
        fsync_directory(directory.parent)
    return found[1] if found else None


def _swap_folders(directory: Path) -> list[Path]:
    """The checkpoint, the one being written (``.new``) and the one it replaces (``.old``)."""
    return [directory, *(directory.with_name(directory.name + end) for end in (".new", ".old"))]


def _remove(path: Path) -> None:
    """Delete a file, a symlink (not its target) or a folder; nothing when it does not exist."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
