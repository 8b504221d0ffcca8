"""The leaderboard (docs/leaderboard.md): submission schema, validation, filing, rendering, checks.

Submissions are data only: validation parses JSON and checks it against a schema and the
harness's own arithmetic; nothing in a submission is executed or unpickled.
"""

from coord_env.leaderboard.build import (
    build_leaderboard,
    collect,
    rerun_baselines,
    seed_baselines,
    stale_files,
)
from coord_env.leaderboard.submit import make_submission, slugify, write_submission
from coord_env.leaderboard.validate import (
    SubmissionError,
    load_submission,
    parse_submission,
    validate_submission,
)
from coord_env.leaderboard.verify import verify_submission

__all__ = [
    "SubmissionError",
    "build_leaderboard",
    "collect",
    "load_submission",
    "make_submission",
    "parse_submission",
    "rerun_baselines",
    "seed_baselines",
    "slugify",
    "stale_files",
    "validate_submission",
    "verify_submission",
    "write_submission",
]
