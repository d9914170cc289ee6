"""One-shot peer rules that fit a pilot (SPEED-RL, DARS) as registry allocators, budget-matched.

Both rules spend a budget of their own choosing in their papers; an allocator splits a given budget, so each
is read as stated in its docstring (what it does when its own counts exceed or fall short of the budget). Their
sequential forms (SPEED-RL screening more prompts) are ``simalloc.planner.rounds``.
"""

from __future__ import annotations

import numpy as np

from ..planner.rules import dars_extra, speed_rl_qualified
from .basic import spread_in_order
from .registry import AllocationProblem, Option, register
from .rounding import largest_remainder


@register(
    "speed_rl",
    "SPEED-RL, fixed-prompt reading: prompts whose pilot has both outcomes get up to `extend` (12) more each, "
    "spread evenly when the budget is short; budget beyond that (SPEED-RL would screen more prompts) goes to them, "
    "then to the rest; Zanette-Labs/speed-rl data_controller.py",
    options={"extend": Option(int, 1, None, 12)},
)
def speed_rl(problem: AllocationProblem, rng) -> np.ndarray:
    bel = problem.beliefs
    qualified = speed_rl_qualified(bel.successes, bel.trials)
    first_cap = np.where(qualified, np.minimum(problem.cap, problem.options["extend"]), 0)
    first = spread_in_order(min(problem.budget, int(first_cap.sum())), first_cap, rng, (qualified,))
    rest = spread_in_order(problem.budget - int(first.sum()), problem.cap - first, rng, (qualified, ~qualified))
    return first + rest


def _dars(problem: AllocationProblem, rng, schedule: str) -> np.ndarray:
    bel = problem.beliefs
    t = np.maximum(bel.trials, 1)  # a prompt without a pilot is read as unsolved
    acc = np.where(bel.trials > 0, bel.successes / t, 0.0)
    opts = problem.options
    want = np.array([dars_extra(a, int(n), max(opts["n_max"], int(n)), schedule, bool(opts["std"]))[0]
                     for a, n in zip(acc, t)], dtype=np.int64)
    room = np.minimum(want, problem.cap)
    if int(room.sum()) >= problem.budget:  # the schedule wants more than the budget: proportional shares
        return largest_remainder(want.astype(np.float64), problem.budget, room)
    want = room
    return want + spread_in_order(problem.budget - int(want.sum()), problem.cap - want, rng,
                                  (np.ones(want.size, dtype=bool),))


_DARS_OPTIONS = {"n_max": Option(int, 1, None, 32), "std": Option(int, 0, 1, 0)}


@register(
    "dars_et",
    "DARS equal-treatment schedule from pilot accuracy (0 when acc >= 0.5; option n_max=32 caps the total, std=0); "
    "scaled down by largest remainder when it exceeds the budget, the rest spread evenly when it falls short; "
    "yangzhch6/DARS ray_dars_trainer.py schedule_ET",
    options=_DARS_OPTIONS,
)
def dars_et(problem: AllocationProblem, rng) -> np.ndarray:
    return _dars(problem, rng, "et")


@register(
    "dars_hw",
    "DARS hardness-weighted schedule (as dars_et with the schedule_HW counts; the HW scripts use n_max=64); "
    "yangzhch6/DARS ray_dars_trainer.py schedule_HW",
    options=_DARS_OPTIONS,
)
def dars_hw(problem: AllocationProblem, rng) -> np.ndarray:
    return _dars(problem, rng, "hw")
