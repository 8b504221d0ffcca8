"""The rollout env of ``shared_ppo``: one policy over both agents' padded spaces, as SB3 rows.

Two paths give the same rows (``SharedPPOConfig.vec_env``): SuperSuit's per-env wrappers
(``"supersuit"``, every committed checkpoint's) and
:class:`~coord_env.adapters.sb3.SharedAgentsBatchVecEnv` over the batched vector env
(``"batched"``). The SuperSuit recipe:

MultiDiscrete spaces cannot be padded, so the env runs with ``continuous_actions=True``.
``clip_actions_v0`` goes before padding (the padded ``Box(-1, 1)`` would otherwise hand the
inventory negative order fractions, which the env refuses); ``agent_indicator_v0`` writes
``max(high)`` of the padded box as the indicator, so it is rescaled to 0/1; and
:class:`~coord_env.adapters.sb3.SharedAgentsVecEnv` adds the seeding and time limits that
SuperSuit's own SB3 wrapper lacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from supersuit import (
    action_lambda_v1,
    agent_indicator_v0,
    clip_actions_v0,
    concat_vec_envs_v1,
    observation_lambda_v0,
    pad_action_space_v0,
    pad_observations_v0,
    pettingzoo_env_to_vec_env_v1,
)

from baselines.rl.sb3.config import SHARED_VEC_ENVS
from baselines.rl.views import resolve_reward_scale
from coord_env.adapters.sb3 import SharedAgentsBatchVecEnv, SharedAgentsVecEnv, to_agent_space
from coord_env.checks import check_choice
from coord_env.env import RetailParallelEnv
from coord_env.scenarios import Scenario, load_scenario

__all__ = ["make_shared_vec_env", "to_agent_space"]


def _unit_agent_indicator(env: Any) -> Any:
    """Rescale ``agent_indicator_v0``'s indicator (it writes ``max(high)``) to a 0/1 one-hot."""
    count = len(env.possible_agents)

    def observation_space(space: spaces.Box) -> spaces.Box:
        low, high = space.low.copy(), space.high.copy()
        low[-count:], high[-count:] = 0.0, 1.0
        return spaces.Box(low, high, dtype=space.dtype)

    def observation(obs: np.ndarray, space: spaces.Box) -> np.ndarray:
        out = np.array(obs, dtype=space.dtype)
        out[-count:] = obs[-count:] > 0
        return out

    return observation_lambda_v0(env, observation, observation_space)


def _unit_action_spaces(env: Any) -> Any:
    """Every agent acts in Box(-1, 1) of its action's shape, mapped onto its own Box."""

    def action_space(space: spaces.Box) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, space.shape, dtype=np.float32)

    return action_lambda_v1(env, lambda action, space: to_agent_space(action, space), action_space)


def make_shared_vec_env(
    scenario: str | Scenario,
    n_envs: int = 2,
    reward_scale: float | None = None,
    observation_mode: str = "partial",
    inventory_action: str = "order_up_to",
    rescale_actions: bool = True,
    vec_env: str = "supersuit",
) -> VecEnv:
    """One shared policy's rollout env over both agents, as an SB3 VecEnv.

    Parameters
    ----------
    scenario : str or Scenario
    n_envs : int
        Retailers (copies of the parallel env for SuperSuit); the VecEnv has ``2 * n_envs`` rows
        (inventory, recommender, inventory, ...).
    reward_scale : float, optional
        None: :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    observation_mode, inventory_action : str
        Env options; ``continuous_actions`` is always True.
    rescale_actions : bool
        Map every agent's actions from [-1, 1] onto its Box (:class:`SharedPPOConfig`).
    vec_env : {"supersuit", "batched"}
        SuperSuit's wrappers over ``n_envs`` parallel envs (copy ``i`` seeded ``seed + i``), or
        :class:`SharedAgentsBatchVecEnv` (the batch drawn from one generator seeded ``seed``).

    Returns
    -------
    VecEnv
        ``VecMonitor`` over :class:`SharedAgentsVecEnv` or :class:`SharedAgentsBatchVecEnv`;
        seed it with ``seed(s)`` before ``reset()``.

    Raises
    ------
    ValueError
        An unknown ``vec_env``.

    Examples
    --------
    >>> venv = make_shared_vec_env("tiny", 2, vec_env="batched")
    >>> venv.num_envs, venv.action_space
    (4, Box(-1.0, 1.0, (4,), float32))
    """
    vec_env = check_choice("vec_env", vec_env, SHARED_VEC_ENVS)
    if vec_env == "batched":
        scenario = load_scenario(scenario)
        batched = SharedAgentsBatchVecEnv(
            scenario,
            n_envs,
            resolve_reward_scale(scenario, reward_scale),
            rescale_actions,
            observation_mode=observation_mode,
            inventory_action=inventory_action,
        )
        return VecMonitor(batched)
    env = RetailParallelEnv(
        scenario,
        continuous_actions=True,
        observation_mode=observation_mode,
        inventory_action=inventory_action,
    )
    scale = resolve_reward_scale(env.scenario, reward_scale)
    if rescale_actions:  # innermost: the policy's [-1, 1] mapped onto each agent's Box
        env = _unit_action_spaces(env)
    env = clip_actions_v0(env)  # before padding: the padded Box(-1, 1) reaches the inventory
    env = pad_observations_v0(env)
    env = pad_action_space_v0(env)
    env = _unit_agent_indicator(agent_indicator_v0(env))
    vector = pettingzoo_env_to_vec_env_v1(env)
    concat = concat_vec_envs_v1(vector, num_vec_envs=n_envs, num_cpus=0, base_class="gymnasium")
    return VecMonitor(SharedAgentsVecEnv(concat, scale))
