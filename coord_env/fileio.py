"""Files written whole or not at all, and never through a symlink.

Every file the project writes (results documents, submissions, leaderboard pages and plots,
training logs, checkpoints) goes through :func:`atomic_output`: the bytes go to a temporary file in
the target's folder, which is flushed, fsynced and then renamed over the target with
:func:`os.replace`. A crash at any point leaves either the old file or the new one, never a half.
A target that is a symlink is refused, so a committed link cannot redirect a write elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "UnsafePathError",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_path",
    "fsync_directory",
]


class UnsafePathError(ValueError):
    """A path the project refuses to write: a symlink, a folder, or a file in a missing folder."""


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check, before any work, that ``path`` can be written as a file; return it as a Path.

    Raises
    ------
    UnsafePathError
        If ``path`` is a symlink (even a dangling one), an existing folder, or its folder does not
        exist or is not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_path(folder / "results.json").name
    'results.json'
    """
    path = Path(path)
    if path.is_symlink():
        raise UnsafePathError(f"refusing to write {path}: it is a symlink (to {os.readlink(path)})")
    if path.is_dir():
        raise UnsafePathError(f"refusing to write {path}: it is a folder, not a file")
    parent = path.parent
    if not parent.is_dir():
        raise UnsafePathError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnsafePathError(f"cannot write {path}: the folder {parent} is not writable")
    return path


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], mode: str = "wb", *, overwrite: bool = True, **open_args: Any
) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block ends without an exception.

    Parameters
    ----------
    path : path-like
        The file to write. Checked by :func:`check_output_path`.
    mode : {"wb", "w"}
        Binary or text.
    overwrite : bool
        False: the finished file is linked into place only if ``path`` does not exist yet
        (:class:`FileExistsError` otherwise, even in a race), never replacing a file.
    **open_args
        Passed to :func:`open` for text mode (``encoding``, ``newline``).

    Raises
    ------
    UnsafePathError
        See :func:`check_output_path`.
    FileExistsError
        ``overwrite=False`` and ``path`` exists.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target, "w", encoding="utf-8") as handle:
    ...     _ = handle.write("whole")
    >>> target.read_text()
    'whole'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    target = check_output_path(path)
    permissions = _permissions(target)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(descriptor, permissions)  # mkstemp makes 0600; keep the file's (or umask's) mode
        with os.fdopen(descriptor, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.is_symlink():  # created while we wrote: still never write through it
            raise UnsafePathError(f"refusing to write {target}: it became a symlink")
        if overwrite:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # fails on any existing entry, a symlink included
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(target.parent)


def _permissions(target: Path) -> int:
    """The mode the new file gets: the old file's, else what ``open`` would give under the umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends to ``path`` atomically."""
    with atomic_output(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
