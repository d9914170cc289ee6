"""The Bernoulli policy: an independent logit per prompt (no sharing)."""

from __future__ import annotations

import numpy as np
from scipy import special

from .base import Policy

__all__ = ["BernoulliPolicy"]


class BernoulliPolicy(Policy):
    """Independent per-prompt logits z_i, p_i = sigmoid(z_i / T); the eval set is the pool itself.

    No sharing between prompts: the expected GRPO update never lowers any p_i, so this policy cannot show Pass@k
    degradation; it is the simple case.

    Parameters
    ----------
    z : ndarray
        One logit per prompt.
    temperature, eval_temperature : float
        The rollout temperature (training pass rates and gradients) and the one Pass@k is evaluated at.
    """

    kind = "bernoulli"

    def __init__(self, z, temperature=1.0, eval_temperature=1.0):
        super().__init__(temperature, eval_temperature)
        self.z = np.ascontiguousarray(z, dtype=np.float64)

    @classmethod
    def from_world(cls, world, n_pool, n_eval, n_strategies, zipf, rng, temperature=1.0, eval_temperature=1.0):
        """z = T logit(p): p_i = sigmoid(z_i / T) at the rollout temperature starts at the world's draw.

        ``n_eval``, ``n_strategies`` and ``zipf`` do not apply (the eval set is the pool; there are no
        strategies): they are accepted so that every policy is built the same way."""
        p = np.clip(world.sample(n_pool, rng), 1e-6, 1 - 1e-6)
        return cls(temperature * special.logit(p), temperature, eval_temperature)

    def pass_rates(self, idx):
        """sigmoid(z_i / T) for prompts ``idx``."""
        return special.expit(self.z[idx] / self.temperature)

    def eval_pass_rates(self, temperature=None):
        """The pool's pass rates at the evaluation temperature (or at ``temperature``): sigmoid(z_i / T)."""
        return special.expit(self.z / (self.eval_temperature if temperature is None else float(temperature)))

    def entropy(self) -> float:
        """Mean binary entropy (nats) of the pool's pass rates: -mean_i [p_i log p_i + (1-p_i) log(1-p_i)]."""
        p = special.expit(self.z / self.temperature)
        return float(np.mean(special.entr(p) + special.entr(1 - p)))

    @property
    def n_params(self) -> int:
        """One logit per pool prompt."""
        return int(self.z.size)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The update direction: coef_r / T added to prompt r's own logit."""
        g = np.zeros(self.z.size)
        np.add.at(g, np.asarray(idx), np.asarray(coef, dtype=np.float64) / self.temperature)
        return g

    def make_eval_set(self, world, n, rng):
        """Not available: the eval set is the pool."""
        raise ValueError("eval_sets: the bernoulli policy has no held-out prompts (its eval set is the pool)")

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """No strategies to draw: a rollout's outcome is all there is, so the sampled direction is ``gradient``."""
        return self.gradient(idx, None, coef)

    def set_pass_rates(self, handle) -> np.ndarray:
        """Not available: the eval set is the pool."""
        raise ValueError("eval_sets: the bernoulli policy has no held-out prompts (its eval set is the pool)")

    def cluster_entropies(self) -> np.ndarray:
        """One entry: the mean binary entropy."""
        return np.array([self.entropy()])

    def apply(self, delta) -> None:
        """z += delta."""
        self.z += delta
