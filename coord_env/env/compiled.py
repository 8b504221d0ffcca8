"""Compiled loops of the env adapter: action checking and decoding, state vectors, info totals.

Both the single env (a batch of one) and the vector env call these numba functions once per step
each, so a step pays a few compiled calls instead of a chain of small numpy calls, each with its
own overhead and temporaries. They compute exactly what the readable numpy definitions compute
(:func:`coord_env.env.layout.raw_state` with :meth:`~coord_env.env.layout.ObservationLayout.build`,
``np.argsort(-scores, kind="stable")``, integer sums), through the same float64 steps, so the
results are identical bit for bit (tests/test_env_fast_path.py).

The checks here only say whether an action is valid; the messages of an invalid one come from
:class:`~coord_env.env.actions.ActionCodec`'s own checks, which run only then.

Every signature is explicit and takes arrays of any layout, so each function compiles once (and
is cached on disk, ``cache=True``) whatever strides the caller's arrays have.
"""

from __future__ import annotations

import numpy as np
from numba import types

from coord_env.core.jit import kernel_jit

__all__ = [
    "decode_levels",
    "decode_scores",
    "fill_state_vectors",
    "tick_totals",
]


def _read(dtype: types.Type, ndim: int) -> types.Array:
    """An input array of any layout, writable or not (a read-only type accepts both)."""
    return types.Array(dtype, ndim, "A", readonly=True)


def _written(dtype: types.Type, ndim: int) -> types.Array:
    return types.Array(dtype, ndim, "A")


_I1, _I2, _I3 = (_read(types.int64, ndim) for ndim in (1, 2, 3))
_F1, _F2, _F3 = (_read(types.float64, ndim) for ndim in (1, 2, 3))
_OUT_I2, _OUT_I3 = _written(types.int64, 2), _written(types.int64, 3)
_OUT_F2 = _written(types.float64, 2)


@kernel_jit(
    signatures=types.boolean(_I2, _I2, types.int64, types.int64, _I1, _OUT_I2, _OUT_I3),
)
def decode_levels(
    inventory: np.ndarray,
    recommender: np.ndarray,
    inventory_high: int,
    recommender_high: int,
    level_step: np.ndarray,
    units: np.ndarray,
    slates: np.ndarray,
) -> bool:
    """Check and decode discrete actions of B retailers; False (outputs undefined) if any is invalid.

    Parameters
    ----------
    inventory : ndarray of int64, shape (B, N)
        Order levels, valid in [0, ``inventory_high``].
    recommender : ndarray of int64, shape (B, M * C)
        Products per segment and slot, valid in [0, ``recommender_high``].
    inventory_high, recommender_high : int
    level_step : ndarray of int64, shape (N,)
        Units per level.
    units : ndarray of int64, shape (B, N)
        Written: levels times ``level_step``.
    slates : ndarray of int64, shape (B, M, C)
        Written: the recommender's action row by row.

    Returns
    -------
    bool
        Whether every action is valid.
    """
    B, N = inventory.shape
    M, C = slates.shape[1], slates.shape[2]
    for b in range(B):
        for i in range(N):
            level = inventory[b, i]
            if level < 0 or level > inventory_high:
                return False
            units[b, i] = level * level_step[i]
        for k in range(M):
            for j in range(C):
                product = recommender[b, k * C + j]
                if product < 0 or product > recommender_high:
                    return False
                slates[b, k, j] = product
    return True


def _decode_scores(
    inventory: np.ndarray,
    recommender: np.ndarray,
    max_level_units: np.ndarray,
    units: np.ndarray,
    slates: np.ndarray,
) -> bool:
    B, N = inventory.shape
    M, C = slates.shape[1], slates.shape[2]
    for b in range(B):
        for i in range(N):
            fraction = inventory[b, i]
            if not (fraction >= 0.0 and fraction <= 1.0):  # False for NaN
                return False
            units[b, i] = np.int64(np.rint(np.float64(fraction) * np.float64(max_level_units[i])))
        for k in range(M):
            row = recommender[b, k * N : (k + 1) * N]
            for i in range(N):
                score = row[i]
                if not (score >= -1.0 and score <= 1.0):
                    return False
            # The top C scores, ties to the lower index: the first C of a stable argsort of -scores.
            for j in range(C):
                best = -1
                for i in range(N):
                    taken = False
                    for previous in range(j):
                        if slates[b, k, previous] == i:
                            taken = True
                            break
                    if not taken and (best < 0 or row[i] > row[best]):
                        best = i
                slates[b, k, j] = best
    return True


decode_scores = kernel_jit(
    signatures=[
        types.boolean(scores, scores, _I1, _OUT_I2, _OUT_I3)
        for scores in (_read(types.float32, 2), _F2)
    ],
)(_decode_scores)
decode_scores.__doc__ = """Check and decode continuous actions of B retailers; False if any is invalid.

Parameters
----------
inventory : ndarray of float32 or float64, shape (B, N)
    Order fractions, valid in [0, 1]; units = rint(fraction * max_level_units), in float64.
recommender : ndarray (inventory's dtype), shape (B, M * N)
    Scores, valid in [-1, 1]; each segment's slate is its C best-scored products, best first,
    ties to the lower index (``np.argsort(-scores, kind="stable")[:C]``).
max_level_units : ndarray of int64, shape (N,)
units : ndarray of int64, shape (B, N)
    Written.
slates : ndarray of int64, shape (B, M, C)
    Written.

Returns
-------
bool
    Whether every action is finite and in range.
"""


@kernel_jit(
    signatures=types.void(
        _I2,
        _I3,
        _F3,
        types.int64,
        _I2,
        _I2,
        _I2,
        _I1,
        _I2,
        _I2,
        _I2,
        _F2,
        types.int64,
        _F1,
        _written(types.float32, 2),
    ),
)
def fill_state_vectors(
    on_hand: np.ndarray,
    pipeline: np.ndarray,
    drift_path: np.ndarray,
    period: int,
    period_sales: np.ndarray,
    period_lost: np.ndarray,
    period_impressions: np.ndarray,
    period_visits: np.ndarray,
    last_sales: np.ndarray,
    last_visits: np.ndarray,
    last_purchases: np.ndarray,
    time_features: np.ndarray,
    tick: int,
    inverse_scale: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write the scaled state vectors (B, S) float32, in ``layout.STATE_FIELDS`` order.

    Element by element what ``state_layout.build(raw_state(scenario, state))`` computes: the raw
    value in float64 (exposure and conversion as float64 quotients), times its inverse scale,
    rounded once to float32.

    Parameters
    ----------
    on_hand, pipeline, drift_path, period_* , last_*
        The core State's arrays; ``drift_path[:, period]`` is the current drift.
    period : int
        The current period, clamped to the horizon's last.
    time_features : ndarray of float64, shape (T R + 1, 5)
        The time features of every tick (``layout.time_features``).
    tick : int
        The state's tick.
    inverse_scale : ndarray of float64, shape (S,)
        1 / the state layout's scales.
    out : ndarray of float32, shape (B, S)
        Written.
    """
    B, N = on_hand.shape
    L = pipeline.shape[2]
    M = last_visits.shape[1]
    for b in range(B):
        e = 0
        for i in range(N):
            out[b, e] = np.float32(np.float64(on_hand[b, i]) * inverse_scale[e])
            e += 1
        for i in range(N):
            for j in range(L):
                out[b, e] = np.float32(np.float64(pipeline[b, i, j]) * inverse_scale[e])
                e += 1
        for i in range(N):
            out[b, e] = np.float32(drift_path[b, period, i] * inverse_scale[e])
            e += 1
        for i in range(N):
            out[b, e] = np.float32(np.float64(period_sales[b, i]) * inverse_scale[e])
            e += 1
        for i in range(N):
            out[b, e] = np.float32(np.float64(period_lost[b, i]) * inverse_scale[e])
            e += 1
        visitors = np.float64(max(period_visits[b], 1))
        for i in range(N):
            exposure = np.float64(period_impressions[b, i]) / visitors
            out[b, e] = np.float32(exposure * inverse_scale[e])
            e += 1
        for i in range(N):
            out[b, e] = np.float32(np.float64(last_sales[b, i]) * inverse_scale[e])
            e += 1
        for k in range(M):
            out[b, e] = np.float32(np.float64(last_visits[b, k]) * inverse_scale[e])
            e += 1
        for k in range(M):
            conversion = np.float64(last_purchases[b, k]) / np.float64(max(last_visits[b, k], 1))
            out[b, e] = np.float32(conversion * inverse_scale[e])
            e += 1
        for f in range(time_features.shape[1]):
            out[b, e] = np.float32(time_features[tick, f] * inverse_scale[e])
            e += 1


@kernel_jit(
    signatures=types.void(_I2, _I2, _I2, _I2, _I2, _I2, _I2, _I2, _F1, _F1, _F1, _F1, _F1, _OUT_F2),
)
def tick_totals(
    sales: np.ndarray,
    substitute_sales: np.ndarray,
    lost: np.ndarray,
    ordered: np.ndarray,
    received: np.ndarray,
    disposed: np.ndarray,
    demand: np.ndarray,
    impressions: np.ndarray,
    revenue: np.ndarray,
    salvage: np.ndarray,
    purchase_cost: np.ndarray,
    holding_cost: np.ndarray,
    lost_sale_penalty: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write a tick's totals per retailer (13, B) float64: the eight counts summed over products
    (exact int64 sums, then converted), then the five money amounts, in this order.

    Parameters
    ----------
    sales, substitute_sales, lost, ordered, received, disposed, demand, impressions
        ndarray of int64, shape (B, N): an Outcome's per-product counts.
    revenue, salvage, purchase_cost, holding_cost, lost_sale_penalty
        ndarray of float64, shape (B,): an Outcome's money.
    out : ndarray of float64, shape (13, B)
        Written.
    """
    B, N = sales.shape
    counts = (sales, substitute_sales, lost, ordered, received, disposed, demand, impressions)
    money = (revenue, salvage, purchase_cost, holding_cost, lost_sale_penalty)
    for b in range(B):
        row = 0
        for count in counts:
            total = np.int64(0)
            for i in range(N):
                total += count[b, i]
            out[row, b] = np.float64(total)
            row += 1
        for amount in money:
            out[row, b] = amount[b]
            row += 1
