"""Leaderboard submissions: validation of good and hostile files, filing, rendering, checks, verify."""

import copy
import json
import pickle
import re
from pathlib import Path

import pytest

import coord_env
from coord_env.cli import main
from coord_env.harness.metrics import METRICS
from coord_env.leaderboard import (
    SubmissionError,
    build_leaderboard,
    collect,
    load_submission,
    make_submission,
    parse_submission,
    rerun_baselines,
    seed_baselines,
    stale_files,
    validate_submission,
    verify_submission,
    write_submission,
)
from coord_env.leaderboard.render import render_html, render_markdown, render_svg
from coord_env.leaderboard.validate import MAX_SUBMISSION_BYTES, submission_schema

SCENARIO = "tiny"


@pytest.fixture(scope="module")
def siloed_results():
    """The siloed heuristic on tiny, official seeds: a real results document."""
    return coord_env.evaluate("siloed", SCENARIO)


@pytest.fixture
def submission(siloed_results):
    return make_submission(
        copy.deepcopy(siloed_results),
        method="My Method",
        authors=["Ada Lovelace"],
        url="https://example.org/paper",
        training_budget=100_000,
        hardware="2 CPU cores",
        command="python train.py",
    )


def _error(document) -> SubmissionError:
    with pytest.raises(SubmissionError) as info:
        validate_submission(document)
    return info.value


# ----------------------------------------------------------------------------- the schema


def test_schema_lists_exactly_the_harness_metrics():
    schema = submission_schema()
    assert set(schema["properties"]["metrics"]["required"]) == set(METRICS)
    row = schema["$defs"]["seed_row"]["required"]
    assert set(METRICS) <= set(row)


def test_a_real_results_document_becomes_a_valid_self_reported_submission(submission):
    assert submission["status"] == "self-reported"
    assert submission["baseline"] is False
    assert validate_submission(submission) is submission


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("method"), "method"),
        (lambda d: d.pop("per_seed"), "per_seed"),
        (lambda d: d.update(exploit="rm -rf /"), "exploit"),
        (lambda d: d["per_seed"][3].update(profit="1000"), "per_seed[3].profit"),
        (lambda d: d["per_seed"][2].update(extra=1.0), "per_seed[2].extra"),
        (lambda d: d.update(status="trust me"), "status"),
        (lambda d: d.update(url="javascript:alert(1)"), "url"),
        (lambda d: d.update(method="<script>x</script>"), "method"),
        (lambda d: d.update(authors=[]), "authors"),
        (lambda d: d.update(training_budget=-5), "training_budget"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d["metrics"].pop("fill_rate"), "metrics.fill_rate"),
        (lambda d: d.update(status="verified"), "verification"),
        (
            lambda d: d.update(verification={"package_version": "0", "policy": "x", "seeds": 30}),
            "verification",
        ),
        (lambda d: d.update(url="https://x.org/|injected|cells"), "url"),
        (lambda d: d.update(url="https://x.org/)![t](https://evil.example/p.png"), "url"),
        (lambda d: d.update(training_budget=1e5), "training_budget"),
        (lambda d: d["seeds"].__setitem__(0, float(d["seeds"][0])), "seeds[0]"),
        (lambda d: d["per_seed"][0].update(fill_rate=7.5), "per_seed[0].fill_rate"),
        (
            lambda d: d["metrics"].update(exposure_stock_rank_correlation=-3.0),
            "metrics.exposure_stock_rank_correlation",
        ),
        (lambda d: d["per_seed"][1].update(holding_cost=-1.0), "per_seed[1].holding_cost"),
        (lambda d: d.update(baseline=True, policy="mypkg.policy:make"), "policy"),
    ],
)
def test_schema_errors_name_the_field(submission, mutate, field):
    mutate(submission)
    assert _error(submission).field == field


# ----------------------------------------------------------------------------- meaning


def test_unknown_scenario_and_version_are_refused(submission):
    submission["scenario"] = "coord/nowhere-v0"
    error = _error(submission)
    assert error.field == "scenario" and "coord/tiny-v0" in str(error)  # lists the known ids
    submission["scenario"] = "coord/tiny-v7"
    error = _error(submission)
    assert error.field == "scenario" and "unknown version" in str(error)


def test_wrong_scenario_hash_is_refused(submission):
    submission["scenario_hash"] = "0" * 64
    assert _error(submission).field == "scenario_hash"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(seeds=d["seeds"][:-1]),
        lambda d: d.update(seeds=d["seeds"][::-1]),
        lambda d: d.update(seeds=[*d["seeds"][:-1], d["seeds"][0]]),
        lambda d: d.update(seeds=[s + 1 for s in d["seeds"]]),
    ],
)
def test_anything_but_the_official_seed_list_is_refused(submission, mutate):
    mutate(submission)
    assert _error(submission).field == "seeds"


def test_per_seed_rows_must_follow_the_seed_list(submission):
    rows = submission["per_seed"]
    rows[4], rows[5] = rows[5], rows[4]
    assert _error(submission).field == "per_seed[4].seed"


def test_per_seed_totals_must_add_up(submission):
    submission["per_seed"][7]["holding_cost"] += 10.0
    error = _error(submission)
    assert error.field == "per_seed[7].profit" and "revenue + salvage" in str(error)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["profit"].update(mean=d["profit"]["mean"] + 1.0), "profit.mean"),
        (lambda d: d["profit"].update(iqm=d["profit"]["iqm"] * 1.01), "profit.iqm"),
        (lambda d: d["profit"].update(ci_high=d["profit"]["ci_high"] + 50), "profit.ci_high"),
        (lambda d: d["metrics"].update(fill_rate=1.0), "metrics.fill_rate"),
        (lambda d: d.update(normalized_score=99.0), "normalized_score"),
    ],
)
def test_aggregates_must_match_their_per_seed_values(submission, mutate, field):
    mutate(submission)
    assert _error(submission).field == field


def test_inflated_profits_without_matching_money_are_caught(submission):
    """Raising every profit (and so its aggregates) without the money parts breaks the totals.

    Self-reported figures are trusted otherwise: raising revenue by the same amount would pass,
    which is what ``coord-bench verify`` is for."""
    for row in submission["per_seed"]:
        row["profit"] += 100.0
    assert _error(submission).field == "per_seed[0].profit"


# ----------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": -Infinity}', "Infinity"),
        ('{"a": 1e999}', "infinity"),
        ('{"a": 1, "a": 2}', "duplicate"),
        ("[1, 2]", "JSON object"),
        ("{'a': 1}", "not valid JSON"),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ],
)
def test_strict_parsing_refuses_non_json(text, fragment):
    with pytest.raises(SubmissionError, match=re.escape(fragment)):
        parse_submission(text)


@pytest.mark.parametrize(
    "text",
    ['{"a": ' + "9" * 5000 + "}", '{"a": 1' + "0" * 30 + "}", '{"a": 1.' + "5" * 60 + "}"],
)
def test_overlong_numbers_are_refused_cleanly(text):
    with pytest.raises(SubmissionError, match=r"(digits|too long)"):
        parse_submission(text)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("Good\r# Injected heading", "control character"),
        ("Good\x01 one", "control character"),
        ("Good\n", "control character"),
        ("Good\ud800", "surrogate"),
        ("a" * 100_000 + "<", "characters"),
    ],
)
def test_strings_that_would_break_the_generated_files_are_refused(submission, value, fragment):
    submission["method"] = value
    error = _error(submission)
    assert error.field == "method" and fragment in str(error)
    text = json.dumps(submission)  # and through the parser, as a file would arrive
    with pytest.raises(SubmissionError, match=fragment):
        parse_submission(text)


def test_overflowing_money_cannot_make_the_checks_pass(submission):
    """Revenue and salvage of 1e308 would overflow revenue + salvage to inf."""
    for row in submission["per_seed"]:
        row["revenue"] = row["salvage"] = 1e308
    assert _error(submission).field == "per_seed[0].revenue"


def test_duplicate_key_error_names_the_key():
    with pytest.raises(SubmissionError) as info:
        parse_submission('{"method": "a", "method": "b"}')
    assert info.value.field == "method"


def test_oversized_files_are_refused_without_reading_them_whole(tmp_path, submission):
    path = tmp_path / "big.json"
    padding = " " * (MAX_SUBMISSION_BYTES + 10)
    path.write_text(json.dumps(submission)[:-1] + padding + "}")
    with pytest.raises(SubmissionError, match="over the limit"):
        load_submission(path)


class _Payload:
    """Unpickling this would create ``marker``: proof that something unpickled the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_files_are_never_executed_or_unpickled(tmp_path, monkeypatch):
    import builtins
    import importlib
    import os
    import subprocess

    def forbidden(*args, **kwargs):
        raise AssertionError("validation executed or unpickled submitted data")

    for module, name in [
        (pickle, "loads"),
        (pickle, "load"),
        (builtins, "eval"),
        (builtins, "exec"),
        (importlib, "import_module"),
        (os, "system"),
        (subprocess, "Popen"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    marker = tmp_path / "pwned"
    pickled = tmp_path / "pickled.json"
    pickled.write_bytes(pickle.dumps(_Payload(marker)))
    code = tmp_path / "code.json"
    code.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "policy": "__import__('os').system('touch " + str(marker) + "')",
                "method": "!!python/object/apply:os.system",
                "__reduce__": ["os.system", ["touch " + str(marker)]],
            }
        )
    )
    for path in (pickled, code):
        with pytest.raises(SubmissionError):
            load_submission(path)
    assert not marker.exists()


# ----------------------------------------------------------------------------- filing


def test_write_submission_files_by_scenario_and_slug_and_never_overwrites(tmp_path, submission):
    path = write_submission(submission, tmp_path)
    assert path == tmp_path / SCENARIO / "my-method.json"
    assert load_submission(path) == submission
    before = path.read_bytes()

    again = copy.deepcopy(submission)
    again["method"] = "my method"  # the same slug
    with pytest.raises(SubmissionError) as info:
        write_submission(again, tmp_path)
    assert info.value.field == "method"

    renamed = copy.deepcopy(submission)
    renamed["method"] = "Another Name"  # the same results under a new name, nudged by 1e-9
    renamed["per_seed"][0]["profit_volatility"] += 1e-9
    with pytest.raises(SubmissionError) as info:
        write_submission(renamed, tmp_path)
    assert info.value.field == "per_seed"
    assert path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / SCENARIO).iterdir()) == ["my-method.json"]


def test_collect_refuses_a_file_under_the_wrong_name(tmp_path, submission):
    path = write_submission(submission, tmp_path)
    path.rename(path.with_name("someone-else.json"))
    with pytest.raises(SubmissionError, match="belongs at"):
        collect(tmp_path)


# ----------------------------------------------------------------------------- rendering


def test_rendered_tables_rank_by_profit_and_escape_submitted_text(submission):
    worse = copy.deepcopy(submission)
    worse["method"] = "![x](https://evil.example/p.png) | *b*"
    worse["url"] = ""
    worse["authors"] = ["<script>alert(1)</script>"]
    for row in worse["per_seed"]:
        row["revenue"] -= 50.0
        row["profit"] -= 50.0
    profits = [row["profit"] for row in worse["per_seed"]]
    from coord_env.harness.stats import summarize

    summary = summarize(profits)
    worse["profit"] = {key: summary[key] for key in ("mean", "iqm", "ci_low", "ci_high")}
    reference = coord_env.harness.references.reference_for(coord_env.load_scenario(SCENARIO))
    worse["normalized_score"] = coord_env.harness.results.normalized_score(
        summary["mean"], reference["siloed_profit"], reference["upper_bound"]
    )
    validate_submission(worse)
    boards = {SCENARIO: [worse, submission]}
    markdown = render_markdown(boards)
    rows = [line for line in markdown.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert "[My Method](https://example.org/paper)" in rows[0]
    assert "\\!\\[x\\]\\(https://evil.example/p.png\\) \\| \\*b\\*" in rows[1]
    assert rows[0].count(" | ") == rows[1].count(" | ")  # no extra cells: the pipe is escaped
    page = render_html(boards, {SCENARIO: render_svg(SCENARIO, [worse, submission])})
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<tr data-method="') == 2


def test_build_check_and_stale_detection(tmp_path, submission):
    write_submission(submission, tmp_path)
    assert stale_files(tmp_path)  # nothing built yet
    written = build_leaderboard(tmp_path)
    assert {p.name for p in written} == {"README.md", "index.html", "profit_ci.svg"}
    assert stale_files(tmp_path) == []
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("My Method", "Edited by hand"))
    assert stale_files(tmp_path) == [readme]
    assert main(["leaderboard", "check", "--leaderboard", str(tmp_path), "--no-rerun"]) == 1
    assert main(["leaderboard", "build", "--leaderboard", str(tmp_path)]) == 0
    assert main(["leaderboard", "check", "--leaderboard", str(tmp_path), "--no-rerun"]) == 0


def test_check_fails_on_an_invalid_submission(tmp_path, submission, capsys):
    path = write_submission(submission, tmp_path)
    build_leaderboard(tmp_path)
    document = json.loads(path.read_text())
    document["per_seed"][0]["revenue"] += 1.0
    path.write_text(json.dumps(document))
    assert main(["leaderboard", "check", "--leaderboard", str(tmp_path), "--no-rerun"]) == 1
    assert "per_seed[0].profit" in capsys.readouterr().err


# ----------------------------------------------------------------------------- baseline rows


def test_baseline_rows_reproduce_and_a_tampered_row_is_caught(tmp_path):
    paths = seed_baselines([SCENARIO], tmp_path, policies=["siloed", "mean_demand"])
    assert [p.name for p in paths] == ["siloed.json", "mean-demand.json"]
    rows = {p.stem: load_submission(p) for p in paths}  # stems are slugs
    assert all(row["status"] == "verified" and row["baseline"] for row in rows.values())
    assert rerun_baselines(tmp_path) == []
    # Claim the siloed row's numbers came from mean_demand: valid data, but it does not reproduce.
    forged = rows["siloed"]
    forged["policy"] = "mean_demand"
    forged["verification"]["policy"] = "mean_demand"  # else validation refuses the mismatch
    (tmp_path / SCENARIO / "mean-demand.json").unlink()
    paths[0].write_text(json.dumps(forged))
    problems = rerun_baselines(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{SCENARIO}/siloed: per_seed[0]")


def test_seeding_replaces_an_outdated_baseline_row(tmp_path):
    (path,) = seed_baselines([SCENARIO], tmp_path, policies=["siloed"])
    outdated = json.loads(path.read_text())
    outdated["scenario_hash"] = "0" * 64  # as after a scenario version change
    path.write_text(json.dumps(outdated))
    with pytest.raises(SubmissionError, match=str(path)):
        collect(tmp_path)
    seed_baselines([SCENARIO], tmp_path, policies=["siloed"])
    assert load_submission(path)["scenario_hash"] != "0" * 64


def test_baseline_seeding_never_replaces_a_third_party_row(tmp_path, submission):
    submission["method"] = "siloed"
    write_submission(submission, tmp_path)
    with pytest.raises(SubmissionError, match="third-party"):
        seed_baselines([SCENARIO], tmp_path, policies=["siloed"])


# ----------------------------------------------------------------------------- verify and CLI


def test_verify_marks_a_matching_rerun_verified_and_leaves_a_mismatch_alone(tmp_path, submission):
    path = write_submission(submission, tmp_path)
    before = path.read_bytes()
    result = verify_submission(path, "mean_demand")
    assert not result["verified"] and result["mismatches"]
    assert path.read_bytes() == before
    result = verify_submission(path, "siloed")
    assert result["verified"]
    verified = load_submission(path)
    assert verified["status"] == "verified"
    assert verified["verification"]["policy"] == "siloed"


def test_submit_cli_end_to_end(tmp_path, siloed_results, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(siloed_results))
    board = tmp_path / "board"
    argv = ["submit", str(results), "--name", "CLI Method", "--authors", "A", "B"]
    argv += ["--budget", "5000", "--leaderboard", str(board)]
    assert main(argv) == 0
    written = load_submission(board / SCENARIO / "cli-method.json")
    assert written["authors"] == ["A", "B"] and written["training_budget"] == 5000
    assert main(argv) == 1  # the same name again
    assert "method" in capsys.readouterr().err
    assert main(["leaderboard", "validate", str(board / SCENARIO / "cli-method.json")]) == 0


def test_submit_cli_refuses_results_on_other_seeds(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(coord_env.evaluate("siloed", SCENARIO, seeds=[1, 2])))
    argv = ["submit", str(results), "--name", "x", "--authors", "A"]
    assert main([*argv, "--leaderboard", str(tmp_path / "board")]) == 1
    assert "seeds" in capsys.readouterr().err
    assert not (tmp_path / "board").exists()


def test_committed_leaderboard_is_valid_and_fresh():
    """CI also re-runs its baseline rows (``coord-bench leaderboard check`` in .ci/run)."""
    root = Path(__file__).resolve().parents[1] / "leaderboards"
    boards = collect(root)
    assert {"default", "multiscale"} <= set(boards)
    assert all(any(row["baseline"] for row in rows) for rows in boards.values())
    assert stale_files(root) == []
