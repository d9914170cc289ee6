"""PKPO's three transformations (Eqs. 19, 29, 33) on a vector worked by hand from the paper's definitions."""

from fractions import Fraction as F

import numpy as np

from simalloc.estimators.bon import pkpo_advantages

from ._harness import Result

PAPER = "PKPO (arXiv 2505.15201)"
CLAIM = ("Pass@k policy optimization: s_i = (1/C(n,k)) sum over k-subsets containing i of their max (Eq. 19), with the "
         "leave-one-out baseline (Eq. 29) and the k-1 baseline (Eq. 33, recommended); rewards (1, 1, 0, 0), k = 2.")
SOURCE = "Eqs. 19, 29, 33 (transformations of a reward batch)"
SETTING = ("rewards (1, 1, 0, 0), k = 2, values worked by hand from the definitions: s = (1/2, 1/2, 1/3, 1/3); "
           "loo subtracts the mean of the other samples' s computed without sample i (4/9 for a 1, 2/3 for a 0): "
           "(1/18, 1/18, -1/3, -1/3); loo-1 averages max_I - max_(I minus i) over the 2-subsets holding i: (1/3, 1/3, "
           "0, 0)")
TOLERANCE = "1e-12 absolute: exact rationals against float64 arithmetic on four numbers"
USES_SIMULATOR = False

EXPECTED = {
    "s": [F(1, 2), F(1, 2), F(1, 3), F(1, 3)],
    "loo": [F(1, 18), F(1, 18), F(-1, 3), F(-1, 3)],
    "loo-1": [F(1, 3), F(1, 3), F(0), F(0)],
}


def run(full=False, out=None, estimator=pkpo_advantages):
    rewards = [[1.0, 1.0, 0.0, 0.0]]
    got = {v: np.asarray(estimator(rewards, 2, variant=v))[0] for v in EXPECTED}
    ok = {v: bool(np.allclose(got[v], [float(x) for x in EXPECTED[v]], atol=1e-12, rtol=0)) for v in EXPECTED}
    return Result(
        expected="; ".join(f"{v}: ({', '.join(str(x) for x in EXPECTED[v])})" for v in EXPECTED),
        observed="; ".join(
            f"{v}: {np.round(got[v], 6).tolist()} ({'match' if ok[v] else 'MISMATCH'})" for v in EXPECTED
        ),
        verdict="reproduced" if all(ok.values()) else "not_reproduced",
        details={"match": ok},
    )
