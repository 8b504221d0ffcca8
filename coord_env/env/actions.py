"""Action spaces, validation and decoding into order quantities and slates.

Validation happens here, at the boundary, before anything in the simulation changes: a bad action
raises :class:`InvalidActionError` naming the agent, the field and the allowed values, and leaves
the environment exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from coord_env.checks import check_choice
from coord_env.env import compiled
from coord_env.scenarios import Scenario

__all__ = ["INVENTORY", "RECOMMENDER", "ActionCodec", "InvalidActionError"]

INVENTORY = "inventory_0"
RECOMMENDER = "recommender_0"
INVENTORY_ACTIONS = ("order_quantity", "order_up_to")


class InvalidActionError(ValueError):
    """An action has the wrong keys, shape, dtype or values."""


class ActionCodec:
    """Builds the two action spaces once and turns valid actions into (orders, slates).

    Parameters
    ----------
    scenario : Scenario
    continuous_actions : bool
        False: ``MultiDiscrete`` levels and slot choices. True: ``Box`` order fractions and
        recommendation scores.
    inventory_action : {"order_quantity", "order_up_to"}
        Whether an inventory level is an order quantity or a target inventory position.
    clip_actions : bool
        A training option: :meth:`clip` clips Box actions to each agent's bounds (only with
        ``continuous_actions=True``).

    Raises
    ------
    ValueError
        An unknown ``inventory_action``, or ``clip_actions=True`` with discrete actions.

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> codec = ActionCodec(load_scenario("tiny"), continuous_actions=False, inventory_action="order_quantity")
    >>> codec.spaces["recommender_0"]
    MultiDiscrete([2 2])
    """

    def __init__(
        self,
        scenario: Scenario,
        continuous_actions: bool,
        inventory_action: str,
        clip_actions: bool = False,
    ):
        check_choice("inventory_action", inventory_action, INVENTORY_ACTIONS)
        check_choice("clip_actions", clip_actions, (False, True))
        s = scenario
        self.scenario = s
        self.continuous = bool(continuous_actions)
        if clip_actions and not self.continuous:
            raise ValueError(
                "clip_actions=True needs continuous_actions=True: only Box actions (order "
                "fractions, recommendation scores) can be clipped; discrete levels are refused "
                "when out of range"
            )
        self.clip_actions = bool(clip_actions)
        self.order_up_to = inventory_action == "order_up_to"
        self.level_step = s.target_step if self.order_up_to else s.order_step
        self.max_level_units = (
            s.order_levels - 1
        ) * self.level_step  # largest order or target, units
        N, M, C, G = s.num_products, s.num_segments, s.num_slots, s.order_levels
        if self.continuous:
            self.spaces: dict[str, spaces.Space] = {
                INVENTORY: spaces.Box(0.0, 1.0, (N,), dtype=np.float32),
                RECOMMENDER: spaces.Box(-1.0, 1.0, (M * N,), dtype=np.float32),
            }
        else:
            self.spaces = {
                INVENTORY: spaces.MultiDiscrete(np.full(N, G, dtype=np.int64)),
                RECOMMENDER: spaces.MultiDiscrete(np.full(M * C, N, dtype=np.int64)),
            }
        self._field = {
            INVENTORY: "target inventory position" if self.order_up_to else "order quantity",
            RECOMMENDER: "recommendation scores"
            if self.continuous
            else "slate (product per segment and slot)",
        }
        # per agent: (shape, largest level) for MultiDiscrete or (shape, low, high) for Box, so
        # validation reads plain Python values
        self._bounds = {
            agent: (space.shape, int(space.nvec[0]) - 1)
            if isinstance(space, spaces.MultiDiscrete)
            else (space.shape, float(space.low[0]), float(space.high[0]))
            for agent, space in self.spaces.items()
        }
        # dtypes decoded without conversion; any other valid dtype goes through _check first
        self._fast_dtypes = (
            (np.dtype(np.float32), np.dtype(np.float64))
            if self.continuous
            else (np.dtype(np.int64),)
        )

    @property
    def max_order(self) -> np.ndarray:
        """(N,) the largest quantity one period's order can be, in units."""
        return self.max_level_units

    def clip(
        self, actions: Any, batch_size: int | None = None
    ) -> tuple[Any, dict[str, float | np.ndarray]]:
        """Clip each agent's Box action to its own bounds and count the entries clipped.

        A training option (``clip_actions=True``): scoring stays strict. Only finite float arrays
        of the right shape are clipped; anything else (NaN, inf, a wrong shape, dtype or key) is
        passed on unchanged, for :meth:`decode` to refuse with its usual message. The caller's
        arrays are never modified.

        Parameters
        ----------
        actions : dict of agent -> array
            As :meth:`decode` takes them.
        batch_size : int, optional
            B when every action has a leading batch dimension.

        Returns
        -------
        actions : dict
            The clipped actions (the input itself when nothing was clipped).
        clipped : dict of agent -> float, or ndarray of float64 of shape (B,) with ``batch_size``
            The number of entries of each agent's action that were clipped.

        Examples
        --------
        >>> import numpy as np
        >>> from coord_env import load_scenario
        >>> codec = ActionCodec(load_scenario("tiny"), True, "order_quantity", clip_actions=True)
        >>> actions = {"inventory_0": np.array([1.5, 0.2]), "recommender_0": np.zeros(4)}
        >>> clipped_actions, clipped = codec.clip(actions)
        >>> clipped_actions["inventory_0"].tolist(), clipped
        ([1.0, 0.2], {'inventory_0': 1.0, 'recommender_0': 0.0})
        """
        batch = () if batch_size is None else (batch_size,)
        counts = {agent: np.zeros(batch_size or 1) for agent in self.spaces}
        if not self.clip_actions or not isinstance(actions, Mapping):
            return actions, self._counts(counts, batch_size)
        out = dict(actions)
        for agent, (shape, low, high) in self._bounds.items():
            if agent not in actions:
                continue
            try:
                array = np.asarray(actions[agent])
            except ValueError:  # ragged: decode names it
                continue
            if array.shape != batch + shape or array.dtype.kind != "f":
                continue
            if not np.all(np.isfinite(array)):  # clipping must not hide NaN or inf
                continue
            outside = (array < low) | (array > high)
            if np.any(outside):
                counts[agent] = np.count_nonzero(
                    outside.reshape(batch_size or 1, -1), axis=1
                ).astype(np.float64)
                out[agent] = np.clip(array, low, high)
        return out, self._counts(counts, batch_size)

    @staticmethod
    def _counts(
        counts: dict[str, np.ndarray], batch_size: int | None
    ) -> dict[str, float | np.ndarray]:
        """Per-agent counts as (B,) arrays with a batch, else as Python floats."""
        if batch_size is None:
            return {agent: float(count[0]) for agent, count in counts.items()}
        return counts

    def decode(
        self, actions: Mapping[str, Any], agents: list[str], batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate a parallel-API action dict and return units (N,) and slates (M, C).

        The units are order quantities, or target inventory positions when ``order_up_to``.
        With ``batch_size`` B, every action has a leading batch dimension and the results are
        units (B, N) and slates (B, M, C); an error names the first bad batch index.

        Raises
        ------
        InvalidActionError
            Missing or unknown agent keys, or an action of the wrong shape, dtype or range.
        """
        batch = () if batch_size is None else (batch_size,)
        decoded = self._decode_fast(actions, agents, batch)
        if decoded is not None:
            return decoded
        # Not the common case (another container or dtype) or invalid: the checks that name the
        # agent, the field and the allowed values, then the same decoding of the checked arrays.
        if not isinstance(actions, Mapping):
            raise InvalidActionError(
                f"actions must be a dict keyed by agent, got {type(actions).__name__}"
            )
        missing = [a for a in agents if a not in actions]
        unknown = [a for a in actions if a not in agents]
        if missing or unknown:
            raise InvalidActionError(
                f"actions must have exactly the keys {agents}; missing {missing}, unknown {unknown}"
            )
        inventory = self._check(INVENTORY, actions[INVENTORY], batch)
        recommender = self._check(RECOMMENDER, actions[RECOMMENDER], batch)
        decoded = self._decode_checked(inventory, recommender, batch)
        if decoded is None:  # the compiled check disagrees with _check: a bug, never silence it
            raise RuntimeError(f"actions passed validation but not the compiled check: {actions}")
        return decoded

    def _decode_fast(
        self, actions: Any, agents: list[str], batch: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Decode the common case, a dict of exactly the agents' numpy arrays of the right shape
        and the space's dtype, after a compiled check; None for anything else or anything invalid."""
        if type(actions) is not dict or len(actions) != len(agents) or len(agents) != 2:
            return None
        inventory = actions.get(INVENTORY)
        recommender = actions.get(RECOMMENDER)
        if type(inventory) is not np.ndarray or type(recommender) is not np.ndarray:
            return None
        dtype = inventory.dtype
        if (
            recommender.dtype is not dtype
            or dtype not in self._fast_dtypes
            or inventory.shape != batch + self._bounds[INVENTORY][0]
            or recommender.shape != batch + self._bounds[RECOMMENDER][0]
        ):
            return None
        return self._decode_checked(inventory, recommender, batch)

    def _decode_checked(
        self, inventory: np.ndarray, recommender: np.ndarray, batch: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Units and slates from int64 levels or float scores (one dtype), or None if invalid."""
        s = self.scenario
        if not batch:
            inventory, recommender = inventory[None], recommender[None]
        rows = inventory.shape[0]
        units = np.empty((rows, s.num_products), dtype=np.int64)
        slates = np.empty((rows, s.num_segments, s.num_slots), dtype=np.int64)
        if self.continuous:
            valid = compiled.decode_scores(
                inventory, recommender, self.max_level_units, units, slates
            )
        else:
            valid = compiled.decode_levels(
                inventory,
                recommender,
                self._bounds[INVENTORY][1],
                self._bounds[RECOMMENDER][1],
                self.level_step,
                units,
                slates,
            )
        if not valid:
            return None
        return (units, slates) if batch else (units[0], slates[0])

    def _check(self, agent: str, action: Any, batch: tuple[int, ...] = ()) -> np.ndarray:
        field = self._field[agent]
        bounds = self._bounds[agent]
        shape = batch + bounds[0]
        try:
            array = np.asarray(action)
        except ValueError as error:  # ragged nested sequences
            raise InvalidActionError(
                f"{agent}: {field} must be an array of shape {shape}, got a ragged sequence"
            ) from error
        if array.shape != shape:
            raise InvalidActionError(f"{agent}: {field} must have shape {shape}, got {array.shape}")

        def where(bad: np.ndarray) -> str:  # the first bad batch index, when batched
            return f" at batch index {int(np.argwhere(bad)[0, 0])}" if batch else ""

        if not self.continuous:
            high = bounds[1]
            if array.dtype.kind not in "iu":
                raise InvalidActionError(
                    f"{agent}: {field} must be integers in [0, {high}], got dtype {array.dtype}"
                )
            levels = array.astype(np.int64, copy=False)
            outside = levels.view(np.uint64) > high  # negatives wrap to huge values
            if np.count_nonzero(outside):
                raise InvalidActionError(
                    f"{agent}: {field} must be integers in [0, {high}], got "
                    f"{array[outside][0]}{where(outside)}"
                )
            return levels
        low, high = bounds[1], bounds[2]
        if array.dtype.kind != "f":
            raise InvalidActionError(
                f"{agent}: {field} must be floats in [{low:g}, {high:g}], got dtype {array.dtype}"
            )
        inside = (array >= low) & (array <= high)  # False for NaN
        if np.count_nonzero(inside) != array.size:
            finite = np.isfinite(array)
            if not np.all(finite):
                raise InvalidActionError(
                    f"{agent}: {field} must be finite floats in [{low:g}, {high:g}], got NaN or "
                    f"inf{where(~finite)}"
                )
            bad = array[~inside][0]
            raise InvalidActionError(
                f"{agent}: {field} must lie in [{low:g}, {high:g}], got {bad:g}{where(~inside)}"
            )
        return array.astype(np.float64)
