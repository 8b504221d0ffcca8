"""BenchMARL adapter: coord_env as a BenchMARL task on the batched TorchRL adapter.

:class:`CoordEnvTask` is the task enum (one member per catalog scenario) and
:class:`CoordEnvTaskClass` the ``TaskClass`` behind it: its ``get_env_fun`` returns a
:class:`coord_env.adapters.torchrl.RetailTorchRLEnv` whose batch is BenchMARL's
``n_envs_per_worker``, so BenchMARL steps every retailer of a batch in one simulator call instead
of a ``SerialEnv`` of ``PettingZooEnv`` copies. Requires ``benchmarl`` (which brings its own
torchrl and tensordict; docs/adapters.md, section BenchMARL, gives the install line).

Examples
--------
>>> from benchmarl.algorithms import MappoConfig
>>> from benchmarl.experiment import Experiment, ExperimentConfig
>>> from benchmarl.models import MlpConfig
>>> from coord_env.adapters.benchmarl import CoordEnvTask
>>> experiment = Experiment(
...     task=CoordEnvTask.SMALL.get_task(),
...     algorithm_config=MappoConfig.get_from_yaml(),
...     model_config=MlpConfig.get_from_yaml(),
...     critic_model_config=MlpConfig.get_from_yaml(),
...     seed=0,
...     config=ExperimentConfig.get_from_yaml(),
... )  # doctest: +SKIP
>>> experiment.run()  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from benchmarl.environments.common import Task, TaskClass
from benchmarl.utils import DEVICE_TYPING
from torchrl.data import Composite
from torchrl.envs import EnvBase

from coord_env.adapters.torchrl import RetailTorchRLEnv

__all__ = ["DEFAULT_CONFIG", "CoordEnvTask", "CoordEnvTaskClass"]

# The task config every CoordEnvTask member starts from (``scenario`` is the member's name).
# Any keyword of RetailTorchRLEnv / coord_env.vector_env may be added, except
# ``continuous_actions`` (BenchMARL chooses it) and ``autoreset_mode`` (TorchRL resets).
DEFAULT_CONFIG: dict[str, Any] = {
    "clip_actions": True,  # a Gaussian policy's samples may leave the box; clip, count in infos
    "infos": "minimal",  # the adapter returns no infos; the vector env builds 3 keys, not 19
    "reward_scale": "auto",  # rewards / expected revenue per tick: raw money reaches 1e4
    "return_state": True,  # MAPPO's centralised critic reads the global state
}


def _unwrapped(env: EnvBase) -> RetailTorchRLEnv:
    """The RetailTorchRLEnv under BenchMARL's ``TransformedEnv`` layers."""
    while not isinstance(env, RetailTorchRLEnv):
        base = getattr(env, "base_env", None)
        if base is None:
            raise TypeError(f"env: expected a RetailTorchRLEnv, got {type(env).__name__}")
        env = base
    return env


def _keep(spec: Composite, groups: list[str], key: str) -> Composite:
    """``spec`` with only ``(group, key)`` left in each group and no ``"state"``; an emptied
    group is dropped."""
    spec = spec.clone()
    for group in groups:
        group_spec = spec[group]
        for name in list(group_spec.keys()):
            if name != key:
                del group_spec[name]
        if group_spec.is_empty():
            del spec[group]
    if "state" in list(spec.keys()):  # a Composite's own ``in`` wants nested keys
        del spec["state"]
    return spec


class CoordEnvTaskClass(TaskClass):
    """A coord_env scenario as a BenchMARL task on the batched TorchRL adapter.

    ``name`` is the :class:`CoordEnvTask` member (``"SMALL"``); ``config`` holds ``scenario``
    (a catalog name) and keywords of :class:`RetailTorchRLEnv` (see :data:`DEFAULT_CONFIG`).
    Continuous actions only: BenchMARL's discrete path cannot act in the env's multi-dimensional
    categorical actions (docs/adapters.md, section BenchMARL).
    """

    def get_env_fun(
        self,
        num_envs: int,
        continuous_actions: bool,
        seed: int | None,
        device: DEVICE_TYPING,
    ) -> Callable[[], EnvBase]:
        """A function building ``RetailTorchRLEnv`` with batch ``num_envs``, seeded with ``seed``.

        Raises
        ------
        ValueError
            ``continuous_actions`` False, or ``continuous_actions`` / ``autoreset_mode`` in the
            task config.
        """
        if not continuous_actions:
            raise ValueError(
                "continuous_actions: coord_env's BenchMARL task supports only True (BenchMARL's "
                "discrete path cannot act in MultiDiscrete actions); got False"
            )
        config = copy.deepcopy(self.config)
        for reserved in ("continuous_actions", "autoreset_mode"):
            if reserved in config:
                raise ValueError(
                    f"{reserved}: not a task config key (BenchMARL sets continuous_actions; "
                    f"TorchRL drives the resets); got {reserved}={config[reserved]!r}"
                )
        scenario = config.pop("scenario", self.name.lower())

        def make_env() -> EnvBase:
            env = RetailTorchRLEnv(
                scenario, num_envs, continuous_actions=True, device=device, **config
            )
            if seed is not None:
                env.set_seed(seed)
            return env

        return make_env

    def supports_continuous_actions(self) -> bool:
        """True: Box actions (``continuous_actions=True``)."""
        return True

    def supports_discrete_actions(self) -> bool:
        """False: see the class docstring."""
        return False

    def has_render(self, env: EnvBase) -> bool:
        """False: the adapter renders nothing."""
        return False

    def max_steps(self, env: EnvBase) -> int:
        """The scenario's horizon: every episode is truncated there."""
        return int(_unwrapped(env).scenario.horizon)

    def group_map(self, env: EnvBase) -> dict[str, list[str]]:
        """``inventory`` and ``recommender``, one agent each (as ``PettingZooWrapper``'s)."""
        return copy.deepcopy(_unwrapped(env).group_map)

    def observation_spec(self, env: EnvBase) -> Composite:
        """``(group, "observation")`` of every group, without the batch dimension."""
        return _keep(env.full_observation_spec_unbatched, list(self.group_map(env)), "observation")

    def info_spec(self, env: EnvBase) -> Composite | None:
        """``(group, "info")`` with ``return_info=True`` in the config, else None."""
        spec = _keep(env.full_observation_spec_unbatched, list(self.group_map(env)), "info")
        return None if spec.is_empty() else spec

    def state_spec(self, env: EnvBase) -> Composite | None:
        """``"state"`` with ``return_state=True`` (the default config), else None."""
        spec = env.full_observation_spec_unbatched
        if "state" in list(spec.keys()):
            return Composite({"state": spec["state"].clone()})
        return None

    def action_spec(self, env: EnvBase) -> Composite:
        """``(group, "action")`` of every group (each agent's Box), without the batch dimension."""
        return env.full_action_spec_unbatched.clone()

    def action_mask_spec(self, env: EnvBase) -> Composite | None:
        """None: no action masks."""
        return None

    @staticmethod
    def env_name() -> str:
        """``"coord_env"``, the environment name in BenchMARL's logs."""
        return "coord_env"


class CoordEnvTask(Task):
    """coord_env's scenarios as BenchMARL tasks; ``get_task()`` uses :data:`DEFAULT_CONFIG`.

    Examples
    --------
    >>> task = CoordEnvTask.SMALL.get_task()  # doctest: +SKIP
    >>> task.config["scenario"], task.config["reward_scale"]  # doctest: +SKIP
    ('small', 'auto')
    """

    TINY = None
    SMALL = None
    DEFAULT = None
    LARGE = None
    CAPACITY = None
    MULTISCALE = None

    @staticmethod
    def associated_class() -> type[CoordEnvTaskClass]:
        """:class:`CoordEnvTaskClass`."""
        return CoordEnvTaskClass

    def get_from_yaml(self, path: str | None = None) -> TaskClass:
        """The task with :data:`DEFAULT_CONFIG` (BenchMARL's conf folder has no coord_env
        entry); with ``path``, BenchMARL's own loading of that yaml file."""
        if path is not None:
            return super().get_from_yaml(path)
        config = {"scenario": self.name.lower(), **copy.deepcopy(DEFAULT_CONFIG)}
        return self.associated_class()(name=self.name, config=config)
