"""Test-time search: accuracy vs budget for every allocation rule (DORA arXiv 2506.15707, Fig. 3's setting).

Direction worlds with 6 directions, Dirichlet(0.5) popularity independent of quality, p_j ~ Beta(4 w_j,
4 (1 - w_j)), PRM noise 0.05; parallel search of depth 4 with N = 16..256 expansions per step; PRM-weighted
majority vote at the end. Every rule sees the same problems and the same first candidates (common random
numbers). Reports vote accuracy, coverage (some leaf correct) and exact P(success) of the final leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.allocators.search import parse_search_spec
from simalloc.io import write_table
from simalloc.sim.search import run_search
from simalloc.worlds.directions import DirectionWorld


@dataclass(frozen=True)
class Args:
    # DORA in both readings: the paper's formula over every candidate, and the reference code's (REBASE-pruned)
    rules: tuple = ("temperature", "beam", "dvts", "rebase", "dora", "dora:prune=rebase", "optimal")
    budgets: tuple = (16, 32, 64, 128, 256)
    depth: int = 4
    n_problems: int = 400
    n_directions: int = 6
    popularity_quality_corr: float = 0.0
    score_noise: float = 0.05
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls(budgets=(16, 64), n_problems=60)

    def validate(self):
        for r in self.rules:
            parse_search_spec(r)
        if not self.budgets or min(self.budgets) < 1:
            raise ValueError("budgets: must be integers >= 1")
        if self.depth < 1 or self.n_problems < 1:
            raise ValueError("depth, n_problems: must be >= 1")
        self.world()

    def world(self) -> DirectionWorld:
        return DirectionWorld(n_directions=self.n_directions, popularity_quality_corr=self.popularity_quality_corr,
                              score_noise=self.score_noise)


def shards(args):
    return [{"id": f"N{n}-{rule}", "budget": n, "rule": rule} for n in args.budgets for rule in args.rules]


def run_shard(args, shard):
    world = args.world()
    rows = []
    # the same problems at every budget and for every rule; the search draws depend on (problem, budget)
    for i, ss in enumerate(np.random.SeedSequence(args.seed).spawn(args.n_problems)):
        prob_ss, search_ss = ss.spawn(2)
        problem = world.sample_problem(np.random.default_rng(prob_ss))
        search_rng = np.random.default_rng([*search_ss.generate_state(2), shard["budget"]])
        res = run_search(world, problem, shard["rule"], shard["budget"], args.depth, search_rng)
        rows.append((shard["rule"], shard["budget"], i, res["vote_correct"], res["any_correct"], res["p_success"]))
    return {"problems": pd.DataFrame(rows, columns=["rule", "budget", "problem", "vote_correct", "any_correct",
                                                    "p_success"])}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    g = table.groupby(["rule", "budget"])
    out = g[["vote_correct", "any_correct", "p_success"]].mean().reset_index()
    out["vote_se"] = g["vote_correct"].std(ddof=1).to_numpy() / np.sqrt(g.size().to_numpy())
    return out


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = tables["problems"]
    summary = summarize(table)
    write_table(table, out, "table")
    write_table(summary, out, "summary")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for rule in args.rules:
        sub = summary[summary.rule == rule].sort_values("budget")
        axes[0].errorbar(sub.budget, sub.vote_correct, yerr=1.96 * sub.vote_se, marker="o", capsize=2, label=rule)
        axes[1].plot(sub.budget, sub.p_success, marker="o", label=rule)
    for ax, label in zip(axes, ["accuracy (PRM-weighted vote)", "P(some final leaf correct)"]):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("budget N per step")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle(f"Parallel search, depth {args.depth}, {args.n_problems} problems, {args.n_directions} directions")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        print(summary.pivot(index="rule", columns="budget", values="vote_correct").round(3).to_string())
    return summary
