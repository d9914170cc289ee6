"""REBASE's bias toward directions with many candidates, as a function of the size imbalance (DORA Prop. 2).

Two directions A and B with equal PRM scores; A has r times as many candidates as B (k_A = r k_B, k_B = 2,
r = 1..16); N = 16. Solution-level allocation (REBASE) gives A the share r/(1+r); direction-level allocation
gives 1/2 whatever r. DORA reaches it only if its uniqueness sees the directions: the sweep over the
same-direction cosine similarity (1, 0.999, 0.99, 0.95; other direction 0.2; T_s = 0.01) shows where it
stops. With B the better direction (w_B = 0.15 vs w_A = 0.05, kappa = 4) the table reports the exact
P(success) of each rule and of the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.allocators.search import search_allocate
from simalloc.io import write_table
from simalloc.worlds.directions import success_probability


@dataclass(frozen=True)
class Args:
    ratios: tuple = (1, 2, 4, 8, 16)
    k_small: int = 2
    budget: int = 16
    w_a: float = 0.05
    w_b: float = 0.15
    kappa: float = 4.0
    sim_withins: tuple = (1.0, 0.999, 0.99, 0.95)
    sim_between: float = 0.2
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls()

    def validate(self):
        if min(self.ratios) < 1 or self.k_small < 1 or self.budget < 1:
            raise ValueError("ratios, k_small, budget: must be >= 1")


def run(args: Args, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = args.kappa * np.array([args.w_a, args.w_b])
    b = args.kappa * (1 - np.array([args.w_a, args.w_b]))
    rows = []
    for sw in args.sim_withins:
        for r in args.ratios:
            dirs = np.array([0] * (r * args.k_small) + [1] * args.k_small)
            sim = np.where(dirs[:, None] == dirs[None, :], sw, args.sim_between)
            np.fill_diagonal(sim, 1.0)
            scores = np.zeros(dirs.size)
            for rule in ("rebase", "dora", "temperature", "optimal"):
                truth = {"directions": dirs, "a": a, "b": b} if rule == "optimal" else {}
                alloc = search_allocate(rule, scores, sim, args.budget, **truth)
                per_dir = np.bincount(dirs, weights=alloc, minlength=2)
                rows.append((sw, r, rule, per_dir[0] / args.budget, success_probability(a, b, per_dir)))
    table = pd.DataFrame(rows, columns=["sim_within", "ratio", "rule", "share_A", "p_success"])
    table["solution_level_share"] = table.ratio / (1 + table.ratio)
    write_table(table, out, "table")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    exact = table[table.sim_within == max(args.sim_withins)]
    for rule in ("rebase", "optimal"):
        sub = exact[exact.rule == rule]
        axes[0].plot(sub.ratio, sub.share_A, marker="o", label=rule)
        axes[1].plot(sub.ratio, sub.p_success, marker="o", label=rule)
    for sw in args.sim_withins:
        sub = table[(table.rule == "dora") & (table.sim_within == sw)]
        axes[0].plot(sub.ratio, sub.share_A, marker="s", ls="--", label=f"dora, same-direction cos {sw}")
        axes[1].plot(sub.ratio, sub.p_success, marker="s", ls="--", label=f"dora, cos {sw}")
    axes[0].plot(table.ratio.unique(), table.ratio.unique() / (1 + table.ratio.unique()), "k:", label="r/(1+r)")
    axes[0].set_ylabel("share of budget to the crowded direction A")
    axes[1].set_ylabel("exact P(success)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("size ratio k_A / k_B (equal scores)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        print(table.pivot(index=["sim_within", "ratio"], columns="rule", values=["share_A", "p_success"]).round(4)
              .to_string())
    return table
