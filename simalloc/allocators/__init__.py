"""Rules that split a rollout budget over prompts; one registry, one entry point."""

from __future__ import annotations

import numbers

import numpy as np

from ..beliefs import BetaBeliefs
from ..seeding import as_generator
from ..validation import as_budget, as_cap, as_pilot, as_positive_finite
from . import baselines, basic, greedy, peers  # noqa: F401  (register the built-in allocators)
from .engine import SOLVERS, solve
from .registry import ALLOCATORS, AllocationProblem, Allocator, get_allocator, register

__all__ = ["ALLOCATORS", "AllocationProblem", "Allocator", "SOLVERS", "allocate", "get_allocator", "register", "solve"]


def allocate(
    name, successes, trials, budget, *, prior=(1.0, 1.0), cap=None, rng=None, predicted_p=None, options=None
) -> np.ndarray:
    """Split ``budget`` extra rollouts over prompts with the registered allocator ``name``.

    Parameters
    ----------
    name : str
        Allocator registry name: "uniform", "hora", "hard_first", "plugin", "informative", "optimal", ...
        (``simalloc list`` prints them all).
    successes : array_like of int, shape (n_prompts,)
        Pilot successes s_i.
    trials : int or array_like of int, shape (n_prompts,)
        Pilot rollouts K0 (per prompt or shared); 0 <= s_i <= K0_i.
    budget : int
        Extra rollouts to allocate, >= 0.
    prior : (alpha0, beta0)
        Beta prior, scalars (shared) or arrays of shape (n_prompts,) (per prompt); entries finite > 0.
    cap : None, int or array_like of int
        Per-prompt maximum of extra rollouts; sum(cap) must be >= budget.
    rng : None, int, SeedSequence or Generator
        Randomness for allocators that break ties or remainders at random.
    predicted_p : array_like of float in (0, 1), shape (n_prompts,), optional
        Pass rates from a learned predictor, read by allocators that use one ("vip", "gvm").
    options : dict, optional
        Allocator-specific settings, e.g. {"n_max": 64} for "vip" or "knapsack".

    Returns
    -------
    ndarray of int64, shape (n_prompts,)
        Extra rollouts per prompt, non-negative, summing to ``budget``, within ``cap``.

    Notes
    -----
    The posterior is Beta(alpha0 + s_i, beta0 + K0_i - s_i); greedy allocators take the ``budget``
    largest marginal gains of their objective, an exact optimum (HORA, arXiv 2605.07114, Prop. 3.1).

    Examples
    --------
    >>> allocate("hora", [0, 4, 8], 8, 12).tolist()
    [6, 4, 2]
    >>> allocate("uniform", [0, 4, 8], 8, 12).tolist()
    [4, 4, 4]
    """
    allocator = get_allocator(name)
    fast = _count_typed(allocator, successes, trials, budget, prior, cap, predicted_p, options)
    if fast is not None:
        return fast
    beliefs = BetaBeliefs.from_counts(successes, trials, prior)
    budget = as_budget(budget)
    if predicted_p is not None:
        predicted_p = np.asarray(predicted_p, dtype=np.float64)
        if predicted_p.shape != beliefs.a.shape or not np.all((predicted_p > 0) & (predicted_p < 1)):
            raise ValueError(f"predicted_p: expected shape {beliefs.a.shape} with every entry in (0, 1)")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options: expected a dict, got {type(options).__name__}")
    cap_arr = as_cap(cap, beliefs.n_prompts, budget)
    opts = (
        allocator.validate_options(dict(options or {}))
        if hasattr(allocator, "validate_options")
        else dict(options or {})
    )
    problem = AllocationProblem(beliefs, budget, cap_arr, predicted_p, opts)
    alloc = allocator(problem, as_generator(rng))
    if alloc.sum() != budget or np.any(alloc < 0) or np.any(alloc > problem.cap):  # pragma: no cover
        raise RuntimeError(f"allocator {allocator.name!r} broke the budget contract")
    return alloc


def _scalar(x) -> bool:
    return (
        isinstance(x, (numbers.Real, np.number))
        and not isinstance(x, bool)
        or (isinstance(x, np.ndarray) and x.ndim == 0)
    )


def _count_typed(allocator, successes, trials, budget, prior, cap, predicted_p, options):
    """The fast path of ``allocate`` for the common problem: one pilot size (a scalar, or an array whose entries
    are all equal), a shared scalar prior, no cap or one cap, an allocator that is an exact greedy on a
    count-parameterised objective. Validation is the same as the general path's (same messages) and reads the
    counts once (``as_pilot``: a valid int64 array is not copied); the solver is ``greedy_by_counts`` (the
    type-merged greedy) on that pass's tally, so no (n_prompts,) posterior arrays are built. Returns None where
    the general path applies."""
    from ..objectives import get_objective
    from .engine import greedy_by_counts

    objective = getattr(allocator, "count_objective", None)
    if (
        objective is None
        or predicted_p is not None
        or options
        or not (_scalar(trials) or np.ndim(trials) == 1)
        or not (cap is None or _scalar(cap))
        or not isinstance(prior, tuple)
        or len(prior) != 2
        or not (_scalar(prior[0]) and _scalar(prior[1]))
    ):
        return None
    obj = get_objective(objective)
    if not obj.params_from_counts:
        return None
    pilot = as_pilot(successes, trials)
    if pilot is None:  # pilot sizes differ: per-prompt beliefs
        return None
    s, t, counts = pilot
    a0 = float(as_positive_finite(prior[0], "prior alpha0"))
    b0 = float(as_positive_finite(prior[1], "prior beta0"))
    budget = as_budget(budget)
    c = budget if cap is None else min(as_budget(cap, "cap"), budget)
    if c * s.size < budget:
        raise ValueError(
            f"cap: the caps hold at most {c * s.size} rollouts but budget={budget}; "
            f"need sum(cap) >= budget (cap * n_prompts >= budget for a scalar cap)"
        )
    alloc = greedy_by_counts(obj, s, t, a0, b0, c, budget, count=counts)
    if alloc.sum() != budget:  # pragma: no cover
        raise RuntimeError(f"allocator {allocator.name!r} broke the budget contract")
    return alloc
