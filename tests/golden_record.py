"""Golden trajectories: per-step digests of the simulator's outputs, recorded once, compared forever.

The digests in ``tests/data/golden_trajectories.json`` were recorded from the numpy kernel as it was
before the compiled (numba) kernel replaced it (issue 20), by running this script against that
code::

    PYTHONPATH=<checkout of the numpy kernel> python tests/golden_record.py

``tests/test_golden_trajectories.py`` replays every case with the kernel under test and requires
every digest to match, so a kernel change that moves any draw, any float bit or any dtype fails.

Each case is one seeded trajectory with seeded random actions (``helpers.random_actions``):

- ``env``: the single env (``parallel_env``) and the vector env (``vector_env``) at B = 1, 7 and 64,
  for every catalog scenario and every option that reaches the kernel (``continuous_actions``,
  ``inventory_action``); its digest covers observations, rewards, terminations, truncations,
  infos, the tick's :class:`coord_env.core.Outcome` and ``state()``.
- ``core``: :func:`coord_env.core.step` driven directly with random orders and slates (empty slots
  included) from deliberately low stock, so shortages, substitution and over-demanded substitutes
  (the hypergeometric draws) occur often; its digest covers the Outcome and the whole State.

A digest is the first 16 hex digits of a sha256 of ``helpers.canonical(...)``: dtype, shape and
bytes of every array. A few cases also keep full arrays (``arrays``) for reading.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from helpers import (
    canonical,
    random_actions,
    without_added_info_keys,
)  # tests/ is on sys.path (a script run from tests/, or pytest: pyproject.toml pythonpath)

import coord_env
from coord_env import core

GOLDEN_PATH = pathlib.Path(__file__).parent / "data" / "golden_trajectories.json"

SCENARIOS = ("tiny", "small", "default", "multiscale", "capacity", "large")
OPTIONS = (
    {"continuous_actions": False, "inventory_action": "order_quantity"},
    {"continuous_actions": False, "inventory_action": "order_up_to"},
    {"continuous_actions": True, "inventory_action": "order_quantity"},
    {"continuous_actions": True, "inventory_action": "order_up_to"},
)
BATCH_SIZES = (1, 7, 64)


def _ticks(scenario: str, batch_size: int) -> int:
    """Steps per case: tiny runs past its end (salvage, autoreset); large stays short and small."""
    if scenario == "tiny":
        return 22
    if scenario == "large":
        return 3 if batch_size >= 64 else 6
    return 24


def cases() -> list[dict[str, Any]]:
    """Every recorded case, in a fixed order; each has a unique ``name``."""
    out = []
    for scenario in SCENARIOS:
        for number, options in enumerate(OPTIONS):
            kinds = [("single", 1)] + [("vector", b) for b in BATCH_SIZES]
            for kind, batch_size in kinds:
                out.append(
                    {
                        "name": f"env/{scenario}/{kind}/B{batch_size}/opt{number}",
                        "kind": kind,
                        "scenario": scenario,
                        "batch_size": batch_size,
                        "options": options,
                        "ticks": _ticks(scenario, batch_size),
                        "seed": 1000 + number,
                    }
                )
        for order_up_to in (False, True):
            for batch_size in BATCH_SIZES:
                out.append(
                    {
                        "name": f"core/{scenario}/B{batch_size}/up_to={order_up_to}",
                        "kind": "core",
                        "scenario": scenario,
                        "batch_size": batch_size,
                        "order_up_to": order_up_to,
                        "ticks": min(
                            _ticks(scenario, batch_size),
                            coord_env.load_scenario(scenario).num_ticks,  # ends with salvage
                        ),
                        "seed": 7 + batch_size,
                    }
                )
    for scenario in ("small", "default", "large"):
        for batch_size in BATCH_SIZES if scenario != "large" else (1, 7):
            out.append(
                {
                    "name": f"stress/{scenario}/B{batch_size}",
                    "kind": "core",
                    "stress": True,
                    "scenario": scenario,
                    "batch_size": batch_size,
                    "order_up_to": False,
                    "ticks": 6,
                    "seed": 11 + batch_size,
                }
            )
    return out


def stress_scenario(name: str) -> coord_env.Scenario:
    """``name`` with eight times the arrivals and substitution 0.9: many substitutes per product."""
    base = coord_env.load_scenario(name)
    return coord_env.load_scenario(
        name,
        substitution=[0.9] * base.num_segments,
        arrival_rate=[8 * rate for rate in base.arrival_rate.tolist()],
    )


def digest(value: Any) -> str:
    """16 hex digits of the sha256 of the bit-exact rendering of ``value``."""
    hasher = hashlib.sha256()
    _feed(hasher, canonical(value))
    return hasher.hexdigest()[:16]


def _feed(hasher: Any, rendering: Any) -> None:
    """Hash a ``canonical`` rendering: its structure and atoms, and array bytes as they are."""
    if isinstance(rendering, tuple):
        hasher.update(b"(%d" % len(rendering))
        for item in rendering:
            _feed(hasher, item)
        hasher.update(b")")
    elif isinstance(rendering, bytes):
        hasher.update(b"b%d:" % len(rendering))
        hasher.update(rendering)
    else:
        hasher.update(repr(rendering).encode())


def _outcome_dict(outcome: core.Outcome | None) -> dict[str, np.ndarray]:
    if outcome is None:
        return {}
    return {field.name: getattr(outcome, field.name) for field in dataclasses.fields(outcome)}


def _state_dict(state: core.State) -> dict[str, Any]:
    return {
        name: value for name, value in vars(state).items() if value is not None
    }  # lead_time_path is None for fixed lead times


def trajectory(
    env: Any,
    seed: int,
    ticks: int | None = None,
    draw: Callable[[Any, np.random.Generator], dict[str, Any]] = random_actions,
    container: Callable[[np.ndarray, int], Any] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The env outputs of a seeded random trajectory, as every reference digest records them.

    Resets ``env`` with ``seed``, then steps it on ``draw(env, rng)`` with ``rng`` seeded by
    ``seed``; yields reset's ``(observations, infos)`` and each step's five outputs, infos
    without ``helpers.ADDED_INFO_KEYS``. The caller reads ``env.state()`` between yields.

    Parameters
    ----------
    ticks : int, optional
        None: to the end of the episode. Else this many ticks, a tick that finds the episode
        ended starting the next one (its reset yielded).
    container : callable, optional
        ``container(action, step)`` hands each action over in another container (a list, a view,
        another dtype), ``step`` counting the steps so far.
    """
    rng = np.random.default_rng(seed)
    observations, infos = env.reset(seed=seed)
    yield observations, without_added_info_keys(infos)
    steps = 0
    for _ in itertools.count() if ticks is None else range(ticks):
        if not env.agents:
            if ticks is None:
                return
            observations, infos = env.reset()
            yield observations, without_added_info_keys(infos)
            continue
        actions = draw(env, rng)
        if container is not None:
            actions = {agent: container(action, steps) for agent, action in actions.items()}
        *outputs, infos = env.step(actions)
        steps += 1
        yield (*outputs, without_added_info_keys(infos))


def run_env_case(case: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Digests of reset and of every step of an env case, and its last step's rewards."""
    options = case["options"]
    if case["kind"] == "single":
        env = coord_env.parallel_env(case["scenario"], **options)
    else:
        env = coord_env.vector_env(case["scenario"], case["batch_size"], **options)
    digests = []
    rewards: Any = None
    for outputs in trajectory(env, case["seed"], case["ticks"]):
        if len(outputs) == 2:  # a reset
            digests.append(digest((*outputs, env.state())))
            continue
        rewards = outputs[1]
        digests.append(digest((outputs, _outcome_dict(env.last_outcome), env.state())))
    arrays = {name: np.asarray(value).tolist() for name, value in rewards.items()}
    return digests, arrays


def run_core_case(case: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Digests of :func:`coord_env.core.step` from low stock with random orders and slates.

    ``stress`` cases run :func:`stress_scenario` and rewrite the stock before every tick.
    """
    stress = case.get("stress", False)
    if stress:
        scenario = stress_scenario(case["scenario"])
    else:
        scenario = coord_env.load_scenario(case["scenario"])
    B, N, M, C = (
        case["batch_size"],
        scenario.num_products,
        scenario.num_segments,
        scenario.num_slots,
    )
    rng = np.random.default_rng(case["seed"])
    actions = np.random.default_rng(case["seed"] + 1)
    state = core.reset(scenario, rng, batch_size=B)
    state.on_hand //= 4  # short stock: shortages and substitution from the first tick
    digests = [digest(_state_dict(state))]
    top = int(np.max(scenario.demand_scale)) * 3 + 10
    outcome = None
    for tick in range(case["ticks"]):
        orders = actions.integers(0, top, size=(B, N))
        if tick % 3 == 2:
            orders[:] = 0  # let stock run down
        slates = actions.integers(-1, N, size=(B, M, C))
        if stress:  # every other product out, the rest scattered around the substitutes' demand:
            # over-demanded substitutes with 10 or more units left (the hypergeometric's HRUA path)
            state.on_hand[:, ::2] = 0
            state.on_hand[:, 1::2] = actions.integers(0, 120, size=state.on_hand[:, 1::2].shape)
        outcome = core.step(scenario, state, orders, slates, rng, order_up_to=case["order_up_to"])
        digests.append(digest((_outcome_dict(outcome), _state_dict(state))))
    arrays = {
        "on_hand": state.on_hand[:2].tolist(),
        "revenue": [value.hex() for value in outcome.revenue[:2].tolist()],
    }
    return digests, arrays


def run_case(case: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The per-step digests and the kept arrays of one case."""
    if case["kind"] == "core":
        return run_core_case(case)
    return run_env_case(case)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(GOLDEN_PATH))
    args = parser.parse_args(argv)
    from coord_env.fileio import atomic_write_text

    keep = {"env/default/vector/B7/opt0", "env/tiny/single/B1/opt1", "core/large/B7/up_to=False"}
    records = []
    for case in cases():
        digests, arrays = run_case(case)
        record = {**case, "digests": digests}
        if case["name"] in keep:
            record["arrays"] = arrays
        records.append(record)
        print(case["name"], len(digests), flush=True)
    payload = {
        "numpy": np.__version__,
        "how": "PYTHONPATH=<numpy-kernel checkout> python tests/golden_record.py",
        "cases": records,
    }
    pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
