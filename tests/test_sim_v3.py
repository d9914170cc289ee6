"""Simulator v3: prompt-specific failure modes, per-rollout score noise, the gradient SNR (the lab's definition)
and the frontier's interpolation bound. Oracles: finite differences of the pass rates, Monte Carlo of the sampler,
a direct simulation of per-rollout noise, and algebra of the SNR; each mechanism test also runs the reading
that must not show the effect."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import special

from simalloc.train import TrainConfig, advantage_masses, simulate_training
from simalloc.train.policies import ClusterPolicy
from simalloc.train.snr import group_weights, snr_from_group_gradients
from simalloc.train.update import Updater
from simalloc.worlds import BetaWorld


def _prompt_policy(phi=0.9, seed=0, temperature=0.7, n_pool=300, m=40):
    rng = np.random.default_rng(seed)
    pol = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), n_pool, 80, m, 1.5, rng, n_clusters=3, temperature=temperature,
                                   failure_share=phi)
    pol.w += rng.normal(scale=0.5, size=pol.w.shape)
    if pol.b is not None:
        pol.b += rng.normal(scale=0.3, size=pol.b.shape)  # away from the start, so b's gradient is not special
    pol._refresh()
    return pol


def test_the_own_failure_mode_holds_its_share_at_the_start_and_pass_rates_match_the_targets():
    """At the start (Z_c = 1): the own mode's share of every prompt's failure mass is phi exactly, and
    p = m / (1 + beta) lands on the world's target up to the window's overshoot (one strategy's mass)."""
    phi, m = 0.6, 60
    pol = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), 400, 50, m, 1.5, np.random.default_rng(3), n_clusters=4,
                                   failure_share=phi)
    replay = np.random.default_rng(3)  # from_world's draws: the clusters' Gumbel orders, then the pool's targets
    for _ in range(4):
        replay.gumbel(size=m)
    targets = BetaWorld(0.5, 0.5).sample(400, replay)
    beta = pol.own_failure_mass()
    p = pol.pass_rates(np.arange(400))
    mass = p * (1 + beta)  # the window's mass under the cluster's strategy distribution
    ok = mass < 1 - 1e-9
    assert np.allclose(beta[ok] / (beta[ok] + 1 - mass[ok]), phi, rtol=1e-9)
    pi_max = (np.arange(1, m + 1) ** -1.5 / np.sum(np.arange(1, m + 1) ** -1.5)).max()
    assert np.all(p >= targets - 1e-12) and np.all(p - targets <= pi_max)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_prompt_reading_gradient_matches_finite_differences(temperature):
    """gradient() = d/dtheta sum_i coef_i p_i(theta) / (p_i (1 - p_i)) with p fixed in the weights, on every
    coordinate of (u, W, b): central differences, step 1e-6; tolerance 1e-6 absolute (the differences' error is
    ~1e-9 here)."""
    pol = _prompt_policy(temperature=temperature)
    p_all = pol.pass_rates(np.arange(300))
    idx = np.flatnonzero((p_all > 0.01) & (p_all < 0.99))[::5]
    p = pol.pass_rates(idx)
    coef = np.random.default_rng(2).normal(size=idx.size)
    w = coef / (p * (1 - p))
    g = pol.gradient(idx, p, coef)
    assert g.size == pol.n_params == 40 + 3 * 40 + 300
    h, fd = 1e-6, np.zeros(g.size)
    for j in range(g.size):
        e = np.zeros(g.size)
        e[j] = h
        pol.apply(e)
        up = w @ pol.pass_rates(idx)
        pol.apply(-2 * e)
        down = w @ pol.pass_rates(idx)
        pol.apply(e)
        fd[j] = (up - down) / (2 * h)
    assert np.max(np.abs(g - fd)) < 1e-6 * max(1.0, np.abs(fd).max())
    assert np.abs(fd[-300:]).max() > 1e-3  # b is really trained


def test_prompt_reading_sampled_gradient_equals_rao_blackwell_in_expectation():
    """E[sampled | counts] = RB on every coordinate of (u, W, b); 5 se per coordinate (Bonferroni over ~400)."""
    pol = _prompt_policy()
    rng = np.random.default_rng(1)
    p_all = pol.pass_rates(np.arange(300))
    idx = rng.choice(np.flatnonzero((p_all > 0.02) & (p_all < 0.98)), 14, replace=False)  # a failure is possible
    p = pol.pass_rates(idx)
    n = np.full(idx.size, 8)
    s = np.clip(rng.binomial(n, p), 1, 7)
    coef = advantage_masses(s, n, "dr_grpo", "group", 1e-4) / 8
    rb = pol.gradient(idx, p, coef)
    draws = np.array([pol.sampled_gradient(idx, s, n, coef, rng) for _ in range(4000)])
    mean, se = draws.mean(0), draws.std(0, ddof=1) / np.sqrt(len(draws))
    live = se > 0
    assert live[-300:].sum() >= 10  # the own failure modes are drawn
    assert (np.abs(mean - rb)[live] / se[live]).max() < 5
    assert np.all(np.abs(mean - rb)[~live] < 1e-12)


def test_shared_reading_draws_exactly_as_before():
    """failure_share = 0 is v2: no own logits, the same parameters and the same sampled gradient draw for draw
    as a policy built without the option (the kernel's failure branch is not taken)."""
    a = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), 200, 50, 30, 1.5, np.random.default_rng(0), n_clusters=3)
    b = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), 200, 50, 30, 1.5, np.random.default_rng(0), n_clusters=3,
                                 failure_share=0.0)
    assert a.b is None and b.b is None and a.n_params == b.n_params == 30 + 90
    idx = np.arange(20)
    s, n, coef = np.full(20, 3), np.full(20, 8), np.ones(20)
    assert np.array_equal(a.sampled_gradient(idx, s, n, coef, np.random.default_rng(4)),
                          b.sampled_gradient(idx, s, n, coef, np.random.default_rng(4)))


def _easy_change_along_hard_gradient(phi):
    pol = ClusterPolicy.from_world(BetaWorld(0.5, 0.5), 2000, 50, 200, 1.5, np.random.default_rng(0),
                                   failure_share=phi)
    p = pol.pass_rates(np.arange(2000))
    hard, easy = np.flatnonzero((p > 0.005) & (p < 0.05)), np.flatnonzero(p > 0.8)
    g = pol.gradient(hard, p[hard], np.ones(hard.size))
    h = 1e-6
    pol.apply(h * g)
    up = pol.pass_rates(easy).mean()
    pol.apply(-2 * h * g)
    down = pol.pass_rates(easy).mean()
    return (up - down) / (2 * h)


def test_hard_prompts_failures_push_easy_prompts_down_only_in_the_shared_reading():
    """The v2 tug of war: the expected update of hard prompts' groups (p < 0.05, positive advantage mass)
    lowers easy prompts' (p > 0.8) mean pass rate when failures are shared strategies (measured -3.8 per unit
    step), and raises it when 90% of a prompt's failure mass is its own (measured +0.32)."""
    assert _easy_change_along_hard_gradient(0.0) < -1.0
    assert _easy_change_along_hard_gradient(0.9) > 0.0


def test_entropy_of_the_prompt_reading_is_the_per_prompt_entropy():
    pol = _prompt_policy(n_pool=50)
    beta = pol.own_failure_mass()
    h = []
    for i in range(50):
        q = np.append(pol._pi[pol.cluster[i]], beta[i]) / (1 + beta[i])
        h.append(-special.xlogy(q, q).sum())
    assert pol.entropy() == pytest.approx(np.mean(h), rel=1e-12)


def test_rollout_noise_variance_is_a_per_rollout_gaussian_weighted_by_the_advantages():
    """The updater's group noise variance sigma^2 a^2 (1/s + 1/f) against a direct simulation: each rollout's
    score gets N(0, sigma^2), weighted a / s (success) or -a / f (failure). 20,000 draws: the sample variance's
    relative se is 1%, tolerance 5%."""
    spec = dataclasses.replace(TrainConfig(rollout_noise=0.7).update_spec)
    up = Updater(spec, 10, 3)
    s, n, coef = np.array([1, 3, 0]), np.array([4, 8, 5]), np.array([0.8, -1.3, 0.0])
    var = up._noise_var(s, n, coef)
    rng = np.random.default_rng(0)
    for i in range(3):
        wts = np.r_[np.full(s[i], coef[i] / max(s[i], 1)), np.full(n[i] - s[i], -coef[i] / max(n[i] - s[i], 1))]
        sims = rng.normal(scale=0.7, size=(20000, n[i])) @ wts
        if var[i] == 0:
            assert coef[i] == 0 or s[i] in (0, n[i])
        else:
            assert sims.var() == pytest.approx(var[i], rel=0.05)


def test_snr_formula_and_the_doubling_algebra():
    """SNR of g = mean of n i.i.d. group gradients grows as n: for group gradients mu + noise (known
    covariance) E[||g||^2] - Var = ||mu||^2, so the SNR is ~ n ||mu||^2 / tr(Sigma) (0.56 and 1.12 here);
    over 2,000 batches the mean ratio is 2 within 10% (its se is ~2%). The noise scale B is the plug-in
    tr(Sigma) / ||g_bar||^2, whose denominator has expectation ||mu||^2 + tr(Sigma) / n: 4 / 0.265 = 15.1 at
    n = 32 (15% tolerance for the median of a ratio)."""
    rng = np.random.default_rng(0)
    mu = np.array([0.3, -0.1, 0.2, 0.0])
    out = {}
    for n in (16, 32):
        vals = [snr_from_group_gradients(mu + rng.normal(size=(n, 4)), group_weights(np.full(n, 8), "rollout"))
                for _ in range(2000)]
        out[n] = np.mean([v[0] for v in vals]), np.median([v[1] for v in vals])
    assert out[16][0] == pytest.approx(16 * (mu @ mu) / 4, rel=0.15)
    assert out[32][0] / out[16][0] == pytest.approx(2.0, rel=0.1)
    assert out[32][1] == pytest.approx(4 / (mu @ mu + 4 / 32), rel=0.15)
    assert np.isnan(snr_from_group_gradients(np.ones((1, 3)), [1.0])[0])


def _run(arm="uniform", **kw):
    base = dict(steps=30, n_pool=400, n_eval=200, n_prompts=20, group_size=8, k0=4, record_every=10, snr_every=10,
                eval_sets=(), ks=(1, 16, 256))
    base.update(kw)
    return simulate_training(TrainConfig(**base), arm, 7)[0]


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_measuring_the_snr_does_not_change_the_run(sigma):
    """The per-group gradients are computed with the same draws and summed, and the noise is split among groups
    from its own stream: the same trajectory as a run that never measures (up to summation order, 1e-9)."""
    a = _run(snr_every=1, rollout_noise=sigma)
    b = _run(snr_every=0, rollout_noise=sigma)
    assert a["grad_snr"].notna().sum() == 3 and b["grad_snr"].isna().all()
    assert np.allclose(a["pass@256"], b["pass@256"], atol=1e-9, rtol=0)


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_streamed_snr_equals_the_batch_formula_on_the_group_parts(sigma):
    """The updater streams the group parts (twice, from the same random state): its step and SNR equal
    ``snr_from_group_gradients`` on the parts held in memory, computed here from copies of the same random states
    (group by group, noise split by ``_split_gaussian``): the plumbing (weights, own-loss scaling, noise, the
    second pass) is checked; the formula itself has its hand example and its doubling test. Tolerance 1e-9
    relative: the parts are recomputed, so only summation order can differ."""
    import copy

    from simalloc.train.batch import Batch
    from simalloc.train.update import Updater, _split_gaussian, coefficients

    pol = _prompt_policy()
    rng = np.random.default_rng(3)
    idx = rng.choice(300, 12, replace=False)
    p = pol.pass_rates(idx)
    n = np.array([8, 8, 16, 4, 8, 8, 8, 12, 8, 8, 0, 8])
    s = np.minimum(rng.binomial(n, p), n)
    batch = Batch(idx, p, s, n, int(n.sum()))
    up = Updater(TrainConfig(rollout_noise=sigma).update_spec, pol.n_params, 12)
    coef = coefficients(advantage_masses(s, n, "dr_grpo", "group", 1e-4), n, "rollout")
    var = up._noise_var(s, n, coef) if sigma > 0 else None
    streams = [np.random.default_rng(k) for k in (10, 11, 12)]
    copies = [copy.deepcopy(r) for r in streams]
    g, snr, scale = up._measured(pol, batch, s, n, coef, *streams[:2], var, streams[2])
    rows = np.array([pol.sampled_gradient(idx[r:r + 1], s[r:r + 1], n[r:r + 1], coef[r:r + 1], copies[0])
                     for r in range(12)])
    total = 0.0
    if var is not None:
        total = np.sqrt(var.sum()) * copies[1].standard_normal(pol.n_params)
        rows = rows + np.array(list(_split_gaussian(total, var, copies[2])))
    used = n > 0
    w = n[used] / n[used].sum()
    want = snr_from_group_gradients(rows[used] / 12 / w[:, None], w)
    assert np.allclose(g, rows.sum(axis=0), rtol=1e-9, atol=1e-12)  # the parts with their noise sum to the step
    assert snr == pytest.approx(want[0], rel=1e-9) and scale == pytest.approx(want[1], rel=1e-9)
    assert streams[0].bit_generator.state == copies[0].bit_generator.state  # one pass's worth of draws used


def test_noise_split_among_groups_sums_to_the_total_and_has_each_groups_variance():
    """Gaussian conditioning: the parts sum to the drawn total exactly, and over 4,000 draws (total and parts
    drawn afresh) each part's variance is var_i (relative se ~2%, tolerance 8%) and parts are uncorrelated."""
    from simalloc.train.update import _split_gaussian

    rng = np.random.default_rng(0)
    var = np.array([0.5, 2.0, 0.0, 1.5])
    parts = []
    for _ in range(4000):
        total = np.sqrt(var.sum()) * rng.standard_normal(3)
        x = np.array(list(_split_gaussian(total, var, rng)))
        assert np.allclose(x.sum(axis=0), total, atol=1e-12)
        parts.append(x[:, 0])
    parts = np.array(parts)
    assert np.allclose(parts.var(axis=0)[[0, 1, 3]], var[[0, 1, 3]], rtol=0.08) and np.all(parts[:, 2] == 0)
    assert abs(np.corrcoef(parts[:, 0], parts[:, 1])[0, 1]) < 0.06


def test_rollout_noise_sets_the_snr_and_twice_the_rollouts_raise_it():
    """The noise knob sets the SNR: mean over 20 steps, sigma 0.1 -> 1.0 lowers it about 15-fold (measured 0.51
    -> 0.03; asserted > 5-fold) and with sigma = 0.3 twice the rollouts per group raise it (measured 1.5x,
    asserted > 1.25x). Not 2x: part of the per-group spread is which prompts the batch drew, which more rollouts
    per prompt do not change, and a group's noise variance shrinks as (n - 1) / n^2, not 1 / n."""
    def snr(arm, sigma):
        cfg = TrainConfig(steps=20, n_pool=400, n_eval=100, n_prompts=30, group_size=8, k0=4, record_every=1,
                          snr_every=1, ks=(1, 16), rollout_noise=sigma)
        return simulate_training(cfg, arm, 3)[0].grad_snr.dropna().mean()

    assert snr("uniform", 0.1) > 5 * snr("uniform", 1.0)
    assert snr("uniform:x2", 0.3) > 1.25 * snr("uniform", 0.3)


def test_v3_options_are_validated():
    for change, word in [(dict(failures="own"), "failures"), (dict(failure_share=1.0), "failure_share"),
                         (dict(rollout_noise=-1.0), "rollout_noise"), (dict(snr_every=-1), "snr_every")]:
        with pytest.raises(ValueError, match=word):
            TrainConfig(**change).validate()


def test_summary_reports_the_interpolation_bound_and_credits_only_beyond_it(tmp_path):
    """summary_long: the frontier's leave-one-out controls give interpolation_bias and _bound rows; an arm is
    credited +1 only when its gain minus 2 se exceeds the bound (hand-made table: a line frontier with a
    bump at one point)."""
    import pandas as pd

    from simalloc.train import TrainingStudyArgs
    from simalloc.train.analysis import summary_long

    lrs = (0.25, 0.5, 2.0)
    args = TrainingStudyArgs(arms=("uniform", "good", "same"), n_reps=3, frontier_lrs=lrs,
                             train=TrainConfig(ks=(1, 256), eval_sets=(), snr_every=0))
    rows = []
    # the frontier Pass@256 = 1.2 - Pass@1 (a line through the start (0.2, 1.0)), with a 0.01 bump at lr x0.5
    curve = {"uniform:lr0.25": 0.3, "uniform:lr0.5": 0.4, "uniform": 0.5, "uniform:lr2": 0.6}
    for rep in range(3):
        rows.append(("uniform", rep, 0, 0.2, 1.0))
        for arm, p1 in curve.items():
            rows.append((arm, rep, 10, p1, 1.2 - p1 + (0.01 if arm == "uniform:lr0.5" else 0.0) + 0.001 * rep))
        rows.append(("good", rep, 10, 0.45, 0.75 + 0.2 + 0.001 * rep))
        rows.append(("same", rep, 10, 0.45, 0.75 + 0.002 + 0.001 * rep))
    steps = pd.DataFrame(rows, columns=["arm", "rep", "step", "pass@1", "pass@256"])
    for col in ("informative_share", "entropy", "budget_share_sK0"):
        steps[col] = 0.0
    long = summary_long(steps, args).set_index(["arm", "metric"])
    bound = long.loc[("frontier", "interpolation_bound@256"), "value"]
    assert 0.005 < bound < 0.05
    assert long.loc[("good", "credited@256"), "value"] == 1.0
    assert long.loc[("same", "credited@256"), "value"] == 0.0


def test_flagship_with_controls_reports_gains_snr_and_the_bound(tmp_path):
    """The issue's acceptance command, at a small size: ``simalloc run hora_vs_grpo --quick --set
    arms=uniform,uniform:x2,uniform:lr0.5,hora,hora_placebo`` writes a frontier gain and a gradient SNR for all five
    arms, the frontier's interpolation bias and bound, and the held-out ``uniform:lr0.5`` lies within the bound."""
    from simalloc.sim.runner import run_study

    arms = ["uniform", "uniform:x2", "uniform:lr0.5", "hora", "hora_placebo"]
    over = {"arms": ",".join(arms), "steps": "40", "n_pool": "400", "n_eval": "200", "n_reps": "2",
            "record_every": "10", "snr_every": "10", "bench_sizes": "30", "frontier_lrs": "0.1,0.25,0.5,0.7,1.4,2"}
    out = run_study("hora_vs_grpo", quick=True, out=tmp_path / "flag", overrides=over, progress=False)
    s = pd.read_csv(out / "summary.csv").set_index(["arm", "metric"])
    for arm in arms:
        assert np.isfinite(s.loc[(arm, "grad_snr"), "value"]), arm
        assert (arm, "frontier_gain@256") in s.index and (arm, "credited@256") in s.index
    bound = s.loc[("frontier", "interpolation_bound@256"), "value"]
    assert np.isfinite(s.loc[("frontier", "interpolation_bias@256"), "value"]) and bound > 0
    assert abs(s.loc[("uniform:lr0.5", "frontier_gain@256"), "value"]) <= bound
