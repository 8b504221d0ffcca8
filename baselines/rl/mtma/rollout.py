"""Rollout collection: ``n_envs`` retailers simulated side by side as one batched simulator.

The collector drives the public vector env (``coord_env.vector_env``, one ``core.step`` per tick
for the whole batch, and one observation build) instead of ``n_envs`` separate
``RetailParallelEnv`` objects. The actions, observations, state vectors and rewards are exactly
those of ``RetailParallelEnv`` with the same options (``tests/test_mtma.py`` checks it step by
step). Episodes have a fixed horizon, so the whole batch runs in lockstep: a batch of
episodes starts from one seed drawn from the trainer's ``numpy.random.Generator`` below
``TRAINING_SEED_LIMIT`` (training never sees the evaluation seeds), and ends together.

Episodes continue across rollouts: one under way at the end of a rollout goes on in the next, and
its last value is bootstrapped (``losses.generalized_advantage_estimates``). Episodes end by
truncation at the horizon; since the state carries the time, that step has no future.

Per step, one batched forward per actor gives the actions; the critic's values are computed after
the rollout in one batch (its parameters do not change during the rollout).
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
from coord_env.env.vector import RetailVectorEnv
from coord_env.harness.seeds import TRAINING_SEED_LIMIT
from coord_env.scenarios import Scenario

__all__ = ["ROLLOUT_FORMAT", "Rollout", "RolloutCollector"]

ROLLOUT_FORMAT = 2  # 1: a list of RetailParallelEnv episodes (checkpoint format 1)


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
    """Simulates ``n_envs`` retailers of ``scenario`` as one batch; records rollouts of the actors.

    Parameters
    ----------
    scenario : Scenario
    n_envs : int
    actors : dict of agent -> actor
        The networks whose memory shapes this collector keeps (read at each :meth:`collect`).
    reward_scale : float
    rng : numpy.random.Generator
        The trainer's generator; it draws every batch of episodes' seed.
    env_options : dict, optional
        ``RetailParallelEnv`` options (the trainer's ``env_options``); they fix the action
        decoding and the observation layouts. The reward is the team reward (the tick's profit).
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
        # the episodes are reset by hand, each batch from a fresh training seed
        self.env = RetailVectorEnv(
            scenario,
            n_envs,
            autoreset_mode="disabled",
            **{**(env_options or {}), "reward_mode": "team"},
        )
        if self.env.continuous_actions:
            raise ValueError("MTMA's collector needs discrete actions (continuous_actions=False)")
        self.scenario = scenario
        self.n_envs = n_envs
        self.agents = tuple(self.env.possible_agents)
        self.action_dims = {a: len(self.env.single_action_space(a).nvec) for a in self.agents}
        self.state_layout = self.env.state_layout
        self.observation_layouts = self.env.observation_layouts
        self.reward_scale = reward_scale
        self.rng = rng
        self.episode_seed: int | None = None  # the seed of the batch of episodes under way
        self.episode_profits = np.zeros(n_envs)
        self.observations = {
            agent: np.zeros(self.env.observation_space(agent).shape, np.float32)
            for agent in self.agents
        }
        self.states = np.zeros(self.env.state_space.shape, np.float32)
        self.memories = {agent: actors[agent].initial_memory(n_envs) for agent in self.agents}
        self.episode_starts = np.ones(n_envs, np.float32)
        # the "inventory acts on this tick" time feature, as an index into the state vector
        self._acts_index = self.state_layout.slices["time"].start + INVENTORY_ACTS

    @property
    def simulator(self) -> core.State | None:
        """The batch's simulator state (the vector env's)."""
        return self.env.simulator

    @property
    def started(self) -> bool:
        return self.simulator is not None

    def _observe(self, observations: dict[str, np.ndarray]) -> None:
        """Keep the env's observations and state vectors of the batch."""
        for agent in self.agents:
            self.observations[agent][:] = observations[agent]
        self.states[:] = self.env.state()

    def _reset(self) -> None:
        """Start a batch of episodes from a fresh training seed; clear the memories."""
        self.episode_seed = int(self.rng.integers(TRAINING_SEED_LIMIT))
        observations, _ = self.env.reset(seed=self.episode_seed)
        self.episode_profits[:] = 0.0
        for agent in self.agents:
            self.memories[agent][:] = 0.0
        self.episode_starts[:] = 1.0
        self._observe(observations)

    @torch.no_grad()
    def collect(
        self, actors: dict[str, Actor], n_steps: int, generator: torch.Generator
    ) -> Rollout:
        """Play ``n_steps`` steps of every retailer with actions sampled from ``actors``."""
        if not self.started:
            self._reset()
        E = self.n_envs
        buffers = {
            "observations": {
                a: torch.zeros(n_steps, *self.observations[a].shape) for a in self.agents
            },
            "memories": {a: torch.zeros(n_steps, *self.memories[a].shape) for a in self.agents},
            "actions": {
                a: torch.zeros(n_steps, E, self.action_dims[a], dtype=torch.long)
                for a in self.agents
            },
            "log_probs": {a: torch.zeros(n_steps, E, self.action_dims[a]) for a in self.agents},
        }
        states = torch.zeros(n_steps, *self.states.shape)
        rewards = np.zeros((n_steps, E), np.float64)
        starts = np.zeros((n_steps, E), np.float32)
        ends = np.zeros((n_steps, E), np.float32)
        profits: list[float] = []
        for t in range(n_steps):
            states[t] = torch.from_numpy(self.states)
            starts[t] = self.episode_starts
            self.episode_starts[:] = 0.0
            actions = {}
            for agent in self.agents:
                observation = torch.from_numpy(self.observations[agent])
                buffers["observations"][agent][t] = observation
                buffers["memories"][agent][t] = self.memories[agent]
                logits, self.memories[agent] = actors[agent].step(observation, self.memories[agent])
                distribution = MultiCategorical(logits)
                action = distribution.sample(generator)
                buffers["actions"][agent][t] = action
                buffers["log_probs"][agent][t] = distribution.dimension_log_probs(action)
                actions[agent] = action.numpy()
            observations, team_rewards, _, truncations, _ = self.env.step(actions)
            profit = team_rewards[INVENTORY]
            rewards[t] = profit
            self.episode_profits += profit
            if truncations[INVENTORY].all():  # the fixed horizon: every episode ends
                ends[t] = 1.0
                profits.extend(self.episode_profits.tolist())
                self._reset()
            else:
                self._observe(observations)
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
            rewards=torch.from_numpy((rewards * self.reward_scale).astype(np.float32)),
            episode_starts=torch.from_numpy(starts),
            episode_ends=torch.from_numpy(ends),
            episode_profits=profits,
        )

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Everything needed to continue the episodes under way exactly (tensors, str, numbers)."""
        simulator = None
        if self.simulator is not None:
            simulator = {
                f.name: (
                    torch.from_numpy(value.copy())
                    if isinstance(value := getattr(self.simulator, f.name), np.ndarray)
                    else value
                )
                for f in fields(self.simulator)
            }
        return {
            "format": ROLLOUT_FORMAT,
            "simulator": simulator,
            "episode_seed": self.episode_seed,
            "rng": (
                _generator_state_json(self.env.np_random) if self.simulator is not None else None
            ),
            "episode_profits": torch.from_numpy(self.episode_profits.copy()),
            "observations": {a: torch.from_numpy(v.copy()) for a, v in self.observations.items()},
            "states": torch.from_numpy(self.states.copy()),
            "memories": {a: m.clone() for a, m in self.memories.items()},
            "episode_starts": torch.from_numpy(self.episode_starts.copy()),
        }

    def load_state_dict(self, saved: dict) -> None:
        """Restore :meth:`state_dict`'s output (same scenario and ``n_envs``).

        Raises
        ------
        ValueError
            A rollout of another format or batch size.
        """
        if saved.get("format") != ROLLOUT_FORMAT:
            raise ValueError(
                f"the saved rollout has format {saved.get('format', 1)}, this collector "
                f"{ROLLOUT_FORMAT}"
            )
        if saved["episode_profits"].shape[0] != self.n_envs:
            raise ValueError(
                f"the saved rollout has {saved['episode_profits'].shape[0]} envs, this "
                f"collector {self.n_envs}"
            )
        if saved["simulator"] is not None:
            simulator = core.State(
                **{
                    name: value.numpy().copy() if isinstance(value, torch.Tensor) else value
                    for name, value in saved["simulator"].items()
                }
            )
            self.env.set_simulation(simulator, _generator_from_json(saved["rng"]))
        self.episode_seed = saved["episode_seed"]
        self.episode_profits[:] = saved["episode_profits"].numpy()
        for agent in self.agents:
            self.observations[agent][:] = saved["observations"][agent].numpy()
            self.memories[agent] = saved["memories"][agent].clone()
        self.states[:] = saved["states"].numpy()
        self.episode_starts[:] = saved["episode_starts"].numpy()
