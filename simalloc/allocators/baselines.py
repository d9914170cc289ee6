"""Training-time allocators from other papers: the baselines a user would pick instead of HORA.

Each is a fixed-prompt rule in the registry (pilot counts in, extra rollouts out). Where a method's
paper needs more than pilot counts (a learned pass-rate predictor for VIP; prompt resampling for DAPO's
dynamic sampling) the reading used here is stated in the docstring and README.
"""

from __future__ import annotations

import numpy as np

from ..objectives import PluginHitUtility, VarianceReduction
from .basic import spread_in_order
from .engine import solve
from .registry import AllocationProblem, Option, register
from .rounding import largest_remainder


def _p_hat(problem: AllocationProblem) -> np.ndarray:
    """The predictor's pass rates if the caller gave them, else the posterior mean."""
    if problem.predicted_p is not None:
        return problem.predicted_p
    return problem.beliefs.mean


@register(
    "dapo",
    "DAPO dynamic sampling, fixed-prompt reading: groups without spread are filtered, so the extra budget "
    "goes evenly to prompts whose pilot had both outcomes (all prompts if none); the simulator resamples prompts",
)
def dapo(problem: AllocationProblem, rng) -> np.ndarray:
    s, t = problem.beliefs.successes, problem.beliefs.trials
    mixed = (s > 0) & (s < t)
    if not mixed.any():
        mixed = np.ones_like(mixed)
    return spread_in_order(problem.budget, problem.cap, rng, (mixed, ~mixed))


@register(
    "vip",
    "VIP: minimize sum v_i/(n_i-1) + gamma log(p_i) n_i with n_min <= n_i <= n_max (options n_min=4, n_max=32, "
    "gamma=1e-4), p_i predicted (options/predicted_p; posterior mean otherwise); arXiv 2602.01601",
    options={
        "n_min": Option(int, 1, None, 4),
        "n_max": Option(int, 2, None, 32),
        "gamma": Option(float, 0.0, None, 1e-4),
    },
)
def vip(problem: AllocationProblem, rng) -> np.ndarray:
    opts = problem.options
    n_min, n_max, gamma = opts["n_min"], opts["n_max"], opts["gamma"]
    if n_max < n_min:
        raise ValueError(f"options['n_max']: vip needs n_max >= n_min = {n_min}, got {n_max}")
    t = problem.beliefs.trials
    floor = np.clip(n_min - t, 0, None)
    room = np.minimum(problem.cap, np.clip(n_max - t, 0, None))
    if int(floor.sum()) > problem.budget or np.any(floor > room) or int(room.sum()) < problem.budget:
        # n_min / n_max cannot hold this budget: keep the cap, drop VIP's own bounds
        floor, room = np.zeros_like(t), problem.cap
    # groups under 2 rollouts have an infinite RLOO variance; they are scored as groups of 2
    obj = VarianceReduction(p_hat=_p_hat(problem), n0=np.maximum(t + floor, 2).astype(np.float64), gamma=gamma)
    return floor + solve(obj, problem.beliefs, problem.budget - int(floor.sum()), cap=room - floor)


@register(
    "knapsack",
    "Knapsack RL: exact greedy on (1 - p^n - (1-p)^n) p (1-p)^2 at p_hat = s/K0, n = K0 + k (option n_max caps n); "
    "budget its positive values cannot use goes to p_hat = 0 prompts, then to the rest; arXiv 2509.25849",
    options={"n_max": Option(int, 1, None, 0)},
)
def knapsack(problem: AllocationProblem, rng) -> np.ndarray:
    bel = problem.beliefs
    cap = problem.cap
    if problem.options["n_max"]:  # 0 (default): no group-size cap beyond ``cap``
        cap = np.minimum(cap, np.clip(problem.options["n_max"] - bel.trials, 0, None))
    p = PluginHitUtility.p_hat(bel)
    useful = (p > 0) & (p < 1) & (bel.trials > 0)
    alloc = np.zeros(bel.n_prompts, dtype=np.int64)
    inner = int(min(problem.budget, cap[useful].sum()))
    if inner:
        sub = type(bel)(bel.a[useful], bel.b[useful], bel.successes[useful], bel.trials[useful])
        alloc[useful] = solve("knapsack_plugin", sub, inner, cap=cap[useful])
    leftover = spread_in_order(problem.budget - inner, problem.cap - alloc, rng, (p == 0, ~useful & (p > 0), useful))
    return alloc + leftover


@register(
    "gvm",
    "GVM-RAFT: n_i proportional to g_i / sqrt(p_i + 1e-3/p_i) with g_i = sqrt(p_i (1-p_i)) the Bernoulli gradient "
    "scale, p_i the posterior mean (or predicted_p); largest-remainder rounding; arXiv 2505.02391",
)
def gvm(problem: AllocationProblem, rng) -> np.ndarray:
    p = np.clip(_p_hat(problem), 1e-6, 1 - 1e-6)
    weights = np.sqrt(p * (1 - p)) / np.sqrt(p + 1e-3 / p)
    return largest_remainder(weights, problem.budget, problem.cap)
