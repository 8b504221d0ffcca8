"""Record the single env's reference digests for tests/test_env_fast_path.py.

Runs every catalog scenario under every option combination for one full episode with seeded
random actions and hashes, per step, everything a user can see: observations, rewards,
terminations, truncations, infos (keys in order, value types and bits), ``state()`` and
``snapshot()``. The reference was recorded from the code before the fast single-env path
(``PYTHONPATH=/work/wt/base``, commit 968837d):

    PYTHONPATH=<checkout without the fast path> python tests/data/make_env_fast_path_digests.py

The test imports :func:`episode_digests` from this file and compares its output with the JSON.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

from golden_record import trajectory
from helpers import canonical, random_actions

import coord_env
from coord_env.fileio import atomic_write_text

DIGESTS = Path(__file__).with_name("env_fast_path_digests.json")
SEED = 2026
OPTIONS = {
    "observation_mode": ("partial", "full", "siloed"),
    "reward_mode": ("team", "departmental"),
    "continuous_actions": (False, True),
    "inventory_action": ("order_quantity", "order_up_to"),
}
STEP_HEX = 4  # hex digits kept per step, to point at the first differing step (the episode
# digest, a full sha256 over every step's full digest, is what catches any difference)


def option_combos() -> list[dict[str, Any]]:
    """Every combination of the env options, in a fixed order."""
    return [
        dict(zip(OPTIONS, values, strict=True)) for values in itertools.product(*OPTIONS.values())
    ]


def combo_key(scenario: str, options: dict[str, Any]) -> str:
    return "/".join([scenario, *(str(options[name]) for name in OPTIONS)])


def _container(action: np.ndarray, step: int) -> Any:
    """The same action in one of the containers users pass: the env must not care which."""
    kind = step % 4
    if kind == 1:
        return action.tolist()
    if kind == 2:  # another dtype of the same kind
        return action.astype(np.int32 if action.dtype.kind == "i" else np.float64)
    if kind == 3:  # a non-contiguous view
        doubled = np.repeat(action, 2, axis=-1)
        return doubled[..., ::2]
    return action


def _record(value: Any) -> bytes:
    """Bits, dtypes, types and key order of an env output."""
    order = (
        [list(value), *(list(v) for v in value.values() if isinstance(v, dict))]
        if isinstance(value, dict)
        else []
    )
    types = (
        {k: {kk: type(vv).__name__ for kk, vv in v.items()} for k, v in value.items()}
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
        else {k: type(v).__name__ for k, v in value.items()}
        if isinstance(value, dict)
        else type(value).__name__
    )
    return repr((order, types, canonical(value))).encode()


def episode_digests(scenario: str, options: dict[str, Any]) -> list[str]:
    """One sha256 per step (the reset first) over everything the env hands out."""
    env = coord_env.parallel_env(scenario, **options)
    digests = []
    for outputs in trajectory(env, SEED, container=_container):
        h = hashlib.sha256()
        for output in (*outputs, env.state(), env.snapshot()):
            h.update(_record(output))
        h.update(repr(env.agents).encode())
        digests.append(h.hexdigest())
    return digests


VECTOR_NUM_ENVS = 7
VECTOR_COMBOS = [  # every option value at least once
    dict(zip(OPTIONS, values, strict=True))
    for values in (
        ("partial", "team", False, "order_quantity"),
        ("full", "departmental", True, "order_up_to"),
        ("siloed", "team", True, "order_quantity"),
        ("partial", "departmental", False, "order_up_to"),
    )
]


def vector_episode_digests(scenario: str, options: dict[str, Any]) -> list[str]:
    """The vector env's (B = VECTOR_NUM_ENVS) digests: reset, every step, one autoreset step."""
    envs = coord_env.vector_env(scenario, VECTOR_NUM_ENVS, **options)
    digests = []
    ticks = envs.scenario.num_ticks + 1
    for outputs in trajectory(envs, SEED, ticks, draw=_row_actions, container=_container):
        h = hashlib.sha256()
        for output in (*outputs, envs.state()):
            h.update(_record(output))
        digests.append(h.hexdigest())
    return digests


def _row_actions(envs: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One action per retailer, drawn row by row as a single env draws them."""
    return {
        agent: np.stack(
            [
                random_actions_for(envs.single_action_space(agent), rng)
                for _ in range(VECTOR_NUM_ENVS)
            ]
        )
        for agent in envs.possible_agents
    }


def random_actions_for(space: Any, rng: np.random.Generator) -> np.ndarray:
    """One valid action of a single env's space (as helpers.random_actions draws them)."""
    if hasattr(space, "nvec"):
        return rng.integers(0, space.nvec)
    return rng.uniform(space.low, space.high).astype(np.float32)


def bad_actions(env: Any) -> dict[str, Any]:
    """Invalid action dicts, each made from a valid one by one change, by name."""
    rng = np.random.default_rng(SEED)
    good = random_actions(env, rng)
    inventory, recommender = good["inventory_0"], good["recommender_0"]
    discrete = inventory.dtype.kind == "i"
    bad = {
        "not a dict": [inventory, recommender],
        "missing": {"inventory_0": inventory},
        "unknown": {**good, "pricing_0": inventory},
        "short": {**good, "inventory_0": inventory[:-1]},
        "2-d": {**good, "recommender_0": recommender[None]},
        "ragged": {**good, "inventory_0": [[0], [0, 1]]},
        "string": {**good, "inventory_0": np.array(["a"] * inventory.size)},
        "bool": {**good, "recommender_0": np.zeros(recommender.shape, dtype=bool)},
    }
    for agent, action in good.items():
        for i in (0, action.size - 1):
            if discrete:
                high = int(env.action_space(agent).nvec[i])
                bad[f"{agent}[{i}] = -1"] = {**good, agent: _replaced(action, i, -1)}
                bad[f"{agent}[{i}] = high"] = {**good, agent: _replaced(action, i, high)}
                bad[f"{agent}[{i}] = 2**63 - 1"] = {**good, agent: _replaced(action, i, 2**63 - 1)}
                bad[f"{agent} floats"] = {**good, agent: action.astype(np.float32)}
                bad[f"{agent} uint64 huge"] = {
                    **good,
                    agent: _replaced(action.astype(np.uint64), i, 2**64 - 1),
                }
            else:
                for value in (np.nan, np.inf, -np.inf, 1.5, -1.0000001, 1.0000001):
                    bad[f"{agent}[{i}] = {value!r}"] = {**good, agent: _replaced(action, i, value)}
                bad[f"{agent} ints"] = {**good, agent: action.astype(np.int64)}
    return bad


def _replaced(action: np.ndarray, index: int, value: Any) -> np.ndarray:
    changed = action.copy()
    changed[index] = value
    return changed


def error_messages(scenario: str, options: dict[str, Any]) -> dict[str, str]:
    """The error type and message of every bad action in :func:`bad_actions`, mid-episode."""
    env = coord_env.parallel_env(scenario, **options)
    env.reset(seed=SEED)
    env.step(random_actions(env, np.random.default_rng(SEED)))
    messages = {}
    for name, actions in bad_actions(env).items():
        before = env.state().tobytes()
        try:
            env.step(actions)
        except Exception as error:
            messages[name] = f"{type(error).__name__}: {error}"
        else:
            messages[name] = "accepted"
        assert env.state().tobytes() == before, name
    return messages


ERROR_COMBOS = [
    ("tiny", {"continuous_actions": False}),
    ("default", {"continuous_actions": False, "inventory_action": "order_up_to"}),
    ("small", {"continuous_actions": True}),
    ("default", {"continuous_actions": True, "observation_mode": "full"}),
]


def summary(digests: list[str]) -> dict[str, str]:
    """The JSON entry of one episode: its steps' short digests and one digest of them all."""
    return {
        "steps": "".join(d[:STEP_HEX] for d in digests),
        "episode": hashlib.sha256("".join(digests).encode()).hexdigest(),
    }


def main() -> int:
    print(f"recording from {coord_env.__file__}")
    document = {
        "about": "tests/test_env_fast_path.py reference; made by make_env_fast_path_digests.py",
        "seed": SEED,
        "step_hex": STEP_HEX,
        "episodes": {},
        "vector_episodes": {
            combo_key(name, options): summary(vector_episode_digests(name, options))
            for name in coord_env.list_scenarios()
            for options in VECTOR_COMBOS
        },
        "errors": {
            combo_key(name, {**option_combos()[0], **options}): error_messages(name, options)
            for name, options in ERROR_COMBOS
        },
    }
    for scenario in coord_env.list_scenarios():
        for options in option_combos():
            document["episodes"][combo_key(scenario, options)] = summary(
                episode_digests(scenario, options)
            )
            print(combo_key(scenario, options), flush=True)
    atomic_write_text(DIGESTS, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
