"""Tests of examples/: each third-party MARL library trains briefly on ``tiny`` and the trained
policy is scored by the harness (skipped unless the ``examples`` extra is installed); the
departmental-incentive example shows what ``siloed_rl`` learns."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
from helpers import ROOT

import coord_env
from coord_env.harness.evaluate import MONEY
from coord_env.harness.results import SCHEMA_VERSION
from coord_env.harness.seeds import EVALUATION_SEEDS

pytestmark = pytest.mark.slow  # third-party libraries train: pytest -m slow

EXAMPLES = ROOT / "examples"
ARGV = ["--scenario", "tiny", "--steps", "40", "--seed", "3", "--seeds", "2"]


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_results(doc: dict, policy: str) -> None:
    """A valid results document for ``tiny`` on the first two official seeds."""
    seeds = list(EVALUATION_SEEDS[:2])
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["scenario"] == "coord/tiny-v0"
    assert doc["scenario_hash"] == coord_env.load_scenario("tiny").content_hash
    assert doc["policy"] == policy
    assert doc["seeds"] == seeds
    assert [row["seed"] for row in doc["per_seed"]] == seeds
    for row in doc["per_seed"]:
        for key in ("profit", *MONEY):
            assert isinstance(row[key], float) and math.isfinite(row[key])
    profit = doc["profit"]
    assert all(math.isfinite(profit[key]) for key in ("mean", "iqm", "ci_low", "ci_high"))
    assert profit["ci_low"] <= profit["mean"] <= profit["ci_high"]
    assert doc["normalized_score"] is None  # only the 30 official seeds carry a reference
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize(
    ("library", "example"), [("torchrl", "torchrl_ippo"), ("skrl", "skrl_ippo")]
)
def test_example_trains_and_scores_through_the_harness(library, example, capsys):
    pytest.importorskip(library)
    module = load_example(example)
    first = module.main(ARGV)
    check_results(first, example)
    printed = capsys.readouterr().out
    assert f"{example} on coord/tiny-v0, 2 seeds: profit mean" in printed
    assert f"{first['profit']['mean']:,.1f}" in printed
    again = module.main(ARGV)  # the same seed gives the same trained policy and scores
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_departmental_incentive_rewards_inventory_for_starving_the_store():
    """The incentive ``siloed_rl`` learns (docs/training.md): on ``default`` the inventory
    department's own return rises as the siloed heuristic's orders shrink, while the revenue and
    the firm's profit fall; the two departments' returns add up to the profit."""
    module = load_example("departmental_incentive")
    seeds = list(EVALUATION_SEEDS[:2])
    full = module.departmental_returns("default", 1.0, seeds)
    none = module.departmental_returns("default", 0.0, seeds)
    assert none[0] > full[0] + 10_000  # inventory return: higher without orders
    assert none[1] < full[1] and none[2] < full[2] - 50_000  # revenue and profit collapse
    for inventory, revenue, profit in (full, none):
        assert profit == pytest.approx(inventory + revenue)
