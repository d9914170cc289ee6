"""Beta(a_i, b_i) beliefs about per-prompt pass rates.

A belief carries the Beta parameters and, when it came from pilot rollouts, the pilot counts: the
pilot tells objectives such as the informative-group probability whether the group seen so far is
all-fail or all-pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .validation import as_counts, as_positive_finite, shown

__all__ = ["BetaBeliefs", "as_prior"]


def as_prior(prior, n_prompts: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Normalize a prior to (alpha0, beta0) and a 'shared' flag (0-d arrays when shared, else (n_prompts,)).

    Parameters
    ----------
    prior : tuple or ndarray
        ``(alpha0, beta0)`` with scalars (a shared prior) or arrays of shape (n_prompts,) (per-prompt priors),
        or an array of shape (n_prompts, 2); every entry finite and > 0.
    n_prompts : int
        The number of prompts.

    Returns
    -------
    alpha0, beta0 : ndarray of float64
        0-d when shared, else shape (n_prompts,).
    shared : bool
        Whether one prior serves every prompt.

    Raises
    ------
    TypeError, ValueError
        "prior: ..." / "prior alpha0: ..." naming the allowed shapes and range.
    """
    if isinstance(prior, np.ndarray) and prior.ndim == 2:
        if prior.shape != (n_prompts, 2):
            raise ValueError(f"prior: a 2-D prior must have shape ({n_prompts}, 2), got {prior.shape}")
        alpha0, beta0 = prior[:, 0], prior[:, 1]
    else:
        try:
            alpha0, beta0 = prior
        except (TypeError, ValueError):
            raise TypeError(
                f"prior: expected (alpha0, beta0) with entries > 0 (scalars or arrays of shape ({n_prompts},)), "
                f"got {shown(prior)}"
            ) from None
    shared = np.ndim(alpha0) == 0 and np.ndim(beta0) == 0
    shape = None if shared else (n_prompts,)  # a shared prior stays scalar: no (n_prompts,) copies
    a0 = as_positive_finite(alpha0, "prior alpha0", shape)
    b0 = as_positive_finite(beta0, "prior beta0", shape)
    return a0, b0, shared


@dataclass(frozen=True, eq=False)
class BetaBeliefs:
    """Independent Beta(a_i, b_i) beliefs over pass rates p_i, shape (n_prompts,).

    Build them with ``from_counts`` (pilot counts and a shared or per-prompt prior), ``from_params`` or the
    learned-prior constructor; ``update`` adds more rollouts (conjugate).

    Attributes
    ----------
    a, b : ndarray of float64, shape (n_prompts,)
        Beta parameters, all finite and > 0.
    successes, trials : ndarray of int64, shape (n_prompts,)
        Rollouts observed so far (zeros when the belief is a bare prior).
    shared_prior : bool
        True when every prompt started from the same prior; then prompts with equal counts share
        one belief, which the type-merged greedy exploits.

    Notes
    -----
    Posterior after s successes in K0 trials from the prior Beta(alpha0, beta0):
    a = alpha0 + s, b = beta0 + K0 - s (conjugacy).

    References
    ----------
    HORA, arXiv 2605.07114, Sec. 3 (Beta-Binomial posterior after the pilot).

    Examples
    --------
    >>> bel = BetaBeliefs.from_counts([0, 3, 8], 8)
    >>> bel.a.tolist(), bel.b.tolist()
    ([1.0, 4.0, 9.0], [9.0, 6.0, 1.0])
    """

    a: np.ndarray
    b: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    shared_prior: bool = False
    _trusted: bool = field(default=False, repr=False, compare=False)  # built by from_counts: shared by construction

    def __post_init__(self):
        if self.shared_prior and self.a.size > 1 and not self._trusted:
            # the type-merged solver trusts this flag: prompts with equal counts must then have equal beliefs
            a0 = np.asarray(self.a) - np.asarray(self.successes)
            b0 = np.asarray(self.b) - (np.asarray(self.trials) - np.asarray(self.successes))
            if np.ptp(a0) > 1e-9 * np.max(np.abs(a0)) or np.ptp(b0) > 1e-9 * np.max(np.abs(b0)):
                raise ValueError("shared_prior: True requires a - successes and b - (trials - successes) to be the "
                                 "same for every prompt; these beliefs have per-prompt priors (pass "
                                 "shared_prior=False)")

    @classmethod
    def from_counts(cls, successes, trials, prior=(1.0, 1.0)) -> "BetaBeliefs":
        """Posterior Beta(alpha0 + s, beta0 + K0 - s) from pilot counts and a prior."""
        s, t = as_counts(successes, trials)
        a0, b0, shared = as_prior(prior, s.size)
        return cls(s + a0, (t + b0) - s, s, t, shared, _trusted=True)

    @classmethod
    def from_params(cls, a, b) -> "BetaBeliefs":
        """Beliefs straight from Beta parameters, with no observed rollouts."""
        a_arr = np.atleast_1d(as_positive_finite(a, "a"))
        b_arr = np.atleast_1d(as_positive_finite(b, "b"))
        try:
            a_arr, b_arr = np.broadcast_arrays(a_arr, b_arr)
        except ValueError:
            raise ValueError(f"a, b: shapes {a_arr.shape} and {b_arr.shape} do not broadcast") from None
        if a_arr.ndim != 1 or a_arr.size == 0:
            raise ValueError(f"a, b: expected non-empty 1-D arrays of shape (n_prompts,), got shape {a_arr.shape}")
        zeros = np.zeros(a_arr.shape, dtype=np.int64)
        return cls(np.ascontiguousarray(a_arr), np.ascontiguousarray(b_arr), zeros, zeros.copy(), False)

    @classmethod
    def from_mean(cls, mean, concentration) -> "BetaBeliefs":
        """Learned-prior beliefs Beta(mu c, (1 - mu) c) from a predicted mean mu in (0, 1)."""
        mu = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        if not np.all(np.isfinite(mu)) or mu.min() <= 0 or mu.max() >= 1:
            raise ValueError("mean: predicted pass rates must lie strictly inside (0, 1)")
        c = as_positive_finite(concentration, "concentration", mu.shape)
        return cls.from_params(mu * c, (1 - mu) * c)

    @property
    def n_prompts(self) -> int:
        return int(self.a.size)

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean a / (a + b)."""
        return self.a / (self.a + self.b)

    @property
    def all_fail(self) -> np.ndarray:
        """True where every observed rollout failed (vacuously true with no rollouts)."""
        return self.successes == 0

    @property
    def all_pass(self) -> np.ndarray:
        """True where every observed rollout succeeded (vacuously true with no rollouts)."""
        return self.successes == self.trials

    def update(self, successes, trials) -> "BetaBeliefs":
        """Condition on more rollouts: a += s, b += n - s, counts accumulate."""
        s, t = as_counts(successes, trials)
        if s.shape != self.a.shape:
            raise ValueError(f"successes: shape {s.shape} does not match n_prompts={self.n_prompts}")
        return BetaBeliefs(self.a + s, self.b + (t - s), self.successes + s, self.trials + t, self.shared_prior)
