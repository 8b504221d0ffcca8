"""``coord-bench verify``: re-run a submitted policy on the official seeds and compare.

A match marks the row verified with a record that pins what ran (:func:`verification_record`):
the policy's name as the harness gives it (it must equal the row's own ``policy``), the
distribution and version of the plug-in that provides it, and the sha256 of every file of the
checkpoint it loads. ``coord-bench leaderboard check`` re-hashes those files where they are
available locally (:func:`record_problems`), so weights swapped after the fact are caught.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from typing import Any

from coord_env.checkpoint import MANIFEST, CheckpointError, read_manifest
from coord_env.harness.evaluate import evaluate, isolated_identity, resolve_policy
from coord_env.harness.isolation import IsolationLimits
from coord_env.leaderboard.submit import submission_text, write_text
from coord_env.leaderboard.validate import (
    SubmissionError,
    check_not_privileged,
    load_submission,
    scenario_of,
    within_tolerance,
)
from coord_env.registry import PolicySpec, builtin_policies, registered_policies
from coord_env.scenarios import Scenario

__all__ = [
    "VerificationResult",
    "demote",
    "policy_distribution",
    "policy_weights",
    "record_problems",
    "verification_record",
    "verify_submission",
    "weight_hashes",
]

# A re-run on another machine may differ in the last bits of a float sum (BLAS, torch kernels);
# anything beyond this relative difference is a different result.
VERIFY_TOLERANCE = 1e-9


class VerificationResult(dict):
    """``verified`` (bool), ``mismatches`` (list of str) and the re-run ``results`` document."""


def weight_hashes(directory: str | Path) -> dict[str, str]:
    """The sha256 of every file of a checkpoint folder, by file name, checked against its manifest.

    Parameters
    ----------
    directory : str or Path
        A checkpoint folder (``manifest.json`` and the files it lists).

    Returns
    -------
    dict
        ``{file name: sha256}`` of every file the manifest lists (all re-hashed and equal).

    Raises
    ------
    CheckpointError
        The manifest is invalid, a file differs from it, or the folder holds a file the manifest
        does not list (a loader could read it, and the record could not pin it).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from coord_env.checkpoint import write_manifest
    >>> from coord_env.scenarios import load_scenario
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "model.pt").write_bytes(b"weights")
    >>> _ = write_manifest(folder, load_scenario("tiny"), baseline="demo")
    >>> {name: digest[:12] for name, digest in weight_hashes(folder).items()}
    {'model.pt': '9a129038d9a0'}
    """
    directory = Path(directory)
    manifest = read_manifest(directory)  # re-hashes every listed file; refuses symlinks
    listed = set(manifest["files"])
    unlisted = sorted(
        path.name
        for path in directory.iterdir()
        if path.name != MANIFEST and path.name not in listed and not path.is_dir()
    )
    if unlisted:
        raise CheckpointError(
            f"checkpoint {directory} holds files its manifest does not list "
            f"({', '.join(unlisted[:5])}); a verification record could not pin them"
        )
    return dict(sorted(manifest["files"].items()))


def policy_weights(policy: Any, scenario: Scenario) -> dict[str, str]:
    """:func:`weight_hashes` of the checkpoint ``policy`` loads on ``scenario``; {} for none.

    The checkpoint is the folder itself for a checkpoint folder, and otherwise what the factory's
    ``checkpoint_for(scenario)`` hook returns (the built-in RL baselines: their committed
    checkpoint; a plug-in may define it too). A ``"module:factory"`` path pins none: it is
    imported only in the isolated child, never here (register the plug-in by name to pin its
    checkpoint).

    Examples
    --------
    >>> from coord_env.scenarios import load_scenario
    >>> sorted(policy_weights("centralized", load_scenario("tiny")))
    ['joint.zip', 'trainer.json']
    >>> policy_weights("siloed", load_scenario("tiny"))
    {}
    """
    if isinstance(policy, str) and Path(policy, MANIFEST).is_file():
        return weight_hashes(policy)
    if isinstance(policy, str) and ":" in policy:
        return {}
    _, factory = resolve_policy(policy)
    hook = getattr(factory, "checkpoint_for", None)
    folder = None if hook is None else hook(scenario)
    return {} if folder is None else weight_hashes(folder)


def _module_distribution(module: str | None) -> str | None:
    """The installed distribution that provides ``module``'s top-level package, if one does."""
    if not module:
        return None
    names = sorted(set(packages_distributions().get(module.partition(".")[0], [])))
    return names[0] if names else None


def policy_distribution(policy: Any) -> dict[str, str] | None:
    """``{"name", "version"}`` of the installed distribution that provides ``policy``, or None.

    A registered name or a checkpoint folder: the distribution whose plug-in registered the
    policy (or its checkpoint loader); ``module:factory`` or a callable: the distribution that
    installed the module; None when it is not installed as a distribution (a local file).

    Examples
    --------
    >>> policy_distribution("siloed")["name"]
    'coord-env'
    """
    if isinstance(policy, PolicySpec):
        name = policy.distribution
    elif isinstance(policy, str) and Path(policy, MANIFEST).is_file():
        spec = registered_policies().get(read_manifest(policy).get("baseline"))
        name = None if spec is None else spec.distribution
    elif isinstance(policy, str) and ":" in policy:
        name = _module_distribution(policy.partition(":")[0])
    elif isinstance(policy, str):
        spec = registered_policies().get(policy)
        name = None if spec is None else spec.distribution
    else:
        name = _module_distribution(getattr(policy, "__module__", None))
    if name is None:
        return None
    try:
        return {"name": name, "version": version(name)}
    except PackageNotFoundError:
        return None


def verification_record(
    policy: Any, scenario: Scenario, seeds: int, weights: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``verification`` record of a row re-run with ``policy``: what ran, pinned.

    Parameters
    ----------
    policy : str or callable
        As given to :func:`verify_submission`.
    scenario : Scenario
    seeds : int
        How many seeds were re-run.
    weights : dict, optional
        :func:`policy_weights`, when the caller has already hashed them.

    Returns
    -------
    dict
        ``package_version``; ``policy``: the name the harness gives the policy (a registered
        name, ``module:factory``, or ``<baseline> (<folder name>)`` for a checkpoint folder),
        which is the ``policy`` of the results it produces; ``seeds``; ``distribution``
        (:func:`policy_distribution`); ``weights`` (:func:`policy_weights`).
    """
    from coord_env import __version__

    return {
        "package_version": __version__,
        "policy": isolated_identity(policy)[0][:200],
        "seeds": int(seeds),
        "distribution": policy_distribution(policy),
        "weights": policy_weights(policy, scenario) if weights is None else dict(weights),
    }


def record_problems(submission: dict[str, Any]) -> list[str]:
    """What no longer holds of a verified row's record here; empty when everything checks.

    The weights are re-hashed where they are available locally: the row's ``policy`` names a
    policy registered here whose factory exposes ``checkpoint_for`` (the built-in RL baselines'
    committed checkpoints). Nothing named by the submission is imported: only installed,
    registered policies are consulted. (That the record's ``policy`` equals the row's is checked
    by validation.)
    """
    record = submission.get("verification")
    if submission.get("status") != "verified" or not isinstance(record, dict):
        return []
    spec = registered_policies().get(submission["policy"])
    if spec is None:
        return []
    where = f"{scenario_of(submission).name}/{submission['method']}"
    folder = spec.checkpoint_for(scenario_of(submission))
    recorded = record.get("weights", {})
    if folder is None:
        return (
            [f"{where}: the record pins weights, but {spec.name!r} loads no checkpoint here"]
            if recorded
            else []
        )
    try:
        current = weight_hashes(folder)
    except CheckpointError as error:
        return [f"{where}: {error}"]
    if current != recorded:
        changed = sorted(
            set(current) ^ set(recorded)
            | {name for name in set(current) & set(recorded) if current[name] != recorded[name]}
        )
        return [
            f"{where}: the files of {folder} differ from the verification record "
            f"({', '.join(changed)}); re-verify the row"
        ]
    return []


def demote(path: Path, submission: dict[str, Any]) -> bool:
    """Set a verified row whose re-run failed back to ``self-reported``, without its
    ``verification`` record, and rewrite ``path``; return whether it was verified.

    :func:`verify_submission` calls it on a mismatch (``write=True``) and reports the outcome as
    ``result["demoted"]``. A baseline row is left alone: ``coord-bench leaderboard check``
    re-runs it and fails, and ``coord-bench leaderboard seed`` rewrites it.
    """
    if submission["status"] != "verified" or submission["baseline"]:
        return False
    submission["status"] = "self-reported"
    submission.pop("verification", None)
    write_text(path, submission_text(submission))
    return True


def verify_submission(
    path: str | Path,
    policy: Any,
    *,
    workers: int = 0,
    progress: bool = False,
    write: bool = True,
    limits: IsolationLimits | None = None,
) -> VerificationResult:
    """Re-run ``policy`` on the submission's scenario and official seeds; mark it verified on a match.

    The re-run is always isolated (``evaluate(isolate=True)``): the policy acts in a child
    process under ``limits`` and never touches the env that scores it. A privileged policy that
    is not one of coord_env's built-ins is refused before anything runs.

    Parameters
    ----------
    path : str or Path
        A submission file (validated first).
    policy : str or callable
        ``module:factory``, a built-in name, a checkpoint folder, or a factory.
    write : bool
        On a match, rewrite the file with ``status: verified`` and a ``verification`` record.
    limits : IsolationLimits, optional
        The child's memory and time limits (default: :class:`IsolationLimits`).

    Returns
    -------
    VerificationResult
        Match means the re-run policy's name is the row's ``policy``, every seed's profit and
        money parts agree within ``VERIFY_TOLERANCE`` (relative), and so do the per-seed metrics.

    Raises
    ------
    SubmissionError
        An invalid submission, or a privileged third-party policy.
    IsolatedPolicyError
        The policy was stopped (time, memory, crash, exit, garbage or invalid actions).
    CheckpointError
        The policy's checkpoint is invalid or holds files its manifest does not list.
    """
    path = Path(path)
    submission = load_submission(path)
    scenario = scenario_of(submission)
    name, privileged = isolated_identity(policy)
    if isinstance(policy, str):
        check_not_privileged(policy)
    if privileged and not (isinstance(policy, str) and policy in builtin_policies()):
        raise SubmissionError(
            "policy",
            f"{name!r} is privileged (it reads the env's hidden state) and not a coord_env "
            "built-in; the leaderboard does not accept it",
        )
    weights = policy_weights(policy, scenario)  # before the run: what is about to be loaded
    fresh = evaluate(
        policy,
        scenario,
        submission["seeds"],
        workers=workers,
        progress=progress,
        isolate=True,
        limits=limits,
    )
    mismatches = []
    if fresh["policy"] != submission["policy"]:
        mismatches.append(
            f"policy: the row names {submission['policy']!r} but the re-run policy is "
            f"{fresh['policy']!r} (give the policy as the submitter did: the same registered name, "
            "module:factory, or checkpoint folder name)"
        )
    if policy_weights(policy, scenario) != weights:
        mismatches.append("weights: the checkpoint's files changed during the re-run")
    for old, new in zip(submission["per_seed"], fresh["per_seed"], strict=True):
        for key in old:
            if key != "seed" and not within_tolerance(old[key], new[key], VERIFY_TOLERANCE):
                mismatches.append(
                    f"seed {old['seed']}: {key} submitted {old[key]!r}, re-run {new[key]!r}"
                )
    result = VerificationResult(verified=not mismatches, mismatches=mismatches, results=fresh)
    result["demoted"] = bool(mismatches) and write and demote(path, submission)  # see demote
    if not mismatches and write:
        submission["status"] = "verified"
        submission["verification"] = verification_record(
            policy, scenario, len(submission["seeds"]), weights
        )
        write_text(path, submission_text(submission))
    return result
