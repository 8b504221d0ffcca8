"""``coord-bench reproduce``: every baseline on the headline scenarios, learning curves, the
paper-claims checks and the managerial insights, written to ``docs/results.md`` and its figures.

By default it evaluates the committed checkpoints (``baselines/checkpoints/``) and draws learning
curves from their committed training logs; ``retrain=True`` first retrains every RL baseline on
every training seed with the budgets of ``baselines/settings/training.json``, and replaces the
committed checkpoints and logs. This module computes; :mod:`baselines.report` writes the Markdown.
"""

from __future__ import annotations

import csv
import datetime
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from baselines import report
from baselines.protocol_report import (
    claims_section,
    convergence_section,
    protocol_effort,
    rliable_section,
    validation_references,
)
from baselines.report import AblationComparison, OptimalityReport, ScenarioReport
from baselines.rl.mtma import MTMA_TRAINERS
from baselines.rl.mtma.config import THROUGHPUT_ROLLOUT
from baselines.rl.mtma.trainer import drop_episodes_under_way
from baselines.rl.names import RL_BASELINES
from baselines.rl.policies import COMMITTED, committed_checkpoint
from baselines.rl.sb3 import SB3_THROUGHPUT_ROLLOUT
from baselines.rl.training import TrainingRun, train_runs
from baselines.settings import (
    TUNED_SETTINGS,
    SettingsError,
    TrainingSettings,
    load_tuned_settings,
    training_settings,
)
from coord_env.analysis.insights import insight_checks
from coord_env.analysis.optimal import OptimalPolicy, optimal_value
from coord_env.checkpoint import MANIFEST, read_manifest
from coord_env.distributed import local_cluster
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.harness.evaluate import evaluate, policy_supports, resolve_policy, run_episode
from coord_env.harness.plots import plot_learning_curves, plot_profit
from coord_env.harness.references import reference_for
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.harness.stats import spread_ratio_test, summarize
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "CURVE_SEEDS",
    "HEADLINE_SCENARIOS",
    "TRAINING",
    "TUNED_SETTINGS",
    "compare_ablation",
    "reproduce",
    "retrain",
    "training_budget",
    "training_command",
    "training_config",
    "tuned_settings",
]

# Budgets, rollouts, curve seeds and the scenarios reported: baselines/settings/training.json.
TRAINING: TrainingSettings = training_settings()
HEADLINE_SCENARIOS = TRAINING.headline_scenarios
OPTIMUM_SCENARIOS = TRAINING.optimum_scenarios  # solved exactly by coord_env.analysis.optimal
CURVE_SEEDS = TRAINING.curve_seeds  # training seeds of the curves; the first one's is committed
HEURISTICS = ("random", "mean_demand", "siloed", "coordinated", "lp")


def curve_path(scenario: Scenario, name: str, seed: int) -> Path:
    """Where the training log of one (baseline, seed) run on a scenario is committed."""
    return COMMITTED / scenario.name / "curves" / f"{name}_seed{seed}.csv"


def training_budget(name: str, scenario: Scenario) -> int:
    """The env-step budget of baseline ``name``'s committed checkpoint and curves on ``scenario``.

    Raises
    ------
    KeyError
        A scenario or baseline without a budget in ``baselines/settings/training.json``.

    Examples
    --------
    >>> training_budget("ippo", load_scenario("default"))
    200000
    """
    return TRAINING.run(name, scenario.name).steps


def eval_every(budget: int) -> int:
    """Steps between held-out evaluations of a run: ``budget / eval_points``, but at least
    ``min_eval_every`` (both from the training settings)."""
    return max(TRAINING.min_eval_every, budget // TRAINING.eval_points)


def tuned_settings(path: str | Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """:func:`baselines.settings.load_tuned_settings` of ``path``, by default of this module's
    :data:`TUNED_SETTINGS` (the package's file), which retrain reads.

    Examples
    --------
    >>> tuned_settings()["centralized", "multiscale"]["n_steps"]
    256
    """
    return load_tuned_settings(TUNED_SETTINGS if path is None else path)


def training_config(
    name: str, scenario: Scenario, settings: str | Path | None = None
) -> dict[str, Any]:
    """Hyperparameters beyond the trainer's defaults.

    MTMA's learning rates decay to the budget. A ``"throughput"`` rollout in the training
    settings means wide rollouts and few large minibatches:
    :data:`~baselines.rl.mtma.config.THROUGHPUT_ROLLOUT` for MTMA,
    :data:`~baselines.rl.sb3.SB3_THROUGHPUT_ROLLOUT` for the SB3 baselines. The tuned settings of
    ``(name, scenario)`` in the ``settings`` file (:func:`tuned_settings`) come on top, and an SB3
    baseline with tuned settings decays its learning rate to the budget too. A ``"tuned"`` rollout
    is the tuned settings alone on the trainer's defaults, as the tuning study's trials ran. The
    run's fixed options (``vec_env``) come last.

    Raises
    ------
    SettingsError
        A ``"tuned"`` rollout for a pair that the tuned settings file does not hold.

    Examples
    --------
    >>> training_config("mtma", load_scenario("tiny"))
    {'lr_decay_steps': 50000}
    """
    run = TRAINING.run(name, scenario.name)
    tuned = tuned_settings(settings).get((name, scenario.name), {})
    if run.rollout == "tuned" and not tuned:
        raise SettingsError(
            f"training.json: runs.{scenario.name}.{name}.rollout is 'tuned', but the tuned "
            f"settings have no {name}/{scenario.name} entry; run coord-bench tune {name} "
            f"--scenario {scenario.name}"
        )
    options = dict(run.options)
    if name in MTMA_TRAINERS:
        rollout = THROUGHPUT_ROLLOUT if run.rollout == "throughput" else {}
        return {**rollout, **tuned, "lr_decay_steps": run.steps, **options}
    config = dict(SB3_THROUGHPUT_ROLLOUT) if run.rollout == "throughput" else {}
    if tuned:
        config.update(tuned, lr_decay_steps=run.steps)
    return {**config, **options}


def training_command(name: str, scenario: Scenario, seed: int) -> str:
    """The ``coord-bench train`` command that :func:`retrain` runs for one (baseline, seed).

    Examples
    --------
    >>> training_command("ippo", load_scenario("tiny"), 0)
    'coord-bench train ippo --scenario tiny --steps 50000 --seed 0 --eval-every 15000'
    """
    budget = training_budget(name, scenario)
    command = (
        f"coord-bench train {name} --scenario {scenario.name} --steps "
        f"{budget} --seed {seed} --eval-every {eval_every(budget)}"
    )
    config = training_config(name, scenario)
    if config:
        command += " --config " + " ".join(f"{key}={value}" for key, value in config.items())
    return command


def retrain(
    scenario: Scenario | Sequence[Scenario],
    names: Sequence[str] = RL_BASELINES,
    seeds: Sequence[int] = CURVE_SEEDS,
    runs: str | Path = "runs",
    progress: bool = True,
    *,
    scheduler: str | None = None,
    workers: int = 0,
) -> None:
    """Train every baseline on every seed; commit seed ``CURVE_SEEDS[0]``'s checkpoint and every log.

    The runs (scenario x baseline x seed) go through :func:`baselines.rl.training.train_runs`: in
    this process, or fanned out to a Dask cluster with ``scheduler`` (``"local"`` or an address).
    A finished run folder is skipped and an unfinished one resumed to the budget, so an
    interrupted retrain continues where it stopped.
    """
    scenarios = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    plan = [
        (s, name, seed, Path(runs) / s.name / f"{name}_seed{seed}")
        for s in scenarios
        for name in names
        for seed in seeds
    ]
    jobs = [
        TrainingRun(
            name,
            s.name,
            training_budget(name, s),
            seed,
            str(out),
            eval_every=eval_every(training_budget(name, s)),
            command=training_command(name, s, seed),
            config=training_config(name, s),
        )
        for s, name, seed, out in plan
    ]
    checkpoints = train_runs(jobs, scheduler=scheduler, workers=workers, progress=progress)
    for (s, name, seed, out), checkpoint in zip(plan, checkpoints, strict=True):
        log = curve_path(s, name, seed)
        log.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(log, (out / "progress.csv").read_bytes())
        if seed == CURVE_SEEDS[0]:
            target = committed_checkpoint(name, s)
            staging = target.with_name(target.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(checkpoint, staging)
            if name in MTMA_TRAINERS:
                drop_episodes_under_way(staging)  # a policy-sized commit, under 3 MB
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)


def _curves(scenario: Scenario, x: str = "steps") -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per baseline, one ``(x, held-out profit)`` pair per training seed from the committed logs;
    ``x`` is ``"steps"`` or ``"wall_time_s"`` (seconds of training since the run started).

    Only logs of runs that reached the baseline's current budget count: a log left from an older
    budget would be averaged and compared against runs of another length.
    """
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name in RL_BASELINES:
        budget = training_budget(name, scenario)
        for seed in CURVE_SEEDS:
            path = curve_path(scenario, name, seed)
            if not path.exists():
                continue
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            if not rows or not budget <= float(rows[-1]["steps"]) < 2 * budget:
                continue
            abscissa = np.array([float(row[x]) for row in rows])
            profit = np.array([float(row["eval_profit_mean"]) for row in rows])
            curves.setdefault(name, []).append((abscissa, profit))
    return curves


def _final(runs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.array([profit[-1] for _, profit in runs])


def compare_ablation(
    ours: np.ndarray, ablation: np.ndarray, name: str = "mtma_single_timescale"
) -> AblationComparison:
    """MTMA against a timescale ablation: final held-out profit over training seeds.

    With at least two seeds each, a Welch t-test says whether the mean profits differ, and the
    ratio of the seed standard deviations, with a two-sided F-test of the variances, says which
    learns more reliably. With a handful of seeds the tests have little power
    (:func:`baselines.report.ablation_line` reads p >= 0.05 as "not significantly different").

    Parameters
    ----------
    ours, ablation : numpy.ndarray
        Final held-out profit per training seed of MTMA and of the ablation.
    name : str
        The ablation's baseline name.

    Returns
    -------
    AblationComparison
        The p-values are nan where a test is undefined: fewer than two seeds, no spread at all
        (Welch), or an ablation without spread (F).

    Examples
    --------
    >>> compare_ablation(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])).p_value
    1.0
    """
    seeds = (len(ours), len(ablation))
    means = (float(ours.mean()), float(ablation.mean()))
    if min(seeds) < 2:
        nan = float("nan")
        return AblationComparison(name, seeds, means, (nan, nan), nan, nan)
    sd_ours, sd_ablation = float(ours.std(ddof=1)), float(ablation.std(ddof=1))
    p_value = (
        float(stats.ttest_ind(ours, ablation, equal_var=False).pvalue)
        if sd_ours > 0 or sd_ablation > 0
        else float("nan")  # no spread at all: nothing to test
    )
    _, variance_p_value = spread_ratio_test(ours, ablation)
    return AblationComparison(name, seeds, means, (sd_ours, sd_ablation), p_value, variance_p_value)


def _figure_link(figures: Path, png: Path) -> str:
    return f"{figures.name}/{png.name}"


def scenario_report(
    scenario: Scenario,
    figures: Path,
    seeds: Sequence[int],
    workers: int,
    progress: bool,
    scheduler: str | None = None,
) -> ScenarioReport:
    """Evaluate every policy on one headline scenario, draw its figures and run its checks.

    Returns what :func:`baselines.report.scenario_section` renders; the figures are written into
    ``figures`` and linked relative to the page.
    """
    names = [name for name in (*HEURISTICS, *RL_BASELINES) if policy_supports(name, scenario)]
    results = {
        name: evaluate(
            name, scenario, seeds, workers=workers, progress=progress, scheduler=scheduler
        )
        for name in names
    }
    reference = reference_for(scenario)
    bound = reference["upper_bound"] if reference else None
    figures.mkdir(parents=True, exist_ok=True)
    profit_png = plot_profit(
        [r for n, r in results.items() if n != "random"], figures / f"{scenario.name}_profit.png"
    )
    curves = _curves(scenario)
    curve_figures = None
    if curves:
        references = {
            name: results[name]["profit"]["mean"]
            for name in ("siloed", "coordinated")
            if name in results
        }
        if bound is not None:
            references["upper bound"] = bound
        curve_png = plot_learning_curves(
            curves,
            figures / f"{scenario.name}_learning_curves.png",
            references,
            title=f"{scenario.env_id}: held-out profit while training (band: min-max over seeds)",
        )
        minutes = {
            name: [(seconds / 60.0, profit) for seconds, profit in runs]
            for name, runs in _curves(scenario, "wall_time_s").items()
        }
        clock_png = plot_learning_curves(
            minutes,
            figures / f"{scenario.name}_learning_curves_wall_clock.png",
            references,
            title=f"{scenario.env_id}: held-out profit against training time",
            x_label="wall-clock minutes of training (held-out evaluations excluded)",
        )
        curve_figures = (_figure_link(figures, curve_png), _figure_link(figures, clock_png))
    finals = {name: _final(runs) for name, runs in curves.items()}
    report_kwargs: dict[str, Any] = {}
    if "mtma" in results:
        siloed_mean = results["siloed"]["profit"]["mean"] if "siloed" in results else None
        report_kwargs["below_siloed"] = tuple(
            name
            for name in RL_BASELINES
            if name in results
            and siloed_mean is not None
            and results[name]["profit"]["mean"] < siloed_mean
        )
        report_kwargs["ablations"] = tuple(
            compare_ablation(finals["mtma"], finals[ablation], ablation)
            for ablation in ("mtma_single_timescale", "mtma_reversed")
            if "mtma" in finals and ablation in finals
        )
        checkpoint = committed_checkpoint("mtma", scenario)
        if (checkpoint / MANIFEST).exists():
            report_kwargs["mtma_training"] = read_manifest(checkpoint)
        report_kwargs["insights"] = _insight_checks(scenario, results, seeds)
    return ScenarioReport(
        scenario,
        results,
        bound,
        _figure_link(figures, profit_png),
        curve_figures,
        finals,
        **report_kwargs,
    )


def _insight_checks(
    scenario: Scenario, results: dict[str, Any], seeds: Sequence[int]
) -> dict[str, dict[str, float]]:
    """The managerial-insight statistics of MTMA and the heuristics it is compared with."""
    checks = {}
    for name in ("mtma", "siloed", "coordinated"):
        if name not in results:
            continue
        _, factory = resolve_policy(name)
        trajectories = [
            run_episode(factory, scenario, seed, name, getattr(factory, "env_options", None))
            for seed in seeds
        ]
        checks[name] = insight_checks(trajectories)
    return checks


def optimality_report(
    scenario: Scenario, seeds: Sequence[int], workers: int = 0, progress: bool = False
) -> OptimalityReport:
    """Every baseline's gap to the exact optimum (coord_env.analysis.optimal), and the fluid bound's.

    Gaps are paired per seed: the DP value given the seed's initial stock minus the episode's
    profit, with a bootstrap CI of the mean over seeds.
    """
    from coord_env.analysis.upper_bound import fluid_upper_bound

    optimum = np.array([optimal_value(scenario, seed) for seed in seeds])
    names = [name for name in (*HEURISTICS, *RL_BASELINES) if policy_supports(name, scenario)]
    policies: dict[str, Any] = {name: name for name in names}
    policies["optimal (DP policy)"] = OptimalPolicy()
    rows = {}
    for name, policy in policies.items():
        result = evaluate(policy, scenario, seeds, workers=workers, progress=progress, name=name)
        profit = np.array([row["profit"] for row in result["per_seed"]])
        rows[name] = (profit.mean(), summarize(optimum - profit))
    bound = np.array([fluid_upper_bound(scenario, seed).value for seed in seeds])
    reference = reference_for(scenario)
    siloed = reference["siloed_profit"] if reference else float("nan")
    return OptimalityReport(
        scenario,
        optimum=optimum.mean(),
        rows=rows,
        fluid_bound=bound.mean(),
        excess=summarize(bound - optimum),
        bound_above=int(np.sum(bound >= optimum)),
        seeds=len(seeds),
        reachable=100 * (optimum.mean() - siloed) / (bound.mean() - siloed),
    )


def optimality_section(
    scenario: Scenario, seeds: Sequence[int], workers: int = 0, progress: bool = False
) -> list[str]:
    """The lines of the page's gap-to-the-optimum section of ``scenario`` (docs/optimal.md)."""
    return report.optimality_section(optimality_report(scenario, seeds, workers, progress)).split(
        "\n"
    )


def reproduce(
    out: str | Path = "docs/results.md",
    scenarios: Sequence[str] = HEADLINE_SCENARIOS,
    *,
    retrain_models: bool = False,
    num_seeds: int = 0,
    workers: int = 2,
    runs: str | Path = "runs",
    progress: bool = True,
    scheduler: str | None = None,
) -> Path:
    """Write the results page and its figures (beside it, in ``figures/``); return its path.

    Parameters
    ----------
    out : path
        The Markdown page to write.
    scenarios : sequence of str
        Scenario names (default: the training settings' headline scenarios).
    retrain_models : bool
        Retrain every RL baseline on every curve seed first (hours), replacing the committed
        checkpoints and training logs.
    num_seeds : int
        Use only the first N official seeds (0: all 30).
    workers : int
        Worker processes for the evaluations.
    runs : path
        Where retraining writes its run folders.
    progress : bool
        Show progress bars.
    scheduler : str, optional
        Fan the retraining runs and the evaluation episodes out to Dask: ``"local"`` (a loopback
        cluster of ``workers`` processes) or a scheduler address (``"tcp://host:8786"``).
    """
    out = Path(out)
    figures = out.parent / "figures"
    seeds = list(EVALUATION_SEEDS[:num_seeds] if num_seeds else EVALUATION_SEEDS)
    sections = [
        report.page_header(
            retrained=retrain_models,
            date=datetime.date.today().isoformat(),
            cpu_count=os.cpu_count(),
            seeds=len(seeds),
        )
    ]
    headline = [load_scenario(name) for name in scenarios]
    optimum = [load_scenario(name) for name in OPTIMUM_SCENARIOS]
    with local_cluster(scheduler, workers) as cluster:  # one cluster for every step
        if retrain_models:  # every scenario's runs in one sweep; one at a time without Dask
            retrain(
                [*headline, *optimum],
                runs=runs,
                progress=progress,
                scheduler=cluster,
                workers=workers if cluster else 0,
            )
        for scenario in headline:
            computed = scenario_report(scenario, figures, seeds, workers, progress, cluster)
            sections.append(report.scenario_section(computed))
    curves = {s.name: _curves(s) for s in headline}
    references = {s.name: validation_references(s) for s in headline}
    sections.append("\n".join(rliable_section(curves, figures, references)))
    for scenario in optimum:
        sections.append(
            report.optimality_section(optimality_report(scenario, seeds, workers, progress))
        )
    sections.append("\n".join(convergence_section(figures)))
    effort = protocol_effort(list(curves), TRAINING, TUNED_SETTINGS)
    sections.append("\n".join(claims_section(curves, references, effort=effort)))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, report.render_page(sections))
    return out
