"""PettingZoo's own API checks on every scenario, plus the interface promises of SPEC section 2."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.test.state_test import state_test
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import coord_env
from coord_env import retail_v0

SCENARIOS = coord_env.list_scenarios()
# PettingZoo's registry (pettingzoo.make / register) came with 1.27; AgileRL pins pettingzoo<1.27,
# and there coord_env.register_scenarios is a no-op (docs/adapters.md, AgileRL).
needs_registry = pytest.mark.skipif(
    not hasattr(pettingzoo, "make"),
    reason=f"PettingZoo {pettingzoo.__version__} has no registry (pettingzoo.make needs >= 1.27)",
)
AGENTS = ["inventory_0", "recommender_0"]

# PettingZoo warnings that are expected for two heterogeneous agents with MultiDiscrete actions.
BENIGN_WARNINGS = (
    "Action space for each agent probably should be gymnasium.spaces.box or gymnasium.spaces.discrete",
    "Agents have different observation space sizes",
    "Observations are different shapes",
    # tiny has no popularity drift, so the drift entries of its state (and of full observations)
    # are the constant 0 (see test_supersuit.py::test_normalize_obs for the consequence).
    "Environment's maximum and minimum state space values are equal",
    "Agent's maximum and minimum observation space values are equal",
)


def num_cycles(name: str) -> int:
    """Enough cycles for a whole episode (so the end is checked), except on the big `large`."""
    if name == "large":
        return 8
    return coord_env.load_scenario(name).num_ticks + 1


def unexpected(records: list[warnings.WarningMessage]) -> list[str]:
    messages = {str(record.message) for record in records}
    return sorted(m for m in messages if not m.startswith(BENIGN_WARNINGS))


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_pettingzoo_checks(name, continuous):
    cycles = num_cycles(name)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        parallel_api_test(coord_env.parallel_env(name, continuous_actions=continuous), cycles)
        api_test(coord_env.env(name, continuous_actions=continuous), num_cycles=cycles)
        seed_test(lambda: coord_env.env(name, continuous_actions=continuous), num_cycles=cycles)
        parallel_seed_test(
            lambda: coord_env.parallel_env(name, continuous_actions=continuous), num_cycles=cycles
        )
        state_test(
            coord_env.env(name, continuous_actions=continuous),
            coord_env.parallel_env(name, continuous_actions=continuous),
            num_cycles=cycles,
        )
    assert unexpected(records) == []


@pytest.mark.parametrize("reward_mode", ["team", "departmental"])
@pytest.mark.parametrize("observation_mode", ["partial", "full", "siloed"])
def test_pettingzoo_checks_every_option_on_tiny(observation_mode, reward_mode):
    options = {"observation_mode": observation_mode, "reward_mode": reward_mode}
    cycles = num_cycles("tiny")
    for inventory_action in ("order_quantity", "order_up_to"):
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            parallel_api_test(
                coord_env.parallel_env("tiny", inventory_action=inventory_action, **options),
                cycles,
            )
            api_test(
                coord_env.env("tiny", inventory_action=inventory_action, **options),
                num_cycles=cycles,
            )
        assert unexpected(records) == []


@needs_registry
@pytest.mark.parametrize("name", SCENARIOS)
def test_registered_ids(name):
    env_id = f"coord/{name}-v0"
    assert coord_env.load_scenario(name).env_id == env_id
    expected_hash = coord_env.load_scenario(name).content_hash

    parallel = pettingzoo.make("parallel", env_id)
    assert isinstance(parallel, coord_env.RetailParallelEnv)
    assert parallel.scenario.content_hash == expected_hash
    observations, _ = parallel.reset(seed=0)
    assert set(observations) == set(AGENTS)
    parallel.step({agent: parallel.action_space(agent).sample() for agent in parallel.agents})

    aec = pettingzoo.make("aec", env_id)
    assert isinstance(aec, pettingzoo.AECEnv)
    assert isinstance(aec.unwrapped, coord_env.RetailParallelEnv)
    assert aec.unwrapped.scenario.content_hash == expected_hash
    aec.reset(seed=0)
    for agent in aec.agent_iter(len(AGENTS)):
        aec.step(aec.action_space(agent).sample())


@needs_registry
def test_registered_id_passes_options_and_overrides():
    env = pettingzoo.make("parallel", "coord/tiny-v0", observation_mode="full", horizon=3)
    assert env.observation_mode == "full"
    env.reset(seed=0)
    steps = 0
    while env.agents:
        env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        steps += 1
    assert steps == 3


def test_versioned_module_trio():
    assert coord_env.env is retail_v0.env
    assert coord_env.raw_env is retail_v0.raw_env
    assert coord_env.parallel_env is retail_v0.parallel_env

    parallel = retail_v0.parallel_env("tiny")
    assert isinstance(parallel, pettingzoo.ParallelEnv)

    raw = retail_v0.raw_env("tiny")
    assert isinstance(raw, parallel_to_aec_wrapper)
    assert isinstance(raw, pettingzoo.AECEnv)

    aec = retail_v0.env("tiny")
    assert isinstance(aec, OrderEnforcingWrapper)
    assert isinstance(aec.unwrapped, coord_env.RetailParallelEnv)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", ["tiny", "default", "multiscale"])
def test_spaces_are_stored_objects(name, continuous):
    env = coord_env.parallel_env(name, continuous_actions=continuous)
    aec = coord_env.env(name, continuous_actions=continuous)
    assert env.possible_agents == AGENTS
    assert set(env.observation_spaces) == set(env.action_spaces) == set(AGENTS)

    def check():
        for agent in AGENTS:
            assert env.observation_space(agent) is env.observation_space(agent)
            assert env.observation_space(agent) is env.observation_spaces[agent]
            assert env.action_space(agent) is env.action_space(agent)
            assert env.action_space(agent) is env.action_spaces[agent]
            assert aec.observation_space(agent) is aec.observation_space(agent)
            assert aec.action_space(agent) is aec.action_space(agent)

    check()
    env.reset(seed=0)
    aec.reset(seed=0)
    check()
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})
    check()


@pytest.mark.parametrize("name", SCENARIOS)
def test_state_space_contains_state(name):
    env = coord_env.parallel_env(name)
    env.reset(seed=1)
    steps = 0
    while env.agents and steps < 5:
        state = env.state()
        assert state.dtype == np.float32
        assert env.state_space.contains(state)
        env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        steps += 1
    assert env.state_space.contains(env.state())
    assert np.all(np.isfinite(env.state_space.low)) and np.all(np.isfinite(env.state_space.high))


def test_metadata():
    env = coord_env.parallel_env("tiny")
    assert set(env.metadata["render_modes"]) == {"ansi", "rgb_array"}
    assert env.metadata["is_parallelizable"] is True
    assert env.render_mode is None
    env.reset(seed=0)
    assert env.render() is None


def test_render_ansi():
    env = coord_env.parallel_env("tiny", render_mode="ansi")
    env.reset(seed=0)
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})
    frame = env.render()
    assert isinstance(frame, str)
    # a header, a column line and one row per product
    assert len(frame.splitlines()) == 2 + env.scenario.num_products


def test_render_rgb_array():
    env = coord_env.parallel_env("tiny", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3


def test_pickle_roundtrip_rebuilds_the_same_env():
    options = {"observation_mode": "full", "continuous_actions": True, "horizon": 7}
    env = coord_env.parallel_env("tiny", **options)
    env.reset(seed=3)
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})

    clone = pickle.loads(pickle.dumps(env))
    assert isinstance(clone, coord_env.RetailParallelEnv)
    assert clone.scenario.content_hash == env.scenario.content_hash
    assert clone.scenario.horizon == 7
    assert clone.observation_mode == "full"
    assert clone.continuous_actions is True
    for agent in AGENTS:
        assert clone.observation_space(agent) == env.observation_space(agent)
        assert clone.action_space(agent) == env.action_space(agent)

    # the clone is rebuilt from the constructor arguments and runs the same episodes
    first, _ = env.reset(seed=11)
    second, _ = clone.reset(seed=11)
    rng = np.random.default_rng(0)
    while env.agents:
        for agent in AGENTS:
            np.testing.assert_array_equal(first[agent], second[agent])
        actions = {
            agent: rng.uniform(space.low, space.high).astype(np.float32)
            for agent, space in env.action_spaces.items()
        }
        first, rewards, *_ = env.step(actions)
        second, clone_rewards, *_ = clone.step(actions)
        assert rewards == clone_rewards
    assert clone.agents == []


def test_aec_env_pickles():
    clone = pickle.loads(pickle.dumps(coord_env.env("tiny")))
    clone.reset(seed=0)
    assert clone.agents == AGENTS


@pytest.mark.parametrize("name", SCENARIOS)
def test_episode_end_truncates_everyone_together(name):
    env = coord_env.parallel_env(name)
    scenario = env.scenario
    env.reset(seed=0)
    steps = 0
    while env.agents:
        assert env.agents == AGENTS
        _, rewards, terminations, truncations, infos = env.step(
            {agent: env.action_space(agent).sample() for agent in env.agents}
        )
        steps += 1
        assert set(rewards) == set(terminations) == set(truncations) == set(infos) == set(AGENTS)
        assert not any(terminations.values())
        last = steps == scenario.horizon * scenario.ticks_per_period
        assert list(truncations.values()) == [last, last]
        if not last:
            assert env.agents == AGENTS
    assert steps == scenario.horizon * scenario.ticks_per_period
    assert env.agents == []


def test_aec_episode_length_matches_ticks():
    scenario = coord_env.load_scenario("multiscale", horizon=3)
    aec = coord_env.env("multiscale", horizon=3)
    aec.reset(seed=0)
    actions = 0
    for agent in aec.agent_iter():
        _, _, terminated, truncated, _ = aec.last()
        assert not terminated
        aec.step(None if truncated else aec.action_space(agent).sample())
        actions += 0 if truncated else 1
    assert actions == len(AGENTS) * scenario.num_ticks
    assert aec.agents == []
