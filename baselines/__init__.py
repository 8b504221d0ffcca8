"""Baseline policies for coord_env, all behind the one interface of ``coord_env.policy``.

The package is a coord_env plug-in: :func:`baselines.registration.register` (entry-point group
``coord_env.policies``) registers every name that ``coord-bench evaluate --policy NAME`` accepts:
the heuristics, and the RL baselines, which load the checkpoint committed for the scenario being
evaluated (``baselines/checkpoints/<scenario>/<name>/``). ``baselines.commands`` adds the
``coord-bench train`` and ``reproduce`` subcommands (entry-point group ``coord_env.commands``).
"""

from baselines.heuristics.coordinated import CoordinatedPolicy
from baselines.heuristics.lp_policy import LPPolicy
from baselines.heuristics.random_policy import RandomPolicy
from baselines.heuristics.siloed import SiloedPolicy
from baselines.rl.policies import CheckpointPolicy, CommittedPolicy
from baselines.simple import MeanDemandPolicy

__all__ = [
    "CheckpointPolicy",
    "CommittedPolicy",
    "CoordinatedPolicy",
    "LPPolicy",
    "MeanDemandPolicy",
    "RandomPolicy",
    "SiloedPolicy",
]
