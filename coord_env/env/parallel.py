"""The PettingZoo parallel environment: the retail model seen by an inventory and a recommender agent."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import ParallelEnv

from coord_env import core
from coord_env.checks import check_choice
from coord_env.env.actions import INVENTORY, RECOMMENDER, ActionCodec
from coord_env.env.layout import build_fields, layouts_for, raw_state
from coord_env.scenarios import Scenario, load_scenario

__all__ = ["INFO_KEYS", "OBSERVATION_MODES", "REWARD_MODES", "RetailParallelEnv"]

OBSERVATION_MODES = ("partial", "full", "siloed")
REWARD_MODES = ("team", "departmental")
RENDER_MODES = ("ansi", "rgb_array")
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
)


class RetailParallelEnv(ParallelEnv, EzPickle):
    """A retailer whose inventory and recommender agents share one profit (PettingZoo parallel API).

    Parameters
    ----------
    scenario : str or Scenario
        A catalog name (``coord_env.list_scenarios()``) or a Scenario.
    observation_mode : {"partial", "full", "siloed"}
        What each agent sees (docs/model.md, "Observations").
    reward_mode : {"team", "departmental"}
        Both agents get the profit, or revenue (recommender) and the rest (inventory).
    continuous_actions : bool
        Box actions (order fractions, recommendation scores) instead of MultiDiscrete.
    inventory_action : {"order_quantity", "order_up_to"}
        Whether the inventory level is an order quantity or a target inventory position.
    render_mode : {None, "ansi", "rgb_array"}
    **overrides
        Scenario parameters to replace, e.g. ``horizon=20``.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny", observation_mode="full")
    >>> observations, infos = env.reset(seed=7)
    >>> actions = {agent: env.action_space(agent).sample() for agent in env.agents}
    >>> observations, rewards, terminations, truncations, infos = env.step(actions)
    >>> round(rewards["inventory_0"], 6) == round(infos["inventory_0"]["profit"], 6)
    True
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "coord_retail_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        scenario: str | Scenario = "default",
        observation_mode: str = "partial",
        reward_mode: str = "team",
        continuous_actions: bool = False,
        inventory_action: str = "order_quantity",
        render_mode: str | None = None,
        **overrides: Any,
    ):
        EzPickle.__init__(
            self,
            scenario,
            observation_mode,
            reward_mode,
            continuous_actions,
            inventory_action,
            render_mode,
            **overrides,
        )
        self.scenario = load_scenario(scenario, **overrides)
        self.observation_mode = check_choice(
            "observation_mode", observation_mode, OBSERVATION_MODES
        )
        self.reward_mode = check_choice("reward_mode", reward_mode, REWARD_MODES)
        if render_mode is not None:
            check_choice("render_mode", render_mode, RENDER_MODES)
        self.render_mode = render_mode
        self.possible_agents = [INVENTORY, RECOMMENDER]
        self.agents: list[str] = []
        self.codec = ActionCodec(self.scenario, continuous_actions, inventory_action)
        self.continuous_actions = self.codec.continuous
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
        self._rng: np.random.Generator | None = None
        self._state: core.State | None = None
        self.last_outcome: core.Outcome | None = None
        self.episode_profit = 0.0

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode; ``seed`` fixes every random draw of the episode."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self._state = core.reset(self.scenario, self._rng, batch_size=1)
        self.agents = list(self.possible_agents)
        self.last_outcome = None
        self.episode_profit = 0.0
        zero = dict.fromkeys(INFO_KEYS, 0.0)
        zero["fill_rate"] = 1.0
        infos = {agent: dict(zero) for agent in self.agents}
        return self._observations(), infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply both agents' actions for one tick (see docs/model.md for the order of events).

        Raises
        ------
        RuntimeError
            Before ``reset`` or after the episode ended.
        InvalidActionError
            A bad action; nothing changes, the env stays usable.
        """
        if self._state is None:
            raise RuntimeError("step() called before reset(); call env.reset(seed=...) first")
        if not self.agents:
            raise RuntimeError(
                "step() called after the episode ended; call env.reset() to start a new one"
            )
        state, s = self._state, self.scenario
        units, slates = self.codec.decode(actions, self.agents)
        inventory_acts = state.tick % s.ticks_per_period == 0
        outcome = core.step(
            s, state, units[None], slates[None], self._rng, order_up_to=self.codec.order_up_to
        )
        self.last_outcome = outcome
        info = self._info(outcome)
        profit = info["profit"]
        self.episode_profit += profit
        infos = {
            INVENTORY: {**info, "acts": float(inventory_acts)},
            RECOMMENDER: {**info, "acts": 1.0},
        }
        if self.reward_mode == "team":
            rewards = {INVENTORY: profit, RECOMMENDER: profit}
        else:
            operations = (
                info["salvage"]
                - info["purchase_cost"]
                - info["holding_cost"]
                - info["lost_sale_penalty"]
            )
            rewards = {INVENTORY: operations, RECOMMENDER: info["revenue"]}  # sum exactly to profit
        done = state.tick >= s.num_ticks
        observations = self._observations()
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: done for agent in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The full state as a float32 vector (layout: ``env.state_layout``), for centralized critics."""
        if self._state is None:
            raise RuntimeError("state() called before reset()")
        return self.state_layout.build(raw_state(self.scenario, self._state))[0]

    def render(self) -> str | np.ndarray | None:
        """ANSI text table or a small RGB dashboard, per ``render_mode``."""
        if self.render_mode is None:
            return None
        if self._state is None:
            raise RuntimeError("render() called before reset()")
        from coord_env.env import render

        if self.render_mode == "ansi":
            return render.ansi(self)
        return render.rgb_array(self)

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ raw access for evaluators
    def snapshot(self) -> dict[str, Any]:
        """Raw, unscaled quantities of the current state and last tick (copies).

        Keys: ``tick``, ``period``, ``on_hand`` (N,), ``pipeline`` (N, L_max), ``inventory_position`` (N,),
        ``last_orders`` (N,), ``last_slates`` (M, C), ``drift`` (N,), and from the last tick ``sales``,
        ``lost``, ``demand``, ``impressions`` (N,), ``visits``, ``purchases`` (M,) (zeros after reset).
        """
        if self._state is None:
            raise RuntimeError("snapshot() called before reset()")
        state, s = self._state, self.scenario
        period = min(state.tick // s.ticks_per_period, s.horizon - 1)
        out = self.last_outcome
        n_zeros, m_zeros = (
            np.zeros(s.num_products, dtype=np.int64),
            np.zeros(s.num_segments, dtype=np.int64),
        )
        return {
            "tick": state.tick,
            "period": state.tick // s.ticks_per_period,
            "on_hand": state.on_hand[0].copy(),
            "pipeline": state.pipeline[0].copy(),
            "inventory_position": state.on_hand[0] + state.pipeline[0].sum(axis=1),
            "last_orders": state.last_orders[0].copy(),
            "last_slates": state.last_slates[0].copy(),
            "drift": state.drift_path[0, period].copy(),
            "sales": out.sales[0].copy() if out else n_zeros,
            "lost": out.lost[0].copy() if out else n_zeros.copy(),
            "demand": out.demand[0].copy() if out else n_zeros.copy(),
            "impressions": out.impressions[0].copy() if out else n_zeros.copy(),
            "visits": out.visits[0].copy() if out else m_zeros,
            "purchases": out.purchases[0].copy() if out else m_zeros.copy(),
        }

    # ------------------------------------------------------------------ internals
    def _observations(self) -> dict[str, np.ndarray]:
        scaled = self.state_layout.build(raw_state(self.scenario, self._state))
        return {
            agent: layout.select(scaled)[0] for agent, layout in self.observation_layouts.items()
        }

    def _info(self, outcome: core.Outcome) -> dict[str, float]:
        per_product = (
            outcome.sales,
            outcome.substitute_sales,
            outcome.lost,
            outcome.ordered,
            outcome.received,
            outcome.disposed,
            outcome.demand,
            outcome.impressions,
        )  # each (1, N): one concatenation and one sum beat eight reductions
        totals = np.concatenate(per_product).sum(axis=1).tolist()
        sold, substitute_sold, lost, ordered, received, disposed, demand, impressions = totals
        tick = self._state.tick - 1
        revenue, salvage = float(outcome.revenue[0]), float(outcome.salvage[0])
        purchase, holding = float(outcome.purchase_cost[0]), float(outcome.holding_cost[0])
        penalty = float(outcome.lost_sale_penalty[0])
        operations = salvage - purchase - holding - penalty  # the float64 steps of Outcome.profit
        return {
            "profit": revenue + operations,
            "revenue": revenue,
            "salvage": salvage,
            "purchase_cost": purchase,
            "holding_cost": holding,
            "lost_sale_penalty": penalty,
            "units_sold": float(sold),
            "units_lost": float(lost),
            "units_ordered": float(ordered),
            "units_received": float(received),
            "units_disposed": float(disposed),
            "demand": float(demand),
            "fill_rate": (sold - substitute_sold) / demand if demand else 1.0,
            "impressions": float(impressions),
            "oos_impressions": float(outcome.oos_impressions[0]),
            "period": float(tick // self.scenario.ticks_per_period),
            "tick": float(tick),
        }
