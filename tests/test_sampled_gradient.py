"""Simulator v2's sampled-trajectory update: unbiased for the Rao-Blackwellised one, temperature-correct, and able
to fail (a sampler that ignores the outcome is caught)."""

import dataclasses

import numpy as np
import pytest

from simalloc.train import TrainConfig, advantage_masses, simulate_training
from simalloc.train.policies import ClusterPolicy, StrategyPolicy
from simalloc.worlds import BetaWorld


def _cluster(seed=0, temperature=0.7, m=30, clusters=3):
    rng = np.random.default_rng(seed)
    pol = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), 200, 50, m, 1.5, rng, n_clusters=clusters, order_noise=1.0,
                                   temperature=temperature)
    pol.w += rng.normal(scale=0.5, size=pol.w.shape)  # clusters that differ, so W's gradient is not u's
    pol._refresh()
    return pol


def _batch(pol, seed=1, n_prompts=12, group=8):
    rng = np.random.default_rng(seed)
    idx = rng.choice(200, n_prompts, replace=False)
    p = pol.pass_rates(idx)
    keep = (p > 0.02) & (p < 0.98)
    idx, p = idx[keep], p[keep]
    n = np.full(idx.size, group)
    s = np.clip(rng.binomial(n, p), 1, group - 1)  # spread in every group, so every prompt has signal
    coef = advantage_masses(s, n, "dr_grpo", "group", 1e-4) / group
    return idx, p, s, n, coef


def _mean_and_se(draw, reps):
    g = np.array([draw() for _ in range(reps)])
    return g.mean(0), g.std(0, ddof=1) / np.sqrt(reps)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_cluster_sampled_gradient_equals_rao_blackwell_in_expectation(temperature):
    """Given the counts, E[sampled] = RB on every coordinate of (u, W). Tolerance: 5 standard errors per
    coordinate (Bonferroni over ~120 coordinates: a false alarm under 1e-4)."""
    pol = _cluster(temperature=temperature)
    idx, p, s, n, coef = _batch(pol)
    rb = pol.gradient(idx, p, coef)
    rng = np.random.default_rng(5)
    mean, se = _mean_and_se(lambda: pol.sampled_gradient(idx, s, n, coef, rng), 4000)
    live = se > 0
    assert live.sum() > 30
    z = np.abs(mean - rb)[live] / se[live]
    assert z.max() < 5, z.max()
    assert np.all(np.abs(mean - rb)[~live] < 1e-12)  # coordinates no draw can touch have RB = 0 too


def test_strategy_sampled_gradient_equals_rao_blackwell_in_expectation():
    rng = np.random.default_rng(0)
    pol = StrategyPolicy.from_world(BetaWorld(0.5, 0.5), 300, 50, 40, 1.5, rng)
    idx = np.flatnonzero((pol.pass_rates(np.arange(300)) > 0.02) & (pol.pass_rates(np.arange(300)) < 0.98))[:15]
    p = pol.pass_rates(idx)
    n = np.full(idx.size, 8)
    s = np.clip(rng.binomial(n, p), 1, 7)
    coef = advantage_masses(s, n, "dr_grpo", "none", 1e-4) / 8
    rb = pol.gradient(idx, p, coef)
    mean, se = _mean_and_se(lambda: pol.sampled_gradient(idx, s, n, coef, rng), 4000)
    live = se > 0
    assert (np.abs(mean - rb)[live] / se[live]).max() < 5
    assert np.all(np.abs(rb[~live]) < 1e-12)


def test_the_expectation_test_catches_an_outcome_blind_sampler():
    """Mutation: successes' and failures' strategies drawn from the unrestricted pi (ignoring S_i) make the
    sampled direction zero in expectation; the 5-se test above must reject it."""
    pol = _cluster()
    idx, p, s, n, coef = _batch(pol)
    rb = pol.gradient(idx, p, coef)
    rng = np.random.default_rng(7)
    m = pol.u.size

    def draw():  # the kernel's weights, strategies drawn from pi_c whatever the outcome
        g_u, g_w = np.zeros(m), np.zeros(pol.w.shape)
        for i, si, ni, c in zip(idx, s, n, coef):
            cl = pol.cluster[i]
            for count, w in ((si, c / si), (ni - si, -c / (ni - si))):
                js = rng.choice(m, size=count, p=pol._pi[cl])
                np.add.at(g_u, js, w / pol.temperature)
                np.add.at(g_w[cl], js, w / pol.temperature)
        return np.concatenate([g_u, g_w.ravel()])

    mean, se = _mean_and_se(draw, 2000)
    live = se > 0
    assert (np.abs(mean - rb)[live] / se[live]).max() > 5


def test_cluster_gradient_temperature_matches_finite_differences():
    """d/dz of sum_i w_i p_i(z) with p_i = sum_{S_i} softmax(z_c / T): the RB direction at T = 0.7."""
    pol = _cluster(temperature=0.7, m=12, clusters=2)
    idx, p, s, n, coef = _batch(pol, n_prompts=20)
    wgt = coef / (p * (1 - p))
    base = np.concatenate([pol.u, pol.w.ravel()])

    def objective(theta):
        q = ClusterPolicy(theta[:12], theta[12:].reshape(2, 12), pol.cluster, pol.solves, pol.eval_cluster,
                          pol.eval_solves, 0.7)
        return float(np.sum(wgt * q.pass_rates(idx)))

    h = 1e-6
    fd = np.array([(objective(base + h * e) - objective(base - h * e)) / (2 * h) for e in np.eye(base.size)])
    np.testing.assert_allclose(pol.gradient(idx, p, coef), fd, rtol=1e-5, atol=1e-8)


def test_eval_temperature_changes_only_the_evaluation():
    rng = np.random.default_rng(0)
    a = ClusterPolicy.from_world(BetaWorld(1, 1), 100, 400, 50, 1.5, rng, temperature=0.7, eval_temperature=0.7)
    b = ClusterPolicy(a.u, a.w, a.cluster, a.solves, a.eval_cluster, a.eval_solves, 0.7, 1.0)
    np.testing.assert_allclose(a.pass_rates(np.arange(100)), b.pass_rates(np.arange(100)), rtol=1e-14)
    # hotter evaluation flattens the distribution: the rarest strategies gain mass, so Pass@1 of the hardest
    # eval prompts rises (hand check on the distributions themselves)
    assert np.all(b._pi_eval[:, -1] > a._pi_eval[:, -1])
    assert np.all(b._pi_eval[:, 0] < a._pi_eval[:, 0])


def test_warmup_steps_are_shared_by_every_arm():
    """During warm-up every arm runs the same plain GRPO: identical rows up to the switch, different after."""
    cfg = TrainConfig(steps=12, warmup_steps=6, n_pool=300, n_eval=100, n_prompts=20, phase_b_shards=2)
    a, _ = simulate_training(cfg, "hora", 3)
    b, _ = simulate_training(cfg, "uniform:lr0.3", 3)
    cols = ["pass@1", "pass@256", "entropy", "informative_share"]
    np.testing.assert_array_equal(a[cols].iloc[:7].to_numpy(), b[cols].iloc[:7].to_numpy())
    assert not np.allclose(a["pass@1"].iloc[-1], b["pass@1"].iloc[-1])
    assert a["budget_share_s0"].iloc[1:7].isna().all() and a["budget_share_s0"].iloc[7:].notna().all()


def test_sampled_runs_are_deterministic_and_differ_from_rao_blackwell():
    cfg = TrainConfig(steps=8, n_pool=300, n_eval=100, n_prompts=20, phase_b_shards=2)
    a, _ = simulate_training(cfg, "hora", 11)
    b, _ = simulate_training(cfg, "hora", 11)
    c, _ = simulate_training(dataclasses.replace(cfg, gradient="rao_blackwell"), "hora", 11)
    assert a.equals(b)
    assert not np.allclose(a["pass@1"].iloc[-1], c["pass@1"].iloc[-1])
    assert (a["grad_noise"].iloc[1:] > 0).all() and c["grad_noise"].isna().all()


def test_scale_rewards_follow_trl():
    """Masses against per-rollout advantages transcribed from TRL: (r - group mean) / (std + eps), std over the
    group ("group") or the whole batch ("batch"), torch.std's Bessel correction; "none": r - mean."""
    rng = np.random.default_rng(0)
    sizes = np.array([4, 6, 8, 3, 5])
    s = np.array([1, 3, 8, 2, 0])
    rewards = [np.r_[np.ones(k), np.zeros(n - k)] for k, n in zip(s, sizes)]
    allr = np.concatenate(rewards)
    for scale in ("group", "batch", "none"):
        want = []
        for r in rewards:
            adv = r - r.mean()
            if scale == "group":
                adv = adv / (r.std(ddof=1) + 1e-4)
            elif scale == "batch":
                adv = adv / (allr.std(ddof=1) + 1e-4)
            want.append(adv[r == 1].sum())
        np.testing.assert_allclose(advantage_masses(s, sizes, "dr_grpo", scale, 1e-4), want, rtol=1e-12, atol=1e-15)
    _ = rng


def _scan_reference(pi, cluster, solves, idx, s, n, coef, inv_t, rng):
    """The O(M)-per-prompt inverse-CDF sampler the CSR kernel replaced, in plain Python: each draw's strategy is the
    first j whose cumulative mass (over S_i for a success, its complement for a failure) exceeds u x total."""
    m = pi.shape[1]
    g_u, g_w = np.zeros(m), np.zeros(pi.shape)
    for r, i in enumerate(idx):
        succ, fail = s[r], n[r] - s[r]
        if coef[r] == 0 or succ <= 0 or fail <= 0:
            continue
        c = cluster[i]
        cum_s = np.cumsum(np.where(solves[i], pi[c], 0.0))
        cum_f = np.cumsum(np.where(solves[i], 0.0, pi[c]))
        if not solves[i].any() or solves[i].all():
            continue
        for count, cum, w in ((succ, cum_s, coef[r] * inv_t / succ), (fail, cum_f, -coef[r] * inv_t / fail)):
            for _ in range(count):
                j = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), m - 1)
                g_u[j] += w
                g_w[c, j] += w
    return np.concatenate([g_u, g_w.ravel()])


def test_cluster_sampler_maps_each_uniform_to_the_inverse_cdf_strategy():
    """The CSR kernel (gaps between solving strategies, O(|S_i| + n log M) per prompt) draws, uniform by uniform,
    the strategy of a direct inverse-CDF scan over all M strategies: the same gradient up to summation rounding.
    Solution sets include the edge cases: first or last strategy, adjacent solving strategies (empty gaps), a
    single non-solving strategy, a single solving one."""
    m, clusters = 12, 2
    rng = np.random.default_rng(3)
    sets = [[0], [m - 1], [0, 1, 2], [3, 4, 9, 10, 11], list(range(m - 1)), list(range(1, m)), [5], [2, 3, 7, 8]]
    sets += [sorted(rng.choice(m, size=rng.integers(1, m), replace=False)) for _ in range(24)]
    solves = np.zeros((len(sets), m), dtype=bool)
    for i, st in enumerate(sets):
        solves[i, st] = True
    cl = rng.integers(0, clusters, size=len(sets))
    pol = ClusterPolicy(rng.normal(size=m), rng.normal(size=(clusters, m)), cl, solves, cl[:2], solves[:2], 0.7)
    idx = np.arange(len(sets))
    n = np.full(idx.size, 16)
    s = rng.integers(1, 16, size=idx.size)
    coef = advantage_masses(s, n, "dr_grpo", "group", 1e-4) / 16
    fast = pol.sampled_gradient(idx, s, n, coef, np.random.default_rng(9))
    slow = _scan_reference(pol._pi, cl, solves, idx, s, n, coef, 1 / 0.7, np.random.default_rng(9))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    off_by_one = _scan_reference(pol._pi, cl, solves, idx, s, n, coef, 1 / 0.7, np.random.default_rng(10))
    assert not np.allclose(fast, off_by_one)  # another stream differs: the comparison can fail
