"""Best-of-N estimators from m << N rollouts against exact truth (TEA family vs published estimators).

Value: bias / variance / MSE of E[M_N] estimators (GPD peaks-over-threshold, GEV max-stability, their prefix
variants, the U-statistic where N <= m, the naive sample max) for every reward-tail world, m in 4..64,
N in 16..1024. Gradient: a softmax policy over 100 responses with Gaussian rewards (exact BoN gradient):
relative bias and cosine of each estimator's gradient, N = 256. Tail-extrapolated estimators are this
project's construction from TEA's idea (arXiv 2605.10716), not the paper's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.io import write_table
from simalloc.sim.bon import SoftmaxToy, gradient_diagnostics, value_diagnostics
from simalloc.worlds.tails import TAIL_WORLDS, make_tail_world


@dataclass(frozen=True)
class Args:
    worlds: tuple = tuple(TAIL_WORLDS)
    ms: tuple = (4, 8, 16, 32, 64)
    ns: tuple = (16, 64, 256, 1024)
    n_reps: int = 1000
    grad_n: int = 256
    grad_draws: int = 2000
    seed: int = 0

    @classmethod
    def quick(cls) -> "Args":
        return cls(worlds=("gaussian", "gpd_heavy", "uniform"), ms=(8, 32), ns=(64, 256), n_reps=200, grad_draws=300)

    def validate(self):
        for w in self.worlds:
            make_tail_world(w)
        if min(self.ms) < 4 or min(self.ns) < 1 or self.n_reps < 2:
            raise ValueError("ms must be >= 4, ns >= 1, n_reps >= 2")


def shards(args):
    return [{"id": f"value-{w}", "world": w} for w in args.worlds] + [{"id": "gradient", "world": "gaussian"}]


def run_shard(args, shard):
    rng = np.random.default_rng([args.seed, len(shard["id"])])
    if shard["id"] == "gradient":
        toy = SoftmaxToy(make_tail_world("gaussian").sample(100, np.random.default_rng(args.seed)))
        ms = tuple(m for m in args.ms if m >= 8)
        return {"gradient": gradient_diagnostics(toy, ms, args.grad_n, args.grad_draws, rng)}
    return {"value": value_diagnostics(make_tail_world(shard["world"]), args.ms, args.ns, args.n_reps, rng)}


def finalize(args, tables, out, progress=True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    value = pd.concat([t for k, t in tables.items() if k == "value"])
    grad = tables["gradient"]
    write_table(value, out, "table")
    write_table(grad, out, "gradient")
    n_show = max(args.ns)
    fig, axes = plt.subplots(1, len(args.worlds) + 1, figsize=(4 * (len(args.worlds) + 1), 3.8), squeeze=False)
    for ax, w in zip(axes[0], args.worlds):
        sub = value[(value.world == make_tail_world(w).name) & (value.N == n_show)]
        for est in sub.estimator.unique():
            e = sub[sub.estimator == est].sort_values("m")
            ax.plot(e.m, np.sqrt(e.mse) / abs(e.truth.iloc[0] or 1), marker="o", label=est)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{w}: RMSE of E[M_{n_show}] / |truth|", fontsize=9)
        ax.set_xlabel("m")
    axes[0][0].legend(fontsize=7)
    ax = axes[0][-1]
    for est in grad.estimator.unique():
        e = grad[grad.estimator == est].sort_values("m")
        ax.plot(e.m, e.cosine, marker="o", label=est)
    ax.set_xscale("log", base=2)
    ax.set_title(f"gradient cosine to the exact BoN({args.grad_n}) gradient", fontsize=9)
    ax.set_xlabel("m")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=100)
    plt.close(fig)
    if progress:
        print(grad.round(4).to_string(index=False))
    return value
