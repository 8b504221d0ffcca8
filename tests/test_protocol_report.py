"""The protocol's report: rliable aggregates of the training seeds, and convergence on ``tiny``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from baselines.protocol_report import (
    CONTRADICTED,
    CONVERGENCE_RESULTS,
    INCONCLUSIVE,
    SUPPORTED,
    VALIDATION_REFERENCES,
    ConvergenceData,
    claims_section,
    collect_convergence_runs,
    convergence_section,
    final_gaps,
    gap_curves,
    load_convergence,
    restate_claims,
    rliable_section,
    score_matrices,
    seed_spread,
)
from baselines.rl.policies import COMMITTED
from coord_env import load_scenario
from coord_env.analysis.optimal import optimal_value
from coord_env.cli import main
from coord_env.harness.evaluate import evaluate
from coord_env.harness.seeds import EVALUATION_SEEDS, VALIDATION_SEEDS
from coord_env.harness.stats import (
    aggregate_iqm,
    interval_estimate,
    probability_of_improvement,
    spread_ratio_test,
    summarize,
)


def _run_folder(runs: Path, name: str, scenario: str = "tiny", folder: str | None = None) -> Path:
    """A finished run folder as ``coord-bench train`` leaves it, from a committed checkpoint and
    its committed log (both of the same run: the log's last row is the checkpoint's step)."""
    out = runs / (folder or f"{name}_{scenario}_seed0")
    shutil.copytree(COMMITTED / scenario / name, out / "checkpoint")
    shutil.copyfile(COMMITTED / scenario / "curves" / f"{name}_seed0.csv", out / "progress.csv")
    return out


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """Two finished tiny runs collected once: (their run folder, the committed-data folder)."""
    root = tmp_path_factory.mktemp("convergence")
    runs = root / "runs"
    for name in ("mtma", "mtma_single_timescale"):
        _run_folder(runs, name)
    out = root / "committed"
    assert collect_convergence_runs(runs, out) == ["mtma_seed0", "mtma_single_timescale_seed0"]
    return runs, out


def test_the_collector_commits_each_log_and_the_official_profits(collected):
    runs, out = collected
    for name in ("mtma", "mtma_single_timescale"):
        copied = (out / f"{name}_seed0.csv").read_bytes()
        assert copied == (runs / f"{name}_tiny_seed0" / "progress.csv").read_bytes()
    document = json.loads((out / CONVERGENCE_RESULTS).read_text())
    tiny = load_scenario("tiny")
    assert document["scenario_hash"] == tiny.content_hash
    assert document["evaluation_seeds"] == list(EVALUATION_SEEDS)
    assert document["optimum_validation"] == [optimal_value(tiny, s) for s in VALIDATION_SEEDS]
    assert document["optimum_evaluation"] == [optimal_value(tiny, s) for s in EVALUATION_SEEDS]
    run = document["runs"]["mtma_seed0"]
    assert (run["baseline"], run["seed"], run["steps"], run["budget"]) == ("mtma", 0, 50176, 50000)
    # the committed checkpoint through the registry: the same policy, the same profits
    official = evaluate("mtma", tiny, EVALUATION_SEEDS)
    assert run["profit"] == [row["profit"] for row in official["per_seed"]]


def test_the_collector_keeps_runs_collected_before(collected, tmp_path):
    _, out = collected
    copy = tmp_path / "committed"
    shutil.copytree(out, copy)
    runs = tmp_path / "runs"
    _run_folder(runs, "mtma_reversed")
    assert collect_convergence_runs(runs, copy) == ["mtma_reversed_seed0"]
    document = json.loads((copy / CONVERGENCE_RESULTS).read_text())
    assert sorted(document["runs"]) == [
        "mtma_reversed_seed0",
        "mtma_seed0",
        "mtma_single_timescale_seed0",
    ]


def test_the_collector_refuses_unfinished_runs_and_other_scenarios(tmp_path, capsys):
    out = tmp_path / "committed"
    # a run still training, beside a finished one: nothing is written
    runs = tmp_path / "training"
    _run_folder(runs, "mtma")
    _run_folder(runs, "mtma_reversed", folder="mtma_reversed_tiny_seed0.partial")
    with pytest.raises(ValueError, match=r"mtma_reversed_tiny_seed0.partial is unfinished"):
        collect_convergence_runs(runs, out)
    assert not out.exists()
    # a checkpoint short of its budget
    short = tmp_path / "short"
    manifest = _run_folder(short, "mtma") / "checkpoint" / "manifest.json"
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "budget": 100_000}))
    with pytest.raises(ValueError, match=r"unfinished: 50,176 of 100,000 steps"):
        collect_convergence_runs(short, out)
    # killed before its first checkpoint
    empty = tmp_path / "empty"
    (empty / "mtma_tiny_seed0").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"unfinished: it has no checkpoint/manifest.json"):
        collect_convergence_runs(empty, out)
    # a run on another scenario
    other = tmp_path / "other"
    _run_folder(other, "mtma", scenario="default")
    with pytest.raises(ValueError, match=r"'coord/default-v0', not on 'coord/tiny-v0'"):
        collect_convergence_runs(other, out)
    assert not out.exists()
    # the command line says it in one line and exits 2
    page = tmp_path / "docs" / "results.md"
    argv = ["reproduce", "--out", str(page), "--convergence-runs", str(other), "--quiet"]
    assert main(argv) == 2
    assert "not on 'coord/tiny-v0'" in capsys.readouterr().err
    assert not page.exists()


def test_gaps_are_the_optimum_minus_the_profit_on_the_same_seeds(collected):
    runs, out = collected
    data = load_convergence(out)
    tiny = load_scenario("tiny")
    validation = np.mean([optimal_value(tiny, s) for s in VALIDATION_SEEDS])
    for name, curves in gap_curves(data).items():
        (steps, gap) = curves[0]
        log = np.genfromtxt(runs / f"{name}_tiny_seed0" / "progress.csv", delimiter=",", names=True)
        np.testing.assert_array_equal(steps, log["steps"])
        np.testing.assert_allclose(gap, validation - log["eval_profit_mean"], rtol=1e-12)
    official = np.array([optimal_value(tiny, s) for s in EVALUATION_SEEDS])
    profit = np.array(
        [row["profit"] for row in evaluate("mtma", tiny, EVALUATION_SEEDS)["per_seed"]]
    )
    gap = final_gaps(data)["mtma"]
    assert gap["mean"] == pytest.approx(np.mean(official - profit), rel=1e-12)
    assert gap["ci_low"] < gap["mean"] < gap["ci_high"]


def _synthetic(gap_mtma: float, gap_ablation: float) -> ConvergenceData:
    """Three seeds of mtma and one ablation whose official-seed gaps centre on the given values."""
    rng = np.random.default_rng(0)
    optimum_eval = np.full(30, 900.0) + rng.normal(0, 20, 30)
    optimum_val = np.full(10, 850.0)
    steps = np.array([1e5, 2e5, 3e5, 4e5])
    curves, profits, runs = {}, {}, {}
    for name, gap in (("mtma", gap_mtma), ("mtma_single_timescale", gap_ablation)):
        curves[name], profits[name], runs[name] = {}, {}, {}
        for seed in range(3):
            path = np.array([400.0, 200.0, gap + seed, gap - seed])  # gaps while training
            curves[name][seed] = (steps, 850.0 - path)
            profits[name][seed] = optimum_eval - gap + rng.normal(0, 5, 30)
            runs[name][seed] = {"steps": 400_000}
    return ConvergenceData(curves, profits, optimum_val, optimum_eval, runs)


def test_the_seed_spread_is_the_std_over_seeds_averaged_over_the_second_half():
    steps = np.arange(4.0)
    runs = [(steps, np.array([5.0, 1, 2, 4])), (steps, np.array([1.0, 1, 4, 8]))]
    # the second half: evaluations 2 and 3, sds sqrt(2) and sqrt(8)
    assert seed_spread(runs) == pytest.approx((np.sqrt(2) + np.sqrt(8)) / 2)
    assert np.isnan(seed_spread(runs[:1]))


def test_the_convergence_section_renders_the_data(tmp_path):
    data = _synthetic(gap_mtma=0.0, gap_ablation=80.0)
    lines = convergence_section(tmp_path / "figures", data=data)
    text = "\n".join(lines)
    assert (tmp_path / "figures" / "tiny_convergence.png").stat().st_size > 1000
    for name, gap_value in (("mtma", 0.0), ("mtma_single_timescale", 80.0)):
        per_seed = data.optimum_evaluation - np.mean(list(data.profits[name].values()), axis=0)
        expected = summarize(per_seed)
        row = next(line for line in lines if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        # final validation gaps: gap - seed ... per seed, mean gap, sd over seeds 1
        finals = np.array([gap_value - s for s in range(3)])
        assert cells[1:4] == ["3", "400,000", f"{finals.mean():,.1f} ± {finals.std(ddof=1):,.1f}"]
        assert cells[4] == f"{expected['mean']:,.1f}"
        assert cells[5] == f"[{expected['ci_low']:,.1f}, {expected['ci_high']:,.1f}]"
        assert cells[6] == f"{100 * expected['mean'] / data.optimum_evaluation.mean():.1f}"
        # second half: at the last two evaluations the gaps are gap + s and gap - s
        assert cells[7] == f"{np.mean([1.0, 1.0]):,.1f}"
    assert "MTMA converges to the optimum on `tiny`" in text
    assert "MTMA's is smaller with the 95% CIs apart: the timescales help" in text
    # and the other way round: the ablation closer, MTMA's gap clearly above 0
    data = _synthetic(90.0, 2.0)
    worse = "\n".join(convergence_section(tmp_path, data=data))
    gap = final_gaps(data)["mtma"]
    assert (
        f"MTMA does not converge to the optimum on `tiny`: its final gap {gap['mean']:,.1f} "
        f"[{gap['ci_low']:,.1f}, {gap['ci_high']:,.1f}] stays above 0." in worse
    )
    assert "MTMA's is larger with the 95% CIs apart: `mtma_single_timescale` gets closer" in worse


def test_no_convergence_data_renders_a_note(tmp_path):
    lines = convergence_section(tmp_path / "figures", directory=tmp_path / "none")
    assert "No convergence runs are committed yet" in "\n".join(lines)


REFERENCES = {
    "a": {"siloed_profit": 100.0, "ceiling_profit": 200.0, "coordinated_profit": 150.0},
    "b": {"siloed_profit": 0.0, "ceiling_profit": 1000.0, "coordinated_profit": 300.0},
}


def _curves(finals: list[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array([1.0, 2.0]), np.array([0.0, final])) for final in finals]


def test_scores_are_normalized_per_scenario_and_ragged_baselines_noted():
    curves = {
        "a": {"mtma": _curves([150, 180, 120]), "ippo": _curves([100, 110]), "shared_ppo": []},
        "b": {"mtma": _curves([500, 100, 900]), "ippo": _curves([0, 50, 200])},
    }
    matrices, notes = score_matrices(curves, REFERENCES)
    np.testing.assert_allclose(matrices["mtma"], [[50, 50], [80, 10], [20, 90]])
    np.testing.assert_allclose(matrices["ippo"], [[0, 0], [10, 5]])  # the first 2 runs of each
    assert "the first 2 of each" in notes["ippo"]
    assert "shared_ppo" not in matrices and "no run reached the budget on a" in notes["shared_ppo"]


def test_the_rliable_section_renders_the_aggregates(tmp_path):
    curves = {
        "a": {"mtma": _curves([150, 180, 120, 190]), "ippo": _curves([100, 110, 160, 90])},
        "b": {"mtma": _curves([500, 100, 900, 700]), "ippo": _curves([0, 50, 200, 300])},
    }
    lines = rliable_section(curves, tmp_path / "figures", REFERENCES, reps=500)
    matrices, _ = score_matrices(curves, REFERENCES)
    for name in ("mtma", "ippo"):
        row = next(line for line in lines if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        iqm = interval_estimate(aggregate_iqm, matrices[name], reps=500)
        assert cells[1] == "4 x 2"
        assert cells[2] == f"{aggregate_iqm(matrices[name]):,.1f}"
        assert cells[3] == f"[{iqm['ci_low']:,.1f}, {iqm['ci_high']:,.1f}]"
        assert cells[6:] == [", ".join(f"{v:,.1f}" for v in matrices[name][:, t]) for t in (0, 1)]
    ippo = [c.strip() for c in next(x for x in lines if x.startswith("| ippo |")).split("|")]
    better = probability_of_improvement(matrices["mtma"], matrices["ippo"])
    assert ippo[5] == f"{better:.2f}" and better > 0.5
    # the heuristics are single points on each scenario, not aggregated rows
    assert "| *siloed heuristic* | one point | | | | | 0.0 | 0.0 |" in lines
    assert "| *coordinated heuristic* | one point | | | | | 50.0 | 30.0 |" in lines
    assert (tmp_path / "figures" / "performance_profiles.png").stat().st_size > 1000


def test_the_committed_validation_references_are_on_the_validation_seeds():
    recorded = json.loads(VALIDATION_REFERENCES.read_text())["scenarios"]
    for name in ("default", "multiscale", "tiny"):
        scenario = load_scenario(name)
        entry = recorded[scenario.env_id]
        assert entry["scenario_hash"] == scenario.content_hash
        assert entry["seeds"] == list(VALIDATION_SEEDS)
    tiny = recorded[load_scenario("tiny").env_id]
    siloed = evaluate("siloed", "tiny", VALIDATION_SEEDS)["profit"]["mean"]
    assert tiny["siloed_profit"] == siloed
    optimum = np.mean([optimal_value(load_scenario("tiny"), s) for s in VALIDATION_SEEDS])
    assert tiny["ceiling"] == "optimum" and tiny["ceiling_profit"] == pytest.approx(optimum)


def _claim(claims, start: str):
    return next(claim for claim in claims if claim.claim.startswith(start))


def test_the_claims_are_judged_by_their_intervals():
    """Each verdict follows from the numbers: P(MTMA > X)'s CI against 0.5, MTMA's IQM CI
    against the siloed heuristic's 0, the pooled F-test on the seed spread."""
    rng = np.random.default_rng(0)
    tasks = ["a", "b"]
    mtma = 20.0 + rng.normal(0.0, 1.0, (5, 2))
    matrices = {
        "mtma": mtma,
        "siloed_rl": mtma - 200.0,  # far below: supported
        "ippo": mtma + rng.normal(0.0, 0.5, (5, 2)),  # level: inconclusive
        "centralized": mtma + 10.0,  # far above: contradicted
        "mtma_single_timescale": -30.0 + 10.0 * rng.normal(0.0, 1.0, (5, 2)),
        "mtma_reversed": -40.0 + 10.0 * rng.normal(0.0, 1.0, (5, 2)),
    }
    claims = restate_claims(matrices, tasks, reps=500)
    siloed = _claim(claims, "Coordination pays: MTMA beats the siloed heuristic")
    assert siloed.verdict == SUPPORTED
    assert siloed.evidence.startswith("MTMA's IQM score = ") and "(5 runs per scenario)" in (
        siloed.evidence
    )
    pairwise = {c.evidence.split("`")[1]: c.verdict for c in claims if "P(MTMA >" in c.evidence}
    assert pairwise == {
        "siloed_rl": SUPPORTED,
        "ippo": INCONCLUSIVE,
        "centralized": CONTRADICTED,
        "mtma_single_timescale": SUPPORTED,
        "mtma_reversed": SUPPORTED,
    }  # shared_ppo has no runs: no claim
    centralized = next(c for c in claims if "`centralized`" in c.evidence)
    better = probability_of_improvement(mtma, matrices["centralized"])
    assert centralized.evidence.startswith(f"P(MTMA > `centralized`) = {better:.2f} [")
    on_a = probability_of_improvement(mtma[:, [0]], matrices["centralized"][:, [0]])
    assert f"a: {on_a:.2f} [" in centralized.evidence
    # a tenth of both ablations' spread: the stability claim holds
    stable = _claim(claims, "The timescales make learning stable")
    assert stable.verdict == SUPPORTED
    ratio, p = spread_ratio_test(mtma, matrices["mtma_single_timescale"])
    assert ratio < 0.3 and p < 0.05
    assert f"{ratio:.2f} times `mtma_single_timescale`'s (F-test p = {p:.2f}" in stable.evidence
    # MTMA the unsteady one: contradicted
    swapped = {**matrices, "mtma": 20.0 + 10.0 * rng.normal(0.0, 1.0, (5, 2))}
    swapped["mtma_single_timescale"] = swapped["mtma_reversed"] = 20.0 + rng.normal(0, 1, (5, 2))
    unsteady = restate_claims(swapped, tasks, reps=200)
    assert _claim(unsteady, "The timescales make learning stable").verdict == CONTRADICTED
    # no MTMA runs and no convergence runs: no claims at all
    assert restate_claims({"ippo": mtma}, tasks, reps=50) == []


def test_a_split_between_scenarios_is_mixed_not_hidden_by_pooling():
    """MTMA far above on one scenario and far below on the other: pooled, P = 0.5 and the IQM
    well above 0; per scenario, the verdicts disagree, and the table says so."""
    mtma = np.column_stack([np.linspace(30, 34, 5), np.linspace(-8, -4, 5)])
    claims = restate_claims({"mtma": mtma, "ippo": np.zeros((5, 2))}, ["default", "x"], reps=300)
    siloed = _claim(claims, "Coordination pays: MTMA beats the siloed heuristic")
    assert siloed.verdict == "mixed (supported on default, contradicted on x)"
    ippo = _claim(claims, "MTMA beats independent learners")
    assert ippo.verdict == "mixed (supported on default, contradicted on x)"
    assert ippo.evidence.startswith("P(MTMA > `ippo`) = 0.50 [")


def test_one_run_per_scenario_gives_no_verdict():
    one = {"mtma": np.array([[10.0, 3.0]]), "ippo": np.array([[0.0, 1.0]])}
    one["mtma_single_timescale"] = np.array([[1.0, 2.0]])
    claims = restate_claims(one, ["a", "b"], reps=50)
    assert {c.verdict for c in claims} == {
        "no verdict (fewer than 2 runs per scenario)",
        "no verdict (fewer than 2 runs per scenario, or no spread)",
    }
    stable = _claim(claims, "The timescales make learning stable")
    assert "n/a times" in stable.evidence and "p = n/a" in stable.evidence
    assert "nan" not in stable.evidence


def test_the_spread_test_is_the_f_test_of_the_centred_runs():
    from scipy import stats

    rng = np.random.default_rng(1)
    ours, theirs = rng.normal(0, 1, (6, 2)), rng.normal(5, 3, (4, 2))
    ratio, p = spread_ratio_test(ours, theirs)
    var_ours = ((ours - ours.mean(axis=0)) ** 2).sum() / (12 - 2)
    var_theirs = ((theirs - theirs.mean(axis=0)) ** 2).sum() / (8 - 2)
    tail = stats.f.cdf(var_ours / var_theirs, 10, 6)
    assert ratio == pytest.approx(np.sqrt(var_ours / var_theirs), rel=1e-12)
    assert p == pytest.approx(2 * min(tail, 1 - tail), rel=1e-12)
    # one column is scipy's two-sample F-test on the plain sample variances
    x, y = ours[:, 0], theirs[:, 0]
    tail = stats.f.cdf(x.var(ddof=1) / y.var(ddof=1), 5, 3)
    assert spread_ratio_test(x, y)[1] == pytest.approx(2 * min(tail, 1 - tail), rel=1e-12)
    # undefined: one run, or no spread to compare with
    assert all(np.isnan(spread_ratio_test(ours[:1], theirs)))
    assert all(np.isnan(spread_ratio_test(ours, np.ones((4, 2)))))
    with pytest.raises(ValueError, match="ours has 2 tasks and theirs 1"):
        spread_ratio_test(ours, theirs[:, :1])
    with pytest.raises(ValueError, match="theirs must be finite"):
        spread_ratio_test(ours, np.full((3, 2), np.nan))


def test_every_learned_baseline_but_mtma_has_a_pairwise_claim():
    from baselines.protocol_report import FOCUS, PAIRWISE_CLAIMS
    from baselines.rl.names import RL_BASELINES

    assert sorted(name for name, _ in PAIRWISE_CLAIMS) == sorted(set(RL_BASELINES) - {FOCUS})


def test_the_convergence_claim_follows_the_final_gap():
    for gap_mtma, verdict in ((0.0, SUPPORTED), (90.0, "not reached within 400,000 steps")):
        data = _synthetic(gap_mtma, 40.0)
        gaps = final_gaps(data)
        spreads = {name: seed_spread(runs) for name, runs in gap_curves(data).items()}
        # no headline runs at all: the convergence claim still stands on its own
        (converges,) = restate_claims({}, [], (gaps, spreads, 400_000), reps=50)
        assert converges.claim.startswith("MTMA converges to the optimum")
        assert converges.verdict == verdict
        gap = gaps["mtma"]
        assert (
            f"after 400,000 steps: {gap['mean']:,.1f} [{gap['ci_low']:,.1f}, {gap['ci_high']:,.1f}]"
            in converges.evidence
        )


def test_the_claims_section_is_a_table_of_every_claim():
    curves = {
        "a": {"mtma": _curves([150, 180, 120, 190]), "ippo": _curves([100, 110, 160, 90])},
        "b": {"mtma": _curves([500, 100, 900, 700]), "ippo": _curves([0, 50, 200])},
    }
    data = _synthetic(90.0, 2.0)
    lines = claims_section(curves, REFERENCES, convergence=data, reps=200, effort="Same effort.")
    assert lines[0] == "## The paper's claims, re-stated with the evidence"
    assert lines[2].startswith("Same effort. The scores are the final held-out scores of the")
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    matrices, _ = score_matrices(curves, REFERENCES)
    gaps = final_gaps(data)
    spreads = {name: seed_spread(runs) for name, runs in gap_curves(data).items()}
    claims = restate_claims(matrices, ["a", "b"], (gaps, spreads, 400_000), reps=200)
    assert len(rows) == len(claims) == 3  # siloed heuristic, ippo, convergence
    for row, claim in zip(rows, claims, strict=True):
        assert row == f"| {claim.claim} | {claim.evidence} | **{claim.verdict}** |"
    # the runs that did not count are said
    assert "- `ippo`: unequal runs per scenario: the first 3 of each count." in lines
    empty = claims_section({"a": {"ippo": _curves([1.0])}}, REFERENCES, convergence=data, effort="")
    assert "not reached within 400,000 steps" in "\n".join(empty)


def test_the_effort_is_called_equal_only_when_it_is(tmp_path):
    from baselines.protocol_report import protocol_effort
    from baselines.settings import TRAINING_SETTINGS, TUNED_SETTINGS, training_settings

    said = protocol_effort(["default", "multiscale"])
    assert said == (
        "The settings give every learned baseline the same effort: a tuning study of 8 trials "
        "of up to 100,000 steps on the validation seeds, then 5 training seeds of 200,000 steps "
        "(3 to 8 trials complete per study, the rest stopped early by the pruner)."
    )
    # one baseline with twice the budget on one scenario: named, and equality not claimed
    document = json.loads(TRAINING_SETTINGS.read_text())
    document["runs"]["multiscale"]["ippo"]["steps"] = 400_000
    path = tmp_path / "training.json"
    path.write_text(json.dumps(document))
    unequal = protocol_effort(["default", "multiscale"], training_settings(path))
    assert unequal.startswith("The settings do not give equal effort: ")
    assert "5 training seeds of 400,000 steps for ippo/multiscale." in unequal
    # a baseline without a study is named too
    studies = json.loads(TUNED_SETTINGS.read_text())
    del studies["settings"]["mtma/default"]
    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps(studies))
    studies["settings"]["ippo/default"]["study"]["trials"].pop()
    tuned.write_text(json.dumps(studies))
    fewer = protocol_effort(["default"], tuned=tuned)
    assert "a tuning study of 7 trials of up to 100,000 steps on the validation seeds, then 5 " in (
        fewer
    )
    assert fewer.startswith("The settings do not give equal effort: ")
    untuned = protocol_effort(["default"], tuned=tuned)
    assert "no tuning study, then 5 training seeds of 200,000 steps for mtma/default" in untuned
