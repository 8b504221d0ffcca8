"""Leaderboard submissions: validation of good and hostile files, filing, rendering, checks, verify."""

import copy
import json
import pickle
import re

import pytest
from helpers import ROOT

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


@pytest.fixture(scope="module")
def baseline_row():
    """A baseline row on tiny (mean_demand: results unlike the siloed ``submission``'s)."""
    from coord_env.leaderboard.build import baseline_submission

    return baseline_submission("mean_demand", SCENARIO)


@pytest.fixture
def board(tmp_path, baseline_row):
    """A leaderboard folder whose tiny board is seeded (third-party rows need baselines)."""
    path = tmp_path / SCENARIO / "mean-demand.json"
    path.parent.mkdir()
    path.write_text(json.dumps(baseline_row))
    return tmp_path


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


def test_write_submission_files_by_scenario_and_slug_and_never_overwrites(board, submission):
    path = write_submission(submission, board)
    assert path == board / SCENARIO / "my-method.json"
    assert load_submission(path) == submission
    before = path.read_bytes()

    again = copy.deepcopy(submission)
    again["method"] = "my method"  # the same slug
    with pytest.raises(SubmissionError) as info:
        write_submission(again, board)
    assert info.value.field == "method"

    renamed = copy.deepcopy(submission)
    renamed["method"] = "Another Name"  # the same results under a new name, nudged by 1e-9
    renamed["per_seed"][0]["profit_volatility"] += 1e-9
    with pytest.raises(SubmissionError) as info:
        write_submission(renamed, board)
    assert info.value.field == "per_seed"
    assert path.read_bytes() == before
    assert sorted(p.name for p in (board / SCENARIO).iterdir()) == [
        "mean-demand.json",
        "my-method.json",
    ]


def test_collect_refuses_a_file_under_the_wrong_name(board, submission):
    path = write_submission(submission, board)
    path.rename(path.with_name("someone-else.json"))
    with pytest.raises(SubmissionError, match="belongs at"):
        collect(board)


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


def test_build_check_and_stale_detection(board, submission):
    write_submission(submission, board)
    assert stale_files(board)  # nothing built yet
    written = build_leaderboard(board)
    assert {p.name for p in written} == {"README.md", "index.html", "profit_ci.svg"}
    assert stale_files(board) == []
    readme = board / "README.md"
    readme.write_text(readme.read_text().replace("My Method", "Edited by hand"))
    assert stale_files(board) == [readme]
    assert main(["leaderboard", "check", "--leaderboard", str(board), "--no-rerun"]) == 1
    assert main(["leaderboard", "build", "--leaderboard", str(board)]) == 0
    assert main(["leaderboard", "check", "--leaderboard", str(board), "--no-rerun"]) == 0


def test_check_fails_on_an_invalid_submission(board, submission, capsys):
    path = write_submission(submission, board)
    build_leaderboard(board)
    document = json.loads(path.read_text())
    document["per_seed"][0]["revenue"] += 1.0
    path.write_text(json.dumps(document))
    assert main(["leaderboard", "check", "--leaderboard", str(board), "--no-rerun"]) == 1
    assert "per_seed[0].profit" in capsys.readouterr().err


# ----------------------------------------------------------------------------- baseline rows


@pytest.mark.slow
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


@pytest.mark.slow
def test_seeding_replaces_an_outdated_baseline_row(tmp_path):
    (path,) = seed_baselines([SCENARIO], tmp_path, policies=["siloed"])
    outdated = json.loads(path.read_text())
    outdated["scenario_hash"] = "0" * 64  # as after a scenario version change
    path.write_text(json.dumps(outdated))
    with pytest.raises(SubmissionError, match=str(path)):
        collect(tmp_path)
    seed_baselines([SCENARIO], tmp_path, policies=["siloed"])
    assert load_submission(path)["scenario_hash"] != "0" * 64


def test_baseline_seeding_never_replaces_a_third_party_row(board, submission):
    submission["method"] = "siloed"
    write_submission(submission, board)
    with pytest.raises(SubmissionError, match="third-party"):
        seed_baselines([SCENARIO], board, policies=["siloed"])


# ----------------------------------------------------------------------------- verify and CLI


@pytest.mark.slow
def test_verify_marks_a_matching_rerun_verified_and_leaves_a_mismatch_alone(board, submission):
    path = write_submission(submission, board)
    before = path.read_bytes()
    result = verify_submission(path, "mean_demand")
    assert not result["verified"] and result["mismatches"]
    assert path.read_bytes() == before
    result = verify_submission(path, "siloed")
    assert result["verified"]
    verified = load_submission(path)
    assert verified["status"] == "verified"
    assert verified["verification"]["policy"] == "siloed"


def test_submit_cli_end_to_end(board, siloed_results, capsys):
    results = board / "results.json"
    results.write_text(json.dumps(siloed_results))
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
    root = ROOT / "leaderboards"
    boards = collect(root)
    assert {"default", "multiscale"} <= set(boards)
    assert all(any(row["baseline"] for row in rows) for rows in boards.values())
    assert stale_files(root) == []


# ----------------------------------------------------------------------------- plausibility


def _reaggregate(document):
    """Recompute a document's aggregates from its per-seed rows, as an honest harness would."""
    from coord_env.harness.results import normalized_score
    from coord_env.harness.stats import summarize

    summary = summarize([row["profit"] for row in document["per_seed"]])
    document["profit"] = {key: summary[key] for key in ("mean", "iqm", "ci_low", "ci_high")}
    reference = coord_env.harness.references.reference_for(
        coord_env.load_scenario(document["scenario"].removeprefix("coord/").rpartition("-v")[0])
    )
    document["normalized_score"] = normalized_score(
        summary["mean"], reference["siloed_profit"], reference["upper_bound"]
    )
    return document


def _shift_profits(document, amounts):
    """Add ``amounts[s]`` to seed s's revenue and profit, keeping the money consistent."""
    shifted = copy.deepcopy(document)
    for row, amount in zip(shifted["per_seed"], amounts, strict=True):
        row["revenue"] += amount
        row["profit"] += amount
    return _reaggregate(shifted)


COMMITTED = ROOT / "leaderboards"


def test_every_committed_row_is_plausible_including_the_exact_optimum():
    from coord_env.leaderboard.validate import check_plausible, scenario_of

    rows = [row for board in collect(COMMITTED).values() for row in board]
    assert len(rows) >= 37
    for row in rows:
        check_plausible(row, scenario_of(row))  # raises if not
    optimal = next(row for row in collect(COMMITTED)["tiny"] if row["policy"] == "optimal")
    assert 80 < optimal["normalized_score"] < 100


def test_the_env_rewriting_cheat_is_refused(siloed_results):
    """Issue 19: a factory that set env.scenario's prices to 20x and ordered normally. Its
    results document is that of the siloed policy in a tiny whose prices are 20x, filed under
    tiny's id and hash (so the test holds once policies can no longer touch the scored env)."""
    tiny = coord_env.load_scenario(SCENARIO)
    rewritten = tiny.replace(price=(20 * tiny.price).tolist())
    cheat = coord_env.evaluate("siloed", rewritten)
    cheat["scenario_hash"] = tiny.content_hash
    _reaggregate(cheat)
    assert cheat["normalized_score"] > 10_000
    with pytest.raises(SubmissionError, match="above the exact optimum of coord/tiny-v0") as info:
        make_submission(cheat, method="cheat", authors=["A"])
    assert info.value.field == "profit.mean"


def test_a_profit_above_the_optimum_beyond_noise_is_refused_within_noise_accepted():
    optimal = next(row for row in collect(COMMITTED)["tiny"] if row["policy"] == "optimal")
    optimal = {key: value for key, value in optimal.items() if key != "verification"}
    optimal.update(baseline=False, status="self-reported", method="near optimal")
    lucky = _shift_profits(optimal, [20.0] * 30)  # mean 3 above the optimum: noise
    assert lucky["normalized_score"] > 100
    validate_submission(lucky)
    impossible = _shift_profits(optimal, [150.0] * 30)  # 133 above, 10 standard errors
    assert _error(impossible).field == "profit.mean"


def test_one_impossible_seed_is_refused_even_when_the_mean_is_noisy(submission):
    """A single huge seed inflates the standard error; the per-seed bound still catches it."""
    outlier = _shift_profits(submission, [0.0] * 29 + [80_000.0])
    assert _error(outlier).field == "per_seed[29].profit"


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("method", "sil\u200boed", "U+200B"),  # zero-width space
        ("method", "siloed\u202e", "U+202E"),  # right-to-left override
        ("method", "\u2066siloed\u2069", "U+2066"),  # left-to-right isolate
        ("authors[1]", "Ada\u200dLovelace", "U+200D"),  # zero-width joiner
    ],
)
def test_invisible_and_bidi_characters_in_names_are_refused(submission, field, value, code):
    document = copy.deepcopy(submission)
    if field == "method":
        document["method"] = value
    else:
        document["authors"] = ["Ada", value]
    error = _error(document)
    assert error.field == field and code in str(error)


def test_names_are_stored_nfkc_normalized(siloed_results):
    made = make_submission(
        copy.deepcopy(siloed_results), method="\uff2d\uff59 \ufb01t", authors=["\u2168 Team"]
    )
    assert made["method"] == "My fit" and made["authors"] == ["IX Team"]
    raw = copy.deepcopy(made)
    raw["method"] = "\uff2d\uff59 \ufb01t"
    error = _error(raw)
    assert error.field == "method" and "NFKC" in str(error)


@pytest.mark.parametrize(
    "name, lookalike", [("\u0441oordinated", "coordinated"), ("S\u0456loed", "siloed")]
)
def test_a_name_that_looks_like_a_row_on_the_board_is_refused(submission, name, lookalike):
    from coord_env.leaderboard.submit import check_not_duplicate

    document = copy.deepcopy(submission)
    document["method"] = name
    validate_submission(document)  # a valid name in itself
    with pytest.raises(SubmissionError, match=f"looks like '{lookalike}'") as info:
        check_not_duplicate(document, collect(COMMITTED)["tiny"])
    assert info.value.field == "method"


# ----------------------------------------------------------------------------- hygiene


def test_submit_to_a_board_without_baselines_is_refused(tmp_path, submission, capsys):
    with pytest.raises(SubmissionError, match="coord-bench leaderboard seed --scenarios tiny"):
        write_submission(submission, tmp_path)
    assert not (tmp_path / SCENARIO).exists()
    results = tmp_path / "results.json"
    results.write_text(json.dumps({k: v for k, v in submission.items() if k in RESULTS_KEYS}))
    argv = ["submit", str(results), "--name", "x", "--authors", "A"]
    assert main([*argv, "--leaderboard", str(tmp_path / "board")]) == 1
    assert "coord-bench leaderboard seed --scenarios tiny" in capsys.readouterr().err


RESULTS_KEYS = set(coord_env.harness.results.RESULTS_FIELDS)


class _Budgeted:
    """A factory with the training_budget hook (the siloed heuristic, said to be trained)."""

    @staticmethod
    def training_budget(scenario):
        return 12_345 if scenario.name == SCENARIO else None

    def __call__(self, env):
        from baselines.heuristics.siloed import SiloedPolicy

        return SiloedPolicy(env)


@pytest.fixture
def budgeted_policy(clean_registry):
    coord_env.register_policy("budgeted", _Budgeted(), description="siloed, with a budget hook")
    return "budgeted"


def test_submit_records_the_training_budget_hook_without_budget(board, budgeted_policy, capsys):
    results = board / "results.json"
    results.write_text(json.dumps(coord_env.evaluate(budgeted_policy, SCENARIO)))
    argv = ["submit", str(results), "--name", "Budgeted", "--authors", "A"]
    assert main([*argv, "--leaderboard", str(board)]) == 0
    assert load_submission(board / SCENARIO / "budgeted.json")["training_budget"] == 12_345
    argv = ["submit", str(results), "--name", "Told", "--authors", "A", "--budget", "7"]
    (board / SCENARIO / "budgeted.json").unlink()
    assert main([*argv, "--leaderboard", str(board)]) == 0  # --budget wins over the hook
    assert load_submission(board / SCENARIO / "told.json")["training_budget"] == 7


@pytest.mark.slow
def test_a_verified_row_that_fails_reverification_is_demoted(board, submission, capsys):
    path = write_submission(submission, board)
    build_leaderboard(board)
    verify = ["verify", str(path), "--quiet", "--leaderboard", str(board), "--policy"]
    assert main([*verify, "siloed"]) == 0
    assert load_submission(path)["status"] == "verified"
    assert stale_files(board) == []  # verify rebuilt the pages
    assert main([*verify, "mean_demand"]) == 1
    demoted = load_submission(path)
    assert demoted["status"] == "self-reported" and "verification" not in demoted
    assert "set back to self-reported" in capsys.readouterr().out
    assert stale_files(board) == []
