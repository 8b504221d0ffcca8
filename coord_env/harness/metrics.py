"""Coordination metrics of one episode, each a pure function of a ``Trajectory``.

The leaderboard's columns (docs/leaderboard.md, "What a row shows").

Every metric takes a :class:`~coord_env.harness.trajectory.Trajectory` and returns a Python
``float``. ``METRICS`` lists them in a fixed order, ``METRIC_DEFINITIONS`` gives the one-line
definition of each (used in the docs and the results document), and :func:`compute_metrics`
evaluates them all. A metric returns ``nan`` only where it is genuinely undefined (the cases are
listed in each docstring); no metric returns ``inf``.

Periods are the time unit: per-tick quantities are already summed over the ticks of a period in
the trajectory, and on-hand is read at the end of each period.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from coord_env.harness.trajectory import Trajectory

__all__ = [
    "METRICS",
    "METRIC_DEFINITIONS",
    "bullwhip_ratio",
    "compute_metrics",
    "days_of_supply",
    "exposure_stock_rank_correlation",
    "fill_rate",
    "inventory_turnover",
    "lost_sale_rate",
    "lost_sales",
    "oos_impression_share",
    "order_exposure_lead_correlation",
    "profit_volatility",
]

_MIN_PRODUCTS = 3  # products needed for a per-period rank correlation
_MIN_PAIRS = 3  # (order, exposure) pairs needed for a per-product correlation


def _total(values: np.ndarray) -> float:
    return float(np.sum(values, dtype=np.float64))


def _row_pearson(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each row of ``x`` with the same row of ``y``.

    Returns the (rows,) correlations and a (rows,) mask of the rows where both are non-constant
    (the correlation is defined); undefined rows hold 0.0 and must be ignored.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    defined = (np.ptp(x, axis=1) > 0) & (np.ptp(y, axis=1) > 0)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    numerator = np.sum(xc * yc, axis=1)
    denominator = np.sqrt(np.sum(xc * xc, axis=1) * np.sum(yc * yc, axis=1))
    r = np.zeros(x.shape[0], dtype=np.float64)
    np.divide(numerator, denominator, out=r, where=defined)
    return np.clip(r, -1.0, 1.0), defined


def fill_rate(trajectory: Trajectory) -> float:
    """Share of first-choice demand served from stock, over the episode.

    ``(sum sales - sum substitute_sales) / sum demand``: units sold to customers whose first
    choice was in stock, over the customers who picked a product at their first choice.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        A value in ``[0, 1]``; ``1.0`` when there was no demand (nothing was refused).

    Examples
    --------
    Demand 10 and 6 over two periods, 12 units sold of which 2 to substitutors: (12 - 2) / 16
    = 0.625.
    """
    demand = _total(trajectory.demand)
    if demand == 0:
        return 1.0
    return (_total(trajectory.sales) - _total(trajectory.substitute_sales)) / demand


def lost_sales(trajectory: Trajectory) -> float:
    """Total lost sales over the episode, in units.

    A lost sale is a customer whose first choice was unserved and who ended without buying.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        ``sum lost`` over periods and products (``>= 0``).

    Examples
    --------
    ``lost = [[1, 0], [2, 3]]`` gives 6.0.
    """
    return _total(trajectory.lost)


def lost_sale_rate(trajectory: Trajectory) -> float:
    """Share of first-choice demand lost over the episode.

    ``sum lost / sum demand``.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        A value in ``[0, 1]``; ``0.0`` when there was no demand.

    Examples
    --------
    6 units lost out of a demand of 16 gives 0.375.
    """
    demand = _total(trajectory.demand)
    if demand == 0:
        return 0.0
    return _total(trajectory.lost) / demand


def oos_impression_share(trajectory: Trajectory) -> float:
    """Share of recommendation impressions spent on out-of-stock products.

    ``sum oos_impressions / sum impressions`` over the episode, where a product is out of stock
    when it has no stock at the start of the tick (after the period's arrivals).

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        A value in ``[0, 1]``; ``0.0`` when nothing was shown.

    Examples
    --------
    25 out-of-stock impressions out of 100 gives 0.25.
    """
    impressions = _total(trajectory.impressions)
    if impressions == 0:
        return 0.0
    return _total(trajectory.oos_impressions) / impressions


def exposure_stock_rank_correlation(trajectory: Trajectory) -> float:
    """Mean over periods of the Spearman correlation across products of exposure and days of supply.

    In period ``t`` the correlation is taken across the products with positive mean sales between
    ``impressions[t, i]`` and ``days_of_supply[t, i] = on_hand_start[t, i] / mean_t' sales[t', i]``
    (stock at the period's start, so the period's own sales, which exposure drives, do not pull it
    down)
    (ranks with ties averaged, as ``scipy.stats.spearmanr``). A period counts when at least 3
    products are kept and neither vector is constant across them. Positive values mean the
    recommender pushes the products it holds most supply of.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        The mean of the defined per-period correlations, in ``[-1, 1]``; ``nan`` when no period is
        defined (fewer than 3 products ever sold, or every period has constant impressions or
        constant days of supply, e.g. a fixed slate).

    Examples
    --------
    With three sold products, impressions ``[10, 20, 30]`` and days of supply ``[1, 3, 2]`` in the
    only defined period, the metric is the Spearman correlation 0.5.
    """
    mean_sales = np.mean(np.asarray(trajectory.sales, dtype=np.float64), axis=0)
    kept = mean_sales > 0
    if int(kept.sum()) < _MIN_PRODUCTS:
        return float("nan")
    supply = np.asarray(trajectory.on_hand_start, dtype=np.float64)[:, kept] / mean_sales[kept]
    exposure = np.asarray(trajectory.impressions, dtype=np.float64)[:, kept]
    r, defined = _row_pearson(rankdata(exposure, axis=1), rankdata(supply, axis=1))
    if not defined.any():
        return float("nan")
    return float(np.mean(r[defined]))


def order_exposure_lead_correlation(trajectory: Trajectory) -> float:
    """Mean over products of the Pearson correlation of orders at t and exposure at t + L_i.

    For product ``i`` with ``L_i = round(lead_time[i])`` (Python rounding, half to even), the
    correlation is taken between ``orders[t, i]`` and ``impressions[t + L_i, i]`` over the periods
    ``t = 0 .. T - 1 - L_i``. A product counts when it has at least 3 such pairs and neither series
    is constant over them. Positive values mean orders anticipate what will be pushed when they
    arrive.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        The mean of the defined per-product correlations, in ``[-1, 1]``; ``nan`` when no product
        is defined (e.g. constant orders, a fixed slate, or ``T - L_i < 3`` for every product).

    Examples
    --------
    ``L = 1``, orders ``[5, 0, 5, 0]`` and impressions ``[0, 9, 1, 9]``: pairs (5, 9), (0, 1),
    (5, 9) give a correlation of 1.0.
    """
    orders = np.asarray(trajectory.orders, dtype=np.float64)
    exposure = np.asarray(trajectory.impressions, dtype=np.float64)
    num_periods = trajectory.num_periods
    correlations: list[float] = []
    for i, lead in enumerate(np.asarray(trajectory.lead_time, dtype=np.float64)):
        shift = max(round(float(lead)), 0)
        pairs = num_periods - shift
        if pairs < _MIN_PAIRS:
            continue
        r, defined = _row_pearson(orders[:pairs, i][None, :], exposure[shift:, i][None, :])
        if defined[0]:
            correlations.append(float(r[0]))
    if not correlations:
        return float("nan")
    return float(np.mean(correlations))


def inventory_turnover(trajectory: Trajectory) -> float:
    """Units sold over the episode divided by the mean total on-hand at period end.

    ``sum sales / mean_t (sum_i on_hand_end[t, i])``: how many times the average stock was sold
    over the episode (not per period).

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        ``>= 0``; ``0.0`` when nothing was sold (whatever the stock); ``nan`` when units were sold
        but the stock was zero at the end of every period (turnover is unbounded).

    Examples
    --------
    40 units sold with end-of-period totals ``[10, 30, 20, 20]`` (mean 20) gives 2.0.
    """
    sold = _total(trajectory.sales)
    if sold == 0:
        return 0.0
    mean_on_hand = float(np.mean(np.sum(trajectory.on_hand_end, axis=1, dtype=np.float64)))
    if mean_on_hand == 0:
        return float("nan")
    return sold / mean_on_hand


def days_of_supply(trajectory: Trajectory) -> float:
    """Mean total on-hand at period end divided by the mean total sales per period, in periods.

    ``mean_t (sum_i on_hand_end[t, i]) / mean_t (sum_i sales[t, i])``: how many periods of the
    episode's average sales the average stock covers.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        ``>= 0``, in periods; ``nan`` when nothing was sold.

    Examples
    --------
    Mean end-of-period stock 20 and mean sales 10 per period give 2.0 periods.
    """
    mean_sales = float(np.mean(np.sum(trajectory.sales, axis=1, dtype=np.float64)))
    if mean_sales == 0:
        return float("nan")
    return float(np.mean(np.sum(trajectory.on_hand_end, axis=1, dtype=np.float64))) / mean_sales


def bullwhip_ratio(trajectory: Trajectory) -> float:
    """Variance over periods of total orders divided by the variance of total sales.

    ``var_t (sum_i orders[t, i]) / var_t (sum_i sales[t, i])``, population variances
    (``ddof=0``). Above 1, ordering amplifies the variability of sales.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        ``>= 0``; ``nan`` when total sales are constant over the periods (zero variance).

    Examples
    --------
    Total orders ``[0, 20, 0, 20]`` (variance 100) and sales ``[5, 15, 5, 15]`` (variance 25)
    give 4.0.
    """
    sales_variance = float(np.var(np.sum(trajectory.sales, axis=1, dtype=np.float64)))
    if sales_variance == 0:
        return float("nan")
    return float(np.var(np.sum(trajectory.orders, axis=1, dtype=np.float64))) / sales_variance


def profit_volatility(trajectory: Trajectory) -> float:
    """Standard deviation (``ddof=0``) of per-period profit, excluding the last period.

    The last period is left out because its profit includes the one-off salvage.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    float
        ``>= 0``, in money; ``0.0`` for a two-period episode (one profit left); ``nan`` for a
        one-period episode (no period left).

    Examples
    --------
    Profits ``[10, 30, 10, 30, 500]`` give the standard deviation of ``[10, 30, 10, 30]``, 10.0.
    """
    profit = np.asarray(trajectory.profit, dtype=np.float64)[:-1]
    if profit.size == 0:
        return float("nan")
    return float(np.std(profit))


METRICS: dict[str, Callable[[Trajectory], float]] = {
    "fill_rate": fill_rate,
    "lost_sales": lost_sales,
    "lost_sale_rate": lost_sale_rate,
    "oos_impression_share": oos_impression_share,
    "exposure_stock_rank_correlation": exposure_stock_rank_correlation,
    "order_exposure_lead_correlation": order_exposure_lead_correlation,
    "inventory_turnover": inventory_turnover,
    "days_of_supply": days_of_supply,
    "bullwhip_ratio": bullwhip_ratio,
    "profit_volatility": profit_volatility,
}
"""Every metric by name, in the fixed order used by results documents and tables."""

METRIC_DEFINITIONS: dict[str, str] = {
    "fill_rate": (
        "First-choice units served / first-choice demand over the episode, "
        "(sum sales - sum substitute_sales) / sum demand; 1.0 when there is no demand."
    ),
    "lost_sales": "Total lost sales over the episode, in units.",
    "lost_sale_rate": "Lost sales / first-choice demand over the episode; 0.0 when there is no demand.",
    "oos_impression_share": (
        "Impressions of out-of-stock products / all impressions over the episode; "
        "0.0 when there are no impressions."
    ),
    "exposure_stock_rank_correlation": (
        "Mean over periods of the Spearman correlation across products between impressions and "
        "days of supply (on_hand_start / the product's mean sales per period; products never sold "
        "excluded), over periods with >= 3 products and both vectors non-constant; nan if none."
    ),
    "order_exposure_lead_correlation": (
        "Mean over products of the Pearson correlation between orders[t, i] and "
        "impressions[t + round(L_i), i], over products with >= 3 pairs and both series "
        "non-constant; nan if none."
    ),
    "inventory_turnover": (
        "Units sold over the episode / mean total on-hand at period end; 0.0 if nothing sold, "
        "nan if units sold with zero stock at every period end."
    ),
    "days_of_supply": (
        "Mean total on-hand at period end / mean total sales per period, in periods; "
        "nan if nothing sold."
    ),
    "bullwhip_ratio": (
        "Variance over periods of total orders / variance of total sales (ddof=0); "
        "nan if sales variance is 0."
    ),
    "profit_volatility": (
        "Standard deviation (ddof=0) of per-period profit excluding the last period (salvage); "
        "nan if the episode has one period."
    ),
}
"""One-line definition of every metric, keyed and ordered like ``METRICS``."""


def compute_metrics(trajectory: Trajectory) -> dict[str, float]:
    """Every metric of ``METRICS`` on one episode.

    Parameters
    ----------
    trajectory : Trajectory
        The episode's period-level record.

    Returns
    -------
    dict[str, float]
        Metric name to Python float, with the keys of ``METRICS`` in its order.

    Examples
    --------
    ``compute_metrics(trajectory)["fill_rate"]`` equals ``fill_rate(trajectory)``.
    """
    return {name: float(metric(trajectory)) for name, metric in METRICS.items()}
