"""Every stopping rule, BSPRT in every reading, against the Bayes-optimal accuracy-vs-tokens frontiers.

For each preset ("math500-like", "gpqa-like") a prior of ``n_atoms`` answer distributions is drawn; the
exact DP (simalloc.stopping.optimal) traces two frontiers with cost per expected token: plurality-constrained
(the answer is the plurality string, as every voting rule except ESC returns) and unconstrained (the string
most likely correct; it bounds ESC's window answer too). Worlds with long wrong-answer tails are reduced to the
correct answer, the two most likely wrong strings and a lumped "other" inside the DP only (``lump_tail``), so
for math500-like the frontier is that of the lumped world (the column ``dp_world`` says so). Every rule is
simulated on ``n_prompts`` prompts drawn from the same atoms (accuracy, votes, tokens), including BSPRT in
each of the 18 readings of its unpublished details (``BSPRT_READINGS``). Savings are against fixed 64-vote
majority (TTRL) on the same prompts and votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.io import write_table
from simalloc.stopping import BSPRT_READINGS, VoteModel, frontier, make_rule, run_rule
from simalloc.stopping.optimal import lump_tail
from simalloc.worlds.votes import VOTE_PRESETS

RULES = {
    "fixed-64": ("fixed", {}),
    "fixed-16": ("fixed", {"n": 16}),
    "ac_beta": ("ac_beta", {}),
    "ac_dirichlet": ("ac_dirichlet", {}),
    "esc": ("esc", {}),
    **{f"bsprt {name}": ("bsprt", params) for name, params in BSPRT_READINGS.items()},
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
        return cls(n_atoms=200, n_prompts=6000, cap=64)

    def validate(self):
        for p in self.presets:
            if p not in VOTE_PRESETS:
                raise ValueError(f"presets: unknown {p!r}; valid: {', '.join(VOTE_PRESETS)}")
        if self.n_atoms < 1 or self.n_prompts < 1 or self.cap < 1:
            raise ValueError("n_atoms, n_prompts, cap: must be >= 1")
        if self.cap < 64:
            raise ValueError(f"cap: the rules compared include fixed-64, so cap must be >= 64, got {self.cap}")


def shards(args):
    return [{"id": p, "preset": p} for p in args.presets]


def run_shard(args, shard):
    world = VOTE_PRESETS[shard["preset"]]
    ss_atoms, ss_pick, ss_votes = np.random.SeedSequence([args.seed, len(shard["preset"])]).spawn(3)
    atoms = world.sample(args.n_atoms, np.random.default_rng(ss_atoms))
    # stratified: every atom equally often (a random pick would weight the atoms unevenly, so the rules would be
    # scored on another mixture than the DP's uniform prior)
    probs = atoms[np.random.default_rng(ss_pick).permutation(np.arange(args.n_prompts) % args.n_atoms)]
    def rule_rows(prompt_probs, label_world):
        out = []
        for label, (name, params) in RULES.items():
            res = run_rule(make_rule(name, **params), prompt_probs, np.random.default_rng(ss_votes), world=world)
            out.append((shard["preset"], label, "rule", float(res["correct"].mean()),
                        float(res["correct"].std(ddof=1) / np.sqrt(res["correct"].size)), float(res["votes"].mean()),
                        float(res["tokens"].mean()), np.nan, label_world))
        return out

    rows = rule_rows(probs, "full")
    lumped = lump_tail(atoms)
    dp_world = "full" if lumped.shape[1] == atoms.shape[1] else "lumped"
    if dp_world == "lumped":  # the same rules on the DP's own (lumped) world: the like-for-like comparison
        rows += rule_rows(lump_tail(probs), "lumped")
    lengths = (world.mean_tokens, world.mean_tokens * world.wrong_length_factor)
    model = VoteModel.build(lumped, cap=args.cap, tokens=lengths)
    for answer in ("plurality", "best"):
        costs = np.concatenate([[0.0], np.geomspace(1e-5, 0.2, 40) / lengths[0]])
        for point in frontier(model, costs, answer=answer, per="tokens"):
            rows.append((shard["preset"], f"optimal ({answer})", "frontier", point["accuracy"], 0.0, point["votes"],
                         point["tokens"], point["cost"], dp_world))
    table = pd.DataFrame(rows, columns=["preset", "rule", "kind", "accuracy", "accuracy_se", "votes", "tokens", "cost",
                                        "dp_world"])
    # accuracy of the plurality-constrained frontier at each rule's tokens (interpolated), for rules on the DP's world
    fr = table[table.rule == "optimal (plurality)"].sort_values("tokens")
    on_dp = (table.kind == "rule") & (table.dp_world == dp_world)
    table["frontier_gap"] = np.where(on_dp, np.interp(table.tokens, fr.tokens, fr.accuracy) - table.accuracy, np.nan)
    base = table[(table.rule == "fixed-64") & (table.dp_world == "full")].iloc[0]
    table["token_savings_vs_fixed64"] = 1 - table.tokens / base.tokens
    table["accuracy_vs_fixed64"] = table.accuracy - base.accuracy
    return {"points": table}


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = tables["points"]
    write_table(table, out, "table")
    fig, axes = plt.subplots(1, len(args.presets), figsize=(7 * len(args.presets), 5.5), squeeze=False)
    for ax, preset in zip(axes[0], args.presets):
        sub = table[table.preset == preset]
        for answer, style in (("plurality", "k-"), ("best", "k:")):
            fr = sub[sub.rule == f"optimal ({answer})"].sort_values("tokens")
            ax.plot(fr.tokens / 1000, fr.accuracy, style,
                    label=f"Bayes-optimal, {answer} answer ({fr.dp_world.iloc[0]} world)")
        lumped = sub[(sub.kind == "rule") & (sub.dp_world == "lumped")]
        if len(lumped):
            ax.plot(lumped.tokens / 1000, lumped.accuracy, "x", color="grey",
                    label="every rule on the DP's lumped world")
        rules = sub[(sub.kind == "rule") & (sub.dp_world == "full")]
        bsprt = rules[rules.rule.str.startswith("bsprt")]
        ax.errorbar(bsprt.tokens / 1000, bsprt.accuracy, yerr=1.96 * bsprt.accuracy_se, fmt="o", ms=3, capsize=2,
                    color="tab:red", alpha=0.6, label="BSPRT, 18 readings")
        for _, r in rules[~rules.rule.str.startswith("bsprt")].iterrows():
            ax.errorbar(r.tokens / 1000, r.accuracy, yerr=1.96 * r.accuracy_se, fmt="s", capsize=2, label=r.rule)
        ax.set_xlabel("expected tokens per prompt (thousands)")
        ax.set_ylabel("label accuracy (95% CI)")
        ax.set_title(f"{preset}: stopping rules vs the optimal frontiers")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    if progress:
        view = table[table.kind == "rule"][["preset", "dp_world", "rule", "accuracy", "votes", "tokens",
                                            "token_savings_vs_fixed64", "frontier_gap"]]
        print(view.round(4).to_string(index=False))
    return table
