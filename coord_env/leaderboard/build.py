"""Building, seeding and checking the committed leaderboard (``leaderboards/``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coord_env.fileio import check_output_path
from coord_env.harness.evaluate import evaluate, policy_supports
from coord_env.leaderboard.render import render_html, render_markdown, render_svg
from coord_env.leaderboard.submit import (
    LEADERBOARD_DIR,
    check_not_duplicate,
    make_submission,
    submission_files,
    submission_path,
    submission_text,
    write_text,
)
from coord_env.leaderboard.validate import SubmissionError, load_submission, scenario_of
from coord_env.leaderboard.verify import record_problems, verification_record
from coord_env.registry import PolicySpec, builtin_policies
from coord_env.scenarios import list_scenarios, load_scenario

__all__ = [
    "BASELINE_AUTHORS",
    "BASELINE_URL",
    "baseline_submission",
    "build_leaderboard",
    "check_records",
    "collect",
    "rendered_files",
    "rerun_baselines",
    "seed_baselines",
    "stale_files",
]

BASELINE_AUTHORS = ["coord_env maintainers"]
BASELINE_URL = (
    ""  # the project has no public address yet; rows link nowhere rather than somewhere wrong
)


Boards = dict[str, list[dict[str, Any]]]  # scenario name -> its submissions


def collect(root: str | Path = LEADERBOARD_DIR) -> Boards:
    """Load and validate every submission under ``root``, grouped by scenario name (catalog order).

    Raises
    ------
    SubmissionError
        The first invalid submission (its path prefixes the message), a file outside its
        scenario's folder or under another name than its method's, or a duplicate.
    """
    boards: Boards = {}
    for path in submission_files(root):
        try:
            submission = load_submission(path)
            expected = submission_path(submission, root)
            if path.resolve() != expected.resolve():
                raise SubmissionError(
                    "method", f"belongs at {expected} (scenario folder / method slug), not {path}"
                )
            check_not_duplicate(submission, boards.get(scenario_of(submission).name, []))
        except SubmissionError as error:
            raise SubmissionError(error.field, f"{path}: {error}") from None
        boards.setdefault(scenario_of(submission).name, []).append(submission)
    order = list_scenarios()
    return {name: boards[name] for name in sorted(boards, key=order.index)}


def rendered_files(
    root: str | Path = LEADERBOARD_DIR, boards: Boards | None = None
) -> dict[Path, str]:
    """The generated files and their contents: README.md, index.html, one SVG per scenario.

    ``boards`` is :func:`collect`'s result, when the caller already has it.
    """
    root = Path(root)
    boards = collect(root) if boards is None else boards
    plots = {name: render_svg(name, subs) for name, subs in boards.items()}
    files = {
        root / "README.md": render_markdown(boards),
        root / "index.html": render_html(boards, plots),
    }
    files.update({root / name / "profit_ci.svg": svg for name, svg in plots.items()})
    return files


def build_leaderboard(root: str | Path = LEADERBOARD_DIR) -> list[Path]:
    """Regenerate README.md, index.html and the plots under ``root``; return the paths written."""
    files = rendered_files(root)
    for path in files:  # refuse a symlinked page or plot before writing any file
        if path.parent.is_dir():
            check_output_path(path)
    for path, text in files.items():
        write_text(path, text)
    return list(files)


def stale_files(root: str | Path = LEADERBOARD_DIR, boards: Boards | None = None) -> list[Path]:
    """Generated files that are missing or differ from what the submissions give (empty: fresh)."""
    return [
        path
        for path, text in rendered_files(root, boards).items()
        if not path.is_file() or path.read_bytes() != text.encode("utf-8")
    ]


def baseline_submission(
    name: str, scenario: str, *, workers: int = 0, progress: bool = False
) -> dict[str, Any]:
    """Evaluate the built-in policy ``name`` on the official seeds and wrap it as a verified row."""
    spec = _builtin(name)
    results = evaluate(name, scenario, workers=workers, progress=progress)
    submission = make_submission(
        results,
        method=name,
        authors=BASELINE_AUTHORS,
        url=BASELINE_URL,
        training_budget=spec.training_budget(load_scenario(scenario)),
        hardware="any (deterministic; re-run by coord-bench leaderboard check)",
        command=f"coord-bench evaluate --policy {name} --scenario {scenario} --out results.json",
        baseline=True,
    )
    submission["status"] = "verified"
    submission["verification"] = verification_record(
        name, load_scenario(scenario), len(results["seeds"])
    )
    return submission


def _builtin(name: str) -> PolicySpec:
    builtin = builtin_policies()
    if name not in builtin:
        raise SubmissionError(
            "policy", f"{name!r} is not a built-in baseline; built-in: {', '.join(builtin)}"
        )
    return builtin[name]


def seed_baselines(
    scenarios: Sequence[str],
    root: str | Path = LEADERBOARD_DIR,
    *,
    policies: Sequence[str] | None = None,
    workers: int = 0,
    progress: bool = False,
) -> list[Path]:
    """Write (or rewrite) the baseline rows: every built-in policy that supports each scenario."""
    written = []
    for scenario in scenarios:
        for name in policies or list(builtin_policies()):
            if not policy_supports(name, load_scenario(scenario)):
                continue
            submission = baseline_submission(name, scenario, workers=workers, progress=progress)
            path = submission_path(submission, root)
            if path.is_file() and not _is_baseline_file(path):
                raise SubmissionError(
                    "method", f"{path} is a third-party submission; baseline rows never replace one"
                )
            write_text(path, submission_text(submission))
            written.append(path)
    return written


def _is_baseline_file(path: Path) -> bool:
    """Whether ``path`` holds a baseline row, even one no longer valid (an older scenario
    version, say), so that seeding can replace it; a third-party row is never replaced."""
    try:
        return load_submission(path)["baseline"] is True
    except SubmissionError:
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("baseline") is True
        except (ValueError, OSError, AttributeError):
            return False


def check_records(root: str | Path = LEADERBOARD_DIR, boards: Boards | None = None) -> list[str]:
    """Every verified row's record re-checked here (:func:`~coord_env.leaderboard.verify.record_problems`):
    the weight files it pins, where they are available locally, must be unchanged."""
    boards = collect(root) if boards is None else boards
    return [line for rows in boards.values() for row in rows for line in record_problems(row)]


def rerun_baselines(
    root: str | Path = LEADERBOARD_DIR,
    *,
    boards: Boards | None = None,
    workers: int = 0,
    progress: bool = False,
) -> list[str]:
    """Re-run every baseline row and compare it with the committed one; return the mismatches.

    A row reproduces when its per-seed values (profit, money, every metric) are exactly equal.
    Validation has already required a baseline row to name a built-in policy.
    """
    problems = []
    for name, submissions in (collect(root) if boards is None else boards).items():
        for committed in submissions:
            if not committed["baseline"]:
                continue
            fresh = evaluate(committed["policy"], name, workers=workers, progress=progress)
            for index, (old, new) in enumerate(
                zip(committed["per_seed"], fresh["per_seed"], strict=True)
            ):
                if old != new:
                    key = next(k for k in old if old[k] != new.get(k))
                    problems.append(
                        f"{name}/{committed['method']}: per_seed[{index}].{key} is "
                        f"{old[key]!r} committed but {new[key]!r} re-run"
                    )
                    break
    return problems
