"""The cluster policy: strategy logits shared by every prompt plus logits per prompt cluster."""

from __future__ import annotations

import numpy as np
from scipy import special

from ...worlds import DifficultyWorld
from .base import Policy, zipf_strategies
from .kernels import _cluster_sampled_grad, _csr_rates
from .strategy import StrategyPolicy

__all__ = ["ClusterPolicy"]


class ClusterPolicy(Policy):
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

    Failure structure (``failure_share`` phi; simulator v3). phi = 0 is v2's **shared** reading: a failure is one
    of the shared strategies outside S_i, so a hard prompt's failures (mostly the head strategies that solve easy
    prompts) push those strategies down for everyone. phi > 0 is the **prompt-specific** reading: prompt i also
    has its own failure mode, a logit b_i that only it reads, and samples from softmax over (u + W_c, b_i) / T.
    With beta_i = exp(b_i / T) / Z_c (Z_c = sum_j exp((u_j + W_cj) / T)): p_i = m_i / (1 + beta_i), m_i the
    shared reading's rate, and a failure lands on the own mode with probability beta_i / (1 + beta_i - m_i). At
    the start the own mode holds the share phi of every prompt's failure mass: the window is chosen for mass
    m = t / (1 - phi (1 - t)) and beta_i = phi (1 - m_i) / (1 - phi), so p_i = t as before. Gradients: the shared
    rows scale by 1 / (1 + beta_i), and grad_{b_i} p_i = -p_i beta_i / ((1 + beta_i) T). Held-out prompts' b are
    fixed at their start (only the shared logits carry to them).

    Parameters
    ----------
    u : ndarray, shape (M,)
        The shared strategy logits.
    w : ndarray, shape (C, M)
        The clusters' logits.
    cluster, solves : ndarray
        Each training prompt's cluster and its solution set (a boolean row over strategies).
    eval_cluster, eval_solves : ndarray
        The same for the held-out prompts.
    temperature, eval_temperature : float
        The rollout temperature (training pass rates and gradients) and the one Pass@k is evaluated at.
    b, eval_b : ndarray or None
        The prompt-specific failure logits of the training and held-out prompts (None: the shared reading).
    """

    kind = "cluster"

    def __init__(self, u, w, cluster, solves, eval_cluster, eval_solves, temperature=1.0, eval_temperature=1.0,
                 b=None, eval_b=None):
        super().__init__(temperature, eval_temperature)
        self.b = None if b is None else np.array(b, dtype=np.float64)
        self.eval_b = None if eval_b is None else np.array(eval_b, dtype=np.float64)
        if (self.b is None) != (self.eval_b is None):
            raise ValueError("b, eval_b: give both (prompt-specific failure modes) or neither")
        self.u = np.array(u, dtype=np.float64)
        self.w = np.array(w, dtype=np.float64)
        self.cluster, self.solves = np.asarray(cluster, dtype=np.int64), np.asarray(solves, dtype=bool)
        self.eval_cluster, self.eval_solves = (
            np.asarray(eval_cluster, dtype=np.int64),
            np.asarray(eval_solves, dtype=bool),
        )
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
    def from_world(
        cls,
        world: DifficultyWorld,
        n_pool: int,
        n_eval: int,
        n_strategies: int,
        zipf: float,
        rng,
        n_clusters: int = 8,
        order_noise: float = 1.0,
        temperature: float = 1.0,
        eval_temperature: float = 1.0,
        failure_share: float = 0.0,
    ):
        """Initial logits u = T log pi (so the rollout policy at temperature T starts at the Zipf pi), W = 0; with
        ``failure_share`` phi > 0 each prompt's own failure logit b_i = T log beta_i (class docstring)."""
        if not (np.isfinite(failure_share) and 0.0 <= failure_share < 1.0):
            raise ValueError(f"failure_share: must be in [0, 1) (0 = shared failures), got {failure_share!r}")
        pi = zipf_strategies(n_strategies, zipf)
        orders = [
            np.argsort(-(np.log(pi) + order_noise * rng.gumbel(size=pi.size)), kind="stable") for _ in range(n_clusters)
        ]
        cl, sv = cls._prompts(world, n_pool, rng, pi, orders, failure_share)
        ecl, esv = cls._prompts(world, n_eval, rng, pi, orders, failure_share)
        b = eval_b = None
        if failure_share > 0:
            b = cls._own_logits(sv, pi, failure_share, temperature)
            eval_b = cls._own_logits(esv, pi, failure_share, temperature)
        pol = cls(
            temperature * np.log(pi), np.zeros((n_clusters, pi.size)), cl, sv, ecl, esv, temperature, eval_temperature,
            b, eval_b,
        )
        pol._pi0, pol._orders, pol._failure_share = pi, orders, failure_share
        return pol

    @staticmethod
    def _own_logits(solves, pi, phi, temperature):
        """b_i = T log beta_i, beta_i = phi (1 - m_i) / (1 - phi) with m_i the window's initial mass (Z_c = 1 at the
        start): the own mode holds the share phi of the prompt's failure mass."""
        m = np.clip(solves.astype(np.float64) @ pi, 0.0, 1.0)
        beta = phi * (1.0 - m) / (1.0 - phi)
        return temperature * np.log(np.maximum(beta, 1e-300))

    @staticmethod
    def _prompts(world: DifficultyWorld, n: int, rng, pi, orders, failure_share: float = 0.0):
        """n prompts: target pass rates from ``world``, random clusters, and each prompt's solution set the window
        of its cluster's ranking ``orders[c]`` whose initial mass matches its target (``StrategyPolicy.windows``);
        with prompt-specific failure modes (phi > 0) the window's mass is t / (1 - phi (1 - t)), so that
        p = m / (1 + beta) = t."""
        targets = world.sample(n, rng)
        if failure_share > 0:
            targets = targets / (1.0 - failure_share * (1.0 - targets))
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
        phi = getattr(self, "_failure_share", 0.0)
        cl, solves = self._prompts(world, n, rng, self._pi0, self._orders, phi)
        b = self._own_logits(solves, self._pi0, phi, self.temperature) if self.b is not None else None
        return cl, self._sets(solves), np.arange(n, dtype=np.int64), b

    def set_pass_rates(self, handle) -> np.ndarray:
        """Pass rates of an eval set from ``make_eval_set`` at the evaluation temperature."""
        cl, csr, idx, b = handle
        rates = self._rates(self._pi_eval, cl, csr, idx)
        return rates if b is None else rates / (1.0 + self._beta(b, cl, self.eval_temperature, self._log_z_eval))

    @property
    def n_params(self) -> int:
        """The shared logits u, the cluster logits W and, with prompt-specific failure modes, each training
        prompt's failure logit b."""
        return int(self.u.size + self.w.size + (0 if self.b is None else self.b.size))

    @staticmethod
    def _beta(b, cluster, temperature, log_z):
        """beta_i = exp(b_i / T - log Z_c(i)): the own failure mode's mass in units of the cluster's strategy mass."""
        return np.exp(b / temperature - log_z[cluster])

    def own_failure_mass(self, idx=None) -> np.ndarray:
        """beta_i of training prompts ``idx`` (all when None) at the rollout temperature; zeros in the shared
        reading."""
        idx = np.arange(self.cluster.size) if idx is None else np.asarray(idx, dtype=np.int64)
        return np.zeros(idx.size) if self.b is None else self._beta_train[idx]

    @staticmethod
    def _softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _refresh(self):
        z = self.u[None, :] + self.w
        self._pi = self._softmax(z / self.temperature)
        self._pi_eval = (
            self._pi if self.eval_temperature == self.temperature else self._softmax(z / self.eval_temperature)
        )
        self._cum = np.cumsum(self._pi, axis=1)
        if self.b is not None:
            self._log_z = special.logsumexp(z / self.temperature, axis=1)
            self._log_z_eval = special.logsumexp(z / self.eval_temperature, axis=1)
            self._beta_train = self._beta(self.b, self.cluster, self.temperature, self._log_z)
            self._beta_eval = self._beta(self.eval_b, self.eval_cluster, self.eval_temperature, self._log_z_eval)

    @staticmethod
    def _rates(pi, cluster, csr, idx):
        """p_i = sum_{j in S_i} pi[c_i, j] for prompts ``idx`` of a set with clusters ``cluster`` and CSR sets."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return _csr_rates(pi, cluster, csr[0], csr[1], idx, np.empty(idx.size))

    def pass_rates(self, idx) -> np.ndarray:
        """Pass rates of prompts ``idx`` under the rollout policy (temperature T)."""
        rates = self._rates(self._pi, self.cluster, self._csr, idx)
        return rates if self.b is None else rates / (1.0 + self._beta_train[np.asarray(idx, dtype=np.int64)])

    def eval_pass_rates(self, temperature: float | None = None) -> np.ndarray:
        """Pass rates of the eval prompts at the evaluation temperature, or at ``temperature``: pi_T' =
        softmax((u + W_c) / T') and the own failure mode's beta at T' (the same logits, exact)."""
        if temperature is None or float(temperature) == self.eval_temperature:
            pi, beta = self._pi_eval, (self._beta_eval if self.b is not None else None)
        else:
            z = (self.u[None, :] + self.w) / float(temperature)
            pi, beta = self._softmax(z), None
            if self.b is not None:
                beta = self._beta(self.eval_b, self.eval_cluster, float(temperature), special.logsumexp(z, axis=1))
        rates = self._rates(pi, self.eval_cluster, self._eval_csr, self._eval_idx)
        return rates if beta is None else rates / (1.0 + beta)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The update direction over (u, W) flattened: u first, then W row by row."""
        idx = np.asarray(idx, dtype=np.int64)
        p, coef = np.asarray(p, dtype=np.float64), np.asarray(coef, dtype=np.float64)
        q = p * (1.0 - p)
        wgt = np.where((q > 0) & (coef != 0), coef / np.where(q > 0, q, 1.0), 0.0)
        cl = self.cluster[idx]
        scale = wgt / self.temperature
        if self.b is not None:  # the shared rows scale by 1 / (1 + beta); b_i gets -w p beta / ((1 + beta) T)
            beta = self._beta_train[idx]
            scale = scale / (1.0 + beta)
            gb = np.zeros_like(self.b)
            np.add.at(gb, idx, -scale * beta * p)
        rows = scale[:, None] * self._pi[cl] * (self.solves[idx] - p[:, None])
        gw = np.zeros_like(self.w)
        np.add.at(gw, cl, rows)
        parts = [rows.sum(axis=0), gw.ravel()] + ([] if self.b is None else [gb])
        return np.concatenate(parts)

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """The sampled REINFORCE direction over (u, W) (module docstring): successes' strategies drawn from
        pi_T restricted to S_i, failures' from its complement (or the prompt's own failure mode); expectation
        given the counts = ``gradient``."""
        g_u, g_w = np.zeros(self.u.size), np.zeros(self.w.shape)
        own = self.own_failure_mass()
        g_b = np.zeros(own.size)
        _cluster_sampled_grad(
            self._pi,
            self._cum,
            self.cluster,
            *self._csr,
            np.ascontiguousarray(idx, dtype=np.int64),
            np.ascontiguousarray(s, dtype=np.int64),
            np.ascontiguousarray(n, dtype=np.int64),
            np.ascontiguousarray(coef, dtype=np.float64),
            1.0 / self.temperature,
            rng,
            g_u,
            g_w,
            own,
            g_b,
        )
        return np.concatenate([g_u, g_w.ravel()] + ([] if self.b is None else [g_b]))

    def apply(self, delta) -> None:
        """(u, W, b) += delta, u first, then W row by row, then b."""
        m, mw = self.u.size, self.w.size
        self.u += delta[:m]
        self.w += delta[m:m + mw].reshape(self.w.shape)
        if self.b is not None:
            self.b += delta[m + mw:]
        self._refresh()

    def cluster_entropies(self) -> np.ndarray:
        """Entropy (nats) of each cluster's rollout distribution pi_T,c: -sum_j pi_j log pi_j, shape (C,)."""
        return -(special.xlogy(self._pi, self._pi)).sum(axis=1)

    def entropy(self) -> float:
        """Mean over the pool's prompts of the entropy (nats) of their rollout distribution: their cluster's, or
        with an own failure mode H_i = (H_c + log(1 + beta)) / (1 + beta) - q log q, q = beta / (1 + beta)."""
        h = self.cluster_entropies()[self.cluster]
        if self.b is not None:
            beta = self._beta_train
            q = beta / (1.0 + beta)
            h = (h + np.log1p(beta)) / (1.0 + beta) - special.xlogy(q, q)
        return float(h.mean())
