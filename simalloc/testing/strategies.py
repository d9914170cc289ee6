"""Hypothesis strategies for allocation instances (small enough for the exact DP)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from ..beliefs import BetaBeliefs

__all__ = ["AllocationInstance", "allocation_instances"]


@dataclass(frozen=True)
class AllocationInstance:
    """One drawn allocation problem.

    Attributes
    ----------
    beliefs : BetaBeliefs
        Beliefs from pilot counts.
    budget : int
        Extra rollouts.
    cap : None, int or ndarray of int64
        Per-prompt caps with sum(cap) >= budget.
    """

    beliefs: BetaBeliefs
    budget: int
    cap: object  # None, int or int64 array

    def __repr__(self):  # shrunk counterexamples print readably
        bel = self.beliefs
        return (
            f"AllocationInstance(a={bel.a.tolist()}, b={bel.b.tolist()}, successes={bel.successes.tolist()}, "
            f"trials={bel.trials.tolist()}, shared_prior={bel.shared_prior}, budget={self.budget}, cap={self.cap!r})"
        )


@st.composite
def allocation_instances(draw, max_prompts: int = 6, max_budget: int = 40, prior_range=(0.2, 20.0)):
    """Beliefs from pilot counts under a shared or per-prompt prior in ``prior_range``, a budget and a cap.

    The cap is None, a scalar or a per-prompt array, always with sum(cap) >= budget.

    Parameters
    ----------
    max_prompts : int, default 6
        Most prompts (small enough for the brute-force oracle).
    max_budget : int, default 40
        Largest budget.
    prior_range : tuple of float, default (0.2, 20.0)
        The priors' parameters are drawn from this range.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``AllocationInstance``.
    """
    n = draw(st.integers(1, max_prompts))
    k0 = draw(st.integers(0, 8))
    successes = np.array(draw(st.lists(st.integers(0, k0), min_size=n, max_size=n)), dtype=np.int64)
    positive = st.floats(*prior_range, allow_nan=False, allow_infinity=False)
    if draw(st.booleans()):
        prior = (draw(positive), draw(positive))
    else:
        prior = (
            np.array(draw(st.lists(positive, min_size=n, max_size=n))),
            np.array(draw(st.lists(positive, min_size=n, max_size=n))),
        )
    beliefs = BetaBeliefs.from_counts(successes, k0, prior)
    budget = draw(st.integers(0, max_budget))
    kind = draw(st.sampled_from(["none", "scalar", "array"]))
    if kind == "none":
        cap = None
    elif kind == "scalar":
        cap = draw(st.integers(-(-budget // n), budget + 2))
    else:
        cap = np.array(draw(st.lists(st.integers(0, budget + 2), min_size=n, max_size=n)), dtype=np.int64)
        short = budget - int(cap.sum())
        if short > 0:
            cap[draw(st.integers(0, n - 1))] += short
    return AllocationInstance(beliefs, budget, cap)
