"""The PettingZoo adapter: spaces, observation layout, action decoding, rendering."""

from coord_env.env.actions import ActionCodec, InvalidActionError
from coord_env.env.layout import Field, ObservationLayout
from coord_env.env.parallel import INFO_KEYS, OBSERVATION_MODES, REWARD_MODES, RetailParallelEnv

__all__ = [
    "INFO_KEYS",
    "OBSERVATION_MODES",
    "REWARD_MODES",
    "ActionCodec",
    "Field",
    "InvalidActionError",
    "ObservationLayout",
    "RetailParallelEnv",
]
