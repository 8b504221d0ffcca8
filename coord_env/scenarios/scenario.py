"""The Scenario: one retailer's structural parameters, validated once and content-hashed.

Notation follows ``docs/model.md``: products i = 1..N, segments k = 1..M, slots j = 1..C, periods
t = 0..T-1, R ticks per period. Array fields are read-only numpy arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["Scenario", "ScenarioError", "Shock"]

# Probability below which a customer count is truncated (see docs/model.md, "Bounded counts").
COUNT_TAIL_PROBABILITY = 1e-12
# Drift innovations and the initial drift are truncated at this many standard deviations.
DRIFT_TRUNCATION_SD = 8.0

# Upper bounds of the scenario's sizes and amounts (docs/model.md section 2 justifies each). They
# bound the memory of a scenario, an env and a trajectory, and keep every count and sum exact.
MAX_VERSION = 1_000
MAX_HORIZON = 10_000  # periods: a trajectory holds (T, N) arrays
MAX_TICKS_PER_PERIOD = 100
MAX_PRODUCTS = 1_000
MAX_SEGMENTS = 1_000
MAX_LEAD_TIME = 52  # periods: the pipeline observation holds N * L_max entries
MAX_MONEY = 1e6  # per unit, per customer or per order
MAX_ARRIVAL_RATE = 1e6  # customers per period and segment
# Peak expected customers per tick over all segments: keeps the Poisson tail bound (count_cap)
# computable and every count below 2**24, exact in the float32 observations.
MAX_TICK_ARRIVALS = 1e6
MAX_SLOT_ATTENTION = 10.0
MAX_CAPACITY = 1e9  # units
MAX_INITIAL_STOCK_FACTOR = 100.0
MAX_SHOCKS = 1_000
SHOCK_MULTIPLIER_RANGE = (0.01, 100.0)  # one shock
SHOCK_PRODUCT_RANGE = (1e-6, 1e6)  # the product of overlapping shocks


class ScenarioError(ValueError):
    """A scenario parameter is missing, malformed or out of its allowed range."""


@dataclass(frozen=True)
class Shock:
    """A demand shock: multiplies a product's attraction or a segment's arrival rate.

    Active for periods ``period .. period + duration - 1``.
    """

    period: int
    target: str  # "product" or "segment"
    index: int
    multiplier: float
    duration: int = 1


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Scenario:
    """Structural parameters of one retailer (docs/model.md §2, "Scenario parameters").

    Build it with :meth:`from_dict` (or :func:`coord_env.load_scenario`), which validates every field
    and raises :class:`ScenarioError` naming the field and its allowed range.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> scenario = load_scenario("tiny")
    >>> scenario.num_products, scenario.num_segments, scenario.num_slots
    (2, 2, 1)
    >>> len(scenario.content_hash)
    64
    """

    name: str
    version: int
    description: str
    horizon: int  # T, periods per episode
    ticks_per_period: int  # R
    num_slots: int  # C
    # Products, shape (N,)
    price: np.ndarray
    cost: np.ndarray
    holding_cost: np.ndarray
    lost_sale_penalty: np.ndarray
    fixed_order_cost: np.ndarray
    salvage_value: np.ndarray
    lead_time_pmf: np.ndarray  # (N, L_max): P(lead time = l + 1)
    # Segments
    arrival_rate: np.ndarray  # (M,) customers per period
    utility: np.ndarray  # (M, N)
    no_purchase_utility: np.ndarray  # (M,)
    responsiveness: np.ndarray  # (M,) delta_k
    substitution: np.ndarray  # (M,) sigma_k
    slot_attention: np.ndarray  # (C,) eta_j
    # Shared and non-stationary parts
    warehouse_capacity: float  # W, math.inf when unlimited
    season_amplitude: float  # A
    season_period: float  # P
    season_phase: float  # phi
    drift_rho: float
    drift_std: np.ndarray  # (N,) tau_i
    shocks: tuple[Shock, ...] = field(default_factory=tuple)
    initial_stock_factor: float = 2.0  # on-hand ~ U{0..factor*(L_i+1)*mu_i}
    order_levels: int = 41  # G, discrete action levels per product

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Validate a mapping of parameters (the catalog's JSON format) and build a Scenario.

        Parameters
        ----------
        data : mapping
            Keys are the field names of this class; ``lead_time`` (N integers >= 1) may be given
            instead of ``lead_time_pmf``; ``salvage_value`` defaults to ``0.5 * cost``;
            ``slot_attention`` to ``1 / log2(j + 1)``; ``warehouse_capacity`` ``null`` means unlimited.

        Returns
        -------
        Scenario

        Raises
        ------
        ScenarioError
            If a field is unknown, missing, of the wrong shape, or out of range.
        """
        return _build(dict(data))

    def replace(self, **overrides: Any) -> Scenario:
        """Return a validated copy with some parameters replaced (the hash changes with them)."""
        data = self.to_dict()
        if "lead_time" in overrides:
            data.pop("lead_time_pmf")
        data.update(overrides)
        return _build(data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready parameters; ``Scenario.from_dict(s.to_dict())`` rebuilds ``s``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif f.name == "shocks":
                value = [dataclasses.asdict(s) for s in value]
            elif f.name == "warehouse_capacity" and math.isinf(value):
                value = None
            out[f.name] = value
        return out

    # ------------------------------------------------------------------ identity
    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of every parameter, the name included; not the description."""
        data = self.to_dict()
        data.pop("description")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def env_id(self) -> str:
        """The registered PettingZoo id, e.g. ``coord/default-v0``."""
        return f"coord/{self.name}-v{self.version}"

    # ------------------------------------------------------------------ sizes
    @cached_property
    def num_products(self) -> int:
        return int(self.price.shape[0])

    @cached_property
    def num_segments(self) -> int:
        return int(self.arrival_rate.shape[0])

    @cached_property
    def max_lead_time(self) -> int:
        return int(self.lead_time_pmf.shape[1])

    @cached_property
    def num_ticks(self) -> int:
        """Ticks per episode, T * R."""
        return self.horizon * self.ticks_per_period

    @cached_property
    def random_lead_times(self) -> bool:
        return bool(np.any((self.lead_time_pmf > 0) & (self.lead_time_pmf < 1)))

    @cached_property
    def lead_time(self) -> np.ndarray:
        """Deterministic lead times (N,), or the most likely one per product when random."""
        return _readonly(np.argmax(self.lead_time_pmf, axis=1) + 1)

    @cached_property
    def lead_time_onehot(self) -> np.ndarray:
        """(N, L_max) int64 indicator of each product's (most likely) lead time."""
        onehot = np.zeros(self.lead_time_pmf.shape, dtype=np.int64)
        onehot[np.arange(self.num_products), self.lead_time - 1] = 1
        return _readonly(onehot)

    @cached_property
    def holding_cost_per_tick(self) -> np.ndarray:
        """(N,) h_i / R."""
        return _readonly(self.holding_cost / self.ticks_per_period)

    @cached_property
    def mean_lead_time(self) -> np.ndarray:
        periods = np.arange(1, self.max_lead_time + 1)
        return _readonly(self.lead_time_pmf @ periods)

    # ------------------------------------------------------------------ derived demand figures
    @cached_property
    def unlimited_capacity(self) -> bool:
        return math.isinf(self.warehouse_capacity)

    @cached_property
    def has_fixed_order_cost(self) -> bool:
        return bool(np.any(self.fixed_order_cost > 0))

    @cached_property
    def base_attraction(self) -> np.ndarray:
        """(M, N) exp(u_ki): attraction without drift, shocks or slate."""
        return _readonly(np.exp(self.utility))

    @cached_property
    def no_purchase_attraction(self) -> np.ndarray:
        """(M,) exp(u_k0)."""
        return _readonly(np.exp(self.no_purchase_utility))

    @cached_property
    def slot_boost(self) -> np.ndarray:
        """(M, C) attraction multiplier exp(delta_k eta_j) of slot j in segment k's slate."""
        return _readonly(np.exp(self.responsiveness[:, None] * self.slot_attention[None, :]))

    @cached_property
    def expected_boost(self) -> np.ndarray:
        """(M,) mean attraction multiplier of a product under a uniformly random slate."""
        shown = self.num_slots / self.num_products
        boost = self.slot_boost.mean(axis=1)
        return _readonly(1.0 - shown + shown * boost)

    @cached_property
    def demand_scale(self) -> np.ndarray:
        """(N,) mu_i: mean first-choice demand per period under a uniformly random slate.

        Expected attractions exp(u_ki) * expected_boost_k, no drift, season factor 1. This is the
        per-product scale of observations and of the order-quantity action levels.
        """
        attraction = self.base_attraction * self.expected_boost[:, None]
        choice = attraction / (
            self.no_purchase_attraction[:, None] + attraction.sum(axis=1, keepdims=True)
        )
        return _readonly(self.arrival_rate @ choice)

    @cached_property
    def order_step(self) -> np.ndarray:
        """(N,) units per order level: levels 0..G-1 span 0..at least 5 mean period demands."""
        return _readonly(
            np.maximum(1, np.ceil(5.0 * self.demand_scale / (self.order_levels - 1))).astype(
                np.int64
            )
        )

    @cached_property
    def target_step(self) -> np.ndarray:
        """(N,) units per level in ``order_up_to`` mode: levels span 0..at least 4(L_max_i+1) mean demands."""
        span = 4.0 * (self.max_lead_time_per_product + 1) * self.demand_scale
        return _readonly(np.maximum(1, np.ceil(span / (self.order_levels - 1))).astype(np.int64))

    @cached_property
    def max_lead_time_per_product(self) -> np.ndarray:
        support = self.lead_time_pmf > 0
        return _readonly(self.max_lead_time - np.argmax(support[:, ::-1], axis=1))

    @cached_property
    def initial_stock_high(self) -> np.ndarray:
        """(N,) largest initial on-hand: floor(factor * (mean L_i + 1) * mu_i)."""
        high = self.initial_stock_factor * (self.mean_lead_time + 1.0) * self.demand_scale
        return _readonly(np.floor(high).astype(np.int64))

    @cached_property
    def season(self) -> np.ndarray:
        """(T,) arrival multiplier a(t) = 1 + A sin(2 pi (t + phi) / P)."""
        t = np.arange(self.horizon)
        return _readonly(
            1.0
            + self.season_amplitude
            * np.sin(2 * np.pi * (t + self.season_phase) / self.season_period)
        )

    @cached_property
    def product_shock(self) -> np.ndarray:
        """(T, N) attraction multipliers from product shocks (1 where none)."""
        return self._shock_table("product", self.num_products)

    @cached_property
    def segment_shock(self) -> np.ndarray:
        """(T, M) arrival-rate multipliers from segment shocks (1 where none)."""
        return self._shock_table("segment", self.num_segments)

    def _shock_table(self, target: str, width: int) -> np.ndarray:
        table = np.ones((self.horizon, width))
        for shock in self.shocks:
            if shock.target == target:
                table[shock.period : shock.period + shock.duration, shock.index] *= shock.multiplier
        return _readonly(table)

    @cached_property
    def tick_arrival_rate(self) -> np.ndarray:
        """(T, M) expected customers per tick: lambda_k * a(t) * shock_k(t) / R."""
        rate = self.arrival_rate[None, :] * self.season[:, None] * self.segment_shock
        return _readonly(rate / self.ticks_per_period)

    @cached_property
    def tick_total_arrival_rate(self) -> np.ndarray:
        """(T,) expected customers per tick over all segments, Lambda(t) = sum_k Lambda_k(t)."""
        return _readonly(self.tick_arrival_rate.sum(axis=1))

    @cached_property
    def segment_mix(self) -> np.ndarray:
        """(T, M) share of each period's arrivals from segment k, Lambda_k(t) / Lambda(t)."""
        return _readonly(self.tick_arrival_rate / self.tick_total_arrival_rate[:, None])

    @cached_property
    def count_cap(self) -> int:
        """Largest customer count one Poisson draw may take in a tick (a 1e-12 tail truncation).

        Any rate the scenario can produce is at most the peak total arrival rate per tick, so the
        truncation changes a draw with probability below ``COUNT_TAIL_PROBABILITY``.
        """
        peak_rate = float(self.tick_arrival_rate.sum(axis=1).max())
        return int(stats.poisson.isf(COUNT_TAIL_PROBABILITY, max(peak_rate, 1e-9))) + 1

    @cached_property
    def drift_bound(self) -> np.ndarray:
        """(N,) bound on |d_i(t)| implied by the truncated innovations and initial draw."""
        if self.drift_rho >= 1.0 or not np.any(self.drift_std > 0):
            return _readonly(np.zeros(self.num_products))
        stationary = self.drift_std / math.sqrt(1.0 - self.drift_rho**2)
        walk = self.drift_std / (1.0 - self.drift_rho)
        # (1 + 1e-9) covers floating-point rounding in the AR(1) recursion.
        return _readonly(DRIFT_TRUNCATION_SD * np.maximum(stationary, walk) * (1 + 1e-9))

    def describe(self) -> str:
        """One line: the registered id and the sizes (N, M, C, lead times, T, R, W)."""
        capacity = "inf" if math.isinf(self.warehouse_capacity) else f"{self.warehouse_capacity:g}"
        return (
            f"{self.env_id}: N={self.num_products} M={self.num_segments} C={self.num_slots} "
            f"L={self.lead_time.min()}-{self.max_lead_time} T={self.horizon} R={self.ticks_per_period} "
            f"W={capacity}"
        )


# ---------------------------------------------------------------------- validation


def _fail(name: str, message: str) -> ScenarioError:
    return ScenarioError(f"scenario parameter '{name}': {message}")


def _array(
    data: dict,
    name: str,
    shape: tuple[int, ...],
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    dtype: type = float,
) -> np.ndarray:
    if name not in data:
        raise _fail(name, "is required")
    try:
        array = np.array(data[name], dtype=float)
    except (TypeError, ValueError) as error:
        raise _fail(name, f"must be numeric with shape {shape}, got {data[name]!r}") from error
    if array.shape != shape:
        raise _fail(name, f"must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise _fail(name, "must be finite (no NaN or inf)")
    if low is not None:
        bad = array <= low if low_open else array < low
        if np.any(bad):
            bound = ">" if low_open else ">="
            raise _fail(
                name,
                f"must be {bound} {low:g}, got {array[bad].ravel()[0]:g}"
                + _range_text(name, low, high, low_open),
            )
    if high is not None and np.any(array > high):
        raise _fail(
            name,
            f"must be <= {high:g}, got {array[array > high].ravel()[0]:g}"
            + _range_text(name, low, high, low_open),
        )
    if dtype is int:
        if np.any(array != np.round(array)):
            raise _fail(name, "must hold integers")
        array = array.astype(np.int64)
    return _readonly(array)


def _scalar(
    data: Mapping,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
    default: Any = None,
    label: str | None = None,
) -> Any:
    value = data.get(name, default)
    name = label or name
    if value is None:
        raise _fail(name, "is required")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(name, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _fail(name, "must be finite")
    if integer and value != int(value):
        raise _fail(name, f"must be an integer, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise _fail(
            name,
            f"must be {'>' if low_open else '>='} {low:g}, got {value!r}"
            + _range_text(name, low, high, low_open),
        )
    if high is not None and value > high:
        raise _fail(
            name, f"must be <= {high:g}, got {value!r}" + _range_text(name, low, high, low_open)
        )
    return int(value) if integer else float(value)


def _range_text(name: str, low: float | None, high: float | None, low_open: bool) -> str:
    """``" (allowed: 1 <= horizon <= 10000)"``: the whole range, for an error message."""
    if low is None or high is None:
        return ""
    return f" (allowed: {low:g} {'<' if low_open else '<='} {name} <= {high:g})"


_FIELDS = {f.name for f in dataclasses.fields(Scenario)}


def _build(data: dict[str, Any]) -> Scenario:
    unknown = set(data) - _FIELDS - {"lead_time"}
    if unknown:
        raise ScenarioError(
            f"unknown scenario parameter(s) {sorted(unknown)}; valid parameters: {sorted(_FIELDS | {'lead_time'})}"
        )
    for text_field in ("name", "description"):
        if not isinstance(data.get(text_field), str) or not data[text_field]:
            raise _fail(text_field, "must be a non-empty string")
    version = _scalar(data, "version", low=0, high=MAX_VERSION, integer=True)
    horizon = _scalar(data, "horizon", low=1, high=MAX_HORIZON, integer=True)
    ticks = _scalar(
        data, "ticks_per_period", low=1, high=MAX_TICKS_PER_PERIOD, integer=True, default=1
    )
    num_products = _length(data, "price", "product", MAX_PRODUCTS)
    n = (num_products,)
    slots = _scalar(data, "num_slots", low=1, high=num_products, integer=True)
    price = _array(data, "price", n, low=0, high=MAX_MONEY, low_open=True)
    cost = _array(data, "cost", n, low=0, high=MAX_MONEY)
    if np.any(cost >= price):
        i = int(np.argmax(cost >= price))
        raise _fail(
            "cost",
            f"must be < price for every product (product {i}: cost {cost[i]:g} >= price {price[i]:g})",
        )
    holding = _array(data, "holding_cost", n, low=0, high=MAX_MONEY)
    penalty = _array(data, "lost_sale_penalty", n, low=0, high=MAX_MONEY)
    fixed = (
        _array(data, "fixed_order_cost", n, low=0, high=MAX_MONEY)
        if "fixed_order_cost" in data
        else _readonly(np.zeros(n))
    )
    if data.get("salvage_value") is None:
        data["salvage_value"] = (0.5 * cost).tolist()
    salvage = _array(data, "salvage_value", n, low=0)
    if np.any(salvage > cost):
        raise _fail(
            "salvage_value",
            "must be <= cost for every product (otherwise ordering to salvage pays)",
        )

    if ("lead_time" in data) == (data.get("lead_time_pmf") is not None):
        raise _fail(
            "lead_time", "give exactly one of 'lead_time' (N integers >= 1) or 'lead_time_pmf'"
        )
    if "lead_time" in data:
        lead = _array(data, "lead_time", n, low=1, high=MAX_LEAD_TIME, dtype=int)
        pmf = np.zeros((num_products, int(lead.max())))
        pmf[np.arange(num_products), lead - 1] = 1.0
    else:
        raw = data["lead_time_pmf"]
        width = len(raw[0]) if isinstance(raw, (list, tuple, np.ndarray)) and len(raw) else 0
        if width < 1:
            raise _fail("lead_time_pmf", "must be N rows of probabilities over lead times 1..L_max")
        if width > MAX_LEAD_TIME:
            raise _fail(
                "lead_time_pmf",
                f"has {width} columns (lead times 1..{width}); at most {MAX_LEAD_TIME} "
                f"(allowed: 1 <= L_max <= {MAX_LEAD_TIME})",
            )
        pmf = np.array(_array(data, "lead_time_pmf", (num_products, width), low=0, high=1))
        if np.any(np.abs(pmf.sum(axis=1) - 1.0) > 1e-9):
            raise _fail("lead_time_pmf", "each row must sum to 1")
        pmf = pmf[:, : int(np.max(np.nonzero(pmf.any(axis=0))[0])) + 1]
    lead_time_pmf = _readonly(pmf)

    num_segments = _length(data, "arrival_rate", "segment", MAX_SEGMENTS)
    m = (num_segments,)
    arrival = _array(data, "arrival_rate", m, low=0, high=MAX_ARRIVAL_RATE, low_open=True)
    utility = _array(data, "utility", (num_segments, num_products), low=-50, high=50)
    if data.get("no_purchase_utility") is None:
        data["no_purchase_utility"] = [0.0] * num_segments
    no_purchase = _array(data, "no_purchase_utility", m, low=-50, high=50)
    responsiveness = _array(data, "responsiveness", m, low=0, high=20)
    substitution = _array(data, "substitution", m, low=0, high=1)
    if data.get("slot_attention") is None:
        data["slot_attention"] = (1.0 / np.log2(np.arange(slots) + 2.0)).tolist()
    attention = _array(
        data, "slot_attention", (slots,), low=0, high=MAX_SLOT_ATTENTION, low_open=True
    )
    if np.any(np.diff(attention) > 0):
        raise _fail(
            "slot_attention", "must be non-increasing over slots (eta_1 >= eta_2 >= ... > 0)"
        )

    capacity = data.get("warehouse_capacity")
    capacity = (
        math.inf
        if capacity is None
        else _scalar(data, "warehouse_capacity", low=0, high=MAX_CAPACITY, low_open=True)
    )
    amplitude = _scalar(data, "season_amplitude", low=0, high=0.999, default=0.0)
    period = _scalar(
        data, "season_period", low=0, high=float(MAX_HORIZON), low_open=True, default=52.0
    )
    phase = _scalar(
        data, "season_phase", low=-float(MAX_HORIZON), high=float(MAX_HORIZON), default=0.0
    )
    rho = _scalar(data, "drift_rho", low=0, high=0.999, default=0.0)
    drift_std_raw = data.get("drift_std", 0.0)
    if isinstance(drift_std_raw, (int, float)) and not isinstance(drift_std_raw, bool):
        data["drift_std"] = [drift_std_raw] * num_products
    drift_std = _array(data, "drift_std", n, low=0, high=5)
    initial_factor = _scalar(
        data, "initial_stock_factor", low=0, high=MAX_INITIAL_STOCK_FACTOR, default=2.0
    )
    levels = _scalar(data, "order_levels", low=2, high=1001, integer=True, default=41)
    raw_shocks = data.get("shocks") or ()
    if not isinstance(raw_shocks, (list, tuple)) or len(raw_shocks) > MAX_SHOCKS:
        raise _fail("shocks", f"must be a list of at most {MAX_SHOCKS} shocks")
    shocks = tuple(
        _shock(raw, index, horizon, num_products, num_segments)
        for index, raw in enumerate(raw_shocks)
    )

    scenario = Scenario(
        name=data["name"],
        version=version,
        description=data["description"],
        horizon=horizon,
        ticks_per_period=ticks,
        num_slots=slots,
        price=price,
        cost=cost,
        holding_cost=holding,
        lost_sale_penalty=penalty,
        fixed_order_cost=fixed,
        salvage_value=salvage,
        lead_time_pmf=lead_time_pmf,
        arrival_rate=arrival,
        utility=utility,
        no_purchase_utility=no_purchase,
        responsiveness=responsiveness,
        substitution=substitution,
        slot_attention=attention,
        warehouse_capacity=capacity,
        season_amplitude=amplitude,
        season_period=period,
        season_phase=phase,
        drift_rho=rho,
        drift_std=drift_std,
        shocks=shocks,
        initial_stock_factor=initial_factor,
        order_levels=levels,
    )
    _check_derived(scenario)
    return scenario


def _length(data: Mapping, name: str, what: str, most: int) -> int:
    """The length of the list ``data[name]`` that sets a size (N or M), checked against ``most``."""
    value = data.get(name)
    size = len(value) if isinstance(value, (list, tuple, np.ndarray)) else 0
    if size < 1:
        raise _fail(name, f"must list at least one {what}")
    if size > most:
        raise _fail(
            name, f"lists {size} {what}s; at most {most:,} (allowed: 1 <= {what}s <= {most:,})"
        )
    return size


def _check_derived(scenario: Scenario) -> None:
    """Bounds on combinations of fields: overlapping shocks and the peak arrivals per tick."""
    low, high = SHOCK_PRODUCT_RANGE
    for table in (scenario.product_shock, scenario.segment_shock):
        if table.size and (table.min() < low or table.max() > high):
            raise _fail(
                "shocks",
                f"overlapping shocks multiply to {table.max() if table.max() > high else table.min():g}"
                f" in some period (allowed: {low:g} <= product of overlapping shocks <= {high:g})",
            )
    peak = float(scenario.tick_arrival_rate.sum(axis=1).max())
    if peak > MAX_TICK_ARRIVALS:
        raise _fail(
            "arrival_rate",
            f"the peak expected customers per tick, max over t of sum_k lambda_k a(t) e_k(t) / R, "
            f"is {peak:g} (allowed: at most {MAX_TICK_ARRIVALS:g}, so that customer counts stay "
            "exact)",
        )


def _shock(raw: Any, index: int, horizon: int, num_products: int, num_segments: int) -> Shock:
    name = f"shocks[{index}]"
    if isinstance(raw, Shock):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, Mapping):
        raise _fail(name, "must be an object with period, target, index, multiplier[, duration]")
    extra = set(raw) - {"period", "target", "index", "multiplier", "duration"}
    if extra:
        raise _fail(
            name,
            f"unknown keys {sorted(extra)}; allowed: period, target, index, multiplier, duration",
        )
    target = raw.get("target")
    if target not in ("product", "segment"):
        raise _fail(f"{name}.target", f"must be 'product' or 'segment', got {target!r}")
    width = num_products if target == "product" else num_segments
    return Shock(
        period=_scalar(
            raw, "period", label=f"{name}.period", low=0, high=horizon - 1, integer=True
        ),
        target=target,
        index=_scalar(raw, "index", label=f"{name}.index", low=0, high=width - 1, integer=True),
        multiplier=_scalar(
            raw,
            "multiplier",
            label=f"{name}.multiplier",
            low=SHOCK_MULTIPLIER_RANGE[0],
            high=SHOCK_MULTIPLIER_RANGE[1],
        ),
        duration=_scalar(
            raw,
            "duration",
            label=f"{name}.duration",
            low=1,
            high=MAX_HORIZON,
            integer=True,
            default=1,
        ),
    )
