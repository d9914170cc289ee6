"""Best-of-N estimators from m rollouts per prompt, vectorized over prompts (rewards: (n_prompts, m)).

Published estimators:
- ``mean_advantage``: GRPO/Dr.GRPO's r - mean (optimizes E[r], not E[M_N]);
- ``maxk_unbiased``: sum_i C(i-1, k-1)/C(m, k) r_(i), the unbiased U-statistic of E[M_k], k <= m;
- ``pkpo_advantages``: PKPO's transformed rewards s, s^(loo), s^(loo-1) (arXiv 2505.15201, Eqs. 19, 29, 33);
  each an unbiased max@k gradient for k <= m;
- ``passk_advantages``: Pass@k-training's analytical advantages for binary rewards (arXiv 2508.10751);
- ``max_minus_second``: the best sample gets r_(m) - r_(m-1), the others 0 (arXiv 2503.19595).

Tail-extrapolated estimators for N > m: THIS PROJECT'S CONSTRUCTION from TEA's stated idea (arXiv 2605.10716;
its exact formulas are not public):
- ``tail_fit`` fits a generalized Pareto to the exceedances over the top quarter (probability-weighted moments,
  Hosking & Wallis 1987) or by maximum likelihood;
- ``expected_max_pot``: E[M_N] of the fitted semi-parametric model (empirical body, GPD tail), exact for it;
- ``expected_max_gev``: max-stability: fit E[M_k] = a + b (k^xi - 1)/xi to the unbiased max@k curve, k <= m,
  and evaluate at N;
- ``advantage_pot``: A_N(r) of the fitted model;
- ``prefix``: an order-P combination of an estimator on nested prefixes m, m/2, ..., cancelling the first P - 1
  terms of a stated bias expansion in m^{-rate} (order 2, rate 1: 2 T(m) - T(m/2)).
A fit that fails (too few distinct exceedances, non-finite or xi >= 1, i.e. no finite E[M_N]) raises
``TailFitError`` naming the prompts, or returns NaN there with ``on_fail="nan"``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from ..validation import as_int, shown
from .pass_at_k import pass_at_k

__all__ = [
    "mean_advantage",
    "maxk_unbiased",
    "pkpo_advantages",
    "PKPO_VARIANTS",
    "passk_advantages",
    "max_minus_second",
    "tail_fit",
    "expected_max_pot",
    "expected_max_gev",
    "advantage_pot",
    "prefix",
    "prefix_weights",
    "TailFitError",
    "TailFit",
]


class TailFitError(ValueError):
    """The tail fit did not produce a usable model for some prompts.

    Notes
    -----
    A ``ValueError``; raised with ``on_fail="raise"``, naming the prompts (up to ten) whose fit failed.
    """


def _rewards(rewards, min_m=2) -> np.ndarray:
    raw = np.asarray(rewards)
    if raw.dtype.kind not in "iufb":
        raise ValueError(f"rewards: expected numbers, got an array of dtype {raw.dtype} (e.g. {raw.ravel()[:1]})")
    r = raw.astype(np.float64)
    if r.ndim == 1:
        r = r[None, :]
    if r.ndim != 2:
        raise ValueError(f"rewards: expected shape (n_prompts, m), got {r.shape}")
    if r.shape[1] < min_m:
        raise ValueError(f"m: need at least {min_m} rollouts per prompt, got {r.shape[1]}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards: must be finite (found NaN or inf)")
    return r


def _check_k(k, m, name="k"):
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= m:
        raise ValueError(f"{name}: must be an integer with 1 <= {name} <= m = {m}, got {shown(k)}")
    return int(k)


def mean_advantage(rewards) -> np.ndarray:
    """r_i - mean(r): the GRPO / Dr.GRPO advantage, shape (n_prompts, m).

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).

    Returns
    -------
    ndarray of float64, shape (n_prompts, m)

    References
    ----------
    DeepSeekMath, arXiv 2402.03300 (GRPO); Dr. GRPO, arXiv 2503.20783 (no std scaling).
    """
    r = _rewards(rewards)
    return r - r.mean(axis=1, keepdims=True)


def _order_weights(m, k):
    """C(i-1, k-1)/C(m, k) for i = 1..m, through the stable pass@k kernel:
    = (k/m) C(i-1, k-1)/C(m-1, k-1) = (k/m) (1 - pass@(k-1) of m-1 samples with m-i correct)."""
    i = np.arange(1, m + 1)
    out = np.zeros(m)
    ok = i >= k
    out[ok] = (k / m) * _miss_ratio(m - 1, m - i[ok], k - 1)
    return out


def maxk_unbiased(rewards, k: int) -> np.ndarray:
    """Unbiased E[M_k] from m >= k samples: sum_i C(i-1, k-1)/C(m, k) r_(i), rewards sorted ascending.

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    k : int
        1 <= k <= m.

    Returns
    -------
    ndarray of float64, shape (n_prompts,)
        The U-statistic: the mean of max over every k-subset of the m samples.

    References
    ----------
    The max@k estimator of PKPO (arXiv 2505.15201, the k-subset U-statistic); for binary rewards it is the
    unbiased pass@k of M. Chen et al., arXiv 2107.03374.

    Examples
    --------
    >>> maxk_unbiased([[0.0, 1.0, 2.0]], 2).round(12).tolist()  # max of {0,1}, {0,2}, {1,2}: (1 + 2 + 2) / 3
    [1.666666666667]
    """
    r = _rewards(rewards, min_m=1)
    k = _check_k(k, r.shape[1])
    return np.sort(r, axis=1) @ _order_weights(r.shape[1], k)


PKPO_VARIANTS = ("s", "loo", "loo-1")


def _loo_maxk(srt, k):
    """rho^{-j}(m-1, k) for every sorted rank j: the unbiased max@k estimate of the other m - 1 samples.

    With w' = C(l-1, k-1)/C(m-1, k) over the m - 1 others, rank l < j keeps weight w'_l and rank l > j moves
    down to w'_{l-1}; a prefix and a suffix sum give all m values in O(m). Zero where k > m - 1 (no subset).
    """
    m = srt.shape[1]
    if k > m - 1:
        return np.zeros_like(srt)
    w = _order_weights(m - 1, k)  # (m-1,)
    below = np.concatenate([np.zeros((srt.shape[0], 1)), np.cumsum(srt[:, :-1] * w, axis=1)], axis=1)
    above_terms = srt[:, 1:] * w  # rank l (2..m) with weight w'_{l-1}
    above = np.concatenate([np.cumsum(above_terms[:, ::-1], axis=1)[:, ::-1], np.zeros((srt.shape[0], 1))], axis=1)
    return below + above


def pkpo_advantages(rewards, k: int, *, variant: str = "loo-1") -> np.ndarray:
    r"""PKPO's per-sample transformed rewards for max@k (Walder & Karkhanis, arXiv 2505.15201), shape (n_prompts, m).

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m) or (m,)
        Rewards of m i.i.d. rollouts per prompt (binary or continuous).
    k : int
        1 <= k <= m.
    variant : {"s", "loo", "loo-1"}
        "s" (Eq. 19), "loo" (Eq. 29) or "loo-1" (Eq. 33, the paper's recommendation).

    Notes
    -----
    With rho^{-i}(m-1, j) the unbiased max@j estimate of the m - 1 samples other than i:

    - s_i = (1/C(m, k)) sum_{|I|=k, I contains i} max_{l in I} r_l;
    - s_i^(loo) = s_i - (k/(m-1)) rho^{-i}(m-1, k): s_i minus the mean of the other samples' s computed
      without sample i (0 baseline at k = m, where no k-subset avoids i);
    - s_i^(loo-1) = s_i - (k/m) rho^{-i}(m-1, k-1) = (1/C(m,k)) sum_{I contains i} (max_I r - max_{I minus i} r).

    Every baseline is a function of the other samples only, so sum_i s_i grad log pi(y_i) is an unbiased
    estimate of grad E[M_k] (M_k = max of k rewards) for all three variants (tested by exact enumeration).
    At k = 1 the (k-1)-baseline is empty; "loo-1" then uses the "loo" baseline (the published reference code
    falls back to r - mean(r), whose expected gradient is (m - 1) grad E[r], a rescaling). Centring s by its
    own mean is NOT PKPO: its expected gradient is (1 - k/m) grad E[M_k], zero at k = m.

    Examples
    --------
    >>> pkpo_advantages([1.0, 1.0, 0.0, 0.0], 2, variant="loo-1").round(6).tolist()
    [[0.333333, 0.333333, 0.0, 0.0]]
    """
    r = _rewards(rewards, min_m=1)
    m = r.shape[1]
    k = _check_k(k, m)
    if variant not in PKPO_VARIANTS:
        raise ValueError(f"variant: unknown {variant!r}; valid: {', '.join(PKPO_VARIANTS)}")
    order = np.argsort(r, axis=1, kind="stable")
    srt = np.take_along_axis(r, order, axis=1)
    own = srt * _order_weights(m, k)  # C(j-1, k-1)/C(m, k) r_(j)
    if k >= 2:
        # C(l-2, k-2)/C(m, k) for l = 1..m: the subsets holding rank j < l with l as their maximum;
        # = k(k-1)/(m(m-1)) C(l-2, k-2)/C(m-2, k-2), a pass@k-type ratio through the stable kernel
        rank = np.arange(1, m + 1)  # l in the comment above
        c = np.zeros(m)
        ok = rank >= k
        c[ok] = k * (k - 1) / (m * (m - 1)) * _miss_ratio(m - 2, m - rank[ok], k - 2)
        higher = np.cumsum((c * srt)[:, ::-1], axis=1)[:, ::-1]
        higher = np.concatenate([higher[:, 1:], np.zeros((r.shape[0], 1))], axis=1)  # ranks l > j
    else:
        higher = 0.0
    s = own + higher
    if variant == "loo" or (variant == "loo-1" and k == 1):
        s = s - (k / (m - 1)) * _loo_maxk(srt, k) if m > 1 else s
    elif variant == "loo-1":
        s = s - (k / m) * _loo_maxk(srt, k - 1)
    out = np.empty_like(s)
    np.put_along_axis(out, order, s, axis=1)
    return out


def _miss_ratio(n, c, k):
    """C(n-c, k)/C(n, k) = 1 - pass@k through the one stable kernel; 1 at k = 0, 0 where n - c < k."""
    n, c, k = np.broadcast_arrays(np.asarray(n, np.int64), np.asarray(c, np.int64), np.asarray(k, np.int64))
    out = np.ones(n.shape)
    live = k >= 1
    if live.any():
        out[live] = 1.0 - pass_at_k(n[live], c[live], k[live])
    return out


def passk_advantages(rewards, k: int) -> np.ndarray:
    """Pass@k training's analytical advantages for binary rewards (arXiv 2508.10751).

    With c correct of n: R = 1 - C(n-c, k)/C(n, k), sigma = sqrt(R (1 - R)); A_pos = (1 - R)/sigma,
    A_neg = (1 - R - C(n-c-1, k-1)/C(n-1, k-1))/sigma; 0 when sigma = 0. Both ratios go through the stable
    pass@k kernel (exact for n up to 10^4; ``special.comb`` ratios overflow to NaN near n = 1100).

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, n)
        Binary rewards (0 or 1).
    k : int
        1 <= k <= n.

    Returns
    -------
    ndarray of float64, shape (n_prompts, n)
        A_pos for the correct samples, A_neg for the others.

    References
    ----------
    Pass@k Training, arXiv 2508.10751 (the analytical advantages for binary rewards).
    """
    r = _rewards(rewards)
    if not np.all((r == 0) | (r == 1)):
        raise ValueError("rewards: passk_advantages needs binary rewards (0 or 1)")
    n = r.shape[1]
    k = _check_k(k, n)
    c = r.sum(axis=1).astype(np.int64)
    group = 1 - _miss_ratio(n, c, k)
    sigma = np.sqrt(group * (1 - group))
    pos = np.divide(1 - group, sigma, out=np.zeros_like(sigma), where=sigma > 0)
    # C(n-c-1, k-1)/C(n-1, k-1): some wrong sample exists wherever sigma > 0, so n - c - 1 >= 0 there
    neg_ratio = _miss_ratio(n - 1, np.minimum(c, n - 1), k - 1)
    neg = np.divide(1 - group - neg_ratio, sigma, out=np.zeros_like(sigma), where=sigma > 0)
    return np.where(r == 1, pos[:, None], neg[:, None])


def max_minus_second(rewards) -> np.ndarray:
    """The best sample gets r_(m) - r_(m-1); every other sample 0 (ties: the first best).

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).

    Returns
    -------
    ndarray of float64, shape (n_prompts, m)

    References
    ----------
    arXiv 2503.19595 (the max-minus-second best-of-N advantage); it equals PKPO's s^(loo-1) at k = m
    (arXiv 2505.15201), which a test checks.
    """
    r = _rewards(rewards)
    srt = np.sort(r, axis=1)
    out = np.zeros_like(r)
    best = np.argmax(r, axis=1)
    out[np.arange(r.shape[0]), best] = srt[:, -1] - srt[:, -2]
    return out


class TailFit(NamedTuple):
    """A generalized Pareto fit per prompt (each shape (n_prompts,)): shape xi, scale sigma, the threshold u, the
    share of samples above it, and whether the fit is usable.

    Attributes
    ----------
    xi, sigma : ndarray
        The GPD's shape and scale.
    threshold : ndarray
        The threshold u.
    p_exceed : ndarray
        The share of samples above u.
    ok : ndarray of bool
        A finite fit with xi < 1 and spread among the exceedances.
    """

    xi: np.ndarray
    sigma: np.ndarray
    threshold: np.ndarray
    p_exceed: np.ndarray
    ok: np.ndarray


def tail_fit(rewards, method: str = "pwm", tail_fraction: float = 0.25, on_fail: str = "raise",
             xi_bounds=(-1.0, 0.5)) -> TailFit:
    """Generalized Pareto fit to the exceedances over the threshold u = the (1 - tail_fraction) sample quantile.

    Returns a ``TailFit`` (xi, sigma, threshold u, p_exceed = share of samples above u, ok), each (n_prompts,).
    PWM: xi = 2 - a0/(a0 - 2 a1), sigma = 2 a0 a1/(a0 - 2 a1), a_s = mean((1 - p_i)^s y_(i)), p_i = (i - 0.35)/k.
    The shape is clipped to ``xi_bounds`` (default [-1, 0.5]): from a handful of exceedances a shape near 1
    cannot be told from 0.5, and it turns a BoN(256) extrapolation into an explosion. Pass (-inf, 1) to fit
    freely (the ok flag still requires xi < 1, a finite mean). Fits with a non-finite result or no spread
    among the exceedances are not ok.

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    method : {"pwm", "mle"}, default "pwm"
        Probability-weighted moments (Hosking & Wallis 1987) or scipy's maximum likelihood (genpareto.fit).
    tail_fraction : float, default 0.25
        The share of samples above the threshold, in (0, 1).
    on_fail : {"raise", "nan"}, default "raise"
        An unusable fit raises ``TailFitError`` or is flagged (ok = False).
    xi_bounds : tuple of float, default (-1.0, 0.5)
        The interval the shape is clipped to.

    Returns
    -------
    TailFit

    References
    ----------
    J. R. M. Hosking and J. R. Wallis, "Parameter and quantile estimation for the generalized Pareto
    distribution", Technometrics 29(3), 1987; J. Pickands, "Statistical inference using extreme order
    statistics", Ann. Statist. 3(1), 1975.
    """
    r = _rewards(rewards, min_m=4)
    if method not in ("pwm", "mle"):
        raise ValueError(f"method: unknown {method!r}; valid: mle, pwm")
    if not 0 < tail_fraction <= 0.5:
        raise ValueError(f"tail_fraction: must lie in (0, 0.5], got {tail_fraction}")
    m = r.shape[1]
    k = max(3, int(round(tail_fraction * m)))
    srt = np.sort(r, axis=1)
    u = srt[:, m - k - 1] if m - k - 1 >= 0 else srt[:, 0]
    y = srt[:, m - k :] - u[:, None]
    if method == "pwm":
        p = (np.arange(1, k + 1) - 0.35) / k
        a0 = y.mean(axis=1)
        a1 = (y * (1 - p)).mean(axis=1)
        den = a0 - 2 * a1
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = 2 - a0 / den
            sigma = 2 * a0 * a1 / den
    else:
        xi, sigma = np.empty(r.shape[0]), np.empty(r.shape[0])
        for i in range(r.shape[0]):
            try:
                c, _, scale = stats.genpareto.fit(y[i], floc=0)
                xi[i], sigma[i] = c, scale
            except Exception:
                xi[i] = sigma[i] = np.nan
    ok = np.isfinite(xi) & np.isfinite(sigma) & (sigma > 0) & (xi < 1) & (np.ptp(y, axis=1) > 0)
    xi = np.clip(xi, *xi_bounds)
    if not ok.all() and on_fail == "raise":
        bad = np.flatnonzero(~ok)
        raise TailFitError(
            f"tail_fit: no usable GPD fit for prompt(s) {bad[:10].tolist()} (too few distinct "
            "exceedances, or an estimated shape xi >= 1 with no finite mean); use on_fail='nan'"
        )
    return TailFit(np.where(ok, xi, np.nan), np.where(ok, sigma, np.nan), u, np.full(r.shape[0], k / m), ok)


def _gpd_quantile(q, xi, sigma):
    """Quantile of GPD(xi, sigma) at q (vectorized; xi -> 0 handled by expm1/log1p)."""
    t = -np.log1p(-q)
    small = np.abs(xi) < 1e-8
    safe = np.where(small, 1.0, xi)
    return np.where(small, sigma * t, sigma * np.expm1(safe * t) / safe)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(200)


def expected_max_pot(rewards, n: int, method: str = "pwm", on_fail: str = "raise", **fit) -> np.ndarray:
    """E[M_N] of the semi-parametric model: empirical body below u, u + GPD tail with mass p_u.

    E[M_N] = int_0^1 Q(v^(1/N)) dv with the model's quantile Q, by 200-point Gauss-Legendre in v on [0, 1]
    after the substitution v = 1 - (1 - s)^4 (which clusters nodes near v = 1, where the tail matters).

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    n : int
        The N of best-of-N, >= 1 (may exceed m: the tail extrapolates).
    method : {"pwm", "mle"}, default "pwm"
        The tail fit (``tail_fit``).
    on_fail : {"raise", "nan"}, default "raise"
        What a prompt whose tail fit is not usable gets: an error (``TailFitError``) or NaN.
    **fit
        tail_fraction and xi_bounds for ``tail_fit``.

    Returns
    -------
    ndarray of float64, shape (n_prompts,)
    """
    r = _rewards(rewards, min_m=4)
    n = as_int(n, "N")
    xi, sigma, u, pu, ok = tail_fit(r, method=method, on_fail=on_fail, **fit)
    s = (_GL_X + 1) / 2
    v = 1 - (1 - s) ** 4
    dv = 4 * (1 - s) ** 3 * _GL_W / 2
    q = v ** (1.0 / n)  # (nodes,)
    srt = np.sort(r, axis=1)
    m = r.shape[1]
    body_idx = np.minimum((q * m).astype(int), m - 1)  # empirical quantile (step function)
    body = srt[:, body_idx]
    tail_q = np.clip((q[None, :] - (1 - pu[:, None])) / pu[:, None], 0, 1 - 1e-16)
    tail = u[:, None] + _gpd_quantile(tail_q, xi[:, None], sigma[:, None])
    quant = np.where(q[None, :] > 1 - pu[:, None], tail, body)
    out = quant @ dv
    return np.where(ok, out, np.nan)


def expected_max_gev(rewards, n: int, xi_grid=np.linspace(-0.6, 0.9, 151)) -> np.ndarray:
    """Max-stability extrapolation: least-squares fit of E[M_k] = a + b (k^xi - 1)/xi to the unbiased max@k
    estimates at k = 1, 2, 4, ..., m (the best xi on a grid, (a, b) in closed form), evaluated at k = N.

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    n : int
        The N of best-of-N, >= 1.
    xi_grid : array_like
        The shapes tried (default -0.6 to 0.9 in steps of 0.01).

    Returns
    -------
    ndarray of float64, shape (n_prompts,)

    Notes
    -----
    THIS PROJECT'S CONSTRUCTION: the GEV location of a maximum of k draws grows as (k^xi - 1)/xi (max-stability,
    Fisher-Tippett-Gnedenko); fitting that curve to the U-statistics is a baseline for the tail family.
    """
    r = _rewards(rewards)
    n = as_int(n, "N")
    m = r.shape[1]
    ks = np.unique(np.concatenate([2 ** np.arange(int(np.log2(m)) + 1), [m]]))
    curve = np.stack([maxk_unbiased(r, int(k)) for k in ks], axis=1)  # (n_prompts, len(ks))
    best_err = np.full(r.shape[0], np.inf)
    best = np.full(r.shape[0], np.nan)
    for xi in xi_grid:
        g = np.log(ks) if abs(xi) < 1e-9 else (ks**xi - 1) / xi
        gn = np.log(n) if abs(xi) < 1e-9 else (n**xi - 1) / xi
        gc = g - g.mean()
        b = (curve - curve.mean(1, keepdims=True)) @ gc / (gc @ gc)
        a = curve.mean(1) - b * g.mean()
        err = ((curve - (a[:, None] + b[:, None] * g[None, :])) ** 2).sum(1)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best = np.where(better, a + b * gn, best)
    return best


def advantage_pot(rewards, n: int, method: str = "pwm", on_fail: str = "raise", **fit) -> np.ndarray:
    """A_N(r_i) of the fitted semi-parametric model for every sample: r + int_r^inf (1 - G^{N-1}) - E_G[M_N].

    Parameters
    ----------
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    n : int
        The N of best-of-N, >= 1.
    method : {"pwm", "mle"}, default "pwm"
        The tail fit (``tail_fit``).
    on_fail : {"raise", "nan"}, default "raise"
        What a prompt whose tail fit is not usable gets: an error (``TailFitError``) or NaN.
    **fit
        tail_fraction and xi_bounds for ``tail_fit``.

    Returns
    -------
    ndarray of float64, shape (n_prompts, m)
        The best-of-N advantage of each sample: E[M_N | one draw is r_i] - E[M_N], with the model's CDF G.

    References
    ----------
    THIS PROJECT'S CONSTRUCTION from TEA's stated idea (arXiv 2605.10716; its exact formulas are not public);
    docs/best_of_n.md reports how it does.
    """
    r = _rewards(rewards, min_m=4)
    n = as_int(n, "N")
    xi, sigma, u, pu, ok = tail_fit(r, method=method, on_fail=on_fail, **fit)
    e = expected_max_pot(r, n, method=method, on_fail="nan", **fit)
    m = r.shape[1]
    srt = np.sort(r, axis=1)
    out = np.full(r.shape, np.nan)
    # G on a grid from the smallest sample to far in the fitted tail; the integral by the trapezoid rule
    for i in np.flatnonzero(ok):
        top = u[i] + _gpd_quantile(1 - 1e-9 / max(pu[i], 1e-12), xi[i], sigma[i])
        grid = np.concatenate([srt[i], np.linspace(u[i], top, 4000)])
        grid = np.unique(grid)
        body = np.searchsorted(srt[i], grid, side="right") / m
        z = np.clip(grid - u[i], 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            tail_sf = np.where(
                abs(xi[i]) < 1e-8, np.exp(-z / sigma[i]), np.clip(1 + xi[i] * z / sigma[i], 0, None) ** (-1 / xi[i])
            )
        g = np.where(grid > u[i], 1 - pu[i] * tail_sf, np.minimum(body, 1 - pu[i]))
        integrand = -np.expm1((n - 1) * np.log(np.clip(g, 1e-300, 1)))
        cum = np.concatenate([[0], np.cumsum(np.diff(grid) * (integrand[1:] + integrand[:-1]) / 2)])
        tail_from = cum[-1] - np.interp(r[i], grid, cum)
        out[i] = r[i] + tail_from - e[i]
    return out


def prefix_weights(order: int = 2, rate: float = 1.0) -> np.ndarray:
    """Weights w_0..w_{P-1} of the nested prefixes m, m/2, ..., m/2^{P-1} that cancel the first P - 1 terms of a
    bias expansion E[T(m)] = theta + sum_q c_q m^{-q rate}: sum_p w_p = 1, sum_p w_p 2^{p q rate} = 0 (q < P).

    Parameters
    ----------
    order : int, default 2
        P >= 1.
    rate : float, default 1.0
        The expansion's rate, > 0.

    Returns
    -------
    ndarray of float64, shape (P,)
        The Richardson-extrapolation weights (L. F. Richardson, Phil. Trans. R. Soc. A 210, 1911).

    Examples
    --------
    >>> prefix_weights(2).tolist(), np.round(prefix_weights(3), 6).tolist()
    ([2.0, -1.0], [2.666667, -2.0, 0.333333])
    """
    order = as_int(order, "order")
    if not 1 <= order <= 6:
        raise ValueError(f"order: must be an integer in [1, 6], got {order}")
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate: must be finite and > 0, got {shown(rate)}")
    h = 2.0 ** (np.arange(order) * rate)  # m_p^{-rate} / m^{-rate}
    vander = h[None, :] ** np.arange(order)[:, None]
    rhs = np.zeros(order)
    rhs[0] = 1.0
    return np.linalg.solve(vander, rhs)


def prefix(estimator, rewards, *args, order: int = 2, rate: float = 1.0, **kwargs) -> np.ndarray:
    """Prefix-debiased estimator: sum_p w_p T(r[:, :m/2^p]) over nested prefixes (``prefix_weights``).

    THIS PROJECT'S CONSTRUCTION from Prefix-TEA's stated idea (a fixed-order, moment-cancelling combination of
    nested prefixes; the paper's formula is not public). If the bias of T has the stated expansion
    E[T(m)] - theta = sum_q c_q m^{-q rate}, order P removes its first P - 1 terms (exact for order P when the
    expansion stops there; tested), at the price of variance from the short prefixes. It cannot remove a bias
    that does not vanish with m, such as a tail model that is wrong at a fixed threshold quantile. For
    per-sample quantities a prefix estimate covers only its own samples; the others keep the full estimate.

    Parameters
    ----------
    estimator : callable
        T(rewards, *args, **kwargs), per prompt or per sample.
    rewards : array_like, shape (n_prompts, m)
        Each prompt's m sampled rewards (finite; m >= 2).
    *args, **kwargs
        Passed to ``estimator``.
    order : int, default 2
        P, the number of nested prefixes (m must be divisible by 2^(P-1)).
    rate : float, default 1.0
        The bias expansion's rate (``prefix_weights``).

    Returns
    -------
    ndarray of float64
        The shape ``estimator`` returns.
    """
    r = _rewards(rewards, min_m=1)
    w = prefix_weights(order, rate)
    m = r.shape[1]
    if m // 2 ** (order - 1) < 4:
        raise ValueError(f"m: order {order} needs m >= {4 * 2 ** (order - 1)} rollouts (shortest prefix >= 4), got {m}")
    full = estimator(r, *args, **kwargs)
    out = w[0] * full
    for p in range(1, order):
        size = m // 2**p
        part = estimator(r[:, :size], *args, **kwargs)
        if np.ndim(full) == 2:  # per-sample quantities: the prefix estimate covers only its samples
            part = np.concatenate([part, full[:, size:]], axis=1)
        out = out + w[p] * part
    return out
