"""coord-bench: the main job and the catalog listing, run as a user would."""

import re
import subprocess
import sys

import pytest

from coord_env import cli, list_scenarios


def test_scenarios_lists_every_registered_id(capsys):
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in list_scenarios():
        assert f"coord/{name}-v0" in out


def test_run_prints_profit_parts_that_add_up(capsys):
    assert cli.main(["run", "--scenario", "tiny", "--seed", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    parts = {
        key: float(value.replace(",", ""))
        for key, value in re.findall(r"^\s+(\w+)\s+-?\s*([\d,.-]+)$", out, flags=re.MULTILINE)
    }
    expected = (
        parts["revenue"]
        + parts["salvage"]
        - parts["purchase_cost"]
        - parts["holding_cost"]
        - parts["lost_sale_penalty"]
    )
    assert parts["profit"] == pytest.approx(expected, abs=0.05)
    assert parts["units_sold"] > 0


def test_run_is_deterministic_across_processes():
    command = [
        sys.executable,
        "-m",
        "coord_env.cli",
        "run",
        "--scenario",
        "small",
        "--seed",
        "1",
        "--quiet",
    ]
    first = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert first == second and "profit" in first


def test_unknown_scenario_is_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--scenario", "nope"])
    assert "default" in capsys.readouterr().err
