"""numba compilation for the kernel, with an on-disk cache that also works from a read-only install.

numba caches compiled code (``cache=True``) next to the source, in ``coord_env/core/__pycache__``.
When that folder is not writable (a system-wide or read-only install) and ``NUMBA_CACHE_DIR`` is
unset, the kernel's functions are cached in a per-user folder instead:
``$XDG_CACHE_HOME/coord_env/numba`` (``~/.cache/coord_env/numba`` by default), or failing that a
folder in the temporary directory. If no folder is writable, the kernel compiles at every start.
``NUMBA_CACHE_DIR`` always wins (numba reads it itself). The choice applies to this package's
functions only: the folder is set while they are decorated and restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numba
from numba.core import config

__all__ = ["cache_folder", "kernel_jit"]

_SOURCE_FOLDER = pathlib.Path(__file__).resolve().parent


def _writable(folder: pathlib.Path) -> bool:
    """Whether ``folder`` exists or can be made, and takes a new file (checked by making one)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _user_folders() -> list[pathlib.Path]:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return [
        base / "coord_env" / "numba",
        pathlib.Path(tempfile.gettempdir()) / f"coord_env-numba-{uid}",
    ]


def cache_folder() -> pathlib.Path | None:
    """The folder numba's cache of the kernel goes to, or None to leave it to numba.

    None when ``NUMBA_CACHE_DIR`` is set or the package's ``__pycache__`` is writable (numba's
    own rules then put the cache there).

    Returns
    -------
    pathlib.Path or None

    Raises
    ------
    FileNotFoundError
        If no folder at all can hold the cache (then :func:`kernel_jit` compiles without one).
    """
    if config.CACHE_DIR or os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(_SOURCE_FOLDER / "__pycache__"):
        return None
    for folder in _user_folders():
        if _writable(folder):
            return folder
    raise FileNotFoundError("no writable folder for numba's cache")


@contextlib.contextmanager
def _cache_dir(folder: pathlib.Path) -> Iterator[None]:
    previous = config.CACHE_DIR
    config.CACHE_DIR = str(folder)
    try:
        yield
    finally:
        config.CACHE_DIR = previous


try:
    _FOLDER: pathlib.Path | None = cache_folder()
    _CACHE = True
except FileNotFoundError:
    _FOLDER, _CACHE = None, False


def kernel_jit(
    function: Callable[..., Any] | None = None, *, signatures: Any = None
) -> Callable[..., Any]:
    """``numba.njit(cache=True, nogil=True)`` with the cache folder of :func:`cache_folder`.

    Every compiled function of the package goes through this one decorator, so all of them cache
    where a read-only install can. ``nogil``: envs stepped in threads (one generator each) run
    their ticks side by side, as the numpy kernel's draws did (numpy released the GIL in them).

    Parameters
    ----------
    function : callable, optional
        The function to compile; omit it to get a decorator (``@kernel_jit(signatures=...)``).
    signatures : numba signature or list of them, optional
        Compile eagerly for these types only (one compilation whatever the arrays' layout).

    Examples
    --------
    >>> from coord_env.core.kernel import multinomial
    >>> type(multinomial).__name__  # compiled on its first call, then cached on disk
    'CPUDispatcher'
    """

    def compile_(function: Callable[..., Any]) -> Callable[..., Any]:
        arguments = () if signatures is None else (signatures,)
        if _FOLDER is None:
            return numba.njit(*arguments, cache=_CACHE, nogil=True)(function)
        with _cache_dir(_FOLDER):
            return numba.njit(*arguments, cache=True, nogil=True)(function)

    return compile_ if function is None else compile_(function)
