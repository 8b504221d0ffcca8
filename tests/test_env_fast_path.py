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


@pytest.mark.parametrize("scenario", coord_env.list_scenarios())
def test_every_option_combination_is_bit_identical_to_the_reference(scenario):
    differing = []
    for options in recorder.option_combos():
        key = recorder.combo_key(scenario, options)
        expected = REFERENCE["episodes"][key]
        got = recorder.summary(recorder.episode_digests(scenario, options))
        if got != expected:
            width = REFERENCE["step_hex"]
            steps = [got["steps"][i : i + width] for i in range(0, len(got["steps"]), width)]
            reference = [
                expected["steps"][i : i + width] for i in range(0, len(expected["steps"]), width)
            ]
            first = next(
                (i for i, (a, b) in enumerate(zip(steps, reference, strict=False)) if a != b),
                min(len(steps), len(reference)),
            )
            differing.append(f"{key}: first differing record {first} (0 is the reset)")
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
