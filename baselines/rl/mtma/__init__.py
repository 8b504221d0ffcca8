"""MTMA: multi-timescale multi-agent PPO on torch (docs/training.md).

Decentralized actors on each agent's own observation, a centralized critic on ``env.state()``,
memory (stacked recent observations or a GRU) and a distinct learning speed per learner. One module
per concern: ``config`` (hyperparameters, presets), ``networks``, ``rollout``, ``losses``,
``schedules`` (who updates when, at which rate), ``trainer`` and ``policy``.

Examples
--------
>>> import coord_env
>>> from baselines.rl.mtma import MTMA_TRAINERS
>>> trainer = MTMA_TRAINERS["mtma_single_timescale"]("tiny", 0, n_envs=2, n_steps=20, epochs=1)
>>> _ = trainer.learn(40)
>>> results = coord_env.evaluate(
...     lambda env: trainer.policy(), "tiny", seeds=[1], env_options=trainer.env_options
... )
"""

from baselines.rl.mtma.config import MEMORY_MODES, PRESETS, MTMAConfig
from baselines.rl.mtma.policy import MTMAPolicy
from baselines.rl.mtma.trainer import (
    MTMA_TRAINERS,
    MTMAReversedTrainer,
    MTMASingleTimescaleTrainer,
    MTMATrainer,
)

__all__ = [
    "MEMORY_MODES",
    "MTMA_TRAINERS",
    "PRESETS",
    "MTMAConfig",
    "MTMAPolicy",
    "MTMAReversedTrainer",
    "MTMASingleTimescaleTrainer",
    "MTMATrainer",
]
