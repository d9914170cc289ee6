"""Stopping rules replayed on recorded answers: votes, tokens and label accuracy with bootstrap intervals.

Each rule (``vote_rules``: the fixed-cap majority, Adaptive-Consistency, ESC and BSPRT in every reading) reads
random orderings of each prompt's recorded answers through the same kernel step as simulation; the means over
prompts get 95% percentile intervals from a bootstrap over prompts (orderings averaged per prompt). A vote world
fitted to answer counts (``fit_vote_world``) predicts the same numbers (``predict_voting``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..seeding import as_generator
from ..stats import percentile_interval
from .rules import make_rule, read_votes_many, run_rule

__all__ = ["vote_rules", "replay_voting", "predict_voting"]

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
    every reading whose minimum vote count fits under the cap.

    Parameters
    ----------
    cap : int
        Rollouts per task in the pool.

    Returns
    -------
    dict of str to StoppingRule
        Keyed by the label reports use ("fixed-32", "bsprt observed/c1/v1", ...).
    """
    from . import BSPRT_READINGS

    rules = {f"fixed-{cap}": make_rule("fixed", n=cap), "ac_beta": make_rule("ac_beta", cap=cap),
             "esc": make_rule("esc", cap=cap, window=5)}
    for name, params in BSPRT_READINGS.items():
        if params["min_votes"] <= cap:
            rules[f"bsprt {name}"] = make_rule("bsprt", cap=cap, **params)
    return rules


def replay_voting(pool: pd.DataFrame, n_resamples: int = 1000, threshold: float = 0.5, rng=None, tasks=None,
                  orderings: int = 200) -> pd.DataFrame:
    """Every rule on random orderings of each task's recorded answers: votes, tokens and label accuracy per
    task; means over tasks with 95% bootstrap intervals (``n_resamples`` resamples of the tasks, orderings
    averaged per task), and each rule's accuracy minus the fixed-cap vote's (``accuracy_vs_fixed``, paired on
    the same tasks and orderings). A recorded answer is correct when some rollout with it has reward >
    ``threshold``.

    Parameters
    ----------
    pool : pandas.DataFrame
        The rollout table (``read_pool``) with answers.
    n_resamples : int, default 1000
        Bootstrap resamples of the tasks.
    threshold : float, default 0.5
        Success = reward > threshold.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    tasks : array_like, optional
        The task ids replayed (default: all).
    orderings : int, default 200
        Random orderings of each task's answers.

    Returns
    -------
    pandas.DataFrame
        Columns rule, metric, observed, ci_low, ci_high.
    """
    rng = as_generator(rng)
    if pool.answer.isna().all():
        raise ValueError("pool: no answers recorded; stopping rules need each rollout's extracted answer")
    per_task = _vote_tasks(pool, threshold)
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
    boot = rng.integers(0, len(tasks), size=(n_resamples, len(tasks)))
    fixed = stats[next(iter(rules))] / orderings
    rows = []
    for name, s in stats.items():
        s = s / orderings
        for j, metric in enumerate(("votes", "tokens", "accuracy")):
            lo, hi = percentile_interval(s[boot, j].mean(1))
            rows.append((name, metric, float(s[:, j].mean()), float(lo), float(hi)))
        d = s[:, 2] - fixed[:, 2]  # paired on the same tasks and orderings
        lo, hi = percentile_interval(d[boot].mean(1))
        rows.append((name, "accuracy_vs_fixed", float(d.mean()), float(lo), float(hi)))
    table = pd.DataFrame(rows, columns=["rule", "metric", "observed", "ci_low", "ci_high"])
    table.attrs["cap"] = cap
    return table


def predict_voting(pool: pd.DataFrame, tasks, cap: int, threshold: float = 0.5, rng=None,
                   n_sim: int = 20000) -> pd.DataFrame:
    """Votes and label accuracy per rule in the vote world fitted (``fit_vote_world``) to ``tasks``' answer counts
    (the first ``cap`` rollouts of each, correct strings merged into the correct class).

    Parameters
    ----------
    pool : pandas.DataFrame
        The rollout table.
    tasks : array_like
        The task ids the world is fitted on.
    cap : int
        Votes per task.
    threshold : float, default 0.5
        Success = reward > threshold.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    n_sim : int, default 20000
        Simulated prompts.

    Returns
    -------
    pandas.DataFrame
        Columns rule, metric, predicted.
    """
    from ..worlds.votes import fit_vote_world

    rng = as_generator(rng)
    per_task = _vote_tasks(pool, threshold)
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
