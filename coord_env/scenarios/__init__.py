"""The scenario catalog: parameters shipped as JSON in the package, validated on load."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from coord_env.scenarios.scenario import Scenario, ScenarioError, Shock

__all__ = ["Scenario", "ScenarioError", "Shock", "list_scenarios", "load_scenario"]

_CATALOG = "catalog"


def list_scenarios() -> list[str]:
    """Names of the scenarios in the catalog, sorted.

    Examples
    --------
    >>> "default" in list_scenarios()
    True
    """
    folder = resources.files(__package__) / _CATALOG
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


@cache
def _load_catalog_entry(name: str) -> Scenario:
    text = (resources.files(__package__) / _CATALOG / f"{name}.json").read_text()
    return Scenario.from_dict(json.loads(text))


def load_scenario(name: str | Scenario = "default", /, **overrides: Any) -> Scenario:
    """Load a catalog scenario by name, optionally replacing some of its parameters.

    The one way to turn a ``str | Scenario`` argument into a Scenario: a Scenario without
    overrides is returned as it is.

    Parameters
    ----------
    name : str or Scenario
        A catalog name (see :func:`list_scenarios`), or a Scenario to copy (positional only, so
        that ``name=...`` is an override of the scenario's own name).
    **overrides
        Scenario fields to replace, e.g. ``horizon=10``; validated like the catalog data, each
        numeric field within its documented range (docs/model.md section 2).

    Returns
    -------
    Scenario

    Raises
    ------
    KeyError
        If ``name`` is not in the catalog (the message lists the valid names).
    ScenarioError
        If an override is unknown or out of range (the message names the field, the value and
        the range).

    Examples
    --------
    >>> load_scenario("default", horizon=10).horizon
    10
    >>> s = load_scenario("tiny")
    >>> load_scenario(s) is s
    True
    """
    if isinstance(name, Scenario):
        base = name
    else:
        valid = list_scenarios()
        if name not in valid:
            raise KeyError(f"unknown scenario {name!r}; valid scenarios: {', '.join(valid)}")
        base = _load_catalog_entry(name)
    return base.replace(**overrides) if overrides else base
