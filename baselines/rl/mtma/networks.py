"""The MTMA networks: decentralized actors with memory over MultiDiscrete actions, and the critic.

An actor maps its own observations to one categorical head per action dimension (a product's
order level, a slate slot's product). Its memory is either the last ``S`` observations stacked
(:class:`StackedActor`, zeros before the episode start) or a GRU state carried over the episode
(:class:`RecurrentActor`). Both expose the same step interface, so rollouts, updates and the
deployed policy run either: ``logits, memory = actor.step(observation, memory)``.

The critic sees the env's ``state()``: the full, time-aware state (including the hidden drift),
which is Markov for the dynamics, so it needs no memory.

Initialization follows SB3/CleanRL: orthogonal weights with gain sqrt(2) in hidden layers, 0.01
on the policy heads (near-uniform initial policies) and 1 on the value head; zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from baselines.rl.mtma.config import MTMAConfig

__all__ = [
    "Critic",
    "MultiCategorical",
    "RecurrentActor",
    "StackedActor",
    "build_actor",
    "layer_init",
    "order_prior_logits",
]

HIDDEN_GAIN = math.sqrt(2.0)
POLICY_GAIN = 0.01
VALUE_GAIN = 1.0
NORMALIZATION_DECAY = 0.9  # per rollout: the target statistics follow the improving policy


def layer_init(layer: nn.Linear, gain: float = HIDDEN_GAIN) -> nn.Linear:
    """Orthogonal weights with ``gain`` and zero bias (SB3 ``init_weights``, CleanRL ``layer_init``)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(in_size: int, hidden_size: int, layers: int = 2) -> nn.Sequential:
    modules: list[nn.Module] = []
    for _ in range(layers):
        modules += [layer_init(nn.Linear(in_size, hidden_size)), nn.Tanh()]
        in_size = hidden_size
    return nn.Sequential(*modules)


class MultiCategorical:
    """Independent categoricals over the dimensions of a MultiDiscrete space, vectorized.

    The logits have shape ``(..., D, K)`` with ``K = max(nvec)``; choices beyond a dimension's
    ``nvec[d]`` are masked out. Equal in law to SB3's ``MultiCategoricalDistribution`` (one
    ``Categorical`` per dimension, log-probabilities and entropies summed over dimensions), but one
    tensor op per call instead of one distribution object per dimension, which matters at one
    call per env step.
    """

    def __init__(self, logits: torch.Tensor):
        self.log_probs = logits.log_softmax(dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Joint log-probability ``sum_d log pi_d(a_d)`` of actions ``(..., D)``, shape ``(...)``."""
        return self.dimension_log_probs(actions).sum(-1)

    def dimension_log_probs(self, actions: torch.Tensor) -> torch.Tensor:
        """Per-dimension log-probabilities ``log pi_d(a_d)`` of actions ``(..., D)``, ``(..., D)``."""
        return self.log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """Joint entropy ``sum_d H(pi_d)``, shape ``(...)``."""
        return -(self.log_probs.exp() * self.log_probs).sum(dim=(-2, -1))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per dimension by inverse CDF on uniforms from ``generator``, ``(..., D)``."""
        cdf = self.log_probs.exp().cumsum(dim=-1)
        uniform = torch.rand(cdf.shape[:-1], generator=generator, dtype=cdf.dtype)
        choice = (cdf < uniform.unsqueeze(-1)).sum(dim=-1)
        return choice.clamp(max=cdf.shape[-1] - 1)  # cdf[-1] may round to just below 1

    def mode(self) -> torch.Tensor:
        """The most likely choice per dimension (the deterministic action), ``(..., D)``."""
        return self.log_probs.argmax(dim=-1)


class _Heads(nn.Module):
    """One linear layer giving the ``(D, K)`` logits of a MultiDiscrete space, invalid choices masked."""

    def __init__(
        self, hidden_size: int, nvec: Sequence[int], prior_logits: torch.Tensor | None = None
    ):
        super().__init__()
        nvec = [int(n) for n in nvec]
        self.dims, self.choices = len(nvec), max(nvec)
        self.linear = layer_init(nn.Linear(hidden_size, self.dims * self.choices), POLICY_GAIN)
        if prior_logits is not None:  # the initial policy: softmax of the prior per dimension
            with torch.no_grad():
                self.linear.bias.copy_(prior_logits.reshape(-1))
        invalid = torch.arange(self.choices)[None, :] >= torch.tensor(nvec)[:, None]
        self.register_buffer("invalid", invalid, persistent=False)
        self.ragged = bool(invalid.any())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.linear(features).unflatten(-1, (self.dims, self.choices))
        if self.ragged:
            logits = logits.masked_fill(self.invalid, -1e9)
        return logits


class StackedActor(nn.Module):
    """An MLP actor on the last ``stack_size`` observations side by side.

    The memory is those observations, ``(B, stack_size, obs_dim)``, oldest first; zeros stand for
    the steps before the episode start.
    """

    def __init__(
        self,
        obs_dim: int,
        nvec: Sequence[int],
        hidden_size: int,
        stack_size: int,
        prior_logits: torch.Tensor | None = None,
    ):
        super().__init__()
        self.obs_dim, self.stack_size = obs_dim, stack_size
        self.memory_shape = (stack_size, obs_dim)
        self.body = _mlp(obs_dim * stack_size, hidden_size)
        self.heads = _Heads(hidden_size, nvec, prior_logits)

    def initial_memory(self, batch: int) -> torch.Tensor:
        """Zeros of shape ``(batch, stack_size, obs_dim)``: nothing seen yet."""
        return torch.zeros(batch, *self.memory_shape)

    def step(
        self, observation: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, D, K)`` for ``observation`` ``(B, obs_dim)`` and the updated memory."""
        memory = torch.cat([memory[:, 1:], observation.unsqueeze(1)], dim=1)
        return self.heads(self.body(memory.flatten(1))), memory


class RecurrentActor(nn.Module):
    """A GRU actor: encoder, GRU cell over the episode, heads. The memory is the GRU state."""

    def __init__(
        self,
        obs_dim: int,
        nvec: Sequence[int],
        hidden_size: int,
        prior_logits: torch.Tensor | None = None,
    ):
        super().__init__()
        self.obs_dim = obs_dim
        self.memory_shape = (hidden_size,)
        self.encoder = nn.Sequential(layer_init(nn.Linear(obs_dim, hidden_size)), nn.Tanh())
        self.cell = nn.GRUCell(hidden_size, hidden_size)
        for name, parameter in self.cell.named_parameters():
            if name.startswith("weight"):
                nn.init.orthogonal_(parameter, 1.0)
            else:
                nn.init.zeros_(parameter)
        self.heads = _Heads(hidden_size, nvec, prior_logits)

    def initial_memory(self, batch: int) -> torch.Tensor:
        """A zero GRU state ``(batch, hidden_size)``."""
        return torch.zeros(batch, *self.memory_shape)

    def step(
        self, observation: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, D, K)`` for ``observation`` ``(B, obs_dim)`` and the next GRU state."""
        hidden = self.cell(self.encoder(observation), memory)
        return self.heads(hidden), hidden


Actor = StackedActor | RecurrentActor


def build_actor(
    obs_dim: int,
    nvec: Sequence[int] | np.ndarray,
    config: MTMAConfig,
    prior_logits: torch.Tensor | None = None,
) -> Actor:
    """The actor for ``config.memory`` (``"stack"`` or ``"gru"``).

    ``prior_logits`` ``(D, K)``, when given, set the heads' biases: the initial policy is their
    softmax per dimension (the weights start near zero), instead of near-uniform.
    """
    if config.memory == "gru":
        return RecurrentActor(obs_dim, list(nvec), config.hidden_size, prior_logits)
    return StackedActor(obs_dim, list(nvec), config.hidden_size, config.stack_size, prior_logits)


def order_prior_logits(
    center: np.ndarray, step: np.ndarray, levels: int, width: float
) -> torch.Tensor:
    """Initial logits of the inventory heads: levels near a sensible number of units per product.

    Level ``g`` of product ``i`` means ``g * step_i`` units (an order quantity, or an order-up-to
    target); the logits are those of a normal over units with mean ``center_i`` and standard
    deviation ``width * center_i``, i.e. ``-(g * step_i - center_i)^2 / (2 (width * center_i)^2)``,
    shape ``(N, levels)``. The trainer centres order quantities on one period's mean demand
    ``mu_i`` and order-up-to targets on ``(L_i + 1) mu_i``, the demand over lead time and review.

    Why: the levels span 0 to 5 mu_i, so a uniform initial policy orders 2.5 times the demand
    and loses several times the attainable profit; PPO then spends most of its budget unlearning
    that. Starting near "replace mean demand" leaves it the part worth learning (when and how
    much to deviate).
    """
    mu = np.asarray(center, dtype=np.float64)[:, None]
    units = np.arange(levels, dtype=np.float64)[None, :] * np.asarray(step)[:, None]
    return torch.tensor(-0.5 * ((units - mu) / (width * mu)) ** 2, dtype=torch.float32)


def sequence_logits(
    actor: Actor,
    observations: torch.Tensor,
    initial_memory: torch.Tensor,
    episode_starts: torch.Tensor,
) -> torch.Tensor:
    """Replay an actor over sequences: logits ``(L, B, D, K)``.

    Parameters
    ----------
    observations : Tensor, shape (L, B, obs_dim)
    initial_memory : Tensor, shape (B, *memory_shape)
        The memory before the first step, as stored during the rollout.
    episode_starts : Tensor, shape (L, B)
        1.0 where the observation is the first of an episode: the memory is cleared before it.
    """
    shape = (-1,) + (1,) * (initial_memory.dim() - 1)
    memory, out = initial_memory, []
    for t in range(observations.shape[0]):
        memory = memory * (1.0 - episode_starts[t]).view(shape)
        logits, memory = actor.step(observations[t], memory)
        out.append(logits)
    return torch.stack(out)


class Critic(nn.Module):
    """The centralized value ``V(s)`` of the env state ``s = env.state()``, with value normalization.

    The network predicts ``(V(s) - m) / sd``, where ``m`` and ``sd`` track the mean and standard
    deviation of the value targets (:meth:`update_normalization`); when they change, the output
    layer is rescaled so that ``V(s)`` itself does not move (PopArt, van Hasselt et al. 2016). So
    one learning rate fits returns of -300 (random orders) and +30 (a good policy) alike.
    """

    def __init__(self, state_dim: int, hidden_size: int):
        super().__init__()
        self.body = _mlp(state_dim, hidden_size)
        self.value = layer_init(nn.Linear(hidden_size, 1), VALUE_GAIN)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def normalized(self, state: torch.Tensor) -> torch.Tensor:
        """``(V(s) - m) / sd`` for states ``(..., state_dim)``, shape ``(...)``."""
        return self.value(self.body(state)).squeeze(-1)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """Values ``V(s)`` of states ``(..., state_dim)``, shape ``(...)``."""
        return self.normalized(state) * self.target_std + self.target_mean

    def normalize(self, targets: torch.Tensor) -> torch.Tensor:
        """Value targets on the network's output scale."""
        return (targets - self.target_mean) / self.target_std

    @torch.no_grad()
    def update_normalization(
        self, targets: torch.Tensor, decay: float = NORMALIZATION_DECAY
    ) -> None:
        """Move ``m`` and ``sd`` toward the targets' moments (debiased moving averages) and
        rescale the output layer so that every ``V(s)`` stays the same."""
        self.updates += 1
        weight = (1.0 - decay) / (1.0 - decay ** int(self.updates))  # 1 on the first update
        old_mean, old_std = self.target_mean.clone(), self.target_std.clone()
        second_moment = old_std**2 + old_mean**2
        mean = old_mean + weight * (targets.mean() - old_mean)
        second_moment = second_moment + weight * (targets.pow(2).mean() - second_moment)
        std = (second_moment - mean**2).clamp(min=1e-8).sqrt().clamp(min=1e-4)
        self.value.weight.mul_(old_std / std)
        self.value.bias.mul_(old_std).add_(old_mean - mean).div_(std)
        self.target_mean.copy_(mean)
        self.target_std.copy_(std)
