"""Ground truth for separable allocation: a DP over prompts and a brute-force enumerator.

Both use the objectives' closed-form values (``scipy.special.betaln``), never the marginal
recurrence or the greedy, so they are independent of the engine they check. Slow on purpose.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..beliefs import BetaBeliefs
from ..objectives import Objective, get_objective
from ..validation import as_budget, as_cap, as_counts

__all__ = ["Optimum", "value_table", "dp_optimum", "brute_force_optimum", "exact_optimum", "DP_MAX_CELLS"]

DP_MAX_CELLS = 50_000_000  # n_prompts * (budget+1) * (kmax+1): about a few seconds of numpy
DP_MAX_STEPS = 2_000_000  # n_prompts * (kmax+1) Python loop steps: a few seconds


@dataclass(frozen=True)
class Optimum:
    """An exact optimum.

    Attributes
    ----------
    value : float
        max sum_i U_i(k_i).
    allocation : ndarray of int64, shape (n_prompts,)
        One allocation that attains it (ties: the DP's first).
    objective : str
        The objective's name.
    """

    value: float
    allocation: np.ndarray
    objective: str


def value_table(objective: Objective, beliefs: BetaBeliefs, kmax: int) -> np.ndarray:
    """U_i(k) for k = 0..kmax in closed form.

    Parameters
    ----------
    objective : Objective
        The objective (an instance, not a name).
    beliefs : BetaBeliefs
        The prompts' beliefs.
    kmax : int
        The largest k.

    Returns
    -------
    ndarray of float64, shape (n_prompts, kmax + 1)
    """
    column = BetaBeliefs(
        beliefs.a[:, None], beliefs.b[:, None], beliefs.successes[:, None], beliefs.trials[:, None]
    )
    return objective.value(column, np.arange(kmax + 1)[None, :])


def dp_optimum(objective, beliefs: BetaBeliefs, budget: int, cap=None) -> Optimum:
    """max sum_i U_i(k_i) s.t. sum k_i = budget, k_i <= cap_i, by DP over prompts.

    V_j(r) = max_{0 <= k <= min(cap_j, r)} V_{j-1}(r - k) + U_j(k), V_0(0) = 0, V_0(r > 0) = -inf.

    Parameters
    ----------
    objective : str or Objective
        A name of ``simalloc.OBJECTIVES`` or an instance.
    beliefs : BetaBeliefs
        The prompts' beliefs.
    budget : int
        Extra rollouts, >= 0.
    cap : None, int or array_like of int, optional
        Per-prompt caps (``as_cap``).

    Returns
    -------
    Optimum

    Raises
    ------
    ValueError
        "budget: ..." when the table would exceed ``DP_MAX_CELLS`` or the loop ``DP_MAX_STEPS`` (use the greedy
        allocators, exact for these objectives).

    Notes
    -----
    O(n budget kmax) time; the oracle the greedy solvers are tested against (it assumes nothing about the
    marginals).
    """
    obj = get_objective(objective)
    budget = as_budget(budget)
    n = beliefs.n_prompts
    cap = as_cap(cap, n, budget)
    kmax = int(cap.max()) if n else 0
    cells = n * (budget + 1) * (kmax + 1)
    if cells > DP_MAX_CELLS:
        raise ValueError(
            f"budget: the exact DP would fill {cells:,} cells (limit {DP_MAX_CELLS:,}); "
            "use a smaller problem, or the greedy allocators, which are exact for these objectives"
        )
    if n * (kmax + 1) > DP_MAX_STEPS:
        raise ValueError(
            f"a, b: the exact DP takes one Python step per prompt and k, {n * (kmax + 1):,} here "
            f"(limit {DP_MAX_STEPS:,}); use allocate('optimal', ...), which is exact for these objectives and fast"
        )
    table = value_table(obj, beliefs, kmax)
    value = np.full(budget + 1, -np.inf)
    value[0] = 0.0
    choice = np.zeros((n, budget + 1), dtype=np.int64)
    for i in range(n):
        new = np.full(budget + 1, -np.inf)
        for k in range(int(cap[i]) + 1):
            cand = value[: budget + 1 - k] + table[i, k]
            better = cand > new[k:]
            new[k:][better] = cand[better]
            choice[i, k:][better] = k
        value = new
    alloc = np.zeros(n, dtype=np.int64)
    r = budget
    for i in range(n - 1, -1, -1):
        alloc[i] = choice[i, r]
        r -= alloc[i]
    return Optimum(float(value[budget]), alloc, obj.name)


def brute_force_optimum(objective, beliefs: BetaBeliefs, budget: int, cap=None) -> Optimum:
    """Enumerate every allocation (compositions of ``budget`` within caps); tiny problems only.

    Parameters
    ----------
    objective : str or Objective
        A name of ``simalloc.OBJECTIVES`` or an instance.
    beliefs : BetaBeliefs
        At most 6 prompts.
    budget : int
        At most 24.
    cap : None, int or array_like of int, optional
        Per-prompt caps.

    Returns
    -------
    Optimum

    Raises
    ------
    ValueError
        For more than 6 prompts or a budget above 24.

    Notes
    -----
    The independent oracle for ``dp_optimum``: no recursion, every composition scored from ``value_table``.
    """
    obj = get_objective(objective)
    budget = as_budget(budget)
    n = beliefs.n_prompts
    cap = as_cap(cap, n, budget)
    if n > 6 or budget > 24:
        raise ValueError("brute force: n_prompts must be <= 6 and budget <= 24")
    table = value_table(obj, beliefs, int(cap.max()))
    best_value, best = -np.inf, None
    for head in itertools.product(*(range(int(c) + 1) for c in cap[:-1])):
        last = budget - sum(head)
        if 0 <= last <= cap[-1]:
            alloc = (*head, last)
            v = sum(table[i, k] for i, k in enumerate(alloc))
            if v > best_value:
                best_value, best = v, alloc
    return Optimum(float(best_value), np.asarray(best, dtype=np.int64), obj.name)


def exact_optimum(a, b, budget, *, objective="hit", cap=None, successes=None, trials=None) -> Optimum:
    """Exact optimum of a separable objective over Beta(a_i, b_i) beliefs, by DP.

    Parameters
    ----------
    a, b : array_like, shape (n_prompts,)
        Beta parameters, finite and > 0.
    budget : int
        Rollouts to allocate, >= 0.
    objective : str
        "hit" (default), "informative", "knapsack" or "plugin_hit".
    cap : None, int or array of int
        Per-prompt maximum.
    successes, trials : array_like of int, optional
        Pilot counts behind the beliefs; the pilot-aware objectives ("informative", "knapsack")
        use them to know whether the group so far is all-fail or all-pass. Without them the group
        is the new rollouts alone.

    Returns
    -------
    Optimum
        ``.value`` = max sum_i U_i(k_i) and ``.allocation`` (int64, one optimum among ties).

    Examples
    --------
    >>> opt = exact_optimum([1.0, 1.0], [1.0, 9.0], 4)
    >>> round(opt.value, 6), opt.allocation.tolist()
    (0.85, [3, 1])
    """
    beliefs = BetaBeliefs.from_params(a, b)
    if (successes is None) != (trials is None):
        raise ValueError("successes, trials: give both pilot counts or neither")
    if successes is not None:
        s, t = as_counts(successes, trials)
        if s.shape != beliefs.a.shape:
            raise ValueError(f"successes: shape {s.shape} does not match a, b shape {beliefs.a.shape}")
        beliefs = BetaBeliefs(beliefs.a, beliefs.b, s, t)
    return dp_optimum(objective, beliefs, budget, cap)
