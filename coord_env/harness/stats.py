"""Summary statistics of per-seed results: mean, interquartile mean, bootstrap confidence interval."""

from __future__ import annotations

import inspect

import numpy as np
from scipy import stats

__all__ = ["iqm", "relative_change", "summarize"]

BOOTSTRAP_RESAMPLES = 9_999
# scipy >= 1.15 names the generator ``rng``; older releases ``random_state``.
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
CONFIDENCE = 0.95


def relative_change(value: float, reference: float) -> str:
    """``value`` relative to ``reference`` in percent, signed by which is larger ("n/a" for 0).

    Examples
    --------
    >>> relative_change(68_180.0, 57_223.0), relative_change(-1_000.0, -3_000.0)
    ('+19.1%', '+66.7%')
    """
    if reference == 0:
        return "n/a"
    return f"{100 * (value - reference) / abs(reference):+.1f}%"


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25% trimmed mean).

    Examples
    --------
    >>> iqm(np.array([1.0, 2.0, 3.0, 4.0, 100.0, -100.0, 2.5, 3.5]))
    2.75
    """
    return float(stats.trim_mean(np.asarray(values, dtype=float), 0.25))


def summarize(values: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean, IQM and a 95% percentile-bootstrap CI of the mean (deterministic for a given seed).

    Parameters
    ----------
    values : array of float
        One value per evaluation seed.
    seed : int
        Seeds the bootstrap's resampling, so the same values always give the same interval.

    Returns
    -------
    dict with ``mean``, ``iqm``, ``ci_low``, ``ci_high``, ``n``.

    Examples
    --------
    >>> out = summarize(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> out["mean"], out["ci_low"] <= 2.5 <= out["ci_high"]
    (2.5, True)
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2 or np.all(values == values[0]):
        low = high = mean
    else:
        result = stats.bootstrap(
            (values,),
            np.mean,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            **{_RNG_KEYWORD: np.random.default_rng(seed)},
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return {"mean": mean, "iqm": iqm(values), "ci_low": low, "ci_high": high, "n": int(values.size)}
