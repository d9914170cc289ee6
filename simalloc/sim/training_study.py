"""Shared machinery of the training studies: shards, summaries and figures.

A training study's Args subclasses ``TrainConfig`` and adds ``arms``, ``n_reps``, ``seed`` (and may add
a sweep axis). One shard = one (arm, replicate[, sweep value]); replicate r uses the same seed for every
arm (common random numbers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io import write_table
from .training import TrainConfig, parse_arm, simulate_training

__all__ = ["TrainingStudyArgs", "FRONTIER_LRS", "train_config", "arm_shards", "run_arm_shard", "final_summary", "plot_training", "frontier_arms",
           "frontier_gain", "matched_lr", "summary_long", "plot_frontier", "EFFECT_FLOOR", "START_POINT",
           "frontier_points", "frontier_table"]


#: learning-rate multipliers of the uniform-GRPO arms that trace the Pass@1-vs-Pass@k frontier in every training study
FRONTIER_LRS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.7, 1.4, 2.0)


@dataclass(frozen=True)
class TrainingStudyArgs(TrainConfig):
    """The Args every training study shares: the simulator's settings plus arms, replicates (replicate r uses
    ``SeedSequence([seed, r])`` for every arm) and the frontier's learning-rate multipliers; studies subclass it."""

    arms: tuple = ("uniform", "hora")
    n_reps: int = 8
    seed: int = 0
    frontier_lrs: tuple = FRONTIER_LRS

    def validate(self):
        validate_training_args(self)


def train_config(args, **changes) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return dataclasses.replace(TrainConfig(**{k: getattr(args, k) for k in names}), **changes)


def validate_training_args(args) -> None:
    train_config(args).validate()
    if args.n_reps < 1:
        raise ValueError(f"n_reps: must be >= 1, got {args.n_reps}")
    if not args.arms:
        raise ValueError("arms: at least one arm is needed")
    sizes = getattr(args, "group_sizes", (args.group_size,))
    for spec in args.arms:
        arm = parse_arm(spec)
        if arm.k0 is not None and arm.k0 > min(sizes):
            raise ValueError(f"arms: {spec!r} needs a pilot of {arm.k0} rollouts but group_size is {min(sizes)}")


def frontier_arms(args) -> tuple:
    """The uniform-GRPO arms that trace the Pass@1-vs-Pass@k frontier: "uniform" and "uniform:lr<m>" for every
    learning-rate multiplier m in ``args.frontier_lrs`` (empty when the study has none)."""
    mults = tuple(getattr(args, "frontier_lrs", ()) or ())
    return ("uniform",) + tuple(f"uniform:lr{m:g}" for m in mults) if mults else ()


#: the frontier's lr -> 0 end: uniform GRPO's policy when the allocators take over (the step ``warmup_steps``; step 0
#: without warm-up), the point every learning rate starts from; an arm whose Pass@1 lies between it and the smallest
#: rate's is compared with the frontier's first segment instead of being left out
START_POINT = "uniform:lr0"


def frontier_points(args) -> tuple:
    """The points of uniform GRPO's frontier: ``START_POINT`` and the ``frontier_arms`` (empty without a frontier)."""
    arms = frontier_arms(args)
    return (START_POINT,) + arms if arms else ()


def frontier_table(steps: pd.DataFrame, args) -> pd.DataFrame:
    """The last step's rows plus, per replicate, the ``START_POINT`` row: the uniform arm's row at step
    ``warmup_steps`` relabelled (left out when that step was not recorded or uniform did not run)."""
    last = steps[steps.step == steps.step.max()]
    start = steps[(steps.arm == "uniform") & (steps.step == getattr(args, "warmup_steps", 0))]
    return pd.concat([last, start.assign(arm=START_POINT)], ignore_index=True) if len(start) else last


def _all_arms(args) -> tuple:
    return tuple(args.arms) + tuple(a for a in frontier_arms(args) if a not in args.arms)


def arm_shards(args, **axis) -> list[dict]:
    """One shard per (sweep value, replicate, arm); ``axis`` maps a field name to its values. The frontier
    arms (``frontier_arms``) are run beside the study's own arms."""
    (key, values), = axis.items() if axis else ((None, (None,)),)
    out = []
    for v in values:
        for rep in range(args.n_reps):
            for arm in _all_arms(args):
                sid = f"{arm}-rep{rep}" if key is None else f"{key}{v}-{arm}-rep{rep}"
                out.append({"id": sid, "arm": arm, "rep": rep, **({} if key is None else {key: v})})
    return out


def run_arm_shard(args, shard, **changes) -> dict[str, pd.DataFrame]:
    steps, share = simulate_training(train_config(args, **changes), shard["arm"],
                                    np.random.SeedSequence([args.seed, shard["rep"]]), rep=shard["rep"])
    for key, value in shard.items():
        if key not in ("id", "arm", "rep"):
            steps[key], share[key] = value, value
    return {"steps": steps, "budget_share": share}


def final_summary(steps: pd.DataFrame, ks, by=("arm",), baseline: str = "uniform") -> pd.DataFrame:
    """Pass@k at the last step per arm (and sweep value): mean, se, change from step 0, and the paired
    difference to the ``baseline`` arm on the same replicates (common random numbers make it precise)."""
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
            rows.append((*key, k, vals.mean(), vals.std(ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else np.nan,
                         start[col].mean(), delta.mean(),
                         delta.std(ddof=1) / np.sqrt(len(delta)) if len(delta) > 1 else np.nan, len(vals)))
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
        summary.loc[i, "vs_" + baseline + "_se"] = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
    return summary


FRONTIER_METHODS = ("pchip", "linear")


def frontier_gain(last: pd.DataFrame, arm: str, k: int, frontier: tuple, method: str = "pchip"
                  ) -> tuple[float, float, int]:
    """Frontier gain of ``arm`` at Pass@k: per replicate r, its Pass@k minus the uniform-GRPO frontier's Pass@k at
    its own Pass@1, the frontier being the curve through the ``frontier`` arms' (Pass@1, Pass@k) points of
    replicate r (common random numbers; points sorted by Pass@1). ``method``: "pchip" (scipy's monotone cubic
    PchipInterpolator, the default) or "linear" (chords). The frontier is concave, so chords lie below it and
    hand a point on the true frontier a spurious positive gain of up to |f''| h^2 / 8 between knots h apart;
    the cubic removes most of that. A replicate whose Pass@1 falls outside the frontier's range is left out (no
    extrapolation). Returns (mean, se over replicates, replicates used). An arm that only slides along GRPO's
    learning-rate trade-off scores ~0."""
    from scipy.interpolate import PchipInterpolator

    if method not in FRONTIER_METHODS:
        raise ValueError(f"method: must be one of {', '.join(FRONTIER_METHODS)}, got {method!r}")
    col = f"pass@{k}"
    gains = []
    for pts, mine in _frontier_replicates(last, arm, frontier):
        xs, ys, x = pts["pass@1"].to_numpy(), pts[col].to_numpy(), float(mine["pass@1"])
        ref = np.interp(x, xs, ys) if method == "linear" or xs.size < 3 else PchipInterpolator(xs, ys)(x)
        gains.append(float(mine[col]) - float(ref))
    return _mean_se(gains)


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


def _mean_se(values) -> tuple[float, float, int]:
    """(mean, standard error, count) of per-replicate values; nan where undefined."""
    v = np.asarray(values, dtype=np.float64)
    if not v.size:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan"), int(v.size)


#: the smallest frontier gain (Pass@256, probability) counted as an effect: half a point. A 500-problem benchmark
#: measures Pass@256 near 0.9 with a standard error of about 0.013 (sqrt(0.9 x 0.1 / 500)), so a smaller gain could
#: not be seen on any of the paper's benchmarks; common random numbers make far smaller gains "significant".
EFFECT_FLOOR = 0.005


def matched_lr(last: pd.DataFrame, arm: str, frontier: tuple) -> tuple[float, float, int]:
    """The uniform-GRPO learning-rate multiplier whose Pass@1 equals ``arm``'s: per replicate, log(multiplier)
    interpolated linearly against the frontier arms' Pass@1 (sorted), no extrapolation; returns (mean multiplier,
    se, replicates used). With a frontier gain within the effect floor, this rate reproduces the arm."""
    mult = {a: (1.0 if a == "uniform" else float(a.split(":lr")[1])) for a in frontier}
    found = [float(np.exp(np.interp(float(mine["pass@1"]), pts["pass@1"].to_numpy(), np.log(pts.arm.map(mult).to_numpy(dtype=np.float64)))))
             for pts, mine in _frontier_replicates(last, arm, frontier)]
    return _mean_se(found)


def summary_long(steps: pd.DataFrame, args) -> pd.DataFrame:
    """The summary contract (``summary.csv``): one row per (arm, metric) with ``value`` and ``se`` over
    replicates: pass@1, pass@<k> for k = 256 and 1024 when computed and the largest k, the informative-group
    share (mean over training steps), the final policy entropy (nats), the growth of the Phase-B share given to
    s = K0 prompts from the first to the last tenth of training, and when the study traces a frontier:
    frontier_gain@<kmax> (monotone cubic frontier), frontier_gain_linear@<kmax> (chords), matched_lr (the GRPO
    learning-rate multiplier with the arm's Pass@1) and lr_equivalent (1 when |frontier gain| <= max(2 se,
    EFFECT_FLOOR): that GRPO learning rate reproduces the arm's Pass@1 and Pass@k; the issue-11 equivalence test),
    and per eval set "<set>:frontier_gain@<largest eval_set_ks>": the same frontier read on that set's own Pass@1
    and Pass@k (replicates whose set Pass@1 falls outside the set's frontier range are left out)."""
    last = frontier_table(steps, args)
    ks = sorted({k for k in (1, 256, 1024, max(args.ks)) if k in args.ks})
    frontier = frontier_arms(args)
    rows = []
    for arm in _all_arms(args):
        mine = last[last.arm == arm]
        n = len(mine)
        se = (lambda v: float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan"))
        for k in ks:
            rows.append((arm, f"pass@{k}", float(mine[f"pass@{k}"].mean()), se(mine[f"pass@{k}"]), n))
        info = steps[(steps.arm == arm) & (steps.step > 0)].groupby("rep").informative_share.mean()
        rows.append((arm, "informative_share", float(info.mean()), se(info), len(info)))
        rows.append((arm, "entropy", float(mine.entropy.mean()), se(mine.entropy), n))
        trained = steps[(steps.arm == arm) & (steps.step > 0)].dropna(subset=["budget_share_sK0"])
        if not trained.empty:  # the s = K0 share of Phase B: first vs last tenth of training (HORA: it grows)
            lo, hi = trained.step.min(), trained.step.max()  # the allocator's steps (after any warm-up)
            cut = (hi - lo + 1) / 10
            early = trained[trained.step < lo + cut].groupby("rep").budget_share_sK0.mean()
            late = trained[trained.step > hi - cut].groupby("rep").budget_share_sK0.mean()
            growth = late - early.reindex(late.index)
            rows.append((arm, "budget_share_sK0_growth", float(growth.mean()), se(growth), len(growth)))
        for col in train_config(args).eval_set_columns():  # held-out sets and finite benchmarks, last step
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
            kmax = max(args.ks)
            g, g_se, used = frontier_gain(last, arm, kmax, frontier_points(args))
            rows.append((arm, f"frontier_gain@{kmax}", g, g_se, used))
            on = float(abs(g) <= max(2 * g_se if np.isfinite(g_se) else 0.0, EFFECT_FLOOR)) if used else float("nan")
            g, g_se, used = frontier_gain(last, arm, kmax, frontier_points(args), method="linear")
            rows.append((arm, f"frontier_gain_linear@{kmax}", g, g_se, used))
            m, m_se, used = matched_lr(last, arm, frontier)
            rows.append((arm, "matched_lr", m, m_se, used))
            # 1: a uniform-GRPO learning rate reproduces the arm (|frontier gain| within max(2 se, EFFECT_FLOOR))
            rows.append((arm, "lr_equivalent", on, float("nan"), used))
            for name, _ in train_config(args).eval_set_specs():  # the same comparison on each held-out set
                kset = max(args.eval_set_ks)
                view = _eval_set_view(last, name, kset)
                if view is not None:
                    g, g_se, used = frontier_gain(view, arm, kset, frontier_points(args))
                    rows.append((arm, f"{name}:frontier_gain@{kset}", g, g_se, used))
    return pd.DataFrame(rows, columns=["arm", "metric", "value", "se", "n_reps"])


def _eval_set_view(last: pd.DataFrame, name: str, k: int):
    """``last`` with pass@1 and pass@k taken from eval set ``name`` ("<name>:pass@1", "<name>:pass@k"), so
    ``frontier_gain`` reads that set's own frontier; None when the columns are absent."""
    cols = {f"{name}:pass@1": "pass@1", f"{name}:pass@{k}": f"pass@{k}"}
    if not set(cols) <= set(last.columns):
        return None
    return last[["arm", "rep", *cols]].rename(columns=cols)


def plot_frontier(steps: pd.DataFrame, args, path, title):
    """Uniform GRPO's frontier (one point per learning rate, mean over replicates) and every arm as a point with
    95% error bars in both coordinates; GRPO at the study's learning rate is a star drawn on top, arms are open
    markers so that an arm on the frontier does not hide it."""
    from ..plotting import color_of, use_agg

    plt = use_agg()
    kmax = max(args.ks)
    last = frontier_table(steps, args)
    stats_ = last.groupby("arm")[["pass@1", f"pass@{kmax}"]].agg(["mean", "sem"])
    frontier = [a for a in frontier_points(args) if a in stats_.index]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    f = stats_.loc[frontier].sort_values(("pass@1", "mean"))
    ax.plot(f[("pass@1", "mean")], f[(f"pass@{kmax}", "mean")], "k--o", ms=4, label="uniform GRPO, lr sweep")
    for i, (name, r) in enumerate(f.iterrows()):
        lr = name.split(":lr")[1] if ":lr" in name else "1"
        ax.annotate("start (lr -> 0)" if name == START_POINT else f"x{lr}", (r[("pass@1", "mean")],
                    r[(f"pass@{kmax}", "mean")]), fontsize=7, color="0.3", textcoords="offset points",
                    xytext=(-4, 6) if i % 2 else (5, -11), ha="right" if i % 2 else "left")
    for arm in (a for a in args.arms if a != "uniform"):
        r = stats_.loc[arm]
        ax.errorbar(r[("pass@1", "mean")], r[(f"pass@{kmax}", "mean")], xerr=1.96 * r[("pass@1", "sem")],
                    yerr=1.96 * r[(f"pass@{kmax}", "sem")], fmt="o", ms=8, mfc="white", mew=1.8, capsize=3,
                    color=color_of(arm), label=arm, zorder=3)
    if "uniform" in stats_.index:
        u = stats_.loc["uniform"]
        ax.plot(u[("pass@1", "mean")], u[(f"pass@{kmax}", "mean")], "*", ms=15, color="k", zorder=4,
                label="uniform GRPO (lr x1)")
    ax.set_xlabel("Pass@1 after training (probability)")
    ax.set_ylabel(f"Pass@{kmax} after training (probability)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training(steps, share, summary, args, path, title):
    """Pass@k after training, the paired Pass@1 / Pass@kmax difference from uniform over training, and the
    Phase-B budget share by pilot count; one colour per arm in every panel (``simalloc.plotting``)."""
    from ..plotting import color_of, use_agg

    plt = use_agg()

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ks = np.asarray(args.ks)
    start = summary.groupby("k")["start"].mean().reindex(ks)
    axes[0].plot(ks, start, "k--o", label="start")
    for arm in args.arms:
        sub = summary[summary.arm == arm].set_index("k").reindex(ks)
        axes[0].errorbar(ks, sub["final"], yerr=1.96 * sub["final_se"], marker="o", capsize=2, label=arm,
                         color=color_of(arm))
    axes[0].set_xscale("log", base=2)
    axes[0].set_xticks(ks, [str(int(k)) for k in ks])
    axes[0].set_xlabel("k (samples per prompt)")
    axes[0].set_ylabel(f"Pass@k after {int(steps.step.max())} steps (exact, eval set)")
    axes[0].set_title("Pass@k after training (95% CI over replicates)")
    axes[0].legend(fontsize=8)
    kmax = int(ks.max())
    base = "uniform" if "uniform" in args.arms else args.arms[0]
    ref = steps[steps.arm == base].set_index(["rep", "step"])
    for arm in [a for a in args.arms if a != base]:
        mine = steps[steps.arm == arm].set_index(["rep", "step"])
        for col, style in (("pass@1", "-"), (f"pass@{kmax}", "--")):
            d = (mine[col] - ref[col].reindex(mine.index)).groupby("step")
            mean, se = d.mean(), d.std(ddof=1) / np.sqrt(d.count())
            axes[1].plot(mean.index, mean, style, color=color_of(arm), label=f"{arm} {col.replace('pass', 'Pass')}")
            axes[1].fill_between(mean.index, mean - 1.96 * se, mean + 1.96 * se, color=color_of(arm), alpha=0.15)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel(f"arm minus {base} (probability; paired 95% CI)")
    axes[1].set_title(f"Pass@1 (solid) and Pass@{kmax} (dashed) vs {base}")
    axes[1].legend(fontsize=7, ncol=2)
    sh = share.dropna().groupby(["arm", "s"])[["budget_share", "prompt_share"]].mean().reset_index()
    arms = [a for a in args.arms if a in set(sh.arm)]
    width = 0.8 / max(len(arms), 1)
    for j, arm in enumerate(arms):
        sub = sh[sh.arm == arm]
        axes[2].bar(sub.s + j * width - 0.4 + width / 2, sub.budget_share, width, label=arm, color=color_of(arm))
    if arms:
        ref = sh[sh.arm == arms[0]]
        axes[2].plot(ref.s, ref.prompt_share, "k--o", label="share of prompts")
    axes[2].set_xlabel("pilot successes s")
    axes[2].set_ylabel("share of Phase-B budget")
    axes[2].set_title("Budget share by pilot count (cf. HORA Fig. 3)")
    axes[2].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def finalize_training(args, tables, out, title, progress=True):
    steps, share = tables["steps"], tables["budget_share"]
    summary = final_summary(steps, args.ks)
    write_table(steps, out, "table")
    write_table(share, out, "budget_share")
    write_table(summary, out, "final_passk")  # the wide Pass@k table (every k, change from start, vs uniform)
    long = summary_long(steps, args)
    write_table(long, out, "summary")  # the summary contract: arm, metric, value, se (summary.csv)
    plot_training(steps, share, summary, args, out / "figure.png", title)
    if frontier_arms(args):
        plot_frontier(steps, args, out / "frontier.png",
                      f"Frontier gain: every arm against uniform GRPO's learning-rate frontier ({args.n_reps} reps)")
    if progress:
        view = summary[summary.k.isin([1, 16, max(args.ks)])].pivot(index="arm", columns="k",
                                                                    values=["final", "change", "vs_uniform"])
        print(view.round(4).to_string())
        gains = long[long.metric.str.startswith("frontier_gain")]
        if not gains.empty:
            print(gains.round(5).to_string(index=False))
    return summary
