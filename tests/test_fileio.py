"""Files survive crashes and symlinks: results documents, submissions, the verify rewrite,
leaderboard pages and checkpoint manifests (issue 19, items 3 and 4)."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

import coord_env
from coord_env.checkpoint import CheckpointError, read_manifest
from coord_env.cli import main
from coord_env.fileio import UnsafePathError, atomic_output, atomic_write_text
from coord_env.leaderboard import build_leaderboard
from coord_env.leaderboard.validate import load_submission

BOARD = ROOT / "leaderboards" / "tiny"
MTMA_CHECKPOINT = ROOT / "baselines" / "checkpoints" / "tiny" / "mtma"
SEEDS = ["1", "2", "3"]


def _crash_while_writing(argv: list[str], limit: int) -> None:
    """Run ``coord-bench argv`` in a child that the kernel kills (SIGXFSZ, no cleanup) as soon as
    it writes past ``limit`` bytes into any file: a crash halfway through a write."""

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; die like a crash\n"
        "from coord_env.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", code, *argv],
        preexec_fn=limit_file_size,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGXFSZ, child.stderr[-2000:]  # it did die mid-write


def _board_copy(tmp_path: Path) -> Path:
    """A scratch copy of the committed tiny leaderboard (baseline rows and its plot)."""
    root = tmp_path / "leaderboards"
    shutil.copytree(BOARD, root / "tiny")
    return root


# ------------------------------------------------------------------------- crashes mid-write
@pytest.mark.slow
def test_a_crash_halfway_through_evaluate_out_leaves_the_old_results_valid(tmp_path):
    """It left 4.8 KB of invalid JSON where a valid 19 KB file stood."""
    out = tmp_path / "old.json"
    argv = ["evaluate", "--scenario", "tiny", "--seeds", *SEEDS, "--quiet", "--out", str(out)]
    assert main([*argv[:1], "--policy", "siloed", *argv[1:]]) == 0
    before = out.read_bytes()
    _crash_while_writing([*argv[:1], "--policy", "coordinated", *argv[1:]], len(before) // 2)
    assert out.read_bytes() == before
    assert json.loads(before)["policy"] == "siloed"


@pytest.mark.slow
def test_a_crash_halfway_through_the_verify_rewrite_leaves_the_submission_valid(tmp_path):
    """verify truncated the submission; then build, check and every submit failed."""
    root = _board_copy(tmp_path)
    path = root / "tiny" / "siloed.json"
    before = path.read_bytes()
    _crash_while_writing(["verify", str(path), "--policy", "siloed", "--quiet"], len(before) // 2)
    assert path.read_bytes() == before
    assert load_submission(path)["method"]
    assert main(["leaderboard", "build", "--leaderboard", str(root)]) == 0


@pytest.mark.slow
def test_a_crash_halfway_through_submit_leaves_no_half_file(tmp_path):
    """A crash mid-submit left a half file that blocked every later submit and build."""
    root = _board_copy(tmp_path)
    (root / "tiny" / "siloed.json").unlink()  # so that siloed's results are not a duplicate
    results = tmp_path / "results.json"
    results.write_text(json.dumps(coord_env.evaluate("siloed", "tiny")))
    argv = ["submit", str(results), "--name", "Crash Test", "--authors", "A", "--budget", "5"]
    argv += ["--leaderboard", str(root)]
    _crash_while_writing(argv, 4096)
    assert not (root / "tiny" / "crash-test.json").exists()
    assert main(["leaderboard", "build", "--leaderboard", str(root)]) == 0
    assert main(argv) == 0
    assert load_submission(root / "tiny" / "crash-test.json")["method"] == "Crash Test"


# ------------------------------------------------------------------------------- symlinks
def test_leaderboard_build_never_writes_through_a_symlinked_plot(tmp_path, capsys):
    """leaderboards/tiny/profit_ci.svg -> ~/.bashrc was overwritten by leaderboard build."""
    root = _board_copy(tmp_path)
    outside = tmp_path / "bashrc"
    outside.write_text("export SECRET=1\n")
    (root / "tiny" / "profit_ci.svg").unlink()
    (root / "tiny" / "profit_ci.svg").symlink_to(outside)
    with pytest.raises(UnsafePathError, match=r"profit_ci\.svg: it is a symlink"):
        build_leaderboard(root)
    assert main(["leaderboard", "build", "--leaderboard", str(root)]) == 1
    assert "it is a symlink" in capsys.readouterr().err
    assert outside.read_text() == "export SECRET=1\n"
    assert (root / "tiny" / "profit_ci.svg").is_symlink()
    assert not (root / "README.md").exists()  # refused before any page was written


def test_evaluate_out_never_writes_through_a_symlink(tmp_path, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    link = tmp_path / "results.json"
    link.symlink_to(outside)
    argv = ["evaluate", "--policy", "siloed", "--scenario", "tiny", "--seeds", "1", "--quiet"]
    assert main([*argv, "--out", str(link)]) == 2
    assert "is a symlink" in capsys.readouterr().err
    assert outside.read_text() == "keep\n"


def test_run_never_writes_through_a_symlink_in_its_output_folder(tmp_path, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "tiny_profit.png").symlink_to(outside)
    argv = ["run", "--scenario", "tiny", "--num-seeds", "1", "--policies", "siloed", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "is a symlink" in capsys.readouterr().err
    assert outside.read_text() == "keep\n"


def test_a_plot_never_writes_through_a_symlink(tmp_path):
    from coord_env.harness.plots import plot_profit

    results = [coord_env.evaluate("siloed", "tiny", [1, 2])]
    assert plot_profit(results, tmp_path / "profit.png").read_bytes()[:4] == b"\x89PNG"
    assert plot_profit(results, tmp_path / "profit.svg").read_text().lstrip().startswith("<?xml")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (tmp_path / "link.png").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink"):
        plot_profit(results, tmp_path / "link.png")
    assert outside.read_text() == "keep\n"


def test_atomic_output_keeps_the_old_file_on_error_and_refuses_symlinks(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_output(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]  # no temporary left behind
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafePathError, match="symlink"):
        atomic_write_text(dangling, "x")
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(FileExistsError), atomic_output(target, "w", overwrite=False) as handle:
        handle.write("new\n")
    assert target.read_text() == "old\n"


# ------------------------------------------------------------------- checkpoint manifests
@pytest.fixture
def checkpoint(tmp_path):
    """A scratch copy of a committed checkpoint; it reads fine before each attack."""
    copy = tmp_path / "checkpoint"
    shutil.copytree(MTMA_CHECKPOINT, copy)
    read_manifest(copy, coord_env.load_scenario("tiny"))
    return copy


def _list(directory: Path, name: str, content: bytes) -> None:
    """Add ``name`` to the manifest, with the right checksum of ``content``."""
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(content).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["../x", "absolute", "sub/x", "..", "", "a\\b"])
def test_a_manifest_naming_a_file_outside_its_folder_is_refused(checkpoint, tmp_path, name):
    outside = tmp_path / "x"
    outside.write_bytes(b"payload")
    (checkpoint / "sub").mkdir()
    (checkpoint / "sub" / "x").write_bytes(b"payload")
    name = str(outside) if name == "absolute" else name
    _list(checkpoint, name, b"payload")  # the right checksum: only the name gives it away
    with pytest.raises(CheckpointError, match=r"not a file name in the folder"):
        read_manifest(checkpoint)


def test_a_symlinked_manifest_is_refused(checkpoint, tmp_path):
    outside = tmp_path / "manifest.json"
    (checkpoint / "manifest.json").rename(outside)
    (checkpoint / "manifest.json").symlink_to(outside)
    with pytest.raises(CheckpointError, match=r"manifest\.json is a symlink"):
        read_manifest(checkpoint)
