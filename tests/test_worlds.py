"""Difficulty worlds: exact Pass@k against Monte Carlo, the CSV loader, the Beta-Binomial fit."""

import numpy as np
import pytest

from simalloc.worlds import (
    BetaMixtureWorld,
    BetaWorld,
    EmpiricalWorld,
    LogitNormalWorld,
    fit_beta_binomial,
    make_world,
)

KS = np.array([1, 2, 8, 64, 256])


def _empirical():
    r = np.random.default_rng(1)
    t = r.integers(4, 17, size=50)
    return EmpiricalWorld(r.binomial(t, r.beta(0.7, 1.3, size=50)), t)


@pytest.mark.parametrize(
    "world",
    [BetaWorld(0.5, 0.5), BetaWorld(3.0, 1.0), BetaMixtureWorld(), LogitNormalWorld(-1.0, 2.0),
     LogitNormalWorld(1.5, 0.3), _empirical()],
    ids=lambda w: type(w).__name__,
)
def test_exact_pass_at_k_matches_monte_carlo(world):
    # 400k prompts; tolerance 5 standard errors per k: a correct world fails with probability < 3e-6 (5 ks).
    p = world.sample(400_000, rng=11)
    assert p.min() >= 0 and p.max() <= 1
    hits = 1 - (1 - p[:, None]) ** KS
    mc, se = hits.mean(0), hits.std(0) / np.sqrt(p.size)
    exact = world.pass_at_k(KS)
    assert np.all(np.abs(mc - exact) <= 5 * se + 1e-12), (mc, exact)
    assert np.all(np.diff(exact) >= 0)


def test_logit_normal_quadrature_against_scipy_quad():
    from scipy import integrate, special, stats

    w = LogitNormalWorld(-0.5, 1.7)
    for k in (1, 5, 100):
        ref = integrate.quad(lambda z: (1 - special.expit(-z) ** 0 * (1 - special.expit(z)) ** k)
                             * stats.norm.pdf(z, -0.5, 1.7), -30, 30, limit=400)[0]
        assert float(w.pass_at_k(k)) == pytest.approx(ref, abs=1e-10)


def test_empirical_world_from_csv(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("prompt,successes,trials\nq1,0,8\nq2,3,8\nq3,8,8\n")
    world = make_world(f"empirical:{path}")
    assert world.successes.tolist() == [0, 3, 8]
    # exact Pass@1 of this world: mean of the Jeffreys posterior means
    assert float(world.pass_at_k(1)) == pytest.approx(np.mean([0.5 / 9, 3.5 / 9, 8.5 / 9]))


@pytest.mark.parametrize(
    "text,word",
    [
        ("successes,trials\n", "no prompt rows"),
        ("succ,trials\n1,2\n", "missing column"),
        ("successes,trials\n1,x\n", "line 2"),
        ("successes,trials\n5,3\n", "successes"),
        ("successes,trials\n-1,3\n", "successes"),
        ("successes,trials\n0,0\n", "trials"),
    ],
)
def test_malformed_csv_is_refused_clearly(tmp_path, text, word):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=word):
        EmpiricalWorld.from_csv(path)


def test_missing_csv_and_bad_specs():
    with pytest.raises(ValueError, match="no such CSV"):
        EmpiricalWorld.from_csv("/nonexistent/file.csv")
    with pytest.raises(ValueError, match="unknown kind"):
        make_world("gamma:1,2")
    with pytest.raises(ValueError, match="a"):
        make_world("beta:-1,2")
    with pytest.raises(ValueError, match="weights"):
        BetaMixtureWorld(weights=(0.5, 0.6), a=(1.0, 1.0), b=(1.0, 1.0))


def test_beta_binomial_fit_recovers_known_parameters():
    r = np.random.default_rng(5)
    t = np.full(20_000, 16)
    s = r.binomial(t, r.beta(0.8, 2.5, size=t.size))
    fit = fit_beta_binomial(s, t)
    assert fit.a == pytest.approx(0.8, rel=0.06) and fit.b == pytest.approx(2.5, rel=0.06)
