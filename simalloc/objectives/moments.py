"""One place for the Beta moment ratio: log E[p^i (1-p)^j] = log B(a+i, b+j) - log B(a, b), p ~ Beta(a, b).

For integer i, j (every allocation, hit utility and P(success) value in the package) it is the sum
sum_{r<i} log1p(-b/(a+b+r)) + sum_{r<j} log1p(-(a+i)/(a+b+i+r)), accurate to a few ulp for any a, b > 0
(including 1e300, where a difference of two ``betaln`` values loses every digit). Non-integer exponents use
the ``betaln`` difference, refused where a + b > 1e6 (it would lose more than 1e-10 there).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln

from ..jit import jit

__all__ = ["log_beta_ratio"]

#: above this a + b, a betaln difference loses more than ~1e-10 absolute
BETALN_MAX_SUM = 1e6


@jit
def _log_ratio_kernel(a, b, i, j, out):
    for e in range(out.size):
        ae, be, ie, je = a[e], b[e], i[e], j[e]
        s = ae + be
        acc = 0.0
        for r in range(ie):
            acc += math.log1p(-be / (s + r))
        for r in range(je):
            acc += math.log1p(-(ae + ie) / (s + ie + r))
        out[e] = acc
    return out


def log_beta_ratio(a, b, i, j) -> np.ndarray:
    """log B(a+i, b+j)/B(a, b) for a, b > 0 and i, j >= 0; arrays broadcast (inputs already validated).

    Parameters
    ----------
    a, b : array_like
        Beta parameters, > 0.
    i, j : array_like
        Exponents, >= 0.

    Returns
    -------
    ndarray of float64
        ln E[p^i (1-p)^j] under Beta(a, b), accurate for large a, b (no cancellation of betaln terms).

    Examples
    --------
    >>> round(float(np.exp(log_beta_ratio(1.0, 1.0, 0, 3))), 15)  # E[(1-p)^3] under the uniform prior: 1/4
    0.25
    >>> round(float(-np.expm1(log_beta_ratio(1e300, 1e300, 0, 1))), 12)  # hit utility of one rollout at p = 1/2
    0.5
    """
    a, b, i, j = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(i, np.float64),
                                     np.asarray(j, np.float64))
    integral = np.all(i == np.round(i)) and np.all(j == np.round(j))
    if integral:
        flat = [np.ascontiguousarray(x.reshape(-1)) for x in (a, b)]
        ints = [np.ascontiguousarray(x.reshape(-1)).astype(np.int64) for x in (i, j)]
        out = _log_ratio_kernel(*flat, *ints, np.empty(a.size))
        return out.reshape(a.shape)
    if a.size and np.max(a + b) > BETALN_MAX_SUM:
        raise ValueError(f"k: a non-integer number of rollouts needs a + b <= {BETALN_MAX_SUM:g} (precision); "
                         f"got a + b = {float(np.max(a + b)):.3g}")
    return betaln(a + i, b + j) - betaln(a, b)
