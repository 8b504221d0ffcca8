"""The RL baselines, declared once: name, trainer and description, in the order users see them.

The policy registry (:mod:`baselines.registration`), the trainer tables (``SB3_TRAINERS``,
``MTMA_TRAINERS``), :func:`baselines.rl.training.trainer_class` and the ``coord-bench train``
choices all derive from :data:`RL_BASELINE_TABLE`. This module imports nothing heavy, so that
registering the baselines stays cheap.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["RL_BASELINES", "RL_BASELINE_TABLE", "RLBaseline", "trainer_table"]


@dataclass(frozen=True)
class RLBaseline:
    """One RL baseline.

    Parameters
    ----------
    trainer : str
        ``"module:Class"`` of its trainer; the class's ``name`` is the baseline's name.
    description : str
        The one line ``coord-bench policies`` prints.
    """

    trainer: str
    description: str

    @property
    def module(self) -> str:
        """The module that defines the trainer."""
        return self.trainer.split(":")[0]


_SB3 = "baselines.rl.sb3.trainers"
_MTMA = "baselines.rl.mtma.trainer"

RL_BASELINE_TABLE: dict[str, RLBaseline] = {
    "centralized": RLBaseline(
        f"{_SB3}:CentralizedTrainer",
        "one SB3 PPO agent on the joint view (committed checkpoint)",
    ),
    "siloed_rl": RLBaseline(
        f"{_SB3}:SiloedRLTrainer",
        "one SB3 PPO learner per department on departmental rewards (committed checkpoint)",
    ),
    "ippo": RLBaseline(
        f"{_SB3}:IPPOTrainer",
        "independent SB3 PPO learners on the team reward (committed checkpoint)",
    ),
    "shared_ppo": RLBaseline(
        f"{_SB3}:SharedPPOTrainer",
        "one parameter-shared SB3 PPO policy through SuperSuit (committed checkpoint)",
    ),
    "mtma": RLBaseline(
        f"{_MTMA}:MTMATrainer",
        "multi-timescale multi-agent PPO, centralized critic (committed checkpoint)",
    ),
    "mtma_single_timescale": RLBaseline(
        f"{_MTMA}:MTMASingleTimescaleTrainer",
        "MTMA with one learning speed for all (committed checkpoint)",
    ),
    "mtma_reversed": RLBaseline(
        f"{_MTMA}:MTMAReversedTrainer",
        "MTMA with the actors' speeds swapped (committed checkpoint)",
    ),
}

RL_BASELINES: tuple[str, ...] = tuple(RL_BASELINE_TABLE)


def trainer_table(module: str) -> dict[str, Any]:
    """The trainers a module defines, by baseline name, in :data:`RL_BASELINE_TABLE`'s order.

    A trainer module calls this once its classes are defined (``trainer_table(__name__)``).

    Parameters
    ----------
    module : str
        The trainer module's name.

    Returns
    -------
    dict
        Baseline name to trainer class.

    Raises
    ------
    ValueError
        If a trainer class's ``name`` differs from the name it is declared under.

    Examples
    --------
    >>> from baselines.rl.mtma import MTMA_TRAINERS
    >>> list(trainer_table("baselines.rl.mtma.trainer")) == list(MTMA_TRAINERS)
    True
    """
    namespace = vars(sys.modules[module])
    table = {}
    for name, baseline in RL_BASELINE_TABLE.items():
        if baseline.module != module:
            continue
        trainer = namespace[baseline.trainer.split(":")[1]]
        if trainer.name != name:
            raise ValueError(
                f"{baseline.trainer}.name is {trainer.name!r}, but it is declared as {name!r}"
            )
        table[name] = trainer
    return table
