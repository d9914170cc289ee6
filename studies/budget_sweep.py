"""Budget sweep: does HORA's edge over uniform GRPO hold as the rollout budget per prompt changes?

G in (8, 16, 32, 64) rollouts per prompt on average, pilot K0 = G / 4 (8 at G = 32), arms uniform and hora,
everything else as hora_vs_grpo. At every G uniform GRPO also runs at learning rates x0.025 ... x2, so summary.csv
(arm, metric, value, se, n_reps, G) has each arm's frontier gain per G. Outputs: summary.csv, final_passk.parquet
(Pass@k at the last step per (G, arm)), table.parquet, budget_share.parquet, figure.png.
"""

from __future__ import annotations

from dataclasses import dataclass

from simalloc.io import write_table
from simalloc.plotting import color_of
from simalloc.train import CONTROLS, TrainingStudyArgs, arm_shards, final_summary, run_arm_shard, summary_tables


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", *CONTROLS)
    group_sizes: tuple = (8, 16, 32, 64)
    n_reps: int = 6

    @classmethod
    def quick(cls) -> "Args":
        return cls(arms=("uniform", "hora"), group_sizes=(8, 32), n_reps=2).with_train(
            steps=80, n_pool=1000, n_eval=500)

    def smallest_group(self) -> int:
        return min(self.group_sizes) if self.group_sizes else self.train.group_size

    def validate(self) -> "Args":
        if not self.group_sizes or min(self.group_sizes) < 4:
            raise ValueError(f"group_sizes: every G must be >= 4, got {self.group_sizes}")
        return super().validate()


def shards(args):
    return arm_shards(args, G=args.group_sizes)


def run_shard(args, shard):
    g = int(shard["G"])
    return run_arm_shard(args, shard, group_size=g, k0=max(1, g // 4))


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = tables["steps"]
    summary = final_summary(steps, args.train.ks, by=("G", "arm"))
    write_table(steps, out, "table")
    write_table(tables["budget_share"], out, "budget_share")
    write_table(summary, out, "final_passk")
    import pandas as pd

    parts = {g: summary_tables(steps[steps.G == g], args) for g in sorted(set(steps.G))}
    long = pd.concat([part[0].assign(G=g) for g, part in parts.items()], ignore_index=True)
    write_table(long, out, "summary")  # the summary contract, one block per G
    write_table(pd.concat([part[1].assign(G=g) for g, part in parts.items()], ignore_index=True), out, "replicates")
    kmax = max(args.train.ks)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, k in zip(axes, (1, kmax)):
        for arm in args.arms:
            sub = summary[(summary.arm == arm) & (summary.k == k)].sort_values("G")
            ax.errorbar(sub.G, sub.final, yerr=1.96 * sub.final_se, marker="o", capsize=2, label=arm,
                        color=color_of(arm))
        start = summary[summary.k == k].groupby("G")["start"].mean()
        ax.plot(start.index, start.values, "k--", label="start")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("G (rollouts per prompt on average)")
        ax.set_ylabel(f"Pass@{k} after {args.train.steps} steps")
        ax.legend()
    fig.suptitle(f"Budget sweep, world {args.train.world}, {args.n_reps} replicates")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        print(summary[summary.k.isin([1, kmax])].pivot(index=["G", "arm"], columns="k", values="final").round(4))
        print(long[long.metric == f"frontier_gain@{kmax}"].round(5).to_string(index=False))
    return summary
