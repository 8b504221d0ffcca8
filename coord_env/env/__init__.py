"""The PettingZoo adapter: spaces, observation layout, action decoding, rendering; the vector env."""

from coord_env.env.actions import ActionCodec, InvalidActionError
from coord_env.env.base import INFO_MODES, MINIMAL_INFO_KEYS
from coord_env.env.layout import Field, ObservationLayout
from coord_env.env.parallel import INFO_KEYS, OBSERVATION_MODES, REWARD_MODES, RetailParallelEnv
from coord_env.env.rewards import inverse_margin_per_tick, inverse_revenue_per_tick
from coord_env.env.vector import AUTORESET_MODES, RetailVectorEnv

__all__ = [
    "AUTORESET_MODES",
    "INFO_KEYS",
    "INFO_MODES",
    "MINIMAL_INFO_KEYS",
    "OBSERVATION_MODES",
    "REWARD_MODES",
    "ActionCodec",
    "Field",
    "InvalidActionError",
    "ObservationLayout",
    "RetailParallelEnv",
    "RetailVectorEnv",
    "inverse_margin_per_tick",
    "inverse_revenue_per_tick",
]
