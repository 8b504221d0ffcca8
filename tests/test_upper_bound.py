"""The fluid upper bound: closed forms, and no policy beats it beyond sampling noise."""

import numpy as np
import pytest

import coord_env
from baselines import LPPolicy
from coord_env.analysis import fluid_upper_bound
from coord_env.core import reset


def test_without_customers_the_bound_is_the_salvage_of_the_initial_stock():
    s = coord_env.load_scenario("tiny", arrival_rate=[1e-9, 1e-9])
    seed = 3
    initial = reset(s, np.random.default_rng(seed)).on_hand[0]
    bound = fluid_upper_bound(s, seed)
    # nothing to sell: keep the stock (holding costs it), order nothing; salvage what is left
    expected = initial @ s.salvage_value - s.horizon * (initial @ s.holding_cost)
    assert bound.value == pytest.approx(expected, abs=1e-6)
    assert bound.purchase_cost == pytest.approx(0.0, abs=1e-5)  # HiGHS feasibility tolerance


def test_the_bound_rises_with_prices_and_falls_with_costs():
    base = coord_env.load_scenario("tiny")
    value = fluid_upper_bound(base, 1).value
    richer = base.replace(price=(base.price * 1.2).tolist())
    costlier = base.replace(cost=(base.cost * 1.1).tolist(), salvage_value=None)
    assert fluid_upper_bound(richer, 1).value > value > fluid_upper_bound(costlier, 1).value


def test_the_parts_add_up():
    bound = fluid_upper_bound(coord_env.load_scenario("small"), 2)
    parts = (
        bound.revenue
        + bound.salvage
        - bound.purchase_cost
        - bound.holding_cost
        - bound.lost_sale_penalty
    )
    assert bound.value == pytest.approx(parts, rel=1e-7)


@pytest.mark.parametrize(
    ("name", "num_seeds"),
    [("tiny", 24), ("small", 4), ("capacity", 2), pytest.param("large", 1, marks=pytest.mark.slow)],
)
def test_no_baseline_beats_the_bound_beyond_noise(name, num_seeds):
    s = coord_env.load_scenario(name)
    seeds = list(range(500, 500 + num_seeds))
    bounds = np.array([fluid_upper_bound(s, seed).value for seed in seeds])
    for policy in ("random", "mean_demand", "siloed", "coordinated", "lp"):
        if policy == "lp" and not LPPolicy.supports(s):
            continue
        profits = np.array(
            [row["profit"] for row in coord_env.evaluate(policy, s, seeds)["per_seed"]]
        )
        gap = profits - bounds  # paired: the same seed's exogenous paths
        noise = 3 * gap.std(ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else 0.0
        assert gap.mean() <= noise, (policy, gap.mean(), noise)


def test_large_scenarios_get_the_decomposed_bound_and_the_lp_is_refused_clearly():
    large = coord_env.load_scenario("large")
    assert fluid_upper_bound(large, 0).formulation == "decomposed"
    with pytest.raises(ValueError, match=r"too large.*decomposed"):
        fluid_upper_bound(large, 0, "lp")
    with pytest.raises(ValueError, match="formulation must be one of 'auto', 'lp', 'decomposed'"):
        fluid_upper_bound(large, 0, "exact")


@pytest.mark.parametrize(("name", "seed"), [("tiny", 1), ("small", 2), ("capacity", 3)])
def test_the_decomposed_bound_relaxes_the_lp(name, seed):
    s = coord_env.load_scenario(name)
    lp = fluid_upper_bound(s, seed, "lp").value
    decomposed = fluid_upper_bound(s, seed, "decomposed").value
    assert lp <= decomposed <= 1.05 * lp  # valid, and not much looser


def test_the_decomposed_bound_is_exact_when_nothing_but_choice_binds():
    # no holding or lost-sale costs, salvage at cost and stock that never runs out: every unit sold
    # earns its margin on top of the initial stock's value, exactly as the decomposition prices it
    base = coord_env.load_scenario("tiny")
    s = base.replace(
        holding_cost=[0.0, 0.0],
        lost_sale_penalty=[0.0, 0.0],
        salvage_value=base.cost.tolist(),
        initial_stock_factor=50.0,
    )
    for seed in (1, 2):
        lp = fluid_upper_bound(s, seed, "lp").value
        assert fluid_upper_bound(s, seed, "decomposed").value == pytest.approx(lp, rel=1e-9)


def test_without_customers_the_decomposed_bound_is_the_cost_of_the_initial_stock():
    s = coord_env.load_scenario("tiny", arrival_rate=[1e-9, 1e-9])
    initial = reset(s, np.random.default_rng(3)).on_hand[0]
    bound = fluid_upper_bound(s, 3, "decomposed")
    assert bound.value == pytest.approx(initial @ s.cost, abs=1e-4)
    assert bound.plan is None
    with pytest.raises(AttributeError, match="only the LP formulation has a plan"):
        _ = bound.revenue
