"""Sim-vs-live validation: fit the simulator's world to a model's measured pass counts, predict, then observe.

1. Measure: ``samples`` completions per task give pass counts (successes, trials) -> ``counts.csv``.
2. Fit: the empirical world of those counts (each prompt's Jeffreys posterior) and a Beta-Binomial MLE.
3. Allocation, predicted vs observed at the same budget (pilot K0, G rollouts per prompt on average):
   hits on s = 0 prompts (prompts whose pilot failed and whose extra rollouts found a success) and the share
   of informative groups, for uniform and hora. Predictions are exact expectations in the fitted world,
   averaged over Monte Carlo pilots; observations share one real pilot across both allocators.
4. Voting, predicted vs observed: votes spent and label accuracy of BSPRT and of fixed-``votes`` majority.
   Predictions run the stopping kernels on the measured answer distributions; observations read real votes.
Writes ``report.md`` (predicted and observed side by side), ``figure.png`` and ``results.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..allocators import allocate
from ..seeding import as_seed_sequence
from ..sim.outcomes import allocation_outcomes
from ..stopping import make_rule, run_rule
from ..worlds import EmpiricalWorld, fit_beta_binomial
from .loop import vote_with_rule
from .tasks import Task, answers_equivalent, extract_answer, verify

__all__ = ["validate"]


def _predict_allocation(world: EmpiricalWorld, n, k0, group_size, reps, rng):
    out = {}
    budget = n * (group_size - k0)
    for name in ("uniform", "hora"):
        hits, info = [], []
        r = np.random.default_rng(rng)
        for _ in range(reps):
            p = world.sample(n, r)
            s = r.binomial(k0, p)
            alloc = allocate(name, s, k0, budget, rng=r)
            hit, informative = allocation_outcomes(p, s, k0, alloc)
            hits.append(float(hit[s == 0].sum()))
            info.append(float(informative.mean()))
        out[name] = {"hits_s0": float(np.mean(hits)), "informative_share": float(np.mean(info))}
    return out


def _answer_distributions(answers_per_task, tasks, max_classes=4):
    """Empirical answer distributions with the correct answer in column 0 (add-0.5 smoothing; K <= 4)."""
    rows = []
    for answers, task in zip(answers_per_task, tasks):
        ok = [answers_equivalent(a, task.answer) for a in answers]
        correct = sum(ok)
        wrong = pd.Series([a for a, good in zip(answers, ok) if not good]).value_counts().tolist()
        counts = [correct] + (wrong + [0] * max_classes)[: max_classes - 1]
        v = np.asarray(counts, dtype=float) + 0.5
        rows.append(v / v.sum())
    return np.array(rows)


def validate(engine, tasks: list[Task], out, *, samples=8, k0=4, group_size=8, votes=32, vote_tasks=8, rng=None,
             progress=True) -> Path:
    """Simulator predictions vs one live pilot (see the module docstring); ``rng`` (SPEC 7) seeds the
    simulations (the engine has its own seed).

    Parameters
    ----------
    engine : Engine
        Samples the pilot.
    tasks : list of Task
        The questions.
    out : path-like
        Where report.md and the tables go.
    samples, k0, group_size : int
        Rollouts per task, the pilot size and the mean group size compared.
    votes, vote_tasks : int
        Votes per task and tasks for the voting comparison.
    rng : None, int, SeedSequence or Generator
        Seeds the simulations.
    progress : bool, default True
        Show progress bars.

    Returns
    -------
    Path
        The report.
    """
    if not 0 < k0 <= group_size:
        raise ValueError(f"k0: need 0 < k0 <= group_size = {group_size}, got {k0}")
    if samples < 2 or votes < 2:
        raise ValueError(f"samples, votes: need >= 2, got {samples}, {votes}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pred_ss, rule_ss, sim_ss = as_seed_sequence(rng).spawn(3)
    rng = np.random.default_rng(sim_ss)
    t0 = time.perf_counter()
    prompts = [t.prompt() for t in tasks]
    measured = engine.generate(prompts, [samples] * len(tasks))
    rewards = [[verify(c.text, t.answer) for c in g] for g, t in zip(measured, tasks)]
    answers = [[extract_answer(c.text) or "<none>" for c in g] for g in measured]
    s = np.array([int(sum(r)) for r in rewards])
    pd.DataFrame({"question": [t.question for t in tasks], "successes": s, "trials": samples}).to_csv(
        out / "counts.csv", index=False
    )
    measure_seconds = time.perf_counter() - t0
    world = EmpiricalWorld(s, np.full(s.size, samples), "measured")
    try:
        beta = fit_beta_binomial(s, np.full(s.size, samples))
        beta_fit = {"a": beta.a, "b": beta.b}
    except (RuntimeError, ValueError) as exc:
        beta_fit = {"error": str(exc)}
    predicted = _predict_allocation(world, len(tasks), k0, group_size, 2000, pred_ss)

    # observed allocation: one real pilot shared by both allocators, then each allocator's extra rollouts
    pilot = engine.generate(prompts, [k0] * len(tasks))
    ps = np.array([int(sum(verify(c.text, t.answer) for c in g)) for g, t in zip(pilot, tasks)])
    observed = {}
    t1 = time.perf_counter()
    n_rollouts = k0 * len(tasks)
    for name in ("uniform", "hora"):
        alloc = allocate(name, ps, k0, len(tasks) * (group_size - k0), rng=rng)
        extra = engine.generate(prompts, alloc.tolist())
        n_rollouts += int(alloc.sum())
        er = np.array([int(sum(verify(c.text, t.answer) for c in g)) for g, t in zip(extra, tasks)])
        tot, size = ps + er, k0 + alloc
        observed[name] = {
            "hits_s0": int(((ps == 0) & (er > 0)).sum()),
            "informative_share": float(np.mean((tot > 0) & (tot < size))),
            "budget_share_s0": float(alloc[ps == 0].sum() / max(alloc.sum(), 1)),
        }
    alloc_seconds = time.perf_counter() - t1

    # voting
    vt = tasks[:vote_tasks]
    probs = _answer_distributions(answers[:vote_tasks], vt)
    sim_b = run_rule(make_rule("bsprt", cap=votes), np.repeat(probs, 500, axis=0), rng=np.random.default_rng(rule_ss))
    sim_f = run_rule(make_rule("fixed", n=votes), np.repeat(probs, 500, axis=0), rng=np.random.default_rng(rule_ss))
    live_votes = vote_with_rule(engine, vt, "bsprt", max_votes=votes, cap=votes)
    voting = {
        "predicted": {
            "bsprt_votes": float(sim_b["votes"].mean()),
            "bsprt_accuracy": float(sim_b["correct"].mean()),
            "fixed_accuracy": float(sim_f["correct"].mean()),
        },
        "observed": {
            "bsprt_votes": float(live_votes.votes.mean()),
            "bsprt_accuracy": float(live_votes.correct.mean()),
            "fixed_accuracy": float(live_votes.correct_fixed.mean()),
        },
    }
    result = {
        "n_tasks": len(tasks),
        "samples": samples,
        "k0": k0,
        "group_size": group_size,
        "votes": votes,
        "vote_tasks": len(vt),
        "pass_rate": float(s.sum() / (samples * len(tasks))),
        "pass_count_histogram": np.bincount(s, minlength=samples + 1).tolist(),
        "beta_binomial_fit": beta_fit,
        "allocation": {"predicted": predicted, "observed": observed},
        "voting": voting,
        "rollouts_per_s": (samples * len(tasks)) / measure_seconds,
        "seconds": {"measure": measure_seconds, "allocation": alloc_seconds, "total": time.perf_counter() - t0},
        "allocation_rollouts": n_rollouts,
    }
    (out / "results.json").write_text(json.dumps(result, indent=2))
    _figure(result, out / "figure.png")
    _report(result, out / "report.md")
    return out


def _figure(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].bar(range(len(res["pass_count_histogram"])), res["pass_count_histogram"])
    axes[0].set_title(f"measured pass counts (of {res['samples']})")
    for ax, key in zip(axes[1:], ["hits_s0", "informative_share"]):
        x = np.arange(2)
        pred = [res["allocation"]["predicted"][a][key] for a in ("uniform", "hora")]
        obs = [res["allocation"]["observed"][a][key] for a in ("uniform", "hora")]
        ax.bar(x - 0.2, pred, 0.4, label="predicted (simulator)")
        ax.bar(x + 0.2, obs, 0.4, label="observed (live)")
        ax.set_xticks(x, ["uniform", "hora"])
        ax.set_title(key)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _report(res, path):
    a, v = res["allocation"], res["voting"]
    lines = [
        "# simalloc live validation",
        "",
        f"{res['n_tasks']} tasks, {res['samples']} samples each to measure pass counts (mean pass rate "
        f"{res['pass_rate']:.3f}); allocation at pilot K0 = {res['k0']}, G = {res['group_size']}; voting with up to "
        f"{res['votes']} votes on {res['vote_tasks']} tasks. Beta-Binomial fit: {res['beta_binomial_fit']}.",
        "",
        f"Pass-count histogram (0..{res['samples']}): {res['pass_count_histogram']}",
        "",
        "## Allocation: predicted (fitted world) vs observed (live)",
        "",
        "| allocator | hits on s=0, predicted | observed | informative share, predicted | observed |",
        "|---|---|---|---|---|",
    ]
    for name in ("uniform", "hora"):
        lines.append(
            f"| {name} | {a['predicted'][name]['hits_s0']:.2f} | {a['observed'][name]['hits_s0']} | "
            f"{a['predicted'][name]['informative_share']:.3f} | "
            f"{a['observed'][name]['informative_share']:.3f} |"
        )
    lines += [
        "",
        "## Voting: BSPRT vs fixed majority",
        "",
        "| quantity | predicted | observed |",
        "|---|---|---|",
        f"| BSPRT votes per task (fixed: {res['votes']}) | {v['predicted']['bsprt_votes']:.1f} | "
        f"{v['observed']['bsprt_votes']:.1f} |",
        f"| BSPRT label accuracy | {v['predicted']['bsprt_accuracy']:.3f} | {v['observed']['bsprt_accuracy']:.3f} |",
        f"| fixed-{res['votes']} label accuracy | {v['predicted']['fixed_accuracy']:.3f} | "
        f"{v['observed']['fixed_accuracy']:.3f} |",
        "",
        f"Throughput: {res['rollouts_per_s']:.1f} rollouts/s while measuring; times {res['seconds']}.",
        "",
        "![figure](figure.png)",
        "",
    ]
    path.write_text("\n".join(lines))
