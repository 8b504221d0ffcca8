"""Checkpoint directories: a manifest with provenance and checksums, refused when corrupt or mismatched.

A checkpoint is a directory holding the trainer's files and ``manifest.json``::

    {"baseline": "mtma", "scenario": "coord/default-v0", "scenario_hash": "...",
     "spaces": {...}, "seed": 0, "steps": 200000, "command": "coord-bench train ...",
     "wall_time_s": 812.4, "coord_env_version": "0.1.0", "files": {"model.pt": "<sha256>"}, ...}

:func:`read_manifest` re-hashes every listed file and compares the scenario and spaces, so a
corrupt, truncated or foreign checkpoint is refused with a message saying what differs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from coord_env.scenarios import Scenario

__all__ = [
    "MANIFEST",
    "CheckpointError",
    "check_provenance",
    "describe_spaces",
    "file_sha256",
    "read_manifest",
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
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
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
        If the manifest is missing or unreadable, lists a name that is not a plain file name in
        the folder (``../x``, ``sub/x``, an absolute path) or a file that is a symlink, a file is
        missing or its checksum differs, or the scenario, spaces or baseline differ.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if path.is_symlink():
        raise CheckpointError(f"{path} is a symlink; a checkpoint's files must be its own")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{directory} is not a checkpoint: it has no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CheckpointError(f"{path} has no 'files' table of checksums")
    for name, expected in manifest["files"].items():
        file = directory / _plain_name(name, path)
        if file.is_symlink():
            raise CheckpointError(
                f"checkpoint file {file} is a symlink; a checkpoint's files must be its own"
            )
        if not file.is_file():
            raise CheckpointError(f"checkpoint {directory} is missing {name}")
        if file_sha256(file) != expected:
            raise CheckpointError(
                f"checkpoint file {file} is corrupt: its sha256 differs from the manifest's"
            )
    check_provenance(directory, manifest, scenario, spaces, baseline)
    return manifest


def _plain_name(name: Any, manifest: Path) -> str:
    """``name`` if it names a file directly inside the checkpoint folder, else CheckpointError."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
        or Path(name).name != name
    ):
        raise CheckpointError(
            f"{manifest} lists {str(name)[:80]!r}: manifest entries must be plain file names "
            "inside the checkpoint folder (no folders, '..' or absolute paths)"
        )
    return name


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
