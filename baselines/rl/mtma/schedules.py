"""The timescales: which learner updates on which rollout, and at which learning rate.

Rollouts are numbered from 0 (``iteration``). The critic updates after every rollout; an actor
with update frequency ``k`` updates after rollouts ``k - 1, 2k - 1, ...`` (every k-th rollout, the
first once ``k`` rollouts have been collected), using that rollout's data only: in between it acts
with fixed parameters while the faster learners adapt to it.
"""

from __future__ import annotations

from baselines.rl.mtma.config import MTMAConfig
from coord_env.env.actions import INVENTORY, RECOMMENDER

__all__ = ["CRITIC", "base_learning_rates", "learning_rates", "update_every", "updates_on"]

CRITIC = "critic"


def base_learning_rates(config: MTMAConfig) -> dict[str, float]:
    """The configured learning rate of each learner (``inventory_0``, ``recommender_0``, ``critic``)."""
    return {
        INVENTORY: config.inventory_lr,
        RECOMMENDER: config.recommender_lr,
        CRITIC: config.critic_lr,
    }


def update_every(config: MTMAConfig) -> dict[str, int]:
    """Each learner's update frequency in rollouts (the critic: every rollout)."""
    return {
        INVENTORY: config.inventory_update_every,
        RECOMMENDER: config.recommender_update_every,
        CRITIC: 1,
    }


def updates_on(iteration: int, config: MTMAConfig) -> dict[str, bool]:
    """Whether each learner updates after rollout ``iteration`` (0-based).

    Examples
    --------
    >>> config = MTMAConfig(inventory_update_every=2, recommender_update_every=1)
    >>> [updates_on(i, config)["inventory_0"] for i in range(4)]
    [False, True, False, True]
    """
    return {name: iteration % k == k - 1 for name, k in update_every(config).items()}


def learning_rates(steps_done: int, config: MTMAConfig) -> dict[str, float]:
    """Each learner's learning rate after ``steps_done`` env steps.

    Constant when ``config.lr_decay_steps == 0``; otherwise the base rate times
    ``max(0, 1 - steps_done / lr_decay_steps)``, a linear decay to 0 (as SB3's linear schedule).

    Examples
    --------
    >>> config = MTMAConfig(critic_lr=1e-3, lr_decay_steps=1000)
    >>> learning_rates(250, config)["critic"]
    0.00075
    """
    fraction = 1.0
    if config.lr_decay_steps:
        fraction = max(0.0, 1.0 - steps_done / config.lr_decay_steps)
    return {name: rate * fraction for name, rate in base_learning_rates(config).items()}
