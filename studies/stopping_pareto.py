"""Every stopping rule against the Bayes-optimal accuracy-vs-votes frontier, on both vote presets.

For each preset ("math500-like", "gpqa-like") a prior of ``n_atoms`` answer distributions is drawn; the
exact DP (simalloc.stopping.optimal) traces the optimal frontier over a cost grid; every rule is simulated
on ``n_prompts`` prompts drawn from the same atoms (accuracy, votes, tokens), including a BSPRT sweep over
alpha and min_confirm. Token savings are reported against fixed 64-vote majority (TTRL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.sim.results import write_table
from simalloc.stopping import VoteModel, frontier, make_rule, run_rule
from simalloc.worlds.votes import VOTE_PRESETS

RULES = {
    "fixed-64": ("fixed", {}),
    "bsprt": ("bsprt", {}),
    "bsprt a=.01": ("bsprt", {"alpha": 0.01, "beta": 0.01}),
    "bsprt a=.1": ("bsprt", {"alpha": 0.1, "beta": 0.1}),
    "bsprt confirm=1": ("bsprt", {"min_confirm": 1}),
    "ac_beta": ("ac_beta", {}),
    "ac_dirichlet": ("ac_dirichlet", {}),
    "esc": ("esc", {}),
    "fixed-16": ("fixed", {"n": 16}),
}


@dataclass(frozen=True)
class Args:
    presets: tuple = ("math500-like", "gpqa-like")
    n_atoms: int = 200
    n_prompts: int = 40000
    cap: int = 64
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls(n_atoms=60, n_prompts=6000, cap=64)

    def validate(self):
        for p in self.presets:
            if p not in VOTE_PRESETS:
                raise ValueError(f"presets: unknown {p!r}; valid: {', '.join(VOTE_PRESETS)}")
        if self.n_atoms < 1 or self.n_prompts < 1 or self.cap < 1:
            raise ValueError("n_atoms, n_prompts, cap: must be >= 1")


def shards(args):
    return [{"id": p, "preset": p} for p in args.presets]


def run_shard(args, shard):
    world = VOTE_PRESETS[shard["preset"]]
    ss_atoms, ss_pick, ss_votes = np.random.SeedSequence([args.seed, len(shard["preset"])]).spawn(3)
    atoms = world.sample(args.n_atoms, np.random.default_rng(ss_atoms))
    probs = atoms[np.random.default_rng(ss_pick).integers(0, args.n_atoms, size=args.n_prompts)]
    rows = []
    for label, (name, params) in RULES.items():
        res = run_rule(make_rule(name, **params), probs, np.random.default_rng(ss_votes), world=world)
        rows.append((shard["preset"], label, "rule", float(res["correct"].mean()),
                     float(res["correct"].std(ddof=1) / np.sqrt(res["correct"].size)), float(res["votes"].mean()),
                     float(res["tokens"].mean()), np.nan))
    model = VoteModel.build(atoms, cap=args.cap)
    for point in frontier(model):
        rows.append((shard["preset"], "optimal", "frontier", point["accuracy"], 0.0, point["votes"], np.nan,
                     point["cost"]))
    table = pd.DataFrame(rows, columns=["preset", "rule", "kind", "accuracy", "accuracy_se", "votes", "tokens", "cost"])
    base = table[(table.rule == "fixed-64")].iloc[0]
    table["token_savings_vs_fixed64"] = 1 - table.tokens / base.tokens
    table["accuracy_vs_fixed64"] = table.accuracy - base.accuracy
    return {"points": table}


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = tables["points"]
    write_table(table, out, "table")
    fig, axes = plt.subplots(1, len(args.presets), figsize=(6 * len(args.presets), 4.5), squeeze=False)
    for ax, preset in zip(axes[0], args.presets):
        sub = table[table.preset == preset]
        fr = sub[sub.kind == "frontier"].sort_values("votes")
        ax.plot(fr.votes, fr.accuracy, "k-", label="Bayes-optimal frontier (exact DP)")
        for _, r in sub[sub.kind == "rule"].iterrows():
            ax.errorbar(r.votes, r.accuracy, yerr=1.96 * r.accuracy_se, fmt="o", capsize=2, label=r.rule)
        ax.set_xlabel("expected votes per prompt")
        ax.set_ylabel("label accuracy")
        ax.set_title(preset)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        view = table[table.kind == "rule"][["preset", "rule", "accuracy", "votes", "tokens", "token_savings_vs_fixed64"]]
        print(view.round(4).to_string(index=False))
    return table
