"""Difficulty worlds: distributions of per-prompt pass rates p, each with its exact Pass@k.

Pass@k of a world is E_p[1 - (1-p)^k]: the probability that k independent rollouts on a random
prompt contain a success.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize, special

from ..objectives import hit_utility
from ..seeding import as_generator
from ..validation import as_counts, as_positive_finite

__all__ = [
    "DifficultyWorld",
    "BetaWorld",
    "BetaMixtureWorld",
    "LogitNormalWorld",
    "EmpiricalWorld",
    "fit_beta_binomial",
    "fit_beta_binomial_mixture",
    "make_world",
    "WORLD_KINDS",
]


def _as_k(k) -> np.ndarray:
    k_arr = np.asarray(k, dtype=np.float64)
    if not np.all(np.isfinite(k_arr)) or (k_arr.size and k_arr.min() < 0):
        raise ValueError("k: must be finite and >= 0")
    return k_arr


class DifficultyWorld:
    """A distribution of pass rates; subclasses implement ``sample`` and ``pass_at_k``.

    Notes
    -----
    ``pass_at_k`` must be exact (a closed form or a quadrature with a stated error), since the simulator's
    evaluations and the property tests compare against it; ``spec()`` returns the dict ``make_world`` rebuilds
    the world from.
    """

    def sample(self, n: int, rng=None) -> np.ndarray:
        """n pass rates in [0, 1], shape (n,)."""
        raise NotImplementedError

    def pass_at_k(self, k) -> np.ndarray:
        """Exact E_p[1 - (1-p)^k], broadcast over k."""
        raise NotImplementedError

    def spec(self) -> dict:
        """The dict ``make_world`` rebuilds this world from ({"kind": ..., parameters})."""
        raise NotImplementedError


@dataclass(frozen=True)
class BetaWorld(DifficultyWorld):
    """p ~ Beta(a, b); Pass@k = 1 - B(a, b+k)/B(a, b).

    Parameters
    ----------
    a, b : float
        The Beta parameters, finite and > 0 (default 0.5, 0.5: HORA's paper world, U-shaped).

    Examples
    --------
    >>> round(float(BetaWorld(1.0, 1.0).pass_at_k(1)), 12)  # uniform p: E[p] = 1/2
    0.5
    """

    a: float = 0.5
    b: float = 0.5

    def __post_init__(self):
        as_positive_finite(self.a, "a")
        as_positive_finite(self.b, "b")

    def sample(self, n, rng=None):
        return as_generator(rng).beta(self.a, self.b, size=n)

    def pass_at_k(self, k):
        return hit_utility(self.a, self.b, _as_k(k))

    def spec(self):
        return {"kind": "beta", "a": self.a, "b": self.b}


@dataclass(frozen=True)
class BetaMixtureWorld(DifficultyWorld):
    """p ~ sum_j w_j Beta(a_j, b_j): e.g. saturated easy mass plus a hard tail.

    The default is 35% near-solved prompts Beta(20, 1), 40% mid Beta(2, 2) and 25% hard Beta(0.3, 6).

    Parameters
    ----------
    weights : tuple of float
        The components' weights (normalised to sum 1).
    a, b : tuple of float
        The components' Beta parameters, > 0.

    Notes
    -----
    Pass@k = 1 - sum_j w_j B(a_j, b_j + k) / B(a_j, b_j), exact.
    """

    weights: tuple = (0.35, 0.40, 0.25)
    a: tuple = (20.0, 2.0, 0.3)
    b: tuple = (1.0, 2.0, 6.0)

    def __post_init__(self):
        w = np.asarray(self.weights, dtype=float)
        if not (len(self.weights) == len(self.a) == len(self.b)) or w.size == 0:
            raise ValueError("weights, a, b: must be non-empty and of equal length")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError("weights: must be >= 0 and sum to 1")
        as_positive_finite(self.a, "a")
        as_positive_finite(self.b, "b")

    def sample(self, n, rng=None):
        rng = as_generator(rng)
        comp = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights))
        return rng.beta(np.asarray(self.a)[comp], np.asarray(self.b)[comp])

    def pass_at_k(self, k):
        k = _as_k(k)
        return sum(w * hit_utility(a, b, k) for w, a, b in zip(self.weights, self.a, self.b))

    def spec(self):
        return {"kind": "beta_mixture", "weights": list(self.weights), "a": list(self.a), "b": list(self.b)}


@dataclass(frozen=True)
class LogitNormalWorld(DifficultyWorld):
    """logit(p) ~ Normal(mu, sigma^2); Pass@k by 200-node Gauss-Hermite quadrature.

    Parameters
    ----------
    mu : float
        The mean logit (default -1: most prompts below 1/2).
    sigma : float
        The logit's standard deviation, > 0.
    """

    mu: float = -1.0
    sigma: float = 2.0
    _nodes: tuple = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not np.isfinite(self.mu):
            raise ValueError("mu: must be finite")
        as_positive_finite(self.sigma, "sigma")

    def sample(self, n, rng=None):
        return special.expit(as_generator(rng).normal(self.mu, self.sigma, size=n))

    def pass_at_k(self, k):
        k = _as_k(k)
        x, w = special.roots_hermitenorm(200)
        w = w / w.sum()
        # (1-p)^k in log space: k * log(1-p) with log(1-p) = -softplus(mu + sigma x)
        log_q = -np.logaddexp(0.0, self.mu + self.sigma * x)
        return 1.0 - np.tensordot(np.exp(np.multiply.outer(k, log_q)), w, axes=([-1], [0]))

    def spec(self):
        return {"kind": "logit_normal", "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True, eq=False)
class EmpiricalWorld(DifficultyWorld):
    """A world built from a model's measured pass counts, one (successes, trials) per prompt.

    A random prompt i is drawn uniformly and its pass rate from its Jeffreys posterior
    Beta(s_i + 1/2, t_i - s_i + 1/2); Pass@k = mean_i 1 - B(a_i, b_i + k)/B(a_i, b_i), exact for
    this world. ``fit_beta_binomial`` gives the smooth alternative (one Beta fitted to all prompts).

    Parameters
    ----------
    successes, trials : ndarray of int
        One entry per prompt, 0 <= successes <= trials, trials >= 1.
    source : str, optional
        Where the counts came from (shown in reports).

    References
    ----------
    H. Jeffreys, "An invariant form for the prior probability in estimation problems", Proc. R. Soc. A 186, 1946.
    """

    successes: np.ndarray
    trials: np.ndarray
    source: str = ""

    def __post_init__(self):
        s, t = as_counts(self.successes, self.trials)
        if t.min() < 1:
            raise ValueError("trials: every prompt needs at least one rollout")
        object.__setattr__(self, "successes", s)
        object.__setattr__(self, "trials", t)

    @property
    def a(self):
        return self.successes + 0.5

    @property
    def b(self):
        return self.trials - self.successes + 0.5

    @classmethod
    def from_csv(cls, path) -> "EmpiricalWorld":
        """Read a CSV with header columns ``successes`` and ``trials`` (one row per prompt; extra columns ignored).

        UTF-8 with or without a byte-order mark (Excel), spaces around names and values allowed."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path: no such CSV file {str(path)!r}")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path.name}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
        reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = cols
        missing = {"successes", "trials"} - set(cols)
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {sorted(missing)}; the header must name successes,trials "
                             f"(found {cols})")
        s, t = [], []
        for line, row in enumerate(reader, start=2):
            try:
                s.append(int(str(row["successes"]).strip()))
                t.append(int(str(row["trials"]).strip()))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path.name} line {line}: successes and trials must be integers, "
                    f"got {row['successes']!r}, {row['trials']!r}"
                ) from None
        if not s:
            raise ValueError(f"{path.name}: no prompt rows")
        try:
            return cls(np.array(s), np.array(t), str(path))
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None

    def sample(self, n, rng=None):
        rng = as_generator(rng)
        i = rng.integers(0, self.successes.size, size=n)
        return rng.beta(self.a[i], self.b[i])

    def pass_at_k(self, k):
        k = _as_k(k)
        return np.mean(hit_utility(self.a, self.b, np.multiply.outer(k, np.ones(self.a.size))), axis=-1)

    def spec(self):
        return {"kind": "empirical", "source": self.source, "n_prompts": int(self.successes.size)}


def _betabinom_logpmf_kernel(s, t, a, b):
    """log BetaBinom(s; t, a, b) = log C(t, s) + log B(s + a, t - s + b) - log B(a, b) (equals
    scipy.stats.betabinom.logpmf, without its per-call overhead inside likelihood fits)."""
    return (special.gammaln(t + 1) - special.gammaln(s + 1) - special.gammaln(t - s + 1)
            + special.betaln(s + a, t - s + b) - special.betaln(a, b))


def fit_beta_binomial(successes, trials) -> BetaWorld:
    """Maximum-likelihood Beta(a, b) for pass counts under the Beta-Binomial model (scipy.stats.betabinom).

    Parameters
    ----------
    successes : array_like of int
        Successes per prompt.
    trials : int or array_like of int
        Rollouts per prompt (>= 1 each; prompts may differ).

    Returns
    -------
    BetaWorld
        The fitted world.

    Raises
    ------
    ValueError
        For invalid counts or a prompt without rollouts.
    RuntimeError
        When the likelihood fit (Nelder-Mead on log a, log b) does not converge.

    Notes
    -----
    Maximises sum_i log BetaBinom(s_i | t_i, a, b), grouping prompts with equal (s, t). With no overdispersion
    (every prompt at the same rate) the maximum runs off to a + b -> infinity; ``advise`` tests that first
    (Tarone's test) and says so.
    """
    s, t = as_counts(successes, trials)
    if t.min() < 1:
        raise ValueError("trials: every prompt needs at least one rollout")

    pairs, mult = np.unique(np.stack([s, t]), axis=1, return_counts=True)  # the likelihood by distinct (s, t)
    us, ut = pairs

    def nll(log_ab):
        a, b = np.exp(log_ab)
        return -np.sum(mult * _betabinom_logpmf_kernel(us, ut, a, b))

    m = (s.sum() + 0.5) / (t.sum() + 1.0)
    res = optimize.minimize(nll, x0=np.log([m * 2, (1 - m) * 2]), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    if not res.success:
        raise RuntimeError(f"fit_beta_binomial: the likelihood fit did not converge ({res.message})")
    a, b = np.exp(res.x)
    return BetaWorld(float(a), float(b))


def fit_beta_binomial_mixture(successes, trials, components: int = 2, rng=None, starts: int = 3) -> BetaMixtureWorld:
    """Maximum-likelihood mixture of ``components`` Beta-Binomials for pass counts.

    Likelihood: prod_i sum_j w_j BetaBinom(s_i; t_i, a_j, b_j) (scipy.stats.betabinom), maximised over log a_j,
    log b_j and softmax weights by Nelder-Mead from ``starts`` seeded starting points (components initialised at
    spread pass-rate quantiles); the best optimum is returned, components ordered by mean pass rate.

    Parameters
    ----------
    successes : array_like of int
        Successes per prompt.
    trials : int or array_like of int
        Rollouts per prompt (>= 1).
    components : int, default 2
        Mixture components.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    starts : int, default 3
        Starting points tried.

    Returns
    -------
    BetaMixtureWorld

    Raises
    ------
    RuntimeError
        When no start converges.
    """
    s, t = as_counts(successes, trials)
    if t.min() < 1:
        raise ValueError("trials: every prompt needs at least one rollout")
    components = int(components)
    if components < 1:
        raise ValueError(f"components: must be >= 1, got {components}")
    rng = as_generator(rng)
    ratio = (s + 0.5) / (t + 1.0)
    pairs, mult = np.unique(np.stack([s, t]), axis=1, return_counts=True)  # the likelihood by distinct (s, t)
    us, ut = pairs[0][:, None], pairs[1][:, None]
    log_choose = special.gammaln(ut + 1) - special.gammaln(us + 1) - special.gammaln(ut - us + 1)

    def unpack(x):
        x = np.clip(x, -30.0, 30.0)  # Beta parameters in [1e-13, 1e13]: keeps the search away from overflow
        a, b = np.exp(x[:components]), np.exp(x[components:2 * components])
        w = special.softmax(np.concatenate([[0.0], x[2 * components:]]))
        return w, a, b

    def nll(x):
        w, a, b = unpack(x)
        logp = log_choose + special.betaln(us + a, ut - us + b) - special.betaln(a, b) + np.log(w)
        top = logp.max(axis=1, keepdims=True)
        value = -np.sum(mult * (top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))))
        return value if np.isfinite(value) else np.inf

    best = None
    for start in range(starts):
        q = np.quantile(ratio, (np.arange(components) + 0.5) / components)
        q = np.clip(q * np.exp(0.3 * rng.standard_normal(components) * (start > 0)), 0.02, 0.98)
        conc = 2.0 + 3.0 * start
        x0 = np.concatenate([np.log(q * conc), np.log((1 - q) * conc), np.zeros(components - 1)])
        res = optimize.minimize(nll, x0, method="Nelder-Mead",
                                options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 20000, "maxfev": 20000})
        if best is None or res.fun < best.fun:
            best = res
    w, a, b = unpack(best.x)
    order = np.argsort(a / (a + b))
    return BetaMixtureWorld(tuple(float(v) for v in w[order] / w.sum()), tuple(float(v) for v in a[order]),
                            tuple(float(v) for v in b[order]))


WORLD_KINDS = ("beta", "beta_mixture", "logit_normal", "empirical")


#: parameters of the short string form "kind:p1,p2" (all or none must be given)
STRING_ARITY = {"beta": ("a", "b"), "logit_normal": ("mu", "sigma")}


def make_world(spec) -> DifficultyWorld:
    """A world from a spec: a ``DifficultyWorld``, a dict {"kind": ..., params}, or a short string
    ("beta:0.5,0.5", "logit_normal:-1,2", "beta_mixture", "empirical:path.csv").

    Parameters
    ----------
    spec : DifficultyWorld, dict or str
        The world; ``WORLD_KINDS`` lists the kinds.

    Returns
    -------
    DifficultyWorld

    Raises
    ------
    ValueError
        "world: ..." for an unknown kind, a wrong number of parameters or parameters out of range.

    Examples
    --------
    >>> make_world("beta:2,3")
    BetaWorld(a=2.0, b=3.0)
    """
    if isinstance(spec, DifficultyWorld):
        return spec
    if isinstance(spec, str):
        kind, _, rest = spec.partition(":")
        kind = kind.strip()
        if kind not in WORLD_KINDS:
            raise ValueError(f"world: unknown kind {kind!r}; valid: {', '.join(WORLD_KINDS)}")
        if kind == "empirical":
            return EmpiricalWorld.from_csv(rest)
        if kind in STRING_ARITY:
            fields = [x.strip() for x in rest.split(",")] if rest.strip() else []
            want = STRING_ARITY[kind]
            if fields and len(fields) != len(want):
                raise ValueError(f"world: {kind!r} takes {len(want)} parameters ({', '.join(want)}), e.g. "
                                 f"'{kind}:{','.join(['1'] * len(want))}'; got {spec!r}")
            try:
                params = [float(x) for x in fields]
            except ValueError:
                raise ValueError(f"world: parameters of {kind!r} must be numbers ({', '.join(want)}); got {spec!r}") \
                    from None
        else:
            params = []
            if rest.strip():
                raise ValueError(f"world: {kind!r} takes no parameters in the short form; got {spec!r}")
        spec = {"kind": kind, "_positional": params}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"world: expected a DifficultyWorld, a dict with 'kind', or a string, got {spec!r}")
    kind = spec["kind"]
    if kind not in WORLD_KINDS:
        raise ValueError(f"world: unknown kind {kind!r}; valid: {', '.join(WORLD_KINDS)}")
    params = {k: v for k, v in spec.items() if k not in ("kind", "_positional")}
    positional = spec.get("_positional", [])
    cls = {"beta": BetaWorld, "beta_mixture": BetaMixtureWorld, "logit_normal": LogitNormalWorld}.get(kind)
    if kind == "empirical":
        return EmpiricalWorld.from_csv(params["path"])
    try:
        return cls(*positional, **params)
    except TypeError as exc:
        raise ValueError(f"world: bad parameters for {kind!r}: {exc}") from None
