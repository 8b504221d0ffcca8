"""The leaderboard's ``coord-bench`` subcommands: submit, verify, and leaderboard build/check/seed/validate.

Each handler parses nothing itself: ``add_commands`` declares the arguments, the handlers call
the library and turn a ``SubmissionError`` into a one-line message and exit status 1. The errors
of :data:`coord_env.cli.ONE_LINE_ERRORS` (a bad checkpoint, an unwritable path, a dead worker)
go on to ``coord-bench``'s main, which prints them as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coord_env.cli import ONE_LINE_ERRORS
from coord_env.fileio import UnsafePathError, check_output_path
from coord_env.harness.isolation import IsolatedPolicyError
from coord_env.leaderboard.build import (
    build_leaderboard,
    check_records,
    collect,
    rerun_baselines,
    seed_baselines,
    stale_files,
)
from coord_env.leaderboard.submit import (
    LEADERBOARD_DIR,
    declared_training_budget,
    make_submission,
    write_submission,
)
from coord_env.leaderboard.validate import SubmissionError, load_submission, parse_submission
from coord_env.leaderboard.verify import verify_submission

__all__ = ["add_commands"]


def _fail(command: str, error: Exception) -> int:
    print(f"coord-bench {command}: {error}", file=sys.stderr)
    return 1


def _submit(args: argparse.Namespace) -> int:
    try:
        results = parse_submission(Path(args.results).read_bytes())
        budget = args.budget
        if budget is None:  # the policy's own training_budget(scenario) hook, if it has one
            budget = declared_training_budget(results)
            if budget is not None:
                print(f"training budget: {budget:,} env steps (the policy's training_budget hook)")
        submission = make_submission(
            results,
            method=args.name,
            authors=args.authors,
            url=args.url,
            training_budget=budget,
            hardware=args.hardware,
            command=args.command_line,
        )
        path = write_submission(submission, args.leaderboard)
    except ONE_LINE_ERRORS:
        raise
    except (SubmissionError, OSError, ImportError, AttributeError) as error:
        return _fail("submit", error)
    print(
        f"wrote {path} (self-reported). Next: coord-bench leaderboard build, then open a pull request."
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        check_output_path(args.submission)  # rewritten afterwards: fail now, not after the re-run
        result = verify_submission(
            args.submission, args.policy, workers=args.workers, progress=not args.quiet
        )
    except ONE_LINE_ERRORS:
        raise
    except (
        SubmissionError,
        OSError,
        KeyError,
        ValueError,
        ImportError,
        AttributeError,
        IsolatedPolicyError,
    ) as error:
        return _fail("verify", error)  # CheckpointError is a ValueError
    if not result["verified"]:
        print(f"{args.submission}: NOT verified; {len(result['mismatches'])} mismatches:")
        for line in result["mismatches"][:10]:
            print(f"  {line}")
        if result["demoted"]:
            print(
                f"{args.submission}: was verified; status set back to self-reported and its "
                "verification record removed"
            )
            _rebuild(args.leaderboard, args.submission)
        return 1
    print(f"{args.submission}: verified (every seed reproduces); status set to verified")
    _rebuild(args.leaderboard, args.submission)
    return 0


def _rebuild(root: str, submission: str) -> None:
    """After verify changed a row's status: regenerate the pages of the leaderboard folder
    ``root`` when the row is one of its files, else say which command does it."""
    command = "coord-bench leaderboard build --leaderboard FOLDER (the row's leaderboard folder)"
    if Path(submission).resolve().parent.parent == Path(root).resolve():
        command = f"coord-bench leaderboard build --leaderboard {root}"
        try:
            paths = build_leaderboard(root)
        except (SubmissionError, OSError, ValueError) as error:
            print(f"the generated pages were not rebuilt: {error}")
        else:
            print(f"rebuilt {len(paths)} generated files under {root}/")
            return
    print(f"the row's status changed: run {command}")


def _build(args: argparse.Namespace) -> int:
    try:
        paths = build_leaderboard(args.leaderboard)
    except (SubmissionError, UnsafePathError) as error:
        return _fail("leaderboard build", error)
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        boards = collect(args.leaderboard)
        stale = stale_files(args.leaderboard, boards)
    except SubmissionError as error:
        return _fail("leaderboard check", error)
    count = sum(len(rows) for rows in boards.values())
    print(f"{count} valid submissions on {len(boards)} scenarios")
    records = check_records(args.leaderboard, boards)
    if records:
        print("verification records that no longer hold:")
        for line in records:
            print(f"  {line}")
        return 1
    if stale:
        print(
            "stale generated files (run coord-bench leaderboard build): "
            + ", ".join(map(str, stale))
        )
        return 1
    if args.no_rerun:
        print("generated files are up to date; baseline rows not re-run (--no-rerun)")
        return 0
    try:
        problems = rerun_baselines(
            args.leaderboard, boards=boards, workers=args.workers, progress=not args.quiet
        )
    except SubmissionError as error:
        return _fail("leaderboard check", error)
    if problems:
        print("baseline rows that do not reproduce:")
        for line in problems:
            print(f"  {line}")
        return 1
    print("generated files are up to date; every baseline row reproduces exactly")
    return 0


def _seed(args: argparse.Namespace) -> int:
    try:
        paths = seed_baselines(
            args.scenarios,
            args.leaderboard,
            policies=args.policies,
            workers=args.workers,
            progress=not args.quiet,
        )
        build_leaderboard(args.leaderboard)
    except (SubmissionError, UnsafePathError) as error:
        return _fail("leaderboard seed", error)
    print(f"wrote {len(paths)} baseline rows and rebuilt {args.leaderboard}/")
    return 0


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            load_submission(path)
            print(f"{path}: valid")
        except SubmissionError as error:
            print(f"{path}: INVALID: {error}")
            status = 1
    return status


def add_commands(commands: argparse._SubParsersAction, scenario_names: list[str]) -> None:
    """Declare ``submit``, ``verify`` and ``leaderboard`` on the ``coord-bench`` parser."""

    def leaderboard_dir(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--leaderboard", default=str(LEADERBOARD_DIR), help="leaderboard folder"
        )

    submit = commands.add_parser(
        "submit", help="turn a results document into a self-reported leaderboard submission"
    )
    submit.add_argument("results", help="results JSON from coord-bench evaluate (official seeds)")
    submit.add_argument("--name", required=True, help="method name shown on the leaderboard")
    submit.add_argument("--authors", required=True, nargs="+", help="one or more author names")
    submit.add_argument("--url", default="", help="paper or code (http/https)")
    submit.add_argument(
        "--budget", type=int, default=None, help="training budget in env steps (omit: no training)"
    )
    submit.add_argument("--hardware", default="", help="e.g. '2 CPU cores, 30 min'")
    submit.add_argument(
        "--command", dest="command_line", default="", help="the command that produced the policy"
    )
    leaderboard_dir(submit)
    submit.set_defaults(handler=_submit)

    verify = commands.add_parser(
        "verify",
        help="re-run a submitted policy on the official seeds, isolated in a child process; "
        "mark it verified on a match",
    )
    verify.add_argument("submission", help="leaderboards/<scenario>/<slug>.json")
    verify.add_argument(
        "--policy", required=True, help="module:factory, built-in name or checkpoint"
    )
    verify.add_argument("--workers", type=int, default=0)
    verify.add_argument("--quiet", action="store_true")
    leaderboard_dir(verify)  # whose generated pages verify rebuilds
    verify.set_defaults(handler=_verify)

    board = commands.add_parser(
        "leaderboard", help="build, check, seed or validate the leaderboard"
    )
    actions = board.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="regenerate README.md, index.html and the CI plots")
    leaderboard_dir(build)
    build.set_defaults(handler=_build)
    check = actions.add_parser(
        "check",
        help="fail on an invalid submission, stale generated files or a baseline row that "
        "does not reproduce",
    )
    leaderboard_dir(check)
    check.add_argument("--no-rerun", action="store_true", help="skip re-running the baseline rows")
    check.add_argument("--workers", type=int, default=2)
    check.add_argument("--quiet", action="store_true")
    check.set_defaults(handler=_check)
    seed = actions.add_parser("seed", help="(re)write the built-in baseline rows, then build")
    seed.add_argument(
        "--scenarios", nargs="+", default=["default", "multiscale"], choices=scenario_names
    )
    seed.add_argument("--policies", nargs="+", default=None, metavar="NAME")
    leaderboard_dir(seed)
    seed.add_argument("--workers", type=int, default=2)
    seed.add_argument("--quiet", action="store_true")
    seed.set_defaults(handler=_seed)
    validate = actions.add_parser("validate", help="validate submission files (data only)")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(handler=_validate)
