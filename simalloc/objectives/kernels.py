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

from ..jit import jit

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


# ------------------------------------------------------------------------------------------------------------
# The exact allocation engine's loops (type-merged greedy, threshold bisection). They live in this file, beside
# the marginal kernels they inline, because numba keys a cached kernel on its own source file only: a kernel
# that inlined a jitted function from another module would keep the old callee after an edit.
# Numba kernels of the allocation engine: type-merged greedy and threshold (bisection) solver.
#
# Both take the B largest marginals of decreasing per-prompt sequences (the exact optimum of a separable
# objective with decreasing marginals). Marginals come from ``objectives.kernels`` only.

_TINY = 5e-324  # the smallest positive double: count(_TINY) counts every positive marginal


@jit
def group_by_key(keys, n_keys):
    """Types from integer keys in [0, n_keys): (type_of (n,), representative index (T,), count (T,))."""
    slot = np.full(n_keys, -1, dtype=np.int64)
    n = keys.size
    type_of = np.empty(n, dtype=np.int64)
    rep = np.empty(n_keys, dtype=np.int64)
    count = np.zeros(n_keys, dtype=np.int64)
    n_types = 0
    for i in range(n):
        key = keys[i]
        t = slot[key]
        if t < 0:
            t = n_types
            slot[key] = t
            rep[t] = i
            n_types += 1
        type_of[i] = t
        count[t] += 1
    return type_of, rep[:n_types].copy(), count[:n_types].copy()


@jit
def merged_levels(code, a, b, wf, wp, cap, count, budget):
    """Greedy over prompt types: each type t has count[t] prompts sharing one marginal sequence.

    Returns (level (T,), partial (T,)): every prompt of type t gets level[t] rollouts and the first
    partial[t] of them one more. Each step takes a whole level of the type with the largest current
    marginal (all its copies are equal), so the cost does not depend on n_prompts.
    """
    n_types = a.size
    level = np.zeros(n_types, dtype=np.int64)
    partial = np.zeros(n_types, dtype=np.int64)
    tf = np.empty(n_types)
    tp = np.empty(n_types)
    cur = np.empty(n_types)
    for t in range(n_types):
        tf[t], tp[t] = first_terms(code, a[t], b[t])
        cur[t] = wf[t] * tf[t] + wp[t] * tp[t]
    remaining = budget
    while remaining > 0:
        best = -1
        best_value = -1.0
        for t in range(n_types):
            if level[t] < cap[t] and cur[t] > best_value:
                best = t
                best_value = cur[t]
        if best < 0:
            break  # caps exhausted; the Python layer validated sum(cap) >= budget
        if count[best] > remaining:
            partial[best] = remaining
            remaining = 0
            break
        remaining -= count[best]
        level[best] += 1
        tf[best], tp[best] = next_terms(code, a[best], b[best], level[best], tf[best], tp[best])
        cur[best] = wf[best] * tf[best] + wp[best] * tp[best]
    return level, partial


@jit
def expand_levels(type_of, level, partial, out):
    """out[i] = level[type] (+1 for the first partial[type] prompts of each type, in index order)."""
    for i in range(type_of.size):  # a plain gather: no branch, so it vectorises
        out[i] = level[type_of[i]]
    partial_types = np.flatnonzero(partial)
    if partial_types.size == 1:  # the greedy leaves one type partial: find its first prompts, then stop
        t = partial_types[0]
        left = partial[t]
        i = 0
        while left > 0:  # branch-free body: the type's prompts are scattered, a branch would mispredict
            hit = np.int64(type_of[i] == t)
            out[i] += hit
            left -= hit
            i += 1
    elif partial_types.size > 1:
        left_of = partial.copy()
        pending = left_of.sum()
        i = 0
        while pending > 0:
            t = type_of[i]
            if left_of[t] > 0:
                out[i] += 1
                left_of[t] -= 1
                pending -= 1
            i += 1
    return out


@jit
def _walk(code, a, b, wf, wp, cap, lam, active, n_active, k0, tf0, tp0, base, limit, k1, tf1, tp1):
    """From the committed state (k0 taken, terms of index k0+1), take every marginal >= lam.

    Only prompts in active[:n_active] are visited. Writes their new state to (k1, tf1, tp1) and
    returns the total count; returns limit + 1 as soon as the total exceeds ``limit`` (the new state
    is then incomplete and must be discarded).
    """
    total = base
    for j in range(n_active):
        i = active[j]
        k = k0[i]
        tf = tf0[i]
        tp = tp0[i]
        while k < cap[i] and wf[i] * tf + wp[i] * tp >= lam:
            k += 1
            total += 1
            if total > limit:
                return limit + 1
            tf, tp = next_terms(code, a[i], b[i], k, tf, tp)
        k1[i] = k
        tf1[i] = tf
        tp1[i] = tp
    return total


@jit
def threshold_solve(code, a, b, wf, wp, cap, budget, out):
    """Exact allocation for per-prompt beliefs: find lambda with #{Delta_i(k) >= lambda} = budget.

    The committed state is always the one at the upper end ``hi`` of the bracket (count <= budget),
    so a trial threshold only walks the marginals between the committed state and itself, and a
    rejected trial stops as soon as it overshoots. The search first steps down from the largest
    marginal by hi * 2^(-2^j) until a trial overshoots, then bisects (geometrically while the bracket
    spans more than a factor 4, then arithmetically) until the two ends are adjacent doubles; the
    marginals in between are then all equal and are taken in prompt order. Prompts whose next
    marginal falls below the lower end drop out of the active set. Budget left after every positive
    marginal (caps, or zero marginals) is spread one unit at a time over prompts with room.
    """
    n = a.size
    k0 = np.zeros(n, dtype=np.int64)
    tf0 = np.empty(n)
    tp0 = np.empty(n)
    k1 = np.zeros(n, dtype=np.int64)
    tf1 = np.empty(n)
    tp1 = np.empty(n)
    active = np.empty(n, dtype=np.int64)
    n_active = 0
    hi = 0.0
    for i in range(n):
        tf0[i], tp0[i] = first_terms(code, a[i], b[i])
        m = wf[i] * tf0[i] + wp[i] * tp0[i]
        if cap[i] > 0 and m > 0.0:
            active[n_active] = i
            n_active += 1
            if m > hi:
                hi = m
    committed = 0
    if budget > 0 and n_active > 0:
        hi = np.nextafter(hi, np.inf)  # count(hi) = 0
        lo = 0.0  # 0 means 'no overshooting trial seen yet'
        step = 1.0
        all_positive_fit = False
        while True:
            if lo == 0.0:
                mid = hi * 2.0 ** (-step)
                step *= 2.0
                if mid < _TINY:
                    mid = _TINY
            elif hi > 4.0 * lo:
                mid = math.sqrt(lo) * math.sqrt(hi)
            else:
                mid = lo + 0.5 * (hi - lo)
            if mid <= lo or mid >= hi:
                break
            total = _walk(code, a, b, wf, wp, cap, mid, active, n_active, k0, tf0, tp0, committed, budget, k1, tf1, tp1)
            if total <= budget:
                for j in range(n_active):
                    i = active[j]
                    k0[i] = k1[i]
                    tf0[i] = tf1[i]
                    tp0[i] = tp1[i]
                hi = mid
                committed = total
                if total == budget:
                    break
                if mid == _TINY:
                    all_positive_fit = True
                    break
            else:
                lo = mid
                kept = 0  # prompts whose next marginal is below lo can never gain
                for j in range(n_active):
                    i = active[j]
                    if k0[i] < cap[i] and wf[i] * tf0[i] + wp[i] * tp0[i] >= lo:
                        active[kept] = i
                        kept += 1
                n_active = kept
        if not all_positive_fit and committed < budget:
            # lo and hi are adjacent doubles: the marginals in [lo, hi) are all equal; take them in order
            for j in range(n_active):
                i = active[j]
                while committed < budget and k0[i] < cap[i] and wf[i] * tf0[i] + wp[i] * tp0[i] >= lo:
                    k0[i] += 1
                    committed += 1
                    tf0[i], tp0[i] = next_terms(code, a[i], b[i], k0[i], tf0[i], tp0[i])
    progress = True
    while committed < budget and progress:  # zero marginals: one more each, round robin over prompts with room
        progress = False
        for i in range(n):
            if committed < budget and k0[i] < cap[i]:
                k0[i] += 1
                committed += 1
                progress = True
    out[:] = k0
    return out
