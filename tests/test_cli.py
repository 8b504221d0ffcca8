"""coord-bench: the main job, evaluate and the catalog listing, run as a user would."""

import json
import os
import subprocess
import sys

import pytest

import coord_env
from coord_env import cli, list_scenarios


def test_scenarios_lists_every_registered_id(capsys):
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in list_scenarios():
        assert f"coord/{name}-v0" in out


@pytest.mark.slow
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


@pytest.mark.slow
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


# ------------------------------------------------------------------ clear errors, early


def _evaluate_tiny(out):
    return cli.main(["evaluate", "--policy", "siloed", "--scenario", "tiny", "--out", str(out)])


@pytest.fixture
def no_evaluation(monkeypatch):
    """Fail the test if an evaluation starts: a bad --out must be refused before any work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the evaluation ran before --out was checked")

    monkeypatch.setattr(cli, "evaluate", refuse)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_evaluate_out_that_is_a_folder_fails_at_once(tmp_path, no_evaluation, capsys):
    assert _evaluate_tiny(tmp_path) == 2
    assert "it is a folder" in _one_line(capsys)


def test_evaluate_out_that_is_a_symlink_fails_at_once_and_is_not_written(
    tmp_path, no_evaluation, capsys
):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "results.json"
    link.symlink_to(target)
    assert _evaluate_tiny(link) == 2
    assert "symlink" in _one_line(capsys)
    assert target.read_text() == "keep me"


def test_evaluate_out_in_an_unwritable_folder_fails_at_once(tmp_path, no_evaluation, capsys):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a file instead
        blocker = tmp_path / "a_file"
        blocker.write_text("")
        assert _evaluate_tiny(blocker / "results.json") == 2
        assert "a_file" in _one_line(capsys)
        return
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert _evaluate_tiny(locked / "results.json") == 2
    assert "not writable" in _one_line(capsys)


def test_run_out_that_is_a_file_fails_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_evaluate_all", lambda *a: pytest.fail("evaluated first"))
    out = tmp_path / "file.txt"
    out.write_text("")
    assert cli.main(["run", "--scenario", "tiny", "--quiet", "--out", str(out)]) == 2
    assert "not a folder" in _one_line(capsys)


def test_a_bad_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "manifest.json").write_text("{not json")
    argv = ["evaluate", "--policy", str(folder), "--scenario", "tiny"]
    assert cli.main([*argv, "--out", str(tmp_path / "x.json")]) == 2
    assert "manifest" in _one_line(capsys)


class _TinyOnly:
    """A policy trained on tiny: its network only fits tiny's observation size."""

    @staticmethod
    def supports(scenario):
        return scenario.name == "tiny"

    def __call__(self, env):
        if env.scenario.name != "tiny":
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x85 and 23x64)")
        from baselines.heuristics.siloed import SiloedPolicy

        return SiloedPolicy(env)


@pytest.fixture
def tiny_only(clean_registry):
    coord_env.register_policy("tiny-only", _TinyOnly(), description="acts on tiny only")
    return "tiny-only"


def test_evaluate_honours_supports(tmp_path, tiny_only, capsys):
    argv = ["evaluate", "--policy", tiny_only, "--scenario", "small", "--quiet"]
    assert cli.main([*argv, "--out", str(tmp_path / "x.json")]) == 2
    err = _one_line(capsys)
    assert "does not support coord/small-v0" in err and "it supports: tiny" in err
    assert not (tmp_path / "x.json").exists()


DYING_POLICY = """
import os

from coord_env.harness.evaluate import policy_seed


class Dying:
    def reset(self, seed):
        if seed == policy_seed(3):
            os._exit(9)  # as a kill -9 or the OOM killer would end the worker

    def act(self, observations, infos):
        return {agent: space.sample() * 0 for agent, space in self.spaces.items()}


def factory(env):
    policy = Dying()
    policy.spaces = {agent: env.action_space(agent) for agent in env.possible_agents}
    return policy
"""


@pytest.mark.slow
def test_a_dead_worker_is_one_line_naming_its_seed(tmp_path, capsys, monkeypatch):
    (tmp_path / "dying_policy.py").write_text(DYING_POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["evaluate", "--policy", "dying_policy:factory", "--scenario", "tiny", "--quiet"]
    argv += ["--seeds", "1", "2", "3", "--workers", "2", "--out", str(tmp_path / "x.json")]
    assert cli.main(argv) == 2
    err = _one_line(capsys)
    assert "worker process died" in err and "seed 3" in err
