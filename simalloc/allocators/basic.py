"""Allocators that need no objective: uniform (GRPO) and hard-first."""

from __future__ import annotations

import numpy as np

from .registry import AllocationProblem, register

__all__ = ["spread_evenly", "spread_in_order"]


def spread_evenly(budget: int, cap: np.ndarray, rng: np.random.Generator, eligible=None) -> tuple[np.ndarray, int]:
    """Water-fill ``budget`` over the eligible prompts as evenly as their caps allow.

    Every eligible prompt gets min(cap_i, L) for the largest level L that fits; the r < (#prompts
    with cap_i > L) units left over go to distinct prompts drawn uniformly by ``rng``.

    Parameters
    ----------
    budget : int
        Rollouts to place.
    cap : ndarray of int
        Per-prompt caps.
    rng : numpy.random.Generator
        Breaks the remainder's ties.
    eligible : ndarray of bool, optional
        The prompts that may receive rollouts (default: all).

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


def spread_in_order(budget: int, cap: np.ndarray, rng: np.random.Generator, groups) -> np.ndarray:
    """Spread ``budget`` evenly over the first group of prompts (boolean masks), what its caps cannot hold over
    the next, and so on; the groups together must be able to hold the budget.

    Parameters
    ----------
    budget : int
        Rollouts to place.
    cap : ndarray of int
        Per-prompt caps.
    rng : numpy.random.Generator
        Breaks ties within a group.
    groups : iterable of ndarray of bool
        Prompt masks in priority order.

    Returns
    -------
    ndarray of int64
        The allocation.
    """
    alloc = np.zeros(cap.size, dtype=np.int64)
    for group in groups:
        if budget == 0:
            break
        more, budget = spread_evenly(budget, cap - alloc, rng, group)
        alloc += more
    if budget:  # pragma: no cover - the callers pass groups covering every prompt, and sum(cap) >= budget
        raise RuntimeError("spread_in_order: the groups cannot hold the budget")
    return alloc


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
    return spread_in_order(problem.budget, problem.cap, rng, (hard, ~hard))
