"""Numba kernels: marginal gains of the separable Beta-Binomial objectives, by stable recurrence.

Notation: m(i, j) = E[p^i (1-p)^j] = B(a+i, b+j) / B(a, b) for p ~ Beta(a, b), with
m(i, j+1) = m(i, j) (b+j)/(a+b+i+j) and m(i+1, j) = m(i, j) (a+i)/(a+b+i+j).

Each objective's marginal Delta(k) = U(k) - U(k-1), k >= 1, is  wf * tf(k) + wp * tp(k):
a 'fail' term (weighted by wf) and a 'pass' term (weighted by wp), each a moment m(i, j) that the
recurrence advances from k to k+1 with one multiply. Every term decreases strictly in k, so the
marginals decrease and greedy allocation is exact.

  code  objective       tf(k)         tp(k)         weights
  0     hit             m(1, k-1)     -             wf = 1, wp = 0
  1     informative     m(1, k-1)     m(k-1, 1)     wf = [group all-fail], wp = [group all-pass]
  2     knapsack        m(2, k+1)     m(k, 3)       same as informative
  3     hit (plug-in)   p (1-p)^(k-1) -             wf = 1, wp = 0, with p = a (the point estimate)
  4     variance (VIP)  v/((n-1)(n-2)) 1            wf = 1, wp = -gamma log p; v = a, base size n0 = b, n = n0 + k
  5     knapsack plug-  w (1-p)^(n-1) p  w p^(n-1) (1-p)  wf = wp = 1; p = a, n0 = b, n = n0 + k, w = p (1-p)^2
        in (Knapsack RL)
  6     log-miss        log1p(a/(b+k-1)) -          wf = 1, wp = 0: -log E[(1-p)^k] (P(success) over independent
                                                    directions: maximize sum_j -log E[(1-p_j)^B_j])
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit

HIT = 0
INFORMATIVE = 1
KNAPSACK = 2
HIT_PLUGIN = 3
VARIANCE = 4
KNAPSACK_PLUGIN = 5
LOG_MISS = 6
KERNEL_CODES = frozenset({HIT, INFORMATIVE, KNAPSACK, HIT_PLUGIN, VARIANCE, KNAPSACK_PLUGIN, LOG_MISS})


@jit
def first_terms(code, a, b):
    """(tf(1), tp(1)) for one prompt."""
    s = a + b
    if code == HIT or code == INFORMATIVE:
        return a / s, b / s
    if code == KNAPSACK:
        tf = a * (a + 1.0) / (s * (s + 1.0)) * (b * (b + 1.0)) / ((s + 2.0) * (s + 3.0))
        tp = a / s * (b * (b + 1.0) * (b + 2.0)) / ((s + 1.0) * (s + 2.0) * (s + 3.0))
        return tf, tp
    if code == VARIANCE:
        n = b + 1.0
        return a / ((n - 1.0) * (n - 2.0)), 1.0
    if code == LOG_MISS:
        return math.log1p(a / b), 0.0
    if code == KNAPSACK_PLUGIN:
        w = a * (1.0 - a) ** 2
        return w * (1.0 - a) ** b * a, w * a**b * (1.0 - a)
    # HIT_PLUGIN
    return a, 0.0


@jit
def next_terms(code, a, b, k, tf, tp):
    """Advance the terms from marginal index k to k + 1."""
    s = a + b
    if code == HIT or code == INFORMATIVE:
        return tf * (b + k - 1.0) / (s + k), tp * (a + k - 1.0) / (s + k)
    if code == KNAPSACK:
        return tf * (b + k + 1.0) / (s + k + 3.0), tp * (a + k) / (s + k + 3.0)
    if code == VARIANCE:
        n = b + k + 1.0
        return a / ((n - 1.0) * (n - 2.0)), 1.0
    if code == KNAPSACK_PLUGIN:
        return tf * (1.0 - a), tp * a
    if code == LOG_MISS:
        return math.log1p(a / (b + k)), 0.0
    return tf * (1.0 - a), 0.0


@jit
def fill_marginals(code, a, b, wf, wp, out):
    """out[i, k-1] = Delta_i(k) for k = 1..out.shape[1]."""
    n, kmax = out.shape
    for i in range(n):
        tf, tp = first_terms(code, a[i], b[i])
        for k in range(1, kmax + 1):
            out[i, k - 1] = wf[i] * tf + wp[i] * tp
            tf, tp = next_terms(code, a[i], b[i], k, tf, tp)
    return out


def weights(code: int, all_fail: np.ndarray, all_pass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (wf, wp) weight arrays of an objective code, float64 (n_prompts,)."""
    if code in (HIT, HIT_PLUGIN, LOG_MISS):
        return np.ones(all_fail.shape), np.zeros(all_fail.shape)
    if code == KNAPSACK_PLUGIN:
        return np.ones(all_fail.shape), np.ones(all_fail.shape)
    return all_fail.astype(np.float64), all_pass.astype(np.float64)
