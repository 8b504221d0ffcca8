"""Independent PPO with skrl on coord_env, scored by coord_env's harness.

Shows how skrl consumes the PettingZoo parallel env: ``wrap_env(env, wrapper="pettingzoo")`` keeps
one entry per agent (``inventory_0``, ``recommender_0``), each with its own observation size and
MultiDiscrete action, and skrl's multi-agent ``IPPO`` takes one policy, one value model and one
memory per agent. The policy uses ``MultiCategoricalMixin`` (one categorical per action
dimension, log-probs summed). The trained policies are wrapped as a coord_env policy
(``reset(seed)``, ``act(observations, infos)``, greedy actions) and evaluated by
``coord_env.harness.evaluate`` on official seeds.

Install:  pip install torch==2.13.0 && pip install -e ".[examples]"
Run:      python examples/skrl_ippo.py --scenario tiny --steps 4000 --seed 0 --seeds 5
"""

from __future__ import annotations

import argparse

import torch
from skrl.envs.wrappers.torch import wrap_env
from skrl.memories.torch import RandomMemory
from skrl.models.torch import DeterministicMixin, Model, MultiCategoricalMixin
from skrl.multi_agents.torch.ippo import IPPO
from skrl.trainers.torch import SequentialTrainer
from skrl.utils import set_seed
from torch import nn

import coord_env
from coord_env.harness import EVALUATION_SEEDS


def mlp(inputs: int, outputs: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


class Policy(MultiCategoricalMixin, Model):
    """Logits for every level of every action dimension (``num_actions`` = sum of ``nvec``)."""

    def __init__(self, observation_space, action_space):
        Model.__init__(self, observation_space=observation_space, action_space=action_space)
        MultiCategoricalMixin.__init__(self, unnormalized_log_prob=True, reduction="sum")
        self.net = mlp(self.num_observations, self.num_actions)

    def compute(self, inputs, role=""):
        return self.net(inputs["observations"]), {}


class Value(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space):
        Model.__init__(self, observation_space=observation_space, action_space=action_space)
        DeterministicMixin.__init__(self)
        self.net = mlp(self.num_observations, 1)

    def compute(self, inputs, role=""):
        return self.net(inputs["observations"]), {}


class GreedyPolicy:
    """The trained skrl policies as a coord_env policy: the most likely level in each dimension."""

    def __init__(self, policies: dict[str, Policy]):
        self.policies = policies

    def reset(self, seed: int | None = None) -> None:
        pass  # greedy: nothing random to seed

    def act(self, observations: dict, infos: dict) -> dict:
        actions = {}
        with torch.no_grad():
            for agent, obs in observations.items():
                model = self.policies[agent]
                logits = model.net(torch.as_tensor(obs))
                split = logits.split(model.action_space.nvec.tolist(), dim=-1)
                actions[agent] = torch.stack([part.argmax(-1) for part in split]).numpy()
        return actions


def train(
    scenario: str, steps: int, seed: int, episodes_per_rollout: int = 10
) -> dict[str, Policy]:
    """Train IPPO (one policy and one value model per agent); return {agent: policy model}."""
    set_seed(seed)  # python, numpy, torch and skrl's key, which seeds the env's first reset
    raw = coord_env.parallel_env(scenario)
    s = raw.scenario
    reward_scale = s.ticks_per_period / float((s.price * s.demand_scale).sum())
    env = wrap_env(raw, wrapper="pettingzoo")
    agents = env.possible_agents
    spaces = {a: (env.observation_spaces[a], env.action_spaces[a]) for a in agents}
    models = {a: {"policy": Policy(*spaces[a]), "value": Value(*spaces[a])} for a in agents}
    rollouts = max(1, min(episodes_per_rollout, steps // s.num_ticks)) * s.num_ticks
    memories = {a: RandomMemory(memory_size=rollouts, num_envs=env.num_envs) for a in agents}
    cfg = {
        "rollouts": rollouts,
        "learning_epochs": 4,
        "mini_batches": 4,
        "learning_rate": 1e-3,
        "entropy_loss_scale": 0.01,
        "value_clip": 0.0,  # returns are O(10) after scaling: a 0.2 clip would stall the critic
        "time_limit_bootstrap": True,  # the horizon truncates: bootstrap from the final observation
        "rewards_shaper": lambda rewards, timestep, timesteps: rewards * reward_scale,
        "experiment": {"write_interval": 0, "checkpoint_interval": 0},  # write no files
    }
    # skrl 2.1's config expansion rejects the empty default ``*_kwargs`` dicts ("keys do not match
    # the possible agents"): give them per agent.
    for key in (
        "learning_rate_scheduler",
        *(f"{x}_preprocessor" for x in ("observation", "state", "value")),
    ):
        cfg[f"{key}_kwargs"] = {a: {} for a in agents}
    agent = IPPO(
        possible_agents=agents,
        models=models,
        memories=memories,
        cfg=cfg,
        observation_spaces=env.observation_spaces,
        state_spaces=env.state_spaces,
        action_spaces=env.action_spaces,
        device=env.device,
    )
    trainer_cfg = {"timesteps": steps, "headless": True, "disable_progressbar": True}
    trainer_cfg["close_environment_at_exit"] = False
    SequentialTrainer(env=env, agents=agent, cfg=trainer_cfg).train()
    print(f"skrl IPPO agents {agents}: {steps} steps, {steps // rollouts} updates of {rollouts}")
    return {a: models[a]["policy"] for a in agents}


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
        results = coord_env.evaluate(lambda env: policy, args.scenario, seeds, name="skrl_ippo")
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
