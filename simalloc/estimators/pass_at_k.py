"""The unbiased pass@k estimator."""

from __future__ import annotations

import math

import numpy as np

from ..jit import jit
from ..validation import as_integer_array

__all__ = ["pass_at_k"]


@jit
def _pass_at_k_kernel(n, c, k, out):
    for j in range(out.size):
        nj, cj, kj = n[j], c[j], k[j]
        if nj - cj < kj:
            out[j] = 1.0
            continue
        # C(n-c, k)/C(n, k) as a product of terms in (0, 1], summed in log1p form (no cancellation);
        # the shorter of the two product forms: min(c, k) terms.
        log_q = 0.0
        if cj <= kj:
            for i in range(nj - cj + 1, nj + 1):
                log_q += math.log1p(-kj / i)
        else:
            for i in range(kj):
                log_q += math.log1p(-cj / (nj - i))
        out[j] = 0.0 - math.expm1(log_q)  # 0.0 - (+0.0), never -0.0
    return out


def pass_at_k(n, c, k) -> float | np.ndarray:
    r"""Unbiased pass@k from n samples with c correct; arrays broadcast.

    Parameters
    ----------
    n : array_like of int
        Samples drawn per problem, n >= 1.
    c : array_like of int
        Correct samples, 0 <= c <= n.
    k : array_like of int
        1 <= k <= n.

    Returns
    -------
    float or ndarray of float64
        1 - C(n-c, k)/C(n, k): a Python float when n, c and k are all scalars, else an array of the broadcast
        shape of the inputs.

    Notes
    -----
    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) (or the equal k-term product
    prod_{i=0}^{k-1} (1 - c/(n-i))), whichever is shorter, in log1p/expm1 form; 1 when n - c < k.
    Stable for n up to 10^4 and beyond.

    References
    ----------
    Chen et al., "Evaluating Large Language Models Trained on Code", arXiv 2107.03374.

    Examples
    --------
    >>> round(pass_at_k(10, 3, 5), 12), round(pass_at_k(64, 1, 32), 12)  # 11/12 and 1/2
    (0.916666666667, 0.5)
    >>> pass_at_k([10, 10], 3, 5).round(6).tolist()
    [0.916667, 0.916667]
    """
    n_a, c_a, k_a = as_integer_array(n, "n"), as_integer_array(c, "c"), as_integer_array(k, "k")
    try:
        n_b, c_b, k_b = np.broadcast_arrays(n_a, c_a, k_a)
    except ValueError:
        raise ValueError(f"n, c, k: shapes {n_a.shape}, {c_a.shape}, {k_a.shape} do not broadcast") from None
    if n_b.size:
        if n_b.min() < 1:
            raise ValueError(f"n: must be >= 1, found {int(n_b.min())}")
        if c_b.min() < 0 or np.any(c_b > n_b):
            raise ValueError("c: must satisfy 0 <= c <= n")
        if k_b.min() < 1 or np.any(k_b > n_b):
            raise ValueError("k: must satisfy 1 <= k <= n")
    flat = [np.ascontiguousarray(x.reshape(-1)) for x in (n_b, c_b, k_b)]
    out = _pass_at_k_kernel(*flat, np.empty(n_b.size, dtype=np.float64))
    return float(out[0]) if n_b.ndim == 0 else out.reshape(n_b.shape)
