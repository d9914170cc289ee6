"""The window policy: one softmax over M solution strategies shared by every prompt.

Strategies are ranked by initial probability (Zipf); prompt i is solved by a window S_i = [lo_i, hi_i) of ranks,
so p_i = sum_{j in S_i} pi_j. Easy prompts' windows start at the head; hard prompts need the rare strategies of
the tail. Updates that sharpen pi on the head starve the tail, and Pass@k at large k falls: the effect HORA
targets. With a_i the sum of the successful rollouts' advantages, prompt i contributes
a_i grad_theta p_i / (p_i (1 - p_i)) (strategies integrated out given the outcomes); the sampled update draws
the successes' strategies from pi restricted to S_i and the failures' from its complement.
"""

from __future__ import annotations

import numpy as np

from ...worlds import DifficultyWorld
from .base import Policy, zipf_strategies
from .kernels import _strategy_grad, _strategy_sampled_grad, _tail_sums, _window_rates

__all__ = ["StrategyPolicy"]


class StrategyPolicy(Policy):
    """Shared-strategy softmax policy over a prompt pool and an eval set (see module docstring).

    Parameters
    ----------
    theta : ndarray
        The strategy logits (one per strategy, shared by every prompt).
    lo, hi : ndarray of int
        Each training prompt's window of solving strategies [lo, hi) in rank order.
    eval_lo, eval_hi : ndarray of int
        The same for the held-out prompts.
    temperature, eval_temperature : float
        The rollout temperature (training pass rates and gradients) and the one Pass@k is evaluated at.
    """

    kind = "strategy"

    def __init__(self, theta, lo, hi, eval_lo, eval_hi, temperature=1.0, eval_temperature=1.0):
        super().__init__(temperature, eval_temperature)
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
        pi = zipf_strategies(n_strategies, zipf)
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
        """p_i = sum over i's window of softmax(theta / T)."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return _window_rates(self._tail, self.lo, self.hi, idx, np.empty(idx.size))

    def eval_pass_rates(self, temperature: float | None = None) -> np.ndarray:
        """The eval windows' mass at the evaluation temperature, or under softmax(theta / ``temperature``)."""
        tail = self._eval_tail
        if temperature is not None and float(temperature) != self.eval_temperature:
            tail = _tail_sums(self.theta / float(temperature), np.empty(self.theta.size + 1))
        return _window_rates(tail, self.eval_lo, self.eval_hi, self._eval_idx, np.empty(self._eval_idx.size))

    def entropy(self) -> float:
        """Shannon entropy (nats) of the rollout distribution softmax(theta / T): -sum_j pi_j log pi_j."""
        z = self.theta / self.temperature
        z = z - z.max()
        logpi = z - np.log(np.exp(z).sum())
        return float(-(np.exp(logpi) * logpi).sum())

    @property
    def n_params(self) -> int:
        """The strategy logits."""
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
        """theta += delta."""
        self.theta += delta
        self._refresh()
