"""The exact DP on tiny: against a closed form, against simulation, the fluid bound and the heuristics."""

import json
import pickle

import numpy as np
import pytest
from scipy import stats

import coord_env
from coord_env.analysis.optimal import (
    OptimalPolicy,
    check_supported,
    optimal_value,
    solve_optimal,
)
from coord_env.harness.references import PATH
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.scenarios import Scenario


@pytest.fixture(scope="module")
def tiny():
    scenario = coord_env.load_scenario("tiny")
    return scenario, solve_optimal(scenario)  # about 30 s, solved once per process


def newsvendor_scenario(horizon: int) -> Scenario:
    """One product, one segment, no boost, no seasonality: a Poisson newsvendor."""
    data = coord_env.load_scenario("tiny").to_dict()
    data.update(
        name="newsvendor",
        horizon=horizon,
        price=[10.0],
        cost=[6.0],
        holding_cost=[0.5],
        lost_sale_penalty=[2.0],
        fixed_order_cost=[0.0],
        salvage_value=[1.0],
        lead_time_pmf=[[1.0]],
        arrival_rate=[8.0],
        utility=[[0.5]],
        no_purchase_utility=[0.0],
        responsiveness=[0.0],
        substitution=[0.3],
        slot_attention=[1.0],
        season_amplitude=0.0,
        drift_std=[0.0],
        initial_stock_factor=2.0,
    )
    return Scenario.from_dict(data)


def test_horizon_two_matches_the_poisson_newsvendor():
    s = newsvendor_scenario(horizon=2)
    p, c, h, b, v = 10.0, 6.0, 0.5, 2.0, 1.0
    rate = 8.0 * np.exp(0.5) / (1 + np.exp(0.5))
    demand = stats.poisson(rate)
    d = np.arange(200)
    pmf = demand.pmf(d)

    def last_period(y: int) -> float:  # sell, pay penalty and holding, salvage the rest
        sold = np.minimum(d, y)
        return float(pmf @ (p * sold - b * (d - sold) - h * (y - sold) + v * (y - sold)))

    # independent closed form: the critical fractile of the last period
    fractile = (p + b - c) / (p + b + h - v)
    y_star = int(demand.ppf(fractile))
    assert demand.cdf(y_star) >= fractile > demand.cdf(y_star - 1)
    solution = solve_optimal(s)
    for x in (0, 3, 9):
        sold = np.minimum(d, x)
        first = float(pmf @ (p * sold - b * (d - sold) - h * (x - sold)))
        after = x - sold  # carried into period 1 before the order arrives
        best = max(
            -c * q + float(pmf @ np.array([last_period(int(a) + q) for a in after]))
            for q in range(0, 41)
        )
        assert solution.value_at(np.array([x])) == pytest.approx(first + best, abs=1e-7)
    orders, _slate = solution.action_at(np.array([0]), period=0)
    assert orders[0] == y_star  # nothing left over from x = 0: order up to the fractile
    assert solution.action_at(np.array([0]), period=1)[0][0] == 0  # salvage <= cost: never order


def test_horizon_one_is_the_expected_single_period_profit():
    s = newsvendor_scenario(horizon=1)
    rate = 8.0 * np.exp(0.5) / (1 + np.exp(0.5))
    d = np.arange(200)
    pmf = stats.poisson.pmf(d, rate)
    x = np.arange(s.initial_stock_high[0] + 1)
    sold = np.minimum(d[None, :], x[:, None])
    left = x[:, None] - sold
    per_x = (10 * sold - 2 * (d - sold) - 0.5 * left + 1.0 * left) @ pmf
    assert optimal_value(s) == pytest.approx(per_x.mean(), abs=1e-7)


def test_simulated_profit_of_the_optimal_policy_matches_the_dp(tiny):
    scenario, solution = tiny
    seeds = range(50_000, 50_300)
    result = coord_env.evaluate(OptimalPolicy(), scenario, seeds=seeds)
    profits = np.array([row["profit"] for row in result["per_seed"]])
    # control variate: the DP value given each seed's initial stock
    values = np.array([optimal_value(scenario, seed) for seed in seeds])
    residual = profits - values
    half_width = 3.0 * residual.std(ddof=1) / np.sqrt(len(seeds))  # 3 standard errors
    assert abs(residual.mean()) < half_width
    assert half_width < 0.02 * solution.value  # the check has teeth


def test_the_fluid_bound_is_above_the_dp_on_every_official_seed(tiny):
    scenario, _ = tiny
    entry = json.loads(PATH.read_text())["scenarios"][scenario.env_id]
    bounds = entry["upper_bound_per_seed"]
    assert len(bounds) == len(EVALUATION_SEEDS)
    for seed, bound in zip(EVALUATION_SEEDS, bounds, strict=True):
        assert bound >= optimal_value(scenario, seed)
    fresh = coord_env.analysis.fluid_upper_bound(scenario, EVALUATION_SEEDS[0]).value
    assert fresh == pytest.approx(bounds[0], rel=1e-6)


@pytest.mark.parametrize("name", ["random", "mean_demand", "siloed", "coordinated", "lp"])
def test_no_heuristic_beats_the_optimum(tiny, name):
    scenario, _ = tiny
    result = coord_env.evaluate(name, scenario)  # official seeds
    profits = np.array([row["profit"] for row in result["per_seed"]])
    values = np.array([optimal_value(scenario, seed) for seed in EVALUATION_SEEDS])
    gap = values - profits
    assert gap.mean() > -3.0 * gap.std(ddof=1) / np.sqrt(len(gap))


def test_the_policy_factory_is_picklable_and_knows_its_scenarios(tiny):
    factory = pickle.loads(pickle.dumps(OptimalPolicy()))
    assert factory.supports(coord_env.load_scenario("tiny"))
    assert not factory.supports(coord_env.load_scenario("small"))
    env = coord_env.parallel_env("tiny")
    policy = factory(env)
    observations, infos = env.reset(seed=3)
    actions = policy.act(observations, infos)
    assert env.action_space("inventory_0").contains(actions["inventory_0"])
    assert env.action_space("recommender_0").contains(actions["recommender_0"])
    with pytest.raises(ValueError, match="order_quantity"):
        factory(coord_env.parallel_env("tiny", inventory_action="order_up_to"))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"drift_std": 0.1, "drift_rho": 0.5}, "drift"),
        ({"lead_time": [2, 1]}, "lead_time"),
        ({"lead_time_pmf": [[0.5, 0.5], [1.0, 0.0]]}, "random lead times"),
        ({"ticks_per_period": 2}, "ticks_per_period"),
        ({"fixed_order_cost": [1.0, 0.0]}, "fixed order costs"),
        ({"warehouse_capacity": 30}, "warehouse_capacity"),
        ({"shocks": [{"target": "segment", "index": 0, "period": 3, "multiplier": 2.0}]}, "shocks"),
        ({"arrival_rate": [40.0, 40.0]}, "state too large"),
    ],
)
def test_unsupported_scenarios_are_refused_with_the_reason(overrides, reason):
    scenario = coord_env.load_scenario("tiny", **overrides)
    with pytest.raises(ValueError, match=reason):
        check_supported(scenario)
    with pytest.raises(ValueError, match=reason):
        solve_optimal(scenario)
    assert not OptimalPolicy.supports(scenario)


def test_larger_catalog_scenarios_are_refused():
    with pytest.raises(ValueError, match="5 products"):
        solve_optimal(coord_env.load_scenario("small"))
