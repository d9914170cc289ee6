"""Vote worlds: per-prompt distributions over answer classes, for majority voting and its stopping rules.

Class 0 is the correct answer; classes 1..K-1 are distinct wrong answers. A prompt's distribution is
(c, (1 - c) d) with c ~ Beta(correct_a, correct_b) and d ~ Dirichlet(distractor_concentration): with a
small concentration one wrong answer dominates, so the correct answer is not always the mode. Each
rollout also has a token length (log-normal, wrong rollouts ``wrong_length_factor`` longer), so savings
can be reported in tokens as well as in rollouts.

Presets (``VOTE_PRESETS``):
- "math500-like": open-ended answers of a strong 7B-class model: mean correct share 0.70
  (Beta(3.5, 1.5)); wrong answers scatter over many strings, the three most frequent kept, Dirichlet(0.3)
  (typically one dominant wrong string); mean length 550 tokens. Majority ratios are high: the mode holds
  0.72 of 64 votes on average and the correct answer is the mode of 89% of prompts.
- "gpqa-like": four-option multiple choice (K = 4 exactly) at moderate accuracy: mean correct share 0.45
  (Beta(2, 2.5)), distractors Dirichlet(1.0) (three live options); mean length 1100 tokens. Majority ratios
  are lower (0.55 on average) and the correct option is the mode of 60% of prompts.
(The quoted ratios are measured by ``majority_ratio_summary`` and recorded in the tests.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._rng import as_generator

__all__ = ["VoteWorld", "VOTE_PRESETS", "make_vote_world", "majority_ratio_summary"]


@dataclass(frozen=True)
class VoteWorld:
    n_classes: int = 4
    correct_a: float = 3.5
    correct_b: float = 1.5
    distractor_concentration: float = 0.3
    mean_tokens: float = 550.0
    token_sigma: float = 0.5
    wrong_length_factor: float = 1.2
    name: str = "custom"

    def __post_init__(self):
        if self.n_classes < 2:
            raise ValueError(f"n_classes: a vote world needs at least 2 answer classes, got {self.n_classes}")
        for f in ("correct_a", "correct_b", "distractor_concentration", "mean_tokens", "token_sigma",
                  "wrong_length_factor"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{f}: must be finite and > 0, got {v!r}")

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Answer distributions, shape (n, n_classes), column 0 correct, rows summing to 1."""
        rng = as_generator(rng)
        c = rng.beta(self.correct_a, self.correct_b, size=n)
        d = rng.dirichlet(np.full(self.n_classes - 1, self.distractor_concentration), size=n)
        probs = np.column_stack([c, (1 - c)[:, None] * d])
        return probs / probs.sum(axis=1, keepdims=True)

    def lengths(self, correct: np.ndarray, rng=None) -> np.ndarray:
        """Token lengths of rollouts (log-normal with mean ``mean_tokens`` for correct ones)."""
        rng = as_generator(rng)
        mu = np.log(self.mean_tokens) - 0.5 * self.token_sigma**2
        base = rng.lognormal(mu, self.token_sigma, size=np.shape(correct))
        return base * np.where(correct, 1.0, self.wrong_length_factor)


VOTE_PRESETS = {
    "math500-like": VoteWorld(4, 3.5, 1.5, 0.3, 550.0, 0.5, 1.2, "math500-like"),
    "gpqa-like": VoteWorld(4, 2.0, 2.5, 1.0, 1100.0, 0.5, 1.2, "gpqa-like"),
}


def make_vote_world(spec) -> VoteWorld:
    if isinstance(spec, VoteWorld):
        return spec
    if spec not in VOTE_PRESETS:
        raise ValueError(f"world: unknown vote world {spec!r}; valid: {', '.join(VOTE_PRESETS)}")
    return VOTE_PRESETS[spec]


def majority_ratio_summary(world: VoteWorld, n_prompts: int = 20000, n_votes: int = 64, rng=0) -> dict:
    """Mean share of the mode among n_votes votes, and how often the mode of the distribution is correct."""
    rng = as_generator(rng)
    probs = world.sample(n_prompts, rng)
    counts = np.array([rng.multinomial(n_votes, p) for p in probs])
    return {
        "mean_majority_ratio": float(np.mean(counts.max(axis=1) / n_votes)),
        "p_correct_is_mode": float(np.mean(np.argmax(probs, axis=1) == 0)),
        "mean_correct_share": float(probs[:, 0].mean()),
    }
