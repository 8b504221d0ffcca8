"""The PettingZoo adapter: spaces, observation layout, action decoding, rendering; the vector env."""

from coord_env.env.actions import ActionCodec, InvalidActionError
from coord_env.env.layout import Field, ObservationLayout
from coord_env.env.parallel import INFO_KEYS, OBSERVATION_MODES, REWARD_MODES, RetailParallelEnv
from coord_env.env.vector import AUTORESET_MODES, RetailVectorEnv

__all__ = [
    "AUTORESET_MODES",
    "INFO_KEYS",
    "OBSERVATION_MODES",
    "REWARD_MODES",
    "ActionCodec",
    "Field",
    "InvalidActionError",
    "ObservationLayout",
    "RetailParallelEnv",
    "RetailVectorEnv",
]
