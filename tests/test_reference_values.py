"""Reference values (siloed profit, upper bound) per scenario version and the normalized score."""

import json

import pytest

import coord_env
from coord_env.harness.references import PATH, VERSION, reference_for

DOCUMENT = json.loads(PATH.read_text())
REFERENCES = DOCUMENT["scenarios"]


@pytest.mark.parametrize("env_id", sorted(REFERENCES))
def test_references_match_the_current_catalog(env_id):
    entry = REFERENCES[env_id]
    name = env_id.removeprefix("coord/").rsplit("-v", 1)[0]
    scenario = coord_env.load_scenario(name)
    assert entry["scenario_hash"] == scenario.content_hash, (
        "stale: rerun python -m coord_env.harness.references"
    )
    assert len(entry["upper_bound_per_seed"]) == len(coord_env.EVALUATION_SEEDS)
    assert entry["upper_bound"] > entry["siloed_profit"]
    assert entry["ceiling"] in ("optimum", "fluid_bound")
    if entry["ceiling"] == "optimum":  # the exact optimum sits between siloed and the bound
        assert len(entry["optimum_per_seed"]) == len(coord_env.EVALUATION_SEEDS)
        assert entry["siloed_profit"] < entry["optimum"] <= entry["upper_bound"]
        assert entry["optimum"] == pytest.approx(
            sum(entry["optimum_per_seed"]) / len(entry["optimum_per_seed"])
        )


def test_references_carry_their_version_and_tiny_uses_the_optimum():
    assert DOCUMENT["version"] == VERSION >= 2
    tiny = reference_for(coord_env.load_scenario("tiny"))
    assert tiny["ceiling"] == "optimum"
    assert tiny["upper_bound"] == REFERENCES["coord/tiny-v0"]["optimum"]
    assert reference_for(coord_env.load_scenario("default"))["ceiling"] == "fluid_bound"


def test_headline_scenario_has_a_reference():
    assert reference_for(coord_env.load_scenario("default")) is not None
    assert reference_for(coord_env.load_scenario("default", horizon=50)) is None  # another version


def test_normalized_score_uses_the_fixed_reference():
    siloed = coord_env.evaluate("siloed", "tiny")  # the official seeds
    assert siloed["normalized_score"] == pytest.approx(0.0, abs=1e-9)  # siloed is the zero point
    coordinated = coord_env.evaluate("coordinated", "tiny")
    reference = reference_for(coord_env.load_scenario("tiny"))
    expected = (
        100
        * (coordinated["profit"]["mean"] - reference["siloed_profit"])
        / (reference["upper_bound"] - reference["siloed_profit"])
    )
    assert coordinated["normalized_score"] == pytest.approx(expected)
    assert coordinated["normalized_score"] < 100


def test_no_score_off_the_official_seeds():
    assert coord_env.evaluate("siloed", "tiny", seeds=[1, 2])["normalized_score"] is None
