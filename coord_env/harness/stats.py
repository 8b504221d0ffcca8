"""Summary statistics of per-seed results: mean, interquartile mean, bootstrap confidence interval;
and the rliable-style aggregates over runs x tasks (Agarwal et al., 2021): IQM, stratified bootstrap
intervals, probability of improvement and performance profiles, with numpy and scipy only."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
from scipy import stats

__all__ = [
    "aggregate_iqm",
    "interval_estimate",
    "iqm",
    "performance_profile",
    "probability_of_improvement",
    "relative_change",
    "spread_ratio_test",
    "summarize",
]

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


def _matrix(scores: np.ndarray, label: str = "scores") -> np.ndarray:
    """``scores`` as a finite float matrix of runs x tasks, or a ValueError naming ``label``."""
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 1:
        raise ValueError(
            f"{label} must be a matrix of runs x tasks (at least 1 x 1); got shape {matrix.shape}"
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{label} must be finite; it holds NaN or infinity")
    return matrix


def spread_ratio_test(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """The ratio of two samples' standard deviations, and the two-sided F-test of their
    variances.

    A matrix of runs x tasks is centred on each task's mean first (a pooled within-task
    variance with ``runs x tasks - tasks`` degrees of freedom), so that the tasks' different
    levels do not count as spread; a vector is one task.

    Parameters
    ----------
    ours, theirs : array of shape (runs,) or (runs, tasks)
        Finite scores, with the same number of tasks.

    Returns
    -------
    (ratio, p_value)
        ``ratio`` = sd(ours) / sd(theirs). Both are NaN where the test is undefined: fewer than
        two runs on a side, or no spread in ``theirs``.

    Raises
    ------
    ValueError
        A sample that is not a finite vector or matrix, or samples with different tasks.

    Examples
    --------
    >>> a = np.array([[0.0, 10.0], [2.0, 12.0], [1.0, 11.0]])
    >>> ratio, p = spread_ratio_test(a, 2 * a)
    >>> round(ratio, 2), round(p, 2)
    (0.5, 0.21)
    """
    samples = []
    for label, sample in (("ours", ours), ("theirs", theirs)):
        sample = np.asarray(sample, dtype=float)
        samples.append(_matrix(sample[:, None] if sample.ndim == 1 else sample, label))
    (x, y) = samples
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"ours has {x.shape[1]} tasks and theirs {y.shape[1]}; they must match")

    def variance(matrix: np.ndarray) -> tuple[float, int]:
        dof = matrix.size - matrix.shape[1]
        residuals = matrix - matrix.mean(axis=0)
        return (float((residuals**2).sum() / dof) if dof > 0 else float("nan")), dof

    (var_x, dof_x), (var_y, dof_y) = variance(x), variance(y)
    if min(dof_x, dof_y) < 1 or var_y == 0.0:
        return float("nan"), float("nan")
    tail = float(stats.f.cdf(var_x / var_y, dof_x, dof_y))
    return float(np.sqrt(var_x / var_y)), float(2 * min(tail, 1 - tail))


def aggregate_iqm(scores: np.ndarray) -> float:
    """The interquartile mean over all runs and tasks (rliable's ``aggregate_iqm``).

    Parameters
    ----------
    scores : array of shape (runs, tasks)
        E.g. normalized scores, one row per training seed, one column per scenario.

    Returns
    -------
    float
        The mean of the middle 50% of the pooled scores.

    Raises
    ------
    ValueError
        ``scores`` is not a finite matrix.

    Examples
    --------
    >>> aggregate_iqm(np.array([[1, 2], [2, 2], [1, 1], [2, 1]]))
    1.5
    """
    return iqm(_matrix(scores).ravel())


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): per task the Mann-Whitney U statistic of X's runs against Y's over the number
    of pairs (ties count one half), averaged over tasks (rliable's definition).

    Parameters
    ----------
    scores_x, scores_y : arrays of shape (runs_x, tasks), (runs_y, tasks)
        The two methods' scores on the same tasks, in the same column order.

    Returns
    -------
    float
        In [0, 1]; 0.5 when neither method tends to score higher.

    Raises
    ------
    ValueError
        A score set is not a finite matrix, or the two have different numbers of tasks.

    Examples
    --------
    >>> x = np.array([[1, 2], [2, 2], [1, 1], [2, 1]])
    >>> round(probability_of_improvement(x, np.array([[1, 1], [2, 2], [3, 3]])), 6)
    0.333333
    """
    x, y = _matrix(scores_x, "scores_x"), _matrix(scores_y, "scores_y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"scores_x and scores_y must have the same tasks (columns); got {x.shape[1]} and "
            f"{y.shape[1]}"
        )
    # the U statistic of each task, counted over all (x run, y run) pairs: what
    # scipy.stats.mannwhitneyu(x, y, axis=0).statistic returns, without its test's overhead
    pairs_x, pairs_y = x[:, None, :], y[None, :, :]
    u = (pairs_x > pairs_y).sum(axis=(0, 1)) + 0.5 * (pairs_x == pairs_y).sum(axis=(0, 1))
    return float(np.mean(u) / (x.shape[0] * y.shape[0]))


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The run-score distribution: for each threshold, the fraction of runs x tasks scoring above.

    Parameters
    ----------
    scores : array of shape (runs, tasks)
    taus : array of float
        Thresholds, e.g. ``np.linspace(0, 100, 101)`` for normalized scores.

    Returns
    -------
    array of float, one fraction in [0, 1] per threshold (non-increasing in ``tau``).

    Examples
    --------
    >>> performance_profile(np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([0.0, 2.0, 4.0]))
    array([1. , 0.5, 0. ])
    """
    matrix = _matrix(scores)
    thresholds = np.asarray(taus, dtype=float)
    return (matrix.ravel()[None, :] > thresholds.ravel()[:, None]).mean(axis=1)


def interval_estimate(
    statistic: Callable[..., float | np.ndarray],
    *scores: np.ndarray,
    reps: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, np.ndarray | float]:
    """A statistic of score matrices and its stratified-bootstrap percentile interval.

    Each resample draws, for every score matrix and every task (column) separately, as many runs
    with replacement as the task has: the strata are the tasks (scenarios), so each resample keeps
    every task's weight (rliable's ``StratifiedBootstrap``; matrices are resampled independently,
    as its ``StratifiedIndependentBootstrap`` does for probability of improvement).

    Parameters
    ----------
    statistic : callable
        Of as many matrices as ``scores``; a float or an array (e.g. a performance profile).
    *scores : arrays of shape (runs, tasks)
    reps : int
        Bootstrap resamples.
    seed : int
        Seeds the resampling: the same inputs always give the same interval.
    confidence : float
        The interval's coverage, in (0, 1).

    Returns
    -------
    dict with ``value`` (the statistic of the data), ``ci_low`` and ``ci_high``: floats for a
    scalar statistic, arrays for an array one.

    Raises
    ------
    ValueError
        No score matrix, a matrix that is not finite, ``reps`` < 1 or ``confidence`` outside (0, 1).

    Examples
    --------
    >>> x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    >>> out = interval_estimate(aggregate_iqm, x, reps=200)
    >>> out["ci_low"] <= out["value"] <= out["ci_high"]
    True
    """
    if not scores:
        raise ValueError("interval_estimate needs at least one score matrix")
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps must be a positive integer; got {reps!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    matrices = [_matrix(matrix, f"scores[{index}]") for index, matrix in enumerate(scores)]
    rng = np.random.default_rng(seed)
    indices = [rng.integers(0, m.shape[0], size=(reps, *m.shape)) for m in matrices]
    samples = np.array(
        [
            np.asarray(
                statistic(
                    *(
                        np.take_along_axis(m, index[rep], axis=0)
                        for m, index in zip(matrices, indices, strict=True)
                    )
                ),
                dtype=float,
            )
            for rep in range(reps)
        ]
    )
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    value = np.asarray(statistic(*matrices), dtype=float)
    if value.ndim == 0:
        return {"value": float(value), "ci_low": float(low), "ci_high": float(high)}
    return {"value": value, "ci_low": low, "ci_high": high}
