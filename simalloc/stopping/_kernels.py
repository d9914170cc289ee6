"""Numba kernels of the stopping rules: votes arrive one at a time; a rule decides when to stop.

Rules dispatch on an integer code with a float64 parameter vector:

  code  rule             params
  0     fixed-N          [N]
  1     BSPRT            [cap, alpha, beta, min_confirm, degradation, p_known]
  2     AC (Beta)        [cap, confidence]
  3     AC (Dirichlet)   [cap, confidence]   (a precomputed table over sorted counts, key base cap + 1)
  4     ESC              [cap, window]

The answer at stopping is the plurality answer, ties broken uniformly at random.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit

FIXED, BSPRT, AC_BETA, AC_DIRICHLET, ESC = 0, 1, 2, 3, 4


@jit
def beta_confidence(a, b):
    """1 - I_0.5(a+1, b+1) = P(Binomial(a+b+1, 1/2) <= a) for integer counts a, b (AC's Beta rule)."""
    n = a + b + 1
    total = 0.0
    term = math.exp(-n * math.log(2.0))  # C(n, 0) / 2^n
    for j in range(0, a + 1):
        total += term
        term = term * (n - j) / (j + 1)
    return total


@jit
def _top_two(counts, k):
    first = -1
    second = -1
    for c in range(k):
        v = counts[c]
        if v > first:
            second = first
            first = v
        elif v > second:
            second = v
    return first, second


@jit
def _leader(counts, k, rng):
    best = -1
    n_best = 0
    for c in range(k):
        if counts[c] > best:
            best = counts[c]
            n_best = 1
        elif counts[c] == best:
            n_best += 1
    pick = int(rng.integers(0, n_best))
    for c in range(k):
        if counts[c] == best:
            if pick == 0:
                return c
            pick -= 1
    return 0


@jit
def sorted_key(counts, k, base):
    """Key sum_i s_i base^i of the sorted (descending) top-four counts s, for table lookups."""
    s = np.sort(counts[:k])[::-1]
    key = 0
    mult = 1
    for i in range(min(k, 4)):
        key += s[i] * mult
        mult *= base
    return key


@jit
def _stop_now(code, params, counts, k, t, c, state, table):
    """Stop after the t-th vote (class c)? ``state`` is int64[3], updated in place: consecutive BSPRT
    confirmations, the current ESC window's first class, and whether that window is unanimous so far."""
    if code == FIXED:
        return t >= params[0]
    if code == ESC:
        w = int(params[1])
        pos = (t - 1) % w
        if pos == 0:
            state[1] = c
            state[2] = 1
        elif c != state[1]:
            state[2] = 0
        if pos == w - 1 and state[2] == 1:
            return True
        return t >= params[0]
    if t >= params[0]:
        return True
    if code == BSPRT:
        alpha, beta, min_confirm, deg, p_known = params[1], params[2], params[3], params[4], params[5]
        v_l, v_s = _top_two(counts, k)
        if v_s < 0:
            v_s = 0
        if p_known > 0.0:
            p0, p1 = p_known, 1.0 - p_known
        else:
            observed = 0
            for j in range(k):
                if counts[j] > 0:
                    observed += 1
            p0 = deg * v_l / t
            p1 = (1.0 - p0) / max(observed - 1, 1)
        ok = False
        if p0 > p1 and p1 > 0.0:
            ok = (v_l - v_s) * math.log(p0 / p1) >= math.log((1.0 - beta) / alpha)
        state[0] = state[0] + 1 if ok else 0
        return state[0] >= min_confirm
    if code == AC_BETA:
        v_l, v_s = _top_two(counts, k)
        if v_s < 0:
            v_s = 0
        return beta_confidence(v_l, v_s) >= params[1]
    return table[sorted_key(counts, k, int(params[0]) + 1)] >= params[1]  # AC_DIRICHLET


@jit
def _esc_window_answer(code, params, t, state):
    """ESC answers with its unanimous window; -1 when the rule did not stop on one."""
    if code == ESC and t % int(params[1]) == 0 and state[2] == 1:
        return state[1]
    return -1


@jit
def simulate(code, params, probs, rng, table, out_votes, out_answer, out_correct_votes):
    """Run the rule on every prompt (row of probs); class 0 is correct. Returns the outputs filled."""
    n, k = probs.shape
    counts = np.zeros(k, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)
    cum = np.empty(k)
    for i in range(n):
        acc = 0.0
        for c in range(k):
            acc += probs[i, c]
            cum[c] = acc
        counts[:] = 0
        state[:] = 0
        t = 0
        while True:
            u = rng.random() * acc
            c = 0
            while c < k - 1 and cum[c] <= u:
                c += 1
            counts[c] += 1
            t += 1
            if _stop_now(code, params, counts, k, t, c, state, table):
                break
        answer = _esc_window_answer(code, params, t, state)
        out_votes[i] = t
        out_answer[i] = answer if answer >= 0 else _leader(counts, k, rng)
        out_correct_votes[i] = counts[0]
    return out_votes


@jit
def stop_index(code, params, codes, k, table):
    """How many votes of the given sequence (answer codes in 0..k-1) the rule reads before it stops."""
    counts = np.zeros(k, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)
    for t in range(1, codes.size + 1):
        c = codes[t - 1]
        counts[c] += 1
        if _stop_now(code, params, counts, k, t, c, state, table):
            return t
    return codes.size
