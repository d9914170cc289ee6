"""Parallel test-time search under an allocation rule, in a direction world.

A search with budget N and depth D: N fresh candidates from the root (directions drawn by popularity);
at each of the next D - 1 steps the rule splits N expansions over the current candidates from their PRM
scores and similarity matrix, and every child inherits its parent's direction; at the end each of the N
leaves completes, correctly with probability p of its direction and otherwise with its direction's wrong
answer, and a PRM-weighted majority vote picks the answer. Compute is N per step for every rule.
"""

from __future__ import annotations

import numpy as np

from ..allocators.search import parse_search_spec, search_allocate
from ..seeding import as_generator
from ..worlds.directions import DirectionWorld, SearchProblem, success_probability

__all__ = ["run_search", "one_step_success", "allocate_candidates"]


def run_search(world: DirectionWorld, problem: SearchProblem, rule: str, budget: int, depth: int = 4, rng=None,
               t_b: float = 0.1, t_s: float = 0.01) -> dict:
    """One search; returns {"vote_correct", "any_correct", "p_success", "expansions"} (p_success: exact P(some leaf
    correct); expansions: candidates expanded at each of the ``depth`` steps, the compute spent). ``rule`` is a
    search-rule spec, ``name[:key=value,...]`` (``parse_search_spec``).

    Parameters
    ----------
    world : DirectionWorld
        Generates candidates, scores and similarities.
    problem : SearchProblem
        The problem's truth.
    rule : str
        The search rule spec.
    budget : int
        Candidates kept per step.
    depth : int, default 4
        Search steps, >= 1.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    t_b, t_s : float
        The score and similarity temperatures of REBASE and DORA (0.1, 0.01 as their papers).

    Returns
    -------
    dict
    """
    if depth < 1:
        raise ValueError(f"depth: must be >= 1, got {depth}")
    rng = as_generator(rng)
    dirs = world.candidates(problem, budget, rng)
    expansions = [int(dirs.size)]
    for _ in range(depth - 1):
        scores = world.scores(problem, dirs, rng)
        sim = world.similarity(dirs, rng)
        dirs = np.repeat(dirs, allocate_candidates(rule, problem, dirs, scores, sim, budget, t_b, t_s))
        expansions.append(int(dirs.size))
    correct = rng.random(dirs.size) < problem.p[dirs]
    answers = np.where(correct, 0, dirs + 1)
    weights = np.clip(world.scores(problem, dirs, rng), 1e-6, None)
    votes = np.bincount(answers, weights=weights, minlength=problem.n_directions + 1)
    per_dir = np.bincount(dirs, minlength=problem.n_directions)
    return {
        "vote_correct": bool(np.argmax(votes) == 0),
        "any_correct": bool(correct.any()),
        "p_success": float(1 - np.prod((1 - problem.p) ** per_dir)),
        "expansions": expansions,
    }


def one_step_success(world: DirectionWorld, problem: SearchProblem, rule: str, k: int, budget: int, rng=None,
                     t_b: float = 0.1, t_s: float = 0.01) -> tuple[float, np.ndarray]:
    """Exact P(success) under the directions' Beta beliefs for one allocation of ``budget`` over k candidates.

    Parameters
    ----------
    world : DirectionWorld
        Generates the k candidates.
    problem : SearchProblem
        The problem's truth.
    rule : str
        The search rule spec.
    k : int
        Candidates drawn.
    budget : int
        Rollouts split over them.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    t_b, t_s : float
        The score and similarity temperatures of REBASE and DORA (0.1, 0.01 as their papers).

    Returns
    -------
    p_success : float
        ``success_probability`` of the allocation summed by direction.
    per_direction : ndarray of float
        Rollouts per direction (the allocation summed by each candidate's direction).
    """
    rng = as_generator(rng)
    dirs = world.candidates(problem, k, rng)
    scores = world.scores(problem, dirs, rng)
    sim = world.similarity(dirs, rng)
    alloc = allocate_candidates(rule, problem, dirs, scores, sim, budget, t_b, t_s)
    per_dir = np.bincount(dirs, weights=alloc, minlength=problem.n_directions)
    return success_probability(problem.a, problem.b, per_dir), per_dir


def allocate_candidates(rule: str, problem: SearchProblem, dirs, scores, sim, budget: int, t_b: float = 0.1,
                        t_s: float = 0.01) -> np.ndarray:
    """``search_allocate`` for a rule spec; the oracle rule "optimal" is handed the world's truth (directions, a, b).

    Parameters
    ----------
    rule : str
        The search rule spec (``parse_search_spec``).
    problem : SearchProblem
        The truth (used by "optimal" only).
    dirs : ndarray of int
        Each candidate's direction.
    scores : ndarray
        The candidates' PRM scores.
    sim : ndarray
        Their similarity matrix.
    budget : int
        Rollouts to split.
    t_b, t_s : float
        The score and similarity temperatures of REBASE and DORA (0.1, 0.01 as their papers).

    Returns
    -------
    ndarray of int
        Rollouts per candidate (sums to ``budget``).
    """
    name, options = parse_search_spec(rule)
    if name == "optimal":
        options = {**options, "directions": dirs, "a": problem.a, "b": problem.b}
    return search_allocate(name, scores, sim, budget, t_b=t_b, t_s=t_s, **options)
