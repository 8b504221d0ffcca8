"""The lp policy: slates at the fluid LP's mix, base-stock orders on its planned sales."""

import numpy as np
import pytest

import coord_env
from baselines import LPPolicy
from baselines.heuristics.base_stock import critical_ratio, poisson_base_stock


def test_first_orders_follow_the_plan_with_base_stock_safety():
    env = coord_env.parallel_env("small")
    policy = LPPolicy(env)
    policy.reset(seed=0)
    observations, infos = env.reset(seed=4)
    actions = policy.act(observations, infos)
    s, plan = env.scenario, policy.plan
    planned = plan.served.sum(axis=1) + plan.substitutes.sum(axis=1)  # (T, N)
    lead = np.rint(s.mean_lead_time).astype(int)
    demand = np.array([planned[: lead[i] + 1, i].sum() for i in range(s.num_products)])
    target = poisson_base_stock(demand, critical_ratio(s))
    snapshot = env.snapshot()
    position = snapshot["on_hand"] + snapshot["pipeline"].sum(axis=1)
    expected = np.clip(np.ceil((target - position) / s.order_step), 0, s.order_levels - 1)
    assert actions["inventory_0"].tolist() == expected.astype(int).tolist()


def test_slates_come_from_the_plans_boost_mix():
    env = coord_env.parallel_env("default")
    policy = LPPolicy(env)
    policy.reset(seed=1)
    observations, infos = env.reset(seed=2)
    seen = np.zeros((env.scenario.num_segments, env.scenario.num_products))
    for _ in range(30):
        slate = policy.act(observations, infos)["recommender_0"].reshape(
            env.scenario.num_segments, -1
        )
        policy.tick = 0  # keep drawing period 0's mix
        for k, row in enumerate(slate):
            seen[k, row] += 1
    mass = policy.plan.boost_mass[0]
    # products the LP never boosts are (almost surely) never shown; the most boosted one often is
    assert np.all(seen[mass <= 1e-9] == 0)
    assert np.all(seen[np.arange(len(mass)), mass.argmax(axis=1)] > 0)


def test_lp_policy_is_reproducible_and_beats_random():
    seeds = [11, 12, 13]
    first = coord_env.evaluate("lp", "tiny", seeds=seeds)
    assert first == coord_env.evaluate("lp", "tiny", seeds=seeds)
    assert (
        first["profit"]["mean"]
        > coord_env.evaluate("random", "tiny", seeds=seeds)["profit"]["mean"]
    )


def test_the_lp_policy_refuses_scenarios_too_large_for_its_lp():
    env = coord_env.parallel_env("large")
    assert not LPPolicy.supports(env.scenario)
    with pytest.raises(ValueError, match=r"too large for coord/large-v0 \(T\*M\*N = 1,460,000"):
        LPPolicy(env)
