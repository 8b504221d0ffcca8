"""Argument checks shared across the package and the baselines: one message format everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["check_choice"]


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; else raise ValueError naming both.

    Examples
    --------
    >>> check_choice("reward_mode", "team", ("team", "departmental"))
    'team'
    >>> check_choice("reward_mode", "x", ("team", "departmental"))
    Traceback (most recent call last):
    ...
    ValueError: reward_mode must be one of 'team', 'departmental'; got 'x'
    """
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value
