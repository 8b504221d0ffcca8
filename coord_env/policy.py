"""The one policy interface every baseline and third-party policy goes through, and its adapters.

A policy maps the parallel API's observation and info dicts to an action dict::

    class Policy(Protocol):
        def reset(self, seed: int | None = None) -> None: ...
        def act(self, observations: dict, infos: dict) -> dict: ...

Anything simpler plugs in through :func:`as_policy`: a plain callable ``f(observations, infos)``,
a dict of per-agent callables ``{agent: f(observation)}``, or objects with a ``predict(obs)``
method such as stable-baselines3 models (one for both agents, or one per agent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["AgentPolicies", "FunctionPolicy", "Policy", "PredictPolicy", "as_policy"]

Observations = dict[str, np.ndarray]
Actions = dict[str, Any]


@runtime_checkable
class Policy(Protocol):
    """Acts for both agents of one environment."""

    def reset(self, seed: int | None = None) -> None:
        """Forget the last episode; ``seed`` seeds any randomness of the policy."""

    def act(self, observations: Observations, infos: dict[str, dict[str, float]]) -> Actions:
        """Actions for every agent in ``observations``."""


class FunctionPolicy:
    """A callable ``f(observations, infos) -> actions`` as a Policy.

    Examples
    --------
    >>> policy = FunctionPolicy(lambda obs, infos: {agent: 0 for agent in obs})
    >>> policy.act({"inventory_0": None}, {})
    {'inventory_0': 0}
    """

    def __init__(self, function: Callable[[Observations, dict], Actions], name: str | None = None):
        self.function = function
        self.name = name or getattr(function, "__name__", "function")

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observations: Observations, infos: dict) -> Actions:
        return self.function(observations, infos)


def _predict(model: Any, observation: np.ndarray) -> Any:
    result = (
        model.predict(observation, deterministic=True)
        if _takes_deterministic(model)
        else model.predict(observation)
    )
    return result[0] if isinstance(result, tuple) else result  # SB3 returns (action, state)


def _takes_deterministic(model: Any) -> bool:
    import inspect

    try:
        return "deterministic" in inspect.signature(model.predict).parameters
    except (TypeError, ValueError):
        return False


class AgentPolicies:
    """One callable or ``predict`` model per agent, each seeing only its own observation.

    Examples
    --------
    >>> policy = AgentPolicies({"inventory_0": lambda obs: 1, "recommender_0": lambda obs: 2})
    >>> policy.act({"inventory_0": None, "recommender_0": None}, {})
    {'inventory_0': 1, 'recommender_0': 2}
    """

    def __init__(self, per_agent: Mapping[str, Any], name: str = "agent_policies"):
        self.per_agent = dict(per_agent)
        self.name = name

    def reset(self, seed: int | None = None) -> None:
        for member in self.per_agent.values():
            if hasattr(member, "reset") and not hasattr(member, "predict"):
                member.reset(seed)

    def act(self, observations: Observations, infos: dict) -> Actions:
        actions = {}
        for agent, observation in observations.items():
            member = self.per_agent[agent]
            actions[agent] = (
                _predict(member, observation) if hasattr(member, "predict") else member(observation)
            )
        return actions


class PredictPolicy(AgentPolicies):
    """A single ``predict(obs)`` model (e.g. a stable-baselines3 policy) used for every agent."""

    def __init__(self, model: Any, agents: tuple[str, ...] = ("inventory_0", "recommender_0")):
        super().__init__({agent: model for agent in agents}, name=type(model).__name__)


def as_policy(candidate: Any) -> Policy:
    """Wrap any supported policy form into a :class:`Policy`.

    Raises
    ------
    TypeError
        If the object is none of: a Policy, a callable, a per-agent mapping, a predict model.
    """
    if isinstance(candidate, Policy) and hasattr(candidate, "act"):
        return candidate
    if isinstance(candidate, Mapping):
        return AgentPolicies(candidate)
    if hasattr(candidate, "predict"):
        return PredictPolicy(candidate)
    if callable(candidate):
        return FunctionPolicy(candidate)
    raise TypeError(
        f"cannot use {type(candidate).__name__} as a policy: give an object with act(observations, "
        "infos) and reset(seed), a callable f(observations, infos), a dict of per-agent callables, "
        "or a model with predict(observation)"
    )
