"""The managerial-insight checks (SPEC section 5) on hand-made trajectories."""

import math

import numpy as np
import pytest

from coord_env.analysis.insights import (
    INSIGHTS,
    insight_checks,
    substitute_stock_exposure_correlation,
)
from coord_env.harness.metrics import exposure_stock_rank_correlation
from tests.test_metrics import make_trajectory


def test_exposure_that_follows_or_flees_the_substitutes_stock_scores_plus_or_minus_one():
    trajectory = make_trajectory(
        impressions=[[1, 9], [9, 1], [1, 9]],
        on_hand_start=[[5, 0], [0, 5], [5, 0]],
        **_two_product_fill(),
    )
    # product 0's exposure [1, 9, 1] against product 1's stock [0, 5, 0]: +1; the other way: +1
    assert substitute_stock_exposure_correlation(trajectory) == pytest.approx(1.0)
    flipped = make_trajectory(
        impressions=[[1, 9], [9, 1], [1, 9]],
        on_hand_start=[[0, 5], [5, 0], [0, 5]],
        **_two_product_fill(),
    )
    assert substitute_stock_exposure_correlation(flipped) == pytest.approx(-1.0)


def test_the_correlation_uses_the_sum_of_every_other_product():
    trajectory = make_trajectory()  # 4 periods, 3 products
    stock = np.asarray(trajectory.on_hand_start, dtype=float)
    expected = [
        np.corrcoef(trajectory.impressions[:, i], stock.sum(axis=1) - stock[:, i])[0, 1]
        for i in range(3)
    ]
    assert substitute_stock_exposure_correlation(trajectory) == pytest.approx(np.mean(expected))


def test_a_fixed_slate_has_no_defined_value():
    trajectory = make_trajectory(impressions=[[5, 5, 5]] * 4)
    assert math.isnan(substitute_stock_exposure_correlation(trajectory))


def test_insight_checks_average_the_defined_episodes():
    defined, undefined = make_trajectory(), make_trajectory(impressions=[[5, 5, 5]] * 4)
    checks = insight_checks([defined, undefined])
    assert set(checks) == set(INSIGHTS) == {"own_stock", "substitute_stock", "orders_lead"}
    assert checks["substitute_stock"] == pytest.approx(
        substitute_stock_exposure_correlation(defined)
    )
    assert checks["own_stock"] == pytest.approx(exposure_stock_rank_correlation(defined))


def _two_product_fill():
    """The other fields of a 3-period, 2-product trajectory (values irrelevant here)."""
    zeros = [[0, 0]] * 3
    return {
        "orders": zeros,
        "received": zeros,
        "on_hand_end": zeros,
        "demand": zeros,
        "sales": zeros,
        "substitute_sales": zeros,
        "lost": zeros,
        "oos_impressions": [0, 0, 0],
        "visits": [1, 1, 1],
        "profit": [0.0, 0.0, 0.0],
        "lead_time": [1.0, 1.0],
    }
