"""Reward-tail worlds: per-prompt reward distributions with exact best-of-N values and advantages.

For N i.i.d. rewards with cdf F, M_N = max. Exact quantities:

  E[M_N] = int_0^inf (1 - F^N) dx - int_-inf^0 F^N dx            (closed form where one exists)
  A_N(r) = E[max(r, M_{N-1})] - E[M_N] = r + int_r^inf (1 - F^{N-1}) dx - E[M_N]

computed with F^N = exp(N log F) from scipy's logcdf (no loss in the tails) and adaptive quadrature, or
closed forms: Uniform/Beta(1,1) N/(N+1); exponential (GPD xi = 0) sigma H_N; GPD xi != 0
sigma/xi (N B(N, 1 - xi) - 1); Gumbel mu + beta (gamma_E + log N). The tests check quadrature against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, special, stats

from ..seeding import as_generator
from ..validation import as_int

__all__ = ["TailWorld", "TAIL_WORLDS", "make_tail_world"]


@dataclass(frozen=True, eq=False)
class TailWorld:
    """A reward distribution (a frozen scipy.stats distribution or a two-component mixture).

    Attributes
    ----------
    name : str
        The key of ``TAIL_WORLDS``.
    dist : scipy.stats frozen distribution, optional
        The reward distribution (None for a mixture).
    mixture : tuple
        ((weight, frozen distribution), ...) for a mixture.
    kind : {"bounded", "light", "exponential", "heavy", "misspecified"}
        The tail's class, for reports.
    """

    name: str
    dist: object = None
    mixture: tuple = ()  # ((weight, frozen dist), ...) when a mixture
    kind: str = "light"  # the tail class: bounded | light | exponential | heavy | misspecified
    _cache: dict = field(default_factory=dict, repr=False)

    def _logcdf(self, x):
        if self.mixture:
            return special.logsumexp([np.log(w) + d.logcdf(x) for w, d in self.mixture], axis=0)
        return self.dist.logcdf(x)

    def cdf(self, x):
        return np.exp(self._logcdf(x))

    def sample(self, size, rng=None) -> np.ndarray:
        rng = as_generator(rng)
        if not self.mixture:
            return self.dist.rvs(size=size, random_state=rng)
        weights = np.array([w for w, _ in self.mixture])
        comp = rng.choice(len(self.mixture), size=size, p=weights / weights.sum())
        out = np.empty(np.shape(comp))
        for j, (_, d) in enumerate(self.mixture):
            mask = comp == j
            out[mask] = d.rvs(size=int(mask.sum()), random_state=rng)
        return out

    def _support(self):
        dists = [d for _, d in self.mixture] if self.mixture else [self.dist]
        lo = min(d.support()[0] for d in dists)
        hi = max(d.support()[1] for d in dists)
        return lo, hi

    def _tail_integral(self, lo, power):
        """int_lo^hi (1 - F^power) dx, split at the median region for quad's sake."""
        _, hi = self._support()

        def f(x):
            return -np.expm1(power * self._logcdf(x))

        if np.isfinite(hi):
            return integrate.quad(f, lo, hi, limit=400, epsabs=1e-12, epsrel=1e-10)[0]
        mid = max(lo, float(self.quantile_guess(0.999)))
        a = integrate.quad(f, lo, mid, limit=400, epsabs=1e-12, epsrel=1e-10)[0] if mid > lo else 0.0
        b = integrate.quad(f, mid, np.inf, limit=400, epsabs=1e-12, epsrel=1e-10)[0]
        return a + b

    def quantile_guess(self, q):
        if not self.mixture:
            return self.dist.ppf(q)
        return max(d.ppf(q) for _, d in self.mixture)

    def expected_max(self, n: int) -> float:
        """Exact E[M_N]."""
        n = as_int(n, "N")
        key = ("emax", n)
        if key not in self._cache:
            closed = self._closed_form_max(n)
            self._cache[key] = closed if closed is not None else self._quadrature_max(n)
        return self._cache[key]

    def _quadrature_max(self, n):
        lo, hi = self._support()
        if np.isfinite(lo):
            return lo + self._tail_integral(lo, n)
        neg = integrate.quad(lambda x: np.exp(n * self._logcdf(x)), -np.inf, 0.0, limit=400, epsabs=1e-12)[0]
        return self._tail_integral(0.0, n) - neg

    def _closed_form_max(self, n):
        return None

    def advantage(self, r, n: int) -> np.ndarray:
        """Exact per-sample best-of-N advantage A_N(r), vectorized over r."""
        n = as_int(n, "N")
        r = np.asarray(r, dtype=np.float64)
        if not np.all(np.isfinite(r)):
            raise ValueError("r: rewards must be finite")
        e = self.expected_max(n)
        flat = [float(x) + (self._tail_integral(float(x), n - 1) if n > 1 else 0.0) - e for x in r.reshape(-1)]
        return np.array(flat).reshape(r.shape)

    def advantage_fn(self, n: int, grid: int = 300):
        """A vectorized A_N(r): exact on a quantile grid (1e-7 .. 1 - 1e-7), linear in between, and its exact
        asymptotes outside (E[M_{N-1}] - E[M_N] below, r - E[M_N] above, where F^{N-1} = 1 to double precision)."""
        n = as_int(n, "N")
        key = ("afn", n, grid)
        if key not in self._cache:
            u = np.concatenate([np.geomspace(1e-7, 0.5, grid // 2), 1 - np.geomspace(0.5, 1e-7, grid // 2)[1:]])
            xs = np.unique(np.array([self.quantile_guess(q) if not self.mixture else self._mix_ppf(q) for q in u]))
            ys = self.advantage(xs, n)
            low = (self.expected_max(n - 1) if n > 1 else 0.0) - self.expected_max(n)
            e = self.expected_max(n)

            def fn(r, xs=xs, ys=ys, low=low, e=e):
                r = np.asarray(r, dtype=np.float64)
                out = np.interp(r, xs, ys)
                out = np.where(r < xs[0], low if n > 1 else r - e, out)
                return np.where(r > xs[-1], r - e, out)

            self._cache[key] = fn
        return self._cache[key]

    def _mix_ppf(self, q):
        from scipy.optimize import brentq

        lo = min(d.ppf(1e-12) for _, d in self.mixture)
        hi = max(d.ppf(1 - 1e-12) for _, d in self.mixture)
        return brentq(lambda x: self.cdf(x) - q, lo, hi, xtol=1e-12)


def _gumbel(mu=0.0, beta=1.0):
    w = TailWorld(f"gumbel({mu},{beta})", stats.gumbel_r(mu, beta), kind="exponential")
    object.__setattr__(w, "_closed_form_max", lambda n: mu + beta * (np.euler_gamma + np.log(n)))
    return w


def _gpd(xi, sigma=1.0):
    kind = "bounded" if xi < 0 else ("exponential" if xi == 0 else "heavy")
    w = TailWorld(f"gpd(xi={xi})", stats.genpareto(xi, scale=sigma), kind=kind)

    def closed(n):
        if xi == 0:
            return sigma * float(np.sum(1.0 / np.arange(1, n + 1)))
        return sigma / xi * (n * special.beta(n, 1 - xi) - 1)

    object.__setattr__(w, "_closed_form_max", closed)
    return w


def _uniform():
    w = TailWorld("uniform(0,1)", stats.beta(1, 1), kind="bounded")
    object.__setattr__(w, "_closed_form_max", lambda n: n / (n + 1))
    return w


TAIL_WORLDS = {
    "gaussian": lambda: TailWorld("gaussian(0,1)", stats.norm(0, 1), kind="light"),
    "gumbel": _gumbel,
    "gpd_bounded": lambda: _gpd(-0.3),
    "exponential": lambda: _gpd(0.0),
    "gpd_heavy": lambda: _gpd(0.3),
    "beta": lambda: TailWorld("beta(2,5)", stats.beta(2, 5), kind="bounded"),
    "uniform": _uniform,
    "student_t": lambda: TailWorld("student_t(4)", stats.t(4), kind="heavy"),
    # 97% N(0,1) + 3% N(3, 0.5): the m samples rarely see the second mode; any tail fit is misspecified
    "mixture": lambda: TailWorld("mixture", mixture=((0.97, stats.norm(0, 1)), (0.03, stats.norm(3, 0.5))),
                                 kind="misspecified"),
}


def make_tail_world(name) -> TailWorld:
    """A reward world from its name (``TAIL_WORLDS``) or a ``TailWorld``.

    Parameters
    ----------
    name : str or TailWorld
        The world.

    Returns
    -------
    TailWorld

    Raises
    ------
    ValueError
        "world: unknown tail world ..." listing the names.
    """
    if isinstance(name, TailWorld):
        return name
    if name not in TAIL_WORLDS:
        raise ValueError(f"world: unknown tail world {name!r}; valid: {', '.join(TAIL_WORLDS)}")
    return TAIL_WORLDS[name]()
