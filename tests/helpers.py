"""Shared test helpers: repository paths, bit-exact renderings of env outputs, seeded random actions.

Fixtures live in tests/conftest.py.
"""

from pathlib import Path

import numpy as np
from gymnasium import spaces

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder (committed checkpoints, leaderboards, docs, examples)."""

PLUGIN_SOURCE = Path(__file__).with_name("plugin")
"""A third-party plug-in distribution (tests/plugin) that registers policies by entry point."""

MTMA_FAST = {"n_envs": 2, "n_steps": 30, "epochs": 2, "minibatch_size": 20, "hidden_size": 16}
"""Small, fast MTMA settings for ``tiny``. n_steps=30 does not divide its 20-step episodes, so
episodes run across rollout boundaries and must be bootstrapped and checkpointed mid-way; the
checkpoint files are byte-for-byte reproducible."""


def canonical(value):
    """A bit-exact, comparable rendering of nested env outputs (arrays by dtype, shape and bytes)."""
    if isinstance(value, dict):
        return tuple(sorted((str(key), canonical(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(item) for item in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, (int, np.integer)):
        return ("int", int(value))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    raise TypeError(f"unexpected {type(value).__name__} in env output: {value!r}")


def random_actions(env, rng):
    """A valid action for every live agent, drawn from ``rng`` (a numpy Generator)."""
    actions = {}
    for agent in env.agents:
        space = env.action_space(agent)
        if isinstance(space, spaces.MultiDiscrete):
            actions[agent] = rng.integers(0, space.nvec)
        else:
            actions[agent] = rng.uniform(space.low, space.high).astype(np.float32)
    return actions


# Info keys added after the golden and fast-path references were recorded (issue 21:
# ``clipped_actions``, 0 unless ``clip_actions=True``; tests/test_env_options.py checks its value).
# Left out of the reference digests, so they still hold every other output bit for bit.
ADDED_INFO_KEYS = ("clipped_actions",)


def without_added_info_keys(infos):
    """``infos`` (agent -> dict of info arrays or floats) without :data:`ADDED_INFO_KEYS`."""
    return {
        agent: {key: value for key, value in info.items() if key not in ADDED_INFO_KEYS}
        for agent, info in infos.items()
    }
