"""The training simulator: records, common random numbers, bad configs."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simalloc.train import V1_READING, TrainConfig, parse_arm, simulate_training

SMALL = TrainConfig(n_pool=300, n_eval=200, n_strategies=50, n_prompts=20, group_size=16, k0=4, steps=8,
                    phase_b_shards=2)
#: the v1 reading (SGD, per-prompt weighting, ...): where a test needs plain SGD's linear response to the update
SMALL_V1 = dataclasses.replace(SMALL, **V1_READING)


@pytest.mark.parametrize(
    "arm",
    [
        "uniform",
        "hora",
        "hard_first",
        "plugin",
        "informative",
        "dapo",
        "dapo_dynamic",
        "vip",
        "knapsack",
        "gvm",
        "hora:gp",
        "hora:oracle",
        "hora:truth",
        "hora:k8",
        "uniform:temp2",
    ],
)
@pytest.mark.filterwarnings("ignore:arm .dapo.:FutureWarning")  # the rename notice (test_renames)
def test_every_arm_runs_and_records(arm):
    steps, share = simulate_training(SMALL, arm, np.random.SeedSequence([3, 0]))
    assert list(steps.step) == list(range(SMALL.steps + 1))
    curve = steps[[f"pass@{k}" for k in SMALL.ks]].to_numpy()
    assert np.all((curve >= 0) & (curve <= 1))
    batch = SMALL.n_prompts * SMALL.group_size
    if arm == "dapo_dynamic":  # whole generation batches, refilled until the batch holds groups with spread only
        assert np.all(steps.informative_share.iloc[1:] == 1.0) and np.all(steps.rollouts.iloc[1:] % batch == 0)
    else:
        assert np.all(steps.rollouts.iloc[1:] <= batch)
        assert share.budget_share.sum() == pytest.approx(1.0)
        assert share.prompt_share.sum() == pytest.approx(1.0)


def test_common_random_numbers_and_determinism():
    a, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 1]), rep=1)
    b, _ = simulate_training(SMALL, "hora", np.random.SeedSequence([5, 1]), rep=1)
    c, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 1]), rep=1)
    pd.testing.assert_frame_equal(a, c)
    pd.testing.assert_series_equal(a.iloc[0][4:], b.iloc[0][4:], check_names=False)  # same world at step 0
    d, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 2]), rep=2)
    assert a.iloc[0]["pass@1"] != d.iloc[0]["pass@1"]


def test_hora_puts_budget_on_s0_prompts_in_training():
    _, share = simulate_training(SMALL, "hora", np.random.SeedSequence([1, 0]))
    s0 = share.set_index("s").loc[0]
    assert s0.budget_share > 1.5 * s0.prompt_share


def test_bernoulli_policy_never_lowers_pass_rates_with_dr_grpo():
    cfg = TrainConfig(policy="bernoulli", n_pool=200, n_eval=200, n_prompts=50, steps=30, phase_b_shards=1)
    steps, _ = simulate_training(cfg, "uniform", np.random.SeedSequence([0, 0]))
    assert np.all(np.diff(steps["pass@1"].to_numpy()) >= 0)  # each prompt's update is a_i >= 0 on its own logit


@pytest.mark.parametrize(
    "change,word",
    [
        (dict(steps=-1), "steps"),
        (dict(k0=40), "k0"),
        (dict(loss="ppo"), "loss"),
        (dict(world="gamma:1"), "world"),
        (dict(n_prompts=5000), "n_prompts"),
        (dict(lr=float("nan")), "lr"),
        (dict(ks=(2, 4)), "ks"),
        (dict(policy="mlp"), "policy"),
    ],
)
def test_bad_config_is_refused(change, word):
    import dataclasses

    with pytest.raises(ValueError, match=word):
        dataclasses.replace(SMALL, **change).validate()


@pytest.mark.parametrize(
    "spec,word", [("hroa", "hora"), ("hora:mpnet", "modifier"), ("optimal", "optimal"), ("", "arm")]
)
def test_bad_arm_is_refused(spec, word):
    with pytest.raises(ValueError, match=word):
        parse_arm(spec)


def test_rng_follows_spec7():
    """An int and SeedSequence(int) give the same run; a Generator is accepted; bad types name ``rng``."""
    a, _ = simulate_training(SMALL, "uniform", 7)
    b, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence(7))
    pd.testing.assert_frame_equal(a, b)
    c, _ = simulate_training(SMALL, "uniform", np.random.default_rng(7))
    assert c.shape == a.shape
    with pytest.raises(TypeError, match="rng: expected"):
        simulate_training(SMALL, "uniform", "7")
    with pytest.raises(ValueError, match="rng: an integer seed must be >= 0"):
        simulate_training(SMALL, "uniform", -1)


def test_frontier_gain_hand_computed():
    """Frontier points (0.5, 0.8), (0.6, 0.7), (0.7, 0.6) per replicate; an arm at (0.55, 0.8) gains
    0.8 - 0.75 = 0.05 on replicate 0 and at (0.65, 0.6) loses 0.6 - 0.65 = -0.05 on replicate 1; an arm above
    the frontier's Pass@1 range is censored, not left out: read against the top point's flat extension (0.9 - 0.6
    = 0.3, a lower bound of its gain) and counted as above (side +1)."""
    from simalloc.train import frontier_gain
    from simalloc.train.analysis import frontier_reads

    rows = []
    for rep, (x, y) in enumerate([(0.55, 0.8), (0.65, 0.6)]):
        for arm, px, py in [
            ("uniform:lr0.5", 0.5, 0.8),
            ("uniform", 0.6, 0.7),
            ("uniform:lr2", 0.7, 0.6),
            ("hora", x, y),
            ("far", 0.9, 0.9),
        ]:
            rows.append({"arm": arm, "rep": rep, "pass@1": px, "pass@256": py})
    last = pd.DataFrame(rows)
    frontier = ("uniform", "uniform:lr0.5", "uniform:lr2")
    mean, se, used = frontier_gain(last, "hora", 256, frontier)
    assert used == 2 and mean == pytest.approx(0.0) and se == pytest.approx(0.05)
    assert frontier_gain(last[last.rep == 0], "hora", 256, frontier)[0] == pytest.approx(0.05)
    far = frontier_reads(last, "far", 256, frontier)
    assert far.side.tolist() == [1, 1] and far.gain.tolist() == pytest.approx([0.3, 0.3])
    assert frontier_gain(last, "uniform", 256, frontier)[0] == pytest.approx(0.0)


def test_frontier_starts_at_the_untrained_policy():
    """The lr -> 0 end of the frontier is uniform's row at the step the allocators take over (``warmup_steps``).
    Start (0.4, 0.9), smallest rate (0.5, 0.8): an arm at Pass@1 0.45 is compared with the chord's 0.85 (linear),
    so Pass@256 0.88 gains +0.03; without the start point it is censored below the smallest rate's Pass@1 (0.5):
    read against that point's flat extension, 0.88 - 0.8 = +0.08 (an upper bound of its gain), side -1."""
    from simalloc.train import START_POINT, frontier_gain, frontier_points, frontier_table

    rows = []
    for step, pts in (
        (0, {"uniform": (0.4, 0.9), "uniform:lr0.5": (0.4, 0.9), "hora": (0.4, 0.9)}),
        (3, {"uniform": (0.45, 0.85)}),
        (10, {"uniform": (0.6, 0.7), "uniform:lr0.5": (0.5, 0.8), "uniform:lr2": (0.7, 0.6), "hora": (0.45, 0.88)}),
    ):
        for arm, (x, y) in pts.items():
            rows.append({"arm": arm, "rep": 0, "step": step, "pass@1": x, "pass@256": y})
    steps = pd.DataFrame(rows)
    lrs = (0.5, 2.0)
    assert frontier_points(lrs) == (START_POINT, "uniform", "uniform:lr0.5", "uniform:lr2")
    last = frontier_table(steps, warmup_steps=0)
    assert last[last.arm == START_POINT][["pass@1", "pass@256"]].values.tolist() == [[0.4, 0.9]]
    gain, _, used = frontier_gain(last, "hora", 256, frontier_points(lrs), method="linear")
    assert used == 1 and gain == pytest.approx(0.03)
    from simalloc.train.analysis import frontier_reads

    below = frontier_reads(last, "hora", 256, frontier_points(lrs)[1:])  # no start point: censored below
    assert below.side.tolist() == [-1] and below.gain.tolist() == pytest.approx([0.08])
    warm = frontier_table(steps, warmup_steps=3)  # after a warm-up
    assert warm[warm.arm == START_POINT][["pass@1", "pass@256"]].values.tolist() == [[0.45, 0.85]]


def test_matched_lr_hand_computed():
    """Frontier Pass@1 0.5, 0.6, 0.7 at multipliers 0.5, 1, 2: an arm at Pass@1 0.55 sits halfway in log-rate between
    x0.5 and x1, i.e. at x sqrt(0.5) = 0.7071; at 0.65, x sqrt(2); above the range: the top rate x2 (a bound),
    on every replicate."""
    from simalloc.train import matched_lr

    rows = []
    for rep, x in enumerate([0.55, 0.65]):
        for arm, px in [("uniform:lr0.5", 0.5), ("uniform", 0.6), ("uniform:lr2", 0.7), ("hora", x), ("far", 0.9)]:
            rows.append({"arm": arm, "rep": rep, "pass@1": px, "pass@256": 1.0 - px})  # a falling frontier
    last = pd.DataFrame(rows)
    frontier = ("uniform", "uniform:lr0.5", "uniform:lr2")
    mean, se, used = matched_lr(last, "hora", frontier)
    assert used == 2 and mean == pytest.approx((np.sqrt(0.5) + np.sqrt(2)) / 2)
    assert tuple(matched_lr(last, "far", frontier)) == (pytest.approx(2.0), pytest.approx(0.0), 2)


def test_placebo_keeps_group_sizes_and_lr_modifier_scales_the_rate():
    """hora:placebo spends the same rollouts per step as hora but its budget no longer tilts to s = 0 prompts
    (the permutation breaks the link between pilot count and group size); uniform:lr0.5 equals uniform run
    with cfg.lr halved."""
    from dataclasses import replace

    from simalloc.train import parse_arm

    assert parse_arm("hora_placebo").placebo and parse_arm("hora:placebo").allocator == "hora"
    assert parse_arm("uniform:lr0.5").lr_scale == 0.5
    with pytest.raises(ValueError, match="lr<x> needs a learning-rate multiplier"):
        parse_arm("uniform:lr-1")
    with pytest.raises(ValueError, match="dapo_dynamic has no allocation"):
        parse_arm("dapo_dynamic:placebo")
    a, _ = simulate_training(SMALL, "uniform:lr0.5", 3)
    b, _ = simulate_training(replace(SMALL, lr=SMALL.lr * 0.5), "uniform", 3)
    pd.testing.assert_frame_equal(a.drop(columns="arm"), b.drop(columns="arm"))
    steps_h, share_h = simulate_training(SMALL, "hora", 3)
    steps_p, share_p = simulate_training(SMALL, "hora:placebo", 3)
    assert (steps_p.rollouts == steps_h.rollouts).all()
    s0 = lambda sh: float(sh.loc[sh.s == 0, "budget_share"].iloc[0])  # noqa: E731
    assert s0(share_h) > s0(share_p) + 0.1  # HORA's tilt to s = 0 is gone once the sizes are permuted


def test_frontier_gain_cubic_removes_the_chord_bias():
    """Points on a concave frontier y = 1 - 3 (x - 0.5)^2 sampled at 5 knots: an arm exactly on the curve between
    knots gets a chord gain of |f''| h^2 / 8 = 6 x 0.05^2 / 8 = 0.001875 at mid-knot; the monotone cubic's is
    under a fifth of that (PCHIP is not exact for a quadratic: 0.00023 here)."""
    from simalloc.train import frontier_gain

    f = lambda x: 1 - 3 * (x - 0.5) ** 2  # noqa: E731
    knots = [0.5, 0.55, 0.6, 0.65, 0.7]
    rows = [{"arm": f"u{i}", "rep": 0, "pass@1": x, "pass@256": f(x)} for i, x in enumerate(knots)]
    rows.append({"arm": "on_curve", "rep": 0, "pass@1": 0.575, "pass@256": f(0.575)})
    last = pd.DataFrame(rows)
    frontier = tuple(f"u{i}" for i in range(5))
    assert frontier_gain(last, "on_curve", 256, frontier, method="linear")[0] == pytest.approx(0.001875)
    assert abs(frontier_gain(last, "on_curve", 256, frontier)[0]) < 0.001875 / 5
    with pytest.raises(ValueError, match="method: must be one of"):
        frontier_gain(last, "on_curve", 256, frontier, method="spline")


def test_aggregation_rollout_vs_prompt():
    """Equal group sizes: the two aggregations are the same update; HORA's unequal groups: they differ, and
    "rollout" is the one where a prompt's weight grows with its group (prompt coefficient mass_i / mean(G) vs
    mass_i / G_i). Unknown names are refused."""
    from dataclasses import replace

    a, _ = simulate_training(SMALL_V1, "uniform", 4)
    b, _ = simulate_training(replace(SMALL_V1, aggregation="rollout"), "uniform", 4)
    pd.testing.assert_frame_equal(a, b)
    c, _ = simulate_training(SMALL_V1, "hora", 4)
    d, _ = simulate_training(replace(SMALL_V1, aggregation="rollout"), "hora", 4)
    assert not np.allclose(c["pass@1"], d["pass@1"])
    with pytest.raises(ValueError, match="aggregation: unknown value 'token'"):
        replace(SMALL_V1, aggregation="token").validate()


def test_adam_step_by_hand_and_clipping():
    """Two Adam steps computed by hand (torch.optim.Adam's formula, ascent); clipping rescales to the max norm;
    SGD through the clipping path with a huge max norm is the plain SGD path; Adam runs end to end."""
    from dataclasses import replace

    from simalloc.train import Adam, clip_by_norm

    opt = Adam(2)
    g1, g2 = np.array([0.5, -2.0]), np.array([1.0, 0.0])
    s1 = opt.step(g1, 0.1)
    np.testing.assert_allclose(s1, 0.1 * g1 / (np.abs(g1) + 1e-8))  # first step: m_hat = g, v_hat = g^2
    s2 = opt.step(g2, 0.1)
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    np.testing.assert_allclose(s2, 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8))
    clipped, norm = clip_by_norm(np.array([3.0, 4.0]), 1.0)
    assert norm == 5.0 and np.allclose(clipped, [0.6, 0.8])
    assert np.allclose(clip_by_norm(np.array([0.3, 0.4]), 1.0)[0], [0.3, 0.4])
    a, _ = simulate_training(SMALL_V1, "hora", 2)
    b, _ = simulate_training(replace(SMALL_V1, max_grad_norm=1e9), "hora", 2)
    np.testing.assert_allclose(a["pass@256"], b["pass@256"], rtol=1e-12)
    np.testing.assert_allclose(a.grad_norm.iloc[1:], b.grad_norm.iloc[1:], rtol=1e-9)
    c, _ = simulate_training(replace(SMALL_V1, optimizer="adam", lr=0.02, max_grad_norm=1.0), "hora", 2)
    assert c["pass@1"].iloc[-1] != a["pass@1"].iloc[-1] and np.isfinite(c["pass@256"]).all()
    with pytest.raises(ValueError, match="optimizer: unknown value 'adamw'"):
        replace(SMALL_V1, optimizer="adamw").validate()
    with pytest.raises(ValueError, match="max_grad_norm: must be finite and >= 0"):
        replace(SMALL_V1, max_grad_norm=-1.0).validate()


def test_eval_set_frontier_reads_the_sets_own_columns():
    """Per eval set, the frontier is read on that set's Pass@1 and Pass@k: main columns say the arm is on the
    frontier (gain 0), the "hard" set's say it is 0.1 above it (hand: frontier (0.1, 0.9) - (0.3, 0.7), arm at
    (0.2, 0.9) against the chord's 0.8)."""
    from simalloc.train.analysis import _eval_set_view, frontier_gain

    rows = []
    for arm, main, hard in [
        ("uniform:lr0.5", (0.5, 0.8), (0.1, 0.9)),
        ("uniform", (0.7, 0.6), (0.3, 0.7)),
        ("hora", (0.6, 0.7), (0.2, 0.9)),
    ]:
        rows.append(
            {
                "arm": arm,
                "rep": 0,
                "pass@1": main[0],
                "pass@1024": main[1],
                "hard:pass@1": hard[0],
                "hard:pass@1024": hard[1],
            }
        )
    last = pd.DataFrame(rows)
    frontier = ("uniform:lr0.5", "uniform")
    assert frontier_gain(last, "hora", 1024, frontier, method="linear")[0] == pytest.approx(0.0)
    view = _eval_set_view(last, "hard", 1024)
    assert frontier_gain(view, "hora", 1024, frontier, method="linear")[0] == pytest.approx(0.1)
    assert _eval_set_view(last, "easy", 1024) is None


def test_p_modifier_multiplies_the_prompts_per_step_and_equals_a_larger_n_prompts():
    """uniform:p2 trains 2 n_prompts prompts of G each per step and is the same run as uniform with n_prompts 2N
    (the same streams, the gradient divided by the step's 2N prompts: a mean over twice the batch, not a sum);
    it is no rung of the rollouts ladder; a peer arm, a non-integer count or more prompts than the pool are
    refused in one line."""
    from dataclasses import replace

    from simalloc.train import parse_arm

    arm = parse_arm("uniform:p2:lr0.5")
    assert (arm.prompt_scale, arm.lr_scale, arm.rollout_scale) == (2.0, 0.5, 1.0)
    assert parse_arm("uniform:p2").ladder_rung is None and parse_arm("uniform:x2").ladder_rung == 2.0
    a, _ = simulate_training(SMALL, "uniform:p2", 3)
    b, _ = simulate_training(replace(SMALL, n_prompts=2 * SMALL.n_prompts), "uniform", 3)
    assert (a.rollouts.iloc[1:] == 2 * SMALL.n_prompts * SMALL.group_size).all()
    pd.testing.assert_frame_equal(a.drop(columns="arm"), b.drop(columns="arm"))
    c, _ = simulate_training(SMALL, "uniform", 3)
    assert not np.allclose(a["pass@1"].iloc[1:], c["pass@1"].iloc[1:])  # the doubled batch is another run
    with pytest.raises(ValueError, match="positive integer"):
        simulate_training(SMALL, "uniform:p0.01", 3)
    with pytest.raises(ValueError, match="more than n_pool"):
        simulate_training(replace(SMALL, n_pool=SMALL.n_prompts + 1), "uniform:p2", 3)
    with pytest.raises(ValueError, match="fewer than phase_b_shards"):
        simulate_training(replace(SMALL, n_prompts=4, phase_b_shards=4), "uniform:p0.5", 3)
    from simalloc.train import TrainingStudyArgs
    from simalloc.train.own_terms import trained_per_step

    with pytest.raises(ValueError, match="^arms: .*more than n_pool"):  # refused before any run starts
        TrainingStudyArgs(arms=("uniform", "uniform:p2"), train=replace(SMALL, n_pool=SMALL.n_prompts + 1)).validate()
    assert trained_per_step("uniform:p2", 10, 8, {}) == 160.0 and trained_per_step("uniform", 10, 8, {}) == 80.0
    with pytest.raises(ValueError, match="p<m> applies to allocating arms"):
        parse_arm("dapo_dynamic:p2")
    with pytest.raises(ValueError, match="p<m> needs"):
        parse_arm("uniform:ptwo")


def test_x_modifier_multiplies_the_rollouts_per_step_and_equals_a_larger_group_size():
    """uniform:x2 spends 2 n_prompts G rollouts per step and is the same run as uniform with group_size 2G (the same
    streams); hora:x2 splits the doubled Phase-B budget; a pilot larger than m G is refused."""
    from dataclasses import replace

    from simalloc.train import parse_arm

    assert parse_arm("uniform:x2").rollout_scale == 2.0 and parse_arm("hora:x1.5:lr0.5").lr_scale == 0.5
    a, _ = simulate_training(SMALL, "uniform:x2", 3)
    b, _ = simulate_training(replace(SMALL, group_size=2 * SMALL.group_size), "uniform", 3)
    assert (a.rollouts.iloc[1:] == 2 * SMALL.n_prompts * SMALL.group_size).all()
    pd.testing.assert_frame_equal(a.drop(columns="arm"), b.drop(columns="arm"))
    h, _ = simulate_training(SMALL, "hora:x2", 3)
    assert (h.rollouts.iloc[1:] == 2 * SMALL.n_prompts * SMALL.group_size).all()
    with pytest.raises(ValueError, match="fewer than the pilot"):
        simulate_training(SMALL, "uniform:x0.125", 3)  # 2 rollouts per prompt, pilot 4
    with pytest.raises(ValueError, match="not a positive integer|to be a positive integer"):
        simulate_training(SMALL, "uniform:x0.1", 3)  # 1.6 rollouts per prompt
    with pytest.raises(ValueError, match="x<m>"):
        parse_arm("uniform:xtwo")
