"""Allocation speed: the exact solvers against a plain Python heap greedy and the uniform rule.

- hora_vs_heap: ``allocate("hora")`` (type-merged greedy) vs the reference heap greedy, 10,000 prompts
  x 24 extra rollouts, K0 = 8; target ratio >= 1000.
- hora_vs_numpy_1e4 / 1e5: against what a competent numpy user writes: the (n_prompts, k_max) matrix of hit
  marginals by ``np.cumprod`` of the recurrence, ``np.argpartition`` of its top ``budget`` entries and a
  ``np.bincount`` per prompt, with k_max = 8 x the mean extra rollouts (enough here: the check that both give
  the same total hit utility runs in the benchmark itself). Reported, no target.
- hora_1e6: the public call ``simalloc.allocate("hora", S, 8, 24 N)`` at N = 1,000,000 prompts (validation
  included, S ~ Binomial(8, p) as int64); baseline ``allocate("uniform")`` (same validation, no objective); target
  <= 5 ms (one core; MISSED when it regresses).
- hora_trials_1e6: the same public call with the pilot sizes as an int64 array ``TR`` (one per prompt, all
  8), as a trainer passes them; target <= 5 ms.
- threshold_1e6: per-prompt priors (threshold solver) at 1,000,000 prompts x 24; baseline the
  shared-prior hora of the row above; target < 1 s.
"""

from __future__ import annotations

import numpy as np

from simalloc import allocate, hit_utility
from simalloc.allocators.engine import solve
from simalloc.beliefs import BetaBeliefs

from .timing import best_of, row


def _pilot(n: int, k0: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.binomial(k0, rng.beta(0.5, 0.5, size=n))


def numpy_greedy(successes, k0: int, budget: int, k_max: int) -> np.ndarray:
    """The numpy baseline: marginals matrix, top-``budget`` by argpartition, counts per prompt (uniform prior)."""
    a = successes + 1.0
    b = k0 - successes + 1.0
    j = np.arange(1, k_max)
    ratios = (b[:, None] + j - 1) / (a[:, None] + b[:, None] + j)  # Delta(k+1)/Delta(k)
    marg = np.concatenate([(a / (a + b))[:, None], (a / (a + b))[:, None] * np.cumprod(ratios, axis=1)], axis=1)
    top = np.argpartition(-marg.ravel(), budget - 1)[:budget]
    return np.bincount(top // k_max, minlength=successes.size)


def run(quick: bool = False) -> list[dict]:
    k0, extra = 8, 24
    rows = []

    n = 2_000 if quick else 10_000
    s = _pilot(n, k0, 0)
    bel = BetaBeliefs.from_counts(s, k0)
    heap = best_of(lambda: solve("hit", bel, n * extra, method="heap"), repeat=1 if quick else 3)
    fast = best_of(lambda: allocate("hora", s, k0, n * extra), repeat=20)
    rows.append(row("hora_vs_heap", n, fast, heap, "ratio >= 1000", None if quick else heap / fast >= 1000,
                    "baseline: Python heap greedy"))

    for n in ((2_000, 10_000) if quick else (10_000, 100_000)):
        s = _pilot(n, k0, 3)
        ours = allocate("hora", s, k0, n * extra)
        theirs = numpy_greedy(s, k0, n * extra, 8 * extra)
        value = lambda alloc: float(hit_utility(s + 1.0, k0 - s + 1.0, alloc).sum())  # noqa: E731
        if abs(value(ours) - value(theirs)) > 1e-9 * value(ours):
            raise RuntimeError("the numpy baseline and hora disagree on the optimum (k_max too small?)")
        fast = best_of(lambda: allocate("hora", s, k0, n * extra), repeat=10)
        base = best_of(lambda: numpy_greedy(s, k0, n * extra, 8 * extra), repeat=1 if quick else 3)
        rows.append(row(f"hora_vs_numpy_{n:.0e}", n, fast, base, "reported", None,
                        "baseline: numpy marginals matrix + argpartition (same optimum checked)"))

    n = 100_000 if quick else 1_000_000
    s = _pilot(n, k0, 1)
    uniform = best_of(lambda: allocate("uniform", s, k0, n * extra, rng=0), repeat=5)
    hora = best_of(lambda: allocate("hora", s, k0, n * extra), repeat=20)
    rows.append(row(f"hora_{n:.0e}", n, hora, uniform, "seconds <= 0.005 at 1e6", None if quick else hora <= 0.005,
                    "the public call, validation included; baseline: uniform"))
    trials = np.full(n, k0, dtype=np.int64)
    hora_tr = best_of(lambda: allocate("hora", s, trials, n * extra), repeat=20)
    rows.append(row(f"hora_trials_{n:.0e}", n, hora_tr, uniform, "seconds <= 0.005 at 1e6",
                    None if quick else hora_tr <= 0.005, "the public call with per-prompt trials (int64 array)"))

    rng = np.random.default_rng(2)
    prior = (rng.uniform(0.5, 2.0, size=n), rng.uniform(0.5, 2.0, size=n))
    thr = best_of(lambda: allocate("hora", s, k0, n * extra, prior=prior), repeat=3)
    rows.append(row(f"threshold_{n:.0e}", n, thr, hora, "seconds < 1 at 1e6", None if quick else thr < 1.0,
                    "baseline: shared-prior hora"))
    return rows
