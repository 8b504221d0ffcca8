"""coord-bench train: manifests, resuming, held-out evaluation, and checkpoints in the harness."""

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

import coord_env
from baselines import CheckpointPolicy
from baselines.rl.names import RL_BASELINES
from baselines.rl.training import train, trainer_class
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


def test_resuming_and_checking_a_finished_run_hash_each_checkpoint_file_once(run, monkeypatch):
    """Choosing the checkpoint to resume and a sweep's ``finished`` check read and verify the
    manifest once each, then load from that manifest: no file is hashed twice."""
    import coord_env.checkpoint as contract
    from baselines.rl.training import TrainingRun, _resumed_trainer, finished

    hashed, real = [], contract.file_sha256
    monkeypatch.setattr(
        contract, "file_sha256", lambda path: hashed.append(path.name) or real(path)
    )
    files = sorted(json.loads((run / "checkpoint" / "manifest.json").read_text())["files"])
    trainer, _ = _resumed_trainer("centralized", coord_env.load_scenario("tiny"), 5, run, FAST)
    assert trainer.steps_done == 256 and sorted(hashed) == files
    hashed.clear()
    assert finished(TrainingRun("centralized", "tiny", 256, 5, str(run), config=FAST))
    assert sorted(hashed) == files


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


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, a symlink's target, a folder's mark."""
    tree: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            tree[name] = f"-> {path.readlink()}"
        elif path.is_dir():
            tree[name] = "<dir>"
        else:
            tree[name] = path.read_bytes()
    return tree


def test_train_refuses_a_foreign_folder_and_changes_nothing_in_it(tmp_path, capsys):
    """A folder with someone's progress.csv and checkpoint/notes.txt is not a run of this
    baseline: it is refused before any work, byte for byte unchanged (it was merged and deleted)."""
    folder = tmp_path / "mine"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "progress.csv").write_text("steps,eval_profit_mean\n999,1.0\n")
    (folder / "checkpoint" / "notes.txt").write_text("my notes\n")
    before = _tree(folder)
    argv = ["train", "centralized", "--scenario", "tiny", "--steps", "128", "--quiet"]
    config = [f"{key}={value}" for key, value in FAST.items()]
    assert main([*argv, "--out", str(folder), "--config", *config]) == 2
    assert "is not a run of centralized on coord/tiny-v0" in capsys.readouterr().err
    assert _tree(folder) == before
    with pytest.raises(ValueError, match=r"Nothing in .* was changed"):
        train("centralized", "tiny", 128, 5, folder, progress=False, config=FAST)
    assert _tree(folder) == before


def test_a_sweep_refuses_a_foreign_run_folder_and_changes_nothing_in_it(tmp_path, capsys):
    """A sweep's run folder was replaced whole when its run finished, foreign files and all."""
    parent = tmp_path / "runs"
    folder = parent / "centralized_tiny_seed5"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / "notes.txt").write_text("my notes\n")
    before = _tree(parent)
    argv = ["train", "centralized", "shared_ppo", "--scenario", "tiny", "--steps", "128"]
    assert main([*argv, "--seed", "5", "--out", str(parent), "--quiet"]) == 2
    assert "is not a run of centralized on coord/tiny-v0 with seed 5" in capsys.readouterr().err
    assert _tree(parent) == before


def test_train_refuses_a_run_of_other_settings_but_restarts_its_own(tmp_path):
    """run.json says whose folder it is: another seed or config is refused naming the difference;
    the same run, killed before its first checkpoint, starts afresh."""
    folder = tmp_path / "run"
    folder.mkdir()
    record = {"baseline": "centralized", "scenario": "coord/tiny-v0", "seed": 4, "config": {}}
    (folder / "run.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"other settings \(.*seed: 4 vs 5"):
        train("centralized", "tiny", 128, 5, folder, progress=False, config=FAST)
    assert json.loads((folder / "run.json").read_text()) == record
    shutil.rmtree(folder)
    train("centralized", "tiny", 128, 5, folder, eval_every=128, progress=False, config=FAST)
    shutil.rmtree(folder / "checkpoint")  # as if killed before its first checkpoint
    (folder / "checkpoint.new").mkdir()
    train("centralized", "tiny", 128, 5, folder, eval_every=128, progress=False, config=FAST)
    assert [int(row["steps"]) for row in _rows(folder / "progress.csv")] == [128]
    assert sorted(p.name for p in folder.iterdir() if p.name != "tensorboard") == [
        "checkpoint",
        "progress.csv",
        "run.json",
    ]


def test_resuming_with_another_seed_is_refused_and_changes_nothing(run, tmp_path, capsys):
    """--resume --seed 7 on a seed-5 run trained seed 5 and recorded seed 7."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    before = _tree(copy)
    argv = ["train", "centralized", "--scenario", "tiny", "--steps", "384", "--seed", "7"]
    assert main([*argv, "--out", str(copy), "--resume", "--quiet"]) == 2
    assert "is a run of seed 5, not seed 7" in capsys.readouterr().err
    assert _tree(copy) == before


def test_a_budget_rounded_up_to_whole_rollouts_is_printed_and_recorded(tmp_path, capsys):
    """FAST's rollouts are 2 x 64 = 128 steps: asking 200 trains 256, and says so."""
    out = tmp_path / "run"
    argv = ["train", "centralized", "--scenario", "tiny", "--steps", "200", "--eval-every", "200"]
    argv += ["--out", str(out), "--quiet", "--config", *(f"{k}={v}" for k, v in FAST.items())]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trained 256 steps, not the 200 asked" in printed
    manifest = json.loads((out / "checkpoint" / "manifest.json").read_text())
    assert (manifest["budget"], manifest["steps"]) == (200, 256)


# ----------------------------------------------------------------- kills during the checkpoint swap
MTMA_FAST = {"n_envs": 2, "n_steps": 30, "epochs": 2, "minibatch_size": 20, "hidden_size": 16}
MTMA_STEPS, MTMA_EVERY = 120, 60  # two checkpoints: the second replaces the first


def _train_mtma(out: Path, resume: bool = False) -> Path:
    return train(
        "mtma",
        "tiny",
        MTMA_STEPS,
        0,
        out,
        eval_every=MTMA_EVERY,
        eval_seeds=EVAL_SEEDS,
        resume=resume,
        progress=False,
        command="test",
        config=MTMA_FAST,
    )


def _train_killed_at(out: Path, point: int) -> int:
    """Train in a forked child that dies (``os._exit``, no cleanup) at the ``point``-th file
    operation (os.replace, shutil.rmtree) of a checkpoint swap; a killed rmtree first deletes
    one file, as a half-finished delete would. Returns the number of operations the child saw
    (when ``point`` is beyond them, it trained to the end)."""
    import baselines.rl.training as training

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 3
        try:
            os.close(reader)
            count, swapping = [0], [False]
            real_replace, real_rmtree, real_save = os.replace, shutil.rmtree, training.save_trainer

            def operation(target: str) -> None:
                if swapping[0]:
                    count[0] += 1
                    if count[0] == point:
                        if Path(target).is_dir():  # a delete cut short
                            next(p for p in sorted(Path(target).iterdir())).unlink()
                        os._exit(99)

            def replace(source, target, *args, **kwargs):
                operation(str(source))
                return real_replace(source, target, *args, **kwargs)

            def rmtree(path, *args, **kwargs):
                operation(str(path))
                return real_rmtree(path, *args, **kwargs)

            def save(*args, **kwargs):
                swapping[0] = True
                try:
                    return real_save(*args, **kwargs)
                finally:
                    swapping[0] = False

            os.replace, shutil.rmtree, training.save_trainer = replace, rmtree, save
            _train_mtma(out)
            os.write(writer, str(count[0]).encode())
            status = 0
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(writer)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(reader) as pipe:
        seen = pipe.read()
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 99), f"the training child failed with exit code {code}"
    return int(seen) if code == 0 else point


def _fingerprint(out: Path) -> dict:
    """The checkpoint's content (model.pt as loaded, bit for bit), manifest and progress log,
    but the measured wall times."""
    import torch

    def bits(value):
        if isinstance(value, dict):
            return tuple((repr(key), bits(item)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return tuple(bits(item) for item in value)
        if isinstance(value, torch.Tensor):
            return (str(value.dtype), tuple(value.shape), value.detach().numpy().tobytes())
        return repr(value)  # numbers, strings, None, numpy states: repr round-trips floats

    checkpoint = out / "checkpoint"
    files = {
        path.name: bits(torch.load(path, weights_only=True))
        if path.suffix == ".pt"
        else path.read_bytes()
        for path in sorted(checkpoint.iterdir())
        if path.name != "manifest.json"
    }
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    manifest.pop("wall_time_s")
    manifest.pop("files")  # digests of model.pt's bytes (pickle's memo differs on resume)
    log = [
        {k: v for k, v in row.items() if k != "wall_time_s"} for row in _rows(out / "progress.csv")
    ]
    return {"files": files, "manifest": manifest, "log": log}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    _train_mtma(out)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="kills a forked training process")
def test_resume_after_a_kill_at_every_point_of_the_swap_equals_an_uninterrupted_run(
    uninterrupted, tmp_path
):
    """A kill -9 during the swap left only checkpoint.new; --resume then failed ("no
    manifest.json") and a re-run duplicated progress rows. Now every kill point resumes from the
    newest complete checkpoint to the same final checkpoint, with each step logged once."""
    total = _train_killed_at(tmp_path / "count", 10_000)
    assert total >= 10  # two swaps: file writes, the folder moves, the old folder's delete
    expected = _fingerprint(uninterrupted)
    for point in range(1, total + 1):
        out = tmp_path / f"killed{point}"
        assert _train_killed_at(out, point) == point
        _train_mtma(out, resume=True)
        assert _fingerprint(out) == expected, f"kill at swap operation {point}"
        leftovers = {p.name for p in out.iterdir()} - {"checkpoint", "progress.csv", "run.json"}
        assert leftovers <= {"tensorboard"}, f"kill at swap operation {point}: {leftovers}"
