"""Pass-rate predictors for learned priors (HORA's prior ablation) and for VIP.

- ``UniformPredictor``: no prediction; HORA uses its Beta(1, 1) prior.
- ``OraclePredictor``: the true pass rate seen through noise, mu = sigmoid(logit(p) + tau eps).
- ``TruthPredictor``: the true pass rate itself; an arm with it (``hora:truth``) allocates with the point mass at
  p in place of its pilot's posterior (``TRUTH_CONCENTRATION``): HORA with the true pass rates.
- ``GPPredictor``: Gaussian-process regression of logit(p) on synthetic prompt embeddings (RBF kernel,
  length scale 0.4, prior mean -1), trained on the empirical logits of the groups seen so far.

- ``history`` (``simalloc.train.peers.HistoryPredictor``): each prompt's own decayed Beta posterior from the steps
  it was rolled out in, used as HORA's prior directly (no concentration).

A prediction mu becomes the per-prompt prior Beta(mu c, (1 - mu) c) with concentration c.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, special

__all__ = ["PREDICTORS", "TRUTH_CONCENTRATION", "make_predictor", "prompt_embeddings"]

PREDICTORS = ("uniform", "oracle", "gp", "history", "truth")
#: the concentration c of the prior Beta(p c, (1 - p) c) that stands for the point mass at the true p (the hit
#: utility's E[(1 - p)^k] under it differs from (1 - p)^k by O(k^2 / c), ~1e-8 at k = 64)
TRUTH_CONCENTRATION = 1e12


def prompt_embeddings(p0: np.ndarray, dim: int, signal: float, rng) -> np.ndarray:
    """Unit-norm synthetic embeddings whose first axis carries the standardized logit of the initial p.

    ``signal`` sets how informative they are: x = normalize(signal * z e_1 + N(0, I_dim)), z the
    standardized initial logit; prompts of similar difficulty are close, with noise.

    Parameters
    ----------
    p0 : ndarray
        The prompts' initial pass rates.
    dim : int
        The embedding dimension.
    signal : float
        How strongly the first axis carries difficulty.
    rng : numpy.random.Generator
        The noise stream.

    Returns
    -------
    ndarray, shape (len(p0), dim)
        Unit rows.
    """
    z = special.logit(np.clip(p0, 1e-4, 1 - 1e-4))
    z = (z - z.mean()) / (z.std() + 1e-12)
    u = rng.normal(size=(p0.size, dim))
    u[:, 0] += signal * z
    return u / np.linalg.norm(u, axis=1, keepdims=True)


class UniformPredictor:
    """No prediction: HORA keeps its Beta(1, 1) prior."""

    name = "uniform"

    def predict(self, idx, p_true):
        """None (no learned prior)."""
        return None

    def observe(self, idx, successes, trials):
        """Nothing to learn."""


class OraclePredictor:
    """The true pass rate through noise: mu = sigmoid(logit(p) + noise x N(0, 1)), clipped to [1e-4, 1 - 1e-4]."""

    name = "oracle"

    def __init__(self, noise: float, rng):
        self.noise, self.rng = noise, rng

    def predict(self, idx, p_true):
        """Noisy pass rates of the prompts ``idx`` (``p_true`` their true rates)."""
        z = special.logit(np.clip(p_true, 1e-6, 1 - 1e-6)) + self.noise * self.rng.normal(size=p_true.size)
        return np.clip(special.expit(z), 1e-4, 1 - 1e-4)

    def observe(self, idx, successes, trials):
        """Nothing to learn."""


class TruthPredictor:
    """The true pass rate, clipped to [1e-9, 1 - 1e-9] (the oracle allocation's point mass; module docstring)."""

    name = "truth"

    def predict(self, idx, p_true):
        """The prompts' true pass rates ``p_true``."""
        return np.clip(np.asarray(p_true, dtype=np.float64), 1e-9, 1 - 1e-9)

    def observe(self, idx, successes, trials):
        """Nothing to learn."""


class GPPredictor:
    """Gaussian-process regression of logit(p) on the prompt embeddings (module docstring), trained on the
    empirical logits logit((s + 1/2) / (n + 1)) of the last ``history`` groups."""

    name = "gp"

    def __init__(self, embeddings, history: int = 240, length_scale: float = 0.4, prior_mean: float = -1.0,
                 signal_var: float = 4.0, noise_var: float = 1.0):
        self.x = embeddings
        self.history, self.ls, self.m = history, length_scale, prior_mean
        self.sv, self.nv = signal_var, noise_var
        self._idx = np.empty(0, dtype=np.int64)
        self._y = np.empty(0)

    def _kernel(self, a, b):
        d2 = np.maximum(2.0 - 2.0 * a @ b.T, 0.0)  # unit vectors: |a - b|^2 = 2 - 2 a.b
        return self.sv * np.exp(-0.5 * d2 / self.ls**2)

    def predict(self, idx, p_true):
        """The GP's posterior-mean pass rates of the prompts ``idx`` (the prior mean before any observation)."""
        if self._idx.size == 0:
            return np.full(len(idx), special.expit(self.m))
        xa = self.x[self._idx]
        k = self._kernel(xa, xa) + self.nv * np.eye(self._idx.size)
        alpha = linalg.cho_solve(linalg.cho_factor(k, lower=True), self._y - self.m)
        mean = self.m + self._kernel(self.x[idx], xa) @ alpha
        return np.clip(special.expit(mean), 1e-4, 1 - 1e-4)

    def observe(self, idx, successes, trials):
        """Add the groups' empirical logits to the training set (keeping the last ``history``)."""
        y = special.logit((successes + 0.5) / (trials + 1.0))
        self._idx = np.concatenate([self._idx, idx])[-self.history:]
        self._y = np.concatenate([self._y, y])[-self.history:]


def make_predictor(name: str, *, embeddings=None, noise: float = 0.5, rng=None, history: int = 240,
                   decay: float = 0.5):
    """The predictor ``name`` (``PREDICTORS``).

    Parameters
    ----------
    name : {"uniform", "oracle", "gp", "history", "truth"}
        The predictor.
    embeddings : ndarray, optional
        The prompts' embeddings (the GP's inputs; ``prompt_embeddings``).
    noise : float, default 0.5
        The oracle's noise on the logit scale.
    rng : numpy.random.Generator, optional
        The oracle's noise stream.
    history : int, default 240
        Groups the GP keeps.
    decay : float, default 0.5
        The history prior's posterior decay (``simalloc.train.peers.HistoryPredictor``).

    Returns
    -------
    object
        With ``predict(idx, p_true)`` and ``observe(idx, successes, trials)``.

    Raises
    ------
    ValueError
        "predictor: unknown ..." listing the names.
    """
    if name == "uniform":
        return UniformPredictor()
    if name == "oracle":
        return OraclePredictor(noise, rng)
    if name == "truth":
        return TruthPredictor()
    if name == "gp":
        return GPPredictor(embeddings, history=history)
    if name == "history":
        from .peers import HistoryPredictor

        return HistoryPredictor(decay)
    raise ValueError(f"predictor: unknown {name!r}; valid: {', '.join(PREDICTORS)}")
