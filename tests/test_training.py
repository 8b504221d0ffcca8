"""coord-bench train: manifests, resuming, held-out evaluation, and checkpoints in the harness."""

import csv
import json
from pathlib import Path

import pytest

import coord_env
from baselines import CheckpointPolicy
from baselines.rl.training import RL_BASELINES, train, trainer_class
from coord_env.checkpoint import CheckpointError, file_sha256
from coord_env.cli import main
from coord_env.harness.seeds import EVALUATION_SEEDS, VALIDATION_SEEDS
from coord_env.registry import builtin_policies

FAST = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1}  # a few updates, not learning
EVAL_SEEDS = (2_000_000, 2_000_001)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(
        "centralized",
        "tiny",
        256,
        5,
        out,
        eval_every=128,
        eval_seeds=EVAL_SEEDS,
        progress=False,
        command="test",
        config=FAST,
    )
    return out


def test_the_manifest_records_provenance_and_checksums(run):
    manifest = json.loads((run / "checkpoint" / "manifest.json").read_text())
    assert manifest["baseline"] == "centralized"
    assert manifest["scenario"] == "coord/tiny-v0"
    assert manifest["scenario_hash"] == coord_env.load_scenario("tiny").content_hash
    assert (manifest["seed"], manifest["steps"], manifest["budget"]) == (5, 256, 256)
    assert manifest["command"] == "test"
    assert manifest["wall_time_s"] > 0
    assert manifest["coord_env_version"] == coord_env.__version__
    assert manifest["eval_seeds"] == list(EVAL_SEEDS)
    for name, digest in manifest["files"].items():
        assert file_sha256(run / "checkpoint" / name) == digest


def test_progress_has_one_row_per_evaluation_on_held_out_seeds(run):
    rows = _rows(run / "progress.csv")
    assert [int(row["steps"]) for row in rows] == [128, 256]
    assert all(float(row["eval_profit_mean"]) != 0 for row in rows)
    policy = CheckpointPolicy(run / "checkpoint")
    expected = coord_env.evaluate(policy, "tiny", EVAL_SEEDS)["profit"]["mean"]
    assert float(rows[-1]["eval_profit_mean"]) == pytest.approx(expected, rel=1e-12)


def test_validation_seeds_are_held_out():
    assert not set(VALIDATION_SEEDS) & set(EVALUATION_SEEDS)
    assert min(VALIDATION_SEEDS) >= coord_env.harness.seeds.TRAINING_SEED_LIMIT


def test_resuming_continues_to_the_budget_and_appends_to_the_log(run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    train(
        "centralized",
        "tiny",
        384,
        5,
        copy,
        eval_every=128,
        eval_seeds=EVAL_SEEDS,
        resume=True,
        progress=False,
    )
    manifest = json.loads((copy / "checkpoint" / "manifest.json").read_text())
    assert (manifest["steps"], manifest["budget"]) == (384, 384)
    rows = _rows(copy / "progress.csv")
    assert [int(row["steps"]) for row in rows] == [128, 256, 384]


def test_a_run_folder_is_never_overwritten(run):
    with pytest.raises(ValueError, match=r"already holds a checkpoint.*resume"):
        train("centralized", "tiny", 256, 5, run, progress=False, config=FAST)


def test_resuming_another_baseline_or_scenario_is_refused(run):
    with pytest.raises(CheckpointError, match="baseline 'centralized', not 'ippo'"):
        train("ippo", "tiny", 512, 5, run, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="trained on coord/tiny-v0"):
        train("centralized", "small", 512, 5, run, resume=True, progress=False)


def test_resuming_with_other_hyperparameters_is_refused_and_a_sweep_restarts(run, tmp_path):
    """A checkpoint keeps its own hyperparameters when resumed, so asking for others is an error;
    a sweep (reproduce --retrain) whose folder holds a run of other hyperparameters trains afresh
    instead of resuming it."""
    import shutil

    from baselines.rl.training import TrainingRun, train_runs

    other = {**FAST, "n_epochs": FAST.get("n_epochs", 1) + 1}
    with pytest.raises(ValueError, match=r"other hyperparameters \(n_epochs: "):
        train("centralized", "tiny", 384, 5, run, resume=True, progress=False, config=other)
    copy = tmp_path / "sweep"
    shutil.copytree(run, copy)
    (checkpoint,) = train_runs(
        [TrainingRun("centralized", "tiny", 256, 5, str(copy), eval_every=128, config=other)],
        progress=False,
    )
    stored = json.loads((Path(checkpoint) / "trainer.json").read_text())["config"]
    assert stored["n_epochs"] == other["n_epochs"]
    assert [int(row["steps"]) for row in _rows(copy / "progress.csv")] == [128, 256]


def test_unknown_baselines_and_budgets_are_refused():
    with pytest.raises(KeyError, match="RL baselines: centralized, siloed_rl"):
        trainer_class("dqn")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        train("centralized", "tiny", 0, 5, "unused", progress=False)
    assert set(RL_BASELINES) <= set(builtin_policies())


def test_a_checkpoint_evaluates_through_the_cli(run, tmp_path, capsys):
    out = tmp_path / "results.json"
    argv = ["evaluate", "--policy", str(run / "checkpoint"), "--scenario", "tiny"]
    assert main([*argv, "--out", str(out), "--seeds", "1", "2", "--quiet"]) == 0
    document = json.loads(out.read_text())
    assert [row["seed"] for row in document["per_seed"]] == [1, 2]
    assert document["policy"].startswith("centralized")


def test_a_checkpoint_is_refused_on_another_scenario(run):
    with pytest.raises(CheckpointError, match="trained on coord/tiny-v0"):
        coord_env.evaluate(CheckpointPolicy(run / "checkpoint"), "small", [1])


def test_a_corrupt_checkpoint_is_refused(run, tmp_path):
    import shutil

    copy = tmp_path / "checkpoint"
    shutil.copytree(run / "checkpoint", copy)
    model = next(p for p in copy.iterdir() if p.suffix == ".zip")
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="corrupt"):
        CheckpointPolicy(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=r"has no manifest\.json"):
        CheckpointPolicy(copy)


def test_a_builtin_rl_name_without_a_committed_checkpoint_says_how_to_train_one():
    factory = builtin_policies()["centralized"]
    assert not factory.supports(coord_env.load_scenario("capacity"))
    with pytest.raises(ValueError, match=r"coord-bench train centralized --scenario capacity"):
        coord_env.evaluate("centralized", "capacity", [1])


def test_train_cli_reports_bad_config(capsys):
    assert (
        main(["train", "centralized", "--scenario", "tiny", "--steps", "8", "--config", "x"]) == 2
    )
    assert "key=value" in capsys.readouterr().err
