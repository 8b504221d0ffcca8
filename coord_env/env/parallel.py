"""The PettingZoo parallel environment: the retail model seen by an inventory and a recommender agent."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import ParallelEnv

from coord_env import core
from coord_env.checks import check_choice
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.env.base import (
    INFO_KEYS,
    OBSERVATION_MODES,
    REWARD_MODES,
    RetailEnvBase,
    assemble_info,
)
from coord_env.scenarios import Scenario

__all__ = ["INFO_KEYS", "OBSERVATION_MODES", "REWARD_MODES", "RetailParallelEnv"]

RENDER_MODES = ("ansi", "rgb_array")
_NOT_CLIPPED = {INVENTORY: 0.0, RECOMMENDER: 0.0}


class RetailParallelEnv(RetailEnvBase, ParallelEnv, EzPickle):
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
    clip_actions : bool
        Training only: clip Box actions to each agent's bounds instead of refusing them (needs
        ``continuous_actions=True``; NaN and inf are still refused); ``infos[agent]
        ["clipped_actions"]`` counts the entries clipped. Default False: strict.
    infos : {"full", "minimal"}
        Every info key (``INFO_KEYS``), or only ``MINIMAL_INFO_KEYS`` (profit, acts,
        clipped_actions) for training wrappers that convert infos on every step.
    reward_scale : float or "auto"
        Factor on both agents' rewards (infos stay in money); ``"auto"``:
        :func:`coord_env.env.rewards.inverse_revenue_per_tick`. Default 1.0: unscaled.
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
        *,
        clip_actions: bool = False,
        infos: str = "full",
        reward_scale: float | str = 1.0,
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
            clip_actions=clip_actions,
            infos=infos,
            reward_scale=reward_scale,
            **overrides,
        )
        RetailEnvBase.__init__(
            self,
            scenario,
            observation_mode,
            reward_mode,
            continuous_actions,
            inventory_action,
            clip_actions=clip_actions,
            infos=infos,
            reward_scale=reward_scale,
            **overrides,
        )
        if render_mode is not None:
            check_choice("render_mode", render_mode, RENDER_MODES)
        self.render_mode = render_mode
        self._rng: np.random.Generator | None = None
        self._state: core.State | None = None
        self.last_outcome: core.Outcome | None = None
        self.episode_profit = 0.0
        # Written in place every step; never handed out (observations and state() are copies).
        self._state_vectors = np.empty((1, self.state_layout.size), dtype=np.float32)

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
        zero = self._zero_info()
        infos = {agent: dict(zero) for agent in self.agents}
        return self._observations(), infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply both agents' actions for one tick (see docs/model.md for the order of events).

        Raises
        ------
        RuntimeError
            Before ``reset`` or after the episode ended.
        InvalidActionError
            A bad action (with ``clip_actions=True``, still NaN, inf, a wrong shape, dtype or
            key); nothing changes, the env stays usable.
        """
        if self._state is None:
            raise RuntimeError("step() called before reset(); call env.reset(seed=...) first")
        if not self.agents:
            raise RuntimeError(
                "step() called after the episode ended; call env.reset() to start a new one"
            )
        state, s = self._state, self.scenario
        if self.clip_actions:
            actions, clipped = self.codec.clip(actions)
        else:
            clipped = _NOT_CLIPPED
        units, slates = self.codec.decode(actions, self.agents)
        inventory_acts = state.tick % s.ticks_per_period == 0
        outcome = core.step(
            s, state, units[None], slates[None], self._rng, order_up_to=self.codec.order_up_to
        )
        self.last_outcome = outcome
        info = self._info(outcome)
        self.episode_profit += info["profit"]
        infos = self._agent_infos(
            info, {INVENTORY: float(inventory_acts), RECOMMENDER: 1.0}, clipped
        )
        rewards = self._rewards(info)
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
        return self._fill_state_vectors(self._state, self._state_vectors)[0].copy()

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
        """Each agent's observation as a new array (users keep them, e.g. in replay buffers)."""
        scaled = self._fill_state_vectors(self._state, self._state_vectors)[0]
        return {agent: layout.select(scaled) for agent, layout in self.observation_layouts.items()}

    def _info(self, outcome: core.Outcome) -> dict[str, float]:
        """The batch-of-one infos as Python floats.

        The same float64 steps as the batched ``_info_arrays`` (the vector env with one retailer
        gives bit-identical infos: tests/test_vector_env.py), on Python floats: at B = 1, numpy's
        per-call overhead would cost more than the arithmetic.
        """
        totals = self._tick_totals(outcome).ravel().tolist()  # Python floats
        sold, substitute_sold, demand = totals[0], totals[1], totals[6]
        tick = self._state.tick - 1
        return assemble_info(
            totals[:8],
            totals[8:],
            (sold - substitute_sold) / demand if demand > 0 else 1.0,
            float(outcome.oos_impressions.item()),
            float(tick // self.scenario.ticks_per_period),
            float(tick),
        )
