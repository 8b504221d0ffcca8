"""coord-bench reproduce: the results page, its figures and its checks.

The page's tables are parsed back into numbers and compared with the results they report, so the
tests hold the numbers, not the wording.
"""

import csv
import math

import numpy as np
import pytest
from scipy import stats

from baselines.report import (
    AblationComparison,
    OptimalityReport,
    ScenarioReport,
    ablation_line,
    optimality_section,
    render_page,
    scenario_section,
)
from baselines.reproduce import HEURISTICS, compare_ablation, curve_path, training_budget
from baselines.rl.names import RL_BASELINES
from baselines.rl.policies import committed_checkpoint
from coord_env import load_scenario
from coord_env.analysis.optimal import optimal_value
from coord_env.checkpoint import read_manifest
from coord_env.cli import main
from coord_env.harness.evaluate import evaluate
from coord_env.harness.references import reference_for
from coord_env.harness.seeds import EVALUATION_SEEDS


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of ``text``, in order: one ``{header: cell}`` dict per body row."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = [cell.strip() for cell in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
                rows.append(dict(zip(header, cells, strict=True)))
            found.append(rows)
    return found


def table_with(text: str, column: str, index: int = 0) -> dict[str, dict[str, str]]:
    """The ``index``-th table with ``column``, as ``{first cell: row}``."""
    matching = [t for t in tables(text) if t and column in t[0]]
    return {next(iter(row.values())): row for row in matching[index]}


def value(cell: str) -> float:
    """A rendered number (``1,234``, ``-0.5``, ``n/a``) as a float; nan for ``n/a``."""
    cell = cell.strip("[]` ")
    return math.nan if cell == "n/a" else float(cell.replace(",", ""))


def interval(cell: str) -> tuple[float, float]:
    low, high = cell.strip("[]").split(", ")
    return value(low), value(high)


def near(shown: float, exact: float, digits: int = 0) -> bool:
    """``shown`` is ``exact`` rounded to ``digits`` decimals."""
    return abs(shown - exact) <= 0.5 * 10**-digits + 1e-9


def test_reproduce_writes_the_page_and_figures(tmp_path):
    page = tmp_path / "docs" / "results.md"
    argv = ["reproduce", "--out", str(page), "--scenarios", "tiny", "--num-seeds", "2"]
    assert main([*argv, "--workers", "0", "--quiet"]) == 0
    text = page.read_text()
    tiny, seeds = load_scenario("tiny"), list(EVALUATION_SEEDS[:2])

    # the policy table: every policy that supports tiny, each row its evaluation's numbers
    rows = table_with(text, "normalized")
    assert list(rows) == [*HEURISTICS, *RL_BASELINES, "*upper bound*"]
    for name in ("siloed", "mtma"):
        profit = evaluate(name, tiny, seeds, workers=0, progress=False)["profit"]
        assert near(value(rows[name]["profit"]), profit["mean"])
        assert near(value(rows[name]["IQM"]), profit["iqm"])
        low, high = interval(rows[name]["95% CI"])
        assert near(low, profit["ci_low"]) and near(high, profit["ci_high"])
    for name in [*HEURISTICS, *RL_BASELINES]:
        low, high = interval(rows[name]["95% CI"])
        assert low <= value(rows[name]["profit"]) <= high, name
        for metric in ("fill rate", "oos impression share"):
            assert 0 <= value(rows[name][metric]) <= 1
    assert near(value(rows["*upper bound*"]["profit"]), reference_for(tiny)["upper_bound"])
    assert value(rows["*upper bound*"]["normalized"]) == 100.0
    assert (page.parent / "figures" / "tiny_profit.png").stat().st_size > 1000
    assert "](figures/tiny_profit.png)" in text

    # learning curves: one row per baseline with a committed log at its budget, the final
    # held-out profit of that log
    curves = table_with(text, "training seeds")
    assert list(curves) == list(RL_BASELINES)
    for name, row in curves.items():
        with open(curve_path(tiny, name, 0), newline="") as handle:
            log = list(csv.DictReader(handle))
        assert training_budget(name, tiny) <= float(log[-1]["steps"])
        assert value(row["training seeds"]) == 1
        final = value(row["final held-out profit, mean ± sd over seeds"].split(" ± ")[0])
        assert near(final, float(log[-1]["eval_profit_mean"]))
    manifest = read_manifest(committed_checkpoint("mtma", tiny))
    assert f"{manifest['steps']:,} environment steps (`{manifest['command']}`)" in text

    # the gaps to the exact optimum: profit + gap = optimum, the CI brackets the gap
    gaps = table_with(text, "gap to optimum")
    assert list(gaps) == [*HEURISTICS, *RL_BASELINES, "optimal (DP policy)", "*fluid upper bound*"]
    profit = evaluate("siloed", tiny, seeds, workers=0, progress=False)["profit"]["mean"]
    assert near(value(gaps["siloed"]["profit"]), profit)
    optimum = float(np.mean([optimal_value(tiny, seed) for seed in seeds]))
    assert f"{optimum:,.0f} on these seeds" in text
    for name, row in gaps.items():
        gap = value(row["gap to optimum"])
        assert abs(value(row["profit"]) + gap - optimum) <= 1.0, name  # two roundings
        low, high = interval(row["95% CI of the gap"])
        assert low <= gap <= high, name
        percent = value(row["gap, % of optimum"])
        assert abs(percent - 100 * gap / optimum) <= 0.05 + 50 / optimum, name
    assert value(gaps["random"]["gap to optimum"]) > value(gaps["mtma"]["gap to optimum"])
    assert value(gaps["*fluid upper bound*"]["gap to optimum"]) <= 0  # the bound is above


def _result(mean: float, low: float, high: float) -> dict:
    metrics = {
        "fill_rate": 0.95,
        "oos_impression_share": 0.01,
        "exposure_stock_rank_correlation": float("nan"),
        "order_exposure_lead_correlation": -0.25,
    }
    return {
        "profit": {"mean": mean, "ci_low": low, "ci_high": high, "iqm": mean + 1.0},
        "metrics": metrics,
        "normalized_score": 10.0 * mean / 1_000,
    }


def test_the_scenario_section_renders_the_numbers_it_is_given():
    results = {
        "siloed": _result(50_000.4, 49_000.0, 51_000.0),
        "coordinated": _result(58_000.0, 57_500.0, 59_000.0),
        "ippo": _result(48_000.0, 47_000.0, 49_200.0),
        "mtma": _result(60_000.0, 58_900.0, 61_000.0),
    }
    finals = {"mtma": np.array([60_100.0, 60_900, 59_800]), "ippo": np.array([47_000.0])}
    comparison = AblationComparison("mtma_reversed", (3, 3), (1.0, 2.0), (1.0, 1.0), 0.01, 0.5)
    report = ScenarioReport(
        load_scenario("default"),
        results,
        bound=75_000.0,
        profit_figure="figures/default_profit.png",
        curve_figures=("figures/a.png", "figures/b.png"),
        finals=finals,
        below_siloed=("ippo",),
        ablations=(comparison,),
        mtma_training={"wall_time_s": 300.0, "steps": 2_002_944, "command": "coord-bench x"},
        insights={
            "mtma": {"own_stock": 0.5, "substitute_stock": -0.25, "orders_lead": float("nan")},
            "siloed": {"own_stock": 0.125, "substitute_stock": 0.0, "orders_lead": 0.75},
        },
    )
    text = scenario_section(report)
    rows = table_with(text, "normalized")
    assert list(rows) == [*results, "*upper bound*"]
    for name, result in results.items():
        row = rows[name]
        assert near(value(row["profit"]), result["profit"]["mean"])
        assert interval(row["95% CI"]) == (result["profit"]["ci_low"], result["profit"]["ci_high"])
        assert near(value(row["IQM"]), result["profit"]["iqm"])
        assert near(value(row["normalized"]), result["normalized_score"], 1)
        assert value(row["fill rate"]) == 0.95 and value(row["oos impression share"]) == 0.01
        assert math.isnan(value(row["exposure stock rank correlation"]))  # nan shows as n/a
        assert value(row["order exposure lead correlation"]) == -0.25
    assert value(rows["*upper bound*"]["profit"]) == 75_000
    assert "](figures/default_profit.png)" in text and "](figures/b.png)" in text

    curves = table_with(text, "training seeds")
    mean_sd = curves["mtma"]["final held-out profit, mean ± sd over seeds"].split(" ± ")
    assert value(curves["mtma"]["training seeds"]) == 3
    assert near(value(mean_sd[0]), finals["mtma"].mean())
    assert near(value(mean_sd[1]), finals["mtma"].std(ddof=1))
    assert curves["ippo"]["final held-out profit, mean ± sd over seeds"] == "47,000 ± n/a"

    claims = {line.split(":")[0]: line for line in text.splitlines() if line.startswith("- ")}
    # +20.0% against siloed, CIs apart; +3.4% against coordinated, CIs overlapping
    assert "+20.0%" in claims["- MTMA vs siloed"] and "do not overlap" in claims["- MTMA vs siloed"]
    assert "+3.4%" in claims["- MTMA vs coordinated"]
    assert "do not" not in claims["- MTMA vs coordinated"]
    assert "no siloed_rl result" in claims["- MTMA vs siloed_rl"]
    assert "`ippo`" in claims["- Below the siloed heuristic here"]
    assert "20.0%" in claims["- Gap to the upper bound"]  # 1 - 60,000 / 75,000
    assert ablation_line(comparison) in text.splitlines()
    assert "5.0 minutes for 2,002,944 environment steps" in text
    insight_rows = list(table_with(text, "insight").values())
    assert [value(row["mtma"]) for row in insight_rows][:2] == [0.5, -0.25]
    assert math.isnan(value(insight_rows[2]["mtma"]))
    assert [value(row["siloed"]) for row in insight_rows] == [0.125, 0.0, 0.75]


def test_without_mtma_the_claims_are_not_checked():
    results = {"siloed": _result(50_000.0, 49_000.0, 51_000.0)}
    report = ScenarioReport(load_scenario("small"), results, None, "figures/small_profit.png")
    text = scenario_section(report)
    assert list(table_with(text, "normalized")) == ["siloed"]  # no bound, no upper-bound row
    assert "claims are not checked" in text
    assert "training seeds" not in text and "| insight |" not in text
    # the page joins sections with one blank line between and ends with one newline
    page = render_page(["# head\n", text, "", "## more\n"])
    assert page.endswith("## more\n") and "\n\n\n" not in page and page.startswith("# head\n\n")


def test_the_optimality_section_renders_the_numbers_it_is_given():
    gap = {"mean": 100.0, "ci_low": 60.0, "ci_high": 140.4, "iqm": 100.0}
    report = OptimalityReport(
        load_scenario("tiny"),
        optimum=1_000.0,
        rows={"siloed": (900.0, gap), "optimal (DP policy)": (998.0, {**gap, "mean": 2.0})},
        fluid_bound=1_040.0,
        excess={"mean": 40.0, "ci_low": 30.0, "ci_high": 50.0, "iqm": 40.0},
        bound_above=29,
        seeds=30,
        reachable=71.4,
    )
    text = optimality_section(report)
    rows = table_with(text, "gap to optimum")
    assert value(rows["siloed"]["gap to optimum"]) == 100 and value(rows["siloed"]["profit"]) == 900
    assert interval(rows["siloed"]["95% CI of the gap"]) == (60, 140)
    assert value(rows["siloed"]["gap, % of optimum"]) == 10.0
    assert value(rows["optimal (DP policy)"]["gap, % of optimum"]) == 0.2
    bound = rows["*fluid upper bound*"]
    assert value(bound["profit"]) == 1_040 and value(bound["gap to optimum"]) == -40
    assert interval(bound["95% CI of the gap"]) == (-50, -30)  # the excess's CI, negated
    assert value(bound["gap, % of optimum"]) == -4.0
    assert "29 of 30 seeds, by 40 on average (4.0% of the optimum)" in text
    assert "1,000 on these seeds" in text and "71% is reachable" in text


def test_the_ablation_comparison_tests_the_seed_spread():
    ours, theirs = np.array([61_000.0, 61_400, 61_200]), np.array([62_700, 61_200, 60_700.0])
    c = compare_ablation(ours, theirs, "mtma_reversed")
    assert c.name == "mtma_reversed" and c.seeds == (3, 3)
    assert c.means == (ours.mean(), theirs.mean()) and c.sds == (200.0, theirs.std(ddof=1))
    assert c.p_value == stats.ttest_ind(ours, theirs, equal_var=False).pvalue
    # the F-test of the variances: with 2 and 2 degrees of freedom its CDF is x / (1 + x)
    ratio = (200 / theirs.std(ddof=1)) ** 2
    assert c.variance_p_value == pytest.approx(2 * ratio / (1 + ratio))
    line = ablation_line(c)
    assert "61,200 ± 200 vs 61,533 ± 1,041" in line and "-0.5%" in line
    assert f"{200 / theirs.std(ddof=1):.2f} times" in line and f"p = {c.p_value:.2f}" in line
    assert "not significantly" in line  # p > 0.05

    # clearly separated seeds get a direction, by the sign of the difference
    lower = compare_ablation(np.array([50.0, 51, 52]), np.array([60.0, 61, 62]))
    higher = compare_ablation(np.array([60.0, 61, 62]), np.array([50.0, 51, 52]))
    assert lower.p_value == higher.p_value < 0.05
    assert "significantly lower" in ablation_line(lower)
    assert "significantly higher" in ablation_line(higher)
    assert "single-timescale" in ablation_line(lower)  # the default ablation
    # losses: less negative is higher, and the change is relative to the ablation's size
    losses = compare_ablation(
        np.array([-1_000.0, -1_050, -1_100]), np.array([-3_000.0, -3_050, -3_100])
    )
    assert losses.p_value < 0.05 and "+65.6%, significantly higher" in ablation_line(losses)


def test_no_spread_or_one_seed_gives_no_test_and_never_nan():
    flat = compare_ablation(np.array([5.0, 5, 5]), np.array([5.0, 5, 5]))
    assert flat.sds == (0.0, 0.0)
    assert math.isnan(flat.p_value) and math.isnan(flat.variance_p_value)
    line = ablation_line(flat)
    assert "not significantly" in line and "nan" not in line and "inf" not in line
    single = compare_ablation(np.array([61_000.0]), np.array([62_000.0, 61_000]))
    assert single.seeds == (1, 2) and single.means == (61_000.0, 61_500.0)
    assert all(math.isnan(x) for x in (*single.sds, single.p_value, single.variance_p_value))
    line = ablation_line(single)
    assert "61,000 vs 61,500" in line and "no spread" in line and "nan" not in line
