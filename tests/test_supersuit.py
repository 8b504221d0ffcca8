"""Composition with SuperSuit and stable-baselines3 in the continuous-action mode (docs/model.md).

SuperSuit notes (docs/model.md, "SuperSuit and stable-baselines3"): padding works only for Box spaces (not
MultiDiscrete), and ``PPO(seed=...)`` fails on SuperSuit's ConcatVecEnv, so the learning test seeds
torch and numpy with SB3's ``set_random_seed`` and the episodes with one seeded reset instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import supersuit as ss

import coord_env

AGENTS = ("inventory_0", "recommender_0")


def box_actions(env, rng):
    return {
        agent: rng.uniform(env.action_space(agent).low, env.action_space(agent).high).astype(
            np.float32
        )
        for agent in env.agents
    }


def test_frame_stack():
    stack = 3
    twin = coord_env.parallel_env("tiny", continuous_actions=True)
    stacked = ss.frame_stack_v1(coord_env.parallel_env("tiny", continuous_actions=True), stack)
    for agent in AGENTS:
        inner = twin.observation_space(agent)
        space = stacked.observation_space(agent)
        assert space.shape == (stack * inner.shape[0],)
        np.testing.assert_array_equal(space.low, np.tile(inner.low, stack))
        np.testing.assert_array_equal(space.high, np.tile(inner.high, stack))

    observations, _ = stacked.reset(seed=4)
    plain, _ = twin.reset(seed=4)
    history = {
        agent: [np.zeros_like(plain[agent])] * (stack - 1) + [plain[agent]] for agent in AGENTS
    }
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        for agent in AGENTS:
            size = twin.observation_space(agent).shape[0]
            assert stacked.observation_space(agent).contains(observations[agent])
            # oldest frame first, newest last
            expected = np.concatenate(history[agent][-stack:])
            np.testing.assert_array_equal(observations[agent], expected)
            np.testing.assert_array_equal(observations[agent][-size:], plain[agent])
        if not twin.agents:
            break
        actions = box_actions(twin, rng)
        observations, rewards, _, truncations, _ = stacked.step(actions)
        plain, plain_rewards, _, plain_truncations, _ = twin.step(actions)
        assert rewards == plain_rewards
        assert truncations == plain_truncations
        for agent in AGENTS:
            history[agent].append(plain[agent])
        steps += 1
    assert steps == twin.scenario.num_ticks
    assert stacked.agents == []


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("tiny", "partial"),
        ("tiny", "siloed"),
        ("tiny", "full"),
        ("default", "partial"),
        ("default", "full"),
        ("multiscale", "siloed"),
        ("capacity", "full"),
    ],
)
def test_normalize_obs(name, mode):
    normalized = ss.normalize_obs_v0(
        coord_env.parallel_env(name, continuous_actions=True, observation_mode=mode)
    )
    twin = coord_env.parallel_env(name, continuous_actions=True, observation_mode=mode)
    with np.errstate(invalid="ignore"):  # a 0/0 in SuperSuit is reported by the assertion below
        observations, _ = normalized.reset(seed=2)
    plain, _ = twin.reset(seed=2)
    rng = np.random.default_rng(1)
    steps = 0
    while True:
        for agent in AGENTS:
            space = twin.observation_space(agent)
            assert np.all(np.isfinite(observations[agent])), f"{agent}: non-finite values"
            assert normalized.observation_space(agent).contains(observations[agent])
            expected = (plain[agent] - space.low) / (space.high - space.low)
            np.testing.assert_allclose(observations[agent], expected, rtol=1e-5, atol=1e-7)
        if not twin.agents or steps == 30:
            break
        actions = box_actions(twin, rng)
        observations, *_ = normalized.step(actions)
        plain, *_ = twin.step(actions)
        steps += 1


def padded_env(name="tiny", clip=False, **options):
    """The recipe for one parameter-shared policy over both agents (``options``: env options)."""
    env = coord_env.parallel_env(name, continuous_actions=True, **options)
    if clip:
        env = ss.clip_actions_v0(env)
    env = ss.pad_observations_v0(env)
    env = ss.pad_action_space_v0(env)
    return ss.agent_indicator_v0(env)


def test_padding_and_agent_indicator():
    env = padded_env()
    twin = coord_env.parallel_env("tiny", continuous_actions=True)
    sizes = {agent: twin.observation_space(agent).shape[0] for agent in AGENTS}
    width = max(sizes.values())
    assert env.observation_space("inventory_0") == env.observation_space("recommender_0")
    assert env.observation_space("inventory_0").shape == (width + len(AGENTS),)
    assert env.action_space("inventory_0") == env.action_space("recommender_0")
    s = twin.scenario
    assert env.action_space("inventory_0").shape == (s.num_segments * s.num_products,)

    observations, _ = env.reset(seed=0)
    plain, _ = twin.reset(seed=0)
    for index, agent in enumerate(AGENTS):
        obs = observations[agent]
        np.testing.assert_array_equal(obs[: sizes[agent]], plain[agent])
        np.testing.assert_array_equal(obs[sizes[agent] : width], 0.0)
        indicator = obs[width:]
        assert np.count_nonzero(indicator) == 1 and indicator[index] > 0


def test_padding_without_clipping_is_refused_clearly():
    # pad_action_space_v0 merges Box(0, 1) (inventory) and Box(-1, 1) (recommender) into Box(-1, 1);
    # a shared policy's negative order fractions are refused, not clipped: the recipe needs
    # supersuit.clip_actions_v0 before padding (docs/model.md, "SuperSuit and stable-baselines3").
    env = padded_env()
    env.reset(seed=0)
    space = env.action_space("inventory_0")
    with pytest.raises(coord_env.InvalidActionError, match=r"inventory_0: .*\[0, 1\], got -1"):
        env.step({agent: space.low.copy() for agent in env.agents})


def vec_env(name="tiny", **options):
    env = ss.pettingzoo_env_to_vec_env_v1(padded_env(name, clip=True, **options))
    return ss.concat_vec_envs_v1(env, num_vec_envs=1, num_cpus=0, base_class="stable_baselines3")


def test_vec_env_steps_through_an_episode():
    venv = vec_env()
    assert venv.num_envs == len(AGENTS)
    observations = venv.reset()
    assert observations.shape == (len(AGENTS), *venv.observation_space.shape)
    horizon = coord_env.load_scenario("tiny").num_ticks
    rng = np.random.default_rng(0)
    low, high = venv.action_space.low, venv.action_space.high
    for step in range(horizon):
        actions = rng.uniform(low, high, size=(len(AGENTS), *low.shape)).astype(np.float32)
        observations, rewards, dones, infos = venv.step(actions)
        assert np.all(np.isfinite(observations))
        assert rewards.shape == (len(AGENTS),)
        last = step == horizon - 1
        assert list(dones) == [last] * len(AGENTS)
        # team reward: both agents get the tick's profit (as float32)
        assert rewards[0] == rewards[1]
        if last:
            # SuperSuit auto-resets and merges the reset infos over the last step's infos, so
            # the last tick's figures (salvage included) are only in the rewards.
            assert "terminal_observation" in infos[0]
        else:
            assert rewards[0] == np.float32(infos[0]["profit"])
    venv.close()


def held_out_profit(model, seeds) -> float:
    """Mean episode profit of ``model``'s deterministic actions on fresh episodes of ``tiny``."""
    env = padded_env(clip=True)
    total = 0.0
    for seed in seeds:
        observations, _ = env.reset(seed=seed)
        while env.agents:
            actions = {
                agent: model.predict(observations[agent], deterministic=True)[0]
                for agent in env.agents
            }
            observations, rewards, *_ = env.step(actions)
            total += float(rewards["inventory_0"])  # the team reward: the tick's profit
    return total / len(seeds)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("learning_rate", "learns"),
    [
        pytest.param(1e-3, True, id="learns"),
        # the control: the same run with nothing learned (in the full suite only)
        pytest.param(0.0, False, id="no-learning", marks=pytest.mark.slow),
    ],
)
def test_ppo_learns_on_tiny(learning_rate, learns):
    """One shared PPO policy over both agents, trained through the SuperSuit recipe for a fixed
    budget, earns more on held-out seeds than the same policy untrained; with a zero learning rate
    it earns exactly the same, so the improvement is the learner's. Seeded: deterministic."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.utils import set_random_seed

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        set_random_seed(0)  # the policy's initial weights and its sampled actions
        venv = vec_env(reward_scale=0.01)
        venv.venv.reset(seed=0)  # the training episodes (later resets continue this generator)
        model = stable_baselines3.PPO(
            "MlpPolicy",
            venv,
            learning_rate=learning_rate,
            n_steps=128,
            batch_size=64,
            n_epochs=10,
            policy_kwargs={"log_std_init": -1.0},
            device="cpu",
            verbose=0,
        )
        held_out = range(1000, 1010)  # not the training seeds
        untrained = held_out_profit(model, held_out)
        model.learn(4096)
        trained = held_out_profit(model, held_out)
    finally:
        torch.set_num_threads(threads)
    assert model.num_timesteps >= 4096
    assert np.isfinite(untrained) and np.isfinite(trained)
    if learns:
        assert trained > untrained + 500, (untrained, trained)
    else:
        assert trained == untrained
    venv.close()
