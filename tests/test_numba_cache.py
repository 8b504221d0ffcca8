"""The compiled kernel's cache works from a read-only install (issue 20): docs/speed.md."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import coord_env
from coord_env.core import jit


def _unwritable_package(root: Path) -> Path:
    """A copy of coord_env under ``root`` that takes no new file, even for root (who ignores
    permission bits): ``core/__pycache__`` is a plain file, so no cache folder can be made there."""
    package = root / "site" / "coord_env"
    shutil.copytree(
        Path(coord_env.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    (package / "core" / "__pycache__").write_text("not a folder\n")
    for folder, _, files in os.walk(package):
        for name in files:
            path = Path(folder) / name
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        Path(folder).chmod(0o555)
    return package


def test_numba_cache_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert jit.cache_folder() is None


def test_an_unwritable_package_caches_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(jit.config, "CACHE_DIR", "")
    source = tmp_path / "core"
    source.mkdir()
    (source / "__pycache__").write_text("not a folder\n")
    monkeypatch.setattr(jit, "_SOURCE_FOLDER", source)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert jit.cache_folder() == tmp_path / "cache" / "coord_env" / "numba"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="permission bits")
def test_a_read_only_copy_of_the_package_imports_steps_and_fills_the_user_cache(tmp_path):
    package = _unwritable_package(tmp_path)
    before = sorted(path.name for path in package.rglob("*"))
    script = textwrap.dedent(
        """
        import numpy as np
        import coord_env
        from coord_env.core import jit
        env = coord_env.parallel_env("tiny")
        env.reset(seed=0)
        env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        print(coord_env.__file__)
        print(jit.cache_folder())
        """
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_")}
    environment.update(
        PYTHONPATH=str(package.parent),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HOME=str(tmp_path / "home"),
        PYTHONDONTWRITEBYTECODE="1",  # Python's own bytecode cache is not ours to test
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=tmp_path,  # not the checkout: ``python -c`` puts the working folder first
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported, folder = result.stdout.split()
    assert Path(imported).parent == package
    assert Path(folder) == tmp_path / "cache" / "coord_env" / "numba"
    assert list(Path(folder).rglob("*.nbi")), "no compiled function was cached"
    assert sorted(path.name for path in package.rglob("*")) == before  # nothing written there
