"""The checkpoint contract: a trainer writes its weights and JSON config, the contract writes the
manifest, swaps and recovers; older committed checkpoint formats load and play as before."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import coord_env
from baselines.rl.mtma import MTMATrainer
from baselines.rl.sb3 import TRAINER_STATE
from baselines.rl.trainer import migrate_state
from baselines.rl.training import load_trainer, save_trainer, trainer_class
from coord_env.checkpoint import (
    CheckpointError,
    describe_spaces,
    newest_checkpoint,
    read_manifest,
    recover_checkpoint,
)

COMMITTED = Path(__file__).parents[1] / "baselines" / "checkpoints"
MTMA_FAST = {"n_envs": 2, "n_steps": 30, "epochs": 1, "minibatch_size": 20, "hidden_size": 16}
SB3_FAST = {"n_envs": 1, "n_steps": 32, "batch_size": 32, "n_epochs": 1}
SEED = 2_000_000

# One episode (seed 2_000_000) of committed checkpoints, as the code before the checkpoint
# contract evaluated them: each old format still committed, and the current formats.
PRE_CONTRACT_PROFIT = {
    "small/mtma": 47135.51719999999,  # MTMA format 2 without the episodes under way
    "tiny/shared_ppo": 613.4403,  # a shared_ppo config from before rescale_actions
    "tiny/mtma": 699.7520999999998,  # MTMA format 2 with the episodes under way
    "tiny/centralized": 668.7354999999999,  # an SB3 trainer.json as written today
}


def _trainer(name: str):
    return trainer_class(name)("tiny", 0, **(MTMA_FAST if name == "mtma" else SB3_FAST))


@pytest.mark.parametrize("name", ["mtma", "centralized", "siloed_rl", "shared_ppo"])
def test_a_trainer_writes_its_own_files_and_the_contract_the_manifest(name, tmp_path):
    trainer = _trainer(name)
    trainer.save(tmp_path / "own")
    own = {path.name: path for path in (tmp_path / "own").iterdir()}
    assert "manifest.json" not in own
    assert {path.suffix for path in own.values()} <= {".pt", ".zip", ".json"}
    configs = [path for path in own.values() if path.suffix == ".json"]
    assert len(configs) == 1 and isinstance(json.loads(configs[0].read_text()), dict)

    folder = tmp_path / "checkpoint"
    manifest = save_trainer(trainer, folder, budget=64, command="test")
    assert set(manifest["files"]) == set(own)
    assert {path.name for path in folder.iterdir()} == {*own, "manifest.json"}
    env = coord_env.parallel_env("tiny", **trainer.env_options)
    assert read_manifest(folder, trainer.scenario, describe_spaces(env), name)["budget"] == 64
    loaded = load_trainer(folder)
    assert type(loaded) is type(trainer) and loaded.steps_done == trainer.steps_done


def test_recovery_keeps_the_newest_complete_checkpoint(tmp_path):
    trainer = _trainer("mtma")
    folder = tmp_path / "checkpoint"
    save_trainer(trainer, folder)
    trainer.learn(60)
    save_trainer(trainer, tmp_path / "later")
    os.replace(tmp_path / "later", tmp_path / "checkpoint.new")  # killed before the swap
    (tmp_path / "checkpoint.old").mkdir()  # a delete cut short
    newest, manifest = newest_checkpoint(folder)
    assert newest == tmp_path / "checkpoint.new" and manifest["steps"] == 60
    assert recover_checkpoint(folder)["steps"] == 60
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint"]
    assert load_trainer(folder).steps_done == 60
    # a half-written checkpoint.new (its manifest does not verify) is dropped, the last kept
    shutil.copytree(folder, tmp_path / "checkpoint.new")
    (tmp_path / "checkpoint.new" / "model.pt").write_bytes(b"cut short")
    assert recover_checkpoint(folder)["steps"] == 60
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint"]
    shutil.rmtree(folder)
    assert recover_checkpoint(folder) is None


def test_mtma_and_sb3_trainers_check_provenance_the_same_way(tmp_path):
    """MTMA compared its payload's spaces by hand, with another message than the SB3 trainers'.
    Both now go through check_provenance, which names the spaces that differ."""
    trainer = MTMATrainer("default", 0, n_envs=1, n_steps=4, hidden_size=8)
    trainer.save(tmp_path)
    document = json.loads((tmp_path / "config.json").read_text())
    document["config"]["inventory_action"] = "order_quantity"  # other observation bounds
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"other spaces: .*inventory_0\.observation"):
        MTMATrainer.load(tmp_path, "default")


def test_a_manifest_naming_another_baseline_than_the_files_is_refused(tmp_path):
    """MTMA took the variant from the manifest, so a checkpoint of mtma_reversed listed as mtma
    loaded as mtma with mtma_reversed's learners."""
    trainer = trainer_class("mtma_reversed")("tiny", 0, **MTMA_FAST)
    save_trainer(trainer, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "baseline": "mtma"}))
    with pytest.raises(CheckpointError, match="manifest says 'mtma', its files hold 'mtma_rev"):
        load_trainer(tmp_path)


def test_mtma_format_1_loads_its_learners_and_resumes_on_fresh_episodes(tmp_path):
    trainer = _trainer("mtma")
    trainer.learn(60)
    trainer.save(tmp_path)
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    del payload["rollout"]
    torch.save({**payload, "format": 1}, tmp_path / "model.pt")
    loaded = MTMATrainer.load(tmp_path, "tiny")
    seeds = [SEED, SEED + 1]
    assert coord_env.evaluate(lambda env: loaded.policy(), "tiny", seeds) == coord_env.evaluate(
        lambda env: trainer.policy(), "tiny", seeds
    )
    loaded.learn(60)
    assert loaded.steps_done == 120
    torch.save({**payload, "format": 3}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="format 3"):
        MTMATrainer.load(tmp_path, "tiny")


def test_migrations_leave_the_current_formats_unchanged():
    current = {"format": 2, "rollout": {"envs": 1}, "seed": 0}
    assert migrate_state("mtma", current) == current
    config = {"config": {"rescale_actions": True, "vec_env": "batched", "n_envs": 2}}
    assert migrate_state("shared_ppo", config) == config
    assert migrate_state("centralized", {"config": {"n_envs": 2}}) == {"config": {"n_envs": 2}}


@pytest.mark.parametrize("key", sorted(PRE_CONTRACT_PROFIT))
def test_committed_checkpoints_of_every_format_play_as_before(key):
    folder = COMMITTED / key
    scenario = coord_env.load_scenario(folder.parent.name)
    if key == "small/mtma":
        assert torch.load(folder / "model.pt", weights_only=True)["rollout"] is None
    if key == "tiny/shared_ppo":
        assert "rescale_actions" not in json.loads((folder / TRAINER_STATE).read_text())["config"]
    trainer = load_trainer(folder, scenario)
    assert trainer.steps_done == read_manifest(folder)["steps"]
    policy = trainer.policy()
    result = coord_env.evaluate(
        lambda env: policy, scenario, [SEED], env_options=dict(trainer.env_options)
    )
    assert result["per_seed"][0]["profit"] == PRE_CONTRACT_PROFIT[key]
