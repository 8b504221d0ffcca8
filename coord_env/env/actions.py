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

    Examples
    --------
    >>> from coord_env import load_scenario
    >>> codec = ActionCodec(load_scenario("tiny"), continuous_actions=False, inventory_action="order_quantity")
    >>> codec.spaces["recommender_0"]
    MultiDiscrete([2 2])
    """

    def __init__(self, scenario: Scenario, continuous_actions: bool, inventory_action: str):
        check_choice("inventory_action", inventory_action, INVENTORY_ACTIONS)
        s = scenario
        self.scenario = s
        self.continuous = bool(continuous_actions)
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

    @property
    def max_order(self) -> np.ndarray:
        """(N,) the largest quantity one period's order can be, in units."""
        return self.max_level_units

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
        batch = () if batch_size is None else (batch_size,)
        inventory = self._check(INVENTORY, actions[INVENTORY], batch)
        recommender = self._check(RECOMMENDER, actions[RECOMMENDER], batch)
        s = self.scenario
        if self.continuous:
            levels_in_units = np.rint(inventory * self.max_level_units).astype(np.int64)
            scores = recommender.reshape(*batch, s.num_segments, s.num_products)
            slates = np.argsort(-scores, axis=-1, kind="stable")[..., : s.num_slots]
        else:
            levels_in_units = inventory * self.level_step
            slates = recommender.reshape(*batch, s.num_segments, s.num_slots)
        return levels_in_units, slates

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
