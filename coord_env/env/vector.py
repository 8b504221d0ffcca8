"""A batched PettingZoo-style parallel environment: B independent retailers stepped as one.

Every array leads with the batch dimension B (``num_envs``); one call of the vectorized core
(:func:`coord_env.core.step`) advances the whole batch. Observations, rewards, terminations,
truncations and infos are dicts keyed by agent, as in the single environment, holding arrays.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from coord_env import core
from coord_env.checks import check_choice
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.env.base import RetailEnvBase
from coord_env.scenarios import Scenario

__all__ = ["AUTORESET_MODES", "RetailVectorEnv"]

AUTORESET_MODES = ("next_step", "disabled")


def _batched(space: spaces.Space, num_envs: int) -> spaces.Space:
    """A batch of ``num_envs`` copies of ``space``; MultiDiscrete stays MultiDiscrete (Gymnasium's
    ``batch_space`` makes it an integer Box), so a sample is a batch of the single env's actions."""
    if isinstance(space, spaces.MultiDiscrete):
        return spaces.MultiDiscrete(np.tile(space.nvec, (num_envs, 1)), dtype=space.dtype)
    return batch_space(space, num_envs)


class RetailVectorEnv(RetailEnvBase):
    """``num_envs`` independent retailers, each with an inventory and a recommender agent.

    The batched counterpart of :class:`~coord_env.env.parallel.RetailParallelEnv`, built on the same
    code: the same options, action validation, observation layouts and infos, over a leading batch
    dimension B.

    Parameters
    ----------
    scenario : str or Scenario
        A catalog name (``coord_env.list_scenarios()``) or a Scenario.
    num_envs : int
        B, the number of retailers (at least 1).
    observation_mode, reward_mode, continuous_actions, inventory_action
        As for :class:`~coord_env.env.parallel.RetailParallelEnv`.
    clip_actions, infos, reward_scale
        As for :class:`~coord_env.env.parallel.RetailParallelEnv`, per retailer
        (``infos[agent]["clipped_actions"]`` is each retailer's count, shape (B,)).
    autoreset_mode : {"next_step", "disabled"}
        ``"next_step"`` (Gymnasium 1.x's default for vector envs): the step that ends the episodes
        returns their last observations with ``truncations`` True; the next ``step`` call ignores
        its actions, starts new episodes (the generator continues, as ``reset()`` without a seed)
        and returns their first observations, zero rewards, False flags and reset infos.
        ``"disabled"``: stepping after the end raises RuntimeError; call ``reset``.
    **overrides
        Scenario parameters to replace, e.g. ``horizon=20``.

    Notes
    -----
    Seeding: ``reset(seed=s)`` draws the whole batch from one ``numpy.random.default_rng(s)``, as
    ``coord_env.core.reset(scenario, rng, batch_size=B)`` and ``core.step`` do; with
    ``num_envs=1`` the trajectory is bit for bit that of ``parallel_env(...).reset(seed=s)`` under
    the same actions (the single env is the batch-of-one view of this code). Retailers of a batch
    are independent draws of the same law as the single env, but retailer b is not the single env
    with seed s + b: that would need one generator per retailer and a Python loop over B in every
    random draw.

    The horizon is fixed, so every retailer's episode ends on the same step (all ``truncations``
    True together; ``terminations`` are always False).

    Examples
    --------
    >>> import numpy as np
    >>> import coord_env
    >>> envs = coord_env.vector_env("tiny", num_envs=4)
    >>> observations, infos = envs.reset(seed=0)
    >>> observations["inventory_0"].shape[0]
    4
    >>> actions = {agent: envs.action_space(agent).sample() for agent in envs.agents}
    >>> observations, rewards, terminations, truncations, infos = envs.step(actions)
    >>> rewards["inventory_0"].shape, envs.state().shape[0]
    ((4,), 4)
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "coord_retail_vector_v0",
        "autoreset_mode": "next_step",
    }

    def __init__(
        self,
        scenario: str | Scenario = "default",
        num_envs: int = 1,
        observation_mode: str = "partial",
        reward_mode: str = "team",
        continuous_actions: bool = False,
        inventory_action: str = "order_quantity",
        autoreset_mode: str = "next_step",
        *,
        clip_actions: bool = False,
        infos: str = "full",
        reward_scale: float | str = 1.0,
        **overrides: Any,
    ):
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        super().__init__(
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
        self.autoreset_mode = check_choice("autoreset_mode", autoreset_mode, AUTORESET_MODES)
        self.num_envs = int(num_envs)
        B = self.num_envs
        self.single_observation_spaces = self.observation_spaces
        self.single_action_spaces = self.action_spaces
        self.single_state_space = self.state_space
        self.observation_spaces = {
            a: batch_space(sp, B) for a, sp in self.observation_spaces.items()
        }
        self.action_spaces = {a: _batched(sp, B) for a, sp in self.action_spaces.items()}
        self.state_space = batch_space(self.state_space, B)
        self.np_random: np.random.Generator | None = None
        self.simulator: core.State | None = None
        self.last_outcome: core.Outcome | None = None
        self.episode_profit = np.zeros(B)
        self._ended = False
        self._state_vectors = np.zeros(self.state_space.shape, np.float32)

    # ------------------------------------------------------------------ API
    def observation_space(self, agent: str) -> spaces.Space:
        """The batched observation space, shape ``(B, obs_dim)``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The batched action space, shape ``(B, action_dim)``."""
        return self.action_spaces[agent]

    def single_observation_space(self, agent: str) -> spaces.Space:
        """One retailer's observation space (the single env's)."""
        return self.single_observation_spaces[agent]

    def single_action_space(self, agent: str) -> spaces.Space:
        """One retailer's action space (the single env's)."""
        return self.single_action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Start B episodes; ``seed`` fixes every random draw of the batch.

        Returns
        -------
        observations : dict of agent -> ndarray of float32, shape (B, obs_dim)
        infos : dict of agent -> dict of key -> ndarray of float64, shape (B,)
            Zero totals (a fill rate of 1), as the single env's reset infos.
        """
        if seed is not None or self.np_random is None:
            self.np_random = np.random.default_rng(seed)
        return self.set_simulation(core.reset(self.scenario, self.np_random, self.num_envs))

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict]:
        """Apply every retailer's actions for one tick.

        Parameters
        ----------
        actions : dict of agent -> array, shape (B, action_dim)
            Each retailer's action, as the single env takes it, stacked along the batch.

        Returns
        -------
        observations : dict of agent -> ndarray of float32, shape (B, obs_dim)
        rewards : dict of agent -> ndarray of float64, shape (B,)
        terminations, truncations : dict of agent -> ndarray of bool, shape (B,)
        infos : dict of agent -> dict of key -> ndarray of float64, shape (B,)
            The single env's info keys (``coord_env.INFO_KEYS``, or ``MINIMAL_INFO_KEYS`` with
            ``infos="minimal"``), per retailer.

        Raises
        ------
        RuntimeError
            Before ``reset``, or after the episodes ended with ``autoreset_mode="disabled"``.
        InvalidActionError
            A bad action (the message names the agent, the field and the first bad batch index);
            nothing changes, the env stays usable.
        """
        if self.simulator is None:
            raise RuntimeError("step() called before reset(); call env.reset(seed=...) first")
        B = self.num_envs
        if self._ended:
            if self.autoreset_mode == "disabled":
                raise RuntimeError(
                    "step() called after the episodes ended; call env.reset() to start new ones "
                    "(or use autoreset_mode='next_step')"
                )
            observations, infos = self.reset()  # next-step autoreset: the actions are ignored
            zeros = np.zeros(B)
            flags = np.zeros(B, dtype=bool)
            return (
                observations,
                {agent: zeros.copy() for agent in self.agents},
                {agent: flags.copy() for agent in self.agents},
                {agent: flags.copy() for agent in self.agents},
                infos,
            )
        state, s = self.simulator, self.scenario
        actions, clipped = self.codec.clip(actions, batch_size=B)  # zero counts when off
        units, slates = self.codec.decode(actions, self.possible_agents, batch_size=B)
        inventory_acts = float(state.tick % s.ticks_per_period == 0)
        outcome = core.step(
            s, state, units, slates, self.np_random, order_up_to=self.codec.order_up_to
        )
        self.last_outcome = outcome
        info = self._info_arrays(outcome, state.tick - 1)
        self.episode_profit += info["profit"]
        infos = self._agent_infos(
            info, {INVENTORY: np.full(B, inventory_acts), RECOMMENDER: np.ones(B)}, clipped
        )
        rewards = self._rewards(info)
        self._ended = state.tick >= s.num_ticks
        observations, self._state_vectors = self._observe(state)
        terminations = {agent: np.zeros(B, dtype=bool) for agent in self.agents}
        truncations = {agent: np.full(B, self._ended) for agent in self.agents}
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The full state of every retailer, float32 ``(B, state_dim)`` (layout: ``state_layout``)."""
        if self.simulator is None:
            raise RuntimeError("state() called before reset()")
        return self._state_vectors.copy()  # built with the observations, from the same state

    def set_simulation(
        self, simulator: core.State, rng: np.random.Generator | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Continue from a simulator state (e.g. a checkpoint's) at the start of an episode or within.

        Parameters
        ----------
        simulator : coord_env.core.State
            Batch size ``num_envs``; used (not copied) and advanced in place by ``step``.
        rng : numpy.random.Generator, optional
            The generator to continue with (default: keep the current one).

        Returns
        -------
        observations, infos
            As :meth:`reset` returns them.

        Raises
        ------
        ValueError
            A state of another batch size.
        """
        if simulator.batch_size != self.num_envs:
            raise ValueError(
                f"simulator: batch size must be num_envs={self.num_envs}, got {simulator.batch_size}"
            )
        if rng is not None:
            self.np_random = rng
        if self.np_random is None:
            raise ValueError("rng: required before the first reset()")
        self.simulator = simulator
        self.agents = list(self.possible_agents)
        self.last_outcome = None
        self.episode_profit = np.zeros(self.num_envs)
        self._ended = simulator.tick >= self.scenario.num_ticks
        zero = self._zero_info()
        infos = {
            agent: {key: np.full(self.num_envs, value) for key, value in zero.items()}
            for agent in self.agents
        }
        observations, self._state_vectors = self._observe(simulator)
        return observations, infos

    def close(self) -> None:
        pass
