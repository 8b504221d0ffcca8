"""coord-bench: the main job, evaluate and the catalog listing, run as a user would."""

import json
import subprocess
import sys

import pytest

from coord_env import cli, list_scenarios


def test_scenarios_lists_every_registered_id(capsys):
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in list_scenarios():
        assert f"coord/{name}-v0" in out


def test_run_writes_results_table_and_plots(tmp_path, capsys):
    args = [
        "run",
        "--scenario",
        "tiny",
        "--num-seeds",
        "3",
        "--workers",
        "0",
        "--quiet",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    for name in ("random", "mean_demand", "siloed", "coordinated"):
        document = json.loads((tmp_path / f"tiny_{name}.json").read_text())
        assert document["policy"] == name and len(document["per_seed"]) == 3
        assert f"{document['profit']['mean']:,.0f}" in out  # the table shows the document's mean
    assert "coordinated vs siloed" in out
    for picture in ("tiny_profit.png", "tiny_trajectories_seed1000000.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_writes_one_document(tmp_path):
    out = tmp_path / "siloed.json"
    assert (
        cli.main(
            [
                "evaluate",
                "--policy",
                "siloed",
                "--scenario",
                "tiny",
                "--seeds",
                "5",
                "6",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    document = json.loads(out.read_text())
    assert document["seeds"] == [5, 6] and document["scenario"] == "coord/tiny-v0"


def test_evaluate_unknown_policy_lists_the_valid_names(tmp_path, capsys):
    assert (
        cli.main(
            [
                "evaluate",
                "--policy",
                "nope",
                "--scenario",
                "tiny",
                "--out",
                str(tmp_path / "x.json"),
            ]
        )
        == 2
    )
    assert "siloed" in capsys.readouterr().err


def test_evaluate_is_deterministic_across_processes(tmp_path):
    outputs = []
    for index in range(2):
        out = tmp_path / f"run{index}.json"
        command = [
            sys.executable,
            "-m",
            "coord_env.cli",
            "evaluate",
            "--policy",
            "coordinated",
            "--scenario",
            "small",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
        subprocess.run(command, capture_output=True, text=True, check=True)
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]


def test_unknown_scenario_is_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--scenario", "nope"])
    assert "default" in capsys.readouterr().err
