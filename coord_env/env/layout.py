"""Observation and state vectors: which fields, in which slices, scaled how, bounded by what.

Every observation is the concatenation of named fields. A field's raw value (units, customers,
shares) is divided by a documented per-element scale so that typical values are O(1). The layout
object lets users slice and unscale observations without reverse-engineering indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coord_env.core import State
from coord_env.scenarios import Scenario

__all__ = [
    "FIELD_DOCS",
    "Field",
    "ObservationLayout",
    "build_fields",
    "layouts_for",
    "raw_state",
    "time_features",
]

TIME_FEATURES = ("season_sin", "season_cos", "progress", "tick_in_period", "inventory_acts")
INVENTORY_ACTS = TIME_FEATURES.index("inventory_acts")  # position in the "time" field

FIELD_DOCS = {
    "on_hand": "units in the warehouse, per product / mu_i",
    "pipeline": "units on order, per product and due period (1..L_max periods ahead) / mu_i",
    "period_sales": "units sold in the last completed period, per product / mu_i",
    "period_lost": "lost sales (customers) in the last completed period, per first-choice product / mu_i",
    "exposure": "share of the last completed period's visitors whose slate showed the product (0..1)",
    "tick_sales": "units sold in the last tick, per product / (mu_i / R)",
    "visits": "customers who arrived in the last tick, per segment / (lambda_k / R)",
    "conversion": "share of the last tick's visitors who bought, per segment (0 with no visitors)",
    "drift": "popularity drift d_i(t) of the current period (hidden state: full observations and state() only)",
    "time": "sin and cos of the season phase 2 pi (t + phi) / P, ticks elapsed / (T R), tick in period / R, "
    "1 if the inventory agent acts on the coming tick",
}


@dataclass(frozen=True)
class Field:
    """One named block of an observation vector.

    Attributes
    ----------
    name : str
    shape : tuple of int
        Shape of the block before flattening, e.g. (N,) or (N, L_max).
    scale : ndarray
        Raw value = observation value * scale (elementwise, flattened).
    low, high : ndarray
        Bounds of the (scaled) observation values, flattened.
    doc : str
    """

    name: str
    shape: tuple[int, ...]
    scale: np.ndarray
    low: np.ndarray
    high: np.ndarray
    doc: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class ObservationLayout:
    """The fields of one agent's observation (or of the state vector), in order.

    Examples
    --------
    >>> import coord_env
    >>> env = coord_env.parallel_env("tiny")
    >>> layout = env.observation_layouts["inventory_0"]
    >>> layout.names[:2]
    ('on_hand', 'pipeline')
    >>> obs, _ = env.reset(seed=0)
    >>> units = layout.unscale(obs["inventory_0"])["on_hand"]  # back to units
    >>> units.shape
    (2,)
    """

    def __init__(self, fields: Sequence[Field], state_slices: dict[str, slice] | None = None):
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in self.fields)
        self.slices: dict[str, slice] = {}
        start = 0
        for f in self.fields:
            self.slices[f.name] = slice(start, start + f.size)
            start += f.size
        self.size = start
        self.scale = np.concatenate([f.scale for f in self.fields])
        self.low = np.concatenate([f.low for f in self.fields]).astype(np.float32)
        self.high = np.concatenate([f.high for f in self.fields]).astype(np.float32)
        self._inverse_scale = 1.0 / self.scale
        # Where each element comes from in the raw state vector (see raw_state); None: identity.
        self._take = None
        if state_slices is not None:
            self._take = np.concatenate(
                [
                    np.arange(state_slices[f.name].start, state_slices[f.name].stop)
                    for f in self.fields
                ]
            )

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}[{s.start}:{s.stop}]" for n, s in self.slices.items())
        return f"ObservationLayout({parts})"

    def field(self, name: str) -> Field:
        """The Field called ``name``; KeyError lists the valid names."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no field {name!r} in this layout; fields: {', '.join(self.names)}")

    def unpack(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Split an observation (scaled values) into named blocks of their natural shapes."""
        return {
            f.name: np.asarray(observation)[..., self.slices[f.name]].reshape(
                *np.shape(observation)[:-1], *f.shape
            )
            for f in self.fields
        }

    def unscale(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Like :meth:`unpack`, but in raw units (observation value times its scale)."""
        return self.unpack(np.asarray(observation, dtype=np.float64) * self.scale)

    def describe(self) -> str:
        """A text table: field, slice, shape, scale meaning."""
        lines = [f"{'field':<14}{'slice':<12}{'shape':<12}meaning"]
        for f in self.fields:
            s = self.slices[f.name]
            lines.append(f"{f.name:<14}{f'{s.start}:{s.stop}':<12}{f.shape!s:<12}{f.doc}")
        return "\n".join(lines)

    def select(self, scaled_state: np.ndarray) -> np.ndarray:
        """This layout's elements (..., size), as a new array, from scaled state vectors (..., S)."""
        return scaled_state.copy() if self._take is None else scaled_state.take(self._take, axis=-1)

    def build(self, raw_state: np.ndarray) -> np.ndarray:
        """Observation (B, size) float32 from the raw state vectors (B, S) of :func:`raw_state`."""
        raw = raw_state if self._take is None else raw_state[:, self._take]
        return np.multiply(
            raw, self._inverse_scale, out=np.empty(raw.shape, np.float32), casting="same_kind"
        )


def build_fields(scenario: Scenario, max_order: np.ndarray) -> dict[str, Field]:
    """Every field's scale and bounds for a scenario and the largest order per product and period.

    The bounds are provable: on-hand never exceeds the initial maximum plus T maximal orders (nor the
    warehouse capacity); each customer count in a tick is truncated at ``scenario.count_cap``.
    """
    s = scenario
    N, M, L, R = s.num_products, s.num_segments, s.max_lead_time, s.ticks_per_period
    mu = s.demand_scale
    on_hand_max = np.minimum(s.initial_stock_high + s.horizon * max_order, s.warehouse_capacity)
    pipeline_max = np.repeat(
        min(L, s.horizon) * max_order, L
    )  # orders due the same period (crossing)
    customers_max = float(R * M * s.count_cap)  # first-choice customers of one product in a period

    def field(
        name: str,
        scale: np.ndarray,
        high: np.ndarray,
        low: np.ndarray | float = 0.0,
        shape: tuple[int, ...] | None = None,
    ) -> Field:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        high = np.broadcast_to(np.asarray(high, dtype=np.float64), scale.shape).ravel()
        low = np.broadcast_to(np.asarray(low, dtype=np.float64), scale.shape).ravel()
        return Field(name, shape or scale.shape, scale, low, high, FIELD_DOCS[name])

    tick_scale = mu / R
    arrival_scale = s.arrival_rate / R
    # A scenario without drift still gets a non-degenerate [-1, 1] box (normalizers divide by the width).
    drift_bound = np.where(s.drift_bound > 0, s.drift_bound, 1.0)
    return {
        "on_hand": field("on_hand", mu, on_hand_max / mu),
        "pipeline": field(
            "pipeline", np.repeat(mu, L), pipeline_max / np.repeat(mu, L), shape=(N, L)
        ),
        "period_sales": field("period_sales", mu, on_hand_max / mu),
        "period_lost": field("period_lost", mu, customers_max / mu),
        "exposure": field("exposure", np.ones(N), 1.0),
        "tick_sales": field("tick_sales", tick_scale, on_hand_max / tick_scale),
        # walk-aways plus, per product, at most its first-choice demand (<= M * count_cap)
        "visits": field("visits", arrival_scale, (1 + N * M) * s.count_cap / arrival_scale),
        "conversion": field("conversion", np.ones(M), 1.0),
        "drift": field("drift", np.ones(N), drift_bound, low=-drift_bound),
        "time": field(
            "time",
            np.ones(len(TIME_FEATURES)),
            np.array([1.0, 1.0, 1.0, 1.0, 1.0]),
            low=np.array([-1.0, -1.0, 0.0, 0.0, 0.0]),
        ),
    }


_AGENT_FIELDS = {
    "partial": {
        "inventory_0": ("on_hand", "pipeline", "period_sales", "period_lost", "exposure", "time"),
        "recommender_0": ("on_hand", "visits", "conversion", "tick_sales", "time"),
    },
    "siloed": {
        "inventory_0": ("on_hand", "pipeline", "period_sales", "period_lost", "time"),
        "recommender_0": ("visits", "conversion", "tick_sales", "time"),
    },
}
STATE_FIELDS = (
    "on_hand",
    "pipeline",
    "drift",
    "period_sales",
    "period_lost",
    "exposure",
    "tick_sales",
    "visits",
    "conversion",
    "time",
)


def layouts_for(
    fields: dict[str, Field], observation_mode: str
) -> tuple[dict[str, ObservationLayout], ObservationLayout]:
    """The per-agent observation layouts for a mode, and the state layout."""
    state_layout = ObservationLayout([fields[name] for name in STATE_FIELDS])
    if observation_mode == "full":
        return {"inventory_0": state_layout, "recommender_0": state_layout}, state_layout
    per_agent = {
        agent: ObservationLayout([fields[name] for name in names], state_layout.slices)
        for agent, names in _AGENT_FIELDS[observation_mode].items()
    }
    return per_agent, state_layout


def time_features(scenario: Scenario, tick: int) -> list[float]:
    """The "time" field's raw values at ``tick`` (``TIME_FEATURES`` order), as Python floats.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> time_features(load_scenario("tiny"), 0)[2:]
    [0.0, 0.0, 1.0]
    """
    R = scenario.ticks_per_period
    phase = 2 * math.pi * (tick // R + scenario.season_phase) / scenario.season_period
    return [
        math.sin(phase),
        math.cos(phase),
        tick / scenario.num_ticks,
        (tick % R) / R,
        float(tick % R == 0),
    ]


def raw_state(scenario: Scenario, state: State) -> np.ndarray:
    """Raw (unscaled) values of every state field, (B, S) float64, in ``STATE_FIELDS`` order.

    Every observation is a selection of these elements divided by their scales. The readable
    definition of what :func:`coord_env.env.compiled.fill_state_vectors` computes in one pass (the
    envs call that; tests/test_env_fast_path.py checks the two agree bit for bit).
    """
    s = scenario
    R = s.ticks_per_period
    tick = state.tick
    B = state.batch_size
    time = time_features(s, tick)
    blocks = (
        state.on_hand,
        state.pipeline.reshape(B, -1),
        state.drift_path[:, min(tick // R, s.horizon - 1)],
        state.period_sales,
        state.period_lost,
        state.period_impressions / np.maximum(state.period_visits, 1)[:, None],  # exposure share
        state.last_sales,
        state.last_visits,
        state.last_purchases / np.maximum(state.last_visits, 1),  # conversion
        np.repeat(np.array([time]), B, axis=0),
    )
    return np.concatenate(blocks, axis=1, dtype=np.float64)
