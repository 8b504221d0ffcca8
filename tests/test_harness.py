"""The scoring harness (SPEC section 6): evaluate(), the results document, statistics, trajectories."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import coord_env
from baselines import SiloedPolicy
from coord_env.harness import stats
from coord_env.harness.evaluate import MONEY, run_episode
from coord_env.harness.metrics import METRICS
from coord_env.harness.results import SCHEMA_VERSION, build_results, normalized_score
from coord_env.harness.seeds import EVALUATION_SEEDS, TRAINING_SEED_LIMIT

SEEDS = [11, 12, 13, 14]
TOP_KEYS = {
    "schema_version",
    "package_version",
    "scenario",
    "scenario_hash",
    "policy",
    "seeds",
    "per_seed",
    "profit",
    "normalized_score",
    "metrics",
}
ROW_KEYS = {"seed", "profit", *MONEY} | set(METRICS)


@pytest.fixture(scope="module")
def siloed_results():
    return coord_env.evaluate("siloed", "tiny", seeds=SEEDS)


def play(env, policy, seed):
    """Play one episode; return (sum of team rewards, per-tick infos, final snapshot, start)."""
    policy.reset(seed)
    observations, infos = env.reset(seed=seed)
    start = env.snapshot()
    total, ticks = 0.0, []
    while env.agents:
        observations, rewards, _, _, infos = env.step(policy.act(observations, infos))
        assert rewards["inventory_0"] == rewards["recommender_0"]
        total += rewards["inventory_0"]
        ticks.append((dict(infos["inventory_0"]), env.snapshot()))
    return total, ticks, start


# ---------------------------------------------------------------------------- results document


def test_results_document_has_every_spec_key(siloed_results):
    doc = siloed_results
    assert set(doc) >= TOP_KEYS
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["package_version"] == coord_env.__version__
    assert doc["scenario"] == "coord/tiny-v0"
    assert doc["scenario_hash"] == coord_env.load_scenario("tiny").content_hash
    assert len(doc["scenario_hash"]) == 64
    assert doc["policy"] == "siloed"
    assert doc["seeds"] == SEEDS
    assert [row["seed"] for row in doc["per_seed"]] == SEEDS
    for row in doc["per_seed"]:
        assert set(row) >= ROW_KEYS, ROW_KEYS - set(row)
        assert isinstance(row["seed"], int)
        for key in ("profit", *MONEY):
            assert isinstance(row[key], float) and math.isfinite(row[key])
    assert set(doc["profit"]) >= {"mean", "iqm", "ci_low", "ci_high"}
    assert doc["normalized_score"] is None or isinstance(doc["normalized_score"], float)
    assert set(doc["metrics"]) == set(METRICS)


def test_per_seed_profit_adds_up(siloed_results):
    for row in siloed_results["per_seed"]:
        parts = (
            row["revenue"]
            + row["salvage"]
            - row["purchase_cost"]
            - row["holding_cost"]
            - row["lost_sale_penalty"]
        )
        assert row["profit"] == pytest.approx(parts, rel=1e-6)
        assert row["revenue"] > 0 and row["purchase_cost"] > 0 and row["holding_cost"] > 0


def test_per_seed_profit_equals_the_rewards_of_the_same_play(siloed_results):
    env = coord_env.parallel_env("tiny")
    policy = SiloedPolicy(env)
    for row in siloed_results["per_seed"]:
        total, ticks, _ = play(env, policy, row["seed"])
        assert row["profit"] == pytest.approx(total, rel=1e-9)
        for key in MONEY:
            assert row[key] == pytest.approx(
                sum(info[key] for info, _ in ticks), rel=1e-9, abs=1e-9
            )
    profits = {row["profit"] for row in siloed_results["per_seed"]}
    assert len(profits) == len(SEEDS)  # the seeds really differ


def test_aggregate_profit_and_metrics_are_means_over_seeds(siloed_results):
    doc = siloed_results
    profits = np.array([row["profit"] for row in doc["per_seed"]])
    assert doc["profit"]["mean"] == pytest.approx(profits.mean(), rel=1e-12)
    assert doc["profit"]["ci_low"] <= doc["profit"]["mean"] <= doc["profit"]["ci_high"]
    assert profits.min() <= doc["profit"]["ci_low"] and doc["profit"]["ci_high"] <= profits.max()
    assert doc["profit"]["iqm"] == pytest.approx(stats.iqm(profits), rel=1e-12)
    for name in METRICS:
        values = [row[name] for row in doc["per_seed"] if row[name] is not None]
        if values:
            assert doc["metrics"][name] == pytest.approx(np.mean(values), rel=1e-12), name
        else:
            assert doc["metrics"][name] is None, name
    assert doc["metrics"]["fill_rate"] is not None and 0.0 <= doc["metrics"]["fill_rate"] <= 1.0


def test_evaluate_is_deterministic(siloed_results):
    again = coord_env.evaluate("siloed", "tiny", seeds=SEEDS)
    assert again == siloed_results
    assert json.dumps(again, sort_keys=True) == json.dumps(siloed_results, sort_keys=True)


@pytest.mark.slow
def test_workers_give_the_same_document():
    serial = coord_env.evaluate("coordinated", "tiny", seeds=SEEDS[:3], workers=0)
    parallel = coord_env.evaluate("coordinated", "tiny", seeds=SEEDS[:3], workers=2)
    assert parallel == serial
    assert json.dumps(parallel, sort_keys=True) == json.dumps(serial, sort_keys=True)


@pytest.mark.slow
def test_workers_evaluate_an_rl_checkpoint_after_torch_ran_threads_here():
    """Worker processes start clean (forkserver): a forked worker could inherit the locks of
    torch's intra-op threads without the threads and wait forever (``reproduce`` hung so)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.ones(256, 256) @ torch.ones(256, 256)  # start torch's thread pool in this process
        serial = coord_env.evaluate("mtma", "tiny", seeds=SEEDS[:2], workers=0)
        parallel = coord_env.evaluate("mtma", "tiny", seeds=SEEDS[:2], workers=2)
    finally:
        torch.set_num_threads(previous)
    assert parallel == serial


def test_document_is_strict_json(siloed_results):
    text = json.dumps(siloed_results, allow_nan=False)
    assert json.loads(text) == siloed_results


def test_undefined_metrics_are_null_not_nan():
    doc = coord_env.evaluate("random", "tiny", seeds=[1, 2])
    # tiny has 2 products: a per-period rank correlation over products is undefined
    assert all(row["exposure_stock_rank_correlation"] is None for row in doc["per_seed"])
    assert doc["metrics"]["exposure_stock_rank_correlation"] is None
    json.dumps(doc, allow_nan=False)
    assert doc["profit"]["mean"] < 0  # random loses money on tiny


def test_scenario_object_and_overrides_change_the_hash():
    scenario = coord_env.load_scenario("tiny", horizon=6)
    doc = coord_env.evaluate("mean_demand", scenario, seeds=[1])
    assert doc["scenario"] == "coord/tiny-v0"
    assert doc["scenario_hash"] == scenario.content_hash
    assert doc["scenario_hash"] != coord_env.load_scenario("tiny").content_hash


# ---------------------------------------------------------------------------- seeds


def test_evaluation_seeds_are_thirty_distinct_and_outside_training():
    assert len(EVALUATION_SEEDS) == 30
    assert len(set(EVALUATION_SEEDS)) == 30
    assert all(isinstance(seed, int) for seed in EVALUATION_SEEDS)
    assert min(EVALUATION_SEEDS) >= TRAINING_SEED_LIMIT
    assert coord_env.EVALUATION_SEEDS == EVALUATION_SEEDS


def test_default_seeds_are_the_evaluation_seeds():
    doc = coord_env.evaluate("mean_demand", "tiny")
    assert len(doc["per_seed"]) == 30
    assert doc["seeds"] == list(EVALUATION_SEEDS)
    assert [row["seed"] for row in doc["per_seed"]] == list(EVALUATION_SEEDS)


# ---------------------------------------------------------------------------- trajectory


@pytest.mark.parametrize("ticks_per_period", [1, 3])
def test_run_episode_trajectory_matches_the_env(ticks_per_period):
    scenario = coord_env.load_scenario("tiny", ticks_per_period=ticks_per_period, horizon=12)
    seed = 5
    trajectory = run_episode(SiloedPolicy, scenario, seed, "siloed")
    env = coord_env.parallel_env(scenario)
    total, ticks, start = play(env, SiloedPolicy(env), seed)
    T, N, R = scenario.horizon, scenario.num_products, ticks_per_period
    assert len(ticks) == T * R
    assert trajectory.num_periods == T and trajectory.num_products == N
    assert trajectory.profit.sum() == pytest.approx(total, rel=1e-9)

    def per_period(key):
        return np.array(
            [sum(info[key] for info, _ in ticks[t * R : (t + 1) * R]) for t in range(T)]
        )

    def snapshot_sum(key):
        return np.array(
            [sum(snap[key] for _, snap in ticks[t * R : (t + 1) * R]) for t in range(T)]
        )

    np.testing.assert_array_equal(trajectory.demand.sum(axis=1), per_period("demand"))
    np.testing.assert_array_equal(trajectory.sales.sum(axis=1), per_period("units_sold"))
    np.testing.assert_array_equal(trajectory.lost.sum(axis=1), per_period("units_lost"))
    np.testing.assert_array_equal(trajectory.orders.sum(axis=1), per_period("units_ordered"))
    np.testing.assert_array_equal(trajectory.received.sum(axis=1), per_period("units_received"))
    np.testing.assert_array_equal(trajectory.impressions.sum(axis=1), per_period("impressions"))
    np.testing.assert_array_equal(trajectory.oos_impressions, per_period("oos_impressions"))
    np.testing.assert_allclose(trajectory.profit, per_period("profit"), rtol=1e-12, atol=1e-9)
    for key in MONEY:
        np.testing.assert_allclose(trajectory.money[key], per_period(key), rtol=1e-12, atol=1e-9)
    # per product, from the raw snapshots of every tick
    np.testing.assert_array_equal(trajectory.sales, snapshot_sum("sales"))
    np.testing.assert_array_equal(trajectory.demand, snapshot_sum("demand"))
    np.testing.assert_array_equal(trajectory.lost, snapshot_sum("lost"))
    np.testing.assert_array_equal(trajectory.visits, snapshot_sum("visits").sum(axis=1))
    assert trajectory.demand.sum() > 0 and trajectory.orders.sum() > 0

    # stock: the end of each period, and the start as the end of the last plus the arrivals
    ends = np.array([ticks[(t + 1) * R - 1][1]["on_hand"] for t in range(T)])
    np.testing.assert_array_equal(trajectory.on_hand_end, ends)
    np.testing.assert_array_equal(trajectory.on_hand_end[-1], env.snapshot()["on_hand"])
    before = np.vstack([start["on_hand"][None], trajectory.on_hand_end[:-1]])
    np.testing.assert_array_equal(trajectory.on_hand_start, before + trajectory.received)
    assert np.all(trajectory.on_hand_start >= trajectory.sales)  # the start covers the period
    assert np.all(trajectory.on_hand_start - trajectory.sales == trajectory.on_hand_end)
    assert np.all(trajectory.lost <= trajectory.demand)
    assert np.all(trajectory.substitute_sales <= trajectory.sales)
    np.testing.assert_array_equal(trajectory.lead_time, scenario.mean_lead_time)


# ---------------------------------------------------------------------------- statistics


def test_summarize_is_deterministic_and_the_ci_contains_the_mean():
    values = np.array([3.0, 9.0, -1.0, 4.5, 7.25, 0.5, 12.0, 2.0])
    first = stats.summarize(values)
    assert stats.summarize(values) == first
    assert first["mean"] == pytest.approx(values.mean(), rel=1e-15)
    assert first["ci_low"] <= first["mean"] <= first["ci_high"]
    assert first["ci_low"] < first["ci_high"]
    assert values.min() <= first["ci_low"] and first["ci_high"] <= values.max()
    assert first["n"] == 8
    # the 25% trimmed mean of 8 values drops 2 at each end: mean(2, 3, 4.5, 7.25)
    assert first["iqm"] == pytest.approx((2.0 + 3.0 + 4.5 + 7.25) / 4, rel=1e-15)


def test_summarize_degenerate_inputs():
    one = stats.summarize(np.array([5.0]))
    assert one["mean"] == one["ci_low"] == one["ci_high"] == 5.0
    constant = stats.summarize(np.full(6, 2.5))
    assert constant["ci_low"] == constant["ci_high"] == constant["mean"] == 2.5


def test_normalized_score_closed_form():
    assert normalized_score(70.0, 50.0, 90.0) == pytest.approx(50.0)
    assert normalized_score(50.0, 50.0, 90.0) == 0.0
    assert normalized_score(90.0, 50.0, 90.0) == pytest.approx(100.0)
    assert normalized_score(30.0, 50.0, 90.0) == pytest.approx(-50.0)
    for profit, siloed, bound in [(123.4, 100.0, 250.0), (-7.0, 3.0, 11.5)]:
        expected = 100.0 * (profit - siloed) / (bound - siloed)
        assert normalized_score(profit, siloed, bound) == pytest.approx(expected, rel=1e-15)


def test_build_results_normalizes_the_mean_with_a_reference(siloed_results):
    rows = siloed_results["per_seed"]
    scenario = coord_env.load_scenario("tiny")
    reference = {"siloed_profit": 500.0, "upper_bound": 1500.0}
    doc = build_results("siloed", scenario, SEEDS, rows, reference=reference)
    mean = np.mean([row["profit"] for row in rows])
    assert doc["normalized_score"] == pytest.approx(100.0 * (mean - 500.0) / 1000.0, rel=1e-12)
    assert build_results("siloed", scenario, SEEDS, rows)["normalized_score"] is None


# ---------------------------------------------------------------------------- misuse


def test_empty_seed_list_is_refused():
    with pytest.raises(ValueError, match="seed"):
        coord_env.evaluate("siloed", "tiny", seeds=[])


def test_a_policy_instance_instead_of_a_factory_gets_a_clear_error():
    env = coord_env.parallel_env("tiny")
    with pytest.raises(TypeError, match="factory"):
        coord_env.evaluate(SiloedPolicy(env), "tiny", seeds=[1])
