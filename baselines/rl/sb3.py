"""Stable-baselines3 PPO trainers for the SPEC's four SB3 baselines, behind the ``Trainer`` protocol.

- ``centralized`` (:class:`CentralizedTrainer`): one PPO on :class:`~baselines.rl.views.JointView`,
  team profit.
- ``siloed_rl`` (:class:`SiloedRLTrainer`) and ``ippo`` (:class:`IPPOTrainer`): one PPO per
  department, each on an :class:`AgentVecEnv` (the batched :class:`~baselines.rl.views.AgentView`)
  whose partner is the other department's current PPO policy, on departmental (``siloed_rl``) or
  team (``ippo``) rewards.
  The two learners train in turn: inventory first for ``chunk_steps`` environment steps while the
  recommender's policy is frozen, then the recommender against the updated inventory policy, and
  so on. Alternation keeps each learner's environment stationary during its chunk.
- ``shared_ppo`` (:class:`SharedPPOTrainer`): one parameter-shared PPO over both agents through
  SuperSuit: continuous actions, clipping, observation and action padding, an agent indicator,
  ``pettingzoo_env_to_vec_env_v1`` and ``concat_vec_envs_v1``. SuperSuit pitfalls handled here
  (SPEC section 4): MultiDiscrete cannot be padded (so ``continuous_actions=True``, recorded in
  ``env_options``); ``clip_actions_v0`` goes before padding (the padded ``Box(-1, 1)`` would give
  the inventory negative order fractions, which the env refuses); ``agent_indicator_v0`` writes
  ``max(high)`` of the padded box (hundreds) as the indicator, so it is rescaled to 1;
  SuperSuit's vec env sets no ``TimeLimit.truncated`` and its SB3 wrapper cannot be seeded
  (``PPO(seed=...)`` fails), so :class:`SharedAgentsVecEnv` adapts its ``ConcatVecEnv`` to SB3
  with both.

Seeding: everything derives from the trainer's ``seed`` (in ``[0, TRAINING_SEED_LIMIT)``). Each PPO
gets ``PPO(seed=derived_seed(seed, learner, steps_done))``, which seeds python, numpy, torch, the
action space and the first reset of its rollout envs (``derived + index`` per env; for
the batched :class:`JointVecEnv` and :class:`AgentVecEnv`, ``derived`` seeds the whole batch; always below
``TRAINING_SEED_LIMIT``, so never an official evaluation seed); later episodes continue the envs'
generators. SB3 seeds process-global generators, so two trainers in one process are reproducible
when built and trained in the same order. Rewards are scaled by ``reward_scale`` (default:
:func:`~coord_env.env.rewards.inverse_revenue_per_tick`). No VecNormalize: observations are
already O(1).

Episode ends: the env truncates every agent at the horizon and never terminates; every trainer
passes that on as a truncation (``TimeLimit.truncated``), so PPO bootstraps the value of the last
observation there, as SB3 does for any time limit.

Checkpoints: ``save`` writes one SB3 zip per learner (weights, optimizer, counters) and
``trainer.json`` (config, seed, steps, scenario, spaces, alternation state); the caller writes
``manifest.json``. ``load`` resumes the weights and counters; rollout envs restart with a fresh
episode seeded from ``(seed, learner, steps_done)``, so a resumed run is deterministic but does not
continue the interrupted episodes. Loading never unpickles what a checkpoint carries: SB3's own
loader deserializes the zip's ``data`` entry with cloudpickle, so a hostile zip would run code.
Instead the model is rebuilt from ``trainer.json`` (config and spaces, plain JSON) and only tensors
are read from the zip (:func:`load_sb3_zip`): ``policy.pth`` and ``policy.optimizer.pth`` with
``torch.load(weights_only=True)``, and two integer counters from ``data`` parsed as JSON.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import ConstantSchedule
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

from baselines.rl.threads import torch_threads
from baselines.rl.views import (
    DEPARTMENTS,
    JointView,
    resolve_reward_scale,
)
from coord_env.checkpoint import CheckpointError, check_provenance, describe_spaces
from coord_env.checks import check_choice
from coord_env.env import RetailParallelEnv, RetailVectorEnv
from coord_env.env.actions import INVENTORY
from coord_env.env.parallel import REWARD_MODES
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.harness.seeds import TRAINING_SEED_LIMIT
from coord_env.policy import Policy
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "SB3_THROUGHPUT_ROLLOUT",
    "SB3_TRAINERS",
    "TRAINER_STATE",
    "AgentVecEnv",
    "AlternatingPPOConfig",
    "CentralizedTrainer",
    "DepartmentPolicy",
    "DepartmentalTrainer",
    "IPPOTrainer",
    "JointPolicy",
    "JointVecEnv",
    "PPOConfig",
    "SharedAgentsVecEnv",
    "SharedPPOConfig",
    "SharedPPOTrainer",
    "SharedPolicy",
    "SiloedRLTrainer",
    "derived_seed",
    "load_sb3_zip",
    "make_shared_vec_env",
]

TRAINER_STATE = "trainer.json"
# The entries of an SB3 zip that loading reads: tensors (torch.load with weights_only=True) and the
# JSON ``data`` entry, of which only plain integer counters are taken (its cloudpickled fields,
# stored as base64 text, are never decoded).
SB3_WEIGHTS = "policy.pth"
SB3_OPTIMIZER = "policy.optimizer.pth"
SB3_DATA = "data"
SB3_COUNTERS = ("num_timesteps", "_n_updates")
MAX_SB3_ENTRY_BYTES = 256 << 20  # an entry's uncompressed size: far above any MLP's weights


# ---------------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters and env options of an SB3 trainer (SB3's PPO defaults unless noted).

    Attributes
    ----------
    n_envs : int
        Rollout environments stepped side by side (for ``centralized`` one :class:`JointVecEnv`
        batch, for the departmental trainers one :class:`AgentVecEnv` batch per learner, for
        ``shared_ppo`` copies of the parallel env, each giving one row per agent). Default 16: SB3's forward
        pass over a MultiDiscrete action costs about 9 ms whatever the batch, so more envs per call
        is the main lever on speed (``default``: 130 steps/s with 2 envs, 520 with 8, 710 with 16).
    n_steps : int
        Steps per rollout environment between PPO updates (SB3 ``n_steps``). Default 128, so a
        rollout of ``n_steps * n_envs`` = 2,048 steps spans about twenty ``default`` episodes.
    batch_size : int
        Minibatch size of the PPO update. Default 256.
    n_epochs : int
        Passes over each rollout. Default 5.
    learning_rate : float
        Adam step size. Default 3e-4.
    gamma : float
        Discount per tick. Default 0.99.
    gae_lambda : float
        GAE parameter. Default 0.95.
    clip_range : float
        PPO ratio clipping. Default 0.2.
    ent_coef : float
        Entropy bonus. Default 0.0.
    vf_coef : float
        Value-loss weight. Default 0.5.
    max_grad_norm : float
        Gradient clipping. Default 0.5.
    net_arch : tuple of int
        Hidden layers of the policy and value MLPs. Default (64, 64).
    reward_scale : float or None
        Factor on rewards; None: ``inverse_revenue_per_tick(scenario)`` (about 1 per tick of revenue).
    observation_mode : str
        Env option ``observation_mode``. Default ``"partial"`` (the official protocol).
    inventory_action : str
        Env option ``inventory_action``. Default ``"order_up_to"``: a constant action is then a
        base-stock policy, which PPO finds at once; with order quantities it must learn to track
        the inventory position (``centralized`` on ``default``: held-out profit 43,000 after 16k
        steps with order-up-to levels, still -37,000 after 150k with order quantities).
    continuous_actions : bool
        Env option ``continuous_actions``. Default False (MultiDiscrete actions).
    torch_threads : int or None
        Torch intra-op threads while the trainer builds, loads, learns or its policy acts
        (restored afterwards). Default 1: the MLPs are tiny and extra threads only contend
        (learning was 17x slower with 2 threads on a busy 2-core machine). None: leave torch's
        setting.
    lr_decay_steps : int
        0 (default): a constant ``learning_rate``. Otherwise, before every PPO update, the rate is
        ``learning_rate * max(0, 1 - steps_done / lr_decay_steps)`` with ``steps_done`` the
        trainer's environment steps: a linear decay to 0 at the budget, as MTMA's
        ``lr_decay_steps`` (long runs at a constant rate oscillate; docs/training.md).
    """

    n_envs: int = 16
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 5
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    reward_scale: float | None = None
    observation_mode: str = "partial"
    inventory_action: str = "order_up_to"
    continuous_actions: bool = False
    torch_threads: int | None = 1
    lr_decay_steps: int = 0

    def __post_init__(self) -> None:
        for field, minimum in (
            ("n_envs", 1),
            ("n_steps", 1),
            ("batch_size", 1),
            ("n_epochs", 1),
            ("lr_decay_steps", 0),
        ):
            value = getattr(self, field)
            if (
                not isinstance(value, (int, np.integer))
                or isinstance(value, bool)
                or value < minimum
            ):
                raise ValueError(f"{field} must be an integer >= {minimum}, got {value!r}")
        if self.torch_threads is not None and (
            not isinstance(self.torch_threads, (int, np.integer)) or self.torch_threads < 1
        ):
            raise ValueError(
                f"torch_threads must be an integer >= 1 or None, got {self.torch_threads!r}"
            )
        if self.n_envs > 1024:
            raise ValueError(f"n_envs must be at most 1024, got {self.n_envs}")
        object.__setattr__(self, "net_arch", tuple(int(width) for width in self.net_arch))
        if not self.net_arch or min(self.net_arch) < 1:
            raise ValueError(f"net_arch must list layer widths >= 1, got {self.net_arch!r}")
        if self.reward_scale is not None and not (
            np.isfinite(self.reward_scale) and self.reward_scale > 0
        ):
            raise ValueError(
                f"reward_scale must be a finite number > 0 or None, got {self.reward_scale!r}"
            )

    def env_options(self) -> dict[str, Any]:
        """The RetailParallelEnv options the trained policy acts under."""
        return {
            "observation_mode": self.observation_mode,
            "inventory_action": self.inventory_action,
            "continuous_actions": bool(self.continuous_actions),
        }

    def ppo_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``stable_baselines3.PPO``."""
        return {
            "n_steps": self.n_steps,
            "batch_size": self.batch_size,
            "n_epochs": self.n_epochs,
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
            "gae_lambda": self.gae_lambda,
            "clip_range": self.clip_range,
            "ent_coef": self.ent_coef,
            "vf_coef": self.vf_coef,
            "max_grad_norm": self.max_grad_norm,
            "policy_kwargs": {"net_arch": list(self.net_arch)},
        }


# Rollout and update shape for budgets in the millions: 128 rollout envs (one JointVecEnv call per
# tick for ``centralized``) x 32 steps, 4 epochs of minibatch 2,048 (benchmarks/training_throughput.py).
SB3_THROUGHPUT_ROLLOUT: dict[str, int] = {
    "n_envs": 128,
    "n_steps": 32,
    "batch_size": 2048,
    "n_epochs": 4,
}


@dataclasses.dataclass(frozen=True)
class AlternatingPPOConfig(PPOConfig):
    """:class:`PPOConfig` plus the alternation of the two departmental learners.

    Attributes
    ----------
    chunk_steps : int
        Environment steps one learner trains (its partner frozen) before the other takes its
        turn; a chunk is at least one rollout (``n_steps * n_envs``). Default 4096.
    partner_deterministic : bool
        Whether the frozen partner acts deterministically while the other learns, as it will at
        evaluation. Default True.
    """

    chunk_steps: int = 4096
    partner_deterministic: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.chunk_steps, (int, np.integer)) or self.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be an integer >= 1, got {self.chunk_steps!r}")


@dataclasses.dataclass(frozen=True)
class SharedPPOConfig(PPOConfig):
    """:class:`PPOConfig` for ``shared_ppo``: ``continuous_actions`` must stay True (SuperSuit
    cannot pad MultiDiscrete spaces).

    Attributes
    ----------
    rescale_actions : bool
        Default True: the policy acts in [-1, 1] on every action dimension and each agent's
        action is mapped affinely onto its own Box (``supersuit.action_lambda_v1``), as SB3
        advises for continuous actions. Without it, the inventory's Box(0, 1) order fractions
        are clipped from the Gaussian's [-1, 1]: the initial policy (mean 0) orders nothing, half
        of all samples clip to 0, and ``shared_ppo`` lost money on ``default`` and
        ``multiscale`` (fill rates 0.33 and 0.05 after 100k steps). False reproduces checkpoints
        trained before the rescaling.
    """

    continuous_actions: bool = True
    rescale_actions: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.rescale_actions, bool):
            raise ValueError(f"rescale_actions must be True or False, got {self.rescale_actions!r}")
        if self.continuous_actions is not True:
            raise ValueError(
                "continuous_actions must be True for shared_ppo: SuperSuit pads only Box spaces, "
                f"not MultiDiscrete; got {self.continuous_actions!r}"
            )


def _make_config(config_class: type[PPOConfig], config: dict[str, Any], baseline: str) -> PPOConfig:
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(
            f"unknown {baseline} config field(s) {', '.join(map(repr, unknown))}; valid fields: "
            f"{', '.join(sorted(fields))}"
        )
    return config_class(**config)


# ---------------------------------------------------------------------------------------- seeds
def derived_seed(seed: int, *stream: int, room: int = 1024) -> int:
    """A seed in ``[0, TRAINING_SEED_LIMIT - room)`` derived from ``seed`` and a stream key.

    ``room`` leaves space for the ``+ index`` that SB3 and SuperSuit add per rollout env, so no
    training env is ever reset with an official evaluation seed.

    Examples
    --------
    >>> a, b = derived_seed(0, 1), derived_seed(0, 2)
    >>> a != b and max(a, b) < TRAINING_SEED_LIMIT - 1024
    True
    """
    state = np.random.SeedSequence((int(seed), *map(int, stream))).generate_state(1, np.uint64)
    return int(state[0] % np.uint64(TRAINING_SEED_LIMIT - room))


def _check_seed(seed: Any) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer in [0, {TRAINING_SEED_LIMIT}), got {seed!r}")
    if not 0 <= seed < TRAINING_SEED_LIMIT:
        raise ValueError(
            f"seed must be an integer in [0, {TRAINING_SEED_LIMIT}) (training seeds; the official "
            f"evaluation seeds start at {TRAINING_SEED_LIMIT}), got {seed}"
        )
    return int(seed)


# ---------------------------------------------------------------------------------------- policies
def deterministic_actions(model: PPO, observations: np.ndarray) -> np.ndarray:
    """``model.predict(observations, deterministic=True)[0]`` for a batch, without SB3's overhead.

    SB3's ``predict`` builds one torch ``Categorical`` per MultiDiscrete dimension on every call,
    about 10 ms on ``default`` whatever the batch; evaluating a checkpoint makes one call per tick.
    The deterministic action needs only the actor's output: the arg max of each dimension's logits
    (MultiDiscrete), or the Gaussian mean clipped to the space (Box, as ``predict`` clips). Same
    actions, about 8 times faster; ``tests/test_sb3.py`` checks equality with ``predict``.

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
        self.observation_sizes = {
            agent: env.observation_space(agent).shape[0] for agent in self.agents
        }
        self.width = max(self.observation_sizes.values())
        self.action_spaces = {agent: env.action_space(agent) for agent in self.agents}

    def shared_observations(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """One padded, agent-indicated row per agent (the shared network's input)."""
        rows = np.zeros((len(self.agents), self.width + len(self.agents)), dtype=np.float32)
        for index, agent in enumerate(self.agents):
            rows[index, : self.observation_sizes[agent]] = observations[agent]
            rows[index, self.width + index] = 1.0
        return rows

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


class _LivePartner:
    """The other department's current PPO model, acting on a batch of its observations.

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


# ---------------------------------------------------------------------------------------- vec envs
class _AdapterVecEnv(VecEnv):
    """SB3 VecEnv boilerplate of an adapter over one batched environment.

    ``seed(s)`` stores the seed of the next reset; ``step_async`` stores the actions. The
    environments share one batched object, so there are no per-env attributes or methods to reach
    (SB3 asks only for ``render_mode``).
    """

    def __init__(self, num_envs: int, observation_space: spaces.Space, action_space: spaces.Space):
        self._reset_seed: int | None = None
        self._actions: np.ndarray | None = None
        super().__init__(num_envs, observation_space, action_space)

    def _env_seeds(self) -> list[int | None]:
        """What ``seed`` reports per env: the batch's one seed, by default."""
        return [self._reset_seed] * self.num_envs

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._reset_seed = None if seed is None else int(seed)
        return self._env_seeds()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(list(self._get_indices(indices)))
        raise AttributeError(f"{type(self).__name__} exposes no per-env attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise NotImplementedError(f"{type(self).__name__}'s envs share one batched env")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        raise NotImplementedError(f"{type(self).__name__}'s envs share one batched env")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


class _RetailBatchVecEnv(_AdapterVecEnv):
    """One learner's view of ``num_envs`` retailers stepped as one :class:`coord_env.RetailVectorEnv`.

    The batched counterpart of a ``DummyVecEnv`` of single-agent views: one vectorized simulator
    step per tick instead of ``num_envs`` Python env steps. Every retailer ends its episode on the
    same tick (the horizon): that step is ``done`` with ``TimeLimit.truncated`` and the
    ``terminal_observation`` in its info, and returns the first observations of new episodes, as
    SB3's own vec envs auto-reset. ``seed(s)`` seeds the next reset, which draws the whole batch
    from one ``default_rng(s)`` (coord_env's vector-env seeding); later episodes continue that
    generator. Subclasses say what the learner sees, how its action becomes the env's actions,
    and what it earns.
    """

    def __init__(
        self,
        envs: RetailVectorEnv,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        reward_agent: str,
        reward_scale: float,
    ):
        self.envs = envs
        self.reward_agent = reward_agent
        self.reward_scale = float(reward_scale)
        self._observations: dict[str, np.ndarray] = {}
        super().__init__(envs.num_envs, observation_space, action_space)

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reset(self) -> np.ndarray:
        self._observations, _ = self.envs.reset(seed=self._reset_seed)
        self._reset_seed = None
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._observe(self._observations)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        observations, rewards, terminations, truncations, _ = self.envs.step(
            self._env_actions(self._actions)
        )
        self._observations = observations
        learner = self._observe(observations)
        scaled = (rewards[self.reward_agent] * self.reward_scale).astype(np.float32)
        ended, truncated = terminations[self.reward_agent], truncations[self.reward_agent]
        dones = ended | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():  # the horizon: every retailer's episode ends on this tick
            assert dones.all(), "the vector env ends every retailer's episode together"
            for index, info in enumerate(infos):
                info["terminal_observation"] = learner[index]
                info["TimeLimit.truncated"] = not bool(ended[index])
            self._observations, _ = self.envs.reset()
            learner = self._observe(self._observations)
        return learner, scaled, dones, infos

    def close(self) -> None:
        self.envs.close()


class JointVecEnv(_RetailBatchVecEnv):
    """SB3 VecEnv of ``num_envs`` joint views stepped as one batch by coord_env's vector env.

    The batched counterpart of ``DummyVecEnv([JointView] * num_envs)``, for ``centralized``.
    Spaces, the joint observation (inventory first) and the split of the joint action are
    :class:`~baselines.rl.views.JointView`'s; the reward is the team profit times
    ``reward_scale``. Episode ends and seeding: see :class:`_RetailBatchVecEnv`.

    Parameters
    ----------
    scenario : str or Scenario
    num_envs : int
    reward_scale : float, optional
        None: :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    **env_options
        Options of the env (``observation_mode``, ``inventory_action``, ``continuous_actions``).

    Examples
    --------
    >>> venv = JointVecEnv("tiny", 4)
    >>> _ = venv.seed(0)
    >>> observations = venv.reset()
    >>> observations.shape == (4, *venv.observation_space.shape)
    True
    >>> observations, rewards, dones, infos = venv.step(
    ...     np.stack([venv.action_space.sample() for _ in range(4)]))
    >>> rewards.shape, bool(dones.any())
    ((4,), False)
    """

    def __init__(
        self,
        scenario: str | Scenario,
        num_envs: int,
        reward_scale: float | None = None,
        **env_options: Any,
    ):
        self.view = JointView(scenario, reward_scale, **env_options)
        envs = RetailVectorEnv(
            self.view.scenario,
            num_envs,
            reward_mode="team",
            autoreset_mode="disabled",
            **env_options,
        )
        super().__init__(
            envs,
            self.view.observation_space,
            self.view.action_space,
            INVENTORY,
            self.view.reward_scale,
        )

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([observations[agent] for agent in DEPARTMENTS], axis=1)

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        split = self.view.agent_actions(actions.T)  # split along the action axis
        return {agent: action.T for agent, action in split.items()}


class AgentVecEnv(_RetailBatchVecEnv):
    """SB3 VecEnv of ``num_envs`` retailers in which one department learns beside a batched partner.

    The batched counterpart of ``DummyVecEnv([AgentView] * num_envs)``, for ``siloed_rl`` and
    ``ippo``: the learner sees and acts with ``agent``'s own spaces and earns ``agent``'s reward
    under ``reward_mode`` (times ``reward_scale``); the other department's actions for the whole
    batch come from one call of ``partner`` per tick. Episode ends and seeding: see
    :class:`_RetailBatchVecEnv`.

    Parameters
    ----------
    scenario : str or Scenario
    agent : {"inventory_0", "recommender_0"}
        The learning agent.
    partner : callable
        ``partner(observations) -> actions``: the partner agent's observations, shape
        ``(num_envs, obs_dim)``, to its actions, shape ``(num_envs, action_dim)`` (e.g. an SB3
        model's ``predict`` on the batch).
    num_envs : int
    reward_mode : {"team", "departmental"}
    reward_scale : float, optional
        None: :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    **env_options
        Options of the env (``observation_mode``, ``inventory_action``, ``continuous_actions``).

    Examples
    --------
    >>> slates = lambda observations: np.tile([0, 1], (len(observations), 1))
    >>> venv = AgentVecEnv("tiny", "inventory_0", slates, 4, reward_mode="departmental")
    >>> _ = venv.seed(0)
    >>> observations = venv.reset()
    >>> observations, rewards, dones, infos = venv.step(np.full((4, 2), 3))
    >>> observations.shape == (4, *venv.observation_space.shape), rewards.shape
    (True, (4,))
    """

    def __init__(
        self,
        scenario: str | Scenario,
        agent: str,
        partner: Callable[[np.ndarray], np.ndarray],
        num_envs: int,
        reward_mode: str = "team",
        reward_scale: float | None = None,
        **env_options: Any,
    ):
        self.agent = check_choice("agent", agent, DEPARTMENTS)
        self.partner_agent = DEPARTMENTS[1 - DEPARTMENTS.index(agent)]
        if not callable(partner):
            raise ValueError(
                f"partner must be callable (partner observations -> actions), got {partner!r}"
            )
        self.partner = partner
        scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        envs = RetailVectorEnv(
            scenario,
            num_envs,
            reward_mode=check_choice("reward_mode", reward_mode, REWARD_MODES),
            autoreset_mode="disabled",
            **env_options,
        )
        super().__init__(
            envs,
            envs.single_observation_space(agent),
            envs.single_action_space(agent),
            agent,
            resolve_reward_scale(scenario, reward_scale),
        )

    def _observe(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        return observations[self.agent]

    def _env_actions(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        partner_actions = self.partner(self._observations[self.partner_agent])
        return {self.agent: actions, self.partner_agent: np.asarray(partner_actions)}


class SharedAgentsVecEnv(_AdapterVecEnv):
    """SB3 VecEnv over SuperSuit's ``ConcatVecEnv``, with seeding, time limits and reward scaling.

    SuperSuit's own SB3 wrapper cannot be seeded (it forwards ``seed`` to a gymnasium VectorEnv
    that has no ``seed`` method, which is why ``PPO(seed=...)`` fails on it) and reports the
    horizon as a plain ``done``. This adapter stores the seed for the next reset (SuperSuit gives
    copy ``i`` of the parallel env ``seed + i``), marks truncations with ``TimeLimit.truncated``
    as SB3's own vec envs do, and multiplies rewards by ``reward_scale``.

    Parameters
    ----------
    concat_env
        ``supersuit.concat_vec_envs_v1(..., base_class="gymnasium")``.
    reward_scale : float
    """

    def __init__(self, concat_env: Any, reward_scale: float):
        self.concat_env = concat_env
        self.reward_scale = float(reward_scale)
        super().__init__(concat_env.num_envs, concat_env.observation_space, concat_env.action_space)

    def _env_seeds(self) -> list[int | None]:
        seed = self._reset_seed
        return [None if seed is None else seed + index for index in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        observations, infos = self.concat_env.reset(seed=self._reset_seed)
        self._reset_seed = None
        self.reset_infos = list(infos)
        return observations

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        observations, rewards, terminations, truncations, infos = self.concat_env.step(
            self._actions
        )
        terminations = np.asarray(terminations, dtype=bool)
        truncations = np.asarray(truncations, dtype=bool)
        dones = terminations | truncations
        for index in np.flatnonzero(dones):
            infos[index]["TimeLimit.truncated"] = bool(
                truncations[index] and not terminations[index]
            )
        scaled = (np.asarray(rewards, dtype=np.float64) * self.reward_scale).astype(np.float32)
        return observations, scaled, dones, infos

    def close(self) -> None:
        self.concat_env.close()


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


def to_agent_space(action: np.ndarray, space: spaces.Box) -> np.ndarray:
    """Map an action in [-1, 1] affinely onto a Box: -1 to ``low``, 1 to ``high``.

    Examples
    --------
    >>> to_agent_space(np.array([-1.0, 0.0, 1.0]), spaces.Box(0.0, 1.0, (3,))).tolist()
    [0.0, 0.5, 1.0]
    """
    low, high = space.low, space.high
    mapped = low + (np.asarray(action, dtype=np.float32) + 1.0) * 0.5 * (high - low)
    return np.clip(mapped, low, high).astype(space.dtype)  # rounding may step outside


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
) -> VecEnv:
    """The SuperSuit recipe for one shared policy over both agents, as an SB3 VecEnv.

    Parameters
    ----------
    scenario : str or Scenario
    n_envs : int
        Copies of the parallel env; the VecEnv has ``2 * n_envs`` rows (inventory, recommender,
        inventory, ...).
    reward_scale : float, optional
        None: :func:`~coord_env.env.rewards.inverse_revenue_per_tick`.
    observation_mode, inventory_action : str
        Env options; ``continuous_actions`` is always True.
    rescale_actions : bool
        Map every agent's actions from [-1, 1] onto its Box (:class:`SharedPPOConfig`).

    Returns
    -------
    VecEnv
        ``VecMonitor(SharedAgentsVecEnv(...))``; seed it with ``seed(s)`` before ``reset()``.
    """
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


# ---------------------------------------------------------------------------------------- trainers
def _last_update_stats(model: PPO, prefix: str = "") -> dict[str, float]:
    """The ``train/...`` values SB3 logged in the model's last PPO update."""
    logged = model.logger.name_to_value if model.logger is not None else {}
    return {
        prefix + key.removeprefix("train/"): float(value)
        for key, value in logged.items()
        if key.startswith("train/")
    }


def _zip_entry(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """The bytes of one entry of an SB3 zip, refused when missing or larger than the cap."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CheckpointError(f"checkpoint file {path} has no {name!r} entry") from None
    with archive.open(info) as handle:  # read at most the cap, whatever the header claims
        data = handle.read(MAX_SB3_ENTRY_BYTES + 1)
    if len(data) > MAX_SB3_ENTRY_BYTES:
        raise CheckpointError(
            f"checkpoint file {path}: entry {name!r} is over {MAX_SB3_ENTRY_BYTES:,} bytes"
        )
    return data


def _tensor_entry(archive: zipfile.ZipFile, name: str, path: Path) -> dict[str, Any]:
    """A state dict from ``name`` by ``torch.load(weights_only=True)``: tensors and plain
    containers only; anything else (a pickled object, a callable) is refused unread."""
    data = _zip_entry(archive, name, path)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
        raise CheckpointError(
            f"checkpoint file {path}: {name} holds more than tensors, so it is not loaded "
            f"(torch.load with weights_only=True: {reason})"
        ) from None
    except Exception as error:  # torch raises many kinds on a damaged archive
        raise CheckpointError(f"checkpoint file {path}: {name} is not readable: {error}") from None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint file {path}: {name} must hold a state dict, got {type(state).__name__}"
        )
    return state


def _counter_entries(archive: zipfile.ZipFile, path: Path) -> dict[str, int]:
    """``num_timesteps`` and ``_n_updates`` from the ``data`` entry, parsed as JSON only."""
    data = _zip_entry(archive, SB3_DATA, path)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(
            f"checkpoint file {path}: its {SB3_DATA!r} entry is not JSON (SB3 writes JSON)"
        ) from None
    if not isinstance(document, dict):
        raise CheckpointError(f"checkpoint file {path}: its {SB3_DATA!r} entry is not an object")
    counters = {}
    for key in SB3_COUNTERS:
        value = document.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(
                f"checkpoint file {path}: {SB3_DATA}.{key} must be an integer >= 0, "
                f"got {str(value)[:40]!r}"
            )
        counters[key] = value
    return counters


def load_sb3_zip(model: PPO, path: str | Path) -> dict[str, int]:
    """Load an SB3 zip's weights, optimizer state and step counters into ``model``, unpickling
    nothing the file carries.

    SB3's own loader rebuilds the model from the zip's ``data`` entry, whose cloudpickled fields
    (spaces, schedules, buffers) run code when deserialized. Here ``model`` is already built from
    the trainer's JSON config and the scenario's spaces, so only tensors are needed: ``policy.pth``
    and ``policy.optimizer.pth`` through ``torch.load(weights_only=True)``, and the integer
    counters ``num_timesteps`` and ``_n_updates`` from ``data`` read as plain JSON (its pickled
    fields stay undecoded text).

    Parameters
    ----------
    model : PPO
        Built with the same policy architecture and spaces as the saved one.
    path : str or Path
        An SB3 zip (``model.save``); a symlink is refused.

    Returns
    -------
    dict
        The counters set on ``model``: ``{"num_timesteps": ..., "_n_updates": ...}``.

    Raises
    ------
    CheckpointError
        If the file is a symlink or not a zip, an entry is missing or too large, a ``.pth`` entry
        holds anything but tensors and plain containers, or the weights do not fit ``model``.

    Examples
    --------
    >>> import tempfile
    >>> trainer = CentralizedTrainer("tiny", 0, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> folder = Path(tempfile.mkdtemp())
    >>> trainer.save(folder)
    >>> fresh = CentralizedTrainer("tiny", 1, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> load_sb3_zip(fresh.models["joint"], folder / "joint.zip")
    {'num_timesteps': 0, '_n_updates': 0}
    """
    path = Path(path)
    if path.is_symlink():
        raise CheckpointError(f"checkpoint file {path} is a symlink; refused")
    try:
        with zipfile.ZipFile(path) as archive:
            weights = _tensor_entry(archive, SB3_WEIGHTS, path)
            optimizer = _tensor_entry(archive, SB3_OPTIMIZER, path)
            counters = _counter_entries(archive, path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"checkpoint file {path} is not loadable: {error}") from None
    try:
        model.set_parameters(
            {"policy": weights, "policy.optimizer": optimizer}, exact_match=True, device="cpu"
        )
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"checkpoint file {path} does not fit the model its {TRAINER_STATE} describes: {reason}"
        ) from None
    model.num_timesteps = counters["num_timesteps"]
    model._n_updates = counters["_n_updates"]
    return counters


class _DecayingLearningRate(BaseCallback):
    """Sets the PPO model's learning rate before each update from the trainer's ``steps_done``.

    SB3's own schedules see only the progress within one ``learn`` call; the trainers call
    ``learn`` once per evaluation interval or chunk, so the decay over the whole budget is applied
    here instead (a :class:`ConstantSchedule` per update, which checkpoints store as SB3 does).
    """

    def __init__(self, trainer: _PPOTrainer):
        super().__init__()
        self.trainer = trainer

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.model.lr_schedule = ConstantSchedule(self.trainer.current_learning_rate())


class _PPOTrainer:
    """Shared machinery: config, seeding, learners as SB3 models, save and load."""

    name: ClassVar[str]
    config_class: ClassVar[type[PPOConfig]] = PPOConfig
    learners: ClassVar[tuple[str, ...]]  # model keys; each one's checkpoint file is <key>.zip

    def __init__(self, scenario: str | Scenario, seed: int, **config: Any):
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.seed = _check_seed(seed)
        self.config = _make_config(self.config_class, config, self.name)
        self.env_options = self.config.env_options()
        self.reward_scale = resolve_reward_scale(self.scenario, self.config.reward_scale)
        self.models: dict[str, PPO] = {}
        self._build()

    # subclasses --------------------------------------------------------------------------------
    def _build(self) -> None:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # common ------------------------------------------------------------------------------------
    def _ppo(self, venv: VecEnv, learner: str) -> PPO:
        seed = derived_seed(self.seed, self.learners.index(learner), 0, room=self.config.n_envs)
        with torch_threads(self.config.torch_threads):
            return PPO(
                "MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **self.config.ppo_kwargs()
            )

    @property
    def steps_done(self) -> int:
        """Environment steps (``env.step`` calls, summed over rollout envs) trained so far."""
        return sum(model.num_timesteps for model in self.models.values())

    def current_learning_rate(self) -> float:
        """The learning rate of the next PPO update (``PPOConfig.lr_decay_steps``)."""
        rate = self.config.learning_rate
        if self.config.lr_decay_steps:
            rate *= max(0.0, 1.0 - self.steps_done / self.config.lr_decay_steps)
        return float(rate)

    def _learn_model(self, model: PPO, timesteps: int) -> None:
        """``model.learn`` for ``timesteps`` more model steps, continuing its counters."""
        callback = _DecayingLearningRate(self) if self.config.lr_decay_steps else None
        with torch_threads(self.config.torch_threads):
            model.learn(total_timesteps=timesteps, reset_num_timesteps=False, callback=callback)

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more environment steps (whole rollouts).

        Returns
        -------
        dict
            The last PPO update's statistics (``value_loss``, ``entropy_loss``, ``approx_kl``,
            ...); empty when ``steps`` is 0.
        """
        steps = self._check_steps(steps)
        if steps == 0:
            return {}
        (model,) = self.models.values()
        self._learn_model(model, steps)
        return _last_update_stats(model)

    @staticmethod
    def _check_steps(steps: Any) -> int:
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
        return int(steps)

    def policy(self) -> Policy:
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        """Write ``<learner>.zip`` per learner and ``trainer.json`` (not ``manifest.json``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for key, model in self.models.items():
            buffer = io.BytesIO()
            model.save(buffer)
            atomic_write_bytes(directory / f"{key}.zip", buffer.getvalue())
        state = {
            "baseline": self.name,
            "seed": self.seed,
            "steps_done": self.steps_done,
            "config": dataclasses.asdict(self.config),
            "env_options": self.env_options,
            "scenario": self.scenario.env_id,
            "scenario_hash": self.scenario.content_hash,
            "spaces": describe_spaces(RetailParallelEnv(self.scenario, **self.env_options)),
            **self._extra_state(),
        }
        atomic_write_text(
            directory / TRAINER_STATE, json.dumps(state, indent=1, sort_keys=True) + "\n"
        )

    @classmethod
    def load(cls, directory: str | Path, scenario: str | Scenario) -> _PPOTrainer:
        """Resume a trainer from ``save``'s files, for ``scenario``.

        The models are built from ``trainer.json`` (config, seed, spaces: plain JSON) and only
        their tensors and counters come from the zips (:func:`load_sb3_zip`): nothing a
        checkpoint carries is unpickled.

        Raises
        ------
        CheckpointError
            If a file is missing, unreadable or a symlink, a weight file holds anything but
            tensors, or the checkpoint is of another baseline, another scenario (name, version or
            parameters) or other spaces.
        """
        directory = Path(directory)
        scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        state = cls._read_state(directory)
        try:
            expected = describe_spaces(RetailParallelEnv(scenario, **state["env_options"]))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory / TRAINER_STATE} is not usable: {error}") from None
        check_provenance(directory, state, scenario, expected, cls.name)
        try:
            trainer = cls(scenario, state["seed"], **cls._stored_config(state["config"]))
            steps_recorded = int(state["steps_done"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory / TRAINER_STATE} is not usable: {error}") from None
        for index, key in enumerate(cls.learners):
            path = directory / f"{key}.zip"
            if not path.is_file():
                raise CheckpointError(f"checkpoint {directory} is missing {path.name}")
            model = trainer.models[key]
            with torch_threads(trainer.config.torch_threads):
                load_sb3_zip(model, path)  # weights only: nothing in the zip is unpickled
            # a fresh, deterministic episode stream for the resumed run
            model.set_random_seed(
                derived_seed(trainer.seed, index, steps_recorded, room=trainer.config.n_envs)
            )
        trainer._restore_extra_state(state)
        if trainer.steps_done != steps_recorded:
            raise CheckpointError(
                f"checkpoint {directory}: its models hold {trainer.steps_done} steps, but "
                f"{TRAINER_STATE} records {steps_recorded}"
            )
        return trainer

    @staticmethod
    def _stored_config(config: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's config as this version's trainer takes it."""
        return config

    @staticmethod
    def _read_state(directory: Path) -> dict[str, Any]:
        path = directory / TRAINER_STATE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(
                f"{directory} is not an SB3 trainer checkpoint: it has no {TRAINER_STATE}"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path} is not readable JSON: {error}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} does not hold a JSON object")
        return state


class CentralizedTrainer(_PPOTrainer):
    """``centralized``: one PPO on the joint view (both observations, joint action, team profit).

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
        Training seed in ``[0, TRAINING_SEED_LIMIT)``.
    **config
        Fields of :class:`PPOConfig`.

    Examples
    --------
    >>> trainer = CentralizedTrainer("tiny", seed=0, n_envs=2, n_steps=32, batch_size=32, n_epochs=1)
    >>> stats = trainer.learn(64)
    >>> trainer.steps_done, "value_loss" in stats
    (64, True)
    """

    name = "centralized"
    config_class = PPOConfig
    learners = ("joint",)

    def _build(self) -> None:
        venv = JointVecEnv(self.scenario, self.config.n_envs, self.reward_scale, **self.env_options)
        self.models["joint"] = self._ppo(VecMonitor(venv), "joint")

    def policy(self) -> Policy:
        """The joint model acting deterministically (live: it follows further training)."""
        view = JointView(self.scenario, **self.env_options)
        return JointPolicy(self.models["joint"], view, self.name, self.config.torch_threads)


class DepartmentalTrainer(_PPOTrainer):
    """One PPO per department, trained in turn against the other's current policy.

    ``siloed_rl`` (:class:`SiloedRLTrainer`) and ``ippo`` (:class:`IPPOTrainer`) differ only in
    ``reward_mode``. Each department learns on an :class:`AgentView` whose partner is the other
    department's live PPO model. ``learn`` gives inventory the first ``chunk_steps`` environment
    steps, then the recommender the next ``chunk_steps``, and so on; the position in the
    alternation carries over between ``learn`` calls and checkpoints. ``steps_done`` sums both
    learners' environment steps.

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
    **config
        Fields of :class:`AlternatingPPOConfig`.
    """

    reward_mode: ClassVar[str]
    config_class = AlternatingPPOConfig
    learners = DEPARTMENTS

    def _build(self) -> None:
        self._turn = 0  # index into DEPARTMENTS of the learner training now
        self._chunk_progress = 0  # its environment steps in the current chunk
        for agent in DEPARTMENTS:
            partner = _LivePartner(
                self.models,
                DEPARTMENTS[1 - DEPARTMENTS.index(agent)],
                self.config.partner_deterministic,
            )
            venv = AgentVecEnv(
                self.scenario,
                agent,
                partner,
                self.config.n_envs,
                reward_mode=self.reward_mode,
                reward_scale=self.reward_scale,
                **self.env_options,
            )
            self.models[agent] = self._ppo(VecMonitor(venv), agent)

    @property
    def training_department(self) -> str:
        """The department whose chunk is under way (or starts at the next ``learn``)."""
        return DEPARTMENTS[self._turn]

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more environment steps, alternating departments by chunk.

        Returns
        -------
        dict
            Per department trained in this call, its last PPO update's statistics, keyed
            ``"<agent>/<statistic>"`` (e.g. ``"inventory_0/value_loss"``).
        """
        steps = self._check_steps(steps)
        stats: dict[str, float] = {}
        done = 0
        while done < steps:
            agent = DEPARTMENTS[self._turn]
            model = self.models[agent]
            budget = min(self.config.chunk_steps - self._chunk_progress, steps - done)
            before = model.num_timesteps
            self._learn_model(model, budget)
            advanced = model.num_timesteps - before
            done += advanced
            self._chunk_progress += advanced
            stats.update(_last_update_stats(model, prefix=f"{agent}/"))
            if self._chunk_progress >= self.config.chunk_steps:
                self._turn = 1 - self._turn
                self._chunk_progress = 0
        return stats

    def policy(self) -> Policy:
        """Both departments' models acting deterministically on their own observations (live)."""
        return DepartmentPolicy(self.models, self.name, self.config.torch_threads)

    def _extra_state(self) -> dict[str, Any]:
        return {"turn": self._turn, "chunk_progress": self._chunk_progress}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        try:
            turn, progress = int(state["turn"]), int(state["chunk_progress"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(
                f"{TRAINER_STATE} lacks a valid alternation state ('turn', 'chunk_progress')"
            ) from None
        if turn not in (0, 1) or progress < 0:
            raise CheckpointError(
                f"{TRAINER_STATE}: turn must be 0 or 1 and chunk_progress >= 0, got {turn}, "
                f"{progress}"
            )
        self._turn, self._chunk_progress = turn, progress


class SiloedRLTrainer(DepartmentalTrainer):
    """``siloed_rl``: each department's PPO learns on its departmental reward (revenue for the
    recommender, the operations result for inventory). See :class:`DepartmentalTrainer`.

    Examples
    --------
    >>> trainer = SiloedRLTrainer("tiny", 0, n_envs=2, n_steps=32, batch_size=32, n_epochs=1,
    ...                           chunk_steps=64)
    >>> sorted(trainer.learn(128))[:2]
    ['inventory_0/approx_kl', 'inventory_0/clip_fraction']
    >>> trainer.steps_done, trainer.training_department
    (128, 'inventory_0')
    """

    name = "siloed_rl"
    reward_mode = "departmental"


class IPPOTrainer(DepartmentalTrainer):
    """``ippo``: independent PPO learners, both on the team profit. See
    :class:`DepartmentalTrainer`."""

    name = "ippo"
    reward_mode = "team"


class SharedPPOTrainer(_PPOTrainer):
    """``shared_ppo``: one PPO policy shared by both agents through SuperSuit's padding.

    The policy acts with continuous actions (``env_options["continuous_actions"]`` is True). The
    SB3 model steps ``2 * n_envs`` agent rows, one parallel-env step per pair of rows:
    ``steps_done`` counts parallel-env steps (the model's timesteps / 2), and ``learn(steps)``
    trains on ``2 * steps`` agent rows. See :func:`make_shared_vec_env` and the module docstring
    for the SuperSuit pitfalls handled.

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
    **config
        Fields of :class:`SharedPPOConfig`.

    Examples
    --------
    >>> trainer = SharedPPOTrainer("tiny", 0, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> _ = trainer.learn(64)
    >>> trainer.steps_done, trainer.env_options["continuous_actions"]
    (64, True)
    """

    name = "shared_ppo"
    config_class = SharedPPOConfig
    learners = ("shared",)

    def _build(self) -> None:
        self.num_agents = len(DEPARTMENTS)
        venv = make_shared_vec_env(
            self.scenario,
            self.config.n_envs,
            self.reward_scale,
            self.config.observation_mode,
            self.config.inventory_action,
            self.config.rescale_actions,
        )
        self.models["shared"] = self._ppo(venv, "shared")

    @staticmethod
    def _stored_config(config: dict[str, Any]) -> dict[str, Any]:
        """Checkpoints written before ``rescale_actions`` existed were trained without it."""
        return {"rescale_actions": False, **config}

    @property
    def steps_done(self) -> int:
        return self.models["shared"].num_timesteps // self.num_agents

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more parallel-env steps (whole rollouts)."""
        steps = self._check_steps(steps)
        if steps == 0:
            return {}
        model = self.models["shared"]
        self._learn_model(model, steps * self.num_agents)
        return _last_update_stats(model)

    def policy(self) -> Policy:
        """The shared model acting deterministically for both agents (live)."""
        env = RetailParallelEnv(self.scenario, **self.env_options)
        return SharedPolicy(
            self.models["shared"],
            env,
            self.name,
            self.config.torch_threads,
            self.config.rescale_actions,
        )


SB3_TRAINERS: dict[str, type[_PPOTrainer]] = {
    "centralized": CentralizedTrainer,
    "siloed_rl": SiloedRLTrainer,
    "ippo": IPPOTrainer,
    "shared_ppo": SharedPPOTrainer,
}
