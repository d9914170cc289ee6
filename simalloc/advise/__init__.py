"""``simalloc advise``: a practitioner's pass counts (or rollout log) in, a rollout-split recommendation out.

What it computes, for a batch of the user's size (``batch_prompts`` prompts, each with its own pilot size unless
``k0`` is given, ``budget`` extra rollouts, ``cap``):

1. **How the file was read** (``simalloc.logs``): counts or log, columns, prompts, trial counts, duplicates,
   success threshold. Every report starts with it.
2. **The difficulty world**: the Beta-Binomial fit and, as a check on its shape, a two-component mixture, each with
   its log-likelihood, AIC and a chi-square test of the pass-count histogram (prompts with the most common trial
   count; the report says how many of all).
3. **Each allocator's expected metrics per batch** (``simalloc.allocators.metrics``: extra hits, hits on unsolved
   prompts, solved prompts, informative groups, no-signal share, share of prompts given nothing), with every
   allocator on the same draws, so differences from uniform are paired.
4. **Uncertainty**: a percentile bootstrap over the user's prompts (refit, re-simulate): 95% intervals for every
   number and every difference from uniform. They are only as right as the Beta-Binomial shape: the report says
   when the goodness-of-fit test rejects it and shows the mixture's predictions beside it.
5. **Pilot size** at the same total: K0 on a grid with uniform, HORA and the recommended allocator on the rest;
   a K0 is called best only when its paired difference from the others excludes 0.
6. **Voting** (a log with answers): every stopping rule replayed on random orderings of each prompt's answers.

**The data cannot tell** (never a traceback): fewer than ``MIN_PROMPTS`` prompts, a fit that does not converge,
or pass counts without spread beyond binomial noise (one difficulty); the report gives the reason and
``allocation.csv`` keeps uniform groups. Otherwise the recommendation names the objective's meaning, the winner's
gain over uniform with its interval, its cost on every other metric, and the share of prompts it leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..logs import DataRead, ReadSpec, read_data
from ..seeding import as_generator
from .model import (
    ADVICE_OBJECTIVES,
    ADVISE_ALLOCATORS,
    METRIC_LABELS,
    MIN_PROMPTS,
    OBJECTIVE_MEANINGS,
    Plan,
    Worlds,
    allocator_table,
    bootstrap_worlds,
    data_limits,
    estimate_allocators,
    estimate_pilot,
    fit_worlds,
    make_plan,
    pilot_table,
    recommend,
    user_allocation,
)

__all__ = ["Advice", "advise", "pilot_counts", "ADVISE_ALLOCATORS", "ADVICE_OBJECTIVES", "OBJECTIVE_MEANINGS",
           "METRIC_LABELS",
           "MIN_PROMPTS"]



def __getattr__(name):
    """``OBJECTIVES``, renamed ``ADVICE_OBJECTIVES`` in 0.1.0 (it clashed with ``simalloc.OBJECTIVES``), still
    reads, with a DeprecationWarning."""
    if name == "OBJECTIVES":
        import warnings

        warnings.warn("simalloc.advise.OBJECTIVES was renamed ADVICE_OBJECTIVES in 0.1.0", DeprecationWarning,
                      stacklevel=2)
        return ADVICE_OBJECTIVES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: at most this many prompts are replayed for the voting section (a random subset of larger logs)
MAX_VOTE_PROMPTS = 2000


@dataclass
class Advice:
    """What ``advise`` found; ``write(out)`` saves report.md, figures, allocation.csv and results.parquet.

    ``cannot_tell`` lists the reasons the data cannot tell allocators apart (empty when it can); then
    ``allocators`` and ``pilot`` are empty and ``allocation`` keeps uniform groups.

    Attributes
    ----------
    read : DataRead
        How the file was read (``read.summary()``).
    plan : Plan
        The batch size, pilot sizes, budget, caps, objective and prior the advice is for.
    worlds : Worlds
        The fitted difficulty worlds and the fit table.
    allocators : pandas.DataFrame
        Every allocator's expected batch metrics with bootstrap intervals and paired differences from uniform.
    pilot : pandas.DataFrame
        Pilot size at a fixed total, per K0 and allocator.
    voting : pandas.DataFrame or None
        Stopping rules replayed on the log's answers (None without answers).
    allocation : pandas.DataFrame
        Extra rollouts per prompt from the recommended allocator (``allocation.csv``).
    recommendation : str
        The recommendation in one paragraph, with its cost on every metric.
    cannot_tell : list of str
        Why the data cannot tell the allocators apart, if it cannot.
    settings : dict
        The settings used (written to settings.json).
    history : pandas.DataFrame or None
        For a log with a step column: what a prior from each prompt's own history would have changed
        (``simalloc.advise.history.history_table``; history.csv); None otherwise.
    """

    read: DataRead
    plan: Plan
    worlds: Worlds
    allocators: pd.DataFrame
    pilot: pd.DataFrame
    voting: pd.DataFrame | None
    allocation: pd.DataFrame
    recommendation: str
    cannot_tell: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    history: pd.DataFrame | None = None

    @property
    def counts(self) -> pd.DataFrame:
        """Per-prompt ``prompt_id, successes, trials`` as read."""
        return self.read.counts

    @property
    def fits(self) -> pd.DataFrame:
        """The fitted worlds with their goodness of fit."""
        return self.worlds.fits

    def results(self) -> pd.DataFrame:
        """Every number in one long table (section, allocator/rule, metric, k0, expected, ci_low, ci_high)."""
        parts = [self.allocators.assign(section="allocators"), self.pilot.assign(section="pilot_size")]
        if self.voting is not None:
            parts.append(self.voting.rename(columns={"rule": "allocator", "observed": "expected"})
                         .assign(section="voting"))
        return pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
            pd.DataFrame(columns=["section", "allocator", "metric", "expected", "ci_low", "ci_high"])

    def write(self, out) -> Path:
        """Write the report folder and return it: built in a temporary folder beside ``out`` and put in place at
        the end (a failure leaves nothing; a reused folder loses only advise's own previous files)."""
        from .report import write_advice

        return write_advice(self, Path(out))


def advise(data, budget, *, k0=None, cap=None, objective: str = "informative", allocators=ADVISE_ALLOCATORS,
           resamples: int = 200, n_sim: int = 4, rng=0, voting: bool = True, pilot_size: bool = True,
           prior: str = "uniform", batch_prompts=None, columns=None, kind: str = "auto", threshold: float = 0.5,
           sep=None, drop_missing: bool = False, progress: bool = False) -> Advice:
    """Advice for splitting ``budget`` extra rollouts over a batch like the user's prompts (module docstring).

    Parameters
    ----------
    data : path-like or DataFrame
        Per-prompt counts or a per-rollout log: a file, a pool folder, a folder or glob of log files (verl's
        ``trainer.rollout_data_dir``), or a DataFrame (``simalloc.logs.read_data``). A log with two or more steps
        is planned per step: each prompt's pilot is its group in its latest step (``pilot_counts``).
    budget : int
        Extra rollouts per batch, >= 1.
    k0 : int, optional
        Pilot rollouts per prompt to plan for (default: each prompt's own trial count).
    cap : int, optional
        Most extra rollouts one prompt may get (default: no cap).
    objective : {"informative", "solved", "extra_hits", "hits_unsolved"}
        What the recommendation maximises (``OBJECTIVE_MEANINGS``).
    resamples, n_sim : int
        Bootstrap resamples over prompts (>= 20) and simulated batches per resample.
    rng : SPEC 7 seed
    voting, pilot_size : bool
        Replay stopping rules (logs with answers); answer the pilot-size question.
    prior : {"uniform", "fitted"}
        The allocators' Beta prior: Beta(1, 1) (HORA's paper) or the fitted world's (empirical Bayes).
    batch_prompts : int, optional
        Prompts per batch (default: prompts per step of a log with a step column, else all prompts).
    columns, kind, threshold, sep, drop_missing
        How to read ``data`` (``simalloc.logs.ReadSpec``): a ``{role: column}`` dict, "auto" | "counts" | "log",
        success = reward > threshold, the CSV separator, drop rollouts without a reward (else they are refused).
    progress : bool
        Progress bars for reading and the bootstrap.
    """
    read = read_data(data, ReadSpec.of(columns, kind=kind, threshold=threshold, sep=sep, drop_missing=drop_missing),
                     progress=progress)
    if batch_prompts is None and read.groups is not None:
        batch_prompts = int(read.groups.groupby("step").prompt_id.nunique().median())
    counts = pilot_counts(read)
    plan = make_plan(counts, budget, k0=k0, cap=cap, objective=objective, prior=prior, allocators=allocators,
                     resamples=resamples, n_sim=n_sim, batch_prompts=batch_prompts)
    rng = as_generator(rng)
    s, t = counts.successes.to_numpy(), counts.trials.to_numpy()
    problems = data_limits(counts)
    worlds = Worlds() if problems else fit_worlds(s, t, rng)
    problems += [worlds.problem] if worlds.problem else []
    votes = _voting(read, plan, rng) if voting else None
    if problems:
        text = "The data cannot tell allocators apart: " + "; ".join(problems) + ". Keep uniform groups."
        return _finish(read, plan, worlds, pd.DataFrame(), pd.DataFrame(), votes, "uniform", text, problems, rng)
    boot, failed = bootstrap_worlds(s, t, plan.resamples, rng, progress)
    if failed > plan.resamples // 10:
        text = (f"The data cannot tell allocators apart: the difficulty fit failed in {failed} of {plan.resamples} "
                "bootstrap resamples. Keep uniform groups.")
        return _finish(read, plan, worlds, pd.DataFrame(), pd.DataFrame(), votes, "uniform", text, [text], rng)
    table = allocator_table(estimate_allocators(worlds, boot, plan, rng), plan)
    chosen, text = recommend(table, plan, worlds.fits, votes)
    pilot = pd.DataFrame()
    if pilot_size:
        grid = sorted({g for g in (1, 2, 4, 8, 16, 32, 64) if g < plan.trials.mean() + plan.budget / plan.batch_prompts}
                      | {int(round(plan.trials.mean()))})
        allocs = tuple(dict.fromkeys(("uniform", "hora", chosen)))  # the recommended allocator on every panel
        pilot = pilot_table(estimate_pilot(worlds.beta, boot, plan, grid, allocs, rng), plan, grid, allocs)
    return _finish(read, plan, worlds, table, pilot, votes, chosen, text, [], rng, failed)


def pilot_counts(read: DataRead) -> pd.DataFrame:
    """The pilot ``advise`` plans from: per prompt, its counts in its latest step for a log with two or more steps
    (a group the trainer actually ran: its group size is the pilot size), else its counts as read.

    Pooling a prompt's steps into one pilot would plan for group sizes the trainer never runs (8 rollouts per
    step over 20 steps is not a pilot of 160); what the earlier steps say about a prompt is the history
    section's question (``simalloc.advise.history``).

    Parameters
    ----------
    read : DataRead
        What ``simalloc.logs.read_data`` read.

    Returns
    -------
    pandas.DataFrame
        prompt_id, successes, trials, in the order of ``read.counts``; with steps, also ``step`` (the latest step
        of each prompt).
    """
    if read.groups is None:
        return read.counts
    latest = read.groups.groupby("prompt_id", sort=False).tail(1).set_index("prompt_id")
    latest = latest.loc[read.counts.prompt_id].reset_index()
    return latest[["prompt_id", "step", "successes", "trials"]]


def _voting(read: DataRead, plan: Plan, rng):
    pool = read.rollouts
    if pool is None or pool.answer.isna().all() or read.counts.trials.min() < 4:
        return None
    from ..stopping.replay import replay_voting

    n = len(read.counts)
    tasks = np.sort(rng.choice(n, MAX_VOTE_PROMPTS, replace=False)) if n > MAX_VOTE_PROMPTS else None
    return replay_voting(pool, plan.resamples, read.info["threshold"], rng, tasks=tasks, orderings=40)


def _finish(read, plan, worlds, table, pilot, votes, chosen, text, problems, rng, failed: int = 0) -> Advice:
    allocation = user_allocation(pilot_counts(read), plan, chosen, worlds.beta, rng)
    from .history import history_table

    history = history_table(read.rollouts, plan.budget / plan.batch_prompts, read.info.get("threshold", 0.5))
    settings = {"n_prompts": plan.n_prompts, "batch_prompts": plan.batch_prompts, "budget": plan.budget,
                "k0": plan.k0_label, "cap": plan.cap, "objective": plan.objective, "prior": plan.prior,
                "allocators": list(plan.allocators), "resamples": plan.resamples, "n_sim": plan.n_sim,
                "failed_resamples": failed, "world": worlds.fits.parameters.iloc[0] if len(worlds.fits) else None,
                "source": read.info["source"], "read": read.summary(), "recommended": chosen,
                "vote_prompts": min(len(read.counts), MAX_VOTE_PROMPTS),
                "steps": read.info.get("steps", 0) if read.groups is not None else 0,
                "pilot": (f"each prompt's group in its latest step (of {read.info['steps']} steps)"
                          if read.groups is not None else "each prompt's counts as read")}
    return Advice(read, plan, worlds, table, pilot, votes, allocation, text, problems, settings, history)
