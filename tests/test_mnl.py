"""Exact revenue-maximizing MNL slates (baselines.heuristics.mnl) against brute force and by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from baselines.heuristics.mnl import best_slates, slate_value
from coord_env import load_scenario
from coord_env.core.dynamics import slate_boost


def brute_value(revenue, attraction, no_purchase, boost, slate) -> float:
    """R(S) of one segment's slate of distinct products (no -1, no repeats), by plain loops."""
    numerator, denominator = 0.0, float(no_purchase)
    for i in range(len(revenue)):
        b = boost[slate.index(i)] if i in slate else 1.0
        numerator += revenue[i] * attraction[i] * b
        denominator += attraction[i] * b
    return numerator / denominator


def brute_force(revenue, attraction, no_purchase, slot_boost, allow_empty):
    """(best value, number of products in a best slate) per segment, over every ordered slate."""
    M, N = revenue.shape
    C = slot_boost.shape[1]
    sizes = range(0 if allow_empty else 1, C + 1)
    values, counts = [], []
    for k in range(M):
        best, count = -np.inf, -1
        for size in sizes:
            for slate in itertools.permutations(range(N), size):
                value = brute_value(revenue[k], attraction[k], no_purchase[k], slot_boost[k], slate)
                if value > best + 1e-12:
                    best, count = value, size
        values.append(best)
        counts.append(count)
    return np.array(values), np.array(counts)


def random_instance(seed: int):
    """Small instances with negative revenues, ties in revenue, attraction and slot boost."""
    rng = np.random.default_rng(seed)
    N = int(rng.integers(1, 7))
    C = int(rng.integers(1, min(3, N) + 1))
    M = 3
    if seed % 3 == 0:  # integer data: many ties
        revenue = rng.integers(-3, 6, (M, N)).astype(float)
        attraction = rng.integers(1, 4, (M, N)).astype(float)
    else:
        revenue = rng.normal(2.0, 3.0, (M, N))
        attraction = np.exp(rng.normal(0.0, 1.0, (M, N)))
    no_purchase = np.exp(rng.normal(0.0, 1.0, M))
    delta = rng.uniform(0.0, 2.0, M)
    delta[0] = 0.0 if seed % 5 == 0 else delta[0]  # a slate that does not move choice
    attention = np.sort(rng.choice([0.5, 1.0, 1.5], C))[::-1]  # non-increasing, ties possible
    slot_boost = np.exp(delta[:, None] * attention[None, :])
    return revenue, attraction, no_purchase, slot_boost


def check_encoding(slates: np.ndarray, N: int, allow_empty: bool) -> np.ndarray:
    """The shown products form a prefix; the rest is -1 or repeats slot 1. Returns counts shown."""
    counts = []
    for slate in slates.tolist():
        shown = len(dict.fromkeys(p for p in slate if p >= 0))
        assert all(0 <= p < N for p in slate[:shown])
        assert len(set(slate[:shown])) == shown
        filler = -1 if allow_empty else slate[0]
        assert slate[shown:] == [filler] * (len(slate) - shown)
        counts.append(shown)
    return np.array(counts)


# ---------------------------------------------------------------------------------- (1) brute force
@pytest.mark.parametrize("allow_empty", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed, allow_empty):
    revenue, attraction, no_purchase, slot_boost = random_instance(seed)
    N = revenue.shape[1]
    slates, value = best_slates(
        revenue, attraction, no_purchase, slot_boost, allow_empty=allow_empty
    )
    expected, _ = brute_force(revenue, attraction, no_purchase, slot_boost, allow_empty)
    assert slates.dtype == np.int64 and slates.shape == slot_boost.shape
    assert value.dtype == np.float64 and value.shape == (revenue.shape[0],)
    np.testing.assert_allclose(value, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        slate_value(revenue, attraction, no_purchase, slot_boost, slates), value, rtol=0, atol=1e-12
    )
    check_encoding(slates, N, allow_empty)


@pytest.mark.parametrize("tol", [1e-3, 1.0])
def test_coarse_tolerance_is_still_exact(tol):
    """Bisection to a loose bracket, then Dinkelbach steps: the optimum, not an approximation."""
    for seed in range(20):
        revenue, attraction, no_purchase, slot_boost = random_instance(seed)
        _, value = best_slates(revenue, attraction, no_purchase, slot_boost, tol=tol)
        expected, _ = brute_force(revenue, attraction, no_purchase, slot_boost, False)
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-9)


def test_brute_force_instances_cover_the_interesting_cases():
    """The random instances include slates with fewer than C products and all-negative segments."""
    short = negative = 0
    for seed in range(40):
        revenue, attraction, no_purchase, slot_boost = random_instance(seed)
        _, counts = brute_force(revenue, attraction, no_purchase, slot_boost, True)
        short += int(np.sum(counts < slot_boost.shape[1]))
        negative += int(np.sum(revenue.max(axis=1) < 0))
    assert short >= 5 and negative >= 2


def test_on_the_default_scenario_prices():
    scenario = load_scenario("default")
    revenue = np.broadcast_to(scenario.price, scenario.base_attraction.shape)
    args = (revenue, scenario.base_attraction, scenario.no_purchase_attraction, scenario.slot_boost)
    slates, value = best_slates(*args)
    np.testing.assert_allclose(value, brute_force(*args, False)[0], rtol=1e-12)
    assert np.all((slates >= 0) & (slates < scenario.num_products))  # a valid discrete action


# ------------------------------------------------------------------------------- (2) by hand
def test_hand_computed_single_slot():
    # N = 3, C = 1, w0 = 1, w = (4, 2, 1/4), r = (1, 3, 8), beta = 3 (the shown product's
    # attraction triples). R(S) = sum r w b / (w0 + sum w b):
    #   nothing shown:  (4 + 6 + 2)  / (1 + 4 + 2 + 0.25)  = 12 / 7.25  = 48/29 = 1.655...
    #   show product 0: (12 + 6 + 2) / (1 + 12 + 2 + 0.25) = 20 / 15.25 = 80/61 = 1.311...
    #   show product 1: (4 + 18 + 2) / (1 + 4 + 6 + 0.25)  = 24 / 11.25 = 32/15 = 2.133...
    #   show product 2: (4 + 6 + 6)  / (1 + 4 + 2 + 0.75)  = 16 / 7.75  = 64/31 = 2.064...
    # Product 1 wins over the most attractive (0) and the most lucrative (2) product. Check by the
    # root: at z = 32/15 the scores w (r - z) are (-68, 26, 22) / 15, product 1 is first, and
    # F(z) = (-68 + 26 + 22)/15 + (3 - 1) * 26/15 - 32/15 = (-20 + 52 - 32)/15 = 0.
    revenue = np.array([[1.0, 3.0, 8.0]])
    attraction = np.array([[4.0, 2.0, 0.25]])
    slates, value = best_slates(revenue, attraction, np.ones(1), np.full((1, 1), 3.0))
    assert slates.tolist() == [[1]]
    assert value[0] == pytest.approx(32 / 15, abs=1e-14)
    for product, expected in [(0, 80 / 61), (2, 64 / 31)]:
        other = slate_value(revenue, attraction, np.ones(1), np.full((1, 1), 3.0), [[product]])
        assert other[0] == pytest.approx(expected, abs=1e-14)


# --------------------------------------------------------------------------- (3) equal revenues
@pytest.mark.parametrize("allow_empty", [False, True])
def test_equal_revenues_show_the_most_attractive_products_in_order(allow_empty):
    rng = np.random.default_rng(3)
    M, N, C = 4, 6, 3
    attraction = np.exp(rng.normal(0.0, 1.0, (M, N)))
    revenue = np.full((M, N), 5.0)
    slot_boost = np.exp(np.outer(rng.uniform(0.1, 2.0, M), 1.0 / np.log2(np.arange(C) + 2.0)))
    slates, _ = best_slates(revenue, attraction, np.ones(M), slot_boost, allow_empty=allow_empty)
    np.testing.assert_array_equal(slates, np.argsort(-attraction, axis=1)[:, :C])


# -------------------------------------------------------------------- (4) fewer than C products
def test_showing_fewer_than_c_products_uses_the_duplicate_rule():
    # N = 3, C = 2, w0 = 1, w = (1, 1, 1), r = (10, 1, 1), beta = (2, 1.5).
    #   show [0]:    (20 + 1 + 1)   / (1 + 2 + 1 + 1)   = 22 / 5     = 4.4
    #   show [0, 1]: (20 + 1.5 + 1) / (1 + 2 + 1.5 + 1) = 22.5 / 5.5 = 4.09...
    # Product 1's revenue 1 is below the optimum 4.4, so boosting it would pull the average down:
    # slot 2 stays empty, encoded by repeating product 0 (a repeat counts once, at slot 1).
    args = (np.array([[10.0, 1.0, 1.0]]), np.ones((1, 3)), np.ones(1), np.array([[2.0, 1.5]]))
    slates, value = best_slates(*args)
    assert slates.tolist() == [[0, 0]]
    assert value[0] == pytest.approx(4.4, abs=1e-14)
    assert slate_value(*args, np.array([[0, 1]]))[0] == pytest.approx(22.5 / 5.5, abs=1e-14)
    slates, value = best_slates(*args, allow_empty=True)
    assert slates.tolist() == [[0, -1]]
    assert value[0] == pytest.approx(4.4, abs=1e-14)


def test_all_negative_revenues_force_one_product_unless_empty_is_allowed():
    # N = 2, C = 1, w0 = 2, w = (1, 1), r = (-1, -2), beta = 2.
    #   nothing shown:  (-1 - 2) / (2 + 1 + 1) = -0.75
    #   show product 0: (-2 - 2) / (2 + 2 + 1) = -0.8
    #   show product 1: (-1 - 4) / (2 + 1 + 2) = -1.0
    # The env's discrete action must name a product: the least harmful one is product 0.
    args = (np.array([[-1.0, -2.0]]), np.ones((1, 2)), np.full(1, 2.0), np.full((1, 1), 2.0))
    slates, value = best_slates(*args)
    assert slates.tolist() == [[0]]
    assert value[0] == pytest.approx(-0.8, abs=1e-14)
    slates, value = best_slates(*args, allow_empty=True)
    assert slates.tolist() == [[-1]]
    assert value[0] == pytest.approx(-0.75, abs=1e-14)


# ------------------------------------------------------------------------- (5) vectorization
@pytest.mark.parametrize("allow_empty", [False, True])
def test_segments_at_once_equal_segments_one_by_one(allow_empty):
    rng = np.random.default_rng(5)
    M, N = 9, 7
    revenue = rng.normal(2.0, 3.0, (M, N))
    revenue[0] = -np.abs(revenue[0])  # an all-negative segment
    revenue[1] = 4.0  # an all-equal segment
    attraction = np.exp(rng.normal(0.0, 1.0, (M, N)))
    no_purchase = np.exp(rng.normal(0.0, 1.0, M))
    slot_boost = np.exp(np.outer(rng.uniform(0.0, 2.0, M), [1.0, 0.6, 0.5]))
    slates, value = best_slates(
        revenue, attraction, no_purchase, slot_boost, allow_empty=allow_empty
    )
    for k in range(M):
        one = slice(k, k + 1)
        slate_k, value_k = best_slates(
            revenue[one],
            attraction[one],
            no_purchase[one],
            slot_boost[one],
            allow_empty=allow_empty,
        )
        np.testing.assert_array_equal(slate_k[0], slates[k])
        assert value_k[0] == value[k]


# ----------------------------------------------------------------------------- slate_value, input
def test_slate_value_agrees_with_the_env_slate_boost():
    """Empty slots (-1) and repeats count as in coord_env.core.dynamics.slate_boost."""
    scenario = load_scenario("default")
    rng = np.random.default_rng(7)
    M, N, C = scenario.num_segments, scenario.num_products, scenario.num_slots
    revenue = rng.normal(5.0, 5.0, (M, N))
    attraction, no_purchase = scenario.base_attraction, scenario.no_purchase_attraction
    for _ in range(20):
        slates = rng.integers(-1, N, (M, C))
        slates[0, 1] = slates[0, 0]  # a repeat
        boost, _ = slate_boost(scenario, slates[None])
        weight = attraction * boost[0]
        expected = (revenue * weight).sum(axis=1) / (no_purchase + weight.sum(axis=1))
        np.testing.assert_allclose(
            slate_value(revenue, attraction, no_purchase, scenario.slot_boost, slates),
            expected,
            rtol=1e-14,
        )


def test_rejects_bad_input():
    ok = (np.ones((1, 3)), np.ones((1, 3)), np.ones(1), np.array([[2.0, 1.5]]))
    with pytest.raises(ValueError, match="non-increasing"):
        best_slates(*ok[:3], np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="non-increasing"):
        best_slates(*ok[:3], np.array([[1.0, 0.5]]))
    with pytest.raises(ValueError, match="more slots"):
        best_slates(*ok[:3], np.full((1, 4), 2.0))
    with pytest.raises(ValueError, match="no_purchase"):
        best_slates(*ok[:2], np.zeros(1), ok[3])
    with pytest.raises(ValueError, match="finite"):
        best_slates(np.array([[1.0, np.nan, 1.0]]), *ok[1:])
    with pytest.raises(ValueError, match="slate entries"):
        slate_value(*ok, np.array([[0, 3]]))
    with pytest.raises(ValueError, match="slates must be integers"):
        slate_value(*ok, np.array([[0.0, 1.0]]))
