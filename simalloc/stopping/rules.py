"""Stopping rules for majority voting: one registry, validated parameters, a vectorized simulator."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import special

from ..records import Record
from ..seeding import as_generator
from ..validation import check_choice
from . import kernels as K

__all__ = [
    "StoppingRule",
    "RuleRun",
    "VoteRead",
    "STOPPING_RULES",
    "BSPRT_READINGS",
    "P1_CODES",
    "make_rule",
    "run_rule",
    "stopping_point",
    "dirichlet_leader_table",
    "esc_expected_votes",
    "dirichlet_leader_probability",
    "read_votes",
]


@dataclass(frozen=True)
class StoppingRule:
    """A stopping rule: registry name, kernel code and parameters (see ``kernels``).

    Build one with ``make_rule(name, **params)``, which range-checks every parameter.

    Attributes
    ----------
    name : str
        The key of ``STOPPING_RULES``.
    code : int
        The integer the numba kernels dispatch on.
    params : dict
        The rule's parameters (``cap`` or ``n`` and the rule's own).
    description : str
        One line with the reference.
    """

    name: str
    code: int
    params: dict = field(default_factory=dict)
    description: str = ""

    def vector(self) -> np.ndarray:
        """The parameters as the float64 vector the kernels read (order fixed per rule)."""
        p = self.params
        if self.code == K.FIXED:
            return np.array([p["n"]], dtype=np.float64)
        if self.code == K.BSPRT:
            return np.array(
                [
                    p["cap"],
                    p["alpha"],
                    p["beta"],
                    p["min_confirm"],
                    p["degradation"],
                    p["p_known"],
                    P1_CODES[p["p1"]],
                    p["answer_space"],
                    p["p1_ratio"],
                    p["min_votes"],
                ],
                float,
            )
        if self.code in (K.AC_BETA, K.AC_DIRICHLET):
            return np.array([p["cap"], p["confidence"]], dtype=np.float64)
        return np.array([p["cap"], p["window"]], dtype=np.float64)

    @property
    def cap(self) -> int:
        """The most votes the rule can read (``n`` for fixed-N)."""
        return int(self.params.get("n", self.params.get("cap", 0)))


STOPPING_RULES: dict[str, StoppingRule] = {
    "fixed": StoppingRule("fixed", K.FIXED, {"n": 64}, "fixed-N majority vote (TTRL: N = 64)"),
    "bsprt": StoppingRule(
        "bsprt",
        K.BSPRT,
        {
            "cap": 64,
            "alpha": 0.05,
            "beta": 0.05,
            "min_confirm": 5,
            "degradation": 0.6,
            "p_known": 0.0,
            "p1": "observed",
            "answer_space": 4,
            "p1_ratio": 0.5,
            "min_votes": 1,
        },
        "OptPO's Bayesian SPRT, one reading of its unpublished details (see make_rule and BSPRT_READINGS): stop when "
        "(p0/p1)^(v_L - v_S) >= (1-beta)/alpha holds for min_confirm consecutive votes and at least min_votes "
        "votes are in; p0 = degradation x majority ratio",
    ),
    "ac_beta": StoppingRule(
        "ac_beta",
        K.AC_BETA,
        {"cap": 40, "confidence": 0.95},
        "Adaptive-Consistency, Beta rule on the top two counts: 1 - I_0.5(a+1, b+1) >= 0.95, max 40",
    ),
    "ac_dirichlet": StoppingRule(
        "ac_dirichlet",
        K.AC_DIRICHLET,
        {"cap": 40, "confidence": 0.95},
        "Adaptive-Consistency, Dirichlet rule: P(leader has the largest probability) >= 0.95, "
        "max 40; over the five most voted answers (the reference code's top_k_elements), "
        "the Beta rule under three distinct answers",
    ),
    "esc": StoppingRule(
        "esc",
        K.ESC,
        {"cap": 40, "window": 5},
        "Early-Stopping Self-Consistency: windows of 5, stop at the first unanimous window, at most "
        "floor(cap / window) windows (max 40 votes)",
    ),
}


#: the BSPRT off-class probability p1 (an unpublished choice; see make_rule)
P1_CODES = {"observed": K.P1_OBSERVED, "space": K.P1_SPACE, "ratio": K.P1_RATIO}

#: every reading of OptPO's unpublished BSPRT details that studies and checks report side by side:
#: the p1 normaliser x the consistency-check count (min_confirm) x the policy-update threshold (min_votes)
BSPRT_READINGS: dict[str, dict] = {
    f"{p1name}/c{confirm}/v{min_votes}": {**p1, "min_confirm": confirm, "min_votes": min_votes}
    for p1name, p1 in (
        ("observed", {"p1": "observed"}),
        ("space4", {"p1": "space", "answer_space": 4}),
        ("ratio0.5", {"p1": "ratio", "p1_ratio": 0.5}),
    )
    for confirm in (1, 5)
    for min_votes in (1, 16, 32)
}


def make_rule(name: str, **params) -> StoppingRule:
    """The registered rule ``name`` with parameters overridden; every parameter is range-checked.

    BSPRT (OptPO, arXiv 2512.02882): hypotheses H_j 'answer j is the consensus' with likelihood
    p0^{v_j} prod_{c != j} p1^{v_c}; p0 = degradation x (leader's vote share); stop and accept the leader when
    log Lambda = (v_L - v_S) log(p0/p1) >= log((1 - beta)/alpha) has held for ``min_confirm`` consecutive
    votes and at least ``min_votes`` votes are in, else stop at ``cap``. The paper's off-class probability,
    '5 consistency checks', '0.6 degradation' and its 16/32-sample update threshold are not public in exact
    form, so each is a parameter (``BSPRT_READINGS`` lists the readings reported side by side):

    - ``p1="observed"``: p1 = (1 - p0)/(observed answers - 1); with two answers seen the leader needs a share
      > 0.833 to stop, so stopping depends on how many distinct answers appeared;
    - ``p1="space"``: p1 = (1 - p0)/(answer_space - 1), a fixed answer space (4 for four-option GPQA);
    - ``p1="ratio"``: p1 = p1_ratio x p0, a fixed likelihood ratio (a vote margin of log(19)/log(1/ratio)).

    ``p_known`` > 0 replaces the estimates by fixed binary p0 = p_known, p1 = 1 - p_known (Wald's SPRT, for
    testing). Integer parameters must be integers (a bool or 1e10 is refused); n and cap are at most 100,000.

    Parameters
    ----------
    name : str
        A key of ``STOPPING_RULES``: fixed, bsprt, ac_beta, ac_dirichlet, esc.
    **params
        Overrides of the rule's parameters (unknown names are refused, listing the valid ones).

    Returns
    -------
    StoppingRule

    Raises
    ------
    ValueError, TypeError
        "<parameter>: ..." with the allowed range.

    References
    ----------
    OptPO, arXiv 2512.02882 (BSPRT); A. Aggarwal et al., "Let's Sample Step by Step: Adaptive-Consistency for
    Efficient Reasoning and Coding with LLMs", EMNLP 2023; ESC, ICLR 2024; A. Wald, "Sequential tests of
    statistical hypotheses", Ann. Math. Statist. 16(2), 1945.

    Examples
    --------
    >>> make_rule("esc", window=4, cap=32).params["window"]
    4
    """
    rule = STOPPING_RULES[check_choice(name, "rule", STOPPING_RULES)]
    unknown = set(params) - set(rule.params)
    if unknown:
        raise ValueError(f"{name}: unknown parameter(s) {sorted(unknown)}; valid: {sorted(rule.params)}")
    p = {**rule.params, **params}
    for key in ("n", "cap", "window", "min_confirm", "answer_space", "min_votes"):
        if key in p:
            v = p[key]
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, np.integer, float))
                or not float(v).is_integer()
                or not 1 <= v <= 100_000
            ):
                raise ValueError(f"{key}: must be an integer in [1, 100000], got {v!r}")
            p[key] = int(v)
    for key in ("alpha", "beta", "confidence", "p1_ratio"):
        if key in p and not (isinstance(p[key], (int, float, np.floating)) and 0 < p[key] < 1):
            raise ValueError(f"{key}: must be a number in (0, 1), got {p[key]!r}")
    if "degradation" in p and not (isinstance(p["degradation"], (int, float)) and 0 < p["degradation"] <= 1):
        raise ValueError(f"degradation: must lie in (0, 1], got {p['degradation']!r}")
    if "p_known" in p and not (p["p_known"] == 0 or 0.5 < p["p_known"] < 1):
        raise ValueError(f"p_known: 0 (estimate) or a rate in (0.5, 1), got {p['p_known']!r}")
    if "p1" in p and p["p1"] not in P1_CODES:
        raise ValueError(f"p1: unknown {p['p1']!r}; valid: {', '.join(P1_CODES)}")
    if "answer_space" in p and p["answer_space"] < 2:
        raise ValueError(f"answer_space: must be >= 2, got {p['answer_space']}")
    if "min_votes" in p and p["min_votes"] > p["cap"]:
        raise ValueError(f"min_votes: must be <= cap = {p['cap']}, got {p['min_votes']}")
    if name == "ac_dirichlet" and p["cap"] > 64:
        raise ValueError(f"cap: ac_dirichlet's table supports cap <= 64, got {p['cap']}")
    if name == "esc" and p["window"] > p["cap"]:
        raise ValueError(f"window: must be <= cap = {p['cap']} (ESC reads whole windows only), got {p['window']}")
    return replace(rule, params=p)


def dirichlet_leader_probability(counts, top: int = K.DIRICHLET_TOP) -> float:
    """P(the leader's probability is the largest) under Dirichlet(counts + 1) over the ``top`` most voted answers.

    Adaptive-Consistency's Dirichlet rule (Aggarwal et al. 2023; reference code
    ``adaptive_consistency/stopping_criterias.py``, ``DirichletStoppingCriteria``) keeps the five most voted answers
    (``top_k_elements=5``) and falls back to the Beta rule on the top two counts under three distinct answers;
    with one observed answer a zero-count second answer is added, so one or two answers give the Beta rule
    1 - I_0.5(a + 1, b + 1) exactly. The reference integrates by Monte Carlo; here the integral is exact:
    with independent G_j ~ Gamma(n_j + 1), P = P(G_L > G_j for all j) = E[prod_j F_j(G_L)], F_j the Gamma(n_j + 1)
    cdf, computed by 80-node generalized Gauss-Laguerre quadrature (error ~1e-12 for these smooth integrands;
    tests check it against exact rational arithmetic).

    Parameters
    ----------
    counts : array_like of int
        Votes per observed answer (any order).
    top : int, default 5
        How many of the most voted answers enter the Dirichlet.

    Returns
    -------
    float

    References
    ----------
    P. Aggarwal, A. Madaan, Y. Yang, Mausam, "Let's Sample Step by Step: Adaptive-Consistency for Efficient
    Reasoning and Coding with LLMs", EMNLP 2023.

    Examples
    --------
    >>> round(dirichlet_leader_probability([8, 2, 1, 1, 1]), 4)  # five answers: continue at confidence 0.95
    0.9428
    >>> round(dirichlet_leader_probability([3, 0]), 4)  # one answer: the Beta rule, 1 - 2^-4
    0.9375
    """
    c = sorted((int(x) for x in counts if x > 0), reverse=True)[:top] or [0]
    return float(_leader_probabilities(np.array([c + [0] * (max(top, 2) - len(c))], dtype=np.int64))[0])


def _leader_probabilities(tuples: np.ndarray) -> np.ndarray:
    """``dirichlet_leader_probability`` for each row of sorted (descending) counts, vectorised by leader count."""
    out = np.empty(tuples.shape[0])
    for lead in np.unique(tuples[:, 0]):
        rows = np.flatnonzero(tuples[:, 0] == lead)
        x, w = special.roots_genlaguerre(80, float(lead))
        cdf = special.gammainc(np.arange(1, tuples[rows].max() + 2)[:, None], x[None, :])  # cdf[m] = F_{Gamma(m+1)}
        rest = tuples[rows, 1:]
        prod = np.where(rest[:, :, None] > 0, cdf[rest], 1.0).prod(axis=1)
        prod = np.where((rest[:, 0] > 0)[:, None], prod, cdf[0][None, :])  # one answer seen: add a zero-count one
        out[rows] = prod @ w / w.sum()
    return out


@lru_cache(maxsize=8)
def dirichlet_leader_table(cap: int) -> np.ndarray:
    """P(leader is max) for every sorted top-five count tuple with sum <= cap: a (2, n) array, row 0 the kernel's
    keys (sum_i s_i (cap + 1)^i) in increasing order, row 1 the probabilities."""
    base = cap + 1
    tuples = np.array(list(_sorted_tuples(cap, K.DIRICHLET_TOP, cap)), dtype=np.int64)
    keys = tuples @ (base ** np.arange(K.DIRICHLET_TOP, dtype=np.int64))
    order = np.argsort(keys)
    return np.stack([keys[order].astype(np.float64), _leader_probabilities(tuples[order])])


def _sorted_tuples(total: int, parts: int, largest: int):
    """Every non-increasing tuple of ``parts`` non-negative integers, each <= largest, with sum <= total."""
    if parts == 0:
        yield ()
        return
    for first in range(min(total, largest) + 1):
        for rest in _sorted_tuples(total - first, parts - 1, first):
            yield (first,) + rest


def esc_expected_votes(p, window: int = 5, cap: int = 40) -> float:
    """ESC's expected number of votes: w [sum_{i=0}^{L-2} q (1-q)^i (i+1) + (1-q)^{L-1} L], q = sum_j p_j^w,
    L = floor(cap / w) whole windows.

    Parameters
    ----------
    p : array_like
        One prompt's answer distribution (sums to 1).
    window : int, default 5
        ESC's window: sampling stops after the first window whose votes all agree.
    cap : int, default 40
        The vote budget; only whole windows are read.

    Returns
    -------
    float
        The expected votes (a window is unanimous with probability q, independently of the others).

    References
    ----------
    Y. Li et al., "Escape Sky-high Cost: Early-stopping Self-Consistency for Multi-step Reasoning", ICLR 2024
    (reference code: github.com/Yiwei98/ESC).

    Examples
    --------
    >>> esc_expected_votes([1.0, 0.0], window=5, cap=40)  # unanimous at once
    5.0
    >>> esc_expected_votes([0.5, 0.5], window=5, cap=12)  # two windows at most
    9.6875
    """
    p = np.asarray(p, dtype=np.float64)
    q = float(np.sum(p**window))
    n_windows = cap // window
    body = sum(q * (1 - q) ** i * (i + 1) for i in range(n_windows - 1))
    return window * (body + (1 - q) ** (n_windows - 1) * n_windows)


def _table(rule: StoppingRule) -> np.ndarray:
    return dirichlet_leader_table(rule.cap) if rule.code == K.AC_DIRICHLET else np.zeros((2, 1))


def _codes(codes) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("codes: expected a non-empty 1-D sequence of answer labels (integers 0, 1, ...)")
    if arr.dtype.kind not in "iu" or arr.min() < 0:
        raise ValueError(
            f"codes: answer labels must be non-negative integers (map strings with first appearance "
            f"order), got dtype {arr.dtype}"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def read_votes(rule: StoppingRule | str, codes) -> VoteRead:
    """(votes read, answer label) when ``rule`` reads the observed sequence ``codes`` one vote at a time.

    The answer is the rule's: ESC's unanimous window, else the plurality (ties: the tied label seen first).
    The same kernel step as ``run_rule``, so live voting and simulation agree vote for vote.

    Parameters
    ----------
    rule : StoppingRule or str
        The rule (a name uses its default parameters).
    codes : array_like of int
        The observed answer labels in order (0, 1, ...: labels by first appearance).

    Returns
    -------
    VoteRead
    """
    rule = make_rule(rule) if isinstance(rule, str) else rule
    codes = _codes(codes)
    k = max(int(codes.max()) + 1, 2)
    out = K.read_sequence(rule.code, rule.vector(), codes, k, _table(rule), np.empty(2, np.int64))
    return VoteRead(int(out[0]), int(out[1]))


def read_votes_many(rule: StoppingRule | str, codes) -> tuple[np.ndarray, np.ndarray]:
    """``read_votes`` for every row of a 2-D array ``codes`` (n_sequences, length) in one kernel call:
    (votes read, answer labels), each of shape (n_sequences,)."""
    rule = make_rule(rule) if isinstance(rule, str) else rule
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError("codes: expected a non-empty 2-D array (n_sequences, length) of answer labels")
    flat = _codes(arr.reshape(-1)).reshape(arr.shape)
    k = max(int(flat.max()) + 1, 2)
    out = K.read_sequences(rule.code, rule.vector(), flat, k, _table(rule), np.empty((arr.shape[0], 2), np.int64))
    return out[:, 0].copy(), out[:, 1].copy()


def stopping_point(rule: StoppingRule | str, codes) -> int:
    """How many votes of an observed sequence ``codes`` (answer labels as integers 0, 1, ...) the rule reads.

    Parameters
    ----------
    rule : StoppingRule or str
        The rule (a name uses its default parameters).
    codes : array_like of int
        The observed answer labels in order (0, 1, ...: labels by first appearance).

    Returns
    -------
    int
        ``read_votes(rule, codes).votes``.

    Examples
    --------
    >>> stopping_point(make_rule("esc", window=4, cap=16), [0, 0, 0, 0, 1, 1])
    4
    """
    return read_votes(rule, codes)[0]


@dataclass(repr=False)
class RuleRun(Record):
    """What a stopping rule did on each prompt (arrays of shape (n_prompts,) unless stated): votes read, the
    answer class, whether it is correct (class 0), the correct votes, the votes per class at stopping
    (n_prompts, n_classes), the tokens (with a vote world's length model) and the drawn classes in order
    (``sequence``, (n_prompts, cap), with ``record_votes``).

    Attributes
    ----------
    votes : ndarray of int
        Votes read per prompt.
    answer : ndarray of int
        The answer class at stopping.
    correct : ndarray of bool
        answer == 0.
    correct_votes : ndarray of int
        Votes for class 0 read.
    counts : ndarray of int, shape (n_prompts, n_classes)
        Votes per class at stopping.
    tokens : ndarray or None
        Tokens spent (with a vote world).
    sequence : ndarray or None
        The drawn classes in order (with ``record_votes``).
    """

    votes: np.ndarray
    answer: np.ndarray
    correct: np.ndarray
    correct_votes: np.ndarray
    counts: np.ndarray
    tokens: np.ndarray | None = None
    sequence: np.ndarray | None = None


class VoteRead(NamedTuple):
    """(votes read, answer label) of one observed vote sequence.

    Attributes
    ----------
    votes : int
        Votes the rule read.
    answer : int
        Its answer label.
    """

    votes: int
    answer: int


def run_rule(rule: StoppingRule | str, probs, rng=None, world=None, record_votes: bool = False) -> RuleRun:
    """Simulate ``rule`` on each prompt's answer distribution (rows of ``probs``; column 0 correct).

    Returns a ``RuleRun``: votes, answer, correct (answer == 0), correct_votes, counts (votes per class at
    stopping, (n_prompts, n_classes)), tokens when a VoteWorld is given (its length model), and with
    ``record_votes`` the drawn classes in order, ``sequence`` (n_prompts, cap) (entries after ``votes`` are 0).

    Parameters
    ----------
    rule : StoppingRule or str
        The rule (a name uses its default parameters).
    probs : array_like, shape (n_prompts, n_classes)
        Each prompt's answer distribution, column 0 the correct answer; rows sum to 1.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    world : VoteWorld, optional
        Gives each vote a length (its token model), so ``tokens`` is filled.
    record_votes : bool, default False
        Keep the drawn sequence.

    Returns
    -------
    RuleRun
    """
    rule = make_rule(rule) if isinstance(rule, str) else rule
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs: expected a non-empty (n_prompts, n_classes) array, got shape {probs.shape}")
    if probs.shape[1] < 2:
        raise ValueError("probs: a vote world needs at least 2 answer classes")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or not np.allclose(probs.sum(1), 1.0, atol=1e-9):
        raise ValueError("probs: each row must be a probability vector (finite, >= 0, summing to 1)")
    rng = as_generator(rng)
    table = _table(rule)
    n = probs.shape[0]
    votes, answer = np.empty(n, np.int64), np.empty(n, np.int64)
    counts = np.empty(probs.shape, np.int64)
    record = np.zeros((n, rule.cap) if record_votes else (0, 0), np.int64)
    K.simulate(rule.code, rule.vector(), probs, rng, table, votes, answer, counts, record)
    correct_votes = counts[:, 0].copy()
    out = RuleRun(votes, answer, answer == 0, correct_votes, counts, sequence=record if record_votes else None)
    if world is not None:
        is_correct = np.repeat(np.arange(n), votes)
        flags = np.zeros(is_correct.size, dtype=bool)
        starts = np.concatenate([[0], np.cumsum(votes)[:-1]])
        for i in range(n):  # the first correct_votes of a prompt's rollouts are the correct ones (order is irrelevant)
            flags[starts[i] : starts[i] + correct_votes[i]] = True
        lengths = world.lengths(flags, rng)
        out.tokens = np.bincount(is_correct, weights=lengths, minlength=n)
    return out
