"""Turning a results document into a leaderboard submission, and filing it without overwriting."""

from __future__ import annotations

import json
import numbers
import re
from pathlib import Path
from typing import Any

from coord_env.fileio import atomic_output, atomic_write_text
from coord_env.harness.results import RESULTS_FIELDS
from coord_env.leaderboard.validate import (
    MONEY_COSTS,
    SubmissionError,
    load_submission,
    normalize_name,
    scenario_of,
    skeleton,
    validate_submission,
    within_tolerance,
)

__all__ = [
    "LEADERBOARD_DIR",
    "SUBMITTER_FIELDS",
    "check_not_duplicate",
    "declared_training_budget",
    "load_all",
    "make_submission",
    "slugify",
    "submission_files",
    "submission_path",
    "submission_text",
    "write_submission",
    "write_text",
]

LEADERBOARD_DIR = Path("leaderboards")
SUBMITTER_FIELDS = (
    "method",
    "authors",
    "url",
    "training_budget",
    "hardware",
    "command",
    "status",
    "baseline",
    "verification",
)


def slugify(method: str) -> str:
    """The file name stem of a method: lower case letters, digits and single hyphens.

    Examples
    --------
    >>> slugify("MAPPO (TorchRL), 1M steps")
    'mappo-torchrl-1m-steps'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-")[:60].strip("-")
    if not slug:
        raise SubmissionError("method", f"{method!r} has no letters or digits to name a file by")
    return slug


def make_submission(
    results: dict[str, Any],
    *,
    method: str,
    authors: list[str],
    url: str = "",
    training_budget: int | None = None,
    hardware: str = "",
    command: str = "",
    baseline: bool = False,
) -> dict[str, Any]:
    """A self-reported submission: the results document plus the submitter's record, validated.

    Parameters
    ----------
    results : dict
        A results document from ``coord-bench evaluate`` on the official seeds.
    method, authors, url, training_budget, hardware, command
        The submitter's record (docs/leaderboard.md, "Submitting, step by step");
        ``training_budget`` in env steps, None for a method that does not train. ``method`` and
        ``authors`` are stored in NFKC form.
    baseline : bool
        Marks a built-in baseline row, which ``coord-bench leaderboard check`` re-runs.

    Raises
    ------
    SubmissionError
        The results document or the record is invalid (the field is named).
    """
    unknown = sorted(set(results) - set(RESULTS_FIELDS))
    if unknown:
        raise SubmissionError(unknown[0], "is not a field of a results document")
    submission = {key: results[key] for key in RESULTS_FIELDS if key in results}
    submission.update(
        method=normalize_name(method) if isinstance(method, str) else method,
        authors=[normalize_name(a) if isinstance(a, str) else a for a in authors],
        url=url,
        training_budget=training_budget,
        hardware=hardware,
        command=command,
        status="self-reported",
        baseline=bool(baseline),
    )
    return validate_submission(submission)


def submission_path(submission: dict[str, Any], root: str | Path = LEADERBOARD_DIR) -> Path:
    """``root/<scenario name>/<slug of method>.json``."""
    return Path(root) / scenario_of(submission).name / f"{slugify(submission['method'])}.json"


def submission_files(root: str | Path = LEADERBOARD_DIR) -> list[Path]:
    """Every submission file under ``root``, sorted (``root/<scenario>/*.json``)."""
    return sorted(Path(root).glob("*/*.json"))


def check_not_duplicate(
    submission: dict[str, Any], others: list[dict[str, Any]], where: str = "the leaderboard"
) -> None:
    """Refuse a submission whose method name, or whose per-seed results, another one already has.

    Names are the same when their slugs are, or when they look alike: the same confusable
    skeleton (:func:`coord_env.leaderboard.validate.skeleton`, e.g. a Cyrillic ``\u0441`` for ``c``).

    Raises
    ------
    SubmissionError
        Naming ``method`` (same or look-alike name on the same scenario) or ``per_seed``
        (identical results).
    """
    for other in others:
        if other["scenario"] != submission["scenario"]:
            continue
        if slugify(other["method"]) == slugify(submission["method"]):
            raise SubmissionError(
                "method",
                f"{submission['method']!r} is already on {where} for {submission['scenario']} "
                f"(as {other['method']!r}); choose another name",
            )
        if skeleton(other["method"]) == skeleton(submission["method"]):
            raise SubmissionError(
                "method",
                f"{submission['method']!r} looks like {other['method']!r}, already on {where} "
                f"for {submission['scenario']} (the same Unicode TR#39 confusable skeleton); "
                "choose a name that reads differently",
            )
        if _same_results(other, submission):
            raise SubmissionError(
                "per_seed",
                f"the per-seed profits and money are those of {other['method']!r} on {where} "
                "(within 1e-6); a duplicate is not a new submission",
            )


def check_has_baselines(submission: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """Refuse a third-party row for a scenario whose board has no baseline rows yet.

    Without the built-in baselines beside it a row has nothing to be ranked against (a policy
    losing money would rank first), so the board is seeded first.

    Raises
    ------
    SubmissionError
        Naming ``scenario`` and the command that seeds the board.
    """
    if submission["baseline"]:
        return
    if any(other["baseline"] and other["scenario"] == submission["scenario"] for other in others):
        return
    name = scenario_of(submission).name
    raise SubmissionError(
        "scenario",
        f"the {submission['scenario']} board has no baseline rows, so there is nothing to rank "
        f"this row against; a maintainer seeds it first with: coord-bench leaderboard seed "
        f"--scenarios {name}",
    )


def declared_training_budget(results: dict[str, Any]) -> int | None:
    """The ``training_budget(scenario)`` hook of the policy a results document names, if any.

    The policy is found as ``coord-bench evaluate`` found it: a registered name, or a
    ``module:factory`` path (imported, as evaluating it did). A checkpoint folder's label or a
    factory without the hook gives None.

    Raises
    ------
    SubmissionError
        An unknown scenario, or a hook that returns something other than a non-negative integer
        or None.
    ImportError, AttributeError
        A ``module:factory`` path that no longer imports.
    """
    from coord_env.harness.evaluate import resolve_policy
    from coord_env.registry import registered_policies

    name = results.get("policy")
    if not isinstance(name, str) or not (name in registered_policies() or ":" in name):
        return None
    hook = getattr(resolve_policy(name)[1], "training_budget", None)
    budget = None if hook is None else hook(scenario_of(results))
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 0:
        raise SubmissionError(
            "training_budget",
            f"the training_budget hook of {name!r} returned {budget!r}; it must return a "
            "non-negative integer (env steps) or None",
        )
    return int(budget)


def _same_results(a: dict[str, Any], b: dict[str, Any], tolerance: float = 1e-6) -> bool:
    """Whether two submissions' per-seed profits and money parts agree within ``tolerance``."""
    keys = ("profit", "revenue", "salvage", *MONEY_COSTS)
    if len(a["per_seed"]) != len(b["per_seed"]):
        return False
    return all(
        within_tolerance(x[key], y[key], tolerance)
        for x, y in zip(a["per_seed"], b["per_seed"], strict=True)
        for key in keys
    )


def submission_text(submission: dict[str, Any]) -> str:
    """A submission file's contents: indented JSON, no NaN, a final newline."""
    return json.dumps(submission, indent=1, allow_nan=False) + "\n"


def load_all(root: str | Path = LEADERBOARD_DIR) -> list[dict[str, Any]]:
    """Every submission under ``root``, validated; an invalid file's error names its path."""
    documents = []
    for path in submission_files(root):
        try:
            documents.append(load_submission(path))
        except SubmissionError as error:
            raise SubmissionError(error.field, f"{path}: {error}") from None
    return documents


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 with Unix newlines on every platform (the generated files are compared bytewise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def write_submission(submission: dict[str, Any], root: str | Path = LEADERBOARD_DIR) -> Path:
    """Validate ``submission`` and write it to ``root/<scenario>/<slug>.json``; never overwrites.

    Raises
    ------
    SubmissionError
        Invalid, a duplicate of a submission already under ``root``, or a third-party row for
        a board without baseline rows (:func:`check_has_baselines`).
    FileExistsError
        Never raised in practice: a file at the path means the same method name, a duplicate.
    """
    validate_submission(submission)
    others = load_all(root)
    check_has_baselines(submission, others)
    check_not_duplicate(submission, others)
    path = submission_path(submission, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    # overwrite=False: fail rather than overwrite, even in a race; a crash leaves no half file
    with atomic_output(path, "w", overwrite=False, encoding="utf-8", newline="\n") as handle:
        handle.write(submission_text(submission))
    return path
