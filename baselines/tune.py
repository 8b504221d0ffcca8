"""``coord-bench tune``: an Optuna study of one RL baseline's hyperparameters on one scenario.

Every learned baseline gets the same protocol: a seeded TPE sampler over the baseline's search
space (:data:`SEARCH_SPACES`, declared once here), ``K`` trials of ``B`` environment steps each, a
median pruner on the held-out profit over :data:`~coord_env.harness.seeds.VALIDATION_SEEDS` at
:data:`RUNGS` intermediate evaluations, and a journal file as storage (no database server), so a
study resumes across sessions. The best trial's settings go into the package's settings file
(:data:`baselines.settings.TUNED_SETTINGS`), which ``retrain`` reads.

Trials are asked in this process, in batches of ``workers``, and trained here or on a Dask
cluster (:func:`coord_env.distributed.map_jobs`); a worker reports its intermediate profits to the
same journal file. Training is deterministic, so a trial's profits are the same serial or on a
cluster. docs/training.md, "Tuning protocol".
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.rl.names import RL_BASELINES
from baselines.rl.training import CHECKPOINT, PROGRESS, train
from coord_env.distributed import map_jobs
from coord_env.fileio import atomic_write_text, check_output_path
from coord_env.harness.seeds import TRAINING_SEED_LIMIT, VALIDATION_SEEDS
from coord_env.scenarios import load_scenario

__all__ = [
    "RUNGS",
    "SEARCH_SPACES",
    "Param",
    "TrialJob",
    "describe_spaces",
    "study_summary",
    "trial_config",
    "tune",
]

RUNGS = 4  # held-out evaluations per trial, the pruner's intermediate values
TPE_STARTUP_TRIALS = 5  # trials drawn at random (seeded) before TPE models the finished ones
PRUNER_STARTUP_TRIALS = 3  # finished trials before the pruner prunes anything


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter.

    Attributes
    ----------
    name : str
        The name in the study (a trainer field, or a name :func:`trial_config` translates).
    low, high : float
        The range of a float or int parameter.
    log : bool
        Sample on a log scale.
    choices : tuple
        For a categorical parameter: its values (then ``low``/``high`` are unused).
    integer : bool
        An integer range.
    """

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()
    integer: bool = False

    def suggest(self, trial: Any) -> Any:
        """Draw this parameter for an Optuna ``trial``."""
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        """A one-line Markdown description of the range."""
        if self.choices:
            return ", ".join(str(choice) for choice in self.choices)
        scale = "log" if self.log else "uniform"
        kind = "integer" if self.integer else "float"
        return f"{self.low:g} to {self.high:g} ({kind}, {scale})"


# Rollout shapes as "n_envs x n_steps", and minibatches per epoch: the minibatch size is the
# rollout's size over the minibatch count, so it always divides the rollout.
ROLLOUTS = ("4x256", "16x128", "64x64", "128x32")
_COMMON = (
    Param("rollout", choices=ROLLOUTS),
    Param("minibatches", choices=(1, 2, 4, 8)),
    Param("epochs", low=2, high=10, integer=True),
    Param("clip_range", low=0.1, high=0.3),
    Param("gae_lambda", low=0.8, high=0.99),
)
_SB3 = (
    Param("learning_rate", low=3e-5, high=3e-3, log=True),
    Param("ent_coef", low=1e-5, high=1e-2, log=True),
    *_COMMON,
)
_MTMA_RATES = (
    Param("learning_rate", low=3e-5, high=3e-3, log=True),  # the faster actor's and the critic's
    Param("entropy_coef", low=1e-5, high=1e-2, log=True),
    *_COMMON,
)
# the slower actor: its learning rate is the faster one's over lr_ratio, and it updates every
# update_every rollouts (mtma: inventory slower; mtma_reversed: recommender slower)
_TIMESCALES = (
    Param("lr_ratio", low=1.0, high=10.0, log=True),
    Param("update_every", choices=(1, 2, 4)),
)
SEARCH_SPACES: dict[str, tuple[Param, ...]] = {  # in RL_BASELINES's order (a test checks)
    "centralized": _SB3,
    "siloed_rl": _SB3,
    "ippo": _SB3,
    "shared_ppo": _SB3,
    "mtma": (*_MTMA_RATES, *_TIMESCALES),
    "mtma_single_timescale": _MTMA_RATES,  # every learner at one rate, updated every rollout
    "mtma_reversed": (*_MTMA_RATES, *_TIMESCALES),
}


def trial_config(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The trainer config of a trial's parameters (study names translated to trainer fields).

    Parameters
    ----------
    name : str
        The baseline.
    params : dict
        A point of ``SEARCH_SPACES[name]``, with any of its names fixed by the user.

    Returns
    -------
    dict
        Trainer fields, e.g. ``n_envs``, ``n_steps``, ``batch_size`` or ``minibatch_size``.

    Examples
    --------
    >>> trial_config("ippo", {"rollout": "16x128", "minibatches": 4, "epochs": 5})
    {'n_envs': 16, 'n_steps': 128, 'batch_size': 512, 'n_epochs': 5}
    """
    from baselines.rl.mtma import MTMA_TRAINERS

    params = dict(params)
    config: dict[str, Any] = {}
    if "rollout" in params:
        n_envs, n_steps = (int(part) for part in str(params.pop("rollout")).split("x"))
        config.update(n_envs=n_envs, n_steps=n_steps)
        minibatches = int(params.pop("minibatches", 1))
        size = max(1, n_envs * n_steps // minibatches)
        config["minibatch_size" if name in MTMA_TRAINERS else "batch_size"] = size
    if name not in MTMA_TRAINERS:
        if "epochs" in params:
            config["n_epochs"] = params.pop("epochs")
        return {**config, **params}
    rate = params.pop("learning_rate", None)
    ratio = float(params.pop("lr_ratio", 1.0))
    every = int(params.pop("update_every", 1))
    if rate is not None:
        slow, fast = ("inventory", "recommender")
        if name == "mtma_reversed":
            slow, fast = fast, slow
        config.update(
            {
                f"{fast}_lr": rate,
                "critic_lr": rate,
                f"{slow}_lr": rate / ratio,
                f"{fast}_update_every": 1,
                f"{slow}_update_every": every,
            }
        )
    return {**config, **params}


def describe_spaces(names: Sequence[str] | None = None) -> str:
    """Markdown tables of the search spaces of ``names`` (default: all), one per distinct space
    (docs/training.md prints them; tests/test_tune.py checks that it does).

    Raises
    ------
    KeyError
        An unknown baseline; the message lists the tunable ones.

    Examples
    --------
    >>> print(describe_spaces(["mtma_single_timescale"]).splitlines()[0])
    `mtma_single_timescale`:
    """
    groups: dict[tuple[Param, ...], list[str]] = {}
    for name in SEARCH_SPACES if names is None else names:
        if name not in SEARCH_SPACES:
            raise KeyError(
                f"no search space for {name!r}; tunable baselines: {', '.join(SEARCH_SPACES)}"
            )
        groups.setdefault(SEARCH_SPACES[name], []).append(name)
    tables = []
    for space, members in groups.items():
        lines = [", ".join(f"`{name}`" for name in members) + ":", ""]
        lines += ["| parameter | range |", "|---|---|"]
        lines += [f"| `{param.name}` | {param.describe()} |" for param in space]
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


@dataclass(frozen=True)
class TrialJob:
    """One trial's training, run by :func:`_run_trial` here or on a Dask worker."""

    name: str
    scenario: str
    steps: int
    seed: int
    out: str
    journal: str
    study_name: str
    trial_id: int
    pruner_startup: int = PRUNER_STARTUP_TRIALS
    config: dict[str, Any] = field(default_factory=dict)


def _storage(journal: str | Path) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = str(journal)
    _drop_torn_record(Path(path))
    return optuna.storages.JournalStorage(JournalFileBackend(path, JournalFileOpenLock(path)))


def _drop_torn_record(journal: Path) -> None:
    """Cut a half-written last record off the journal, under the journal's own lock.

    The journal is append-only, one JSON record a line. A session killed while appending leaves
    a last line without its newline, which would stop every later session from reading the
    study; that record was never committed, so dropping it is the recovery (as a write-ahead
    log's). Writers hold the same lock while appending, so none is cut mid-write.
    """
    from optuna.storages.journal import JournalFileOpenLock

    if not journal.is_file():
        return
    lock = JournalFileOpenLock(str(journal))
    lock.acquire()
    try:
        data = journal.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(journal, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
                handle.flush()
                os.fsync(handle.fileno())
    finally:
        lock.release()


def _sampler(seed: int, number: int) -> Any:
    """The TPE sampler that draws trial ``number`` of a study seeded ``seed``."""
    import numpy as np
    import optuna

    state = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
    return optuna.samplers.TPESampler(n_startup_trials=TPE_STARTUP_TRIALS, seed=state)


def _pruner(startup: int = PRUNER_STARTUP_TRIALS) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def _rung_steps(steps: int) -> list[int]:
    return [max(1, steps * (k + 1) // RUNGS) for k in range(RUNGS)]


def _profit_at(out: Path, steps: int) -> tuple[int, float]:
    """The first logged held-out profit at or after ``steps`` (PPO trains whole rollouts)."""
    with open(out / PROGRESS, newline="") as handle:
        for row in csv.DictReader(handle):
            if int(float(row["steps"])) >= steps:
                return int(float(row["steps"])), float(row["eval_profit_mean"])
    raise RuntimeError(f"{out / PROGRESS} logs no evaluation at {steps} steps")


def _train_rung(job: TrialJob, out: Path, rung: int, target: int) -> None:
    """Train (or resume) a trial's run folder up to rung ``rung``'s ``target`` steps."""
    previous = _rung_steps(job.steps)[rung - 1] if rung else 0
    train(
        job.name,
        job.scenario,
        target,
        job.seed,
        out,
        eval_every=target - previous,
        eval_seeds=VALIDATION_SEEDS,
        resume=(out / CHECKPOINT / "manifest.json").is_file(),
        progress=False,
        command=f"coord-bench tune {job.name} --scenario {job.scenario} (trial folder)",
        config={**job.config, "lr_decay_steps": job.steps},
    )


def _run_trial(job: TrialJob) -> dict[str, Any]:
    """Train one trial rung by rung, reporting each rung's validation profit to the journal.

    A rerun (after a kill) resumes the trial's run folder from its last checkpoint, which is
    bit-identical to an uninterrupted run. Returns ``{"value", "pruned", "seconds", "steps"}``, and
    ``"error"`` when the trainer refuses the trial's settings.
    """
    import optuna

    study = optuna.load_study(
        study_name=job.study_name, storage=_storage(job.journal), pruner=_pruner(job.pruner_startup)
    )
    trial = optuna.trial.Trial(study, job.trial_id)
    reported = set(study._storage.get_trial(job.trial_id).intermediate_values)
    out, started, value, done = Path(job.out), time.perf_counter(), math.nan, 0
    for rung, target in enumerate(_rung_steps(job.steps)):
        try:
            _train_rung(job, out, rung, target)
        # settings the trainer refuses: the trial fails and the study goes on
        except ValueError as error:
            return {
                "value": math.nan,
                "pruned": False,
                "error": str(error),
                "seconds": 0.0,
                "steps": 0,
            }
        done, value = _profit_at(out, target)
        if rung not in reported:
            trial.report(value, rung)
        if rung < RUNGS - 1 and trial.should_prune():
            return {
                "value": value,
                "pruned": True,
                "seconds": time.perf_counter() - started,
                "steps": done,
            }
    return {
        "value": value,
        "pruned": False,
        "seconds": time.perf_counter() - started,
        "steps": done,
    }


def _check_arguments(
    name: str, trials: int, steps: int, seed: int, fixed: dict[str, Any], pruner_startup: int
) -> None:
    if name not in SEARCH_SPACES:
        raise KeyError(
            f"no search space for {name!r}; tunable baselines: {', '.join(RL_BASELINES)}"
        )
    for label, value in (("trials", trials), ("steps", steps)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer; got {value!r}")
    if not isinstance(seed, int) or not 0 <= seed < TRAINING_SEED_LIMIT:
        raise ValueError(f"seed must be an integer in [0, {TRAINING_SEED_LIMIT}); got {seed!r}")
    if not isinstance(pruner_startup, int) or pruner_startup < 0:
        raise ValueError(f"pruner_startup must be an integer >= 0; got {pruner_startup!r}")
    names = {param.name for param in SEARCH_SPACES[name]}
    unknown = sorted(set(fixed) - names)
    if unknown:
        raise ValueError(
            f"fixed parameters {unknown} are not in {name}'s search space; allowed: "
            + ", ".join(sorted(names))
        )


def tune(
    name: str,
    scenario: str,
    trials: int,
    steps: int,
    study_dir: str | Path = "studies",
    *,
    seed: int = 0,
    workers: int = 0,
    scheduler: str | None = None,
    fixed: dict[str, Any] | None = None,
    pruner_startup: int = PRUNER_STARTUP_TRIALS,
    settings: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study of ``name`` on ``scenario`` until it holds ``trials`` trials.

    Parameters
    ----------
    name : str
        A baseline of :data:`SEARCH_SPACES`.
    scenario : str
    trials : int
        The study's total number of trials (those of earlier sessions count).
    steps : int
        Each trial's budget in environment steps.
    study_dir : path
        Holds the journal ``NAME_SCENARIO.journal`` and one run folder per trial.
    seed : int
        Seeds the TPE sampler and is every trial's training seed.
    workers : int
        Trials asked and trained at a time (0 or 1: one); with ``scheduler="local"`` the
        cluster's workers too.
    scheduler : str, optional
        ``None`` (this machine), ``"local"`` or a Dask scheduler address.
    fixed : dict, optional
        Search-space parameters held at a value (not searched).
    pruner_startup : int
        Finished trials before the median pruner prunes (0: from the second trial on).
    settings : path, optional
        Write the best trial's settings into this settings file (``None``: write nothing).
    progress : callable, optional
        Called with one line per finished trial.

    Returns
    -------
    dict
        :func:`study_summary` of the study.

    Raises
    ------
    KeyError
        A baseline without a search space.
    ValueError
        Non-positive trials or steps, a seed out of range, a negative ``pruner_startup``, a fixed
        parameter not in the space, a study in ``study_dir`` run with other arguments (baseline,
        scenario, steps, seed, fixed parameters, pruner startup), or a malformed ``settings``
        file (:class:`baselines.settings.SettingsError`).

    Examples
    --------
    >>> tune("mtma", "tiny", 3, 2_000, "studies")  # doctest: +SKIP
    """
    import optuna

    from baselines.settings import load_tuned_settings

    fixed = dict(fixed or {})
    _check_arguments(name, trials, steps, seed, fixed, pruner_startup)
    load_scenario(scenario)  # an unknown scenario fails before any file is written
    if settings is not None and Path(settings).is_file():
        load_tuned_settings(settings)  # so does a malformed settings file, before any trial
    folder = Path(study_dir)
    folder.mkdir(parents=True, exist_ok=True)
    study_name = f"{name}_{scenario}"
    journal = folder / f"{study_name}.journal"
    check_output_path(journal)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=_storage(journal),
        sampler=_sampler(seed, 0),
        pruner=_pruner(pruner_startup),
        direction="maximize",
        load_if_exists=True,
    )
    recorded = study.user_attrs
    asked = {
        "baseline": name,
        "scenario": scenario,
        "steps": steps,
        "seed": seed,
        "fixed": fixed,
        "pruner_startup": pruner_startup,
    }
    if not recorded:
        for key, value in asked.items():
            study.set_user_attr(key, value)
    elif {key: recorded.get(key) for key in asked} != asked:
        raise ValueError(
            f"the study in {journal} was run with { ({k: recorded.get(k) for k in asked}) }, not "
            f"{asked}: use another --study-dir"
        )
    batch = max(1, workers)
    while True:
        existing = study.get_trials(deepcopy=False)
        # trials a killed session left running are trained again (resuming their folders)
        pending = [t.number for t in existing if t.state == optuna.trial.TrialState.RUNNING]
        count = len(existing)
        while len(pending) < batch and count < trials:
            pending.append(study.ask().number)
            count += 1
        if not pending:
            break
        ids = [
            study._storage.get_trial_id_from_study_id_trial_number(study._study_id, n)
            for n in pending
        ]
        for number, trial_id in zip(pending, ids, strict=True):
            # a sampler seeded by (seed, trial number): a resumed study draws what an
            # uninterrupted one would; a parameter drawn before keeps its value
            study.sampler = _sampler(seed, number)
            trial = optuna.trial.Trial(study, trial_id)
            for param in SEARCH_SPACES[name]:
                if param.name in fixed:
                    continue
                drawn = study._storage.get_trial(trial_id)
                if param.name in drawn.params:  # before a kill: make the draw it made, keep it
                    study.sampler.sample_independent(
                        study, drawn, param.name, drawn.distributions[param.name]
                    )
                else:
                    param.suggest(trial)
        pending = [study._storage.get_trial(trial_id) for trial_id in ids]
        jobs = [
            TrialJob(
                name,
                scenario,
                steps,
                seed,
                str(folder / study_name / f"trial_{t.number:04d}"),
                str(journal),
                study_name,
                t._trial_id,
                pruner_startup,
                trial_config(name, {**t.params, **fixed}),
            )
            for t in pending
        ]
        results = map_jobs(
            _run_trial,
            jobs,
            scheduler=scheduler,
            workers=workers,
            keys=[f"tune-{study_name}-{t.number}-{journal}" for t in pending]
            if scheduler
            else None,
        )
        for t, result in zip(pending, results, strict=True):
            study._storage.set_trial_user_attr(t._trial_id, "seconds", result["seconds"])
            study._storage.set_trial_user_attr(t._trial_id, "steps", result["steps"])
            if "error" in result:
                study._storage.set_trial_user_attr(t._trial_id, "error", result["error"])
                study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                verdict = f"failed ({result['error']})"
            elif result["pruned"]:
                study.tell(t.number, state=optuna.trial.TrialState.PRUNED)
                verdict = f"pruned, validation profit {result['value']:,.1f}"
            else:
                study.tell(t.number, result["value"])
                verdict = f"complete, validation profit {result['value']:,.1f}"
            if progress:
                progress(f"trial {t.number}: {verdict}")
    summary = study_summary(study)
    if settings is not None and summary["best"] is not None:
        write_settings(settings, name, scenario, summary)
    return summary


def study_summary(study: Any) -> dict[str, Any]:
    """The study's trials, its best settings, budget and compute, as the settings file stores them."""
    attrs = study.user_attrs
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "params": dict(t.params),
                "intermediate": [t.intermediate_values[k] for k in sorted(t.intermediate_values)],
                "seconds": round(float(t.user_attrs.get("seconds", 0.0)), 3),
                **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {}),
            }
        )
    complete = [row for row in rows if row["state"] == "complete"]
    best = max(complete, key=lambda row: (row["value"], -row["number"])) if complete else None
    name = attrs["baseline"]
    return {
        "baseline": name,
        "scenario": attrs["scenario"],
        "trial_steps": attrs["steps"],
        "seed": attrs["seed"],
        "fixed": attrs["fixed"],
        "validation_seeds": [VALIDATION_SEEDS[0], VALIDATION_SEEDS[-1]],
        "trials": rows,
        "best": best,
        "config": trial_config(name, {**best["params"], **attrs["fixed"]}) if best else None,
        "compute_seconds": round(sum(row["seconds"] for row in rows), 3),
    }


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def describe_studies(path: str | Path) -> str:
    """A Markdown table of the studies recorded in the settings file ``path``: per (baseline,
    scenario), the trials by state, the per-trial budget, the best trial, its validation profit,
    the compute and the best parameters. Entries without a study (set by hand) are listed as such.

    Raises
    ------
    baselines.settings.SettingsError
        ``path`` is not a valid settings file.

    Examples
    --------
    >>> from baselines.settings import TUNED_SETTINGS
    >>> describe_studies(TUNED_SETTINGS).splitlines()[0].startswith("| baseline | scenario |")
    True
    """
    from baselines.settings import load_tuned_entries

    entries = load_tuned_entries(path)
    lines = [
        "| baseline | scenario | trials (complete / pruned / failed) | steps per trial | best trial "
        "| validation profit | compute (s) | best parameters |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for name, scenario in sorted(entries, key=lambda p: (p[1], RL_BASELINES.index(p[0]))):
        entry = entries[name, scenario]
        study = entry.get("study")
        if study is None:
            lines.append(f"| {name} | {scenario} | {entry.get('source', 'by hand')} | | | | | |")
            continue
        states = [trial["state"] for trial in study["trials"]]
        counts = " / ".join(str(states.count(state)) for state in ("complete", "pruned", "fail"))
        best = study["best"]
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(best["params"].items()))
        lines.append(
            f"| {name} | {scenario} | {counts} | {study['trial_steps']:,} | {best['number']} "
            f"| {best['value']:,.0f} | {study['compute_seconds']:,.0f} | {params} |"
        )
    return "\n".join(lines) + "\n"


def write_settings(path: str | Path, name: str, scenario: str, summary: dict[str, Any]) -> None:
    """Put a study's best settings into the settings file ``path`` (other entries kept).

    Raises
    ------
    baselines.settings.SettingsError
        An existing file that is not a valid settings file (left as it is); the message names
        the entry.
    """
    from baselines.settings import load_tuned_settings

    path = Path(path)
    if path.is_file():
        load_tuned_settings(path)  # a malformed file is refused, not merged into
        document = json.loads(path.read_text(encoding="utf-8"))
    else:
        document = {"about": "tuned settings per (baseline, scenario); written by coord-bench tune"}
    document.setdefault("settings", {})[f"{name}/{scenario}"] = {
        "config": summary["config"],
        "source": f"coord-bench tune: best of {len(summary['trials'])} trials of "
        f"{summary['trial_steps']:,} steps (trial {summary['best']['number']})",
        "study": {key: value for key, value in summary.items() if key != "config"},
    }
    atomic_write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
