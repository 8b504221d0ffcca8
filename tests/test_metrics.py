"""Coordination metrics (SPEC section 6) on hand-made trajectories, with values computed by hand."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from coord_env.harness.metrics import (
    METRIC_DEFINITIONS,
    METRICS,
    bullwhip_ratio,
    compute_metrics,
    days_of_supply,
    exposure_stock_rank_correlation,
    fill_rate,
    inventory_turnover,
    lost_sale_rate,
    lost_sales,
    oos_impression_share,
    order_exposure_lead_correlation,
    profit_volatility,
)
from coord_env.harness.trajectory import Trajectory

# A consistent 4-period, 3-product episode (per period, demand = units sold + units lost):
#   t0: product 1 has 1 unit for 2 customers; the unserved one substitutes to product 2.
#   t1: product 1 serves 2 of 3; the unserved one is lost.
#   t2: product 0 serves 3 of 5; one unserved substitutes to product 1, one is lost.
#   t3: everything served.
BASE = {
    "orders": [[5, 0, 2], [0, 4, 0], [6, 0, 3], [0, 0, 0]],
    "received": [[0, 0, 0], [5, 0, 2], [0, 0, 0], [6, 4, 3]],
    "on_hand_start": [[2, 0, 3], [1, 5, 1], [0, 3, 4], [4, 1, 2]],
    "on_hand_end": [[2, 0, 3], [1, 5, 1], [0, 3, 4], [4, 1, 2]],
    "demand": [[4, 2, 0], [3, 3, 2], [5, 0, 1], [2, 2, 2]],
    "sales": [[4, 1, 1], [3, 2, 2], [3, 1, 1], [2, 2, 2]],
    "substitute_sales": [[0, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "lost": [[0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]],
    "impressions": [[10, 0, 20], [5, 5, 5], [30, 20, 10], [10, 20, 15]],
    "oos_impressions": [0, 5, 30, 0],
    "visits": [40, 30, 50, 45],
    "profit": [10.0, 30.0, 20.0, 500.0],
    "lead_time": [1.0, 2.0, 0.6],
}


def make_trajectory(**overrides) -> Trajectory:
    """A Trajectory from ``BASE`` with some fields replaced; counts as int64, money as float64."""
    fields = {**BASE, **overrides}
    arrays = {}
    for name, value in fields.items():
        dtype = np.float64 if name in ("profit", "lead_time") else np.int64
        arrays[name] = np.asarray(value, dtype=dtype)
    num_periods = arrays["orders"].shape[0]
    arrays["money"] = {
        key: np.zeros(num_periods)
        for key in ("revenue", "salvage", "purchase_cost", "holding_cost", "lost_sale_penalty")
    }
    return Trajectory(**arrays)


def zeros(shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.int64)


# --- each metric on the base episode -------------------------------------------------------------


def test_fill_rate():
    # demand = 6 + 8 + 6 + 6 = 26; sales = 6 + 7 + 5 + 6 = 24; substitute sales = 2
    # (24 - 2) / 26 = 22 / 26
    assert fill_rate(make_trajectory()) == pytest.approx(22 / 26)


def test_lost_sales():
    # one lost at t1 (product 1) and one at t2 (product 0)
    assert lost_sales(make_trajectory()) == 2.0


def test_lost_sale_rate():
    # 2 / 26
    assert lost_sale_rate(make_trajectory()) == pytest.approx(1 / 13)


def test_oos_impression_share():
    # impressions = 30 + 15 + 60 + 45 = 150; out of stock = 0 + 5 + 30 + 0 = 35
    assert oos_impression_share(make_trajectory()) == pytest.approx(35 / 150)


def test_exposure_stock_rank_correlation():
    # mean sales per product: [12/4, 6/4, 6/4] = [3, 1.5, 1.5]
    # days of supply = on_hand_start / [3, 1.5, 1.5]:
    #   t0 [2/3, 0, 2]      impressions [10, 0, 20]   ranks [2, 1, 3] vs [2, 1, 3] -> +1
    #   t1 [1/3, 10/3, 2/3] impressions [5, 5, 5]     constant -> period skipped
    #   t2 [0, 2, 8/3]      impressions [30, 20, 10]  ranks [1, 2, 3] vs [3, 2, 1] -> -1
    #   t3 [4/3, 2/3, 4/3]  impressions [10, 20, 15]  ranks [2.5, 1, 2.5] vs [1, 3, 2]:
    #       centred [.5, -1, .5] . [-1, 1, 0] = -1.5; norms sqrt(1.5 * 2) -> -1.5 / sqrt(3)
    # mean over t0, t2, t3 = (1 - 1 - sqrt(3) / 2) / 3 = -sqrt(3) / 6
    assert exposure_stock_rank_correlation(make_trajectory()) == pytest.approx(-math.sqrt(3) / 6)


def test_order_exposure_lead_correlation():
    # L = round([1.0, 2.0, 0.6]) = [1, 2, 1]
    # product 1: L = 2 leaves 2 pairs (< 3) -> skipped
    # product 0: orders[0:3] = [5, 0, 6] vs impressions[1:4] = [5, 30, 10]
    #   centred [4/3, -11/3, 7/3] and [-10, 15, -5]: sum xy = -80, sxx = 62/3, syy = 350
    # product 2: orders[0:3] = [2, 0, 3] vs impressions[1:4] = [5, 10, 15]
    #   centred [1/3, -5/3, 4/3] and [-5, 0, 5]: sum xy = 5, sxx = 14/3, syy = 50
    r0 = -80 / math.sqrt(62 / 3 * 350)  # -0.9406
    r2 = 5 / math.sqrt(14 / 3 * 50)  # 0.3273
    value = order_exposure_lead_correlation(make_trajectory())
    assert value == pytest.approx((r0 + r2) / 2)
    assert value == pytest.approx(-0.30665, abs=1e-4)


def test_inventory_turnover():
    # 24 units sold; end-of-period totals [5, 7, 7, 7], mean 6.5
    assert inventory_turnover(make_trajectory()) == pytest.approx(24 / 6.5)


def test_days_of_supply():
    # mean total on-hand 6.5 / mean total sales per period 24 / 4 = 6
    assert days_of_supply(make_trajectory()) == pytest.approx(6.5 / 6)


def test_bullwhip_ratio():
    # total orders [7, 4, 9, 0]: mean 5, variance (4 + 1 + 16 + 25) / 4 = 11.5
    # total sales [6, 7, 5, 6]: mean 6, variance (0 + 1 + 1 + 0) / 4 = 0.5
    assert bullwhip_ratio(make_trajectory()) == pytest.approx(23.0)


def test_profit_volatility_excludes_salvage_period():
    # [10, 30, 20] (500 excluded): mean 20, variance (100 + 100 + 0) / 3
    assert profit_volatility(make_trajectory()) == pytest.approx(math.sqrt(200 / 3))


# --- the registry --------------------------------------------------------------------------------


def test_compute_metrics_keys_order_and_types():
    order = [
        "fill_rate",
        "lost_sales",
        "lost_sale_rate",
        "oos_impression_share",
        "exposure_stock_rank_correlation",
        "order_exposure_lead_correlation",
        "inventory_turnover",
        "days_of_supply",
        "bullwhip_ratio",
        "profit_volatility",
    ]
    trajectory = make_trajectory()
    result = compute_metrics(trajectory)
    assert list(METRICS) == order
    assert list(result) == order
    assert list(METRIC_DEFINITIONS) == order
    for name, value in result.items():
        assert type(value) is float, name
        assert type(METRICS[name](trajectory)) is float, name
        assert value == METRICS[name](trajectory)
    assert result["bullwhip_ratio"] == pytest.approx(23.0)


def test_definitions_are_one_line():
    for name, text in METRIC_DEFINITIONS.items():
        assert text and "\n" not in text, name


# --- edge cases ----------------------------------------------------------------------------------


def test_no_demand():
    # nobody picked a product: nothing sold, nothing lost, stock untouched
    trajectory = make_trajectory(
        demand=zeros((4, 3)),
        sales=zeros((4, 3)),
        substitute_sales=zeros((4, 3)),
        lost=zeros((4, 3)),
    )
    result = compute_metrics(trajectory)
    assert result["fill_rate"] == 1.0
    assert result["lost_sales"] == 0.0
    assert result["lost_sale_rate"] == 0.0
    assert result["inventory_turnover"] == 0.0
    assert math.isnan(result["days_of_supply"])
    assert math.isnan(result["bullwhip_ratio"])
    assert math.isnan(result["exposure_stock_rank_correlation"])  # no product ever sold
    assert result["oos_impression_share"] == pytest.approx(35 / 150)  # unaffected


def test_no_impressions():
    trajectory = make_trajectory(impressions=zeros((4, 3)), oos_impressions=[0, 0, 0, 0])
    assert oos_impression_share(trajectory) == 0.0
    assert math.isnan(exposure_stock_rank_correlation(trajectory))  # constant every period
    assert math.isnan(order_exposure_lead_correlation(trajectory))  # constant exposure


def test_all_impressions_out_of_stock():
    trajectory = make_trajectory(oos_impressions=[30, 15, 60, 45])
    assert oos_impression_share(trajectory) == 1.0


def test_full_service():
    # everything demanded was served at first choice
    demand = [[4, 2, 1], [3, 3, 2], [5, 0, 1], [2, 2, 2]]
    trajectory = make_trajectory(
        demand=demand, sales=demand, substitute_sales=zeros((4, 3)), lost=zeros((4, 3))
    )
    assert fill_rate(trajectory) == 1.0
    assert lost_sale_rate(trajectory) == 0.0
    assert lost_sales(trajectory) == 0.0


def test_zero_stock_with_sales_turnover_undefined():
    trajectory = make_trajectory(on_hand_end=zeros((4, 3)))
    assert math.isnan(inventory_turnover(trajectory))
    assert days_of_supply(trajectory) == 0.0


def test_zero_sales_and_zero_stock_turnover_is_zero():
    trajectory = make_trajectory(sales=zeros((4, 3)), on_hand_end=zeros((4, 3)))
    assert inventory_turnover(trajectory) == 0.0


def test_constant_orders():
    # total orders constant: no bullwhip at all; constant per-product orders: lead correlation nan
    trajectory = make_trajectory(orders=[[3, 1, 2]] * 4)
    assert bullwhip_ratio(trajectory) == 0.0
    assert math.isnan(order_exposure_lead_correlation(trajectory))


def test_constant_sales_bullwhip_undefined():
    # totals [6, 6, 6, 6]: zero variance
    trajectory = make_trajectory(sales=[[4, 1, 1], [3, 2, 1], [2, 2, 2], [1, 1, 4]])
    assert math.isnan(bullwhip_ratio(trajectory))


def test_lead_time_too_long_for_episode():
    # every product leaves at most 2 (order, exposure) pairs
    trajectory = make_trajectory(lead_time=[2.0, 3.0, 7.0])
    assert math.isnan(order_exposure_lead_correlation(trajectory))


def test_lead_time_zero_pairs_same_period():
    # L = 0 for product 0 only (others too long): orders [5, 0, 6, 0] vs impressions [10, 5, 30, 10]
    # centred [2.25, -2.75, 3.25, -2.75] and [-3.75, -8.75, 16.25, -3.75]:
    # sum xy = -8.4375 + 24.0625 + 52.8125 + 10.3125 = 78.75; sxx = 30.75; syy = 368.75
    trajectory = make_trajectory(lead_time=[0.0, 5.0, 5.0])
    expected = 78.75 / math.sqrt(30.75 * 368.75)
    assert order_exposure_lead_correlation(trajectory) == pytest.approx(expected)


def test_rank_correlation_skips_never_sold_product():
    # a fourth product never sold is excluded, whatever its stock and exposure: same value as base
    extra = {
        "orders": np.c_[BASE["orders"], [9, 0, 0, 0]],
        "received": np.c_[BASE["received"], [0, 0, 0, 0]],
        "on_hand_start": np.c_[BASE["on_hand_start"], [9, 9, 9, 9]],
        "on_hand_end": np.c_[BASE["on_hand_end"], [9, 9, 9, 9]],
        "demand": np.c_[BASE["demand"], [0, 0, 0, 0]],
        "sales": np.c_[BASE["sales"], [0, 0, 0, 0]],
        "substitute_sales": np.c_[BASE["substitute_sales"], [0, 0, 0, 0]],
        "lost": np.c_[BASE["lost"], [0, 0, 0, 0]],
        "impressions": np.c_[BASE["impressions"], [99, 0, 99, 0]],
        "lead_time": [1.0, 2.0, 0.6, 9.0],
    }
    assert exposure_stock_rank_correlation(make_trajectory(**extra)) == pytest.approx(
        -math.sqrt(3) / 6
    )


def test_rank_correlation_needs_three_sold_products():
    sales = np.array(BASE["sales"])
    sales[:, 2] = 0
    assert math.isnan(exposure_stock_rank_correlation(make_trajectory(sales=sales)))


def test_profit_volatility_short_episodes():
    one = make_trajectory(
        **{key: np.asarray(value)[:1] for key, value in BASE.items() if key != "lead_time"}
    )
    two = make_trajectory(
        **{key: np.asarray(value)[:2] for key, value in BASE.items() if key != "lead_time"}
    )
    assert math.isnan(profit_volatility(one))
    assert profit_volatility(two) == 0.0  # a single profit [10] remains


def test_constant_profit_has_zero_volatility():
    assert profit_volatility(make_trajectory(profit=[7.0, 7.0, 7.0, -50.0])) == 0.0


# --- agreement with scipy on a random episode ----------------------------------------------------


def test_correlations_agree_with_scipy_on_random_episode():
    rng = np.random.default_rng(3)
    T, N = 12, 5
    counts = {
        name: rng.integers(0, 6, size=(T, N))
        for name in (
            "orders",
            "received",
            "on_hand_start",
            "on_hand_end",
            "demand",
            "sales",
            "substitute_sales",
            "lost",
            "impressions",
        )
    }
    lead_time = np.array([0.0, 1.0, 2.4, 3.0, 11.0])
    trajectory = make_trajectory(
        **counts,
        oos_impressions=rng.integers(0, 6, size=T),
        visits=rng.integers(0, 6, size=T),
        profit=rng.normal(size=T),
        lead_time=lead_time,
    )

    mean_sales = counts["sales"].mean(axis=0)
    kept = mean_sales > 0
    supply = counts["on_hand_start"][:, kept] / mean_sales[kept]
    exposure = counts["impressions"][:, kept]
    rhos = [
        spearmanr(exposure[t], supply[t]).statistic
        for t in range(T)
        if np.ptp(exposure[t]) > 0 and np.ptp(supply[t]) > 0
    ]
    assert len(rhos) >= 5
    assert exposure_stock_rank_correlation(trajectory) == pytest.approx(np.mean(rhos))

    correlations = []
    for i, lead in enumerate([0, 1, 2, 3, 11]):
        x, y = counts["orders"][: T - lead, i], counts["impressions"][lead:, i]
        if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            correlations.append(np.corrcoef(x, y)[0, 1])
    assert len(correlations) == 4  # product 4 (L = 11) has a single pair
    assert order_exposure_lead_correlation(trajectory) == pytest.approx(np.mean(correlations))
