"""GAE(lambda) and the PPO losses, as pure functions on tensors.

Notation: step ``t`` of a rollout of ``T`` steps in ``E`` environments; ``r_t`` the scaled team
reward, ``V(s_t)`` the centralized critic's value of the env state, ``done_t = 1`` when step ``t``
was the last of its episode (truncation at the horizon: the state carries the time, so the last
step of an episode has no future and is not bootstrapped).
"""

from __future__ import annotations

import torch

__all__ = [
    "clipped_surrogate_loss",
    "explained_variance",
    "generalized_advantage_estimates",
    "masked_mean",
    "value_loss",
]


def generalized_advantage_estimates(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    episode_ends: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(lambda) advantages and the critic's targets over a rollout.

    ``delta_t = r_t + gamma (1 - done_t) V(s_{t+1}) - V(s_t)`` and
    ``A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}``; the target is ``A_t + V(s_t)``.
    ``V(s_T)`` (the state after the rollout's last step) bootstraps episodes still under way.

    Parameters
    ----------
    rewards, values, episode_ends : Tensor, shape (T, E)
        ``episode_ends`` is 1.0 where step t ended its episode, else 0.0.
    last_values : Tensor, shape (E,)
        ``V(s_T)``; ignored where the last step ended its episode.
    gamma, gae_lambda : float

    Returns
    -------
    advantages, returns : Tensor, shape (T, E)

    Examples
    --------
    >>> r = torch.tensor([[1.0], [1.0]])
    >>> a, g = generalized_advantage_estimates(
    ...     r, torch.zeros(2, 1), torch.zeros(1), torch.tensor([[0.0], [1.0]]), 1.0, 1.0)
    >>> g[:, 0].tolist()
    [2.0, 1.0]
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_values)
    next_value = last_values
    for t in reversed(range(steps)):
        alive = 1.0 - episode_ends[t]
        delta = rewards[t] + gamma * alive * next_value - values[t]
        next_advantage = delta + gamma * gae_lambda * alive * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` (broadcast to its shape) is 1."""
    if mask is None:
        return values.mean()
    mask = mask.expand_as(values)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def clipped_surrogate_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: float,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (to minimize) and its diagnostics.

    With ``rho = exp(log pi(a|o) - log pi_old(a|o))``, the loss is
    ``-mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A))``.

    Parameters
    ----------
    log_probs, old_log_probs : Tensor
        Log-probabilities of the taken actions under the current and the rollout policy: joint,
        or per action dimension with a trailing dimension (one ratio per dimension).
    advantages : Tensor
        Broadcastable to ``log_probs``.
    clip_range : float
        ``eps``.
    mask : Tensor, optional
        1.0 where the action mattered (the inventory agent's action is ignored on ticks where it
        does not act); the means run over those entries only.

    Returns
    -------
    loss : Tensor, scalar (differentiable)
    approx_kl : Tensor, scalar
        ``mean((rho - 1) - log rho)``, an unbiased, non-negative estimate of KL(pi_old || pi).
    clip_fraction : Tensor, scalar
        Share of entries with ``|rho - 1| > eps``.
    """
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_range).float(), mask)
    return loss, approx_kl, clip_fraction


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """The critic's loss ``0.5 mean((V(s_t) - G_t)^2)`` against the GAE targets ``G_t``."""
    return 0.5 * (values - returns).pow(2).mean()


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """``1 - Var(G - V) / Var(G)``: 1 for a perfect critic, 0 for a constant one (NaN if Var(G)=0)."""
    variance = returns.var()
    if variance.item() == 0:
        return float("nan")
    return float(1.0 - (returns - values).var() / variance)
