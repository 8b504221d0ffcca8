"""One episode's record, per period, as the harness collects it and the metrics read it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trajectory"]


@dataclass
class Trajectory:
    """Period-level record of one episode (T periods, N products); units are counts, money floats.

    Per-tick quantities are summed over the R ticks of their period. Built by the harness from
    ``env.last_outcome`` and ``env.snapshot()``; metrics only read it.

    Attributes
    ----------
    orders : (T, N) units ordered at the start of each period
    received : (T, N) units that arrived and were stored at the start of each period
    on_hand_start : (T, N) on-hand at the start of each period, after its arrivals: the stock the
        period's first customers face
    on_hand_end : (T, N) on-hand at the end of each period
    demand : (T, N) first-choice demand
    sales : (T, N) units sold (first choice and substitute)
    substitute_sales : (T, N) units sold to substituting customers
    lost : (T, N) lost sales, by first-choice product
    impressions : (T, N) visits of segments whose slate showed the product
    oos_impressions : (T,) impressions of products out of stock at the tick's start
    visits : (T,) customers who arrived
    profit : (T,) profit of the period (the last period includes salvage)
    money : dict of (T,) arrays: revenue, salvage, purchase_cost, holding_cost, lost_sale_penalty
    lead_time : (N,) mean lead time of each product, in periods
    """

    orders: np.ndarray
    received: np.ndarray
    on_hand_start: np.ndarray
    on_hand_end: np.ndarray
    demand: np.ndarray
    sales: np.ndarray
    substitute_sales: np.ndarray
    lost: np.ndarray
    impressions: np.ndarray
    oos_impressions: np.ndarray
    visits: np.ndarray
    profit: np.ndarray
    lead_time: np.ndarray
    money: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_periods(self) -> int:
        return int(self.orders.shape[0])

    @property
    def num_products(self) -> int:
        return int(self.orders.shape[1])
