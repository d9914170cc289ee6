"""The allocator contract: what every registered allocator must satisfy.

Each ``check_*`` function raises AssertionError (or lets pytest.raises fail) when the contract is
broken; ``CONTRACT`` lists them so a test file can parametrize over registry x contract, and a user
who registers an allocator can run ``run_contract(name)``.
"""

from __future__ import annotations

import numpy as np

from .. import allocate
from ..seeding import as_generator

__all__ = ["CONTRACT", "contract_cases", "run_contract"]


def contract_cases(rng=0, n_cases: int = 12):
    """Small instances (successes, trials, budget, prior, cap) with feasible caps; deterministic for a given
    ``rng`` (SPEC 7 seed; 0 by default because the contract suite's cases are fixed by design).

    Parameters
    ----------
    rng : None, int, SeedSequence or Generator, default 0
        The random state.
    n_cases : int, default 12
        How many instances.

    Returns
    -------
    list of tuple
        (successes, trials, budget, prior, cap) per case.
    """
    rng = as_generator(rng)
    cases = []
    for j in range(n_cases):
        n = int(rng.integers(1, 9))
        k0 = int(rng.integers(0, 9))
        s = rng.integers(0, k0 + 1, size=n)
        budget = int(rng.integers(0, 41))
        if j % 3 == 0:
            prior = (float(rng.uniform(0.2, 5)), float(rng.uniform(0.2, 5)))
        elif j % 3 == 1:
            prior = (rng.uniform(0.2, 5, size=n), rng.uniform(0.2, 5, size=n))
        else:
            prior = (1.0, 1.0)
        cap = None if j % 2 else int(-(-budget // n) + rng.integers(0, 3))
        cases.append((s, k0, budget, prior, cap))
    cases.append((np.zeros(5, dtype=np.int64), 8, 17, (1.0, 1.0), 4))  # all-fail pilot, tight cap
    cases.append((np.full(4, 8), 8, 9, (1.0, 1.0), None))  # all-pass pilot
    return cases


def check_feasible(name: str) -> None:
    """Non-negative int64 (n_prompts,), sums to the budget, within the cap."""
    for s, k0, budget, prior, cap in contract_cases():
        alloc = allocate(name, s, k0, budget, prior=prior, cap=cap, rng=1)
        assert isinstance(alloc, np.ndarray) and alloc.dtype == np.int64, (name, alloc.dtype)
        assert alloc.shape == (len(s),), (name, alloc.shape)
        assert alloc.min() >= 0, (name, alloc)
        assert int(alloc.sum()) == budget, (name, int(alloc.sum()), budget)
        if cap is not None:
            assert alloc.max() <= cap, (name, alloc, cap)


def check_per_prompt_cap(name: str) -> None:
    """A per-prompt cap array is respected entry by entry (a zero cap means no rollouts)."""
    s = np.array([0, 0, 1, 4, 8, 8])
    cap = np.array([0, 5, 1, 2, 0, 9])
    alloc = allocate(name, s, 8, 12, cap=cap, rng=3)
    assert np.all(alloc <= cap) and int(alloc.sum()) == 12, (name, alloc)


def check_deterministic(name: str) -> None:
    """The same seed gives the same allocation; a Generator is accepted."""
    for s, k0, budget, prior, cap in contract_cases(rng=7):
        first = allocate(name, s, k0, budget, prior=prior, cap=cap, rng=123)
        second = allocate(name, s, k0, budget, prior=prior, cap=cap, rng=123)
        third = allocate(name, s, k0, budget, prior=prior, cap=cap, rng=np.random.default_rng(123))
        np.testing.assert_array_equal(first, second)
        np.testing.assert_array_equal(first, third)


def check_zero_budget(name: str) -> None:
    """A zero budget allocates nothing."""
    alloc = allocate(name, [0, 3, 8], 8, 0)
    np.testing.assert_array_equal(alloc, np.zeros(3, dtype=np.int64))


def check_bad_input(name: str) -> None:
    """Bad input raises ValueError/TypeError naming the argument, before any work."""
    import pytest

    good = dict(successes=[0, 3, 8], trials=8, budget=12)
    bad_cases = [
        (dict(budget=-1), ValueError, "budget"),
        (dict(budget=2.5), ValueError, "budget"),
        (dict(budget="12"), TypeError, "budget"),
        (dict(successes=[0, 9, 8]), ValueError, "successes"),
        (dict(successes=[0, -1, 8]), ValueError, "successes"),
        (dict(trials=[8, 8]), ValueError, "trials"),
        (dict(successes=[]), ValueError, "successes"),
        (dict(prior=(float("nan"), 1.0)), ValueError, "prior"),
        (dict(prior=(1.0, 0.0)), ValueError, "prior"),
        (dict(prior=(1.0, float("inf"))), ValueError, "prior"),
        (dict(cap=3), ValueError, "cap"),
        (dict(cap=[1, 2]), ValueError, "cap"),
    ]
    for change, exc, word in bad_cases:
        kwargs = {**good, **change}
        args = (name, kwargs.pop("successes"), kwargs.pop("trials"), kwargs.pop("budget"))
        with pytest.raises(exc, match=word):
            allocate(*args, **kwargs)


CONTRACT = [check_feasible, check_per_prompt_cap, check_deterministic, check_zero_budget, check_bad_input]


def run_contract(name: str) -> None:
    """Run every contract check on the registered allocator ``name``.

    Parameters
    ----------
    name : str
        A registered allocator (register yours with ``simalloc.allocators.register`` first).

    Raises
    ------
    AssertionError
        Naming the first check the allocator fails (sums to the budget, respects caps, non-negative integers,
        deterministic for a seed, zero budget, bad input refused with the argument's name ...).

    Examples
    --------
    >>> run_contract("uniform")  # passes silently
    """
    for check in CONTRACT:
        check(name)
