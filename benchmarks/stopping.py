"""Stopping-rule throughput: votes simulated per second through the numba kernels.

Baseline: a numpy vectorized draw of the same number of categorical votes (``Generator.choice`` with
probabilities via inverse-cdf on a uniform array), measured in the same run.
"""

from __future__ import annotations

import numpy as np

from simalloc.stopping import make_rule, run_rule
from simalloc.worlds.votes import VOTE_PRESETS

from .timing import best_of, row


def run(quick: bool = False) -> list[dict]:
    n = 20_000 if quick else 100_000
    probs = VOTE_PRESETS["gpqa-like"].sample(n, np.random.default_rng(0))
    rows = []
    total = n * 64
    rng = np.random.default_rng(1)

    def numpy_draws():
        cum = np.cumsum(probs, axis=1)
        u = rng.random((n, 64))
        return (u[..., None] > cum[:, None, :]).sum(-1)

    base = best_of(numpy_draws, repeat=3)
    for name in ("fixed", "bsprt", "ac_beta", "esc"):
        rule = make_rule(name)
        votes = run_rule(rule, probs, rng=0)["votes"].sum()  # also the warm-up (compilation) run
        seconds = best_of(lambda: run_rule(rule, probs, rng=0), repeat=3)
        baseline = base * votes / total
        rows.append(row(f"stop_{name}", int(votes), seconds, baseline, f"{votes / seconds:.3g} votes/s", True,
                        "baseline: numpy categorical draws, scaled to the same vote count"))
    return rows
