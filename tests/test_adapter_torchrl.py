"""Tests of the batched TorchRL adapter (coord_env.adapters.torchrl): TorchRL's spec checks, the
specs of PettingZooWrapper over the single env with a batch dim, and the same trajectories, bit
for bit, as the wrapper (B=1) and the vector env (B=7) through the horizon and the reset after."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torchrl")

import torch
from tensordict import TensorDict
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.utils import check_env_specs

import coord_env
from coord_env.adapters.torchrl import RetailTorchRLEnv, group_map

AGENTS = {"inventory": "inventory_0", "recommender": "recommender_0"}
SPECS = ("full_observation_spec", "full_action_spec", "full_reward_spec", "full_done_spec")
FLAGS = ("done", "terminated", "truncated")
HORIZON = 6  # short episodes, so that every test crosses the reset into the next one


def wrapper(scenario: str = "tiny", **options) -> PettingZooWrapper:
    return_state = options.pop("return_state", False)
    with warnings.catch_warnings():  # "PettingZoo in TorchRL is tested using version == ..."
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL", category=UserWarning)
        return PettingZooWrapper(
            coord_env.parallel_env(scenario, **options),
            categorical_actions=True,
            return_state=return_state,
        )


def random_actions(env: RetailTorchRLEnv, steps: int, seed: int) -> list[TensorDict]:
    """Valid random actions of every group for ``steps`` steps (torch's generator, seeded)."""
    torch.manual_seed(seed)
    return [env.full_action_spec.rand() for _ in range(steps)]


def assert_equal(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, what
    assert torch.equal(ours, theirs), what


@pytest.mark.parametrize("num_envs", [1, 7])
@pytest.mark.parametrize("continuous_actions", [False, True])
def test_check_env_specs(num_envs, continuous_actions):
    env = RetailTorchRLEnv("small", num_envs, continuous_actions=continuous_actions)
    check_env_specs(env, seed=0)
    env = RetailTorchRLEnv("tiny", num_envs, return_info=True, return_state=True, horizon=2)
    check_env_specs(env, seed=1)  # a rollout of 3 steps crosses the horizon of 2 ticks
    assert env.batch_size == torch.Size([num_envs])


@pytest.mark.parametrize("num_envs", [1, 7])
@pytest.mark.parametrize("continuous_actions", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_specs_are_the_wrappers_with_a_batch_dim(num_envs, continuous_actions, return_state):
    options = {"continuous_actions": continuous_actions, "return_state": return_state}
    theirs = wrapper("small", **options)
    ours = RetailTorchRLEnv("small", num_envs, return_info=True, **options)
    assert ours.group_map == theirs.group_map == group_map(["inventory_0", "recommender_0"])
    for name in (*SPECS, "full_state_spec"):
        spec = getattr(theirs, name)
        assert getattr(ours, name) == spec.expand(num_envs, *spec.shape), name
    assert ours.reward_keys == theirs.reward_keys
    assert ours.done_keys == theirs.done_keys
    assert ours.action_keys == theirs.action_keys
    # Without infos (the default), the same specs less the (group, "info") entries.
    lean = RetailTorchRLEnv("small", num_envs, **options)
    expected = theirs.full_observation_spec.clone()
    for group in list(expected.keys()):
        if group != "state":
            del expected[group, "info"]
    assert lean.full_observation_spec == expected.expand(num_envs)
    for name in SPECS[1:]:
        assert getattr(lean, name) == getattr(ours, name), name


@pytest.mark.parametrize("continuous_actions", [False, True])
def test_one_retailer_steps_as_the_wrapper_over_the_single_env(continuous_actions):
    """B=1, the same seed and actions: every observation, reward, flag, info and state equal bit
    for bit to PettingZooWrapper's (with the batch dim), through two resets at the horizon."""
    options = {"continuous_actions": continuous_actions, "horizon": HORIZON, "return_state": True}
    ours = RetailTorchRLEnv("tiny", 1, return_info=True, **options)
    theirs = wrapper("tiny", **options)
    ours.set_seed(5)
    theirs.set_seed(5)
    td_ours, td_theirs = ours.reset(), theirs.reset()
    keys = list(theirs.full_observation_spec.keys(True, True))
    for key in keys:
        assert_equal(td_ours[key], td_theirs[key].unsqueeze(0), f"reset {key}")
    steps = 2 * HORIZON + 2
    for t, actions in enumerate(random_actions(ours, steps, seed=t_seed(continuous_actions))):
        td_ours.update(actions)
        td_theirs.update(actions[0])
        step_ours, td_ours = ours.step_and_maybe_reset(td_ours)
        step_theirs, td_theirs = theirs.step_and_maybe_reset(td_theirs)
        out_ours, out_theirs = step_ours["next"], step_theirs["next"]
        for key in out_theirs.keys(True, True):
            assert_equal(out_ours[key], out_theirs[key].unsqueeze(0), f"step {t} {key}")
        assert bool(out_ours["done"]) == ((t + 1) % HORIZON == 0)
        for key in keys:  # after the reset at the horizon: the next episode's first observation
            assert_equal(td_ours[key], td_theirs[key].unsqueeze(0), f"after step {t} {key}")


def t_seed(continuous_actions: bool) -> int:
    return 11 if continuous_actions else 12


@pytest.mark.parametrize("continuous_actions", [False, True])
def test_seven_retailers_step_as_the_vector_env(continuous_actions):
    """B=7: the vector env's arrays, converted as PettingZooWrapper converts them (float32
    rewards and infos, bool flags), through two resets; reset(seed=s) is the vector env's."""
    B, options = 7, {"continuous_actions": continuous_actions, "horizon": HORIZON}
    ours = RetailTorchRLEnv("small", B, return_info=True, return_state=True, **options)
    vector = coord_env.vector_env("small", B, autoreset_mode="disabled", **options)
    td = ours.reset(seed=3)
    observations, infos = vector.reset(seed=3)

    def check(td: TensorDict, observations, rewards, terminations, truncations, infos, what):
        for group, agent in AGENTS.items():
            assert_equal(
                td[group, "observation"], torch.from_numpy(observations[agent])[:, None], what
            )
            for key, value in infos[agent].items():
                expected = torch.tensor(value, dtype=torch.float32)[:, None]
                assert_equal(td[group, "info", key], expected, f"{what} info {key}")
            if rewards is not None:
                expected = torch.tensor(rewards[agent], dtype=torch.float32)[:, None, None]
                assert_equal(td[group, "reward"], expected, f"{what} reward")
            done = terminations[agent] | truncations[agent]
            for flag, value in zip(
                FLAGS, (done, terminations[agent], truncations[agent]), strict=True
            ):
                assert_equal(td[group, flag], torch.from_numpy(value)[:, None, None], what)
        assert_equal(td["state"], torch.from_numpy(vector.state()), what)

    no = {agent: np.zeros(B, bool) for agent in AGENTS.values()}
    check(td, observations, None, no, no, infos, "reset")
    for t, actions in enumerate(random_actions(ours, 2 * HORIZON + 2, seed=4)):
        td.update(actions)
        step, td = ours.step_and_maybe_reset(td)
        arrays = {agent: actions[group, "action"][:, 0].numpy() for group, agent in AGENTS.items()}
        observations, rewards, terminations, truncations, infos = vector.step(arrays)
        check(step["next"], observations, rewards, terminations, truncations, infos, f"step {t}")
        ended = (t + 1) % HORIZON == 0
        assert step["next", "done"].tolist() == [[ended]] * B
        assert step["next", "truncated"].tolist() == [[ended]] * B
        assert not step["next", "terminated"].any()
        if ended:  # TorchRL reset all seven retailers: the vector env's next episodes
            observations, infos = vector.reset()
            check(td, observations, None, no, no, infos, f"reset after step {t}")


def test_set_seed_gives_the_same_rollout_and_another_seed_another():
    def rollout(seed: int) -> TensorDict:
        env = RetailTorchRLEnv("small", 3, horizon=HORIZON)
        env.set_seed(seed)
        torch.manual_seed(0)
        return env.rollout(2 * HORIZON + 1, break_when_any_done=False)

    first = rollout(7)
    assert (first == rollout(7)).all()
    assert not torch.equal(
        first["next", "inventory", "observation"], rollout(8)["next", "inventory", "observation"]
    )


@pytest.mark.parametrize(
    ("continuous_actions", "bad", "message"),
    [
        (False, 41, r"inventory_0: order quantity .* \[0, 40\], got 41 at batch index 4"),
        (False, -1, r"inventory_0: order quantity .* \[0, 40\], got -1 at batch index 4"),
        (True, -0.93, r"inventory_0: order quantity .* \[0, 1\], got -0.93 at batch index 4"),
    ],
)
def test_a_bad_action_raises_naming_the_row_and_leaves_the_env_usable(
    continuous_actions, bad, message
):
    B = 7
    ours = RetailTorchRLEnv("small", B, continuous_actions=continuous_actions)
    vector = coord_env.vector_env("small", B, continuous_actions=continuous_actions)
    td = ours.reset(seed=2)
    vector.reset(seed=2)
    actions = random_actions(ours, 1, seed=0)[0]
    broken = actions.clone()
    broken["inventory", "action"][4, 0, 1] = bad
    with pytest.raises(coord_env.InvalidActionError, match=message):
        ours.step(td.clone().update(broken))
    step = ours.step(td.clone().update(actions))  # unchanged by the refused step
    arrays = {agent: actions[group, "action"][:, 0].numpy() for group, agent in AGENTS.items()}
    observations, *_ = vector.step(arrays)
    for group, agent in AGENTS.items():
        assert torch.equal(
            step["next", group, "observation"], torch.from_numpy(observations[agent])[:, None]
        )


def test_a_partial_reset_is_refused_and_a_full_one_starts_new_episodes():
    env = RetailTorchRLEnv("tiny", 4)
    td = env.reset(seed=0)
    td = env.rand_step(td)
    partial = td["next"].clone().set("_reset", torch.tensor([[True], [False], [True], [True]]))
    with pytest.raises(ValueError, match=r"_reset: .* all 4 retailers together"):
        env.reset(partial)
    full = td["next"].clone().set("_reset", torch.ones(4, 1, dtype=torch.bool))
    again = env.reset(full)
    assert not again["done"].any()
    env.rand_step(again)  # usable


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="autoreset_mode"):
        RetailTorchRLEnv("tiny", 2, autoreset_mode="next_step")
    with pytest.raises(ValueError, match="num_envs"):
        RetailTorchRLEnv("tiny", 0)
    with pytest.raises(ValueError, match="reward_mode"):
        RetailTorchRLEnv("tiny", 2, reward_mode="bogus")


def test_env_options_pass_through():
    env = RetailTorchRLEnv("tiny", 2, observation_mode="full", reward_mode="departmental")
    vector = coord_env.vector_env("tiny", 2, observation_mode="full", reward_mode="departmental")
    td = env.reset(seed=1)
    observations, _ = vector.reset(seed=1)
    for group, agent in AGENTS.items():
        assert torch.equal(td[group, "observation"], torch.from_numpy(observations[agent])[:, None])
    actions = random_actions(env, 1, seed=0)[0]
    step = env.step(td.update(actions))
    _, rewards, *_ = vector.step(
        {agent: actions[group, "action"][:, 0].numpy() for group, agent in AGENTS.items()}
    )
    for group, agent in AGENTS.items():
        expected = torch.tensor(rewards[agent], dtype=torch.float32)[:, None, None]
        assert torch.equal(step["next", group, "reward"], expected)
    assert not torch.equal(
        step["next", "inventory", "reward"], step["next", "recommender", "reward"]
    )


@pytest.mark.slow
def test_torchrls_mappo_tutorial_code_runs_on_it():
    """The training loop of TorchRL's multi-agent PPO tutorial (MultiAgentMLP actor and
    centralised critic, TanhNormal on Box actions, a collector, GAE, a replay buffer,
    ClipPPOLoss), per group, with only the env construction changed."""
    from tensordict.nn import TensorDictModule
    from tensordict.nn.distributions import NormalParamExtractor
    from torch import nn

    try:
        from torchrl.collectors import Collector
    except ImportError:  # its name before torchrl 0.14
        from torchrl.collectors import SyncDataCollector as Collector
    from torchrl.data.replay_buffers import ReplayBuffer
    from torchrl.data.replay_buffers.samplers import SamplerWithoutReplacement
    from torchrl.data.replay_buffers.storages import LazyTensorStorage
    from torchrl.envs import RewardSum, TransformedEnv
    from torchrl.modules import MultiAgentMLP, ProbabilisticActor, TanhNormal
    from torchrl.objectives import ClipPPOLoss, ValueEstimators

    torch.manual_seed(0)
    B, frames_per_batch = 4, 4 * 2 * HORIZON
    base = RetailTorchRLEnv("tiny", B, continuous_actions=True, horizon=HORIZON)
    env = TransformedEnv(
        base,
        RewardSum(
            in_keys=base.reward_keys,
            out_keys=[(group, "episode_reward") for group in base.group_map],
        ),
    )
    check_env_specs(env)
    actors, losses = [], {}
    for group, agents in env.group_map.items():
        observation_size = env.observation_spec[group, "observation"].shape[-1]
        action_key = (group, "action")
        policy_net = nn.Sequential(
            MultiAgentMLP(
                n_agent_inputs=observation_size,
                n_agent_outputs=2 * env.full_action_spec[action_key].shape[-1],
                n_agents=len(agents),
                centralised=False,
                share_params=True,
                depth=2,
                num_cells=32,
                activation_class=nn.Tanh,
            ),
            NormalParamExtractor(),
        )
        policy = ProbabilisticActor(
            module=TensorDictModule(
                policy_net,
                in_keys=[(group, "observation")],
                out_keys=[(group, "loc"), (group, "scale")],
            ),
            spec=env.full_action_spec_unbatched[action_key],
            in_keys=[(group, "loc"), (group, "scale")],
            out_keys=[action_key],
            distribution_class=TanhNormal,
            distribution_kwargs={
                "low": env.full_action_spec_unbatched[action_key].space.low,
                "high": env.full_action_spec_unbatched[action_key].space.high,
            },
            return_log_prob=True,
            log_prob_key=(group, "sample_log_prob"),
        )
        critic = TensorDictModule(
            MultiAgentMLP(
                n_agent_inputs=observation_size,
                n_agent_outputs=1,
                n_agents=len(agents),
                centralised=True,
                share_params=True,
                depth=2,
                num_cells=32,
                activation_class=nn.Tanh,
            ),
            in_keys=[(group, "observation")],
            out_keys=[(group, "state_value")],
        )
        loss = ClipPPOLoss(actor_network=policy, critic_network=critic, entropy_coeff=1e-4)
        loss.set_keys(
            reward=(group, "reward"),
            action=action_key,
            sample_log_prob=(group, "sample_log_prob"),
            value=(group, "state_value"),
            done=(group, "done"),
            terminated=(group, "terminated"),
        )
        loss.make_value_estimator(ValueEstimators.GAE, gamma=0.99, lmbda=0.9)
        actors.append(policy)
        losses[group] = loss
    from tensordict.nn import TensorDictSequential

    collector = Collector(
        env,
        TensorDictSequential(*actors),
        frames_per_batch=frames_per_batch,
        total_frames=2 * frames_per_batch,
    )
    optimizer = torch.optim.Adam([p for loss in losses.values() for p in loss.parameters()], 3e-4)
    batches = 0
    for data in collector:
        assert data.batch_size == torch.Size([B, frames_per_batch // B])
        assert data["next", "done"].sum() == B * 2  # every retailer ended two episodes
        for loss in losses.values():
            with torch.no_grad():
                loss.value_estimator(
                    data,
                    params=loss.critic_network_params,
                    target_params=loss.target_critic_network_params,
                )
        buffer = ReplayBuffer(
            storage=LazyTensorStorage(frames_per_batch),
            sampler=SamplerWithoutReplacement(),
            batch_size=frames_per_batch // 4,
        )
        buffer.extend(data.reshape(-1))
        for _ in range(4):
            sample = buffer.sample()
            optimizer.zero_grad()
            for loss in losses.values():
                values = loss(sample)
                total = values["loss_objective"] + values["loss_critic"] + values["loss_entropy"]
                assert torch.isfinite(total)
                total.backward()
            optimizer.step()
        collector.update_policy_weights_()
        batches += 1
    collector.shutdown()
    assert batches == 2
