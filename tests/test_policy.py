"""The policy interface and its adapters (coord_env.policy), and third-party policies in evaluate()."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import coord_env
from baselines import SiloedPolicy
from coord_env.harness.evaluate import policy_seed
from coord_env.policy import AgentPolicies, FunctionPolicy, Policy, PredictPolicy, as_policy
from coord_env.registry import builtin_policies

AGENTS = ("inventory_0", "recommender_0")
FAKE_OBSERVATIONS = {"inventory_0": np.array([1.0, 2.0]), "recommender_0": np.array([3.0])}


class SB3StyleModel:
    """Like a stable-baselines3 model: ``predict(obs, state, episode_start, deterministic)``.

    The action is ``action(observation)``, by default 10 times the observation.
    """

    sign = 10.0

    def __init__(self, action=None):
        self.action = action or (lambda observation: self.sign * np.asarray(observation))
        self.calls = []

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.calls.append((np.array(observation), deterministic))
        return self.action(observation), None  # (action, recurrent state)


class PlainPredictModel:
    """A ``predict(obs)`` that returns just the action, by default minus the observation."""

    sign = -1.0

    def __init__(self, action=None):
        self.action = action or (lambda observation: self.sign * np.asarray(observation))
        self.calls = []

    def predict(self, observation):
        self.calls.append(np.array(observation))
        return self.action(observation)


class CallableWithPredict(PlainPredictModel):
    """Callable and with ``predict`` (like a torch policy module): ``predict`` must win."""

    def __call__(self, *args):
        raise AssertionError("the callable path must not be used for a predict model")


class FixedPolicy:
    """A full Policy: constant order levels and slates for the tiny scenario."""

    name = "fixed"

    def __init__(self, env, level=3):
        s = env.scenario
        self.levels = np.full(s.num_products, level, dtype=np.int64)
        self.slates = np.zeros(s.num_segments * s.num_slots, dtype=np.int64)
        self.seeds = []

    def reset(self, seed=None):
        self.seeds.append(seed)

    def act(self, observations, infos):
        return {"inventory_0": self.levels.copy(), "recommender_0": self.slates.copy()}


def constant_actions(observations, infos):
    """A third party's plain function: order 2 levels of everything, show product 1."""
    return {
        "inventory_0": np.full(2, 2, dtype=np.int64),
        "recommender_0": np.ones(2, dtype=np.int64),
    }


def play(env, policy, seed):
    """Sum of team rewards over one episode with ``policy`` (reset with ``seed`` first)."""
    policy.reset(seed)
    observations, infos = env.reset(seed=seed)
    total = 0.0
    while env.agents:
        observations, rewards, _, _, infos = env.step(policy.act(observations, infos))
        total += rewards["inventory_0"]
    return total


# ---------------------------------------------------------------------------- FunctionPolicy


def test_function_policy_calls_function_with_observations_and_infos():
    seen = []

    def my_policy(observations, infos):
        seen.append((observations, infos))
        return {"inventory_0": 7, "recommender_0": 8}

    policy = FunctionPolicy(my_policy)
    infos = {"inventory_0": {"profit": 1.0}}
    assert policy.act(FAKE_OBSERVATIONS, infos) == {"inventory_0": 7, "recommender_0": 8}
    assert len(seen) == 1
    assert seen[0][0] is FAKE_OBSERVATIONS
    assert seen[0][1] is infos
    assert policy.name == "my_policy"
    assert FunctionPolicy(my_policy, name="mine").name == "mine"
    policy.reset(3)  # a no-op that accepts a seed
    assert isinstance(policy, Policy)


# ---------------------------------------------------------------------------- AgentPolicies


def test_agent_policies_route_each_agent_its_own_observation():
    seen = {}

    def inventory(observation):
        seen["inventory_0"] = observation
        return "order"

    def recommender(observation):
        seen["recommender_0"] = observation
        return "slate"

    policy = AgentPolicies({"inventory_0": inventory, "recommender_0": recommender})
    actions = policy.act(FAKE_OBSERVATIONS, {})
    assert actions == {"inventory_0": "order", "recommender_0": "slate"}
    assert seen["inventory_0"] is FAKE_OBSERVATIONS["inventory_0"]
    assert seen["recommender_0"] is FAKE_OBSERVATIONS["recommender_0"]


def test_agent_policies_reset_members_that_have_reset():
    class Member:
        def __init__(self):
            self.seeds = []

        def reset(self, seed=None):
            self.seeds.append(seed)

        def __call__(self, observation):
            return 0

    members = {"inventory_0": Member(), "recommender_0": Member()}
    policy = AgentPolicies(members)
    policy.reset(11)
    assert members["inventory_0"].seeds == [11]
    assert members["recommender_0"].seeds == [11]


def test_sb3_style_predict_gets_deterministic_and_the_state_is_dropped():
    model = SB3StyleModel()
    actions = AgentPolicies({"inventory_0": model, "recommender_0": lambda obs: 5}).act(
        FAKE_OBSERVATIONS, {}
    )
    np.testing.assert_array_equal(actions["inventory_0"], [10.0, 20.0])
    assert actions["recommender_0"] == 5
    assert len(model.calls) == 1
    observation, deterministic = model.calls[0]
    np.testing.assert_array_equal(observation, FAKE_OBSERVATIONS["inventory_0"])
    assert deterministic is True


def test_plain_predict_returning_only_the_action():
    model = PlainPredictModel()
    actions = AgentPolicies({"inventory_0": lambda obs: 1, "recommender_0": model}).act(
        FAKE_OBSERVATIONS, {}
    )
    assert actions["inventory_0"] == 1
    np.testing.assert_array_equal(actions["recommender_0"], [-3.0])
    assert len(model.calls) == 1


@pytest.mark.parametrize("model_class", [SB3StyleModel, PlainPredictModel])
def test_predict_policy_uses_one_model_for_every_agent(model_class):
    model = model_class()
    policy = PredictPolicy(model)
    actions = policy.act(FAKE_OBSERVATIONS, {})
    assert sorted(actions) == sorted(AGENTS)
    for agent in AGENTS:
        np.testing.assert_array_equal(actions[agent], model.sign * FAKE_OBSERVATIONS[agent])
    assert len(model.calls) == 2
    assert policy.name == model_class.__name__
    assert isinstance(policy, Policy)


# ---------------------------------------------------------------------------- as_policy


def test_as_policy_returns_a_policy_unchanged():
    env = coord_env.parallel_env("tiny")
    policy = FixedPolicy(env)
    assert as_policy(policy) is policy
    function_policy = FunctionPolicy(constant_actions)
    assert as_policy(function_policy) is function_policy


def test_as_policy_wraps_a_callable():
    wrapped = as_policy(constant_actions)
    assert isinstance(wrapped, FunctionPolicy)
    assert wrapped.function is constant_actions
    actions = wrapped.act(FAKE_OBSERVATIONS, {})
    np.testing.assert_array_equal(actions["inventory_0"], [2, 2])


def test_as_policy_wraps_a_mapping_of_per_agent_callables():
    wrapped = as_policy({"inventory_0": lambda obs: obs.sum(), "recommender_0": lambda obs: 9})
    assert isinstance(wrapped, AgentPolicies)
    assert wrapped.act(FAKE_OBSERVATIONS, {}) == {"inventory_0": 3.0, "recommender_0": 9}


@pytest.mark.parametrize("model_class", [SB3StyleModel, PlainPredictModel, CallableWithPredict])
def test_as_policy_wraps_a_predict_model(model_class):
    model = model_class()
    wrapped = as_policy(model)
    assert isinstance(wrapped, PredictPolicy)
    assert wrapped.per_agent == {agent: model for agent in AGENTS}
    actions = wrapped.act(FAKE_OBSERVATIONS, {})
    expected = model.sign * FAKE_OBSERVATIONS["recommender_0"]
    np.testing.assert_array_equal(actions["recommender_0"], expected)


def test_as_policy_wraps_a_mapping_of_predict_models():
    sb3, plain = SB3StyleModel(), PlainPredictModel()
    wrapped = as_policy({"inventory_0": sb3, "recommender_0": plain})
    actions = wrapped.act(FAKE_OBSERVATIONS, {})
    np.testing.assert_array_equal(actions["inventory_0"], [10.0, 20.0])
    np.testing.assert_array_equal(actions["recommender_0"], [-3.0])
    assert sb3.calls[0][1] is True


@pytest.mark.parametrize("candidate", [42, 3.5, "siloed", None])
def test_as_policy_rejects_other_objects_naming_the_accepted_forms(candidate):
    with pytest.raises(TypeError) as excinfo:
        as_policy(candidate)
    message = str(excinfo.value)
    assert type(candidate).__name__ in message
    for form in ("act(observations", "reset(seed)", "callable", "dict", "predict("):
        assert form in message


# ---------------------------------------------------------------------------- in the env


@pytest.mark.parametrize("model_class", [SB3StyleModel, PlainPredictModel])
def test_predict_models_drive_a_real_episode(model_class):
    """Fake per-agent models that emit valid actions from the observation they get."""
    env = coord_env.parallel_env("tiny")
    shapes = {agent: env.observation_space(agent).shape for agent in AGENTS}

    def checked(agent, action):
        def act(observation):
            assert observation.shape == shapes[agent]
            return np.array(action, dtype=np.int64)

        return act

    def make(env):
        return {
            "inventory_0": model_class(checked("inventory_0", [3, 3])),
            "recommender_0": model_class(checked("recommender_0", [1, 0])),
        }

    models = make(env)
    total = play(env, as_policy(models), seed=4)
    ticks = env.scenario.num_ticks
    assert len(models["inventory_0"].calls) == len(models["recommender_0"].calls) == ticks
    if model_class is SB3StyleModel:
        assert all(deterministic is True for _, deterministic in models["inventory_0"].calls)
    assert np.isfinite(total)
    results = coord_env.evaluate(make, "tiny", seeds=[4])
    assert results["per_seed"][0]["profit"] == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert env.snapshot()["last_slates"].tolist() == [[1], [0]]


def test_evaluate_a_plain_function_through_a_lambda_factory():
    calls = []

    def my_function(observations, infos):
        calls.append((sorted(observations), sorted(infos)))
        assert set(infos["inventory_0"]) >= set(coord_env.INFO_KEYS)
        return constant_actions(observations, infos)

    results = coord_env.evaluate(lambda env: my_function, "tiny", seeds=[1])
    assert results["seeds"] == [1]
    assert len(results["per_seed"]) == 1
    assert len(calls) == coord_env.load_scenario("tiny").num_ticks
    assert calls[0] == (sorted(AGENTS), sorted(AGENTS))
    env = coord_env.parallel_env("tiny")
    expected = play(env, FunctionPolicy(constant_actions), seed=1)
    assert results["per_seed"][0]["profit"] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert results["profit"]["mean"] == results["per_seed"][0]["profit"]


def test_evaluate_builds_one_policy_per_seed_and_resets_it_with_a_derived_seed():
    made = []

    def factory(env):
        made.append(FixedPolicy(env))
        return made[-1]

    results = coord_env.evaluate(factory, "tiny", seeds=[5, 6])
    assert results["policy"] == "factory"
    # each policy is reset once, with a seed derived from (not equal to) the env's seed
    assert [policy.seeds for policy in made] == [[policy_seed(5)], [policy_seed(6)]]
    assert policy_seed(5) not in (5, 6) and policy_seed(5) != policy_seed(6)


def test_a_policy_class_is_a_factory():
    by_class = coord_env.evaluate(SiloedPolicy, "tiny", seeds=[1, 2])
    by_name = coord_env.evaluate("siloed", "tiny", seeds=[1, 2])
    assert by_class["policy"] == "siloed"  # the class's name attribute
    assert by_class == by_name


MODULE_SOURCE = textwrap.dedent(
    """
    import numpy as np


    class ThirdParty:
        name = "third_party"

        def __init__(self, env, level):
            self.level = level
            self.n = env.scenario.num_products
            self.slots = env.scenario.num_segments * env.scenario.num_slots

        def reset(self, seed=None):
            pass

        def act(self, observations, infos):
            return {
                "inventory_0": np.full(self.n, self.level, dtype=np.int64),
                "recommender_0": np.zeros(self.slots, dtype=np.int64),
            }


    def make_policy(env):
        return ThirdParty(env, level=3)
    """
)


def test_evaluate_module_colon_factory(tmp_path, monkeypatch):
    module = "coord_third_party_policy_for_tests"
    (tmp_path / f"{module}.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    results = coord_env.evaluate(f"{module}:make_policy", "tiny", seeds=[2, 3])
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert results["policy"] == f"{module}:make_policy"
    assert [row["seed"] for row in results["per_seed"]] == [2, 3]
    same = coord_env.evaluate(lambda env: FixedPolicy(env, level=3), "tiny", seeds=[2, 3])
    assert [row["profit"] for row in results["per_seed"]] == [
        row["profit"] for row in same["per_seed"]
    ]


def test_evaluate_module_path_that_does_not_import():
    with pytest.raises(ImportError):
        coord_env.evaluate("coord_no_such_module_xyz:factory", "tiny", seeds=[1])


def test_unknown_builtin_name_lists_the_valid_names():
    with pytest.raises(KeyError) as excinfo:
        coord_env.evaluate("no_such_policy", "tiny", seeds=[1])
    message = str(excinfo.value)
    assert "no_such_policy" in message
    assert set(builtin_policies()) >= {"random", "siloed", "coordinated", "mean_demand"}
    for name in builtin_policies():
        assert name in message
    assert "module:function" in message


def broken_orders(env):
    """A factory whose policy sends three order levels for two products."""

    def act(observations, infos):
        return {
            "inventory_0": np.zeros(3, dtype=np.int64),
            "recommender_0": np.zeros(2, dtype=np.int64),
        }

    return act


def broken_slates(env):
    """A factory whose policy names product 5 of 2 in a slate."""

    def act(observations, infos):
        return {
            "inventory_0": np.zeros(2, dtype=np.int64),
            "recommender_0": np.array([0, 5], dtype=np.int64),
        }

    return act


@pytest.mark.parametrize(
    ("factory", "agent", "field"),
    [
        (broken_orders, "inventory_0", "order quantity"),
        (broken_slates, "recommender_0", "slate"),
    ],
)
def test_invalid_action_names_policy_agent_and_field(factory, agent, field):
    with pytest.raises(coord_env.InvalidActionError) as excinfo:
        coord_env.evaluate(factory, "tiny", seeds=[1])
    message = str(excinfo.value)
    assert factory.__name__ in message
    assert agent in message
    assert field in message
    assert isinstance(excinfo.value, ValueError)
