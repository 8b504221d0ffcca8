"""The Gymnasium single-agent views: SB3's env checker, rewards and episodes against the parallel env."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from agent_view import AgentView
from stable_baselines3.common.env_checker import check_env

import coord_env
from baselines.heuristics.random_policy import RandomPolicy
from baselines.rl.views import DEPARTMENTS, JointView
from coord_env.env.rewards import inverse_revenue_per_tick
from coord_env.harness.evaluate import policy_seed
from tests.helpers import random_actions

SYMMETRIC_BOX_ADVICE = "symmetric and normalized Box action space"


def checker_warnings(view) -> list[str]:
    """Run SB3's check_env (it raises on any API violation) and return its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(view, warn=True)
    return [str(warning.message) for warning in caught]


@pytest.mark.parametrize("continuous", [False, True])
def test_joint_view_passes_check_env(continuous):
    view = JointView("tiny", continuous_actions=continuous)
    messages = checker_warnings(view)
    # the concatenated Box is [0, 1] for orders then [-1, 1] for scores: SB3 only advises
    expected = [SYMMETRIC_BOX_ADVICE] if continuous else []
    assert [m for m in messages if not any(e in m for e in expected)] == []


@pytest.mark.parametrize("agent", DEPARTMENTS)
@pytest.mark.parametrize("reward_mode", ["team", "departmental"])
def test_agent_view_passes_check_env(agent, reward_mode):
    partner = RandomPolicy(coord_env.parallel_env("tiny"))
    view = AgentView("tiny", agent, partner, reward_mode=reward_mode)
    assert checker_warnings(view) == []
    env = coord_env.parallel_env("tiny")
    assert view.observation_space == env.observation_space(agent)
    assert view.action_space == env.action_space(agent)


@pytest.mark.parametrize("continuous", [False, True])
def test_joint_view_replays_the_parallel_env(continuous):
    view = JointView("tiny", continuous_actions=continuous)
    twin = coord_env.parallel_env("tiny", continuous_actions=continuous)
    observation, info = view.reset(seed=11)
    observations, infos = twin.reset(seed=11)
    np.testing.assert_array_equal(
        observation, np.concatenate([observations["inventory_0"], observations["recommender_0"]])
    )
    assert view.observation_space.contains(observation)
    assert info == infos["inventory_0"]
    rng = np.random.default_rng(0)
    steps = 0
    while twin.agents:
        actions = random_actions(twin, rng)
        joint = np.concatenate([actions["inventory_0"], actions["recommender_0"]])
        assert view.action_space.contains(joint)
        split = view.agent_actions(joint)
        for agent in DEPARTMENTS:
            np.testing.assert_array_equal(split[agent], actions[agent])
        observation, reward, terminated, truncated, info = view.step(joint)
        observations, rewards, terminations, truncations, infos = twin.step(actions)
        steps += 1
        np.testing.assert_array_equal(
            observation[: len(observations["inventory_0"])], observations["inventory_0"]
        )
        np.testing.assert_array_equal(
            observation[len(observations["inventory_0"]) :], observations["recommender_0"]
        )
        assert rewards["inventory_0"] == rewards["recommender_0"] == infos["inventory_0"]["profit"]
        assert reward == rewards["inventory_0"] * view.reward_scale  # the team profit, scaled
        assert info == infos["inventory_0"]
        assert terminated is False and not any(terminations.values())  # the env never terminates
        assert truncated is all(truncations.values()) is (not twin.agents)
    assert steps == twin.scenario.num_ticks  # the horizon, T * R ticks
    with pytest.raises(RuntimeError, match="episode ended"):
        view.step(joint)


@pytest.mark.parametrize("agent", DEPARTMENTS)
@pytest.mark.parametrize("reward_mode", ["departmental", "team"])
def test_agent_view_rewards_match_the_parallel_env(agent, reward_mode):
    partner_agent = DEPARTMENTS[1 - DEPARTMENTS.index(agent)]
    view = AgentView(
        "small",
        agent,
        RandomPolicy(coord_env.parallel_env("small")),
        reward_mode=reward_mode,
        reward_scale=1.0,
    )
    twin = coord_env.parallel_env("small", reward_mode=reward_mode)
    twin_partner = RandomPolicy(twin)
    observation, info = view.reset(seed=5)
    observations, infos = twin.reset(seed=5)
    twin_partner.reset(policy_seed(5))  # the view seeds its partner as the harness does
    np.testing.assert_array_equal(observation, observations[agent])
    rng = np.random.default_rng(1)
    steps = 0
    while twin.agents:
        action = random_actions(twin, rng)[agent]
        partner_action = twin_partner.act(observations, infos)[partner_agent]
        observation, reward, terminated, truncated, info = view.step(action)
        observations, rewards, _, truncations, infos = twin.step(
            {agent: action, partner_agent: partner_action}
        )
        steps += 1
        np.testing.assert_array_equal(observation, observations[agent])
        assert reward == rewards[agent]
        assert info == infos[agent]
        if reward_mode == "departmental":
            money = infos[agent]
            operations = (
                money["salvage"]
                - money["purchase_cost"]
                - money["holding_cost"]
                - money["lost_sale_penalty"]
            )
            assert reward == (operations if agent == "inventory_0" else money["revenue"])
        else:
            assert reward == infos[agent]["profit"]
        assert not terminated
        assert truncated == truncations[agent] == (not twin.agents)
    assert steps == twin.scenario.num_ticks


def test_inverse_revenue_per_tick_makes_a_tick_of_revenue_about_one():
    for name in ("tiny", "default"):
        s = coord_env.load_scenario(name)
        scale = inverse_revenue_per_tick(s)
        expected_revenue_per_tick = float((s.price * s.demand_scale).sum()) / s.ticks_per_period
        assert scale * expected_revenue_per_tick == pytest.approx(1.0)
    view = JointView("default")
    assert view.reward_scale == inverse_revenue_per_tick("default")
    view.reset(seed=0)
    revenues = []
    while view.env.agents:
        _, reward, _, _, info = view.step(view.action_space.sample())
        assert reward == pytest.approx(info["profit"] * view.reward_scale)
        revenues.append(info["revenue"] * view.reward_scale)
    assert 0.2 < np.mean(revenues) < 5.0  # O(1) even under random actions


def test_bad_arguments_name_the_field():
    partner = RandomPolicy(coord_env.parallel_env("tiny"))
    with pytest.raises(ValueError, match=r"agent must be one of 'inventory_0', 'recommender_0'"):
        AgentView("tiny", "warehouse_0", partner)
    with pytest.raises(ValueError, match=r"reward_mode must be one of 'team', 'departmental'"):
        AgentView("tiny", "inventory_0", partner, reward_mode="selfish")
    with pytest.raises(ValueError, match="reward_mode must be 'team' for JointView"):
        JointView("tiny", reward_mode="departmental")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="reward_scale must be a finite number > 0"):
            JointView("tiny", reward_scale=bad)


class OwnObservationModel:
    """A predict() model (like SB3's) that must only ever see the recommender's observation."""

    def __init__(self, space, action):
        self.space, self.action, self.calls = space, action, 0

    def predict(self, observation, deterministic=True):
        assert observation.shape == self.space.shape
        self.calls += 1
        return self.action, None


def test_partner_forms_see_what_they_should():
    env = coord_env.parallel_env("tiny")
    slate = np.array([1, 0])
    model = OwnObservationModel(env.observation_space("recommender_0"), slate)
    view = AgentView("tiny", "inventory_0", model)
    view.reset(seed=0)
    view.step(np.array([1, 1]))
    assert model.calls == 1
    np.testing.assert_array_equal(view.env.snapshot()["last_slates"].ravel(), slate)

    mapping = AgentView("tiny", "inventory_0", {"recommender_0": lambda observation: slate})
    mapping.reset(seed=0)
    mapping.step(np.array([1, 1]))
    np.testing.assert_array_equal(mapping.env.snapshot()["last_slates"].ravel(), slate)

    silent = AgentView("tiny", "inventory_0", lambda observations, infos: {})
    silent.reset(seed=0)
    with pytest.raises(
        ValueError, match="partner must return a dict with an action for 'recommender_0'"
    ):
        silent.step(np.array([1, 1]))


def test_seeded_agent_view_with_a_random_partner_is_deterministic():
    def episode_rewards(view, seed):
        rewards = []
        for episode in range(2):  # the second reset is unseeded: env and partner continue
            view.reset(seed=seed if episode == 0 else None)
            truncated = False
            while not truncated:
                _, reward, _, truncated, _ = view.step(np.array([2, 3]))
                rewards.append(reward)
        return rewards

    def make_view():
        return AgentView("tiny", "inventory_0", RandomPolicy(coord_env.parallel_env("tiny")))

    first = episode_rewards(make_view(), seed=9)
    assert first == episode_rewards(make_view(), seed=9)
    assert first != episode_rewards(make_view(), seed=10)
