"""The policy registry: registration, name clashes, entry-point plug-ins, checkpoint loaders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PLUGIN_SOURCE

import coord_env
from coord_env.checkpoint import CheckpointError, write_manifest
from coord_env.registry import PolicyRegistrationError, builtin_policies, policy_spec

BASELINE_NAMES = ["random", "mean_demand", "siloed", "coordinated", "lp"]


def test_the_baselines_register_through_their_entry_point_as_builtin():
    builtin = builtin_policies()
    assert list(builtin)[:5] == BASELINE_NAMES
    assert {"centralized", "mtma", "mtma_single_timescale"} <= set(builtin)
    assert all(spec.description for spec in builtin.values())
    assert {spec.plugin for spec in builtin.values()} == {"baselines", "coord_env"}
    assert [name for name, spec in builtin.items() if spec.plugin == "coord_env"] == ["optimal"]
    assert policy_spec("mtma").load_checkpoint is not None
    assert policy_spec("siloed").load_checkpoint is None


def test_a_registered_policy_is_evaluated_by_name(clean_registry):
    spec = coord_env.register_policy(
        "again-siloed",
        "baselines.heuristics.siloed:SiloedPolicy",
        description="the siloed heuristic under another name",
    )
    assert spec.plugin == "user" and not spec.builtin
    assert "again-siloed" in coord_env.registered_policies()
    assert "again-siloed" not in builtin_policies()
    ours = coord_env.evaluate("again-siloed", "tiny", seeds=[3, 4])
    reference = coord_env.evaluate("siloed", "tiny", seeds=[3, 4])
    assert ours["policy"] == "again-siloed"
    assert ours["per_seed"] == reference["per_seed"]


def test_a_policy_registered_at_run_time_is_evaluated_by_worker_processes(clean_registry):
    """Workers start clean once torch is loaded (forkserver), so they do not inherit this
    process's registry: the policy's spec travels with the jobs."""
    import torch  # noqa: F401  (loaded: the workers start by forkserver)

    coord_env.register_policy(
        "again-siloed", "baselines.heuristics.siloed:SiloedPolicy", description="siloed again"
    )
    parallel = coord_env.evaluate("again-siloed", "tiny", seeds=[3, 4], workers=2)
    serial = coord_env.evaluate("again-siloed", "tiny", seeds=[3, 4])
    assert parallel == serial and parallel["policy"] == "again-siloed"


def test_registered_env_options_reach_the_env(clean_registry):
    seen = {}

    def factory(env):
        seen["continuous"] = env.continuous_actions
        return lambda observations, infos: {
            agent: env.action_space(agent).sample() for agent in observations
        }

    coord_env.register_policy(
        "continuous-random", factory, description="random", env_options={"continuous_actions": True}
    )
    coord_env.evaluate("continuous-random", "tiny", seeds=[1])
    assert seen == {"continuous": True}


@pytest.mark.parametrize(
    ("name", "factory", "description", "message"),
    [
        ("siloed", "m:f", "x", "'siloed' is already registered by 'baselines'"),
        ("", "m:f", "x", "policy name must be a non-empty string"),
        ("has space", "m:f", "x", "letters, digits"),
        ("fine", "no_colon", "x", "factory must be 'module:attribute', got 'no_colon'"),
        ("fine", 3, "x", "factory must be callable"),
        ("fine", "m:f", "  ", "description must be a non-empty string"),
    ],
)
def test_bad_registrations_are_refused_and_change_nothing(
    clean_registry, name, factory, description, message
):
    before = dict(coord_env.registered_policies())
    with pytest.raises(PolicyRegistrationError, match=message):
        coord_env.register_policy(name, factory, description=description)
    assert dict(coord_env.registered_policies()) == before


def test_an_unknown_name_lists_the_registered_ones():
    with pytest.raises(KeyError, match="registered policies: random, mean_demand, siloed"):
        policy_spec("nope")


def test_a_checkpoint_of_an_unregistered_kind_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    write_manifest(tmp_path, coord_env.load_scenario("tiny"), baseline="somebody_elses")
    with pytest.raises(
        CheckpointError, match="holds a 'somebody_elses' policy, which no registered"
    ):
        coord_env.evaluate(str(tmp_path), "tiny", seeds=[1])


def _install_entry_point(root: Path, name: str, value: str) -> dict[str, str]:
    """A distribution with one ``coord_env.policies`` entry point, found on PYTHONPATH as pip
    would leave it (a ``.dist-info`` folder); returns the environment for a subprocess."""
    info = root / "coord_env_demo_plugin-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: coord-env-demo-plugin\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[coord_env.policies]\n{name} = {value}\n")
    paths = [str(root), str(PLUGIN_SOURCE), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _coord_bench(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "coord_env.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)


@pytest.mark.slow
def test_an_entry_point_plugin_is_evaluated_by_name(tmp_path):
    env = _install_entry_point(tmp_path / "site", "demo", "coord_env_demo_plugin:register")
    out = tmp_path / "demo.json"
    result = _coord_bench(
        "evaluate", "--policy", "demo-hold", "--scenario", "tiny", "--seeds", "1", "2",
        "--out", str(out), "--quiet", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["policy"] == "demo-hold"
    assert [row["seed"] for row in document["per_seed"]] == [1, 2]
    listing = _coord_bench("policies", env=env, cwd=tmp_path)
    assert "demo-hold" in listing.stdout and "[plug-in demo]" in listing.stdout
    assert "siloed" in listing.stdout


def test_a_plugin_that_takes_a_builtin_name_gets_a_clear_error(tmp_path):
    (tmp_path / "clash_plugin.py").write_text(
        "import coord_env\n"
        "def register():\n"
        "    coord_env.register_policy('siloed', 'clash_plugin:f', description='mine')\n"
    )
    env = _install_entry_point(tmp_path / "site", "clash", "clash_plugin:register")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    result = _coord_bench("policies", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "plug-in 'clash'" in result.stderr
    assert "'siloed' is already registered by 'baselines'" in result.stderr


def test_coord_env_registers_the_exact_optimum_itself():
    from coord_env.analysis.optimal import OptimalPolicy

    spec = policy_spec("optimal")
    assert spec.plugin == "coord_env" and spec.builtin
    assert list(builtin_policies())[-1] == "optimal"  # after the baselines, as the ceiling
    assert spec.supports(coord_env.load_scenario("tiny"))
    assert not spec.supports(coord_env.load_scenario("default"))
    by_name = coord_env.evaluate("optimal", "tiny", seeds=[5])
    direct = coord_env.evaluate(OptimalPolicy(), "tiny", seeds=[5])
    assert by_name["per_seed"] == direct["per_seed"]
