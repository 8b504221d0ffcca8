"""The committed RL checkpoints: intact, documented, small, and playable through the harness."""

import dataclasses
import json
from pathlib import Path

import pytest

import coord_env
from baselines.reproduce import training_budget, training_config
from baselines.rl.mtma import MTMA_TRAINERS, MTMAConfig
from baselines.rl.policies import COMMITTED
from baselines.rl.sb3 import TRAINER_STATE
from coord_env.checkpoint import read_manifest
from coord_env.registry import builtin_policies

CHECKPOINTS = sorted(path.parent for path in COMMITTED.glob("*/*/manifest.json"))


def test_checkpoints_are_committed_for_the_headline_scenarios():
    committed = {(path.parent.name, path.name) for path in CHECKPOINTS}
    for scenario in ("default", "multiscale"):
        assert (scenario, "mtma") in committed
        assert (scenario, "centralized") in committed


@pytest.mark.parametrize("directory", CHECKPOINTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_committed_checkpoint_is_intact_documented_small_and_plays(directory: Path):
    scenario = coord_env.load_scenario(directory.parent.name)
    manifest = read_manifest(directory, scenario, baseline=directory.name)  # checksums too
    for field in ("command", "seed", "budget", "steps", "wall_time_s", "coord_env_version"):
        assert field in manifest, field
    assert manifest["command"].startswith(f"coord-bench train {directory.name} ")
    assert manifest["steps"] >= manifest["budget"]
    size = sum(path.stat().st_size for path in directory.iterdir())
    assert size < 3_000_000, f"{directory} holds {size:,} bytes"
    assert builtin_policies()[directory.name].supports(scenario)
    result = coord_env.evaluate(directory.name, scenario, seeds=[2_000_000])
    assert len(result["per_seed"]) == 1


@pytest.mark.parametrize("directory", CHECKPOINTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_committed_checkpoint_is_what_retrain_would_train(directory: Path):
    """Budgets, MTMA presets and tuned settings may change only together with the checkpoints
    they produced."""
    scenario = coord_env.load_scenario(directory.parent.name)
    manifest = read_manifest(directory)
    assert manifest["budget"] == training_budget(directory.name, scenario)
    if directory.name in MTMA_TRAINERS:
        preset = MTMA_TRAINERS[directory.name].default_preset
        expected = MTMAConfig.preset(preset, **training_config(directory.name, scenario))
        stored = json.loads((directory / "config.json").read_text())["config"]
        assert stored == dataclasses.asdict(expected)
    else:  # the SB3 trainers: every setting retrain passes (rollout shape, tuned settings)
        stored = json.loads((directory / TRAINER_STATE).read_text())["config"]
        for key, value in training_config(directory.name, scenario).items():
            assert stored[key] == value, key
