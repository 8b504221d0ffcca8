"""One tick of the retail kernel (coord_env.core.dynamics) against closed forms: MNL shares,
conservation, lead times, money, lost sales.

Statistical checks use a batch of B independent retailers for one tick and a tolerance of
Z standard errors of the estimator, so a correct kernel fails them with negligible probability
(and the seeds are fixed, so they are deterministic).
"""

import numpy as np
import pytest

from coord_env import load_scenario
from coord_env.core import reset, step
from coord_env.core.dynamics import _admit

Z = 5.0  # standard errors allowed
AMPLE = 10**7


def mnl_probabilities(scenario, slates=None):
    """(M, N) P_ki at period 0 with no drift, from the formulas in docs/model.md."""
    attraction = np.exp(scenario.utility) * scenario.product_shock[0]
    if slates is not None:
        for k, slate in enumerate(slates):
            seen = set()
            for j, product in enumerate(slate):
                if product >= 0 and product not in seen:
                    seen.add(product)
                    attraction[k, product] *= np.exp(
                        scenario.responsiveness[k] * scenario.slot_attention[j]
                    )
    denominator = np.exp(scenario.no_purchase_utility) + attraction.sum(axis=1)
    return attraction / denominator[:, None]


def one_tick(scenario, batch, seed, slates, on_hand=AMPLE, orders=None):
    rng = np.random.default_rng(seed)
    state = reset(scenario, rng, batch_size=batch)
    state.on_hand[:] = on_hand
    orders = np.zeros((batch, scenario.num_products), dtype=np.int64) if orders is None else orders
    outcome = step(scenario, state, orders, np.broadcast_to(slates, (batch, *slates.shape)), rng)
    return state, outcome


@pytest.fixture(scope="module")
def stationary_default():
    return load_scenario("default", season_amplitude=0.0, drift_std=0.0)


@pytest.mark.parametrize("with_slate", [False, True], ids=["no-slate", "slate"])
def test_sales_by_segment_match_mnl_with_ample_stock(stationary_default, with_slate):
    s = stationary_default
    M, C, B = s.num_segments, s.num_slots, 20_000
    slates = (
        np.array([[k % s.num_products, (k + 3) % s.num_products] for k in range(M)])
        if with_slate
        else np.full((M, C), -1)
    )
    _, outcome = one_tick(s, B, seed=1, slates=slates)
    probabilities = mnl_probabilities(s, slates if with_slate else None)
    expected = s.tick_arrival_rate[0][:, None] * probabilities  # Poisson means per (k, i)
    observed = outcome.segment_sales.mean(axis=0)
    standard_error = np.sqrt(expected / B)
    assert np.all(np.abs(observed - expected) <= Z * standard_error + 1e-12)
    # Shares of each segment's visitors match P_ki.
    visits = outcome.visits.sum(axis=0)
    shares = outcome.segment_sales.sum(axis=0) / visits[:, None]
    share_se = np.sqrt(probabilities * (1 - probabilities) / visits[:, None])
    assert np.all(np.abs(shares - probabilities) <= Z * share_se)
    assert outcome.lost.sum() == 0 and outcome.substitute_sales.sum() == 0


def test_slate_boost_raises_the_shown_product_share(stationary_default):
    s = stationary_default
    plain = mnl_probabilities(s)
    boosted = mnl_probabilities(s, np.array([[0, 1]] * s.num_segments))
    assert np.all(boosted[:, 0] > plain[:, 0]) and np.all(boosted[:, 2:] < plain[:, 2:])
    # the first slot's attention is larger than the second's
    assert np.all(boosted[:, 0] / plain[:, 0] > boosted[:, 1] / plain[:, 1])


def test_duplicate_slate_entry_counts_once_at_first_position(stationary_default):
    s = stationary_default
    rng = np.random.default_rng(0)
    from coord_env.core import slate_boost

    boost, shown = slate_boost(s, np.array([[[3, 3], [4, -1], [-1, -1], [5, 6]]]))
    assert boost[0, 0, 3] == pytest.approx(np.exp(s.responsiveness[0] * s.slot_attention[0]))
    assert shown[0].sum() == 4  # 3 | 4 | nothing | 5, 6
    assert np.all(boost[0, 2] == 1.0)
    del rng


def test_units_are_conserved_every_tick():
    s = load_scenario("capacity")  # a binding warehouse, so disposal happens
    rng = np.random.default_rng(3)
    B = 8
    state = reset(s, rng, batch_size=B)
    disposed_total = 0
    for _ in range(s.num_ticks):
        before_on_hand = state.on_hand.copy()
        before_pipeline = state.pipeline.sum(axis=2)
        due = state.pipeline[:, :, 0].copy()
        orders = rng.integers(0, 3 * s.order_step * 10, size=(B, s.num_products))
        slates = rng.integers(0, s.num_products, size=(B, s.num_segments, s.num_slots))
        out = step(s, state, orders, slates, rng)
        assert np.array_equal(out.received + out.disposed, due)
        assert np.array_equal(state.on_hand, before_on_hand + out.received - out.sales)
        assert np.array_equal(state.pipeline.sum(axis=2), before_pipeline - due + out.ordered)
        assert np.all(state.on_hand >= 0)
        assert np.all(state.on_hand.sum(axis=1) <= s.warehouse_capacity)
        disposed_total += out.disposed.sum()
    assert disposed_total > 0, "the capacity scenario should exercise disposal"


@pytest.mark.parametrize("scenario_name", ["default", "multiscale"])
def test_an_order_arrives_exactly_lead_time_periods_later(scenario_name):
    s = load_scenario(scenario_name)
    R = s.ticks_per_period
    for product in range(s.num_products):
        rng = np.random.default_rng(product)
        state = reset(s, rng)
        orders = np.zeros((1, s.num_products), dtype=np.int64)
        orders[0, product] = 7
        none = np.zeros_like(orders)
        slates = np.zeros((1, s.num_segments, s.num_slots), dtype=np.int64)
        arrivals = []
        for tick in range(s.num_ticks):
            out = step(s, state, orders if tick == 0 else none, slates, rng)
            arrivals.append(out.received[0, product])
        assert np.nonzero(arrivals)[0].tolist() == [s.lead_time[product] * R]
        assert arrivals[s.lead_time[product] * R] == 7


def test_random_lead_time_order_lands_in_its_drawn_period():
    s = load_scenario("large", horizon=30, shocks=[])
    rng = np.random.default_rng(5)
    state = reset(s, rng)
    drawn = state.lead_time_path[0, 0]
    orders = np.full((1, s.num_products), 2, dtype=np.int64)
    slates = np.zeros((1, s.num_segments, s.num_slots), dtype=np.int64)
    step(s, state, orders, slates, rng)
    expected = np.zeros_like(state.pipeline[0])
    expected[np.arange(s.num_products), drawn - 1] = 2
    assert np.array_equal(state.pipeline[0], expected)


def test_money_adds_up_and_salvage_comes_at_the_end():
    s = load_scenario("capacity")  # has fixed order costs
    rng = np.random.default_rng(11)
    state = reset(s, rng, batch_size=3)
    for tick in range(s.num_ticks):
        on_hand = state.on_hand.copy()
        orders = rng.integers(0, 20, size=(3, s.num_products))
        orders[:, ::3] = 0
        slates = rng.integers(0, s.num_products, size=(3, s.num_segments, s.num_slots))
        out = step(s, state, orders, slates, rng)
        assert out.purchase_cost == pytest.approx(
            orders @ s.cost + (orders > 0) @ s.fixed_order_cost
        )
        assert out.revenue == pytest.approx(out.sales @ s.price)
        assert out.holding_cost == pytest.approx(state.on_hand @ s.holding_cost)
        assert out.lost_sale_penalty == pytest.approx(out.lost @ s.lost_sale_penalty)
        assert out.profit == pytest.approx(
            out.revenue + out.salvage - out.purchase_cost - out.holding_cost - out.lost_sale_penalty
        )
        assert np.all(out.sales <= on_hand + out.received)
        if tick < s.num_ticks - 1:
            assert np.all(out.salvage == 0)
    left = state.on_hand + state.pipeline.sum(axis=2)
    assert out.salvage == pytest.approx(left @ s.salvage_value)
    assert np.all(out.salvage > 0)


def test_holding_cost_is_spread_over_ticks():
    s = load_scenario("multiscale")
    rng = np.random.default_rng(2)
    state = reset(s, rng)
    slates = np.zeros((1, s.num_segments, s.num_slots), dtype=np.int64)
    out = step(s, state, np.zeros((1, s.num_products), dtype=np.int64), slates, rng)
    assert out.holding_cost[0] == pytest.approx(state.on_hand[0] @ s.holding_cost / 4)


def test_lost_sales_only_when_first_choice_is_out_of_stock():
    s = load_scenario("default")
    rng = np.random.default_rng(21)
    B = 16
    state = reset(s, rng, batch_size=B)
    lost_seen = 0
    for _ in range(40):
        orders = rng.integers(0, 2 * s.order_step, size=(B, s.num_products))
        slates = rng.integers(0, s.num_products, size=(B, s.num_segments, s.num_slots))
        on_hand = state.on_hand.copy()
        due = state.pipeline[:, :, 0].copy()
        out = step(s, state, orders, slates, rng)
        stock = on_hand + due  # no capacity limit in default
        shortfall = np.maximum(out.demand - stock, 0)
        assert np.all(out.lost <= shortfall)
        assert np.all(out.lost[shortfall == 0] == 0)
        # a product sells out before anyone is lost on it
        assert np.all(state.on_hand[out.lost > 0] == 0)
        lost_seen += out.lost.sum()
    assert lost_seen > 0


def test_without_substitution_every_unserved_customer_is_lost():
    s = load_scenario("default", substitution=[0.0] * 4)
    _, out = one_tick(s, 50, seed=4, slates=np.zeros((4, 2), dtype=np.int64), on_hand=3)
    assert np.array_equal(out.lost, np.maximum(out.demand - 3, 0))
    assert out.substitute_sales.sum() == 0


def test_substitute_choice_matches_mnl_over_products_in_stock():
    # Product 0 has no stock, every other product ample; with sigma = 1 every unserved customer of
    # product 0 retries once, choosing among products 1..N-1 and no purchase.
    s = load_scenario("default", substitution=[1.0] * 4, season_amplitude=0.0, drift_std=0.0)
    N, B = s.num_products, 20_000
    on_hand = np.full(N, AMPLE)
    on_hand[0] = 0
    slates = np.full((s.num_segments, s.num_slots), -1)
    _, out = one_tick(s, B, seed=8, slates=slates, on_hand=on_hand)
    probabilities = mnl_probabilities(s)
    rate = s.tick_arrival_rate[0]
    attraction = np.exp(s.utility)
    in_stock = attraction.copy()
    in_stock[:, 0] = 0
    substitute = in_stock / (np.exp(s.no_purchase_utility) + in_stock.sum(axis=1))[:, None]
    expected = (rate * probabilities[:, 0]) @ substitute  # (N,) mean substitute sales
    observed = out.substitute_sales.mean(axis=0)
    assert observed[0] == 0
    assert np.all(np.abs(observed - expected) <= Z * np.sqrt(expected / B) + 1e-12)
    expected_lost = (rate * probabilities[:, 0]) @ (1 - substitute.sum(axis=1))
    assert out.lost[:, 0].mean() == pytest.approx(expected_lost, abs=Z * np.sqrt(expected_lost / B))


def test_substitutes_never_oversell_scarce_stock():
    s = load_scenario("default", substitution=[1.0] * 4)
    on_hand = np.ones(s.num_products, dtype=np.int64)  # one unit each: substitutes over-demand
    state, out = one_tick(s, 500, seed=9, slates=np.zeros((4, 2), dtype=np.int64), on_hand=on_hand)
    assert np.all(state.on_hand >= 0)
    assert np.all(out.sales <= 1)
    assert np.array_equal(out.segment_sales.sum(axis=1), out.sales)
    assert np.array_equal(out.purchases, out.segment_sales.sum(axis=2))
    # every customer is accounted for: bought, walked away at first, or lost
    assert np.all(out.purchases.sum(axis=1) <= out.visits.sum(axis=1))
    assert np.array_equal(
        out.demand.sum(axis=1) - (out.sales - out.substitute_sales).sum(axis=1),
        out.lost.sum(axis=1) + out.substitute_sales.sum(axis=1),
    )


def test_arrivals_follow_the_seasonal_rate():
    s = load_scenario("small", drift_std=0.0)
    B = 4000
    rng = np.random.default_rng(12)
    state = reset(s, rng, batch_size=B)
    state.on_hand[:] = AMPLE
    zeros = np.zeros((B, s.num_products), dtype=np.int64)
    slates = np.zeros((B, s.num_segments, s.num_slots), dtype=np.int64)
    for period in range(14):
        out = step(s, state, zeros, slates, rng)
        expected = s.arrival_rate * s.season[period]
        se = np.sqrt(expected / B)
        assert np.all(np.abs(out.visits.mean(axis=0) - expected) <= Z * se)


def test_product_and_segment_shocks_scale_demand():
    shocks = [
        {"period": 0, "target": "product", "index": 2, "multiplier": 3.0},
        {"period": 0, "target": "segment", "index": 1, "multiplier": 2.0},
    ]
    s = load_scenario("default", season_amplitude=0.0, drift_std=0.0, shocks=shocks)
    B = 20_000
    _, out = one_tick(s, B, seed=13, slates=np.full((4, 2), -1))
    attraction = np.exp(s.utility)
    attraction[:, 2] *= 3.0
    probabilities = attraction / (1.0 + attraction.sum(axis=1))[:, None]
    rate = s.arrival_rate.copy()
    rate[1] *= 2.0
    expected = rate[:, None] * probabilities
    observed = out.segment_sales.mean(axis=0)
    assert np.all(np.abs(observed - expected) <= Z * np.sqrt(expected / B) + 1e-12)


def test_capacity_admission_shares_space_by_largest_remainder():
    arriving = np.array([[5, 3, 2]])
    on_hand = np.array([[10, 0, 0]])
    stored, disposed = _admit(arriving, on_hand, capacity=15.0)
    # free space 5 shared 5:3:2 -> 2.5, 1.5, 1.0 -> floors 2, 1, 1 (+1 to the largest remainder, ties
    # to the lower index)
    assert stored.tolist() == [[3, 1, 1]]
    assert disposed.tolist() == [[2, 2, 1]]
    stored, disposed = _admit(arriving, on_hand, capacity=float("inf"))
    assert stored.tolist() == arriving.tolist() and disposed.sum() == 0
    stored, disposed = _admit(arriving, np.array([[20, 0, 0]]), capacity=15.0)
    assert stored.sum() == 0 and disposed.tolist() == arriving.tolist()


def test_order_up_to_targets_the_position_after_arrivals_and_disposal():
    s = load_scenario("tiny", warehouse_capacity=10)
    rng = np.random.default_rng(0)
    state = reset(s, rng)
    state.on_hand[:] = [8, 0]
    state.pipeline[0, :, 0] = [30, 1]  # due now: only 2 units of space are free
    slates = np.zeros((1, 2, 1), dtype=np.int64)
    out = step(s, state, np.array([[40, 5]]), slates, rng, order_up_to=True)
    assert out.received.tolist() == [[2, 0]] and out.disposed.tolist() == [[28, 1]]
    # positions after arrivals are 10 and 0: disposed units do not count toward the targets
    assert out.ordered.tolist() == [[30, 5]]
    assert state.pipeline[0, :, 0].tolist() == [30, 5]
