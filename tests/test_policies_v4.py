"""Simulator v4's log-linear policy (``LogLinearPolicy``) against exact enumeration of a tiny policy.

Oracles are independent of the kernels: pi(a | x) is enumerated from its definition (a softmax over the M actions
of (u_a + 1[a in C_x] (delta_x + tau v_k(x))) / T, -inf on an unreachable prompt's solving actions), and the
expected gradient from the explicit features phi(x, a) = (e_a, tau 1[a in C_x] e_k(x)) and the score
(phi(x, a) - E_pi[phi(x, .)]) / T.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simalloc.train import TrainConfig, simulate_training
from simalloc.train.config import V3_READING, V4_READING
from simalloc.train.policies import LogLinearPolicy, make_policy, parse_policy_options
from simalloc.worlds import BetaWorld

M, K, TAU, T = 5, 2, 0.8, 0.7
U = np.array([0.9, 0.3, -0.2, -0.5, -1.1])
V = np.array([0.4, -0.3])
#: (lo, hi, skill, delta, reach): prompt 2 is unreachable, prompt 3's window is the whole tail
PROMPTS = (np.array([0, 1, 2, 3]), np.array([2, 3, 4, 5]), np.array([0, 1, 0, 1]), np.array([0.2, -0.4, 0.5, 1.0]),
           np.array([True, True, False, True]))
EVAL = (np.array([0, 2]), np.array([3, 5]), np.array([1, 0]), np.array([0.0, -1.0]), np.array([True, True]))


def policy(transfer=TAU, score_noise=0.0):
    return LogLinearPolicy(U, V, PROMPTS, EVAL, transfer, T, 1.0, score_noise)


def enumerate_policy(prompts, i, t, transfer=TAU, u=U, v=V):
    """(pi over actions, solving mask, feature rows phi(x, a), shape (M, M + K)) by definition."""
    lo, hi, skill, delta, reach = (a[i] for a in prompts)
    solve = (np.arange(M) >= lo) & (np.arange(M) < hi)
    z = u + solve * (delta + transfer * v[skill])
    z = np.where(solve & (not reach), -np.inf, z) / t
    pi = np.exp(z - z.max())
    pi /= pi.sum()
    phi = np.zeros((M, M + K))
    phi[np.arange(M), np.arange(M)] = 1.0
    phi[:, M + skill] = transfer * solve
    return pi, solve, phi


def exact_gradient(prompts, idx, coef, t, transfer=TAU):
    """sum_r coef_r grad p_r / (p_r (1 - p_r)), grad p = sum_{a in C} pi_a (phi_a - E_pi phi) / T, enumerated."""
    g = np.zeros(M + K)
    for i, c in zip(idx, coef):
        pi, solve, phi = enumerate_policy(prompts, i, t, transfer)
        p = pi[solve].sum()
        if 0 < p < 1:
            score = (phi - pi @ phi) / t
            g += c * (pi[solve] @ score[solve]) / (p * (1 - p))
    return g


def test_pass_rates_match_enumeration():
    pol = policy()
    want = [enumerate_policy(PROMPTS, i, T)[0][enumerate_policy(PROMPTS, i, T)[1]].sum() for i in range(4)]
    np.testing.assert_allclose(pol.pass_rates(np.arange(4)), want, rtol=1e-12)  # float64 reorderings only
    assert pol.pass_rates([2])[0] == 0.0  # unreachable: exactly 0
    for t in (1.0, 2.0):  # eval prompts at the evaluation temperature and at another one
        want = [enumerate_policy(EVAL, i, t)[0][enumerate_policy(EVAL, i, t)[1]].sum() for i in range(2)]
        got = pol.eval_pass_rates() if t == 1.0 else pol.eval_pass_rates(t)
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_rao_blackwell_gradient_matches_enumeration():
    pol = policy()
    idx, coef = np.array([0, 1, 2, 3, 1]), np.array([0.7, -0.3, 1.0, 0.5, 0.2])
    p = pol.pass_rates(idx)
    np.testing.assert_allclose(pol.gradient(idx, p, coef), exact_gradient(PROMPTS, idx, coef, T), rtol=1e-10,
                               atol=1e-13)


def test_sampled_gradient_mean_is_the_exact_gradient():
    """Monte Carlo: the mean of R sampled gradients given the counts is the Rao-Blackwellised gradient (enumerated).
    Tolerance 5 se per coordinate (se from the draws): with 7 coordinates the chance of a false failure is
    ~7 x 6e-7; the seed is fixed, so the test is deterministic."""
    pol = policy()
    idx, s, n = np.array([0, 1, 3, 2]), np.array([3, 1, 5, 0]), np.array([8, 4, 6, 8])
    coef = np.array([0.6, -0.4, 0.9, 0.3])
    rng = np.random.default_rng(7)
    draws = np.array([pol.sampled_gradient(idx, s, n, coef, rng) for _ in range(4000)])
    want = exact_gradient(PROMPTS, idx, coef, T)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - want) <= 5 * se + 1e-12)
    assert se[:M].max() > 0  # the strategy part is really sampled ...
    np.testing.assert_allclose(draws[:, M:], np.broadcast_to(want[M:], draws[:, M:].shape), rtol=1e-12)  # ... the skill
    # part is exact given the counts (every success carries the skill, no failure does)


def test_unreachable_prompts_stay_at_zero():
    pol = policy()
    rng = np.random.default_rng(0)
    for _ in range(20):
        pol.apply(rng.normal(0, 3, pol.n_params))
        assert pol.pass_rates([2])[0] == 0.0
    assert not pol.gradient([2], [0.0], [1.0]).any()
    assert not pol.sampled_gradient([2], [3], [8], [1.0], rng).any()  # no success can reach it


def test_transfer_lifts_an_unseen_prompt_of_the_same_skill():
    """Mechanism (b): ascent on training prompt 0 (skill 0) raises eval prompt 1 (skill 0) through v only when
    tau > 0; eval prompt 0 (skill 1) moves only through u."""
    for tau in (TAU, 0.0):
        pol = policy(tau)
        before = pol.eval_pass_rates()
        g = pol.gradient([0], pol.pass_rates([0]), [1.0])
        pol.apply(np.concatenate([np.zeros(M), 0.5 * g[M:]]))  # the skill part only
        after = pol.eval_pass_rates()
        if tau > 0:
            assert after[1] > before[1] + 1e-3 and after[0] == before[0]
        else:
            np.testing.assert_array_equal(after, before)


def test_several_solutions_sharpen_onto_the_most_popular():
    """Mechanism (a): ascent on prompt 0 (solving strategies 0 and 1) raises u in proportion to pi_j, so the
    share of the solving mass held by strategy 0 (the more popular) rises; p rises too."""
    pol = policy()
    pi0, solve, _ = enumerate_policy(PROMPTS, 0, T)
    share0 = pi0[0] / pi0[solve].sum()
    p0 = pol.pass_rates([0])[0]
    for _ in range(20):
        pol.apply(0.5 * pol.gradient([0], pol.pass_rates([0]), [1.0]))
    pi, solve, _ = enumerate_policy(PROMPTS, 0, T, u=pol.u, v=pol.v)
    assert pi[0] / pi[solve].sum() > share0 + 0.01 and pol.pass_rates([0])[0] > p0


def test_from_world_starts_at_the_worlds_pass_rates():
    world = BetaWorld(0.5, 0.5)
    pol = make_policy("loglinear", world, 300, 50, 40, 1.5, np.random.default_rng(3), temperature=0.7,
                      eval_temperature=0.7, policy_options="solutions=3,unreachable=0.2", n_clusters=4)
    targets = np.clip(world.sample(300, np.random.default_rng(3)), 1e-9, 1 - 1e-9)  # the pool's draw comes first
    p = pol.pass_rates(np.arange(300))
    reach = pol.prompts[4]
    np.testing.assert_allclose(p[reach], targets[reach], rtol=1e-9)
    assert (p[~reach] == 0).all() and 0.1 < (~reach).mean() < 0.3  # 20% unreachable, binomial(300) spread
    assert ((pol.prompts[1] - pol.prompts[0]) == 3).all() and pol.n_params == 40 + 8


def test_entropy_matches_enumeration():
    pol = policy()
    want = []
    for i in range(4):
        pi = enumerate_policy(PROMPTS, i, T)[0]
        want.append(-np.sum(pi[pi > 0] * np.log(pi[pi > 0])))
    np.testing.assert_allclose(pol.prompt_entropies(), want, rtol=1e-9)
    np.testing.assert_allclose(pol.cluster_entropies(), [np.mean(want[0::2]), np.mean(want[1::2])], rtol=1e-9)


def test_score_noise_has_zero_mean_and_the_scores_covariance():
    """Mechanism (d): with score_noise sigma each rollout adds A_r sigma (phi(x, a') - E_pi phi), a' ~ pi(. | x)
    independent of its outcome. Its mean is 0 (the sampled gradient's mean stays the exact gradient: 5 se per
    coordinate, as above) and, being independent of the outcome draws, it adds sigma^2 sum_r A_r^2 Var_pi(phi_j) to
    each coordinate's variance (enumerated; tolerance 15% relative: a variance from R = 4000 draws has relative se
    sqrt(2 / R) ~ 2.2%, so 15% is ~5 se of the difference of two such estimates)."""
    idx, s, n = np.array([0, 1, 3]), np.array([3, 1, 5]), np.array([8, 4, 6])
    coef = np.array([0.6, -0.4, 0.9])
    sigma, reps = 2.0, 4000
    rng, plain, loud = np.random.default_rng(11), policy(), policy(score_noise=sigma)
    quiet = np.array([plain.sampled_gradient(idx, s, n, coef, rng) for _ in range(reps)])
    noisy = np.array([loud.sampled_gradient(idx, s, n, coef, rng) for _ in range(reps)])
    want = exact_gradient(PROMPTS, idx, coef, T)
    se = noisy.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(noisy.mean(axis=0) - want) <= 5 * se + 1e-12)
    added = np.zeros(M + K)
    for i, c, si, ni in zip(idx, coef / T, s, n):
        pi, _, phi = enumerate_policy(PROMPTS, i, T)
        var = pi @ (phi - pi @ phi) ** 2
        added += sigma ** 2 * (si * (c / si) ** 2 + (ni - si) * (c / (ni - si)) ** 2) * var
    got = noisy.var(axis=0, ddof=1) - quiet.var(axis=0, ddof=1)
    big = added > 0.05 * added.max()
    np.testing.assert_allclose(got[big], added[big], rtol=0.15)


def test_score_noise_lowers_the_measured_snr():
    """Mechanism (d) as the lab reads it: the gradient SNR (``simalloc.train.snr``) recorded by a short run falls
    when score_noise rises (0 -> 60): ~2.5 and ~-0.2 on two seeds (the unbiased estimator can go below 0), so the
    bounds 1 and 0.5 leave room for another CPU's rounding."""
    cfg = dataclasses.replace(TrainConfig(), **V4_READING, steps=6, n_pool=200, n_eval=50, n_prompts=30, snr_every=1,
                              eval_temperatures=())
    snr = [simulate_training(dataclasses.replace(cfg, policy_options=f"score_noise={x}"), "uniform", 0)[0]
           .grad_snr.iloc[1:].mean() for x in (0, 60)]
    assert snr[0] > 1.0 and snr[1] < 0.5


@pytest.mark.parametrize("text, match", [("solutions=0", "solutions"), ("transfer=-1", "transfer"),
                                         ("unreachable=1", "unreachable"), ("bogus=1", "key"), ("skills=x", "number"),
                                         ("score_noise=-1", "score_noise"),
                                         # too large to allocate: one line, not a MemoryError from numpy
                                         ("skills=1e12", r"skills must be an integer in \[1, 1000000\]"),
                                         ("curvature=1,nuisance=1e30", r"nuisance must be an integer in \[1, "),
                                         # a value that is no number names the key's range
                                         ("transfer=high", r"transfer.*not a number \(transfer must be finite")])
def test_bad_options_are_named(text, match):
    with pytest.raises(ValueError, match=f"policy_options.*{match}"):
        parse_policy_options(text)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="policy_options: solutions"):
        TrainConfig(policy="loglinear", policy_options="solutions=300").validate()
    with pytest.raises(ValueError, match="delta"):
        LogLinearPolicy(U, V, PROMPTS[:3] + (np.array([0, np.inf, 0, 0]),) + PROMPTS[4:], EVAL)
    with pytest.raises(ValueError, match="s: must"):
        policy().sampled_gradient([0], [5], [4], [1.0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="delta: must have shape"):
        policy().apply(np.zeros(3))


def test_v3_stays_the_default_and_v4_is_a_reading():
    """v3 is what TrainConfig() builds (until the lead switches); V4_READING selects the log-linear policy."""
    cfg = TrainConfig()
    assert all(getattr(cfg, k) == v for k, v in V3_READING.items())
    v4 = dataclasses.replace(cfg, **V4_READING).validate()
    assert v4.policy == "loglinear" and v4.rollout_noise == 0.0
