"""MTMATrainer: multi-timescale multi-agent PPO on one scenario from one seed (the Trainer protocol).

One iteration collects a rollout (``rollout.py``), computes GAE advantages with the centralized
critic, and runs ``epochs`` passes of minibatch PPO (``losses.py``) on the critic and on the actors
whose turn it is (``schedules.py``), each network with its own Adam optimizer and learning rate.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from baselines.heuristics.base_stock import critical_ratio, poisson_base_stock
from baselines.heuristics.demand_model import expected_demand
from baselines.heuristics.siloed import static_slates
from baselines.rl.mtma.config import MTMAConfig
from baselines.rl.mtma.losses import (
    clipped_surrogate_loss,
    explained_variance,
    generalized_advantage_estimates,
    masked_mean,
    value_loss,
)
from baselines.rl.mtma.networks import (
    Critic,
    MultiCategorical,
    build_actor,
    order_prior_logits,
    sequence_logits,
)
from baselines.rl.mtma.policy import MTMAPolicy
from baselines.rl.mtma.rollout import Rollout, RolloutCollector
from baselines.rl.mtma.schedules import CRITIC, learning_rates, updates_on
from baselines.rl.names import trainer_table
from baselines.rl.trainer import MTMA_FORMAT, load_weights, migrate_state
from coord_env.checkpoint import (
    MANIFEST,
    CheckpointError,
    check_provenance,
    describe_spaces,
    read_json,
    update_checksums,
)
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.env.parallel import RetailParallelEnv
from coord_env.env.rewards import inverse_margin_per_tick
from coord_env.fileio import atomic_write_bytes, atomic_write_text
from coord_env.scenarios import Scenario, load_scenario

__all__ = [
    "MTMA_TRAINERS",
    "MTMAReversedTrainer",
    "MTMASingleTimescaleTrainer",
    "MTMATrainer",
    "env_options_for",
]

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
_SHORT = {INVENTORY: "inventory", RECOMMENDER: "recommender"}


def env_options_for(config: MTMAConfig) -> dict[str, Any]:
    """The ``RetailParallelEnv`` options an MTMA policy with this config trains and acts under."""
    return {"inventory_action": config.inventory_action}


class MTMATrainer:
    """Decentralized actors, a centralized critic on ``state()``, memory, one timescale per learner.

    Parameters
    ----------
    scenario : str or Scenario
    seed : int
        Seeds the network initialization, the action sampling (a ``torch.Generator``) and the
        trainer's ``numpy.random.Generator`` (episode seeds, minibatch order).
    config : MTMAConfig, optional
        Full hyperparameters; by default the preset ``preset``.
    preset : str, optional
        A key of ``PRESETS``; default: the class's ``default_preset`` (``"mtma"`` here).
    **overrides
        Config fields replacing those of ``config`` or of the preset.

    Notes
    -----
    ``learn`` runs whole rollouts, so ``steps_done`` grows by ``n_envs * n_steps`` at a time. Runs
    are bit-for-bit reproducible in one process for a fixed ``torch.set_num_threads``, and
    ``save``/``load`` resume exactly, episodes under way included.

    Examples
    --------
    >>> trainer = MTMATrainer("tiny", seed=0, n_envs=2, n_steps=20, epochs=1)
    >>> stats = trainer.learn(40)
    >>> trainer.steps_done, stats["episodes"]
    (40, 2)
    """

    name: ClassVar[str] = "mtma"
    default_preset: ClassVar[str] = "mtma"

    def __init__(
        self,
        scenario: str | Scenario,
        seed: int,
        config: MTMAConfig | None = None,
        preset: str | None = None,
        **overrides: Any,
    ):
        if config is not None and preset is not None:
            raise ValueError("give either config or preset, not both")
        if config is None:
            config = MTMAConfig.preset(preset or self.default_preset, **overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.scenario = load_scenario(scenario)
        self.seed = int(seed)
        self.config = config
        self.env_options: dict[str, Any] = env_options_for(config)
        self.reward_scale = (
            config.reward_scale
            if config.reward_scale is not None
            else inverse_margin_per_tick(self.scenario)
        )
        probe = RetailParallelEnv(self.scenario, **self.env_options)
        self.spaces = describe_spaces(probe)
        with torch.random.fork_rng(devices=[]):  # seed the initialization, leave the global stream
            torch.manual_seed(self.seed)
            priors = self._priors()
            self.actors = {
                agent: build_actor(
                    probe.observation_space(agent).shape[0],
                    probe.action_space(agent).nvec,
                    config,
                    priors[agent],
                )
                for agent in probe.possible_agents
            }
            self.critic = Critic(probe.state_space.shape[0], config.hidden_size)
        self.networks: dict[str, nn.Module] = {**self.actors, CRITIC: self.critic}
        rates = learning_rates(0, config)
        self.optimizers = {
            name: torch.optim.Adam(network.parameters(), lr=rates[name], eps=1e-5)
            for name, network in self.networks.items()
        }
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.collector = RolloutCollector(
            self.scenario, config.n_envs, self.actors, self.reward_scale, self.rng, self.env_options
        )
        self.steps_done = 0
        self.iteration = 0
        self.stats: dict[str, float] = {}

    def _priors(self) -> dict[str, torch.Tensor | None]:
        """The actors' initial logits (``config.order_prior``, ``config.slate_prior``); None: uniform.

        With a slate prior the recommender starts on the revenue-maximizing static slate (the
        siloed heuristic's), and the order prior is centred on the demand that slate induces;
        otherwise on ``demand_scale`` (the demand under a uniformly random slate).
        """
        s, config = self.scenario, self.config
        priors: dict[str, torch.Tensor | None] = {INVENTORY: None, RECOMMENDER: None}
        demand = s.demand_scale
        if config.slate_prior is not None:
            slates = static_slates(s)
            logits = torch.zeros(slates.size, s.num_products)
            logits[torch.arange(slates.size), torch.as_tensor(slates.reshape(-1))] = float(
                config.slate_prior
            )
            priors[RECOMMENDER] = logits
            demand = np.maximum(
                expected_demand(s, slates, np.ones(s.num_products), np.arange(1)), 1e-6
            )
        if config.order_prior is None:
            return priors
        if config.inventory_action == "order_up_to":  # targets: demand over L_i + 1 periods
            center = (s.mean_lead_time + 1.0) * demand
            if config.order_prior_level == "base_stock":
                center = np.maximum(poisson_base_stock(center, critical_ratio(s)), 1.0)
            priors[INVENTORY] = order_prior_logits(
                center, s.target_step, s.order_levels, config.order_prior
            )
        else:
            priors[INVENTORY] = order_prior_logits(
                demand, s.order_step, s.order_levels, config.order_prior
            )
        return priors

    # ------------------------------------------------------------------ training
    def learn(self, steps: int) -> dict[str, float]:
        """Train for at least ``steps`` env steps, in whole rollouts; return the last update's stats.

        Returns
        -------
        dict
            Per actor (``inventory_*``, ``recommender_*``, from its latest update): ``policy_loss``,
            ``entropy`` (joint, over the action dimensions), ``approx_kl``, ``clip_fraction``,
            ``lr``; the critic's ``value_loss`` (on normalized targets), ``explained_variance``
            (of the targets by the values before the update), ``critic_lr``;
            ``episode_profit`` (mean unscaled profit of the episodes completed in this call, NaN if
            none), ``episodes``, ``steps_done``, ``iteration``.
        """
        rollouts = max(0, math.ceil(steps / self.config.rollout_size))
        profits: list[float] = []
        for _ in range(rollouts):
            rates = learning_rates(self.steps_done, self.config)
            for name, optimizer in self.optimizers.items():
                for group in optimizer.param_groups:
                    group["lr"] = rates[name]
            for actor in self.actors.values():
                actor.train()
            rollout = self.collector.collect(self.actors, self.config.n_steps, self.generator)
            self.steps_done += self.config.rollout_size
            self.stats.update(self._update(rollout, updates_on(self.iteration, self.config)))
            for name, rate in rates.items():
                self.stats[f"{_SHORT.get(name, name)}_lr"] = rate
            self.iteration += 1
            profits += rollout.episode_profits
        return {
            **self.stats,
            "episode_profit": float(np.mean(profits)) if profits else float("nan"),
            "episodes": len(profits),
            "steps_done": self.steps_done,
            "iteration": self.iteration,
        }

    def _minibatches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch's minibatches as (time, env) index grids of shape (L, n), in random order.

        ``L`` is 1 for stacked memory (single transitions) and ``sequence_length`` for the GRU
        (consecutive steps of one env, replayed from the stored GRU state).
        """
        config = self.config
        length = config.sequence_length if config.memory == "gru" else 1
        E = config.n_envs
        chunks = (config.n_steps // length) * E
        per_minibatch = max(1, config.minibatch_size // length)
        order = torch.from_numpy(self.rng.permutation(chunks))
        offsets = torch.arange(length)[:, None]
        grids = []
        for start in range(0, chunks, per_minibatch):
            ids = order[start : start + per_minibatch]
            grids.append(((ids // E) * length + offsets, (ids % E).expand(length, -1)))
        return grids

    def _update(self, rollout: Rollout, active: dict[str, bool]) -> dict[str, float]:
        """PPO epochs on the critic and the active actors; mean diagnostics over minibatches."""
        config = self.config
        with torch.no_grad():
            values = self.critic(rollout.states)
            last_values = self.critic(rollout.last_states)
        # gamma and lambda are per period; a step is one of R ticks (docs/training.md)
        per_tick = 1.0 / self.scenario.ticks_per_period
        advantages, returns = generalized_advantage_estimates(
            rollout.rewards,
            values,
            last_values,
            rollout.episode_ends,
            config.gamma**per_tick,
            config.gae_lambda**per_tick,
        )
        if config.value_normalization:
            self.critic.update_normalization(returns)  # keeps every V(s); rescales the targets
        normalized_returns = self.critic.normalize(returns)
        learners = [name for name, on in active.items() if on]
        actors = [agent for agent in self.actors if active[agent]]
        sums: dict[str, float] = {}
        count = 0
        for _ in range(config.epochs):
            for time_index, env_index in self._minibatches():
                index = (time_index, env_index)
                batch_advantages = advantages[index]
                if batch_advantages.numel() > 1:
                    batch_advantages = (batch_advantages - batch_advantages.mean()) / (
                        batch_advantages.std() + 1e-8
                    )
                loss = value_loss(
                    self.critic.normalized(rollout.states[index]), normalized_returns[index]
                )
                diagnostics = {"value_loss": loss.detach()}
                for agent in actors:
                    logits = sequence_logits(
                        self.actors[agent],
                        rollout.observations[agent][index],
                        rollout.memories[agent][time_index[0], env_index[0]],
                        rollout.episode_starts[index],
                    )
                    distribution = MultiCategorical(logits)
                    mask = rollout.acts[agent][index]
                    log_probs = distribution.dimension_log_probs(rollout.actions[agent][index])
                    old_log_probs = rollout.log_probs[agent][index]
                    if config.ratio == "joint":
                        policy_loss, approx_kl, clip_fraction = clipped_surrogate_loss(
                            log_probs.sum(-1),
                            old_log_probs.sum(-1),
                            batch_advantages,
                            config.clip_range,
                            mask,
                        )
                    else:  # one ratio per dimension; summed over dimensions like the joint one
                        dims = log_probs.shape[-1]
                        policy_loss, approx_kl, clip_fraction = clipped_surrogate_loss(
                            log_probs,
                            old_log_probs,
                            batch_advantages.unsqueeze(-1),
                            config.clip_range,
                            mask.unsqueeze(-1),
                        )
                        policy_loss, approx_kl = policy_loss * dims, approx_kl * dims
                    entropy = masked_mean(distribution.entropy(), mask)
                    loss = loss + policy_loss - config.entropy_coef * entropy
                    short = _SHORT[agent]
                    diagnostics[f"{short}_policy_loss"] = policy_loss.detach()
                    diagnostics[f"{short}_entropy"] = entropy.detach()
                    diagnostics[f"{short}_approx_kl"] = approx_kl
                    diagnostics[f"{short}_clip_fraction"] = clip_fraction
                for name in learners:
                    self.optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                for name in learners:
                    nn.utils.clip_grad_norm_(self.networks[name].parameters(), config.max_grad_norm)
                    self.optimizers[name].step()
                for key, value in diagnostics.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                count += 1
        stats = {key: total / count for key, total in sums.items()}
        stats["explained_variance"] = explained_variance(values.flatten(), returns.flatten())
        return stats

    # ------------------------------------------------------------------ policy and checkpoints
    def policy(self) -> MTMAPolicy:
        """A deterministic snapshot of the current actors, for ``coord_env.evaluate``."""
        return MTMAPolicy(self.actors)

    def save(self, directory: str | Path) -> None:
        """Write ``model.pt`` and ``config.json`` to ``directory`` (the Trainer protocol).

        ``model.pt`` holds the network and optimizer state dicts, the numpy and torch generator
        states, the counters and the batch of episodes under way, so ``load`` then ``learn``
        continues exactly as an uninterrupted run.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": MTMA_FORMAT,
            "name": self.name,
            "scenario": self.scenario.env_id,
            "scenario_hash": self.scenario.content_hash,
            "spaces": self.spaces,
            "seed": self.seed,
            "steps_done": self.steps_done,
            "iteration": self.iteration,
            "networks": {name: network.state_dict() for name, network in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_generator": self.generator.get_state(),
            "rollout": self.collector.state_dict(),
            "stats": dict(self.stats),
        }
        _save_torch(payload, directory / MODEL_FILE)
        document = {
            "baseline": self.name,
            "config": self.config.to_dict(),
            "reward_scale": self.reward_scale,
            "seed": self.seed,
            "steps_done": self.steps_done,
            "scenario": self.scenario.env_id,
            "scenario_hash": self.scenario.content_hash,
        }
        atomic_write_text(
            directory / CONFIG_FILE, json.dumps(document, indent=1, sort_keys=True) + "\n"
        )

    @classmethod
    def load(cls, directory: str | Path, scenario: str | Scenario) -> MTMATrainer:
        """Resume a trainer saved by :meth:`save` (of any MTMA variant) on ``scenario``.

        Raises
        ------
        CheckpointError
            A missing or unreadable file, or a checkpoint of another scenario, spaces or
            baseline.
        """
        directory = Path(directory)
        scenario = load_scenario(scenario)
        document = read_json(directory / CONFIG_FILE)
        variant = MTMA_TRAINERS.get(str(document.get("baseline")))
        try:
            config = MTMAConfig(**document["config"])
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(
                f"{directory / CONFIG_FILE} is not a valid config: {error}"
            ) from None
        if variant is None:
            raise CheckpointError(
                f"checkpoint {directory} is of baseline {document.get('baseline')!r}, not one of "
                f"{', '.join(MTMA_TRAINERS)}"
            )
        payload = load_weights(directory / MODEL_FILE, f"checkpoint file {directory / MODEL_FILE}")
        if "format" not in payload:
            raise CheckpointError(f"{directory / MODEL_FILE} is not an MTMA checkpoint")
        payload = migrate_state(variant.name, payload)
        # the spaces depend on the env options (observation bounds on the inventory action mode)
        spaces = describe_spaces(RetailParallelEnv(scenario, **env_options_for(config)))
        check_provenance(directory, payload, scenario, spaces)
        trainer = variant(scenario, payload["seed"], config=config)
        try:
            trainer._restore(payload)
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            raise CheckpointError(f"{directory / MODEL_FILE} does not fit: {error}") from None
        return trainer

    def _restore(self, payload: dict[str, Any]) -> None:
        for name, network in self.networks.items():
            network.load_state_dict(payload["networks"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(payload["optimizers"][name])
        self.rng.bit_generator.state = json.loads(payload["numpy_rng"])
        self.generator.set_state(payload["torch_generator"])
        if payload.get("rollout") is not None:
            self.collector.load_state_dict(payload["rollout"])
        self.steps_done = int(payload["steps_done"])
        self.iteration = int(payload["iteration"])
        self.stats = dict(payload["stats"])


def drop_episodes_under_way(directory: str | Path) -> None:
    """Make a saved MTMA checkpoint policy-sized: drop the batch of episodes under way.

    The networks, optimizers, generators and counters stay, so the checkpoint evaluates and
    resumes; a resumed run starts a fresh batch of episodes (:func:`migrate_state`) instead of
    continuing the saved ones exactly. The batch's simulator state grows with ``n_envs``: the
    committed checkpoints stay small this way (docs/training.md). A checkpoint folder's manifest
    is re-hashed (:func:`~coord_env.checkpoint.update_checksums`), its other fields kept.
    """
    directory = Path(directory)
    payload = load_weights(directory / MODEL_FILE, f"checkpoint file {directory / MODEL_FILE}")
    payload["rollout"] = None
    _save_torch(payload, directory / MODEL_FILE)
    if (directory / MANIFEST).is_file():
        update_checksums(directory)


def _save_torch(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to memory, then to ``path`` atomically (never a half-written model.pt)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


class MTMASingleTimescaleTrainer(MTMATrainer):
    """The single-timescale ablation: every learner at one learning rate, updated every rollout."""

    name: ClassVar[str] = "mtma_single_timescale"
    default_preset: ClassVar[str] = "single_timescale"


class MTMAReversedTrainer(MTMATrainer):
    """The actors' timescales swapped: the inventory actor learns faster than the recommender."""

    name: ClassVar[str] = "mtma_reversed"
    default_preset: ClassVar[str] = "reversed"


MTMA_TRAINERS: dict[str, type[MTMATrainer]] = trainer_table(__name__)
