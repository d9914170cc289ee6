"""Simulated policies whose pass rates move under GRPO-family updates.

``StrategyPolicy`` (DESIGN.md 2.3): a softmax over M solution strategies shared by every prompt.
Strategies are ranked by initial probability (Zipf); prompt i is solved by a window S_i = [lo_i, hi_i)
of ranks, so p_i = sum_{j in S_i} pi_j. Easy prompts' windows start at the head; hard prompts need the
rare strategies of the tail. Updates that sharpen pi on the head starve the tail, and Pass@k at large k
falls: the effect HORA targets.

``BernoulliPolicy``: an independent logit per prompt (no sharing); its expected GRPO update never lowers
any p_i, so it cannot show Pass@k degradation, and serves as the simple case.

The update is the policy gradient sum_r A_r grad log pi(y_r) with the strategy identity of each rollout
integrated out given its outcome (Rao-Blackwellized): for binary rewards only the group's counts matter.
With a_i = sum of the successful rollouts' advantages (= minus the failures'), prompt i contributes
a_i grad_theta p_i / (p_i (1 - p_i)) for the softmax, and a_i to its own logit for the Bernoulli policy.

The sampled update (``sampled_gradient``, the training simulator's default) draws each rollout's strategy
instead: given prompt i's s_i successes out of n_i, the successes' strategies from pi restricted to S_i and
the failures' from pi restricted to its complement (the same joint law as drawing the strategy first and
reading its outcome). With per-rollout advantages A+ = a_i / s_i and A- = -a_i / (n_i - s_i), the REINFORCE
sum sum_r A_r grad log pi(j_r) = (a_i / T) (mean_succ e_j - mean_fail e_j) (the -pi terms cancel because
the advantages sum to zero); its expectation given the counts is the Rao-Blackwellised term above
(tests/test_policies.py checks it by Monte Carlo).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._numba import jit
from ..worlds import DifficultyWorld

__all__ = ["StrategyPolicy", "ClusterPolicy", "BernoulliPolicy", "make_policy", "POLICY_KINDS", "pass_at_k_curve",
           "pass_at_k_per_prompt"]

POLICY_KINDS = ("strategy", "cluster", "bernoulli")


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
def _strategy_step(theta, tail, lo, hi, idx, p, coef, lr):
    """theta += lr * (the ``_strategy_grad`` direction); returns the gradient's L2 norm."""
    g = _strategy_grad(theta, tail, lo, hi, idx, p, coef, np.empty(theta.size))
    norm2 = 0.0
    for j in range(theta.size):
        theta[j] += lr * g[j]
        norm2 += g[j] * g[j]
    return math.sqrt(norm2)


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
def _cluster_sampled_grad(pi, cum, cluster, ptr, ind, idx, s, n, coef, inv_t, rng, g_u, g_w):
    """Sampled REINFORCE gradient of the cluster policy (see module docstring), added into g_u (M,), g_w (C, M).

    Cost O(|S_i| + n_i log M) per prompt, never O(M): cum[c, j] = sum_{l <= j} pi[c, l] is computed once per
    step. S_i = ind[ptr[i]:ptr[i+1]] (ascending) splits the complement into gaps g = 0..K (gap g lies between the
    (g-1)-th and g-th solving strategy); d[g] is the complement's mass through the end of gap g. A success draw
    inverts the solving strategies' cumulative mass; a failure draw finds its gap in d, then its strategy in cum
    inside the gap. One uniform per rollout, successes first (the order of the O(M) scan this replaced)."""
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
        if k == 0 or k == m:
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
        if last_s < 0 or b <= 0.0:
            continue
        ws = coef[r] * inv_t / succ
        for _ in range(succ):
            g = min(_first_above(cs, 0, k, rng.random() * a), last_s)
            j = ind[lo + g]
            g_u[j] += ws
            g_w[c, j] += ws
        wf = -coef[r] * inv_t / fail
        for _ in range(fail):
            v = rng.random() * b
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


def _miss_all(p: np.ndarray, ks) -> np.ndarray:
    """(1 - p_i)^k for each k and prompt (log1p form), shape (len(ks), len(p))."""
    with np.errstate(divide="ignore"):  # p = 1 gives log(0) = -inf and (1-p)^k = 0, as it should
        log_q = np.log1p(-np.clip(p, 0.0, 1.0))
    return np.exp(np.multiply.outer(np.asarray(ks, dtype=np.float64), log_q))


def pass_at_k_per_prompt(p: np.ndarray, ks) -> np.ndarray:
    """Exact 1 - (1 - p_i)^k for each k and prompt, shape (len(ks), len(p))."""
    return 1.0 - _miss_all(p, ks)


def pass_at_k_curve(p: np.ndarray, ks) -> np.ndarray:
    """Exact mean_i 1 - (1 - p_i)^k for each k, shape (len(ks),)."""
    return 1.0 - np.mean(_miss_all(p, ks), axis=1)


class StrategyPolicy:
    """Shared-strategy softmax policy over a prompt pool and an eval set (see module docstring)."""

    kind = "strategy"

    def __init__(self, theta, lo, hi, eval_lo, eval_hi, temperature=1.0, eval_temperature=1.0):
        self.temperature, self.eval_temperature = float(temperature), float(eval_temperature)
        self.theta = np.ascontiguousarray(theta, dtype=np.float64)
        self.lo, self.hi = np.ascontiguousarray(lo, dtype=np.int64), np.ascontiguousarray(hi, dtype=np.int64)
        self.eval_lo = np.ascontiguousarray(eval_lo, dtype=np.int64)
        self.eval_hi = np.ascontiguousarray(eval_hi, dtype=np.int64)
        self._tail = np.empty(self.theta.size + 1)
        self._eval_tail = np.empty(self.theta.size + 1)
        self._eval_idx = np.arange(self.eval_lo.size, dtype=np.int64)
        self._refresh()

    @staticmethod
    def windows(targets: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rank windows whose initial mass approximates each target pass rate.

        The window starts at the deepest rank l whose tail mass is still >= min(1, 2 p), so hard prompts
        live in the tail and easy ones start at the head, and ends at the first rank where its mass
        reaches p (realized p >= target, overshoot < one strategy's mass; floor: the last strategy).
        """
        tail = np.concatenate([np.cumsum(pi[::-1])[::-1], [0.0]])
        m = pi.size
        need = np.minimum(1.0, 2.0 * targets)
        # deepest l with tail[l] >= need: tail is decreasing
        lo = np.searchsorted(-tail[:m], -need, side="right") - 1
        lo = np.clip(lo, 0, m - 1)
        # first hi > lo with tail[lo] - tail[hi] >= target
        hi = np.searchsorted(-tail, -(tail[lo] - targets), side="left")
        hi = np.clip(np.maximum(hi, lo + 1), 1, m)
        return lo.astype(np.int64), hi.astype(np.int64)

    @classmethod
    def from_world(cls, world: DifficultyWorld, n_pool: int, n_eval: int, n_strategies: int, zipf: float, rng,
                   temperature: float = 1.0, eval_temperature: float = 1.0):
        """theta = T log pi: the rollout policy softmax(theta / T) starts at the Zipf pi."""
        pi = (np.arange(1, n_strategies + 1, dtype=np.float64)) ** (-zipf)
        pi /= pi.sum()
        lo, hi = cls.windows(world.sample(n_pool, rng), pi)
        elo, ehi = cls.windows(world.sample(n_eval, rng), pi)
        pol = cls(temperature * np.log(pi), lo, hi, elo, ehi, temperature, eval_temperature)
        pol._pi0 = pi
        return pol

    def make_eval_set(self, world: DifficultyWorld, n: int, rng):
        """n more held-out prompts whose initial pass rates are drawn from ``world`` (windows of the initial
        ranking, as the pool's); pass ``set_pass_rates`` the returned handle."""
        return self.windows(world.sample(n, rng), self._pi0)

    def set_pass_rates(self, handle) -> np.ndarray:
        """Pass rates of an eval set from ``make_eval_set`` at the evaluation temperature."""
        lo, hi = handle
        return _window_rates(self._eval_tail, lo, hi, np.arange(lo.size, dtype=np.int64), np.empty(lo.size))

    def _refresh(self):
        _tail_sums(self.theta / self.temperature, self._tail)
        if self.eval_temperature == self.temperature:
            self._eval_tail[:] = self._tail
        else:
            _tail_sums(self.theta / self.eval_temperature, self._eval_tail)

    def pass_rates(self, idx) -> np.ndarray:
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return _window_rates(self._tail, self.lo, self.hi, idx, np.empty(idx.size))

    def eval_pass_rates(self) -> np.ndarray:
        return _window_rates(self._eval_tail, self.eval_lo, self.eval_hi, self._eval_idx, np.empty(self._eval_idx.size))

    def entropy(self) -> float:
        """Shannon entropy (nats) of the rollout distribution softmax(theta / T): -sum_j pi_j log pi_j."""
        z = self.theta / self.temperature
        z = z - z.max()
        logpi = z - np.log(np.exp(z).sum())
        return float(-(np.exp(logpi) * logpi).sum())

    @property
    def n_params(self) -> int:
        return int(self.theta.size)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The update direction (ascent) sum_r coef_r grad p_r / (p_r (1 - p_r)) over the strategy logits
        (grad p = pi_T (1_S - p) / T at rollout temperature T)."""
        coef = np.ascontiguousarray(coef, dtype=np.float64) / self.temperature
        return _strategy_grad(self.theta, self._tail, self.lo, self.hi, np.ascontiguousarray(idx, dtype=np.int64),
                              np.ascontiguousarray(p, dtype=np.float64), coef, np.empty(self.theta.size))

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """The sampled REINFORCE direction: each rollout's strategy drawn given its outcome (module docstring);
        its expectation given the counts is ``gradient``. ``rng`` is a numpy Generator."""
        coef = np.ascontiguousarray(coef, dtype=np.float64) / self.temperature
        return _strategy_sampled_grad(self._tail, self.lo, self.hi, np.ascontiguousarray(idx, dtype=np.int64),
                                      np.ascontiguousarray(s, dtype=np.int64), np.ascontiguousarray(n, dtype=np.int64),
                                      coef, rng, np.zeros(self.theta.size))

    def cluster_entropies(self) -> np.ndarray:
        """One entry: the strategy entropy (a single shared softmax)."""
        return np.array([self.entropy()])

    def apply(self, delta) -> None:
        self.theta += delta
        self._refresh()

    def update(self, idx, p, coef, lr) -> float:
        coef = np.ascontiguousarray(coef, dtype=np.float64) / self.temperature
        norm = _strategy_step(self.theta, self._tail, self.lo, self.hi, np.ascontiguousarray(idx, dtype=np.int64),
                              p, coef, float(lr))
        self._refresh()
        return norm


class ClusterPolicy:
    """Shared strategies plus prompt-cluster logits: cluster c samples strategies from softmax(u + W_c) (M of
    them); prompt i of cluster c_i is solved by the strategy set S_i (a boolean row), p_i = sum_{j in S_i}
    softmax(u + W_{c_i})_j. u is shared by every prompt (GRPO on easy prompts sharpens it for all), W_c only by
    the cluster's prompts, so extra hits on a hard prompt can build its cluster's rare strategies.

    Solution sets: each cluster ranks the strategies by its own noisy view of their initial probabilities
    (log pi_j + ``order_noise`` x Gumbel noise) and S_i is the window of that ranking whose mass matches the
    prompt's target pass rate (``StrategyPolicy.windows`` on the cluster's order): sets overlap within and across
    clusters and are not contiguous in the shared ranks; hard prompts need their cluster's rare strategies.

    Temperatures: rollouts sample from pi_T = softmax((u + W_c) / T) (``temperature``, the paper's 0.7), so
    training pass rates and gradients use pi_T; Pass@k is evaluated at ``eval_temperature``.

    Update (Rao-Blackwellised): with w_i = coef_i / (p_i (1 - p_i)), grad_{z_c} p_i = pi_T,c (1_{S_i} - p_i) / T;
    W_c receives the sum over its prompts, u the sum over all. ``sampled_gradient`` draws the strategies instead
    (module docstring).
    """

    kind = "cluster"

    def __init__(self, u, w, cluster, solves, eval_cluster, eval_solves, temperature=1.0, eval_temperature=1.0):
        self.temperature, self.eval_temperature = float(temperature), float(eval_temperature)
        self.u = np.array(u, dtype=np.float64)
        self.w = np.array(w, dtype=np.float64)
        self.cluster, self.solves = np.asarray(cluster, dtype=np.int64), np.asarray(solves, dtype=bool)
        self.eval_cluster, self.eval_solves = np.asarray(eval_cluster, dtype=np.int64), np.asarray(eval_solves, dtype=bool)
        self._csr = self._sets(self.solves)
        self._eval_csr = self._sets(self.eval_solves)
        self._eval_idx = np.arange(self.eval_cluster.size, dtype=np.int64)
        self._refresh()

    @staticmethod
    def _sets(solves):
        """Solution sets as CSR (ptr, ind): S_i = ind[ptr[i]:ptr[i+1]], ascending strategy indices."""
        rows, cols = np.nonzero(solves)
        ptr = np.zeros(solves.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=solves.shape[0]), out=ptr[1:])
        return ptr, cols.astype(np.int64)

    @classmethod
    def from_world(cls, world: DifficultyWorld, n_pool: int, n_eval: int, n_strategies: int, zipf: float, rng,
                   n_clusters: int = 8, order_noise: float = 1.0, temperature: float = 1.0,
                   eval_temperature: float = 1.0):
        """Initial logits u = T log pi (so the rollout policy at temperature T starts at the Zipf pi), W = 0."""
        pi = (np.arange(1, n_strategies + 1, dtype=np.float64)) ** (-zipf)
        pi /= pi.sum()
        orders = [np.argsort(-(np.log(pi) + order_noise * rng.gumbel(size=pi.size)), kind="stable")
                  for _ in range(n_clusters)]
        cl, sv = cls._prompts(world, n_pool, rng, pi, orders)
        ecl, esv = cls._prompts(world, n_eval, rng, pi, orders)
        pol = cls(temperature * np.log(pi), np.zeros((n_clusters, pi.size)), cl, sv, ecl, esv, temperature,
                  eval_temperature)
        pol._pi0, pol._orders = pi, orders
        return pol

    @staticmethod
    def _prompts(world: DifficultyWorld, n: int, rng, pi, orders):
        """n prompts: target pass rates from ``world``, random clusters, and each prompt's solution set the window
        of its cluster's ranking ``orders[c]`` whose initial mass matches its target (``StrategyPolicy.windows``)."""
        targets = world.sample(n, rng)
        cl = rng.integers(0, len(orders), size=n)
        solves = np.zeros((n, pi.size), dtype=bool)
        rank = np.arange(pi.size)
        for c, order in enumerate(orders):
            mine = np.flatnonzero(cl == c)
            if mine.size:
                lo, hi = StrategyPolicy.windows(targets[mine], pi[order])
                solves[mine[:, None], order[None, :]] = (rank >= lo[:, None]) & (rank < hi[:, None])
        return cl, solves

    def make_eval_set(self, world: DifficultyWorld, n: int, rng):
        """n more held-out prompts from ``world``, built as the pool's (``_prompts``); pass ``set_pass_rates`` the
        returned handle (clusters, CSR solution sets, prompt indices)."""
        cl, solves = self._prompts(world, n, rng, self._pi0, self._orders)
        return cl, self._sets(solves), np.arange(n, dtype=np.int64)

    def set_pass_rates(self, handle) -> np.ndarray:
        """Pass rates of an eval set from ``make_eval_set`` at the evaluation temperature."""
        return self._rates(self._pi_eval, *handle)

    @property
    def n_params(self) -> int:
        return int(self.u.size + self.w.size)

    @staticmethod
    def _softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _refresh(self):
        z = self.u[None, :] + self.w
        self._pi = self._softmax(z / self.temperature)
        self._pi_eval = self._pi if self.eval_temperature == self.temperature else self._softmax(z / self.eval_temperature)
        self._cum = np.cumsum(self._pi, axis=1)

    @staticmethod
    def _rates(pi, cluster, csr, idx):
        """p_i = sum_{j in S_i} pi[c_i, j] for prompts ``idx`` of a set with clusters ``cluster`` and CSR sets."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return _csr_rates(pi, cluster, csr[0], csr[1], idx, np.empty(idx.size))

    def pass_rates(self, idx) -> np.ndarray:
        """Pass rates of prompts ``idx`` under the rollout policy (temperature T)."""
        return self._rates(self._pi, self.cluster, self._csr, idx)

    def eval_pass_rates(self) -> np.ndarray:
        """Pass rates of the eval prompts at the evaluation temperature."""
        return self._rates(self._pi_eval, self.eval_cluster, self._eval_csr, self._eval_idx)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The update direction over (u, W) flattened: u first, then W row by row."""
        idx = np.asarray(idx, dtype=np.int64)
        p, coef = np.asarray(p, dtype=np.float64), np.asarray(coef, dtype=np.float64)
        q = p * (1.0 - p)
        wgt = np.where((q > 0) & (coef != 0), coef / np.where(q > 0, q, 1.0), 0.0)
        cl = self.cluster[idx]
        rows = (wgt / self.temperature)[:, None] * self._pi[cl] * (self.solves[idx] - p[:, None])
        gw = np.zeros_like(self.w)
        np.add.at(gw, cl, rows)
        return np.concatenate([rows.sum(axis=0), gw.ravel()])

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """The sampled REINFORCE direction over (u, W) (module docstring): successes' strategies drawn from
        pi_T restricted to S_i, failures' from its complement; expectation given the counts = ``gradient``."""
        g_u, g_w = np.zeros(self.u.size), np.zeros(self.w.shape)
        _cluster_sampled_grad(self._pi, self._cum, self.cluster, *self._csr, np.ascontiguousarray(idx, dtype=np.int64),
                              np.ascontiguousarray(s, dtype=np.int64), np.ascontiguousarray(n, dtype=np.int64),
                              np.ascontiguousarray(coef, dtype=np.float64), 1.0 / self.temperature, rng, g_u, g_w)
        return np.concatenate([g_u, g_w.ravel()])

    def apply(self, delta) -> None:
        m = self.u.size
        self.u += delta[:m]
        self.w += delta[m:].reshape(self.w.shape)
        self._refresh()

    def update(self, idx, p, coef, lr) -> float:
        g = self.gradient(idx, p, coef)
        self.apply(lr * g)
        return float(np.sqrt(np.dot(g, g)))

    def cluster_entropies(self) -> np.ndarray:
        """Entropy (nats) of each cluster's rollout distribution pi_T,c: -sum_j pi_j log pi_j, shape (C,)."""
        return -(special.xlogy(self._pi, self._pi)).sum(axis=1)

    def entropy(self) -> float:
        """Mean over the pool's prompts of the entropy (nats) of their cluster's rollout distribution."""
        return float(self.cluster_entropies()[self.cluster].mean())


class BernoulliPolicy:
    """Independent per-prompt logits z_i, p_i = sigmoid(z_i); the eval set is the pool itself."""

    kind = "bernoulli"

    def __init__(self, z, temperature=1.0, eval_temperature=1.0):
        self.z = np.ascontiguousarray(z, dtype=np.float64)
        self.temperature, self.eval_temperature = float(temperature), float(eval_temperature)

    @classmethod
    def from_world(cls, world, n_pool, n_eval, n_strategies, zipf, rng, temperature=1.0, eval_temperature=1.0):
        """z = T logit(p): p_i = sigmoid(z_i / T) at the rollout temperature starts at the world's draw."""
        p = np.clip(world.sample(n_pool, rng), 1e-6, 1 - 1e-6)
        return cls(temperature * special.logit(p), temperature, eval_temperature)

    def pass_rates(self, idx):
        return special.expit(self.z[idx] / self.temperature)

    def eval_pass_rates(self):
        return special.expit(self.z / self.eval_temperature)

    def entropy(self) -> float:
        """Mean binary entropy (nats) of the pool's pass rates: -mean_i [p_i log p_i + (1-p_i) log(1-p_i)]."""
        p = special.expit(self.z / self.temperature)
        return float(np.mean(special.entr(p) + special.entr(1 - p)))

    @property
    def n_params(self) -> int:
        return int(self.z.size)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The update direction: coef_r / T added to prompt r's own logit."""
        g = np.zeros(self.z.size)
        np.add.at(g, np.asarray(idx), np.asarray(coef, dtype=np.float64) / self.temperature)
        return g

    def make_eval_set(self, world, n, rng):
        raise ValueError("eval_sets: the bernoulli policy has no held-out prompts (its eval set is the pool)")

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """No strategies to draw: a rollout's outcome is all there is, so the sampled direction is ``gradient``."""
        return self.gradient(idx, None, coef)

    def cluster_entropies(self) -> np.ndarray:
        return np.array([self.entropy()])

    def apply(self, delta) -> None:
        self.z += delta

    def update(self, idx, p, coef, lr):
        g = np.asarray(coef, dtype=np.float64) / self.temperature
        np.add.at(self.z, idx, lr * g)
        return float(np.linalg.norm(g))


def make_policy(kind: str, world, n_pool, n_eval, n_strategies, zipf, rng, **kw):
    """The policy ``kind``; ``kw``: temperature, eval_temperature (every policy), n_clusters, order_noise (the
    cluster policy only)."""
    if kind == "cluster":
        return ClusterPolicy.from_world(world, n_pool, n_eval, n_strategies, zipf, rng, **kw)
    temps = {k: kw[k] for k in ("temperature", "eval_temperature") if k in kw}
    cls = {"strategy": StrategyPolicy, "bernoulli": BernoulliPolicy}[kind]
    return cls.from_world(world, n_pool, n_eval, n_strategies, zipf, rng, **temps)
