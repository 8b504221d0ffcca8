"""The ``lp`` policy: follow the fluid LP (docs/upper_bound.md).

It plans once per scenario with the fluid LP (:func:`coord_env.analysis.solve_fluid_lp`) on what a
firm knows before the episode: its fitted demand model at popularity 1 (the drift path is hidden),
the scenario's nominal lead times, and the expected initial stock. The plan is cached, so an
evaluation solves one LP per process rather than one per seed. It then

- shows randomized slates at the LP's mix: each tick, each segment's C products are drawn without
  replacement with probabilities proportional to the LP's boost mass ``e_kit`` (Gumbel top-k), and
  placed in slots in decreasing order of that mass;
- orders up to the LP's planned sales over the lead time plus base-stock safety stock: the level is
  the Poisson quantile at the critical ratio of the planned demand over L_i + 1 periods, against
  the inventory position it observes.
"""

from __future__ import annotations

import numpy as np

from baselines.heuristics.base_stock import (
    critical_ratio,
    inventory_position,
    order_levels,
    poisson_base_stock,
)
from baselines.heuristics.siloed import check_supported
from coord_env.analysis import FluidPlan, solve_fluid_lp
from coord_env.analysis.upper_bound import MAX_CHOICE_TERMS
from coord_env.env import RetailParallelEnv
from coord_env.env.layout import INVENTORY_ACTS
from coord_env.scenarios import Scenario

__all__ = ["LPPolicy"]


_PLANS: dict[str, FluidPlan] = {}  # by scenario content hash: copies in worker processes share it


def _plan(scenario: Scenario) -> FluidPlan:
    """The fluid LP at popularity 1, nominal lead times and the expected initial stock (cached)."""
    s = scenario
    if s.content_hash in _PLANS:
        return _PLANS[s.content_hash]
    lead = np.rint(s.mean_lead_time).astype(np.int64)
    initial = s.initial_stock_high / 2.0  # the mean of the uniform initial draw
    if initial.sum() > s.warehouse_capacity:
        initial = initial * s.warehouse_capacity / initial.sum()
    popularity = np.ones((s.horizon, s.num_products))
    plan = solve_fluid_lp(
        s, initial, popularity, np.broadcast_to(lead, (s.horizon, s.num_products))
    )
    _PLANS[s.content_hash] = plan
    return plan


class LPPolicy:
    """Randomized slates at the fluid LP's mix and base-stock orders on its planned sales.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> policy = LPPolicy(env)
    >>> policy.reset(seed=0)
    >>> sorted(policy.act(*env.reset(seed=0)))
    ['inventory_0', 'recommender_0']
    """

    name = "lp"

    def __init__(self, env: RetailParallelEnv):
        check_supported(env)
        s = env.scenario
        if not self.supports(s):
            raise ValueError(
                f"the lp policy plans with the per-period fluid LP, which is too large for "
                f"{s.env_id} (T*M*N = {s.horizon * s.num_segments * s.num_products:,} > "
                f"{MAX_CHOICE_TERMS:,})"
            )
        self.scenario = s
        self.layout = env.observation_layouts["inventory_0"]
        self.ratio = critical_ratio(s)
        self.lead_time = np.rint(s.mean_lead_time).astype(np.int64)
        self.plan: FluidPlan | None = None
        self.rng = np.random.default_rng()
        self.tick = 0

    @staticmethod
    def supports(scenario: Scenario) -> bool:
        """Whether the scenario is small enough for the per-period fluid LP."""
        return scenario.horizon * scenario.num_segments * scenario.num_products <= MAX_CHOICE_TERMS

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.plan = None
        self.tick = 0

    def _slates(self, period: int) -> np.ndarray:
        """One slate per segment drawn at the LP's boost mix for ``period``."""
        s = self.scenario
        mass = self.plan.boost_mass[period]  # (M, N)
        weights = (
            np.maximum(mass, 0.0) + 1e-12
        )  # every product possible, the LP's ones far likelier
        keys = np.log(weights) + self.rng.gumbel(size=weights.shape)  # Gumbel top-k: no replacement
        chosen = np.argsort(-keys, axis=1, kind="stable")[:, : s.num_slots]
        order = np.argsort(-np.take_along_axis(mass, chosen, axis=1), axis=1, kind="stable")
        return np.take_along_axis(chosen, order, axis=1)

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        s = self.scenario
        blocks = self.layout.unscale(observations["inventory_0"])
        if self.plan is None:
            self.plan = _plan(self.scenario)
        period = min(self.tick // s.ticks_per_period, s.horizon - 1)
        levels = np.zeros(s.num_products, dtype=np.int64)
        if blocks["time"][INVENTORY_ACTS] == 1.0:  # the inventory agent acts on this tick
            planned = self.plan.served.sum(axis=1) + self.plan.substitutes.sum(
                axis=1
            )  # (T, N) sales
            window = np.arange(period, period + self.lead_time.max() + 1)
            window = window[window < s.horizon]
            demand = np.zeros(s.num_products)
            for i, lead in enumerate(self.lead_time.tolist()):
                demand[i] = planned[window[: lead + 1], i].sum()
            target = poisson_base_stock(demand, self.ratio)
            levels = order_levels(
                target, inventory_position(blocks), s.order_step, s.order_levels - 1
            )
        slates = self._slates(period)
        self.tick += 1
        return {"inventory_0": levels, "recommender_0": slates.reshape(-1)}
