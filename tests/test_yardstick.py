"""The yardstick (issue 34): the repaired frontier read, replicates.csv and the efficiency axis, on synthetic step
tables whose answers are known by construction (no training runs)."""

import numpy as np
import pandas as pd
import pytest

from simalloc.train import TrainConfig, TrainingStudyArgs
from simalloc.train.analysis import (
    frontier_gain,
    frontier_reads,
    matched_lr,
    pareto_mask,
    summary_tables,
)
from simalloc.train.credit import credit
from simalloc.train.efficiency import first_reach, km_median, lr_families, rollout_seconds, time_to_target

T = 100  # steps of the toy runs (every step recorded)
SLOPES = (0.2, 0.3, 0.4, 0.5)  # uniform's Pass@1 gain over the run, per replicate: mean 0.35


def _steps(curves: dict, ks=(1, 4)) -> pd.DataFrame:
    """A per-step table from {arm: (Pass@1(rep, t) function, rollouts per step)}; Pass@k = Pass@1 for the other k
    (enough for the efficiency axis, which reads each column alone)."""
    rows = []
    for arm, (f, spend) in curves.items():
        for rep in range(len(SLOPES)):
            for t in range(T + 1):
                p1 = f(rep, t)
                rows.append({"arm": arm, "rep": rep, "step": t, "rollouts": 0 if t == 0 else spend,
                             **{f"pass@{k}": p1 for k in ks}})
    steps = pd.DataFrame(rows)
    for col in ("informative_share", "entropy", "budget_share_sK0"):
        steps[col] = 0.0
    return steps


def _args(arms, frontier_lrs=(), ks=(1, 4)):
    return TrainingStudyArgs(arms=tuple(arms), n_reps=len(SLOPES), frontier_lrs=frontier_lrs,
                             train=TrainConfig(ks=ks, eval_sets=(), snr_every=0))


def _uniform(rep, t):
    return 0.3 + SLOPES[rep] * t / T  # a line: linear interpolation between records is exact


def _twice_as_fast(rep, t):
    return _uniform(rep, 2 * t)  # uniform's curve with time halved (the line continued past T)


def _read(curves, arms=None):
    arms = list(curves) if arms is None else arms
    summary, reps = summary_tables(_steps(curves), _args(arms))
    return summary.set_index(["arm", "metric"]), reps


def test_first_reach_and_km_median_hand_computed():
    """first_reach interpolates linearly between records and censors at the last one; the Kaplan-Meier median
    of 62.5, 83.3 (reached) and two runs censored at 100 is 83.3 (S = 3/4, then 1/2), and it is NaN when fewer
    than half reach (the curve never drops to 1/2)."""
    # f = (0.4 - 0.2) / (0.6 - 0.2) = 1/2 of the way from step 10 to 20; rel 1e-12: float rounding of f
    assert first_reach([0, 10, 20], [0, 50, 150], [0.1, 0.2, 0.6], 0.4) == pytest.approx((15.0, 100.0, True),
                                                                                          rel=1e-12)
    assert first_reach([0, 10, 20], [0, 50, 150], [0.1, 0.2, 0.3], 0.4) == (20.0, 150.0, False)
    assert first_reach([0, 10], [0, 50], [0.5, 0.6], 0.4) == (0.0, 0.0, True)
    assert km_median([62.5, 250 / 3, 100, 100], [True, True, False, False]) == pytest.approx(250 / 3, rel=1e-12)
    assert np.isnan(km_median([62.5, 100, 100, 100], [True, False, False, False]))
    with pytest.raises(ValueError, match="step, rollouts, values: must be non-empty"):
        first_reach([0, 1], [0, 1], [0.1], 0.5)
    with pytest.raises(ValueError, match="times, reached: must be 1-d arrays of equal length"):
        km_median([1.0, 2.0], [True])
    with pytest.raises(ValueError, match="x, y: must be 1-d arrays of equal length"):
        pareto_mask([0.1, 0.2], [0.3])


def test_twice_as_fast_arm_reads_multiplier_two_and_half_the_steps():
    """The fast arm's Pass@1 curve is uniform's with time halved at the same rollouts per step: at the 50% target
    (0.3 + 0.175, reached by every run) uniform needs 0.175 / s x T steps (87.5, 58.3, 43.75, 35), the arm half;
    so the step and compute multipliers are exactly 2 in every replicate (records fall on the lines' knots, so
    linear interpolation is exact: tolerance 1e-9 for float reorderings), credited +1 on 4 replicates. An arm with
    the same steps but twice the rollouts per step (a uniform:x2 whose update is no better per rollout) reads a
    step multiplier 2 and a compute multiplier 1 (not credited)."""
    s, _ = _read({"uniform": (_uniform, 64), "hora": (_twice_as_fast, 64), "uniform:x2": (_twice_as_fast, 128)})
    steps_u = [0.175 / a * T for a in SLOPES]
    assert s.loc[("uniform", "steps_to_target@pass@1@50%"), "value"] == pytest.approx(np.mean(steps_u), rel=1e-9)
    assert s.loc[("hora", "steps_to_target@pass@1@50%"), "value"] == pytest.approx(np.mean(steps_u) / 2, rel=1e-9)
    assert s.loc[("hora", "rollouts_to_target@pass@1@50%"), "value"] == pytest.approx(64 * np.mean(steps_u) / 2,
                                                                                      rel=1e-9)
    m = s.loc[("hora", "compute_multiplier@pass@1@50%")]
    assert m.value == pytest.approx(2.0, rel=1e-9) and m.n_reps == 4
    assert abs(m.value - 2.0) <= 2 * m.se + 1e-9
    assert s.loc[("hora", "credited@compute_multiplier@pass@1@50%"), "value"] == 1.0
    assert s.loc[("uniform:x2", "step_multiplier@pass@1@50%"), "value"] == pytest.approx(2.0, rel=1e-9)
    assert s.loc[("uniform:x2", "compute_multiplier@pass@1@50%"), "value"] == pytest.approx(1.0, rel=1e-9)
    assert s.loc[("uniform:x2", "credited@compute_multiplier@pass@1@50%"), "value"] == 0.0
    assert s.loc[("uniform:x2", "credited@step_multiplier@pass@1@50%"), "value"] == 1.0
    # the target rows: uniform's start, gain and the two levels
    assert s.loc[("target", "gain@pass@1"), "value"] == pytest.approx(0.35, rel=1e-9)
    assert s.loc[("target", "target@pass@1"), "value"] == pytest.approx(0.65, rel=1e-9)
    assert s.loc[("target", "target@pass@1@50%"), "value"] == pytest.approx(0.475, rel=1e-9)


def test_censored_runs_are_counted_not_dropped():
    """At the 100% target 0.65 uniform's runs with slopes 0.2 and 0.3 end below it (censored at step 100); those
    with 0.4 and 0.5 reach it at 87.5 and 70. Reached share 1/2 (dropping the censored runs would give 1), mean steps
    (100 + 100 + 87.5 + 70) / 4 = 89.375 (dropped: 78.75), Kaplan-Meier median 87.5 (dropped: 70). The fast arm's
    pair on the slope-0.2 replicate (uniform censored, the arm reaching at 62.5) is a lower bound 1.6, counted in
    censored_pairs."""
    s, _ = _read({"uniform": (_uniform, 64), "hora": (_twice_as_fast, 64)})
    assert s.loc[("uniform", "reached@pass@1"), "value"] == 0.5
    assert s.loc[("uniform", "reached@pass@1"), "n_reps"] == 4
    assert s.loc[("uniform", "steps_to_target@pass@1"), "value"] == pytest.approx(89.375, rel=1e-9)
    assert s.loc[("uniform", "km_median_steps@pass@1"), "value"] == pytest.approx(87.5, rel=1e-9)
    # the fast arm reaches 0.65 at t = 0.35 / (2 s) x 100: 87.5, 58.3, 43.75, 35 (every replicate)
    assert s.loc[("hora", "reached@pass@1"), "value"] == 1.0
    assert s.loc[("hora", "censored_pairs@pass@1"), "value"] == 2.0
    ratios = [100 / 87.5, 100 / (0.35 / 0.6 * 100), 2.0, 2.0]  # the two censored pairs at their bounds
    assert s.loc[("hora", "compute_multiplier@pass@1"), "value"] == pytest.approx(np.mean(ratios), rel=1e-9)
    # a pair bounded only from below may credit +1 (faster), never -1
    assert s.loc[("hora", "credited@compute_multiplier@pass@1"), "value"] in (0.0, 1.0)


def test_arm_on_fewer_than_three_replicates_is_never_credited():
    """The same twice-as-fast arm and a +0.2 frontier gain, read on 2 replicates (se finite) and on 1 (se NaN):
    not credited on either axis; on 4 replicates both are credited. lr_equivalent is NaN below 3 replicates and
    reports its own replicate count."""
    curves = {"uniform": (_uniform, 64), "hora": (_twice_as_fast, 64)}
    for n, want in ((1, 0.0), (2, 0.0), (4, 1.0)):
        steps = _steps(curves)
        steps = steps[steps.rep < n]
        s = summary_tables(steps, _args(curves))[0].set_index(["arm", "metric"])
        assert s.loc[("hora", "credited@compute_multiplier@pass@1@50%"), "value"] == want, n
        assert s.loc[("hora", "credited@step_multiplier@pass@1@50%"), "value"] == want, n
    for n, want in ((1, 0.0), (2, 0.0), (4, 1.0)):
        last = _frontier_last(gain=0.2, n_reps=n)
        s = summary_tables(_as_steps(last), _frontier_args())[0].set_index(["arm", "metric"])
        assert s.loc[("hora", "credited@256"), "value"] == want, n
        eq = s.loc[("hora", "lr_equivalent")]
        assert eq.n_reps == n and (np.isnan(eq.value) if n < 3 else eq.value == 0.0), n
    assert credit(0.5, float("nan"), 5) == 0.0  # a NaN se never counts as 0


# ---- the frontier -------------------------------------------------------------------------------------------

LRS = (0.25, 0.5, 0.7, 1.4, 2.0)
#: the frontier's Pass@1 per arm (uniform GRPO at each rate); x2 collapses (dominated by x1.4 and x1)
P1 = {"uniform:lr0": 0.30, "uniform:lr0.25": 0.40, "uniform:lr0.5": 0.45, "uniform:lr0.7": 0.50, "uniform": 0.55,
      "uniform:lr1.4": 0.65}
COLLAPSED = (0.47, 0.55)  # uniform:lr2: a collapsed run, below the curve on both axes


def _f(x):
    """The true frontier: concave and falling on [0.3, 0.65] (f' = -3 (x - 0.3) <= 0)."""
    return 0.95 - 1.5 * (x - 0.3) ** 2


def _frontier_last(gain=0.101, n_reps=8, hora_x=None, extra=None) -> pd.DataFrame:
    """frontier_table rows: the start point, uniform at LRS on _f (x2 collapsed), "hora" at Pass@1 hora_x[r]
    with Pass@256 _f + gain + a zero-mean replicate term, and ``extra`` arms {arm: (x, y)}."""
    hora_x = hora_x or [0.33, 0.42, 0.48, 0.52, 0.58, 0.61, 0.63, 0.645]
    rows = []
    for rep in range(n_reps):
        for arm, x in P1.items():
            rows.append((arm, rep, x, _f(x)))
        rows.append(("uniform:lr2", rep, *COLLAPSED))
        x = hora_x[rep % len(hora_x)]
        rows.append(("hora", rep, x, _f(x) + gain + (0.01 if rep % 2 else -0.01)))
        for arm, (ex, ey) in (extra or {}).items():
            rows.append((arm, rep, ex, ey))
    return pd.DataFrame(rows, columns=["arm", "rep", "pass@1", "pass@256"])


def _as_steps(last: pd.DataFrame) -> pd.DataFrame:
    """A two-record step table whose frontier_table is ``last``: step 0 = the start point for every arm, step 10
    the final rows (the start point's row becomes uniform's step 0)."""
    final = last[last.arm != "uniform:lr0"].assign(step=10)
    start = last[last.arm == "uniform:lr0"]
    first = pd.concat([start.assign(arm=a) for a in final.arm.unique()]).assign(step=0)
    steps = pd.concat([first, final], ignore_index=True)
    for col in ("informative_share", "entropy", "budget_share_sK0"):
        steps[col] = 0.0
    return steps


def _frontier_args(arms=("uniform", "hora")):
    return TrainingStudyArgs(arms=tuple(arms), frontier_lrs=LRS, train=TrainConfig(ks=(1, 256), eval_sets=(),
                                                                                     snr_every=0))


def test_pareto_mask_removes_a_collapsed_point_and_matched_lr_uses_the_filtered_frontier():
    """(0.47, 0.55) lies below and left of x1 (0.55, f = 0.8538): dominated, dropped. matched_lr on the kept
    points: an arm at Pass@1 0.475 lies halfway between x0.5 (0.45) and x0.7 (0.50), so log m = (log 0.5 +
    log 0.7) / 2, m = sqrt(0.35) = 0.5916; had x2 stayed in the curve, the arm would be matched between x2 (0.47)
    and x0.7 near 1.1."""
    last = _frontier_last(extra={"arm": (0.475, 0.9)})
    pts = last[(last.rep == 0) & last.arm.str.startswith("uniform")]
    keep = pareto_mask(pts["pass@1"], pts["pass@256"])
    assert not keep[(pts.arm == "uniform:lr2").to_numpy()].any() and keep.sum() == len(P1)
    frontier = ("uniform",) + tuple(f"uniform:lr{m:g}" for m in LRS)
    m, se, n = matched_lr(last, "arm", frontier)
    assert m == pytest.approx(np.sqrt(0.35), rel=1e-9) and n == 8
    assert pareto_mask([0.5, 0.5, 0.4], [0.7, 0.7, 0.7]).tolist() == [True, False, False]  # copies: one kept


def test_known_frontier_gain_is_recovered_within_its_se():
    """HORA sits +0.101 above the true frontier (replicate terms +-0.01 that average to 0) at Pass@1 spread over
    every segment, the top one (0.55-0.65) and the first (start to x0.25) included, with a collapsed x2 run in
    the frontier's points. The read recovers +0.101 within 2 se (the cubic's own error on this quadratic is
    under |f''| h^2 / 8 / 5 = 0.0009 for h <= 0.1, far below the se 0.0038), on all 8 replicates."""
    last = _frontier_last()
    points = ("uniform:lr0", "uniform") + tuple(f"uniform:lr{m:g}" for m in LRS)
    g, se, n = frontier_gain(last, "hora", 256, points)
    assert n == 8 and abs(g - 0.101) < 2 * se, (g, se)
    assert se == pytest.approx(0.01 * np.sqrt(8 / 7) / np.sqrt(8), rel=0.2)  # the +-0.01 terms' se; 0.2: cubic


def test_replicate_outside_the_frontier_is_censored_and_counted():
    """An arm above the frontier's top Pass@1 (0.65) on 3 of 8 replicates is read against the flat extension
    (a lower bound of its gain there) and counted in frontier_censored_above; an arm below the start's Pass@1
    is counted below and cannot be credited +1 however high its Pass@256."""
    xs = [0.5, 0.55, 0.6, 0.7, 0.5, 0.55, 0.72, 0.75]
    last = _frontier_last(hora_x=xs, extra={"low": (0.25, 1.0)})
    reads = frontier_reads(last, "hora", 256, ("uniform:lr0", "uniform") + tuple(f"uniform:lr{m:g}" for m in LRS))
    assert len(reads) == 8 and (reads.side > 0).sum() == 3
    top = _f(0.65)
    above = reads[reads.side > 0]
    want = [_f(x) + 0.101 + (0.01 if r % 2 else -0.01) - top for r, x in enumerate(xs) if x > 0.65]
    assert above.gain.tolist() == pytest.approx(want, rel=1e-9)
    s = summary_tables(_as_steps(last), _frontier_args(("uniform", "hora", "low")))[0].set_index(["arm", "metric"])
    assert s.loc[("hora", "frontier_censored_above@256"), "value"] == 3
    assert s.loc[("low", "frontier_censored_below@256"), "value"] == 8
    assert s.loc[("low", "frontier_gain@256"), "value"] == pytest.approx(1.0 - 0.95, rel=1e-9)
    assert s.loc[("low", "credited@256"), "value"] == 0.0  # the gain is only an upper bound there


def test_the_bound_excludes_the_controls():
    """The interpolation bound comes from the uniform runs of the frontier only: a held-out rate
    (uniform:lr0.35) and a placebo with extreme values leave it unchanged, and both can then be credited (they
    can fail as negative controls)."""
    arms = ("uniform", "hora", "uniform:lr0.35", "hora_placebo")
    calm = {"uniform:lr0.35": (0.42, _f(0.42)), "hora_placebo": (0.5, _f(0.5))}
    wild = {"uniform:lr0.35": (0.42, _f(0.42) + 0.3), "hora_placebo": (0.5, _f(0.5) - 0.3)}
    a = summary_tables(_as_steps(_frontier_last(extra=calm)), _frontier_args(arms))[0].set_index(["arm", "metric"])
    b = summary_tables(_as_steps(_frontier_last(extra=wild)), _frontier_args(arms))[0].set_index(["arm", "metric"])
    for metric in ("interpolation_bound@256", "interpolation_bias@256"):
        assert a.loc[("frontier", metric), "value"] == b.loc[("frontier", metric), "value"]
    assert 0 < a.loc[("frontier", "interpolation_bound@256"), "value"] < 0.05  # end segments: 0.0225
    assert b.loc[("uniform:lr0.35", "credited@256"), "value"] == 1.0
    assert b.loc[("hora_placebo", "credited@256"), "value"] == -1.0
    assert a.loc[("hora_placebo", "credited@256"), "value"] == 0.0


def test_replicates_recompute_the_summary():
    """Every (arm, metric) of replicates.csv averages (finite values) to its summary row, with the same count."""
    s, reps = _read({"uniform": (_uniform, 64), "hora": (_twice_as_fast, 64)})
    assert list(reps.columns) == ["arm", "rep", "metric", "value"]
    for (arm, metric), grp in reps.groupby(["arm", "metric"]):
        v = grp.value.to_numpy()
        v = v[np.isfinite(v)]
        row = s.loc[(arm, metric)]
        assert row.n_reps == v.size, (arm, metric)
        if v.size:
            assert row.value == pytest.approx(v.mean(), rel=1e-12, abs=1e-15), (arm, metric)
    assert {"pass@1", "steps_to_target@pass@1", "compute_multiplier@pass@1@50%"} <= set(reps.metric)
    last = _frontier_last()
    s, reps = summary_tables(_as_steps(last), _frontier_args())
    gain = reps[(reps.arm == "hora") & (reps.metric == "frontier_gain@256")].value
    assert len(gain) == 8 and gain.mean() == pytest.approx(
        s.set_index(["arm", "metric"]).loc[("hora", "frontier_gain@256"), "value"], rel=1e-12)


def test_no_target_where_uniform_does_not_improve():
    """A metric uniform GRPO does not improve gets no target: improved@ is 0, the time rows are NaN on 0
    replicates, and the arm is read at uniform's own spend instead (at_matched_rollouts)."""
    s, _ = _read({"uniform": (lambda r, t: 0.5 - 0.001 * t, 64), "hard_first": (lambda r, t: 0.5 + 0.001 * t, 32)})
    assert s.loc[("target", "improved@pass@1"), "value"] == 0.0
    assert np.isnan(s.loc[("target", "target@pass@1"), "value"])
    row = s.loc[("hard_first", "steps_to_target@pass@1")]
    assert np.isnan(row.value) and row.n_reps == 0
    # other spent half as much: at uniform's total (6400) it is read at its last record (0.6), counted short
    assert s.loc[("hard_first", "at_matched_rollouts@pass@1"), "value"] == pytest.approx(0.6, rel=1e-9)
    assert s.loc[("hard_first", "at_matched_rollouts_short@pass@1"), "value"] == 4


def test_tuned_read_takes_each_family_at_its_best_rate():
    """uniform at lr x1 and x2 (x2 twice as fast), uniform:x2 at x1 and x2 (x2 four times as fast as uniform x1):
    the tuned read picks rate 2 in both families and reads uniform:x2 twice as fast in steps as uniform's best."""
    curves = {"uniform": (_uniform, 64), "uniform:lr2": (_twice_as_fast, 64),
              "uniform:x2": (_twice_as_fast, 128), "uniform:x2:lr2": (lambda r, t: _uniform(r, 4 * t), 128)}
    assert lr_families(curves) == {"uniform": {1.0: "uniform", 2.0: "uniform:lr2"},
                                   "uniform:x2": {1.0: "uniform:x2", 2.0: "uniform:x2:lr2"}}
    s, _ = _read(curves)
    assert s.loc[("uniform:x2", "best_lr_tuned@pass@1@50%"), "value"] == 2.0
    assert s.loc[("uniform", "best_lr_tuned@pass@1@50%"), "value"] == 2.0
    assert s.loc[("uniform:x2", "step_multiplier_tuned@pass@1@50%"), "value"] == pytest.approx(2.0, rel=1e-9)
    assert s.loc[("uniform:x2", "compute_multiplier_tuned@pass@1@50%"), "value"] == pytest.approx(1.0, rel=1e-9)
    assert s.loc[("uniform:x2", "step_multiplier@pass@1@50%"), "value"] == pytest.approx(2.0, rel=1e-9)


def test_time_to_target_counts_from_the_start_point():
    """After a warm-up of 20 steps, steps and rollouts are counted from the start record (step 20)."""
    steps = _steps({"uniform": (_uniform, 10)})
    t = time_to_target(steps[steps.rep == 2], "uniform", "pass@1", 0.3 + 0.4 * 0.5, start_step=20)
    assert t.steps.tolist() == pytest.approx([30.0], rel=1e-12) and t.rollouts.tolist() == pytest.approx([300.0])


def test_rollout_seconds_is_the_stated_formula_and_rejects_bad_costs():
    """T = generated (L_p c_prefill + L_c c_gen) + trained (L_p + L_c) c_train, by hand: 2000 x (20 x 1e-5 +
    300 x 2e-3) + 800 x 320 x 1e-4 = 1200.4 + 25.6 = 1226.0 seconds."""
    got = rollout_seconds(2000, 800, completion_tokens=300, prompt_tokens=20, seconds_per_generated_token=2e-3,
                          seconds_per_prefill_token=1e-5, seconds_per_trained_token=1e-4)
    assert got == pytest.approx(1226.0, rel=1e-12)
    with pytest.raises(ValueError, match="seconds_per_trained_token: must be finite and >= 0"):
        rollout_seconds(1, 1, completion_tokens=1, prompt_tokens=1, seconds_per_generated_token=1,
                        seconds_per_prefill_token=0, seconds_per_trained_token=-1)


def test_a_frontier_gain_within_the_floor_is_not_credited_where_the_bound_vanishes():
    """A saturated frontier (Pass@256 = 1 - 1e-6 (Pass@1 - 0.3): exactly linear, so leave-one-out reads an
    interpolation bound of ~0) and an arm 1e-8 above it on every replicate (se ~0): without a floor that arm is
    credited +1 (the simulator's narrowing fit read uniform:temp2 at -7.9e-8 +- 3.5e-8 that way); with
    FRONTIER_FLOOR (one point of Pass@k) it is not, while an arm 0.05 above it is. Mutation: frontier_threshold
    returning the bound alone credits the 1e-8 arm (the assertions on the floor and on "tiny" catch it)."""
    from simalloc.train.credit import FRONTIER_FLOOR, frontier_threshold

    assert FRONTIER_FLOOR == 0.01 and frontier_threshold(0.0) == 0.01 and np.isnan(frontier_threshold(np.nan))
    line = lambda x: 1.0 - 1e-6 * (x - 0.3)  # noqa: E731
    rows = []
    for rep in range(6):
        for arm, x in P1.items():
            rows.append((arm, rep, x, line(x)))
        x = 0.42 + 0.02 * rep
        rows += [("tiny", rep, x, line(x) + 1e-8), ("real", rep, x, line(x) + 0.05)]
    last = pd.DataFrame(rows, columns=["arm", "rep", "pass@1", "pass@256"])
    args = TrainingStudyArgs(arms=("uniform", "tiny", "real"), frontier_lrs=LRS[:-1],
                             train=TrainConfig(ks=(1, 256), eval_sets=(), snr_every=0))
    steps = _as_steps(last)
    summary = summary_tables(steps, args)[0]
    s = summary.set_index(["arm", "metric"])
    assert s.loc[("frontier", "interpolation_bound@256"), "value"] < 1e-9
    assert s.loc[("tiny", "credited@256"), "value"] == 0.0
    # abs 1e-10: the gain is a difference of numbers near 1 (float64 error ~1e-16), far below the 1e-8 it measures
    assert s.loc[("tiny", "frontier_gain@256"), "value"] == pytest.approx(1e-8, abs=1e-10)
    assert s.loc[("real", "credited@256"), "value"] == 1.0
    # the protocol's read at each run's best evaluation temperature uses the same floor
    from simalloc.train.protocol import effect_rows

    eff = effect_rows(steps.assign(**{"pass@256_best_temperature": steps["pass@256"]}), args, summary)
    best = eff[eff.metric == "frontier_gain_best_temperature@256"].set_index("arm").effect
    assert best["tiny"] == 0.0 and best["real"] == 1.0


def test_a_multiplier_within_the_floor_is_not_credited_however_small_its_se():
    """Common random numbers make a 5% speed-up "significant" (every replicate reads exactly 1.05, se 0): the
    efficiency axis needs an effect size too (MULTIPLIER_FLOOR = 0.1), while a 25% speed-up (1.25, > 1 + 0.1 +
    2 se) is credited. Mutation: with the floor at 0 the 5% arm is credited, which the first assertion catches."""
    from simalloc.train.efficiency import MULTIPLIER_FLOOR

    assert MULTIPLIER_FLOOR == 0.1
    s, _ = _read({"uniform": (_uniform, 64), "hora": (lambda rep, t: _uniform(rep, 1.05 * t), 64),
                  "hora_placebo": (lambda rep, t: _uniform(rep, 1.25 * t), 64)})
    slow = s.loc[("hora", "compute_multiplier@pass@1@50%")]
    assert slow.value == pytest.approx(1.05, rel=1e-9) and slow.se < 1e-9  # a line: every replicate exactly 1.05
    assert s.loc[("hora", "credited@compute_multiplier@pass@1@50%"), "value"] == 0.0
    assert s.loc[("hora_placebo", "compute_multiplier@pass@1@50%"), "value"] == pytest.approx(1.25, rel=1e-9)
    assert s.loc[("hora_placebo", "credited@compute_multiplier@pass@1@50%"), "value"] == 1.0


def test_cumulative_rollouts_reads_the_recorded_running_sum_when_records_are_sparse():
    """With records every 10 steps and a spend that varies per step (DAPO's refills), the recorded steps' spend
    cannot rebuild the total: the loop's cum_rollouts is used, counted from the first record (hand sums: steps
    1-10 spend 100 each except step 5 (400): 1,300; steps 11-20 spend 100: 1,000). Without the column the
    fallback holds each record's spend over the interval (10 x 100 = 1,000 for the first interval, wrong here)."""
    from simalloc.train.efficiency import cumulative_rollouts

    spend = np.full(21, 100.0)
    spend[0], spend[5] = 0.0, 400.0
    cum = np.cumsum(spend)
    run = pd.DataFrame({"step": [0, 10, 20], "rollouts": spend[[0, 10, 20]], "cum_rollouts": cum[[0, 10, 20]]})
    np.testing.assert_array_equal(cumulative_rollouts(run), [0.0, 1300.0, 2300.0])
    np.testing.assert_array_equal(cumulative_rollouts(run.drop(columns="cum_rollouts")), [0.0, 1000.0, 2000.0])
    late = run.iloc[1:].reset_index(drop=True)  # a run read from a warm-up's end counts from its first record
    np.testing.assert_array_equal(cumulative_rollouts(late), [0.0, 1000.0])


def test_tuned_read_uses_the_grid_both_families_ran():
    """uniform ran x1, x2 and x4 (x4 four times as fast as x1); uniform:x2 only x1 and x2. On the shared grid {1, 2}
    uniform's tuned reference is its x2 (twice as fast as x1), so uniform:x2:lr2 (four times as fast as uniform x1)
    reads a tuned step multiplier of exactly 2 (lines: exact). Mutation: letting uniform choose from its whole grid
    (lr4) gives 1, which the assertion catches."""
    curves = {"uniform": (_uniform, 64), "uniform:lr2": (_twice_as_fast, 64),
              "uniform:lr4": (lambda r, t: _uniform(r, 4 * t), 64),
              "uniform:x2": (_twice_as_fast, 128), "uniform:x2:lr2": (lambda r, t: _uniform(r, 4 * t), 128)}
    s, reps = _read(curves)
    assert s.loc[("uniform:x2", "step_multiplier_tuned@pass@1@50%"), "value"] == pytest.approx(2.0, rel=1e-9)
    assert s.loc[("uniform", "best_lr_tuned@pass@1@50%"), "value"] == 4.0  # uniform's own family: its whole grid
    chosen = reps[(reps.arm == "uniform:x2") & (reps.metric == "lr_tuned@pass@1@50%")].value
    assert chosen.tolist() == [2.0] * 4
    # both read at the top of the shared grid {1, 2} (uniform's lr4 is not in it): counted, every replicate
    assert s.loc[("uniform:x2", "lr_tuned_at_edge@pass@1@50%"), "value"] == 4
    assert s.loc[("uniform:x2", "reference_lr_tuned_at_edge@pass@1@50%"), "value"] == 4


def test_tuned_read_chooses_each_replicate_rate_out_of_fold():
    """Two rates of uniform:x2 tie in expectation but not per replicate: lr2 is fast (4x) on the even replicates and
    slow (1x) on the odd ones, lr0.5 the opposite. Each replicate is read at the rate chosen on the other parity,
    which is the rate that is slow on it: every replicate reads the slow curve (step multiplier vs uniform's own
    best, lr1 on the shared grid {0.5, 1, 2}, exactly 1; 50% target). An in-sample choice (one rate for all)
    would read the mean of fast and slow: (4 + 4 + 1 + 1) / 4 = 2.5 (the winner's curse), which the first
    assertion rules out; selection_optimism_tuned is the cross-fitted minus in-sample mean steps, > 0."""
    def fast_on(parity):
        return lambda r, t: _uniform(r, (4 if r % 2 == parity else 1) * t)

    curves = {"uniform": (_uniform, 64), "uniform:lr0.5": (lambda r, t: _uniform(r, 0.5 * t), 64),
              "uniform:lr2": (lambda r, t: _uniform(r, 0.9 * t), 64),
              "uniform:x2:lr0.5": (fast_on(1), 128), "uniform:x2": (lambda r, t: _uniform(r, 0.5 * t), 128),
              "uniform:x2:lr2": (fast_on(0), 128)}
    s, _ = _read(curves)
    assert s.loc[("uniform:x2", "step_multiplier_tuned@pass@1@50%"), "value"] == pytest.approx(1.0, rel=1e-9)
    assert s.loc[("uniform:x2", "selection_optimism_tuned@pass@1@50%"), "value"] > 0
    # uniform reads lr1, inside the grid {0.5, 1, 2}; uniform:x2 reads lr0.5 or lr2, its ends, on every replicate
    assert s.loc[("uniform:x2", "reference_lr_tuned_at_edge@pass@1@50%"), "value"] == 0
    assert s.loc[("uniform:x2", "lr_tuned_at_edge@pass@1@50%"), "value"] == 4


def test_b_noise_recovers_the_closed_form_on_a_gaussian_toy():
    """Group gradients g_i ~ N(G, Sigma), Sigma = diag(sd^2), d = 200 coordinates, 40 groups x 200 steps: B_noise
    recovers B_simple = tr(Sigma) / |G|^2 = 7.008 (closed form). Tolerance 3%: eight seeds tried by hand read
    -0.3% ... +0.5% (Monte-Carlo sd ~0.3%; the 1 / |g_bar|^2 Jensen bias ~Var(|g_bar|^2) / |g_bar|^4 / (1 - 1/(1+s))
    ~ 0.3% at d = 200; at d = 20 it reaches +5%, which is why the toy has many coordinates, as the models do). The
    per-step plug-in noise scale tr(Sigma_hat) / |g_bar|^2 averages to ~tr(Sigma) / (|G|^2 + tr(Sigma) / n) = 6.0
    (-15%), outside that tolerance (mutation: reading B_noise as the mean plug-in noise scale fails). n = 40 is
    recovered exactly from noise_scale (SNR + 1) (equal weights; rel 1e-9: float reordering)."""
    from simalloc.train.critical_batch import b_noise
    from simalloc.train.snr import snr_from_group_gradients

    d, n, steps = 200, 40, 200
    g_true, sd = np.full(d, 0.5), np.linspace(0.5, 2.0, d)
    closed = float((sd ** 2).sum() / (g_true @ g_true))
    rng = np.random.default_rng(7)
    snr, scale = map(np.array, zip(*(snr_from_group_gradients(g_true + rng.normal(size=(n, d)) * sd,
                                                              np.full(n, 1 / n)) for _ in range(steps))))
    est, batch = b_noise(np.r_[snr, np.nan], np.r_[scale, np.nan])  # an unmeasured step (NaN) is skipped
    assert batch == pytest.approx(n, rel=1e-9)
    assert est == pytest.approx(closed, rel=0.03)
    assert scale.mean() != pytest.approx(closed, rel=0.03)
    assert b_noise([-0.5, 0.2], [1.0, 1.0])[0] == np.inf  # progress -1 + 1/6 <= 0: the noise swamps the signal
    with pytest.raises(ValueError, match="snr, noise_scale: must be 1-d arrays of equal length"):
        b_noise([1.0], [1.0, 2.0])


def test_b_noise_predicts_the_ladder_of_a_run_whose_noise_scale_varies():
    """McCandlish et al.'s model played step by step: at its best rate a step at batch B advances a noise-free
    progress p by delta / (1 + B_simple(p) / B), with B_simple(p) = 6 exp(4 p) rising 55x over the run (p: 0 -> 1,
    delta = 0.001). The steps to p = 1 at B = 60 and at B = 120 are counted directly (the oracle: 2,340 and 1,670,
    ratio 1.4012; closed form S = 1000 (1 + 80.397 / B) with 80.397 = int_0^1 6 exp(4p) dp). B_noise read from the
    B = 60 run's own per-step SNR s = B / B_simple(p) and noise scale B / (1 + s) predicts that ratio (rel 1e-3:
    the left-endpoint sum over ~2,000 steps against the integral). Mutation: the earlier n / mean(SNR) (the steps'
    harmonic mean of B_simple) reads 40.6 and predicts 1.25, outside that tolerance."""
    from simalloc.train.critical_batch import b_noise, ladder_prediction

    def run(batch, record=False):
        p, steps, snr, scale = 0.0, 0, [], []
        while p < 1.0:
            s = batch / (6.0 * np.exp(4.0 * p))
            if record:
                snr.append(s)
                scale.append(batch / (1.0 + s))
            p += 0.001 * s / (1.0 + s)
            steps += 1
        return steps, np.array(snr), np.array(scale)

    s60, snr, scale = run(60.0, record=True)
    s120, _, _ = run(120.0)
    assert s60 / s120 == pytest.approx(1.4012, rel=1e-3)  # the direct count agrees with the closed form
    est, batch = b_noise(snr, scale)
    assert batch == pytest.approx(60.0, rel=1e-9)
    assert est == pytest.approx(6.0 * (np.exp(4.0) - 1.0) / 4.0, rel=1e-3)
    steps_pred, compute_pred = ladder_prediction(est, batch, 2.0)
    assert steps_pred == pytest.approx(s60 / s120, rel=1e-3)
    assert compute_pred == pytest.approx(s60 / (2 * s120), rel=1e-3)  # rollouts: B S(B) / (2B S(2B))
    harmonic = batch / snr.mean()
    assert ladder_prediction(harmonic, batch, 2.0)[0] != pytest.approx(s60 / s120, rel=0.05)


def test_ladder_prediction_and_rows_hand_computed():
    """McCandlish's S = S_min (1 + B_noise / B), E = E_min (1 + B / B_noise): with B_noise = 3 B, x2 cuts steps by
    (1 + 3) / (1 + 1.5) = 1.6 and multiplies rollouts by (1 + 2/3) / (1 + 1/3) = 1.25 (compute multiplier 0.8);
    x4 with B_noise = B / 2: steps (1 + 0.5) / (1 + 0.125) = 4/3, compute (1 + 2) / (1 + 8) = 1/3. In a summary:
    uniform's SNR 0.5 at n = 60 groups (noise_scale = 60 / 1.5 = 40) reads B_noise = 120, and uniform:x2 (SNR 1,
    so snr_ratio 2) gets the x2 prediction at B_noise = 2 B: steps 3 / 2, compute 1.5 / 2 = 0.75."""
    from simalloc.train.critical_batch import ladder_prediction

    assert ladder_prediction(3.0, 1.0, 2.0) == pytest.approx((1.6, 0.8), rel=1e-12)
    assert ladder_prediction(0.5, 1.0, 4.0) == pytest.approx((4 / 3, 1 / 3), rel=1e-12)
    with pytest.raises(ValueError, match="m: must be finite and > 0"):
        ladder_prediction(1.0, 1.0, 0.0)
    steps = _steps({"uniform": (_uniform, 64), "uniform:x2": (_twice_as_fast, 128)})
    steps["grad_snr"] = np.where(steps.arm == "uniform", 0.5, 1.0)
    steps["grad_noise_scale"] = np.where(steps.arm == "uniform", 40.0, 30.0)
    s, _ = summary_tables(steps, _args(["uniform", "uniform:x2"]))
    s = s.set_index(["arm", "metric"])
    assert s.loc[("uniform", "b_noise"), "value"] == pytest.approx(120.0, rel=1e-12)
    assert s.loc[("uniform", "b_noise_batch"), "value"] == pytest.approx(60.0, rel=1e-12)
    assert s.loc[("uniform:x2", "predicted_step_multiplier"), "value"] == pytest.approx(1.5, rel=1e-12)
    assert s.loc[("uniform:x2", "predicted_compute_multiplier"), "value"] == pytest.approx(0.75, rel=1e-12)
    assert s.loc[("uniform:x2", "snr_ratio"), "value"] == pytest.approx(2.0, rel=1e-12)
    # read as snr_ratio (2) times the batch: the same steps; rollouts 1.5 / 2 = 0.75 (m = 2 = r here)
    assert s.loc[("uniform:x2", "predicted_step_multiplier_snr"), "value"] == pytest.approx(1.5, rel=1e-12)
    assert s.loc[("uniform:x2", "predicted_compute_multiplier_snr"), "value"] == pytest.approx(0.75, rel=1e-12)
    # x2's SNR only 1.5 x uniform's (the prompts' draw stays): B_noise = 2 B, r = 1.5: steps (1 + 2) / (1 + 2 / 1.5)
    # = 9 / 7, rollouts (9 / 7) / 2
    steps.loc[steps.arm == "uniform:x2", "grad_snr"] = 0.75
    s, _ = summary_tables(steps, _args(["uniform", "uniform:x2"]))
    s = s.set_index(["arm", "metric"])
    assert s.loc[("uniform:x2", "predicted_step_multiplier"), "value"] == pytest.approx(1.5, rel=1e-12)
    assert s.loc[("uniform:x2", "predicted_step_multiplier_snr"), "value"] == pytest.approx(9 / 7, rel=1e-12)
    assert s.loc[("uniform:x2", "predicted_compute_multiplier_snr"), "value"] == pytest.approx(9 / 14, rel=1e-12)
    # SNR -0.2 on every step (progress sum s / (1 + s) < 0: the noise swamps the signal): B_noise unbounded,
    # counted, not averaged; x2's limit is 2x fewer steps at the same rollouts
    assert ladder_prediction(np.inf, 1.0, 2.0) == (2.0, 1.0)
    steps["grad_snr"] = -0.2
    s, _ = summary_tables(steps, _args(["uniform", "uniform:x2"]))
    s = s.set_index(["arm", "metric"])
    assert s.loc[("uniform", "b_noise_unbounded"), "value"] == 4 and s.loc[("uniform", "b_noise"), "n_reps"] == 0
    assert s.loc[("uniform:x2", "predicted_step_multiplier"), "value"] == 2.0


def test_peers_own_terms_read_hours_peaks_and_best_checkpoints_by_hand():
    """Toy (n = 4 prompts, G = 16, every arm spending 64 rollouts a step): uniform rises to a peak at t = 50 and
    falls to half its rise (so its gain, and its targets, are positive); SPEED-RL and PODS follow uniform's curve
    twice as fast, DAPO's dynamic sampling at uniform's pace, GRESO twice as fast at half DAPO's spend. By hand,
    with the cost model's per-rollout generation time a = 200 x 1e-6 + 1000 x 1e-4 and update time b = 1200 x 3e-5:
    SPEED-RL's hours multiplier is 2 (half the steps, the same cost per step); PODS reaches uniform's peak in half
    the steps (multiplier 2) and trains 8 of 16 per prompt, so its hours multiplier is 2 (a + b) / (a + b / 2);
    GRESO's best checkpoint (t = 25) costs 25 x 32 rollouts against
    DAPO's 50 x 64: 4x. Reinforce-Ada's published arms did not run: its row says "not run"."""
    from types import SimpleNamespace

    from simalloc.train.efficiency import best_checkpoint, time_to_peak
    from simalloc.train.own_terms import COST_MODEL, own_terms
    from simalloc.train.peers import parse_peer_options

    def hill(speed):  # up to a peak at x = 50, then down to half its rise at x = 100 (x = speed x t)
        return lambda rep, t: 0.3 + SLOPES[rep] * min(speed * t / 50, 1.5 - speed * t / 100) / 2

    steps = _steps({"uniform": (hill(1), 64), "speed_rl_dynamic": (hill(2), 64), "pods": (hill(2), 64),
                    "dapo_dynamic": (hill(1), 64), "greso": (hill(2), 32)})
    best = best_checkpoint(steps, "greso", "pass@1")
    assert best.steps.tolist() == [25.0] * 4 and best.rollouts.tolist() == [800.0] * 4
    peak = time_to_peak(steps, "pods", "uniform", "pass@1")
    assert peak.steps.tolist() == [25.0] * 4 and peak.reached.all()
    table = own_terms(steps, "sim", SimpleNamespace(n_prompts=4, group_size=16, warmup_steps=0),
                      parse_peer_options("")).set_index(["peer", "simalloc_metric", "baseline"])
    a = 200 * 1e-6 + 1000 * 1e-4
    b = 1200 * 3e-5
    assert COST_MODEL["seconds_per_trained_token"] == 3e-5  # the constants the hand values use
    assert table.loc[("SPEED-RL", "hours_multiplier@pass@1@50%", "uniform"), "value"] == pytest.approx(2, rel=1e-9)
    # an hours row states the cost model it assumed; a rollouts row needs none
    note = table.loc[("SPEED-RL", "hours_multiplier@pass@1@50%", "uniform"), "note"]
    assert note.startswith("hours under an assumed cost model") and "seconds_per_generated_token=0.0001" in note
    assert table.loc[("GRESO rollouts", "rollouts_multiplier@best_checkpoint", "dapo_dynamic"), "note"] == ""
    assert table.loc[("PODS", "step_multiplier@uniform_peak", "uniform"), "value"] == pytest.approx(2, rel=1e-9)
    assert table.loc[("PODS", "hours_multiplier@uniform_peak", "uniform"), "value"] == pytest.approx(
        2 * (a + b) / (a + b / 2), rel=1e-9)
    assert table.loc[("GRESO rollouts", "rollouts_multiplier@best_checkpoint", "dapo_dynamic"),
                     "value"] == pytest.approx(4, rel=1e-9)
    row = table.loc[("Reinforce-Ada", "step_multiplier@pass@1 (as published: 32 vs 4 per prompt)",
                     "uniform:k4:x0.25")]
    assert row.note == "not run" and np.isnan(row.value)


def test_crossfit_tuned_with_odd_and_too_few_replicates_by_hand():
    """Rates a (x1) and b (x2), steps to target a: 10, 30, 10 and b: 20, 20, 20 on replicates 0, 1, 2. Folds by
    parity: {0, 2} is read at the rate chosen on replicate 1 alone (b: 20 < 30), {1} at the rate chosen on {0, 2}
    (a: 10 < 20), so the reads are 20 (b), 30 (a), 20 (b), although a wins in sample (mean 16.7 < 20). Two
    replicates: each read at the other's choice; one replicate: nothing to choose on out of fold, no rows.
    Mutation: an in-sample choice reads a everywhere (10, 30, 10), which the first assertion rules out."""
    from simalloc.train.efficiency import crossfit_tuned

    def table(steps, reps):
        return pd.DataFrame({"rep": reps, "steps": steps, "rollouts": np.asarray(steps) * 64.0, "reached": True})

    family = {1.0: "a", 2.0: "b"}
    got = crossfit_tuned({"a": table([10.0, 30.0, 10.0], [0, 1, 2]), "b": table([20.0] * 3, [0, 1, 2])}, family)
    assert got.steps.tolist() == [20.0, 30.0, 20.0] and got.lr.tolist() == [2.0, 1.0, 2.0]
    two = crossfit_tuned({"a": table([10.0, 30.0], [0, 1]), "b": table([20.0] * 2, [0, 1])}, family)
    assert two.lr.tolist() == [2.0, 1.0]  # rep 0 at rep 1's choice (b: 20 < 30), rep 1 at rep 0's (a: 10 < 20)
    assert crossfit_tuned({"a": table([10.0], [0]), "b": table([20.0], [0])}, family).empty
