"""Observations, state and infos at every step: bounds, dtypes, layouts and info keys (SPEC section 2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gymnasium import spaces
from helpers import random_actions

import coord_env

AGENTS = ("inventory_0", "recommender_0")
OBSERVATION_MODES = ("partial", "full", "siloed")
INVENTORY_ACTIONS = ("order_quantity", "order_up_to")
REWARD_MODES = ("team", "departmental")
FLOAT32_RTOL = float(np.finfo(np.float32).eps)

ALL_OPTIONS = list(
    itertools.product(OBSERVATION_MODES, (False, True), INVENTORY_ACTIONS, REWARD_MODES)
)
# Every value of every option at least once, for the bigger scenarios.
COVERING_OPTIONS = [
    ("partial", False, "order_quantity", "team"),
    ("full", True, "order_up_to", "departmental"),
    ("siloed", True, "order_quantity", "departmental"),
    ("siloed", False, "order_up_to", "team"),
]


def options_id(options):
    mode, continuous, inventory_action, reward_mode = options
    kind = "box" if continuous else "md"
    return f"{mode}-{kind}-{inventory_action}-{reward_mode}"


def extreme_policy(env, rng):
    """Order the most every period and push the same products: drives stock to its upper range."""
    actions = {}
    for agent in env.agents:
        space = env.action_space(agent)
        if isinstance(space, spaces.MultiDiscrete):
            top = space.nvec - 1 if agent == "inventory_0" else np.zeros_like(space.nvec)
            actions[agent] = top
        elif agent == "inventory_0":
            actions[agent] = np.ones(space.shape, dtype=np.float32)
        else:
            s = env.scenario
            scores = np.tile(np.linspace(1.0, -1.0, s.num_products), s.num_segments)
            actions[agent] = scores.astype(np.float32)
    return actions


POLICIES = {"random": random_actions, "extreme": extreme_policy}


def fields_out_of_bounds(layout, observation, space):
    outside = (observation < space.low) | (observation > space.high)
    return [name for name, part in layout.slices.items() if outside[part].any()]


def check_observations(env, observations):
    snapshot = env.snapshot()
    assert set(observations) == set(AGENTS)
    for agent in AGENTS:
        observation = observations[agent]
        space = env.observation_space(agent)
        layout = env.observation_layouts[agent]
        assert isinstance(observation, np.ndarray)
        assert observation.dtype == np.float32
        assert observation.shape == space.shape == (layout.size,)
        assert np.all(np.isfinite(observation))
        assert space.contains(observation), (
            f"{agent} at tick {snapshot['tick']}: fields out of bounds "
            f"{fields_out_of_bounds(layout, observation, space)}"
        )
        raw = layout.unscale(observation)
        if "on_hand" in raw:
            np.testing.assert_allclose(raw["on_hand"], snapshot["on_hand"], rtol=FLOAT32_RTOL)
        if "pipeline" in raw:
            np.testing.assert_allclose(raw["pipeline"], snapshot["pipeline"], rtol=FLOAT32_RTOL)
        # The time feature announces whether the inventory agent acts on the coming tick.
        acts_next = float(snapshot["tick"] % env.scenario.ticks_per_period == 0)
        assert layout.unpack(observation)["time"][-1] == acts_next

    state = env.state()
    assert state.dtype == np.float32
    assert state.shape == env.state_space.shape == (env.state_layout.size,)
    assert env.state_space.contains(state), (
        f"state at tick {snapshot['tick']}: fields out of bounds "
        f"{fields_out_of_bounds(env.state_layout, state, env.state_space)}"
    )
    raw_state = env.state_layout.unscale(state)
    np.testing.assert_allclose(raw_state["on_hand"], snapshot["on_hand"], rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(raw_state["pipeline"], snapshot["pipeline"], rtol=FLOAT32_RTOL)
    if env.observation_mode == "full":
        for agent in AGENTS:
            np.testing.assert_array_equal(observations[agent], state)


def check_infos(infos):
    assert set(infos) == set(AGENTS)
    for agent, info in infos.items():
        assert set(info) == set(coord_env.INFO_KEYS), agent
        wrong = {
            key: type(value).__name__ for key, value in info.items() if type(value) is not float
        }
        assert wrong == {}, f"{agent}: non-float info values {wrong}"


def run_and_check(name, options, policy, max_steps=None, seed=0):
    mode, continuous, inventory_action, reward_mode = options
    env = coord_env.parallel_env(
        name,
        observation_mode=mode,
        continuous_actions=continuous,
        inventory_action=inventory_action,
        reward_mode=reward_mode,
    )
    R = env.scenario.ticks_per_period
    rng = np.random.default_rng(seed)
    observations, infos = env.reset(seed=seed)
    check_observations(env, observations)
    check_infos(infos)
    steps = 0
    while env.agents and (max_steps is None or steps < max_steps):
        tick = env.snapshot()["tick"]
        observations, _, _, _, infos = env.step(POLICIES[policy](env, rng))
        steps += 1
        check_observations(env, observations)
        check_infos(infos)
        assert infos["inventory_0"]["acts"] == float(tick % R == 0), f"tick {tick}"
        assert infos["recommender_0"]["acts"] == 1.0, f"tick {tick}"
    return steps


CASES = (
    [pytest.param("tiny", o, "random", id=f"tiny-{options_id(o)}-random") for o in ALL_OPTIONS]
    + [
        pytest.param("default", o, "random", id=f"default-{options_id(o)}-random")
        for o in ALL_OPTIONS
    ]
    + [
        pytest.param(name, o, policy, id=f"{name}-{options_id(o)}-{policy}")
        for name in ("tiny", "default", "small", "multiscale", "capacity")
        for o in COVERING_OPTIONS
        for policy in (("extreme",) if name in ("tiny", "default") else ("random", "extreme"))
    ]
)


@pytest.mark.parametrize(("name", "options", "policy"), CASES)
def test_full_episode_observations_infos_and_state(name, options, policy):
    env_ticks = coord_env.load_scenario(name).num_ticks
    assert run_and_check(name, options, policy) == env_ticks


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("options", COVERING_OPTIONS[:2], ids=options_id)
def test_large_first_steps(options, policy):
    assert run_and_check("large", options, policy, max_steps=20) == 20


@pytest.mark.parametrize("name", ["tiny", "default", "multiscale"])
def test_layout_fields_per_mode(name):
    partial = coord_env.parallel_env(name, observation_mode="partial").observation_layouts
    assert {"on_hand", "pipeline", "exposure", "time"} <= set(partial["inventory_0"].names)
    assert {"on_hand", "time"} <= set(partial["recommender_0"].names)
    assert "pipeline" not in partial["recommender_0"].names

    siloed = coord_env.parallel_env(name, observation_mode="siloed").observation_layouts
    assert "exposure" not in siloed["inventory_0"].names
    assert "on_hand" in siloed["inventory_0"].names
    assert "on_hand" not in siloed["recommender_0"].names
    assert "pipeline" not in siloed["recommender_0"].names

    full_env = coord_env.parallel_env(name, observation_mode="full")
    for agent in AGENTS:
        assert full_env.observation_layouts[agent].names == full_env.state_layout.names
    assert "drift" in full_env.state_layout.names
    assert "drift" not in partial["inventory_0"].names
    assert "drift" not in partial["recommender_0"].names


@pytest.mark.parametrize("mode", OBSERVATION_MODES)
@pytest.mark.parametrize("name", ["tiny", "default", "multiscale"])
def test_layout_matches_space(name, mode):
    env = coord_env.parallel_env(name, observation_mode=mode)
    layouts = [(env.observation_layouts[a], env.observation_space(a)) for a in AGENTS]
    for layout, space in [*layouts, (env.state_layout, env.state_space)]:
        assert space.shape == (layout.size,)
        np.testing.assert_array_equal(layout.low, space.low)
        np.testing.assert_array_equal(layout.high, space.high)
        # the slices tile the vector in order, without gaps
        stops = [0] + [layout.slices[n].stop for n in layout.names]
        starts = [layout.slices[n].start for n in layout.names]
        assert starts == stops[:-1]
        assert stops[-1] == layout.size
        for f in layout.fields:
            assert layout.slices[f.name].stop - layout.slices[f.name].start == f.size
            assert f.doc


def test_unscale_recovers_raw_units_of_a_hand_made_observation():
    env = coord_env.parallel_env("default")
    layout = env.observation_layouts["inventory_0"]
    scale = layout.scale.astype(np.float32)
    observation = np.arange(layout.size, dtype=np.float32) / scale
    raw = layout.unscale(observation)
    N, L = env.scenario.num_products, env.scenario.max_lead_time
    np.testing.assert_allclose(raw["on_hand"], np.arange(N), rtol=1e-6)
    start = layout.slices["pipeline"].start
    np.testing.assert_allclose(
        raw["pipeline"], np.arange(start, start + N * L).reshape(N, L), rtol=1e-6
    )
