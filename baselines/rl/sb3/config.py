"""The SB3 baselines' configuration: PPO hyperparameters, env options and the alternation.

Each trainer takes the fields of one frozen config class as keyword arguments; unknown fields are
refused naming the valid ones. Why the defaults are what they are: docs/training.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "SB3_THROUGHPUT_ROLLOUT",
    "SHARED_VEC_ENVS",
    "AlternatingPPOConfig",
    "PPOConfig",
    "SharedPPOConfig",
    "make_config",
]


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters and env options of an SB3 trainer (SB3's PPO defaults unless noted).

    Attributes
    ----------
    n_envs : int
        Rollout environments stepped side by side: one batched VecEnv per learner
        (:mod:`coord_env.adapters.sb3`), or for ``shared_ppo`` copies of the parallel env.
        Default 16: SB3's forward pass costs about the same whatever the batch, so more envs per
        call is the main lever on speed (docs/training.md, "SB3 speed").
    n_steps, batch_size, n_epochs : int
        SB3's rollout length per env, minibatch and passes per rollout. Defaults 128, 256 and 5.
    learning_rate, gamma, gae_lambda, clip_range, ent_coef, vf_coef, max_grad_norm : float
        SB3's PPO arguments of the same names (``gamma`` per tick), at SB3's defaults.
    net_arch : tuple of int
        Hidden layers of the policy and value MLPs. Default (64, 64).
    reward_scale : float or None
        Factor on rewards; None: ``inverse_revenue_per_tick(scenario)`` (docs/training.md,
        "Reward scale").
    observation_mode, inventory_action, continuous_actions : str, str, bool
        Env options. Defaults ``"partial"`` (the official protocol), ``"order_up_to"`` (a
        constant action is a base-stock policy; docs/training.md, "Order-up-to actions for the
        inventory agent") and False (MultiDiscrete actions).
    torch_threads : int or None
        Torch intra-op threads while the trainer builds, loads, learns or acts (restored
        afterwards). Default 1 (docs/training.md, "One torch thread"); None leaves torch's setting.
    lr_decay_steps : int
        0 (default): a constant ``learning_rate``. Otherwise, before every PPO update,
        ``learning_rate * max(0, 1 - steps_done / lr_decay_steps)``: a linear decay to 0 at the
        budget, as MTMA's (docs/training.md, "Learning-rate decay for SB3").
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


# Rollout and update shape for budgets in the millions: many rollout envs (one JointVecEnv call per
# tick for ``centralized``), short rollouts, large minibatches (benchmarks/training_throughput.py).
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


# ``SharedPPOConfig.vec_env``: SuperSuit's per-env wrappers, or the batched vector env.
SHARED_VEC_ENVS: tuple[str, ...] = ("supersuit", "batched")


@dataclasses.dataclass(frozen=True)
class SharedPPOConfig(PPOConfig):
    """:class:`PPOConfig` for ``shared_ppo``: ``continuous_actions`` must stay True (SuperSuit
    cannot pad MultiDiscrete spaces).

    Attributes
    ----------
    rescale_actions : bool
        Default True: the policy acts in [-1, 1] on every action dimension, mapped affinely onto
        each agent's own Box (``supersuit.action_lambda_v1``), as SB3 advises. False: actions
        clipped to each agent's Box, as checkpoints saved without the field were trained
        (docs/training.md, "`shared_ppo` acts in [-1, 1] on every dimension").
    vec_env : {"supersuit", "batched"}
        The rollout env (:func:`~baselines.rl.sb3.shared.make_shared_vec_env`). Default
        ``"supersuit"``: SuperSuit's wrappers over ``n_envs`` parallel envs, as every committed
        checkpoint was trained. ``"batched"``: the same rows from one vector env of ``n_envs``
        retailers (:class:`~coord_env.adapters.sb3.SharedAgentsBatchVecEnv`), seeded from one
        generator instead of ``seed + i`` per copy (docs/training.md, "`shared_ppo` on the
        batched vector env").
    """

    continuous_actions: bool = True
    rescale_actions: bool = True
    vec_env: str = "supersuit"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.rescale_actions, bool):
            raise ValueError(f"rescale_actions must be True or False, got {self.rescale_actions!r}")
        if self.vec_env not in SHARED_VEC_ENVS:
            raise ValueError(
                f"vec_env must be one of {', '.join(map(repr, SHARED_VEC_ENVS))}; "
                f"got {self.vec_env!r}"
            )
        if self.continuous_actions is not True:
            raise ValueError(
                "continuous_actions must be True for shared_ppo: SuperSuit pads only Box spaces, "
                f"not MultiDiscrete; got {self.continuous_actions!r}"
            )


def make_config(config_class: type[PPOConfig], config: dict[str, Any], baseline: str) -> PPOConfig:
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(
            f"unknown {baseline} config field(s) {', '.join(map(repr, unknown))}; valid fields: "
            f"{', '.join(sorted(fields))}"
        )
    return config_class(**config)
