"""The exact optimum of small scenarios by finite-horizon dynamic programming (``tiny``).

The transition law is the model of docs/model.md, computed exactly (no simulation): Poisson
arrivals per segment, MNL first choice with the slate boost, random-order service, one substitution
attempt restricted to products in stock after the first choices, lost-sale penalties charged to the
first-choice product, holding on end-of-period on-hand, purchase costs, salvage of on-hand and
in-transit units at the end, and the uniform initial stock. The derivation, the truncation argument
and the supported class are in docs/optimal.md.

Supported scenarios: ``N <= 2`` products, ``R = 1`` tick per period, deterministic lead time 1 for
every product, no drift, no shocks, no fixed order cost, unlimited warehouse (seasonality allowed).
With lead time 1 the order placed in period t is on hand at the start of period t + 1, before
that period's customers, so the state at a decision is the on-hand after the period-start arrivals
(``on_hand + pipeline`` of :meth:`RetailParallelEnv.snapshot`) and the period.

The action is the env's discrete action in ``order_quantity`` mode: order quantities on the grid
``0, step_i, ..., (G - 1) step_i`` and one slate per segment (every distinct slate the
``MultiDiscrete`` recommender action can express). The DP optimises over these playable actions, so
its value is the optimum over all playable policies (up to the reported truncation error) and
:class:`OptimalPolicy` attains it. The policy reads the raw state through ``env.snapshot()``: full
state is legitimate here because these scenarios have no hidden exogenous state (no drift, no
random lead times), so the state the policy reads is exactly what the DP conditions on.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from coord_env.core import reset
from coord_env.scenarios import Scenario

__all__ = [
    "OptimalPolicy",
    "OptimalSolution",
    "check_supported",
    "optimal_value",
    "solve_optimal",
]

TRUNCATION_MASS = 1e-9  # omitted probability mass per product and period (demand and stock)
MAX_STATES = 5_000  # on-hand grid points; the DP costs about 4 * T * slates * states^3 / 1e10 s
MAX_SLATES = 64  # distinct joint slates


@dataclass(frozen=True)
class OptimalSolution:
    """The solved DP of one scenario.

    Attributes
    ----------
    scenario_hash : str
    value : float
        Optimal expected episode profit, averaged over the initial-stock distribution.
    value_table : ndarray, shape (T + 1, X_0 + 1, ..., X_{N-1} + 1)
        ``value_table[t, x]`` optimal expected profit of periods t..T-1 from on-hand ``x`` after the
        period-start arrivals; row T is the salvage value.
    order_table : ndarray of int64, shape (T, X_0 + 1, ..., N)
        Optimal order quantities (units) per period and state.
    slate_table : ndarray of int64, shape (T, X_0 + 1, ..., M * C)
        Optimal recommender action (``MultiDiscrete`` vector) per period and state.
    stock_cap : ndarray of int64, shape (N,)
        X_i: the largest on-hand the DP represents; orders are restricted to keep on-hand <= X_i.
    demand_cap : ndarray of int64, shape (N,)
        First-choice demand is represented up to this count (the rest of the mass is omitted).
    truncation_error : float
        Bound on ``abs(value - true optimum)`` from both truncations (docs/optimal.md).
    initial_stock_high : ndarray of int64, shape (N,)
        Initial on-hand is uniform on {0..initial_stock_high_i}, independently per product.
    solve_seconds : float
    """

    scenario_hash: str
    value: float
    value_table: np.ndarray
    order_table: np.ndarray
    slate_table: np.ndarray
    stock_cap: np.ndarray
    demand_cap: np.ndarray
    truncation_error: float
    initial_stock_high: np.ndarray
    solve_seconds: float

    def value_at(self, on_hand: np.ndarray, period: int = 0) -> float:
        """Optimal expected profit of periods ``period..T-1`` from ``on_hand`` (after arrivals)."""
        return float(self.value_table[(period, *self._index(on_hand))])

    def action_at(self, on_hand: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
        """The optimal (order quantities, recommender action) in a state."""
        index = (period, *self._index(on_hand))
        return self.order_table[index].copy(), self.slate_table[index].copy()

    def _index(self, on_hand: np.ndarray) -> tuple[int, ...]:
        on_hand = np.asarray(on_hand, dtype=np.int64)
        if on_hand.shape != self.stock_cap.shape or np.any(on_hand < 0):
            raise ValueError(f"on_hand must be {self.stock_cap.shape[0]} non-negative integers")
        if np.any(on_hand > self.stock_cap):
            raise ValueError(
                f"on_hand {on_hand.tolist()} is outside the DP's stock grid (cap "
                f"{self.stock_cap.tolist()}); the optimal policy never reaches it"
            )
        return tuple(int(v) for v in on_hand)


def check_supported(scenario: Scenario, max_states: int = MAX_STATES) -> None:
    """Raise ValueError naming the reason if the DP cannot solve ``scenario`` exactly.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> check_supported(load_scenario("tiny"))
    >>> check_supported(load_scenario("small"))
    Traceback (most recent call last):
    ...
    ValueError: exact DP unsupported for scenario 'small': 5 products (at most 2); ...
    """
    s = scenario
    reasons = []
    if s.num_products > 2:
        reasons.append(f"{s.num_products} products (at most 2)")
    if s.ticks_per_period != 1:
        reasons.append(f"ticks_per_period = {s.ticks_per_period} (must be 1)")
    if s.random_lead_times:
        reasons.append("random lead times (must be deterministic)")
    elif np.any(s.lead_time != 1):
        reasons.append(f"lead_time = {s.lead_time.tolist()} (must be 1 for every product)")
    if np.any(s.drift_std > 0):
        reasons.append("popularity drift present (drift_std > 0)")
    if len(s.shocks) > 0:
        reasons.append(f"{len(s.shocks)} demand shocks (none allowed)")
    if np.any(s.fixed_order_cost > 0):
        reasons.append("fixed order costs (the stock truncation argument needs K_i = 0)")
    if np.isfinite(s.warehouse_capacity):
        reasons.append("finite warehouse_capacity (must be unlimited)")
    if not reasons:
        states = int(np.prod(_stock_cap(s) + 1))
        if states > max_states:
            reasons.append(f"state too large ({states:,} on-hand states, at most {max_states:,})")
        slates = len(_joint_slates(s)[0])
        if slates > MAX_SLATES:
            reasons.append(f"too many joint slates ({slates}, at most {MAX_SLATES})")
    if reasons:
        raise ValueError(f"exact DP unsupported for scenario {s.name!r}: " + "; ".join(reasons))


def _attractions(s: Scenario, slate: np.ndarray) -> np.ndarray:
    """(M, N) attractions w_ki under one recommender action (M * C vector)."""
    M, N, C = s.num_segments, s.num_products, s.num_slots
    w = np.exp(s.utility).copy()
    slate = slate.reshape(M, C)
    for k in range(M):
        seen: set[int] = set()
        for j in range(C):
            i = int(slate[k, j])
            if i not in seen:  # a repeated product counts once, at its first position
                seen.add(i)
                w[k, i] *= s.slot_boost[k, j]
    return w[:, :N]


def _joint_slates(s: Scenario) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every distinct recommender action (by attractions): actions and their (M, N) attractions."""
    M, N, C = s.num_segments, s.num_products, s.num_slots
    actions, weights, keys = [], [], set()
    for action in itertools.product(range(N), repeat=M * C):
        action = np.array(action, dtype=np.int64)
        w = _attractions(s, action)
        key = w.tobytes()
        if key not in keys:
            keys.add(key)
            actions.append(action)
            weights.append(w)
    return actions, weights


def _max_demand_rate(s: Scenario) -> np.ndarray:
    """(N,) a Poisson rate dominating each product's first-choice plus substitute demand in any
    period under any slate (each customer tries product i with at most p_ki = P_ki + sigma_k Q_ki)."""
    w_max = np.exp(s.utility) * s.slot_boost[:, :1]  # (M, N): the strongest boost on each product
    w0 = np.exp(s.no_purchase_utility)[:, None]
    w_min_others = np.exp(s.utility)  # other products unboosted make P_ki largest
    total_min = w0[:, 0] + w_min_others.sum(axis=1)
    first = w_max / (total_min[:, None] - w_min_others + w_max)
    second = w_max / (w0 + w_max)
    p = np.minimum(first + s.substitution[:, None] * second, 1.0)
    return (s.tick_arrival_rate.max(axis=0)[:, None] * p).sum(axis=0)


def _stock_cap(s: Scenario) -> np.ndarray:
    """X_i: one period's dominating demand exceeds it with probability < TRUNCATION_MASS."""
    rate = _max_demand_rate(s)
    cap = stats.poisson.isf(TRUNCATION_MASS, rate).astype(np.int64) + 1
    return np.maximum(cap, s.initial_stock_high.astype(np.int64))


def _transition(
    s: Scenario, weights: np.ndarray, t: int, cap: np.ndarray, dcap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The law of one period from every on-hand x under one slate.

    Returns
    -------
    P : ndarray, shape (*(cap + 1), *(cap + 1))
        ``P[x, a]`` probability that the on-hand after the period's sales is ``a``.
    reward : ndarray, shape (*(cap + 1),)
        Expected revenue - lost-sale penalty - holding cost of the period.
    """
    N = s.num_products
    w0 = np.exp(s.no_purchase_utility)
    rates = s.tick_arrival_rate[t][:, None] * weights / (w0 + weights.sum(axis=1))[:, None]  # (M,N)
    lam = rates.sum(axis=0)  # first-choice demand rates (N,)
    pmf = [stats.poisson.pmf(np.arange(dcap[i] + 1), lam[i]) for i in range(N)]
    grids = [np.arange(cap[i] + 1) for i in range(N)]
    # closed forms, no truncation: E[min(D, x)] and E[(D - x)^+]
    served = [_expected_min(lam[i], grids[i]) for i in range(N)]
    unserved = [lam[i] - served[i] for i in range(N)]
    shape = tuple(int(c) + 1 for c in cap)
    if N == 1:
        P = np.zeros(shape * 2)
        x = grids[0]
        d = x[:, None] - x[None, :]  # demand giving a = x - d
        P[:, :] = np.where((d >= 0) & (d < x[:, None]), pmf[0][np.clip(d, 0, dcap[0])], 0.0)
        P[:, 0] = 1.0 - P[:, 1:].sum(axis=1)
        mean_left = P @ x
        reward = (
            s.price[0] * (x - mean_left)
            - s.lost_sale_penalty[0] * unserved[0]
            - s.holding_cost[0] * mean_left
        )
        return P, reward
    X0, X1 = shape
    P = np.zeros((X0, X1, X0, X1))
    # both products keep stock after their first choices: a = x - D with D < x
    both = np.zeros((X0, X0))  # both[x0, a0] = pmf0[x0 - a0] for 1 <= a0 <= x0
    both1 = np.zeros((X1, X1))
    for a in range(1, X0):
        both[a:, a] = pmf[0][: X0 - a]
    for a in range(1, X1):
        both1[a:, a] = pmf[1][: X1 - a]
    P += both[:, None, :, None] * both1[None, :, None, :]
    # one product runs out at first choice; its unserved customers substitute into the other
    w = weights
    for out, keep in ((0, 1), (1, 0)):
        # probability that one unserved customer of `out` becomes a substitute pick of `keep`
        share = rates[:, out] / lam[out]
        pi = float((share * s.substitution * w[:, keep] / (w0 + w[:, keep])).sum())
        n_keep = shape[keep]
        u = np.arange(dcap[out] + 1)
        binom = stats.binom.pmf(np.arange(n_keep)[None, :], u[:, None], pi)  # (U, Z)
        # g[x_out, z] = sum_u pmf_out[x_out + u] binom(z; u, pi)
        g = np.zeros((shape[out], n_keep))
        for x_out in range(shape[out]):
            tail = pmf[out][x_out:]
            g[x_out] = tail @ binom[: len(tail)]
        # conv[x_out, n] = sum_{m + z = n} pmf_keep[m] g[x_out, z], n = x_keep - a_keep
        conv = np.zeros((shape[out], n_keep))
        for m in range(n_keep):
            conv[:, m:] += pmf[keep][m] * g[:, : n_keep - m]
        block = np.zeros((shape[out], n_keep, n_keep))  # [x_out, x_keep, a_keep], a_keep >= 1
        for a in range(1, n_keep):
            block[:, a:, a] = conv[:, : n_keep - a]
        if out == 0:
            P[:, :, 0, :] += block
        else:
            P[:, :, :, 0] += block.transpose(1, 0, 2)
    P[:, :, 0, 0] = 1.0 - P.reshape(X0, X1, -1)[:, :, 1:].sum(axis=2)
    left = [P.sum(axis=3) @ grids[0], P.sum(axis=2) @ grids[1]]  # E[a_i] per x, shape (X0, X1)
    x = np.meshgrid(grids[0], grids[1], indexing="ij")
    reward = np.zeros((X0, X1))
    for i, j in ((0, 1), (1, 0)):
        sales = x[i] - left[i]
        first_served = served[i][:, None] if i == 0 else served[i][None, :]
        substitutes = sales - first_served  # substitute sales into i, all from product j
        lost_j = (unserved[j][:, None] if j == 0 else unserved[j][None, :]) - substitutes
        reward += s.price[i] * sales - s.holding_cost[i] * left[i] - s.lost_sale_penalty[j] * lost_j
    return P, reward


def _expected_min(lam: float, x: np.ndarray) -> np.ndarray:
    """E[min(D, x)] for D ~ Poisson(lam): sum_{d < x} P(D > d)."""
    return np.concatenate([[0.0], np.cumsum(stats.poisson.sf(np.arange(x.max()), lam))])[x]


def solve_optimal(scenario: Scenario) -> OptimalSolution:
    """Solve the finite-horizon DP of ``scenario`` exactly (up to the reported truncation).

    Cached by content hash, so repeated calls (one per evaluated seed) are free.

    Parameters
    ----------
    scenario : Scenario
        A supported scenario (see :func:`check_supported`).

    Returns
    -------
    OptimalSolution

    Raises
    ------
    ValueError
        The scenario is outside the supported class; the message names every reason.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> solution = solve_optimal(load_scenario("tiny"))  # doctest: +SKIP
    >>> round(solution.value)  # doctest: +SKIP
    """
    check_supported(scenario)
    key = scenario.content_hash
    if key not in _SOLVED:
        _SOLVED[key] = _solve(scenario)
    return _SOLVED[key]


_SOLVED: dict[str, OptimalSolution] = {}  # solved tables by scenario content hash


def optimal_value(scenario: Scenario, seed: int | None = None) -> float:
    """The optimal expected profit: over the initial-stock distribution, or given ``seed``'s
    initial stock (the same reset draw as the env's and the fluid bound's).

    Raises
    ------
    ValueError
        An unsupported scenario (see :func:`check_supported`).

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> optimal_value(load_scenario("tiny"), seed=0) > 0  # doctest: +SKIP
    True
    """
    solution = solve_optimal(scenario)
    if seed is None:
        return solution.value
    on_hand = reset(scenario, np.random.default_rng(seed), batch_size=1).on_hand[0]
    return solution.value_at(on_hand)


def _solve(s: Scenario, extra_stock: int = 0) -> OptimalSolution:
    start = time.perf_counter()
    N, T = s.num_products, s.horizon
    cap = _stock_cap(s) + extra_stock
    shape = tuple(int(c) + 1 for c in cap)
    n_states = int(np.prod(shape))
    rate_bound = _max_demand_rate(s)
    # first-choice demand represented up to dcap (for the unserved customers' substitutes)
    lam_max = s.tick_arrival_rate.max() * s.num_segments
    dcap = np.full(N, int(stats.poisson.isf(TRUNCATION_MASS * 1e-3, lam_max)) + int(cap.max()) + 1)
    actions, weights = _joint_slates(s)
    step = s.order_step.astype(np.int64)
    max_order = (s.order_levels - 1) * step
    grid = np.stack(np.unravel_index(np.arange(n_states), shape), axis=1)  # (S, N) on-hand x
    # feasible orders: y = x + q with q a multiple of step_i, q_i <= max order, y <= cap
    q = grid[None, :, :] - grid[:, None, :]  # q[x, y] = y - x
    feasible = np.all((q >= 0) & (q % step == 0) & (q <= max_order), axis=2)
    order_cost = np.where(feasible, -(np.maximum(q, 0) * s.cost).sum(axis=2), -np.inf)
    # sales S = x - a; next on-hand = y - S; shift[S, y] = V(y - S) (zero where y < S: unused)
    diff = grid[None, :, :] - grid[:, None, :]  # diff[S, y] = y - S
    valid = np.all(diff >= 0, axis=2)
    diff_index = np.ravel_multi_index(tuple(np.maximum(diff, 0).transpose(2, 0, 1)), shape)
    sales_index = np.ravel_multi_index(
        tuple(np.maximum(grid[:, None, :] - grid[None, :, :], 0).transpose(2, 0, 1)), shape
    )  # sales_index[x, a] = flat x - a
    rows = np.nonzero(np.all(grid[None, :, :] <= grid[:, None, :], axis=2))  # (x, a), a <= x
    V = np.zeros((T + 1, n_states))
    V[T] = grid @ s.salvage_value
    orders = np.zeros((T, n_states, N), dtype=np.int64)
    slates = np.zeros((T, n_states, s.num_segments * s.num_slots), dtype=np.int64)
    error = 0.0
    for t in range(T - 1, -1, -1):
        shift = np.where(valid, V[t + 1][diff_index], 0.0)
        best = np.full(n_states, -np.inf)
        for action, w in zip(actions, weights, strict=True):
            P, reward = _transition(s, w, t, cap, dcap)
            P = P.reshape(n_states, n_states)
            by_sales = np.zeros((n_states, n_states))  # by_sales[x, S] = P[x, x - S]
            by_sales[rows[0], sales_index[rows]] = P[rows]  # x - a is one-to-one in a
            total = by_sales @ shift + order_cost  # [x, y]
            choice = np.argmax(total, axis=1)
            value = reward.reshape(-1) + total[np.arange(n_states), choice]
            better = value > best + 1e-12
            best = np.where(better, value, best)
            orders[t][better] = (grid[choice] - grid)[better]
            slates[t][better] = action
        V[t] = best
        # demand truncation: omitted mass per product and slate, times the value span plus the
        # largest change in one period's sales money (docs/optimal.md)
        span = float(V[t + 1].max() - V[t + 1].min())
        money = float(((s.price + s.lost_sale_penalty + s.holding_cost) * cap).sum())
        omitted = N * float(stats.poisson.sf(dcap[0], lam_max))
        # stock truncation: expected dominating demand beyond the cap, at most price + penalty each
        beyond = (_expected_excess(rate_bound, cap) * (s.price + s.lost_sale_penalty)).sum()
        error += omitted * (span + money) + float(beyond)
    high = s.initial_stock_high.astype(np.int64)
    initial = V[0].reshape(shape)[tuple(slice(0, int(h) + 1) for h in high)]
    return OptimalSolution(
        scenario_hash=s.content_hash,
        value=float(initial.mean()),
        value_table=V.reshape((T + 1, *shape)),
        order_table=orders.reshape((T, *shape, N)),
        slate_table=slates.reshape((T, *shape, -1)),
        stock_cap=cap,
        demand_cap=dcap,
        truncation_error=error,
        initial_stock_high=high,
        solve_seconds=time.perf_counter() - start,
    )


def _expected_excess(rate: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """E[(D - cap)^+] for D ~ Poisson(rate), per product."""
    grid = np.arange(int(cap.max()) + 1)
    out = np.empty(len(rate))
    for i, (r, c) in enumerate(zip(rate, cap, strict=True)):
        out[i] = r - _expected_min(float(r), grid)[int(c)]
    return np.maximum(out, 0.0)


class OptimalPolicy:
    """Factory ``env -> policy`` playing the DP's optimal actions (picklable).

    The policy reads ``env.snapshot()`` for the on-hand after the period-start arrivals
    (``on_hand + pipeline``) and the period, and looks up the solved tables. It is privileged:
    the harness gives it a read-only view of the scored env
    (:class:`~coord_env.harness.isolation.PrivilegedView`), not a throwaway env.

    Examples
    --------
    >>> import coord_env
    >>> OptimalPolicy.supports(coord_env.load_scenario("tiny"))
    True
    >>> coord_env.evaluate(OptimalPolicy(), "tiny", seeds=[0])  # doctest: +SKIP
    """

    name = "optimal"
    privileged = True  # reads the scored env's snapshot(): see coord_env.harness.isolation

    @staticmethod
    def supports(scenario: Scenario) -> bool:
        """Whether the exact DP can solve ``scenario``."""
        try:
            check_supported(scenario)
        except ValueError:
            return False
        return True

    @staticmethod
    def env_options_for(scenario: Scenario) -> dict[str, Any]:
        """The DP's actions are discrete order quantities and slates."""
        return {"continuous_actions": False, "inventory_action": "order_quantity"}

    def __call__(self, env: Any) -> _OptimalActor:
        if env.continuous_actions or env.inventory_action != "order_quantity":
            raise ValueError(
                "OptimalPolicy needs continuous_actions=False and inventory_action='order_quantity'"
            )
        return _OptimalActor(env, solve_optimal(env.scenario))


class _OptimalActor:
    def __init__(self, env: Any, solution: OptimalSolution):
        self.env = env
        self.solution = solution
        self.step = env.scenario.order_step.astype(np.int64)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is deterministic and Markov."""

    def act(self, observations: dict, infos: dict | None = None) -> dict[str, np.ndarray]:
        snapshot = self.env.snapshot()
        on_hand = snapshot["on_hand"] + snapshot["pipeline"].sum(axis=1)
        orders, slate = self.solution.action_at(on_hand, int(snapshot["period"]))
        return {"inventory_0": orders // self.step, "recommender_0": slate}
