"""Same scenario, seed and actions give bit-identical episodes, in one process and across processes."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import canonical, random_actions

import coord_env

OBSERVATION_MODES = ("partial", "full", "siloed")
INVENTORY_ACTIONS = ("order_quantity", "order_up_to")
REWARD_MODES = ("team", "departmental")
OPTION_KEYS = ("observation_mode", "continuous_actions", "inventory_action", "reward_mode")

ALL_OPTIONS = [
    dict(zip(OPTION_KEYS, values, strict=True))
    for values in itertools.product(
        OBSERVATION_MODES, (False, True), INVENTORY_ACTIONS, REWARD_MODES
    )
]
# Every value of every option at least once.
COVERING_OPTIONS = [
    dict(zip(OPTION_KEYS, values, strict=True))
    for values in [
        ("partial", False, "order_quantity", "team"),
        ("full", True, "order_up_to", "departmental"),
        ("siloed", True, "order_quantity", "departmental"),
        ("siloed", False, "order_up_to", "team"),
    ]
]


def options_id(options):
    kind = "box" if options["continuous_actions"] else "md"
    return "-".join(
        [options["observation_mode"], kind, options["inventory_action"], options["reward_mode"]]
    )


def episode_records(env, seed, action_seed, max_steps=None):
    """Canonical reset output and step outputs of one episode under seeded random actions."""
    rng = np.random.default_rng(action_seed)
    records = [canonical(env.reset(seed=seed))]
    while env.agents and (max_steps is None or len(records) <= max_steps):
        records.append(canonical(env.step(random_actions(env, rng))))
    return records


def episode_digest(name, seed, options, max_steps=None):
    """SHA-256 of every observation, reward, termination, truncation and info of one episode.

    Also run in a fresh interpreter by ``test_cross_process_determinism``.
    """
    env = coord_env.parallel_env(name, **options)
    digest = hashlib.sha256()
    for record in episode_records(env, seed, action_seed=seed + 1000, max_steps=max_steps):
        digest.update(repr(record).encode())
    return digest.hexdigest()


def assert_lockstep_identical(name, seed, options, max_steps=None):
    first = coord_env.parallel_env(name, **options)
    second = coord_env.parallel_env(name, **options)
    assert canonical(first.reset(seed=seed)) == canonical(second.reset(seed=seed)), "reset"
    rng = np.random.default_rng(seed + 1)
    steps = 0
    while first.agents and (max_steps is None or steps < max_steps):
        actions = random_actions(first, rng)
        outputs = first.step(actions)
        twin_outputs = second.step(actions)
        for label, mine, theirs in zip(
            ("observations", "rewards", "terminations", "truncations", "infos"),
            outputs,
            twin_outputs,
            strict=True,
        ):
            assert canonical(mine) == canonical(theirs), f"{label} differ at step {steps}"
        assert canonical(first.state()) == canonical(second.state()), f"state at step {steps}"
        steps += 1
    assert first.agents == second.agents
    return steps


CASES = (
    [pytest.param("tiny", o, id=f"tiny-{options_id(o)}") for o in ALL_OPTIONS]
    + [pytest.param("default", o, id=f"default-{options_id(o)}") for o in COVERING_OPTIONS]
    + [
        pytest.param("multiscale", o, id=f"multiscale-{options_id(o)}")
        for o in COVERING_OPTIONS[:2]
    ]
)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_same_seed_and_actions_give_identical_episodes(name, options):
    steps = assert_lockstep_identical(name, seed=5, options=options)
    assert steps == coord_env.load_scenario(name).num_ticks


def test_same_seed_and_actions_give_identical_first_steps_on_large():
    assert assert_lockstep_identical("large", seed=5, options={}, max_steps=10) == 10


CROSS_PROCESS_RUNS = [
    ("tiny", 3, {}, None),
    ("default", 4, COVERING_OPTIONS[1], None),
    ("multiscale", 5, COVERING_OPTIONS[2], None),
    ("capacity", 6, COVERING_OPTIONS[3], None),
    ("large", 7, {"continuous_actions": True}, 15),
]

_CHILD = """
import importlib.util, json, pathlib, sys
sys.path.insert(0, str(pathlib.Path(sys.argv[1]).parent))  # for tests/helpers.py
spec = importlib.util.spec_from_file_location("determinism_child", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
runs = json.loads(sys.argv[2])
print(json.dumps([module.episode_digest(*run) for run in runs]))
"""


@pytest.mark.slow
def test_cross_process_determinism():
    child_env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(Path(__file__).resolve()),
            json.dumps(CROSS_PROCESS_RUNS),
        ],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    child_digests = json.loads(completed.stdout.strip().splitlines()[-1])
    here = [episode_digest(*run) for run in CROSS_PROCESS_RUNS]
    assert child_digests == here


@pytest.mark.parametrize("name", ["tiny", "default", "multiscale"])
def test_different_seeds_with_the_same_actions_give_different_episodes(name):
    env = coord_env.parallel_env(name)
    first = episode_records(env, seed=0, action_seed=99)
    second = episode_records(env, seed=1, action_seed=99)
    assert first != second


@pytest.mark.parametrize("options", COVERING_OPTIONS[:2], ids=options_id)
@pytest.mark.parametrize("name", ["tiny", "default", "multiscale"])
def test_reset_with_the_same_seed_replays_the_episode(name, options):
    env = coord_env.parallel_env(name, **options)
    first = episode_records(env, seed=21, action_seed=8)
    replay = episode_records(env, seed=21, action_seed=8)
    assert len(replay) == len(first)
    for step, (a, b) in enumerate(zip(first, replay, strict=True)):
        assert a == b, f"step {step - 1} differs after reset(seed=21)"


def test_reset_mid_episode_with_the_same_seed_replays_the_episode():
    env = coord_env.parallel_env("default")
    full = episode_records(env, seed=13, action_seed=2)
    episode_records(env, seed=13, action_seed=7, max_steps=30)  # abandoned half-way
    assert episode_records(env, seed=13, action_seed=2) == full


def test_unseeded_reset_starts_a_new_episode():
    env = coord_env.parallel_env("default")
    seeded = episode_records(env, seed=13, action_seed=2)
    rng = np.random.default_rng(2)
    unseeded = [canonical(env.reset())]
    while env.agents:
        unseeded.append(canonical(env.step(random_actions(env, rng))))
    assert unseeded != seeded
