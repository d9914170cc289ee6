"""Planning across steps: ``Planner`` (selection, allocation, multi-round rules, per-prompt history) and the peer
methods' rules transcribed from their public code (``rules``, ``rounds``)."""

from .planner import SELECTORS, Planner
from .rounds import ROUND_RULES, Groups, ReinforceAdaRounds, Rounds, SpeedRLRounds, make_rounds
from .rules import (
    DARS_SCHEDULES,
    REINFORCE_ADA_CHOICES,
    dars_extra,
    greso_adapt,
    greso_run_lengths,
    greso_skip_probability,
    mopps_select,
    mopps_update,
    pods_select,
    reinforce_ada_finished,
    reinforce_ada_keep,
    speed_rl_qualified,
)

__all__ = ["Planner", "SELECTORS", "Rounds", "Groups", "ReinforceAdaRounds", "SpeedRLRounds", "ROUND_RULES",
           "make_rounds", "DARS_SCHEDULES", "REINFORCE_ADA_CHOICES", "dars_extra", "greso_adapt", "greso_run_lengths",
           "greso_skip_probability", "mopps_select", "mopps_update", "pods_select", "reinforce_ada_finished",
           "reinforce_ada_keep", "speed_rl_qualified"]
