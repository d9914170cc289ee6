"""Numba kernels of the stopping rules: votes arrive one at a time; a rule decides when to stop.

Rules dispatch on an integer code with a float64 parameter vector:

  code  rule             params
  0     fixed-N          [N]
  1     BSPRT            [cap, alpha, beta, min_confirm, degradation, p_known, p1_code, answer_space, p1_ratio,
                          min_votes]   (p1_code: 0 observed answers, 1 fixed answer space, 2 ratio x p0)
  2     AC (Beta)        [cap, confidence]
  3     AC (Dirichlet)   [cap, confidence]   (a precomputed table over the sorted top-five counts: row 0 the keys
                                            sum_i s_i (cap + 1)^i in increasing order, row 1 the probabilities)
  4     ESC              [cap, window]       (at most floor(cap / window) whole windows are read)

The answer at stopping is the plurality answer (ties: the tied answer seen first), or ESC's unanimous window.
Simulation, the exact DP comparison and live voting all call these kernels: one definition of each rule.
"""

from __future__ import annotations

import math

import numpy as np

from ..jit import jit

FIXED, BSPRT, AC_BETA, AC_DIRICHLET, ESC = 0, 1, 2, 3, 4
P1_OBSERVED, P1_SPACE, P1_RATIO = 0, 1, 2


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
def _leader(counts, first_seen, k):
    """The plurality class; ties go to the tied class seen first. Votes are exchangeable, so any order-based tie
    rule has the same expected accuracy as a random one, and live voting and simulation agree vote for vote."""
    best = -1
    pick = 0
    for c in range(k):
        if counts[c] > best or (counts[c] == best and first_seen[c] < first_seen[pick]):
            best = counts[c]
            pick = c
    return pick


#: how many of the most voted answers the Dirichlet rule looks at (the reference code's ``top_k_elements``)
DIRICHLET_TOP = 5


@jit
def sorted_key(counts, k, base):
    """Key sum_i s_i base^i of the sorted (descending) top-five counts s, for table lookups."""
    s = np.sort(counts[:k])[::-1]
    key = 0
    mult = 1
    for i in range(min(k, DIRICHLET_TOP)):
        key += s[i] * mult
        mult *= base
    return key


@jit
def _table_lookup(table, key):
    """The probability stored under ``key`` in a (2, n) table whose row 0 holds the sorted keys."""
    j = np.searchsorted(table[0], float(key))
    return table[1, j]


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
        return t >= (int(params[0]) // w) * w  # whole windows only: a partial last window is never read
    if t >= params[0]:
        return True
    if code == BSPRT:
        alpha, beta, min_confirm, deg, p_known = params[1], params[2], params[3], params[4], params[5]
        p1_code, space, ratio, min_votes = int(params[6]), params[7], params[8], params[9]
        v_l, v_s = _top_two(counts, k)
        if v_s < 0:
            v_s = 0
        if p_known > 0.0:
            p0, p1 = p_known, 1.0 - p_known
        else:
            p0 = deg * v_l / t
            if p1_code == P1_SPACE:
                p1 = (1.0 - p0) / (space - 1.0)
            elif p1_code == P1_RATIO:
                p1 = ratio * p0
            else:
                observed = 0
                for j in range(k):
                    if counts[j] > 0:
                        observed += 1
                p1 = (1.0 - p0) / max(observed - 1, 1)
        ok = False
        if p0 > p1 and p1 > 0.0:
            ok = (v_l - v_s) * math.log(p0 / p1) >= math.log((1.0 - beta) / alpha)
        state[0] = state[0] + 1 if ok else 0
        return state[0] >= min_confirm and t >= min_votes
    if code == AC_BETA:
        v_l, v_s = _top_two(counts, k)
        if v_s < 0:
            v_s = 0
        return beta_confidence(v_l, v_s) >= params[1]
    return _table_lookup(table, sorted_key(counts, k, int(params[0]) + 1)) >= params[1]  # AC_DIRICHLET


@jit
def _answer(code, params, counts, first_seen, k, t, state):
    """The rule's answer once it stopped after t votes: ESC's unanimous window, else the plurality class."""
    if code == ESC and t % int(params[1]) == 0 and state[2] == 1:
        return state[1]
    return _leader(counts, first_seen, k)


@jit
def _vote(code, params, counts, first_seen, k, t, c, state, table):
    """Count vote t (class c); True when the rule stops after it."""
    counts[c] += 1
    if first_seen[c] > t:
        first_seen[c] = t
    return _stop_now(code, params, counts, k, t, c, state, table)


@jit
def simulate(code, params, probs, rng, table, out_votes, out_answer, out_counts, record):
    """Run the rule on every prompt (row of probs); class 0 is correct. Fills votes, answer and the vote counts
    per class (n_prompts, n_classes) at stopping; ``record`` (n_prompts, cap) receives the drawn classes when it
    has rows (pass an empty (0, 0) array otherwise)."""
    n, k = probs.shape
    counts = np.zeros(k, dtype=np.int64)
    first_seen = np.empty(k, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)
    cum = np.empty(k)
    keep = record.shape[0] > 0
    for i in range(n):
        acc = 0.0
        for c in range(k):
            acc += probs[i, c]
            cum[c] = acc
        counts[:] = 0
        first_seen[:] = 1 << 62
        state[:] = 0
        t = 0
        while True:
            u = rng.random() * acc
            c = 0
            while c < k - 1 and cum[c] <= u:
                c += 1
            t += 1
            if keep:
                record[i, t - 1] = c
            if _vote(code, params, counts, first_seen, k, t, c, state, table):
                break
        out_votes[i] = t
        out_answer[i] = _answer(code, params, counts, first_seen, k, t, state)
        out_counts[i, :] = counts
    return out_votes


@jit
def read_sequence(code, params, codes, k, table, out):
    """Read a given vote sequence (classes 0..k-1) until the rule stops: out = [votes read, answer class].
    The same per-vote step and answer as ``simulate``; a sequence that ends first is read to its end."""
    counts = np.zeros(k, dtype=np.int64)
    first_seen = np.full(k, 1 << 62, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)
    t = 0
    for j in range(codes.size):
        t = j + 1
        if _vote(code, params, counts, first_seen, k, t, codes[j], state, table):
            break
    out[0] = t
    out[1] = _answer(code, params, counts, first_seen, k, t, state)
    return out


@jit
def read_sequences(code, params, codes, k, table, out):
    """``read_sequence`` for every row of ``codes`` (n, length): out[i] = [votes read, answer class]."""
    for i in range(codes.shape[0]):
        read_sequence(code, params, codes[i], k, table, out[i])
    return out


@jit
def state_decisions(code, params, states, table, out):
    """The rule's stop decision in every count state (rows of ``states``), for rules whose decision is a function
    of the counts (every rule but ESC and BSPRT with min_confirm > 1): the same ``_stop_now`` that simulation and
    live voting call, evaluated on a fresh state. Never stops at t = 0."""
    state = np.zeros(3, dtype=np.int64)
    k = states.shape[1]
    for i in range(states.shape[0]):
        t = 0
        for j in range(k):
            t += states[i, j]
        if t == 0:
            out[i] = False
            continue
        state[:] = 0
        out[i] = _stop_now(code, params, states[i], k, t, -1, state, table)
    return out
