"""Env options for learners (issue 21 item 3): clip_actions, infos, reward_scale, homogeneous.

Every option defaults to the strict, unscaled, full-info env bit for bit; each one behaves the
same in the single and the vector env; bad values are refused naming the option; the harness
refuses or ignores the training-only options when scoring.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from helpers import canonical, random_actions

import coord_env
from coord_env import INFO_KEYS, InvalidActionError
from coord_env.env import MINIMAL_INFO_KEYS, inverse_revenue_per_tick
from coord_env.harness.evaluate import run_episode, scoring_env_options
from coord_env.wrappers import homogeneous

AGENTS = ("inventory_0", "recommender_0")
SEED = 5
DEFAULTS = {
    "continuous_actions": False,
    "clip_actions": False,
    "infos": "full",
    "reward_scale": 1.0,
}


def play(env, actions_for, seed=SEED):
    """Every output of one full episode of a single env, the reset first."""
    outputs = [env.reset(seed=seed)]
    rng = np.random.default_rng(seed)
    while env.agents:
        outputs.append(env.step(actions_for(env, rng)))
    return outputs


def play_vector(envs, actions_for, steps, seed=SEED):
    outputs = [envs.reset(seed=seed)]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        outputs.append(envs.step(actions_for(envs, rng)))
    return outputs


def vector_random_actions(envs, rng):
    return {
        agent: np.stack(
            [random_actions_one(envs.single_action_space(agent), rng) for _ in range(envs.num_envs)]
        )
        for agent in envs.possible_agents
    }


def random_actions_one(space, rng):
    if hasattr(space, "nvec"):
        return rng.integers(0, space.nvec)
    return rng.uniform(space.low, space.high).astype(np.float32)


def wide_actions(env, rng):
    """Box actions of which about half the entries lie outside the agent's bounds."""
    actions = {}
    for agent in env.agents:
        space = env.action_space(agent)
        width = space.high - space.low
        actions[agent] = rng.uniform(space.low - width, space.high + width).astype(np.float32)
    return actions


# ---------------------------------------------------------------------------------- defaults
@pytest.mark.parametrize("scenario", ["small", "multiscale"])
@pytest.mark.parametrize("reward_mode", ["team", "departmental"])
def test_default_valued_options_change_nothing_in_a_full_episode(scenario, reward_mode):
    plain = play(coord_env.parallel_env(scenario, reward_mode=reward_mode), random_actions)
    explicit = play(
        coord_env.parallel_env(scenario, reward_mode=reward_mode, **DEFAULTS), random_actions
    )
    assert canonical(plain) == canonical(explicit)
    for output in explicit:  # the new key is there, 0, and the key order is INFO_KEYS's
        for agent in AGENTS:
            assert list(output[-1][agent]) == list(INFO_KEYS)
            assert output[-1][agent]["clipped_actions"] == 0.0


def test_default_valued_options_change_nothing_in_the_vector_env():
    steps = 2 * 20 + 1  # two tiny episodes and an autoreset
    plain = play_vector(coord_env.vector_env("tiny", 3), vector_random_actions, steps)
    explicit = play_vector(
        coord_env.vector_env("tiny", 3, **DEFAULTS), vector_random_actions, steps
    )
    assert canonical(plain) == canonical(explicit)
    for output in explicit:
        for agent in AGENTS:
            assert list(output[-1][agent]) == list(INFO_KEYS)
            np.testing.assert_array_equal(output[-1][agent]["clipped_actions"], 0.0)


def test_default_env_still_refuses_out_of_range_box_actions():
    env = coord_env.parallel_env("tiny", continuous_actions=True)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"inventory_0: order quantity must lie in"):
        env.step({"inventory_0": np.array([1.5, 0.0]), "recommender_0": np.zeros(4)})


# ---------------------------------------------------------------------------------- clip_actions
def test_clip_actions_needs_continuous_actions():
    for make in (coord_env.parallel_env, coord_env.vector_env):
        with pytest.raises(ValueError, match=r"clip_actions=True needs continuous_actions=True"):
            make("tiny", clip_actions=True)


@pytest.mark.parametrize("value", ["yes", 2, None])
def test_clip_actions_refuses_non_booleans(value):
    with pytest.raises(ValueError, match=r"clip_actions must be one of False, True"):
        coord_env.parallel_env("tiny", continuous_actions=True, clip_actions=value)


@pytest.mark.parametrize("scenario", ["small", "multiscale"])
def test_clipping_equals_clipped_actions_and_counts_every_clipped_entry(scenario):
    clipping = coord_env.parallel_env(scenario, continuous_actions=True, clip_actions=True)
    strict = coord_env.parallel_env(scenario, continuous_actions=True)
    clipping_out, strict_out = clipping.reset(seed=SEED), strict.reset(seed=SEED)
    rng = np.random.default_rng(1)
    total = 0
    while strict.agents:
        actions = wide_actions(strict, rng)
        kept = {agent: action.copy() for agent, action in actions.items()}
        clipped = {
            agent: np.clip(action, strict.action_space(agent).low, strict.action_space(agent).high)
            for agent, action in actions.items()
        }
        clipping_out = clipping.step(actions)
        strict_out = strict.step(clipped)
        for agent in AGENTS:  # the caller's arrays are not modified
            np.testing.assert_array_equal(actions[agent], kept[agent])
        infos = clipping_out[-1]
        for agent in AGENTS:
            space = strict.action_space(agent)
            expected = np.count_nonzero(
                (actions[agent] < space.low) | (actions[agent] > space.high)
            )
            assert infos[agent]["clipped_actions"] == float(expected)
            total += expected
            assert {k: v for k, v in infos[agent].items() if k != "clipped_actions"} == {
                k: v for k, v in strict_out[-1][agent].items() if k != "clipped_actions"
            }
            assert list(infos[agent]) == list(INFO_KEYS)
        assert canonical(clipping_out[:4]) == canonical(strict_out[:4])
    assert total > 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_clipping_does_not_hide_nan_or_inf(bad):
    env = coord_env.parallel_env("tiny", continuous_actions=True, clip_actions=True)
    twin = coord_env.parallel_env("tiny", continuous_actions=True)
    env.reset(seed=SEED)
    twin.reset(seed=SEED)
    for agent, field in (("inventory_0", "order quantity"), ("recommender_0", "scores")):
        actions = {"inventory_0": np.full(2, 2.0), "recommender_0": np.full(4, -3.0)}
        actions[agent] = actions[agent].copy()
        actions[agent][1] = bad
        with pytest.raises(InvalidActionError, match=rf"{agent}: .*{field}.*NaN or inf"):
            env.step(actions)
    # nothing changed: the next valid step matches a twin that never saw the bad actions
    actions = {"inventory_0": np.full(2, 0.5), "recommender_0": np.zeros(4)}
    assert canonical(env.step(actions)[:4]) == canonical(twin.step(actions)[:4])


def test_clipping_still_refuses_wrong_shapes_dtypes_and_keys():
    env = coord_env.parallel_env("tiny", continuous_actions=True, clip_actions=True)
    env.reset(seed=SEED)
    good = {"inventory_0": np.full(2, 2.0), "recommender_0": np.zeros(4)}
    with pytest.raises(InvalidActionError, match=r"inventory_0: .* must have shape \(2,\)"):
        env.step({**good, "inventory_0": np.full(3, 2.0)})
    with pytest.raises(InvalidActionError, match=r"must be floats"):
        env.step({**good, "inventory_0": np.array([2, 0])})
    with pytest.raises(InvalidActionError, match=r"missing \['recommender_0'\]"):
        env.step({"inventory_0": good["inventory_0"]})


def test_vector_env_clips_and_counts_per_retailer():
    B = 5
    envs = coord_env.vector_env("small", B, continuous_actions=True, clip_actions=True)
    envs.reset(seed=SEED)
    rng = np.random.default_rng(2)
    for _ in range(3):
        actions = {}
        for agent in AGENTS:
            space = envs.single_action_space(agent)
            width = space.high - space.low
            actions[agent] = rng.uniform(space.low - width, space.high + width, (B, *space.shape))
        infos = envs.step(actions)[-1]
        for agent in AGENTS:
            space = envs.single_action_space(agent)
            outside = (actions[agent] < space.low) | (actions[agent] > space.high)
            expected = np.count_nonzero(outside, axis=1).astype(np.float64)
            np.testing.assert_array_equal(infos[agent]["clipped_actions"], expected)
    bad = {agent: np.zeros((B, *envs.single_action_space(agent).shape)) for agent in AGENTS}
    bad["recommender_0"][3, 0] = np.nan
    with pytest.raises(InvalidActionError, match=r"NaN or inf at batch index 3"):
        envs.step(bad)


# ---------------------------------------------------------------------------------- infos
def test_minimal_infos_hold_only_their_keys_with_the_full_values():
    full = coord_env.parallel_env("multiscale", continuous_actions=True, clip_actions=True)
    minimal = coord_env.parallel_env(
        "multiscale", continuous_actions=True, clip_actions=True, infos="minimal"
    )
    full_out, minimal_out = play(full, wide_actions), play(minimal, wide_actions)
    assert len(full_out) == len(minimal_out)
    for a, b in zip(full_out, minimal_out, strict=True):
        assert canonical(a[:-1]) == canonical(b[:-1])  # observations, rewards, flags
        for agent in AGENTS:
            assert list(b[-1][agent]) == list(MINIMAL_INFO_KEYS)
            assert b[-1][agent] == {key: a[-1][agent][key] for key in MINIMAL_INFO_KEYS}


def test_minimal_infos_in_the_vector_env():
    envs = coord_env.vector_env("tiny", 4, infos="minimal")
    twin = coord_env.vector_env("tiny", 4)
    steps = 20 + 1  # across the autoreset
    for a, b in zip(
        play_vector(twin, vector_random_actions, steps),
        play_vector(envs, vector_random_actions, steps),
        strict=True,
    ):
        assert canonical(a[:-1]) == canonical(b[:-1])
        for agent in AGENTS:
            assert list(b[-1][agent]) == list(MINIMAL_INFO_KEYS)
            assert canonical(b[-1][agent]) == canonical(
                {key: a[-1][agent][key] for key in MINIMAL_INFO_KEYS}
            )


@pytest.mark.parametrize("value", ["light", "", None, "FULL"])
def test_infos_refuses_unknown_values_listing_the_allowed_ones(value):
    for make in (coord_env.parallel_env, coord_env.vector_env):
        with pytest.raises(ValueError, match=r"infos must be one of 'full', 'minimal'"):
            make("tiny", infos=value)


# ---------------------------------------------------------------------------------- reward_scale
def test_auto_scale_is_the_one_sb3_baselines_train_with():
    from baselines.rl.views import resolve_reward_scale

    for name in coord_env.list_scenarios():
        s = coord_env.load_scenario(name)
        revenue_per_tick = float(np.sum(s.price * s.demand_scale)) / s.ticks_per_period
        assert inverse_revenue_per_tick(s) == 1.0 / revenue_per_tick  # bit for bit
        assert resolve_reward_scale(s, None) == inverse_revenue_per_tick(s)
        assert coord_env.parallel_env(name, reward_scale="auto").reward_scale == (
            inverse_revenue_per_tick(name)
        )


@pytest.mark.parametrize("reward_mode", ["team", "departmental"])
@pytest.mark.parametrize("scale", [0.25, 1e-3, "auto"])
def test_rewards_are_scaled_and_infos_stay_in_money(reward_mode, scale):
    plain = play(coord_env.parallel_env("small", reward_mode=reward_mode), random_actions)
    scaled_env = coord_env.parallel_env("small", reward_mode=reward_mode, reward_scale=scale)
    factor = scaled_env.reward_scale
    scaled = play(scaled_env, random_actions)
    assert factor == (inverse_revenue_per_tick("small") if scale == "auto" else scale)
    for a, b in zip(plain, scaled, strict=True):
        assert canonical(a[0]) == canonical(b[0])  # observations
        assert canonical(a[-1]) == canonical(b[-1])  # infos: money, unscaled
        if len(a) == 5:
            assert b[1] == {agent: a[1][agent] * factor for agent in AGENTS}
    assert scaled_env.episode_profit == sum(out[-1]["inventory_0"]["profit"] for out in plain)


def test_vector_env_scales_rewards_as_the_single_env():
    single = coord_env.parallel_env("tiny", reward_mode="departmental", reward_scale="auto")
    vector = coord_env.vector_env("tiny", 1, reward_mode="departmental", reward_scale="auto")
    single.reset(seed=SEED)
    vector.reset(seed=SEED)
    rng = np.random.default_rng(0)
    while single.agents:
        actions = random_actions(single, rng)
        _, rewards, _, _, infos = single.step(actions)
        _, batch_rewards, _, _, batch_infos = vector.step(
            {agent: action[None] for agent, action in actions.items()}
        )
        for agent in AGENTS:
            assert batch_rewards[agent].tolist() == [rewards[agent]]
            assert batch_infos[agent]["profit"].tolist() == [infos[agent]["profit"]]


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, True, "Auto", None, [1.0]])
def test_reward_scale_refuses_bad_values(value):
    for make in (coord_env.parallel_env, coord_env.vector_env):
        with pytest.raises(ValueError, match=r"reward_scale must be a finite number > 0 or 'auto'"):
            make("tiny", reward_scale=value)


def test_options_survive_pickling_for_vectorizing_libraries():
    env = coord_env.parallel_env(
        "tiny", continuous_actions=True, clip_actions=True, infos="minimal", reward_scale=0.5
    )
    copy = pickle.loads(pickle.dumps(env))
    assert (copy.clip_actions, copy.infos, copy.reward_scale) == (True, "minimal", 0.5)


# ---------------------------------------------------------------------------------- the harness
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"continuous_actions": True, "clip_actions": True}, r"clip_actions=True is for training"),
        ({"infos": "minimal"}, r"infos='minimal' is for training"),
    ],
)
def test_scoring_refuses_training_only_options(options, message):
    with pytest.raises(ValueError, match=message):
        coord_env.evaluate("random", "tiny", seeds=[1], env_options=options)

    def factory(env):
        return coord_env.registry.policy_spec("random")(env)

    factory.env_options_for = lambda scenario: options
    with pytest.raises(ValueError, match=message):
        run_episode(factory, coord_env.load_scenario("tiny"), 1)


def test_scoring_ignores_the_reward_scale():
    plain = coord_env.evaluate("random", "tiny", seeds=[1, 2])
    scaled = coord_env.evaluate("random", "tiny", seeds=[1, 2], env_options={"reward_scale": 9.0})
    assert plain["per_seed"] == scaled["per_seed"]
    assert scoring_env_options({"reward_scale": "auto", "infos": "full"}) == {"infos": "full"}


# ---------------------------------------------------------------------------------- homogeneous
def test_homogeneous_spaces_are_one_shared_padded_box():
    env = coord_env.parallel_env("small", continuous_actions=True)
    wrapped = homogeneous(env)
    s = env.scenario
    obs = [env.observation_space(a).shape[0] for a in AGENTS]
    assert wrapped.observation_space(AGENTS[0]) is wrapped.observation_space(AGENTS[1])
    assert wrapped.action_space(AGENTS[0]) is wrapped.action_space(AGENTS[1])
    assert wrapped.observation_space(AGENTS[0]).shape == (max(obs) + 2,)
    assert wrapped.action_space(AGENTS[0]).shape == (s.num_segments * s.num_products,)
    np.testing.assert_array_equal(wrapped.action_space(AGENTS[0]).low, -1.0)
    observations, infos = wrapped.reset(seed=SEED)
    plain, _ = env.reset(seed=SEED)  # the same env object: reseeded identically
    for index, agent in enumerate(AGENTS):
        size = env.observation_space(agent).shape[0]
        np.testing.assert_array_equal(observations[agent][:size], plain[agent])
        np.testing.assert_array_equal(observations[agent][size:-2], 0.0)
        np.testing.assert_array_equal(observations[agent][-2:], np.eye(2)[index])
        assert infos[agent]["clipped_actions"] == 0.0
    without = homogeneous(coord_env.parallel_env("small", continuous_actions=True), False)
    assert without.observation_space(AGENTS[0]).shape == (max(obs),)


def test_homogeneous_steps_equal_the_env_on_each_agents_clipped_first_entries():
    wrapped = homogeneous(coord_env.parallel_env("multiscale", continuous_actions=True))
    twin = coord_env.parallel_env("multiscale", continuous_actions=True)
    wrapped.reset(seed=SEED)
    twin.reset(seed=SEED)
    rng = np.random.default_rng(3)
    space = wrapped.action_space(AGENTS[0])
    while twin.agents:
        actions = {agent: rng.uniform(-1, 1, space.shape).astype(np.float32) for agent in AGENTS}
        inner = {}
        for agent in AGENTS:
            own = twin.action_space(agent)
            inner[agent] = np.clip(actions[agent][: own.shape[0]], own.low, own.high)
        observations, rewards, terminations, truncations, infos = wrapped.step(actions)
        twin_out = twin.step(inner)
        assert canonical((rewards, terminations, truncations)) == canonical(twin_out[1:4])
        own = twin.action_space("inventory_0").shape[0]
        expected = float(np.count_nonzero(actions["inventory_0"][:own] < 0))
        assert infos["inventory_0"]["clipped_actions"] == expected
        assert infos["recommender_0"]["clipped_actions"] == 0.0
        assert infos["inventory_0"]["profit"] == twin_out[-1]["inventory_0"]["profit"]
        for agent in AGENTS:
            assert wrapped.observation_space(agent).contains(observations[agent])


def test_homogeneous_refuses_discrete_actions_and_bad_actions():
    with pytest.raises(ValueError, match=r"1-D Box.*continuous_actions=True"):
        homogeneous(coord_env.parallel_env("tiny"))
    wrapped = homogeneous(coord_env.parallel_env("tiny", continuous_actions=True))
    wrapped.reset(seed=SEED)
    shape = wrapped.action_space(AGENTS[0]).shape
    with pytest.raises(InvalidActionError, match=r"inventory_0: the homogeneous action must have"):
        wrapped.step({"inventory_0": np.zeros(2), "recommender_0": np.zeros(shape)})
    bad = np.zeros(shape)
    bad[0] = np.nan
    with pytest.raises(InvalidActionError, match=r"NaN or inf"):
        wrapped.step({"inventory_0": bad, "recommender_0": np.zeros(shape)})


def test_homogeneous_passes_the_pettingzoo_parallel_api_test():
    from pettingzoo.test import parallel_api_test

    parallel_api_test(
        homogeneous(coord_env.parallel_env("small", continuous_actions=True)), num_cycles=250
    )


def test_supersuit_vectorizes_the_homogeneous_env():
    ss = pytest.importorskip("supersuit")
    envs = ss.pettingzoo_env_to_vec_env_v1(
        homogeneous(coord_env.parallel_env("tiny", continuous_actions=True, reward_scale="auto"))
    )
    envs = ss.concat_vec_envs_v1(envs, num_vec_envs=2, num_cpus=0, base_class="gymnasium")
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (4, *envs.observation_space.shape)
    rng = np.random.default_rng(0)
    for _ in range(25):  # past the horizon: SuperSuit resets on the last step
        actions = rng.uniform(-1, 1, (4, *envs.action_space.shape)).astype(np.float32)
        observations, rewards, _, _, infos = envs.step(actions)
        assert np.all(np.isfinite(rewards))
        assert all("clipped_actions" in info for info in infos)
