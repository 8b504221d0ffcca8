"""``coord-bench tune``: an Optuna study on ``tiny`` resumes after a kill with no trial lost or run
twice, gives on a loopback Dask cluster the results of a serial study, prunes by the median rule,
and writes the settings file that ``retrain`` reads."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT

import coord_env
from baselines.reproduce import TUNED_SETTINGS, training_command, training_config, tuned_settings
from baselines.rl.names import RL_BASELINES
from baselines.tune import (
    RUNGS,
    SEARCH_SPACES,
    describe_spaces,
    describe_studies,
    trial_config,
    tune,
)
from coord_env.cli import main

pytestmark = pytest.mark.slow  # Optuna studies that train: pytest -m slow

# MTMA on tiny with a small rollout: 3 trials of 1,024 steps take a few seconds
FIX = {"rollout": "2x64", "minibatches": 1, "epochs": 2}
ARGS = {"fixed": FIX, "pruner_startup": 0}
TRIALS, STEPS = 3, 1024


def _cli(study_dir: Path) -> list[str]:
    return [
        "tune", "mtma", "--scenario", "tiny", "--trials", str(TRIALS), "--steps", str(STEPS),
        "--study-dir", str(study_dir), "--pruner-startup", "0", "--no-settings",
        "--fix", *(f"{key}={value}" for key, value in FIX.items()),
    ]  # fmt: skip


def _trials(summary: dict) -> list[tuple]:
    return [
        (row["number"], row["state"], row["params"], row["intermediate"])
        for row in summary["trials"]
    ]


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict:
    """The reference study: 3 trials in this process, the best written to a settings file."""
    folder = tmp_path_factory.mktemp("serial")
    summary = tune("mtma", "tiny", TRIALS, STEPS, folder, settings=folder / "tuned.json", **ARGS)
    return {"summary": summary, "folder": folder}


def test_the_study_runs_its_trials_and_reports_each_rung(serial):
    summary = serial["summary"]
    assert [row["number"] for row in summary["trials"]] == list(range(TRIALS))
    names = {param.name for param in SEARCH_SPACES["mtma"]} - set(FIX)
    for row in summary["trials"]:
        assert set(row["params"]) == names
        assert all(np.isfinite(row["intermediate"]))
    complete = [row for row in summary["trials"] if row["state"] == "complete"]
    assert complete and all(len(row["intermediate"]) == RUNGS for row in complete)
    assert summary["best"]["value"] == max(row["value"] for row in complete)


def test_the_pruner_stops_a_trial_below_the_median(serial):
    """With no startup trials, a trial whose validation profit at a rung is below the median of
    the earlier complete trials' profits at that rung stops there (seed 0 prunes one on tiny)."""
    rows = serial["summary"]["trials"]
    pruned = [row for row in rows if row["state"] == "pruned"]
    assert pruned, "no trial was pruned"
    for row in pruned:
        rung = len(row["intermediate"]) - 1
        assert rung < RUNGS - 1
        earlier = [
            other["intermediate"][rung]
            for other in rows
            if other["number"] < row["number"] and other["state"] == "complete"
        ]
        assert row["intermediate"][rung] < np.median(earlier)
        folder = serial["folder"] / "mtma_tiny" / f"trial_{row['number']:04d}"
        logged = (folder / "progress.csv").read_text().splitlines()
        assert len(logged) == 1 + len(row["intermediate"])  # it trained no further


def test_a_killed_study_resumes_without_losing_or_repeating_a_trial(serial, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "coord_env.cli", *_cli(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()  # trial 0 done
    assert line.startswith("trial 0:"), line
    import optuna

    from baselines.tune import _storage

    def trial_states() -> list[str]:
        study = optuna.load_study(
            study_name="mtma_tiny", storage=_storage(tmp_path / "mtma_tiny.journal")
        )
        return [t.state.name for t in study.trials]

    deadline = time.monotonic() + 60
    while trial_states()[-1] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)  # kill only once a later trial is under way, however fast trials run
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    states = trial_states()
    assert states[-1] == "RUNNING"  # killed mid-trial
    assert all(state in ("COMPLETE", "PRUNED") for state in states[:-1])
    assert main(_cli(tmp_path)) == 0

    study = optuna.load_study(
        study_name="mtma_tiny", storage=_storage(tmp_path / "mtma_tiny.journal")
    )
    assert [t.number for t in study.trials] == list(range(TRIALS))
    assert all(t.state.is_finished() for t in study.trials)
    from baselines.tune import study_summary

    assert _trials(study_summary(study)) == _trials(serial["summary"])


def test_a_record_torn_by_a_kill_is_dropped_and_the_study_reads(serial, tmp_path):
    """A session killed while appending to the journal leaves half a JSON line; the next session
    must still read the study (the torn record was never committed)."""
    import optuna

    from baselines.tune import _storage

    journal = tmp_path / "mtma_tiny.journal"
    whole = (serial["folder"] / "mtma_tiny.journal").read_bytes()
    journal.write_bytes(whole + b'{"op_code": 5, "worker_id": "torn", "trial_id": 0, "par')
    study = optuna.load_study(study_name="mtma_tiny", storage=_storage(journal))
    assert [t.state.name for t in study.trials] == [
        t.state.name
        for t in optuna.load_study(
            study_name="mtma_tiny", storage=_storage(serial["folder"] / "mtma_tiny.journal")
        ).trials
    ]
    assert journal.read_bytes() == whole


def test_trials_on_a_dask_cluster_equal_serial_trials(serial, dask_cluster, tmp_path):
    """Same parameters, same validation profits, bit for bit (a pruning decision may differ when
    trials run side by side, so profits are compared over the rungs both trained)."""
    summary = tune(
        "mtma", "tiny", TRIALS, STEPS, tmp_path, scheduler=dask_cluster, workers=2, **ARGS
    )
    reference = {row["number"]: row for row in serial["summary"]["trials"]}
    assert [row["number"] for row in summary["trials"]] == list(range(TRIALS))
    for row in summary["trials"]:
        expected = reference[row["number"]]
        assert row["params"] == expected["params"]
        common = min(len(row["intermediate"]), len(expected["intermediate"]))
        assert common >= 1
        assert row["intermediate"][:common] == expected["intermediate"][:common]


def test_the_settings_file_written_is_what_retrain_reads(serial, monkeypatch):
    path = serial["folder"] / "tuned.json"
    summary = serial["summary"]
    best = summary["best"]
    tiny = coord_env.load_scenario("tiny")
    config = training_config("mtma", tiny, settings=path)
    assert config == {**trial_config("mtma", {**best["params"], **FIX}), "lr_decay_steps": 50_000}
    assert config["recommender_lr"] == best["params"]["learning_rate"]
    stored = json.loads(path.read_text())["settings"]["mtma/tiny"]
    assert stored["study"]["trial_steps"] == STEPS
    assert len(stored["study"]["trials"]) == TRIALS
    assert stored["study"]["compute_seconds"] > 0
    # another baseline's settings are untouched; the package's file is unchanged by the study
    assert training_config("ippo", tiny, settings=path) == training_config("ippo", tiny)
    assert ("mtma", "tiny") not in tuned_settings(TUNED_SETTINGS)
    package = tuned_settings(TUNED_SETTINGS)["ippo", "multiscale"]
    assert training_command("ippo", coord_env.load_scenario("multiscale"), 0).endswith(
        " --config "
        + " ".join(f"{key}={value}" for key, value in package.items())
        + " lr_decay_steps=200000"
    )
    # retrain (training_config and training_command without a path) reads the package's file
    monkeypatch.setattr("baselines.reproduce.TUNED_SETTINGS", path)
    assert training_config("mtma", tiny) == config
    command = training_command("mtma", tiny, 0)
    assert f"recommender_lr={best['params']['learning_rate']}" in command


def test_the_timescales_map_onto_each_mtma_variant():
    point = {"learning_rate": 1e-3, "lr_ratio": 4.0, "update_every": 2}
    mtma = trial_config("mtma", point)
    assert (mtma["inventory_lr"], mtma["inventory_update_every"]) == (2.5e-4, 2)
    assert (mtma["recommender_lr"], mtma["critic_lr"], mtma["recommender_update_every"]) == (
        1e-3, 1e-3, 1,
    )  # fmt: skip
    reversed_ = trial_config("mtma_reversed", point)
    assert (reversed_["recommender_lr"], reversed_["recommender_update_every"]) == (2.5e-4, 2)
    assert (reversed_["inventory_lr"], reversed_["inventory_update_every"]) == (1e-3, 1)
    single = trial_config("mtma_single_timescale", {"learning_rate": 1e-3})
    assert single["inventory_lr"] == single["recommender_lr"] == single["critic_lr"] == 1e-3
    assert single["inventory_update_every"] == single["recommender_update_every"] == 1
    assert "lr_ratio" not in {p.name for p in SEARCH_SPACES["mtma_single_timescale"]}


def test_every_learned_baseline_has_a_space_and_its_points_build_a_trainer():
    from baselines.rl.training import trainer_class

    assert tuple(SEARCH_SPACES) == RL_BASELINES  # the order coord-bench prints them
    for name, space in SEARCH_SPACES.items():
        assert "| `learning_rate` |" in describe_spaces([name])
        point = {
            p.name: p.choices[0] if p.choices else (p.low if p.integer else (p.low + p.high) / 2)
            for p in space
        }
        config = trial_config(name, point)
        if name == "shared_ppo":
            continue  # its SuperSuit vector env is slow to build; its fields are PPOConfig's
        trainer = trainer_class(name)("tiny", 0, **config)
        for key, value in config.items():
            assert getattr(trainer.config, key) == value, (name, key)


def test_bad_arguments_name_the_field_and_write_nothing(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"hidden_size.*allowed: .*clip_range"):
        tune("mtma", "tiny", 3, STEPS, tmp_path, fixed={"hidden_size": 16})
    with pytest.raises(ValueError, match="trials must be a positive integer; got 0"):
        tune("mtma", "tiny", 0, STEPS, tmp_path)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 1000000\)"):
        tune("mtma", "tiny", 3, STEPS, tmp_path, seed=-1)
    with pytest.raises(ValueError, match="pruner_startup must be an integer >= 0; got -1"):
        tune("mtma", "tiny", 3, STEPS, tmp_path, pruner_startup=-1)
    with pytest.raises(KeyError, match="tunable baselines: centralized"):
        tune("siloed", "tiny", 3, STEPS, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert main(["tune", "mtma", "--trials", "3", "--steps", "10", "--fix", "epochs"]) == 2
    assert "--fix takes key=value; got 'epochs'" in capsys.readouterr().err


def test_the_study_table_shows_each_studys_counts_best_trial_and_compute(serial, capsys):
    """``coord-bench tune --summary`` prints, per study, what its record in the settings file
    holds: trials by state, the budget, the best trial and its profit, and the compute."""
    path = serial["folder"] / "tuned.json"
    summary = serial["summary"]
    states = [row["state"] for row in summary["trials"]]
    assert main(["tune", "--summary", "--settings", str(path)]) == 0
    printed = capsys.readouterr().out
    assert printed == describe_studies(path)
    (row,) = [line for line in printed.splitlines() if line.startswith("| mtma | tiny |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == f"{states.count('complete')} / {states.count('pruned')} / 0"
    assert cells[3] == f"{STEPS:,}"
    assert cells[4] == str(summary["best"]["number"])
    assert cells[5] == f"{summary['best']['value']:,.0f}"
    assert cells[6] == f"{summary['compute_seconds']:,.0f}"
    assert f"learning_rate={summary['best']['params']['learning_rate']:.3g}" in cells[7]
    with pytest.raises(SystemExit):
        main(["tune", "nonesuch", "--summary"])
    assert "invalid choice: 'nonesuch' (choose from" in capsys.readouterr().err


def test_a_study_folder_of_other_arguments_is_refused(serial):
    with pytest.raises(ValueError, match="use another --study-dir"):
        tune("mtma", "tiny", TRIALS, 2 * STEPS, serial["folder"], **ARGS)


def test_docs_print_every_search_space():
    """docs/training.md holds ``coord-bench tune --show-space`` of every baseline, as it is now."""
    docs = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert describe_spaces() in docs
    assert main(["tune", "mtma", "--show-space"]) == 0


def test_settings_the_trainer_refuses_fail_the_trial_and_the_study_goes_on(tmp_path):
    summary = tune("mtma", "tiny", 2, 256, tmp_path, fixed={**FIX, "clip_range": -1.0})
    assert [row["state"] for row in summary["trials"]] == ["fail", "fail"]
    assert "clip_range" in summary["trials"][0]["error"]
    assert summary["best"] is None
