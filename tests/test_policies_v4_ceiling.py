"""Simulator v4's learning-rate ceiling (mechanism (e), ``curvature``): nuisance parameters at the reward's top.

Oracles are independent of the code: pass rates enumerated from the definition (a softmax over M actions of
(u_a + 1[a in C_x] (delta_x + tau v_k - kappa ||w||^2 / (2 D))) / T), the expected gradient as a central finite
difference of those pass rates, and McCandlish et al.'s quadratic model in closed form for one SGD step.
"""

from __future__ import annotations

import numpy as np
import pytest

from simalloc.train.policies import LogLinearPolicy, parse_policy_options

M, K, D, TAU, T, KAPPA, SIGMA = 5, 2, 3, 0.8, 0.7, 2.5, 1.7
U = np.array([0.9, 0.3, -0.2, -0.5, -1.1])
V = np.array([0.4, -0.3])
W = np.array([0.3, -0.2, 0.5])
PROMPTS = (np.array([0, 1, 3]), np.array([2, 3, 5]), np.array([0, 1, 1]), np.array([0.2, -0.4, 1.0]),
           np.array([True, True, True]))
EVAL = (np.array([0]), np.array([3]), np.array([1]), np.array([0.0]), np.array([True]))


def policy(w=W, kappa=KAPPA, sigma=SIGMA):
    pol = LogLinearPolicy(U, V, PROMPTS, EVAL, TAU, T, 1.0, sigma, kappa, D)
    pol.apply(np.concatenate([np.zeros(M + K), w]))
    return pol


def enumerated_rate(i, w):
    """p_i by definition: the solving actions' softmax mass."""
    lo, hi, skill, delta, _ = (a[i] for a in PROMPTS)
    solve = (np.arange(M) >= lo) & (np.arange(M) < hi)
    z = (U + solve * (delta + TAU * V[skill] - KAPPA * np.dot(w, w) / (2 * D))) / T
    pi = np.exp(z - z.max())
    return pi[solve].sum() / pi.sum()


def test_pass_rates_fall_with_the_displacement_as_enumerated():
    idx = np.arange(3)
    # float64 sums; assert_allclose (np.allclose's default atol 1e-8 would make rtol 1e-12 moot)
    np.testing.assert_allclose(policy().pass_rates(idx), [enumerated_rate(i, W) for i in idx], rtol=1e-12)
    assert (policy().pass_rates(idx) < policy(np.zeros(D)).pass_rates(idx)).all()


def test_expected_gradient_on_w_is_the_finite_difference():
    """sum_i c_i grad_w p_i / (p_i (1 - p_i)) by central differences (h = 1e-5: error O(h^2) ~ 1e-10 relative)."""
    idx, coef = np.arange(3), np.array([0.7, -0.4, 1.3])
    p = np.array([enumerated_rate(i, W) for i in idx])
    h, fd = 1e-5, np.zeros(D)
    for j in range(D):
        e = np.zeros(D)
        e[j] = h
        dp = np.array([enumerated_rate(i, W + e) - enumerated_rate(i, W - e) for i in idx]) / (2 * h)
        fd[j] = np.sum(coef * dp / (p * (1 - p)))
    g = policy().gradient(idx, p, coef)
    assert g.shape == (M + K + D,)
    assert np.allclose(g[M + K:], fd, rtol=1e-6, atol=1e-10)  # finite-difference error ~1e-10 relative


def test_sampled_gradient_on_w_has_the_mean_and_the_noise_of_the_model():
    """Mean -(kappa / D) w sum_i c_i / T and variance sigma^2 sum_i (c_i / T)^2 (1/s_i + 1/f_i) per coordinate,
    from 8,000 draws: the mean within 5 se, the variance within 8% (its relative se is sqrt(2 / 8000) = 1.6%)."""
    pol, rng = policy(), np.random.default_rng(3)
    idx, s, n, coef = np.arange(3), np.array([2, 1, 3]), np.array([4, 4, 4]), np.array([0.7, -0.4, 1.3])
    draws = np.array([pol.sampled_gradient(idx, s, n, coef, rng)[M + K:] for _ in range(8000)])
    mean = -(KAPPA / D) * W * coef.sum() / T
    var = SIGMA ** 2 * np.sum((coef / T) ** 2 * (1 / s + 1 / (n - s)))
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * np.sqrt(var / len(draws)))
    assert np.allclose(draws.var(0), var, rtol=0.08)


def test_one_sgd_step_follows_the_quadratic_model_and_its_best_rate_rises_with_the_batch():
    """From w = 0 one SGD step of rate eps along the batch-mean sampled gradient changes beta_x by
    (tau eps G - kappa eps^2 Var / 2) / T exactly in expectation (G = sum c / (n T) on v_k, Var the mean gradient's
    per-coordinate variance, sigma^2 sum c^2 (1/s + 1/f) / (n T)^2): the best rate eps* = tau G / (kappa Var)
    (McCandlish et al.'s eps_opt with no curvature along the signal), and doubling the groups halves Var and doubles
    eps*. The Monte Carlo mean over 2,000 steps must match the closed form within 5 se at each rate."""
    rng, pol = np.random.default_rng(5), policy(np.zeros(D))
    for groups in (2, 4):
        idx = np.zeros(groups, dtype=np.int64)  # prompt 0 (skill 0) repeated: every group is one more draw
        s, n, coef = np.full(groups, 2), np.full(groups, 4), np.full(groups, 0.5)
        g_signal = TAU * coef.sum() / (groups * T)
        var = SIGMA ** 2 * np.sum((coef / T) ** 2 * (1 / s + 1 / (n - s))) / groups ** 2
        best = TAU * g_signal / (KAPPA * var)
        for eps in (0.5 * best, best, 2 * best):
            gains = []
            for _ in range(2000):  # beta_0 after the step, from the step itself (the policy stays at w = 0)
                step = eps * pol.sampled_gradient(idx, s, n, coef, rng) / groups
                gains.append((TAU * step[M] - KAPPA * np.dot(step[M + K:], step[M + K:]) / (2 * D)) / T)
            expect = (TAU * eps * g_signal - KAPPA * eps ** 2 * var / 2) / T
            assert abs(np.mean(gains) - expect) < 5 * np.std(gains) / np.sqrt(len(gains)) + 1e-12
        if groups == 2:
            best2 = best
    assert best == pytest.approx(2 * best2, rel=1e-12)


def test_no_score_noise_no_nuisance_noise():
    """sigma = 0: the nuisance part of the sampled gradient is its mean exactly (no draw)."""
    pol = policy(sigma=0.0)
    idx, s, n, coef = np.arange(3), np.array([2, 1, 3]), np.array([4, 4, 4]), np.array([0.7, -0.4, 1.3])
    g = pol.sampled_gradient(idx, s, n, coef, np.random.default_rng(0))[M + K:]
    assert np.allclose(g, -(KAPPA / D) * W * coef.sum() / T, rtol=1e-12)


def test_off_by_default_and_bad_options_are_named():
    assert parse_policy_options("")["curvature"] == 0.0
    pol = LogLinearPolicy(U, V, PROMPTS, EVAL, TAU, T)
    assert pol.n_params == M + K
    with pytest.raises(ValueError, match="policy_options: curvature"):
        parse_policy_options("curvature=-1")
    with pytest.raises(ValueError, match="policy_options: nuisance"):
        parse_policy_options("curvature=1,nuisance=0.5")
    with pytest.raises(ValueError, match="curvature"):
        LogLinearPolicy(U, V, PROMPTS, EVAL, TAU, T, 1.0, 0.0, np.nan)


def exact_rate(pol, i):
    """p_i in the log domain by definition (log-sum-exp over the solving strategies and over the others), exact
    however far the strategies' mass concentrates."""
    from scipy.special import expit, logsumexp
    lo, hi, skill, delta, _ = (a[i] for a in PROMPTS)
    solve = (np.arange(M) >= lo) & (np.arange(M) < hi)
    z = pol.u / T
    beta = (delta + TAU * pol.v[skill] - KAPPA * np.dot(pol.w, pol.w) / (2 * D)) / T
    return expit(logsumexp(z[solve]) - logsumexp(z[~solve]) + beta)


@pytest.mark.parametrize("shift", [40.0, 1000.0])
def test_pass_rate_stays_exact_when_the_solving_mass_rounds_to_one(shift):
    """A diverged state: strategy 0 (a solving strategy of prompt 0) holds all but exp(-shift / T) of the mass, so
    W rounds to 1 (shift 40: 1 - W ~ 1e-25; shift 1000: it underflows), and the damage cancels that log-odds to
    about 0, so the true p_0 is moderate (a wrong 1 - W computed as 1 - W_float = 0 would give p = 1). The kernel
    must match the log-domain enumeration (rtol 1e-9: the log-odds ~ shift / T carry rounding ~ 1e-13 absolute at
    shift 1000). A second displacement, 10x larger, must give p_0 = 0 (to the last bit: exp(-1e4) underflows)."""
    pol = policy(np.zeros(D))
    lo_odds = (shift + U[0] - np.log(np.exp(U[2:] / T).sum()) * T) / T  # log W/(1-W) up to the tiny terms
    damage = T * (lo_odds + (PROMPTS[3][0] + TAU * V[0]) / T)  # the damage that brings x_0 near 0
    w = np.array([np.sqrt(2 * D * damage / KAPPA), 0.0, 0.0])
    pol.apply(np.concatenate([[shift], np.zeros(M + K - 1), w]))
    want = exact_rate(pol, 0)
    assert 0.05 < want < 0.95  # the case is the moderate one it claims to be
    np.testing.assert_allclose(pol.pass_rates([0]), [want], rtol=1e-9)
    pol.apply(np.concatenate([np.zeros(M + K), 9 * w]))
    assert pol.pass_rates([0])[0] == 0.0 and exact_rate(pol, 0) == 0.0


def test_a_diverged_run_records_pass_at_1_zero():
    """SGD at lr 1e6 with the ceiling on: the nuisance displacement diverges at once; every record stays finite and
    the last Pass@1 is 0 (the true pass rates are exp(-1e10)-small; before the log-domain fix the prompts whose
    solving strategies had taken all the mass read 1, and the run's Pass@1 ended at 0.46)."""
    import dataclasses

    from simalloc.train import TrainConfig, simulate_training
    from simalloc.train.config import V4_READING
    cfg = dataclasses.replace(TrainConfig(), **V4_READING)
    cfg = dataclasses.replace(cfg, policy_options="curvature=50", optimizer="sgd", lr=1e6, max_grad_norm=0.0,
                              steps=6, n_pool=200, n_eval=50, n_prompts=30, snr_every=1, eval_temperatures=())
    steps, _ = simulate_training(cfg.validate(), "uniform", 0)
    assert np.isfinite(steps["pass@1"]).all() and steps["pass@1"].iloc[-1] == 0.0
