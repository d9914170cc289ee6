"""Best-of-N diagnostics: estimators of E[M_N] and A_N from m rollouts against exact truth, and an exact-gradient toy.

``SoftmaxToy``: a policy pi = softmax(theta) over K responses with known rewards rho. Its best-of-N value
J = E[M_N] = sum_j rho_(j) (F_j^N - F_{j-1}^N) (responses sorted by reward, F_j cumulative mass) has the exact
gradient dJ/dtheta = pi * (g - pi . g), g_l = dJ/dpi_l; and J's policy gradient is N E[(e_y - pi) A_N(rho_y)].
An estimator turns m samples into per-sample advantages A_i; its gradient estimate is
(N/m) sum_i A_i (e_{y_i} - pi). Its bias and cosine similarity to the exact gradient are estimated over draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import softmax

from ..estimators import bon
from ..seeding import as_generator

__all__ = ["SoftmaxToy", "value_diagnostics", "gradient_diagnostics", "VALUE_ESTIMATORS", "GRADIENT_ESTIMATORS"]

VALUE_ESTIMATORS = {
    "pot": lambda r, n: bon.expected_max_pot(r, n, on_fail="nan"),
    "gev": lambda r, n: bon.expected_max_gev(r, n),
    "prefix_pot": lambda r, n: bon.prefix(bon.expected_max_pot, r, n, on_fail="nan"),
    "prefix_gev": lambda r, n: bon.prefix(bon.expected_max_gev, r, n),
    "ustat": lambda r, n: bon.maxk_unbiased(r, n) if n <= r.shape[1] else np.full(r.shape[0], np.nan),
    "sample_max": lambda r, n: r.max(axis=1),  # the naive plug-in: E[M_m], not E[M_N]
}


def value_diagnostics(world, ms, ns, n_reps: int, rng=None, estimators=None) -> pd.DataFrame:
    """Bias, variance, MSE and failure rate of each E[M_N] estimator, per (m, N), over n_reps prompts.

    Parameters
    ----------
    world : str or TailWorld
        The reward distribution (its exact E[M_N] is the truth).
    ms : sequence of int
        Samples per prompt.
    ns : sequence of int
        The N of best-of-N.
    n_reps : int
        Simulated prompts per (m, N).
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    estimators : list of str, optional
        Names of ``VALUE_ESTIMATORS`` (default: all).

    Returns
    -------
    pandas.DataFrame
        Columns world, m, N, estimator, bias, variance, mse, fail_rate, truth.
    """
    rng = as_generator(rng)
    estimators = estimators or list(VALUE_ESTIMATORS)
    rows = []
    for m in ms:
        r = world.sample((n_reps, m), rng)
        for n in ns:
            truth = world.expected_max(n)
            for name in estimators:
                est = (
                    VALUE_ESTIMATORS[name](r, n)
                    if (m >= 8 or not name.startswith("prefix"))
                    else np.full(n_reps, np.nan)
                )
                good = np.isfinite(est)
                if not good.any():
                    rows.append((world.name, m, n, name, np.nan, np.nan, np.nan, 1.0, truth))
                    continue
                e = est[good]
                rows.append(
                    (
                        world.name,
                        m,
                        n,
                        name,
                        e.mean() - truth,
                        e.var(ddof=1) if e.size > 1 else 0.0,
                        np.mean((e - truth) ** 2),
                        1 - good.mean(),
                        truth,
                    )
                )
    return pd.DataFrame(rows, columns=["world", "m", "N", "estimator", "bias", "variance", "mse", "fail_rate", "truth"])


class SoftmaxToy:
    """Softmax policy over K responses with fixed rewards (see module docstring).

    Parameters
    ----------
    rewards : array_like
        The K responses' rewards (finite, K >= 2).
    theta : array_like, optional
        The logits (default: uniform).

    Notes
    -----
    ``value(N)`` = E[max of N draws], ``exact_gradient(N)`` its gradient in theta and ``exact_advantage(N)``
    each response's best-of-N advantage, all in closed form over the discrete distribution: the truth the
    estimators' gradients are compared with.
    """

    def __init__(self, rewards, theta=None):
        self.rho = np.asarray(rewards, dtype=np.float64)
        if self.rho.ndim != 1 or self.rho.size < 2 or not np.all(np.isfinite(self.rho)):
            raise ValueError("rewards: expected at least 2 finite rewards")
        self.theta = np.zeros(self.rho.size) if theta is None else np.asarray(theta, dtype=np.float64)
        self.pi = softmax(self.theta)

    def value(self, n: int) -> float:
        """E[M_N] = sum_l rho_(l) (F_l^N - F_(l-1)^N), responses sorted by reward."""
        order = np.argsort(self.rho, kind="stable")
        f = np.cumsum(self.pi[order])
        f_prev = np.concatenate([[0.0], f[:-1]])
        return float(np.sum(self.rho[order] * (f**n - f_prev**n)))

    def exact_gradient(self, n: int) -> np.ndarray:
        """The gradient of E[M_N] in the logits theta (chain rule through pi = softmax(theta))."""
        order = np.argsort(self.rho, kind="stable")
        rho = self.rho[order]
        f = np.clip(np.cumsum(self.pi[order]), 0, 1)
        f_prev = np.concatenate([[0.0], f[:-1]])
        # dJ/dpi_(l) = N sum_{j >= l} rho_j (F_j^{N-1} - [j > l] F_{j-1}^{N-1})
        a = rho * f ** (n - 1)
        b = rho * f_prev ** (n - 1)
        suffix_a = np.cumsum(a[::-1])[::-1]
        suffix_b = np.concatenate([np.cumsum(b[::-1])[::-1][1:], [0.0]])
        g_sorted = n * (suffix_a - suffix_b)
        g = np.empty_like(g_sorted)
        g[order] = g_sorted
        return self.pi * (g - self.pi @ g)

    def exact_advantage(self, n: int) -> np.ndarray:
        """A_N(rho_l) for each response, exact for this discrete reward distribution."""
        order = np.argsort(self.rho, kind="stable")
        rho = self.rho[order]
        f = np.cumsum(self.pi[order])
        out = np.empty(rho.size)
        e = self.value(n)
        for idx in range(rho.size):  # E[max(rho_l, M_{N-1})] = sum_j max(rho_l, rho_j) P(M_{N-1} = rho_j)
            f_prev = np.concatenate([[0.0], f[:-1]])
            pm = f ** (n - 1) - f_prev ** (n - 1)
            out[idx] = np.sum(np.maximum(rho[idx], rho) * pm) - e
        res = np.empty_like(out)
        res[order] = out
        return res

    def sample(self, n_draws: int, m: int, rng=None):
        rng = as_generator(rng)
        y = rng.choice(self.rho.size, size=(n_draws, m), p=self.pi)
        return y, self.rho[y]


GRADIENT_ESTIMATORS = {
    "mean": lambda r, n: bon.mean_advantage(r),
    "pkpo": lambda r, n: bon.pkpo_advantages(r, r.shape[1], variant="loo-1"),
    "max_minus_second": lambda r, n: bon.max_minus_second(r),
    "tail_direct": lambda r, n: bon.advantage_pot(r, n, on_fail="nan"),
    "tail_prefix": lambda r, n: bon.prefix(bon.advantage_pot, r, n, on_fail="nan"),
}


def gradient_diagnostics(toy: SoftmaxToy, ms, n: int, n_draws: int, rng=None, estimators=None) -> pd.DataFrame:
    """Relative bias |E[g_hat] - g| / |g| and cosine(E[g_hat], g) per estimator and m (failed fits dropped).

    ``rel_bias`` is debiased for Monte Carlo noise: sqrt(max(0, |mean - g|^2 - tr(Cov)/draws)) / |g|
    (``rel_bias_raw`` keeps the plain value, ``rel_bias_noise`` the noise scale). ``pkpo`` is PKPO's
    s^(loo-1) at k = m, an unbiased gradient of E[M_m]; like every gradient here it is scaled by N/m; it
    targets E[M_m], so it is biased for the BoN(N) gradient when N > m.
    The 'mean' gradient targets E[r].

    Parameters
    ----------
    toy : SoftmaxToy
        The policy and rewards.
    ms : sequence of int
        Samples per gradient estimate.
    n : int
        The N of best-of-N.
    n_draws : int
        Gradient estimates per m.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    estimators : list of str, optional
        Names of the gradient estimators (default: all).

    Returns
    -------
    pandas.DataFrame
        Columns m, N, estimator, rel_bias, rel_bias_raw, rel_bias_noise, cosine, fail_rate.
    """
    rng = as_generator(rng)
    truth = toy.exact_gradient(n)
    rows = []
    for m in ms:
        y, r = toy.sample(n_draws, m, rng)
        onehot = np.eye(toy.rho.size)[y]  # (draws, m, K)
        score = onehot - toy.pi
        for name in estimators or list(GRADIENT_ESTIMATORS):
            adv = GRADIENT_ESTIMATORS[name](r, n)
            good = np.all(np.isfinite(adv), axis=1)
            grads = (n / m) * np.einsum("dm,dmk->dk", adv[good], score[good])
            mean = grads.mean(0)
            draws = max(int(good.sum()), 2)
            noise2 = grads.var(0, ddof=1).sum() / draws
            raw2 = float(np.sum((mean - truth) ** 2))
            norm = np.linalg.norm(truth)
            rows.append(
                (
                    m,
                    n,
                    name,
                    np.sqrt(max(raw2 - noise2, 0.0)) / norm,
                    np.sqrt(raw2) / norm,
                    np.sqrt(noise2) / norm,
                    mean @ truth / (np.linalg.norm(mean) * norm + 1e-300),
                    1 - good.mean(),
                )
            )
    return pd.DataFrame(
        rows, columns=["m", "N", "estimator", "rel_bias", "rel_bias_raw", "rel_bias_noise", "cosine", "fail_rate"]
    )
