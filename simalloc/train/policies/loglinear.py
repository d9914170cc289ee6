"""Simulator v4: a log-linear policy with shared features (issue 36, DESIGN 2.17).

pi(a | x) proportional to exp((theta . phi(x, a) + b_{x,a}) / T) over M actions (solution strategies), with the
shared parameters theta = (u, v) and the sparse features

    phi(x, a) = (e_a, tau 1[a in C_x] e_{k(x)}),     b_{x,a} = delta_x 1[a in C_x]  (or -inf: unreachable).

u (M logits) is the strategies' shared popularity, v (K logits) the skills: every solving action of a prompt
carries its skill k(x) with weight tau (``transfer``). So

- (a) several correct solutions: C_x holds ``solutions`` = m strategies (a run of the initial popularity ranking
  placed by difficulty: hard prompts need rare strategies). GRPO raises the strategies its successes use, in
  proportion to their mass, so a prompt sharpens onto its most popular solution and the shared u starves the
  rare strategies hard prompts need: Pass@k at large k can fall (narrowing);
- (b) shared skills with positive transfer: every success on any prompt of skill k raises v_k and with it every
  solving action of every prompt of skill k, the held-out ones and those that started near 0 included
  (expanding; tau = 0 turns it off);
- (c) unreachable prompts: a share ``unreachable`` of prompts has b = -inf on its solving actions, so p = 0
  exactly, no rollout succeeds and no gradient reaches them (nothing in theta can lift them);
- (d) per-rollout gradient noise: the sampled REINFORCE gradient is the policy's own (each rollout's action drawn,
  its exact score phi(x, a) - E_pi[phi(x, .)]), and ``score_noise`` sigma gives each rollout one more decision
  a' ~ pi(. | x) independent of its outcome, whose score enters the sum with weight A_r sigma
  (``_loglinear_score_noise``): zero mean, covariance sigma^2 (sum_r A_r^2) Cov_pi(phi), i.e. noise in the score's
  own directions; the gradient SNR is measured as the lab measures it (``simalloc.train.snr``);
- (e) a learning-rate ceiling (off unless ``curvature`` kappa > 0): D = ``nuisance`` more shared parameters w, at
  whose value 0 the pretrained policy is best: every solving action's logit falls by (kappa / (2 D)) ||w||^2, so
  the reward has curvature kappa / D in directions that carry no signal at the start, and each rollout's
  outcome-independent part (mechanism (d)'s extra decision: a trajectory's tokens move every parameter) has a score
  sigma z_r / T there, z_r ~ N(0, I_D), entering the REINFORCE sum as A_r sigma z_r / T. The mean gradient on w is
  -(kappa / D) w a / T per informative group (0 at w = 0) and its noise N(0, sigma^2 (sum_r A_r^2) I_D) / T^2
  shrinks with the batch (sigma = 0: no noise there). This is
  McCandlish et al.'s quadratic model (arXiv 1812.06162, section 2.2) in the noise directions: a step of size
  eps costs (eps^2 / 2) tr(H Sigma) / B there, so the best rate is finite and rises with B.

delta_x (fixed) puts the prompt's initial pass rate at its world's draw exactly: with W the solving strategies'
mass under softmax(u / T), p = W e^beta / (W e^beta + 1 - W), beta = (delta + tau v_k) / T.

Gradients. With A+ = a / s per success and A- = -a / f per failure, the REINFORCE sum over a group is
(a / T) (mean over successes of phi - mean over failures of phi) (the baseline E_pi[phi] cancels): on u the
successes' strategies are drawn from softmax(u / T) restricted to C_x and the failures' from its complement
(``_strategy_sampled_grad``, the window policy's kernel: conditionally on the outcome the boost is constant), on
v it is a tau / T for the prompt's skill (every success carries the skill, no failure does). The
Rao-Blackwellised gradient (its mean given the counts) is a (pi_j / T)(1_C / W - 1_F / (1 - W)) on u and the same
a tau / T on v.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...worlds import DifficultyWorld
from .base import Policy, zipf_strategies
from .kernels import (
    _head_sums,
    _loglinear_rates,
    _loglinear_score_noise,
    _skill_grad,
    _strategy_grad,
    _strategy_sampled_grad,
    _tail_sums,
)
from .strategy import StrategyPolicy

__all__ = ["LogLinearPolicy", "LOGLINEAR_DEFAULTS", "parse_policy_options", "REGIMES"]

#: the log-linear policy's options (``policy_options`` "key=value,..."): correct strategies per prompt, skills,
#: the skill feature's weight tau on solving actions (0: no transfer), the share of unreachable prompts
#: and the score noise; ``curvature`` kappa > 0 adds ``nuisance`` = D parameters w the policy sits at the top of
#: (mechanism (e), the learning-rate ceiling; 0: off)
LOGLINEAR_DEFAULTS = {"solutions": 4, "skills": 8, "transfer": 1.0, "unreachable": 0.1,
                      "score_noise": 12.0, "curvature": 0.0, "nuisance": 16}
#: the two regimes as option strings: narrowing (no transfer, every prompt reachable: GRPO only sharpens the shared
#: popularity) and expanding (skills transfer, a tenth of the prompts unreachable: the defaults)
REGIMES = {"narrowing": "transfer=0,unreachable=0", "expanding": "transfer=1,unreachable=0.1"}

#: the largest ``skills`` and ``nuisance``: each is a dense float64 vector the optimizer updates every step (1e6 is
#: 8 MB, far beyond any setting's need; a larger count is a typo that would otherwise fail as an allocation error)
MAX_PARAMS = 10 ** 6
#: each option's allowed range, as the errors state it
OPTION_RANGES = {"solutions": "an integer >= 1 (and < n_strategies)", "skills": f"an integer in [1, {MAX_PARAMS}]",
                 "nuisance": f"an integer in [1, {MAX_PARAMS}]", "transfer": "finite and >= 0",
                 "unreachable": "in [0, 1)", "score_noise": "finite and >= 0", "curvature": "finite and >= 0"}

#: initial pass rates are kept inside [TARGET_CLIP, 1 - TARGET_CLIP] so delta is finite (a draw of exactly 0 or 1)
TARGET_CLIP = 1e-9


def parse_policy_options(text: str) -> dict:
    """``LOGLINEAR_DEFAULTS`` updated by "key=value,..." or a ``REGIMES`` name, checked.

    Parameters
    ----------
    text : str
        "" (the defaults), overrides such as "transfer=0.5,solutions=2", and regime names ("narrowing",
        "expanding": their overrides, in place), e.g. "narrowing,score_noise=0".

    Returns
    -------
    dict
        solutions (int >= 1), skills (int in [1, ``MAX_PARAMS``]), transfer (float >= 0), unreachable (float in
        [0, 1)), score_noise (float >= 0), curvature (float >= 0), nuisance (int in [1, ``MAX_PARAMS``]).

    Raises
    ------
    ValueError
        Naming ``policy_options`` and the allowed keys and ranges.

    Examples
    --------
    >>> parse_policy_options("narrowing")["transfer"]
    0.0
    """
    items = [x.strip() for x in (text or "").split(",")]
    items = [y for x in items for y in (REGIMES[x].split(",") if x in REGIMES else [x])]
    out = dict(LOGLINEAR_DEFAULTS)
    for item in filter(None, items):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in out:
            raise ValueError(f"policy_options: {item!r} is not key=value with a key in {sorted(out)} "
                             f"(or a regime: {sorted(REGIMES)})")
        try:
            out[key] = float(value)
        except ValueError:
            raise ValueError(f"policy_options: {item!r}: the value is not a number ({key} must be "
                             f"{OPTION_RANGES[key]})") from None
    for key in ("solutions", "skills", "nuisance"):
        if not (out[key] >= 1 and float(out[key]).is_integer()) or (key != "solutions" and out[key] > MAX_PARAMS):
            raise ValueError(f"policy_options: {key} must be {OPTION_RANGES[key]}, got {out[key]!r}")
        out[key] = int(out[key])
    if not (np.isfinite(out["transfer"]) and out["transfer"] >= 0):
        raise ValueError(f"policy_options: transfer must be finite and >= 0, got {out['transfer']!r}")
    for key in ("score_noise", "curvature"):
        if not (np.isfinite(out[key]) and out[key] >= 0):
            raise ValueError(f"policy_options: {key} must be finite and >= 0, got {out[key]!r}")
    if not (np.isfinite(out["unreachable"]) and 0 <= out["unreachable"] < 1):
        raise ValueError(f"policy_options: unreachable must be in [0, 1), got {out['unreachable']!r}")
    for key in ("transfer", "unreachable", "score_noise", "curvature"):
        out[key] = float(out[key])
    return out


class LogLinearPolicy(Policy):
    """The v4 log-linear policy (module docstring): shared strategy logits u, skill logits v, fixed prompt offsets.

    Parameters
    ----------
    u : ndarray, shape (M,)
        The strategies' shared logits.
    v : ndarray, shape (K,)
        The skills' logits.
    prompts, eval_prompts : tuple of ndarray
        (lo, hi, skill, delta, reach) of the training and held-out prompts: the solving strategies [lo, hi) in rank
        order, the skill k(x), the solving actions' fixed offset delta_x and whether they are reachable.
    transfer : float
        tau >= 0, the skill feature's weight on solving actions.
    temperature, eval_temperature : float
        The rollout temperature (training pass rates and gradients) and the one Pass@k is evaluated at.
    score_noise : float
        sigma >= 0, the weight of each rollout's outcome-independent extra decision in the sampled gradient
        (mechanism (d); 0: none).
    curvature : float
        kappa >= 0, the reward's curvature summed over the nuisance directions (mechanism (e); 0: no nuisance
        parameters at all).
    nuisance : int
        D >= 1, the nuisance parameters' count when ``curvature`` > 0.
    """

    kind = "loglinear"

    def __init__(self, u, v, prompts, eval_prompts, transfer=1.0, temperature=1.0, eval_temperature=1.0,
                 score_noise=0.0, curvature=0.0, nuisance=16):
        super().__init__(temperature, eval_temperature)
        if not (np.isfinite(curvature) and curvature >= 0):
            raise ValueError(f"curvature: must be finite and >= 0, got {curvature!r}")
        if not (float(nuisance).is_integer() and 1 <= nuisance <= MAX_PARAMS):
            raise ValueError(f"nuisance: must be an integer in [1, {MAX_PARAMS}], got {nuisance!r}")
        self.curvature = float(curvature)
        self.w = np.zeros(int(nuisance) if curvature > 0 else 0)
        if not (np.isfinite(score_noise) and score_noise >= 0):
            raise ValueError(f"score_noise: must be finite and >= 0, got {score_noise!r}")
        self.score_noise = float(score_noise)
        self.u = np.array(u, dtype=np.float64)
        self.v = np.array(v, dtype=np.float64)
        if self.u.ndim != 1 or self.u.size < 2 or self.v.ndim != 1 or self.v.size < 1:
            raise ValueError("u, v: 1-d logits, u with >= 2 strategies and v with >= 1 skill")
        if not (np.isfinite(transfer) and transfer >= 0):
            raise ValueError(f"transfer: must be finite and >= 0, got {transfer!r}")
        self.transfer = float(transfer)
        self.prompts = self._checked(prompts, "prompts")
        self.eval_prompts = self._checked(eval_prompts, "eval_prompts")
        # (u / T, tail sums, head sums) of softmax(u / T) at the rollout and at the evaluation temperature
        self._sums = (np.empty(self.u.size), np.empty(self.u.size + 1), np.empty(self.u.size + 1))
        self._eval_sums = (np.empty(self.u.size), np.empty(self.u.size + 1), np.empty(self.u.size + 1))
        self._eval_idx = np.arange(self.eval_prompts[0].size, dtype=np.int64)
        self._refresh()

    def _checked(self, prompts, name):
        lo, hi, skill, delta, reach = prompts
        lo, hi = np.ascontiguousarray(lo, dtype=np.int64), np.ascontiguousarray(hi, dtype=np.int64)
        skill = np.ascontiguousarray(skill, dtype=np.int64)
        delta, reach = np.ascontiguousarray(delta, dtype=np.float64), np.ascontiguousarray(reach, dtype=bool)
        if not (lo.shape == hi.shape == skill.shape == delta.shape == reach.shape and lo.ndim == 1):
            raise ValueError(f"{name}: lo, hi, skill, delta, reach must be 1-d of one length")
        if lo.size and ((lo < 0).any() or (hi <= lo).any() or (hi > self.u.size).any()):
            raise ValueError(f"{name}: need 0 <= lo < hi <= M={self.u.size}")
        if skill.size and ((skill < 0).any() or (skill >= self.v.size).any()):
            raise ValueError(f"{name}: skill must be in 0..{self.v.size - 1}")
        if not np.isfinite(delta).all():
            raise ValueError(f"{name}: delta must be finite (unreachable prompts are marked by reach)")
        return lo, hi, skill, delta, reach

    @classmethod
    def from_world(cls, world: DifficultyWorld, n_pool: int, n_eval: int, n_strategies: int, zipf: float, rng,
                   temperature: float = 1.0, eval_temperature: float = 1.0, policy_options: str = ""):
        """u = T log pi (the rollout policy starts at the Zipf pi), v = 0; each prompt's solving strategies, skill,
        offset and reachability from ``_prompts`` (``policy_options``: ``parse_policy_options``)."""
        opts = parse_policy_options(policy_options)
        if opts["solutions"] >= n_strategies:
            raise ValueError(f"policy_options: solutions must be < n_strategies={n_strategies}, "
                             f"got {opts['solutions']}")
        pi = zipf_strategies(n_strategies, zipf)
        pol = cls(temperature * np.log(pi), np.zeros(opts["skills"]),
                  cls._prompts(world.sample(n_pool, rng), pi, opts, temperature, rng),
                  cls._prompts(world.sample(n_eval, rng), pi, opts, temperature, rng), opts["transfer"], temperature,
                  eval_temperature, opts["score_noise"], opts["curvature"], opts["nuisance"])
        pol._pi0, pol._opts, pol._t0 = pi, opts, float(temperature)
        return pol

    @staticmethod
    def _prompts(targets, pi, opts, temperature, rng):
        """(lo, hi, skill, delta, reach) for prompts whose initial pass rates at the rollout temperature T are
        ``targets``: m = ``solutions`` strategies starting where ``StrategyPolicy.windows`` starts the prompt's
        window (hard prompts in the tail), shifted to fit; the logit offset delta = T (logit(t) - logit(W)), W the
        strategies' initial mass pi(C); a random skill; a share ``unreachable`` of the prompts unreachable (drawn in
        this order from ``rng``)."""
        t = np.clip(np.asarray(targets, dtype=np.float64), TARGET_CLIP, 1.0 - TARGET_CLIP)
        m = opts["solutions"]
        lo, _ = StrategyPolicy.windows(t, pi)
        lo = np.minimum(lo, pi.size - m)
        hi = lo + m
        tail = np.concatenate([np.cumsum(pi[::-1])[::-1], [0.0]])
        w = np.clip(tail[lo] - tail[hi], 1e-300, 1.0 - 1e-16)
        delta = temperature * (special.logit(t) - (np.log(w) - np.log1p(-w)))
        skill = rng.integers(0, opts["skills"], size=t.size)
        reach = rng.random(t.size) >= opts["unreachable"]
        return lo, hi, skill, delta, reach

    def _boost(self, prompts, temperature):
        """beta = (delta + tau v_k - kappa ||w||^2 / (2 D)) / T: the solving actions' logit over the strategies' at
        temperature T."""
        _, _, skill, delta, _ = prompts
        return (delta + self.transfer * self.v[skill] - self._damage()) / temperature

    def _damage(self) -> float:
        """kappa ||w||^2 / (2 D): what the nuisance displacement costs every solving logit (0 when off)."""
        return 0.5 * self.curvature * float(np.dot(self.w, self.w)) / self.w.size if self.w.size else 0.0

    def make_eval_set(self, world: DifficultyWorld, n: int, rng):
        """n more held-out prompts from ``world``, built as the pool's; pass ``set_pass_rates`` the handle."""
        return self._prompts(world.sample(n, rng), self._pi0, self._opts, self._t0, rng)

    def set_pass_rates(self, handle) -> np.ndarray:
        """Pass rates of an eval set from ``make_eval_set`` at the evaluation temperature."""
        return self._rates(self._eval_sums, handle, self.eval_temperature, np.arange(handle[0].size))

    def _rates(self, sums, prompts, temperature, idx):
        """Pass rates of ``prompts[idx]`` at ``temperature`` given (u / T, its tail and head sums of softmax(u / T))."""
        lo, hi, _, _, reach = prompts
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return _loglinear_rates(*sums, lo, hi, self._boost(prompts, temperature), reach, idx, np.empty(idx.size))

    def _refresh(self):
        for sums, t in ((self._sums, self.temperature), (self._eval_sums, self.eval_temperature)):
            np.divide(self.u, t, out=sums[0])
            _tail_sums(sums[0], sums[1])
            _head_sums(sums[0], sums[2])

    @property
    def n_params(self) -> int:
        """The strategy logits u, the skill logits v and the nuisance parameters w (every parameter is shared)."""
        return int(self.u.size + self.v.size + self.w.size)

    def pass_rates(self, idx) -> np.ndarray:
        """p_i of training prompts ``idx`` under the rollout policy (module docstring)."""
        return self._rates(self._sums, self.prompts, self.temperature, idx)

    def eval_pass_rates(self, temperature: float | None = None) -> np.ndarray:
        """Pass rates of the eval prompts at the evaluation temperature, or at ``temperature`` (the same logits)."""
        if temperature is None or float(temperature) == self.eval_temperature:
            return self._rates(self._eval_sums, self.eval_prompts, self.eval_temperature, self._eval_idx)
        t = float(temperature)
        theta = self.u / t
        sums = (theta, _tail_sums(theta, np.empty(self.u.size + 1)), _head_sums(theta, np.empty(self.u.size + 1)))
        return self._rates(sums, self.eval_prompts, t, self._eval_idx)

    def _live(self, idx, coef, p=None):
        """idx as int64 and coef / T with unreachable prompts' (and, given p, degenerate groups') coefficients 0."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        coef = np.asarray(coef, dtype=np.float64)
        ok = self.prompts[4][idx]
        if p is not None:
            p = np.asarray(p, dtype=np.float64)
            ok = ok & (p > 0) & (p < 1)
        return idx, np.ascontiguousarray(np.where(ok, coef, 0.0) / self.temperature)

    def gradient(self, idx, p, coef) -> np.ndarray:
        """The Rao-Blackwellised ascent direction sum_r coef_r grad p_r / (p_r (1 - p_r)) over (u, v): u gets
        coef (pi_j / T)(1_C / W - 1_F / (1 - W)), v_k(x) gets coef tau / T."""
        idx, c = self._live(idx, coef, p)
        lo, hi, skill, _, _ = self.prompts
        w = _loglinear_rates(*self._sums, lo, hi, np.zeros(lo.size), np.ones(lo.size, dtype=bool), idx,
                             np.empty(idx.size))
        g_u = _strategy_grad(self.u, self._sums[1], lo, hi, idx, w, c, np.empty(self.u.size))
        s = np.where(c != 0, 1, 0).astype(np.int64)  # both outcomes present for every live group
        g_v = _skill_grad(skill, idx, s, 2 * s, c, self.transfer, np.zeros(self.v.size))
        return np.concatenate([g_u, g_v, self._nuisance_mean(c)])

    def _nuisance_mean(self, c) -> np.ndarray:
        """-(kappa / D) w sum_i c_i: the nuisance part of the expected direction (c already / T, 0 if dead)."""
        if not self.w.size:
            return self.w.copy()
        return -(self.curvature / self.w.size) * self.w * float(np.sum(c))

    def sampled_gradient(self, idx, s, n, coef, rng) -> np.ndarray:
        """The sampled REINFORCE direction given s successes of n rollouts per prompt, with the score noise when
        ``score_noise`` > 0 (module docstring); its expectation given the counts is ``gradient``. ``rng`` is a numpy
        Generator."""
        idx, c = self._live(idx, coef)
        s, n = np.ascontiguousarray(s, dtype=np.int64), np.ascontiguousarray(n, dtype=np.int64)
        if not (idx.shape == s.shape == n.shape == c.shape):
            raise ValueError("idx, s, n, coef: must have one length")
        if ((s < 0) | (s > n)).any():
            raise ValueError("s: must satisfy 0 <= s <= n")
        lo, hi, skill, _, _ = self.prompts
        g_u = _strategy_sampled_grad(self._sums[1], lo, hi, idx, s, n, c, rng, np.zeros(self.u.size))
        g_v = _skill_grad(skill, idx, s, n, c, self.transfer, np.zeros(self.v.size))
        if self.score_noise > 0:
            _loglinear_score_noise(self._sums[1], lo, hi, skill, self._boost(self.prompts, self.temperature), idx, s, n,
                                   c, self.score_noise, self.transfer, rng, g_u, g_v)
        g_w = self._nuisance_mean(np.where((s > 0) & (s < n), c, 0.0))
        if self.w.size and self.score_noise > 0:  # sum_r A_r sigma z_r / T over the groups: Gaussian, per coordinate
            mixed = (s > 0) & (s < n) & (c != 0)  # variance sigma^2 sum_i c_i^2 (1/s_i + 1/f_i)
            var = np.sum(np.where(mixed, c * c * (1.0 / np.maximum(s, 1) + 1.0 / np.maximum(n - s, 1)), 0.0))
            g_w = g_w + self.score_noise * np.sqrt(var) * rng.standard_normal(self.w.size)
        return np.concatenate([g_u, g_v, g_w])

    def apply(self, delta) -> None:
        """(u, v, w) += delta, in that order."""
        delta = np.asarray(delta, dtype=np.float64)
        if delta.shape != (self.n_params,):
            raise ValueError(f"delta: must have shape ({self.n_params},), got {delta.shape}")
        self.u += delta[:self.u.size]
        self.v += delta[self.u.size:self.u.size + self.v.size]
        self.w += delta[self.u.size + self.v.size:]
        self._refresh()

    def prompt_entropies(self) -> np.ndarray:
        """Entropy (nats) of each training prompt's rollout distribution, shape (n_pool,).

        Notes
        -----
        With pi = softmax(u / T), W = pi(C), p the pass rate and S_C = sum_{j in C} pi_j log pi_j (S_F likewise):
        H = -(p / W) S_C - ((1 - p) / (1 - W)) S_F - p log(p / W) - (1 - p) log((1 - p) / (1 - W)).
        """
        z = self.u / self.temperature
        logpi = z - special.logsumexp(z)
        pi = np.exp(logpi)
        cum = np.concatenate([[0.0], np.cumsum(pi * logpi)])
        cw = np.concatenate([[0.0], np.cumsum(pi)])
        lo, hi = self.prompts[0], self.prompts[1]
        s_c, w = cum[hi] - cum[lo], np.clip(cw[hi] - cw[lo], 0.0, 1.0)
        s_f, w_f = cum[-1] - s_c, np.clip(1.0 - w, 0.0, 1.0)
        p = self.pass_rates(np.arange(lo.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            h_c = np.where(p > 0, -(p / w) * s_c - special.xlogy(p, p / w), 0.0)
            h_f = np.where(p < 1, -((1 - p) / w_f) * s_f - special.xlogy(1 - p, (1 - p) / w_f), 0.0)
        return h_c + h_f

    def entropy(self) -> float:
        """Mean over the pool's prompts of their rollout distribution's entropy (nats; ``prompt_entropies``)."""
        return float(self.prompt_entropies().mean())

    def cluster_entropies(self) -> np.ndarray:
        """Mean entropy (nats) of the training prompts of each skill, shape (K,) (NaN for a skill with none)."""
        h, skill = self.prompt_entropies(), self.prompts[2]
        total = np.bincount(skill, weights=h, minlength=self.v.size)
        count = np.bincount(skill, minlength=self.v.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count
