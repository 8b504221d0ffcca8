"""The two default reward scales, named for what they compute (docs/training.md, "Reward scale")."""

import json
from pathlib import Path

import pytest

from baselines.rl.mtma import MTMAConfig
from coord_env.env import inverse_margin_per_tick, inverse_revenue_per_tick
from coord_env.scenarios import load_scenario

CHECKPOINTS = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints"
MTMA_CONFIGS = sorted(CHECKPOINTS.glob("*/mtma*/config.json"))


def test_the_scales_compute_what_they_are_named_for():
    s = load_scenario("default")
    ticks = s.ticks_per_period
    margin = float(((s.price - s.cost) * s.demand_scale).sum()) / ticks
    revenue = float((s.price * s.demand_scale).sum()) / ticks
    assert inverse_margin_per_tick(s) == pytest.approx(1 / margin, rel=1e-12)
    assert inverse_revenue_per_tick(s) == pytest.approx(1 / revenue, rel=1e-12)
    assert inverse_margin_per_tick("default") == inverse_margin_per_tick(s)
    assert inverse_margin_per_tick(s) > inverse_revenue_per_tick(s)  # margin < revenue


@pytest.mark.parametrize(
    "path", MTMA_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}"
)
def test_committed_mtma_configs_load_and_their_scale_is_reproduced_bit_for_bit(path):
    stored = json.loads(path.read_text())
    config = MTMAConfig(**stored["config"])  # the saved key still loads
    assert config.reward_scale is None
    scenario = load_scenario(stored["scenario"].split("/")[1].rsplit("-v", 1)[0])
    assert inverse_margin_per_tick(scenario) == stored["reward_scale"]


def test_mtma_configs_are_committed():
    assert len(MTMA_CONFIGS) >= 12
