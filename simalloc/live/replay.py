"""Replay a rollout pool: allocators on real outputs with confidence intervals, and the simulator's predictions
confirmed or refuted on held-out tasks.

Allocation replay (one resample): draw a bootstrap sample of the tasks (with replacement), shuffle each task's
recorded rollouts, take the first K0 as the pilot, let the allocator split the Phase-B budget
n_tasks x (G - K0) (cap: the rollouts a task has left), and read the extra rollouts as the next ones in the
shuffled order. Per allocator and resample: extra hits per task, hits per task on s = 0 prompts, the share of
informative final groups (both outcomes), the share of tasks solved (a success in the final group). Means and
95% percentile intervals over ``n_resamples`` resamples.

Voting replay: every stopping rule (BSPRT in each reading) reads random orderings of each task's recorded
answers (``replay_voting``): votes, tokens and label accuracy, with bootstrap intervals over tasks; the vote
world fitted to the other half's answer counts predicts votes and accuracy.

Prediction check: the tasks are split in two halves (seeded); the simulator's Beta-Binomial world is fitted on
one half (all its rollouts) and predicts every metric above for the other half by Monte Carlo in the fitted
world (same K0, G, caps and allocators), and the Pass@k curve by the fitted world's exact Pass@k. A prediction
inside the held-out half's 95% interval is "confirmed", outside "refuted". The intervals include task sampling
(the bootstrap), which a population-level prediction must be judged against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..allocators import allocate
from ..allocators.metrics import BATCH_METRICS, realized_batch_metrics, simulate_batches
from ..estimators.pass_at_k import pass_at_k
from ..seeding import as_generator
from ..stats import mean_se, percentile_interval
from ..stopping.replay import predict_voting, replay_voting
from ..validation import as_int
from ..worlds.difficulty import fit_beta_binomial

__all__ = ["ReplayConfig", "replay_allocation", "predict_allocation", "replay_report"]

#: the allocation metrics replayed, per task (``simalloc.allocators.metrics``)
METRICS = ("extra_hits", "hits_unsolved", "informative", "solved")
_COLS = [BATCH_METRICS.index(m) for m in METRICS]
DEFAULT_ALLOCATORS = ("uniform", "hora", "hard_first", "informative", "plugin")


@dataclass(frozen=True)
class ReplayConfig:
    """Settings of a replay (``simalloc replay``).

    Parameters
    ----------
    k0 : int, default 4
        Pilot rollouts per task (each task needs more than k0 in the pool).
    group_size : int, default 16
        Mean rollouts per task: the replayed budget is n_tasks x (group_size - k0) extra rollouts.
    allocators : tuple of str
        The allocators replayed and predicted.
    n_resamples : int, default 1000
        Bootstrap resamples (tasks and rollout order).
    threshold : float, default 0.5
        A rollout is a success when its reward > threshold.
    """

    k0: int = 4
    group_size: int = 16
    allocators: tuple = DEFAULT_ALLOCATORS
    n_resamples: int = 1000
    threshold: float = 0.5  # reward > threshold is a success

    def validate(self, max_rollouts: int) -> None:
        """Raise ValueError naming the first bad field; ``max_rollouts`` is the smallest task's rollouts."""
        for name, v, low in (
            ("k0", self.k0, 1),
            ("group_size", self.group_size, 2),
            ("n_resamples", self.n_resamples, 2),
        ):
            as_int(v, name, low)
        if self.group_size <= self.k0:
            raise ValueError(f"group_size: must exceed k0 = {self.k0}, got {self.group_size}")
        if self.k0 >= max_rollouts:
            raise ValueError(
                f"k0: every task needs more than k0 rollouts in the pool; the smallest task has {max_rollouts}"
            )


def _matrix(pool: pd.DataFrame, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(successes as a padded 0/1 matrix (n_tasks, m_max), rollouts per task)."""
    ids = pool.task_id.to_numpy()
    n = int(ids.max()) + 1
    sizes = np.bincount(ids, minlength=n)
    mat = np.zeros((n, int(sizes.max())), dtype=np.int64)
    mat[ids, pool.sample_index.to_numpy()] = (pool.reward.to_numpy() > threshold).astype(np.int64)
    return mat, sizes


def _one_resample(mat, sizes, cfg, rng, tasks):
    """Metrics (per task) of every allocator on one bootstrap sample of tasks and one shuffle of their rollouts."""
    sub, m = mat[tasks], sizes[tasks]
    keys = rng.random(sub.shape)
    keys[np.arange(sub.shape[1])[None, :] >= m[:, None]] = np.inf  # padding sorts last
    order = np.argsort(keys, axis=1)
    shuffled = np.take_along_axis(sub, order, axis=1)
    prefix = np.concatenate([np.zeros((len(tasks), 1), np.int64), np.cumsum(shuffled, axis=1)], axis=1)
    s = prefix[:, cfg.k0]
    budget = len(tasks) * (cfg.group_size - cfg.k0)
    cap = m - cfg.k0
    out = {}
    for name in cfg.allocators:
        k = allocate(name, s, cfg.k0, budget, cap=cap, rng=rng)
        extra = prefix[np.arange(len(tasks)), cfg.k0 + k] - s
        out[name] = realized_batch_metrics(s, extra, cfg.k0, k)[_COLS] / len(tasks)
    return out


def replay_allocation(pool: pd.DataFrame, cfg: ReplayConfig, rng=None, tasks=None) -> pd.DataFrame:
    """Observed metrics per allocator: mean, 2.5% and 97.5% over resamples (rows: allocator x metric).

    Each resample draws the tasks with replacement and each task's rollout order; the first k0 rollouts are the
    pilot, the allocator splits the rest of the budget, and the recorded rollouts that follow are its extra
    rollouts (a task never gets more than it has).

    Parameters
    ----------
    pool : pandas.DataFrame
        The rollout table (``read_pool``).
    cfg : ReplayConfig
        The replay's settings.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    tasks : array_like, optional
        The task ids replayed (default: all).

    Returns
    -------
    pandas.DataFrame
        Columns allocator, metric, observed, ci_low, ci_high.
    """
    rng = as_generator(rng)
    mat, sizes = _matrix(pool, cfg.threshold)
    tasks = np.arange(mat.shape[0]) if tasks is None else np.asarray(tasks)
    cfg.validate(int(sizes[tasks].min()))
    if len(tasks) * (cfg.group_size - cfg.k0) > int((sizes[tasks] - cfg.k0).sum()):
        raise ValueError(f"group_size: the pool has too few rollouts for {cfg.group_size} per task on average")
    draws = {name: [] for name in cfg.allocators}
    for _ in range(cfg.n_resamples):
        boot = rng.choice(tasks, size=len(tasks), replace=True)
        for name, vals in _one_resample(mat, sizes, cfg, rng, boot).items():
            draws[name].append(vals)
    rows = []
    for name, vals in draws.items():
        arr = np.array(vals)
        lo, hi = percentile_interval(arr)
        for j, metric in enumerate(METRICS):
            rows.append((name, metric, float(arr[:, j].mean()), float(lo[j]), float(hi[j])))
    return pd.DataFrame(rows, columns=["allocator", "metric", "observed", "ci_low", "ci_high"])


def predict_allocation(world, sizes, cfg: ReplayConfig, rng=None, n_sim: int = 400) -> pd.DataFrame:
    """The fitted world's expected metrics per task for tasks with ``sizes`` rollouts (Monte Carlo over ``n_sim``
    simulated batches, expectations over the extra rollouts exact given p; the Monte Carlo se is reported and is
    small against the replay intervals).

    Parameters
    ----------
    world : DifficultyWorld
        The fitted world.
    sizes : array_like of int
        The replayed tasks' rollouts (each task's extra rollouts are capped by them, as in the replay).
    cfg : ReplayConfig
        The replay's settings.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    n_sim : int, default 400
        Simulated batches.

    Returns
    -------
    pandas.DataFrame
        Columns allocator, metric, predicted, predicted_se (Monte Carlo).
    """
    rng = as_generator(rng)
    sizes = np.asarray(sizes)
    budget = sizes.size * (cfg.group_size - cfg.k0)
    trials = np.full(sizes.size, cfg.k0)
    draws = (
        np.array(
            [
                simulate_batches(world, trials, budget, cfg.allocators, cap=sizes - cfg.k0, rng=rng, n_sim=1)
                for _ in range(n_sim)
            ]
        )[:, :, _COLS]
        / sizes.size
    )
    rows = []
    for a, name in enumerate(cfg.allocators):
        for j, metric in enumerate(METRICS):
            est = mean_se(draws[:, a, j])
            rows.append((name, metric, est.mean, est.se))
    return pd.DataFrame(rows, columns=["allocator", "metric", "predicted", "predicted_se"])


def _passk_rows(pool, world, tasks, cfg, rng, ks):
    mat, sizes = _matrix(pool, cfg.threshold)
    c, n = mat[tasks].sum(1), sizes[tasks]
    ks = [k for k in ks if k <= n.min()]
    boot = rng.integers(0, len(tasks), size=(cfg.n_resamples, len(tasks)))
    rows = []
    for k in ks:
        per_task = pass_at_k(n, c, k)
        lo, hi = percentile_interval(per_task[boot].mean(1))
        rows.append(
            ("pass@k", f"pass@{k}", float(per_task.mean()), float(lo), float(hi), float(world.pass_at_k(k)), 0.0)
        )
    return rows


def replay_report(pool: pd.DataFrame, cfg: ReplayConfig, out=None, rng=None, ks=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
    """Fit on half A, replay half B, confirm or refute each prediction; writes results.parquet, report.md and
    figure.png to ``out`` when given. Returns the table.

    Parameters
    ----------
    pool : pandas.DataFrame
        The rollout table (``read_pool``).
    cfg : ReplayConfig
        The replay's settings.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    out : path-like, optional
        Where to write the report.
    ks : tuple of int
        The Pass@k points compared.

    Returns
    -------
    pandas.DataFrame
        One row per prediction: observed, its 95% interval, predicted, verdict.
    """
    rng = as_generator(rng)
    n_tasks = int(pool.task_id.max()) + 1
    if n_tasks < 10:
        raise ValueError(f"pool: a fit-and-check needs at least 10 tasks (5 per half), got {n_tasks}")
    perm = rng.permutation(n_tasks)
    half_a, half_b = np.sort(perm[: n_tasks // 2]), np.sort(perm[n_tasks // 2 :])
    mat, sizes = _matrix(pool, cfg.threshold)
    world = fit_beta_binomial(mat[half_a].sum(1), sizes[half_a])
    observed = replay_allocation(pool, cfg, rng, tasks=half_b)
    predicted = predict_allocation(world, sizes[half_b], cfg, rng)
    table = observed.merge(predicted, on=["allocator", "metric"])
    passk = pd.DataFrame(
        _passk_rows(pool, world, half_b, cfg, rng, ks),
        columns=["allocator", "metric", "observed", "ci_low", "ci_high", "predicted", "predicted_se"],
    )
    table = pd.concat([table, passk], ignore_index=True)
    if pool.answer.notna().any():
        votes = replay_voting(pool, cfg.n_resamples, cfg.threshold, rng, tasks=half_b)
        votes = votes[votes.metric != "accuracy_vs_fixed"]
        pred = predict_voting(pool, half_a, votes.attrs["cap"], cfg.threshold, rng)
        votes = votes.merge(pred, on=["rule", "metric"], how="left").rename(columns={"rule": "allocator"})
        votes["predicted_se"] = np.nan
        table = pd.concat([table, votes], ignore_index=True)
    inside = (table.predicted >= table.ci_low) & (table.predicted <= table.ci_high)
    table["verdict"] = np.where(table.predicted.isna(), "not predicted", np.where(inside, "confirmed", "refuted"))
    table.attrs["world"] = f"Beta({world.a:.3f}, {world.b:.3f})"
    if out is not None:
        _write(table, cfg, Path(out), n_tasks, len(half_b))
    return table


def _write(table, cfg, out: Path, n_tasks: int, n_b: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_write, write_table
    from ..plotting import color_of, interval_err

    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out, "results", csv=True)
    alloc = table[(table.allocator != "pass@k") & table.metric.isin(METRICS)]
    fig, axes = plt.subplots(1, len(METRICS) + 1, figsize=(5 * (len(METRICS) + 1), 4.2))
    for ax, metric in zip(axes, METRICS):
        sub = alloc[alloc.metric == metric]
        x = np.arange(len(sub))
        for xi, r in zip(x, sub.itertuples()):
            ax.errorbar(
                xi,
                r.observed,
                yerr=interval_err([r.observed], [r.ci_low], [r.ci_high]),
                fmt="o",
                capsize=3,
                color=color_of(r.allocator),
                label="replay, 95% CI" if xi == 0 else None,
            )
        ax.plot(x, sub.predicted, "x", color="0.3", ms=9, mew=2, label="fitted simulator")
        ax.set_xticks(x, sub.allocator, rotation=30)
        ax.set_title(metric.replace("_", " ") + " per task")
        ax.set_ylabel(metric.replace("_", " ") + " (per task)")
        ax.legend(fontsize=8)
    pk = table[table.allocator == "pass@k"]
    ks = [int(m.split("@")[1]) for m in pk.metric]
    axes[-1].errorbar(
        ks,
        pk.observed,
        yerr=interval_err(pk.observed, pk.ci_low, pk.ci_high),
        fmt="o-",
        capsize=3,
        label="pool (unbiased pass@k), 95% CI",
    )
    axes[-1].plot(ks, pk.predicted, "r--", label="fitted Beta-Binomial")
    axes[-1].set_xscale("log", base=2)
    axes[-1].set_xlabel("k (samples)")
    axes[-1].set_ylabel("pass@k")
    axes[-1].set_title("Pass@k on the held-out half")
    axes[-1].legend(fontsize=8)
    fig.suptitle(
        f"Replay of {n_b} held-out tasks (of {n_tasks}); K0 = {cfg.k0}, G = {cfg.group_size}, "
        f"{cfg.n_resamples} resamples"
    )
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=100)
    plt.close(fig)
    lines = [
        "# Replay report",
        "",
        f"Fitted on half A: {table.attrs['world']}. Held-out half B: {n_b} tasks. "
        f"K0 = {cfg.k0}, mean group size G = {cfg.group_size}, {cfg.n_resamples} bootstrap resamples (tasks and "
        "rollout order). A prediction inside the 95% interval is confirmed.",
        "",
        "| allocator | metric | observed | 95% CI | predicted | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.allocator} | {r.metric} | {r.observed:.4f} | [{r.ci_low:.4f}, {r.ci_high:.4f}] | "
            f"{r.predicted:.4f} | {r.verdict} |"
        )
    counts = table.verdict.value_counts().to_dict()
    lines += [
        "",
        f"{counts.get('confirmed', 0)} confirmed, {counts.get('refuted', 0)} refuted "
        f"({counts.get('not predicted', 0)} observed only: tokens). Voting rows read random orderings of each "
        "held-out task's recorded answers; their predictions come from the vote world fitted "
        "(fit_vote_world) to the other half's answer counts.",
        "",
        "![replay](figure.png)",
        "",
    ]
    atomic_write(out / "report.md", lambda p: p.write_text("\n".join(lines)))
