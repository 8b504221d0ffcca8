"""The count-based kernel against a customer-by-customer reference simulation of SPEC section 1.2.

The kernel never loops over customers: it samples counts (Poisson thinning, multinomials,
hypergeometric rationing). This test simulates the same tick the slow, literal way (customers arrive,
choose by MNL, are served in random order, retry once) and checks that both give the same
distribution of every reported count.
"""

import numpy as np
import pytest

from coord_env import load_scenario
from coord_env.core import reset, slate_boost, step

Z = 5.0
DRAWS = 12_000


def reference_tick(rng, attraction, no_purchase, arrival, substitution, stock):
    """One tick, customer by customer. Returns sales, substitute sales, lost (N,), purchases (M,)."""
    M, N = attraction.shape
    first_choice = np.hstack([no_purchase[:, None], attraction])
    first_choice /= first_choice.sum(axis=1, keepdims=True)
    segments = np.repeat(np.arange(M), rng.poisson(arrival))
    rng.shuffle(segments)  # customers arrive in random order
    stock = stock.copy()
    sales = np.zeros(N, dtype=int)
    substitute_sales = np.zeros(N, dtype=int)
    lost = np.zeros(N, dtype=int)
    purchases = np.zeros(M, dtype=int)
    unserved = []
    for k in segments:
        choice = rng.choice(N + 1, p=first_choice[k]) - 1
        if choice < 0:
            continue
        if stock[choice] > 0:
            stock[choice] -= 1
            sales[choice] += 1
            purchases[k] += 1
        else:
            unserved.append((k, choice))
    in_stock = stock > 0  # substitutes: products still in stock after first-choice service
    retry_order = rng.permutation(len(unserved))
    for index in retry_order:  # retriers are served in random order too
        k, origin = unserved[index]
        if rng.random() >= substitution[k]:
            lost[origin] += 1
            continue
        weights = np.hstack([no_purchase[k], attraction[k] * in_stock])
        pick = rng.choice(N + 1, p=weights / weights.sum()) - 1
        if pick >= 0 and stock[pick] > 0:
            stock[pick] -= 1
            sales[pick] += 1
            substitute_sales[pick] += 1
            purchases[k] += 1
        else:
            lost[origin] += 1
    return sales, substitute_sales, lost, purchases


def sd_variance(x):
    """Sampling variance of the standard deviation of each column of x (delta method)."""
    variance = x.var(axis=0)
    fourth = ((x - x.mean(axis=0)) ** 4).mean(axis=0)
    return (fourth - variance**2) / len(x) / np.maximum(4 * variance, 1e-12)


def retail(utility, arrival_rate, substitution):
    """A one-period scenario with the given preferences, no drift and no seasons."""
    N = len(utility[0])
    return load_scenario(
        "tiny",
        price=[10.0] * N,
        cost=[5.0] * N,
        holding_cost=[0.1] * N,
        lost_sale_penalty=[2.0] * N,
        fixed_order_cost=[0.0] * N,
        salvage_value=None,
        lead_time=[1] * N,
        utility=utility,
        arrival_rate=arrival_rate,
        substitution=substitution,
        no_purchase_utility=[0.0] * len(arrival_rate),
        responsiveness=[1.5] * len(arrival_rate),
        drift_std=[0.0] * N,
        season_amplitude=0.0,
    )


SETTINGS = {
    # Three products, two segments; product 0 is scarce and product 1 nearly so, so shortages,
    # substitution and over-demanded substitutes all happen often.
    "three-products": (
        retail([[0.5, 0.0, -0.5], [0.0, 0.5, -1.0]], [6.0, 4.0], [0.7, 0.4]),
        np.array([2, 4, 30]),
        np.array([[1], [2]]),
    ),
    # large-shaped: many products short at once and three segments retrying onto the same few
    # substitutes (products 5 and 6), which they over-demand.
    "many-short": (
        retail(
            [
                [0.8, 0.6, 0.4, 0.2, 0.0, 0.3, -0.5],
                [0.2, 0.9, 0.1, 0.5, 0.3, 0.6, -0.2],
                [0.4, 0.3, 0.7, 0.6, 0.2, -0.1, 0.4],
            ],
            [7.0, 6.0, 5.0],
            [0.9, 0.6, 0.8],
        ),
        np.array([1, 2, 0, 1, 3, 3, 2]),
        np.array([[5], [6], [0]]),
    ),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_kernel_matches_customer_by_customer_simulation(setting):
    s, stock, slates = SETTINGS[setting]
    N = s.num_products
    rng = np.random.default_rng(2024)
    state = reset(s, rng, batch_size=DRAWS)
    state.on_hand[:] = stock
    out = step(
        s, state, np.zeros((DRAWS, N), dtype=np.int64), np.repeat(slates[None], DRAWS, 0), rng
    )
    kernel = {
        "sales": out.sales,
        "substitute_sales": out.substitute_sales,
        "lost": out.lost,
        "purchases": out.purchases,
    }

    boost, _ = slate_boost(s, slates[None])
    attraction = np.exp(s.utility) * boost[0]
    reference_rng = np.random.default_rng(7)
    rows = [
        reference_tick(
            reference_rng,
            attraction,
            np.exp(s.no_purchase_utility),
            s.arrival_rate,
            s.substitution,
            stock,
        )
        for _ in range(DRAWS)
    ]
    reference = {
        name: np.array([row[index] for row in rows])
        for index, name in enumerate(["sales", "substitute_sales", "lost", "purchases"])
    }
    for name in kernel:
        a, b = kernel[name].astype(float), reference[name].astype(float)
        se = np.sqrt(a.var(axis=0) / DRAWS + b.var(axis=0) / DRAWS)
        difference = np.abs(a.mean(axis=0) - b.mean(axis=0))
        assert np.all(difference <= Z * se + 1e-9), (name, a.mean(axis=0), b.mean(axis=0), se)
        # the spread matters too: compare standard deviations (delta-method SE of an SD, from the
        # fourth central moment, so it holds for skewed counts such as a nearly always sold unit)
        sd_se = np.sqrt(sd_variance(a) + sd_variance(b))
        assert np.all(np.abs(a.std(axis=0) - b.std(axis=0)) <= Z * sd_se + 1e-9), name
    # the setting exercised every path: lost sales, substitution, and sold-out substitutes
    assert kernel["lost"][:, 0].mean() > 0.2 and kernel["substitute_sales"].sum() > 0
    substitutes = kernel["substitute_sales"] > 0
    sold_out = kernel["sales"] == stock
    assert np.mean(np.any(substitutes & sold_out, axis=1)) > 0.05  # over-demanded substitutes
    if setting == "many-short":
        # several products short in the same tick, several segments substituting in it
        assert np.mean((out.demand > stock).sum(axis=1) >= 4) > 0.3
        substituting = (out.segment_sales.sum(axis=2) > 0).sum(axis=1)
        assert np.mean(substituting >= 3) > 0.3


def test_unresponsive_segment_still_sees_its_slate():
    s = load_scenario("tiny", responsiveness=[0.0, 1.5])
    rng = np.random.default_rng(0)
    state = reset(s, rng, batch_size=200)
    out = step(
        s, state, np.zeros((200, 2), dtype=np.int64), np.tile([[[1], [-1]]], (200, 1, 1)), rng
    )
    # segment 0 shows product 1 with no boost: its visitors are impressions of product 1
    assert np.array_equal(out.impressions[:, 1], out.visits[:, 0])
    assert np.all(out.impressions[:, 0] == 0)
