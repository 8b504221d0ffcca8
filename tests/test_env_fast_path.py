"""The single env's fast path changes nothing a user sees: bits, types, errors, kept arrays.

The reference digests (tests/data/env_fast_path_digests.json) were recorded from the code before
the fast path by tests/data/make_env_fast_path_digests.py, which this test reuses to hash the same
episodes today.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import canonical, random_actions

import coord_env

DATA = Path(__file__).with_name("data")
_spec = importlib.util.spec_from_file_location(
    "make_env_fast_path_digests", DATA / "make_env_fast_path_digests.py"
)
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)
REFERENCE = json.loads(recorder.DIGESTS.read_text())


def test_reference_covers_every_scenario_and_option_combination():
    expected = {
        recorder.combo_key(name, options)
        for name in coord_env.list_scenarios()
        for options in recorder.option_combos()
    }
    assert set(REFERENCE["episodes"]) == expected
    assert len(expected) == len(coord_env.list_scenarios()) * 3 * 2 * 2 * 2


def first_difference(got: dict[str, str], expected: dict[str, str]) -> str:
    """Where two episode summaries part: the first record whose short digests differ."""
    width = REFERENCE["step_hex"]
    steps = [got["steps"][i : i + width] for i in range(0, len(got["steps"]), width)]
    reference = [expected["steps"][i : i + width] for i in range(0, len(expected["steps"]), width)]
    first = next(
        (i for i, (a, b) in enumerate(zip(steps, reference, strict=False)) if a != b),
        min(len(steps), len(reference)),
    )
    return f"first differing record {first} (0 is the reset)"


# every scenario; the long ones (many products, or many ticks per period) only in the full suite
SCENARIOS = [
    pytest.param(name, marks=pytest.mark.slow) if name in ("large", "multiscale") else name
    for name in coord_env.list_scenarios()
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_option_combination_is_bit_identical_to_the_reference(scenario):
    differing = []
    for options in recorder.option_combos():
        key = recorder.combo_key(scenario, options)
        expected = REFERENCE["episodes"][key]
        got = recorder.summary(recorder.episode_digests(scenario, options))
        if got != expected:
            differing.append(f"{key}: {first_difference(got, expected)}")
    assert not differing, "\n".join(differing)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_vector_env_is_bit_identical_to_the_reference(scenario):
    differing = []
    for options in recorder.VECTOR_COMBOS:
        key = recorder.combo_key(scenario, options)
        expected = REFERENCE["vector_episodes"][key]
        got = recorder.summary(recorder.vector_episode_digests(scenario, options))
        if got != expected:
            differing.append(f"{key}: {first_difference(got, expected)}")
    assert not differing, "\n".join(differing)


@pytest.mark.parametrize(("scenario", "options"), recorder.ERROR_COMBOS)
def test_bad_actions_raise_the_same_errors_and_change_nothing(scenario, options):
    key = recorder.combo_key(scenario, {**recorder.option_combos()[0], **options})
    assert recorder.error_messages(scenario, options) == REFERENCE["errors"][key]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"observation_mode": "full"},
        {"observation_mode": "siloed", "continuous_actions": True},
        {"reward_mode": "departmental", "inventory_action": "order_up_to"},
    ],
)
def test_what_a_user_keeps_from_step_t_is_unchanged_after_step_t_plus_1(options):
    env = coord_env.parallel_env("multiscale", **options)
    rng = np.random.default_rng(3)
    kept = [env.reset(seed=5)]
    copies = [canonical(kept[0])]
    states, state_copies = [env.state()], [canonical(env.state())]
    snapshots, snapshot_copies = [env.snapshot()], [canonical(env.snapshot())]
    actions_kept, action_copies = [], []
    for _ in range(2 * env.scenario.ticks_per_period + 1):
        actions = random_actions(env, rng)
        actions_kept.append(actions)
        action_copies.append(canonical(actions))
        kept.append(env.step(actions))
        copies.append(canonical(kept[-1]))
        states.append(env.state())
        state_copies.append(canonical(states[-1]))
        snapshots.append(env.snapshot())
        snapshot_copies.append(canonical(snapshots[-1]))
    observations = kept[-1][0]
    assert not np.shares_memory(observations["inventory_0"], observations["recommender_0"])
    assert not np.shares_memory(observations["inventory_0"], states[-1])
    for _ in range(3):
        env.step(random_actions(env, rng))
    assert [canonical(output) for output in kept] == copies
    assert [canonical(state) for state in states] == state_copies
    assert [canonical(snapshot) for snapshot in snapshots] == snapshot_copies
    assert [canonical(actions) for actions in actions_kept] == action_copies


def test_writing_into_a_kept_observation_does_not_reach_the_env():
    env, twin = coord_env.parallel_env("default"), coord_env.parallel_env("default")
    observations, _ = env.reset(seed=9)
    twin.reset(seed=9)
    rng = np.random.default_rng(0)
    for _ in range(3):
        actions = random_actions(env, rng)
        observations = env.step(actions)[0]
        twin.step(actions)
        for observation in observations.values():
            observation[:] = np.nan
        env.state()[:] = np.nan
    assert canonical(env.state()) == canonical(twin.state())
    actions = random_actions(env, rng)
    assert canonical(env.step(actions)) == canonical(twin.step(actions))


def test_continuous_decoding_matches_numpy_on_ties_signed_zeros_bounds_and_halves():
    codec = coord_env.parallel_env("default", continuous_actions=True).codec
    s = codec.scenario
    N, M, C = s.num_products, s.num_segments, s.num_slots
    rng = np.random.default_rng(0)
    rows = [
        np.zeros(M * N),
        np.tile([0.0, -0.0], M * N // 2),
        np.tile([-0.0, 0.0], M * N // 2),
        rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], M * N),
        np.round(rng.uniform(-1, 1, M * N), 1),  # many ties
        rng.uniform(-1, 1, M * N),
    ]
    # fractions whose units fall exactly on k + 0.5 (rint rounds half to even) and the bounds
    halves = np.array([(k + 0.5) / units for k, units in enumerate(codec.max_level_units)])
    fractions = [np.zeros(N), np.ones(N), np.full(N, 0.5), halves, rng.uniform(0, 1, N)]
    for dtype in (np.float32, np.float64):
        for scores in rows:
            for fraction in fractions:
                actions = {
                    "inventory_0": fraction.astype(dtype),
                    "recommender_0": scores.astype(dtype),
                }
                units, slates = codec.decode(actions, ["inventory_0", "recommender_0"])
                inventory = fraction.astype(dtype).astype(np.float64)
                expected_units = np.rint(inventory * codec.max_level_units).astype(np.int64)
                ordered = np.argsort(
                    -scores.astype(dtype).astype(np.float64).reshape(M, N), axis=-1, kind="stable"
                )
                assert units.tolist() == expected_units.tolist()
                assert slates.tolist() == ordered[:, :C].tolist()
                batch = codec.decode(
                    {agent: np.stack([x, x]) for agent, x in actions.items()},
                    ["inventory_0", "recommender_0"],
                    batch_size=2,
                )
                assert batch[0].tolist() == [units.tolist()] * 2
                assert batch[1].tolist() == [slates.tolist()] * 2


def test_discrete_decoding_matches_numpy_at_the_bounds():
    codec = coord_env.parallel_env("default", inventory_action="order_up_to").codec
    s = codec.scenario
    high_levels, high_product = s.order_levels - 1, s.num_products - 1
    rng = np.random.default_rng(1)
    for levels, products in (
        (np.zeros(s.num_products, np.int64), np.zeros(s.num_segments * s.num_slots, np.int64)),
        (
            np.full(s.num_products, high_levels, np.int64),
            np.full(s.num_segments * s.num_slots, high_product, np.int64),
        ),
        (
            rng.integers(0, high_levels + 1, s.num_products),
            rng.integers(0, high_product + 1, s.num_segments * s.num_slots),
        ),
    ):
        units, slates = codec.decode(
            {"inventory_0": levels, "recommender_0": products}, ["inventory_0", "recommender_0"]
        )
        assert units.tolist() == (levels * codec.level_step).tolist()
        assert slates.tolist() == products.reshape(s.num_segments, s.num_slots).tolist()


@pytest.mark.parametrize("scenario", ["multiscale", "capacity"])
def test_compiled_state_vectors_equal_the_readable_definition(scenario):
    from coord_env.env.layout import raw_state

    envs = coord_env.vector_env(scenario, 5, observation_mode="full")
    envs.reset(seed=4)
    rng = np.random.default_rng(4)
    space = {agent: envs.single_action_space(agent) for agent in envs.possible_agents}
    for _ in range(envs.scenario.num_ticks):
        state = envs.simulator
        expected = envs.state_layout.build(raw_state(envs.scenario, state))
        assert canonical(envs._fill_state_vectors(state, np.empty_like(expected))) == canonical(
            expected
        )
        envs.step(
            {
                agent: np.stack([recorder.random_actions_for(space[agent], rng) for _ in range(5)])
                for agent in envs.possible_agents
            }
        )
    # extreme counts: zero and huge visits, large stock
    state = envs.simulator
    state.period_visits[:] = [0, 1, 7, 10**9, 3]
    state.last_visits[0] = 0
    state.on_hand[1] = 2**40 + 1
    expected = envs.state_layout.build(raw_state(envs.scenario, state))
    assert canonical(envs._fill_state_vectors(state, np.empty_like(expected))) == canonical(
        expected
    )
