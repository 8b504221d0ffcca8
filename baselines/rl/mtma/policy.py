"""The trained MTMA actors as a deterministic Policy (``reset(seed)``, ``act(observations, infos)``)."""

from __future__ import annotations

import copy

import numpy as np
import torch

from baselines.rl.mtma.networks import Actor, MultiCategorical
from baselines.rl.threads import torch_threads

__all__ = ["MTMAPolicy"]


class MTMAPolicy:
    """Each agent's actor on its own observation, taking the most likely choice per action dimension.

    The actors' memories (stacked observations or GRU states) are carried from step to step and
    cleared by :meth:`reset` (the harness calls it before every episode). The actors are copied, so
    the policy stays fixed while its trainer keeps learning. Its actions mean what they meant in
    training: run it in ``RetailParallelEnv(scenario, **trainer.env_options)`` (order-up-to
    inventory levels by default).

    Parameters
    ----------
    actors : dict of agent -> actor
        Networks from ``baselines.rl.mtma.networks`` (``step(observation, memory)``).

    Examples
    --------
    >>> import coord_env
    >>> from baselines.rl.mtma import MTMATrainer
    >>> trainer = MTMATrainer("tiny", seed=0, n_envs=1, n_steps=20)
    >>> results = coord_env.evaluate(
    ...     lambda env: trainer.policy(), "tiny", seeds=[1, 2], env_options=trainer.env_options
    ... )
    >>> len(results["per_seed"])
    2
    """

    name = "mtma"

    def __init__(self, actors: dict[str, Actor]):
        self.actors = {agent: copy.deepcopy(actor).eval() for agent, actor in actors.items()}
        self.memories: dict[str, torch.Tensor] = {}
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the last episode (the policy is deterministic: ``seed`` is not used)."""
        self.memories = {agent: actor.initial_memory(1) for agent, actor in self.actors.items()}

    @torch.no_grad()
    def act(
        self, observations: dict[str, np.ndarray], infos: dict[str, dict[str, float]]
    ) -> dict[str, np.ndarray]:
        """Integer MultiDiscrete actions (``numpy.int64``) for every agent in ``observations``."""
        actions = {}
        with torch_threads(1):  # tiny networks: more threads only contend
            for agent, observation in observations.items():
                inputs = torch.as_tensor(np.asarray(observation, dtype=np.float32)).unsqueeze(0)
                logits, self.memories[agent] = self.actors[agent].step(inputs, self.memories[agent])
                actions[agent] = MultiCategorical(logits).mode()[0].numpy().astype(np.int64)
        return actions
