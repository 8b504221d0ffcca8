"""Trained SB3 models as baselines Policies, acting deterministically as at evaluation.

- :class:`JointPolicy`: the ``centralized`` model on the joint observation.
- :class:`DepartmentPolicy`: one model per department (``siloed_rl``, ``ippo``).
- :class:`SharedPolicy`: the parameter-shared ``shared_ppo`` model, transforming observations and
  actions as its SuperSuit training env does.

Deterministic actions come straight from the actor (:func:`deterministic_actions`): the same
actions as SB3's ``predict(..., deterministic=True)`` without its per-call overhead.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO

from baselines.rl.sb3.shared import to_agent_space
from baselines.rl.threads import torch_threads
from baselines.rl.views import JointView
from coord_env.env import RetailParallelEnv
from coord_env.wrappers import homogeneous

__all__ = [
    "DepartmentPolicy",
    "JointPolicy",
    "LivePartner",
    "SharedPolicy",
    "deterministic_actions",
]


def deterministic_actions(model: PPO, observations: np.ndarray) -> np.ndarray:
    """``model.predict(observations, deterministic=True)[0]`` for a batch, without SB3's overhead.

    SB3's ``predict`` builds one torch ``Categorical`` per MultiDiscrete dimension on every call,
    whatever the batch, and evaluating a checkpoint makes one call per tick. The deterministic
    action needs only the actor's output: the arg max of each dimension's logits (MultiDiscrete),
    or the Gaussian mean clipped to the space (Box, as ``predict`` clips). Same actions as
    ``predict`` (``tests/test_sb3.py``), at a fraction of its cost (docs/training.md).

    Parameters
    ----------
    model : PPO
        With an ``ActorCriticPolicy`` and a Box observation space.
    observations : ndarray, shape (B, obs_dim)

    Returns
    -------
    ndarray, shape (B, *action_shape)
    """
    from stable_baselines3.common.preprocessing import preprocess_obs

    policy = model.policy
    with torch.no_grad():
        tensor = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        tensor = preprocess_obs(tensor, policy.observation_space, policy.normalize_images)
        features = policy.pi_features_extractor(tensor)
        output = policy.action_net(policy.mlp_extractor.forward_actor(features))
    space = policy.action_space
    if isinstance(space, spaces.Box):
        return np.clip(output.numpy(), space.low, space.high).reshape(-1, *space.shape)
    nvec = [int(n) for n in space.nvec]
    actions, start, dim = [], 0, 0
    while dim < len(nvec):  # runs of equal sizes: one reshape and arg max per run
        size, count = nvec[dim], 1
        while dim + count < len(nvec) and nvec[dim + count] == size:
            count += 1
        block = output[:, start : start + size * count].reshape(-1, count, size)
        actions.append(block.argmax(dim=-1))
        start, dim = start + size * count, dim + count
    return torch.cat(actions, dim=1).numpy().astype(np.int64)


class _PredictingPolicy:
    """A trained SB3 policy as a baselines Policy: deterministic, no per-episode state."""

    def __init__(self, name: str, torch_threads: int | None):
        self.name = name
        self.torch_threads = torch_threads

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        """Actions for both agents from the parallel API's observation dict."""
        with torch_threads(self.torch_threads):
            return self._act(observations)

    def _act(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError


class JointPolicy(_PredictingPolicy):
    """A PPO model trained on :class:`JointView`, acting deterministically in the parallel env.

    Parameters
    ----------
    model : PPO
    view : JointView
        Joins the observations and splits the joint action.
    name : str
    torch_threads : int or None
        Torch threads while predicting (None: torch's setting).
    """

    def __init__(
        self, model: PPO, view: JointView, name: str = "centralized", torch_threads: int | None = 1
    ):
        super().__init__(name, torch_threads)
        self.model = model
        self.view = view

    def _act(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        joint = self.view.joint_observation(observations)[None]
        return self.view.agent_actions(deterministic_actions(self.model, joint)[0])


class DepartmentPolicy(_PredictingPolicy):
    """One PPO model per agent, each acting deterministically on its own observation.

    Parameters
    ----------
    models : dict
        ``{agent: PPO}`` for every agent.
    name : str
    torch_threads : int or None
    """

    def __init__(self, models: dict[str, PPO], name: str, torch_threads: int | None = 1):
        super().__init__(name, torch_threads)
        self.models = dict(models)

    def _act(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            agent: deterministic_actions(self.models[agent], observation[None])[0]
            for agent, observation in observations.items()
        }


class SharedPolicy(_PredictingPolicy):
    """The parameter-shared PPO acting for every agent, transforming like its SuperSuit training env.

    Each agent's observation is zero-padded to the widest agent's and followed by a one-hot agent
    indicator (agent order ``env.possible_agents``); each padded action is cut to the agent's size
    and clipped to its space.

    Parameters
    ----------
    model : PPO
    env : RetailParallelEnv
        An env with the options the policy acts under (``continuous_actions=True``).
    name : str
    torch_threads : int or None
    rescale_actions : bool
        As the policy was trained (:class:`SharedPPOConfig`).
    """

    def __init__(
        self,
        model: PPO,
        env: RetailParallelEnv,
        name: str = "shared_ppo",
        torch_threads: int | None = 1,
        rescale_actions: bool = True,
    ):
        super().__init__(name, torch_threads)
        self.model = model
        self.rescale_actions = rescale_actions
        self.agents = tuple(env.possible_agents)
        self._padding = homogeneous(env)  # the one padding of shared observations
        self.action_spaces = {agent: env.action_space(agent) for agent in self.agents}

    def shared_observations(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """One padded, agent-indicated row per agent (the shared network's input)."""
        padded = self._padding.pad_observations({a: observations[a] for a in self.agents})
        return np.stack([padded[agent] for agent in self.agents])

    def agent_actions(self, padded_actions: np.ndarray) -> dict[str, np.ndarray]:
        """Cut each agent's row of padded actions to its size, clip it, and map it to its space.

        With ``rescale_actions`` the row is clipped to [-1, 1] and mapped affinely onto the
        agent's Box (:func:`to_agent_space`); otherwise it is clipped to the agent's Box.
        """
        actions = {}
        for index, agent in enumerate(self.agents):
            space = self.action_spaces[agent]
            cut = np.asarray(padded_actions[index][: space.shape[0]], dtype=np.float32)
            if self.rescale_actions:
                actions[agent] = to_agent_space(np.clip(cut, -1.0, 1.0), space)
            else:
                actions[agent] = np.clip(cut, space.low, space.high)
        return actions

    def _act(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        padded = deterministic_actions(self.model, self.shared_observations(observations))
        return self.agent_actions(padded)


class LivePartner:
    """The other department's current PPO model as the partner policy of an
    :class:`~coord_env.adapters.sb3.AgentVecEnv`, acting on a batch of its observations.

    Looks the model up in the trainer's dict on every call, so a model replaced by ``load`` is
    the one that acts. Deterministic actions go through :func:`deterministic_actions` (the same
    actions as ``predict``, without its overhead); stochastic ones through ``predict``.
    """

    def __init__(self, models: dict[str, PPO], agent: str, deterministic: bool):
        self.models = models
        self.agent = agent
        self.deterministic = deterministic

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        model = self.models[self.agent]
        if self.deterministic:
            return deterministic_actions(model, observations)
        return model.predict(observations, deterministic=False)[0]
