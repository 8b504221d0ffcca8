"""MTMA hyperparameters: one frozen, validated dataclass and the named presets.

The *timescale* of a learner is how fast its parameters move: its learning rate times how often it
is updated (every ``k``-th rollout). The ``mtma`` preset orders them critic = recommender >
inventory: the fast recommender adapts to the slowly moving stock policy, and the critic learns at
the fastest actor's rate (docs/training.md, "The timescales"). ``single_timescale`` is the ablation
with every learner at the same speed, ``reversed`` swaps the two actors.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from coord_env.checks import check_choice

__all__ = ["MEMORY_MODES", "PRESETS", "THROUGHPUT_ROLLOUT", "MTMAConfig"]

MEMORY_MODES = ("stack", "gru")
RATIO_MODES = ("joint", "per_dimension")
INVENTORY_ACTIONS = ("order_up_to", "order_quantity")
ORDER_PRIOR_LEVELS = ("mean_demand", "base_stock")


def _check_range(
    name: str, value: Any, low: float, high: float, *, low_open: bool = False, integer: bool = False
) -> None:
    """Raise ValueError naming ``name`` unless ``low <= value <= high`` (``low < value`` if open)."""
    kind = "an integer" if integer else "a number"
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"MTMAConfig.{name} must be {kind}, got {value!r}")
    if not integer and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise ValueError(f"MTMAConfig.{name} must be a finite number, got {value!r}")
    below = value <= low if low_open else value < low
    if below or value > high:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"MTMAConfig.{name} must be {kind} in {bracket}{low:g}, {high:g}], got {value!r}"
        )


@dataclass(frozen=True)
class MTMAConfig:
    """Hyperparameters of multi-timescale multi-agent PPO (validated on construction).

    Attributes
    ----------
    inventory_lr, recommender_lr, critic_lr : float
        Adam learning rates of the two actors and the critic, in (0, 1].
    inventory_update_every, recommender_update_every : int
        Update that actor on every k-th rollout only; the critic learns on every rollout.
    n_envs, n_steps : int
        A rollout is ``n_steps`` steps of ``n_envs`` batched environments.
    gamma, gae_lambda : float
        Discount and GAE(lambda) per inventory period, in [0, 1]: a tick applies
        ``gamma ** (1 / R)``, so the horizon is the same number of periods on every scenario
        (docs/training.md, "The discount is per period").
    clip_range, epochs, minibatch_size : float, int, int
        PPO's ratio clip in (0, 1), passes per rollout, and transitions per gradient step
        (``gru``: rounded to whole sequences).
    entropy_coef, max_grad_norm : float
        Weight of the actors' joint entropy bonus (>= 0); gradient-norm clip per network (> 0).
    memory, stack_size, hidden_size, sequence_length : {"stack", "gru"}, int, int, int
        Actor memory: the last ``stack_size`` observations side by side (1: none), or a GRU with
        truncated backpropagation over ``sequence_length`` steps (must divide ``n_steps``);
        ``hidden_size`` is the width of the hidden layers.
    reward_scale : float or None
        Rewards are multiplied by this. None: the scenario's
        :func:`coord_env.env.rewards.inverse_margin_per_tick` (about +1 per step at full margin).
    lr_decay_steps : int
        0 keeps the learning rates constant; otherwise they fall linearly to 0 at this many steps.
    order_prior, order_prior_level : float or None, {"base_stock", "mean_demand"}
        The inventory heads start as a normal over units centred on a level, with standard
        deviation ``order_prior`` times it (``networks.order_prior_logits``): one period's mean
        demand for order quantities; for order-up-to targets the base-stock level or the mean
        demand over lead time and review (docs/training.md, "MTMA starts from the base-stock
        level"). None starts them near uniform, as SB3 and CleanRL do.
    slate_prior : float or None
        A logit bonus on the siloed heuristic's static slate in every slot (the order prior then
        uses the demand under that slate). None starts the recommender near uniform.
    value_normalization : bool
        Normalize the critic's targets with output preservation (``networks.Critic``).
    ratio : {"joint", "per_dimension"}
        PPO's probability ratio of an actor's joint action, or one clipped ratio per action
        dimension, surrogates summed (docs/training.md, "One PPO ratio per action dimension").
    inventory_action : {"order_up_to", "order_quantity"}
        The env's inventory action mode; order-up-to makes a constant action a base-stock policy
        (docs/training.md, "Order-up-to actions for the inventory agent").
    """

    inventory_lr: float = 3e-4
    recommender_lr: float = 6e-4
    critic_lr: float = 6e-4
    inventory_update_every: int = 2
    recommender_update_every: int = 1
    n_envs: int = 4
    n_steps: int = 256
    gamma: float = 0.95
    gae_lambda: float = 0.9
    clip_range: float = 0.2
    epochs: int = 10
    minibatch_size: int = 256
    entropy_coef: float = 1e-3
    max_grad_norm: float = 0.5
    memory: str = "stack"
    stack_size: int = 4
    hidden_size: int = 128
    sequence_length: int = 16
    reward_scale: float | None = None
    lr_decay_steps: int = 0
    order_prior: float | None = 0.5
    order_prior_level: str = "base_stock"
    slate_prior: float | None = None
    value_normalization: bool = True
    ratio: str = "per_dimension"
    inventory_action: str = "order_up_to"

    def __post_init__(self) -> None:
        for name in ("inventory_lr", "recommender_lr", "critic_lr"):
            _check_range(name, getattr(self, name), 0.0, 1.0, low_open=True)
        for name in ("inventory_update_every", "recommender_update_every"):
            _check_range(name, getattr(self, name), 1, 1000, integer=True)
        _check_range("n_envs", self.n_envs, 1, 256, integer=True)
        _check_range("n_steps", self.n_steps, 1, 1_000_000, integer=True)
        _check_range("gamma", self.gamma, 0.0, 1.0)
        _check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        _check_range("clip_range", self.clip_range, 0.0, 0.999, low_open=True)
        _check_range("epochs", self.epochs, 1, 1000, integer=True)
        _check_range("minibatch_size", self.minibatch_size, 1, 10_000_000, integer=True)
        _check_range("entropy_coef", self.entropy_coef, 0.0, 10.0)
        _check_range("max_grad_norm", self.max_grad_norm, 0.0, 1e6, low_open=True)
        check_choice("MTMAConfig.memory", self.memory, MEMORY_MODES)
        check_choice("MTMAConfig.inventory_action", self.inventory_action, INVENTORY_ACTIONS)
        check_choice("MTMAConfig.ratio", self.ratio, RATIO_MODES)
        _check_range("stack_size", self.stack_size, 1, 64, integer=True)
        _check_range("hidden_size", self.hidden_size, 1, 4096, integer=True)
        _check_range("sequence_length", self.sequence_length, 1, 10_000, integer=True)
        if self.memory == "gru" and self.n_steps % self.sequence_length:
            raise ValueError(
                f"MTMAConfig.sequence_length must divide n_steps with memory='gru', got "
                f"sequence_length={self.sequence_length}, n_steps={self.n_steps}"
            )
        if self.reward_scale is not None:
            _check_range("reward_scale", self.reward_scale, 0.0, 1e6, low_open=True)
        _check_range("lr_decay_steps", self.lr_decay_steps, 0, 10**12, integer=True)
        if self.order_prior is not None:
            _check_range("order_prior", self.order_prior, 0.0, 100.0, low_open=True)
        check_choice("MTMAConfig.order_prior_level", self.order_prior_level, ORDER_PRIOR_LEVELS)
        if self.slate_prior is not None:
            _check_range("slate_prior", self.slate_prior, 0.0, 100.0, low_open=True)
        if not isinstance(self.value_normalization, bool):
            raise ValueError(
                f"MTMAConfig.value_normalization must be True or False, got {self.value_normalization!r}"
            )

    @property
    def rollout_size(self) -> int:
        """Transitions per rollout, ``n_envs * n_steps``."""
        return self.n_envs * self.n_steps

    @classmethod
    def preset(cls, name: str = "mtma", **overrides: Any) -> MTMAConfig:
        """The named preset (``PRESETS``) with ``overrides`` replacing fields.

        Raises
        ------
        KeyError
            An unknown preset name (the message lists the valid ones).
        ValueError
            An unknown field or an invalid value.

        Examples
        --------
        >>> MTMAConfig.preset("single_timescale", n_envs=2).inventory_lr
        0.0006
        """
        if name not in PRESETS:
            raise KeyError(f"unknown MTMA preset {name!r}; presets: {', '.join(PRESETS)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(
                f"unknown MTMAConfig field(s) {', '.join(unknown)}; fields: {', '.join(sorted(fields))}"
            )
        return dataclasses.replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (``MTMAConfig(**d)`` rebuilds it)."""
        return dataclasses.asdict(self)


_DEFAULT = MTMAConfig()
PRESETS: dict[str, MTMAConfig] = {
    # critic and recommender at one rate, inventory slower (half the rate and half the updates)
    "mtma": _DEFAULT,
    # the ablation: every learner at the recommender's rate, updated on every rollout
    "single_timescale": dataclasses.replace(
        _DEFAULT,
        inventory_lr=_DEFAULT.recommender_lr,
        critic_lr=_DEFAULT.recommender_lr,
        inventory_update_every=1,
        recommender_update_every=1,
    ),
    # the two actors' timescales swapped: inventory faster than recommender
    "reversed": dataclasses.replace(
        _DEFAULT,
        inventory_lr=_DEFAULT.recommender_lr,
        recommender_lr=_DEFAULT.inventory_lr,
        inventory_update_every=_DEFAULT.recommender_update_every,
        recommender_update_every=_DEFAULT.inventory_update_every,
    ),
}

# Rollout and update shape for budgets in the millions: wide rollouts and few large minibatches
# cut the update cost per env step. The presets keep the small rollouts, which learn more per env
# step at budgets of a few hundred thousand (docs/training.md, "Budgets in the millions").
THROUGHPUT_ROLLOUT: dict[str, int] = {
    "n_envs": 128,
    "n_steps": 32,
    "epochs": 4,
    "minibatch_size": 2048,
}
