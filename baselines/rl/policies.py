"""Trained RL policies as harness factories: any checkpoint directory, or the committed ones by name.

``coord-bench evaluate --policy DIR`` and ``coord_env.evaluate(CheckpointPolicy(DIR), ...)`` load a
checkpoint written by ``coord-bench train``; the built-in names ``mtma``, ``centralized``, ...
load the checkpoint committed for the scenario being evaluated (``baselines/checkpoints/``).
Factories hold only paths and names, so they pickle into worker processes.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from coord_env.checkpoint import read_manifest
from coord_env.env import RetailParallelEnv
from coord_env.policy import Policy
from coord_env.scenarios import Scenario

__all__ = ["COMMITTED", "CheckpointPolicy", "CommittedPolicy", "committed_checkpoint"]

COMMITTED = Path(__file__).resolve().parent.parent / "checkpoints"

_LOADED: dict[tuple[str, str], Any] = {}  # (directory, scenario hash) -> trainer, per process


def _trainer(directory: str, scenario: Scenario) -> Any:
    from baselines.rl.training import load_trainer

    key = (directory, scenario.content_hash)
    if key not in _LOADED:
        _LOADED[key] = load_trainer(directory, scenario)
    return _LOADED[key]


class CheckpointPolicy:
    """A factory ``env -> policy`` for one checkpoint directory.

    Raises
    ------
    CheckpointError
        When built, if the checkpoint is corrupt; when called, if the env's scenario differs from
        the checkpoint's.
    """

    def __init__(self, directory: str | Path):
        self.directory = str(Path(directory).resolve())
        manifest = read_manifest(self.directory)
        self.name = f"{manifest.get('baseline')} ({Path(directory).name})"
        self.env_options = manifest.get("env_options") or None

    def env_options_for(self, scenario: Scenario) -> dict[str, Any] | None:
        """The environment options the checkpoint was trained under."""
        return self.env_options

    def checkpoint_for(self, scenario: Scenario) -> Path:
        """This checkpoint folder, whose files a verification record pins."""
        return Path(self.directory)

    def __call__(self, env: RetailParallelEnv) -> Policy:
        return _trainer(self.directory, env.scenario).policy()


def committed_checkpoint(name: str, scenario: Scenario) -> Path:
    """Where the committed checkpoint of baseline ``name`` on ``scenario`` lives (it may not exist)."""
    return COMMITTED / scenario.name / name


def _rl_installed() -> bool:
    return all(find_spec(module) is not None for module in ("torch", "stable_baselines3"))


class CommittedPolicy:
    """The built-in RL baseline ``name``, loaded from the checkpoint committed for the scenario."""

    def __init__(self, name: str):
        self.name = name

    def env_options_for(self, scenario: Scenario) -> dict[str, Any] | None:
        """The environment options the committed checkpoint for ``scenario`` was trained under."""
        path = committed_checkpoint(self.name, scenario) / "manifest.json"
        return read_manifest(path.parent).get("env_options") or None if path.is_file() else None

    def supports(self, scenario: Scenario) -> bool:
        """Whether a checkpoint of this baseline is committed for this scenario version and the RL
        dependencies (``pip install coord-env[rl]``) are installed."""
        if not _rl_installed():
            return False
        path = committed_checkpoint(self.name, scenario)
        if not (path / "manifest.json").is_file():
            return False
        return read_manifest(path).get("scenario_hash") == scenario.content_hash

    def checkpoint_for(self, scenario: Scenario) -> Path | None:
        """The committed checkpoint folder for ``scenario`` (None when none is committed), whose
        files a verification record pins."""
        path = committed_checkpoint(self.name, scenario)
        return path if (path / "manifest.json").is_file() else None

    def training_budget(self, scenario: Scenario) -> int:
        """Env steps behind the committed checkpoint for ``scenario`` (its manifest's ``steps``)."""
        return int(read_manifest(committed_checkpoint(self.name, scenario))["steps"])

    def __call__(self, env: RetailParallelEnv) -> Policy:
        if not _rl_installed():
            raise ImportError(
                f"the {self.name!r} baseline needs torch and stable-baselines3: "
                "pip install 'coord-env[rl]' (README: how to get torch's CPU build)"
            )
        path = committed_checkpoint(self.name, env.scenario)
        if not (path / "manifest.json").is_file():
            raise ValueError(
                f"no checkpoint of {self.name!r} is committed for {env.scenario.env_id}; train one "
                f"with 'coord-bench train {self.name} --scenario {env.scenario.name} --out DIR' "
                "and evaluate it with '--policy DIR/checkpoint'"
            )
        return _trainer(str(path), env.scenario).policy()
