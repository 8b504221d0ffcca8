"""What the single and the vector environment share: options, spaces, and the batched bookkeeping.

:class:`~coord_env.env.parallel.RetailParallelEnv` is the batch-of-one view and
:class:`~coord_env.env.vector.RetailVectorEnv` the batch-of-B view of the same code: both validate
and decode actions with one :class:`~coord_env.env.actions.ActionCodec`, and build observations,
state vectors, infos and rewards with the methods below, over the core's leading batch dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from coord_env import core
from coord_env.checks import check_choice
from coord_env.env import compiled
from coord_env.env.actions import INVENTORY, RECOMMENDER, ActionCodec
from coord_env.env.layout import build_fields, layouts_for, time_features
from coord_env.env.rewards import resolve_reward_scale
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "INFO_KEYS",
    "INFO_MODES",
    "MINIMAL_INFO_KEYS",
    "OBSERVATION_MODES",
    "REWARD_MODES",
    "RetailEnvBase",
]

OBSERVATION_MODES = ("partial", "full", "siloed")
REWARD_MODES = ("team", "departmental")
INFO_KEYS = (
    "profit",
    "revenue",
    "salvage",
    "purchase_cost",
    "holding_cost",
    "lost_sale_penalty",
    "units_sold",
    "units_lost",
    "units_ordered",
    "units_received",
    "units_disposed",
    "demand",
    "fill_rate",
    "impressions",
    "oos_impressions",
    "period",
    "tick",
    "acts",
    "clipped_actions",
)
INFO_MODES = ("full", "minimal")
# infos="minimal": what a training wrapper needs per agent and step, no more
MINIMAL_INFO_KEYS = ("profit", "acts", "clipped_actions")


def assemble_info(
    totals: Any, money: tuple, fill_rate: Any, oos: Any, period: Any, tick: Any
) -> dict[str, Any]:
    """The info dict from the per-product totals (``compiled.tick_totals`` order) and the money
    (revenue, salvage, purchase, holding, penalty): arrays for a batch or Python floats for one
    retailer, through the same float64 steps as ``Outcome.profit``."""
    sold, _, lost, ordered, received, disposed, demand, impressions = totals
    revenue, salvage, purchase, holding, penalty = money
    operations = salvage - purchase - holding - penalty
    return {
        "profit": revenue + operations,
        "revenue": revenue,
        "salvage": salvage,
        "purchase_cost": purchase,
        "holding_cost": holding,
        "lost_sale_penalty": penalty,
        "units_sold": sold,
        "units_lost": lost,
        "units_ordered": ordered,
        "units_received": received,
        "units_disposed": disposed,
        "demand": demand,
        "fill_rate": fill_rate,
        "impressions": impressions,
        "oos_impressions": oos,
        "period": period,
        "tick": tick,
    }


class RetailEnvBase:
    """Options, per-retailer spaces and batched observation, info and reward building.

    Parameters
    ----------
    scenario, observation_mode, reward_mode, continuous_actions, inventory_action
        As for :class:`~coord_env.env.parallel.RetailParallelEnv`.
    clip_actions, infos, reward_scale, **overrides
        As for :class:`~coord_env.env.parallel.RetailParallelEnv`.

    Raises
    ------
    ValueError
        An option outside its allowed values (the message names it), or a bad scenario override.
    """

    def __init__(
        self,
        scenario: str | Scenario,
        observation_mode: str,
        reward_mode: str,
        continuous_actions: bool,
        inventory_action: str,
        clip_actions: bool = False,
        infos: str = "full",
        reward_scale: float | str = 1.0,
        **overrides: Any,
    ):
        self.scenario = load_scenario(scenario, **overrides)
        self.observation_mode = check_choice(
            "observation_mode", observation_mode, OBSERVATION_MODES
        )
        self.reward_mode = check_choice("reward_mode", reward_mode, REWARD_MODES)
        self.possible_agents = [INVENTORY, RECOMMENDER]
        self.agents: list[str] = []
        self.infos = check_choice("infos", infos, INFO_MODES)
        self.info_keys = INFO_KEYS if self.infos == "full" else MINIMAL_INFO_KEYS
        self.reward_scale = resolve_reward_scale(self.scenario, reward_scale)
        self.codec = ActionCodec(
            self.scenario, continuous_actions, inventory_action, clip_actions=clip_actions
        )
        self.continuous_actions = self.codec.continuous
        self.clip_actions = self.codec.clip_actions
        self.inventory_action = inventory_action
        fields = build_fields(self.scenario, self.codec.max_order)
        self.observation_layouts, self.state_layout = layouts_for(fields, self.observation_mode)
        self.observation_spaces = {
            agent: spaces.Box(layout.low, layout.high, dtype=np.float32)
            for agent, layout in self.observation_layouts.items()
        }
        self.action_spaces = dict(self.codec.spaces)
        self.state_space = spaces.Box(
            self.state_layout.low, self.state_layout.high, dtype=np.float32
        )
        s = self.scenario
        self._inverse_state_scale = 1.0 / self.state_layout.scale  # as ObservationLayout.build
        self._time_features = np.array(
            [time_features(s, tick) for tick in range(s.num_ticks + 1)], dtype=np.float64
        )

    def _fill_state_vectors(self, state: core.State, out: np.ndarray) -> np.ndarray:
        """Write the scaled state vectors of ``state`` into ``out`` (B, state_dim) float32; return it.

        What ``state_layout.build(layout.raw_state(scenario, state))`` computes, in one compiled pass.
        """
        s, tick = self.scenario, state.tick
        compiled.fill_state_vectors(
            state.on_hand,
            state.pipeline,
            state.drift_path,
            min(tick // s.ticks_per_period, s.horizon - 1),
            state.period_sales,
            state.period_lost,
            state.period_impressions,
            state.period_visits,
            state.last_sales,
            state.last_visits,
            state.last_purchases,
            self._time_features,
            tick,
            self._inverse_state_scale,
            out,
        )
        return out

    def _observe(self, state: core.State) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Observations ``{agent: (B, obs_dim)}`` and state vectors ``(B, state_dim)``, float32."""
        scaled = self._fill_state_vectors(
            state, np.empty((state.batch_size, self.state_layout.size), dtype=np.float32)
        )
        observations = {
            agent: layout.select(scaled) for agent, layout in self.observation_layouts.items()
        }
        return observations, scaled

    @staticmethod
    def _tick_totals(outcome: core.Outcome) -> np.ndarray:
        """(13, B) float64: the sums over products of sales, substitute sales, lost, ordered,
        received, disposed, demand and impressions, then revenue, salvage, purchase, holding and
        penalty (the orders ``assemble_info`` reads)."""
        totals = np.empty((13, outcome.sales.shape[0]))
        compiled.tick_totals(
            outcome.sales,
            outcome.substitute_sales,
            outcome.lost,
            outcome.ordered,
            outcome.received,
            outcome.disposed,
            outcome.demand,
            outcome.impressions,
            outcome.revenue,
            outcome.salvage,
            outcome.purchase_cost,
            outcome.holding_cost,
            outcome.lost_sale_penalty,
            totals,
        )
        return totals

    def _info_arrays(self, outcome: core.Outcome, tick: int) -> dict[str, np.ndarray]:
        """The tick's totals per retailer, ``{key: (B,) float64}`` for every key of INFO_KEYS but acts.

        ``tick`` is the tick just simulated (the state's tick minus one).
        """
        B = outcome.revenue.shape[0]
        totals = self._tick_totals(outcome)
        sold, substitute_sold, demand = totals[0], totals[1], totals[6]
        fill_rate = np.divide(sold - substitute_sold, demand, out=np.ones(B), where=demand > 0)
        period_tick = np.empty((2, B))
        period_tick[0] = tick // self.scenario.ticks_per_period
        period_tick[1] = tick
        money = tuple(totals[8:])
        oos = outcome.oos_impressions.astype(np.float64)
        return assemble_info(totals[:8], money, fill_rate, oos, period_tick[0], period_tick[1])

    def _rewards(self, info: dict[str, Any]) -> dict[str, Any]:
        """Both agents' rewards from the tick's totals (arrays or floats alike), times
        ``reward_scale`` (no multiplication at the default 1.0)."""
        if self.reward_mode == "team":
            rewards = {INVENTORY: info["profit"], RECOMMENDER: info["profit"]}
        else:
            operations = (
                info["salvage"]
                - info["purchase_cost"]
                - info["holding_cost"]
                - info["lost_sale_penalty"]
            )
            rewards = {INVENTORY: operations, RECOMMENDER: info["revenue"]}  # sum to profit
        if self.reward_scale != 1.0:
            scale = self.reward_scale
            rewards = {agent: reward * scale for agent, reward in rewards.items()}
        return rewards

    def _agent_infos(
        self, info: dict[str, Any], acts: dict[str, Any], clipped: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Each agent's infos: the tick's totals (every key, or ``MINIMAL_INFO_KEYS`` when
        ``infos="minimal"``) with the agent's own ``acts`` and ``clipped_actions``."""
        if self.infos == "minimal":
            return {
                agent: {
                    "profit": info["profit"],
                    "acts": acts[agent],
                    "clipped_actions": clipped[agent],
                }
                for agent in self.possible_agents
            }
        return {
            agent: {**info, "acts": acts[agent], "clipped_actions": clipped[agent]}
            for agent in self.possible_agents
        }

    def _zero_info(self) -> dict[str, float]:
        """The infos of a reset: zero totals, a fill rate of 1 (the keys of ``infos``)."""
        zero = dict.fromkeys(self.info_keys, 0.0)
        if "fill_rate" in zero:
            zero["fill_rate"] = 1.0
        return zero
