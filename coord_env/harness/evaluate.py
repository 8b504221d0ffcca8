"""Evaluate a policy: full episodes on fixed seeds, per-seed figures, metrics and the results document.

The harness knows nothing of how a policy was built: it gets a factory ``env -> policy`` (or a name
that resolves to one) and talks to the policy only through ``reset(seed)`` and
``act(observations, infos)``.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from coord_env.checkpoint import MANIFEST
from coord_env.distributed import map_jobs
from coord_env.env import InvalidActionError, RetailParallelEnv
from coord_env.harness.isolation import (
    POLICY_ENV_OPTIONS,
    IsolatedPolicy,
    IsolationLimits,
    PrivilegedView,
    check_policy_env_options,
    is_privileged,
    public_env,
)
from coord_env.harness.metrics import compute_metrics
from coord_env.harness.references import reference_for
from coord_env.harness.results import build_results
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.harness.trajectory import Trajectory
from coord_env.policy import as_policy
from coord_env.registry import checkpoint_policy, policy_spec
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "MONEY",
    "evaluate",
    "isolated_identity",
    "policy_seed",
    "policy_supports",
    "resolve_policy",
    "run_episode",
    "scoring_env_options",
]

MONEY = ("revenue", "salvage", "purchase_cost", "holding_cost", "lost_sale_penalty")
# Training-only env options that would change what is scored or recorded, with the one value
# scoring accepts: clipping would score actions the env refuses; minimal infos lack the money.
REFUSED_WHEN_SCORING = {"clip_actions": False, "infos": "full"}
PolicyFactory = Callable[[RetailParallelEnv], Any]


def resolve_policy(spec: str | PolicyFactory) -> tuple[str, PolicyFactory]:
    """A (name, factory) pair from a registered name, ``"module:factory"``, a checkpoint folder
    (written by ``coord-bench train``), or a factory callable.

    A factory may define ``env_options_for(scenario)``: the environment options its policy acts
    under (e.g. a policy trained with continuous actions); :func:`run_episode` uses them unless
    given options explicitly. Registered names resolve to their :class:`~coord_env.registry.PolicySpec`.

    Raises
    ------
    KeyError
        An unknown name (the message lists the registered ones).
    ImportError, AttributeError
        A ``module:factory`` path that does not import.
    CheckpointError
        A checkpoint folder that is corrupt, or that no registered policy loads.
    """
    if isinstance(spec, type) or (callable(spec) and not hasattr(spec, "act")):
        return getattr(spec, "name", getattr(spec, "__name__", type(spec).__name__)), spec
    if not isinstance(spec, str):
        raise TypeError(
            f"policy must be a registered name, 'module:factory', or a factory env -> policy; got "
            f"a {type(spec).__name__} instance (to evaluate an existing object, pass lambda env: obj)"
        )
    if Path(spec, MANIFEST).is_file():  # a trained checkpoint folder
        factory = checkpoint_policy(spec)
        return getattr(factory, "name", spec), factory
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        return spec, factory
    return spec, policy_spec(spec)


def policy_supports(spec: str | PolicyFactory, scenario: Scenario) -> bool:
    """Whether the policy can act on ``scenario``: its factory's ``supports(scenario)`` if it has
    one (``lp`` refuses ``large``; an RL baseline needs a committed checkpoint), else True.

    Raises
    ------
    KeyError
        An unknown policy name.
    """
    supports = getattr(resolve_policy(spec)[1], "supports", None)
    return supports is None or bool(supports(scenario))


def policy_seed(seed: int) -> int:
    """The seed a policy gets for an episode: derived from, but independent of, the env's seed.

    Passing the env's own seed would give a policy's generator the same bit stream as the env's.

    Examples
    --------
    >>> policy_seed(7) == policy_seed(7) != 7
    True
    """
    return int(np.random.SeedSequence((int(seed), _POLICY_STREAM)).generate_state(1)[0])


_POLICY_STREAM = 1  # spawn key of the policy's stream


def scoring_env_options(env_options: dict | None) -> dict:
    """The env options a scored episode runs under: ``env_options`` without ``reward_scale``,
    with the training-only options refused.

    ``reward_scale`` is dropped: the harness reads the money from the infos, which it never
    scales, and a policy never sees rewards, so it cannot change a result (a policy trained with
    ``reward_scale="auto"`` may declare it in ``env_options_for``). ``clip_actions=True`` would
    accept actions the strict env refuses and ``infos="minimal"`` drops the money the harness
    records, so both are refused.

    Parameters
    ----------
    env_options : dict or None

    Returns
    -------
    dict
        A new dict.

    Raises
    ------
    ValueError
        ``clip_actions`` other than False or ``infos`` other than "full"; the message names the
        option.

    Examples
    --------
    >>> scoring_env_options({"continuous_actions": True, "reward_scale": "auto"})
    {'continuous_actions': True}
    """
    options = {k: v for k, v in (env_options or {}).items() if k != "reward_scale"}
    for name, allowed in REFUSED_WHEN_SCORING.items():
        if name in options and not (
            type(options[name]) is type(allowed) and options[name] == allowed
        ):
            raise ValueError(
                f"env option {name}={options[name]!r} is for training only: the evaluation "
                f"protocol scores the strict env ({name}={allowed!r}); drop it from env_options "
                f"(and from the factory's env_options_for)"
            )
    return options


def run_episode(
    factory: PolicyFactory | str,
    scenario: Scenario,
    seed: int,
    name: str = "policy",
    env_options: dict | None = None,
    *,
    limits: IsolationLimits | None = None,
    privileged: bool | None = None,
) -> Trajectory:
    """Play one full episode and record it period by period.

    The factory never receives the env being scored: it gets
    :func:`~coord_env.harness.isolation.public_env` (a throwaway env of the same scenario and
    options), or a :class:`~coord_env.harness.isolation.PrivilegedView` when it is privileged.
    ``env_options`` default to the factory's ``env_options_for(scenario)`` when it has one; a
    policy may choose only :data:`~coord_env.harness.isolation.POLICY_ENV_OPTIONS`. The scored env
    runs under :func:`scoring_env_options` (``reward_scale`` dropped, training-only options refused).

    Parameters
    ----------
    factory : callable or str
        ``env -> policy``; with ``limits``, also a name, ``"module:factory"`` or checkpoint
        folder, which only the child process resolves.
    scenario : Scenario
    seed : int
    name : str
        The policy's name in error messages.
    env_options : dict, optional
    limits : IsolationLimits, optional
        Run the policy in a child process under these limits (``evaluate(isolate=True)``).
    privileged : bool, optional
        Grant the privileged view (default: :func:`~coord_env.harness.isolation.is_privileged`
        of the factory).

    Raises
    ------
    InvalidActionError
        If the policy returns an invalid action; the message names the policy, agent and field.
    ValueError
        A training-only env option (``clip_actions=True``, ``infos="minimal"``).
    IsolatedPolicyError
        With ``limits``: the child was stopped (time, memory, crash, exit, garbage, invalid action).
    """
    scenario = load_scenario(scenario)
    privileged = is_privileged(factory) if privileged is None else privileged
    if limits is not None:
        with IsolatedPolicy(factory, scenario, name, env_options, privileged, limits) as child:
            return _isolated_episode(child, scenario, seed, name)
    if env_options is None and hasattr(factory, "env_options_for"):
        env_options = check_policy_env_options(
            scoring_env_options(factory.env_options_for(scenario))
        )
    env = _scored_env(scenario, env_options)
    seen = public_env(scenario, env_options)
    if privileged:
        seen = PrivilegedView(seen, env.snapshot, lambda: env.agents)
    policy = as_policy(factory(seen))
    policy.reset(policy_seed(seed))
    return _play(env, scenario, policy.act, seed, name)


def _scored_env(scenario: Scenario, env_options: dict | None) -> RetailParallelEnv:
    """The env the harness scores: ``scenario`` itself, under options that do not change it.

    Raises
    ------
    ValueError
        Options that override scenario parameters (the results would name the wrong scenario).
    """
    env = RetailParallelEnv(scenario, **scoring_env_options(env_options))
    if env.scenario is not scenario:
        extra = sorted(
            set(env_options or {}) - {*POLICY_ENV_OPTIONS, "render_mode", "reward_scale"}
        )
        raise ValueError(
            f"env_options may not override scenario parameters (got {', '.join(extra)}); "
            "evaluate a scenario built with them instead: load_scenario(name, **overrides)"
        )
    return env


def _isolated_episode(
    child: IsolatedPolicy, scenario: Scenario, seed: int, name: str
) -> Trajectory:
    """One episode of the child's policy on an env built and scored here."""
    env = _scored_env(scenario, child.begin(seed))

    def act(observations: dict, infos: dict) -> dict:
        return child.act(observations, infos, env.snapshot() if child.privileged else None)

    try:
        return _play(env, scenario, act, seed, name)
    except InvalidActionError as error:
        raise child.fail(f"invalid action: {error.__cause__ or error}") from None


def _play(
    env: RetailParallelEnv,
    scenario: Scenario,
    act: Callable[[dict, dict], dict],
    seed: int,
    name: str,
) -> Trajectory:
    """The episode loop: reset the scored env, step it with ``act``, record the trajectory."""
    s = scenario
    T, N, R = s.horizon, s.num_products, s.ticks_per_period
    per_product = {
        key: np.zeros((T, N), dtype=np.int64)
        for key in (
            "orders",
            "received",
            "on_hand_start",
            "on_hand_end",
            "demand",
            "sales",
            "substitute_sales",
            "lost",
            "impressions",
        )
    }
    per_period = {key: np.zeros(T, dtype=np.int64) for key in ("oos_impressions", "visits")}
    money = {key: np.zeros(T) for key in (*MONEY, "profit")}
    observations, infos = env.reset(seed=seed)
    while env.agents:
        try:
            actions = act(observations, infos)
            observations, _, _, _, infos = env.step(actions)
        except InvalidActionError as error:
            raise InvalidActionError(
                f"policy {name!r} returned an invalid action: {error}"
            ) from error
        out, info = env.last_outcome, infos["inventory_0"]
        period = int(info["period"])
        per_product["orders"][period] += out.ordered[0]
        per_product["received"][period] += out.received[0]
        per_product["demand"][period] += out.demand[0]
        per_product["sales"][period] += out.sales[0]
        per_product["substitute_sales"][period] += out.substitute_sales[0]
        per_product["lost"][period] += out.lost[0]
        per_product["impressions"][period] += out.impressions[0]
        per_period["oos_impressions"][period] += int(out.oos_impressions[0])
        per_period["visits"][period] += int(out.visits[0].sum())
        for key in money:
            money[key][period] += info[key]
        tick_in_period = int(info["tick"]) % R
        if tick_in_period == 0 or tick_in_period == R - 1:
            on_hand = env.snapshot()["on_hand"]
            if tick_in_period == 0:  # after the arrivals, before this tick's sales
                per_product["on_hand_start"][period] = on_hand + out.sales[0]
            if tick_in_period == R - 1:
                per_product["on_hand_end"][period] = on_hand
    profit = money.pop("profit")
    return Trajectory(
        **per_product, **per_period, profit=profit, lead_time=s.mean_lead_time.copy(), money=money
    )


def isolated_identity(spec: str | PolicyFactory) -> tuple[str, bool]:
    """``(name, privileged)`` of a policy to run isolated, found without importing or calling it.

    A registered name is looked up (its :class:`~coord_env.registry.PolicySpec` says whether it
    is privileged); a ``"module:factory"`` path is never imported here, so it is never
    privileged; a checkpoint folder is named by its registered loader; a factory object by its
    ``name`` and ``privileged`` attributes.

    Raises
    ------
    KeyError
        An unknown registered name.

    Examples
    --------
    >>> isolated_identity("my_package.policy:make_policy")
    ('my_package.policy:make_policy', False)
    """
    if isinstance(spec, str) and ":" in spec and not Path(spec, MANIFEST).is_file():
        return spec, False
    name, factory = resolve_policy(spec)
    return name, is_privileged(factory)


def _shippable(policy: str | PolicyFactory) -> str | PolicyFactory:
    """What a worker process gets to resolve the policy: the name, or for a policy registered in
    this process at run time (which a fresh worker does not know) its picklable spec."""
    if isinstance(policy, str) and ":" not in policy and not Path(policy, MANIFEST).is_file():
        spec = policy_spec(policy)
        if spec.plugin == "user":
            try:
                pickle.dumps(spec)
            except (pickle.PicklingError, AttributeError, TypeError):
                return policy  # a forked worker still finds it in the registry it inherited
            return spec
    return policy


def _seed_result(args: tuple) -> dict[str, Any]:
    spec, scenario, seed, env_options, name, limits, privileged = args
    if limits is None:
        _, factory = resolve_policy(spec)
        trajectory = run_episode(factory, scenario, seed, name, env_options)
    else:  # only the child process resolves (imports, builds) the policy
        trajectory = run_episode(
            spec, scenario, seed, name, env_options, limits=limits, privileged=privileged
        )
    return _row(seed, trajectory)


def _row(seed: int, trajectory: Trajectory) -> dict[str, Any]:
    """One seed's row of the results document."""
    row: dict[str, Any] = {"seed": int(seed), "profit": float(trajectory.profit.sum())}
    row.update({key: float(trajectory.money[key].sum()) for key in MONEY})
    row.update(compute_metrics(trajectory))
    return row


def evaluate(
    policy: str | PolicyFactory,
    scenario: str | Scenario = "default",
    seeds: Sequence[int] | None = None,
    *,
    workers: int = 0,
    env_options: dict | None = None,
    progress: bool = False,
    name: str | None = None,
    scheduler: str | None = None,
    isolate: bool = False,
    limits: IsolationLimits | None = None,
) -> dict[str, Any]:
    """Run full episodes on every seed and return the results document (docs/plug_in.md §3).

    Parameters
    ----------
    policy : str or callable
        A registered name (``"siloed"``, ...), ``"module:factory"``, or a factory ``env -> policy``
        where the policy is anything :func:`coord_env.policy.as_policy` accepts. To evaluate a
        plain function ``f(observations, infos)``, pass ``lambda env: f``.
    scenario : str or Scenario
    seeds : sequence of int, optional
        Defaults to the official ``EVALUATION_SEEDS``.
    workers : int
        Worker processes (0: run in this process). Results are identical either way; with workers
        the policy must be given by name or as a picklable factory.
    env_options : dict, optional
        Environment options (observation_mode, ...); the official protocol uses the defaults.
        ``reward_scale`` is ignored (it cannot change a result); ``clip_actions=True`` and
        ``infos="minimal"`` are refused (:func:`scoring_env_options`).
    progress : bool
        Show a progress bar over seeds.
    name : str, optional
        The policy's name in the document (default: the built-in name, path or factory name).
    scheduler : str, optional
        Run the episodes on Dask: ``"local"`` (a loopback cluster of ``workers`` processes) or a
        scheduler address such as ``"tcp://host:8786"`` (:func:`coord_env.distributed.map_jobs`;
        needs the ``dask`` extra). The results are bit-identical to a serial run.
    isolate : bool
        Run the policy in a child process per episode (:mod:`coord_env.harness.isolation`): it
        gets observations and infos over a pipe, the env and the scoring stay here, and a policy
        that hangs, exhausts memory, crashes, exits or answers garbage stops the run with one
        :class:`~coord_env.harness.isolation.IsolatedPolicyError` line. This process never
        imports a ``"module:factory"`` policy nor calls a factory. Results are bit-identical to
        an in-process run. ``coord-bench verify`` always isolates.
    limits : IsolationLimits, optional
        The child's memory and time limits (default :class:`IsolationLimits`: 4 GiB, 10 s per
        step, 600 s per episode); implies ``isolate``.

    Returns
    -------
    dict
        The results document: see :func:`coord_env.harness.results.build_results`.

    Examples
    --------
    >>> import coord_env
    >>> results = coord_env.evaluate("random", "tiny", seeds=[1, 2])
    >>> results["policy"], [row["seed"] for row in results["per_seed"]]
    ('random', [1, 2])
    """
    if limits is not None:
        isolate = True
    if isolate:
        limits = limits if limits is not None else IsolationLimits()
        resolved_name, privileged = isolated_identity(policy)
    else:
        resolved_name, privileged = resolve_policy(policy)[0], None
    name = name or resolved_name
    scoring_env_options(env_options)  # refuse training-only options before any episode runs
    s = load_scenario(scenario)
    seeds = list(EVALUATION_SEEDS if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds must list at least one seed (None: the official evaluation seeds)")
    jobs = [(_shippable(policy), s, seed, env_options, name, limits, privileged) for seed in seeds]
    bar = tqdm(total=len(jobs), desc=f"{name} on {s.env_id}", unit="seed", disable=not progress)
    if isolate and not workers and scheduler is None:  # one child process plays every seed
        child = IsolatedPolicy(_shippable(policy), s, name, env_options, privileged, limits)
        with bar, child:
            rows = []
            for seed in seeds:
                rows.append(_row(seed, _isolated_episode(child, s, seed, name)))
                bar.update(1)
        return _results(name, s, seeds, rows)
    with bar:
        rows = map_jobs(
            _seed_result,
            jobs,
            scheduler=scheduler,
            workers=workers,
            on_result=lambda row: bar.update(1),
            label=lambda job: f"policy {name!r} on {s.env_id} seed {job[2]}",
        )
    return _results(name, s, seeds, rows)


def _results(name: str, s: Scenario, seeds: list[int], rows: list[dict]) -> dict[str, Any]:
    official = sorted(seeds) == sorted(EVALUATION_SEEDS)  # the reference values are for these seeds
    return build_results(name, s, seeds, rows, reference_for(s) if official else None)
