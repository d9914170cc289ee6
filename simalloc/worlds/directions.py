"""Direction worlds for test-time search: candidates grouped into reasoning directions.

A problem has J directions with popularity pi_j (how often the model's fresh candidates land in j),
quality w_j, and true success rate p_j ~ Beta(kappa w_j, kappa (1 - w_j)). Candidates carry a PRM score
R_i = w_{d(i)} + noise and pairwise cosine similarities with block structure plus noise, so a
similarity-based method (DORA) must recover the directions from the matrix, never from the labels.
A wrong completion in direction j gives that direction's own wrong answer, so wrong answers can win a vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..objectives.moments import log_beta_ratio
from ..seeding import as_generator

__all__ = ["DirectionWorld", "SearchProblem", "success_probability"]


def success_probability(a, b, budget_per_direction) -> float:
    """Exact P(at least one success) = 1 - prod_j B(a_j, b_j + B_j)/B(a_j, b_j) for p_j ~ Beta(a_j, b_j).

    Parameters
    ----------
    a, b : array_like
        The directions' Beta parameters.
    budget_per_direction : array_like of int
        Rollouts B_j spent on each direction.

    Returns
    -------
    float

    Examples
    --------
    >>> success_probability([1.0], [1.0], [1])  # one draw of p ~ U(0, 1)
    0.5
    """
    bj = np.asarray(budget_per_direction, dtype=np.float64)
    return float(-np.expm1(np.sum(log_beta_ratio(a, b, 0, bj))))


@dataclass(frozen=True, eq=False)
class SearchProblem:
    """One problem's truth: popularity, quality, Beta beliefs (a, b) and realized success rates p, shape (J,).

    Attributes
    ----------
    popularity : ndarray
        How often the policy samples each direction (sums to 1).
    quality : ndarray
        Each direction's mean success rate.
    a, b : ndarray
        The Beta beliefs about each direction's success rate.
    p : ndarray
        The realized success rates.
    """

    popularity: np.ndarray
    quality: np.ndarray
    a: np.ndarray
    b: np.ndarray
    p: np.ndarray

    @property
    def n_directions(self) -> int:
        return int(self.p.size)


@dataclass(frozen=True)
class DirectionWorld:
    """Generator of search problems and of candidates' PRM scores and similarity matrices.

    Same-direction candidates are near-duplicates in embedding space (cosine 0.998 +- 0.001 by default):
    DORA's uniqueness at T_s = 0.01 recovers 1/k_j only when same-direction similarities are within about
    T_s of 1 (gamma_i = 1 / (1 + (k_j - 1) exp(-(1 - s_within)/T_s)) for exact blocks), so ``sim_within``
    is the knob that decides whether DORA can see the directions at all.

    Popularity is Dirichlet(popularity_alpha) (small alpha: a few directions dominate the samples) and
    independent of quality by default (``popularity_quality_corr`` > 0 makes popular directions better,
    < 0 worse: the case where solution-level allocation is misled).

    Parameters
    ----------
    n_directions : int, default 6
        Solution directions J per problem.
    kappa : float, default 4.0
        Concentration of the directions' Beta beliefs about their success rates.
    quality_a, quality_b : float
        Directions' mean success rates ~ Beta(quality_a, quality_b).
    popularity_alpha : float, default 0.5
        Dirichlet concentration of how often the policy samples each direction.
    popularity_quality_corr : float, default 0
        Correlation of popularity with quality, in [-1, 1].
    score_noise : float, default 0.05
        The PRM score's noise around a candidate's direction quality.
    sim_within, sim_between : float
        Cosine similarity of candidates of the same and of different directions.

    References
    ----------
    DORA, arXiv 2506.15707 (direction-oriented resource allocation; the uniqueness weights); REBASE,
    arXiv 2408.00724.
    """

    n_directions: int = 6
    kappa: float = 4.0
    quality_a: float = 1.0
    quality_b: float = 4.0
    popularity_alpha: float = 0.5
    popularity_quality_corr: float = 0.0
    score_noise: float = 0.05
    sim_within: float = 0.998
    sim_between: float = 0.5
    sim_noise_within: float = 0.001
    sim_noise: float = 0.05

    def __post_init__(self):
        if self.n_directions < 1:
            raise ValueError(f"n_directions: must be >= 1, got {self.n_directions}")
        for name in ("kappa", "quality_a", "quality_b", "popularity_alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0")
        if not -1 <= self.popularity_quality_corr <= 1:
            raise ValueError("popularity_quality_corr: must be in [-1, 1]")

    def sample_problem(self, rng=None) -> SearchProblem:
        rng = as_generator(rng)
        quality = np.clip(rng.beta(self.quality_a, self.quality_b, size=self.n_directions), 1e-3, 1 - 1e-3)
        pop = rng.dirichlet(np.full(self.n_directions, self.popularity_alpha))
        c = self.popularity_quality_corr
        if c:
            # tilt popularity toward (c > 0) or away from (c < 0) the better directions
            pop = pop * np.exp(4.0 * c * (quality - quality.mean()))
            pop /= pop.sum()
        a, b = self.kappa * quality, self.kappa * (1 - quality)
        return SearchProblem(pop, quality, a, b, rng.beta(a, b))

    def candidates(self, problem: SearchProblem, k: int, rng=None) -> np.ndarray:
        """Directions of k fresh candidates, drawn by popularity, shape (k,)."""
        return as_generator(rng).choice(problem.n_directions, size=k, p=problem.popularity)

    def scores(self, problem: SearchProblem, directions: np.ndarray, rng=None) -> np.ndarray:
        """PRM scores R_i = w_{d(i)} + N(0, score_noise^2)."""
        rng = as_generator(rng)
        return problem.quality[directions] + self.score_noise * rng.normal(size=directions.size)

    def similarity(self, directions: np.ndarray, rng=None) -> np.ndarray:
        """Symmetric cosine-similarity matrix: sim_within / sim_between by direction, plus symmetric noise, diag 1."""
        rng = as_generator(rng)
        same = directions[:, None] == directions[None, :]
        s = np.where(same, self.sim_within, self.sim_between)
        noise = np.where(same, self.sim_noise_within, self.sim_noise) * rng.normal(size=s.shape)
        s = np.clip(s + (noise + noise.T) / np.sqrt(2), -1.0, 1.0)
        np.fill_diagonal(s, 1.0)
        return s
