"""Allocation speed: the exact solvers against a plain Python heap greedy and the uniform rule.

- hora_vs_heap: ``allocate("hora")`` (type-merged greedy) vs the reference heap greedy, 10,000 prompts
  x 24 extra rollouts, K0 = 8; target ratio >= 1000.
- hora_1e6: ``allocate("hora")`` at 1,000,000 prompts x 24; baseline ``allocate("uniform")`` (same
  validation, no objective); target < 50 ms on one core.
- threshold_1e6: per-prompt priors (threshold solver) at 1,000,000 prompts x 24; baseline the
  shared-prior hora of the row above; target < 1 s.
"""

from __future__ import annotations

import numpy as np

from simalloc import allocate
from simalloc.allocators.engine import solve
from simalloc.beliefs import BetaBeliefs

from .timing import best_of, row


def _pilot(n: int, k0: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.binomial(k0, rng.beta(0.5, 0.5, size=n))


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

    n = 100_000 if quick else 1_000_000
    s = _pilot(n, k0, 1)
    uniform = best_of(lambda: allocate("uniform", s, k0, n * extra, rng=0), repeat=5)
    hora = best_of(lambda: allocate("hora", s, k0, n * extra), repeat=7)
    rows.append(row(f"hora_{n:.0e}", n, hora, uniform, "seconds < 0.05 at 1e6", None if quick else hora < 0.05,
                    "baseline: uniform"))

    rng = np.random.default_rng(2)
    prior = (rng.uniform(0.5, 2.0, size=n), rng.uniform(0.5, 2.0, size=n))
    thr = best_of(lambda: allocate("hora", s, k0, n * extra, prior=prior), repeat=3)
    rows.append(row(f"threshold_{n:.0e}", n, thr, hora, "seconds < 1 at 1e6", None if quick else thr < 1.0,
                    "baseline: shared-prior hora"))
    return rows
