"""Bad input gets a clear error naming the field and the allowed range, and leaves the env usable."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest
from helpers import canonical, random_actions

import coord_env
from coord_env import InvalidActionError, ScenarioError

SEED = 17


def twins(name="tiny", warmup=3, **options):
    """Two envs with the same seed, both stepped ``warmup`` times with the same actions."""
    env, twin = coord_env.parallel_env(name, **options), coord_env.parallel_env(name, **options)
    env.reset(seed=SEED)
    twin.reset(seed=SEED)
    rng = np.random.default_rng(0)
    for _ in range(warmup):
        actions = random_actions(env, rng)
        env.step(actions)
        twin.step(actions)
    return env, twin


def assert_twins_stay_identical(env, twin, max_steps=None):
    """Step both envs with the same good actions (to the end of the episode) and compare."""
    rng = np.random.default_rng(1)
    assert env.agents == twin.agents
    assert canonical(env.state()) == canonical(twin.state())
    steps = 0
    while twin.agents and (max_steps is None or steps < max_steps):
        actions = random_actions(twin, rng)
        assert canonical(env.step(actions)) == canonical(twin.step(actions)), f"step {steps}"
        steps += 1
    assert env.agents == twin.agents


def replace(actions, agent, value):
    return {**actions, agent: value}


def every_agent_good(env):
    """Valid discrete actions for every possible agent (usable outside an episode)."""
    return {
        agent: np.zeros(space.shape, dtype=np.int64) for agent, space in env.action_spaces.items()
    }


def discrete_good(env):
    return {agent: np.zeros(env.action_space(agent).shape, dtype=np.int64) for agent in env.agents}


def continuous_good(env):
    return {
        agent: np.zeros(env.action_space(agent).shape, dtype=np.float32) for agent in env.agents
    }


# tiny: N = 2 products, M = 2 segments, C = 1 slot, G = 41 order levels.
DISCRETE_CASES = {
    "inventory-too-long": (
        lambda good: replace(good, "inventory_0", np.zeros(3, dtype=np.int64)),
        r"inventory_0: order quantity must have shape \(2,\), got \(3,\)",
    ),
    "recommender-2d": (
        lambda good: replace(good, "recommender_0", np.zeros((2, 1), dtype=np.int64)),
        r"recommender_0: slate .* must have shape \(2,\), got \(2, 1\)",
    ),
    "inventory-scalar": (
        lambda good: replace(good, "inventory_0", 3),
        r"inventory_0: order quantity must have shape \(2,\), got \(\)",
    ),
    "inventory-floats": (
        lambda good: replace(good, "inventory_0", np.array([1.0, 2.0])),
        r"inventory_0: order quantity must be integers in \[0, 40\], got dtype float64",
    ),
    "recommender-float-list": (
        lambda good: replace(good, "recommender_0", [0.0, 1.0]),
        r"recommender_0: slate .* must be integers in \[0, 1\], got dtype float64",
    ),
    "inventory-bools": (
        lambda good: replace(good, "inventory_0", np.array([True, False])),
        r"inventory_0: order quantity must be integers in \[0, 40\], got dtype bool",
    ),
    "inventory-negative": (
        lambda good: replace(good, "inventory_0", np.array([3, -1])),
        r"inventory_0: order quantity must be integers in \[0, 40\], got -1",
    ),
    "inventory-negative-int8": (
        lambda good: replace(good, "inventory_0", np.array([-5, 3], dtype=np.int8)),
        r"inventory_0: order quantity must be integers in \[0, 40\], got -5",
    ),
    "inventory-too-high": (
        lambda good: replace(good, "inventory_0", np.array([41, 0])),
        r"inventory_0: order quantity must be integers in \[0, 40\], got 41",
    ),
    "recommender-too-high": (
        lambda good: replace(good, "recommender_0", np.array([0, 2])),
        r"recommender_0: slate .* must be integers in \[0, 1\], got 2",
    ),
    "recommender-negative": (
        lambda good: replace(good, "recommender_0", np.array([-1, 0])),
        r"recommender_0: slate .* must be integers in \[0, 1\], got -1",
    ),
    "recommender-huge-uint64": (
        lambda good: replace(good, "recommender_0", np.array([0, 2**63], dtype=np.uint64)),
        r"recommender_0: slate .* must be integers in \[0, 1\], got 9223372036854775808",
    ),
    "inventory-string": (
        lambda good: replace(good, "inventory_0", np.array(["1", "2"])),
        r"inventory_0: order quantity must be integers in \[0, 40\], got dtype <U1",
    ),
}

CONTINUOUS_CASES = {
    "inventory-ints": (
        lambda good: replace(good, "inventory_0", np.array([0, 1])),
        r"inventory_0: order quantity must be floats in \[0, 1\], got dtype int64",
    ),
    "recommender-wrong-shape": (
        lambda good: replace(good, "recommender_0", np.zeros(2, dtype=np.float32)),
        r"recommender_0: recommendation scores must have shape \(4,\), got \(2,\)",
    ),
    "recommender-slate-shape": (
        lambda good: replace(good, "recommender_0", np.zeros((2, 2), dtype=np.float32)),
        r"recommender_0: recommendation scores must have shape \(4,\), got \(2, 2\)",
    ),
    "inventory-negative": (
        lambda good: replace(good, "inventory_0", np.array([0.5, -0.25], dtype=np.float32)),
        r"inventory_0: order quantity must lie in \[0, 1\], got -0.25",
    ),
    "inventory-too-high": (
        lambda good: replace(good, "inventory_0", np.array([1.5, 0.5])),
        r"inventory_0: order quantity must lie in \[0, 1\], got 1.5",
    ),
    "recommender-too-low": (
        lambda good: replace(good, "recommender_0", np.array([0.0, -1.5, 0.0, 0.0])),
        r"recommender_0: recommendation scores must lie in \[-1, 1\], got -1.5",
    ),
    "inventory-nan": (
        lambda good: replace(good, "inventory_0", np.array([np.nan, 0.5], dtype=np.float32)),
        r"inventory_0: order quantity must be finite",
    ),
    "recommender-nan": (
        lambda good: replace(good, "recommender_0", np.array([0.0, 0.0, np.nan, 0.0])),
        r"recommender_0: recommendation scores must be finite",
    ),
    "inventory-inf": (
        lambda good: replace(good, "inventory_0", np.array([0.5, np.inf])),
        r"inventory_0: order quantity must be finite",
    ),
    "recommender-minus-inf": (
        lambda good: replace(good, "recommender_0", np.array([-np.inf, 0.0, 0.0, 0.0])),
        r"recommender_0: recommendation scores must be finite",
    ),
}

KEY_CASES = {
    "missing-recommender": (
        lambda good: {"inventory_0": good["inventory_0"]},
        r"missing \['recommender_0'\]",
    ),
    "missing-both": (lambda good: {}, r"missing \['inventory_0', 'recommender_0'\]"),
    "unknown-agent": (
        lambda good: {**good, "intruder_0": good["inventory_0"]},
        r"unknown \['intruder_0'\]",
    ),
    "misspelled-agent": (
        lambda good: {"inventory_1": good["inventory_0"], "recommender_0": good["recommender_0"]},
        r"missing \['inventory_0'\], unknown \['inventory_1'\]",
    ),
    "list": (lambda good: list(good.values()), r"actions must be a dict keyed by agent, got list"),
    "tuple": (lambda good: tuple(good.values()), r"must be a dict keyed by agent, got tuple"),
    "none": (lambda good: None, r"must be a dict keyed by agent, got NoneType"),
    "array": (
        lambda good: np.zeros(4, dtype=np.int64),
        r"must be a dict keyed by agent, got ndarray",
    ),
}


def check_rejected_and_still_usable(env, twin, bad_actions, match):
    before = canonical(env.snapshot())
    with pytest.raises(InvalidActionError, match=match) as error:
        env.step(bad_actions)
    assert isinstance(error.value, ValueError)
    assert canonical(env.snapshot()) == before, "a rejected action changed the state"
    assert_twins_stay_identical(env, twin)


@pytest.mark.parametrize("case", list(DISCRETE_CASES))
def test_bad_discrete_action(case):
    make_bad, match = DISCRETE_CASES[case]
    env, twin = twins()
    check_rejected_and_still_usable(env, twin, make_bad(discrete_good(env)), match)


@pytest.mark.parametrize("case", list(CONTINUOUS_CASES))
def test_bad_continuous_action(case):
    make_bad, match = CONTINUOUS_CASES[case]
    env, twin = twins(continuous_actions=True)
    check_rejected_and_still_usable(env, twin, make_bad(continuous_good(env)), match)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("case", list(KEY_CASES))
def test_bad_action_keys(case, continuous):
    make_bad, match = KEY_CASES[case]
    env, twin = twins(continuous_actions=continuous)
    good = continuous_good(env) if continuous else discrete_good(env)
    check_rejected_and_still_usable(env, twin, make_bad(good), match)


def test_bad_action_in_order_up_to_mode():
    env, twin = twins("default", inventory_action="order_up_to")
    bad = replace(discrete_good(env), "inventory_0", np.full(10, 41))
    check_rejected_and_still_usable(
        env, twin, bad, r"inventory_0: target inventory position must be integers in \[0, 40\]"
    )


def test_inventory_action_is_validated_on_ticks_where_it_is_ignored():
    # multiscale: R = 4, so after one step the inventory agent does not act until tick 4
    env, twin = twins("multiscale", warmup=1)
    assert env.snapshot()["tick"] % env.scenario.ticks_per_period != 0
    bad = replace(discrete_good(env), "inventory_0", np.full(10, -1))
    check_rejected_and_still_usable(env, twin, bad, r"inventory_0: .* \[0, 40\], got -1")


def test_bad_action_on_large():
    env, twin = twins("large", warmup=1)
    bad = replace(discrete_good(env), "recommender_0", np.full(20 * 5, 200))
    with pytest.raises(InvalidActionError, match=r"recommender_0: .* \[0, 199\], got 200"):
        env.step(bad)
    assert_twins_stay_identical(env, twin, max_steps=3)


def test_ragged_action_names_the_agent():
    env, twin = twins()
    bad = replace(discrete_good(env), "inventory_0", [1, [1, 2]])
    check_rejected_and_still_usable(env, twin, bad, r"inventory_0: order quantity .*shape \(2,\)")


# ---------------------------------------------------------------------- outside an episode


def test_step_before_reset_raises_and_reset_recovers():
    env, twin = coord_env.parallel_env("tiny"), coord_env.parallel_env("tiny")
    with pytest.raises(RuntimeError, match=r"before reset"):
        env.step(every_agent_good(env))
    for method in (env.state, env.snapshot):
        with pytest.raises(RuntimeError, match=r"before reset"):
            method()
    assert canonical(env.reset(seed=SEED)) == canonical(twin.reset(seed=SEED))
    assert_twins_stay_identical(env, twin)


def test_render_before_reset_raises():
    env = coord_env.parallel_env("tiny", render_mode="ansi")
    with pytest.raises(RuntimeError, match=r"before reset"):
        env.render()


@pytest.mark.parametrize("name", ["tiny", "multiscale"])
def test_step_after_the_end_raises_and_reset_recovers(name):
    env = coord_env.parallel_env(name, horizon=2)
    env.reset(seed=SEED)
    rng = np.random.default_rng(5)
    while env.agents:
        env.step(random_actions(env, rng))
    final_state = canonical(env.state())
    with pytest.raises(RuntimeError, match=r"after the episode ended.*reset"):
        env.step(every_agent_good(env))
    with pytest.raises(RuntimeError, match=r"after the episode ended"):
        env.step({})
    assert canonical(env.state()) == final_state
    twin = coord_env.parallel_env(name, horizon=2)
    assert canonical(env.reset(seed=SEED)) == canonical(twin.reset(seed=SEED))
    assert_twins_stay_identical(env, twin)


# ---------------------------------------------------------------------- scenario parameters

# tiny: N = 2, M = 2, C = 1; cost ~ (12.2, 6.0) and price ~ (19.2, 10.4).
SCENARIO_CASES = {
    "negative-cost": ({"cost": [-1.0, 1.0]}, r"'cost': must be >= 0, got -1"),
    "zero-lead-time": ({"lead_time": [0, 1]}, r"'lead_time': must be >= 1, got 0"),
    "fractional-lead-time": ({"lead_time": [1.5, 1]}, r"'lead_time': must hold integers"),
    "more-slots-than-products": ({"num_slots": 3}, r"'num_slots': must be <= 2, got 3"),
    "no-slots": ({"num_slots": 0}, r"'num_slots': must be >= 1, got 0"),
    "price-below-cost": ({"price": [10.0, 10.4]}, r"'cost': must be < price .*product 0"),
    "price-equal-cost": (
        {"price": [19.153, 5.9998]},
        r"'cost': must be < price .*product 1: cost 5.9998 >= price 5.9998",
    ),
    "negative-price": ({"price": [-1.0, 10.0]}, r"'price': must be > 0, got -1"),
    "nan-price": ({"price": [float("nan"), 10.0]}, r"'price': must be finite"),
    "unknown-parameter": (
        {"colour": "red"},
        r"unknown scenario parameter\(s\) \['colour'\]; valid parameters: .*'horizon'",
    ),
    "utility-wrong-shape": ({"utility": [1.0, 2.0]}, r"'utility': must have shape \(2, 2\)"),
    "utility-too-big": ({"utility": [[0.0, 0.0], [0.0, 99.0]]}, r"'utility': must be <= 50"),
    "substitution-above-one": (
        {"substitution": [1.5, 0.3]},
        r"'substitution': must be <= 1, got 1.5",
    ),
    "negative-substitution": ({"substitution": [0.3, -0.1]}, r"'substitution': must be >= 0"),
    "horizon-zero": ({"horizon": 0}, r"'horizon': must be >= 1, got 0"),
    "horizon-fractional": ({"horizon": 2.5}, r"'horizon': must be an integer"),
    "horizon-bool": ({"horizon": True}, r"'horizon': must be a number"),
    "zero-ticks": ({"ticks_per_period": 0}, r"'ticks_per_period': must be >= 1, got 0"),
    "zero-arrivals": ({"arrival_rate": [0.0, 3.0]}, r"'arrival_rate': must be > 0, got 0"),
    "negative-holding": ({"holding_cost": [0.1, -0.1]}, r"'holding_cost': must be >= 0"),
    "negative-responsiveness": ({"responsiveness": [-1.0, 1.0]}, r"'responsiveness': must be >= 0"),
    "zero-capacity": ({"warehouse_capacity": 0}, r"'warehouse_capacity': must be > 0, got 0"),
    "salvage-above-cost": ({"salvage_value": [20.0, 1.0]}, r"'salvage_value': must be <= cost"),
    "one-order-level": ({"order_levels": 1}, r"'order_levels': must be >= 2, got 1"),
    "unit-root-drift": ({"drift_rho": 1.0}, r"'drift_rho': must be <= 0.999"),
    "lead-time-pmf-not-summing-to-one": (
        {"lead_time_pmf": [[0.5, 0.6], [1.0, 0.0]]},
        r"'lead_time_pmf': each row must sum to 1",
    ),
    "shock-after-horizon": (
        {"shocks": [{"period": 99, "target": "product", "index": 0, "multiplier": 2.0}]},
        r"'shocks\[0\].period': must be <= 19, got 99",
    ),
    "shock-unknown-product": (
        {"shocks": [{"period": 1, "target": "product", "index": 2, "multiplier": 2.0}]},
        r"'shocks\[0\].index': must be <= 1, got 2",
    ),
    # Bounded overrides (issue 19): the error names the field, the value and the whole range.
    "horizon-beyond-range": (
        {"horizon": 20_000},
        r"'horizon': must be <= 10000, got 20000 \(allowed: 1 <= horizon <= 10000\)",
    ),
    "lead-time-beyond-range": (
        {"lead_time": [53, 1]},
        r"'lead_time': must be <= 52, got 53 \(allowed: 1 <= lead_time <= 52\)",
    ),
    "arrival-rate-beyond-range": (
        {"arrival_rate": [1e7, 3.0]},
        r"'arrival_rate': must be <= 1e\+06, got 1e\+07 \(allowed: 0 < arrival_rate <= 1e\+06\)",
    ),
    "peak-arrivals-beyond-range": (
        {"arrival_rate": [1e6, 1e6]},
        r"'arrival_rate': the peak expected customers per tick.* is 2\.57\d*e\+06 "
        r"\(allowed: at most 1e\+06",
    ),
    "price-beyond-range": (
        {"price": [1e7, 10.4]},
        r"'price': must be <= 1e\+06, got 1e\+07 \(allowed: 0 < price <= 1e\+06\)",
    ),
    "ticks-beyond-range": (
        {"ticks_per_period": 101},
        r"'ticks_per_period': must be <= 100, got 101 \(allowed: 1 <= ticks_per_period <= 100\)",
    ),
    "season-phase-beyond-range": (
        {"season_phase": 1e300},
        r"'season_phase': must be <= 10000, got 1e\+300 \(allowed: -10000 <= season_phase",
    ),
    "too-many-products": (
        {"price": [10.0] * 1001},
        r"'price': lists 1001 products; at most 1,000",
    ),
    "stacked-shocks-overflow": (
        {"shocks": [{"period": 1, "target": "segment", "index": 0, "multiplier": 100.0}] * 4},
        r"'shocks': overlapping shocks multiply to 1e\+08 .*allowed: 1e-06 <= product",
    ),
    "tiny-shock-multiplier": (
        {"shocks": [{"period": 1, "target": "segment", "index": 0, "multiplier": 1e-300}]},
        r"'shocks\[0\].multiplier': must be >= 0.01, got 1e-300 \(allowed: 0.01 <= ",
    ),
    "empty-name": ({"name": ""}, r"'name': must be a non-empty string"),
}


@pytest.mark.parametrize("case", list(SCENARIO_CASES))
def test_invalid_scenario_parameter(case):
    overrides, match = SCENARIO_CASES[case]
    with pytest.raises(ScenarioError, match=match) as error:
        coord_env.parallel_env("tiny", **overrides)
    assert isinstance(error.value, ValueError)
    with pytest.raises(ScenarioError, match=match):
        coord_env.env("tiny", **overrides)
    if hasattr(pettingzoo, "make"):  # PettingZoo's registry needs >= 1.27 (AgileRL pins < 1.27)
        with pytest.raises(ScenarioError, match=match):
            pettingzoo.make("parallel", "coord/tiny-v0", **overrides)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"horizon": 1e9}, "horizon"),
        ({"lead_time": [1e9, 1e9]}, "lead_time"),
        ({"lead_time_pmf": [[0.0] * 999 + [1.0]] * 2}, "lead_time_pmf"),
        ({"arrival_rate": [1e12, 1e12]}, "arrival_rate"),
        ({"name": ""}, "name"),
    ],
)
def test_huge_or_empty_overrides_fail_fast_naming_the_field(overrides, field):
    """No MemoryError, no NaN and no TypeError: a ScenarioError naming the field, at load time."""
    with pytest.raises(ScenarioError, match=f"scenario parameter '{field}'"):
        coord_env.load_scenario("tiny", **overrides)


def test_valid_overrides_still_work_after_rejected_ones():
    with pytest.raises(ScenarioError):
        coord_env.parallel_env("tiny", horizon=0)
    env = coord_env.parallel_env("tiny", horizon=4)
    assert env.scenario.horizon == 4
    assert coord_env.parallel_env("tiny").scenario.horizon == 20  # the catalog is untouched


def test_unknown_scenario_lists_the_valid_names():
    names = ", ".join(coord_env.list_scenarios())
    with pytest.raises(KeyError, match=rf"unknown scenario 'tiny2'.*{names}"):
        coord_env.parallel_env("tiny2")
    with pytest.raises(KeyError, match=r"valid scenarios: .*default"):
        coord_env.env("nope")


# ---------------------------------------------------------------------- options

OPTION_CASES = {
    "observation_mode": r"observation_mode must be one of 'partial', 'full', 'siloed'; got 'x'",
    "reward_mode": r"reward_mode must be one of 'team', 'departmental'; got 'x'",
    "inventory_action": r"inventory_action must be one of .*'order_quantity', 'order_up_to'.*'x'",
    "render_mode": r"render_mode must be one of 'ansi', 'rgb_array'; got 'x'",
}


@pytest.mark.parametrize("option", list(OPTION_CASES))
def test_bad_option_value(option):
    with pytest.raises(ValueError, match=OPTION_CASES[option]):
        coord_env.parallel_env("tiny", **{option: "x"})


def test_human_render_mode_is_rejected():
    with pytest.raises(ValueError, match=r"render_mode must be one of 'ansi', 'rgb_array'"):
        coord_env.parallel_env("tiny", render_mode="human")
