"""Revenue-maximizing cardinality-C MNL slates, exact, vectorized over segments.

The model (docs/model.md §3, step 4, "First choice"). A customer of segment k chooses among all N
products and no purchase by MNL with attractions ``w_ki * b_ki``: ``b_ki = beta_kj = exp(delta_k
eta_j)`` if product i is in slot j of the segment's slate, 1 otherwise (products off the slate stay
available), and ``w_k0`` for no purchase. Since ``delta_k >= 0`` and ``eta_1 >= ... >= eta_C > 0``,
``beta_k1 >= ... >= beta_kC >= 1``. A slate S earns per customer

    R_k(S) = sum_i r_ki w_ki b_ki(S) / (w_k0 + sum_i w_ki b_ki(S)).

Derivation. The denominator is positive, so ``R_k(S) >= z`` iff
``G_S(z) = sum_i w_ki b_ki(S) (r_ki - z) - w_k0 z >= 0``. Writing ``s_i(z) = w_ki (r_ki - z)``,

    F_k(z) = max_S G_S(z) = sum_i s_i(z) + max_S sum_j (beta_kj - 1) s_{i_j}(z) - w_k0 z.

Each ``G_S`` is linear in z with slope ``-(w_k0 + sum_i w_ki b_ki) < 0``, so F_k is continuous,
convex and strictly decreasing, and its root is the optimal value ``z*_k = max_S R_k(S)``: the
slate attaining ``F_k(z*) = 0`` is optimal. For fixed z the inner max is a rearrangement: the
products with the largest positive scores go to slots 1, 2, ... in decreasing order of score
(``beta - 1`` is non-increasing), and a product with ``s_i(z) <= 0`` is better left off (its
boost would only add a non-positive term). At z* this says: show a product only if its revenue
exceeds the optimal average, since showing it pulls the average towards its own revenue.

Bracket. Boosting product i moves weight ``w_ki (b_ki - 1)`` onto revenue r_ki, so every R_k(S) is
a weighted average of the empty slate's value ``R_k(empty)`` and the shown products' revenues:
``z* <= hi = max(R_k(empty), max_i r_ki)``. The lower end is the value of a concrete slate (the
maximizer of ``F_k(R_k(empty))``), so ``F_k(lo) >= 0 >= F_k(hi)``. Bisection keeps that invariant
and, with it, a slate of value >= lo. It stops when ``hi - lo <= tol * max(1, max_i |r_ki|)`` for
every segment; the bracket starts at most ``2 max(1, max_i |r_ki|)`` wide, so that takes at most
``ceil(log2(2 / tol))`` halvings, 35 for ``tol = 1e-10``. Then Dinkelbach steps (``z <- R_k(S)``,
``S <-`` the maximizer of ``F_k(z)``), kept only where they improve, remove the last ``tol``: the
slate is optimal up to floating-point rounding, not just to ``tol``.

Empty slots. The env's discrete recommender action must name a product in every slot, and a
product repeated in a slate counts once, at its first position (the later slot stays empty). So a
slot is left empty by repeating the product in slot 1. Slot 1 itself can never be empty: by
default (``allow_empty=False``) the optimum is over slates showing at least one product, and slot 1
takes the highest-scoring product even when its score is negative. That only binds when no
product has ``r_ki > z*`` (which needs every r_ki <= 0, e.g. revenues discounted to zero). With
``allow_empty=True`` the optimum is over all slates, the empty one included, and empty slots are
``-1`` (the core kernel's ``step`` accepts that, the env's actions do not).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from coord_env.core import boosts_of_slates

__all__ = ["best_slates", "slate_value"]

_MAX_BISECTIONS = 200
_MAX_DINKELBACH = 20


def slate_value(
    revenue: np.ndarray,
    attraction: np.ndarray,
    no_purchase: np.ndarray,
    slot_boost: np.ndarray,
    slates: np.ndarray,
) -> np.ndarray:
    """Expected revenue per customer ``R_k(S_k)`` of given slates, per segment.

    Parameters
    ----------
    revenue : ndarray, shape (M, N)
        r_ki, revenue of a sale of product i to segment k (any sign).
    attraction : ndarray, shape (M, N)
        w_ki >= 0, MNL attraction without the slate.
    no_purchase : ndarray, shape (M,)
        w_k0 > 0.
    slot_boost : ndarray, shape (M, C)
        beta_kj, attraction multiplier of slot j (``Scenario.slot_boost``).
    slates : ndarray of int, shape (M, C)
        Product in slot j of segment k's slate; ``-1`` leaves the slot empty. A product repeated in
        a slate counts once, at its first position (as in ``coord_env.core.dynamics.slate_boost``).

    Returns
    -------
    ndarray of float64, shape (M,)

    Examples
    --------
    >>> import numpy as np
    >>> value = slate_value(
    ...     np.array([[1.0, 3.0]]), np.ones((1, 2)), np.ones(1), np.array([[2.0]]), np.array([[1]])
    ... )
    >>> float(value[0])  # (1 + 3 * 2) / (1 + 1 + 2)
    1.75
    """
    revenue, attraction, no_purchase, slot_boost = _check(
        revenue, attraction, no_purchase, slot_boost
    )
    N = revenue.shape[1]
    slates = np.asarray(slates)
    if slates.shape != slot_boost.shape or not np.issubdtype(slates.dtype, np.integer):
        raise ValueError(f"slates must be integers of shape {slot_boost.shape}, got {slates.shape}")
    if np.any((slates < -1) | (slates >= N)):
        raise ValueError(f"slate entries must be in [-1, {N}), got {slates.min()}..{slates.max()}")
    return _value(revenue, attraction, no_purchase, slot_boost, slates)


def best_slates(
    revenue: np.ndarray,
    attraction: np.ndarray,
    no_purchase: np.ndarray,
    slot_boost: np.ndarray,
    tol: float = 1e-10,
    *,
    allow_empty: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The revenue-maximizing slate of every segment, by bisection on the assortment value.

    See the module docstring for the derivation. Vectorized over segments: the loops run over
    bisection and Dinkelbach iterations only.

    Parameters
    ----------
    revenue : ndarray, shape (M, N)
        r_ki, revenue of a sale of product i to segment k (any sign, e.g. a price or a margin
        discounted by inventory balancing).
    attraction : ndarray, shape (M, N)
        w_ki >= 0, MNL attraction without the slate (e.g. ``Scenario.base_attraction``).
    no_purchase : ndarray, shape (M,)
        w_k0 > 0 (e.g. ``Scenario.no_purchase_attraction``).
    slot_boost : ndarray, shape (M, C)
        beta_kj = exp(delta_k eta_j) (``Scenario.slot_boost``); must be >= 1 and non-increasing
        over slots. Requires C <= N.
    tol : float
        Bisection stops when the bracket is narrower than ``tol * max(1, max_i |r_ki|)``; the
        Dinkelbach steps that follow make the result optimal up to rounding.
    allow_empty : bool
        False (default): slates the env's discrete action can express. Every slate shows at least
        one product; a slot left empty repeats the product of slot 1 (a repeat counts once).
        True: the optimum over all slates, the empty one included; empty slots are ``-1``.

    Returns
    -------
    slates : ndarray of int64, shape (M, C)
        The products of the optimal slates, slot by slot, in decreasing order of
        ``w_ki (r_ki - z*_k)``.
    value : ndarray of float64, shape (M,)
        ``slate_value`` of the returned slates: the optimal expected revenue per customer.

    Examples
    --------
    One segment, three products, one slot tripling attraction; product 1 beats both the most
    attractive (0) and the most lucrative (2) product:

    >>> import numpy as np
    >>> slates, value = best_slates(
    ...     np.array([[1.0, 3.0, 8.0]]), np.array([[4.0, 2.0, 0.25]]), np.ones(1), np.full((1, 1), 3.0)
    ... )
    >>> slates.tolist(), round(float(value[0]), 12)  # 24 / 11.25 = 32 / 15
    ([[1]], 2.133333333333)
    """
    revenue, attraction, no_purchase, slot_boost = _check(
        revenue, attraction, no_purchase, slot_boost
    )
    if np.any(slot_boost < 1.0) or np.any(np.diff(slot_boost, axis=1) > 0):
        raise ValueError("slot_boost must be >= 1 and non-increasing over slots")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    if slot_boost.shape[1] > revenue.shape[1]:
        raise ValueError(f"more slots ({slot_boost.shape[1]}) than products ({revenue.shape[1]})")
    model = (revenue, attraction, no_purchase, slot_boost)
    args = (revenue, attraction, no_purchase, slot_boost - 1.0, allow_empty)

    empty = (revenue * attraction).sum(axis=1) / (no_purchase + attraction.sum(axis=1))
    best, _ = _maximizer(empty, *args)
    lo = _value(*model, best)
    hi = np.maximum(np.maximum(lo, empty), revenue.max(axis=1))
    width = tol * np.maximum(1.0, np.abs(revenue).max(axis=1))
    for _ in range(_MAX_BISECTIONS):
        active = hi - lo > width  # converged segments stay put: the result does not depend on M
        if not active.any():
            break
        mid = 0.5 * (lo + hi)
        slates, f = _maximizer(mid, *args)
        up = active & (f >= 0)  # F(mid) >= 0: z* >= mid, and this slate is worth at least mid
        lo = np.where(up, mid, lo)
        hi = np.where(active & ~up, mid, hi)
        best = np.where(up[:, None], slates, best)

    value = _value(*model, best)
    for _ in range(_MAX_DINKELBACH):
        slates, _ = _maximizer(value, *args)
        candidate = _value(*model, slates)
        better = candidate > value
        if not better.any():
            break
        best = np.where(better[:, None], slates, best)
        value = np.where(better, candidate, value)
    return best.astype(np.int64), value


def _maximizer(
    z: np.ndarray,
    revenue: np.ndarray,
    attraction: np.ndarray,
    no_purchase: np.ndarray,
    extra: np.ndarray,
    allow_empty: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The slates maximizing ``G_S(z)`` for each segment's z, and ``F(z)`` (shapes (M, C), (M,)).

    ``extra`` is ``slot_boost - 1``.
    """
    M, C = extra.shape
    score = attraction * (revenue - z[:, None])
    order = np.argsort(-score, axis=1, kind="stable")[:, :C]  # ties to the lower product index
    top = score[_rows(M), order]
    shown = top > 0  # a prefix, since top is sorted
    if not allow_empty:
        shown[:, 0] = True  # the env's slot 1 always names a product
    slates = np.where(shown, order, -1 if allow_empty else order[:, :1])
    f = score.sum(axis=1) + (extra * top * shown).sum(axis=1) - no_purchase * z
    return slates, f


def _value(
    revenue: np.ndarray,
    attraction: np.ndarray,
    no_purchase: np.ndarray,
    slot_boost: np.ndarray,
    slates: np.ndarray,
) -> np.ndarray:
    """``slate_value`` without the input checks."""
    boost, _ = boosts_of_slates(slot_boost, revenue.shape[1], np.asarray(slates)[None])
    weight = attraction * boost[0]
    return (revenue * weight).sum(axis=1) / (no_purchase + weight.sum(axis=1))


@functools.cache
def _rows(M: int) -> np.ndarray:
    """A read-only ``np.arange(M)[:, None]``, cached."""
    rows = np.arange(M)[:, None]
    rows.flags.writeable = False
    return rows


def _check(
    revenue: np.ndarray, attraction: np.ndarray, no_purchase: np.ndarray, slot_boost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Float64 copies of the model arrays, with shapes and ranges checked."""
    revenue, attraction, no_purchase, slot_boost = (
        np.asarray(a, dtype=np.float64) for a in (revenue, attraction, no_purchase, slot_boost)
    )
    if revenue.ndim != 2 or attraction.shape != revenue.shape:
        raise ValueError(
            f"revenue and attraction must share a shape (M, N), got {revenue.shape}, {attraction.shape}"
        )
    M = revenue.shape[0]
    if no_purchase.shape != (M,) or slot_boost.ndim != 2 or slot_boost.shape[0] != M:
        raise ValueError(
            f"no_purchase must have shape ({M},) and slot_boost ({M}, C), "
            f"got {no_purchase.shape}, {slot_boost.shape}"
        )
    if slot_boost.shape[1] < 1:
        raise ValueError("slot_boost needs at least one slot")
    for name, a in (("revenue", revenue), ("attraction", attraction), ("no_purchase", no_purchase)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
    if not np.all(np.isfinite(slot_boost)):
        raise ValueError("slot_boost must be finite")
    if np.any(attraction < 0) or np.any(no_purchase <= 0):
        raise ValueError("attraction must be >= 0 and no_purchase > 0")
    return revenue, attraction, no_purchase, slot_boost
