"""The training studies' figures: Pass@k after training, paired differences over training and the Phase-B share
(``plot_training``), and every arm against uniform GRPO's learning-rate frontier (``plot_frontier``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .analysis import frontier_table, pareto_mask
from .arms import START_POINT, frontier_points, parse_arm

__all__ = ["plot_training", "plot_frontier"]


def plot_frontier(steps: pd.DataFrame, args, path, title):
    """Uniform GRPO's frontier (one point per learning rate, mean over replicates; the line joins the
    Pareto-efficient means, a dominated rate is drawn as a grey cross) and every arm as a point with 95% error bars
    in both coordinates; GRPO at the study's learning rate is a star drawn on top, arms are open
    markers so that an arm on the frontier does not hide it.

    Parameters
    ----------
    steps : pandas.DataFrame
        The study's per-step table.
    args : TrainingStudyArgs
        The study's settings (arms, frontier).
    path : path-like
        The PNG to write.
    title : str
        The figure's title.
    """
    from ..plotting import MARKERS, color_of, use_agg

    plt = use_agg()
    kmax = max(args.train.ks)
    last = frontier_table(steps, args.train.warmup_steps)
    stats_ = last.groupby("arm")[["pass@1", f"pass@{kmax}"]].agg(["mean", "sem"])
    frontier = [a for a in frontier_points(args.frontier_lrs) if a in stats_.index]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    f = stats_.loc[frontier].sort_values(("pass@1", "mean"))
    keep = pareto_mask(f[("pass@1", "mean")], f[(f"pass@{kmax}", "mean")])
    ax.plot(f[("pass@1", "mean")][keep], f[(f"pass@{kmax}", "mean")][keep], "k--o", ms=4,
            label="uniform GRPO, lr sweep (Pareto-efficient)")
    if not keep.all():
        ax.plot(f[("pass@1", "mean")][~keep], f[(f"pass@{kmax}", "mean")][~keep], "x", color="0.5", ms=7,
                label="uniform GRPO, dominated rate")
    for i, (name, r) in enumerate(f.iterrows()):
        lr = "0" if name == START_POINT else f"{parse_arm(name).lr_scale:g}"
        ax.annotate("start (lr -> 0)" if name == START_POINT else f"x{lr}", (r[("pass@1", "mean")],
                    r[(f"pass@{kmax}", "mean")]), fontsize=7, color="0.3", textcoords="offset points",
                    xytext=(-4, 6) if i % 2 else (5, -11), ha="right" if i % 2 else "left")
    for j, arm in enumerate(a for a in args.arms if a != "uniform"):
        r = stats_.loc[arm]
        ax.errorbar(r[("pass@1", "mean")], r[(f"pass@{kmax}", "mean")], xerr=1.96 * r[("pass@1", "sem")],
                    yerr=1.96 * r[(f"pass@{kmax}", "sem")], fmt=MARKERS[j % len(MARKERS)], ms=8, mfc="white",
                    mew=1.8, capsize=3, color=color_of(arm), label=arm, zorder=3)
    if "uniform" in stats_.index:
        u = stats_.loc["uniform"]
        ax.plot(u[("pass@1", "mean")], u[(f"pass@{kmax}", "mean")], "*", ms=15, color="k", zorder=4,
                label="uniform GRPO (lr x1)")
    ax.set_xlabel("Pass@1 after training (probability)")
    ax.set_ylabel(f"Pass@{kmax} after training (probability)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a point
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training(steps, share, summary, args, path, title):
    """Pass@k after training, the paired Pass@1 / Pass@kmax difference from uniform over training, and the
    Phase-B budget share by pilot count; one colour per arm in every panel (``simalloc.plotting``).

    Parameters
    ----------
    steps : pandas.DataFrame
        The study's per-step table.
    share : pandas.DataFrame
        The Phase-B budget share by pilot count.
    summary : pandas.DataFrame
        ``final_summary``.
    args : TrainingStudyArgs
        The study's settings.
    path : path-like
        The PNG to write.
    title : str
        The figure's title.
    """
    from ..plotting import color_of, use_agg

    plt = use_agg()

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ks = np.asarray(args.train.ks)
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
