"""Stable-Baselines3 PPO baselines: ``centralized``, ``siloed_rl``, ``ippo`` and ``shared_ppo``.

- :mod:`~baselines.rl.sb3.config`: the config classes (hyperparameters and env options).
- :mod:`~baselines.rl.sb3.trainers`: the trainers (learn, save, load, policy).
- :mod:`~baselines.rl.sb3.policies`: trained models acting as baselines Policies.
- :mod:`~baselines.rl.sb3.shared`: the SuperSuit recipe of ``shared_ppo``.
- :mod:`~baselines.rl.sb3.loading`: pickle-free loading of SB3 checkpoint zips.

The vector envs they train on are public in :mod:`coord_env.adapters.sb3`.
"""

from __future__ import annotations

from baselines.rl.sb3.config import (
    SB3_THROUGHPUT_ROLLOUT,
    AlternatingPPOConfig,
    PPOConfig,
    SharedPPOConfig,
)
from baselines.rl.sb3.loading import TRAINER_STATE, load_sb3_zip
from baselines.rl.sb3.policies import (
    DepartmentPolicy,
    JointPolicy,
    SharedPolicy,
    deterministic_actions,
)
from baselines.rl.sb3.shared import make_shared_vec_env, to_agent_space
from baselines.rl.sb3.trainers import (
    SB3_TRAINERS,
    CentralizedTrainer,
    DepartmentalTrainer,
    IPPOTrainer,
    SharedPPOTrainer,
    SiloedRLTrainer,
    derived_seed,
)

__all__ = [
    "SB3_THROUGHPUT_ROLLOUT",
    "SB3_TRAINERS",
    "TRAINER_STATE",
    "AlternatingPPOConfig",
    "CentralizedTrainer",
    "DepartmentPolicy",
    "DepartmentalTrainer",
    "IPPOTrainer",
    "JointPolicy",
    "PPOConfig",
    "SharedPPOConfig",
    "SharedPPOTrainer",
    "SharedPolicy",
    "SiloedRLTrainer",
    "derived_seed",
    "deterministic_actions",
    "load_sb3_zip",
    "make_shared_vec_env",
    "to_agent_space",
]
