"""The episode reset (coord_env.core.state): initial stock, drift and lead-time paths drawn per seed.

Statistical checks allow Z standard errors of the estimator, so a correct reset fails them with
negligible probability (and the seeds are fixed, so they are deterministic).
"""

import numpy as np
import pytest

from coord_env import load_scenario
from coord_env.core import reset, step

Z = 5.0  # standard errors allowed


def test_random_lead_times_follow_their_distribution():
    s = load_scenario("large")
    assert s.random_lead_times
    state = reset(s, np.random.default_rng(0), batch_size=40)
    lead = state.lead_time_path  # (B, T, N)
    for product in (0, 1, 2):
        pmf = s.lead_time_pmf[product]
        draws = lead[:, :, product].ravel()
        frequency = np.bincount(draws, minlength=s.max_lead_time + 1)[1:] / draws.size
        se = np.sqrt(pmf * (1 - pmf) / draws.size)
        assert np.all(np.abs(frequency - pmf) <= Z * se + 1e-12)


def test_drift_starts_stationary_and_is_ar1():
    s = load_scenario("default")
    state = reset(s, np.random.default_rng(14), batch_size=20_000)
    d = state.drift_path  # (B, T, N)
    stationary_var = s.drift_std**2 / (1 - s.drift_rho**2)
    for t in (0, 50):
        var = d[:, t].var(axis=0)
        # the variance of a sample variance of normals is 2 sigma^4 / (B - 1)
        assert np.all(np.abs(var - stationary_var) <= Z * np.sqrt(2 / d.shape[0]) * stationary_var)
    innovation = d[:, 1:] - s.drift_rho * d[:, :-1]
    assert np.allclose(innovation.std(axis=(0, 1)), s.drift_std, rtol=0.01)
    assert np.all(np.abs(d) <= s.drift_bound)


def test_initial_stock_is_uneven_within_bounds_and_pipeline_empty():
    s = load_scenario("default")
    state = reset(s, np.random.default_rng(15), batch_size=5000)
    assert np.all(state.on_hand >= 0) and np.all(state.on_hand <= s.initial_stock_high)
    assert state.pipeline.sum() == 0
    # uniform on {0..high}: mean high / 2
    mean = state.on_hand.mean(axis=0)
    se = np.sqrt(((s.initial_stock_high + 1) ** 2 - 1) / 12 / 5000)
    assert np.all(np.abs(mean - s.initial_stock_high / 2) <= Z * se)


def test_initial_stock_respects_capacity():
    s = load_scenario("capacity")
    state = reset(s, np.random.default_rng(16), batch_size=200)
    assert np.all(state.on_hand.sum(axis=1) <= s.warehouse_capacity)


def test_batch_members_are_independent_but_reproducible():
    s = load_scenario("small")
    a = reset(s, np.random.default_rng(99), batch_size=4)
    b = reset(s, np.random.default_rng(99), batch_size=4)
    assert np.array_equal(a.on_hand, b.on_hand) and np.array_equal(a.drift_path, b.drift_path)
    assert not np.array_equal(a.on_hand[0], a.on_hand[1])


def test_exogenous_paths_do_not_depend_on_actions():
    # Common random numbers: the drift path and initial stock are fixed by the seed alone.
    s = load_scenario("default")
    paths = []
    for order_size in (0, 50):
        rng = np.random.default_rng(7)
        state = reset(s, rng)
        drift = state.drift_path.copy()
        for _ in range(5):
            step(s, state, np.full((1, s.num_products), order_size), np.zeros((1, 4, 2), int), rng)
        paths.append(drift)
    assert np.array_equal(paths[0], paths[1])


@pytest.mark.parametrize("shape", [(1, 104, 10), (3, 7, 2), (64, 104, 10), (1024, 13, 10)])
def test_drift_paths_are_bit_for_bit_scipys_ar1_filter(shape):
    """Both ways of building the drift (lfilter for few series, period by period for many) give
    exactly scipy's AR(1) filter, so every seed's drift is the same whatever the batch size."""
    from scipy.signal import lfilter

    from coord_env.core.state import ar1_paths

    shocks = np.random.default_rng(3).standard_normal(shape)
    expected = lfilter([1.0], [1.0, -0.9], shocks, axis=1)
    assert np.array_equal(ar1_paths(shocks, 0.9), expected)
