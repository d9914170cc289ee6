"""Reading training runs: final Pass@k with paired differences, the learning-rate frontier and every arm's gain
over it, the matched learning rate, and the summary contract (``summary.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import MeanSE, mean_se
from .arms import START_POINT, all_arms, frontier_arms, frontier_points, parse_arm

__all__ = ["final_summary", "frontier_table", "frontier_gain", "matched_lr", "summary_long", "EFFECT_FLOOR",
           "FRONTIER_METHODS"]


def frontier_table(steps: pd.DataFrame, warmup_steps: int = 0) -> pd.DataFrame:
    """The last step's rows plus, per replicate, the ``START_POINT`` row: the uniform arm's row at step
    ``warmup_steps`` relabelled (left out when that step was not recorded or uniform did not run).

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study (``table.parquet``): arm, rep, step, pass@k columns ...
    warmup_steps : int, default 0
        The step at which the allocators took over (the frontier's lr -> 0 end).

    Returns
    -------
    pandas.DataFrame
        The rows ``frontier_gain`` and ``matched_lr`` read.
    """
    last = steps[steps.step == steps.step.max()]
    start = steps[(steps.arm == "uniform") & (steps.step == warmup_steps)]
    return pd.concat([last, start.assign(arm=START_POINT)], ignore_index=True) if len(start) else last


def final_summary(steps: pd.DataFrame, ks, by=("arm",), baseline: str = "uniform") -> pd.DataFrame:
    """Pass@k at the last step per arm (and sweep value): mean, se, change from step 0, and the paired
    difference to the ``baseline`` arm on the same replicates (common random numbers make it precise).

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study (``table.parquet``): arm, rep, step, pass@k columns ...
    ks : iterable of int
        The k of the Pass@k columns to summarise.
    by : tuple of str, default ("arm",)
        The grouping columns (add a sweep column to summarise per sweep value).
    baseline : str, default "uniform"
        The arm the paired differences are taken against (NaN when it did not run).

    Returns
    -------
    pandas.DataFrame
        One row per group and k: final, final_se, start, change, change_se, n_reps, vs_<baseline>,
        vs_<baseline>_se.
    """
    by = list(by)
    last = steps[steps.step == steps.step.max()]
    first = steps[steps.step == 0]
    rows = []
    for key, grp in last.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        start = first
        for col, val in zip(by, key):
            start = start[start[col] == val]
        for k in ks:
            col = f"pass@{k}"
            vals = grp.set_index("rep")[col]
            delta = vals - start.set_index("rep")[col].reindex(vals.index)
            rows.append((*key, k, vals.mean(), mean_se(vals).se, start[col].mean(), delta.mean(), mean_se(delta).se,
                         len(vals)))
    out = pd.DataFrame(rows, columns=[*by, "k", "final", "final_se", "start", "change", "change_se", "n_reps"])
    return _paired_vs(out, last, by, ks, baseline)


def _paired_vs(summary, last, by, ks, baseline):
    """Add the paired (same replicate, common random numbers) difference to the baseline arm and its se."""
    summary["vs_" + baseline] = np.nan
    summary["vs_" + baseline + "_se"] = np.nan
    if baseline not in set(last.arm):
        return summary
    sweep = [c for c in by if c != "arm"]
    for i, row in summary.iterrows():
        sel = last
        for c in sweep:
            sel = sel[sel[c] == row[c]]
        col = f"pass@{row.k}"
        mine = sel[sel.arm == row.arm].set_index("rep")[col]
        base = sel[sel.arm == baseline].set_index("rep")[col].reindex(mine.index)
        d = mine - base
        summary.loc[i, "vs_" + baseline] = d.mean()
        summary.loc[i, "vs_" + baseline + "_se"] = mean_se(d).se
    return summary


FRONTIER_METHODS = ("pchip", "linear")


def frontier_gain(last: pd.DataFrame, arm: str, k: int, frontier: tuple, method: str = "pchip") -> MeanSE:
    """Frontier gain of ``arm`` at Pass@k: per replicate r, its Pass@k minus the uniform-GRPO frontier's Pass@k at
    its own Pass@1, the frontier being the curve through the ``frontier`` arms' (Pass@1, Pass@k) points of
    replicate r (common random numbers; points sorted by Pass@1). ``method``: "pchip" (scipy's monotone cubic
    PchipInterpolator, the default) or "linear" (chords). The frontier is concave, so chords lie below it and
    hand a point on the true frontier a spurious positive gain of up to |f''| h^2 / 8 between knots h apart;
    the cubic removes most of that. A replicate whose Pass@1 falls outside the frontier's range is left out (no
    extrapolation). An arm that only slides along GRPO's learning-rate trade-off scores ~0.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``: the last step's rows (one per arm and replicate) and the start
        point.
    arm : str
        The arm compared.
    k : int
        The Pass@k on the vertical axis.
    frontier : tuple of str
        The frontier's arms (``frontier_points``: uniform at each learning rate and the start point).
    method : {"pchip", "linear"}, default "pchip"
        How the frontier is drawn between its points.

    Returns
    -------
    MeanSE
        The mean gain, its se over replicates and how many replicates fell inside the frontier's range.

    References
    ----------
    F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation", SIAM J. Numer. Anal. 17(2), 1980
    (scipy.interpolate.PchipInterpolator).
    """
    from scipy.interpolate import PchipInterpolator

    if method not in FRONTIER_METHODS:
        raise ValueError(f"method: must be one of {', '.join(FRONTIER_METHODS)}, got {method!r}")
    col = f"pass@{k}"
    gains = []
    for pts, mine in _frontier_replicates(last, arm, frontier):
        xs, ys, x = pts["pass@1"].to_numpy(), pts[col].to_numpy(), float(mine["pass@1"])
        ref = np.interp(x, xs, ys) if method == "linear" or xs.size < 3 else PchipInterpolator(xs, ys)(x)
        gains.append(float(mine[col]) - float(ref))
    return mean_se(gains)


def _frontier_replicates(last: pd.DataFrame, arm: str, frontier: tuple):
    """Per replicate whose ``arm`` Pass@1 lies within the frontier's range (no extrapolation): (the frontier
    arms' rows sorted by Pass@1, an equal Pass@1 kept once; the arm's row)."""
    for _, grp in last.groupby("rep"):
        pts = grp[grp.arm.isin(frontier)]
        mine = grp[grp.arm == arm]
        if len(pts) < 2 or mine.empty:
            continue
        pts = pts.iloc[np.argsort(pts["pass@1"].to_numpy(), kind="stable")]
        pts = pts[~pts["pass@1"].duplicated()]  # equal Pass@1 (e.g. a repeated arm): keep one point
        x = float(mine["pass@1"].iloc[0])
        if len(pts) >= 2 and pts["pass@1"].iloc[0] <= x <= pts["pass@1"].iloc[-1]:
            yield pts, mine.iloc[0]


#: the smallest frontier gain (Pass@256, probability) counted as an effect: half a point. A 500-problem benchmark
#: measures Pass@256 near 0.9 with a standard error of about 0.013 (sqrt(0.9 x 0.1 / 500)), so a smaller gain could
#: not be seen on any of the paper's benchmarks; common random numbers make far smaller gains "significant".
EFFECT_FLOOR = 0.005


def matched_lr(last: pd.DataFrame, arm: str, frontier: tuple) -> MeanSE:
    """The uniform-GRPO learning-rate multiplier whose Pass@1 equals ``arm``'s: per replicate, log(multiplier)
    interpolated linearly against the frontier arms' Pass@1 (sorted), no extrapolation; returns the mean
    multiplier, its se and the replicates used (``MeanSE``). With a frontier gain within the effect floor, this rate
    reproduces the arm.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``: the last step's rows (one per arm and replicate) and the start
        point.
    arm : str
        The arm to match.
    frontier : tuple of str
        The frontier's arms ("uniform" and "uniform:lr<m>"; ``frontier_arms``).

    Returns
    -------
    MeanSE
        The mean multiplier, its se and the replicates used.
    """
    mult = {a: parse_arm(a).lr_scale for a in frontier}
    found = [
        float(
            np.exp(
                np.interp(
                    float(mine["pass@1"]),
                    pts["pass@1"].to_numpy(),
                    np.log(pts.arm.map(mult).to_numpy(dtype=np.float64)),
                )
            )
        )
        for pts, mine in _frontier_replicates(last, arm, frontier)
    ]
    return mean_se(found)


def summary_long(steps: pd.DataFrame, args) -> pd.DataFrame:
    """The summary contract (``summary.csv``): one row per (arm, metric) with ``value`` and ``se`` over
    replicates: pass@1, pass@<k> for k = 256 and 1024 when computed and the largest k, the informative-group
    share (mean over training steps), rollouts_per_step (drawn per step after the warm-up, screening and discarded
    rollouts included: what an arm spent of its budget), the final policy entropy (nats), the growth of the
    Phase-B share given to s = K0 prompts from the first to the last tenth of training, and when the study traces
    a frontier: frontier_gain@<kmax> (monotone cubic frontier; for a uniform:lr<x> point, against the frontier
    without that point: leave-one-out), frontier_gain_linear@<kmax> (chords), matched_lr (the GRPO
    learning-rate multiplier with the arm's Pass@1) and lr_equivalent (1 when |frontier gain| <= max(2 se,
    EFFECT_FLOOR): that GRPO learning rate reproduces the arm's Pass@1 and Pass@k), credited@<kmax> (+1 / -1 when
    the gain is beyond the frontier's interpolation bound by 2 se, 0 otherwise), the gradient SNR and noise
    scale (mean over each run's measured steps, ``simalloc.train.snr``) when measured, and per eval set
    "<set>:frontier_gain@<largest eval_set_ks>": the same frontier read on that set's own Pass@1 and Pass@k
    (replicates whose set Pass@1 falls outside the set's frontier range are left out).

    The frontier's own error (pseudo-arm "frontier"): every uniform-GRPO run that is a frontier point or a listed
    ``uniform:lr<x>`` arm is compared with the frontier built without it (leave-one-out; negative controls that
    must read ~0): ``interpolation_bias@<kmax>`` is the mean of their gains (se over the controls) and
    ``interpolation_bound@<kmax>`` the largest |gain|. Leaving a point out widens the gap the frontier bridges, so
    the bound is conservative; an arm is credited only beyond it.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study.
    args : TrainingStudyArgs
        The study's settings (arms, frontier, ``train.ks``, eval sets).

    Returns
    -------
    pandas.DataFrame
        Columns arm, metric, value, se, n_reps (``summary.csv``).
    """
    cfg = args.train
    last = frontier_table(steps, cfg.warmup_steps)
    ks = sorted({k for k in (1, 256, 1024, max(cfg.ks)) if k in cfg.ks})
    frontier = frontier_arms(args.frontier_lrs)
    points = frontier_points(args.frontier_lrs)
    rows = []
    for arm in all_arms(args.arms, args.frontier_lrs):
        mine = last[last.arm == arm]
        n = len(mine)
        se = lambda v: mean_se(v).se  # noqa: E731
        for k in ks:
            rows.append((arm, f"pass@{k}", float(mine[f"pass@{k}"].mean()), se(mine[f"pass@{k}"]), n))
        info = steps[(steps.arm == arm) & (steps.step > 0)].groupby("rep").informative_share.mean()
        rows.append((arm, "informative_share", float(info.mean()), se(info), len(info)))
        if "rollouts" in steps:
            spend = steps[(steps.arm == arm) & (steps.step > cfg.warmup_steps)].groupby("rep").rollouts.mean()
            rows.append((arm, "rollouts_per_step", float(spend.mean()), se(spend), len(spend)))  # screening included
        rows.append((arm, "entropy", float(mine.entropy.mean()), se(mine.entropy), n))
        if "grad_snr" in steps and steps.loc[steps.arm == arm, "grad_snr"].notna().any():
            for col in ("grad_snr", "grad_noise_scale"):
                per_rep = steps[steps.arm == arm].dropna(subset=[col]).groupby("rep")[col].mean()
                rows.append((arm, col, float(per_rep.mean()), se(per_rep), len(per_rep)))
        trained = steps[(steps.arm == arm) & (steps.step > 0)].dropna(subset=["budget_share_sK0"])
        if not trained.empty:  # the s = K0 share of Phase B: first vs last tenth of training (HORA: it grows)
            lo, hi = trained.step.min(), trained.step.max()  # the allocator's steps (after any warm-up)
            cut = (hi - lo + 1) / 10
            early = trained[trained.step < lo + cut].groupby("rep").budget_share_sK0.mean()
            late = trained[trained.step > hi - cut].groupby("rep").budget_share_sK0.mean()
            growth = late - early.reindex(late.index)
            rows.append((arm, "budget_share_sK0_growth", float(growth.mean()), se(growth), len(growth)))
        for col in cfg.eval_set_columns():  # held-out sets and finite benchmarks, last step
            if col.endswith("_se") or col not in mine:
                continue
            rows.append((arm, col, float(mine[col].mean()), se(mine[col]), n))
            if ":bench" in col and arm != "uniform" and (last.arm == "uniform").any():
                # the share of replicates in which one benchmark of this size tells the arm from GRPO: |difference|
                # above 1.96 x the unpaired se sqrt(se_a^2 + se_u^2), as a paper's table would be read
                a = mine.set_index("rep")
                u = last[last.arm == "uniform"].set_index("rep").reindex(a.index)
                z = (a[col] - u[col]).abs() / np.sqrt(a[col + "_se"] ** 2 + u[col + "_se"] ** 2)
                rows.append((arm, col + ":resolved_share", float((z > 1.96).mean()), float("nan"), n))
        if frontier:
            kmax = max(cfg.ks)
            # a uniform:lr<x> point is compared with the frontier built without it (leave-one-out): a real test of
            # the frontier's interpolation (the negative control), not 0 by construction; uniform is the reference
            own = tuple(p for p in points if p != arm) if arm in points and arm != "uniform" else points
            g, g_se, used = frontier_gain(last, arm, kmax, own)
            rows.append((arm, f"frontier_gain@{kmax}", g, g_se, used))
            on = float(abs(g) <= max(2 * g_se if np.isfinite(g_se) else 0.0, EFFECT_FLOOR)) if used else float("nan")
            g, g_se, used = frontier_gain(last, arm, kmax, own, method="linear")
            rows.append((arm, f"frontier_gain_linear@{kmax}", g, g_se, used))
            m, m_se, used = matched_lr(last, arm, frontier)
            rows.append((arm, "matched_lr", m, m_se, used))
            # 1: a uniform-GRPO learning rate reproduces the arm (|frontier gain| within max(2 se, EFFECT_FLOOR))
            rows.append((arm, "lr_equivalent", on, float("nan"), used))
            for name, _ in cfg.eval_set_specs():  # the same comparison on each held-out set
                kset = max(cfg.eval_set_ks)
                view = _eval_set_view(last, name, kset)
                if view is not None:
                    g, g_se, used = frontier_gain(view, arm, kset, own)
                    rows.append((arm, f"{name}:frontier_gain@{kset}", g, g_se, used))
    out = pd.DataFrame(rows, columns=["arm", "metric", "value", "se", "n_reps"])
    return _with_interpolation_bound(out, last, args) if frontier else out


def _with_interpolation_bound(out: pd.DataFrame, last: pd.DataFrame, args) -> pd.DataFrame:
    """Append the frontier's interpolation bias and bound and each arm's credited@k (``summary_long``)."""
    kmax = max(args.train.ks)
    gain_rows = out[out.metric == f"frontier_gain@{kmax}"]
    gains = []
    for arm in dict.fromkeys((*frontier_arms(args.frontier_lrs), *args.arms)):
        if arm == "uniform":  # summary_long read it on the full frontier (0 by construction): leave it out here
            if not (last.arm == arm).any():
                continue
            points = tuple(p for p in frontier_points(args.frontier_lrs) if p != arm)
            g, _, used = frontier_gain(last, arm, kmax, points)
        elif _is_uniform_at_another_rate(arm):  # summary_long's gain is already against the frontier without it
            g, used = gain_rows.loc[gain_rows.arm == arm, ["value", "n_reps"]].iloc[0]
        else:
            continue
        if used and np.isfinite(g):
            gains.append(g)
    rows = []
    bound = float("nan")
    if gains:
        bias = mean_se(np.asarray(gains))
        bound = float(np.max(np.abs(gains)))
        rows += [("frontier", f"interpolation_bias@{kmax}", bias.mean, bias.se, len(gains)),
                 ("frontier", f"interpolation_bound@{kmax}", bound, float("nan"), len(gains))]
    for arm, g, g_se, used in zip(gain_rows.arm, gain_rows.value, gain_rows.se, gain_rows.n_reps):
        s = 2 * g_se if np.isfinite(g_se) else 0.0
        credited = float("nan") if not (used and np.isfinite(g) and np.isfinite(bound)) else \
            float(1.0 if g - s > bound else -1.0 if g + s < -bound else 0.0)
        rows.append((arm, f"credited@{kmax}", credited, float("nan"), used))
    return pd.concat([out, pd.DataFrame(rows, columns=out.columns)], ignore_index=True)


def _is_uniform_at_another_rate(arm: str) -> bool:
    """uniform GRPO at a learning-rate multiplier other than 1 and the base rollouts ("uniform:lr<x>")."""
    if not arm.startswith("uniform:lr"):
        return False
    parsed = parse_arm(arm)
    return parsed.lr_scale != 1.0 and parsed.rollout_scale == 1


def _eval_set_view(last: pd.DataFrame, name: str, k: int):
    """``last`` with pass@1 and pass@k taken from eval set ``name`` ("<name>:pass@1", "<name>:pass@k"), so
    ``frontier_gain`` reads that set's own frontier; None when the columns are absent."""
    cols = {f"{name}:pass@1": "pass@1", f"{name}:pass@{k}": f"pass@{k}"}
    if not set(cols) <= set(last.columns):
        return None
    return last[["arm", "rep", *cols]].rename(columns=cols)
