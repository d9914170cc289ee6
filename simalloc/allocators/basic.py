"""Allocators that need no objective: uniform (GRPO) and hard-first."""

from __future__ import annotations

import numpy as np

from .registry import AllocationProblem, register

__all__ = ["spread_evenly"]


def spread_evenly(budget: int, cap: np.ndarray, rng: np.random.Generator, eligible=None) -> tuple[np.ndarray, int]:
    """Water-fill ``budget`` over the eligible prompts as evenly as their caps allow.

    Every eligible prompt gets min(cap_i, L) for the largest level L that fits; the r < (#prompts
    with cap_i > L) units left over go to distinct prompts drawn uniformly by ``rng``.

    Returns
    -------
    (allocation (n_prompts,), leftover)
        ``leftover`` > 0 only when the eligible caps cannot hold the budget.
    """
    n = cap.size
    idx = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    alloc = np.zeros(n, dtype=np.int64)
    c = cap[idx]
    if int(c.sum()) <= budget:
        alloc[idx] = c
        return alloc, budget - int(c.sum())
    lo, hi = 0, int(c.max())  # sum(min(c, lo)) <= budget < sum(min(c, hi))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if int(np.minimum(c, mid).sum()) <= budget:
            lo = mid
        else:
            hi = mid
    alloc[idx] = np.minimum(c, lo)
    rest = budget - int(alloc.sum())
    if rest:
        room = idx[c > lo]
        alloc[rng.choice(room, size=rest, replace=False)] += 1
    return alloc, 0


@register("uniform", "GRPO: the budget split evenly over prompts (remainder to random prompts)")
def uniform(problem: AllocationProblem, rng) -> np.ndarray:
    alloc, _ = spread_evenly(problem.budget, problem.cap, rng)
    return alloc


@register(
    "hard_first",
    "HORA's ablation: all extra budget spread evenly over prompts whose pilot had no success (s = 0); "
    "what their caps cannot hold is spread evenly over the rest",
)
def hard_first(problem: AllocationProblem, rng) -> np.ndarray:
    hard = problem.beliefs.successes == 0
    alloc, leftover = spread_evenly(problem.budget, problem.cap, rng, hard)
    if leftover:
        more, _ = spread_evenly(leftover, problem.cap, rng, ~hard)
        alloc += more
    return alloc
