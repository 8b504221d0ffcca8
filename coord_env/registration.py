"""Register every catalog scenario with PettingZoo as ``coord/<scenario>-v<version>``.

>>> import pettingzoo, coord_env
>>> env = pettingzoo.make("parallel", "coord/tiny-v0")  # doctest: +SKIP
"""

from __future__ import annotations

import pettingzoo

from coord_env.scenarios import list_scenarios, load_scenario

__all__ = ["register_scenarios", "registered_ids"]


def registered_ids() -> list[str]:
    """The PettingZoo ids of every catalog scenario, e.g. ``coord/default-v0``."""
    return [load_scenario(name).env_id for name in list_scenarios()]


def register_scenarios() -> None:
    """Register the parallel and AEC entry points of every scenario (PettingZoo >= 1.27's registry).

    Older PettingZoo releases have no registry; there this is a no-op and the envs are built with
    ``coord_env.parallel_env(name)``.
    """
    register = getattr(pettingzoo, "register", None)
    if register is None:
        return
    for name, env_id in zip(list_scenarios(), registered_ids(), strict=True):
        registry = getattr(pettingzoo, "parallel_registry", {})
        if env_id in registry:
            continue
        register(
            "parallel",
            env_id,
            entry_point="coord_env.retail_v0:parallel_env",
            kwargs={"scenario": name},
        )
        register("aec", env_id, entry_point="coord_env.retail_v0:env", kwargs={"scenario": name})
