"""Tests of the batched AgileRL adapter (coord_env.adapters.agilerl): the same trajectories, bit for
bit, as the single env (B=1), AgileRL's own make_multi_agent_vect_envs (B=1) and the vector env
(B=7) through the horizon and the autoreset after; bad input; AgileRL's IPPO trainer on it.

Runs only where agilerl is installed (its own venv: docs/adapters.md, AgileRL; .ci/run)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("agilerl")

import torch
from agilerl.algorithms import IPPO
from agilerl.training.train_multi_agent_on_policy import train_multi_agent_on_policy
from agilerl.utils.utils import make_multi_agent_vect_envs
from agilerl.vector.pz_vec_env import PettingZooVecEnv
from test_examples import check_results, load_example

import coord_env
from coord_env import InvalidActionError
from coord_env.adapters.agilerl import RetailAgileRLVecEnv
from coord_env.env.vector import RetailVectorEnv

HORIZON = 6  # short episodes, so that every test crosses two autoresets
STEPS = 2 * HORIZON + 3


def random_actions(env: RetailAgileRLVecEnv, steps: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Valid random batched actions of every agent for ``steps`` steps."""
    rng = np.random.default_rng(seed)
    actions = []
    for _ in range(steps):
        step = {}
        for agent in env.possible_agents:
            space = env.action_space(agent)
            if hasattr(space, "nvec"):
                step[agent] = (rng.random(space.shape) * space.nvec).astype(space.dtype)
            else:
                step[agent] = rng.uniform(space.low, space.high).astype(space.dtype)
        actions.append(step)
    return actions


def assert_same(ours, theirs, what: str) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (what, ours, theirs)
    assert np.array_equal(ours, theirs), what


def assert_same_step(ours: tuple, theirs: tuple, agents: list[str], t: int) -> None:
    """Observations, rewards, flags and every info value equal (``_key`` masks aside)."""
    for index, name in enumerate(("observations", "rewards", "terminations", "truncations")):
        for agent in agents:
            assert_same(ours[index][agent], theirs[index][agent], f"step {t} {name} {agent}")
    for agent in agents:
        keys = [key for key in theirs[4][agent] if not key.startswith("_")]
        assert sorted(ours[4][agent]) == sorted(keys), f"step {t} info keys {agent}"
        for key in keys:
            assert_same(ours[4][agent][key], theirs[4][agent][key], f"step {t} info {agent} {key}")


@pytest.mark.parametrize("continuous_actions", [False, True])
def test_one_retailer_steps_as_the_single_env_with_same_step_autoreset(continuous_actions):
    options = {"horizon": HORIZON, "continuous_actions": continuous_actions}
    env = RetailAgileRLVecEnv("tiny", 1, reward_scale="auto", **options)
    single = coord_env.parallel_env("tiny", reward_scale="auto", **options)
    observations, infos = env.reset(seed=11)
    single_observations, single_infos = single.reset(seed=11)
    for agent in env.possible_agents:
        assert_same(observations[agent], single_observations[agent][None], f"reset {agent}")
        for key, value in single_infos[agent].items():
            assert_same(infos[agent][key], np.array([value]), f"reset info {key}")
    ended = 0
    for t, actions in enumerate(random_actions(env, STEPS, seed=1)):
        ours = env.step(actions)
        step = single.step({agent: action[0] for agent, action in actions.items()})
        observations, rewards, terminations, truncations, infos = step
        if all(truncations.values()):  # AgileRL's workers reset on the step that ends it
            assert env.completed_episode_profit.tolist() == [single.episode_profit]
            observations, infos = single.reset()  # the generator continues
            ended += 1
        theirs = (
            *({a: np.array([v[a]]) for a in v} for v in (observations, rewards)),
            *({a: np.array([v[a]]) for a in v} for v in (terminations, truncations)),
            {a: {k: np.array([x]) for k, x in info.items()} for a, info in infos.items()},
        )
        assert_same_step(ours, theirs, env.possible_agents, t)
    assert ended == 2


def test_one_retailer_equals_agilerls_own_vectorization_bit_for_bit():
    """make_multi_agent_vect_envs(coord_env.parallel_env, 1): same observations, rewards, flags
    and infos (its ``_key`` masks aside) through two autoresets."""
    stock = make_multi_agent_vect_envs(coord_env.parallel_env, 1, scenario="tiny", horizon=HORIZON)
    try:
        env = RetailAgileRLVecEnv("tiny", 1, horizon=HORIZON)
        ours, theirs = env.reset(seed=5), stock.reset(seed=5)
        for agent in env.possible_agents:
            assert_same(ours[0][agent], theirs[0][agent], f"reset {agent}")
            for key, value in ours[1][agent].items():
                assert_same(value, theirs[1][agent][key], f"reset info {agent} {key}")
        for t, actions in enumerate(random_actions(env, STEPS, seed=2)):
            assert_same_step(env.step(actions), stock.step(actions), env.possible_agents, t)
    finally:
        stock.close()


@pytest.mark.parametrize("continuous_actions", [False, True])
def test_seven_retailers_step_as_the_vector_env(continuous_actions):
    options = {"horizon": HORIZON, "continuous_actions": continuous_actions, "infos": "minimal"}
    env = RetailAgileRLVecEnv("tiny", 7, **options)
    vector = RetailVectorEnv("tiny", 7, autoreset_mode="disabled", **options)
    observations, _ = env.reset(seed=3)
    vector_observations, _ = vector.reset(seed=3)
    for agent in env.possible_agents:
        assert_same(observations[agent], vector_observations[agent], f"reset {agent}")
    ended = 0
    for t, actions in enumerate(random_actions(env, STEPS, seed=4)):
        tensors = {agent: torch.as_tensor(action) for agent, action in actions.items()}
        ours = env.step(tensors if t % 2 else actions)  # AgileRL passes arrays or tensors
        observations, rewards, terminations, truncations, infos = vector.step(actions)
        if all(flags.all() for flags in truncations.values()):
            assert_same(env.completed_episode_profit, vector.episode_profit, f"profit {t}")
            observations, infos = vector.reset()  # the generator continues
            ended += 1
        theirs = (observations, rewards, terminations, truncations, infos)
        assert_same_step(ours, theirs, env.possible_agents, t)
    assert ended == 2


def test_step_async_and_step_wait_as_the_base_class_builds_them():
    env = RetailAgileRLVecEnv("tiny", 3, horizon=HORIZON)
    twin = RetailAgileRLVecEnv("tiny", 3, horizon=HORIZON)
    env.reset(seed=0)
    twin.reset(seed=0)
    for t, actions in enumerate(random_actions(env, STEPS, seed=6)):
        per_retailer = [{a: actions[a][i] for a in actions} for i in range(3)]
        env.step_async(per_retailer)
        assert_same_step(env.step_wait(), twin.step(actions), env.possible_agents, t)


def test_bad_input_is_refused_and_the_env_stays_usable():
    with pytest.raises(ValueError, match="autoreset_mode"):
        RetailAgileRLVecEnv("tiny", 2, autoreset_mode="next_step")
    env = RetailAgileRLVecEnv("tiny", 2, horizon=HORIZON)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(random_actions(env, 1, seed=0)[0])
    env.reset(seed=0)
    good = random_actions(env, 1, seed=0)[0]
    bad = dict(good, inventory_0=good["inventory_0"] + 100)  # order levels are 0..40
    with pytest.raises(InvalidActionError, match="inventory_0"):
        env.step(bad)
    with pytest.raises(InvalidActionError, match="inventory_0"):
        env.step(dict(good, inventory_0=good["inventory_0"][:1]))  # one row for two retailers
    with pytest.raises(ValueError, match="one dict per retailer"):
        env.step_async([good])
    with pytest.raises(ValueError, match="missing agents"):
        env.step_async([{"inventory_0": good["inventory_0"][0]}] * 2)
    with pytest.raises(RuntimeError, match="step_async"):
        env.step_wait()
    twin = RetailAgileRLVecEnv("tiny", 2, horizon=HORIZON)
    twin.reset(seed=0)
    assert_same_step(env.step(good), twin.step(good), env.possible_agents, 0)


def test_agilerls_ippo_trainer_runs_on_it_unchanged():
    """train_multi_agent_on_policy takes the adapter as its vectorized env (no PzDummyVecEnv
    wrapping), trains IPPO through autoresets and evaluates it with the agent's own test()."""
    torch.manual_seed(0)
    env = RetailAgileRLVecEnv("tiny", 4, horizon=HORIZON, reward_scale="auto")
    assert isinstance(env, PettingZooVecEnv)
    agents = env.possible_agents
    agent = IPPO(
        [env.single_observation_space(a) for a in agents],
        [env.single_action_space(a) for a in agents],
        agent_ids=agents,
        learn_step=24,
        batch_size=24,
        update_epochs=1,
    )
    before = [p.detach().clone() for p in agent.actors.parameters()]
    population, fitnesses = train_multi_agent_on_policy(
        env, "coord-tiny", "IPPO", [agent], max_steps=48, evo_steps=48, verbose=False
    )
    assert population[0] is agent and len(fitnesses) == 1 and math.isfinite(fitnesses[0])
    assert any(
        not torch.equal(b, p) for b, p in zip(before, agent.actors.parameters(), strict=True)
    )
    assert np.isfinite(env.completed_episode_profit).all()  # episodes ended and reset


def test_example_trains_ippo_and_scores_it_through_the_harness(capsys):
    """examples/agilerl_ippo.py: AgileRL's trainer on the adapter, the trained agent as a plug-in
    through its public get_action, scored on official seeds; the same seed, the same document."""
    module = load_example("agilerl_ippo")
    argv = ["--scenario", "tiny", "--steps", "640", "--num-envs", "8", "--seeds", "2"]
    first = module.main(argv)
    printed = capsys.readouterr().out
    assert "agilerl_ippo on coord/tiny-v0, 2 seeds: profit mean" in printed
    assert f"{first['profit']['mean']:,.1f}" in printed
    check_results(first, "agilerl_ippo")
    again = module.main(argv)
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_example_policy_declares_continuous_actions_to_the_harness():
    module = load_example("agilerl_ippo")
    env = RetailAgileRLVecEnv("tiny", 2, continuous_actions=True)
    agent = module.make_agent(env, learn_step=16, lr=1e-3)
    factory = module.AgileRLPolicyFactory(agent, {"continuous_actions": True})
    # Box actions: scoring under the default MultiDiscrete spaces would raise InvalidActionError
    results = coord_env.evaluate(factory, "tiny", [0], name="agilerl_ippo")
    assert math.isfinite(results["per_seed"][0]["profit"])
    policy = factory(coord_env.parallel_env("tiny", continuous_actions=True))
    single = coord_env.parallel_env("tiny", continuous_actions=True)
    observations, infos = single.reset(seed=0)
    policy.reset(seed=3)
    first = policy.act(observations, infos)
    policy.reset(seed=3)
    second = policy.act(observations, infos)
    assert all(np.array_equal(first[a], second[a]) for a in first)
    for agent_id, action in first.items():
        assert single.action_space(agent_id).contains(action)


def test_maddpg_needs_continuous_actions_and_then_acts_on_the_adapter():
    """docs/adapters.md: AgileRL's MADDPG (and MATD3) refuse MultiDiscrete; with
    continuous_actions=True they build, and their actions step the adapter."""
    from agilerl.algorithms import MADDPG

    def build(env: RetailAgileRLVecEnv) -> MADDPG:
        agents = env.possible_agents
        return MADDPG(
            [env.single_observation_space(a) for a in agents],
            [env.single_action_space(a) for a in agents],
            agent_ids=agents,
        )

    with pytest.raises(AssertionError, match="require Box or Discrete action spaces"):
        build(RetailAgileRLVecEnv("tiny", 2))
    env = RetailAgileRLVecEnv("tiny", 2, continuous_actions=True, horizon=HORIZON)
    maddpg = build(env)
    observations, _ = env.reset(seed=0)
    for _ in range(HORIZON + 1):  # through the autoreset
        actions, _ = maddpg.get_action(observations)
        observations, rewards, *_ = env.step(actions)
        assert all(np.isfinite(value).all() for value in rewards.values())
