"""The RL baseline names are declared once (baselines/rl/names.py); everything else derives."""

import argparse

import pytest

from baselines.rl import names
from baselines.rl.mtma import MTMA_TRAINERS
from baselines.rl.names import RL_BASELINE_TABLE, RL_BASELINES, RLBaseline, trainer_table
from baselines.rl.sb3 import SB3_TRAINERS
from baselines.rl.training import trainer_class
from coord_env.cli import build_parser
from coord_env.registry import builtin_policies

ORDER = (
    "centralized",
    "siloed_rl",
    "ippo",
    "shared_ppo",
    "mtma",
    "mtma_single_timescale",
    "mtma_reversed",
)


def _choices(command: str) -> tuple[str, ...]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    (positional,) = [a for a in commands.choices[command]._actions if a.dest == "names"]
    return tuple(positional.choices)


def test_registry_trainer_tables_and_cli_choices_agree():
    assert RL_BASELINES == ORDER  # the order coord-bench prints
    assert (*SB3_TRAINERS, *MTMA_TRAINERS) == RL_BASELINES
    for name in RL_BASELINES:
        assert trainer_class(name).name == name
        spec = builtin_policies()[name]
        assert spec.description == RL_BASELINE_TABLE[name].description
    builtin = [name for name in builtin_policies() if name in RL_BASELINE_TABLE]
    assert tuple(builtin) == RL_BASELINES
    assert _choices("train") == RL_BASELINES
    assert _choices("tune") == RL_BASELINES


def test_a_trainer_declared_under_another_name_is_refused(monkeypatch):
    entry = RL_BASELINE_TABLE["ippo"]
    monkeypatch.setitem(
        names.RL_BASELINE_TABLE,
        "ippo",
        RLBaseline(entry.trainer.replace("IPPOTrainer", "SiloedRLTrainer"), entry.description),
    )
    with pytest.raises(ValueError, match=r"SiloedRLTrainer\.name is 'siloed_rl'.*'ippo'"):
        trainer_table("baselines.rl.sb3.trainers")
