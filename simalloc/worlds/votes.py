"""Vote worlds: per-prompt distributions over answer classes, for majority voting and its stopping rules.

Class 0 is the correct answer; classes 1..K-1 are distinct wrong answer strings. A prompt's distribution is
(c, (1 - c) d) with c ~ Beta(correct_a, correct_b) and d ~ Dirichlet(concentration x j^-tail_exponent,
j = 1..K-1): with a small concentration one wrong string dominates, so the correct answer is not always the
mode, and a positive tail exponent spreads the rest over a long tail of rarer strings (as real open-ended
answers do). ``fit_vote_world`` calibrates these parameters from observed answer-count vectors. Each
rollout also has a token length (log-normal, wrong rollouts ``wrong_length_factor`` longer), so savings
can be reported in tokens as well as in rollouts.

Presets (``VOTE_PRESETS``):
- "math500-like": open-ended answers of a strong 7B-class model: mean correct share 0.70
  (Beta(3.5, 1.5)); wrong answers scatter over 24 distinct strings, Dirichlet(0.3 j^-0.5) (typically one
  dominant wrong string and a tail); mean length 550 tokens.
- "gpqa-like": four-option multiple choice at moderate accuracy: the answer space really is four options, so
  K = 4 (a 20-string tail would be unrealistic here); mean correct share 0.45 (Beta(2, 2.5)), distractors
  Dirichlet(1.0) (three live options); mean length 1100 tokens.
Provenance: these parameters are stylized (mean correct shares in the range reported for 7B-class models on
MATH-500 and GPQA-Diamond), NOT fitted to real answer counts; ``fit_vote_world`` is the calibration path for
real pools (``tests/test_votes.py`` checks that it recovers known parameters). The summary statistics each
preset produces (majority ratio, how often the correct answer is the mode, distinct wrong strings among 64
votes) are measured by ``majority_ratio_summary`` and pinned by tests against independent simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..seeding import as_generator

__all__ = ["VoteWorld", "VOTE_PRESETS", "make_vote_world", "majority_ratio_summary", "fit_vote_world",
           "answer_count_statistics"]


@dataclass(frozen=True)
class VoteWorld:
    """Answer distributions (c, (1 - c) d) per prompt and rollout lengths (module docstring).

    Parameters
    ----------
    n_classes : int, default 4
        Answer classes K >= 2 (class 0 correct).
    correct_a, correct_b : float
        The correct share c ~ Beta(correct_a, correct_b).
    distractor_concentration : float
        The wrong strings' Dirichlet concentration (small: one wrong string dominates).
    mean_tokens, token_sigma : float
        A correct rollout's mean length and the log-normal's sigma.
    wrong_length_factor : float
        How much longer wrong rollouts are.
    name : str
        A label for reports.
    tail_exponent : float, default 0
        The wrong strings' Dirichlet weights decay as j^-tail_exponent (a long tail of rare strings).
    """

    n_classes: int = 4
    correct_a: float = 3.5
    correct_b: float = 1.5
    distractor_concentration: float = 0.3
    mean_tokens: float = 550.0
    token_sigma: float = 0.5
    wrong_length_factor: float = 1.2
    name: str = "custom"
    tail_exponent: float = 0.0

    def __post_init__(self):
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"n_classes: a vote world needs an integer >= 2 answer classes, got {self.n_classes!r}")
        if not (np.isfinite(self.tail_exponent) and self.tail_exponent >= 0):
            raise ValueError(f"tail_exponent: must be finite and >= 0, got {self.tail_exponent!r}")
        for f in ("correct_a", "correct_b", "distractor_concentration", "mean_tokens", "token_sigma",
                  "wrong_length_factor"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{f}: must be finite and > 0, got {v!r}")

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Answer distributions, shape (n, n_classes), column 0 correct, rows summing to 1."""
        rng = as_generator(rng)
        c = rng.beta(self.correct_a, self.correct_b, size=n)
        d = rng.dirichlet(self.distractor_weights(), size=n)
        probs = np.column_stack([c, (1 - c)[:, None] * d])
        return probs / probs.sum(axis=1, keepdims=True)

    def distractor_weights(self) -> np.ndarray:
        """Dirichlet parameters of the wrong strings: concentration x j^-tail_exponent, j = 1..n_classes - 1."""
        j = np.arange(1, self.n_classes)
        return self.distractor_concentration * j ** (-self.tail_exponent)

    def lengths(self, correct: np.ndarray, rng=None) -> np.ndarray:
        """Token lengths of rollouts (log-normal with mean ``mean_tokens`` for correct ones)."""
        rng = as_generator(rng)
        mu = np.log(self.mean_tokens) - 0.5 * self.token_sigma**2
        base = rng.lognormal(mu, self.token_sigma, size=np.shape(correct))
        return base * np.where(correct, 1.0, self.wrong_length_factor)


VOTE_PRESETS = {
    "math500-like": VoteWorld(25, 3.5, 1.5, 0.3, 550.0, 0.5, 1.2, "math500-like", tail_exponent=0.5),
    "gpqa-like": VoteWorld(4, 2.0, 2.5, 1.0, 1100.0, 0.5, 1.2, "gpqa-like"),
}


def make_vote_world(spec) -> VoteWorld:
    """A vote world from a preset name (``VOTE_PRESETS``) or a ``VoteWorld``.

    Parameters
    ----------
    spec : str or VoteWorld
        "math500-like", "gpqa-like", or a world.

    Returns
    -------
    VoteWorld

    Raises
    ------
    ValueError
        "world: unknown vote world ..." listing the presets.
    """
    if isinstance(spec, VoteWorld):
        return spec
    if spec not in VOTE_PRESETS:
        raise ValueError(f"world: unknown vote world {spec!r}; valid: {', '.join(VOTE_PRESETS)}")
    return VOTE_PRESETS[spec]


def majority_ratio_summary(world: VoteWorld, n_prompts: int = 20000, n_votes: int = 64, rng=None) -> dict:
    """Mean share of the mode among n_votes votes, how often the mode of the distribution is correct, the mean
    correct share and the mean number of distinct wrong strings among n_votes votes.

    Parameters
    ----------
    world : VoteWorld
        The world.
    n_prompts : int, default 20000
        Simulated prompts.
    n_votes : int, default 64
        Votes per prompt.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).

    Returns
    -------
    dict
        mean_majority_ratio, p_correct_is_mode, mean_correct_share, mean_distinct_wrong.
    """
    rng = as_generator(rng)
    probs = world.sample(n_prompts, rng)
    counts = rng.multinomial(n_votes, probs)
    return {
        "mean_majority_ratio": float(np.mean(counts.max(axis=1) / n_votes)),
        "p_correct_is_mode": float(np.mean(np.argmax(probs, axis=1) == 0)),
        "mean_correct_share": float(probs[:, 0].mean()),
        "mean_distinct_wrong": float(np.mean((counts[:, 1:] > 0).sum(axis=1))),
    }


def answer_count_statistics(counts) -> np.ndarray:
    """Summary statistics of answer-count vectors (rows: prompts; column 0 = votes for the correct answer, the
    other columns wrong strings in any order), all with the same total n: [mean correct share, its variance,
    mean top wrong share among wrong votes, mean distinct wrong strings / n].

    Parameters
    ----------
    counts : array_like, shape (n_prompts, n_strings)
        Answer-count vectors with equal totals.

    Returns
    -------
    ndarray of float64, shape (4,)
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    share = counts[:, 0] / n
    wrong = counts[:, 1:]
    n_wrong = wrong.sum(axis=1)
    has = n_wrong > 0
    top = np.where(has, wrong.max(axis=1) / np.maximum(n_wrong, 1), np.nan)
    return np.array([share.mean(), share.var(), np.nanmean(top) if has.any() else 1.0,
                     np.mean((wrong > 0).sum(axis=1) / n)])


def fit_vote_world(counts, n_classes: int | None = None, rng=None, n_sim: int = 4000, **fixed) -> VoteWorld:
    """Calibrate a VoteWorld to observed answer-count vectors by simulated moments.

    ``counts``: (n_prompts, n_strings) votes per answer string, column 0 the correct answer, every row with the
    same total n (e.g. 64 rollouts per prompt from a pool). The Beta(correct_a, correct_b) of the correct share
    comes from its mean and variance corrected for binomial noise (method of moments); the distractor
    concentration and tail exponent are chosen on a grid (log-spaced 0.05..5, 0..2) to match the mean top
    wrong share and the mean number of distinct wrong strings in ``n_sim`` simulated prompts (common random
    numbers across the grid). Length parameters stay at their defaults unless given in ``fixed``.

    Parameters
    ----------
    counts : array_like, shape (n_prompts, n_strings)
        Votes per answer string, column 0 the correct answer, equal row totals.
    n_classes : int, optional
        K of the fitted world (default: the columns of ``counts``).
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    n_sim : int, default 4000
        Simulated prompts per grid point.
    **fixed
        ``VoteWorld`` fields to keep at given values.

    Returns
    -------
    VoteWorld
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] < 2 or counts.shape[1] < 2:
        raise ValueError(f"counts: expected (n_prompts >= 2, n_strings >= 2) answer counts, got shape {counts.shape}")
    if counts.dtype.kind not in "iu" or counts.min() < 0:
        raise ValueError("counts: must be non-negative integers")
    n = counts.sum(axis=1)
    if n.min() != n.max() or n[0] < 2:
        raise ValueError("counts: every prompt needs the same total number of votes (>= 2)")
    n = int(n[0])
    k = int(n_classes or counts.shape[1])
    obs = answer_count_statistics(counts)
    m, v = obs[0], obs[1]
    # Var(share) = Var(c) (1 - 1/n) + E[c(1-c)]/n and E[c(1-c)] = m(1-m) - Var(c): solve for Var(c)
    var_c = max((v - m * (1 - m) / n) / (1 - 1 / n), 1e-6)
    var_c = min(var_c, m * (1 - m) * 0.999)
    total = m * (1 - m) / var_c - 1
    a, b = max(m * total, 1e-3), max((1 - m) * total, 1e-3)
    best, best_err = None, np.inf
    seed = int(as_generator(rng).integers(2**63))  # one seed: the same simulated draws for every grid point
    for conc in np.geomspace(0.05, 5, 21):
        for tail in np.linspace(0, 2, 9):
            w = VoteWorld(k, a, b, float(conc), tail_exponent=float(tail))
            g = np.random.default_rng(seed)
            sim = g.multinomial(n, w.sample(n_sim, g))
            s = answer_count_statistics(sim)
            err = ((s[2] - obs[2]) / 0.02) ** 2 + ((s[3] - obs[3]) / 0.005) ** 2
            if err < best_err:
                best, best_err = (conc, tail), err
    return VoteWorld(k, float(a), float(b), float(best[0]), tail_exponent=float(best[1]), name="fitted", **fixed)
