"""Numba kernels of the simulated policies: the Python classes validate and call these loops.

Window policy (``StrategyPolicy``): softmax tail sums, window pass rates, the Rao-Blackwellised gradient and the
sampled REINFORCE gradient. Cluster policy (``ClusterPolicy``): pass rates over CSR solution sets and the
sampled gradient. ``_first_above`` is the branch-free binary search both samplers use. Every kernel that calls
another lives in this file (numba keys a cached kernel on its own file only).
"""

from __future__ import annotations

import math

import numpy as np

from ...jit import jit


@jit
def _tail_sums(theta, tail):
    """tail[j] = sum_{l >= j} softmax(theta)_l (tail[M] = 0), summed from the small end for accuracy."""
    m = theta.max()
    z = 0.0
    for j in range(theta.size):
        z += math.exp(theta[j] - m)
    tail[theta.size] = 0.0
    for j in range(theta.size - 1, -1, -1):
        tail[j] = tail[j + 1] + math.exp(theta[j] - m) / z
    return tail


@jit
def _window_rates(tail, lo, hi, idx, out):
    for r in range(idx.size):
        i = idx[r]
        out[r] = min(max(tail[lo[i]] - tail[hi[i]], 0.0), 1.0)  # rounding can leave 1 + 1e-16
    return out


@jit
def _strategy_grad(theta, tail, lo, hi, idx, p, coef, out):
    """out = sum_r coef_r grad_theta p_r / (p_r (1 - p_r)) (the Rao-Blackwellised policy gradient)."""
    m_ = theta.size
    diff = np.zeros(m_ + 1)
    drift = 0.0
    for r in range(idx.size):
        c = coef[r]
        q = p[r] * (1.0 - p[r])
        if c == 0.0 or q <= 0.0:
            continue
        c = c / q
        diff[lo[idx[r]]] += c
        diff[hi[idx[r]]] -= c
        drift += c * p[r]
    acc = 0.0
    for j in range(m_):
        acc += diff[j]
        out[j] = (tail[j] - tail[j + 1]) * (acc - drift)
    return out


@jit
def _first_above(cum, lo, hi, v):
    """Smallest j in [lo, hi) with cum[j] > v (cum non-decreasing); hi - 1 if none (rounding at the top).

    Branch-free binary search (the halving count depends on hi - lo only and the comparison feeds an add, so
    the compiler emits no data-dependent branch): twice the draws per second of the branching loop on random
    uniforms, whose comparisons mispredict half the time."""
    base = lo
    k = hi - lo
    while k > 1:
        half = k >> 1
        base += half * (cum[base + half] <= v)
        k -= half
    return min(base + (cum[base] <= v), hi - 1)


@jit
def _csr_rates(pi, cluster, ptr, ind, idx, out):
    """out[r] = sum_{j in S_i} pi[c_i, j] for i = idx[r], S_i the CSR row ptr[i]:ptr[i+1] of ``ind`` (clipped to
    [0, 1])."""
    for r in range(idx.size):
        i = idx[r]
        c = cluster[i]
        a = 0.0
        for q in range(ptr[i], ptr[i + 1]):
            a += pi[c, ind[q]]
        out[r] = min(max(a, 0.0), 1.0)
    return out


@jit
def _cluster_sampled_grad(pi, cum, cluster, ptr, ind, idx, s, n, coef, inv_t, rng, g_u, g_w, beta, g_b):
    """Sampled REINFORCE gradient of the cluster policy (see module docstring), added into g_u (M,), g_w (C, M)
    and, for prompt-specific failure modes, g_b (one per training prompt; beta[i] = prompt i's failure-mode mass
    in units of its cluster's strategy mass, 0 without them: then the draws are exactly the shared reading's).

    Cost O(|S_i| + n_i log M) per prompt, never O(M): cum[c, j] = sum_{l <= j} pi[c, l] is computed once per
    step. S_i = ind[ptr[i]:ptr[i+1]] (ascending) splits the complement into gaps g = 0..K (gap g lies between the
    (g-1)-th and g-th solving strategy); d[g] is the complement's mass through the end of gap g. A success draw
    inverts the solving strategies' cumulative mass; a failure draw finds its gap in d, then its strategy in cum
    inside the gap; a failure draw at or above the complement's mass d[K] is the prompt's own failure mode. One
    uniform per rollout, successes first."""
    m = pi.shape[1]
    kmax = 0
    for r in range(idx.size):
        kmax = max(kmax, ptr[idx[r] + 1] - ptr[idx[r]])
    cs = np.empty(kmax + 1)  # cs[g]: solving mass through the g-th solving strategy
    d = np.empty(kmax + 1)
    for r in range(idx.size):
        succ = s[r]
        fail = n[r] - succ
        if coef[r] == 0.0 or succ <= 0 or fail <= 0:
            continue
        i = idx[r]
        c = cluster[i]
        lo = ptr[i]
        k = ptr[i + 1] - lo
        own = beta[i]
        if k == 0 or (k == m and own <= 0.0):
            continue
        a = 0.0
        last_s = -1
        prev_end = -1  # the last strategy of the previous solving run
        last_gap = -1
        for g in range(k + 1):
            end = ind[lo + g] if g < k else m  # gap g = (prev_end, end)
            if end - prev_end > 1:
                d[g] = max(cum[c, end - 1] - a, d[g - 1] if g > 0 else 0.0)
                last_gap = g
            else:
                d[g] = d[g - 1] if g > 0 else 0.0
            if g < k:
                x = pi[c, end]
                a += x
                cs[g] = a
                if x > 0.0:
                    last_s = g
                prev_end = end
        b = d[k]
        if last_s < 0 or b + own <= 0.0:
            continue
        ws = coef[r] * inv_t / succ
        for _ in range(succ):
            g = min(_first_above(cs, 0, k, rng.random() * a), last_s)
            j = ind[lo + g]
            g_u[j] += ws
            g_w[c, j] += ws
        wf = -coef[r] * inv_t / fail
        for _ in range(fail):
            v = rng.random() * (b + own)
            if v >= b and own > 0.0:  # the prompt's own failure mode
                g_b[i] += wf
                continue
            g = _first_above(d, 0, k + 1, v)
            if d[g] <= v:  # rounding at the top: the last non-empty gap
                g = last_gap
            start = ind[lo + g - 1] + 1 if g > 0 else 0
            stop = ind[lo + g] if g < k else m
            base = cs[g - 1] if g > 0 else 0.0  # solving mass before the gap
            j = _first_above(cum[c], start, stop, v + base)
            g_u[j] += wf
            g_w[c, j] += wf


@jit
def _strategy_sampled_grad(tail, lo, hi, idx, s, n, coef, rng, out):
    """Sampled REINFORCE gradient of the window policy: successes' strategies drawn from [lo, hi) in proportion
    to pi, failures' from outside it (tail[j] = sum_{l >= j} pi_l, decreasing; head mass before j = 1 - tail[j])."""
    m = tail.size - 1
    neg = np.empty(m + 1)
    for j in range(m + 1):
        neg[j] = -tail[j]  # increasing
    for r in range(idx.size):
        succ = s[r]
        fail = n[r] - succ
        if coef[r] == 0.0 or succ <= 0 or fail <= 0:
            continue
        a, b = lo[idx[r]], hi[idx[r]]
        mass = tail[a] - tail[b]
        outside = 1.0 - mass
        if mass <= 0.0 or outside <= 0.0:
            continue
        ws = coef[r] / succ
        for _ in range(succ):
            v = tail[b] + rng.random() * mass  # strategy j holds (tail[j+1], tail[j]]
            j = _first_above(neg, a + 1, b + 1, -v) - 1
            out[j] += ws
        wf = -coef[r] / fail
        for _ in range(fail):
            v = rng.random() * outside
            if v < tail[b] and b < m:  # the tail beyond the window
                j = _first_above(neg, b + 1, m + 1, -v) - 1
            elif a > 0:  # the head before it: the point 1 - (v - tail[b]) of (tail[a], 1]
                j = _first_above(neg, 1, a + 1, -(1.0 - (v - tail[b]))) - 1
            else:  # rounding only (no head, v at the top of the tail)
                j = min(b, m - 1)
            out[j] += wf
    return out


@jit
def _head_sums(theta, head):
    """head[j] = sum_{l < j} softmax(theta)_l (head[0] = 0), summed from the start: a sum of positive terms, so
    accurate to relative rounding even where 1 - tail[j] would cancel to 0 (``_loglinear_rates``)."""
    m = theta.max()
    z = 0.0
    for j in range(theta.size):
        z += math.exp(theta[j] - m)
    head[0] = 0.0
    for j in range(theta.size):
        head[j + 1] = head[j] + math.exp(theta[j] - m) / z
    return head


@jit
def _loglinear_rates(theta, tail, head, lo, hi, boost, reach, idx, out):
    """Pass rates of the log-linear policy: W = tail[lo_i] - tail[hi_i] (the solving strategies' mass under
    softmax(theta), theta = u / T) and its complement 1 - W = head[lo_i] + tail[hi_i] (``_head_sums``: both sums of
    positive terms, so the complement keeps its relative accuracy when W rounds to 1), p_i = W e^{beta_i} /
    (W e^{beta_i} + 1 - W) with beta_i = boost[i] (the solving actions' extra logit over T), 0 where ``reach[i]`` is
    False (the solving actions' probability is exactly 0). Computed as the logistic of log W - log(1 - W) + beta_i,
    so a large boost cannot overflow; where W or 1 - W underflows to 0 the log-odds are taken from theta directly
    (log-sum-exp over the solving strategies minus over the others, O(M)), so a diverged ceiling's damage (beta_i ->
    -infinity) gives p -> 0 even where the solving strategies hold all but exp(-1000) of the mass."""
    m = theta.size
    for r in range(idx.size):
        i = idx[r]
        if not reach[i]:
            out[r] = 0.0
            continue
        w = min(max(tail[lo[i]] - tail[hi[i]], 0.0), 1.0)
        rest = head[lo[i]] + tail[hi[i]]
        if w > 0.0 and rest > 0.0:
            x = math.log(w) - math.log(rest) + boost[i]
        else:  # one side underflowed: exact log-odds from the logits
            mc, mo = -math.inf, -math.inf
            for j in range(m):
                if lo[i] <= j < hi[i]:
                    mc = max(mc, theta[j])
                else:
                    mo = max(mo, theta[j])
            sc, so = 0.0, 0.0
            for j in range(m):
                if lo[i] <= j < hi[i]:
                    sc += math.exp(theta[j] - mc)
                else:
                    so += math.exp(theta[j] - mo)
            x = (mc + math.log(sc)) - (mo + math.log(so)) + boost[i]
        if x >= 0.0:
            out[r] = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            out[r] = e / (1.0 + e)
    return out


@jit
def _skill_grad(skill, idx, s, n, coef, scale, out):
    """The skill logits' part of the sampled gradient: every group with both outcomes adds coef_r x ``scale``
    (tau / T) to its prompt's skill (each success carries the skill feature tau, no failure does, and the
    advantages' baseline term cancels over the group). Deterministic given the counts: it equals the
    Rao-Blackwellised part."""
    for r in range(idx.size):
        if coef[r] != 0.0 and 0 < s[r] < n[r]:
            out[skill[idx[r]]] += coef[r] * scale
    return out


@jit
def _loglinear_score_noise(tail, lo, hi, skill, boost, idx, s, n, coef, sigma, tau, rng, g_u, g_v):
    """Score-shaped per-rollout noise of the log-linear policy, added into g_u (M,) and g_v (K,).

    Each rollout r of a group with both outcomes carries one more decision a' drawn from the prompt's own policy
    pi(. | x), independent of its outcome (the part of a trajectory its reward does not explain); its score enters the
    REINFORCE sum with the rollout's advantage times ``sigma``: A_r sigma (phi(x, a') - E_pi[phi(x, .)]). The
    expectation term cancels over the group (the advantages sum to 0), so a' adds A_r sigma to u_{a'} and, when a'
    solves the prompt, A_r sigma tau to v_k(x). Zero mean; covariance sigma^2 (sum_r A_r^2) Cov_pi(phi): the
    policy's own score covariance, so the noise lies where the signal does. a' solves with probability
    p = logistic(logit W + beta) (``boost`` = beta), then is drawn in proportion to pi inside [lo, hi) or outside it,
    the counts of solving draws among the successes' and the failures' drawn as binomials (exchangeable draws)."""
    m = tail.size - 1
    neg = np.empty(m + 1)
    for j in range(m + 1):
        neg[j] = -tail[j]
    for r in range(idx.size):
        succ = s[r]
        fail = n[r] - succ
        if coef[r] == 0.0 or succ <= 0 or fail <= 0:
            continue
        i = idx[r]
        a, b = lo[i], hi[i]
        mass = tail[a] - tail[b]
        outside = 1.0 - mass
        if mass <= 0.0 or outside <= 0.0:
            continue
        x = math.log(mass) - math.log(outside) + boost[i]
        p = 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))
        ws, wf = sigma * coef[r] / succ, -sigma * coef[r] / fail
        # which of a group's draws solve is exchangeable: draw how many per outcome, then each place (no
        # data-dependent branch per draw: 1.17x the draws per second of a coin per draw, CPU time on one core)
        cs, cf = rng.binomial(succ, p), rng.binomial(fail, p)
        g_v[skill[i]] += tau * (cs * ws + cf * wf)
        for q in range(cs + cf):
            v = tail[b] + rng.random() * mass
            j = _first_above(neg, a + 1, b + 1, -v) - 1
            g_u[j] += ws if q < cs else wf
        for q in range(n[r] - cs - cf):
            v = rng.random() * outside
            if v < tail[b] and b < m:
                j = _first_above(neg, b + 1, m + 1, -v) - 1
            elif a > 0:
                j = _first_above(neg, 1, a + 1, -(1.0 - (v - tail[b]))) - 1
            else:
                j = min(b, m - 1)
            g_u[j] += ws if q < succ - cs else wf
