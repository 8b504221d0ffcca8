"""The scenario catalog: shipped data, validation on load, content hashes."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from coord_env import Scenario, ScenarioError, list_scenarios, load_scenario
from coord_env.scenarios import build

SIZES = {  # name: (N, M, C, T, R)
    "tiny": (2, 2, 1, 20, 1),
    "small": (5, 3, 1, 100, 1),
    "default": (10, 4, 2, 104, 1),
    "multiscale": (10, 4, 2, 104, 4),
    "capacity": (10, 4, 2, 104, 1),
    "large": (200, 20, 5, 365, 1),
}


def test_catalog_lists_every_scenario():
    assert list_scenarios() == sorted(SIZES)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_scenario_sizes_description_and_id(name):
    s = load_scenario(name)
    N, M, C, T, R = SIZES[name]
    assert (s.num_products, s.num_segments, s.num_slots, s.horizon, s.ticks_per_period) == (
        N,
        M,
        C,
        T,
        R,
    )
    assert s.utility.shape == (M, N) and s.lead_time_pmf.shape[0] == N
    assert len(s.description.split()) >= 25, "each scenario needs a one-paragraph description"
    assert s.env_id == f"coord/{name}-v0"
    assert np.all(s.cost < s.price) and np.all(s.salvage_value <= s.cost)


def test_headline_scenario_features():
    default = load_scenario("default")
    assert sorted(set(default.lead_time.tolist())) == [1, 2, 3, 4]
    assert default.season_amplitude > 0 and np.all(default.drift_std > 0)
    assert math.isinf(default.warehouse_capacity)
    assert load_scenario("tiny").lead_time.tolist() == [1, 1]
    assert load_scenario("small").lead_time.tolist() == [2] * 5
    capacity = load_scenario("capacity")
    assert capacity.warehouse_capacity < capacity.initial_stock_high.sum()
    assert capacity.lead_time.min() >= 3
    assert load_scenario("large").random_lead_times


def test_committed_catalog_matches_its_recipes():
    assert build.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(SIZES))
def test_round_trip_and_hash(name):
    s = load_scenario(name)
    again = Scenario.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again.content_hash == s.content_hash
    assert len(s.content_hash) == 64


def test_hash_changes_with_parameters_not_with_prose():
    s = load_scenario("default")
    assert s.replace(horizon=50).content_hash != s.content_hash
    assert s.replace(price=(s.price * 1.01).tolist()).content_hash != s.content_hash
    assert s.replace(description="Another text.").content_hash == s.content_hash
    hashes = {load_scenario(name).content_hash for name in list_scenarios()}
    assert len(hashes) == len(SIZES)


def test_overrides_do_not_change_the_catalog_entry():
    before = load_scenario("default").content_hash
    assert load_scenario("default", horizon=3).horizon == 3
    assert load_scenario("default").content_hash == before


def test_load_scenario_is_the_one_coercion_of_a_name_or_a_scenario():
    s = load_scenario("tiny")
    assert load_scenario(s) is s
    copy = load_scenario(s, horizon=3)
    assert copy.horizon == 3 and s.horizon == 20
    root = Path(__file__).resolve().parents[1]
    coercion = re.compile(r"load_scenario\((\w+)\) if isinstance\(\1, str\)")
    repeated = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("coord_env", "baselines", "examples", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if coercion.search(line)
    ]
    assert repeated == [], "call load_scenario(x) directly: it returns a Scenario as it is"


def test_loaded_arrays_are_read_only():
    s = load_scenario("default")
    with pytest.raises(ValueError):
        s.price[0] = 0.0


def test_unknown_scenario_lists_valid_names():
    with pytest.raises(KeyError, match="valid scenarios: capacity, default, large"):
        load_scenario("nope")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lead_time_pmf": [[0.5, 0.4], [1.0, 0.0]]}, "lead_time_pmf"),
        ({"num_slots": 2, "slot_attention": [0.5, 0.9]}, "slot_attention"),
        ({"salvage_value": [100.0, 100.0]}, "salvage_value"),
        (
            {"shocks": [{"period": 0, "target": "store", "index": 0, "multiplier": 2}]},
            r"shocks\[0\].target",
        ),
        (
            {"shocks": [{"period": 0, "target": "product", "index": 5, "multiplier": 2}]},
            r"shocks\[0\].index",
        ),
        ({"warehouse_capacity": -1}, "warehouse_capacity"),
        ({"drift_rho": 1.0}, "drift_rho"),
        ({"arrival_rate": [1.0, float("nan")]}, "arrival_rate"),
        ({"order_levels": 1}, "order_levels"),
        ({"ticks_per_period": 0}, "ticks_per_period"),
    ],
)
def test_invalid_parameters_name_the_field(overrides, field):
    with pytest.raises(ScenarioError, match=field):
        load_scenario("tiny", **overrides)


def test_lead_time_and_pmf_are_exclusive():
    data = load_scenario("tiny").to_dict()
    data["lead_time"] = [1, 1]
    with pytest.raises(ScenarioError, match="exactly one"):
        Scenario.from_dict(data)


def test_derived_action_scales_cover_five_mean_demands():
    for name in list_scenarios():
        s = load_scenario(name)
        assert np.all((s.order_levels - 1) * s.order_step >= 5 * s.demand_scale)
        assert np.all(s.order_step >= 1) and np.all(s.target_step >= 1)
