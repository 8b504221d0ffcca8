"""Independent PPO with TorchRL on coord_env, scored by coord_env's harness.

Shows how TorchRL consumes the PettingZoo parallel env: ``PettingZooWrapper`` groups agents named
``<group>_<int>``, so ``inventory_0`` and ``recommender_0`` land in two groups, ``inventory`` and
``recommender``, each with its own observation size and MultiDiscrete action (one categorical per
dimension). Each group gets its own actor, critic and ``ClipPPOLoss``: independent PPO. The
trained actors are then wrapped as a coord_env policy (``reset(seed)``, ``act(observations,
infos)``, greedy actions) and evaluated by ``coord_env.harness.evaluate`` on official seeds.

Install:  pip install torch==2.13.0 && pip install -e ".[examples]"
Run:      python examples/torchrl_ippo.py --scenario tiny --steps 4000 --seed 0 --seeds 5
"""

from __future__ import annotations

import argparse
import warnings

import torch
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch import nn
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.utils import ExplorationType, set_exploration_type
from torchrl.modules import ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss, ValueEstimators

import coord_env
from coord_env.harness import EVALUATION_SEEDS


class MultiCategorical(torch.distributions.Independent):
    """One categorical per MultiDiscrete dimension; log-probs and entropies sum over dimensions."""

    def __init__(self, logits: torch.Tensor):
        super().__init__(torch.distributions.Categorical(logits=logits), 1)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        return self.base_dist.logits.argmax(-1)


def mlp(inputs: int, outputs: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


class GreedyPolicy:
    """The trained logit networks as a coord_env policy: the most likely level in each dimension."""

    def __init__(self, logit_nets: dict[str, nn.Module]):
        self.logit_nets = logit_nets

    def reset(self, seed: int | None = None) -> None:
        pass  # greedy: nothing random to seed

    def act(self, observations: dict, infos: dict) -> dict:
        with torch.no_grad():
            return {
                agent: self.logit_nets[agent](torch.as_tensor(obs)).argmax(-1).numpy()
                for agent, obs in observations.items()
            }


def train(scenario: str, steps: int, seed: int, episodes_per_batch: int = 10, epochs: int = 4):
    """Train one actor and one critic per TorchRL group; return {agent: logit network}."""
    torch.manual_seed(seed)
    raw = coord_env.parallel_env(scenario)
    s, horizon = raw.scenario, raw.scenario.num_ticks
    reward_scale = s.ticks_per_period / float((s.price * s.demand_scale).sum())  # ~1 per tick
    with warnings.catch_warnings():  # "PettingZoo in TorchRL is tested using version == ..."
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL", category=UserWarning)
        env = PettingZooWrapper(raw, use_mask=False, categorical_actions=True)
    env.set_seed(seed)
    print(f"TorchRL groups: {env.group_map}")
    actors, losses, logit_nets, params = [], {}, {}, []
    for group, agents in env.group_map.items():
        space = raw.action_space(agents[0])  # each group holds one agent here
        dims, levels = len(space.nvec), int(space.nvec.max())
        assert all(raw.action_space(a) == space for a in agents) and (space.nvec == levels).all()
        obs_size, obs_key = raw.observation_space(agents[0]).shape[0], (group, "observation")
        logits = nn.Sequential(mlp(obs_size, dims * levels), nn.Unflatten(-1, (dims, levels)))
        actor = ProbabilisticActor(
            TensorDictModule(logits, in_keys=[obs_key], out_keys=[(group, "logits")]),
            in_keys={"logits": (group, "logits")},
            out_keys=[(group, "action")],
            distribution_class=MultiCategorical,
            return_log_prob=True,
            log_prob_key=(group, "log_prob"),
        )
        value_key = (group, "state_value")
        critic = ValueOperator(mlp(obs_size, 1), in_keys=[obs_key], out_keys=[value_key])
        loss = ClipPPOLoss(actor, critic, normalize_advantage=True)
        loss.set_keys(
            reward=(group, "reward"), action=(group, "action"), sample_log_prob=(group, "log_prob"),
            value=value_key, done=(group, "done"), terminated=(group, "terminated"),
            advantage=(group, "advantage"), value_target=(group, "value_target"),
        )  # fmt: skip
        loss.make_value_estimator(ValueEstimators.GAE, gamma=0.99, lmbda=0.95)
        actors.append(actor)
        losses[group] = loss
        params += list(loss.parameters())
        logit_nets.update({agent: logits for agent in agents})
    policy, first = TensorDictSequential(*actors), next(iter(losses))
    optimizer = torch.optim.Adam(params, lr=1e-3)
    frames = max(1, min(episodes_per_batch, steps // horizon)) * horizon  # whole episodes
    for batch in range(max(1, steps // frames)):
        with torch.no_grad(), set_exploration_type(ExplorationType.RANDOM):
            data = env.rollout(frames, policy, break_when_any_done=False)
        profit = data["next", first, "reward"].sum().item() * horizon / frames  # team reward
        for group, loss in losses.items():
            data["next", group, "reward"] = data["next", group, "reward"] * reward_scale
            with torch.no_grad():
                loss.value_estimator(data)
        for _ in range(epochs):
            for index in torch.randperm(frames).split(max(1, frames // 4)):
                optimizer.zero_grad()
                for loss in losses.values():
                    out = loss(data[index])
                    (out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]).backward()
                    nn.utils.clip_grad_norm_(loss.parameters(), 1.0)
                optimizer.step()
        print(f"batch {batch + 1}: {frames * (batch + 1)} steps, profit/episode {profit:,.0f}")
    return logit_nets


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="tiny")
    parser.add_argument("--steps", type=int, default=4000, help="environment steps of training")
    parser.add_argument("--seed", type=int, default=0, help="training seed (below 1,000,000)")
    parser.add_argument("--seeds", "--episodes", type=int, default=5, help="seeds to score")
    parser.add_argument("--official", action="store_true", help="score all 30 official seeds")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: extra threads only contend
    try:
        policy = GreedyPolicy(train(args.scenario, args.steps, args.seed))
        seeds = EVALUATION_SEEDS if args.official else EVALUATION_SEEDS[: args.seeds]
        results = coord_env.evaluate(lambda env: policy, args.scenario, seeds, name="torchrl_ippo")
    finally:
        torch.set_num_threads(threads)
    profit, score = results["profit"], results["normalized_score"]  # score: 30 official seeds only
    print(
        f"{results['policy']} on {results['scenario']}, {len(seeds)} seeds: profit mean "
        f"{profit['mean']:,.1f}, 95% CI [{profit['ci_low']:,.1f}, {profit['ci_high']:,.1f}], "
        f"IQM {profit['iqm']:,.1f}, normalized score {'n/a' if score is None else f'{score:.1f}'}"
    )
    return results


if __name__ == "__main__":
    main()
