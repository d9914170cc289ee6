"""Test-time search allocation: split N expansions over the current candidates.

One registry, ``SEARCH_RULES``, separate from the training allocators because the inputs differ: a
search rule sees PRM scores R (k,) and a cosine-similarity matrix S (k, k), not pilot counts. Every rule
conserves the budget (largest-remainder rounding).

- temperature: independent sampling, the budget spread evenly (one each when N = k);
- beam: the top ``beam_width`` candidates by score share the budget evenly;
- dvts: candidates split into ``n_subtrees`` interleaved subtrees with equal budgets, each spent on its
  best-scoring candidate (Beeching et al. 2024, DVTS);
- rebase: B_i = N softmax(R / T_b)_i (REBASE, arXiv 2408.00724);
- dora: w'_i proportional to softmax(R / T_b)_i gamma_i, gamma_i = [row-softmax(S / T_s)]_ii the candidate's
  uniqueness; T_b = 0.1, T_s = 0.01 (DORA, arXiv 2506.15707). Two readings (``prune``): the paper's formula over
  every candidate (``prune=None``, the default), or the reference code's (``prune="rebase"``,
  ``scripts/sal/search/dora.py`` in WangXinglin/DORA): REBASE's rounded allocation first, candidates that got 0
  dropped, then softmax and uniqueness over the survivors only;
- optimal: the exact maximizer of P(success) = 1 - prod_j E[(1 - p_j)^B_j] over directions, given the
  directions' Beta beliefs (an oracle: it needs the world's truth), split evenly within each direction.

Rounding (``rounding``, rebase and dora): ``"conserve"`` (default) is largest-remainder rounding, which spends
exactly N; ``"reference"`` is the reference code's ``np.round(N w)``, which can spend N +- a few (the paper's Fig. 2
example gives 65 of 64) and is offered only for exact comparison with that code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import softmax

from ..beliefs import BetaBeliefs
from ..validation import as_budget, check_choice, shown
from .engine import solve
from .rounding import largest_remainder

__all__ = ["SEARCH_RULES", "search_allocate", "parse_search_spec", "uniqueness", "dora_weights", "rebase_weights"]


@dataclass(frozen=True)
class SearchRule:
    """A registered search rule: its name, a one-line description, the allocation function and its options."""

    name: str
    description: str
    fn: Callable
    options: tuple = ()


SEARCH_RULES: dict[str, SearchRule] = {}

PRUNE_READINGS = (None, "rebase")
ROUNDINGS = ("conserve", "reference")


def _rule(name, description, options=()):
    def wrap(fn):
        SEARCH_RULES[name] = SearchRule(name, description, fn, tuple(options))
        return fn

    return wrap


def _round(weights, budget, opts):
    if opts.get("rounding", "conserve") == "reference":
        return np.round(np.asarray(weights) * budget).astype(np.int64)
    return largest_remainder(weights, budget)


def _check_temperature(t, name):
    if not (isinstance(t, (int, float)) and np.isfinite(t) and t > 0):
        raise ValueError(f"{name}: must be a finite temperature > 0, got {shown(t)}")
    return float(t)


def _check_similarity(similarity, k):
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity: expected a square (k, k) matrix, got shape {s.shape}")
    if s.shape[0] != k:
        raise ValueError(f"similarity: shape {s.shape} does not match {k} scores")
    if not np.all(np.isfinite(s)):
        raise ValueError("similarity: must be finite (found NaN or inf)")
    if not np.allclose(s, s.T, atol=1e-9):
        raise ValueError("similarity: must be symmetric")
    return s


def uniqueness(similarity, t_s: float = 0.01) -> np.ndarray:
    """gamma_i = diag of the row-softmax of S / T_s: about 1/(size of i's direction) for block-structured S.

    Parameters
    ----------
    similarity : array_like, shape (n, n)
        The candidates' cosine similarities.
    t_s : float, default 0.01
        The similarity temperature.

    Returns
    -------
    ndarray, shape (n,)

    References
    ----------
    DORA, arXiv 2506.15707 (the uniqueness weights).
    """
    s = np.asarray(similarity, dtype=np.float64)
    return np.diagonal(softmax(s / t_s, axis=1)).copy()


def rebase_weights(scores, t_b: float = 0.1) -> np.ndarray:
    """softmax(R / T_b).

    Parameters
    ----------
    scores : array_like, shape (n,)
        The candidates' PRM scores R.
    t_b : float, default 0.1
        The temperature.

    Returns
    -------
    ndarray, shape (n,)

    References
    ----------
    REBASE, arXiv 2408.00724.
    """
    return softmax(np.asarray(scores, dtype=np.float64) / t_b)


def dora_weights(scores, similarity, t_b: float = 0.1, t_s: float = 0.01) -> np.ndarray:
    """w'_i proportional to softmax(R / T_b)_i gamma_i, normalized.

    Parameters
    ----------
    scores : array_like, shape (n,)
        The candidates' PRM scores R.
    similarity : array_like, shape (n, n)
        Their cosine similarities.
    t_b, t_s : float
        The score and similarity temperatures.

    Returns
    -------
    ndarray, shape (n,)
        Weights summing to 1.

    References
    ----------
    DORA, arXiv 2506.15707.
    """
    w = rebase_weights(scores, t_b) * uniqueness(similarity, t_s)
    return w / w.sum()


@_rule("temperature", "independent sampling: the budget spread evenly over candidates (one each when N = k)")
def _temperature(scores, similarity, budget, opts):
    return largest_remainder(np.ones(scores.size), budget)


@_rule("beam", "the top beam_width candidates by PRM score share the budget evenly (default beam_width = 4)",
       ("beam_width",))
def _beam(scores, similarity, budget, opts):
    width = min(int(opts.get("beam_width", 4)), scores.size)
    w = np.zeros(scores.size)
    w[np.argsort(-scores, kind="stable")[:width]] = 1.0
    return largest_remainder(w, budget)


@_rule("dvts", "n_subtrees interleaved subtrees with equal budgets, each spent on its best candidate (default 4)",
       ("n_subtrees",))
def _dvts(scores, similarity, budget, opts):
    m = min(int(opts.get("n_subtrees", 4)), scores.size)
    share = largest_remainder(np.ones(m), budget)
    out = np.zeros(scores.size, dtype=np.int64)
    for t in range(m):
        members = np.arange(t, scores.size, m)
        out[members[np.argmax(scores[members])]] += share[t]
    return out


@_rule("rebase", "REBASE: N softmax(R / T_b) (arXiv 2408.00724)", ("rounding",))
def _rebase(scores, similarity, budget, opts):
    return _round(rebase_weights(scores, opts["t_b"]), budget, opts)


@_rule("dora", "DORA: N softmax(R / T_b) x uniqueness from the similarity matrix at T_s (arXiv 2506.15707); "
               "prune='rebase' drops REBASE's zero-budget candidates first, as the reference code does",
       ("prune", "rounding"))
def _dora(scores, similarity, budget, opts):
    if opts.get("prune") is None:
        return _round(dora_weights(scores, similarity, opts["t_b"], opts["t_s"]), budget, opts)
    keep = np.flatnonzero(_rebase(scores, similarity, budget, opts) > 0)
    out = np.zeros(scores.size, dtype=np.int64)
    if keep.size:  # the reference code divides by zero here; nothing survives only when N rounds to 0 everywhere
        sub = similarity[np.ix_(keep, keep)]
        out[keep] = _round(dora_weights(scores[keep], sub, opts["t_b"], opts["t_s"]), budget, opts)
    return out


@_rule("optimal", "exact max of P(success) over directions given their Beta beliefs (oracle: needs directions, a, b)",
       ("directions", "a", "b"))
def _optimal(scores, similarity, budget, opts):
    directions, a, b = opts.get("directions"), opts.get("a"), opts.get("b")
    if directions is None or a is None or b is None:
        raise ValueError("optimal: needs the world's truth: directions= (k,), a= and b= (n_directions,)")
    directions = np.asarray(directions)
    present = np.unique(directions)
    bel = BetaBeliefs.from_params(np.asarray(a, dtype=float)[present], np.asarray(b, dtype=float)[present])
    per_dir = solve("log_miss", bel, budget)
    out = np.zeros(directions.size, dtype=np.int64)
    for j, bj in zip(present, per_dir):
        members = np.flatnonzero(directions == j)
        out[members] = largest_remainder(np.ones(members.size), int(bj))
    return out


def search_allocate(name, scores, similarity, budget, *, t_b: float = 0.1, t_s: float = 0.01, **options) -> np.ndarray:
    """Split ``budget`` expansions over k candidates with the search rule ``name``.

    Parameters
    ----------
    name : str
        One of SEARCH_RULES: "temperature", "beam", "dvts", "rebase", "dora", "optimal".
    scores : array_like of float, shape (k,)
        PRM scores, finite.
    similarity : array_like of float, shape (k, k)
        Symmetric cosine-similarity matrix (read by "dora").
    budget : int
        N >= 0 expansions.
    t_b, t_s : float
        Balance and similarity temperatures, > 0 (defaults 0.1 and 0.01, as DORA).
    **options
        Rule-specific, each refused by a rule that does not read it: beam_width (beam), n_subtrees (dvts);
        rounding = "conserve" | "reference" (rebase, dora); prune = None | "rebase" (dora); directions, a, b
        (optimal).

    Returns
    -------
    ndarray of int64, shape (k,), summing to ``budget`` (with ``rounding="reference"``: N w rounded entry by
    entry, which need not sum to ``budget``).

    Examples
    --------
    >>> S = [[1, 1, 1, .1], [1, 1, 1, .1], [1, 1, 1, .1], [.1, .1, .1, 1]]
    >>> search_allocate("dora", [0.0] * 4, S, 64).tolist()
    [11, 11, 10, 32]
    >>> S = [[1, 1, .1], [1, 1, .1], [.1, .1, 1]]
    >>> search_allocate("dora", [0.8, 0.2, 0.7], S, 64, prune="rebase", rounding="reference").tolist()
    [47, 0, 17]
    """
    rule = SEARCH_RULES[check_choice(name, "name", SEARCH_RULES)]
    unknown = sorted(set(options) - set(rule.options))
    if unknown:
        raise ValueError(f"options: {name!r} takes {', '.join(rule.options) or 'no options'}; got {', '.join(unknown)}")
    if options.get("prune") not in PRUNE_READINGS:
        raise ValueError(f"prune: must be None or 'rebase', got {options['prune']!r}")
    if options.get("rounding", "conserve") not in ROUNDINGS:
        raise ValueError(f"rounding: must be one of {', '.join(ROUNDINGS)}, got {options['rounding']!r}")
    r = np.asarray(scores, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"scores: expected a non-empty 1-D array, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("scores: must be finite (found NaN or inf)")
    s = _check_similarity(similarity, r.size)
    budget = as_budget(budget, "N")
    opts = {"t_b": _check_temperature(t_b, "t_b"), "t_s": _check_temperature(t_s, "t_s"), **options}
    out = rule.fn(r, s, budget, opts)
    exact = opts.get("rounding", "conserve") == "conserve"
    if (exact and out.sum() != budget) or out.min() < 0:  # pragma: no cover - a broken rule, not bad input
        raise RuntimeError(f"search rule {name!r} broke the budget contract (sum {int(out.sum())}, budget {budget})")
    return out


def parse_search_spec(spec: str) -> tuple[str, dict]:
    """A study's rule spec ``name[:key=value,...]`` as (name, options), e.g. ``"dora:prune=rebase"``.

    Values ``None`` and integers are converted; the options are checked by ``search_allocate`` when used.

    Parameters
    ----------
    spec : str
        The spec.

    Returns
    -------
    name : str
    options : dict

    Raises
    ------
    ValueError
        "rule: ..." for an unknown rule or a malformed option.

    Examples
    --------
    >>> parse_search_spec("dora:prune=rebase,rounding=reference")
    ('dora', {'prune': 'rebase', 'rounding': 'reference'})
    """
    name, _, rest = str(spec).partition(":")
    check_choice(name, "rule", SEARCH_RULES)
    options = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise ValueError(f"rule: expected name[:key=value,...], got {spec!r}")
        options[key] = None if value == "None" else int(value) if value.isdigit() else value
    bad = sorted(set(options) - set(SEARCH_RULES[name].options))
    if bad:
        raise ValueError(f"rule: {name!r} takes {', '.join(SEARCH_RULES[name].options) or 'no options'}; got "
                         f"{', '.join(bad)} in {spec!r}")
    return name, options
