"""Test-time RL with different pseudo-labelling stopping rules: fixed-64 majority (TTRL) vs BSPRT (OptPO) vs others.

Per step: label accuracy, reward accuracy, Pass@1 and votes / tokens spent, with running totals over the run
(simalloc.sim.ttrl): the labelling votes are reused as training rollouts (at most 32, at least ``min_train``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simalloc.io import write_table
from simalloc.sim.ttrl import simulate_ttrl
from simalloc.stopping import STOPPING_RULES
from simalloc.worlds.votes import VOTE_PRESETS


@dataclass(frozen=True)
class Args:
    rules: tuple = ("fixed", "bsprt", "ac_beta", "esc")
    presets: tuple = ("math500-like", "gpqa-like")
    steps: int = 40
    n_pool: int = 256
    batch: int = 64
    n_reps: int = 3
    lr: float = 1.0
    min_train: int = 16
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls(steps=10, n_reps=1, n_pool=128, batch=32)

    def validate(self):
        for r in self.rules:
            if r not in STOPPING_RULES:
                raise ValueError(f"rules: unknown {r!r}; valid: {', '.join(STOPPING_RULES)}")
        for p in self.presets:
            if p not in VOTE_PRESETS:
                raise ValueError(f"presets: unknown {p!r}; valid: {', '.join(VOTE_PRESETS)}")
        if self.steps < 0 or self.n_reps < 1 or self.batch > self.n_pool:
            raise ValueError("steps >= 0, n_reps >= 1 and batch <= n_pool are required")


def shards(args):
    return [{"id": f"{p}-{r}-rep{k}", "preset": p, "rule": r, "rep": k}
            for p in args.presets for k in range(args.n_reps) for r in args.rules]


def run_shard(args, shard):
    t = simulate_ttrl(shard["preset"], shard["rule"], n_pool=args.n_pool, batch=args.batch, steps=args.steps,
                      lr=args.lr, min_train=args.min_train, rng=np.random.SeedSequence(args.seed * 1000 + shard["rep"]))
    t["preset"], t["rep"] = shard["preset"], shard["rep"]
    return {"steps": t}


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = tables["steps"]
    write_table(t, out, "table")
    mean = t.groupby(["preset", "rule", "step"]).mean(numeric_only=True).reset_index()
    fig, axes = plt.subplots(len(args.presets), 3, figsize=(15, 4 * len(args.presets)), squeeze=False)
    for row, preset in zip(axes, args.presets):
        for rule in args.rules:
            sub = mean[(mean.preset == preset) & (mean.rule == rule)]
            row[0].plot(sub.step, sub.cum_label_accuracy, label=rule)
            row[1].plot(sub.step, sub["pass@1"], label=rule)
            row[2].plot(sub.step, sub.cum_tokens / 1e6, label=rule)
        for ax, lab in zip(row, ["cumulative label accuracy", "Pass@1 on the pool (exact)",
                                 "cumulative tokens (millions)"]):
            ax.set_title(f"{preset}: {lab}")
            ax.set_xlabel("training step")
            ax.set_ylabel(lab)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=100)
    plt.close(fig)
    if progress:
        last = mean[mean.step == mean.step.max()]
        print(last[["preset", "rule", "cum_label_accuracy", "pass@1", "cum_votes", "cum_tokens"]].round(4)
              .to_string(index=False))
    return mean
