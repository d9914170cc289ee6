"""The max@k U-statistic is an unbiased estimator of E[M_k] (the basis of BoN-aware training, k <= m)."""

import itertools

import numpy as np

from simalloc.estimators.bon import maxk_unbiased

from ._harness import Result

PAPER = "TEA (arXiv 2605.10716) / PKPO (arXiv 2505.15201)"
CLAIM = "From m >= k rollouts, sum_i C(i-1, k-1)/C(m, k) r_(i) is an unbiased estimate of E[max of k rewards]."
SOURCE = "the max@k estimator both papers build on"
SETTING = "exact enumeration of every m-tuple of a small discrete reward distribution (3-4 support points, m <= 6)"
TOLERANCE = "1e-12 absolute: both sides are finite sums"
USES_SIMULATOR = False


def run(full=False, out=None, estimator=maxk_unbiased):
    rng = np.random.default_rng(4)
    worst = 0.0
    cases = 0
    for _ in range(20 if full else 6):
        support = np.sort(rng.normal(size=int(rng.integers(3, 5))))
        p = rng.dirichlet(np.ones(support.size))
        for m in range(2, 6):
            for k in range(1, m + 1):
                truth = sum(support[j] * ((p[: j + 1].sum()) ** k - (p[:j].sum()) ** k) for j in range(support.size))
                mean = 0.0
                for tup in itertools.product(range(support.size), repeat=m):
                    mean += np.prod(p[list(tup)]) * float(estimator(support[list(tup)][None, :], k)[0])
                worst = max(worst, abs(mean - truth))
                cases += 1
    return Result(
        expected="E[estimator] = E[M_k] exactly for every (distribution, m, k)",
        observed=f"max |E[estimator] - E[M_k]| = {worst:.1e} over {cases} cases",
        verdict="reproduced" if worst <= 1e-12 else "not_reproduced",
    )
