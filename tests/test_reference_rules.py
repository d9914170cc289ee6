"""Stopping and search rules against transcriptions of their public reference code.

Each reference is transcribed here, in plain Python, from the file cited in its docstring, and compared with the
package's rule on the minimal cases that once exposed a disagreement and on >= 1,000 seeded random inputs. Each
comparison carries a mutation (the package's old reading) that must break agreement on those same inputs: the
inputs are shown to be able to tell the readings apart.
"""

from __future__ import annotations

import operator
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from math import factorial

import numpy as np
import pytest

from simalloc.allocators.search import search_allocate
from simalloc.stopping import esc_expected_votes, make_rule
from simalloc.stopping.rules import dirichlet_leader_probability, dirichlet_leader_table, read_votes, read_votes_many

# ---------------------------------------------------------------- ESC (Yiwei98/ESC, early_stop_gsm8k.py)

def esc_reference(votes, window, cap):
    """The reference loop: ``for index in range(sc_num // slice)``, a window's answers tallied in ``pre_dict``; a
    unanimous window breaks with its answer, else the answer is the plurality of all votes so far
    (``sorted(..., reverse=True)`` is stable: ties go to the answer seen first); ``n_nums += (index + 1) * slice``."""
    predict_list = []
    for index in range(cap // window):
        cur_batch = votes[index * window:(index + 1) * window]
        predict_list.extend(cur_batch)
        pre_dict = {}
        for i in cur_batch:
            pre_dict[i] = pre_dict.get(i, 0) + (1 / window)
        if len(pre_dict) == 1:
            break
        pre_dict = {}
        for i in predict_list:
            pre_dict[i] = pre_dict.get(i, 0) + (1 / len(predict_list))
    res = sorted(pre_dict.items(), key=operator.itemgetter(1), reverse=True)
    return (index + 1) * window, res[0][0]


def esc_partial_window(votes, window, cap):
    """Mutation: the old kernel, which also read a partial last window up to ``cap`` votes."""
    n, answer = esc_reference(votes, window, cap)
    if n == (cap // window) * window and cap % window and len(set(votes[n - window:n])) > 1:
        counts = Counter(votes[:cap])
        return cap, max(counts, key=lambda a: (counts[a], -votes.index(a)))
    return n, answer


def _random_sequences(rng, n, cap, max_classes):
    out = []
    for _ in range(n):
        k = int(rng.integers(2, max_classes + 1))
        p = rng.dirichlet(np.full(k, 0.6))
        out.append(rng.choice(k, size=cap, p=p).tolist())
    return out


def test_esc_minimal_case_reads_whole_windows_only():
    assert esc_reference([0, 1, 1], 2, 3) == (2, 0)
    assert read_votes(make_rule("esc", cap=3, window=2), [0, 1, 1]) == (2, 0)


def test_esc_agrees_with_the_reference_on_random_sequences():
    rng = np.random.default_rng(20261130)
    settings = [(5, 40), (5, 32), (2, 3), (3, 10), (4, 18), (7, 30)]
    mismatches, mutant_mismatches, n = 0, 0, 0
    for window, cap in settings:
        seqs = _random_sequences(rng, 300, cap, 4)
        used, label = read_votes_many(make_rule("esc", cap=cap, window=window), seqs)
        for seq, u, a in zip(seqs, used, label):
            n += 1
            ref = esc_reference(seq, window, cap)
            mismatches += (int(u), int(a)) != ref
            mutant_mismatches += esc_partial_window(seq, window, cap) != ref
    assert n >= 1000 and mismatches == 0
    assert mutant_mismatches > 0  # the old partial-window reading is told apart by these inputs


def test_esc_expected_votes_never_exceed_whole_windows():
    """The formula and the kernel agree on the ceiling floor(cap / window) x window (32 // 5 x 5 = 30)."""
    rule = make_rule("esc", cap=32, window=5)
    rng = np.random.default_rng(1)
    seqs = np.array(_random_sequences(rng, 2000, 32, 6))
    used, _ = read_votes_many(rule, seqs)
    assert used.max() == 30
    assert esc_expected_votes([0.3, 0.3, 0.4], 5, 32) <= 30
    with pytest.raises(ValueError, match="window: must be <= cap"):
        make_rule("esc", cap=4, window=5)


# ------------------------------------------- Adaptive-Consistency (Pranjal2041/AdaptiveConsistency,
#                                             adaptive_consistency/stopping_criterias.py)

@lru_cache(maxsize=None)
def leader_probability_exact(counts: tuple) -> Fraction:
    """P(G_L > G_j for every j), G_i ~ Gamma(n_i + 1) independent, counts sorted descending (leader first): the
    probability that the leader's share is the largest under Dirichlet(counts + 1), as an exact rational.

    With integer shapes F_j(x) = 1 - e^{-x} sum_{m < a_j} x^m / m!, so prod_j F_j expands into terms
    c e^{-s x} x^m and each integrates against the Gamma(a_L) density to (a_L - 1 + m)! / ((a_L - 1)! (1 + s)^(a_L +
    m)).
    """
    a_lead = counts[0] + 1
    poly, scale = {0: [1]}, 1  # poly[s]: integer coefficients of x^m, terms with e^{-s x}, times ``scale``
    for n in counts[1:]:
        a = int(n) + 1
        q = [factorial(a - 1) // factorial(m) for m in range(a)]
        scale *= factorial(a - 1)
        new = {s: [c * factorial(a - 1) for c in p] for s, p in poly.items()}
        for s, p in poly.items():
            prod = [0] * (len(p) + len(q) - 1)
            for i, ci in enumerate(p):
                for j, cj in enumerate(q):
                    prod[i + j] += ci * cj
            tgt = new.setdefault(s + 1, [])
            tgt.extend([0] * (len(prod) - len(tgt)))
            for i, c in enumerate(prod):
                tgt[i] -= c
        poly = new
    total = Fraction(0)
    for s, p in poly.items():
        for m, c in enumerate(p):
            total += Fraction(c * factorial(a_lead - 1 + m) // factorial(a_lead - 1), (1 + s) ** (a_lead + m))
    return total / scale


def ac_reference_probability(answers, top_k_elements=5):
    """``DirichletStoppingCriteria.should_stop``: under three distinct answers, ``BetaStoppingCriteria`` on the top
    two counts (one answer: b = 0); else the ``top_k_elements`` most voted answers, the leader's probability of
    being the largest under the Dirichlet posterior. The reference integrates by Monte Carlo; the integral is
    evaluated exactly here (``leader_probability_exact``)."""
    counts = Counter(answers)
    if len(counts) < 3:
        top = [c for _, c in counts.most_common(2)] + [0]
        return leader_probability_exact((top[0], top[1]))
    kept = sorted(counts.values())[-top_k_elements:]
    return leader_probability_exact(tuple(sorted(kept, reverse=True)))


def ac_reference(answers, cap, conf=0.95, top_k_elements=5):
    """``AC.eval_loop``: draw up to ``max_gens`` answers, stop at the first that satisfies the criterion; the answer
    is ``Counter.most_common`` (ties: the answer seen first)."""
    for t in range(1, cap + 1):
        if ac_reference_probability(answers[:t], top_k_elements) >= conf:
            break
    return t, Counter(answers[:t]).most_common(1)[0][0]


def test_ac_dirichlet_minimal_case_continues_at_13_votes():
    a, b, c, d, e = range(5)
    seq = [a, b, c, d, e, a, b, a, a, a, a, a, a]
    assert float(ac_reference_probability(seq)) == pytest.approx(0.9428, abs=5e-5)
    assert dirichlet_leader_probability([8, 2, 1, 1, 1]) == pytest.approx(float(ac_reference_probability(seq)),
                                                                          abs=1e-12)
    assert read_votes(make_rule("ac_dirichlet"), seq + [a])[0] == 14  # continues after 13, stops at 14
    assert read_votes(make_rule("ac_dirichlet"), seq)[0] == 13  # (the sequence ends there)
    assert float(ac_reference_probability(seq, top_k_elements=4)) >= 0.95  # the old top-four table stopped


def test_dirichlet_table_equals_exact_rationals():
    """Gauss-Laguerre quadrature (~1e-12) against exact rational arithmetic on 300 random table entries plus the
    edge cases; tolerance 1e-10: far below any distance from 0.95 that decides a stop (the closest exact value to
    0.95 among the table's entries is checked separately to be farther than this)."""
    table = dirichlet_leader_table(40)
    rng = np.random.default_rng(5)
    base = 41
    picks = list(rng.choice(table.shape[1], 300, replace=False)) + [0, 1, table.shape[1] - 1]
    gaps = []
    for j in picks:
        key, s = int(table[0, j]), []
        for _ in range(5):
            s.append(key % base)
            key //= base
        positive = [x for x in s if x > 0] or [0]
        exact = float(leader_probability_exact(tuple(positive + [0] * (len(positive) < 2))))
        assert table[1, j] == pytest.approx(exact, abs=1e-10), s
        gaps.append(abs(exact - 0.95))
    assert min(gaps) > 1e-8


def test_ac_rules_agree_with_the_reference_on_random_sequences():
    """Dirichlet at confidence 0.95 and the Beta rule at 0.8, 0.9, 0.95, 0.99 (every threshold the reference's
    papers report), sequences with 2-7 answer classes so five or six distinct answers are common."""
    rng = np.random.default_rng(29)
    mismatches, mutant, n = 0, 0, 0
    for cap in (24, 40):
        seqs = _random_sequences(rng, 600, cap, 7)
        used, label = read_votes_many(make_rule("ac_dirichlet", cap=cap), seqs)
        for seq, u, a in zip(seqs, used, label):
            n += 1
            ref = ac_reference(seq, cap)
            mismatches += (int(u), int(a)) != ref
            mutant += ac_reference(seq, cap, top_k_elements=4) != ref
    assert n >= 1000 and mismatches == 0
    assert mutant > 0  # top four instead of five is told apart by these inputs
    seqs = _random_sequences(rng, 400, 40, 3)
    for conf in (0.8, 0.9, 0.95, 0.99):
        used, label = read_votes_many(make_rule("ac_beta", cap=40, confidence=conf), seqs)
        for seq, u, a in zip(seqs, used, label):
            counts = lambda t: [c for _, c in Counter(seq[:t]).most_common(2)] + [0]  # noqa: E731
            t = next((t for t in range(1, 41) if leader_probability_exact(tuple(counts(t)[:2])) >= conf), 40)
            assert (int(u), int(a)) == (t, Counter(seq[:t]).most_common(1)[0][0])


# ------------------------------------------------------ DORA (WangXinglin/DORA, scripts/sal/search/dora.py)

def _softmax_with_temperature(scores, temperature):
    scores = np.array(scores, dtype=np.float64)
    e = np.exp(scores / temperature - np.max(scores / temperature))
    return [float(x) for x in e / np.sum(e)]


def _diversity(cos, temperature):
    m = cos.astype(np.float64) / temperature
    e = np.exp(m - np.max(m, axis=1, keepdims=True))
    n = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)  # the reference's softmax_with_temperature_1
    return [n[i][i] for i in range(len(n))]


def dora_reference(scores, cos, n, rebase_temperature=0.1, balance_alpha=0.01):
    """One allocation step of ``_dora``: REBASE's ``np.round`` allocation, candidates with 0 dropped, softmax
    recomputed over the survivors, uniqueness from the survivors' cosine submatrix, ``np.round`` again.

    The published file reads two undefined names at that point, ``all_cos_matrix`` and ``choose_indices``; they are
    read here as the step's cosine matrix (``cos_matrix`` computed just above) and the survivors' indices (the
    only reading under which ``extract_submatrix_np`` returns a matrix matching the survivors' scores)."""
    cos_matrix = np.asarray(cos, dtype=np.float32)  # compute_cosine_similarity_numpy returns float32
    softmax_agg_scores = _softmax_with_temperature(scores, rebase_temperature)
    allocate_num = [int(item) for item in np.round(np.array(softmax_agg_scores) * n)]
    choose_indices = [j for j in range(len(allocate_num)) if allocate_num[j] > 0]
    agg_scores = [scores[j] for j in choose_indices]
    softmax_agg_scores = _softmax_with_temperature(agg_scores, rebase_temperature)
    sub = cos_matrix[np.ix_(choose_indices, choose_indices)]
    diversity_score_list = _diversity(sub, balance_alpha)
    balance_score = [diversity_score_list[j] * softmax_agg_scores[j] for j in range(len(softmax_agg_scores))]
    final_score = [item / sum(balance_score) for item in balance_score]
    out = np.zeros(len(scores), dtype=np.int64)
    out[choose_indices] = [int(item) for item in np.round(np.array(final_score) * n)]
    return out


def test_dora_minimal_case():
    scores, sim = [0.8, 0.2, 0.7], np.array([[1, 1, .1], [1, 1, .1], [.1, .1, 1]])
    assert dora_reference(scores, sim, 64).tolist() == [47, 0, 17]
    assert search_allocate("dora", scores, sim, 64, prune="rebase", rounding="reference").tolist() == [47, 0, 17]
    assert search_allocate("dora", scores, sim, 64, prune="rebase").tolist() == [47, 0, 17]
    assert search_allocate("dora", scores, sim, 64).tolist() == [37, 0, 27]  # the formula over all candidates


def test_dora_agrees_with_the_reference_on_random_inputs():
    rng = np.random.default_rng(2506)
    mismatches, mutant = 0, 0
    n_cases = 1200
    for _ in range(n_cases):
        k = int(rng.integers(2, 17))
        dirs = rng.integers(0, int(rng.integers(1, 6)), size=k)
        within = rng.uniform(0.95, 1.0)
        sim = np.where(dirs[:, None] == dirs[None, :], within, rng.uniform(0.0, 0.8))
        sim = np.triu(sim, 1) + np.triu(sim, 1).T + np.eye(k)
        scores = rng.uniform(0, 1, size=k).round(3).tolist()
        n = int(rng.choice([16, 32, 64, 128, 256]))
        ref = dora_reference(scores, sim, n)
        got = search_allocate("dora", scores, sim, n, prune="rebase", rounding="reference")
        mismatches += not np.array_equal(got, ref)
        mutant += not np.array_equal(search_allocate("dora", scores, sim, n, rounding="reference"), ref)
    assert mismatches == 0
    assert mutant > 0.2 * n_cases  # the formula over every candidate (prune=None) is told apart
