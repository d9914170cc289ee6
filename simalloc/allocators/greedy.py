"""Greedy allocators on separable objectives: exact by the allocation engine."""

from __future__ import annotations

import numpy as np

from ..optima import dp_optimum
from .engine import solve
from .registry import AllocationProblem, register


@register("hora", "HORA: exact greedy on the hit utility E[1-(1-p)^k] under the Beta posterior (arXiv 2605.07114)",
          count_objective="hit")
def hora(problem: AllocationProblem, rng) -> np.ndarray:
    return solve("hit", problem.beliefs, problem.budget, cap=problem.cap)


@register(
    "plugin",
    "hit utility at the point estimate p_hat = s/K0; s = 0 prompts get nothing (HORA Remark 3.2's degeneracy)",
    count_objective="plugin_hit",
)
def plugin(problem: AllocationProblem, rng) -> np.ndarray:
    return solve("plugin_hit", problem.beliefs, problem.budget, cap=problem.cap)


@register(
    "informative",
    "exact greedy on the probability that the final group (pilot + extra) has both outcomes",
    count_objective="informative",
)
def informative(problem: AllocationProblem, rng) -> np.ndarray:
    return solve("informative", problem.beliefs, problem.budget, cap=problem.cap)


@register("optimal", "exact DP optimum of the hit utility (small problems: a reference, not a production rule)")
def optimal(problem: AllocationProblem, rng) -> np.ndarray:
    return dp_optimum("hit", problem.beliefs, problem.budget, problem.cap).allocation
