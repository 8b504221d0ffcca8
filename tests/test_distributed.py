"""Dask sweeps: evaluation episodes and training runs on a loopback cluster of 2 worker processes
give bit-identical results to serial runs; run folders are atomic, finished runs are skipped, and
failed or lost tasks are retried."""

import csv
import json
import os
import socket
import sys
from pathlib import Path

import cloudpickle
import pytest
import torch
from helpers import MTMA_FAST

import coord_env
from baselines.rl.training import TrainingRun, train, train_runs
from coord_env import distributed
from coord_env.checkpoint import MANIFEST
from coord_env.cli import main
from coord_env.distributed import SchedulerError, map_jobs

pytestmark = pytest.mark.slow  # Dask clusters and training sweeps: pytest -m slow

# MTMA (helpers.MTMA_FAST), not SB3: SB3's zips embed wall-clock start times, so their bytes never
# repeat
EVAL_SEEDS = (2_000_000, 2_000_001)
STEPS = 120


def _run(seed: int, out: Path, steps: int = STEPS) -> TrainingRun:
    return TrainingRun(
        "mtma", "tiny", steps, seed, str(out), 60, EVAL_SEEDS, command="test", config=MTMA_FAST
    )


def _serial(seed: int, out: Path, steps: int = STEPS) -> Path:
    return train(
        "mtma",
        "tiny",
        steps,
        seed,
        out,
        eval_every=60,
        eval_seeds=EVAL_SEEDS,
        progress=False,
        command="test",
        config=MTMA_FAST,
    )


def _bits(value):
    """A bit-exact, comparable rendering of a loaded torch checkpoint."""
    if isinstance(value, dict):
        return tuple((repr(key), _bits(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_bits(item) for item in value)
    if isinstance(value, torch.Tensor):
        return (str(value.dtype), tuple(value.shape), value.detach().numpy().tobytes())
    return repr(value)  # numbers, strings, None, numpy states: repr round-trips floats exactly


def _fingerprint(run: Path, exact: bool = True) -> dict:
    """Every byte of the checkpoint and the log, but the measured wall times.

    A resumed run pickles the same state into different bytes (pickle's memo), so with
    ``exact=False`` the torch files are compared by their loaded contents, bit for bit.
    """
    checkpoint = run / "checkpoint"
    files = {
        path.name: path.read_bytes()
        if exact or path.suffix != ".pt"
        else _bits(torch.load(path, weights_only=False))
        for path in sorted(checkpoint.iterdir())
        if path.name != MANIFEST
    }
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    manifest.pop("wall_time_s")
    if not exact:
        manifest.pop("files")  # digests of the bytes
    with open(run / "progress.csv", newline="") as handle:
        log = [
            {k: v for k, v in row.items() if k != "wall_time_s"} for row in csv.DictReader(handle)
        ]
    return {"files": files, "manifest": manifest, "log": log}


def test_evaluation_on_the_cluster_equals_serial(dask_cluster):
    seeds = [3, 1, 4, 1_000_007]
    serial = coord_env.evaluate("coordinated", "tiny", seeds)
    fanned = coord_env.evaluate("coordinated", "tiny", seeds, scheduler=dask_cluster)
    assert [row["seed"] for row in fanned["per_seed"]] == seeds  # job order, not finish order
    assert fanned == serial


@pytest.fixture(scope="module")
def sweep(dask_cluster, tmp_path_factory):
    """Two MTMA seeds trained serially and on the cluster."""
    root = tmp_path_factory.mktemp("sweep")
    for seed in (0, 1):
        _serial(seed, root / "serial" / f"seed{seed}")
    runs = [_run(seed, root / "dask" / f"seed{seed}") for seed in (0, 1)]
    paths = train_runs(runs, scheduler=dask_cluster, progress=False)
    return root, runs, paths


def test_a_training_sweep_on_the_cluster_is_bit_identical_to_serial_runs(sweep):
    root, _, paths = sweep
    assert paths == [root / "dask" / f"seed{seed}" / "checkpoint" for seed in (0, 1)]
    for seed in (0, 1):
        assert _fingerprint(root / "dask" / f"seed{seed}") == _fingerprint(
            root / "serial" / f"seed{seed}"
        )
    assert _fingerprint(root / "dask" / "seed0") != _fingerprint(root / "dask" / "seed1")
    assert not list((root / "dask").glob("*.partial")) and not list((root / "dask").glob("*.old"))


def test_a_rerun_skips_finished_runs(sweep, dask_cluster):
    _, runs, paths = sweep
    stamps = [(path / MANIFEST).stat().st_mtime_ns for path in paths]
    assert train_runs(runs, scheduler=dask_cluster, progress=False) == paths
    assert [(path / MANIFEST).stat().st_mtime_ns for path in paths] == stamps


def test_a_lost_task_resumes_from_its_staging_folder_bit_identically(dask_cluster, tmp_path):
    """A worker died mid-run: OUT.partial holds its last checkpoint, OUT does not exist yet."""
    _serial(2, tmp_path / "seed2.partial", steps=60)
    (tmp_path / "seed2.partial" / "written_by_the_lost_worker").touch()
    assert train_runs([_run(2, tmp_path / "seed2")], scheduler=dask_cluster, progress=False)
    _serial(2, tmp_path / "uninterrupted")
    assert _fingerprint(tmp_path / "seed2", exact=False) == _fingerprint(
        tmp_path / "uninterrupted", exact=False
    )
    assert (tmp_path / "seed2" / "written_by_the_lost_worker").exists()  # resumed, not restarted
    assert not (tmp_path / "seed2.partial").exists()


def test_a_larger_budget_resumes_a_finished_folder_and_replaces_it_whole(tmp_path):
    _serial(3, tmp_path / "seed3", steps=60)
    (path,) = train_runs([_run(3, tmp_path / "seed3")], progress=False)
    _serial(3, tmp_path / "uninterrupted")
    assert _fingerprint(tmp_path / "seed3", exact=False) == _fingerprint(
        tmp_path / "uninterrupted", exact=False
    )
    assert json.loads((path / MANIFEST).read_text())["steps"] == STEPS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed3", "uninterrupted"]


def test_a_folder_of_another_run_or_a_shared_folder_is_refused(tmp_path):
    _serial(4, tmp_path / "seed4", steps=60)
    with pytest.raises(ValueError, match="holds seed 4, not seed 5"):
        train_runs([_run(5, tmp_path / "seed4")], progress=False)
    with pytest.raises(ValueError, match="own out folder"):
        train_runs([_run(5, tmp_path / "x"), _run(6, tmp_path / "x")], progress=False)


# The tasks below run on the workers, which cannot import this test module: ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _fail_once(marker: str) -> int:
    """Raise the first time (the marker file remembers), then succeed."""
    if not os.path.exists(marker):
        Path(marker).touch()
        raise RuntimeError("first attempt fails")
    return os.getpid()


def _die_once(marker: str) -> str:
    """Kill the worker process the first time, as a lost machine would, then succeed."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return marker


def test_a_failed_task_is_retried(dask_cluster, tmp_path):
    markers = [str(tmp_path / f"fail{i}") for i in range(2)]
    assert len(map_jobs(_fail_once, markers, scheduler=dask_cluster, retries=1)) == 2
    again = [str(tmp_path / f"again{i}") for i in range(1)]
    with pytest.raises(RuntimeError, match="first attempt fails"):
        map_jobs(_fail_once, again, scheduler=dask_cluster, retries=0)


def test_a_task_whose_worker_dies_is_rerun_on_another(dask_cluster, tmp_path):
    markers = [str(tmp_path / "die0"), str(tmp_path / "die1")]
    assert map_jobs(_die_once, markers, scheduler=dask_cluster) == markers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_bad_scheduler_says_what_is_allowed(monkeypatch, capsys):
    with pytest.raises(SchedulerError, match=r"scheduler must be None, 'local' or .*got 'nowhere'"):
        coord_env.evaluate("siloed", "tiny", [1], scheduler="nowhere")
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", "1s")
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerError, match="no Dask scheduler answered"):
        map_jobs(abs, [1], scheduler=address)
    argv = ["evaluate", "--policy", "siloed", "--scenario", "tiny", "--seeds", "1", "--quiet"]
    code = main([*argv, "--out", os.devnull, "--scheduler", "udp://x"])
    assert code == 2
    assert "scheduler must be None" in capsys.readouterr().err
    assert map_jobs(abs, [-1, 2]) == [1, 2]  # and everything stays usable


def test_without_dask_the_error_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'coord-env\[dask\]'"):
        map_jobs(abs, [1], scheduler="local")
    argv = ["evaluate", "--policy", "siloed", "--scenario", "tiny", "--seeds", "1", "--quiet"]
    assert main([*argv, "--out", os.devnull, "--scheduler", "local"]) == 2
    assert "pip install 'coord-env[dask]'" in capsys.readouterr().err


def test_bad_retries_and_keys_are_refused():
    with pytest.raises(ValueError, match="retries must be a non-negative integer"):
        map_jobs(abs, [1], retries=-1)
    with pytest.raises(ValueError, match="keys must name every job"):
        map_jobs(abs, [1, 2], keys=["one"])


def test_coord_bench_train_sweeps_names_and_seeds_on_the_cluster(dask_cluster, tmp_path, capsys):
    config = [f"{key}={value}" for key, value in MTMA_FAST.items()]
    argv = ["train", "mtma", "mtma_reversed", "--scenario", "tiny", "--steps", "60"]
    argv += ["--seeds", "0", "1", "--out", str(tmp_path), "--quiet", "--config", *config]
    assert main([*argv, "--scheduler", dask_cluster]) == 0
    folders = {f"{n}_tiny_seed{s}" for n in ("mtma", "mtma_reversed") for s in (0, 1)}
    assert {path.name for path in tmp_path.iterdir()} == folders
    checkpoint = tmp_path / "mtma_tiny_seed1" / "checkpoint"
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    assert (manifest["baseline"], manifest["seed"], manifest["steps"]) == ("mtma", 1, 60)
    assert manifest["command"].startswith(
        "coord-bench train mtma --scenario tiny --steps 60 --seed 1"
    )
    stamp = (checkpoint / MANIFEST).stat().st_mtime_ns
    assert main(argv) == 0  # the same sweep again, here: nothing left to train
    assert (checkpoint / MANIFEST).stat().st_mtime_ns == stamp
    assert main(["train", "mtma", "--steps", "60", "--seeds", "3", "3"]) == 2
    assert "given twice" in capsys.readouterr().err
