"""Policies never touch the scored env; isolated evaluation (coord_env.harness.isolation)."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import PLUGIN_SOURCE

import coord_env
from coord_env import registry
from coord_env.cli import main
from coord_env.harness.evaluate import policy_supports
from coord_env.harness.isolation import (
    IsolatedPolicyError,
    IsolationLimits,
    PrivilegedView,
    check_policy_env_options,
    decode_frame,
    encode_frame,
    public_env,
)
from coord_env.leaderboard import make_submission, validate_submission
from coord_env.leaderboard.submit import submission_text
from coord_env.leaderboard.validate import SubmissionError
from coord_env.leaderboard.verify import verify_submission

AGENTS = ("inventory_0", "recommender_0")
# Small limits keep each attack test to seconds; the child imports coord_env in about a second.
FAST = IsolationLimits(memory_bytes=2**30, step_seconds=2.0, episode_seconds=60.0)


def per_seed(policy, scenario="tiny", seeds=(1, 2), **kwargs):
    return coord_env.evaluate(policy, scenario, seeds=list(seeds), **kwargs)["per_seed"]


# ----------------------------------------------------------------------------- the scored env
@pytest.mark.parametrize("attack", ["rewrite_scenario", "rewrite_prices_in_place"])
@pytest.mark.parametrize("isolate", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_factory_that_rewrites_its_env_earns_only_what_its_actions_earn(attack, isolate):
    scenario = coord_env.load_scenario("tiny").replace()  # a private object: attacks stay here
    kwargs = {"isolate": True, "limits": FAST} if isolate else {}
    honest = per_seed("isolation_policies:honest", scenario, **kwargs)
    cheat = per_seed(f"isolation_policies:{attack}", scenario, **kwargs)
    assert cheat == honest
    assert float(scenario.price.max()) < 50  # the harness's own scenario is untouched


def test_the_factory_never_receives_the_scored_env():
    scenario = coord_env.load_scenario("tiny")
    seen = []

    def factory(env):
        seen.append(env)
        return lambda observations, infos: {
            "inventory_0": np.zeros(2, np.int64),
            "recommender_0": np.zeros(2, np.int64),
        }

    coord_env.evaluate(factory, scenario, seeds=[1])
    (env,) = seen
    assert env.scenario is not scenario
    assert env.scenario.content_hash == scenario.content_hash
    assert env._state is None  # never reset: the harness scored another env
    assert not env.scenario.price.flags.writeable


@pytest.mark.slow
def test_a_policy_may_choose_how_it_acts_but_not_the_scenario():
    with pytest.raises(ValueError, match="'horizon' is not an option a policy may set"):
        coord_env.evaluate("isolation_policies:options_override", "tiny", seeds=[1])
    with pytest.raises(IsolatedPolicyError, match="'horizon' is not an option"):
        coord_env.evaluate("isolation_policies:options_override", "tiny", [1], limits=FAST)
    assert check_policy_env_options({"continuous_actions": True}) == {"continuous_actions": True}
    with pytest.raises(ValueError, match="continuous_actions must be a bool"):
        check_policy_env_options({"continuous_actions": "yes"})


def test_the_callers_env_options_may_not_override_the_scenario_either():
    with pytest.raises(ValueError, match=r"may not override scenario parameters \(got horizon\)"):
        coord_env.evaluate("siloed", "tiny", seeds=[1], env_options={"horizon": 2})


def test_the_privileged_view_is_read_only():
    scenario = coord_env.load_scenario("tiny")
    scored = coord_env.parallel_env(scenario)
    scored.reset(seed=3)
    view = PrivilegedView(public_env(scenario, None), scored.snapshot, lambda: scored.agents)
    snapshot = view.snapshot()
    snapshot["on_hand"][:] = 10**6
    assert (scored.snapshot()["on_hand"] < 10**6).all()  # a copy
    assert view.agents == list(AGENTS) and view.scenario.name == "tiny"
    for name in ("step", "reset", "state", "_state", "_rng", "last_outcome"):
        with pytest.raises(AttributeError, match="offers snapshot"):
            getattr(view, name)
    with pytest.raises(AttributeError, match="read-only"):
        view.scenario = None


# ----------------------------------------------------------------------------- bit identity
@pytest.mark.slow
def test_isolated_results_are_bit_identical_for_heuristics_and_a_plug_in(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN_SOURCE))
    for policy, scenario in [
        ("siloed", "default"),
        ("coordinated", "default"),
        ("coord_env_demo_plugin:HoldPolicy", "tiny"),
    ]:
        isolated = coord_env.evaluate(policy, scenario, seeds=[1, 2], isolate=True)
        assert isolated == coord_env.evaluate(policy, scenario, seeds=[1, 2]), policy


@pytest.mark.slow
def test_isolated_results_are_bit_identical_for_an_sb3_checkpoint():
    pytest.importorskip("stable_baselines3")
    if not policy_supports("centralized", coord_env.load_scenario("default")):
        pytest.skip("no committed centralized checkpoint for default")
    isolated = per_seed("centralized", "default", isolate=True)
    assert isolated == per_seed("centralized", "default")


@pytest.mark.slow
def test_the_privileged_optimum_is_bit_identical_isolated_and_reads_the_true_state():
    isolated = per_seed("optimal", seeds=[4], isolate=True)
    assert isolated == per_seed("optimal", seeds=[4])


@pytest.mark.slow
def test_isolation_works_with_worker_processes():
    serial = per_seed("siloed", seeds=[1, 2, 3])
    assert per_seed("siloed", seeds=[1, 2, 3], isolate=True, workers=2) == serial


@pytest.mark.slow
def test_isolation_works_on_dask_workers():
    """Dask's worker processes are daemons, which multiprocessing forbids to have children."""
    pytest.importorskip("dask.distributed")
    serial = per_seed("siloed", seeds=[1, 2])
    isolated = per_seed("siloed", seeds=[1, 2], isolate=True, workers=2, scheduler="local")
    assert isolated == serial


# ----------------------------------------------------------------------------- hostile children
def _stopped(attack: str, limits: IsolationLimits = FAST, seed: int = 7) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(IsolatedPolicyError) as info:
        coord_env.evaluate(f"isolation_policies:{attack}", "tiny", [seed], limits=limits)
    message = str(info.value)
    assert "\n" not in message
    assert f"'isolation_policies:{attack}'" in message and f"seed {seed}" in message
    return message, time.monotonic() - start


@pytest.mark.slow
def test_a_hanging_policy_is_stopped_at_the_step_limit():
    message, seconds = _stopped("hang")
    assert "step time limit" in message and "2 s" in message
    assert seconds < 20


@pytest.mark.slow
def test_a_factory_that_hangs_is_stopped_at_the_episode_limit():
    limits = IsolationLimits(memory_bytes=2**30, step_seconds=1.0, episode_seconds=6.0)
    message, seconds = _stopped("hang_in_factory", limits)
    assert "episode time limit" in message
    assert seconds < 20


@pytest.mark.slow
def test_a_memory_hog_is_stopped_at_the_memory_limit():
    limits = IsolationLimits(memory_bytes=2**30, step_seconds=30.0, episode_seconds=60.0)
    message, seconds = _stopped("hog", limits)
    assert "MemoryError" in message and "memory limit 1 GiB" in message
    assert seconds < 30


@pytest.mark.slow
def test_a_crashing_policy_gives_one_line():
    message, _ = _stopped("crash")
    assert "the policy raised ValueError: boom second line" in message


@pytest.mark.slow
def test_a_policy_that_exits_is_reported_with_its_exit_code():
    message, _ = _stopped("exit_hard")
    assert "exited with code 3" in message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attack", "cause"),
    [
        ("strings", "must be integer or float arrays"),
        ("wrong_shape", "invalid action"),
        ("raw_garbage", "sent garbage"),
        ("pickle_bomb", "sent garbage"),
    ],
)
def test_garbage_and_invalid_actions_stop_the_child(attack, cause):
    marker = Path("/tmp/coord_isolation_pwned")
    marker.unlink(missing_ok=True)
    message, seconds = _stopped(attack)
    assert cause in message
    assert seconds < 20
    assert not marker.exists()  # the parent never unpickles what the child sends


@pytest.mark.slow
def test_one_child_plays_every_seed_and_a_failure_names_its_seed():
    with pytest.raises(IsolatedPolicyError) as info:
        coord_env.evaluate(
            "isolation_policies:crash_in_second_episode", "tiny", [5, 6], limits=FAST
        )
    assert "on seed 6 " in str(info.value) and "RuntimeError: no second episode" in str(info.value)


@pytest.mark.slow
def test_the_caller_env_options_apply_isolated_too():
    options = {"observation_mode": "full", "inventory_action": "order_up_to"}
    isolated = per_seed("random", env_options=options, isolate=True)
    assert isolated == per_seed("random", env_options=options)


@pytest.mark.slow
def test_the_child_is_gone_after_a_failure():
    # Only this process group's children count: on a shared machine, another test run's isolated
    # children may start meanwhile (an orphaned child of ours keeps our process group).
    before = set(os.listdir("/proc"))
    _stopped("hang")
    time.sleep(0.5)
    for pid in set(os.listdir("/proc")) - before:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            ours = os.getpgid(int(pid)) == os.getpgid(0)
        except (OSError, ValueError):
            continue
        assert not (ours and b"child_main" in cmdline)


def test_a_lambda_cannot_run_isolated_and_says_why():
    with pytest.raises(TypeError, match="cannot run isolated"):
        coord_env.evaluate(lambda env: None, "tiny", [1], isolate=True)


def test_limits_are_checked():
    with pytest.raises(ValueError, match="step_seconds must be positive"):
        IsolationLimits(step_seconds=0)
    with pytest.raises(ValueError, match="memory_bytes must be at least"):
        IsolationLimits(memory_bytes=1000)


# ----------------------------------------------------------------------------- the wire format
def test_frames_carry_numeric_arrays_only():
    orders = np.array([1, 2], dtype=np.int64)
    frame = encode_frame(
        {"type": "actions", "arrays": [{"agent": "inventory_0", "dtype": "<i8", "shape": [2]}]},
        (orders,),
    )
    header, actions = decode_frame(frame, AGENTS)
    assert header["type"] == "actions" and actions["inventory_0"].tolist() == [1, 2]
    actions["inventory_0"][0] = 5  # a private, writable copy

    def bad(header, payload=b""):
        head = json.dumps(header).encode()
        return len(head).to_bytes(4, "big") + head + payload

    entry = {"agent": "inventory_0", "dtype": "<i8", "shape": [2]}
    for frame, reason in [
        (bad({"type": "actions", "arrays": [{**entry, "dtype": "|O"}]}, bytes(16)), "dtype"),
        (bad({"type": "actions", "arrays": [entry]}, bytes(15)), "more bytes"),
        (bad({"type": "actions", "arrays": [entry]}, bytes(17)), "after the last"),
        (bad({"type": "actions", "arrays": [{**entry, "agent": "x"}]}, bytes(16)), "unknown"),
        (bad({"type": "actions", "arrays": [entry, entry]}, bytes(32)), "repeated"),
        (bad({"type": "actions", "arrays": [{**entry, "shape": [-1]}]}), "shape"),
        (b"\x00\x00\x00\x03NaN", "not JSON"),
        (b"\xff\xff\xff\xff", "out of bounds"),
    ]:
        with pytest.raises(ValueError, match=reason):
            decode_frame(frame, AGENTS)


# ----------------------------------------------------------------------------- the leaderboard
@pytest.fixture
def peeking_plugin(clean_registry):
    """A third-party plug-in registering a privileged policy."""
    with registry._registering_as("peeker", False, "peeker-dist"):
        coord_env.register_policy(
            "peek",
            "coord_env.analysis.optimal:OptimalPolicy",
            description="reads the hidden state",
            privileged=True,
        )


def test_a_privileged_third_party_row_is_refused(peeking_plugin, tmp_path):
    results = coord_env.evaluate("siloed", "tiny")
    submission = make_submission(
        copy.deepcopy(results), method="Peek", authors=["Eve"], url="", training_budget=None
    )
    submission["policy"] = "peek"
    with pytest.raises(SubmissionError, match=r"privileged.*plug-in 'peeker'") as info:
        validate_submission(submission)
    assert info.value.field == "policy"
    submission["policy"] = "optimal"  # coord_env's own privileged built-in: allowed
    assert validate_submission(submission) is submission
    path = tmp_path / "peek.json"
    path.write_text(submission_text(submission))
    with pytest.raises(SubmissionError, match="privileged"):
        verify_submission(path, "peek", write=False)


@pytest.mark.slow
def test_verify_runs_isolated(tmp_path):
    results = coord_env.evaluate("isolation_policies:honest", "tiny")
    submission = make_submission(copy.deepcopy(results), method="Hold", authors=["Ada"])
    path = tmp_path / "hold.json"
    path.write_text(submission_text(submission))
    with pytest.raises(IsolatedPolicyError, match="stopped: the policy raised ValueError"):
        verify_submission(path, "isolation_policies:crash", limits=FAST, write=False)
    assert json.loads(path.read_text())["status"] == "self-reported"


@pytest.mark.slow
def test_cli_evaluate_isolate(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "evaluate",
                "--policy",
                "siloed",
                "--scenario",
                "tiny",
                "--seeds",
                "1",
                "--out",
                str(out),
                "--isolate",
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["per_seed"] == per_seed("siloed", seeds=[1])
    status = main(
        [
            "evaluate",
            "--policy",
            "isolation_policies:crash",
            "--scenario",
            "tiny",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--isolate",
            "--quiet",
        ]
    )
    error = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in error and "ValueError: boom" in error
