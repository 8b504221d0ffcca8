"""The leaderboard's ``coord-bench`` subcommands: submit, verify, and leaderboard build/check/seed/validate.

Each handler parses nothing itself: ``add_commands`` declares the arguments, the handlers call
the library and turn a ``SubmissionError`` into a one-line message and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coord_env.harness.isolation import IsolatedPolicyError
from coord_env.leaderboard.build import (
    build_leaderboard,
    collect,
    rerun_baselines,
    seed_baselines,
    stale_files,
)
from coord_env.leaderboard.submit import LEADERBOARD_DIR, make_submission, write_submission
from coord_env.leaderboard.validate import SubmissionError, load_submission, parse_submission
from coord_env.leaderboard.verify import verify_submission

__all__ = ["add_commands"]


def _fail(command: str, error: Exception) -> int:
    print(f"coord-bench {command}: {error}", file=sys.stderr)
    return 1


def _submit(args: argparse.Namespace) -> int:
    try:
        results = parse_submission(Path(args.results).read_bytes())
        submission = make_submission(
            results,
            method=args.name,
            authors=args.authors,
            url=args.url,
            training_budget=args.budget,
            hardware=args.hardware,
            command=args.command_line,
        )
        path = write_submission(submission, args.leaderboard)
    except (SubmissionError, OSError) as error:
        return _fail("submit", error)
    print(
        f"wrote {path} (self-reported). Next: coord-bench leaderboard build, then open a pull request."
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        result = verify_submission(
            args.submission, args.policy, workers=args.workers, progress=not args.quiet
        )
    except (
        SubmissionError,
        OSError,
        KeyError,
        ValueError,
        ImportError,
        AttributeError,
        IsolatedPolicyError,
    ) as error:
        return _fail("verify", error)
    if not result["verified"]:
        print(f"{args.submission}: NOT verified; {len(result['mismatches'])} mismatches:")
        for line in result["mismatches"][:10]:
            print(f"  {line}")
        return 1
    print(f"{args.submission}: verified (every seed reproduces); status set to verified")
    return 0


def _build(args: argparse.Namespace) -> int:
    try:
        paths = build_leaderboard(args.leaderboard)
    except SubmissionError as error:
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
    except SubmissionError as error:
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
