"""The simulated policies: windows, the Rao-Blackwellized softmax gradient, exact Pass@k curves."""

import numpy as np
import pytest

from simalloc.train.policies import StrategyPolicy, pass_at_k_curve
from simalloc.worlds import BetaWorld


def _policy(seed=0, m=40):
    rng = np.random.default_rng(seed)
    return StrategyPolicy.from_world(BetaWorld(0.5, 0.5), 300, 100, m, 1.5, rng)


def test_windows_realize_the_target_pass_rates():
    pi = np.arange(1, 201, dtype=float) ** -1.5
    pi /= pi.sum()
    targets = np.random.default_rng(1).uniform(pi[-1], 1, size=2000)
    lo, hi = StrategyPolicy.windows(targets, pi)
    tail = np.concatenate([np.cumsum(pi[::-1])[::-1], [0.0]])
    realized = tail[lo] - tail[hi]
    assert np.all(realized >= targets - 1e-12)
    assert np.all(realized - targets <= pi[hi - 1] + 1e-12)  # overshoot below one strategy's mass
    # hard prompts live deeper in the tail than easy ones: the window start never rises with difficulty
    order = np.argsort(targets)
    assert np.all(np.diff(lo[order]) <= 0)
    assert lo[targets >= 0.5].max() == 0 and lo[targets < 0.01].min() > 50


def test_gradient_matches_finite_differences():
    pol = _policy()
    idx = np.arange(0, 300, 7)
    p = pol.pass_rates(idx)
    coef = np.random.default_rng(2).normal(size=idx.size)
    theta0 = pol.theta.copy()

    def objective(theta):  # sum_i coef_i p_i(theta) / (p_i (1 - p_i)) with the weights frozen at theta0
        q = StrategyPolicy(theta, pol.lo, pol.hi, pol.eval_lo, pol.eval_hi).pass_rates(idx)
        return np.sum(coef / (p * (1 - p)) * q)

    h = 1e-6
    fd = np.array([(objective(theta0 + h * e) - objective(theta0 - h * e)) / (2 * h) for e in np.eye(theta0.size)])
    pol2 = StrategyPolicy(theta0.copy(), pol.lo, pol.hi, pol.eval_lo, pol.eval_hi)
    pol2.update(idx, p, coef, 1.0)
    np.testing.assert_allclose(pol2.theta - theta0, fd, rtol=1e-5, atol=1e-8)


def test_rao_blackwellized_gradient_is_unbiased_for_reinforce():
    """E[sum_r A_r (e_{j_r} - pi)] over sampled strategies = E[a(counts) grad p / (p (1-p))] (Dr.GRPO)."""
    rng = np.random.default_rng(3)
    m, n, groups = 6, 8, 40_000
    theta = rng.normal(size=m)
    pi = np.exp(theta) / np.exp(theta).sum()
    window = np.array([False, True, True, False, False, True])
    p = pi[window].sum()
    strategies = rng.choice(m, size=(groups, n), p=pi)
    r = window[strategies].astype(float)
    adv = r - r.mean(1, keepdims=True)
    onehot = np.eye(m)[strategies]
    full = (adv[..., None] * (onehot - pi)).sum(1)  # (groups, m)
    s = r.sum(1)
    a = s * (n - s) / n
    rb = a[:, None] * (pi * (window - p))[None, :] / (p * (1 - p))
    diff = full.mean(0) - rb.mean(0)
    se = np.sqrt(full.var(0) / groups + rb.var(0) / groups)
    assert np.all(np.abs(diff) <= 5 * se + 1e-12), (diff, se)  # 5 SE per coordinate: failure rate < 4e-6


def test_pass_at_k_curve_is_exact():
    p = np.array([0.0, 0.1, 0.5, 1.0])
    np.testing.assert_allclose(pass_at_k_curve(p, [1, 3]), [np.mean(p), np.mean(1 - (1 - p) ** 3)], rtol=1e-14)


def test_update_skips_degenerate_prompts():
    """Prompts with p = 0 or p = 1 carry no gradient (the weight 1 / (p (1 - p)) is not formed for them)."""
    pol = _policy(m=10)
    theta = pol.theta.copy()
    norm = pol.update(np.array([0, 1]), np.array([1.0, 0.0]), np.array([1.0, 1.0]), 1.0)
    assert norm == 0.0 and np.array_equal(theta, pol.theta)


def test_entropy_hand_values():
    """Uniform strategy logits: log M; p = 1/2 everywhere for the Bernoulli policy: log 2; a point mass: 0."""
    import numpy as np

    from simalloc.train.policies import BernoulliPolicy, StrategyPolicy

    lo = hi = np.zeros(1, dtype=np.int64)
    assert StrategyPolicy(np.zeros(7), lo, hi + 1, lo, hi + 1).entropy() == pytest.approx(np.log(7))
    assert StrategyPolicy(np.array([0.0, -800.0]), lo, hi + 1, lo, hi + 1).entropy() == pytest.approx(0.0, abs=1e-12)
    assert BernoulliPolicy(np.zeros(5)).entropy() == pytest.approx(np.log(2))


def test_cluster_policy_gradient_and_per_cluster_learning():
    """The cluster policy's update direction equals finite differences of sum_i w_i p_i (w_i = coef_i / (p_i (1 -
    p_i)) held fixed), over u and every W_c; updating one cluster's prompts leaves the other clusters' W rows
    unchanged; initial pass rates follow the world (mean of Beta(0.5, 0.5) = 0.5); with order noise the solution
    sets are not contiguous in the shared ranking, without it they are."""
    import numpy as np

    from simalloc.train.policies import ClusterPolicy
    from simalloc.worlds import make_world

    rng = np.random.default_rng(3)
    pol = ClusterPolicy.from_world(make_world("beta:0.5,0.5"), 60, 20, 12, 1.2, rng, n_clusters=3)
    pol.w = rng.normal(scale=0.3, size=pol.w.shape)  # away from the symmetric start
    pol._refresh()
    all_p = pol.pass_rates(np.arange(60))
    idx = np.flatnonzero((all_p > 0.05) & (all_p < 0.95))  # bounded weights: finite differences stay accurate
    assert len(set(pol.cluster[idx])) >= 2
    p = pol.pass_rates(idx)
    coef = rng.normal(size=idx.size)
    keep = (p > 0) & (p < 1)
    w = np.where(keep, coef / np.where(keep, p * (1 - p), 1), 0.0)
    g = pol.gradient(idx, p, coef)
    base_u, base_w = pol.u.copy(), pol.w.copy()
    num = np.zeros(g.size)
    for k in range(g.size):
        vals = []
        for sign in (1, -1):
            d = np.zeros(g.size)
            d[k] = sign * 1e-6
            pol.u, pol.w = base_u.copy(), base_w.copy()
            pol.apply(d)
            vals.append(float(np.dot(w, pol.pass_rates(idx))))
        num[k] = (vals[0] - vals[1]) / 2e-6
    pol.u, pol.w = base_u.copy(), base_w.copy()
    pol._refresh()
    np.testing.assert_allclose(g, num, atol=1e-5)

    only0 = idx[pol.cluster[idx] == 0]
    before = pol.w.copy()
    pol.update(only0, pol.pass_rates(only0), np.ones(only0.size), 0.5)
    assert not np.allclose(pol.w[0], before[0]) and np.array_equal(pol.w[1:], before[1:])

    big = ClusterPolicy.from_world(make_world("beta:0.5,0.5"), 3000, 10, 200, 1.5, np.random.default_rng(0))
    assert abs(big.pass_rates(np.arange(3000)).mean() - 0.5) < 0.05
    ranks_gap = lambda pol: max(np.ptp(np.flatnonzero(r)) + 1 - r.sum() for r in pol.solves if r.any())  # noqa
    assert ranks_gap(big) > 0  # some set has holes in the shared ranking
    flat = ClusterPolicy.from_world(make_world("beta:0.5,0.5"), 300, 10, 50, 1.5, np.random.default_rng(0),
                                    order_noise=0.0)
    assert ranks_gap(flat) == 0
