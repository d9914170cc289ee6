"""Allocation demo: where does each rule put a Phase-B budget, and what does it buy?

World: pass rates p_i ~ Beta(0.5, 0.5) (many very easy and very hard prompts), 60 prompts, a pilot of
K0 = 8 rollouts, G = 32 rollouts per prompt on average, so the Phase-B budget is 60 x 24 = 1440. Each
replicate draws p and the pilot counts once and gives every allocator the same draws (common random
numbers). Outcomes are exact expectations given the true p (no sampling noise inside a replicate):

- hits: sum_i 1 - (1-p_i)^{k_i}, expected prompts where the extra rollouts find a success;
- hits_s0: the same over prompts whose pilot had no success (where a hit is new signal);
- informative: expected number of final groups (pilot + extra) with both outcomes;
- budget share of Phase B by pilot count s, beside the share of prompts with that s (HORA Fig. 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from simalloc import allocate
from simalloc.io import write_table
from simalloc.sim.outcomes import allocation_outcomes

ALLOCATORS = ("uniform", "hora", "hard_first", "plugin")


@dataclass(frozen=True)
class Args:
    n_prompts: int = 60
    k0: int = 8
    group_size: int = 32
    world_a: float = 0.5
    world_b: float = 0.5
    n_reps: int = 2000
    seed: int = 0
    allocators: tuple = ALLOCATORS

    @classmethod
    def quick(cls) -> "Args":
        return cls(n_reps=200)

    def validate(self):
        if self.n_prompts < 1 or self.n_reps < 1:
            raise ValueError("n_prompts, n_reps: must be >= 1")
        if not 0 <= self.k0 <= self.group_size:
            raise ValueError(f"k0: must satisfy 0 <= k0 <= group_size={self.group_size}, got {self.k0}")
        if self.world_a <= 0 or self.world_b <= 0:
            raise ValueError("world_a, world_b: must be > 0")
        from simalloc import get_allocator

        for name in self.allocators:
            get_allocator(name)


def simulate(args: Args, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    budget = args.n_prompts * (args.group_size - args.k0)
    root = np.random.SeedSequence(args.seed)
    rows, shares = [], []
    for rep, ss in enumerate(tqdm(root.spawn(args.n_reps), desc="alloc_demo", disable=not progress)):
        world_rng, alloc_seed = ss.spawn(2)
        rng = np.random.default_rng(world_rng)
        p = rng.beta(args.world_a, args.world_b, size=args.n_prompts)
        s = rng.binomial(args.k0, p)
        prompt_share = np.bincount(s, minlength=args.k0 + 1) / args.n_prompts
        for name in args.allocators:
            alloc = allocate(name, s, args.k0, budget, rng=np.random.default_rng(alloc_seed))
            hit, informative = allocation_outcomes(p, s, args.k0, alloc)
            rows.append((rep, name, hit.sum(), hit[s == 0].sum(), informative.sum(), int((s == 0).sum())))
            budget_share = np.bincount(s, weights=alloc, minlength=args.k0 + 1) / max(budget, 1)
            shares.extend((rep, name, j, budget_share[j], prompt_share[j]) for j in range(args.k0 + 1))
    table = pd.DataFrame(rows, columns=["rep", "allocator", "hits", "hits_s0", "informative", "n_s0"])
    share = pd.DataFrame(shares, columns=["rep", "allocator", "s", "budget_share", "prompt_share"])
    return table, share


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    long = table.melt(id_vars=["rep", "allocator"], value_vars=["hits", "hits_s0", "informative"], var_name="metric")
    g = long.groupby(["allocator", "metric"])["value"]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    return out


def plot(summary: pd.DataFrame, share: pd.DataFrame, args: Args, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    metrics = ["hits", "hits_s0", "informative"]
    width = 0.8 / len(args.allocators)
    for j, name in enumerate(args.allocators):
        sub = summary[summary.allocator == name].set_index("metric").loc[metrics]
        x = np.arange(len(metrics)) + j * width
        axes[0].bar(x, sub["mean"], width, yerr=1.96 * sub["se"], label=name, capsize=2)
    axes[0].set_xticks(
        np.arange(len(metrics)) + 0.4 - width / 2, ["expected hits", "hits on s=0", "informative groups"]
    )
    axes[0].set_ylabel(f"per batch of {args.n_prompts} prompts (mean, 95% CI)")
    axes[0].legend()
    axes[0].set_title("What the Phase-B budget buys")
    mean_share = share.groupby(["allocator", "s"])[["budget_share", "prompt_share"]].mean().reset_index()
    ks = np.arange(args.k0 + 1)
    for j, name in enumerate(args.allocators):
        sub = mean_share[mean_share.allocator == name].set_index("s").reindex(ks)
        axes[1].bar(ks + j * width - 0.4, sub["budget_share"], width, label=name)
    prompts = mean_share[mean_share.allocator == args.allocators[0]].set_index("s").reindex(ks)["prompt_share"]
    axes[1].plot(ks, prompts, "k--o", label="share of prompts")
    axes[1].set_xlabel(f"pilot successes s (of K0 = {args.k0})")
    axes[1].set_ylabel("share of Phase-B budget")
    axes[1].set_title("Budget share by pilot count (cf. HORA Fig. 3)")
    axes[1].legend()
    fig.suptitle(
        f"Beta({args.world_a}, {args.world_b}) world, {args.n_prompts} prompts, K0 = {args.k0}, G = {args.group_size}, "
        f"{args.n_reps} replicates"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: Args, out, progress: bool = True):
    table, share = simulate(args, progress)
    summary = summarize(table)
    write_table(table, out, "table")
    write_table(share, out, "budget_share")
    write_table(summary, out, "summary")
    plot(summary, share, args, out / "figure.png")
    if progress:
        print(summary.pivot(index="allocator", columns="metric", values="mean").round(3).to_string())
    return summary
