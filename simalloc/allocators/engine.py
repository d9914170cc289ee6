"""The allocation engine: objective marginals in, exact allocation out.

maximize sum_i U_i(k_i)  subject to  sum_i k_i = budget,  0 <= k_i <= cap_i,  k_i integer.

With decreasing marginals Delta_i(k) the optimum takes the ``budget`` largest marginals
(HORA, arXiv 2605.07114, Proposition 3.1). Three solvers compute it and must agree in value:

- ``heap``: the readable reference, a Python heap of each prompt's next marginal;
- ``merged``: prompts sharing one belief (a shared prior and equal pilot counts) share a marginal
  sequence, so the greedy runs over types with multiplicities; beyond one counting pass its cost
  does not grow with n_prompts;
- ``threshold``: bisection on the threshold lambda with sum_i #{k: Delta_i(k) >= lambda} = budget,
  for per-prompt beliefs.

Ties (equal marginals at the threshold) may be split any way without changing the value.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..beliefs import BetaBeliefs
from ..objectives import get_objective
from ..objectives import kernels as EK
from ..objectives.kernels import KERNEL_CODES, first_terms, next_terms
from ..validation import as_budget, as_cap, check_choice

__all__ = ["SOLVERS", "solve", "greedy_heap", "greedy_merged", "greedy_threshold", "greedy_merged_by_counts",
           "prompt_types"]

SOLVERS = ("auto", "heap", "merged", "threshold")


def greedy_heap(code: int, a, b, wf, wp, cap, budget: int) -> np.ndarray:
    """Reference greedy: pop the largest next marginal ``budget`` times (ties: lowest index first).

    Parameters
    ----------
    code : int
        The objective's kernel code.
    a, b, wf, wp : ndarray
        The kernel parameters (``Objective.kernel_params``).
    cap : ndarray of int
        Per-prompt caps.
    budget : int
        Rollouts to place (sum(cap) >= budget).

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        An optimal allocation.
    """
    n = len(a)
    alloc = np.zeros(n, dtype=np.int64)
    terms = [first_terms(code, float(a[i]), float(b[i])) for i in range(n)]
    heap = [(-(wf[i] * terms[i][0] + wp[i] * terms[i][1]), i) for i in range(n) if cap[i] > 0]
    heapq.heapify(heap)
    for _ in range(budget):
        _, i = heapq.heappop(heap)
        alloc[i] += 1
        if alloc[i] < cap[i]:
            tf, tp = next_terms(code, float(a[i]), float(b[i]), int(alloc[i]), *terms[i])
            terms[i] = (tf, tp)
            heapq.heappush(heap, (-(wf[i] * tf + wp[i] * tp), i))
    return alloc


def _counts_are_types(beliefs: BetaBeliefs, cap, from_counts: bool) -> bool:
    """Shared prior, one pilot size and one cap: prompts with equal success counts have equal marginals."""
    t = beliefs.trials
    return bool(from_counts and beliefs.shared_prior and t.min() == t.max() and cap.min() == cap.max())


def prompt_types(beliefs: BetaBeliefs, params, cap, from_counts: bool = True):
    """Group prompts whose marginal sequences are identical: (type_of (n,), rep (T,), count (T,)).

    Parameters
    ----------
    beliefs : BetaBeliefs
        The prompts' beliefs.
    params : tuple of ndarray
        The kernel parameters.
    cap : ndarray of int
        Per-prompt caps.
    from_counts : bool, default True
        Whether the objective's parameters depend on the counts alone (``Objective.params_from_counts``).

    Returns
    -------
    type_of : ndarray of int, shape (n,)
        Each prompt's type.
    rep : ndarray of int, shape (T,)
        A representative prompt per type.
    count : ndarray of int, shape (T,)
        Prompts per type.

    Rows of the kernel parameters (and caps) are deduplicated; ``solve`` takes ``greedy_merged_by_counts``
    instead when the pilot success count alone is the type.
    """
    rows = np.column_stack([*params, cap.astype(np.float64)])
    _, keys = np.unique(rows, axis=0, return_inverse=True)
    keys = np.ascontiguousarray(keys.reshape(-1), dtype=np.int64)
    return EK.group_by_key(keys, int(keys.max()) + 1)


def greedy_merged(code, params, cap, budget, type_of, rep, count) -> np.ndarray:
    """Type-merged greedy (see module docstring).

    Parameters
    ----------
    code : int
        The objective's kernel code.
    params : tuple of ndarray
        The kernel parameters (a, b, wf, wp) per prompt.
    cap : ndarray of int
        Per-prompt caps.
    budget : int
        Rollouts to place (sum(cap) >= budget).
    type_of, rep, count : ndarray of int
        ``prompt_types``.

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        An optimal allocation.
    """
    a, b, wf, wp = (np.ascontiguousarray(p[rep]) for p in params)
    level, partial = EK.merged_levels(code, a, b, wf, wp, np.ascontiguousarray(cap[rep]), count, budget)
    return EK.expand_levels(type_of, level, partial, np.empty(type_of.size, dtype=np.int64))


def greedy_merged_by_counts(obj, beliefs: BetaBeliefs, cap, budget) -> np.ndarray:
    """Type-merged greedy when the pilot success count is the type (shared prior, one pilot size, one cap).

    Parameters
    ----------
    obj : Objective
        The objective.
    beliefs : BetaBeliefs
        Beliefs from counts under a shared prior.
    cap : ndarray of int
        Per-prompt caps.
    budget : int
        Rollouts to place (sum(cap) >= budget).

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        An optimal allocation.
    """
    s = beliefs.successes
    t0 = int(beliefs.trials[0])
    a0, b0 = beliefs.a[0] - s[0], beliefs.b[0] - (t0 - s[0])  # the shared prior
    return greedy_by_counts(obj, s, t0, float(a0), float(b0), int(cap[0]), budget)


def greedy_by_counts(obj, successes, trials: int, alpha0: float, beta0: float, cap: int, budget: int, *,
                     count=None) -> np.ndarray:
    """The type-merged greedy straight from validated pilot counts (one pilot size ``trials``, a shared prior
    Beta(alpha0, beta0), one ``cap``): a bincount of the counts and kernel parameters for one belief per count
    present, so no (n_prompts,) float arrays are built. ``allocate`` calls it directly for such problems, with
    the tally ``count`` (``np.bincount(successes)``, any trailing zeros) its validation pass made."""
    obj = get_objective(obj)
    count = np.bincount(successes) if count is None else count
    present = np.flatnonzero(count)
    types = BetaBeliefs(alpha0 + present, beta0 + (trials - present), present,
                        np.full(present.size, trials, dtype=np.int64), True, _trusted=True)
    a, b, wf, wp = (np.ascontiguousarray(p, dtype=np.float64) for p in obj.kernel_params(types))
    lv, pt = EK.merged_levels(obj.code, a, b, wf, wp, np.full(present.size, cap, dtype=np.int64),
                              np.ascontiguousarray(count[present]), budget)
    level, partial = np.zeros(count.size, np.int64), np.zeros(count.size, np.int64)
    level[present], partial[present] = lv, pt
    return EK.expand_levels(successes, level, partial, np.empty(successes.size, dtype=np.int64))


def greedy_threshold(code, params, cap, budget) -> np.ndarray:
    """Threshold (bisection) solver for per-prompt beliefs (see module docstring).

    Parameters
    ----------
    code : int
        The objective's kernel code.
    params : tuple of ndarray
        The kernel parameters (a, b, wf, wp) per prompt.
    cap : ndarray of int
        Per-prompt caps.
    budget : int
        Rollouts to place (sum(cap) >= budget).

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        An optimal allocation.
    """
    a, b, wf, wp = (np.ascontiguousarray(p, dtype=np.float64) for p in params)
    return EK.threshold_solve(code, a, b, wf, wp, cap, budget, np.empty(a.size, dtype=np.int64))


def solve(objective, beliefs: BetaBeliefs, budget, *, cap=None, method: str = "auto") -> np.ndarray:
    """Exact allocation of ``budget`` extra rollouts maximizing a separable objective.

    Parameters
    ----------
    objective : str or Objective
        A registered objective name ("hit", "informative", "knapsack", "plugin_hit") or instance.
    beliefs : BetaBeliefs
        Per-prompt beliefs, shape (n_prompts,).
    budget : int
        Total extra rollouts, >= 0.
    cap : None, int or array of int, shape (n_prompts,)
        Maximum extra rollouts per prompt; sum(cap) must be >= budget.
    method : {"auto", "heap", "merged", "threshold"}
        "auto" takes "merged" when the beliefs come from a shared prior, else "threshold".

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        Extra rollouts per prompt, summing to ``budget``.

    Notes
    -----
    Returns an argmax of sum_i U_i(k_i) s.t. sum_i k_i = budget, k_i <= cap_i: the ``budget``
    largest marginals Delta_i(k), which is optimal because each Delta_i is decreasing in k.

    Examples
    --------
    >>> from simalloc.beliefs import BetaBeliefs
    >>> solve("hit", BetaBeliefs.from_counts([0, 4, 8], 8), 12).tolist()
    [6, 4, 2]
    """
    obj = get_objective(objective)
    if obj.code not in KERNEL_CODES:
        raise ValueError(f"objective: {obj.name!r} has kernel code {obj.code!r}, which no kernel implements; "
                         f"valid codes: {sorted(KERNEL_CODES)}")
    if not isinstance(beliefs, BetaBeliefs):
        raise TypeError(f"beliefs: expected a BetaBeliefs, got {type(beliefs).__name__}")
    budget = as_budget(budget)
    check_choice(method, "method", SOLVERS)
    cap = as_cap(cap, beliefs.n_prompts, budget)
    if method == "auto":
        method = "merged" if beliefs.shared_prior and obj.params_from_counts else "threshold"
    if method == "merged" and _counts_are_types(beliefs, cap, obj.params_from_counts):
        return greedy_merged_by_counts(obj, beliefs, cap, budget)
    params = obj.kernel_params(beliefs)
    if method == "heap":
        return greedy_heap(obj.code, *params, cap, budget)
    if method == "merged":
        return greedy_merged(obj.code, params, cap, budget, *prompt_types(beliefs, params, cap, obj.params_from_counts))
    return greedy_threshold(obj.code, params, cap, budget)
