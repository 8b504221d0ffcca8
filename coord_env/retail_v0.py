"""Version 0 of the coord_env retail environment (PettingZoo convention: env, raw_env, parallel_env).

Any change to the dynamics or the spaces bumps this module's version.
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec, parallel_to_aec_wrapper

from coord_env.env.parallel import RetailParallelEnv
from coord_env.env.vector import RetailVectorEnv

__all__ = ["env", "parallel_env", "raw_env", "vector_env"]


def parallel_env(scenario: str = "default", **kwargs: Any) -> RetailParallelEnv:
    """The native parallel environment; see :class:`coord_env.env.RetailParallelEnv` for options."""
    return RetailParallelEnv(scenario, **kwargs)


def vector_env(scenario: str = "default", num_envs: int = 1, **kwargs: Any) -> RetailVectorEnv:
    """``num_envs`` retailers stepped as one batch; see :class:`coord_env.env.RetailVectorEnv`."""
    return RetailVectorEnv(scenario, num_envs, **kwargs)


def raw_env(scenario: str = "default", **kwargs: Any) -> parallel_to_aec_wrapper:
    """The AEC version of :func:`parallel_env`, without PettingZoo's order-enforcing wrapper."""
    return parallel_to_aec_wrapper(parallel_env(scenario, **kwargs))


def env(scenario: str = "default", **kwargs: Any):
    """The AEC version with PettingZoo's order-enforcing wrapper (``parallel_to_aec``)."""
    return parallel_to_aec(parallel_env(scenario, **kwargs))
