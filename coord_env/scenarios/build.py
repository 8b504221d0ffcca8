"""Regenerate the catalog JSON from the recipes below: ``python -m coord_env.scenarios.build``.

The JSON files are the source of truth that ships; this script documents how their numbers were drawn
(one fixed structural seed per scenario) so a reviewer can rebuild them. ``tests/test_scenarios.py``
checks the committed files match.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from coord_env.fileio import atomic_write_text

CATALOG = Path(__file__).with_name("catalog")
DIGITS = 4


def _round(values: np.ndarray) -> list:
    return np.round(values, DIGITS).tolist()


def _retailer(
    seed: int,
    num_products: int,
    num_segments: int,
    utility_mean: float,
    arrival_low: float = 20.0,
    arrival_high: float = 60.0,
) -> dict[str, Any]:
    """Random products and segments, the recipe of docs/model.md §15 ("Scenario catalog")."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(5.0, 20.0, num_products)
    cost = price * rng.uniform(0.4, 0.7, num_products)
    return {
        "price": _round(price),
        "cost": _round(cost),
        "holding_cost": _round(0.02 * cost),
        "lost_sale_penalty": _round(price * rng.uniform(0.25, 0.5, num_products)),
        "fixed_order_cost": [0.0] * num_products,
        "salvage_value": _round(0.5 * cost),
        "arrival_rate": _round(rng.uniform(arrival_low, arrival_high, num_segments)),
        "utility": _round(rng.normal(utility_mean, 1.0, (num_segments, num_products))),
        "no_purchase_utility": [0.0] * num_segments,
        "responsiveness": [1.5] * num_segments,
        "substitution": [0.3] * num_segments,
        "drift_std": _round(rng.uniform(0.10, 0.15, num_products)),
        "lead_time_rng": rng,  # consumed by the recipes below, removed before writing
    }


def _recipes() -> dict[str, dict[str, Any]]:
    recipes: dict[str, dict[str, Any]] = {}

    tiny = _retailer(101, 2, 2, utility_mean=-0.5, arrival_low=3.0, arrival_high=5.0)
    tiny.update(
        name="tiny",
        horizon=20,
        num_slots=1,
        lead_time=[1, 1],
        season_amplitude=0.3,
        season_period=10.0,
        drift_rho=0.0,
        drift_std=[0.0, 0.0],
        initial_stock_factor=2.0,
        description=(
            "Two products, two segments, one slot, one-period lead times and 20 periods, with "
            "seasonality but no drift: small enough for exact dynamic programming and for fast tests. "
            "Its difficulty is the plain newsvendor trade-off under a recommendation boost."
        ),
    )
    recipes["tiny"] = tiny

    small = _retailer(202, 5, 3, utility_mean=-1.0)
    small.update(
        name="small",
        horizon=100,
        num_slots=1,
        lead_time=[2] * 5,
        season_amplitude=0.3,
        season_period=52.0,
        drift_rho=0.9,
        description=(
            "Five products, three segments, one slot and two-period lead times over 100 periods, with "
            "seasonality and popularity drift. A quick scenario for training loops: the recommender "
            "must learn which single product to push while stock arrives two periods after the order."
        ),
    )
    recipes["small"] = small

    default = _retailer(303, 10, 4, utility_mean=-1.5)
    default_rng = default["lead_time_rng"]
    default_lead_time = default_rng.integers(1, 5, 10).tolist()
    # Calibrated (docs/scenarios.md, "`default`: calibrated so that coordination pays"): with tau in
    # [0.10, 0.15] popularity barely moves and the siloed heuristic's smoothed forecasts keep up; at
    # [0.35, 0.45] demand shifts faster than a lagging forecast follows, and coordination pays
    # (docs/scenarios.md has the numbers).
    default_drift = _round(default_rng.uniform(0.35, 0.45, 10))
    default.update(
        name="default",
        horizon=104,
        num_slots=2,
        drift_std=default_drift,
        lead_time=default_lead_time,
        season_amplitude=0.3,
        season_period=52.0,
        drift_rho=0.9,
        description=(
            "The headline scenario: ten products, four segments, two slots, mixed lead times of one "
            "to four periods, two years of weekly periods with yearly seasonality and popularity "
            "drift. Stock starts uneven, so a recommender that ignores stock pushes items that run "
            "out while slow items pile up, and orders placed now arrive only after the push."
        ),
    )
    recipes["default"] = default

    multiscale = dict(default)
    multiscale.update(
        name="multiscale",
        ticks_per_period=4,
        description=(
            "The default retailer with four recommendation ticks per inventory period: the "
            "recommender re-plans slates within the period as stock drains, while the inventory "
            "agent still orders once per period. It tests learning on two timescales."
        ),
    )
    recipes["multiscale"] = multiscale

    capacity = _retailer(404, 10, 4, utility_mean=-1.5)
    capacity_lead = capacity["lead_time_rng"].integers(3, 7, 10)
    capacity.update(
        name="capacity",
        horizon=104,
        num_slots=2,
        lead_time=capacity_lead.tolist(),
        season_amplitude=0.3,
        season_period=52.0,
        drift_rho=0.9,
        warehouse_capacity=400.0,
        fixed_order_cost=_round(np.full(10, 5.0)),
        description=(
            "Long lead times (three to six periods) and a shared warehouse that holds 400 units, "
            "less than the products' combined base-stock levels: units arriving beyond capacity are "
            "disposed of. Orders compete for space, and fixed order costs reward batching, so the "
            "recommender must steer demand toward what is in stock."
        ),
    )
    recipes["capacity"] = capacity

    large = _retailer(505, 200, 20, utility_mean=-4.5)
    lead_rng = large["lead_time_rng"]
    pmf = np.zeros((200, 5))
    modes = lead_rng.integers(1, 4, 200)
    for offset, weight in ((0, 0.6), (1, 0.3), (2, 0.1)):
        pmf[np.arange(200), modes - 1 + offset] += weight
    large.update(
        name="large",
        horizon=365,
        num_slots=5,
        lead_time_pmf=_round(pmf),
        season_amplitude=0.3,
        season_period=365.0,
        drift_rho=0.95,
        shocks=[
            {"period": 120, "duration": 14, "target": "product", "index": 7, "multiplier": 3.0},
            {"period": 300, "duration": 30, "target": "segment", "index": 0, "multiplier": 2.0},
        ],
        description=(
            "Scale: 200 products, 20 segments, five slots and a year of daily periods, with random "
            "lead times of one to five periods (orders may cross), yearly seasonality, drift, a "
            "product promotion shock and a segment surge. It measures throughput and whether "
            "methods scale beyond a handful of products."
        ),
    )
    recipes["large"] = large

    for recipe in recipes.values():
        recipe.pop("lead_time_rng", None)
        recipe.setdefault("version", 0)
        recipe.setdefault("ticks_per_period", 1)
    return recipes


def render(name: str) -> str:
    """The JSON text of one catalog entry, validated through Scenario.from_dict."""
    from coord_env.scenarios.scenario import Scenario

    recipe = _recipes()[name]
    scenario = Scenario.from_dict(recipe)
    return json.dumps(scenario.to_dict(), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every catalog entry; with ``--check``, only report entries that differ."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name in _recipes():
        path = CATALOG / f"{name}.json"
        text = render(name)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            atomic_write_text(path, text)
    if stale:
        print("stale catalog entries:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
