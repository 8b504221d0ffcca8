"""The heuristic baselines against hand computations (SPEC section 4).

Every expected value here is computed independently of the code under test: closed forms from the
scenario's raw parameters, brute force over slates, and the env's raw ``snapshot()``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

import coord_env
from baselines import CoordinatedPolicy, MeanDemandPolicy, RandomPolicy, SiloedPolicy
from baselines.heuristics.base_stock import critical_ratio, order_levels, poisson_base_stock
from baselines.heuristics.coordinated import balancing_discount
from baselines.heuristics.demand_model import choice_probabilities, expected_demand
from baselines.heuristics.mnl import best_slates

PSI_SCALE = math.e / (math.e - 1.0)


def season(s, t):
    """a(t) = 1 + A sin(2 pi (t + phi) / P), from the raw parameters."""
    return 1.0 + s.season_amplitude * math.sin(2 * math.pi * (t + s.season_phase) / s.season_period)


def hand_choice(s, slates, popularity=None, shock=None):
    """(M, N) MNL first-choice probabilities and (M,) no-purchase probabilities, by plain loops."""
    M, N = s.utility.shape
    popularity = np.ones(N) if popularity is None else popularity
    shock = np.ones(N) if shock is None else shock
    probabilities, no_purchase = np.zeros((M, N)), np.zeros(M)
    for k in range(M):
        weights = []
        for i in range(N):
            w = math.exp(s.utility[k, i]) * popularity[i] * shock[i]
            positions = [j for j, product in enumerate(slates[k]) if product == i]
            if positions:  # a repeat counts once, at its first position
                w *= math.exp(s.responsiveness[k] * s.slot_attention[positions[0]])
            weights.append(w)
        w0 = math.exp(s.no_purchase_utility[k])
        total = w0 + sum(weights)
        probabilities[k] = np.array(weights) / total
        no_purchase[k] = w0 / total
    return probabilities, no_purchase


def hand_slate_revenue(s, k, slate, revenue):
    """Expected revenue per customer of segment k under ``slate``, by plain loops."""
    numerator, denominator = 0.0, math.exp(s.no_purchase_utility[k])
    for i in range(s.num_products):
        w = math.exp(s.utility[k, i])
        if i in slate:  # a repeat counts once, at its first position
            w *= math.exp(s.responsiveness[k] * s.slot_attention[list(slate).index(i)])
        numerator += revenue[i] * w
        denominator += w
    return numerator / denominator


def brute_force_slates(s, revenue):
    """Per segment, (best value, every slate attaining it) over all N^C env slates."""
    out = []
    for k in range(s.num_segments):
        values = {
            slate: hand_slate_revenue(s, k, slate, revenue[k])
            for slate in itertools.product(range(s.num_products), repeat=s.num_slots)
        }
        best = max(values.values())
        out.append((best, {slate for slate, v in values.items() if v >= best - 1e-12}))
    return out


def inventory_position(env):
    snapshot = env.snapshot()
    return snapshot["on_hand"] + snapshot["pipeline"].sum(axis=1)


def with_on_hand(env, observation, units):
    """A copy of the recommender's observation whose on-hand field reads ``units`` (raw)."""
    layout = env.observation_layouts["recommender_0"]
    out = observation.copy()
    out[layout.slices["on_hand"]] = np.asarray(units, dtype=float) / layout.field("on_hand").scale
    return out


# ---------------------------------------------------------------------------- base stock


def test_critical_ratio_by_hand():
    s = coord_env.load_scenario(
        "tiny",
        price=[10.0, 20.0],
        cost=[4.0, 15.0],
        lost_sale_penalty=[2.0, 0.0],
        holding_cost=[1.0, 5.0],
        salvage_value=[2.0, 7.5],
    )
    # (10 - 4 + 2) / (10 - 4 + 2 + 1) = 8/9; (20 - 15 + 0) / (20 - 15 + 0 + 5) = 1/2
    np.testing.assert_allclose(critical_ratio(s), [8.0 / 9.0, 0.5], rtol=1e-15)


def test_critical_ratio_of_tiny_by_hand():
    s = coord_env.load_scenario("tiny")
    expected = [
        (19.153 - 12.1706 + 6.1976) / (19.153 - 12.1706 + 6.1976 + 0.2434),
        (10.3913 - 5.9998 + 4.9949) / (10.3913 - 5.9998 + 4.9949 + 0.12),
    ]
    np.testing.assert_allclose(critical_ratio(s), expected, rtol=1e-12)


def poisson_quantile_by_hand(mean, ratio):
    """The smallest S with P(Poisson(mean) <= S) >= ratio, by summing the pmf."""
    term = cdf = math.exp(-mean)
    level = 0
    while cdf < ratio:
        level += 1
        term *= mean / level
        cdf += term
    return float(level)


def test_poisson_base_stock_matches_scipy_and_the_pmf_sum():
    means = np.array([1.0, 0.5, 3.2, 10.0, 47.3, 2.0])
    ratios = np.array([0.8, 0.5, 0.9, 0.99, 0.2, 0.95])
    levels = poisson_base_stock(means, ratios)
    np.testing.assert_array_equal(levels, stats.poisson.ppf(ratios, means))
    np.testing.assert_array_equal(
        levels, [poisson_quantile_by_hand(m, r) for m, r in zip(means, ratios, strict=True)]
    )
    assert levels[0] == 2.0  # P(<=1) = 2/e = 0.736 < 0.8 <= P(<=2) = 2.5/e = 0.920


def test_poisson_base_stock_of_zero_mean_is_zero():
    levels = poisson_base_stock(np.array([0.0, 0.0, 4.0]), np.array([0.99, 0.5, 0.5]))
    np.testing.assert_array_equal(levels, [0.0, 0.0, 4.0])
    assert np.all(np.isfinite(levels))


def test_order_levels_ceil_and_clip():
    target = np.array([10.0, 3.0, 100.0, 7.5, 9.0, 12.0])
    position = np.array([4.0, 5.0, 0.0, 7.0, 3.0, 12.0])
    step = np.array([2, 1, 1, 1, 4, 3])
    levels = order_levels(target, position, step, 40)
    # 6/2 = 3 exactly; -2 -> 0; 100 -> clipped at 40; ceil(0.5) = 1; ceil(6/4) = 2; 0 -> 0
    np.testing.assert_array_equal(levels, [3, 0, 40, 1, 2, 0])
    assert levels.dtype == np.int64


# ---------------------------------------------------------------------------- demand model


def test_choice_probabilities_by_hand_on_tiny():
    s = coord_env.load_scenario("tiny")
    slates = np.array([[0], [1]])
    p = choice_probabilities(s, slates, np.ones(2))
    u, delta, eta = s.utility, s.responsiveness, s.slot_attention[0]
    # segment 0 sees product 0 in slot 1, segment 1 sees product 1
    w0 = [math.exp(u[0, 0] + delta[0] * eta), math.exp(u[0, 1])]
    w1 = [math.exp(u[1, 0]), math.exp(u[1, 1] + delta[1] * eta)]
    expected = np.array([np.array(w0) / (1.0 + sum(w0)), np.array(w1) / (1.0 + sum(w1))])
    np.testing.assert_allclose(p, expected, rtol=1e-13)
    no_purchase = np.array([1.0 / (1.0 + sum(w0)), 1.0 / (1.0 + sum(w1))])
    np.testing.assert_allclose(p.sum(axis=1) + no_purchase, 1.0, rtol=1e-14)
    assert p[0, 0] > p[1, 0]


def test_choice_probabilities_with_popularity_and_two_slots():
    s = coord_env.load_scenario("small")
    s = s.replace(num_slots=2, slot_attention=[1.0, 0.6], no_purchase_utility=[0.0, 0.4, -0.3])
    slates = np.array([[2, 0], [4, 4], [1, 3]])  # [4, 4]: the repeat counts once
    popularity = np.array([1.3, 0.7, 1.0, 2.0, 0.9])
    p = choice_probabilities(s, slates, popularity)
    expected, no_purchase = hand_choice(s, slates.tolist(), popularity)
    np.testing.assert_allclose(p, expected, rtol=1e-13)
    np.testing.assert_allclose(p.sum(axis=1) + no_purchase, 1.0, rtol=1e-14)


def test_expected_demand_sums_lambda_season_and_choice_over_periods():
    s = coord_env.load_scenario("tiny", season_phase=1.5)
    slates = np.array([[1], [0]])
    periods = np.array([0, 3, 7])
    probabilities, _ = hand_choice(s, slates.tolist())
    expected = sum(
        s.arrival_rate[k] * season(s, t) * probabilities[k]
        for t in periods.tolist()
        for k in range(s.num_segments)
    )
    np.testing.assert_allclose(
        expected_demand(s, slates, np.ones(2), periods), expected, rtol=1e-13
    )
    one = sum(s.arrival_rate[k] * season(s, 3) * probabilities[k] for k in range(2))
    np.testing.assert_allclose(expected_demand(s, slates, np.ones(2), np.array([3])), one)


def test_expected_demand_with_ticks_and_segment_shock():
    s = coord_env.load_scenario(
        "tiny",
        ticks_per_period=3,
        shocks=[{"period": 2, "target": "segment", "index": 1, "multiplier": 2.5}],
    )
    slates = np.array([[0], [0]])
    popularity = np.array([0.8, 1.25])
    probabilities, _ = hand_choice(s, slates.tolist(), popularity)
    expected = sum(
        s.arrival_rate[k] * season(s, t) * (2.5 if (t, k) == (2, 1) else 1.0) * probabilities[k]
        for t in (1, 2, 3)
        for k in range(2)
    )
    got = expected_demand(s, slates, popularity, np.array([1, 2, 3]))
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_expected_demand_with_a_product_shock_in_one_period():
    s = coord_env.load_scenario(
        "tiny", shocks=[{"period": 3, "target": "product", "index": 0, "multiplier": 3.0}]
    )
    slates = np.array([[1], [1]])
    expected = np.zeros(2)
    for t in (2, 3, 4):
        shock = np.array([3.0 if t == 3 else 1.0, 1.0])
        probabilities, _ = hand_choice(s, slates.tolist(), shock=shock)
        expected += sum(s.arrival_rate[k] * season(s, t) * probabilities[k] for k in range(2))
    got = expected_demand(s, slates, np.ones(2), np.array([2, 3, 4]))
    np.testing.assert_allclose(got, expected, rtol=1e-9)


# ---------------------------------------------------------------------------- balancing discount


def test_balancing_discount_closed_form():
    on_hand = np.array([0.0, 10.0, 25.0, 5.0, 3.0, 0.0, 7.0])
    reference = np.array([10.0, 10.0, 10.0, 10.0, 0.0, 0.0, 14.0])
    psi = balancing_discount(on_hand, reference)
    half = PSI_SCALE * (1.0 - math.exp(-0.5))
    assert psi[0] == 0.0  # Psi(0) = 0
    assert psi[1] == pytest.approx(1.0, rel=1e-15)  # Psi(1) = 1
    assert psi[2] == pytest.approx(1.0, rel=1e-15)  # min(1, 2.5) = 1
    assert psi[3] == pytest.approx(half, rel=1e-15)  # u = 0.5
    assert psi[4] == pytest.approx(1.0, rel=1e-15)  # ref = 0: no discount
    assert psi[5] == pytest.approx(1.0, rel=1e-15)  # ref = 0, nothing on hand: still 1
    assert psi[6] == pytest.approx(half, rel=1e-15)  # 7 / 14 = 0.5
    assert half == pytest.approx(0.6224593312018546, rel=1e-15)


def test_balancing_discount_is_increasing_and_accepts_integer_stock():
    on_hand = np.arange(0, 12)
    psi = balancing_discount(on_hand, np.full(12, 10.0))
    assert np.all(np.diff(psi[:11]) > 0)
    assert psi[11] == psi[10]
    np.testing.assert_allclose(psi[:11], PSI_SCALE * (1 - np.exp(-on_hand[:11] / 10.0)))


# ---------------------------------------------------------------------------- siloed


@pytest.mark.parametrize("scenario", ["tiny", "small", "default"])
def test_siloed_slates_maximize_revenue_by_brute_force(scenario):
    env = coord_env.parallel_env(scenario)
    s = env.scenario
    policy = SiloedPolicy(env)
    policy.reset(0)
    observations, infos = env.reset(seed=0)
    slates = policy.act(observations, infos)["recommender_0"].reshape(s.num_segments, s.num_slots)
    revenue = np.broadcast_to(s.price, s.utility.shape)
    expected, _ = best_slates(revenue, s.base_attraction, s.no_purchase_attraction, s.slot_boost)
    np.testing.assert_array_equal(slates, expected)
    for k, (best, argmax) in enumerate(brute_force_slates(s, revenue)):
        value = hand_slate_revenue(s, k, tuple(slates[k].tolist()), revenue[k])
        assert value == pytest.approx(best, rel=1e-12)
        assert tuple(slates[k].tolist()) in argmax


def test_siloed_slates_ignore_stock():
    env = coord_env.parallel_env("small")
    observations, infos = env.reset(seed=0)
    shown = []
    for units in (0.0, 1e5):
        policy = SiloedPolicy(env)
        policy.reset(0)
        seen = with_on_hand(env, observations["recommender_0"], np.full(5, units))
        shown.append(policy.act(dict(observations, recommender_0=seen), infos)["recommender_0"])
    np.testing.assert_array_equal(shown[0], shown[1])


def siloed_first_period(seed):
    """(policy's levels, closed-form levels, forecast) on tiny with a(0) != 1."""
    env = coord_env.parallel_env("tiny", season_phase=2.0)
    s = env.scenario
    policy = SiloedPolicy(env)
    policy.reset(seed)
    observations, infos = env.reset(seed=seed)
    actions = policy.act(observations, infos)
    slates = actions["recommender_0"].reshape(2, 1).tolist()
    probabilities, _ = hand_choice(s, slates)
    forecast = sum(s.arrival_rate[k] * season(s, 0) * probabilities[k] for k in range(2))
    ratio = (s.price - s.cost + s.lost_sale_penalty) / (
        s.price - s.cost + s.lost_sale_penalty + s.holding_cost
    )
    target = stats.poisson.ppf(ratio, (1 + 1) * forecast)  # L = 1
    position = inventory_position(env)
    assert np.all(env.snapshot()["pipeline"] == 0)
    levels = np.clip(np.ceil((target - position) / s.order_step), 0, s.order_levels - 1)
    return actions["inventory_0"], levels.astype(np.int64), forecast, policy


def test_siloed_forecast_starts_from_the_model_demand():
    _, _, forecast, policy = siloed_first_period(0)
    np.testing.assert_allclose(policy.initial_forecast, forecast, rtol=1e-12)
    np.testing.assert_allclose(policy.forecast, forecast, rtol=1e-12)


def test_siloed_first_orders_are_within_one_level_of_the_closed_form():
    for seed in range(10):
        levels, expected, _, _ = siloed_first_period(seed)
        assert levels.dtype == np.int64
        assert np.all((levels - expected >= 0) & (levels - expected <= 1)), (
            seed,
            levels,
            expected,
        )


def test_siloed_first_orders_equal_the_closed_form():
    for seed in range(10):
        levels, expected, _, _ = siloed_first_period(seed)
        np.testing.assert_array_equal(levels, expected, err_msg=f"seed {seed}")


def test_siloed_forecast_is_exponential_smoothing_of_observed_sales():
    env = coord_env.parallel_env("tiny")
    policy = SiloedPolicy(env, smoothing=0.3)
    policy.reset(2)
    observations, infos = env.reset(seed=2)
    actions = policy.act(observations, infos)  # period 0: nothing observed yet
    expected = policy.initial_forecast.copy()
    np.testing.assert_array_equal(policy.forecast, expected)
    for period in range(5):
        observations, _, _, _, infos = env.step(actions)
        sales = env.snapshot()["sales"]  # R = 1: the last tick is the last period
        assert int(sales.sum()) == int(infos["inventory_0"]["units_sold"])
        actions = policy.act(observations, infos)  # the next orders read these sales
        expected = 0.3 * sales + 0.7 * expected
        np.testing.assert_allclose(policy.forecast, expected, rtol=1e-6, err_msg=f"{period}")


def test_siloed_reset_restores_the_initial_forecast():
    env = coord_env.parallel_env("tiny")
    policy = SiloedPolicy(env)
    policy.reset(1)
    observations, infos = env.reset(seed=1)
    for _ in range(3):
        observations, _, _, _, infos = env.step(policy.act(observations, infos))
    policy.act(observations, infos)
    assert not np.array_equal(policy.forecast, policy.initial_forecast)
    policy.reset(1)
    np.testing.assert_array_equal(policy.forecast, policy.initial_forecast)


def test_siloed_runs_on_siloed_observations_with_the_same_result():
    partial = coord_env.evaluate("siloed", "tiny", seeds=[3, 4])
    siloed = coord_env.evaluate(
        "siloed", "tiny", seeds=[3, 4], env_options={"observation_mode": "siloed"}
    )
    assert partial["per_seed"] == siloed["per_seed"]


# ---------------------------------------------------------------------------- coordinated


@pytest.mark.parametrize("scenario", ["tiny", "small", "default"])
def test_coordinated_with_ample_stock_shows_the_revenue_maximizing_slates(scenario):
    env = coord_env.parallel_env(scenario)
    s = env.scenario
    policy = CoordinatedPolicy(env)
    policy.reset(0)
    observations, infos = env.reset(seed=0)
    ample = with_on_hand(env, observations["recommender_0"], np.full(s.num_products, 1e5))
    actions = policy.act(dict(observations, recommender_0=ample), infos)
    slates = actions["recommender_0"].reshape(s.num_segments, s.num_slots)
    revenue = np.broadcast_to(s.price, s.utility.shape)
    for k, (_, argmax) in enumerate(brute_force_slates(s, revenue)):
        assert tuple(slates[k].tolist()) in argmax


@pytest.mark.parametrize("scenario", ["tiny", "small", "default"])
def test_coordinated_hides_a_product_with_no_stock(scenario):
    env = coord_env.parallel_env(scenario)
    s = env.scenario
    observations, infos = env.reset(seed=0)
    revenue = np.broadcast_to(s.price, s.utility.shape).copy()
    for product in range(s.num_products):
        policy = CoordinatedPolicy(env)
        policy.reset(0)
        units = np.full(s.num_products, 1e5)
        units[product] = 0.0
        seen = dict(
            observations, recommender_0=with_on_hand(env, observations["recommender_0"], units)
        )
        slates = policy.act(seen, infos)["recommender_0"].reshape(s.num_segments, s.num_slots)
        assert product not in slates, (product, slates)
        discounted = revenue.copy()
        discounted[:, product] = 0.0  # Psi(0) = 0
        for k, (_, argmax) in enumerate(brute_force_slates(s, discounted)):
            assert tuple(slates[k].tolist()) in argmax


def coordinated_first_period(seed):
    """(policy's levels, closed-form levels) on tiny with a(0) != 1, the recommender seeing ample
    stock so that the slates it shows are the ones it plans with: the revenue-maximizing ones."""
    env = coord_env.parallel_env("tiny", season_phase=2.0)
    s = env.scenario
    policy = CoordinatedPolicy(env)
    policy.reset(seed)
    observations, infos = env.reset(seed=seed)
    ample = with_on_hand(env, observations["recommender_0"], np.full(2, 1e5))
    actions = policy.act(dict(observations, recommender_0=ample), infos)
    slates = actions["recommender_0"].reshape(2, 1).tolist()
    revenue = np.broadcast_to(s.price, s.utility.shape)
    assert all(
        tuple(slates[k]) in argmax for k, (_, argmax) in enumerate(brute_force_slates(s, revenue))
    )
    probabilities, _ = hand_choice(s, slates)
    demand = sum(  # over the lead time and the period itself: t = 0, 1 (L = 1)
        s.arrival_rate[k] * season(s, t) * probabilities[k] for t in (0, 1) for k in range(2)
    )
    ratio = (s.price - s.cost + s.lost_sale_penalty) / (
        s.price - s.cost + s.lost_sale_penalty + s.holding_cost
    )
    target = stats.poisson.ppf(ratio, demand)
    levels = np.clip(np.ceil((target - inventory_position(env)) / s.order_step), 0, 40)
    return actions["inventory_0"], levels.astype(np.int64)


def test_coordinated_first_orders_are_within_one_level_of_the_closed_form():
    for seed in range(10):
        levels, expected = coordinated_first_period(seed)
        assert levels.dtype == np.int64
        difference = levels - expected
        assert np.all((difference >= 0) & (difference <= 1)), (seed, levels, expected)


def test_coordinated_first_orders_equal_the_closed_form():
    for seed in range(10):
        levels, expected = coordinated_first_period(seed)
        np.testing.assert_array_equal(levels, expected, err_msg=f"seed {seed}")


def test_coordinated_mid_episode_slates_use_the_estimated_popularity():
    env = coord_env.parallel_env("small")
    s = env.scenario
    policy = CoordinatedPolicy(env)
    policy.reset(5)
    observations, infos = env.reset(seed=5)
    for _ in range(6):
        observations, _, _, _, infos = env.step(policy.act(observations, infos))
    assert not np.allclose(policy.popularity, 1.0)
    popularity = policy.popularity.copy()
    ample = with_on_hand(env, observations["recommender_0"], np.full(s.num_products, 1e5))
    slates = policy.act(dict(observations, recommender_0=ample), infos)["recommender_0"]
    expected, _ = best_slates(
        np.broadcast_to(s.price, s.utility.shape),
        s.base_attraction * popularity,
        s.no_purchase_attraction,
        s.slot_boost,
    )
    np.testing.assert_array_equal(slates.reshape(expected.shape), expected)


def test_coordinated_reset_forgets_the_episode():
    env = coord_env.parallel_env("tiny")
    policy = CoordinatedPolicy(env)
    first = []
    for _ in range(2):
        policy.reset(9)
        observations, infos = env.reset(seed=9)
        actions = []
        while env.agents:
            action = policy.act(observations, infos)
            actions.append({agent: a.tolist() for agent, a in action.items()})
            observations, _, _, _, infos = env.step(action)
        first.append(actions)
    assert first[0] == first[1]


def test_coordinated_needs_the_recommender_to_see_stock():
    env = coord_env.parallel_env("tiny", observation_mode="siloed")
    with pytest.raises(ValueError, match="observation_mode"):
        CoordinatedPolicy(env)


# ---------------------------------------------------------------------------- random and simple


@pytest.mark.parametrize("continuous", [False, True])
def test_random_policy_is_reproducible_and_in_the_spaces(continuous):
    env = coord_env.parallel_env("tiny", continuous_actions=continuous)
    runs = []
    for seed in (3, 3, 4):
        policy = RandomPolicy(env)
        policy.reset(seed)
        observations, infos = env.reset(seed=0)
        actions = []
        while env.agents:
            action = policy.act(observations, infos)
            for agent, a in action.items():
                assert env.action_space(agent).contains(a), (agent, a)
            actions.append(np.concatenate([action[agent].ravel() for agent in env.agents]))
            observations, _, _, _, infos = env.step(action)
        runs.append(np.array(actions))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    # reset(seed) alone re-seeds: the same policy object replays its actions
    policy = RandomPolicy(env)
    policy.reset(3)
    a = policy.act(env.reset(seed=0)[0], {})
    policy.reset(3)
    b = policy.act(env.reset(seed=0)[0], {})
    for agent in a:
        np.testing.assert_array_equal(a[agent], b[agent])


def test_random_policy_covers_the_discrete_levels():
    env = coord_env.parallel_env("tiny")
    policy = RandomPolicy(env)
    policy.reset(0)
    observations, _ = env.reset(seed=0)
    levels = np.array([policy.act(observations, {})["inventory_0"] for _ in range(2000)])
    assert levels.min() == 0
    assert levels.max() == env.scenario.order_levels - 1


def test_mean_demand_policy_closed_form():
    env = coord_env.parallel_env("tiny")
    s = env.scenario
    policy = MeanDemandPolicy(env, cover=1.0)
    observations, infos = env.reset(seed=0)
    actions = policy.act(observations, infos)
    margin = [
        [(s.price[i] - s.cost[i]) * math.exp(s.utility[k, i]) for i in range(2)] for k in (0, 1)
    ]
    np.testing.assert_array_equal(actions["recommender_0"], np.argmax(margin, axis=1))
    target = (1 + 1 + 1.0) * s.demand_scale  # L + 1 + cover periods of mean demand
    expected = np.clip(np.ceil((target - inventory_position(env)) / s.order_step), 0, 40)
    np.testing.assert_array_equal(actions["inventory_0"], expected.astype(np.int64))


@pytest.mark.parametrize("policy_class", [SiloedPolicy, CoordinatedPolicy, MeanDemandPolicy])
@pytest.mark.parametrize(
    ("option", "value"), [("continuous_actions", True), ("inventory_action", "order_up_to")]
)
def test_heuristics_refuse_other_action_interfaces(policy_class, option, value):
    env = coord_env.parallel_env("tiny", **{option: value})
    with pytest.raises(ValueError, match=option):
        policy_class(env)
