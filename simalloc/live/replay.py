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

from .._rng import as_generator
from .._validate import as_int
from ..allocators import allocate
from ..estimators.pass_at_k import pass_at_k
from ..worlds.difficulty import fit_beta_binomial

__all__ = ["ReplayConfig", "replay_allocation", "predict_allocation", "replay_voting", "predict_voting", "vote_rules",
           "replay_report"]

METRICS = ("extra_hits", "hits_s0", "informative", "solved")
DEFAULT_ALLOCATORS = ("uniform", "hora", "hard_first", "informative", "plugin")


@dataclass(frozen=True)
class ReplayConfig:
    k0: int = 4
    group_size: int = 16
    allocators: tuple = DEFAULT_ALLOCATORS
    n_resamples: int = 1000
    threshold: float = 0.5  # reward > threshold is a success

    def validate(self, max_rollouts: int):
        for name, v, low in (("k0", self.k0, 1), ("group_size", self.group_size, 2), ("n_resamples", self.n_resamples, 2)):
            as_int(v, name, low)
        if self.group_size <= self.k0:
            raise ValueError(f"group_size: must exceed k0 = {self.k0}, got {self.group_size}")
        if self.k0 >= max_rollouts:
            raise ValueError(f"k0: every task needs more than k0 rollouts in the pool; the smallest task has "
                             f"{max_rollouts}")


def _matrix(pool: pd.DataFrame, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(successes as a padded 0/1 matrix (n_tasks, m_max), rollouts per task)."""
    ids = pool.task_id.to_numpy()
    n = int(ids.max()) + 1
    sizes = np.bincount(ids, minlength=n)
    mat = np.zeros((n, int(sizes.max())), dtype=np.int64)
    mat[ids, pool.sample_index.to_numpy()] = (pool.reward.to_numpy() > threshold).astype(np.int64)
    return mat, sizes


def _metrics(s, extra, size):
    """The METRICS per task from pilot successes s, extra successes and final group sizes (arrays per task)."""
    final = s + extra
    return extra.mean(), np.where(s == 0, extra, 0).mean(), np.mean((final > 0) & (final < size)), np.mean(final > 0)


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
        out[name] = _metrics(s, prefix[np.arange(len(tasks)), cfg.k0 + k] - s, cfg.k0 + k)
    return out


def replay_allocation(pool: pd.DataFrame, cfg: ReplayConfig, rng=None, tasks=None) -> pd.DataFrame:
    """Observed metrics per allocator: mean, 2.5% and 97.5% over resamples (rows: allocator x metric)."""
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
        for j, metric in enumerate(METRICS):
            lo, hi = np.percentile(arr[:, j], [2.5, 97.5])
            rows.append((name, metric, float(arr[:, j].mean()), float(lo), float(hi)))
    return pd.DataFrame(rows, columns=["allocator", "metric", "observed", "ci_low", "ci_high"])


def predict_allocation(world, sizes, cfg: ReplayConfig, rng=None, n_sim: int = 400) -> pd.DataFrame:
    """The fitted world's expected metrics per task for tasks with ``sizes`` rollouts (Monte Carlo, ``n_sim``
    simulated batches; the Monte Carlo se is reported and is small against the replay intervals)."""
    rng = as_generator(rng)
    sizes = np.asarray(sizes)
    draws = {name: [] for name in cfg.allocators}
    for _ in range(n_sim):
        p = world.sample(sizes.size, rng)
        s = rng.binomial(cfg.k0, p)
        budget = sizes.size * (cfg.group_size - cfg.k0)
        for name in cfg.allocators:
            k = allocate(name, s, cfg.k0, budget, cap=sizes - cfg.k0, rng=rng)
            draws[name].append(_metrics(s, rng.binomial(k, p), cfg.k0 + k))
    rows = []
    for name, vals in draws.items():
        arr = np.array(vals)
        for j, metric in enumerate(METRICS):
            rows.append((name, metric, float(arr[:, j].mean()), float(arr[:, j].std(ddof=1) / np.sqrt(n_sim))))
    return pd.DataFrame(rows, columns=["allocator", "metric", "predicted", "predicted_se"])


def _passk_rows(pool, world, tasks, cfg, rng, ks):
    mat, sizes = _matrix(pool, cfg.threshold)
    c, n = mat[tasks].sum(1), sizes[tasks]
    ks = [k for k in ks if k <= n.min()]
    boot = rng.integers(0, len(tasks), size=(cfg.n_resamples, len(tasks)))
    rows = []
    for k in ks:
        per_task = pass_at_k(n, c, k)
        means = per_task[boot].mean(1)
        lo, hi = np.percentile(means, [2.5, 97.5])
        rows.append(("pass@k", f"pass@{k}", float(per_task.mean()), float(lo), float(hi),
                     float(world.pass_at_k(k)), 0.0))
    return rows


def replay_report(pool: pd.DataFrame, cfg: ReplayConfig, out=None, rng=None, ks=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
    """Fit on half A, replay half B, confirm or refute each prediction; writes results.parquet, report.md and
    figure.png to ``out`` when given. Returns the table."""
    rng = as_generator(rng)
    n_tasks = int(pool.task_id.max()) + 1
    if n_tasks < 10:
        raise ValueError(f"pool: a fit-and-check needs at least 10 tasks (5 per half), got {n_tasks}")
    perm = rng.permutation(n_tasks)
    half_a, half_b = np.sort(perm[: n_tasks // 2]), np.sort(perm[n_tasks // 2:])
    mat, sizes = _matrix(pool, cfg.threshold)
    world = fit_beta_binomial(mat[half_a].sum(1), sizes[half_a])
    observed = replay_allocation(pool, cfg, rng, tasks=half_b)
    predicted = predict_allocation(world, sizes[half_b], cfg, rng)
    table = observed.merge(predicted, on=["allocator", "metric"])
    passk = pd.DataFrame(_passk_rows(pool, world, half_b, cfg, rng, ks),
                         columns=["allocator", "metric", "observed", "ci_low", "ci_high", "predicted", "predicted_se"])
    table = pd.concat([table, passk], ignore_index=True)
    if pool.answer.notna().any():
        votes = replay_voting(pool, cfg, rng, tasks=half_b)
        pred = predict_voting(pool, cfg, half_a, votes.attrs["cap"], rng)
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

    from ..sim.results import atomic_write, write_table

    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out, "results", csv=True)
    alloc = table[(table.allocator != "pass@k") & table.metric.isin(METRICS)]
    fig, axes = plt.subplots(1, len(METRICS) + 1, figsize=(5 * (len(METRICS) + 1), 4.2))
    for ax, metric in zip(axes, METRICS):
        sub = alloc[alloc.metric == metric]
        x = np.arange(len(sub))
        ax.errorbar(x, sub.observed, yerr=[sub.observed - sub.ci_low, sub.ci_high - sub.observed], fmt="o", capsize=3,
                    label="replay, 95% CI")
        ax.plot(x, sub.predicted, "rx", ms=9, label="fitted simulator")
        ax.set_xticks(x, sub.allocator, rotation=30)
        ax.set_title(metric.replace("_", " ") + " per task")
        ax.set_ylabel(metric.replace("_", " ") + " (per task)")
        ax.legend(fontsize=8)
    pk = table[table.allocator == "pass@k"]
    ks = [int(m.split("@")[1]) for m in pk.metric]
    axes[-1].errorbar(ks, pk.observed, yerr=[pk.observed - pk.ci_low, pk.ci_high - pk.observed], fmt="o-", capsize=3,
                      label="pool (unbiased pass@k), 95% CI")
    axes[-1].plot(ks, pk.predicted, "r--", label="fitted Beta-Binomial")
    axes[-1].set_xscale("log", base=2)
    axes[-1].set_xlabel("k (samples)")
    axes[-1].set_ylabel("pass@k")
    axes[-1].set_title("Pass@k on the held-out half")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Replay of {n_b} held-out tasks (of {n_tasks}); K0 = {cfg.k0}, G = {cfg.group_size}, "
                 f"{cfg.n_resamples} resamples")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=100)
    plt.close(fig)
    lines = [f"# Replay report", "", f"Fitted on half A: {table.attrs['world']}. Held-out half B: {n_b} tasks. "
             f"K0 = {cfg.k0}, mean group size G = {cfg.group_size}, {cfg.n_resamples} bootstrap resamples (tasks and "
             "rollout order). A prediction inside the 95% interval is confirmed.", "",
             "| allocator | metric | observed | 95% CI | predicted | verdict |", "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.allocator} | {r.metric} | {r.observed:.4f} | [{r.ci_low:.4f}, {r.ci_high:.4f}] | "
                     f"{r.predicted:.4f} | {r.verdict} |")
    counts = table.verdict.value_counts().to_dict()
    lines += ["", f"{counts.get('confirmed', 0)} confirmed, {counts.get('refuted', 0)} refuted "
              f"({counts.get('not predicted', 0)} observed only: tokens). Voting rows read random orderings of each "
              "held-out task's recorded answers; their predictions come from the vote world fitted "
              "(fit_vote_world) to the other half's answer counts.", "",
              "![replay](figure.png)", ""]
    atomic_write(out / "report.md", lambda p: p.write_text("\n".join(lines)))


# ------------------------------------------------------------------------------------------- stopping rules

def _vote_tasks(pool: pd.DataFrame, threshold: float):
    """Per task: answer codes in pool order (strings by first appearance; a missing answer is its own string),
    whether each string is correct (some rollout with it has reward > threshold), token counts."""
    out = []
    for _, g in pool.sort_values(["task_id", "sample_index"]).groupby("task_id"):
        answers = [a if isinstance(a, str) and a else "<none>" for a in g.answer]
        labels: dict[str, int] = {}
        codes = np.array([labels.setdefault(a, len(labels)) for a in answers], dtype=np.int64)
        correct = np.zeros(len(labels), dtype=bool)
        np.logical_or.at(correct, codes, g.reward.to_numpy() > threshold)
        tokens = pd.to_numeric(g.completion_tokens, errors="coerce").fillna(0).to_numpy(float)
        out.append((codes, correct, tokens))
    return out


def vote_rules(cap: int) -> dict:
    """The rules replayed on a pool with ``cap`` rollouts per task: fixed-cap majority, AC, ESC, and BSPRT in
    every reading whose minimum vote count fits under the cap."""
    from ..stopping import BSPRT_READINGS, make_rule

    rules = {f"fixed-{cap}": make_rule("fixed", n=cap), "ac_beta": make_rule("ac_beta", cap=cap),
             "esc": make_rule("esc", cap=cap, window=5)}
    for name, params in BSPRT_READINGS.items():
        if params["min_votes"] <= cap:
            rules[f"bsprt {name}"] = make_rule("bsprt", cap=cap, **params)
    return rules


def replay_voting(pool: pd.DataFrame, cfg: ReplayConfig, rng=None, tasks=None, orderings: int = 200) -> pd.DataFrame:
    """Every rule on random orderings of each task's recorded answers: votes, tokens and label accuracy per
    task; means over tasks with 95% bootstrap intervals (tasks resampled, orderings averaged per task)."""
    from ..stopping.rules import read_votes_many

    rng = as_generator(rng)
    if pool.answer.isna().all():
        raise ValueError("pool: no answers recorded; stopping rules need each rollout's extracted answer")
    per_task = _vote_tasks(pool, cfg.threshold)
    tasks = np.arange(len(per_task)) if tasks is None else np.asarray(tasks)
    cap = int(min(per_task[i][0].size for i in tasks))
    rules = vote_rules(cap)
    stats = {name: np.zeros((len(tasks), 3)) for name in rules}
    for row, i in enumerate(tasks):
        codes, correct, tokens = per_task[i]
        perms = np.stack([rng.permutation(codes.size)[:cap] for _ in range(orderings)])
        seqs, toks = codes[perms], np.cumsum(tokens[perms], axis=1)
        for name, rule in rules.items():
            used, label = read_votes_many(rule, seqs)  # one kernel call for all orderings
            stats[name][row] += (used.sum(), toks[np.arange(orderings), used - 1].sum(), correct[label].sum())
    boot = rng.integers(0, len(tasks), size=(cfg.n_resamples, len(tasks)))
    rows = []
    for name, s in stats.items():
        s = s / orderings
        for j, metric in enumerate(("votes", "tokens", "accuracy")):
            means = s[boot, j].mean(1)
            lo, hi = np.percentile(means, [2.5, 97.5])
            rows.append((name, metric, float(s[:, j].mean()), float(lo), float(hi)))
    table = pd.DataFrame(rows, columns=["rule", "metric", "observed", "ci_low", "ci_high"])
    table.attrs["cap"] = cap
    return table


def predict_voting(pool: pd.DataFrame, cfg: ReplayConfig, tasks, cap: int, rng=None, n_sim: int = 20000) -> pd.DataFrame:
    """Votes and label accuracy per rule in the vote world fitted (``fit_vote_world``) to ``tasks``' answer counts
    (the first ``cap`` rollouts of each, correct strings merged into the correct class)."""
    from ..stopping.rules import run_rule
    from ..worlds.votes import fit_vote_world

    rng = as_generator(rng)
    per_task = _vote_tasks(pool, cfg.threshold)
    width = max(int(per_task[i][0][:cap].max()) + 1 for i in tasks) + 1
    counts = np.zeros((len(tasks), width), dtype=np.int64)
    for row, i in enumerate(tasks):
        codes, correct, _ = per_task[i]
        c = np.bincount(codes[:cap], minlength=correct.size)
        counts[row, 0] = c[correct].sum()
        wrong = c[~correct]
        counts[row, 1:1 + wrong.size] = wrong
    world = fit_vote_world(counts, rng=rng)
    probs = world.sample(n_sim, rng)
    votes_seed = int(rng.integers(2**63))  # common random numbers: every rule reads the same vote draws
    rows = []
    for name, rule in vote_rules(cap).items():
        res = run_rule(rule, probs, votes_seed)
        rows += [(name, "votes", float(res["votes"].mean())), (name, "accuracy", float(res["correct"].mean()))]
    return pd.DataFrame(rows, columns=["rule", "metric", "predicted"])
