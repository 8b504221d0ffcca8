"""The numpy kernel that the compiled kernel replaced (issue 20), kept only as the tests' reference.

``step`` here is ``coord_env.core.step`` as it was before the port, verbatim but for its imports:
tests compare the compiled kernel with it draw for draw (tests/test_golden_trajectories.py).
The package must not import this module: it keeps one kernel.
"""

from __future__ import annotations

import numpy as np

from coord_env.core.dynamics import Outcome, _index, _record, slate_boost
from coord_env.core.state import State
from coord_env.scenarios.scenario import Scenario


def _multinomial(rng: np.random.Generator, n: np.ndarray, pvals: np.ndarray) -> np.ndarray:
    """``rng.multinomial(n, pvals)`` for rows n (R,) and pvals (R, K), skipping rows with n = 0.

    numpy's array-argument path costs tens of microseconds a call whatever its size, its
    scalar-argument path a few a row, so up to ``_ROW_LOOP_MAX`` rows are drawn one by one (a loop
    over products or segments, never over customers). Either path draws the same law.
    """
    out = np.zeros(pvals.shape, dtype=np.int64)
    nonzero = np.flatnonzero(n)
    if nonzero.size > _ROW_LOOP_MAX:
        out[nonzero] = rng.multinomial(n[nonzero], pvals[nonzero])
    else:
        for row in nonzero.tolist():
            out[row] = rng.multinomial(n[row], pvals[row])
    return out


_ROW_LOOP_MAX = 16


def _customer_counts(
    rng: np.random.Generator, pvals: np.ndarray, total_rate: float, cap: int
) -> np.ndarray:
    """Customers per category, shape (B, K): independent Poisson(total_rate * pvals) counts.

    By Poisson thinning these are the counts of Poisson(total_rate) arrivals split by ``pvals``.
    For one retailer, numpy's scalar-argument calls (a Poisson total, one multinomial split) are
    the fastest; for a batch, one vectorized Poisson draw per cell beats the array-argument
    multinomial. Both draw the same law. Each count is truncated at ``cap``.
    """
    # No count exceeds its total, so the truncation only acts when a total exceeds the cap.
    if pvals.shape[0] == 1:
        total = rng.poisson(total_rate)
        counts = rng.multinomial(total, pvals[0])[None]
        return np.minimum(counts, cap) if total > cap else counts
    counts = rng.poisson(total_rate * pvals)
    return np.minimum(counts, cap) if counts.max() > cap else counts


def _admit(
    arriving: np.ndarray, on_hand: np.ndarray, capacity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split arriving units into stored and disposed under a shared capacity.

    When the arrivals exceed the free space, space is shared in proportion to the arriving
    quantities, rounded by largest remainder (ties to the lower product index).
    """
    free = np.maximum(capacity - on_hand.sum(axis=1), 0.0)
    total = arriving.sum(axis=1)
    over = total > free
    if not np.any(over):
        return arriving, np.zeros_like(arriving)
    stored = arriving.copy()
    share = arriving[over] * (free[over] / total[over])[:, None]
    floor = np.floor(share)
    leftover = np.floor(free[over]) - floor.sum(axis=1)
    order = np.argsort(-(share - floor), axis=1, kind="stable")
    rank = np.argsort(order, axis=1, kind="stable")
    stored[over] = (floor + (rank < leftover[:, None])).astype(np.int64)
    return stored, arriving - stored


def step(
    scenario: Scenario,
    state: State,
    orders: np.ndarray,
    slates: np.ndarray,
    rng: np.random.Generator,
    *,
    order_up_to: bool = False,
) -> Outcome:
    """Advance every retailer by one tick, in place, and report what happened.

    Parameters
    ----------
    scenario : Scenario
    state : State
        Advanced in place; must not be past the horizon.
    orders : ndarray of int64, shape (B, N)
        Units to order, or with ``order_up_to`` the target inventory positions (on-hand plus
        pipeline after the period's arrivals, so units disposed of for lack of space do not count);
        applied only when the tick starts a period.
    slates : ndarray of int64, shape (B, M, C)
        Products shown per segment and slot (-1: empty slot).
    rng : numpy.random.Generator
    order_up_to : bool
        Whether ``orders`` are target positions rather than quantities.

    Returns
    -------
    Outcome

    Examples
    --------
    >>> import numpy as np
    >>> from coord_env import load_scenario
    >>> from coord_env.core import reset
    >>> scenario, rng = load_scenario("tiny"), np.random.default_rng(0)
    >>> state = reset(scenario, rng)
    >>> out = step(scenario, state, np.array([[3, 3]]), np.array([[[0], [1]]]), rng)
    >>> state.tick, out.ordered.tolist()
    (1, [[3, 3]])
    """
    s = scenario
    B, N, M = state.on_hand.shape[0], s.num_products, s.num_segments
    R = s.ticks_per_period
    t, r = divmod(state.tick, R)
    on_hand = state.on_hand

    # 1. Period start: pipeline arrivals (capacity applies), then the orders.
    if r == 0:
        arriving = state.pipeline[:, :, 0].copy()
        state.pipeline[:, :, :-1] = state.pipeline[:, :, 1:]
        state.pipeline[:, :, -1] = 0
        if s.unlimited_capacity:
            received, disposed = arriving, np.zeros_like(arriving)
        else:
            received, disposed = _admit(arriving, on_hand, s.warehouse_capacity)
        on_hand += received
        if order_up_to:  # orders holds target inventory positions, reached after the arrivals
            position = on_hand + state.pipeline.sum(axis=2)
            ordered = np.maximum(np.asarray(orders, dtype=np.int64) - position, 0)
        else:
            ordered = np.array(orders, dtype=np.int64)
        if state.lead_time_path is None:  # one-hot rows: each order lands in its lead time's slot
            state.pipeline += ordered[:, :, None] * s.lead_time_onehot
        else:
            lead = state.lead_time_path[:, t] - 1
            state.pipeline[_index(B)[:, None], _index(N), lead] += ordered
        purchase_cost = ordered @ s.cost
        if s.has_fixed_order_cost:
            purchase_cost += (ordered > 0) @ s.fixed_order_cost
        state.last_orders = ordered
    else:
        received = disposed = ordered = np.zeros((B, N), dtype=np.int64)
        purchase_cost = np.zeros(B)

    # 2. Slates.
    boost, shown = slate_boost(s, slates)
    state.last_slates = np.array(slates, dtype=np.int64)
    out_of_stock = on_hand == 0

    # 3-4. Arrivals and first choice: independent Poisson counts per (segment, product) and walk-aways.
    attraction = s.base_attraction * state.popularity_path[:, t, None, :] * boost  # (B, M, N)
    no_purchase = s.no_purchase_attraction
    # P(an arriving customer is of segment k and picks i) = (Lambda_k / Lambda) * w_ki / sum_i' w_ki'
    per_customer = s.segment_mix[t] / (no_purchase + attraction.sum(axis=2))  # (B, M)
    rate = attraction * per_customer[:, :, None]  # (B, M, N), proportional to Lambda_k P_ki
    pvals = np.concatenate([rate.reshape(B, M * N), per_customer * no_purchase], axis=1)
    counts = _customer_counts(rng, pvals, s.tick_total_arrival_rate[t], s.count_cap)
    first = counts[:, : M * N].reshape(B, M, N)  # X_ki
    walked = counts[:, M * N :]  # (B, M)
    demand = first.sum(axis=1)  # (B, N)

    # 5. Service in random order. 6. One substitution attempt. Both only where a product is short.
    short_b, short_i = np.nonzero(demand > on_hand)
    if short_b.size:
        served, lost, sold_substitute = _shortage(
            s, rng, state, first, rate, attraction, demand, short_b, short_i
        )
        sales = np.minimum(demand, on_hand) + sold_substitute
        on_hand -= sales
        segment_sales = served
        purchases = served.sum(axis=2)
        visits = walked + first.sum(axis=2)  # after _shortage relabelled the short products
        penalty = lost @ s.lost_sale_penalty
    else:
        on_hand -= demand
        segment_sales = first
        purchases = first.sum(axis=2)
        sales, visits = demand, walked + purchases
        lost = sold_substitute = np.zeros((B, N), dtype=np.int64)
        penalty = np.zeros(B)

    # 7-8. Money and records.
    impressions = np.matmul(visits[:, None, :], shown)[:, 0]  # (B, N)
    holding = on_hand @ s.holding_cost_per_tick
    state.tick += 1
    salvage = np.zeros(B)
    if state.tick == s.num_ticks:
        salvage = (on_hand + state.pipeline.sum(axis=2)) @ s.salvage_value
    _record(state, R, visits, purchases, sales, lost, impressions)
    return Outcome(
        received=received,
        disposed=disposed,
        ordered=ordered,
        visits=visits,
        purchases=purchases,
        segment_sales=segment_sales,
        demand=demand,
        sales=sales,
        substitute_sales=sold_substitute,
        lost=lost,
        impressions=impressions,
        oos_impressions=(impressions * out_of_stock).sum(axis=1)
        if np.count_nonzero(out_of_stock)
        else np.zeros(B, dtype=np.int64),
        revenue=sales @ s.price,
        purchase_cost=purchase_cost,
        holding_cost=holding,
        lost_sale_penalty=penalty,
        salvage=salvage,
    )


def _multivariate_hypergeometric(
    rng: np.random.Generator, colors: np.ndarray, nsample: np.ndarray
) -> np.ndarray:
    """Row-wise multivariate hypergeometric draws: ``nsample[r]`` items taken without replacement
    from an urn holding ``colors[r, c]`` items of colour c. Shapes (R, K) and (R,) -> (R, K).

    Drawn colour by colour, each as a univariate hypergeometric given the colours before it (the
    exact joint law), with one vectorized call per colour present, so the cost grows with R * K,
    with no loop over rows.
    """
    out = np.zeros(colors.shape, dtype=np.int64)
    left = np.asarray(nsample, dtype=np.int64).copy()
    rest = colors.sum(axis=1)
    for c in np.flatnonzero(colors.any(axis=0)).tolist():
        rows = np.flatnonzero(left)
        if not rows.size:
            break
        good = colors[rows, c]
        rest[rows] -= good
        drawn = rng.hypergeometric(good, rest[rows], left[rows])
        out[rows, c] = drawn
        left[rows] -= drawn
    return out


def _shortage(
    s: Scenario,
    rng: np.random.Generator,
    state: State,
    first: np.ndarray,
    rate: np.ndarray,
    attraction: np.ndarray,
    demand: np.ndarray,
    short_b: np.ndarray,
    short_i: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 5-6 when some product's first-choice demand exceeds its stock.

    Given D_i, the labels of product i's customers are i.i.d. with pi_ki = rate_ki / sum_k rate_ki, and
    the served customers are a uniformly random subset, so for a short product the served and the
    unserved labels are independent multinomials (I_i and D_i - I_i draws); the unserved ones are
    split into retrying (sigma_k) and giving up in the same draw.

    Every retrier of segment k faces the same choice set (the products still in stock), whatever
    its first choice, so the substitution is drawn in O(B M N): a binomial per (first choice,
    segment) splits the retriers into buyers and walk-aways (lost to their first choice), then one
    multinomial per segment spreads the segment's buyers over the products in stock. Where the
    buyers over-demand a substitute, a uniformly random subset of them is served (a multivariate
    hypergeometric over segments); the unserved of a segment are then a uniformly random subset
    of its buyers, so their first choices are a multivariate hypergeometric draw over the
    buyers' first choices.

    Relabels ``first`` in place for the short products. Returns served (B, M, N) first-choice and
    substitute purchases by segment and product, lost (B, N) by first-choice product, and substitute
    sales (B, N).
    """
    B, N, M = first.shape[0], s.num_products, s.num_segments
    on_hand = state.on_hand
    served = first.copy()
    share = rate[short_b, :, short_i]  # (S, M)
    share /= share.sum(axis=1, keepdims=True)
    sigma = s.substitution
    pvals = np.zeros((short_b.size, 2, 2 * M))
    pvals[:, 0, :M] = share
    pvals[:, 1, :M] = share * sigma
    pvals[:, 1, M:] = share * (1.0 - sigma)
    stock = on_hand[short_b, short_i]
    counts = np.empty((short_b.size, 2), dtype=np.int64)
    counts[:, 0] = stock
    counts[:, 1] = demand[short_b, short_i] - stock
    counts = counts.reshape(-1)
    split = _multinomial(rng, counts, pvals.reshape(-1, 2 * M)).reshape(-1, 2, 2 * M)  # (S, 2, 2M)
    served[short_b, :, short_i] = split[:, 0, :M]
    retrying = split[:, 1, :M]  # (S, M)
    # The fresh labels replace the first draw's for short products (same law given D_i).
    first[short_b, :, short_i] = split[:, 0, :M] + retrying + split[:, 1, M:]
    lost_rows = split[:, 1, M:].sum(axis=1)  # gave up at once, per short product
    sold_substitute = np.zeros((B, N), dtype=np.int64)
    lost = np.zeros((B, N), dtype=np.int64)
    if not retrying.any():
        lost[short_b, short_i] = lost_rows
        return served, lost, sold_substitute

    remaining = on_hand - np.minimum(demand, on_hand)
    # The retailers with a shortage (short_b is sorted), and each short product's retailer among them.
    first_of_retailer = np.ones(short_b.size, dtype=bool)
    np.not_equal(short_b[1:], short_b[:-1], out=first_of_retailer[1:])
    starts = np.flatnonzero(first_of_retailer)
    retailers = short_b[starts]  # (U,)
    sizes = np.empty_like(starts)  # short products per such retailer
    sizes[:-1] = starts[1:] - starts[:-1]
    sizes[-1] = short_b.size - starts[-1]
    group = np.repeat(_index(starts.size), sizes)  # (S,)
    available = attraction[retailers] * (remaining[retailers] > 0)[:, None, :]  # (U, M, N)
    in_stock_weight = available.sum(axis=2)  # (U, M)
    buy = in_stock_weight / (in_stock_weight + s.no_purchase_attraction)
    buyers = rng.binomial(retrying, buy[group])  # (S, M), by first choice and segment
    lost_rows += (retrying - buyers).sum(axis=1)
    segment_buyers = np.zeros((starts.size, M), dtype=np.int64)
    np.add.at(segment_buyers, group, buyers)
    row_u, row_k = np.nonzero(segment_buyers)
    if row_u.size:
        choice = available[row_u, row_k] / in_stock_weight[row_u, row_k, None]
        picks = _multinomial(rng, segment_buyers[row_u, row_k], choice)  # (R, N)
        demanded = np.zeros((starts.size, M, N), dtype=np.int64)
        demanded[row_u, row_k] = picks
        wanted = demanded.sum(axis=1)  # (U, N) substitute demand per product
        over_u, over_j = np.nonzero(wanted > remaining[retailers])
        if over_u.size:
            # A uniformly random subset of the product's retriers is served, across segments.
            asked = demanded[over_u, :, over_j]  # (O, M)
            kept = _multivariate_hypergeometric(rng, asked, remaining[retailers[over_u], over_j])
            demanded[over_u, :, over_j] = kept
            unserved = np.zeros((starts.size, M), dtype=np.int64)
            np.add.at(unserved, over_u, asked - kept)
            # Their first choices: a uniformly random subset of the segment's buyers'.
            lost_u, lost_k = np.nonzero(unserved)
            # (Q, widest retailer) table of the buyers by first choice, padded with zeros
            position = _index(int(sizes.max()))[None, :]
            mine = position < sizes[lost_u, None]
            rows = np.where(mine, starts[lost_u, None] + position, 0)
            origins = np.where(mine, buyers[rows, lost_k[:, None]], 0)
            lost_by_origin = _multivariate_hypergeometric(rng, origins, unserved[lost_u, lost_k])
            np.add.at(lost_rows, rows[mine], lost_by_origin[mine])
        served[retailers] += demanded
        sold_substitute[retailers] = demanded.sum(axis=1)
    lost[short_b, short_i] = lost_rows
    return served, lost, sold_substitute
