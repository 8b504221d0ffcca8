"""The baselines' plug-in: registers every built-in policy with coord_env's policy registry.

``pyproject.toml`` names :func:`register` in the entry-point group ``coord_env.policies``, the same
way a third-party package registers its own methods; coord_env never imports ``baselines``. The
factories are given as ``"module:attribute"`` paths where that keeps registering cheap.
"""

from __future__ import annotations

from baselines.rl.names import RL_BASELINE_TABLE
from baselines.rl.policies import CheckpointPolicy, CommittedPolicy
from coord_env.registry import register_policy

__all__ = ["HEURISTICS", "register"]

HEURISTICS = {
    "random": (
        "baselines.heuristics.random_policy:RandomPolicy",
        "uniformly random order levels and slates",
    ),
    "mean_demand": (
        "baselines.simple:MeanDemandPolicy",
        "order up to a fixed cover of mean demand; show the best-margin products",
    ),
    "siloed": (
        "baselines.heuristics.siloed:SiloedPolicy",
        "departments apart: revenue-optimal MNL slates, base-stock on own censored sales",
    ),
    "coordinated": (
        "baselines.heuristics.coordinated:CoordinatedPolicy",
        "inventory-balancing slates; base-stock on the demand the slates will create",
    ),
    "lp": (
        "baselines.heuristics.lp_policy:LPPolicy",
        "follows the fluid LP: randomized slates at its mix, orders at its rates",
    ),
}


def register() -> None:
    """Register the heuristics and the RL baselines (which load their committed checkpoints)."""
    for name, (factory, description) in HEURISTICS.items():
        register_policy(name, factory, description=description)
    for name, baseline in RL_BASELINE_TABLE.items():
        register_policy(
            name,
            CommittedPolicy(name),
            description=baseline.description,
            load_checkpoint=CheckpointPolicy,
        )
