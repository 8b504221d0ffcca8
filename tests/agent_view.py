"""``AgentView``: one department's single-env Gymnasium view, the reference the batched
:class:`coord_env.adapters.sb3.AgentVecEnv` is tested against step for step.

The trainers learn on ``AgentVecEnv``; this view is the readable definition of what it computes
(and passes SB3's ``check_env``).
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines.rl.views import DEPARTMENTS, _RetailView
from coord_env.checks import check_choice
from coord_env.env import RetailParallelEnv
from coord_env.env.parallel import REWARD_MODES
from coord_env.harness.evaluate import policy_seed
from coord_env.policy import AgentPolicies, Policy, as_policy
from coord_env.scenarios import Scenario


class AgentView(_RetailView):
    """One department learns; the other acts through a fixed ``partner`` inside the environment.

    Parameters
    ----------
    scenario : str or Scenario
    agent : {"inventory_0", "recommender_0"}
        The learning agent; its observation and action spaces are the view's.
    partner
        Acts for the other agent. Either a baselines Policy (``reset(seed)``,
        ``act(observations, infos) -> dict``) or a callable ``f(observations, infos) -> dict``:
        it gets the full parallel-API dicts and only its entry for the partner agent is used. Or a
        model with ``predict(observation)`` (e.g. an SB3 model) or a mapping
        ``{partner_agent: f(observation)}``: it gets the partner's observation only. To use a
        heuristic, build it on a parallel env of the same scenario and options, e.g.
        ``SiloedPolicy(coord_env.parallel_env("tiny"))``.
    reward_mode : {"team", "departmental"}
        The learning agent earns the profit, or its department's share (revenue for the
        recommender; salvage minus purchase, holding and lost-sale costs for inventory).
    reward_scale : float, optional
        Multiplies the reward (docs/training.md, "Reward scale"); None:
        :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    **env_options
        Other options of :class:`coord_env.RetailParallelEnv`.

    Notes
    -----
    The partner is reset with ``policy_seed(seed)`` (the harness's derivation) when the view is
    reset with a seed, and with seeds drawn from a generator seeded from it on later unseeded
    resets, so a seeded view is deterministic even with a random partner. Info: the env's info of
    the learning agent.

    Examples
    --------
    >>> partner = lambda observations, infos: {"recommender_0": np.array([0, 1])}
    >>> view = AgentView("tiny", "inventory_0", partner, reward_mode="departmental")
    >>> view.action_space
    MultiDiscrete([41 41])
    >>> observation, info = view.reset(seed=0)
    >>> _, reward, terminated, truncated, info = view.step(np.array([3, 2]))
    >>> operations = info["salvage"] - info["purchase_cost"] - info["holding_cost"]
    >>> round(reward, 9) == round((operations - info["lost_sale_penalty"]) * view.reward_scale, 9)
    True
    """

    def __init__(
        self,
        scenario: str | Scenario,
        agent: str,
        partner: Any,
        reward_mode: str = "team",
        reward_scale: float | None = None,
        **env_options,
    ):
        self.agent = check_choice("agent", agent, DEPARTMENTS)
        self.partner_agent = DEPARTMENTS[1 - DEPARTMENTS.index(agent)]
        self.reward_mode = check_choice("reward_mode", reward_mode, REWARD_MODES)
        super().__init__(
            RetailParallelEnv(scenario, reward_mode=reward_mode, **env_options), reward_scale
        )
        self.observation_space = self.env.observation_space(agent)
        self.action_space = self.env.action_space(agent)
        own_entry_only = isinstance(partner, Mapping) or (
            hasattr(partner, "predict") and not hasattr(partner, "act")
        )
        if own_entry_only:
            per_agent = partner if isinstance(partner, Mapping) else {self.partner_agent: partner}
            self.partner: Policy = AgentPolicies(per_agent, name="partner")
        else:
            self.partner = as_policy(partner)
        self._partner_sees_all = not own_entry_only
        self._partner_seeds: np.random.Generator | None = None
        self._observations: dict[str, np.ndarray] = {}
        self._infos: dict[str, dict[str, float]] = {}

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Start an episode and reset the partner; ``seed`` seeds the env and the partner."""
        super().reset(seed=seed)
        if seed is not None:
            partner_seed = policy_seed(seed)
            self._partner_seeds = np.random.default_rng((partner_seed, 1))
        elif self._partner_seeds is not None:
            partner_seed = int(self._partner_seeds.integers(0, 2**32))
        else:
            partner_seed = None
        self.partner.reset(partner_seed)
        self._observations, self._infos = self.env.reset(seed=seed, options=options)
        return self._observations[self.agent], dict(self._infos[self.agent])

    def partner_action(self) -> Any:
        """The partner's action for the coming tick, from the last observations and infos."""
        if self._partner_sees_all:
            actions = self.partner.act(self._observations, self._infos)
        else:
            actions = self.partner.act(
                {self.partner_agent: self._observations[self.partner_agent]},
                {self.partner_agent: self._infos[self.partner_agent]},
            )
        if not isinstance(actions, Mapping) or self.partner_agent not in actions:
            raise ValueError(
                f"partner must return a dict with an action for {self.partner_agent!r}; "
                f"got {actions!r}"
            )
        return actions[self.partner_agent]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        """Apply the learner's action and the partner's for one tick; return the learner's view."""
        actions = {self.agent: action, self.partner_agent: self.partner_action()}
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self._observations, self._infos = observations, infos
        return (
            observations[self.agent],
            float(rewards[self.agent]) * self.reward_scale,
            bool(terminations[self.agent]),
            bool(truncations[self.agent]),
            dict(infos[self.agent]),
        )
