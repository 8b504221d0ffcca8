"""The count-based kernel against a customer-by-customer reference simulation of SPEC section 1.2.

The kernel never loops over customers: it samples counts (Poisson thinning, multinomials,
hypergeometric rationing). This test simulates the same tick the slow, literal way (customers arrive,
choose by MNL, are served in random order, retry once) and checks that both give the same
distribution of every reported count.
"""

import numpy as np
import pytest

from coord_env import load_scenario
from coord_env.core import reset, step

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


@pytest.fixture(scope="module")
def scenario():
    # Three products, two segments; product 0 is scarce and product 1 nearly so, so shortages,
    # substitution and over-demanded substitutes all happen often.
    return load_scenario(
        "tiny",
        price=[10.0, 12.0, 9.0],
        cost=[5.0, 6.0, 4.0],
        holding_cost=[0.1, 0.1, 0.1],
        lost_sale_penalty=[2.0, 2.0, 2.0],
        fixed_order_cost=[0.0, 0.0, 0.0],
        salvage_value=None,
        lead_time=[1, 1, 1],
        utility=[[0.5, 0.0, -0.5], [0.0, 0.5, -1.0]],
        arrival_rate=[6.0, 4.0],
        substitution=[0.7, 0.4],
        drift_std=[0.0, 0.0, 0.0],
        season_amplitude=0.0,
    )


def test_kernel_matches_customer_by_customer_simulation(scenario):
    s = scenario
    stock = np.array([2, 4, 30])
    slates = np.array([[[1], [2]]])  # segment 0 sees product 1, segment 1 sees product 2
    rng = np.random.default_rng(2024)
    state = reset(s, rng, batch_size=DRAWS)
    state.on_hand[:] = stock
    out = step(s, state, np.zeros((DRAWS, 3), dtype=np.int64), np.repeat(slates, DRAWS, 0), rng)
    kernel = {
        "sales": out.sales,
        "substitute_sales": out.substitute_sales,
        "lost": out.lost,
        "purchases": out.purchases,
    }

    boost = np.ones((2, 3))
    boost[0, 1] = np.exp(s.responsiveness[0] * s.slot_attention[0])
    boost[1, 2] = np.exp(s.responsiveness[1] * s.slot_attention[0])
    attraction = np.exp(s.utility) * boost
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
        # the spread matters too: compare standard deviations (normal-theory SE of an SD)
        sd_se = np.sqrt(a.var(axis=0) / (2 * DRAWS) + b.var(axis=0) / (2 * DRAWS))
        assert np.all(np.abs(a.std(axis=0) - b.std(axis=0)) <= Z * sd_se + 1e-9), name
    # the scenario exercised every path
    assert kernel["lost"][:, 0].mean() > 0.2 and kernel["substitute_sales"].sum() > 0
    assert np.mean(kernel["sales"][:, 1] == 4) > 0.05  # product 1 often sells out


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
