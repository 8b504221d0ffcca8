"""The vector env: the single env's trajectories bit for bit, batched, with next-step autoreset."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import canonical, random_actions

import coord_env
from coord_env import InvalidActionError, core

SEED = 11


def single_step_as_batch(result):
    """A single env's step output with every per-agent value wrapped in a batch of one."""
    observations, rewards, terminations, truncations, infos = result
    return (
        {a: o[None] for a, o in observations.items()},
        {a: np.array([r]) for a, r in rewards.items()},
        {a: np.array([t]) for a, t in terminations.items()},
        {a: np.array([t]) for a, t in truncations.items()},
        {a: {k: np.array([v]) for k, v in info.items()} for a, info in infos.items()},
    )


@pytest.mark.parametrize("name", coord_env.list_scenarios())
@pytest.mark.parametrize(
    "options",
    [{}, {"observation_mode": "full", "reward_mode": "departmental", "continuous_actions": True}],
    ids=["default-options", "full-departmental-continuous"],
)
def test_a_batch_of_one_is_the_single_env_bit_for_bit_across_autoreset(name, options):
    # short episodes, so the test crosses an autoreset on every scenario (without the shocks
    # that large schedules beyond three periods)
    options = {**options, "horizon": 3, **({"shocks": []} if name == "large" else {})}
    single = coord_env.parallel_env(name, **options)
    vector = coord_env.vector_env(name, 1, **options)
    rng = np.random.default_rng(0)
    observations, infos = single.reset(seed=SEED)
    assert canonical(vector.reset(seed=SEED)) == canonical(
        (
            {a: o[None] for a, o in observations.items()},
            {a: {k: np.array([v]) for k, v in info.items()} for a, info in infos.items()},
        )
    )
    ticks = vector.scenario.num_ticks
    for step in range(2 * ticks + 2):
        assert canonical(vector.state()) == canonical(single.state()[None]), step
        if not single.agents:  # the single env is reset by hand, the vector env by itself
            observations, infos = single.reset()
            actions = random_actions(vector, rng)  # ignored by the autoreset step
            got = vector.step(actions)
            zeros = np.zeros(1)
            expected = (
                {a: o[None] for a, o in observations.items()},
                {a: zeros for a in single.agents},
                {a: np.zeros(1, bool) for a in single.agents},
                {a: np.zeros(1, bool) for a in single.agents},
                {a: {k: np.array([v]) for k, v in info.items()} for a, info in infos.items()},
            )
            assert canonical(got) == canonical(expected), step
            continue
        actions = random_actions(single, rng)
        expected = single_step_as_batch(single.step(actions))
        got = vector.step({a: x[None] for a, x in actions.items()})
        assert canonical(got) == canonical(expected), step


def test_a_batch_is_the_core_batch_of_one_generator():
    """The stated seeding relation: reset(seed=s) draws the batch from one default_rng(s)."""
    B, s = 5, coord_env.load_scenario("small")
    vector = coord_env.vector_env("small", B)
    vector.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    state = core.reset(s, rng, batch_size=B)
    action_rng = np.random.default_rng(3)
    for _ in range(4):
        actions = random_actions(vector, action_rng)
        units = actions["inventory_0"] * vector.codec.level_step
        slates = actions["recommender_0"].reshape(B, s.num_segments, s.num_slots)
        outcome = core.step(s, state, units, slates, rng)
        _, rewards, _, _, _ = vector.step(actions)
        assert canonical(rewards["inventory_0"]) == canonical(outcome.profit)
        assert canonical(vector.simulator.on_hand) == canonical(state.on_hand)
    # the retailers differ from one another (independent draws, not copies)
    assert len({row.tobytes() for row in vector.state()}) == B


def test_batched_spaces_contain_the_outputs():
    vector = coord_env.vector_env("default", 4, observation_mode="full")
    observations, _ = vector.reset(seed=0)
    assert vector.observation_space("inventory_0").shape[0] == 4
    for agent in vector.agents:
        assert vector.observation_space(agent).contains(observations[agent])
        single = vector.single_observation_space(agent)
        assert vector.observation_space(agent).shape == (4, *single.shape)
        assert vector.action_space(agent).shape == (4, *vector.single_action_space(agent).shape)
    assert vector.state_space.contains(vector.state())
    observations, rewards, terminations, _, infos = vector.step(
        {a: vector.action_space(a).sample() for a in vector.agents}
    )
    assert set(infos["inventory_0"]) == set(coord_env.INFO_KEYS)
    assert all(value.shape == (4,) for value in infos["recommender_0"].values())
    assert rewards["inventory_0"].shape == terminations["inventory_0"].shape == (4,)


def snapshot(vector):
    """The simulator's arrays and the generator's state, bit for bit."""
    arrays = {k: v for k, v in vars(vector.simulator).items() if v is not None}
    return canonical(arrays), vector.np_random.bit_generator.state


@pytest.mark.parametrize(
    "continuous, agent, bad, message",
    [
        (
            False,
            "inventory_0",
            lambda a: a[:2],
            r"inventory_0: order quantity must have shape \(3, ",
        ),
        (
            False,
            "inventory_0",
            lambda a: a.astype(float),
            "inventory_0: order quantity must be integers",
        ),
        (
            False,
            "recommender_0",
            lambda a: np.where(np.arange(3)[:, None] == 2, -1, a),
            r"recommender_0: slate \(product per segment and slot\) must be integers in \[0, \d+\], got -1 at batch index 2",
        ),
        (
            True,
            "inventory_0",
            lambda a: np.where(np.arange(3)[:, None] == 1, 1.5, a).astype(np.float32),
            r"inventory_0: order quantity must lie in \[0, 1\], got 1.5 at batch index 1",
        ),
        (
            True,
            "recommender_0",
            lambda a: np.where(np.arange(3)[:, None] == 2, np.nan, a).astype(np.float32),
            "recommender_0: recommendation scores must be finite floats .* at batch index 2",
        ),
    ],
)
def test_a_bad_action_names_agent_field_and_batch_index_and_changes_nothing(
    continuous, agent, bad, message
):
    vector = coord_env.vector_env("small", 3, continuous_actions=continuous)
    vector.reset(seed=SEED)
    rng = np.random.default_rng(0)
    vector.step(random_actions(vector, rng))
    before = snapshot(vector)
    actions = random_actions(vector, rng)
    with pytest.raises(InvalidActionError, match=message):
        vector.step({**actions, agent: bad(actions[agent])})
    assert snapshot(vector) == before
    twin = coord_env.vector_env("small", 3, continuous_actions=continuous)
    twin.reset(seed=SEED)
    twin.step(random_actions(twin, np.random.default_rng(0)))
    assert canonical(vector.step(actions)) == canonical(twin.step(actions))  # still usable


def test_missing_agent_and_bad_options_are_refused():
    vector = coord_env.vector_env("tiny", 2)
    with pytest.raises(RuntimeError, match="before reset"):
        vector.step({})
    vector.reset(seed=0)
    with pytest.raises(InvalidActionError, match="missing"):
        vector.step({"inventory_0": np.zeros((2, 2), np.int64)})
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num_envs must be a positive integer"):
            coord_env.vector_env("tiny", bad)
    with pytest.raises(ValueError, match="autoreset_mode"):
        coord_env.vector_env("tiny", 2, autoreset_mode="same_step")


def test_disabled_autoreset_refuses_to_step_past_the_end():
    vector = coord_env.vector_env("tiny", 2, autoreset_mode="disabled", horizon=2)
    vector.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(vector.scenario.num_ticks):
        *_, truncations, _ = vector.step(random_actions(vector, rng))
    assert truncations["inventory_0"].all()
    with pytest.raises(RuntimeError, match="after the episodes ended"):
        vector.step(random_actions(vector, rng))
    vector.reset()
    vector.step(random_actions(vector, rng))
