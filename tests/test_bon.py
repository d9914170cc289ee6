"""Best-of-N: exact worlds vs Monte Carlo, the U-statistic by enumeration, tail fits, the gradient toy, bad input."""

import itertools

import numpy as np
import pytest
from scipy import stats

from simalloc.estimators import bon
from simalloc.sim.bon import SoftmaxToy, gradient_diagnostics, value_diagnostics
from simalloc.worlds.tails import TAIL_WORLDS, make_tail_world


@pytest.mark.parametrize("name", sorted(TAIL_WORLDS))
def test_exact_expected_max_and_advantage_agree_with_monte_carlo(name):
    world = make_tail_world(name)
    n = 16
    draws = world.sample((20_000, n), np.random.default_rng(1))
    m = draws.max(1)
    # 5 standard errors: a correct world fails with probability < 1e-6 (student-t's max has finite variance at N = 16)
    assert abs(m.mean() - world.expected_max(n)) <= 5 * m.std() / np.sqrt(m.size)
    # A_N(r) = E[max(r, M_{N-1})] - E[M_N] at three rewards, against draws of M_{N-1}
    prev = draws[:, : n - 1].max(1)
    for r in world.sample(3, np.random.default_rng(2)):
        mc = np.maximum(r, prev)
        assert (
            abs((mc.mean() - world.expected_max(n)) - float(world.advantage(r, n)))
            <= 5 * mc.std() / np.sqrt(mc.size) + 1e-9
        )
    if name in ("gaussian", "gpd_bounded", "beta"):  # the interpolated A_N (quadrature at 80 grid points)
        fn = world.advantage_fn(n, grid=80)
        rs = world.sample(10, np.random.default_rng(3))
        np.testing.assert_allclose(fn(rs), world.advantage(rs, n), atol=5e-3 * (1 + abs(world.expected_max(n))))


@pytest.mark.parametrize(
    "name,closed",
    [
        ("uniform", lambda n: n / (n + 1)),
        ("exponential", lambda n: sum(1 / i for i in range(1, n + 1))),
        ("gumbel", lambda n: np.euler_gamma + np.log(n)),
    ],
)
def test_quadrature_equals_closed_forms(name, closed):
    world = make_tail_world(name)
    for n in (1, 7, 64, 1024):
        assert world._quadrature_max(n) == pytest.approx(closed(n), abs=1e-8)


def test_maxk_ustatistic_is_unbiased_by_enumeration():
    support = np.array([-1.0, 0.2, 0.5, 2.0])
    p = np.array([0.4, 0.3, 0.2, 0.1])
    for m in range(1, 6):
        for k in range(1, m + 1):
            truth = sum(support[j] * (p[: j + 1].sum() ** k - p[:j].sum() ** k) for j in range(4))
            mean = sum(
                np.prod(p[list(t)]) * bon.maxk_unbiased(support[list(t)][None, :], k)[0]
                for t in itertools.product(range(4), repeat=m)
            )
            assert mean == pytest.approx(truth, abs=1e-13)


def test_published_vectors():
    # PKPO's definitions worked by hand for rewards (1, 1, 0, 0), k = 2 (six 2-subsets):
    # s = (3/6, 3/6, 2/6, 2/6); loo subtracts the mean of the other samples' s without sample i:
    # (4/9 for a 1, 2/3 for a 0); loo-1 averages max_I - max_{I minus i} over the subsets holding i.
    r = [[1, 1, 0, 0]]
    np.testing.assert_allclose(bon.pkpo_advantages(r, 2, variant="s"), [[1 / 2, 1 / 2, 1 / 3, 1 / 3]], atol=1e-15)
    np.testing.assert_allclose(bon.pkpo_advantages(r, 2, variant="loo"), [[1 / 18, 1 / 18, -1 / 3, -1 / 3]], atol=1e-15)
    np.testing.assert_allclose(bon.pkpo_advantages(r, 2), [[1 / 3, 1 / 3, 0, 0]], atol=1e-15)
    adv = bon.passk_advantages([[1, 1, 0, 0, 0, 0, 0, 0]], 4)[0]
    assert adv[0] == pytest.approx(0.5222, abs=5e-5) and adv[-1] == pytest.approx(-0.1741, abs=5e-5)
    np.testing.assert_allclose(bon.max_minus_second([[0.1, 0.9, 0.4]]), [[0, 0.5, 0]])
    np.testing.assert_allclose(bon.mean_advantage([[1.0, 3.0]]), [[-1.0, 1.0]])


def _pkpo_by_definition(r, k, variant):
    """PKPO's three transformations literally from their subset definitions (one prompt, rewards r)."""
    m = len(r)

    def s_of(x):
        subsets = list(itertools.combinations(range(len(x)), k))
        return np.array([sum(max(x[j] for j in sub) for sub in subsets if i in sub) for i in range(len(x))]) / len(
            subsets
        )

    s = s_of(r)
    if variant == "s":
        return s
    out = np.empty(m)
    for i in range(m):
        others = [r[j] for j in range(m) if j != i]
        if variant == "loo" or k == 1:  # loo-1 at k = 1 uses the loo baseline
            out[i] = s[i] - (s_of(others).mean() if k <= m - 1 else 0.0)
        else:
            subsets = [sub for sub in itertools.combinations(range(m), k) if i in sub]
            out[i] = sum(max(r[j] for j in sub) - max(r[j] for j in sub if j != i) for sub in subsets)
            out[i] /= len(list(itertools.combinations(range(m), k)))
    return out


@pytest.mark.parametrize("variant", bon.PKPO_VARIANTS)
def test_pkpo_matches_subset_definitions(variant):
    rng = np.random.default_rng(0)
    r = np.round(rng.normal(size=(3, 6)), 1)  # rounding makes ties
    r[2] = [0, 1, 0, 1, 1, 0]
    for k in range(1, 7):
        want = np.array([_pkpo_by_definition(list(row), k, variant) for row in r])
        np.testing.assert_allclose(bon.pkpo_advantages(r, k, variant=variant), want, atol=1e-12)


@pytest.mark.parametrize("variant", bon.PKPO_VARIANTS)
def test_pkpo_gradient_is_unbiased_by_exact_enumeration(variant):
    """E[sum_i s_i grad log pi(y_i)] = grad E[M_k] for a softmax over 4 outcomes (one tie), every k <= m <= 4.

    The expectation enumerates all 4^m outcome tuples; the truth differentiates E[M_k] = sum_v v (F(v)^k - F(v-)^k)
    by central differences (h = 1e-6: truncation ~1e-12, rounding ~1e-10)."""
    rho = np.array([0.0, 0.5, 0.5, 2.0])
    theta = np.array([0.3, -0.2, 0.1, -0.8])

    def pi_of(t):
        e = np.exp(t - t.max())
        return e / e.sum()

    def value(t, k):
        pi = pi_of(t)
        vals = np.unique(rho)
        cdf = np.array([pi[rho <= v].sum() for v in vals])
        prev = np.concatenate([[0.0], cdf[:-1]])
        return float(np.sum(vals * (cdf**k - prev**k)))

    pi = pi_of(theta)
    for m in range(1, 5):
        tuples = np.array(list(itertools.product(range(4), repeat=m)))
        prob = np.prod(pi[tuples], axis=1)
        score = np.eye(4)[tuples] - pi  # (tuples, m, 4)
        for k in range(1, m + 1):
            adv = bon.pkpo_advantages(rho[tuples], k, variant=variant)
            mean_grad = np.einsum("t,tm,tmj->j", prob, adv, score)
            h = 1e-6
            truth = [(value(theta + h * e, k) - value(theta - h * e, k)) / (2 * h) for e in np.eye(4)]
            np.testing.assert_allclose(mean_grad, truth, atol=1e-8)


def test_centred_pkpo_would_be_biased():
    """The mutation this module once shipped: s - mean(s) has expected gradient (1 - k/m) grad E[M_k]."""
    rho = np.array([0.0, 1.0, 3.0])
    pi = np.array([0.5, 0.3, 0.2])
    m, k = 3, 3
    tuples = np.array(list(itertools.product(range(3), repeat=m)))
    prob = np.prod(pi[tuples], axis=1)
    score = np.eye(3)[tuples] - pi
    s = bon.pkpo_advantages(rho[tuples], k, variant="s")
    centred = s - s.mean(1, keepdims=True)
    assert np.abs(np.einsum("t,tm,tmj->j", prob, centred, score)).max() < 1e-12  # zero at k = m
    assert np.abs(np.einsum("t,tm,tmj->j", prob, s, score)).max() > 0.1


def test_passk_advantages_exact_for_large_groups():
    """Against exact rationals (math.comb integers): the old comb ratios overflowed to NaN and were masked to 0."""
    from fractions import Fraction
    from math import comb, sqrt

    for n, c, k in [(1100, 3, 550), (10_000, 17, 4000), (64, 5, 1), (8, 2, 4)]:
        r = np.zeros((1, n))
        r[0, :c] = 1
        adv = bon.passk_advantages(r, k)[0]
        R = 1 - Fraction(comb(n - c, k), comb(n, k))
        sigma = sqrt(R * (1 - R))
        pos = float(1 - R) / sigma
        neg = float(1 - R - Fraction(comb(n - c - 1, k - 1), comb(n - 1, k - 1))) / sigma
        assert adv[0] == pytest.approx(pos, rel=1e-8) and adv[-1] == pytest.approx(neg, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.3])
@pytest.mark.parametrize("method", ["pwm", "mle"])
def test_tail_fit_recovers_known_shape_on_large_samples(xi, method):
    # exceedances over the 75% quantile of a GPD are GPD with the same xi (threshold stability)
    r = stats.genpareto(xi).rvs(size=(1, 40_000), random_state=np.random.default_rng(5))
    fit_xi, sigma, u, pu, ok = bon.tail_fit(r, method=method)
    assert ok[0] and fit_xi[0] == pytest.approx(xi, abs=0.05)


@pytest.mark.parametrize("name,rel", [("exponential", 0.02), ("gaussian", 0.05)])
def test_pot_estimator_is_accurate_with_many_samples(name, rel):
    # a high threshold (top 2% of 20,000): exact-GPD tails are recovered closely; the Gaussian converges to its
    # xi = 0 limit slowly (fitted xi < 0 at finite thresholds), a known few-percent underestimate at N = 1024
    world = make_tail_world(name)
    r = world.sample((1, 20_000), np.random.default_rng(0))
    assert bon.expected_max_pot(r, 1024, tail_fraction=0.02)[0] == pytest.approx(world.expected_max(1024), rel=rel)


def test_fit_that_cannot_work_says_so():
    flat = np.zeros((2, 16))
    flat[1] = np.arange(16)
    with pytest.raises(bon.TailFitError, match=r"prompt\(s\) \[0\]"):
        bon.expected_max_pot(flat, 64)
    out = bon.expected_max_pot(flat, 64, on_fail="nan")
    assert np.isnan(out[0]) and np.isfinite(out[1])


@pytest.mark.parametrize(
    "call,word",
    [
        (lambda: bon.mean_advantage([[1.0]]), "m"),
        (lambda: bon.maxk_unbiased([[1.0, 2.0]], 3), "k"),
        (lambda: bon.maxk_unbiased([[1.0, 2.0]], 0), "k"),
        (lambda: bon.expected_max_gev([[1.0, 2.0, 3.0]], 0), "N"),
        (lambda: bon.mean_advantage([[1.0, np.nan]]), "finite"),
        (lambda: bon.passk_advantages([[0.5, 1.0]], 1), "binary"),
        (lambda: bon.tail_fit(np.ones((1, 8)), method="lbfgs"), "method"),
        (lambda: make_tail_world("cauchy"), "unknown tail world"),
        (lambda: make_tail_world("gaussian").expected_max(0), "N"),
        (lambda: make_tail_world("gaussian").advantage([np.inf], 4), "finite"),
    ],
)
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_softmax_toy_exact_gradient():
    rho = np.random.default_rng(0).normal(size=30)
    toy = SoftmaxToy(rho, np.random.default_rng(1).normal(size=30))
    n = 32
    g = toy.exact_gradient(n)
    h = 1e-6
    fd = [
        (SoftmaxToy(rho, toy.theta + h * e).value(n) - SoftmaxToy(rho, toy.theta - h * e).value(n)) / (2 * h)
        for e in np.eye(30)
    ]
    np.testing.assert_allclose(g, fd, atol=1e-7)
    a = toy.exact_advantage(n)
    np.testing.assert_allclose(n * toy.pi * (a - toy.pi @ a), g, atol=1e-12)  # N E[(e_y - pi) A_N(rho_y)]


def test_diagnostics_tables():
    v = value_diagnostics(make_tail_world("uniform"), [8], [4, 64], 50, 0)
    ustat = v[(v.estimator == "ustat") & (v.N == 4)].iloc[0]
    assert abs(ustat.bias) < 5 * np.sqrt(ustat.variance / 50)
    toy = SoftmaxToy(np.linspace(0, 1, 10))
    d = gradient_diagnostics(toy, [8], 8, 4000, 0, estimators=["pkpo", "mean"]).set_index("estimator")
    # at N = m = 8 PKPO is unbiased for the BoN(8) gradient: its bias is Monte Carlo noise (4 sigma); the mean
    # advantage targets grad E[r], a different vector
    assert d.loc["pkpo", "rel_bias_raw"] <= 4 * d.loc["pkpo", "rel_bias_noise"]
    assert d.loc["mean", "rel_bias_raw"] > 10 * d.loc["mean", "rel_bias_noise"]


def test_bon_study_smoke(tmp_path):
    from simalloc.sim.runner import run_study

    out = run_study(
        "bon_estimators",
        out=tmp_path,
        progress=False,
        overrides={"worlds": "uniform", "ms": "8", "ns": "16", "n_reps": "20", "grad_draws": "20"},
    )
    assert (out / "table.parquet").is_file() and (out / "figure.png").is_file()


def test_prefix_weights_by_hand_and_exact_cancellation():
    """Order 2: (2, -1); order 3: (8/3, -2, 1/3) (Richardson on halvings). On an 'estimator' whose bias is exactly
    c1/m + c2/m^2, order 3 returns theta to rounding, order 2 leaves the c2 term times -2 (by hand: 2 c2/m^2 -
    4 c2/m^2)."""
    np.testing.assert_allclose(bon.prefix_weights(2), [2, -1], atol=1e-14)
    np.testing.assert_allclose(bon.prefix_weights(3), [8 / 3, -2, 1 / 3], atol=1e-14)
    np.testing.assert_allclose(bon.prefix_weights(2, rate=0.5), [np.sqrt(2) / (np.sqrt(2) - 1), -1 / (np.sqrt(2) - 1)])

    def biased(r, theta=1.0, c1=3.0, c2=-5.0):
        m = r.shape[1]
        return np.full(r.shape[0], theta + c1 / m + c2 / m**2)

    r = np.zeros((2, 64))
    np.testing.assert_allclose(bon.prefix(biased, r, order=3), 1.0, atol=1e-12)
    np.testing.assert_allclose(bon.prefix(biased, r, order=2), 1.0 - 2 * (-5.0) / 64**2, atol=1e-12)
    with pytest.raises(ValueError, match="order"):
        bon.prefix(biased, np.zeros((1, 8)), order=3)


def test_pkpo_loo1_at_k_equal_m_is_max_minus_second():
    """An independent published estimator: at k = m the only subset is the whole group, so s^(loo-1) gives the best
    sample r_(m) - r_(m-1) and every other sample 0, which is arXiv 2503.19595's max-minus-second advantage."""
    r = np.random.default_rng(4).normal(size=(50, 7))
    np.testing.assert_allclose(bon.pkpo_advantages(r, 7, variant="loo-1"), bon.max_minus_second(r), atol=1e-12)


def test_order_and_pkpo_weights_exact_for_large_groups():
    """C(i-1, k-1)/C(m, k) and C(l-2, k-2)/C(m, k) at m = 3000 against exact rationals (1e-8 relative)."""
    from fractions import Fraction
    from math import comb

    m, k = 3000, 900
    w = bon._order_weights(m, k)
    for i in (k, k + 1, 1500, 2999, 3000):
        assert w[i - 1] == pytest.approx(float(Fraction(comb(i - 1, k - 1), comb(m, k))), rel=1e-8, abs=1e-300)
    assert w[: k - 1].sum() == 0 and w.sum() == pytest.approx(1.0, rel=1e-10)  # the weights of a U-statistic
    r = np.zeros((1, m))
    r[0, -1] = 1.0  # one top reward: s of every other sample is C(m-2, k-2)/C(m, k)
    s = bon.pkpo_advantages(r, k, variant="s")
    assert s[0, 0] == pytest.approx(float(Fraction(comb(m - 2, k - 2), comb(m, k))), rel=1e-8)
