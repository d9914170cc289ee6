"""The interface every simulated (and, in the lab, real) policy implements for the training loop."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Policy", "zipf_strategies", "pass_at_k_per_prompt", "pass_at_k_curve"]


def zipf_strategies(n_strategies: int, zipf: float) -> np.ndarray:
    """The initial strategy probabilities pi_j proportional to j^(-zipf), j = 1..n_strategies (sum 1).

    Parameters
    ----------
    n_strategies : int
        How many strategies.
    zipf : float
        The exponent (> 0): larger makes the head heavier and the tail's strategies rarer.

    Returns
    -------
    ndarray of float64, shape (n_strategies,)

    Examples
    --------
    >>> zipf_strategies(3, 1.0).round(4).tolist()  # 1, 1/2, 1/3 normalised
    [0.5455, 0.2727, 0.1818]
    """
    pi = np.arange(1, n_strategies + 1, dtype=np.float64) ** (-zipf)
    return pi / pi.sum()


def _miss_all(p: np.ndarray, ks) -> np.ndarray:
    """(1 - p_i)^k for each k and prompt (log1p form), shape (len(ks), len(p))."""
    with np.errstate(divide="ignore"):  # p = 1 gives log(0) = -inf and (1-p)^k = 0, as it should
        log_q = np.log1p(-np.clip(p, 0.0, 1.0))
    return np.exp(np.multiply.outer(np.asarray(ks, dtype=np.float64), log_q))


def pass_at_k_per_prompt(p: np.ndarray, ks) -> np.ndarray:
    """Exact 1 - (1 - p_i)^k for each k and prompt, shape (len(ks), len(p)).

    Parameters
    ----------
    p : ndarray
        Pass rates in [0, 1].
    ks : sequence of int
        The k.

    Returns
    -------
    ndarray of float64, shape (len(ks), len(p))
        Computed as 1 - exp(k log1p(-p)), accurate for tiny p and large k.
    """
    return 1.0 - _miss_all(p, ks)


def pass_at_k_curve(p: np.ndarray, ks) -> np.ndarray:
    """Exact mean_i 1 - (1 - p_i)^k for each k, shape (len(ks),).

    Parameters
    ----------
    p : ndarray
        The prompts' pass rates in [0, 1].
    ks : sequence of int
        The k.

    Returns
    -------
    ndarray of float64, shape (len(ks),)
        The population Pass@k (no sampling: the expected value the unbiased estimator of Chen et al. 2021
        targets).
    """
    return 1.0 - np.mean(_miss_all(p, ks), axis=1)


class Policy(ABC):
    """A policy over a prompt pool and held-out eval prompts, trained by the GRPO-family update.

    Pass rates are those of the rollout policy (``temperature``) for training prompts and of the evaluation
    temperature for eval prompts. ``gradient`` is the Rao-Blackwellised ascent direction given per-prompt
    coefficients (the advantage masses after aggregation), ``sampled_gradient`` the REINFORCE direction with each
    rollout's strategy drawn given its outcome (its expectation is ``gradient``); ``apply`` adds a step to the
    parameters. ``update`` = ``gradient`` then ``apply`` (plain SGD), returning the gradient's L2 norm.

    Parameters
    ----------
    temperature, eval_temperature : float
        The rollout temperature (training pass rates and gradients) and the one Pass@k is evaluated at.

    Notes
    -----
    A subclass implements ``from_world``, ``n_params``, ``pass_rates``, ``eval_pass_rates``, ``make_eval_set``,
    ``set_pass_rates``, ``gradient``, ``sampled_gradient``, ``apply`` and ``entropy``; the loop calls nothing
    else, so the lab's torch policy plugs in through the same methods.
    """

    kind: str = ""

    def __init__(self, temperature: float = 1.0, eval_temperature: float = 1.0):
        self.temperature, self.eval_temperature = float(temperature), float(eval_temperature)

    @classmethod
    @abstractmethod
    def from_world(cls, world, n_pool: int, n_eval: int, n_strategies: int, zipf: float, rng, **options):
        """A policy whose ``n_pool`` training prompts (and ``n_eval`` eval prompts) start at pass rates drawn
        from ``world``."""

    @property
    @abstractmethod
    def n_params(self) -> int:
        """Number of trainable parameters (the length of ``gradient``)."""

    @abstractmethod
    def pass_rates(self, idx) -> np.ndarray:
        """Pass rates of training prompts ``idx`` under the rollout policy, shape (len(idx),)."""

    @abstractmethod
    def eval_pass_rates(self, temperature: float | None = None) -> np.ndarray:
        """Pass rates of the eval prompts at the evaluation temperature (or at ``temperature``: the same logits
        sampled at another temperature, exact)."""

    @abstractmethod
    def make_eval_set(self, world, n: int, rng):
        """``n`` more held-out prompts from ``world``; returns a handle for ``set_pass_rates``."""

    @abstractmethod
    def set_pass_rates(self, handle) -> np.ndarray:
        """Pass rates of an eval set from ``make_eval_set`` at the evaluation temperature."""

    @abstractmethod
    def gradient(self, idx, p, coef) -> np.ndarray:
        """The Rao-Blackwellised ascent direction sum_r coef_r grad p_r / (p_r (1 - p_r)), shape (n_params,)."""

    @abstractmethod
    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """The sampled REINFORCE direction given s successes of n rollouts per prompt; E[.] = ``gradient``."""

    @abstractmethod
    def apply(self, delta) -> None:
        """Add ``delta`` (shape (n_params,)) to the parameters."""

    @abstractmethod
    def entropy(self) -> float:
        """Entropy (nats) of the rollout distribution, averaged over the pool's prompts."""

    @abstractmethod
    def cluster_entropies(self) -> np.ndarray:
        """Entropy (nats) of each cluster's rollout distribution (one entry for an unclustered policy)."""

    def set_temperature(self, temperature: float) -> None:
        """Sample rollouts (training pass rates, gradients, entropy) at ``temperature`` from now on; the logits, the
        evaluation temperature and the eval sets already built are unchanged (a ``temp<x>`` arm)."""
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature: must be finite and > 0, got {temperature!r}")
        self.temperature = float(temperature)
        self._refresh()

    def _refresh(self) -> None:
        """Recompute what the logits and temperatures determine (nothing here; subclasses cache)."""

    def pass_at_k(self, ks) -> np.ndarray:
        """Exact Pass@k on the eval prompts for each k: mean_i 1 - (1 - p_i)^k."""
        return pass_at_k_curve(self.eval_pass_rates(), ks)

    def update(self, idx, p, coef, lr: float) -> float:
        """Plain SGD: ``apply(lr * gradient)``; returns the gradient's L2 norm."""
        g = self.gradient(idx, p, coef)
        self.apply(lr * g)
        return float(np.sqrt(np.dot(g, g)))
