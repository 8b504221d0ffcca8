"""The Markdown of the results page (docs/results.md), from results already computed.

Pure functions: :mod:`baselines.reproduce` evaluates the policies, reads the training logs, runs
the tests and draws the figures, then hands the numbers to the functions here, each of which
returns one section of the page. :func:`render_page` joins the sections, so another module's
sections (e.g. :mod:`baselines.protocol_report`) slot in as more strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coord_env.harness.stats import relative_change
from coord_env.scenarios import Scenario

__all__ = [
    "INSIGHT_LABELS",
    "TABLE_METRICS",
    "AblationComparison",
    "OptimalityReport",
    "ScenarioReport",
    "ablation_line",
    "money",
    "number",
    "optimality_section",
    "page_header",
    "render_page",
    "scenario_section",
]

TABLE_METRICS = (
    "fill_rate",
    "oos_impression_share",
    "exposure_stock_rank_correlation",
    "order_exposure_lead_correlation",
)
INSIGHT_LABELS = {
    "own_stock": "exposure rises with own stock (Spearman across products)",
    "substitute_stock": "exposure falls when substitutes' stock rises (Pearson over time)",
    "orders_lead": "orders lead exposure by the lead time (Pearson)",
}
_ABLATION_LABELS = {
    "mtma_single_timescale": "single-timescale",
    "mtma_reversed": "reversed-timescale",
}


@dataclass(frozen=True)
class AblationComparison:
    """MTMA against a timescale ablation: final held-out profit over training seeds.

    Attributes
    ----------
    name : str
        The ablation's baseline name.
    seeds : tuple of int
        Training seeds of MTMA and of the ablation.
    means, sds : tuple of float
        Mean and standard deviation (ddof 1; nan for one seed) of MTMA's and the ablation's.
    p_value : float
        Welch's t-test of the means (nan: fewer than two seeds, or no spread at all).
    variance_p_value : float
        Two-sided F-test of the variances (nan when the ablation has no spread).
    """

    name: str
    seeds: tuple[int, int]
    means: tuple[float, float]
    sds: tuple[float, float]
    p_value: float
    variance_p_value: float


@dataclass(frozen=True)
class ScenarioReport:
    """One headline scenario's computed results, as :func:`scenario_section` renders them.

    Attributes
    ----------
    scenario : Scenario
    results : mapping
        ``coord_env.harness.evaluate`` results per policy, in table order.
    bound : float or None
        The scenario's fixed upper bound (None: no reference values).
    profit_figure : str
        Link to the profit figure, relative to the page.
    curve_figures : tuple of str, optional
        Links to the learning curves against steps and against wall-clock time (None: no logs).
    finals : mapping
        Per baseline with training logs, its final held-out profit per training seed.
    below_siloed : tuple of str
        RL baselines whose mean profit is below the siloed heuristic's.
    ablations : tuple of AblationComparison
    mtma_training : mapping, optional
        The committed MTMA checkpoint's manifest (``wall_time_s``, ``steps``, ``command``).
    insights : mapping
        Per compared policy (MTMA first), the managerial-insight statistics.
    """

    scenario: Scenario
    results: Mapping[str, Mapping[str, Any]]
    bound: float | None
    profit_figure: str
    curve_figures: tuple[str, str] | None = None
    finals: Mapping[str, np.ndarray] = field(default_factory=dict)
    below_siloed: tuple[str, ...] = ()
    ablations: tuple[AblationComparison, ...] = ()
    mtma_training: Mapping[str, Any] | None = None
    insights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimalityReport:
    """Every policy's gap to the exact optimum on one scenario, as :func:`optimality_section`
    renders it.

    Attributes
    ----------
    scenario : Scenario
    optimum : float
        The mean over seeds of the optimal value given each seed's initial stock.
    rows : mapping
        Per policy, ``(mean profit, summary of the per-seed gap)``; a summary as
        ``coord_env.harness.stats.summarize`` returns it.
    fluid_bound : float
        The fluid upper bound's mean over seeds.
    excess : mapping
        Summary of the per-seed excess of the fluid bound over the optimum.
    bound_above : int
        Seeds on which the fluid bound is at least the optimum.
    seeds : int
        Evaluation seeds.
    reachable : float
        Percent of the gap between the siloed heuristic and the fluid bound that the optimum
        closes.
    """

    scenario: Scenario
    optimum: float
    rows: Mapping[str, tuple[float, Mapping[str, float]]]
    fluid_bound: float
    excess: Mapping[str, float]
    bound_above: int
    seeds: int
    reachable: float


def money(value: float | None) -> str:
    """A profit rounded to whole units with thousands separators; ``n/a`` for None or non-finite.

    Examples
    --------
    >>> money(61_533.4), money(float("nan"))
    ('61,533', 'n/a')
    """
    return "n/a" if value is None or not np.isfinite(value) else f"{value:,.0f}"


def number(value: float | None, digits: int = 3) -> str:
    """A statistic with ``digits`` decimals; ``n/a`` for None or non-finite.

    Examples
    --------
    >>> number(0.12345), number(None)
    ('0.123', 'n/a')
    """
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def render_page(sections: Sequence[str]) -> str:
    """The page: the non-empty sections, one after another, ending with one newline."""
    return "\n".join(section for section in sections if section).rstrip() + "\n"


def page_header(*, retrained: bool, date: str, cpu_count: int | None, seeds: int) -> str:
    """The title and the paragraphs that say how the page was made and how to read it."""
    lines = [
        "# Results",
        "",
        "Generated by `coord-bench reproduce`"
        + (" --retrain" if retrained else "")
        + f" on {date} ({cpu_count} CPU cores), over "
        f"{seeds} official evaluation seeds. Do not edit by hand: rerun the command.",
        "",
        "Profit is the episode's total; the 95% CI is a seeded percentile bootstrap of the mean; "
        "the normalized score is 100 (profit - siloed) / (ceiling - siloed) with the fixed "
        "reference values of `coord_env/harness/references.json`, where the ceiling is the fluid "
        "upper bound, or the exact optimum where it is known (`tiny`). The RL rows evaluate the "
        "committed checkpoints (`baselines/checkpoints/`), each trained with the command in its "
        "`manifest.json`.",
        "",
    ]
    return "\n".join(lines)


def scenario_section(report: ScenarioReport) -> str:
    """One scenario's table, figures, learning curves, claims and insights."""
    scenario = report.scenario
    lines = [f"## `{scenario.name}` ({scenario.env_id}, hash {scenario.content_hash[:12]})", ""]
    lines += [
        "| policy | profit | 95% CI | IQM | normalized | "
        + " | ".join(name.replace("_", " ") for name in TABLE_METRICS)
        + " |",
        "|---|---:|---|---:|---:|" + "---:|" * len(TABLE_METRICS),
    ]
    for name, result in report.results.items():
        profit = result["profit"]
        metrics = " | ".join(number(result["metrics"][key]) for key in TABLE_METRICS)
        score = result["normalized_score"]
        lines.append(
            f"| {name} | {money(profit['mean'])} | [{money(profit['ci_low'])}, "
            f"{money(profit['ci_high'])}] | {money(profit['iqm'])} | "
            f"{number(score, 1)} | {metrics} |"
        )
    if report.bound is not None:
        lines.append(
            f"| *upper bound* | {money(report.bound)} | | | 100.0 | |"
            + " |" * (len(TABLE_METRICS) - 1)
        )
    lines += ["", f"![profit per policy]({report.profit_figure})", ""]
    if report.curve_figures is not None:
        steps_png, clock_png = report.curve_figures
        lines += [
            "Learning curves: held-out profit (the mean over the 10 validation seeds) against "
            "environment steps, and against wall-clock minutes; the line is the mean over "
            "training seeds, the band spans them. The wall-clock times are those the logs "
            "recorded: several runs shared the 2-core machine, so they compare budgets rather "
            "than the learners' speed (benchmarks/training_throughput.py measures that).",
            "",
            f"![learning curves]({steps_png})",
            "",
            f"![learning curves against time]({clock_png})",
            "",
            "| baseline | training seeds | final held-out profit, mean ± sd over seeds |",
            "|---|---:|---|",
        ]
        for name, final in report.finals.items():
            spread = final.std(ddof=1) if len(final) > 1 else float("nan")
            lines.append(f"| {name} | {len(final)} | {money(final.mean())} ± {money(spread)} |")
        lines.append("")
    lines += _claims(report)
    lines += _insights(report.insights)
    return "\n".join(lines)


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (
        a["profit"]["ci_low"] <= b["profit"]["ci_high"]
        and b["profit"]["ci_low"] <= a["profit"]["ci_high"]
    )


def _claims(report: ScenarioReport) -> list[str]:
    results = report.results
    if "mtma" not in results:
        return [
            "No MTMA checkpoint is committed for this scenario: the claims are not checked.",
            "",
        ]
    mtma = results["mtma"]
    lines = [
        "### MTMA against the other policies",
        "",
        "The committed (seed 0) checkpoints on the official seeds, and the ablations over the "
        "training seeds' final held-out profit; the verdicts over all training seeds and "
        "scenarios are in the claims table at the end.",
        "",
    ]

    def versus(name: str) -> str:
        if name not in results:
            return f"- MTMA vs {name}: no {name} result."
        other = results[name]
        ours, theirs = mtma["profit"]["mean"], other["profit"]["mean"]
        verdict = "higher" if ours > theirs else "lower" if ours < theirs else "equal"
        cis = "the 95% CIs overlap" if _overlap(mtma, other) else "the 95% CIs do not overlap"
        return f"- MTMA vs {name}: {relative_change(ours, theirs)} mean profit ({verdict}); {cis}."

    lines += [versus("siloed"), versus("siloed_rl"), versus("coordinated")]
    if report.below_siloed:
        lines.append(
            "- Below the siloed heuristic here: "
            f"{', '.join(f'`{name}`' for name in report.below_siloed)}. "
            "docs/training.md ('Below the siloed heuristic') gives the evidence for each: "
            "the departmental incentive that `siloed_rl` learns, the curves that plateau or "
            "collapse, and the budgets and settings tried."
        )
    if report.bound is not None:
        gap = 1 - mtma["profit"]["mean"] / report.bound
        lines.append(f"- Gap to the upper bound: MTMA earns {100 * gap:.1f}% less than the bound.")
    lines += [ablation_line(comparison) for comparison in report.ablations]
    if report.mtma_training is not None:
        manifest = report.mtma_training
        lines.append(
            f"- Training the committed MTMA checkpoint took {manifest['wall_time_s'] / 60:.1f} "
            f"minutes for {manifest['steps']:,} environment steps (`{manifest['command']}`)."
        )
    return [*lines, ""]


def ablation_line(comparison: AblationComparison) -> str:
    """The claims line of MTMA against one timescale ablation.

    p < 0.05 reads "significantly higher/lower", anything else (or no test) "not significantly
    different"; the seed spread is the ratio of the standard deviations, with the F-test's p.

    Examples
    --------
    >>> ablation_line(AblationComparison("mtma_reversed", (1, 1), (730.0, 779.0),
    ...     (float("nan"), float("nan")), float("nan"), float("nan"))).split("seeds): ")[1]
    '730 vs 779 (one seed: no spread).'
    """
    c = comparison
    (n_ours, n_ablation), (mean_ours, mean_ablation) = c.seeds, c.means
    sd_ours, sd_ablation = c.sds
    head = (
        f"- MTMA vs its {_ABLATION_LABELS.get(c.name, c.name)} ablation `{c.name}` (final "
        f"held-out profit over {n_ours} and {n_ablation} training seeds): "
    )
    if min(n_ours, n_ablation) < 2:
        return head + f"{money(mean_ours)} vs {money(mean_ablation)} (one seed: no spread)."
    if np.isfinite(c.p_value) and c.p_value < 0.05:
        verdict = "significantly higher" if mean_ours > mean_ablation else "significantly lower"
    else:
        verdict = "not significantly different"
    if sd_ablation > 0:
        spread = (
            f"{sd_ours / sd_ablation:.2f} times the ablation's "
            f"(F-test p = {c.variance_p_value:.2f})"
        )
    else:
        spread = "n/a"
    return (
        head + f"{money(mean_ours)} ± {money(sd_ours)} vs {money(mean_ablation)} ± "
        f"{money(sd_ablation)} (mean ± sd). Profit {relative_change(mean_ours, mean_ablation)}, "
        f"{verdict} (Welch p = {number(c.p_value, 2)}); seed spread {spread}."
    )


def _insights(insights: Mapping[str, Mapping[str, float]]) -> list[str]:
    compared = list(insights)
    if "mtma" not in compared:
        return []
    lines = [
        "### Managerial insights",
        "",
        "| insight | " + " | ".join(compared) + " |",
        "|---|" + "---:|" * len(compared),
    ]
    for insight, label in INSIGHT_LABELS.items():
        lines.append(
            f"| {label} | " + " | ".join(number(insights[n][insight]) for n in compared) + " |"
        )
    return [*lines, ""]


def optimality_section(report: OptimalityReport) -> str:
    """Every policy's gap to the exact optimum on one scenario, and the fluid bound's."""
    scenario, optimum = report.scenario, report.optimum
    lines = [
        f"## `{scenario.name}`: the gap to the exact optimum ({scenario.env_id}, hash "
        f"{scenario.content_hash[:12]})",
        "",
        f"The exact optimum by dynamic programming (`coord_env.analysis.optimal`, "
        f"docs/optimal.md): {money(optimum)} on these seeds (the mean over seeds of the "
        "optimal expected profit given each seed's initial stock). Gap = optimum - profit, "
        "paired per seed; 95% CI by seeded bootstrap over seeds. The normalized score of "
        "`tiny` uses this optimum as its ceiling.",
        "",
        "| policy | profit | gap to optimum | 95% CI of the gap | gap, % of optimum |",
        "|---|---:|---:|---|---:|",
    ]
    for name, (profit, gap) in report.rows.items():
        lines.append(
            f"| {name} | {money(profit)} | {money(gap['mean'])} | "
            f"[{money(gap['ci_low'])}, {money(gap['ci_high'])}] | "
            f"{100 * gap['mean'] / optimum:.1f} |"
        )
    excess = report.excess
    lines += [
        f"| *fluid upper bound* | {money(report.fluid_bound)} | {money(-excess['mean'])} | "
        f"[{money(-excess['ci_high'])}, {money(-excess['ci_low'])}] | "
        f"{-100 * excess['mean'] / optimum:.1f} |",
        "",
        f"The fluid bound lies above the optimum on {report.bound_above} of "
        f"{report.seeds} seeds, by {money(excess['mean'])} on average "
        f"({100 * excess['mean'] / optimum:.1f}% of the optimum). Of the gap between "
        f"the siloed heuristic and the fluid bound, {report.reachable:.0f}% is reachable by a "
        "policy; the rest is the looseness of the bound.",
        "",
    ]
    return "\n".join(lines)
