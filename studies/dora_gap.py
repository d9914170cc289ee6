"""How far are REBASE and DORA from the exact optimum of P(success)? (DORA's proof is for a log surrogate.)

Random direction worlds (6 directions, Dirichlet(0.5) popularity, w_j ~ Beta(1, 4), p_j ~ Beta(4 w_j,
4 (1 - w_j)), same-direction cosine 0.998), k = 16 candidates, one allocation of N = 16; exact P(success) under the
directions' Beta beliefs for every rule
and for the optimum (greedy on -log E[(1-p)^B], exact). Also with popularity anti-correlated with quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.allocators.search import parse_search_spec
from simalloc.io import write_table
from simalloc.sim.search import one_step_success
from simalloc.worlds.directions import DirectionWorld


@dataclass(frozen=True)
class Args:
    rules: tuple = ("temperature", "rebase", "dora", "dora:prune=rebase", "optimal")
    correlations: tuple = (0.0, -0.5)
    k: int = 16
    budget: int = 16
    n_problems: int = 2000
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls(n_problems=200)

    def validate(self):
        for r in self.rules:
            parse_search_spec(r)
        if self.k < 1 or self.budget < 0 or self.n_problems < 1:
            raise ValueError("k, n_problems: must be >= 1; budget >= 0")


def run(args: Args, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for corr in args.correlations:
        world = DirectionWorld(popularity_quality_corr=corr)
        for i, ss in enumerate(np.random.SeedSequence([args.seed, int(corr * 1000) % 2**31]).spawn(args.n_problems)):
            prob_ss, cand_ss = ss.spawn(2)
            problem = world.sample_problem(np.random.default_rng(prob_ss))
            for rule in args.rules:
                p, _ = one_step_success(world, problem, rule, args.k, args.budget, np.random.default_rng(cand_ss))
                rows.append((corr, i, rule, p))
    table = pd.DataFrame(rows, columns=["corr", "problem", "rule", "p_success"])
    opt = table[table.rule == "optimal"].set_index(["corr", "problem"])["p_success"]
    table["gap"] = opt.reindex(pd.MultiIndex.from_frame(table[["corr", "problem"]])).to_numpy() - table.p_success
    summary = table.groupby(["corr", "rule"]).agg(p_success=("p_success", "mean"), gap=("gap", "mean"),
                                                  gap_max=("gap", "max")).reset_index()
    write_table(table, out, "table")
    write_table(summary, out, "summary")
    fig, ax = plt.subplots(figsize=(6, 4))
    for corr in args.correlations:
        sub = summary[(summary["corr"] == corr) & (summary.rule != "optimal")]
        ax.bar([f"{r}\ncorr {corr}" for r in sub.rule], sub.gap)
    ax.set_ylabel("mean P(success) gap to the exact optimum")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        print(summary.round(4).to_string())
    return summary
