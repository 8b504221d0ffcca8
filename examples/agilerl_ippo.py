"""AgileRL's IPPO on coord_env through the batched adapter, scored by coord_env's harness.

Trains AgileRL's ``IPPO`` with its own trainer, ``train_multi_agent_on_policy``, on
``coord_env.adapters.agilerl.RetailAgileRLVecEnv`` (B retailers of ``coord_env.vector_env`` in one
process, ``reward_scale="auto"``), then wraps the trained agent as a coord_env policy through
AgileRL's public API (``set_training_mode(False)`` and ``get_action``) and scores it with
``coord_env.evaluate`` on official seeds, as ``coord-bench evaluate`` does.

AgileRL pins ``pettingzoo<1.27`` and ``tensordict==0.13.0``, so it lives in a venv of its own
(docs/adapters.md, AgileRL):

Install:  python -m venv venv-agilerl && . venv-agilerl/bin/activate
          pip install torch==2.13.0 && echo torch==2.13.0 > constraints.txt
          pip install -c constraints.txt -e ".[rl]" agilerl peft==0.21.0
Smoke:    python examples/agilerl_ippo.py --scenario tiny --steps 2048 --num-envs 16 --seeds 2
Real run: python examples/agilerl_ippo.py --scenario small --minutes 15 --steps 100000000 \\
              --num-envs 64 --seeds 30 --compare siloed
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from agilerl.algorithms import IPPO
from agilerl.training.train_multi_agent_on_policy import train_multi_agent_on_policy
from gymnasium import spaces

import coord_env
from coord_env.adapters.agilerl import RetailAgileRLVecEnv
from coord_env.harness import EVALUATION_SEEDS


class AgileRLPolicy:
    """A trained AgileRL multi-agent algorithm as a coord_env policy, through its public API.

    ``agent.get_action`` in evaluation mode (``set_training_mode(False)``). AgileRL 2.58 still
    samples there (it has no public mode/mean action), so each episode draws from a torch
    generator seeded with the harness's episode seed: the same seed gives the same actions, and
    the global torch generator is left untouched.

    Parameters
    ----------
    agent : agilerl.algorithms.IPPO, or another multi-agent algorithm with ``get_action``
    """

    def __init__(self, agent: Any):
        self.agent = agent
        self._rng_state = torch.Generator().manual_seed(0).get_state()

    def reset(self, seed: int | None = None) -> None:
        """Seed the sampling of the coming episode."""
        self._rng_state = torch.Generator().manual_seed(0 if seed is None else seed).get_state()

    def act(self, observations: dict[str, np.ndarray], infos: dict) -> dict[str, np.ndarray]:
        """Both agents' actions for one retailer, from ``agent.get_action`` in evaluation mode."""
        self.agent.set_training_mode(False)
        batched = {agent: observation[None] for agent, observation in observations.items()}
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng_state)
            actions, _, _, _ = self.agent.get_action(obs=batched, infos=None)
            self._rng_state = torch.get_rng_state()
        result = {}
        for agent, action in actions.items():
            space = self.agent.action_space[agent]
            if isinstance(space, spaces.MultiDiscrete):
                result[agent] = np.asarray(action[0]).astype(space.dtype)
            else:  # the env refuses out-of-range Box actions: keep them inside
                result[agent] = np.clip(action[0], space.low, space.high).astype(space.dtype)
        return result


class AgileRLPolicyFactory:
    """The harness's factory ``env -> policy`` for a trained agent, with the env options it needs.

    Parameters
    ----------
    agent : agilerl.algorithms.IPPO, or another multi-agent algorithm with ``get_action``
    env_options : dict, optional
        The options the agent was trained under that change the spaces (``continuous_actions``);
        :meth:`env_options_for` returns them, so the harness evaluates under them.
    """

    name = "agilerl_ippo"

    def __init__(self, agent: Any, env_options: dict[str, Any] | None = None):
        self.agent = agent
        self.env_options = dict(env_options or {})

    def __call__(self, env: Any) -> AgileRLPolicy:
        """A policy for one episode."""
        return AgileRLPolicy(self.agent)

    def env_options_for(self, scenario: Any) -> dict[str, Any]:
        """The env options to evaluate under (the ones the spaces were trained with)."""
        return dict(self.env_options)


def make_agent(env: RetailAgileRLVecEnv, learn_step: int, lr: float) -> IPPO:
    """AgileRL's IPPO with one actor and one critic per agent (two groups of one)."""
    agents = env.possible_agents
    return IPPO(
        [env.single_observation_space(a) for a in agents],
        [env.single_action_space(a) for a in agents],
        agent_ids=agents,
        net_config={"encoder_config": {"hidden_size": [64, 64]}},
        learn_step=learn_step,
        batch_size=min(learn_step, 1024),
        lr=lr,
        update_epochs=4,
        ent_coef=0.01,
    )


def train(
    scenario: str,
    steps: int,
    seed: int,
    num_envs: int,
    minutes: float | None = None,
    continuous_actions: bool = False,
    lr: float = 3e-4,
    log: bool = True,
) -> tuple[IPPO, list[dict[str, float]]]:
    """Train IPPO with AgileRL's ``train_multi_agent_on_policy`` on the batched adapter.

    One update per episode of all ``num_envs`` retailers (``learn_step`` = horizon x B), and the
    trainer's own evaluation once per ``evo_steps`` = 2 such episodes. Training stops after
    ``steps`` env-steps or ``minutes`` of wall time, whichever comes first.

    Returns
    -------
    agent : IPPO
    curve : list of dict
        Per evolution step: env-steps so far, seconds, the sampling policy's profit per episode
        in money (mean over the B retailers of their last training episode) and the trainer's
        test score (scaled rewards).
    """
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (AgileRL shuffles its minibatches with np.random)
    env = RetailAgileRLVecEnv(
        scenario, num_envs, reward_scale="auto", continuous_actions=continuous_actions
    )
    env.reset(seed=seed)  # later resets (the trainer's, the autoresets) continue this generator
    horizon = env.scenario.num_ticks
    learn_step = horizon * num_envs
    evo_steps = 2 * learn_step
    agent = make_agent(env, learn_step, lr)
    curve: list[dict[str, float]] = []
    start = time.perf_counter()
    done = 0
    while done < steps:
        done = min(steps, done + evo_steps)
        _, fitnesses = train_multi_agent_on_policy(
            env, f"coord-{scenario}", "IPPO", [agent],
            max_steps=done, evo_steps=evo_steps, eval_loop=1, verbose=False,
        )  # fmt: skip
        point = {
            "steps": float(agent.steps),
            "seconds": time.perf_counter() - start,
            "profit": float(np.mean(env.completed_episode_profit)),
            "test_score": float(fitnesses[0]),
        }
        curve.append(point)
        if log:
            print(
                f"steps {point['steps']:>10,.0f}  {point['seconds']:7.1f} s  training "
                f"profit/episode {point['profit']:>10,.0f}  test score {point['test_score']:8.2f}",
                flush=True,
            )
        if minutes is not None and point["seconds"] >= 60 * minutes:
            break
    return agent, curve


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--steps", type=int, default=200_000, help="env-steps of training")
    parser.add_argument("--minutes", type=float, default=None, help="stop training after this")
    parser.add_argument("--num-envs", type=int, default=64, help="retailers stepped together")
    parser.add_argument("--seed", type=int, default=0, help="training seed (below 1,000,000)")
    parser.add_argument("--seeds", "--episodes", type=int, default=5, help="seeds to score")
    parser.add_argument("--official", action="store_true", help="score all 30 official seeds")
    parser.add_argument(
        "--continuous-actions", action="store_true", help="Box actions (what MADDPG/MATD3 need)"
    )
    parser.add_argument("--compare", default=None, help="also score this policy, e.g. siloed")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: extra threads only contend on a shared machine
    options = {"continuous_actions": True} if args.continuous_actions else {}
    try:
        agent, _ = train(
            args.scenario,
            args.steps,
            args.seed,
            args.num_envs,
            args.minutes,
            continuous_actions=args.continuous_actions,
        )
        seeds = EVALUATION_SEEDS if args.official else EVALUATION_SEEDS[: args.seeds]
        results = coord_env.evaluate(
            AgileRLPolicyFactory(agent, options), args.scenario, seeds, name="agilerl_ippo"
        )
    finally:
        torch.set_num_threads(threads)
    documents = [results]
    if args.compare:
        documents.append(coord_env.evaluate(args.compare, args.scenario, seeds))
    for doc in documents:
        profit, score = doc["profit"], doc["normalized_score"]  # score: 30 official seeds only
        print(
            f"{doc['policy']} on {doc['scenario']}, {len(seeds)} seeds: profit mean "
            f"{profit['mean']:,.1f}, 95% CI [{profit['ci_low']:,.1f}, {profit['ci_high']:,.1f}], "
            f"IQM {profit['iqm']:,.1f}, normalized score {'n/a' if score is None else f'{score:.1f}'}"
        )
    return results


if __name__ == "__main__":
    main()
