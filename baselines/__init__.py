"""Baseline policies for coord_env, all behind the one interface of ``baselines.policy``.

``BUILTIN_POLICIES`` maps each name that ``coord-bench evaluate --policy NAME`` accepts to a
factory ``env -> policy``: the heuristics, and the RL baselines, which load the checkpoint committed
for the scenario being evaluated (``baselines/checkpoints/<scenario>/<name>/``).
"""

from baselines.heuristics.coordinated import CoordinatedPolicy
from baselines.heuristics.lp_policy import LPPolicy
from baselines.heuristics.random_policy import RandomPolicy
from baselines.heuristics.siloed import SiloedPolicy
from baselines.policy import AgentPolicies, FunctionPolicy, Policy, PredictPolicy, as_policy
from baselines.rl.policies import CheckpointPolicy, CommittedPolicy
from baselines.rl.training import RL_BASELINES
from baselines.simple import MeanDemandPolicy

BUILTIN_POLICIES = {
    "random": RandomPolicy,
    "mean_demand": MeanDemandPolicy,
    "siloed": SiloedPolicy,
    "coordinated": CoordinatedPolicy,
    "lp": LPPolicy,
    **{name: CommittedPolicy(name) for name in RL_BASELINES},
}

__all__ = [
    "BUILTIN_POLICIES",
    "AgentPolicies",
    "CheckpointPolicy",
    "CommittedPolicy",
    "CoordinatedPolicy",
    "FunctionPolicy",
    "LPPolicy",
    "MeanDemandPolicy",
    "Policy",
    "PredictPolicy",
    "RandomPolicy",
    "SiloedPolicy",
    "as_policy",
]
