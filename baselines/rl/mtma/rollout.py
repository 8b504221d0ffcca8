"""Rollout collection: ``n_envs`` retail environments stepped side by side by the MTMA actors.

The environments persist across rollouts: an episode under way at the end of one rollout continues
in the next, and its last value is bootstrapped (``losses.generalized_advantage_estimates``).
Every episode starts from a seed drawn from the trainer's ``numpy.random.Generator`` below
``TRAINING_SEED_LIMIT``, so training never sees the official evaluation seeds. Episodes end by
truncation at the horizon; since the state carries the time, that step has no future.

Per step, one batched forward per actor over the envs gives the actions; the critic's values are
computed after the rollout in one batch (its parameters do not change during the rollout).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import numpy as np
import torch

from baselines.rl.mtma.networks import Actor, MultiCategorical
from coord_env import core
from coord_env.env.actions import INVENTORY
from coord_env.env.layout import INVENTORY_ACTS
from coord_env.env.parallel import RetailParallelEnv
from coord_env.harness.seeds import TRAINING_SEED_LIMIT
from coord_env.scenarios import Scenario

__all__ = ["Rollout", "RolloutCollector"]


@dataclass
class Rollout:
    """The transitions of one rollout, each tensor with leading shape ``(T, E)`` (steps, envs).

    Attributes
    ----------
    observations, memories, actions, log_probs, acts : dict of agent -> Tensor
        Own observation ``(T, E, obs_dim)``; the actor's memory before the step
        ``(T, E, *memory_shape)``; the action ``(T, E, D)``; the log-probability of each of its
        dimensions ``(T, E, D)``; 1.0 where the action was applied (the inventory agent acts once
        per period), ``(T, E)``.
    states : Tensor, shape (T, E, state_dim)
        ``env.state()`` before the step; ``last_states`` ``(E, state_dim)`` after the last step.
    rewards : Tensor, shape (T, E)
        Team reward (the tick's profit) times the reward scale.
    episode_starts, episode_ends : Tensor, shape (T, E)
        1.0 where the step is the first, or the last, of its episode.
    episode_profits : list of float
        Unscaled profit of every episode that ended in this rollout.
    """

    observations: dict[str, torch.Tensor]
    memories: dict[str, torch.Tensor]
    actions: dict[str, torch.Tensor]
    log_probs: dict[str, torch.Tensor]
    acts: dict[str, torch.Tensor]
    states: torch.Tensor
    last_states: torch.Tensor
    rewards: torch.Tensor
    episode_starts: torch.Tensor
    episode_ends: torch.Tensor
    episode_profits: list[float]


def _generator_state_json(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _generator_from_json(text: str) -> np.random.Generator:
    state = json.loads(text)
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


class RolloutCollector:
    """Steps ``n_envs`` ``RetailParallelEnv(scenario, **env_options)`` with the actors; records rollouts.

    Parameters
    ----------
    scenario : Scenario
    n_envs : int
    actors : dict of agent -> actor
        The networks whose memory shapes this collector keeps (read at each :meth:`collect`).
    reward_scale : float
    rng : numpy.random.Generator
        The trainer's generator; it draws every episode's seed.
    env_options : dict, optional
        ``RetailParallelEnv`` options (the trainer's ``env_options``).
    """

    def __init__(
        self,
        scenario: Scenario,
        n_envs: int,
        actors: dict[str, Actor],
        reward_scale: float,
        rng: np.random.Generator,
        env_options: dict | None = None,
    ):
        self.envs = [RetailParallelEnv(scenario, **(env_options or {})) for _ in range(n_envs)]
        self.agents = tuple(self.envs[0].possible_agents)
        self.reward_scale = reward_scale
        self.rng = rng
        self.started = False
        self.observations = {
            agent: np.zeros((n_envs, *self.envs[0].observation_space(agent).shape), np.float32)
            for agent in self.agents
        }
        self.states = np.zeros((n_envs, *self.envs[0].state_space.shape), np.float32)
        self.memories = {agent: actors[agent].initial_memory(n_envs) for agent in self.agents}
        self.episode_starts = np.ones(n_envs, np.float32)
        # the "inventory acts on this tick" time feature, as an index into the state vector
        self._acts_index = self.envs[0].state_layout.slices["time"].start + INVENTORY_ACTS

    @property
    def n_envs(self) -> int:
        return len(self.envs)

    def _reset_env(self, index: int) -> None:
        """Start a new episode in env ``index`` from a fresh training seed; clear the memories."""
        env = self.envs[index]
        observations, _ = env.reset(seed=int(self.rng.integers(TRAINING_SEED_LIMIT)))
        for agent in self.agents:
            self.observations[agent][index] = observations[agent]
            self.memories[agent][index] = 0.0
        self.states[index] = env.state()
        self.episode_starts[index] = 1.0

    @torch.no_grad()
    def collect(
        self, actors: dict[str, Actor], n_steps: int, generator: torch.Generator
    ) -> Rollout:
        """Play ``n_steps`` steps in every env with actions sampled from ``actors``."""
        if not self.started:
            for index in range(self.n_envs):
                self._reset_env(index)
            self.started = True
        E = self.n_envs
        buffers = {
            "observations": {
                a: torch.zeros(n_steps, *self.observations[a].shape) for a in self.agents
            },
            "memories": {a: torch.zeros(n_steps, *self.memories[a].shape) for a in self.agents},
            "actions": {
                a: torch.zeros(n_steps, E, len(self.envs[0].action_space(a).nvec), dtype=torch.long)
                for a in self.agents
            },
            "log_probs": {
                a: torch.zeros(n_steps, E, len(self.envs[0].action_space(a).nvec))
                for a in self.agents
            },
        }
        states = torch.zeros(n_steps, *self.states.shape)
        rewards = np.zeros((n_steps, E), np.float32)
        starts = np.zeros((n_steps, E), np.float32)
        ends = np.zeros((n_steps, E), np.float32)
        profits: list[float] = []
        for t in range(n_steps):
            states[t] = torch.from_numpy(self.states)
            starts[t] = self.episode_starts
            self.episode_starts[:] = 0.0
            env_actions: list[dict[str, np.ndarray]] = [{} for _ in range(E)]
            for agent in self.agents:
                observation = torch.from_numpy(self.observations[agent])
                buffers["observations"][agent][t] = observation
                buffers["memories"][agent][t] = self.memories[agent]
                logits, self.memories[agent] = actors[agent].step(observation, self.memories[agent])
                distribution = MultiCategorical(logits)
                action = distribution.sample(generator)
                buffers["actions"][agent][t] = action
                buffers["log_probs"][agent][t] = distribution.dimension_log_probs(action)
                for index, row in enumerate(action.numpy()):
                    env_actions[index][agent] = row
            for index, env in enumerate(self.envs):
                observations, team_rewards, _, truncations, _ = env.step(env_actions[index])
                rewards[t, index] = team_rewards[INVENTORY]
                if truncations[INVENTORY]:
                    ends[t, index] = 1.0
                    profits.append(float(env.episode_profit))
                    self._reset_env(index)
                else:
                    for agent in self.agents:
                        self.observations[agent][index] = observations[agent]
                    self.states[index] = env.state()
        acts = {agent: torch.ones(n_steps, E) for agent in self.agents}
        acts[INVENTORY] = states[..., self._acts_index].clone()
        return Rollout(
            observations=buffers["observations"],
            memories=buffers["memories"],
            actions=buffers["actions"],
            log_probs=buffers["log_probs"],
            acts=acts,
            states=states,
            last_states=torch.from_numpy(self.states.copy()),
            rewards=torch.from_numpy(rewards * np.float32(self.reward_scale)),
            episode_starts=torch.from_numpy(starts),
            episode_ends=torch.from_numpy(ends),
            episode_profits=profits,
        )

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Everything needed to continue the episodes under way exactly (tensors, str, numbers).

        The envs' simulator states and generators are read from their internals: the env pickles
        by its constructor arguments only (``EzPickle``), which would lose the episode.
        """
        envs = []
        for env in self.envs:
            simulator = env._state
            envs.append(
                {
                    "state": {
                        f.name: (
                            torch.from_numpy(value.copy())
                            if isinstance(value := getattr(simulator, f.name), np.ndarray)
                            else value
                        )
                        for f in fields(simulator)
                    }
                    if simulator is not None
                    else None,
                    "rng": _generator_state_json(env._rng) if env._rng is not None else None,
                    "running": bool(env.agents),
                    "episode_profit": float(env.episode_profit),
                }
            )
        return {
            "started": self.started,
            "envs": envs,
            "observations": {a: torch.from_numpy(v.copy()) for a, v in self.observations.items()},
            "states": torch.from_numpy(self.states.copy()),
            "memories": {a: m.clone() for a, m in self.memories.items()},
            "episode_starts": torch.from_numpy(self.episode_starts.copy()),
        }

    def load_state_dict(self, saved: dict) -> None:
        """Restore :meth:`state_dict`'s output into these envs (same scenario and ``n_envs``)."""
        if len(saved["envs"]) != self.n_envs:
            raise ValueError(
                f"the saved rollout has {len(saved['envs'])} envs, this collector {self.n_envs}"
            )
        self.started = bool(saved["started"])
        for env, record in zip(self.envs, saved["envs"], strict=True):
            if record["state"] is not None:
                env._state = core.State(
                    **{
                        name: value.numpy().copy() if isinstance(value, torch.Tensor) else value
                        for name, value in record["state"].items()
                    }
                )
            if record["rng"] is not None:
                env._rng = _generator_from_json(record["rng"])
            env.agents = list(env.possible_agents) if record["running"] else []
            env.episode_profit = record["episode_profit"]
            env.last_outcome = None
        for agent in self.agents:
            self.observations[agent][:] = saved["observations"][agent].numpy()
            self.memories[agent] = saved["memories"][agent].clone()
        self.states[:] = saved["states"].numpy()
        self.episode_starts[:] = saved["episode_starts"].numpy()
