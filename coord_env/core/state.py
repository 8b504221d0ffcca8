"""The simulator's state over a batch of B independent retailers, and the episode reset.

Notation follows docs/model.md. Every array has a leading batch dimension B. The exogenous paths
(popularity drift, random lead times, initial stock) are drawn at reset, so for a given seed they are
the same whatever the policies do: comparisons between policies use common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from coord_env.scenarios.scenario import DRIFT_TRUNCATION_SD, Scenario

__all__ = ["State", "ar1_paths", "reset"]


@dataclass
class State:
    """Mutable simulator state; :func:`coord_env.core.step` advances it in place.

    Attributes
    ----------
    tick : int
        Ticks elapsed in the episode (shared by the batch); the episode ends at T * R.
    on_hand : ndarray of int64, shape (B, N)
        Units in the warehouse.
    pipeline : ndarray of int64, shape (B, N, L_max)
        ``pipeline[b, i, j]`` units of product i arrive at the start of period ``period + j + 1``.
    drift_path : ndarray of float64, shape (B, T, N)
        Popularity drift d_i(t) for every period (hidden from the agents but for the current value
        in ``state()``).
    popularity_path : ndarray of float64, shape (B, T, N)
        exp(d_i(t)) times the product shock multipliers: the attraction factor of every period.
    lead_time_path : ndarray of int64, shape (B, T, N), or None
        The lead time an order placed in period t will have, when lead times are random.
    last_* / period_* : ndarray
        What the agents observe: the last tick's visits, purchases and sales, and the last completed
        period's sales, lost sales, impressions and visits. ``current_*`` accumulate the period under way.
    last_orders : ndarray of int64, shape (B, N)
        The order quantities applied at the start of the current period.
    last_slates : ndarray of int64, shape (B, M, C)
        The slates shown in the last tick, as given (-1 marks an empty slot; a repeated product
        counts once, at its first position).
    """

    tick: int
    on_hand: np.ndarray
    pipeline: np.ndarray
    drift_path: np.ndarray
    popularity_path: np.ndarray
    lead_time_path: np.ndarray | None
    last_visits: np.ndarray
    last_purchases: np.ndarray
    last_sales: np.ndarray
    period_sales: np.ndarray
    period_lost: np.ndarray
    period_impressions: np.ndarray
    period_visits: np.ndarray
    current_sales: np.ndarray
    current_lost: np.ndarray
    current_impressions: np.ndarray
    current_visits: np.ndarray
    last_orders: np.ndarray
    last_slates: np.ndarray

    @property
    def batch_size(self) -> int:
        return int(self.on_hand.shape[0])

    def copy(self) -> State:
        """A deep copy (arrays copied), e.g. to branch a simulation."""
        return State(
            **{
                name: (value.copy() if isinstance(value, np.ndarray) else value)
                for name, value in vars(self).items()
            }
        )


def ar1_paths(shocks: np.ndarray, rho: float) -> np.ndarray:
    """AR(1) paths along axis 1: ``d[:, 0] = shocks[:, 0]``, ``d[:, t] = rho d[:, t-1] + shocks[:, t]``.

    Bit for bit ``scipy.signal.lfilter([1], [1, -rho], shocks, axis=1)``, which it uses for few
    series; for many it runs period by period on a (T, B, N) copy whose periods are contiguous:
    the same floating-point steps, faster (docs/speed.md, "The exogenous paths drawn at reset").

    Parameters
    ----------
    shocks : ndarray of float64, shape (B, T, N)
    rho : float

    Returns
    -------
    ndarray of float64, shape (B, T, N)

    Examples
    --------
    >>> ar1_paths(np.ones((1, 3, 1)), 0.5).ravel().tolist()
    [1.0, 1.5, 1.75]
    """
    B, T, N = shocks.shape
    if B * N < 512:
        return lfilter([1.0], [1.0, -rho], shocks, axis=1)
    # The (T, B, N) copy as a transpose of a (B, T) matrix of N-value blocks: numpy then moves
    # whole blocks instead of looping over N values at a time.
    shocks = np.ascontiguousarray(shocks)
    blocks = shocks.reshape(B, T * N).view(np.dtype((np.void, N * shocks.itemsize)))
    paths = np.ascontiguousarray(blocks.T).view(shocks.dtype).reshape(T, B, N)  # shocks untouched
    for period in range(1, T):
        paths[period] += rho * paths[period - 1]
    return paths.transpose(1, 0, 2)


def reset(scenario: Scenario, rng: np.random.Generator, batch_size: int = 1) -> State:
    """Start B episodes: draw initial stock, the drift path and random lead times.

    Parameters
    ----------
    scenario : Scenario
    rng : numpy.random.Generator
        The only source of randomness; the draws are made in a fixed order.
    batch_size : int
        B, the number of independent retailers simulated side by side.

    Returns
    -------
    State
        At tick 0, empty pipeline, on-hand uniform on {0, ..., ``scenario.initial_stock_high``},
        that is floor(f (mean L_i + 1) mu_i) with f = ``initial_stock_factor`` (scaled down
        proportionally, then floored, if the total exceeds the warehouse capacity).

    Examples
    --------
    >>> import numpy as np
    >>> from coord_env import load_scenario
    >>> state = reset(load_scenario("tiny"), np.random.default_rng(0), batch_size=3)
    >>> state.on_hand.shape, state.pipeline.shape
    ((3, 2), (3, 2, 1))
    """
    s = scenario
    B, N, M, T = batch_size, s.num_products, s.num_segments, s.horizon
    on_hand = rng.integers(0, s.initial_stock_high + 1, size=(B, N), dtype=np.int64)
    total = on_hand.sum(axis=1)
    over = total > s.warehouse_capacity
    if np.any(over):
        ratio = s.warehouse_capacity / total[over]
        on_hand[over] = np.floor(on_hand[over] * ratio[:, None]).astype(np.int64)

    drift_path = np.zeros((B, T, N))
    if np.any(s.drift_std > 0):
        stationary = s.drift_std / np.sqrt(1.0 - s.drift_rho**2)
        shocks = rng.standard_normal((B, T, N))
        np.clip(shocks, -DRIFT_TRUNCATION_SD, DRIFT_TRUNCATION_SD, out=shocks)  # in place: no copy
        shocks[:, 0] *= stationary
        shocks[:, 1:] *= s.drift_std
        drift_path = ar1_paths(shocks, s.drift_rho)

    lead_time_path = None
    if s.random_lead_times:
        cdf = np.cumsum(s.lead_time_pmf, axis=1)[:, :-1]  # (N, L_max - 1)
        uniform = rng.random((B, T, N))
        # 1 + the number of cdf levels the uniform reaches, one level at a time in a small
        # integer type: no (B, T, N, L_max - 1) temporary.
        small = np.int8 if cdf.shape[1] < np.iinfo(np.int8).max else np.int64
        reached = np.zeros((B, T, N), dtype=small)
        for level in cdf.T:
            reached += uniform >= level
        lead_time_path = reached.astype(np.int64)
        lead_time_path += 1

    popularity_path = np.exp(drift_path)
    popularity_path *= s.product_shock  # in place: one (B, T, N) array, not two

    def zeros(*shape: int, dtype: type = np.int64) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)

    return State(
        tick=0,
        on_hand=on_hand,
        pipeline=zeros(B, N, s.max_lead_time),
        drift_path=drift_path,
        popularity_path=popularity_path,
        lead_time_path=lead_time_path,
        last_visits=zeros(B, M),
        last_purchases=zeros(B, M),
        last_sales=zeros(B, N),
        period_sales=zeros(B, N),
        period_lost=zeros(B, N),
        period_impressions=zeros(B, N),
        period_visits=zeros(B),
        current_sales=zeros(B, N),
        current_lost=zeros(B, N),
        current_impressions=zeros(B, N),
        current_visits=zeros(B),
        last_orders=zeros(B, N),
        last_slates=np.full((B, M, s.num_slots), -1, dtype=np.int64),
    )
