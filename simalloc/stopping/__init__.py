"""Sequential stopping rules for majority voting and the Bayes-optimal rule."""

from .optimal import VoteModel, evaluate_policy, frontier, optimal_stopping
from .rules import BSPRT_READINGS, STOPPING_RULES, StoppingRule, esc_expected_votes, make_rule, run_rule

__all__ = [
    "BSPRT_READINGS",
    "STOPPING_RULES",
    "StoppingRule",
    "VoteModel",
    "esc_expected_votes",
    "evaluate_policy",
    "frontier",
    "make_rule",
    "optimal_stopping",
    "run_rule",
]
