"""The experiment settings of ``coord-bench reproduce``, ``retrain`` and ``tune``, as data.

Two files beside this module hold them: ``training.json`` (what retrain trains: the budget and
rollout of every RL baseline on every scenario, the curve seeds, the evaluation interval, the
scenarios reproduce reports) and ``tuned.json`` (the tuned hyperparameters per baseline and
scenario, written by ``coord-bench tune``). Both are validated here, where they are loaded: an error
names the file and the field. docs/training.md, "The committed checkpoints" and "Tuning protocol".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "ROLLOUTS",
    "TRAINING_SETTINGS",
    "TUNED_SETTINGS",
    "RunBudget",
    "SettingsError",
    "TrainingSettings",
    "load_tuned_entries",
    "load_tuned_settings",
    "load_tuned_studies",
    "run_options",
    "training_settings",
]

TRAINING_SETTINGS = Path(__file__).parent / "training.json"
TUNED_SETTINGS = Path(__file__).parent / "tuned.json"
# "defaults": the trainer's own rollout (MTMA's presets); "throughput": THROUGHPUT_ROLLOUT for
# MTMA and its ablations, SB3_THROUGHPUT_ROLLOUT for the SB3 baselines; "tuned": the rollout its
# tuning study chose (tuned.json), on the trainer's defaults, as the study's trials ran
ROLLOUTS = ("defaults", "throughput", "tuned")
_FIELDS = (
    "about",
    "headline_scenarios",
    "optimum_scenarios",
    "curve_seeds",
    "eval_points",
    "min_eval_every",
    "runs",
)


class SettingsError(ValueError):
    """A settings file is malformed: the message names the file, the field and what is allowed."""


@dataclass(frozen=True)
class RunBudget:
    """How one RL baseline trains on one scenario.

    Attributes
    ----------
    steps : int
        The budget in environment steps.
    rollout : str
        ``"defaults"`` (the trainer's rollout), ``"throughput"`` (the wide throughput rollout) or
        ``"tuned"`` (the rollout of the tuned settings).
    options : tuple of (str, str)
        Trainer options fixed for the run, as ``(field, value)`` pairs, from
        :func:`run_options`: they change how it collects experience, not its hyperparameters
        (``shared_ppo``'s ``vec_env``); empty by default.
    """

    steps: int
    rollout: str
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TrainingSettings:
    """The contents of ``training.json``, validated.

    Attributes
    ----------
    headline_scenarios : tuple of str
        The scenarios ``coord-bench reproduce`` reports by default.
    optimum_scenarios : tuple of str
        The scenarios it also reports against the exact optimum.
    curve_seeds : tuple of int
        The training seeds of every run; the first seed's checkpoint is committed.
    eval_points : int
        Held-out evaluations per run.
    min_eval_every : int
        The least number of steps between two held-out evaluations.
    runs : mapping
        ``{scenario: {baseline: RunBudget}}``, every RL baseline on every scenario listed.
    """

    headline_scenarios: tuple[str, ...]
    optimum_scenarios: tuple[str, ...]
    curve_seeds: tuple[int, ...]
    eval_points: int
    min_eval_every: int
    runs: Mapping[str, Mapping[str, RunBudget]]

    def run(self, name: str, scenario: str) -> RunBudget:
        """The budget and rollout of baseline ``name`` on ``scenario``.

        Raises
        ------
        KeyError
            A scenario or baseline the settings do not list; the message lists those they do.

        Examples
        --------
        >>> training_settings().run("mtma", "tiny").steps
        50000
        """
        if scenario not in self.runs:
            raise KeyError(
                f"no training budget for scenario {scenario!r}; budgeted scenarios: "
                + ", ".join(self.runs)
            )
        if name not in self.runs[scenario]:
            raise KeyError(
                f"no training budget for {name!r} on {scenario!r}; budgeted baselines: "
                + ", ".join(self.runs[scenario])
            )
        return self.runs[scenario][name]


def _fail(path: Path, field: str, message: str) -> SettingsError:
    return SettingsError(f"{path.name}: {field} {message}")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path.name}: not valid JSON ({error})") from None


def _positive_int(value: Any, path: Path, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(path, field, f"must be a positive integer; got {value!r}")
    return value


def _scenario_names(value: Any, path: Path, field: str, allowed: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, field, f"must be a non-empty list of scenario names; got {value!r}")
    for name in value:
        if name not in allowed:
            raise _fail(
                path, field, f"names {name!r}, not a scenario; allowed: {', '.join(allowed)}"
            )
    if len(set(value)) != len(value):
        raise _fail(path, field, f"repeats a scenario: {value!r}")
    return tuple(value)


def _seeds(value: Any, path: Path, field: str) -> tuple[int, ...]:
    from coord_env.harness.seeds import TRAINING_SEED_LIMIT

    if not isinstance(value, list) or not value:
        raise _fail(path, field, f"must be a non-empty list of training seeds; got {value!r}")
    for seed in value:
        if (
            isinstance(seed, bool)
            or not isinstance(seed, int)
            or not 0 <= seed < TRAINING_SEED_LIMIT
        ):
            raise _fail(
                path, field, f"holds {seed!r}; seeds are integers in [0, {TRAINING_SEED_LIMIT})"
            )
    if len(set(value)) != len(value):
        raise _fail(path, field, f"repeats a seed: {value!r}")
    return tuple(value)


def run_options() -> dict[str, dict[str, tuple[str, ...]]]:
    """The trainer options a run may fix, per RL baseline: ``{baseline: {field: allowed}}``.

    Examples
    --------
    >>> run_options()["shared_ppo"]["vec_env"]
    ('supersuit', 'batched')
    """
    from baselines.rl.sb3.config import SHARED_VEC_ENVS

    return {"shared_ppo": {"vec_env": SHARED_VEC_ENVS}}


def _options(value: Any, path: Path, field: str, name: str) -> tuple[tuple[str, str], ...]:
    allowed = run_options().get(name, {})
    if not isinstance(value, dict):
        raise _fail(path, field, f"must be an object; got {value!r}")
    for key, option in value.items():
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise _fail(path, f"{field}.{key}", f"is not an option of {name}; allowed: {names}")
        if option not in allowed[key]:
            raise _fail(
                path,
                f"{field}.{key}",
                f"must be one of {', '.join(allowed[key])}; got {option!r}",
            )
    return tuple(value.items())


def _runs(
    value: Any, path: Path, scenarios: list[str], baselines: tuple[str, ...]
) -> Mapping[str, Mapping[str, RunBudget]]:
    if not isinstance(value, dict) or not value:
        raise _fail(path, "runs", "must map scenario names to per-baseline budgets")
    table: dict[str, Mapping[str, RunBudget]] = {}
    for scenario, entries in value.items():
        if scenario not in scenarios:
            raise _fail(
                path, "runs", f"names {scenario!r}, not a scenario; allowed: {', '.join(scenarios)}"
            )
        field = f"runs.{scenario}"
        if not isinstance(entries, dict) or set(entries) != set(baselines):
            listed = sorted(entries) if isinstance(entries, dict) else entries
            raise _fail(
                path, field, f"must give every RL baseline ({', '.join(baselines)}); got {listed!r}"
            )
        row: dict[str, RunBudget] = {}
        for name in baselines:  # in the baselines' order, whatever the file's
            entry = entries[name]
            if not isinstance(entry, dict) or not (
                {"steps", "rollout"} <= set(entry) <= {"steps", "rollout", "options"}
            ):
                raise _fail(
                    path,
                    f"{field}.{name}",
                    f"must be {{'steps': N, 'rollout': R}} with optional 'options': {{...}}; "
                    f"got {entry!r}",
                )
            if entry["rollout"] not in ROLLOUTS:
                raise _fail(
                    path,
                    f"{field}.{name}.rollout",
                    f"must be one of {', '.join(ROLLOUTS)}; got {entry['rollout']!r}",
                )
            steps = _positive_int(entry["steps"], path, f"{field}.{name}.steps")
            options = _options(entry.get("options", {}), path, f"{field}.{name}.options", name)
            row[name] = RunBudget(steps, entry["rollout"], options)
        table[scenario] = MappingProxyType(row)
    return MappingProxyType(table)


def training_settings(path: str | Path | None = None) -> TrainingSettings:
    """Load and validate a training settings file (default: the package's ``training.json``).

    Parameters
    ----------
    path : path, optional
        A file in the format of ``baselines/settings/training.json``.

    Returns
    -------
    TrainingSettings

    Raises
    ------
    SettingsError
        A missing or unknown field, a value out of its range, a scenario not in the catalog, or a
        scenario whose runs do not list every RL baseline; the message names the field.

    Examples
    --------
    >>> training_settings().curve_seeds
    (0, 1, 2, 3, 4)
    """
    from baselines.rl.names import RL_BASELINES
    from coord_env.scenarios import list_scenarios

    path = TRAINING_SETTINGS if path is None else Path(path)
    document = _read(path)
    if not isinstance(document, dict):
        raise SettingsError(f"{path.name}: must hold a JSON object with {', '.join(_FIELDS)}")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise _fail(path, unknown[0], f"is not a settings field; allowed: {', '.join(_FIELDS)}")
    missing = [field for field in _FIELDS if field != "about" and field not in document]
    if missing:
        raise _fail(path, missing[0], "is missing")
    scenarios = list_scenarios()
    settings = TrainingSettings(
        headline_scenarios=_scenario_names(
            document["headline_scenarios"], path, "headline_scenarios", scenarios
        ),
        optimum_scenarios=_scenario_names(
            document["optimum_scenarios"], path, "optimum_scenarios", scenarios
        ),
        curve_seeds=_seeds(document["curve_seeds"], path, "curve_seeds"),
        eval_points=_positive_int(document["eval_points"], path, "eval_points"),
        min_eval_every=_positive_int(document["min_eval_every"], path, "min_eval_every"),
        runs=_runs(document["runs"], path, scenarios, tuple(RL_BASELINES)),
    )
    for field in ("headline_scenarios", "optimum_scenarios"):
        for scenario in getattr(settings, field):
            if scenario not in settings.runs:
                raise _fail(path, field, f"names {scenario!r}, which has no runs to retrain")
    return settings


def load_tuned_settings(path: str | Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Load and validate a tuned settings file (default: the package's ``tuned.json``).

    Parameters
    ----------
    path : path, optional
        A file as ``coord-bench tune`` writes it: ``{"settings": {"BASELINE/SCENARIO":
        {"config": {...}, ...}}}``.

    Returns
    -------
    dict
        ``{(baseline, scenario): config}``; a config holds trainer fields (``learning_rate``...).

    Raises
    ------
    SettingsError
        No ``settings`` object, a key that is not ``BASELINE/SCENARIO`` of an RL baseline and a
        catalog scenario, or an entry without a ``config`` object; the message names the entry.

    Examples
    --------
    >>> load_tuned_settings()["ippo", "multiscale"]["n_envs"]
    64
    """
    return {pair: dict(entry["config"]) for pair, entry in load_tuned_entries(path).items()}


def load_tuned_entries(path: str | Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The entries of a tuned settings file (default: the package's ``tuned.json``) by
    ``(baseline, scenario)``, as written: ``config``, ``source`` and, for those that
    ``coord-bench tune`` wrote, ``study``. The one reader of the file: :func:`load_tuned_settings`
    and :func:`load_tuned_studies` select from it, and ``coord-bench tune --summary`` prints it.

    Raises
    ------
    SettingsError
        No ``settings`` object, a key that is not ``BASELINE/SCENARIO`` of an RL baseline and a
        catalog scenario, an entry without a ``config`` object, or a study without a list of
        ``trials`` or a positive integer ``trial_steps``; the message names the entry.

    Examples
    --------
    >>> sorted(load_tuned_entries()["mtma", "default"])
    ['config', 'source', 'study']
    """
    from baselines.rl.names import RL_BASELINES
    from coord_env.scenarios import list_scenarios

    path = TUNED_SETTINGS if path is None else Path(path)
    document = _read(path)
    entries = document.get("settings") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise _fail(path, "settings", "must be an object of 'BASELINE/SCENARIO' entries")
    scenarios = list_scenarios()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, entry in entries.items():
        name, _, scenario = key.partition("/")
        if name not in RL_BASELINES or scenario not in scenarios:
            raise _fail(
                path,
                f"settings.{key}",
                f"must be named BASELINE/SCENARIO with BASELINE one of {', '.join(RL_BASELINES)} "
                f"and SCENARIO one of {', '.join(scenarios)}",
            )
        config = entry.get("config") if isinstance(entry, dict) else None
        if not isinstance(config, dict):
            raise _fail(path, f"settings.{key}.config", f"must be an object; got {config!r}")
        study = entry.get("study")
        if study is not None:
            if not isinstance(study, dict) or not isinstance(study.get("trials"), list):
                raise _fail(
                    path, f"settings.{key}.study", "must be an object with a list of trials"
                )
            _positive_int(study.get("trial_steps"), path, f"settings.{key}.study.trial_steps")
        out[name, scenario] = entry
    return out


def load_tuned_studies(path: str | Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The study records of a tuned settings file (default: the package's ``tuned.json``), for
    the entries that ``coord-bench tune`` wrote (hand-set entries have none).

    Parameters
    ----------
    path : path, optional

    Returns
    -------
    dict
        ``{(baseline, scenario): study}``; a study holds ``trials`` (each with its ``state``),
        ``trial_steps``, ``seed`` and ``compute_seconds``.

    Raises
    ------
    SettingsError
        What :func:`load_tuned_settings` refuses, or a study without a list of ``trials`` or a
        positive integer ``trial_steps``; the message names the entry.

    Examples
    --------
    >>> study = load_tuned_studies()["mtma", "default"]
    >>> len(study["trials"]), study["trial_steps"]
    (8, 100000)
    """
    entries = load_tuned_entries(path)
    return {pair: entry["study"] for pair, entry in entries.items() if "study" in entry}
