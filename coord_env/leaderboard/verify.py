"""``coord-bench verify``: re-run a submitted policy on the official seeds and compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coord_env.harness.evaluate import evaluate, isolated_identity
from coord_env.harness.isolation import IsolationLimits
from coord_env.leaderboard.submit import submission_text, write_text
from coord_env.leaderboard.validate import (
    SubmissionError,
    check_not_privileged,
    load_submission,
    scenario_of,
    within_tolerance,
)
from coord_env.registry import builtin_policies

__all__ = ["VerificationResult", "verify_submission"]

# A re-run on another machine may differ in the last bits of a float sum (BLAS, torch kernels);
# anything beyond this relative difference is a different result.
VERIFY_TOLERANCE = 1e-9


class VerificationResult(dict):
    """``verified`` (bool), ``mismatches`` (list of str) and the re-run ``results`` document."""


def _policy_label(policy: Any) -> str:
    """What the verification record says was run: the name or ``module:factory``, or for a
    checkpoint folder only its name (a local path says nothing to others)."""
    if not isinstance(policy, str):
        return getattr(policy, "__name__", type(policy).__name__)[:200]
    if Path(policy).is_dir():
        return f"checkpoint {Path(policy).resolve().name}"[:200]
    return policy[:200]


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
        Match means every seed's profit and money parts agree within ``VERIFY_TOLERANCE``
        (relative), and so do the per-seed metrics.

    Raises
    ------
    SubmissionError
        An invalid submission, or a privileged third-party policy.
    IsolatedPolicyError
        The policy was stopped (time, memory, crash, exit, garbage or invalid actions).
    """
    from coord_env import __version__

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
    for old, new in zip(submission["per_seed"], fresh["per_seed"], strict=True):
        for key in old:
            if key != "seed" and not within_tolerance(old[key], new[key], VERIFY_TOLERANCE):
                mismatches.append(
                    f"seed {old['seed']}: {key} submitted {old[key]!r}, re-run {new[key]!r}"
                )
    result = VerificationResult(verified=not mismatches, mismatches=mismatches, results=fresh)
    if not mismatches and write:
        submission["status"] = "verified"
        submission["verification"] = {
            "package_version": __version__,
            "policy": _policy_label(policy),
            "seeds": len(submission["seeds"]),
        }
        write_text(path, submission_text(submission))
    return result
