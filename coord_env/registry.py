"""The policy registry: every name ``coord-bench evaluate --policy NAME`` accepts, and its plug-ins.

Modelled on Gymnasium's environment registry. A policy is registered under a name with a factory
``env -> policy`` (or a ``"module:attribute"`` path to one, imported on first use), a one-line
description and, optionally, the environment options it acts under. Installed packages register
their policies through the entry-point group ``coord_env.policies``; the entry point names a
function of no arguments that calls :func:`register_policy`::

    # pyproject.toml of a third-party package
    [project.entry-points."coord_env.policies"]
    my_method = "my_package.registration:register"

    # my_package/registration.py
    import coord_env

    def register() -> None:
        coord_env.register_policy(
            "my-method", "my_package.policy:make_policy", description="what it does, in one line"
        )

The plug-ins are loaded the first time the registry is read. coord_env itself knows nothing of
how a policy is built: the project's own baselines are a plug-in like any other (the ``baselines``
entry point of the ``coord-env`` distribution), and are marked ``builtin`` so that
``coord-bench run`` evaluates them and the leaderboard re-runs their rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any

from coord_env.checkpoint import CheckpointError, read_manifest
from coord_env.scenarios import Scenario

__all__ = [
    "COMMAND_GROUP",
    "POLICY_GROUP",
    "PolicyRegistrationError",
    "PolicySpec",
    "builtin_policies",
    "checkpoint_policy",
    "command_plugins",
    "policy_spec",
    "register_policy",
    "registered_policies",
]

POLICY_GROUP = "coord_env.policies"
COMMAND_GROUP = "coord_env.commands"
PROJECT_DISTRIBUTION = "coord-env"  # plug-ins of this distribution register the built-in baselines

EnvOptions = Mapping[str, Any] | Callable[[Scenario], Mapping[str, Any] | None] | None


class PolicyRegistrationError(ValueError):
    """A policy name is taken, malformed, or a plug-in failed to register its policies."""


def _split_path(target: str, what: str) -> tuple[str, str]:
    """``("module", "attribute")`` of a ``"module:attribute"`` path."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise PolicyRegistrationError(f"{what} must be 'module:attribute', got {target!r}")
    return module_name, attribute


def _load(target: Any, what: str) -> Any:
    """``target`` itself, or the object a ``"module:attribute"`` path names."""
    if not isinstance(target, str):
        return target
    module_name, attribute = _split_path(target, what)
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class PolicySpec:
    """A registered policy: a factory ``env -> policy`` under a name, with where it came from.

    A spec is itself a factory: ``spec(env)`` builds the policy. It forwards the optional hooks
    of its factory that the harness uses: ``supports(scenario)`` (can it act there: ``lp``
    refuses ``large``; an RL baseline needs a committed checkpoint), ``env_options_for(scenario)``
    (the options its policy acts under, unless ``env_options`` was registered), and
    ``training_budget(scenario)`` (env steps behind a trained policy, for leaderboard rows), and
    ``checkpoint_for(scenario)`` (the checkpoint folder whose files it loads there, or None: a
    verification record pins their hashes).

    Attributes
    ----------
    name : str
        The name ``coord-bench evaluate --policy NAME`` takes.
    factory : callable or str
        ``env -> policy``, or a ``"module:attribute"`` path to one, imported on first use.
    description : str
        One line, shown by ``coord-bench policies``.
    env_options : dict or callable, optional
        The environment options the policy acts under (e.g. ``{"continuous_actions": True}``),
        or a function ``scenario -> options``.
    load_checkpoint : callable or str, optional
        ``directory -> factory`` for checkpoint folders whose ``manifest.json`` names this policy
        as its ``baseline`` (``coord-bench evaluate --policy DIR``).
    plugin : str
        The entry point that registered it, or ``"coord_env"``, or ``"user"`` for a direct call.
    builtin : bool
        Registered by the project's own distribution (``coord-bench run`` evaluates these, and
        baseline leaderboard rows must name one).
    distribution : str or None
        The installed distribution whose plug-in registered it (``"coord-env"`` for the built-in
        ones); None for a direct call. Verification records pin it with its version.
    privileged : bool
        The factory receives a read-only view of the scored env with ``snapshot()`` (the hidden
        state: true on-hand, pipeline, drift) instead of a throwaway env (docs/plug_in.md,
        "Privileged policies"). The leaderboard refuses rows of privileged policies that are not
        coord_env's own built-ins.
    """

    name: str
    factory: Callable[[Any], Any] | str = field(repr=False)
    description: str
    env_options: EnvOptions = field(default=None, repr=False)
    load_checkpoint: Callable[[str], Any] | str | None = field(default=None, repr=False)
    plugin: str = "user"
    builtin: bool = False
    distribution: str | None = None
    privileged: bool = False

    def load(self) -> Callable[[Any], Any]:
        """The factory, imported if it was registered as a path."""
        return _load(self.factory, f"factory of policy {self.name!r}")

    def __call__(self, env: Any) -> Any:
        return self.load()(env)

    def supports(self, scenario: Scenario) -> bool:
        """Whether the policy can act on ``scenario`` (True unless its factory says otherwise)."""
        supports = getattr(self.load(), "supports", None)
        return supports is None or bool(supports(scenario))

    def env_options_for(self, scenario: Scenario) -> dict[str, Any] | None:
        """The environment options the policy acts under on ``scenario`` (None: the defaults)."""
        options = self.env_options
        if options is None:
            hook = getattr(self.load(), "env_options_for", None)
            options = hook(scenario) if hook is not None else None
        elif callable(options):
            options = options(scenario)
        return dict(options) if options else None

    def training_budget(self, scenario: Scenario) -> int | None:
        """Env steps behind the policy on ``scenario``, None when it was not trained."""
        hook = getattr(self.load(), "training_budget", None)
        return None if hook is None else hook(scenario)

    def checkpoint_for(self, scenario: Scenario) -> Path | None:
        """The checkpoint folder the policy loads on ``scenario``, None when it loads none."""
        hook = getattr(self.load(), "checkpoint_for", None)
        folder = None if hook is None else hook(scenario)
        return None if folder is None else Path(folder)


_REGISTRY: dict[str, PolicySpec] = {}
_LOADED = False
# who registers, while a plug-in loads
_SOURCE: dict[str, Any] = {"plugin": "user", "builtin": False, "distribution": None}


def register_policy(
    name: str,
    factory: Callable[[Any], Any] | str,
    *,
    description: str,
    env_options: EnvOptions = None,
    load_checkpoint: Callable[[str], Any] | str | None = None,
    privileged: bool = False,
) -> PolicySpec:
    """Register a policy under ``name`` so that the harness and ``coord-bench`` find it.

    Parameters
    ----------
    name : str
        Letters, digits, ``-``, ``_`` and ``.``; unique across every installed plug-in.
    factory : callable or str
        ``env -> policy`` (the policy: anything :func:`coord_env.policy.as_policy` accepts), or
        a ``"module:attribute"`` path to it, imported on first use so that registering is cheap.
    description : str
        One line saying what the policy does.
    env_options : dict or callable, optional
        Environment options the policy acts under, or a function ``scenario -> options``.
    load_checkpoint : callable or str, optional
        ``directory -> factory`` for checkpoint folders of this policy (see :class:`PolicySpec`).
    privileged : bool
        Give the factory a read-only view of the scored env with ``snapshot()`` instead of a
        throwaway env; for exact or oracle methods that read hidden state. The leaderboard
        refuses privileged rows from anyone but coord_env itself.

    Returns
    -------
    PolicySpec

    Raises
    ------
    PolicyRegistrationError
        If the name is malformed or already registered (the message says by whom), or the
        description is empty.

    Examples
    --------
    >>> import coord_env
    >>> spec = coord_env.register_policy(
    ...     "doc-example", "baselines.heuristics.siloed:SiloedPolicy", description="siloed, again"
    ... )
    >>> coord_env.registered_policies()["doc-example"].plugin
    'user'
    """
    _ensure_loaded()
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise PolicyRegistrationError(
            f"policy name must be a non-empty string of letters, digits, '-', '_' and '.'; "
            f"got {name!r}"
        )
    if not isinstance(description, str) or not description.strip():
        raise PolicyRegistrationError(f"policy {name!r}: description must be a non-empty string")
    if not isinstance(privileged, bool):
        raise PolicyRegistrationError(
            f"policy {name!r}: privileged must be True or False, got {privileged!r}"
        )
    if not (callable(factory) or isinstance(factory, str)):
        raise PolicyRegistrationError(
            f"policy {name!r}: factory must be callable (env -> policy) or 'module:attribute', "
            f"got {type(factory).__name__}"
        )
    for what, target in (("factory", factory), ("load_checkpoint", load_checkpoint)):
        if isinstance(target, str):  # checked for shape now, imported on first use
            _split_path(target, f"policy {name!r}: {what}")
    if name in _REGISTRY:
        owner = _REGISTRY[name].plugin
        raise PolicyRegistrationError(
            f"policy name {name!r} is already registered by {owner!r}; "
            f"{_SOURCE['plugin']!r} must choose another name"
        )
    spec = PolicySpec(
        name=name,
        factory=factory,
        description=description.strip(),
        env_options=env_options,
        load_checkpoint=load_checkpoint,
        plugin=str(_SOURCE["plugin"]),
        builtin=bool(_SOURCE["builtin"]),
        distribution=_SOURCE["distribution"],
        privileged=privileged,
    )
    _REGISTRY[name] = spec
    return spec


def registered_policies() -> Mapping[str, PolicySpec]:
    """Every registered policy by name, in registration order (read-only view).

    Loads the installed plug-ins (entry-point group ``coord_env.policies``) on first call.

    Raises
    ------
    PolicyRegistrationError
        If a plug-in fails to load or registers a name that is taken; the message names it.

    Examples
    --------
    >>> import coord_env
    >>> "siloed" in coord_env.registered_policies()
    True
    """
    _ensure_loaded()
    return MappingProxyType(_REGISTRY)


def builtin_policies() -> dict[str, PolicySpec]:
    """The project's own registered policies (``coord-bench run`` evaluates these), in order."""
    return {name: spec for name, spec in registered_policies().items() if spec.builtin}


def policy_spec(name: str) -> PolicySpec:
    """The registered policy ``name``.

    Raises
    ------
    KeyError
        If no policy of that name is registered; the message lists the registered names.
    """
    policies = registered_policies()
    if name not in policies:
        raise KeyError(
            f"unknown policy {name!r}; registered policies: {', '.join(policies)}; or give a "
            "factory as 'module:function', or a checkpoint folder"
        )
    return policies[name]


def checkpoint_policy(directory: str | Path) -> Callable[[Any], Any]:
    """The factory for a checkpoint folder, by the policy its manifest names.

    Raises
    ------
    CheckpointError
        If the folder is not a valid checkpoint, or no registered policy loads its kind.
    """
    manifest = read_manifest(directory)
    name = manifest.get("baseline")
    spec = registered_policies().get(name) if isinstance(name, str) else None
    if spec is None or spec.load_checkpoint is None:
        loaders = [s.name for s in _REGISTRY.values() if s.load_checkpoint is not None]
        raise CheckpointError(
            f"checkpoint {directory} holds a {name!r} policy, which no registered policy loads "
            f"(policies that load checkpoints: {', '.join(loaders) or 'none'}; is its plug-in "
            "installed?)"
        )
    return _load(spec.load_checkpoint, f"checkpoint loader of policy {spec.name!r}")(str(directory))


@contextmanager
def _registering_as(plugin: str, builtin: bool, distribution: str | None) -> Iterator[None]:
    previous = dict(_SOURCE)
    _SOURCE.update(plugin=plugin, builtin=builtin, distribution=distribution)
    try:
        yield
    finally:
        _SOURCE.update(previous)


def _plugins(group: str) -> list[EntryPoint]:
    """The group's entry points, once each (an editable install can list one twice)."""
    unique: dict[tuple[str, str], EntryPoint] = {}
    for point in entry_points(group=group):
        unique.setdefault((point.name, point.value), point)
    return list(unique.values())


def _distribution(point: EntryPoint) -> str | None:
    dist = getattr(point, "dist", None)
    return None if dist is None else dist.metadata["Name"]


def _register_own() -> None:
    """coord_env's own policies: the exact optimum where dynamic programming can solve it."""
    from coord_env.analysis.optimal import OptimalPolicy

    with _registering_as("coord_env", True, PROJECT_DISTRIBUTION):
        register_policy(
            "optimal",
            OptimalPolicy(),
            description="the exact optimum by dynamic programming (tiny-sized scenarios only)",
            privileged=True,  # it reads the true on-hand through env.snapshot() every step
        )


def _load_plugin(point: EntryPoint, builtin: bool) -> None:
    """Call one plug-in's registration hook; a failure names the plug-in."""
    with _registering_as(point.name, builtin, _distribution(point)):
        try:
            point.load()()
        except PolicyRegistrationError as error:
            raise PolicyRegistrationError(
                f"plug-in {point.name!r} ({POLICY_GROUP}: {point.value}): {error}"
            ) from error
        except Exception as error:
            raise PolicyRegistrationError(
                f"plug-in {point.name!r} ({POLICY_GROUP}: {point.value}) failed to "
                f"register its policies: {type(error).__name__}: {error}"
            ) from error


def _ensure_loaded() -> None:
    """Load every policy plug-in once; all or nothing, so a failure can be fixed and retried."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # plug-ins call register_policy, which calls back here
    before = dict(_REGISTRY)
    try:
        points = _plugins(POLICY_GROUP)
        ours = [point for point in points if _distribution(point) == PROJECT_DISTRIBUTION]
        theirs = [point for point in points if _distribution(point) != PROJECT_DISTRIBUTION]
        for point in ours:  # the project's own first: they keep their names
            _load_plugin(point, builtin=True)
        _register_own()
        for point in theirs:
            _load_plugin(point, builtin=False)
    except BaseException:
        _REGISTRY.clear()
        _REGISTRY.update(before)
        _LOADED = False
        raise


def command_plugins() -> list[Callable[..., None]]:
    """The ``coord-bench`` subcommand plug-ins (entry-point group ``coord_env.commands``).

    Each is a function ``add_commands(subparsers, scenario_names)`` that adds its subcommands,
    each with a ``handler``; the project's own ``baselines`` adds ``train`` and ``reproduce``.
    """
    return [point.load() for point in _plugins(COMMAND_GROUP)]
