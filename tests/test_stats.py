"""The rliable-style statistics (coord_env/harness/stats.py) against rliable's published test values,
scipy's Mann-Whitney U and closed forms; the performance-profile plot."""

import numpy as np
import pytest
from scipy import stats

from coord_env.harness.plots import plot_performance_profiles
from coord_env.harness.stats import (
    aggregate_iqm,
    interval_estimate,
    performance_profile,
    probability_of_improvement,
)

# rliable's tests/rliable/metrics_test.py: runs x tasks
RLIABLE_X = np.array([[1, 2], [2, 2], [1, 1], [2, 1]])
RLIABLE_Y = np.array([[1, 1], [2, 2], [3, 3]])


def test_rliable_published_values():
    assert aggregate_iqm(RLIABLE_X) == 1.5
    assert aggregate_iqm(RLIABLE_Y) == 2.0
    assert probability_of_improvement(RLIABLE_X, RLIABLE_Y) == pytest.approx(1 / 3)


def test_iqm_pools_runs_and_tasks_and_drops_the_outer_quartiles():
    scores = np.array([[1.0, 100.0], [2.0, 3.0], [-50.0, 4.0], [5.0, 6.0]])
    assert aggregate_iqm(scores) == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0]))


def test_probability_of_improvement_is_mann_whitney_u_over_pairs():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, size=(7, 3)), rng.integers(0, 4, size=(5, 3))  # many ties
    expected = np.mean(
        [stats.mannwhitneyu(x[:, t], y[:, t], alternative="greater").statistic for t in range(3)]
    ) / (7 * 5)
    assert probability_of_improvement(x, y) == pytest.approx(expected, abs=1e-12)
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1)
    assert probability_of_improvement(x + 10, x) == 1.0
    assert probability_of_improvement(x, x + 10) == 0.0
    assert probability_of_improvement(x, x) == 0.5


def test_performance_profile_counts_runs_above_each_threshold():
    scores = np.array([[10.0, 30.0], [20.0, 40.0]])
    profile = performance_profile(scores, np.array([0.0, 10.0, 25.0, 40.0]))
    np.testing.assert_array_equal(profile, [1.0, 0.75, 0.5, 0.0])  # strictly above tau


def test_the_bootstrap_resamples_runs_within_each_task():
    """Strata are tasks: a resampled column holds only that column's runs, each column its own
    number of runs, and a constant task stays constant."""
    scores = np.array([[1.0, 100.0, 7.0], [2.0, 200.0, 7.0], [3.0, 300.0, 7.0]])

    def check(resample: np.ndarray) -> np.ndarray:
        assert resample.shape == scores.shape
        for task in range(scores.shape[1]):
            assert set(resample[:, task]) <= set(scores[:, task])
        return resample.mean(axis=0)

    out = interval_estimate(check, scores, reps=300)
    assert out["ci_low"][2] == out["ci_high"][2] == 7.0
    assert 1.0 <= out["ci_low"][0] <= 2.0 <= out["ci_high"][0] <= 3.0


def test_the_bootstrap_interval_of_a_mean_matches_the_binomial_closed_form():
    """20 runs of 0 and 1 (10 each): a resample's mean is Binomial(20, 1/2) / 20, whose 2.5% and
    97.5% quantiles are 6/20 and 14/20."""
    scores = np.array([[0.0]] * 10 + [[1.0]] * 10)
    out = interval_estimate(lambda s: float(s.mean()), scores)
    assert (out["value"], out["ci_low"], out["ci_high"]) == (0.5, 0.3, 0.7)


def test_probability_of_improvement_interval_resamples_both_methods():
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 1.0, size=(10, 2)), rng.normal(0.0, 1.0, size=(10, 2))
    out = interval_estimate(probability_of_improvement, x, y, reps=2_000, seed=5)
    assert out["value"] == probability_of_improvement(x, y)
    assert 0.0 <= out["ci_low"] < out["value"] < out["ci_high"] <= 1.0
    assert out == interval_estimate(probability_of_improvement, x, y, reps=2_000, seed=5)


def test_bad_scores_name_the_argument():
    with pytest.raises(ValueError, match=r"scores must be a matrix of runs x tasks.*shape \(3,\)"):
        aggregate_iqm(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="scores_y must be finite"):
        probability_of_improvement(RLIABLE_X, np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"same tasks .* got 2 and 1"):
        probability_of_improvement(RLIABLE_X, np.array([[1.0]]))
    with pytest.raises(ValueError, match="reps must be a positive integer; got 0"):
        interval_estimate(aggregate_iqm, RLIABLE_X, reps=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 95"):
        interval_estimate(aggregate_iqm, RLIABLE_X, confidence=95)


def test_the_performance_profile_plot(tmp_path):
    taus = np.linspace(0.0, 3.0, 31)
    profiles = {
        name: interval_estimate(lambda s: performance_profile(s, taus), scores, reps=200)
        for name, scores in {"x": RLIABLE_X, "y": RLIABLE_Y}.items()
    }
    path = plot_performance_profiles(profiles, taus, tmp_path / "profiles.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="profile 'x': value has shape"):
        plot_performance_profiles(profiles, taus[:5], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
