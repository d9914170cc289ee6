"""Objectives: recurrence marginals vs betaln closed forms, and the hit utility computed four ways."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from simalloc import hit_utility
from simalloc.beliefs import BetaBeliefs
from simalloc.objectives import OBJECTIVES, beta_moment, get_objective
from simalloc.optima import value_table

rng = np.random.default_rng(20261123)
A = rng.uniform(0.2, 20, size=40)
B = rng.uniform(0.2, 20, size=40)
S = rng.integers(0, 9, size=40)
KMAX = 200


def _closed_form_marginals(name, bel, kmax):
    """Delta(k) for k = 1..kmax straight from betaln (no recurrence), shape (n, kmax)."""
    a, b = bel.a[:, None], bel.b[:, None]
    k = np.arange(1, kmax + 1)[None, :]
    fail, passed = bel.all_fail[:, None], bel.all_pass[:, None]
    if name == "hit":
        return np.exp(betaln(a + 1, b + k - 1) - betaln(a, b)) + 0 * k
    if name == "informative":
        return fail * beta_moment(a, b, 1, k - 1) + passed * beta_moment(a, b, k - 1, 1)
    if name == "knapsack":
        return fail * beta_moment(a, b, 2, k + 1) + passed * beta_moment(a, b, k, 3)
    if name == "log_miss":
        return betaln(a, b + k - 1) - betaln(a, b + k)
    p = np.divide(bel.successes, bel.trials, out=np.zeros(bel.trials.shape), where=bel.trials > 0)[:, None]
    if name == "knapsack_plugin":
        n = bel.trials[:, None] + k
        w = p * (1 - p) ** 2
        return w * ((1 - p) ** (n - 1.0) * p + p ** (n - 1.0) * (1 - p))
    return p * (1 - p) ** (k - 1.0)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("with_pilot", [True, False])
def test_recurrence_matches_betaln_closed_form(name, with_pilot):
    bel = BetaBeliefs(A, B, S, np.full(40, 8)) if with_pilot else BetaBeliefs.from_params(A, B)
    obj = get_objective(name)
    rec = obj.marginals(bel, KMAX)
    ref = _closed_form_marginals(name, bel, KMAX)
    # 200 multiplications accumulate at most ~200 ulp of relative error; 1e-12 leaves a wide margin. log_miss's
    # reference is a difference of two betaln values of size ~1e2, which cancels ~10 digits: 1e-9 there.
    np.testing.assert_allclose(rec, ref, rtol=1e-9 if name == "log_miss" else 1e-12, atol=1e-300)
    # and the marginals are the increments of the closed-form values (differences lose relative
    # precision where U is near 1, hence the absolute tolerance)
    vals = value_table(obj, bel, 30)
    np.testing.assert_allclose(np.diff(vals, axis=1), rec[:, :30], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name", ["hit", "informative", "knapsack", "knapsack_plugin", "log_miss"])
def test_marginals_strictly_decrease_where_positive(name):
    bel = BetaBeliefs(A, B, S, np.full(40, 8))
    rec = get_objective(name).marginals(bel, KMAX)
    d = np.diff(rec, axis=1)
    assert np.all((d < 0) | ((rec[:, 1:] == 0) & (rec[:, :-1] == 0)))


def test_recurrence_accurate_for_long_sequences():
    bel = BetaBeliefs.from_params([0.3, 5.0], [0.7, 50.0])
    rec = get_objective("hit").marginals(bel, 10_000)
    k = np.arange(1, 10_001)
    ref = np.exp(betaln(bel.a[:, None] + 1, bel.b[:, None] + k - 1) - betaln(bel.a, bel.b)[:, None])
    np.testing.assert_allclose(rec, ref, rtol=1e-10)


@pytest.mark.parametrize("a,b,k", [(1.0, 1.0, 5), (0.5, 0.5, 24), (9.0, 1.0, 3), (1.0, 9.0, 24), (0.2, 20.0, 40)])
def test_hit_utility_four_ways(a, b, k):
    """recurrence = closed form = quadrature over the Beta density = Monte Carlo."""
    closed = float(hit_utility(a, b, k))
    recurrence = float(get_objective("hit").marginals(BetaBeliefs.from_params(a, b), k).sum())
    assert recurrence == pytest.approx(closed, rel=1e-13)
    quad, err = integrate.quad(lambda p: (1 - (1 - p) ** k) * stats.beta.pdf(p, a, b), 0, 1, limit=200)
    assert quad == pytest.approx(closed, abs=max(10 * err, 1e-9))
    # Monte Carlo: 400k draws, tolerance 5 standard errors: a failure rate of 6e-7 per case for a
    # correct implementation (the seed is fixed, so the test is deterministic anyway).
    draws = np.random.default_rng(7).beta(a, b, size=400_000)
    vals = 1 - (1 - draws) ** k
    assert abs(vals.mean() - closed) <= 5 * vals.std() / np.sqrt(draws.size)


def test_hit_utility_broadcasts_and_uniform_prior_closed_form():
    k = np.arange(0, 50)
    np.testing.assert_allclose(hit_utility(1.0, 1.0, k), k / (k + 1.0), rtol=1e-14)
    assert hit_utility(np.ones((2, 1)), np.ones(3), k[:3]).shape == (2, 3)


def test_informative_objective_without_pilot_is_the_literal_formula():
    a, b = 2.0, 3.0
    bel = BetaBeliefs.from_params(a, b)
    k = np.arange(0, 10)
    literal = [
        integrate.quad(lambda p, kk=kk: (1 - p**kk - (1 - p) ** kk) * stats.beta.pdf(p, a, b), 0, 1)[0] for kk in k
    ]
    np.testing.assert_allclose(value_table(get_objective("informative"), bel, 9)[0], literal, atol=1e-10)


def test_informative_with_mixed_pilot_is_already_certain():
    bel = BetaBeliefs.from_counts([3], 8)
    np.testing.assert_array_equal(get_objective("informative").marginals(bel, 5), 0.0)
    np.testing.assert_allclose(value_table(get_objective("informative"), bel, 5), 1.0)


def test_variance_objective_marginals_and_greedy_optimality():
    """VIP's objective: recurrence = closed-form increments, and greedy = DP on random instances."""
    from simalloc.allocators.engine import solve
    from simalloc.objectives import VarianceReduction
    from simalloc.optima import dp_optimum

    r = np.random.default_rng(3)
    for _ in range(30):
        n = int(r.integers(1, 6))
        bel = BetaBeliefs.from_counts(r.integers(0, 9, n), 8)
        obj = VarianceReduction(p_hat=r.uniform(0.01, 0.99, n), n0=r.integers(2, 9, n).astype(float),
                                gamma=float(r.uniform(0, 0.05)))
        rec = obj.marginals(bel, 20)
        np.testing.assert_allclose(rec, np.diff(value_table(obj, bel, 20), axis=1), rtol=1e-9, atol=1e-15)
        budget = int(r.integers(0, 30))
        opt = dp_optimum(obj, bel, budget)
        for method in ("heap", "merged", "threshold"):
            got = obj.total(bel, solve(obj, bel, budget, method=method))
            assert got == pytest.approx(opt.value, rel=1e-12, abs=1e-12)


def test_log_miss_marginal_against_exact_rationals():
    """-log E[(1-p)^k] increments are log((a+b+k-1)/(b+k-1)) exactly: compare with Fraction arithmetic."""
    from fractions import Fraction
    from math import log

    bel = BetaBeliefs.from_params([3.0, 0.5], [7.0, 2.5])
    rec = get_objective("log_miss").marginals(bel, 50)
    for i, (a, b) in enumerate([(3, 7), (Fraction(1, 2), Fraction(5, 2))]):
        want = [log(Fraction(a + b + k - 1) / Fraction(b + k - 1)) for k in range(1, 51)]
        np.testing.assert_allclose(rec[i], want, rtol=1e-14)
