"""Checkpoints are data: loading one never unpickles what it carries (issue 19, item 3).

A hostile SB3 zip (a cloudpickle payload in its ``data`` entry, or a pickled object in place of
its weights) runs nothing on ``coord-bench evaluate --policy FOLDER``; a manifest that points out
of its folder or at a symlink is refused; and the weights-only loader gives every committed SB3
checkpoint exactly the parameters, optimizer state, counters and actions of SB3's own loader.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import torch

import coord_env
from baselines.rl.mtma.trainer import MTMATrainer, drop_episodes_under_way
from baselines.rl.sb3 import (
    SB3_TRAINERS,
    derived_seed,
    deterministic_actions,
    load_sb3_zip,
)
from baselines.rl.training import load_trainer
from coord_env.checkpoint import MANIFEST, CheckpointError, file_sha256, read_manifest

COMMITTED = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints"
SB3_COMMITTED = sorted(folder for folder in COMMITTED.glob("*/*") if any(folder.glob("*.zip")))


class _Marker:
    """Unpickling this creates ``path``: proof that something unpickled it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').close()",))


def _rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite the zip at ``path`` with some entries' bytes replaced."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries.update(replace)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _rehash(folder: Path) -> None:
    """Recompute the manifest's checksums, as anyone handing over a checkpoint can."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {name: file_sha256(folder / name) for name in manifest["files"]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _copy_committed(tmp_path: Path, scenario: str, baseline: str) -> Path:
    folder = tmp_path / f"{baseline}_copy"
    shutil.copytree(COMMITTED / scenario / baseline, folder)
    return folder


def _hostile_data(data: bytes, marker: Path) -> bytes:
    """SB3's ``data`` entry with every cloudpickled field replaced by the marker payload."""
    document = json.loads(data)
    payload = base64.b64encode(cloudpickle.dumps(_Marker(marker))).decode()
    replaced = 0
    for value in document.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = payload
            replaced += 1
    assert replaced, "the committed zip has cloudpickled fields to replace"
    return json.dumps(document).encode()


def _coord_bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "coord_env.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_hostile_data_entry_runs_nothing_and_the_weights_still_load(tmp_path):
    """A cloudpickle payload in the zip's ``data`` entry (with a manifest that verifies) is never
    deserialized: ``evaluate --policy FOLDER`` runs the weights and creates no marker."""
    marker = tmp_path / "pwned"
    folder = _copy_committed(tmp_path, "tiny", "centralized")
    with zipfile.ZipFile(folder / "joint.zip") as archive:
        data = archive.read("data")
    _rewrite_zip(folder / "joint.zip", {"data": _hostile_data(data, marker)})
    _rehash(folder)
    read_manifest(folder)  # the checksums verify: they prove nothing about intent
    out = tmp_path / "results.json"
    result = _coord_bench(
        "evaluate",
        "--policy",
        str(folder),
        "--scenario",
        "tiny",
        "--seeds",
        "1",
        "2",
        "--out",
        str(out),
        "--quiet",
        cwd=tmp_path,
    )
    assert not marker.exists(), "loading the checkpoint unpickled its data entry"
    assert result.returncode == 0, result.stderr
    honest = coord_env.evaluate("centralized", "tiny", seeds=[1, 2])
    assert json.loads(out.read_text())["per_seed"] == honest["per_seed"]


def test_data_entry_that_is_a_raw_pickle_is_refused_cleanly(tmp_path):
    marker = tmp_path / "pwned"
    folder = _copy_committed(tmp_path, "tiny", "siloed_rl")
    _rewrite_zip(folder / "inventory_0.zip", {"data": cloudpickle.dumps(_Marker(marker))})
    _rehash(folder)
    with pytest.raises(CheckpointError, match=r"inventory_0\.zip: its 'data' entry is not JSON"):
        load_trainer(folder, coord_env.load_scenario("tiny"))
    assert not marker.exists()


@pytest.mark.slow
def test_weights_that_carry_a_pickle_payload_are_refused_by_weights_only(tmp_path):
    """``policy.pth`` holding a pickled object instead of tensors is refused, unrun, both in the
    library and on the command line."""
    marker = tmp_path / "pwned"
    folder = _copy_committed(tmp_path, "tiny", "centralized")
    buffer = io.BytesIO()
    torch.save({"action_net.weight": _Marker(marker)}, buffer)
    _rewrite_zip(folder / "joint.zip", {"policy.pth": buffer.getvalue()})
    _rehash(folder)
    with pytest.raises(CheckpointError, match=r"policy\.pth holds more than tensors"):
        load_trainer(folder, coord_env.load_scenario("tiny"))
    assert not marker.exists()
    out = tmp_path / "results.json"
    result = _coord_bench(
        "evaluate", "--policy", str(folder), "--scenario", "tiny", "--seeds", "1", "--out",
        str(out), "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0 and "holds more than tensors" in result.stderr
    assert not marker.exists() and not out.exists()


def test_mtma_weights_that_carry_a_pickle_payload_are_refused_as_sb3_weights_are(tmp_path):
    """MTMA's ``model.pt`` goes through the same weights-only loader as SB3's ``.pth`` entries:
    a pickled object in it is refused unrun, with the same message, on load and on
    ``drop_episodes_under_way``."""
    marker = tmp_path / "pwned"
    folder = _copy_committed(tmp_path, "tiny", "mtma")
    payload = torch.load(folder / "model.pt", weights_only=True)
    torch.save({**payload, "stats": _Marker(marker)}, folder / "model.pt")
    _rehash(folder)
    with pytest.raises(CheckpointError, match=r"model\.pt holds more than tensors"):
        load_trainer(folder, coord_env.load_scenario("tiny"))
    with pytest.raises(CheckpointError, match=r"model\.pt holds more than tensors"):
        drop_episodes_under_way(folder)
    assert not marker.exists()


def test_mtma_weights_behind_a_symlink_are_refused(tmp_path):
    folder = _copy_committed(tmp_path, "tiny", "mtma")
    (folder / "model.pt").rename(tmp_path / "elsewhere.pt")
    (folder / "model.pt").symlink_to(tmp_path / "elsewhere.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt is a symlink"):
        MTMATrainer.load(folder, "tiny")


def test_weights_of_another_shape_are_refused(tmp_path):
    folder = _copy_committed(tmp_path, "tiny", "centralized")
    with zipfile.ZipFile(COMMITTED / "small" / "centralized" / "joint.zip") as archive:
        other = archive.read("policy.pth")
    _rewrite_zip(folder / "joint.zip", {"policy.pth": other})
    _rehash(folder)
    with pytest.raises(
        CheckpointError, match=r"does not fit the model its trainer\.json describes"
    ):
        load_trainer(folder, coord_env.load_scenario("tiny"))


def test_listed_file_that_is_a_symlink_is_refused(tmp_path):
    folder = _copy_committed(tmp_path, "tiny", "centralized")
    outside = tmp_path / "elsewhere.zip"
    (folder / "joint.zip").rename(outside)
    (folder / "joint.zip").symlink_to(outside)  # same bytes, so the checksum would match
    with pytest.raises(CheckpointError, match=r"joint\.zip is a symlink"):
        read_manifest(folder)
    with pytest.raises(CheckpointError, match="is a symlink"):
        load_trainer(folder, coord_env.load_scenario("tiny"))


def _observations(space, count: int, seed: int = 0) -> np.ndarray:
    """Observations spread over the space's box: uniform draws and draws around 0."""
    rng = np.random.default_rng(seed)
    low, high = space.low, space.high
    observations = low + rng.random((count, space.shape[0])) * (high - low)
    observations[: count // 2] = np.clip(rng.normal(0, 1, (count // 2, space.shape[0])), low, high)
    return observations.astype(np.float32)


@pytest.mark.parametrize("folder", SB3_COMMITTED, ids=lambda f: f"{f.parent.name}/{f.name}")
def test_committed_checkpoints_load_as_sb3_loaded_them(folder):
    """Every committed SB3 checkpoint: the weights-only loader gives bit-identical parameters,
    optimizer state and counters, and the same actions, as SB3's own loader (on these trusted,
    committed files only)."""
    from stable_baselines3 import PPO

    trainer = load_trainer(folder, coord_env.load_scenario(folder.parent.name))
    for key, model in trainer.models.items():
        reference = PPO.load(folder / f"{key}.zip", device="cpu")
        expected, actual = reference.policy.state_dict(), model.policy.state_dict()
        assert expected.keys() == actual.keys()
        for name in expected:
            assert torch.equal(expected[name], actual[name]), name
        saved, loaded = reference.policy.optimizer.state_dict(), model.policy.optimizer.state_dict()
        assert saved["param_groups"] == loaded["param_groups"]
        for index, state in saved["state"].items():
            for name, value in state.items():
                assert torch.equal(value, loaded["state"][index][name])
        assert (model.num_timesteps, model._n_updates) == (
            reference.num_timesteps,
            reference._n_updates,
        )
        observations = _observations(model.observation_space, 1000)
        np.testing.assert_array_equal(
            deterministic_actions(model, observations),
            deterministic_actions(reference, observations),
        )


@pytest.mark.slow
def test_resumed_training_matches_sb3s_loader_bit_for_bit():
    """Resuming the committed tiny ``ippo`` checkpoint and training one more rollout gives the
    same weights whether the models came from SB3's loader (the old path) or the weights-only
    one: nothing training needs was lost with the pickled fields."""
    from stable_baselines3 import PPO

    folder = COMMITTED / "tiny" / "ippo"
    scenario = coord_env.load_scenario("tiny")
    state = json.loads((folder / "trainer.json").read_text())
    # SB3 seeds process-global generators: each trainer is loaded, then trained, in turn
    old = SB3_TRAINERS["ippo"](scenario, state["seed"], **state["config"])
    for index, key in enumerate(old.learners):  # the loader as it was, on trusted files
        model = PPO.load(folder / f"{key}.zip", env=old.models[key].get_env(), device="cpu")
        model.set_random_seed(
            derived_seed(old.seed, index, state["steps_done"], room=old.config.n_envs)
        )
        old.models[key] = model
    old._restore_extra_state(state)
    steps = old.config.n_envs * old.config.n_steps
    old_stats = old.learn(steps)
    resumed = load_trainer(folder, scenario)
    new_stats = resumed.learn(steps)
    assert old.steps_done == resumed.steps_done == state["steps_done"] + steps
    assert old_stats == new_stats
    for key in old.learners:
        expected = old.models[key].policy.state_dict()
        actual = resumed.models[key].policy.state_dict()
        for name in expected:
            assert torch.equal(expected[name], actual[name]), (key, name)


def test_load_sb3_zip_refuses_a_symlink_and_a_non_zip(tmp_path):
    trainer = load_trainer(COMMITTED / "tiny" / "centralized", coord_env.load_scenario("tiny"))
    link = tmp_path / "joint.zip"
    link.symlink_to(COMMITTED / "tiny" / "centralized" / "joint.zip")
    with pytest.raises(CheckpointError, match="is a symlink"):
        load_sb3_zip(trainer.models["joint"], link)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="is not loadable"):
        load_sb3_zip(trainer.models["joint"], junk)


# ------------------------------------------------------------ verification records pin what ran
LEADERBOARDS = Path(__file__).resolve().parents[1] / "leaderboards"


def _self_reported(results: dict, method: str) -> dict:
    from coord_env.leaderboard import make_submission

    return make_submission(results, method=method, authors=["A"], training_budget=None)


def _file(submission: dict, board: Path) -> Path:
    from coord_env.leaderboard.submit import submission_path, submission_text

    path = submission_path(submission, board)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(submission_text(submission))
    return path


@pytest.mark.slow
def test_verifying_a_checkpoint_folder_pins_its_files_and_distribution(tmp_path):
    from coord_env.leaderboard import load_submission, verify_submission

    folder = _copy_committed(tmp_path, "tiny", "centralized")
    path = _file(_self_reported(coord_env.evaluate(str(folder), "tiny"), "Folder"), tmp_path)
    assert verify_submission(path, str(folder))["verified"]
    record = load_submission(path)["verification"]
    manifest = read_manifest(folder)
    assert record["weights"] == manifest["files"] and set(record["weights"]) == {
        "joint.zip",
        "trainer.json",
    }
    assert record["policy"] == load_submission(path)["policy"] == "centralized (centralized_copy)"
    assert record["distribution"]["name"] == "coord-env" and record["distribution"]["version"]


def test_verify_refuses_a_checkpoint_folder_with_files_its_manifest_does_not_pin(tmp_path):
    from coord_env.leaderboard import verify_submission

    folder = _copy_committed(tmp_path, "tiny", "centralized")
    path = _file(_self_reported(coord_env.evaluate(str(folder), "tiny"), "Folder"), tmp_path)
    (folder / "extra.pt").write_bytes(b"unpinned")
    with pytest.raises(CheckpointError, match=r"does not list \(extra\.pt\)"):
        verify_submission(path, str(folder))


@pytest.mark.slow
def test_verify_fails_when_the_rerun_policy_is_not_the_rows_policy(tmp_path):
    """Same numbers under another name do not verify a row: the record would not say what the
    row's policy is."""
    from coord_env.leaderboard import load_submission, verify_submission

    path = _file(_self_reported(coord_env.evaluate("siloed", "tiny"), "Siloed again"), tmp_path)
    result = verify_submission(path, "baselines.heuristics.siloed:SiloedPolicy")
    assert not result["verified"]
    assert result["mismatches"][0].startswith("policy: the row names 'siloed'")
    assert load_submission(path)["status"] == "self-reported"


def test_a_record_of_another_policy_than_the_rows_is_invalid():
    from coord_env.leaderboard import SubmissionError, load_submission, validate_submission

    row = load_submission(LEADERBOARDS / "tiny" / "centralized.json")
    row["verification"]["policy"] = "siloed"
    with pytest.raises(SubmissionError, match="the row's policy is 'centralized'") as error:
        validate_submission(row)
    assert error.value.field == "verification.policy"


def test_committed_rows_pin_the_committed_checkpoints():
    from coord_env.leaderboard.verify import policy_weights, record_problems

    for path in sorted(LEADERBOARDS.glob("*/*.json")):
        row = json.loads(path.read_text())
        scenario = coord_env.load_scenario(path.parent.name)
        assert row["verification"]["weights"] == policy_weights(row["policy"], scenario), path
        assert row["verification"]["distribution"]["name"] == "coord-env"
        assert record_problems(row) == []


def test_check_fails_when_a_verified_rows_weights_are_swapped(tmp_path, monkeypatch, capsys):
    """The committed ``centralized`` row on ``tiny``, with its checkpoint in a scratch copy whose
    weights are then replaced (manifest rehashed, so the checkpoint itself still loads)."""
    import baselines.rl.policies as policies
    from coord_env.cli import main
    from coord_env.leaderboard import build_leaderboard

    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(COMMITTED / "tiny" / "centralized", checkpoints / "tiny" / "centralized")
    monkeypatch.setattr(policies, "COMMITTED", checkpoints)
    board = tmp_path / "board"
    (board / "tiny").mkdir(parents=True)
    shutil.copy(LEADERBOARDS / "tiny" / "centralized.json", board / "tiny")
    build_leaderboard(board)
    argv = ["leaderboard", "check", "--no-rerun", "--leaderboard", str(board)]
    assert main(argv) == 0
    folder = checkpoints / "tiny" / "centralized"
    with zipfile.ZipFile(COMMITTED / "tiny" / "ippo" / "inventory_0.zip") as archive:
        other = archive.read("policy.pth")
    _rewrite_zip(folder / "joint.zip", {"policy.pth": other})
    _rehash(folder)
    capsys.readouterr()
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "tiny/centralized: the files of" in out and "(joint.zip)" in out


def test_registered_policies_record_their_distribution():
    from coord_env.registry import policy_spec

    assert policy_spec("siloed").distribution == "coord-env"
    assert policy_spec("optimal").distribution == "coord-env"
    folder = policy_spec("centralized").checkpoint_for(coord_env.load_scenario("tiny"))
    assert folder == COMMITTED / "tiny" / "centralized"
    assert policy_spec("siloed").checkpoint_for(coord_env.load_scenario("tiny")) is None
