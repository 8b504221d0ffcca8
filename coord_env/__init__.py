"""coord_env: a PettingZoo benchmark for coordinating inventory and recommendation in a retailer.

>>> import coord_env
>>> env = coord_env.parallel_env("tiny")
>>> env.possible_agents
['inventory_0', 'recommender_0']
"""

from __future__ import annotations

from coord_env.env import (
    INFO_KEYS,
    InvalidActionError,
    ObservationLayout,
    RetailParallelEnv,
    RetailVectorEnv,
)
from coord_env.harness import EVALUATION_SEEDS, evaluate
from coord_env.registration import register_scenarios
from coord_env.registry import register_policy, registered_policies
from coord_env.retail_v0 import env, parallel_env, raw_env, vector_env
from coord_env.scenarios import Scenario, ScenarioError, list_scenarios, load_scenario

__version__ = "0.1.0"

__all__ = [
    "EVALUATION_SEEDS",
    "INFO_KEYS",
    "InvalidActionError",
    "ObservationLayout",
    "RetailParallelEnv",
    "RetailVectorEnv",
    "Scenario",
    "ScenarioError",
    "__version__",
    "env",
    "evaluate",
    "list_scenarios",
    "load_scenario",
    "parallel_env",
    "raw_env",
    "register_policy",
    "registered_policies",
    "vector_env",
]

register_scenarios()
