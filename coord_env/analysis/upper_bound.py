"""The fluid upper bound (docs/upper_bound.md): a linear program, solved by HiGHS, per seed.

For one seed, the exogenous paths drawn at reset (popularity drift, random lead times, initial
stock) are fixed and given to the LP (an information relaxation: knowing them can only help), and
customer arrivals are replaced by their expectations. Every constraint of the LP holds, in
expectation, for every policy, so the LP's optimum bounds the expected profit of every policy on
that seed's paths. docs/upper_bound.md gives the derivation. Notation follows docs/model.md.

Variables, per period t (arrivals Lambda_kt = lambda_k a(t) e_k(t) customers per period):

- ``v[t,k] >= 0`` and ``e[t,k,i] >= 0``: the choice polytope. First-choice demand of i is
  ``Lambda_kt w_kit (v + e_i)``, with ``w_k0 v + sum_i w_kit (v + e_i) = 1``,
  ``e_i <= (beta_k1 - 1) v`` and ``sum_i e_i <= sum_j (beta_kj - 1) v``, beta_kj = exp(delta_k eta_j).
  A slate S gives v = 1 / D(S), e_i = (b_i(S) - 1) / D(S); mixtures over slates and ticks stay inside.
- ``f[t,k,i] >= 0``: first-choice customers served, at most their demand.
- ``g[t,k,i] >= 0``: substitute purchases; a retrier buys at most once (sum over products at most
  sigma_k times the unserved), and picks product i with probability at most
  w_kit beta_k1 / (w_k0 + w_kit beta_k1).
- ``unserved[t,k]``: first choices not served, sum_i (Lambda_kt w_kit (v + e_i) - f_i).
- ``penalty[t,k] >= 0``: at least the lost-sale penalty, sum_i b_i unserved_i - max_i b_i * substitutes.
- ``q[t,i] >= 0`` orders, ``end[t,i] >= 0`` on-hand at period end, ``disposed[t,i] >= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from coord_env.checks import check_choice
from coord_env.core import reset
from coord_env.scenarios import Scenario

__all__ = [
    "MAX_CHOICE_TERMS",
    "FluidBound",
    "FluidPlan",
    "decomposed_upper_bound",
    "fluid_upper_bound",
    "solve_fluid_lp",
]

MAX_CHOICE_TERMS = 200_000


@dataclass(frozen=True)
class FluidPlan:
    """The LP's optimum and its planned expected quantities (per period t, segment k, product i).

    ``choice_scale`` (T, M) is v and ``boost_mass`` (T, M, N) is e of the choice polytope: product
    i's first-choice share is ``w_kit (v + e_i)``; ``served``/``substitutes`` (T, M, N) are
    first-choice and substitute purchases, ``orders`` and ``end_stock`` (T, N).
    """

    value: float
    revenue: float
    purchase_cost: float
    holding_cost: float
    lost_sale_penalty: float
    salvage: float
    choice_scale: np.ndarray
    boost_mass: np.ndarray
    served: np.ndarray
    substitutes: np.ndarray
    orders: np.ndarray
    end_stock: np.ndarray


@dataclass(frozen=True)
class FluidBound:
    """The bound of one seed: its value, the formulation that gave it and, for the LP, its plan.

    ``formulation`` is ``"lp"`` (the per-period fluid LP; ``plan`` holds its optimum) or
    ``"decomposed"`` (the Lagrangian relaxation for scenarios too large for the LP; ``plan`` is
    None). Both bound every policy's expected profit on the seed; the LP is the tighter one.
    """

    seed: int
    value: float
    formulation: str
    plan: FluidPlan | None = None

    def __getattr__(self, name: str) -> object:  # revenue, purchase_cost, ... of the LP's plan
        plan = self.__dict__.get("plan")
        if plan is None or name.startswith("__"):
            raise AttributeError(f"{name!r}: only the LP formulation has a plan")
        return getattr(plan, name)


class _Indexer:
    """Allocates contiguous blocks of LP variables."""

    def __init__(self) -> None:
        self.size = 0

    def block(self, *shape: int) -> np.ndarray:
        count = int(np.prod(shape))
        index = np.arange(self.size, self.size + count).reshape(shape)
        self.size += count
        return index


class _Rows:
    """Accumulates sparse constraint rows ``sum coef * x (<= or ==) rhs``."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.rhs: list[np.ndarray] = []
        self.count = 0

    def add(self, columns: list, coefficients: list, rhs: object) -> None:
        """Add ``len(rhs)`` rows. Each column block reshapes to (rows, terms); its coefficient is a
        scalar or an array with as many elements."""
        rhs = np.atleast_1d(np.asarray(rhs, dtype=float)).ravel()
        n = rhs.size
        row_index = np.arange(self.count, self.count + n)
        for column, coefficient in zip(columns, coefficients, strict=True):
            column = np.asarray(column).reshape(n, -1)
            coefficient = np.asarray(coefficient, dtype=float)
            coefficient = (
                np.full(column.shape, float(coefficient))
                if coefficient.ndim == 0
                else coefficient.reshape(column.shape)
            )
            self.rows.append(np.repeat(row_index, column.shape[1]))
            self.cols.append(column.ravel())
            self.vals.append(coefficient.ravel())
        self.rhs.append(rhs)
        self.count += n

    def matrix(
        self, num_variables: int
    ) -> tuple[sparse.csr_matrix, np.ndarray] | tuple[None, None]:
        if not self.count:
            return None, None
        shape = (self.count, num_variables)
        matrix = sparse.coo_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=shape,
        )
        return matrix.tocsr(), np.concatenate(self.rhs)


FORMULATIONS = ("auto", "lp", "decomposed")


def fluid_upper_bound(scenario: Scenario, seed: int, formulation: str = "auto") -> FluidBound:
    """An upper bound on every policy's expected profit on one seed.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        The evaluation seed; its reset draws (drift path, lead times, initial stock) enter the bound.
    formulation : {"auto", "lp", "decomposed"}
        ``"lp"`` solves the per-period fluid LP; ``"decomposed"`` computes its Lagrangian
        relaxation (looser, but fast at any size); ``"auto"`` takes the LP when the scenario has at
        most ``MAX_CHOICE_TERMS`` period-segment-product terms, else the decomposition.

    Returns
    -------
    FluidBound

    Raises
    ------
    ValueError
        An unknown formulation, or ``"lp"`` on a scenario too large for it.
    RuntimeError
        If HiGHS does not find the LP's optimum.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> bound = fluid_upper_bound(load_scenario("tiny"), seed=1)
    >>> bound.formulation, bound.value > 0
    ('lp', True)
    >>> fluid_upper_bound(load_scenario("tiny"), 1, "decomposed").value >= bound.value
    True
    """
    check_choice("formulation", formulation, FORMULATIONS)
    s = scenario
    state = reset(s, np.random.default_rng(seed), batch_size=1)
    initial, popularity = state.on_hand[0].astype(float), state.popularity_path[0]
    if formulation == "auto":
        small = s.horizon * s.num_segments * s.num_products <= MAX_CHOICE_TERMS
        formulation = "lp" if small else "decomposed"
    if formulation == "decomposed":
        value = decomposed_upper_bound(s, initial, popularity)
        return FluidBound(seed=int(seed), value=value, formulation=formulation)
    lead = (
        state.lead_time_path[0]
        if state.lead_time_path is not None
        else np.broadcast_to(s.lead_time, (s.horizon, s.num_products))
    )
    plan = solve_fluid_lp(s, initial, popularity, lead)
    return FluidBound(seed=int(seed), value=plan.value, formulation=formulation, plan=plan)


def _choice_terms(scenario: Scenario, popularity: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-period arrivals Lambda (T, M), attractions w (T, M, N) and substitution pick caps."""
    s = scenario
    arrivals = s.tick_arrival_rate * s.ticks_per_period  # (T, M) customers per period
    attraction = s.base_attraction[None] * np.asarray(popularity)[:, None, :]  # (T, M, N) w_kit
    top = s.slot_boost[None, :, :1]  # beta_k1
    pick_cap = attraction * top / (s.no_purchase_attraction[None, :, None] + attraction * top)
    return arrivals, attraction, pick_cap


def decomposed_upper_bound(
    scenario: Scenario, initial_stock: np.ndarray, popularity: np.ndarray, iterations: int = 60
) -> float:
    """The Lagrangian relaxation of the fluid LP: price every unit at its purchase cost.

    Every unit sold either was in the initial stock or was bought at ``c_i``, and every unit
    bought but not sold is worth at most its salvage ``s_i <= c_i``. So profit is at most
    ``sum_i c_i I_i(0)`` plus the margins ``m_i = p_i - c_i`` of the units sold; holding, fixed
    order and lost-sale costs only lower it. Per period and segment, a customer whose first choice
    is ``i`` is worth at most ``u_i = max(m_i^+, substitute value)``, where the substitute value
    is the best ``sigma_k``-thinned pick under the LP's per-product caps. The first-choice shares
    range over the LP's choice polytope, whose best point solves the fractional program
    ``max_x sum_i w_i u_i (1 + x_i) / (W + sum_i w_i x_i)`` over ``0 <= x_i <= beta_1 - 1``,
    ``sum_i x_i <= sum_j (beta_j - 1)``, ``W = w_0 + sum_i w_i``, found by bisection on its value
    (the upper end of the final bracket is returned, so the result is a bound). No lead times or
    stock limits enter, so it is looser than the LP but costs O(T M N log N).
    """
    s = scenario
    arrivals, attraction, pick_cap = _choice_terms(s, popularity)
    margin = np.maximum(s.price - s.cost, 0.0)
    # substitute value per unserved customer: fractional knapsack, products by falling margin
    order = np.argsort(-margin, kind="stable")
    caps = s.substitution[None, :, None] * pick_cap[..., order]
    room = np.clip(s.substitution[None, :, None] - (np.cumsum(caps, axis=-1) - caps), 0.0, caps)
    substitute_value = room @ margin[order]  # (T, M)
    value_of_choice = np.maximum(margin[None, None, :], substitute_value[..., None])  # u (T, M, N)

    boost = s.slot_boost[:, 0] - 1.0  # beta_k1 - 1, (M,)
    slots = np.divide(
        (s.slot_boost - 1.0).sum(axis=1), boost, out=np.zeros_like(boost), where=boost > 0
    )  # kappa_k: the boost budget in units of a top slot
    rank = np.arange(s.num_products)
    weight = boost[:, None] * np.clip(slots[:, None] - rank[None, :], 0.0, 1.0)  # (M, N)
    weighted = attraction * value_of_choice  # w u
    base = weighted.sum(axis=2)  # sum_i w_i u_i
    total = s.no_purchase_attraction[None, :] + attraction.sum(axis=2)  # W
    low, high = np.zeros_like(base), np.full_like(base, value_of_choice.max())

    for _ in range(iterations):  # h(lam) = base - lam W + max_x sum x_i w_i (u_i - lam) >= 0 ?
        lam = 0.5 * (low + high)
        gain = np.maximum(attraction * (value_of_choice - lam[..., None]), 0.0)
        best = -np.sort(-gain, axis=-1)
        feasible = base - lam * total + (best * weight[None]).sum(axis=-1) >= 0.0
        low, high = np.where(feasible, lam, low), np.where(feasible, high, lam)
    return float((arrivals * high).sum() + s.cost @ np.asarray(initial_stock, dtype=float))


def solve_fluid_lp(
    scenario: Scenario, initial_stock: np.ndarray, popularity: np.ndarray, lead_time: np.ndarray
) -> FluidPlan:
    """The fluid LP for given initial stock (N,), popularity factors (T, N) and lead times (T, N).

    With a seed's true paths this is the upper bound; with a firm's estimates (popularity 1,
    nominal lead times, observed stock) it is the plan the ``lp`` policy follows.
    """
    s = scenario
    T, N, M = s.horizon, s.num_products, s.num_segments
    if T * M * N > MAX_CHOICE_TERMS:
        raise ValueError(
            f"{s.env_id} is too large for the per-period fluid LP (T*M*N = {T * M * N:,} > "
            f"{MAX_CHOICE_TERMS:,}); use formulation='decomposed' (fluid_upper_bound's default "
            "for such scenarios)"
        )
    initial = np.asarray(initial_stock, dtype=float)
    lead = np.asarray(lead_time, dtype=np.int64)

    arrivals, attraction, pick_cap = _choice_terms(s, popularity)
    w0 = s.no_purchase_attraction  # (M,)
    top_boost = s.slot_boost[:, 0] - 1.0  # (M,)
    total_boost = (s.slot_boost - 1.0).sum(axis=1)  # (M,)

    x = _Indexer()
    v, e = x.block(T, M), x.block(T, M, N)
    f, g = x.block(T, M, N), x.block(T, M, N)
    penalty, unserved = x.block(T, M), x.block(T, M)
    q, end, disposed = x.block(T, N), x.block(T, N), x.block(T, N)
    n = x.size
    equal, upper = _Rows(), _Rows()

    # Choice polytope: w0 v + sum_i w (v + e_i) = 1; e_i <= (beta_1 - 1) v; sum_i e_i <= sum_j (beta_j - 1) v.
    w_sum = attraction.sum(axis=2)  # (T, M)
    equal.add([v[..., None], e], [(w0[None] + w_sum)[..., None], attraction], np.ones(T * M))
    upper.add(
        [e[..., None], np.repeat(v[..., None], N, axis=2)[..., None]],
        [1.0, -np.broadcast_to(top_boost[None, :, None], (T, M, N))[..., None]],
        np.zeros(T * M * N),
    )
    upper.add(
        [e, v[..., None]],
        [1.0, -np.broadcast_to(total_boost[None], (T, M))[..., None]],
        np.zeros(T * M),
    )

    # Served first choices: f <= Lambda w (v + e).
    demand_coefficient = arrivals[:, :, None] * attraction  # (T, M, N)
    upper.add(
        [f[..., None], np.repeat(v[..., None], N, axis=2)[..., None], e[..., None]],
        [1.0, -demand_coefficient[..., None], -demand_coefficient[..., None]],
        np.zeros(T * M * N),
    )
    # Unserved U_k = sum_i (Lambda w (v + e_i) - f_i), linear in (v, e, f).
    unserved_v = demand_coefficient.sum(axis=2)  # coefficient of v in U_k (T, M)

    # Unserved first choices of segment k: unserved[t,k] = sum_i (Lambda w (v + e_i) - f_i).
    equal.add(
        [unserved[..., None], v[..., None], e, f],
        [1.0, -unserved_v[..., None], -demand_coefficient, np.ones((T, M, N))],
        np.zeros(T * M),
    )
    # Substitutes: sum_j g_j <= sigma U;  g_j <= sigma U pick_cap_j.
    sigma = s.substitution[None, :]  # (1, M)
    upper.add(
        [g, unserved[..., None]], [1.0, -np.broadcast_to(sigma, (T, M))[..., None]], np.zeros(T * M)
    )
    cap = sigma[..., None] * pick_cap  # (T, M, N)
    upper.add(
        [g[..., None], np.repeat(unserved[..., None], N, axis=2)[..., None]],
        [1.0, -cap[..., None]],
        np.zeros(T * M * N),
    )

    # Penalty: penalty >= sum_i b_i U_i - b_max sum_j g_j  <=>  sum_i b_i (Lambda w (v+e_i) - f_i) - b_max sum g - penalty <= 0.
    b = s.lost_sale_penalty
    upper.add(
        [v[..., None], e, f, g, penalty[..., None]],
        [
            (demand_coefficient @ b)[..., None],
            demand_coefficient * b,
            -np.broadcast_to(b, (T, M, N)),
            -b.max() * np.ones((T, M, N)),
            -1.0,
        ],
        np.zeros(T * M),
    )

    # Inventory: end_t = end_{t-1} + arrivals_t - disposed_t - sales_t, sales = sum_k (f + g).
    inflow_rows: list[list[list[int]]] = [[[] for _ in range(N)] for _ in range(T)]
    for t in range(T):
        for i in range(N):
            due = t + int(lead[t, i])
            if due < T:
                inflow_rows[due][i].append(int(q[t, i]))
    for t in range(T):
        for i in range(N):
            columns = [end[t, i], disposed[t, i], *f[t, :, i], *g[t, :, i], *inflow_rows[t][i]]
            coefficients = [
                1.0,
                1.0,
                *([1.0] * M),
                *([1.0] * M),
                *([-1.0] * len(inflow_rows[t][i])),
            ]
            if t > 0:
                columns.append(end[t - 1, i])
                coefficients.append(-1.0)
            equal.add(
                [np.array(columns)[None]],
                [np.array(coefficients)[None]],
                [initial[i] if t == 0 else 0.0],
            )
            # only arriving units can be disposed of (none at all without a capacity limit)
            inflow = [] if s.unlimited_capacity else inflow_rows[t][i]
            upper.add(
                [np.array([disposed[t, i], *inflow])[None]],
                [np.array([1.0] + [-1.0] * len(inflow))[None]],
                [0.0],
            )
    if not s.unlimited_capacity:  # stock after arrivals: end + sales <= W summed over products
        for t in range(T):
            columns = np.concatenate([end[t], f[t].ravel(), g[t].ravel()])
            upper.add([columns[None]], [np.ones((1, columns.size))], [s.warehouse_capacity])

    # Objective (maximize): revenue - purchase - holding - penalty + salvage of end stock and late orders.
    objective = np.zeros(n)
    objective[f] += s.price[None, None, :]
    objective[g] += s.price[None, None, :]
    objective[q] -= s.cost[None, :]
    objective[end] -= s.holding_cost[None, :]
    objective[penalty] -= 1.0
    objective[end[T - 1]] += s.salvage_value
    late = (np.arange(T)[:, None] + lead) >= T
    objective[q[late]] += np.broadcast_to(s.salvage_value, (T, N))[late]

    a_eq, b_eq = equal.matrix(n)
    a_ub, b_ub = upper.matrix(n)
    result = linprog(
        -objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"the fluid LP of {s.env_id} was not solved: {result.message}")
    z = result.x
    revenue = float(s.price @ (z[f].sum(axis=(0, 1)) + z[g].sum(axis=(0, 1))))
    purchase = float(s.cost @ z[q].sum(axis=0))
    holding = float(s.holding_cost @ z[end].sum(axis=0))
    salvage = float(
        s.salvage_value @ z[end[T - 1]]
        + (np.broadcast_to(s.salvage_value, (T, N))[late] * z[q[late]]).sum()
    )
    return FluidPlan(
        value=float(-result.fun),
        revenue=revenue,
        purchase_cost=purchase,
        holding_cost=holding,
        lost_sale_penalty=float(z[penalty].sum()),
        salvage=salvage,
        choice_scale=z[v],
        boost_mass=z[e],
        served=z[f],
        substitutes=z[g],
        orders=z[q],
        end_stock=z[end],
    )
