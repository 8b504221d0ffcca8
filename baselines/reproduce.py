"""``coord-bench reproduce``: every baseline on the headline scenarios, learning curves, the
paper-claims checks and the managerial insights, written to ``docs/results.md`` and its figures.

By default it evaluates the committed checkpoints (``baselines/checkpoints/``) and draws learning
curves from their committed training logs; ``retrain=True`` first retrains every RL baseline on
every training seed with the budgets below, and replaces the committed checkpoints and logs.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from baselines.protocol_report import convergence_section, rliable_section
from baselines.rl.mtma import MTMA_TRAINERS
from baselines.rl.mtma.config import THROUGHPUT_ROLLOUT
from baselines.rl.mtma.trainer import drop_episodes_under_way
from baselines.rl.policies import COMMITTED, committed_checkpoint
from baselines.rl.sb3 import SB3_THROUGHPUT_ROLLOUT
from baselines.rl.training import RL_BASELINES, TrainingRun, train_runs
from coord_env.analysis.insights import INSIGHTS, insight_checks
from coord_env.analysis.optimal import OptimalPolicy, optimal_value
from coord_env.checkpoint import MANIFEST, read_manifest
from coord_env.distributed import local_cluster
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.harness.evaluate import evaluate, policy_supports, resolve_policy, run_episode
from coord_env.harness.plots import plot_learning_curves, plot_profit
from coord_env.harness.references import reference_for
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.harness.stats import relative_change, summarize
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "CURVE_SEEDS",
    "HEADLINE_SCENARIOS",
    "TRAINING_BUDGETS",
    "TUNED_SETTINGS",
    "reproduce",
    "retrain",
    "training_budget",
    "training_command",
    "training_config",
    "tuned_settings",
]

HEADLINE_SCENARIOS = ("default", "multiscale")
OPTIMUM_SCENARIOS = ("tiny",)  # solved exactly by coord_env.analysis.optimal: gaps to the optimum
CURVE_SEEDS = (0, 1, 2, 3, 4)  # training seeds of the curves; seed 0's checkpoint is committed
TRAINING_BUDGETS = {
    "tiny": 50_000,
    "small": 1_000_000,
    "default": 300_000,
    "multiscale": 100_000,
}  # env steps
# MTMA and its ablations: the budget of the reported result; their learning rates decay linearly to
# zero at the budget. Budgets in the millions train with THROUGHPUT_ROLLOUT (about 4 minutes per
# 2M steps on one core of the 2-core machine).
MTMA_BUDGETS = {"tiny": 50_000, "small": 1_000_000, "default": 2_000_000, "multiscale": 2_000_000}
# Per-baseline budgets that differ from the tables above. centralized trains on the batched
# JointVecEnv with SB3_THROUGHPUT_ROLLOUT at 2M steps (about 7 minutes a run on one core); siloed_rl
# and ippo on the batched AgentVecEnv at 10x their former budgets (3M steps on default, about 8
# minutes a run); shared_ppo keeps the 100k budget of its committed checkpoints (its SuperSuit
# path steps about 900 env steps/s with 128 envs on small, too slow for the sweep's compute).
BUDGET_EXCEPTIONS = {
    ("shared_ppo", "small"): 100_000,
    ("shared_ppo", "default"): 100_000,
    ("centralized", "default"): 2_000_000,
    ("centralized", "multiscale"): 2_000_000,
    ("siloed_rl", "default"): 3_000_000,
    ("siloed_rl", "multiscale"): 1_000_000,
    ("ippo", "default"): 3_000_000,
    ("ippo", "multiscale"): 1_000_000,
}
# The tuned settings per (baseline, scenario): one data file, written by ``coord-bench tune``
# (baselines/tune.py) and read here (docs/training.md, "Tuning protocol").
TUNED_SETTINGS = Path(__file__).parent / "settings" / "tuned.json"
EVAL_POINTS = 20  # held-out evaluations per run (fewer for budgets under 300k: 15k apart)
HEURISTICS = ("random", "mean_demand", "siloed", "coordinated", "lp")
TABLE_METRICS = (
    "fill_rate",
    "oos_impression_share",
    "exposure_stock_rank_correlation",
    "order_exposure_lead_correlation",
)


def curve_path(scenario: Scenario, name: str, seed: int) -> Path:
    """Where the training log of one (baseline, seed) run on a scenario is committed."""
    return COMMITTED / scenario.name / "curves" / f"{name}_seed{seed}.csv"


def training_budget(name: str, scenario: Scenario) -> int:
    """The env-step budget of baseline ``name``'s committed checkpoint and curves on ``scenario``."""
    if (name, scenario.name) in BUDGET_EXCEPTIONS:
        return BUDGET_EXCEPTIONS[name, scenario.name]
    budgets = MTMA_BUDGETS if name in MTMA_TRAINERS else TRAINING_BUDGETS
    return budgets[scenario.name]


def eval_every(budget: int) -> int:
    """Steps between held-out evaluations of a run: ``budget / EVAL_POINTS``, but at least 15k."""
    return max(15_000, budget // EVAL_POINTS)


def tuned_settings(path: str | Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The tuned hyperparameters per ``(baseline, scenario)`` from the settings file.

    Parameters
    ----------
    path : path, optional
        A settings file as ``coord-bench tune`` writes it (default: the package's
        :data:`TUNED_SETTINGS`).

    Returns
    -------
    dict
        ``{(baseline, scenario): config}``; a config holds trainer fields (``learning_rate``...).

    Examples
    --------
    >>> tuned_settings()["centralized", "multiscale"]
    {'learning_rate': 0.001}
    """
    path = TUNED_SETTINGS if path is None else path
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["settings"]
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, entry in entries.items():
        name, _, scenario = key.partition("/")
        out[name, scenario] = dict(entry["config"])
    return out


def training_config(
    name: str, scenario: Scenario, settings: str | Path | None = None
) -> dict[str, Any]:
    """Hyperparameters beyond the trainer's defaults.

    MTMA's learning rates decay to the budget. Budgets of a million steps or more use wide
    rollouts and few large minibatches: :data:`~baselines.rl.mtma.config.THROUGHPUT_ROLLOUT` for
    MTMA, :data:`~baselines.rl.sb3.SB3_THROUGHPUT_ROLLOUT` for the SB3 baselines. The tuned
    settings of ``(name, scenario)`` in the ``settings`` file (:func:`tuned_settings`) come on
    top, and an SB3 baseline with tuned settings decays its learning rate to the budget too.
    """
    budget = training_budget(name, scenario)
    tuned = tuned_settings(settings).get((name, scenario.name), {})
    if name in MTMA_TRAINERS:
        rollout = THROUGHPUT_ROLLOUT if budget >= 1_000_000 else {}
        return {**rollout, **tuned, "lr_decay_steps": budget}
    config = dict(SB3_THROUGHPUT_ROLLOUT) if budget >= 1_000_000 else {}
    if tuned:
        config.update(tuned, lr_decay_steps=budget)
    return config


def training_command(name: str, scenario: Scenario, seed: int) -> str:
    """The ``coord-bench train`` command that :func:`retrain` runs for one (baseline, seed)."""
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


def _money(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:,.0f}"


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["profit"]["ci_low"] <= b["profit"]["ci_high"]
        and b["profit"]["ci_low"] <= a["profit"]["ci_high"]
    )


def _scenario_section(
    scenario: Scenario,
    figures: Path,
    seeds: Sequence[int],
    workers: int,
    progress: bool,
    scheduler: str | None = None,
) -> list[str]:
    """One scenario's table, figures, claims and insights; figures are linked relative to the page."""
    names = [name for name in (*HEURISTICS, *RL_BASELINES) if policy_supports(name, scenario)]
    results = {
        name: evaluate(
            name, scenario, seeds, workers=workers, progress=progress, scheduler=scheduler
        )
        for name in names
    }
    reference = reference_for(scenario)
    bound = reference["upper_bound"] if reference else None
    lines = [f"## `{scenario.name}` ({scenario.env_id}, hash {scenario.content_hash[:12]})", ""]
    lines += [
        "| policy | profit | 95% CI | IQM | normalized | "
        + " | ".join(name.replace("_", " ") for name in TABLE_METRICS)
        + " |",
        "|---|---:|---|---:|---:|" + "---:|" * len(TABLE_METRICS),
    ]
    for name, result in results.items():
        profit = result["profit"]
        metrics = " | ".join(_number(result["metrics"][key]) for key in TABLE_METRICS)
        score = result["normalized_score"]
        lines.append(
            f"| {name} | {_money(profit['mean'])} | [{_money(profit['ci_low'])}, "
            f"{_money(profit['ci_high'])}] | {_money(profit['iqm'])} | "
            f"{_number(score, 1)} | {metrics} |"
        )
    if bound is not None:
        lines.append(
            f"| *upper bound* | {_money(bound)} | | | 100.0 | |" + " |" * (len(TABLE_METRICS) - 1)
        )
    figures.mkdir(parents=True, exist_ok=True)
    profit_png = plot_profit(
        [r for n, r in results.items() if n != "random"], figures / f"{scenario.name}_profit.png"
    )
    lines += ["", f"![profit per policy]({figures.name}/{profit_png.name})", ""]

    curves = _curves(scenario)
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
        lines += [
            "Learning curves: held-out profit (the mean over the 10 validation seeds) against "
            "environment steps, and against wall-clock minutes; the line is the mean over "
            "training seeds, the band spans them. The wall-clock times are those the logs "
            "recorded: several runs shared the 2-core machine, so they compare budgets rather "
            "than the learners' speed (benchmarks/training_throughput.py measures that).",
            "",
            f"![learning curves]({figures.name}/{curve_png.name})",
            "",
            f"![learning curves against time]({figures.name}/{clock_png.name})",
            "",
            "| baseline | training seeds | final held-out profit, mean ± sd over seeds |",
            "|---|---:|---|",
        ]
        for name, runs in curves.items():
            final = _final(runs)
            spread = final.std(ddof=1) if len(final) > 1 else float("nan")
            lines.append(f"| {name} | {len(runs)} | {_money(final.mean())} ± {_money(spread)} |")
        lines.append("")

    lines += _claims(scenario, results, curves, bound)
    lines += _insights(scenario, results, seeds)
    return lines


def optimality_section(
    scenario: Scenario, seeds: Sequence[int], workers: int = 0, progress: bool = False
) -> list[str]:
    """Every baseline's gap to the exact optimum (coord_env.analysis.optimal), and the fluid bound's.

    Gaps are paired per seed: the DP value given the seed's initial stock minus the episode's
    profit, with a bootstrap CI of the mean over seeds.
    """
    from coord_env.analysis.upper_bound import fluid_upper_bound

    optimum = np.array([optimal_value(scenario, seed) for seed in seeds])
    names = [name for name in (*HEURISTICS, *RL_BASELINES) if policy_supports(name, scenario)]
    policies: dict[str, Any] = {name: name for name in names}
    policies["optimal (DP policy)"] = OptimalPolicy()
    lines = [
        f"## `{scenario.name}`: the gap to the exact optimum ({scenario.env_id}, hash "
        f"{scenario.content_hash[:12]})",
        "",
        f"The exact optimum by dynamic programming (`coord_env.analysis.optimal`, "
        f"docs/optimal.md): {_money(optimum.mean())} on these seeds (the mean over seeds of the "
        "optimal expected profit given each seed's initial stock). Gap = optimum - profit, "
        "paired per seed; 95% CI by seeded bootstrap over seeds. The normalized score of "
        "`tiny` uses this optimum as its ceiling.",
        "",
        "| policy | profit | gap to optimum | 95% CI of the gap | gap, % of optimum |",
        "|---|---:|---:|---|---:|",
    ]
    for name, policy in policies.items():
        result = evaluate(policy, scenario, seeds, workers=workers, progress=progress, name=name)
        profit = np.array([row["profit"] for row in result["per_seed"]])
        gap = summarize(optimum - profit)
        lines.append(
            f"| {name} | {_money(profit.mean())} | {_money(gap['mean'])} | "
            f"[{_money(gap['ci_low'])}, {_money(gap['ci_high'])}] | "
            f"{100 * gap['mean'] / optimum.mean():.1f} |"
        )
    bound = np.array([fluid_upper_bound(scenario, seed).value for seed in seeds])
    excess = summarize(bound - optimum)
    reference = reference_for(scenario)
    siloed = reference["siloed_profit"] if reference else float("nan")
    reachable = 100 * (optimum.mean() - siloed) / (bound.mean() - siloed)
    lines += [
        f"| *fluid upper bound* | {_money(bound.mean())} | {_money(-excess['mean'])} | "
        f"[{_money(-excess['ci_high'])}, {_money(-excess['ci_low'])}] | "
        f"{-100 * excess['mean'] / optimum.mean():.1f} |",
        "",
        f"The fluid bound lies above the optimum on {int(np.sum(bound >= optimum))} of "
        f"{len(seeds)} seeds, by {_money(excess['mean'])} on average "
        f"({100 * excess['mean'] / optimum.mean():.1f}% of the optimum). Of the gap between "
        f"the siloed heuristic and the fluid bound, {reachable:.0f}% is reachable by a policy; "
        "the rest is the looseness of the bound.",
        "",
    ]
    return lines


def _claims(
    scenario: Scenario,
    results: dict[str, dict[str, Any]],
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]],
    bound: float | None,
) -> list[str]:
    if "mtma" not in results:
        return [
            "No MTMA checkpoint is committed for this scenario: the claims are not checked.",
            "",
        ]
    mtma = results["mtma"]
    lines = ["### The paper's claims, checked", ""]

    def versus(name: str) -> str:
        if name not in results:
            return f"- MTMA vs {name}: no {name} result."
        other = results[name]
        ours, theirs = mtma["profit"]["mean"], other["profit"]["mean"]
        verdict = "higher" if ours > theirs else "lower" if ours < theirs else "equal"
        cis = "the 95% CIs overlap" if _overlap(mtma, other) else "the 95% CIs do not overlap"
        return f"- MTMA vs {name}: {relative_change(ours, theirs)} mean profit ({verdict}); {cis}."

    lines += [versus("siloed"), versus("siloed_rl"), versus("coordinated")]
    siloed_mean = results["siloed"]["profit"]["mean"] if "siloed" in results else None
    below = [
        name
        for name in RL_BASELINES
        if name in results
        and siloed_mean is not None
        and results[name]["profit"]["mean"] < siloed_mean
    ]
    if below:
        lines.append(
            f"- Below the siloed heuristic here: {', '.join(f'`{name}`' for name in below)}. "
            "docs/training.md ('Below the siloed heuristic') gives the evidence for each: "
            "the departmental incentive that `siloed_rl` learns, the curves that plateau or "
            "collapse, and the budgets and settings tried."
        )
    if bound is not None:
        gap = 1 - mtma["profit"]["mean"] / bound
        lines.append(f"- Gap to the upper bound: MTMA earns {100 * gap:.1f}% less than the bound.")
    for ablation in ("mtma_single_timescale", "mtma_reversed"):
        if "mtma" in curves and ablation in curves:
            lines.append(_ablation_line(_final(curves["mtma"]), _final(curves[ablation]), ablation))
    checkpoint = committed_checkpoint("mtma", scenario)
    if (checkpoint / MANIFEST).exists():
        manifest = read_manifest(checkpoint)
        lines.append(
            f"- Training the committed MTMA checkpoint took {manifest['wall_time_s'] / 60:.1f} "
            f"minutes for {manifest['steps']:,} environment steps (`{manifest['command']}`)."
        )
    return [*lines, ""]


def _ablation_line(
    ours: np.ndarray, ablation: np.ndarray, name: str = "mtma_single_timescale"
) -> str:
    """MTMA against a timescale ablation: final held-out profit over training seeds.

    With at least two seeds each, a Welch t-test says whether the mean profits differ, and the
    ratio of the seed standard deviations, with a two-sided F-test of the variances, says which
    learns more reliably. With a handful of seeds the tests have little power, so p >= 0.05 reads
    "not significantly different".
    """
    label = {"mtma_single_timescale": "single-timescale", "mtma_reversed": "reversed-timescale"}
    head = (
        f"- MTMA vs its {label.get(name, name)} ablation `{name}` (final held-out profit over "
        f"{len(ours)} and {len(ablation)} training seeds): "
    )
    if min(len(ours), len(ablation)) < 2:
        return head + f"{_money(ours.mean())} vs {_money(ablation.mean())} (one seed: no spread)."
    sd_ours, sd_ablation = ours.std(ddof=1), ablation.std(ddof=1)
    p_value = (
        stats.ttest_ind(ours, ablation, equal_var=False).pvalue
        if sd_ours > 0 or sd_ablation > 0
        else float("nan")  # no spread at all: nothing to test
    )
    if np.isfinite(p_value) and p_value < 0.05:
        verdict = "significantly higher" if ours.mean() > ablation.mean() else "significantly lower"
    else:
        verdict = "not significantly different"
    if sd_ablation > 0:
        ratio = (sd_ours / sd_ablation) ** 2
        tail = stats.f.cdf(ratio, len(ours) - 1, len(ablation) - 1)
        f_p = 2 * min(tail, 1 - tail)
        spread = f"{sd_ours / sd_ablation:.2f} times the ablation's (F-test p = {f_p:.2f})"
    else:
        spread = "n/a"
    return (
        head + f"{_money(ours.mean())} ± {_money(sd_ours)} vs {_money(ablation.mean())} ± "
        f"{_money(sd_ablation)} (mean ± sd). Profit {relative_change(ours.mean(), ablation.mean())}, "
        f"{verdict} (Welch p = {_number(p_value, 2)}); seed spread {spread}."
    )


def _insights(scenario: Scenario, results: dict[str, Any], seeds: Sequence[int]) -> list[str]:
    compared = [name for name in ("mtma", "siloed", "coordinated") if name in results]
    if "mtma" not in compared:
        return []
    checks = {}
    for name in compared:
        _, factory = resolve_policy(name)
        trajectories = [
            run_episode(factory, scenario, seed, name, getattr(factory, "env_options", None))
            for seed in seeds
        ]
        checks[name] = insight_checks(trajectories)
    lines = [
        "### Managerial insights (SPEC section 5)",
        "",
        "| insight | " + " | ".join(compared) + " |",
        "|---|" + "---:|" * len(compared),
    ]
    labels = {
        "own_stock": "exposure rises with own stock (Spearman across products)",
        "substitute_stock": "exposure falls when substitutes' stock rises (Pearson over time)",
        "orders_lead": "orders lead exposure by the lead time (Pearson)",
    }
    for insight in INSIGHTS:
        lines.append(
            f"| {labels[insight]} | "
            + " | ".join(_number(checks[n][insight]) for n in compared)
            + " |"
        )
    return [*lines, ""]


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
        Scenario names (default: ``default`` and ``multiscale``).
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
    lines = [
        "# Results",
        "",
        "Generated by `coord-bench reproduce`"
        + (" --retrain" if retrain_models else "")
        + f" on {datetime.date.today().isoformat()} ({os.cpu_count()} CPU cores), over "
        f"{len(seeds)} official evaluation seeds. Do not edit by hand: rerun the command.",
        "",
        "Profit is the episode's total; the 95% CI is a seeded percentile bootstrap of the mean; "
        "the normalized score is 100 (profit - siloed) / (ceiling - siloed) with the fixed "
        "reference values of `coord_env/harness/references.json`, where the ceiling is the fluid "
        "upper bound, or the exact optimum where it is known (`tiny`). The RL rows evaluate the "
        "committed checkpoints (`baselines/checkpoints/`), each trained with the command in its "
        "`manifest.json`.",
        "",
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
            lines += _scenario_section(scenario, figures, seeds, workers, progress, cluster)
    lines += rliable_section({s.name: _curves(s) for s in headline}, figures)
    for scenario in optimum:
        lines += optimality_section(scenario, seeds, workers, progress)
    lines += convergence_section(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return out
