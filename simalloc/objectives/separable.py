"""Separable per-prompt objectives U_i(k) over Beta beliefs, with exact values and marginal gains.

Values are computed in closed form through ``moments.log_beta_ratio`` (sums of log1p terms, stable for any
a, b); marginals by the product recurrence in ``kernels``. The tests check both against ``scipy.special.betaln``,
quadrature and Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..beliefs import BetaBeliefs
from . import kernels as K
from .moments import log_beta_ratio

__all__ = [
    "hit_utility",
    "LogMiss",
    "VarianceReduction",
    "KnapsackPlugin",
    "Objective",
    "HitUtility",
    "InformativeGroup",
    "KnapsackValue",
    "PluginHitUtility",
    "beta_moment",
]


def beta_moment(a, b, i, j) -> np.ndarray:
    """m(i, j) = E[p^i (1-p)^j] = B(a+i, b+j) / B(a, b) for p ~ Beta(a, b) (closed form).

    Parameters
    ----------
    a, b : array_like
        Beta parameters, > 0.
    i, j : array_like
        Non-negative exponents (real values allowed); all four broadcast.

    Returns
    -------
    ndarray of float64
        exp(ln B(a+i, b+j) - ln B(a, b)), through ``log_beta_ratio`` (no overflow for large a, b).

    Examples
    --------
    >>> round(float(beta_moment(2.0, 3.0, 1, 0)), 12)  # E[p] = a / (a + b)
    0.4
    """
    return np.exp(log_beta_ratio(a, b, i, j))


@dataclass(frozen=True)
class Objective:
    """A separable objective sum_i U_i(k_i) with strictly decreasing marginals.

    Subclasses set ``name``, ``code`` (the kernel code) and implement ``value``.

    Attributes
    ----------
    name : str
        The registry key (``simalloc.OBJECTIVES``).
    code : int
        The integer the numba kernels dispatch on.
    description : str
        One line for listings.
    params_from_counts : bool
        True when the kernel parameters depend on the pilot counts and a shared prior only.

    Notes
    -----
    Decreasing marginals Delta_i(k) = U_i(k) - U_i(k-1) make the greedy allocation exact (Fox 1966); the property
    tests check every objective against the DP optimum.

    References
    ----------
    B. Fox, "Discrete optimization via marginal analysis", Management Science 13(3), 1966.
    """

    name: str = ""
    code: int = -1
    description: str = ""
    #: True when the kernel parameters are a function of the pilot counts and a shared prior alone, so
    #: prompts with equal counts are interchangeable (the type-merged solver's fast grouping relies on it).
    params_from_counts: bool = True

    def value(self, beliefs: BetaBeliefs, k) -> np.ndarray:
        """U_i(k_i), shape (n_prompts,), in closed form."""
        raise NotImplementedError

    def kernel_params(self, beliefs: BetaBeliefs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, wf, wp): the float64 arrays the kernels read."""
        wf, wp = K.weights(self.code, beliefs.all_fail, beliefs.all_pass)
        return beliefs.a, beliefs.b, wf, wp

    def marginals(self, beliefs: BetaBeliefs, kmax: int) -> np.ndarray:
        """Delta_i(k) = U_i(k) - U_i(k-1) for k = 1..kmax, shape (n_prompts, kmax), by recurrence."""
        a, b, wf, wp = self.kernel_params(beliefs)
        out = np.empty((beliefs.n_prompts, int(kmax)), dtype=np.float64)
        return K.fill_marginals(self.code, a, b, wf, wp, out)

    def total(self, beliefs: BetaBeliefs, allocation) -> float:
        """sum_i U_i(k_i) for an allocation of shape (n_prompts,)."""
        return float(np.sum(self.value(beliefs, np.asarray(allocation))))


@dataclass(frozen=True)
class HitUtility(Objective):
    r"""HORA's hit utility U(k) = E[1 - (1-p)^k] = 1 - B(a, b+k)/B(a, b).

    Notes
    -----
    The posterior probability that at least one of k more rollouts succeeds. Marginal
    Delta(k) = B(a+1, b+k-1)/B(a, b); Delta(1) = a/(a+b); Delta(k+1) = Delta(k) (b+k-1)/(a+b+k).

    References
    ----------
    HORA, arXiv 2605.07114, Sec. 3 and Proposition 3.1.
    """

    name: str = "hit"
    code: int = K.HIT
    description: str = "HORA hit utility E[1-(1-p)^k]: P(at least one success among k more rollouts)"

    def value(self, beliefs, k):
        return -np.expm1(log_beta_ratio(beliefs.a, beliefs.b, 0, k))


@dataclass(frozen=True)
class InformativeGroup(Objective):
    r"""Probability that the final group (pilot + k extra) has both a success and a failure.

    Notes
    -----
    U(k) = 1 - [all pilot rollouts failed] E[(1-p)^k] - [all pilot rollouts passed] E[p^k].
    With no pilot both brackets are 1 and U(k) = E[1 - p^k - (1-p)^k], the 'non-zero signal'
    probability DAPO's dynamic sampling aims at; U(0) = -1 then, i.e. U(k) = P(some success) +
    P(some failure) - 1, which keeps the marginals decreasing (an empty group scores -1, a group of
    one scores 0). Marginal Delta(k) = [fail] m(1, k-1) + [pass] m(k-1, 1).

    References
    ----------
    DAPO, arXiv 2503.14476 (dynamic sampling); HORA, arXiv 2605.07114, Sec. 3.
    """

    name: str = "informative"
    code: int = K.INFORMATIVE
    description: str = "P(final group has a success and a failure): GRPO's non-zero-signal probability"

    def value(self, beliefs, k):
        a, b = beliefs.a, beliefs.b
        return 1.0 - beliefs.all_fail * beta_moment(a, b, 0, k) - beliefs.all_pass * beta_moment(a, b, k, 0)


@dataclass(frozen=True)
class KnapsackValue(Objective):
    r"""Knapsack-RL value E[(1 - p^k - (1-p)^k) p (1-p)^2], pilot-aware like ``InformativeGroup``.

    Notes
    -----
    U(k) = m(1,2) - [fail] m(1, k+2) - [pass] m(k+1, 2): the non-zero-gradient probability times the
    information proxy p (1-p)^2, in expectation over the belief. Marginal
    Delta(k) = [fail] m(2, k+1) + [pass] m(k, 3).

    References
    ----------
    Knapsack RL, arXiv 2509.25849.
    """

    name: str = "knapsack"
    code: int = K.KNAPSACK
    description: str = "Knapsack-RL value E[(1-p^k-(1-p)^k) p (1-p)^2]"

    def value(self, beliefs, k):
        a, b = beliefs.a, beliefs.b
        return (
            beta_moment(a, b, 1, 2)
            - beliefs.all_fail * beta_moment(a, b, 1, np.add(k, 2))
            - beliefs.all_pass * beta_moment(a, b, np.add(k, 1), 2)
        )


@dataclass(frozen=True)
class PluginHitUtility(Objective):
    r"""Hit utility at the point estimate p_hat = s/K0: U(k) = 1 - (1 - p_hat)^k.

    Notes
    -----
    Delta(k) = p_hat (1 - p_hat)^(k-1): zero for every k when s = 0, so a prompt whose pilot failed
    never receives budget while any other prompt has a positive marginal (HORA's Remark 3.2).
    Reads p_hat from the beliefs' counts (s / K0; 0 when K0 = 0).

    References
    ----------
    HORA, arXiv 2605.07114, Remark 3.2.
    """

    name: str = "plugin_hit"
    code: int = K.HIT_PLUGIN
    description: str = "hit utility at the plug-in estimate p_hat = s/K0 (degenerate at s = 0)"

    @staticmethod
    def p_hat(beliefs: BetaBeliefs) -> np.ndarray:
        t = beliefs.trials
        return np.divide(beliefs.successes, t, out=np.zeros(t.shape), where=t > 0)

    def kernel_params(self, beliefs):
        p = self.p_hat(beliefs)
        wf, wp = K.weights(self.code, beliefs.all_fail, beliefs.all_pass)
        return np.ascontiguousarray(p), 1.0 - p, wf, wp

    def value(self, beliefs, k):
        return 1.0 - (1.0 - self.p_hat(beliefs)) ** np.asarray(k, dtype=np.float64)


@dataclass(frozen=True)
class KnapsackPlugin(Objective):
    r"""Knapsack RL's value at the point estimate p_hat = s/K0 for the final group size n = K0 + k.

    Notes
    -----
    U(k) = (1 - p_hat^n - (1-p_hat)^n) p_hat (1-p_hat)^2; zero for p_hat in {0, 1}, which is why Knapsack RL
    sends leftover budget to p_hat = 0 prompts. Marginal w [(1-p)^(n-1) p + p^(n-1) (1-p)], w = p (1-p)^2.

    References
    ----------
    Knapsack RL, arXiv 2509.25849.
    """

    name: str = "knapsack_plugin"
    code: int = K.KNAPSACK_PLUGIN
    description: str = "Knapsack-RL value at p_hat = s/K0 for the final group size K0 + k"

    def kernel_params(self, beliefs):
        p = PluginHitUtility.p_hat(beliefs)
        return np.ascontiguousarray(p), beliefs.trials.astype(np.float64), np.ones(p.shape), np.ones(p.shape)

    def value(self, beliefs, k):
        p = PluginHitUtility.p_hat(beliefs)
        n = beliefs.trials + np.asarray(k, dtype=np.float64)
        return (1.0 - p**n - (1.0 - p) ** n) * p * (1.0 - p) ** 2


@dataclass(frozen=True, eq=False)
class VarianceReduction(Objective):
    r"""VIP's objective: minimize sum_i v_i/(n_i - 1) + gamma log(p_i) n_i, with v_i = p_i (1 - p_i).

    Maximizes U(k) = -v/(n-1) - gamma log(p) n for the final group size n = n0 + k (RLOO form);
    the marginal v/((n-1)(n-2)) - gamma log p decreases in k, so greedy is exact. ``p_hat`` is a
    predicted pass rate (clipped to [1e-3, 1 - 1e-3]); ``n0`` the group size before allocation (>= 2).

    References
    ----------
    VIP, arXiv 2602.01601.
    """

    p_hat: np.ndarray = None
    n0: np.ndarray = None
    gamma: float = 1e-4
    name: str = "variance"
    code: int = K.VARIANCE
    description: str = "VIP: gradient-variance reduction v/(n-1) with the log-p cost term"
    params_from_counts: bool = False

    def __post_init__(self):
        if self.p_hat is None or self.n0 is None:
            raise ValueError("p_hat, n0: VarianceReduction needs predicted pass rates and base group sizes")
        p = np.asarray(self.p_hat, dtype=np.float64)
        if p.size == 0 or not np.all(np.isfinite(p)):
            raise ValueError("p_hat: expected finite predicted pass rates")
        if not (np.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"gamma: must be finite and >= 0, got {self.gamma!r}")
        n0 = np.asarray(self.n0, dtype=np.float64)
        if n0.size == 0 or not np.all(np.isfinite(n0)) or np.min(n0) < 2:
            raise ValueError("n0: VIP's variance term v/(n-1) needs groups of at least 2 before allocation")

    def _p(self):
        return np.clip(np.asarray(self.p_hat, dtype=np.float64), 1e-3, 1 - 1e-3)

    def kernel_params(self, beliefs):
        p = self._p()
        v = p * (1 - p)
        return (
            np.ascontiguousarray(v),
            np.asarray(self.n0, dtype=np.float64) + 0 * v,
            np.ones(p.shape),
            -self.gamma * np.log(p),
        )

    def value(self, beliefs, k):
        p = self._p()
        shape = np.shape(beliefs.a)
        p = p.reshape(shape) if p.size == np.prod(shape) else p
        n0 = np.asarray(self.n0, dtype=np.float64)
        n0 = n0.reshape(shape) if n0.size == np.prod(shape) else n0
        n = n0 + np.asarray(k, dtype=np.float64)
        return -p * (1 - p) / (n - 1.0) - self.gamma * np.log(p) * n


@dataclass(frozen=True)
class LogMiss(Objective):
    r"""-log E[(1-p)^k] = -(ln B(a, b+k) - ln B(a, b)): the log-probability that k rollouts all fail, negated.

    Notes
    -----
    For independent directions j with p_j ~ Beta(a_j, b_j), P(at least one success) = 1 - prod_j E[(1-p_j)^B_j],
    so maximizing sum_j U_j(B_j) maximizes P(success) exactly. Marginal log1p(a/(b+k-1)), decreasing in k.

    References
    ----------
    DORA, arXiv 2506.15707 (the P(success) formulation of test-time search allocation).
    """

    name: str = "log_miss"
    code: int = K.LOG_MISS
    description: str = "-log E[(1-p)^k]: maximizing its sum maximizes P(some success) over independent directions"

    def value(self, beliefs, k):
        return -log_beta_ratio(beliefs.a, beliefs.b, 0, k)


def hit_utility(a, b, k) -> np.ndarray:
    r"""E[1 - (1-p)^k] for p ~ Beta(a, b); arrays broadcast.

    Parameters
    ----------
    a, b : array_like
        Beta parameters, finite and > 0.
    k : array_like
        Number of rollouts, finite and >= 0 (real k is allowed: the closed form extends).

    Returns
    -------
    ndarray of float64
        1 - B(a, b+k)/B(a, b), computed as -expm1(log_beta_ratio(a, b, 0, k)): exact to a few ulp for
        integer k and any a, b (e.g. a = b = 1e300 gives 0.5 for k = 1).

    References
    ----------
    HORA, arXiv 2605.07114, Sec. 3 (hit utility).

    Examples
    --------
    >>> round(float(hit_utility(1.0, 1.0, 3)), 12)  # uniform prior: 1 - 1/(k+1); rounded: exact to a few ulp
    0.75
    """
    from ..validation import as_positive_finite

    a_arr = as_positive_finite(a, "a")
    b_arr = as_positive_finite(b, "b")
    k_arr = np.asarray(k, dtype=np.float64)
    if not np.all(np.isfinite(k_arr)) or (k_arr.size and k_arr.min() < 0):
        raise ValueError("k: must be finite and >= 0")
    try:
        np.broadcast_shapes(a_arr.shape, b_arr.shape, k_arr.shape)
    except ValueError:
        raise ValueError(f"a, b, k: shapes {a_arr.shape}, {b_arr.shape}, {k_arr.shape} do not broadcast") from None
    return -np.expm1(log_beta_ratio(a_arr, b_arr, 0, k_arr))
