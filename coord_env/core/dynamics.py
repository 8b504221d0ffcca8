"""One tick of the retail model (docs/model.md §3, "One tick"), batched over B retailers.

Notation follows docs/model.md: N products (index i), M segments (k), C slots (j), B batch (b).
The kernel assumes valid input (the PettingZoo adapter validates actions) and stays fast: its cost
grows with B * M * N per tick, not with the number of customers. Steps 1-6 run as compiled loops
(:mod:`coord_env.core.kernel`, docs/speed.md); this module prices the tick and keeps the records.

How customers are sampled exactly without a loop over them
-----------------------------------------------------------
Arrivals are Poisson and choices independent, so the first-choice counts X_ki and the walk-aways are
independent Poisson(Lambda_k P_ki) (Poisson thinning). We draw them in one go: for one retailer a
Poisson total split by one multinomial, for a batch one Poisson per cell (the same law). Where a product is short (D_i > I_i), the spec serves a uniformly
random subset of its D_i customers. Given D_i, those customers' segment labels are i.i.d. with
pi_ki = Lambda_k P_ki / sum_k Lambda_k P_ki, so the served and the unserved labels are two independent
multinomials (I_i and D_i - I_i draws); we draw them afresh for the short products (the same law as
keeping X and drawing a hypergeometric subset), and split the unserved into retrying (sigma_k) and
giving up in the same draw. Every retrier of a segment faces the same choice set (the products still
in stock), so a binomial per (segment, first choice) splits them into buyers and walk-aways and one
multinomial per segment spreads the buyers over the products in stock: O(B M N). Only where they
over-demand a product is a uniformly random subset of them served (multivariate hypergeometric, drawn
colour by colour with univariate draws), and the first choices of the unserved are a
uniformly random subset of their segment's buyers' (the same draw).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from coord_env.core import kernel
from coord_env.core.state import State
from coord_env.scenarios.scenario import Scenario

__all__ = ["Outcome", "boosts_of_slates", "slate_boost", "step"]


@dataclass(slots=True)
class Outcome:
    """What happened in one tick, per retailer (arrays lead with the batch dimension B).

    Units are integers (int64); money is float64.
    """

    received: np.ndarray  # (B, N) units that arrived from the pipeline and were stored
    disposed: np.ndarray  # (B, N) units that arrived beyond the warehouse capacity
    ordered: np.ndarray  # (B, N) units ordered this tick (0 on ticks that do not start a period)
    visits: np.ndarray  # (B, M) customers who arrived
    purchases: np.ndarray  # (B, M) customers who bought (first choice or substitute)
    segment_sales: np.ndarray  # (B, M, N) units bought, by segment and product
    demand: np.ndarray  # (B, N) first-choice demand D_i
    sales: np.ndarray  # (B, N) units sold (first choice and substitute)
    substitute_sales: np.ndarray  # (B, N) of which sold to substituting customers
    lost: np.ndarray  # (B, N) lost sales, by first-choice product
    impressions: np.ndarray  # (B, N) visits of segments whose slate shows product i
    oos_impressions: np.ndarray  # (B,) impressions of products with no stock at the tick's start
    revenue: np.ndarray  # (B,)
    purchase_cost: np.ndarray  # (B,) variable plus fixed order cost
    holding_cost: np.ndarray  # (B,)
    lost_sale_penalty: np.ndarray  # (B,)
    salvage: np.ndarray  # (B,) only on the episode's last tick

    @property
    def operations_result(self) -> np.ndarray:
        """(B,) salvage - purchase - holding - lost-sale penalty: everything but revenue."""
        return self.salvage - self.purchase_cost - self.holding_cost - self.lost_sale_penalty

    @property
    def profit(self) -> np.ndarray:
        """(B,) revenue + operations_result (so the departmental rewards add up exactly)."""
        return self.revenue + self.operations_result


def slate_boost(scenario: Scenario, slates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Attraction multipliers exp(delta_k eta_pos) of the slates, and which products they show.

    Parameters
    ----------
    scenario : Scenario
    slates : ndarray of int, shape (B, M, C)
        Product shown in slot j of segment k's slate; -1 leaves the slot empty. A product repeated
        in a slate counts once, at its first position.

    Returns
    -------
    boost : ndarray of float64, shape (B, M, N)
        1 for products not shown.
    shown : ndarray of bool, shape (B, M, N)

    Examples
    --------
    >>> import numpy as np
    >>> from coord_env import load_scenario
    >>> boost, shown = slate_boost(load_scenario("tiny"), np.array([[[1], [-1]]]))
    >>> shown.tolist()
    [[[False, True], [False, False]]]
    """
    return boosts_of_slates(scenario.slot_boost, scenario.num_products, slates)


def boosts_of_slates(
    slot_boost: np.ndarray, num_products: int, slates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slate_boost` for a bare (M, C) table of slot boosts exp(delta_k eta_j).

    Also used by the MNL slate optimizer, which works on boost tables rather than scenarios.
    """
    B, M, C = slates.shape
    N = num_products
    boost = np.ones((B, M, N + 1))  # column N absorbs empty slots
    shown = np.zeros((B, M, N + 1), dtype=bool)
    target = np.mod(slates, N + 1)  # -1 -> N
    batch, segment = _index(B)[:, None], _index(M)
    for j in range(C - 1, -1, -1):  # the first position is written last, so it wins over repeats
        boost[batch, segment, target[:, :, j]] = slot_boost[:, j]
    # From the slates, not from the boost: a segment with delta_k = 0 still sees its slate.
    shown[batch[:, :, None], segment[None, :, None], target] = True
    return boost[:, :, :N], shown[:, :, :N]


@functools.cache
def _index(size: int) -> np.ndarray:
    """A read-only ``np.arange(size)``, cached (index arrays are rebuilt every tick otherwise)."""
    index = np.arange(size)
    index.flags.writeable = False
    return index


def _admit(
    arriving: np.ndarray, on_hand: np.ndarray, capacity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split arriving units (B, N) into stored and disposed under a shared capacity.

    When the arrivals exceed the free space, space is shared in proportion to the arriving
    quantities, rounded by largest remainder (ties to the lower product index).
    """
    arriving = np.asarray(arriving, dtype=np.int64)
    stored, disposed = np.empty_like(arriving), np.empty_like(arriving)
    kernel.admit_rows(
        arriving, np.asarray(on_hand, dtype=np.int64), float(capacity), stored, disposed
    )
    return stored, disposed


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
    B = state.on_hand.shape[0]
    t, r = divmod(state.tick, s.ticks_per_period)
    orders = np.ascontiguousarray(orders, dtype=np.int64)
    state.last_slates = np.array(slates, dtype=np.int64, order="C")
    random_lead_times = state.lead_time_path is not None
    (
        received,
        disposed,
        ordered,
        visits,
        purchases,
        segment_sales,
        demand,
        sales,
        sold_substitute,
        lost,
        impressions,
        oos_impressions,
        shortage,
    ) = kernel.tick(
        kernel.bit_generator_addresses(rng),
        r == 0,
        bool(order_up_to),
        orders,
        state.last_slates,
        state.on_hand,
        state.pipeline,
        np.ascontiguousarray(state.popularity_path[:, t]),
        random_lead_times,
        np.ascontiguousarray(state.lead_time_path[:, t]) if random_lead_times else _NO_LEAD_TIMES,
        s.lead_time,
        s.unlimited_capacity,
        np.inf if s.unlimited_capacity else float(s.warehouse_capacity),
        s.base_attraction,
        s.no_purchase_attraction,
        s.slot_boost,
        s.segment_mix[t],
        float(s.tick_total_arrival_rate[t]),
        int(s.count_cap),
        s.substitution,
    )

    # 7-8. Money (numpy's matrix products, as before the compiled kernel) and records.
    if r == 0:
        purchase_cost = ordered @ s.cost
        if s.has_fixed_order_cost:
            purchase_cost += (ordered > 0) @ s.fixed_order_cost
        state.last_orders = ordered
    else:
        purchase_cost = np.zeros(B)
    penalty = lost @ s.lost_sale_penalty if shortage else np.zeros(B)
    on_hand = state.on_hand
    holding = on_hand @ s.holding_cost_per_tick
    state.tick += 1
    salvage = np.zeros(B)
    if state.tick == s.num_ticks:
        salvage = (on_hand + state.pipeline.sum(axis=2)) @ s.salvage_value
    _record(state, s.ticks_per_period, visits, purchases, sales, lost, impressions)
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
        oos_impressions=oos_impressions,
        revenue=sales @ s.price,
        purchase_cost=purchase_cost,
        holding_cost=holding,
        lost_sale_penalty=penalty,
        salvage=salvage,
    )


# the kernel's lead-time argument when lead times are fixed (it reads the scenario's instead)
_NO_LEAD_TIMES = np.zeros((1, 1), dtype=np.int64)


def _record(
    state: State,
    ticks_per_period: int,
    visits: np.ndarray,
    purchases: np.ndarray,
    sales: np.ndarray,
    lost: np.ndarray,
    impressions: np.ndarray,
) -> None:
    """Keep the last tick's figures and the last completed period's totals."""
    state.last_visits, state.last_purchases, state.last_sales = visits, purchases, sales
    if ticks_per_period == 1:
        state.period_sales, state.period_lost, state.period_impressions = sales, lost, impressions
        state.period_visits = visits.sum(axis=1)
        return
    state.current_sales += sales
    state.current_lost += lost
    state.current_impressions += impressions
    state.current_visits += visits.sum(axis=1)
    if state.tick % ticks_per_period == 0:
        for name in ("sales", "lost", "impressions", "visits"):
            current = getattr(state, f"current_{name}")
            setattr(state, f"period_{name}", current.copy())
            current[...] = 0
