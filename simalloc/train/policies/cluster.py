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
    """

    kind = "cluster"

    def __init__(self, u, w, cluster, solves, eval_cluster, eval_solves, temperature=1.0, eval_temperature=1.0):
        super().__init__(temperature, eval_temperature)
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
    ):
        """Initial logits u = T log pi (so the rollout policy at temperature T starts at the Zipf pi), W = 0."""
        pi = zipf_strategies(n_strategies, zipf)
        orders = [
            np.argsort(-(np.log(pi) + order_noise * rng.gumbel(size=pi.size)), kind="stable") for _ in range(n_clusters)
        ]
        cl, sv = cls._prompts(world, n_pool, rng, pi, orders)
        ecl, esv = cls._prompts(world, n_eval, rng, pi, orders)
        pol = cls(
            temperature * np.log(pi), np.zeros((n_clusters, pi.size)), cl, sv, ecl, esv, temperature, eval_temperature
        )
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
        """The shared logits u and the cluster logits W."""
        return int(self.u.size + self.w.size)

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
        )
        return np.concatenate([g_u, g_w.ravel()])

    def apply(self, delta) -> None:
        """(u, W) += delta, u first then W row by row."""
        m = self.u.size
        self.u += delta[:m]
        self.w += delta[m:].reshape(self.w.shape)
        self._refresh()

    def cluster_entropies(self) -> np.ndarray:
        """Entropy (nats) of each cluster's rollout distribution pi_T,c: -sum_j pi_j log pi_j, shape (C,)."""
        return -(special.xlogy(self._pi, self._pi)).sum(axis=1)

    def entropy(self) -> float:
        """Mean over the pool's prompts of the entropy (nats) of their cluster's rollout distribution."""
        return float(self.cluster_entropies()[self.cluster].mean())
