"""The departmental incentive that ``siloed_rl`` learns: less stock, a better inventory score.

Under ``reward_mode="departmental"`` the inventory department earns ``salvage - purchase_cost -
holding_cost - lost_sale_penalty`` and the recommender earns the revenue. On the catalog scenarios
every product's lost-sale penalty is below its unit cost, so a unit bought pays off for the
inventory department only when it averts the lost sale of a product with a higher penalty. This
script plays the siloed heuristic with its orders scaled down and prints both departments'
returns and the firm's profit (mean over the seeds):

    python examples/departmental_incentive.py [--scenario default] [--seeds 5]

On ``default`` the inventory's own return rises as its orders shrink while the profit collapses,
which is where ``siloed_rl``'s inventory learner heads with training (docs/training.md, "Below
the siloed heuristic").
"""

from __future__ import annotations

import argparse

import numpy as np

import coord_env
from baselines.heuristics.siloed import SiloedPolicy
from coord_env.harness.seeds import EVALUATION_SEEDS

ORDER_SCALES = (1.0, 0.75, 0.5, 0.25, 0.0)


def departmental_returns(
    scenario: str, order_scale: float, seeds: list[int]
) -> tuple[float, float, float]:
    """Mean episode (inventory return, recommender return, profit) of the siloed heuristic with
    its order quantities multiplied by ``order_scale`` and rounded, on ``seeds``."""
    totals = []
    for seed in seeds:
        env = coord_env.parallel_env(scenario, reward_mode="departmental")
        policy = SiloedPolicy(env)
        policy.reset(seed)
        observations, infos = env.reset(seed=seed)
        inventory = revenue = 0.0
        while env.agents:
            actions = policy.act(observations, infos)
            orders = np.asarray(actions["inventory_0"], dtype=np.float64)
            actions["inventory_0"] = np.rint(orders * order_scale).astype(np.int64)
            observations, rewards, _, _, infos = env.step(actions)
            inventory += rewards["inventory_0"]  # the env's departmental split
            revenue += rewards["recommender_0"]
        totals.append((inventory, revenue, inventory + revenue))
    inventory, revenue, profit = np.mean(totals, axis=0)
    return float(inventory), float(revenue), float(profit)


def main(argv: list[str] | None = None) -> list[tuple[float, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--seeds", type=int, default=5, help="official evaluation seeds to play")
    args = parser.parse_args(argv)
    seeds = list(EVALUATION_SEEDS[: args.seeds])
    print(f"{args.scenario}, siloed heuristic with scaled orders, mean over {len(seeds)} seeds\n")
    print("| orders x | inventory return | recommender return (revenue) | profit |")
    print("|---:|---:|---:|---:|")
    rows = []
    for scale in ORDER_SCALES:
        inventory, revenue, profit = departmental_returns(args.scenario, scale, seeds)
        rows.append((scale, inventory, revenue, profit))
        print(f"| {scale:.2f} | {inventory:,.0f} | {revenue:,.0f} | {profit:,.0f} |")
    return rows


if __name__ == "__main__":
    main()
