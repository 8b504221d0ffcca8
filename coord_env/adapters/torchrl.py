"""TorchRL adapter: B retailers of :func:`coord_env.vector_env` as one ``EnvBase`` of batch size B.

The keys, shapes and dtypes are those of TorchRL's
``PettingZooWrapper(coord_env.parallel_env(...), categorical_actions=True)`` with a leading batch
dimension B, so code written for the wrapper (TorchRL's MAPPO/IPPO tutorials) runs on it unchanged;
one call of the vector env steps the whole batch instead of one retailer per Python round trip.
Requires ``torch``, ``tensordict`` and ``torchrl`` (the ``[examples]`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, MultiCategorical, TensorSpec, Unbounded
from torchrl.envs import EnvBase

from coord_env.env.vector import RetailVectorEnv
from coord_env.scenarios import Scenario

__all__ = ["RetailTorchRLEnv", "group_map"]


def group_map(agents: list[str]) -> dict[str, list[str]]:
    """TorchRL's default grouping of parallel agents: ``<group>_<int>`` joins ``<group>``.

    Parameters
    ----------
    agents : list of str
        The env's ``possible_agents``.

    Returns
    -------
    dict of group -> list of agents
        As ``PettingZooWrapper`` builds it; an agent not named ``<group>_<int>`` is its own group.

    Examples
    --------
    >>> group_map(["inventory_0", "recommender_0"])
    {'inventory': ['inventory_0'], 'recommender': ['recommender_0']}
    """
    groups: dict[str, list[str]] = {}
    for agent in agents:
        prefix, _, suffix = agent.rpartition("_")
        group = prefix if prefix and suffix.lstrip("-").isdigit() else agent
        groups.setdefault(group, []).append(agent)
    return groups


def _space_spec(space: spaces.Space) -> TensorSpec:
    """The TorchRL spec of one agent's Box or MultiDiscrete space, as PettingZooWrapper makes it
    with ``categorical_actions=True`` (equal levels in every dimension: one Categorical)."""
    if isinstance(space, spaces.Box):
        return Bounded(
            low=torch.as_tensor(space.low),
            high=torch.as_tensor(space.high),
            shape=space.shape,
            dtype=torch.float32,
        )
    if isinstance(space, spaces.MultiDiscrete):
        nvec = space.nvec.reshape(-1)
        if (nvec == nvec[0]).all():
            return Categorical(n=int(nvec[0]), shape=space.shape, dtype=torch.int64)
        return MultiCategorical(nvec=torch.as_tensor(nvec), dtype=torch.int64)
    raise TypeError(f"space: expected Box or MultiDiscrete, got {type(space).__name__}")


def _flag_spec(shape: tuple[int, ...]) -> Categorical:
    return Categorical(n=2, shape=shape, dtype=torch.bool)


class RetailTorchRLEnv(EnvBase):
    """``num_envs`` retailers as a TorchRL ``EnvBase`` with ``batch_size=[B]``.

    Layout (B retailers, group ``g`` of ``n`` agents; here ``inventory`` and ``recommender``, one
    agent each)::

        (g, "observation")  float32 (B, n, obs_dim)
        (g, "action")       int64 (B, n, action_dim); float32 with continuous_actions=True
        (g, "reward")       float32 (B, n, 1)
        (g, "done" | "terminated" | "truncated")  bool (B, n, 1)
        "done" | "terminated" | "truncated"       bool (B, 1), any agent's flag
        (g, "info", key)    float32 (B, n), with return_info=True
        "state"             float32 (B, state_dim), with return_state=True

    Every retailer's episode ends at the horizon on the same step (``truncated`` True, never
    ``terminated``); TorchRL then resets through ``_reset`` (``rollout``, ``step_and_maybe_reset``
    and the collectors do), which starts B new episodes. A partial ``_reset`` is refused.

    Parameters
    ----------
    scenario : str or Scenario
        A catalog name (``coord_env.list_scenarios()``) or a Scenario.
    num_envs : int
        B, the number of retailers.
    return_state : bool
        Add the vector env's ``state()`` under ``"state"``, as the wrapper's ``return_state``.
    return_info : bool
        Add the per-agent infos under ``(group, "info")``, every key as ``PettingZooWrapper`` gives
        it (the keys of the vector env's reset infos). Off by default: converting them on every
        step is most of a wrapper's cost, and rewards, observations and flags do not need them.
    device : str or torch.device, optional
        Where the tensordicts live (default: the CPU, where the simulation runs).
    **env_options
        Options of :func:`coord_env.vector_env` (``observation_mode``, ``reward_mode``,
        ``continuous_actions``, ..., scenario overrides such as ``horizon=20``), except
        ``autoreset_mode``: TorchRL resets the batch through ``_reset``.

    Notes
    -----
    Seeding follows ``PettingZooWrapper``: ``set_seed(s)`` resets with seed ``s`` at once, and a
    later ``reset()`` continues that generator; ``reset(seed=s)`` starts the same episodes as
    ``coord_env.vector_env(...).reset(seed=s)``. With ``num_envs=1`` every step equals the
    wrapper's over ``coord_env.parallel_env`` bit for bit under the same seed and actions.

    Raises
    ------
    ValueError
        ``autoreset_mode`` among ``env_options``, or a bad option (raised by the vector env).

    Examples
    --------
    >>> from coord_env.adapters.torchrl import RetailTorchRLEnv
    >>> env = RetailTorchRLEnv("tiny", num_envs=4)
    >>> td = env.rollout(3, break_when_any_done=False)
    >>> tuple(td["next", "inventory", "reward"].shape)
    (4, 3, 1, 1)
    """

    def __init__(
        self,
        scenario: str | Scenario = "default",
        num_envs: int = 1,
        *,
        return_state: bool = False,
        return_info: bool = False,
        device: str | torch.device | None = None,
        **env_options: Any,
    ):
        if "autoreset_mode" in env_options:
            raise ValueError(
                "autoreset_mode: not an option of the TorchRL adapter, which resets the batch "
                "through TorchRL's _reset (rollout, step_and_maybe_reset, collectors)"
            )
        vector_env = RetailVectorEnv(scenario, num_envs, autoreset_mode="disabled", **env_options)
        super().__init__(device=device, batch_size=torch.Size([vector_env.num_envs]))
        self.vector_env = vector_env
        self.return_state = bool(return_state)
        self.return_info = bool(return_info)
        self.group_map = group_map(vector_env.possible_agents)
        _, reset_infos = vector_env.reset()  # as PettingZooWrapper: the info keys of a reset
        self._info_keys = {agent: list(info) for agent, info in reset_infos.items()}
        self._make_specs()

    @property
    def scenario(self) -> Scenario:
        """The scenario every retailer runs."""
        return self.vector_env.scenario

    def _make_specs(self) -> None:
        """The specs PettingZooWrapper builds for one retailer, expanded over the batch."""
        vector_env = self.vector_env
        observation, action, reward = Composite(), Composite(), Composite()
        done = Composite({key: _flag_spec((1,)) for key in ("done", "terminated", "truncated")})
        for group, agents in self.group_map.items():
            n = len(agents)
            per_agent = []
            for agent in agents:
                entries: dict[str, TensorSpec] = {
                    "observation": _space_spec(vector_env.single_observation_space(agent))
                }
                if self.return_info:
                    entries["info"] = Composite(
                        {
                            key: Unbounded(shape=(), dtype=torch.float32)
                            for key in self._info_keys[agent]
                        }
                    )
                per_agent.append(Composite(entries))
            observation[group] = torch.stack(per_agent, dim=0)
            action[group] = torch.stack(
                [
                    Composite({"action": _space_spec(vector_env.single_action_space(a))})
                    for a in agents
                ],
                dim=0,
            )
            reward[group] = Composite(
                {"reward": Unbounded(shape=(n, 1), dtype=torch.float32)}, shape=(n,)
            )
            done[group] = Composite(
                {key: _flag_spec((n, 1)) for key in ("done", "terminated", "truncated")},
                shape=(n,),
            )
        if self.return_state:
            observation["state"] = _space_spec(vector_env.single_state_space)
        B = self.batch_size[0]
        specs = [spec.expand(B) for spec in (observation, action, reward, done)]
        if self.device is not None:
            specs = [spec.to(self.device) for spec in specs]
        self.observation_spec, self.action_spec, self.reward_spec, self.done_spec = specs

    # ------------------------------------------------------------------ EnvBase
    def _set_seed(self, seed: int | None) -> None:
        """Reset the batch with ``seed`` now, as ``PettingZooWrapper._set_seed`` does."""
        self.vector_env.reset(seed=seed)

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs: Any) -> TensorDictBase:
        """Start B new episodes (``seed`` and ``options`` go to the vector env's ``reset``).

        Raises
        ------
        ValueError
            A ``_reset`` mask that resets some retailers and not others: they share one clock.
        """
        if tensordict is not None:
            self._check_full_reset(tensordict)
        seed, options = kwargs.pop("seed", None), kwargs.pop("options", None)
        kwargs.pop("set_state", None)  # TorchRL's flag for envs that restore a given state
        if kwargs:
            raise TypeError(f"reset() got unexpected keyword arguments {sorted(kwargs)}")
        observations, infos = self.vector_env.reset(seed=seed, options=options)
        B = self.batch_size[0]
        flags = np.zeros((B, len(self.vector_env.possible_agents)), dtype=bool)
        return self._output(observations, None, flags, flags, infos)

    def _check_full_reset(self, tensordict: TensorDictBase) -> None:
        B = self.batch_size[0]
        masks = [tensordict.get(key, None) for key in self.reset_keys]
        masks = [mask.reshape(B, -1).any(-1) for mask in masks if mask is not None]
        if not masks:
            return
        rows = torch.stack(masks, dim=-1).any(-1)
        if not rows.all():
            raise ValueError(
                f"_reset: this env resets all {B} retailers together (their episodes share one "
                f"horizon), so the mask must be all True; got True for rows "
                f"{rows.nonzero().flatten().tolist()} only"
            )

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Step every retailer with the actions under ``(group, "action")``.

        Raises
        ------
        InvalidActionError
            A bad action, from the vector env (naming the agent, the field and the batch row);
            nothing changes and the env stays usable.
        RuntimeError
            A step after the episodes ended without a reset.
        """
        actions = {}
        for group, agents in self.group_map.items():
            group_action = tensordict.get((group, "action")).detach().cpu()
            for index, agent in enumerate(agents):
                actions[agent] = group_action[:, index].numpy()
        observations, rewards, terminations, truncations, infos = self.vector_env.step(actions)
        agents = self.vector_env.possible_agents
        terminated = np.stack([terminations[agent] for agent in agents], axis=1)
        truncated = np.stack([truncations[agent] for agent in agents], axis=1)
        return self._output(observations, rewards, terminated, truncated, infos)

    def _output(
        self,
        observations: dict[str, np.ndarray],
        rewards: dict[str, np.ndarray] | None,
        terminated: np.ndarray,
        truncated: np.ndarray,
        infos: dict[str, dict[str, np.ndarray]],
    ) -> TensorDict:
        """The tensordict of a step (``rewards`` given) or a reset; flags are (B, agents)."""
        B = self.batch_size[0]
        column = {agent: i for i, agent in enumerate(self.vector_env.possible_agents)}
        done = terminated | truncated
        out: dict[str, Any] = {}
        for group, agents in self.group_map.items():
            n, columns = len(agents), [column[agent] for agent in agents]
            entries: dict[str, Any] = {
                "observation": torch.from_numpy(
                    np.stack([observations[agent] for agent in agents], axis=1)
                ),
                "done": torch.from_numpy(done[:, columns, None]),
                "terminated": torch.from_numpy(terminated[:, columns, None]),
                "truncated": torch.from_numpy(truncated[:, columns, None]),
            }
            if rewards is not None:
                reward = np.stack([rewards[agent] for agent in agents], axis=1)
                entries["reward"] = torch.from_numpy(reward.astype(np.float32)[..., None])
            if self.return_info:
                keys = self._info_keys[agents[0]]
                table = np.stack(
                    [np.stack([infos[agent][key] for key in keys], axis=-1) for agent in agents],
                    axis=1,
                ).astype(np.float32)  # (B, n, keys), one conversion for every key
                entries["info"] = TensorDict(
                    dict(zip(keys, torch.from_numpy(table).unbind(-1), strict=True)),
                    batch_size=(B, n),
                )
            out[group] = TensorDict(entries, batch_size=(B, n))
        out["done"] = torch.from_numpy(done.any(axis=1, keepdims=True))
        out["terminated"] = torch.from_numpy(terminated.any(axis=1, keepdims=True))
        out["truncated"] = torch.from_numpy(truncated.any(axis=1, keepdims=True))
        if self.return_state:
            out["state"] = torch.from_numpy(self.vector_env.state())
        result = TensorDict(out, batch_size=(B,))
        return result if self.device is None else result.to(self.device)
