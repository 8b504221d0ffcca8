"""AgileRL adapter: B retailers of :func:`coord_env.vector_env` as one AgileRL ``PettingZooVecEnv``.

AgileRL's multi-agent trainers (``train_multi_agent_on_policy``, ``train_multi_agent_off_policy``)
and its agents' ``test`` drive a ``PettingZooVecEnv``: the interface that
``agilerl.utils.utils.make_multi_agent_vect_envs`` returns, one process and one copy of the
parallel env per retailer. This adapter gives the same interface over one vector env in the
calling process, so a batched step costs one simulator call instead of B pipe round trips.
Requires ``agilerl`` (its own venv: it pins ``pettingzoo<1.27``; docs/adapters.md, AgileRL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from agilerl.vector.pz_vec_env import PettingZooVecEnv

from coord_env.env.vector import RetailVectorEnv
from coord_env.scenarios import Scenario

__all__ = ["RetailAgileRLVecEnv"]

Observations = dict[str, np.ndarray]
Infos = dict[str, dict[str, np.ndarray]]


def _as_array(action: Any) -> np.ndarray:
    """A numpy array of a numpy array, list or torch tensor (AgileRL passes either)."""
    if hasattr(action, "detach"):  # a torch tensor, e.g. a squashed Box action
        action = action.detach().cpu().numpy()
    return np.asarray(action)


class RetailAgileRLVecEnv(PettingZooVecEnv):
    """``num_envs`` retailers as AgileRL's vectorized PettingZoo env.

    Steps as ``make_multi_agent_vect_envs(coord_env.parallel_env, num_envs, ...)`` does, minus
    the processes:

    - ``reset(seed=None, options=None)`` returns ``(observations, infos)``; ``step(actions)``
      returns ``(observations, rewards, terminations, truncations, infos)``. Observations are
      float32 ``(B, obs_dim)`` per agent, rewards float64 ``(B,)``, flags bool ``(B,)``, infos
      ``{agent: {key: (B,) array}}`` (every key present for every retailer, so without
      Gymnasium's ``"_key"`` masks, which AgileRL does not read).
    - ``actions`` is ``{agent: (B, action_dim)}``, numpy arrays or torch tensors.
    - Same-step autoreset, as AgileRL's workers: the step that reaches the horizon returns that
      step's rewards with ``truncations`` True for every retailer, and the first observations and
      reset infos of the next episodes (the last observations are dropped, as there). The money
      profit of the episodes that just ended is kept in :attr:`completed_episode_profit`.

    Parameters
    ----------
    scenario : str or Scenario
        A catalog name (``coord_env.list_scenarios()``) or a Scenario.
    num_envs : int
        B, the number of retailers.
    **env_options
        Options of :func:`coord_env.vector_env` (``continuous_actions``, ``reward_scale``,
        ``infos``, ``clip_actions``, ..., scenario overrides such as ``horizon=20``), except
        ``autoreset_mode``: the adapter resets as AgileRL's workers do.

    Attributes
    ----------
    vector_env : RetailVectorEnv
        The batched env underneath.
    completed_episode_profit : ndarray of float64, shape (B,)
        Each retailer's profit (money, whatever ``reward_scale``) in its last completed episode;
        NaN before the first episode ends.

    Notes
    -----
    Seeding: ``reset(seed=s)`` draws the whole batch from one ``numpy.random.default_rng(s)``,
    as ``coord_env.vector_env`` does, and the autoresets continue that generator. With
    ``num_envs=1`` every step equals ``make_multi_agent_vect_envs(coord_env.parallel_env, 1)``
    stepped from ``reset(seed=s)`` bit for bit under the same actions. With B > 1 AgileRL's own
    vectorization seeds copy ``i`` with ``s + i``; retailers here are independent draws of the
    same law, not those episodes.

    Raises
    ------
    ValueError
        ``autoreset_mode`` among ``env_options``, or a bad option (raised by the vector env).

    Examples
    --------
    >>> from coord_env.adapters.agilerl import RetailAgileRLVecEnv
    >>> env = RetailAgileRLVecEnv("tiny", num_envs=4, reward_scale="auto")
    >>> observations, infos = env.reset(seed=0)
    >>> actions = {agent: env.action_space(agent).sample() for agent in env.agents}
    >>> observations, rewards, terminations, truncations, infos = env.step(actions)
    >>> rewards["inventory_0"].shape
    (4,)
    """

    def __init__(self, scenario: str | Scenario = "default", num_envs: int = 1, **env_options: Any):
        if "autoreset_mode" in env_options:
            raise ValueError(
                "autoreset_mode: not an option of the AgileRL adapter, which resets on the step "
                "that ends the episodes, as AgileRL's vectorized envs do"
            )
        vector_env = RetailVectorEnv(scenario, num_envs, autoreset_mode="disabled", **env_options)
        agents = list(vector_env.possible_agents)
        super().__init__(
            vector_env.num_envs,
            {agent: vector_env.single_observation_space(agent) for agent in agents},
            {agent: vector_env.single_action_space(agent) for agent in agents},
            agents,
            metadata=dict(vector_env.metadata),
            render_mode=None,
        )
        self.vector_env = vector_env
        self.completed_episode_profit = np.full(vector_env.num_envs, np.nan)
        self._pending: tuple | None = None

    @property
    def scenario(self) -> Scenario:
        """The scenario every retailer runs."""
        return self.vector_env.scenario

    @property
    def reward_scale(self) -> float:
        """The factor the rewards are multiplied by (``reward_scale`` resolved)."""
        return self.vector_env.reward_scale

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observations, Infos]:
        """Start B episodes; ``seed`` fixes every random draw of the batch.

        Returns
        -------
        observations : dict of agent -> ndarray of float32, shape (B, obs_dim)
        infos : dict of agent -> dict of key -> ndarray of float64, shape (B,)
        """
        self._pending = None
        return self.vector_env.reset(seed=seed, options=options)

    def step(
        self, actions: Mapping[str, Any], *args: Any, **kwargs: Any
    ) -> tuple[Observations, dict, dict, dict, Infos]:
        """Apply every retailer's actions for one tick; reset the batch when the episodes end.

        Parameters
        ----------
        actions : dict of agent -> array or torch tensor, shape (B, action_dim)
            Every agent's action in every retailer.

        Returns
        -------
        observations, rewards, terminations, truncations, infos
            As the class docstring says; on the horizon step, the next episodes' observations and
            reset infos.

        Raises
        ------
        RuntimeError
            Before ``reset``.
        InvalidActionError
            A missing agent, a wrong shape or an out-of-range action (the message names the agent,
            the field and the batch index); nothing changes, the env stays usable.
        """
        batched = {agent: _as_array(action) for agent, action in actions.items()}
        observations, rewards, terminations, truncations, infos = self.vector_env.step(batched)
        if all(truncations[a].all() or terminations[a].all() for a in self.possible_agents):
            self.completed_episode_profit = self.vector_env.episode_profit.copy()
            observations, infos = self.vector_env.reset()  # the generator continues
        return observations, rewards, terminations, truncations, infos

    def step_async(self, actions: list[dict[str, Any]]) -> None:
        """AgileRL's two-phase step: one dict of actions per retailer; :meth:`step_wait` applies them.

        Parameters
        ----------
        actions : list of dict of agent -> action
            ``num_envs`` entries, as ``PettingZooVecEnv.step`` builds them.

        Raises
        ------
        ValueError
            Not one entry per retailer, or an agent missing in one.
        """
        if len(actions) != self.num_envs:
            raise ValueError(
                f"actions: expected one dict per retailer ({self.num_envs}), got {len(actions)}"
            )
        for index, entry in enumerate(actions):
            missing = [agent for agent in self.possible_agents if agent not in entry]
            if missing:
                raise ValueError(
                    f"actions[{index}]: missing agents {missing}; expected {self.possible_agents}"
                )
        self._pending = tuple(actions)

    def step_wait(self, timeout: float | None = None) -> tuple:
        """Apply the actions given to :meth:`step_async` (``timeout`` is unused: nothing waits).

        Raises
        ------
        RuntimeError
            Without a pending :meth:`step_async`.
        """
        if self._pending is None:
            raise RuntimeError("step_wait() called without a prior step_async()")
        pending, self._pending = self._pending, None
        return self.step(
            {
                agent: np.stack([_as_array(entry[agent]) for entry in pending])
                for agent in self.possible_agents
            }
        )

    def state(self) -> np.ndarray:
        """The full state of every retailer, float32 ``(B, state_dim)``, for centralized critics."""
        return self.vector_env.state()

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release (no processes): the env stays usable after ``close``.

        AgileRL's trainers close the env they were given when they return, so a later call (e.g.
        training in chunks, as examples/agilerl_ippo.py does) can go on with the same env.
        """
        self.vector_env.close()
