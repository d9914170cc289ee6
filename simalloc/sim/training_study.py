"""Shared machinery of the training studies: shards, summaries and figures.

A training study's Args subclasses ``TrainConfig`` and adds ``arms``, ``n_reps``, ``seed`` (and may add
a sweep axis). One shard = one (arm, replicate[, sweep value]); replicate r uses the same seed for every
arm (common random numbers).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .results import write_table
from .training import TrainConfig, parse_arm, simulate_training

__all__ = ["train_config", "arm_shards", "run_arm_shard", "final_summary", "plot_training"]


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


def arm_shards(args, **axis) -> list[dict]:
    """One shard per (sweep value, replicate, arm); ``axis`` maps a field name to its values."""
    (key, values), = axis.items() if axis else ((None, (None,)),)
    out = []
    for v in values:
        for rep in range(args.n_reps):
            for arm in args.arms:
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


def plot_training(steps, share, summary, args, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ks = np.asarray(args.ks)
    start = summary.groupby("k")["start"].mean().reindex(ks)
    axes[0].plot(ks, start, "k--o", label="start")
    for arm in args.arms:
        sub = summary[summary.arm == arm].set_index("k").reindex(ks)
        axes[0].errorbar(ks, sub["final"], yerr=1.96 * sub["final_se"], marker="o", capsize=2, label=arm)
    axes[0].set_xscale("log", base=2)
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
            line, = axes[1].plot(mean.index, mean, style, label=f"{arm} {col.replace('pass', 'Pass')}")
            axes[1].fill_between(mean.index, mean - 1.96 * se, mean + 1.96 * se, color=line.get_color(), alpha=0.15)
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
        axes[2].bar(sub.s + j * width - 0.4 + width / 2, sub.budget_share, width, label=arm)
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
    write_table(summary, out, "summary")
    plot_training(steps, share, summary, args, out / "figure.png", title)
    if progress:
        view = summary[summary.k.isin([1, 16, max(args.ks)])].pivot(index="arm", columns="k",
                                                                    values=["final", "change", "vs_uniform"])
        print(view.round(4).to_string())
    return summary
