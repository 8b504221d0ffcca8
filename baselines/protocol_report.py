"""The equal-effort protocol's report (docs/training.md, "Tuning protocol"): rliable aggregates of
the training seeds' held-out scores on the headline scenarios, and the convergence of MTMA and its
ablations to the exact optimum on ``tiny``.

The section functions turn data into Markdown lines and figures; the loaders read the committed
files. Two functions write committed data: :func:`collect_convergence_runs` (finished ``tiny``
runs: their logs and their profits on the official seeds) and :func:`write_validation_references`
(the normalization's references on the validation seeds, ``python -m baselines.protocol_report``).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.rl.names import RL_BASELINES
from baselines.rl.policies import COMMITTED
from baselines.rl.training import PROGRESS
from baselines.settings import (
    TUNED_SETTINGS,
    TrainingSettings,
    load_tuned_studies,
    training_settings,
)
from coord_env.analysis.optimal import optimal_value
from coord_env.checkpoint import MANIFEST, read_manifest
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.harness.evaluate import evaluate
from coord_env.harness.plots import plot_learning_curves, plot_performance_profiles
from coord_env.harness.references import compute_reference
from coord_env.harness.results import normalized_score
from coord_env.harness.seeds import EVALUATION_SEEDS, VALIDATION_SEEDS
from coord_env.harness.stats import (
    BOOTSTRAP_RESAMPLES,
    aggregate_iqm,
    interval_estimate,
    performance_profile,
    probability_of_improvement,
    spread_ratio_test,
    summarize,
)
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "CONVERGENCE",
    "VALIDATION_REFERENCES",
    "Claim",
    "ConvergenceData",
    "claims_section",
    "collect_convergence_runs",
    "combined_verdict",
    "compute_validation_reference",
    "convergence_section",
    "convergence_verdict",
    "converges",
    "final_gaps",
    "gap_curves",
    "improvement_intervals",
    "interval_verdict",
    "load_convergence",
    "protocol_effort",
    "restate_claims",
    "rliable_section",
    "score_matrices",
    "seed_spread",
    "validation_references",
    "write_validation_references",
]

VALIDATION_REFERENCES = COMMITTED / "validation_references.json"
CONVERGENCE_SCENARIO = "tiny"
CONVERGENCE = COMMITTED / CONVERGENCE_SCENARIO / "convergence"
CONVERGENCE_RESULTS = "evaluation.json"  # per-seed official profits of every collected run
CONVERGENCE_BASELINES = ("mtma", "mtma_single_timescale", "mtma_reversed")
FOCUS = "mtma"  # the method whose improvement over the others is reported
PROFILE_POINTS = 201
# The profiles' left edge: scores below it (far below the siloed heuristic) would squeeze the
# range where the methods differ into a sliver; the table lists them and the text counts them.
PROFILE_FLOOR = -50.0

Curves = Mapping[
    str, Sequence[tuple[np.ndarray, np.ndarray]]
]  # baseline -> (steps, profit) per seed


# --- normalization references on the validation seeds ---------------------------------------


def compute_validation_reference(scenario: Scenario, workers: int = 2) -> dict[str, Any]:
    """The siloed heuristic's, the coordinated heuristic's and the ceiling's profit on the
    validation seeds, the seeds of the training logs (:func:`compute_reference` on them).

    Returns
    -------
    dict
        :func:`~coord_env.harness.references.compute_reference`'s entry plus ``seeds``,
        ``coordinated_profit`` and ``ceiling_profit`` (the optimum where known, else the fluid bound).
    """
    entry = compute_reference(scenario, workers, VALIDATION_SEEDS)
    coordinated = evaluate("coordinated", scenario, VALIDATION_SEEDS, workers=workers)
    ceiling = entry["optimum"] if entry["ceiling"] == "optimum" else entry["upper_bound"]
    return {
        **entry,
        "seeds": list(VALIDATION_SEEDS),
        "coordinated_profit": coordinated["profit"]["mean"],
        "ceiling_profit": ceiling,
    }


def validation_references(
    scenario: Scenario, path: str | Path = VALIDATION_REFERENCES, workers: int = 2
) -> dict[str, Any]:
    """The references of ``scenario`` on the validation seeds: recorded in ``path`` for this
    scenario version, else computed (minutes on ``default``; not written).

    Examples
    --------
    >>> ref = validation_references(load_scenario("default"))  # doctest: +SKIP
    >>> ref["siloed_profit"] < ref["coordinated_profit"] < ref["ceiling_profit"]  # doctest: +SKIP
    True
    """
    path = Path(path)
    recorded = json.loads(path.read_text(encoding="utf-8"))["scenarios"] if path.exists() else {}
    entry = recorded.get(scenario.env_id)
    if (
        entry is not None
        and entry["scenario_hash"] == scenario.content_hash
        and entry["seeds"] == list(VALIDATION_SEEDS)
    ):
        return entry
    return compute_validation_reference(scenario, workers)


def write_validation_references(
    names: Sequence[str], path: str | Path = VALIDATION_REFERENCES, workers: int = 2
) -> Path:
    """Compute the validation-seed references of the scenarios ``names`` and record them in
    ``path`` (atomically), keeping the other scenarios' entries."""
    path = Path(path)
    table = json.loads(path.read_text(encoding="utf-8"))["scenarios"] if path.exists() else {}
    for name in names:
        scenario = load_scenario(name)
        table[scenario.env_id] = compute_validation_reference(scenario, workers)
    document = {"seeds": list(VALIDATION_SEEDS), "scenarios": table}
    atomic_write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return path


# --- rliable aggregates over the training seeds -----------------------------------------------


def score_matrices(
    curves: Mapping[str, Curves], references: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Normalized scores of every run's final held-out profit, as a runs x scenarios matrix per
    baseline (columns in the order of ``curves``).

    Parameters
    ----------
    curves : mapping
        Scenario name -> baseline -> one ``(steps, held-out profit)`` pair per training run, as
        :func:`baselines.reproduce._curves` reads them from the committed logs.
    references : mapping
        Scenario name -> ``siloed_profit`` and ``ceiling_profit`` on the logs' seeds.

    Returns
    -------
    (matrices, notes)
        ``matrices``: baseline -> array (runs, scenarios). A baseline needs runs on every
        scenario; with unequal counts the first ``min`` runs of each count. ``notes``: baseline ->
        why it was left out or cut.

    Examples
    --------
    >>> runs = {"s": {"mtma": [(np.array([1.0]), np.array([15.0]))]}}
    >>> score_matrices(runs, {"s": {"siloed_profit": 10.0, "ceiling_profit": 20.0}})[0]
    {'mtma': array([[50.]])}
    """
    names = [name for name in RL_BASELINES if any(name in c for c in curves.values())]
    matrices: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    for name in names:
        missing = [scenario for scenario, c in curves.items() if not c.get(name)]
        if missing:
            notes[name] = f"no run reached the budget on {', '.join(missing)}"
            continue
        runs = min(len(c[name]) for c in curves.values())
        if any(len(c[name]) != runs for c in curves.values()):
            notes[name] = f"unequal runs per scenario: the first {runs} of each count"
        columns = []
        for scenario, c in curves.items():
            finals = np.array([profit[-1] for _, profit in c[name][:runs]], dtype=float)
            ref = references[scenario]
            columns.append(normalized_score(finals, ref["siloed_profit"], ref["ceiling_profit"]))
        matrices[name] = np.stack(columns, axis=1)
    return matrices, notes


def improvement_intervals(
    matrices: Mapping[str, np.ndarray], reps: int = BOOTSTRAP_RESAMPLES
) -> dict[str, dict[str, float]]:
    """P(MTMA > X), the probability that a run of MTMA scores above a run of X on the same
    scenario (averaged over scenarios), with its stratified bootstrap 95% CI, for every other
    baseline X of ``matrices``; empty without MTMA.

    Examples
    --------
    >>> m = {"mtma": np.array([[2.0], [3.0]]), "ippo": np.array([[0.0], [1.0]])}
    >>> improvement_intervals(m, reps=100)["ippo"]["value"]
    1.0
    """
    if FOCUS not in matrices:
        return {}
    return {
        name: interval_estimate(probability_of_improvement, matrices[FOCUS], matrix, reps=reps)
        for name, matrix in matrices.items()
        if name != FOCUS
    }


def _references(
    curves: Mapping[str, Curves], references: Mapping[str, Mapping[str, Any]] | None
) -> Mapping[str, Mapping[str, Any]]:
    """``references``, or the committed validation references of every scenario of ``curves``."""
    if references is not None:
        return references
    return {name: validation_references(load_scenario(name)) for name in curves}


def _score(value: float) -> str:
    """One decimal, thousands separated; "n/a" for NaN (one seed has no spread)."""
    return f"{value:,.1f}" if np.isfinite(value) else "n/a"


def rliable_section(
    curves: Mapping[str, Curves],
    figures: Path,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    reps: int = BOOTSTRAP_RESAMPLES,
) -> list[str]:
    """IQM of the normalized scores over runs x scenarios with stratified bootstrap 95% CIs, the
    probability that MTMA improves on each other learned baseline, and performance profiles.

    Parameters
    ----------
    curves : mapping
        Scenario name -> baseline -> ``(steps, held-out profit)`` per training run (see
        :func:`score_matrices`).
    figures : path
        Folder of the performance-profile figure (linked relative to the page).
    references : mapping, optional
        Scenario name -> :func:`validation_references`' entry (default: loaded per scenario).
    reps : int
        Bootstrap resamples.

    Returns
    -------
    list of str
        Markdown lines.
    """
    references = _references(curves, references)
    matrices, notes = score_matrices(curves, references)
    tasks = list(curves)
    lines = [
        "## Aggregates over training seeds and scenarios (rliable)",
        "",
        "Each training run's score is its final held-out profit (the last row of its committed "
        "log, the mean over the 10 validation seeds), normalized on those same seeds: "
        "100 (profit - siloed) / (ceiling - siloed), where siloed, the ceiling and the "
        "coordinated heuristic's reference are means over the validation seeds "
        "(`baselines/checkpoints/validation_references.json`, recomputed with "
        "`python -m baselines.protocol_report`); the ceiling is the fluid upper bound, or the "
        "exact optimum where it is known. The official references of "
        "`coord_env/harness/references.json` are on the evaluation seeds, so they do not apply "
        "to these logs. Only runs that reached their baseline's current budget count. IQM: the "
        "interquartile mean over all runs x scenarios; P(MTMA > X): the probability that a run "
        "of MTMA scores above a run of X on the same scenario, averaged over scenarios. 95% CIs "
        f"by stratified bootstrap ({reps:,} resamples, strata: the scenarios "
        f"{', '.join(f'`{t}`' for t in tasks)}).",
        "",
    ]
    if not matrices:
        return [*lines, "No baseline has runs on every scenario: nothing to aggregate.", ""]
    header = " | ".join(f"`{t}` scores per run" for t in tasks)
    lines += [
        f"| baseline | runs x scenarios | IQM | 95% CI | P({FOCUS} > baseline) | 95% CI | {header} |",
        "|---|---:|---:|---|---:|---|" + "---|" * len(tasks),
    ]
    improvements = improvement_intervals(matrices, reps)
    for name, matrix in matrices.items():
        aggregate = interval_estimate(aggregate_iqm, matrix, reps=reps)
        if name in improvements:
            better = improvements[name]
            improvement = (
                f"{better['value']:.2f} | [{better['ci_low']:.2f}, {better['ci_high']:.2f}]"
            )
        else:
            improvement = "- | -"
        per_run = " | ".join(", ".join(_score(v) for v in matrix[:, t]) for t in range(len(tasks)))
        lines.append(
            f"| {name} | {matrix.shape[0]} x {matrix.shape[1]} | {_score(aggregate['value'])} | "
            f"[{_score(aggregate['ci_low'])}, {_score(aggregate['ci_high'])}] | {improvement} | "
            f"{per_run} |"
        )
    heuristics = {
        "siloed": {t: 0.0 for t in tasks},
        "coordinated": {
            t: normalized_score(
                references[t]["coordinated_profit"],
                references[t]["siloed_profit"],
                references[t]["ceiling_profit"],
            )
            for t in tasks
        },
    }
    for name, scores in heuristics.items():
        cells = " | ".join(_score(scores[t]) for t in tasks)
        lines.append(f"| *{name} heuristic* | one point | | | | | {cells} |")
    lines.append("")
    for name, note in notes.items():
        lines.append(f"- `{name}`: {note}.")
    if notes:
        lines.append("")

    pooled = np.concatenate([m.ravel() for m in matrices.values()])
    marks = [score for scores in heuristics.values() for score in scores.values()]
    low = max(min(pooled.min(), *marks), PROFILE_FLOOR)
    high = max(pooled.max(), *marks)
    margin = 0.05 * (high - low) or 1.0
    taus = np.linspace(low - margin, high + margin, PROFILE_POINTS)
    profiles = {
        name: interval_estimate(
            lambda scores: performance_profile(scores, taus), matrix, reps=max(1, reps // 10)
        )
        for name, matrix in matrices.items()
    }
    lines_at = {"siloed heuristic (score 0)": 0.0}
    lines_at.update(
        {f"coordinated heuristic, {t}": score for t, score in heuristics["coordinated"].items()}
    )
    figures.mkdir(parents=True, exist_ok=True)
    png = plot_performance_profiles(
        profiles,
        taus,
        figures / "performance_profiles.png",
        title=f"Performance profiles over {' and '.join(tasks)} (band: 95% stratified bootstrap)",
        references=lines_at,
    )
    below = {name: int(np.sum(m < taus[0])) for name, m in matrices.items()}
    clipped = ", ".join(f"{count} of `{name}`'s" for name, count in below.items() if count)
    lines += [
        "Performance profiles: the fraction of runs x scenarios whose score exceeds τ; the "
        "dashed lines mark the heuristics (one score each, no runs)."
        + (
            f" Runs scoring below τ = {taus[0]:.0f} lie left of the plot ({clipped})."
            if clipped
            else ""
        ),
        "",
        f"![performance profiles]({figures.name}/{png.name})",
        "",
    ]
    return lines


# --- convergence to the exact optimum on tiny ---------------------------------------------------


@dataclass(frozen=True)
class ConvergenceData:
    """The committed convergence runs on ``tiny``.

    Attributes
    ----------
    curves : baseline -> seed -> (steps, held-out profit on the validation seeds)
    profits : baseline -> seed -> profit per official seed (order of ``EVALUATION_SEEDS``)
    optimum_validation, optimum_evaluation : the exact optimum per validation / official seed
    runs : baseline -> seed -> the run's provenance (steps, budget, command, wall time)
    """

    curves: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]
    profits: dict[str, dict[int, np.ndarray]]
    optimum_validation: np.ndarray
    optimum_evaluation: np.ndarray
    runs: dict[str, dict[int, dict[str, Any]]]


def _read_log(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} holds no evaluation rows")
    steps = np.array([float(row["steps"]) for row in rows])
    profit = np.array([float(row["eval_profit_mean"]) for row in rows])
    return steps, profit


def _finished_run(folder: Path, scenario: Scenario) -> dict[str, Any]:
    """The manifest of a finished ``tiny`` run folder, or a ValueError saying why it is not one."""
    if folder.name.endswith(".partial"):
        raise ValueError(f"run folder {folder} is unfinished (a .partial folder is still training)")
    checkpoint = folder / "checkpoint"
    if not (checkpoint / MANIFEST).is_file():
        raise ValueError(f"run folder {folder} is unfinished: it has no checkpoint/{MANIFEST}")
    manifest = read_manifest(checkpoint)
    if manifest.get("scenario") != scenario.env_id:
        raise ValueError(
            f"run folder {folder} is a run on {manifest.get('scenario')!r}, not on "
            f"{scenario.env_id!r}: the convergence study is on {CONVERGENCE_SCENARIO}"
        )
    read_manifest(checkpoint, scenario)  # this version of tiny
    if manifest.get("baseline") not in RL_BASELINES:
        raise ValueError(
            f"run folder {folder}: baseline {manifest.get('baseline')!r} is not one of "
            f"{', '.join(RL_BASELINES)}"
        )
    if int(manifest["steps"]) < int(manifest["budget"]):
        raise ValueError(
            f"run folder {folder} is unfinished: {manifest['steps']:,} of {manifest['budget']:,} "
            "steps trained"
        )
    if list(manifest.get("eval_seeds", [])) != list(VALIDATION_SEEDS):
        raise ValueError(
            f"run folder {folder} logged held-out profits on seeds {manifest.get('eval_seeds')}, "
            f"not on VALIDATION_SEEDS {list(VALIDATION_SEEDS)}"
        )
    steps, _ = _read_log(folder / PROGRESS)
    if steps[-1] != manifest["steps"]:
        raise ValueError(
            f"run folder {folder}: the last row of {PROGRESS} is at {steps[-1]:,.0f} steps, the "
            f"checkpoint at {manifest['steps']:,}"
        )
    return manifest


def collect_convergence_runs(
    runs: str | Path,
    out: str | Path = CONVERGENCE,
    workers: int = 0,
    progress: bool = False,
) -> list[str]:
    """Commit the finished ``tiny`` runs of a folder: each log, and the final checkpoint's profit
    on every official seed.

    Every run folder in ``runs`` (``NAME_tiny_seedK``, as ``coord-bench train --out runs``
    writes them) is checked before anything is written; then each ``progress.csv`` is copied to
    ``out/NAME_seedK.csv`` and ``out/evaluation.json`` records, per run, its profits on
    ``EVALUATION_SEEDS`` (through :func:`coord_env.harness.evaluate.evaluate`) beside the exact
    optimum per validation and per official seed. Runs recorded before and absent from ``runs``
    are kept.

    Parameters
    ----------
    runs : path
        The parent folder of the run folders.
    out : path
        Where the committed convergence data live.
    workers : int
        Worker processes for the evaluations.
    progress : bool
        Progress bars over the evaluation seeds.

    Returns
    -------
    list of str
        The collected runs, as ``NAME_seedK``.

    Raises
    ------
    ValueError
        ``runs`` holds no run folder, or a run folder that is unfinished (``.partial``, no
        checkpoint, fewer steps than its budget), not on this version of ``tiny``, logged on other
        seeds than the validation seeds, or a second run of the same baseline and seed.
        Nothing is written then.

    Examples
    --------
    >>> collect_convergence_runs("/work/runs/convergence")  # doctest: +SKIP
    ['mtma_seed0', 'mtma_seed1', ...]
    """
    runs, out = Path(runs), Path(out)
    scenario = load_scenario(CONVERGENCE_SCENARIO)
    if not runs.is_dir():
        raise ValueError(f"--convergence-runs {runs} is not a folder")
    folders = sorted(path for path in runs.iterdir() if path.is_dir())
    if not folders:
        raise ValueError(f"{runs} holds no run folder")
    manifests: dict[str, tuple[Path, dict[str, Any]]] = {}
    for folder in folders:
        manifest = _finished_run(folder, scenario)
        key = f"{manifest['baseline']}_seed{manifest['seed']}"
        if key in manifests:
            raise ValueError(f"{folder} and {manifests[key][0]} are both runs of {key}")
        manifests[key] = (folder, manifest)

    path = out / CONVERGENCE_RESULTS
    document: dict[str, Any] = {"runs": {}}
    if path.exists():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if recorded.get("scenario_hash") == scenario.content_hash:
            document = recorded
    document.update(
        scenario=scenario.env_id,
        scenario_hash=scenario.content_hash,
        validation_seeds=list(VALIDATION_SEEDS),
        evaluation_seeds=list(EVALUATION_SEEDS),
        optimum_validation=[optimal_value(scenario, seed) for seed in VALIDATION_SEEDS],
        optimum_evaluation=[optimal_value(scenario, seed) for seed in EVALUATION_SEEDS],
    )
    out.mkdir(parents=True, exist_ok=True)
    for key, (folder, manifest) in sorted(manifests.items()):
        result = evaluate(
            str(folder / "checkpoint"),
            scenario,
            EVALUATION_SEEDS,
            workers=workers,
            progress=progress,
            name=key,
        )
        atomic_write_bytes(out / f"{key}.csv", (folder / PROGRESS).read_bytes())
        document["runs"][key] = {
            "baseline": manifest["baseline"],
            "seed": int(manifest["seed"]),
            "steps": int(manifest["steps"]),
            "budget": int(manifest["budget"]),
            "command": manifest.get("command"),
            "wall_time_s": manifest.get("wall_time_s"),
            "checkpoint_files": manifest["files"],
            "profit": [row["profit"] for row in result["per_seed"]],
        }
    document["runs"] = dict(sorted(document["runs"].items()))
    atomic_write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return sorted(manifests)


def load_convergence(directory: str | Path = CONVERGENCE) -> ConvergenceData | None:
    """The committed convergence runs, or None when none are committed.

    Raises
    ------
    ValueError
        The data are of another version of ``tiny`` or other seeds (collect the runs again).
    """
    directory = Path(directory)
    path = directory / CONVERGENCE_RESULTS
    if not path.exists():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    scenario = load_scenario(CONVERGENCE_SCENARIO)
    if document["scenario_hash"] != scenario.content_hash:
        raise ValueError(
            f"{path} holds runs on another version of {scenario.env_id} (hash "
            f"{document['scenario_hash'][:12]}, now {scenario.content_hash[:12]}): retrain and "
            "collect them again"
        )
    if document["validation_seeds"] != list(VALIDATION_SEEDS) or document[
        "evaluation_seeds"
    ] != list(EVALUATION_SEEDS):
        raise ValueError(f"{path} was collected on other seeds than this coord_env's")
    curves: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    profits: dict[str, dict[int, np.ndarray]] = {}
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for key, run in document["runs"].items():
        name, seed = run["baseline"], int(run["seed"])
        curves.setdefault(name, {})[seed] = _read_log(directory / f"{key}.csv")
        profits.setdefault(name, {})[seed] = np.asarray(run["profit"], dtype=float)
        runs.setdefault(name, {})[seed] = run
    order = [n for n in RL_BASELINES if n in curves]
    return ConvergenceData(
        curves={n: dict(sorted(curves[n].items())) for n in order},
        profits={n: dict(sorted(profits[n].items())) for n in order},
        optimum_validation=np.asarray(document["optimum_validation"], dtype=float),
        optimum_evaluation=np.asarray(document["optimum_evaluation"], dtype=float),
        runs={n: dict(sorted(runs[n].items())) for n in order},
    )


def gap_curves(data: ConvergenceData) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per baseline, one ``(steps, gap)`` pair per seed: the mean optimum over the validation
    seeds minus the held-out profit (the mean over the same seeds)."""
    optimum = float(data.optimum_validation.mean())
    return {
        name: [(steps, optimum - profit) for steps, profit in seeds.values()]
        for name, seeds in data.curves.items()
    }


def seed_spread(runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The standard deviation of the gap across seeds at each evaluation, averaged over the last
    half of the evaluations (the seeds' common ones); NaN with fewer than two seeds.

    Examples
    --------
    >>> x = np.arange(4.0)
    >>> round(seed_spread([(x, np.array([9.0, 9, 1, 1])), (x, np.array([9.0, 9, 3, 5]))]), 4)
    2.1213
    """
    if len(runs) < 2:
        return float("nan")
    length = min(len(gap) for _, gap in runs)
    gaps = np.array([gap[:length] for _, gap in runs], dtype=float)
    return float(gaps.std(axis=0, ddof=1)[length // 2 :].mean())


def final_gaps(data: ConvergenceData) -> dict[str, dict[str, float]]:
    """Per baseline, the final checkpoints' gap on the official seeds: per seed the optimum minus
    the profit averaged over the training runs, summarized with a paired bootstrap 95% CI
    (:func:`~coord_env.harness.stats.summarize`) over the official seeds."""
    return {
        name: summarize(data.optimum_evaluation - np.mean(list(seeds.values()), axis=0))
        for name, seeds in data.profits.items()
    }


def _overlap(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]


def convergence_verdict(
    gaps: Mapping[str, Mapping[str, float]], spreads: Mapping[str, float]
) -> str:
    """A plain sentence from the numbers: does MTMA's final gap reach 0 within its 95% CI, is it
    below each ablation's with CIs apart, and is its seed spread smaller than theirs?"""
    if FOCUS not in gaps:
        return f"No `{FOCUS}` run is committed: no verdict."
    ours = gaps[FOCUS]
    if converges(ours):
        parts = ["MTMA converges to the optimum on `tiny`: its final gap's 95% CI reaches 0."]
    else:
        parts = [
            f"MTMA does not converge to the optimum on `tiny`: its final gap "
            f"{ours['mean']:,.1f} [{ours['ci_low']:,.1f}, {ours['ci_high']:,.1f}] stays above 0."
        ]
    for name in CONVERGENCE_BASELINES[1:]:
        if name not in gaps:
            continue
        theirs = gaps[name]
        if _overlap(ours, theirs):
            verdict = "the 95% CIs overlap, so the timescales show no effect on the final gap"
        elif ours["ci_high"] < theirs["ci_low"]:
            verdict = "MTMA's is smaller with the 95% CIs apart: the timescales help"
        else:
            verdict = f"MTMA's is larger with the 95% CIs apart: `{name}` gets closer"
        parts.append(
            f"Against `{name}` ({theirs['mean']:,.1f} [{theirs['ci_low']:,.1f}, "
            f"{theirs['ci_high']:,.1f}]): {verdict}."
        )
        if np.isfinite(spreads.get(FOCUS, np.nan)) and np.isfinite(spreads.get(name, np.nan)):
            steadier = "smaller" if spreads[FOCUS] < spreads[name] else "not smaller"
            parts.append(
                f"MTMA's seed spread over the second half of training is {steadier} than "
                f"`{name}`'s ({spreads[FOCUS]:,.1f} vs {spreads[name]:,.1f})."
            )
    return " ".join(parts)


def convergence_section(
    figures: Path, directory: str | Path = CONVERGENCE, data: ConvergenceData | None = None
) -> list[str]:
    """The gap to the exact optimum on ``tiny`` against environment steps, the final gap on the
    official seeds with its CI, the seed spread over training, and the verdict.

    Parameters
    ----------
    figures : path
        Folder of the figure (linked relative to the page).
    directory : path
        The committed convergence data (read when ``data`` is not given).
    data : ConvergenceData, optional

    Returns
    -------
    list of str
        Markdown lines (a one-line note when no run is committed).
    """
    data = load_convergence(directory) if data is None else data
    head = ["## Convergence to the exact optimum on `tiny`", ""]
    if data is None:
        return [
            *head,
            "No convergence runs are committed yet (`coord-bench reproduce --convergence-runs "
            "DIR` collects them; docs/training.md, 'Convergence on tiny').",
            "",
        ]
    curves = gap_curves(data)
    gaps = final_gaps(data)
    spreads = {name: seed_spread(runs) for name, runs in curves.items()}
    optimum_validation = float(data.optimum_validation.mean())
    optimum = float(data.optimum_evaluation.mean())
    figures.mkdir(parents=True, exist_ok=True)
    png = plot_learning_curves(
        curves,
        figures / "tiny_convergence.png",
        {"optimum (gap 0)": 0.0},
        title="coord/tiny-v0: gap to the exact optimum while training (band: min-max over seeds)",
        y_label="optimum - held-out profit",
    )
    lines = [
        *head,
        "Gap = the exact optimum (`coord_env.analysis.optimal`, given each seed's initial stock) "
        "minus the profit, on the same seeds. While training: the held-out profit of the logs "
        f"(the mean over the 10 validation seeds, whose optimum is {optimum_validation:,.1f}); "
        "the line is the mean over training seeds, the band spans them. Final: each run's last "
        f"checkpoint on the 30 official seeds (optimum {optimum:,.1f}), per seed the optimum "
        "minus the profit averaged over the training runs, with a paired 95% bootstrap CI over "
        "the official seeds. Seed spread: the standard deviation of the gap across training "
        "seeds at each evaluation, averaged over the second half of training.",
        "",
        f"![gap to the optimum]({figures.name}/{png.name})",
        "",
        "| baseline | training seeds | steps | final gap, validation seeds (mean ± sd over runs) "
        "| final gap, official seeds | 95% CI | % of optimum | seed spread, 2nd half |",
        "|---|---:|---:|---|---:|---|---:|---:|",
    ]
    for name, runs in curves.items():
        finals = np.array([gap[-1] for _, gap in runs])
        spread_final = finals.std(ddof=1) if len(finals) > 1 else float("nan")
        steps = sorted({int(run["steps"]) for run in data.runs[name].values()})
        gap = gaps[name]
        lines.append(
            f"| {name} | {len(runs)} | {', '.join(f'{s:,}' for s in steps)} | "
            f"{_score(finals.mean())} ± {_score(spread_final)} | {_score(gap['mean'])} | "
            f"[{_score(gap['ci_low'])}, {_score(gap['ci_high'])}] | "
            f"{_score(100 * gap['mean'] / optimum)} | {_score(spreads[name])} |"
        )
    lines += ["", convergence_verdict(gaps, spreads), ""]
    return lines


# --- the paper's claims, re-stated with the evidence ----------------------------------------------

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
MIN_RUNS = 2  # fewer runs per scenario on a side: a bootstrap CI has no width, so no verdict
# The claims that compare MTMA with another learned baseline: (baseline, the claim as tested).
PAIRWISE_CLAIMS = (
    ("siloed_rl", "Coordination pays: MTMA beats departments that learn on their own incentives"),
    ("ippo", "MTMA beats independent learners (`ippo`)"),
    ("shared_ppo", "MTMA beats one policy shared by both agents (`shared_ppo`)"),
    ("centralized", "MTMA beats one centralized learner over both decisions (`centralized`)"),
    ("mtma_single_timescale", "The two timescales help: MTMA beats its one-timescale ablation"),
    (
        "mtma_reversed",
        "The order matters (inventory slow, recommender fast): MTMA beats it reversed",
    ),
)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, the evidence this benchmark has for it, and the verdict.

    Attributes
    ----------
    claim : str
    evidence : str
    verdict : str
        ``"supported"``, ``"contradicted"`` (the evidence goes the other way), ``"inconclusive"``
        (the 95% CI admits both), ``"mixed (...)"`` (the scenarios disagree), ``"no verdict (...)"``
        (too few runs) or, for convergence, ``"not reached within N steps"``.
    """

    claim: str
    evidence: str
    verdict: str


def interval_verdict(interval: Mapping[str, float], threshold: float) -> str:
    """``"supported"`` when the 95% CI lies wholly above ``threshold``, ``"contradicted"`` when
    wholly below, ``"inconclusive"`` when it covers it.

    Examples
    --------
    >>> interval_verdict({"ci_low": 0.55, "ci_high": 0.9}, 0.5)
    'supported'
    >>> interval_verdict({"ci_low": 0.2, "ci_high": 0.6}, 0.5)
    'inconclusive'
    """
    if interval["ci_low"] > threshold:
        return SUPPORTED
    if interval["ci_high"] < threshold:
        return CONTRADICTED
    return INCONCLUSIVE


def combined_verdict(verdicts: Mapping[str, str]) -> str:
    """One verdict from the per-scenario ones: theirs when they agree, else ``"mixed"`` naming
    each scenario's, so a pooled number cannot hide a split.

    Examples
    --------
    >>> combined_verdict({"default": "supported", "multiscale": "supported"})
    'supported'
    >>> combined_verdict({"default": "supported", "multiscale": "contradicted"})
    'mixed (supported on default, contradicted on multiscale)'
    """
    if len(set(verdicts.values())) == 1:
        return next(iter(verdicts.values()))
    return "mixed (" + ", ".join(f"{v} on {task}" for task, v in verdicts.items()) + ")"


def converges(gap: Mapping[str, float]) -> bool:
    """Whether a final gap to the optimum is consistent with 0: its 95% CI reaches 0."""
    return gap["ci_low"] <= 0.0


def _p_value(p: float) -> str:
    """Two decimals (a p-value, a ratio), "n/a" for NaN."""
    return f"{p:.2f}" if np.isfinite(p) else "n/a"


def _interval(value: Mapping[str, float], digits: int = 1) -> str:
    if digits == 1:
        return f"{_score(value['value'])} [{_score(value['ci_low'])}, {_score(value['ci_high'])}]"
    return f"{value['value']:.2f} [{value['ci_low']:.2f}, {value['ci_high']:.2f}]"


def _judged(
    statistic: Any,
    matrices: Sequence[np.ndarray],
    tasks: Sequence[str],
    threshold: float,
    label: str,
    reps: int,
    digits: int = 1,
) -> tuple[str, str]:
    """(evidence, verdict) of a statistic of runs x tasks matrices against ``threshold``: pooled
    over the tasks and per task, the verdict per task combined (:func:`combined_verdict`); the
    values with ``digits`` decimals (1 for scores, 2 for probabilities)."""
    runs = min(matrix.shape[0] for matrix in matrices)
    sizes = " vs ".join(f"{m.shape[0]} runs" for m in matrices)
    pooled = interval_estimate(statistic, *matrices, reps=reps)
    per_task = {
        task: interval_estimate(statistic, *(m[:, [t]] for m in matrices), reps=reps)
        for t, task in enumerate(tasks)
    }
    evidence = (
        f"{label} = {_interval(pooled, digits)} over {', '.join(tasks)} ({sizes} per scenario); "
        + "; ".join(f"{task}: {_interval(value, digits)}" for task, value in per_task.items())
    )
    if runs < MIN_RUNS:
        return evidence, f"no verdict (fewer than {MIN_RUNS} runs per scenario)"
    verdicts = {task: interval_verdict(value, threshold) for task, value in per_task.items()}
    return evidence, combined_verdict(verdicts)


def restate_claims(
    matrices: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    convergence: tuple[Mapping[str, Mapping[str, float]], Mapping[str, float], int] | None = None,
    reps: int = BOOTSTRAP_RESAMPLES,
) -> list[Claim]:
    """The paper's claims with this benchmark's evidence and a verdict computed from it.

    Each comparison is judged per scenario and the verdicts combined (:func:`combined_verdict`):
    a claim that MTMA beats a method needs P(MTMA > X)'s 95% CI above 0.5, beating the siloed
    heuristic needs MTMA's IQM CI above 0, with at least :data:`MIN_RUNS` runs per scenario on
    each side. Stability needs MTMA's within-scenario seed spread smaller than both ablations'
    with the F-test's p < 0.05 (larger with p < 0.05 contradicts it). Convergence needs the final
    gap's CI on ``tiny`` to reach 0; a gap above 0 says only that the optimum was not reached
    within the runs' steps.

    Parameters
    ----------
    matrices : mapping
        Baseline -> runs x scenarios normalized scores (:func:`score_matrices`).
    tasks : sequence of str
        The scenarios of the matrices' columns.
    convergence : tuple, optional
        ``(gaps, spreads, steps)`` of the convergence runs: :func:`final_gaps`,
        :func:`seed_spread` per baseline, and the runs' length in steps.
    reps : int
        Bootstrap resamples.

    Returns
    -------
    list of Claim
    """
    claims = []
    if FOCUS in matrices:
        ours = matrices[FOCUS]
        evidence, verdict = _judged(aggregate_iqm, [ours], tasks, 0.0, "MTMA's IQM score", reps)
        claims.append(
            Claim(
                "Coordination pays: MTMA beats the siloed heuristic (departments with their own "
                "targets, score 0)",
                evidence,
                verdict,
            )
        )
        for name, claim in PAIRWISE_CLAIMS:
            if name in matrices:
                label = f"P(MTMA > `{name}`)"
                pair = [ours, matrices[name]]
                evidence, verdict = _judged(
                    probability_of_improvement, pair, tasks, 0.5, label, reps, digits=2
                )
                claims.append(Claim(claim, evidence, verdict))
        ablations = [name for name in CONVERGENCE_BASELINES[1:] if name in matrices]
        if ablations:
            tests = {name: spread_ratio_test(ours, matrices[name]) for name in ablations}
            if any(not np.isfinite(p) for _, p in tests.values()):
                verdict = f"no verdict (fewer than {MIN_RUNS} runs per scenario, or no spread)"
            elif all(ratio < 1 and p < 0.05 for ratio, p in tests.values()):
                verdict = SUPPORTED
            elif any(ratio > 1 and p < 0.05 for ratio, p in tests.values()):
                verdict = CONTRADICTED
            else:
                verdict = INCONCLUSIVE
            evidence = "; ".join(
                f"MTMA's seed spread is {_p_value(ratio)} times `{name}`'s "
                f"(F-test p = {_p_value(p)}; {ours.shape[0]} vs {matrices[name].shape[0]} runs on each "
                f"of {', '.join(tasks)})"
                for name, (ratio, p) in tests.items()
            )
            claims.append(
                Claim("The timescales make learning stable across seeds", evidence, verdict)
            )
    if convergence is not None and FOCUS in convergence[0]:
        gaps, spreads, steps = convergence
        gap = gaps[FOCUS]
        evidence = (
            f"final gap to the exact optimum on the official seeds after {steps:,} steps: "
            f"{_score(gap['mean'])} [{_score(gap['ci_low'])}, {_score(gap['ci_high'])}]"
        )
        if spreads:
            evidence += "; seed spread over the second half of training: " + ", ".join(
                f"`{name}` {_score(spreads[name])}"
                for name in CONVERGENCE_BASELINES
                if name in spreads
            )
        claims.append(
            Claim(
                "MTMA converges to the optimum (on `tiny`, where the optimum is known)",
                evidence,
                SUPPORTED if converges(gap) else f"not reached within {steps:,} steps",
            )
        )
    return claims


def protocol_effort(
    scenarios: Sequence[str],
    training: TrainingSettings | None = None,
    tuned: str | Path = TUNED_SETTINGS,
) -> str:
    """One sentence on the effort the settings files give every learned baseline on
    ``scenarios``: the tuning study (trials, steps per trial) and the training budget and seeds,
    said to be equal only when they are.

    Examples
    --------
    >>> protocol_effort(["default", "multiscale"]).startswith("The settings give every learned")
    True
    """
    training = training_settings() if training is None else training
    studies = load_tuned_studies(tuned)
    efforts: dict[tuple[int, int, int], list[str]] = {}
    complete = []
    for scenario in scenarios:
        for name in RL_BASELINES:
            study = studies.get((name, scenario))
            trials = (len(study["trials"]), study["trial_steps"]) if study else (0, 0)
            if study:
                complete.append(sum(t["state"] == "complete" for t in study["trials"]))
            effort = (*trials, training.run(name, scenario).steps)
            efforts.setdefault(effort, []).append(f"{name}/{scenario}")

    def said(effort: tuple[int, int, int]) -> str:
        trials, steps, budget = effort
        study = (
            f"a tuning study of {trials} trials of up to {steps:,} steps on the validation seeds"
            if trials
            else "no tuning study"
        )
        return f"{study}, then {len(training.curve_seeds)} training seeds of {budget:,} steps"

    if len(efforts) == 1:
        pruned = (
            f" ({min(complete)} to {max(complete)} trials complete per study, the rest stopped "
            "early by the pruner)"
            if complete and min(complete) < next(iter(efforts))[0]
            else ""
        )
        return (
            f"The settings give every learned baseline the same effort: "
            f"{said(next(iter(efforts)))}{pruned}."
        )
    return (
        "The settings do not give equal effort: "
        + "; ".join(f"{said(effort)} for {', '.join(pairs)}" for effort, pairs in efforts.items())
        + "."
    )


def claims_section(
    curves: Mapping[str, Curves],
    references: Mapping[str, Mapping[str, Any]] | None = None,
    convergence: ConvergenceData | None = None,
    reps: int = BOOTSTRAP_RESAMPLES,
    effort: str | None = None,
) -> list[str]:
    """The claims table: each of the paper's claims, its evidence (from the training seeds'
    scores and the convergence runs) and the verdict (:func:`restate_claims`).

    Parameters
    ----------
    curves, references : mapping
        As :func:`rliable_section`'s.
    convergence : ConvergenceData, optional
        The committed convergence runs (default: loaded).
    reps : int
        Bootstrap resamples.
    effort : str, optional
        The sentence on the effort behind the runs (default: :func:`protocol_effort` of the
        scenarios).

    Returns
    -------
    list of str
        Markdown lines.
    """
    effort = protocol_effort(list(curves)) if effort is None else effort
    matrices, notes = score_matrices(curves, _references(curves, references))
    data = load_convergence() if convergence is None else convergence
    runs = None
    if data is not None:
        steps = min(int(run["steps"]) for seeds in data.runs.values() for run in seeds.values())
        spreads = {name: seed_spread(r) for name, r in gap_curves(data).items()}
        runs = (final_gaps(data), spreads, steps)
    lines = [
        "## The paper's claims, re-stated with the evidence",
        "",
        f"{effort} The scores are the final held-out scores of the training runs on "
        f"{', '.join(f'`{name}`' for name in curves)} (the aggregates above). Each comparison "
        "is judged on each scenario and the verdicts combined, so that a pooled number cannot "
        "hide a split: a claim that MTMA beats a method is supported when P(MTMA > X)'s 95% CI "
        "lies above 0.5 and contradicted when it lies below; a CI that covers 0.5 is "
        "inconclusive; scenarios that disagree make it mixed. Beating the siloed heuristic "
        "needs MTMA's IQM CI above 0. Fewer than 2 runs per scenario give no verdict. "
        "Stability compares the within-scenario standard deviation of the scores across "
        "training seeds with each ablation's (F-test, p < 0.05 against both). Convergence is "
        "the final gap to the exact optimum on `tiny` (the section above); a gap whose CI stays "
        "above 0 shows only that the optimum was not reached within the runs' steps.",
        "",
    ]
    claims = restate_claims(matrices, list(curves), runs, reps)
    if not claims:
        return [*lines, "No MTMA runs are committed: no verdicts.", ""]
    lines += ["| claim | evidence | verdict |", "|---|---|---|"]
    lines += [f"| {c.claim} | {c.evidence} | **{c.verdict}** |" for c in claims]
    lines.append("")
    for name, note in notes.items():
        lines.append(f"- `{name}`: {note}.")
    return [*lines, ""] if notes else lines


def main(argv: list[str] | None = None) -> int:
    """``python -m baselines.protocol_report [SCENARIO ...]``: record the validation-seed
    references (default: the headline scenarios)."""
    names = (argv if argv is not None else sys.argv[1:]) or ["default", "multiscale"]
    path = write_validation_references(names)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
