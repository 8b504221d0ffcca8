"""Train any RL baseline by name: progress bar, CSV (and TensorBoard) logs, periodic evaluation on
held-out seeds, and resumable checkpoints. ``coord-bench train`` calls :func:`train`.

A run directory holds::

    run.json            the run's baseline, scenario, seed and hyperparameters (who owns the folder)
    progress.csv        one row per evaluation: steps, wall time, held-out profit, update stats
    checkpoint/         the latest trainer state and its manifest.json (resume from it)
    tensorboard/        the same scalars, when the tensorboard package is installed

Every file is written atomically; checkpoints go through the folder contract of
:mod:`coord_env.checkpoint` (:func:`save_trainer`, :func:`load_trainer`): a crash at any point of
a checkpoint swap leaves a complete checkpoint that ``recover_checkpoint`` keeps.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from baselines.rl.names import RL_BASELINES
from baselines.rl.trainer import Trainer
from coord_env.checkpoint import (
    MANIFEST,
    CheckpointError,
    check_provenance,
    newest_checkpoint,
    read_json,
    read_manifest,
    recover_checkpoint,
    save_checkpoint,
)
from coord_env.distributed import map_jobs
from coord_env.fileio import atomic_output, atomic_write_text
from coord_env.harness.evaluate import evaluate
from coord_env.harness.seeds import VALIDATION_SEEDS
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "CHECKPOINT",
    "RL_BASELINES",
    "TrainingRun",
    "finished",
    "load_trainer",
    "save_trainer",
    "train",
    "train_runs",
    "trainer_class",
]

CHECKPOINT = "checkpoint"
PROGRESS = "progress.csv"
RUN_RECORD = "run.json"


def _registry() -> dict[str, Callable[..., Trainer]]:
    from baselines.rl.mtma import MTMA_TRAINERS
    from baselines.rl.sb3 import SB3_TRAINERS

    return {**SB3_TRAINERS, **MTMA_TRAINERS}


def trainer_class(name: str) -> Callable[..., Trainer]:
    """The trainer factory of an RL baseline.

    Raises
    ------
    KeyError
        An unknown name; the message lists the RL baselines.
    """
    registry = _registry()
    if name not in registry:
        raise KeyError(f"unknown RL baseline {name!r}; RL baselines: {', '.join(RL_BASELINES)}")
    return registry[name]


def load_trainer(directory: str | Path, scenario: Scenario | None = None) -> Trainer:
    """Load a checkpoint directory (its manifest says which baseline and scenario it holds).

    Raises
    ------
    CheckpointError
        If the checkpoint is corrupt, or was trained on a different scenario than ``scenario``.
    """
    directory = Path(directory)
    return _verified_trainer(directory, read_manifest(directory, scenario), scenario)


def _verified_trainer(
    directory: Path, manifest: dict[str, Any], scenario: Scenario | None
) -> Trainer:
    """:func:`load_trainer` after ``read_manifest`` has verified ``manifest``, so that a caller
    who already holds the verified manifest does not read and hash the files again."""
    if scenario is None:
        scenario = load_scenario(manifest["scenario"].split("/")[1].rsplit("-v", 1)[0])
        if scenario.content_hash != manifest["scenario_hash"]:
            raise CheckpointError(
                f"checkpoint {directory} was trained on a version of {manifest['scenario']} "
                f"(hash {manifest['scenario_hash']}) that this coord_env does not ship"
            )
    name = manifest.get("baseline")
    try:
        factory = trainer_class(name)
    except KeyError as error:
        raise CheckpointError(f"checkpoint {directory}: {error.args[0]}") from None
    trainer = factory.load(directory, scenario)
    if trainer.name != name:
        raise CheckpointError(
            f"checkpoint {directory}: its manifest says {name!r}, its files hold {trainer.name!r}"
        )
    return trainer


class _Log:
    """progress.csv, appended across resumes and rewritten whole (atomically) on each row, and
    TensorBoard when it is installed."""

    def __init__(self, directory: Path):
        self.path = directory / PROGRESS
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(directory / "tensorboard"))
        except ImportError:  # tensorboard is optional
            pass

    def write(self, row: dict[str, float]) -> None:
        rows: list[dict] = []
        if self.path.exists():  # columns may grow (update stats appear after the first update)
            with open(self.path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        rows.append(row)
        _write_rows(self.path, rows)
        if self.writer is not None:
            for key, value in row.items():
                if key != "steps":
                    self.writer.add_scalar(key, value, int(row["steps"]))
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _write_rows(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as a CSV file atomically, with the union of their columns in order."""
    fields = list(dict.fromkeys(key for entry in rows for key in entry))
    with atomic_output(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _drop_progress_after(out: Path, steps: int) -> None:
    """Drop the rows of ``out/progress.csv`` beyond ``steps`` (logged before a crash lost their
    checkpoint), so that a resumed run logs each step once."""
    path = out / PROGRESS
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [row for row in rows if int(float(row["steps"])) <= steps]
    if not kept:
        path.unlink()
    elif len(kept) != len(rows):
        _write_rows(path, kept)


def _held_out_profit(trainer: Trainer, seeds: Sequence[int]) -> tuple[float, float]:
    policy = trainer.policy()
    result = evaluate(
        lambda env: policy, trainer.scenario, seeds, env_options=dict(trainer.env_options)
    )
    profits = np.array([row["profit"] for row in result["per_seed"]])
    return float(profits.mean()), float(profits.std(ddof=1) if len(profits) > 1 else 0.0)


def train(
    name: str,
    scenario: str | Scenario,
    steps: int,
    seed: int,
    out: str | Path,
    *,
    eval_every: int = 0,
    eval_seeds: Sequence[int] = VALIDATION_SEEDS,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    config: dict[str, Any] | None = None,
    torch_threads: int = 1,
) -> Path:
    """Train ``name`` on ``scenario`` for ``steps`` environment steps; return the checkpoint path.

    Parameters
    ----------
    name : str
        An RL baseline (``RL_BASELINES``).
    scenario : str or Scenario
    steps : int
        The total budget in environment steps (a resumed run continues up to it).
    seed : int
        The training seed, in ``[0, 1_000_000)``.
    out : path
        The run directory.
    eval_every : int
        Evaluate on ``eval_seeds`` and save a checkpoint every this many steps (0: ten times per run).
    eval_seeds : sequence of int
        Held-out seeds (default ``VALIDATION_SEEDS``; never the official evaluation seeds).
    resume : bool
        Continue from the newest complete checkpoint in ``out`` instead of starting afresh (see
        :func:`coord_env.checkpoint.recover_checkpoint`).
    progress : bool
        Show a progress bar.
    command : str, optional
        The command line recorded in the manifest.
    config : dict, optional
        Hyperparameters for the trainer (its config's fields).
    torch_threads : int
        Torch intra-op threads while training (restored after). The networks are small, so extra
        threads only contend for the cores (docs/training.md, "One torch thread").

    Raises
    ------
    KeyError
        An unknown baseline.
    ValueError
        A non-positive budget; without ``resume``, a run folder that already holds a checkpoint,
        or that is not empty and holds no ``run.json`` of this baseline, scenario, seed and
        config; on resume, a checkpoint of another seed or hyperparameters. Nothing in ``out``
        changes.
    CheckpointError
        On resume, if no checkpoint is complete, or it is of another baseline or scenario.
    """
    s = load_scenario(scenario)
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    from baselines.rl.threads import torch_threads as threads

    with threads(torch_threads):
        return _train(
            name,
            s,
            steps,
            seed,
            Path(out),
            eval_every,
            eval_seeds,
            resume,
            progress,
            command,
            config,
        )


def _train(
    name: str,
    s: Scenario,
    steps: int,
    seed: int,
    out: Path,
    eval_every: int,
    eval_seeds: Sequence[int],
    resume: bool,
    progress: bool,
    command: str | None,
    config: dict[str, Any] | None,
) -> Path:
    """The training loop of :func:`train`, with torch threads already set."""
    checkpoint = out / CHECKPOINT
    if out.exists() and not out.is_dir():
        raise ValueError(f"the run folder {out} is a file; choose a folder")
    if resume:
        trainer, wall_time = _resumed_trainer(name, s, seed, out, config)
    else:
        trainer = trainer_class(name)(s, seed, **(config or {}))
        _check_fresh_folder(out, _run_record(name, trainer))
        wall_time = 0.0
    # the folder is this run's: only now finish an interrupted swap and drop lost log rows
    manifest = recover_checkpoint(checkpoint) if out.is_dir() else None
    _drop_progress_after(out, int(manifest["steps"]) if manifest else 0)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / RUN_RECORD).is_file():
        record = _run_record(name, trainer)
        atomic_write_text(out / RUN_RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
    every = eval_every if eval_every > 0 else max(1, steps // 10)
    saving = {"budget": steps, "eval_seeds": eval_seeds, "command": command}
    log = _Log(out)
    bar = tqdm(
        total=steps,
        initial=min(trainer.steps_done, steps),
        desc=f"{name} on {s.env_id}",
        unit="step",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        while trainer.steps_done < steps:
            before, started = trainer.steps_done, time.perf_counter()
            chunk = min(every - trainer.steps_done % every, steps - trainer.steps_done)
            stats = trainer.learn(chunk)
            wall_time += time.perf_counter() - started
            bar.update(min(trainer.steps_done, steps) - min(before, steps))
            mean, spread = _held_out_profit(trainer, eval_seeds)
            bar.set_postfix(profit=f"{mean:,.0f}")
            log.write(
                {
                    "steps": trainer.steps_done,
                    "wall_time_s": round(wall_time, 3),
                    "eval_profit_mean": mean,
                    "eval_profit_std": spread,
                    **{key: float(value) for key, value in stats.items()},
                }
            )
            save_trainer(trainer, checkpoint, **saving, wall_time=wall_time)
    finally:
        bar.close()
        log.close()
    if not (checkpoint / MANIFEST).exists():  # a resume past its budget: nothing to do
        save_trainer(trainer, checkpoint, **saving, wall_time=wall_time)
    return checkpoint


def _run_record(name: str, trainer: Trainer) -> dict[str, Any]:
    """What makes a run folder this run's: baseline, scenario version, seed, hyperparameters."""
    record = {
        "baseline": name,
        "scenario": trainer.scenario.env_id,
        "scenario_hash": trainer.scenario.content_hash,
        "seed": trainer.seed,
        "config": dataclasses.asdict(trainer.config),
    }
    return json.loads(json.dumps(record, default=repr))  # tuples as lists, as read back


def _read_run_record(out: Path) -> dict[str, Any] | None:
    """``out/run.json``, or None when it is missing, a symlink or not a JSON object."""
    try:
        return read_json(out / RUN_RECORD)
    except CheckpointError:
        return None


def _record_differences(recorded: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """The settings on which two run records differ, as "field: recorded vs asked" strings."""
    differing = [
        f"{key}: {recorded.get(key)!r} vs {asked[key]!r}"
        for key in ("baseline", "scenario", "scenario_hash", "seed")
        if recorded.get(key) != asked[key]
    ]
    config = recorded.get("config") if isinstance(recorded.get("config"), dict) else {}
    differing += [
        f"{key}: {config.get(key)!r} vs {value!r}"
        for key, value in sorted(asked["config"].items())
        if config.get(key) != value
    ]
    return differing


def _check_fresh_folder(out: Path, record: dict[str, Any]) -> None:
    """Refuse, before anything changes, a folder that is neither empty nor this run's.

    A folder holding this run's ``run.json`` but no complete checkpoint (killed before its first
    checkpoint) is this run's and starts afresh.
    """
    if not out.is_dir() or not any(out.iterdir()):
        return
    if newest_checkpoint(out / CHECKPOINT) is not None:
        raise ValueError(
            f"{out} already holds a checkpoint; pass resume=True (--resume) to continue it, "
            "or choose another output folder"
        )
    recorded = _read_run_record(out)
    what = f"{record['baseline']} on {record['scenario']} with seed {record['seed']}"
    if recorded is None:
        raise ValueError(
            f"{out} is not empty and is not a run of {what} (it has no {RUN_RECORD}); train into "
            f"an empty or new folder. Nothing in {out} was changed"
        )
    differing = _record_differences(recorded, record)
    if differing:
        raise ValueError(
            f"{out} holds a run of other settings ({'; '.join(differing)}); train into an empty "
            f"or new folder. Nothing in {out} was changed"
        )


def _resumed_trainer(
    name: str, s: Scenario, seed: int, out: Path, config: dict[str, Any] | None
) -> tuple[Trainer, float]:
    """The trainer to resume in ``out`` and its wall time so far, after checking that the folder
    holds a run of this baseline, scenario, seed and hyperparameters (nothing is changed)."""
    found = newest_checkpoint(out / CHECKPOINT)
    if found is None:
        recorded = _read_run_record(out) if out.is_dir() else None
        if recorded is None:
            raise CheckpointError(
                f"{out} holds no complete checkpoint to resume ({CHECKPOINT}/{MANIFEST} that "
                "verifies) and no run record"
            )
        trainer = trainer_class(name)(s, seed, **(config or {}))
        differing = _record_differences(recorded, _run_record(name, trainer))
        if differing:
            raise ValueError(f"{out} holds a run of other settings ({'; '.join(differing)})")
        return trainer, 0.0  # killed before its first checkpoint: resume from step 0
    directory, manifest = found  # verified by newest_checkpoint
    check_provenance(directory, manifest, s, baseline=name)
    if manifest.get("seed") != seed:
        raise ValueError(
            f"{out} is a run of seed {manifest.get('seed')!r}, not seed {seed}: resume it with "
            f"seed {manifest.get('seed')!r} (--seed), or train seed {seed} into a fresh folder"
        )
    trainer = _verified_trainer(directory, manifest, s)
    differing = config_mismatch(trainer, config)
    if differing:
        raise ValueError(
            f"{out / CHECKPOINT} was trained with other hyperparameters ({'; '.join(differing)}); "
            "resuming keeps the checkpoint's, so train into a fresh folder instead"
        )
    return trainer, float(manifest["wall_time_s"])


@dataclass(frozen=True)
class TrainingRun:
    """One run of a sweep: the arguments of :func:`train` for one (baseline, scenario, seed, config).

    ``out`` is the run folder; :func:`train_runs` writes it whole or not at all.
    """

    name: str
    scenario: str
    steps: int
    seed: int
    out: str
    eval_every: int = 0
    eval_seeds: tuple[int, ...] = tuple(VALIDATION_SEEDS)
    command: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The run's Dask task key: the same run always gets the same key."""
        return f"train-{self.name}-{self.scenario}-seed{self.seed}-{self.out}"


def finished(run: TrainingRun) -> bool:
    """Whether ``run.out`` holds a valid final checkpoint of this run (steps >= budget, and the
    hyperparameters of ``run.config``).

    Raises
    ------
    ValueError
        The folder holds a checkpoint of another baseline, scenario or seed, or it holds no
        checkpoint and is neither empty nor a run of this baseline, scenario and seed.
    """
    checkpoint = Path(run.out) / CHECKPOINT
    if not (checkpoint / MANIFEST).is_file():
        _check_sweep_folder(run)
        return False
    scenario = load_scenario(run.scenario)
    try:
        manifest = read_manifest(checkpoint, scenario, baseline=run.name)
    except CheckpointError as error:
        raise ValueError(f"run folder {run.out}: {error}") from None
    if int(manifest["seed"]) != run.seed:
        raise ValueError(
            f"run folder {run.out} holds seed {manifest['seed']}, not seed {run.seed}: "
            "give each run its own folder"
        )
    if int(manifest["steps"]) < run.steps:
        return False
    return not config_mismatch(_verified_trainer(checkpoint, manifest, scenario), run.config)


def _check_sweep_folder(run: TrainingRun) -> None:
    """Refuse a non-empty ``run.out`` without a checkpoint unless its ``run.json`` is of this
    baseline, scenario and seed (a sweep replaces the folder whole when the run finishes)."""
    out = Path(run.out)
    if not out.is_dir() or not any(out.iterdir()):
        return
    recorded = _read_run_record(out) or {}
    asked = {
        "baseline": run.name,
        "scenario": load_scenario(run.scenario).env_id,
        "seed": run.seed,
    }
    differing = [
        f"{key}: {recorded.get(key)!r} vs {value!r}"
        for key, value in asked.items()
        if recorded.get(key) != value
    ]
    if differing:
        raise ValueError(
            f"run folder {out} is not empty and is not a run of {run.name} on "
            f"{asked['scenario']} with seed {run.seed} ({'; '.join(differing)}): give each run "
            "its own folder. Nothing in it was changed"
        )


def config_mismatch(trainer: Trainer, config: dict[str, Any] | None) -> list[str]:
    """The fields of ``config`` on which ``trainer``'s hyperparameters differ, as "field: mine vs
    asked" strings (empty when they agree or no config is asked for)."""
    current = dataclasses.asdict(trainer.config)

    def plain(value: Any) -> Any:  # a tuple field given as a list is the same setting
        return list(value) if isinstance(value, tuple) else value

    return [
        f"{field}: {current.get(field)!r} vs {value!r}"
        for field, value in sorted((config or {}).items())
        if plain(current.get(field)) != plain(value)
    ]


def _train_run(run: TrainingRun, progress: bool = False) -> str:
    """A sweep's task: train ``run`` into a staging sibling folder, then swap it onto ``run.out``.

    A finished run is skipped. The staging folder survives a lost worker, so the retried task
    resumes from its last checkpoint (resuming is bit-identical to an uninterrupted run); an
    unfinished ``run.out`` (a smaller budget before) is copied there and resumed to the budget,
    unless it was trained with other hyperparameters than ``run.config``: then the run starts
    afresh (and replaces it when done).
    """
    out = Path(run.out)
    if finished(run):
        return str(out / CHECKPOINT)
    staging = out.with_name(out.name + ".partial")
    if newest_checkpoint(staging / CHECKPOINT) is None:
        shutil.rmtree(staging, ignore_errors=True)
        previous = out / CHECKPOINT
        if (previous / MANIFEST).is_file() and not config_mismatch(
            load_trainer(previous, load_scenario(run.scenario)), run.config
        ):
            shutil.copytree(out, staging)
    train(
        run.name,
        run.scenario,
        run.steps,
        run.seed,
        staging,
        eval_every=run.eval_every,
        eval_seeds=run.eval_seeds,
        resume=newest_checkpoint(staging / CHECKPOINT) is not None,
        progress=progress,
        command=run.command,
        config=run.config,
    )
    if out.exists():  # rename() does not replace a non-empty folder: move the old one aside
        retired = out.with_name(out.name + ".old")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, out)
    return str(out / CHECKPOINT)


def train_runs(
    runs: Sequence[TrainingRun],
    *,
    scheduler: str | None = None,
    workers: int = 0,
    retries: int = 2,
    progress: bool = True,
) -> list[Path]:
    """Train a sweep of runs, here or on a Dask cluster; return their checkpoint paths in order.

    Each run writes its folder atomically (trained in ``OUT.partial``, then renamed onto ``OUT``),
    runs whose folder already holds a finished checkpoint are skipped, and a task whose worker
    dies is retried, resuming from its last checkpoint. Training is deterministic across
    processes, so the checkpoints are bit-identical to serial runs.

    Parameters
    ----------
    runs : sequence of TrainingRun
        Each with its own ``out`` folder.
    scheduler : str, optional
        ``None`` (this machine), ``"local"`` or a Dask scheduler address
        (see :func:`coord_env.distributed.map_jobs`).
    workers : int
        Processes: for ``scheduler=None`` a process pool (0: in this process), for ``"local"``
        the cluster's workers.
    retries : int
        With Dask: reruns of a failed or lost task.
    progress : bool
        A progress bar over runs (and over steps when training in this process).

    Raises
    ------
    ValueError
        Two runs share a folder, or a folder holds another run's checkpoint.

    Examples
    --------
    >>> run = TrainingRun("centralized", "tiny", 256, 0, "runs/centralized_tiny_seed0")
    >>> train_runs([run], scheduler="local", workers=2)  # doctest: +SKIP
    [PosixPath('runs/centralized_tiny_seed0/checkpoint')]
    """
    folders = [str(Path(run.out).resolve()) for run in runs]
    if len(set(folders)) != len(folders):
        raise ValueError("runs must each have their own out folder; two runs share one")
    for run in runs:
        finished(run)  # a folder holding another run fails here, before any work
    jobs = list(runs)
    bar = tqdm(total=len(jobs), desc="training runs", unit="run", disable=not progress)
    with bar:
        paths = map_jobs(
            # training in this process: each run's own step bar too
            partial(_train_run, progress=progress and scheduler is None and not workers),
            jobs,
            scheduler=scheduler,
            workers=workers,
            retries=retries,
            keys=[run.key for run in jobs],
            on_result=lambda path: bar.update(1),
        )
    return [Path(path) for path in paths]


def save_trainer(
    trainer: Trainer,
    directory: str | Path,
    *,
    budget: int | None = None,
    wall_time: float = 0.0,
    eval_seeds: Sequence[int] = (),
    command: str | None = None,
) -> dict[str, Any]:
    """Save ``trainer`` to the checkpoint folder ``directory``: its own files, then the manifest
    (the run's ``budget``, default the steps trained; ``wall_time`` in seconds; the held-out
    ``eval_seeds``; the ``command``, default this run's ``coord-bench train``), swapped in whole
    (:func:`coord_env.checkpoint.save_checkpoint`). Returns the manifest.

    Examples
    --------
    >>> save_trainer(trainer, "runs/demo/checkpoint", budget=4096)["steps"]  # doctest: +SKIP
    4096
    """
    budget = trainer.steps_done if budget is None else budget
    return save_checkpoint(
        directory,
        trainer.save,
        trainer.scenario,
        steps=trainer.steps_done,
        wall_time_s=round(wall_time, 3),
        env_options=trainer.env_options or {},
        baseline=trainer.name,
        seed=trainer.seed,
        budget=budget,
        command=command
        or f"coord-bench train {trainer.name} --scenario {trainer.scenario.name} "
        f"--steps {budget} --seed {trainer.seed}",
        eval_seeds=list(eval_seeds),
        torch_version=_torch_version(),
    )


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__
