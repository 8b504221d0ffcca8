"""Stable-Baselines3 PPO trainers for the four SB3 baselines, behind the ``Trainer`` protocol.

- ``centralized`` (:class:`CentralizedTrainer`): one PPO on a
  :class:`~coord_env.adapters.sb3.JointVecEnv` (joint observation and action, team profit).
- ``siloed_rl`` (:class:`SiloedRLTrainer`) and ``ippo`` (:class:`IPPOTrainer`): one PPO per
  department on departmental or team rewards, trained in turn so that each one's environment
  is stationary during its chunk (:class:`DepartmentalTrainer`).
- ``shared_ppo`` (:class:`SharedPPOTrainer`): one parameter-shared PPO over both agents through
  SuperSuit or the batched vector env (:mod:`baselines.rl.sb3.shared`).

Every seed derives from the trainer's ``seed`` (:func:`derived_seed`) and stays below
``TRAINING_SEED_LIMIT``, so no training env is reset with an official evaluation seed. SB3 seeds
process-global generators: two trainers in one process reproduce when built and trained in the
same order. Rewards are scaled by ``reward_scale``; no VecNormalize, as observations are O(1).

``save`` writes one SB3 zip per learner and ``trainer.json`` (the Trainer protocol); ``load``
unpickles nothing (:func:`~baselines.rl.sb3.loading.load_sb3_zip`) and restarts the rollout envs
on fresh seeded episodes, so a resumed run is deterministic but does not continue the
interrupted ones.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import ConstantSchedule
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from baselines.rl.names import trainer_table
from baselines.rl.sb3.config import (
    AlternatingPPOConfig,
    PPOConfig,
    SharedPPOConfig,
    make_config,
)
from baselines.rl.sb3.loading import TRAINER_STATE, load_sb3_zip
from baselines.rl.sb3.policies import DepartmentPolicy, JointPolicy, LivePartner, SharedPolicy
from baselines.rl.sb3.shared import make_shared_vec_env
from baselines.rl.threads import torch_threads
from baselines.rl.trainer import migrate_state
from baselines.rl.views import DEPARTMENTS, JointView, resolve_reward_scale
from coord_env.adapters.sb3 import AgentVecEnv, JointVecEnv
from coord_env.checkpoint import CheckpointError, check_provenance, describe_spaces, read_json
from coord_env.env import RetailParallelEnv
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.harness.seeds import TRAINING_SEED_LIMIT
from coord_env.policy import Policy
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "SB3_TRAINERS",
    "CentralizedTrainer",
    "DepartmentalTrainer",
    "IPPOTrainer",
    "SharedPPOTrainer",
    "SiloedRLTrainer",
    "derived_seed",
]


def derived_seed(seed: int, *stream: int, room: int = 1024) -> int:
    """A seed in ``[0, TRAINING_SEED_LIMIT - room)`` derived from ``seed`` and a stream key.

    ``room`` leaves space for the ``+ index`` that SB3 and SuperSuit add per rollout env, so no
    training env is ever reset with an official evaluation seed.

    Examples
    --------
    >>> a, b = derived_seed(0, 1), derived_seed(0, 2)
    >>> a != b and max(a, b) < TRAINING_SEED_LIMIT - 1024
    True
    """
    state = np.random.SeedSequence((int(seed), *map(int, stream))).generate_state(1, np.uint64)
    return int(state[0] % np.uint64(TRAINING_SEED_LIMIT - room))


def _check_seed(seed: Any) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer in [0, {TRAINING_SEED_LIMIT}), got {seed!r}")
    if not 0 <= seed < TRAINING_SEED_LIMIT:
        raise ValueError(
            f"seed must be an integer in [0, {TRAINING_SEED_LIMIT}) (training seeds; the official "
            f"evaluation seeds start at {TRAINING_SEED_LIMIT}), got {seed}"
        )
    return int(seed)


def _last_update_stats(model: PPO, prefix: str = "") -> dict[str, float]:
    """The ``train/...`` values SB3 logged in the model's last PPO update."""
    logged = model.logger.name_to_value if model.logger is not None else {}
    return {
        prefix + key.removeprefix("train/"): float(value)
        for key, value in logged.items()
        if key.startswith("train/")
    }


class _DecayingLearningRate(BaseCallback):
    """Sets the PPO model's learning rate before each update from the trainer's ``steps_done``.

    SB3's own schedules see only the progress within one ``learn`` call; the trainers call
    ``learn`` once per evaluation interval or chunk, so the decay over the whole budget is applied
    here instead (a :class:`ConstantSchedule` per update, which checkpoints store as SB3 does).
    """

    def __init__(self, trainer: _PPOTrainer):
        super().__init__()
        self.trainer = trainer

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.model.lr_schedule = ConstantSchedule(self.trainer.current_learning_rate())


class _PPOTrainer:
    """Shared machinery: config, seeding, learners as SB3 models, save and load."""

    name: ClassVar[str]
    config_class: ClassVar[type[PPOConfig]] = PPOConfig
    learners: ClassVar[tuple[str, ...]]  # model keys; each one's checkpoint file is <key>.zip

    def __init__(self, scenario: str | Scenario, seed: int, **config: Any):
        self.scenario = load_scenario(scenario)
        self.seed = _check_seed(seed)
        self.config = make_config(self.config_class, config, self.name)
        self.env_options = self.config.env_options()
        self.reward_scale = resolve_reward_scale(self.scenario, self.config.reward_scale)
        self.models: dict[str, PPO] = {}
        self._build()

    # subclasses --------------------------------------------------------------------------------
    def _build(self) -> None:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # common ------------------------------------------------------------------------------------
    def _ppo(self, venv: VecEnv, learner: str) -> PPO:
        seed = derived_seed(self.seed, self.learners.index(learner), 0, room=self.config.n_envs)
        with torch_threads(self.config.torch_threads):
            return PPO(
                "MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **self.config.ppo_kwargs()
            )

    @property
    def steps_done(self) -> int:
        """Environment steps (``env.step`` calls, summed over rollout envs) trained so far."""
        return sum(model.num_timesteps for model in self.models.values())

    def current_learning_rate(self) -> float:
        """The learning rate of the next PPO update (``PPOConfig.lr_decay_steps``)."""
        rate = self.config.learning_rate
        if self.config.lr_decay_steps:
            rate *= max(0.0, 1.0 - self.steps_done / self.config.lr_decay_steps)
        return float(rate)

    def _learn_model(self, model: PPO, timesteps: int) -> None:
        """``model.learn`` for ``timesteps`` more model steps, continuing its counters."""
        callback = _DecayingLearningRate(self) if self.config.lr_decay_steps else None
        with torch_threads(self.config.torch_threads):
            model.learn(total_timesteps=timesteps, reset_num_timesteps=False, callback=callback)

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more environment steps (whole rollouts); return the last
        PPO update's statistics (``value_loss``, ``approx_kl``, ...; empty when ``steps`` is 0)."""
        steps = self._check_steps(steps)
        if steps == 0:
            return {}
        (model,) = self.models.values()
        self._learn_model(model, steps)
        return _last_update_stats(model)

    @staticmethod
    def _check_steps(steps: Any) -> int:
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
        return int(steps)

    def policy(self) -> Policy:
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        """Write ``<learner>.zip`` per learner and ``trainer.json`` (not ``manifest.json``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for key, model in self.models.items():
            buffer = io.BytesIO()
            model.save(buffer)
            atomic_write_bytes(directory / f"{key}.zip", buffer.getvalue())
        state = {
            "baseline": self.name,
            "seed": self.seed,
            "steps_done": self.steps_done,
            "config": dataclasses.asdict(self.config),
            "env_options": self.env_options,
            "scenario": self.scenario.env_id,
            "scenario_hash": self.scenario.content_hash,
            "spaces": describe_spaces(RetailParallelEnv(self.scenario, **self.env_options)),
            **self._extra_state(),
        }
        atomic_write_text(
            directory / TRAINER_STATE, json.dumps(state, indent=1, sort_keys=True) + "\n"
        )

    @classmethod
    def load(cls, directory: str | Path, scenario: str | Scenario) -> _PPOTrainer:
        """Resume a trainer from ``save``'s files, for ``scenario``, unpickling nothing.

        Raises
        ------
        CheckpointError
            If a file is missing, unreadable or a symlink, a weight file holds anything but
            tensors, or the checkpoint is of another baseline, another scenario (name, version or
            parameters) or other spaces.
        """
        directory = Path(directory)
        scenario = load_scenario(scenario)
        state = migrate_state(cls.name, read_json(directory / TRAINER_STATE))
        try:
            expected = describe_spaces(RetailParallelEnv(scenario, **state["env_options"]))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory / TRAINER_STATE} is not usable: {error}") from None
        check_provenance(directory, state, scenario, expected, cls.name)
        try:
            trainer = cls(scenario, state["seed"], **state["config"])
            steps_recorded = int(state["steps_done"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory / TRAINER_STATE} is not usable: {error}") from None
        for index, key in enumerate(cls.learners):
            path = directory / f"{key}.zip"
            if not path.is_file():
                raise CheckpointError(f"checkpoint {directory} is missing {path.name}")
            model = trainer.models[key]
            with torch_threads(trainer.config.torch_threads):
                load_sb3_zip(model, path)  # weights only: nothing in the zip is unpickled
            # a fresh, deterministic episode stream for the resumed run
            model.set_random_seed(
                derived_seed(trainer.seed, index, steps_recorded, room=trainer.config.n_envs)
            )
        trainer._restore_extra_state(state)
        if trainer.steps_done != steps_recorded:
            raise CheckpointError(
                f"checkpoint {directory}: its models hold {trainer.steps_done} steps, but "
                f"{TRAINER_STATE} records {steps_recorded}"
            )
        return trainer


class CentralizedTrainer(_PPOTrainer):
    """``centralized``: one PPO on the joint view (both observations, joint action, team profit).

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
        Training seed in ``[0, TRAINING_SEED_LIMIT)``.
    **config
        Fields of :class:`PPOConfig`.

    Examples
    --------
    >>> trainer = CentralizedTrainer("tiny", seed=0, n_envs=2, n_steps=32, batch_size=32, n_epochs=1)
    >>> stats = trainer.learn(64)
    >>> trainer.steps_done, "value_loss" in stats
    (64, True)
    """

    name = "centralized"
    config_class = PPOConfig
    learners = ("joint",)

    def _build(self) -> None:
        venv = JointVecEnv(self.scenario, self.config.n_envs, self.reward_scale, **self.env_options)
        self.models["joint"] = self._ppo(VecMonitor(venv), "joint")

    def policy(self) -> Policy:
        """The joint model acting deterministically (live: it follows further training)."""
        view = JointView(self.scenario, **self.env_options)
        return JointPolicy(self.models["joint"], view, self.name, self.config.torch_threads)


class DepartmentalTrainer(_PPOTrainer):
    """One PPO per department, trained in turn against the other's current policy.

    ``siloed_rl`` and ``ippo`` differ only in ``reward_mode``. Each department learns on an
    :class:`~coord_env.adapters.sb3.AgentVecEnv` whose partner is the other's live model, in
    alternating chunks of ``chunk_steps`` environment steps (inventory first); the alternation
    carries over between ``learn`` calls and checkpoints.

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
    **config
        Fields of :class:`AlternatingPPOConfig`.
    """

    reward_mode: ClassVar[str]
    config_class = AlternatingPPOConfig
    learners = DEPARTMENTS

    def _build(self) -> None:
        self._turn = 0  # index into DEPARTMENTS of the learner training now
        self._chunk_progress = 0  # its environment steps in the current chunk
        for agent in DEPARTMENTS:
            partner = LivePartner(
                self.models,
                DEPARTMENTS[1 - DEPARTMENTS.index(agent)],
                self.config.partner_deterministic,
            )
            venv = AgentVecEnv(
                self.scenario,
                agent,
                partner,
                self.config.n_envs,
                reward_mode=self.reward_mode,
                reward_scale=self.reward_scale,
                **self.env_options,
            )
            self.models[agent] = self._ppo(VecMonitor(venv), agent)

    @property
    def training_department(self) -> str:
        """The department whose chunk is under way (or starts at the next ``learn``)."""
        return DEPARTMENTS[self._turn]

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more environment steps, alternating departments by chunk.

        Returns
        -------
        dict
            Per department trained in this call, its last PPO update's statistics, keyed
            ``"<agent>/<statistic>"`` (e.g. ``"inventory_0/value_loss"``).
        """
        steps = self._check_steps(steps)
        stats: dict[str, float] = {}
        done = 0
        while done < steps:
            agent = DEPARTMENTS[self._turn]
            model = self.models[agent]
            budget = min(self.config.chunk_steps - self._chunk_progress, steps - done)
            before = model.num_timesteps
            self._learn_model(model, budget)
            advanced = model.num_timesteps - before
            done += advanced
            self._chunk_progress += advanced
            stats.update(_last_update_stats(model, prefix=f"{agent}/"))
            if self._chunk_progress >= self.config.chunk_steps:
                self._turn = 1 - self._turn
                self._chunk_progress = 0
        return stats

    def policy(self) -> Policy:
        """Both departments' models acting deterministically on their own observations (live)."""
        return DepartmentPolicy(self.models, self.name, self.config.torch_threads)

    def _extra_state(self) -> dict[str, Any]:
        return {"turn": self._turn, "chunk_progress": self._chunk_progress}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        try:
            turn, progress = int(state["turn"]), int(state["chunk_progress"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(
                f"{TRAINER_STATE} lacks a valid alternation state ('turn', 'chunk_progress')"
            ) from None
        if turn not in (0, 1) or progress < 0:
            raise CheckpointError(
                f"{TRAINER_STATE}: turn must be 0 or 1 and chunk_progress >= 0, got {turn}, "
                f"{progress}"
            )
        self._turn, self._chunk_progress = turn, progress


class SiloedRLTrainer(DepartmentalTrainer):
    """``siloed_rl``: each department's PPO learns on its departmental reward (revenue for the
    recommender, the operations result for inventory). See :class:`DepartmentalTrainer`.

    Examples
    --------
    >>> trainer = SiloedRLTrainer("tiny", 0, n_envs=2, n_steps=32, batch_size=32, n_epochs=1,
    ...                           chunk_steps=64)
    >>> sorted(trainer.learn(128))[:2]
    ['inventory_0/approx_kl', 'inventory_0/clip_fraction']
    >>> trainer.steps_done, trainer.training_department
    (128, 'inventory_0')
    """

    name = "siloed_rl"
    reward_mode = "departmental"


class IPPOTrainer(DepartmentalTrainer):
    """``ippo``: independent PPO learners, both on the team profit. See
    :class:`DepartmentalTrainer`."""

    name = "ippo"
    reward_mode = "team"


class SharedPPOTrainer(_PPOTrainer):
    """``shared_ppo``: one PPO policy shared by both agents on padded, agent-indicated rows.

    The policy acts with continuous actions (``env_options["continuous_actions"]`` is True). The
    SB3 model steps ``2 * n_envs`` agent rows (SuperSuit's or the batched vector env's,
    ``vec_env``), one parallel-env step per pair of rows:
    ``steps_done`` counts parallel-env steps (the model's timesteps / 2), and ``learn(steps)``
    trains on ``2 * steps`` agent rows. See :func:`make_shared_vec_env` and the module docstring
    for the SuperSuit pitfalls handled.

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
    **config
        Fields of :class:`SharedPPOConfig`.

    Examples
    --------
    >>> trainer = SharedPPOTrainer("tiny", 0, n_envs=1, n_steps=32, batch_size=32, n_epochs=1)
    >>> _ = trainer.learn(64)
    >>> trainer.steps_done, trainer.env_options["continuous_actions"]
    (64, True)
    """

    name = "shared_ppo"
    config_class = SharedPPOConfig
    learners = ("shared",)

    def _build(self) -> None:
        self.num_agents = len(DEPARTMENTS)
        venv = make_shared_vec_env(
            self.scenario,
            self.config.n_envs,
            self.reward_scale,
            self.config.observation_mode,
            self.config.inventory_action,
            self.config.rescale_actions,
            self.config.vec_env,
        )
        self.models["shared"] = self._ppo(venv, "shared")

    @property
    def steps_done(self) -> int:
        return self.models["shared"].num_timesteps // self.num_agents

    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` more parallel-env steps (whole rollouts)."""
        steps = self._check_steps(steps)
        if steps == 0:
            return {}
        model = self.models["shared"]
        self._learn_model(model, steps * self.num_agents)
        return _last_update_stats(model)

    def policy(self) -> Policy:
        """The shared model acting deterministically for both agents (live)."""
        env = RetailParallelEnv(self.scenario, **self.env_options)
        return SharedPolicy(
            self.models["shared"],
            env,
            self.name,
            self.config.torch_threads,
            self.config.rescale_actions,
        )


SB3_TRAINERS: dict[str, type[_PPOTrainer]] = trainer_table(__name__)
