"""Files of ``simalloc advise``: report.md (starting with how the file was read), fit.png, allocators.png,
pilot_size.png, voting.png, allocation.csv, results.parquet, settings.json, history.csv (``ADVICE_FILES``).

Everything is computed before this runs, and the folder is built beside ``out`` in a temporary folder that takes
its place at the end: a failure leaves nothing (and a reused folder as it was). A reused ``out`` loses this tool's
previous outputs (only the files in ``ADVICE_FILES``: a figure of the previous data set never sits beside the new
report); other files in it are left alone."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..allocators.metrics import BATCH_METRICS
from ..io import _umask, atomic_write, write_json
from ..plotting import color_of, interval_err, use_agg
from .evidence import evidence_lines
from .model import METRIC_LABELS, plain_number
from .regime import regime_hint, regime_lines

__all__ = ["write_advice", "ADVICE_FILES"]

#: every file ``write_advice`` may write; a reused output folder is cleared of these (and only these)
ADVICE_FILES = ("report.md", "fit.png", "allocators.png", "pilot_size.png", "voting.png", "allocation.csv",
                "results.parquet", "settings.json", "history.csv")

_UNITS = {"no_signal_share": "share of groups", "zero_extra_share": "share of prompts"}


def _fit_figure(adv, out: Path) -> str | None:
    h = adv.worlds.histogram
    if h.empty:
        return None
    plt = use_agg()
    tm, at_tm, n = adv.worlds.histogram_prompts
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.bar(h.successes, h.observed, color="0.75", label="observed prompts")
    ax.plot(h.successes, h.beta_binomial, "o-", color="#0072B2", label="fitted Beta-Binomial")
    if "mixture2" in h:
        ax.plot(h.successes, h.mixture2, "s--", color="#D55E00", label="fitted 2-component mixture")
    ax.set_xlabel(f"successes out of {tm} rollouts")
    ax.set_ylabel("prompts")
    ax.set_title(f"Pass counts, observed vs fitted ({at_tm} of {n} prompts: those with {tm} rollouts)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fit.png", dpi=110)
    plt.close(fig)
    return "fit.png"


def _allocator_figure(adv, out: Path) -> str | None:
    """Paired differences from uniform with 95% intervals, one panel per metric; the recommended allocator bold."""
    t = adv.allocators
    if t.empty:
        return None
    plt = use_agg()
    chosen = adv.settings["recommended"]
    others = [a for a in adv.plan.allocators if a != "uniform"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    for ax, metric in zip(axes.ravel(), BATCH_METRICS):
        sub = t[t.metric == metric].set_index("allocator").loc[others]
        y = np.arange(len(others))[::-1]
        ax.barh(y, sub.vs_uniform, color=[color_of(a) for a in others], alpha=0.85)
        ax.errorbar(sub.vs_uniform, y, xerr=interval_err(sub.vs_uniform, sub.vs_uniform_low, sub.vs_uniform_high),
                    fmt="none", ecolor="k", capsize=3)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, [f"{a} *" if a == chosen else a for a in others])
        for label in ax.get_yticklabels():
            label.set_fontweight("bold" if label.get_text() == f"{chosen} *" else "normal")
        u = t[(t.metric == metric) & (t.allocator == "uniform")].expected.iloc[0]
        ax.set_title(f"{METRIC_LABELS[metric]}\n(uniform: {plain_number(u)})", fontsize=10)
        ax.set_xlabel(f"difference from uniform ({_UNITS.get(metric, 'per batch')})")
    s = adv.settings
    fig.suptitle(f"Each allocator minus uniform, paired on the same simulated batches (95% bootstrap CI, "
                 f"{s['resamples']} resamples); batch of {s['batch_prompts']} prompts, K0 = {s['k0']}, "
                 f"{s['budget']} extra rollouts; * recommended")
    fig.tight_layout()
    fig.savefig(out / "allocators.png", dpi=110)
    plt.close(fig)
    return "allocators.png"


def _pilot_figure(adv, out: Path) -> str | None:
    p = adv.pilot
    if p.empty:
        return None
    plt = use_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, metric in zip(axes, ("solved", "informative")):
        for name in p.allocator.unique():
            sub = p[(p.metric == metric) & (p.allocator == name)]
            ax.plot(sub.k0, sub.expected, "o-", color=color_of(name), label=name)
            ax.fill_between(sub.k0, sub.ci_low, sub.ci_high, color=color_of(name), alpha=0.12)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(p.k0.unique()), [str(int(k)) for k in sorted(p.k0.unique())])
        ax.set_xlabel("pilot rollouts per prompt K0 (the rest of the same total as extra budget)")
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.set_title(f"{METRIC_LABELS[metric]} vs pilot size")
        ax.legend()
    fig.suptitle(f"Pilot size at {adv.settings['batch_prompts']} prompts per batch and a fixed total of rollouts\n"
                 "(bands: 95% bootstrap CI of each value; report.md gives the paired differences between K0s)")
    fig.tight_layout()
    fig.savefig(out / "pilot_size.png", dpi=110)
    plt.close(fig)
    return "pilot_size.png"


def _voting_figure(adv, out: Path) -> str | None:
    """Votes per prompt and accuracy change from the fixed vote, one row per rule (no overlapping markers)."""
    v = adv.voting
    if v is None:
        return None
    plt = use_agg()
    votes = v[v.metric == "votes"].set_index("rule").sort_values("observed")
    acc = v[v.metric == "accuracy"].set_index("rule").loc[votes.index]
    fixed = next(r for r in votes.index if r.startswith("fixed"))
    y = np.arange(len(votes))
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.32 * len(votes) + 1.8), sharey=True)
    axes[0].barh(y, votes.observed, color="#0072B2", alpha=0.8)
    axes[0].errorbar(votes.observed, y, xerr=interval_err(votes.observed, votes.ci_low, votes.ci_high),
                     fmt="none", ecolor="k", capsize=2)
    axes[0].set_yticks(y, votes.index, fontsize=8)
    axes[0].set_xlabel("votes per prompt (95% CI)")
    d = v[v.metric == "accuracy_vs_fixed"].set_index("rule").loc[votes.index]
    axes[1].errorbar(d.observed, y, xerr=interval_err(d.observed, d.ci_low, d.ci_high), fmt="o", color="#D55E00",
                     capsize=2)
    axes[1].axvline(0, color="k", lw=0.8)
    axes[1].set_xlabel(f"label accuracy minus {fixed}'s ({acc.observed[fixed]:.3f}), paired 95% CI")
    fig.suptitle(f"Stopping rules replayed on the recorded answers ({adv.settings['vote_prompts']} prompts)")
    fig.tight_layout()
    fig.savefig(out / "voting.png", dpi=110)
    plt.close(fig)
    return "voting.png"


def _md_table(frame, cols, fmt) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame[cols].itertuples(index=False, name=None):
        lines.append("| " + " | ".join(fmt(c, v) for c, v in zip(cols, r)) + " |")
    return lines


def _f(col, v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else (f"{v:.3g}" if col in ("p_value",) else f"{v:.2f}")
    return str(v)


def _pilot_lines(adv) -> list[str]:
    p = adv.pilot.copy()
    s = adv.settings
    p["CI"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(p.ci_low, p.ci_high)]
    bp = s["batch_prompts"]
    total = int(p.extra_budget.iloc[0] + p.k0.iloc[0] * bp)
    sims = max(4 * s["n_sim"], 32)
    lines = ["## Pilot size at a fixed total", "",
             f"Rollouts per batch kept fixed at {total:,} (the plan's pilot and extra budget); each K0 gives the "
             f"rest, {total:,} - K0 x {bp}, to the allocator. Each value is the mean of {sims} simulated batches "
             "drawn apart from the allocator table's, so a K0 equal to the plan's can differ from that table by "
             "Monte Carlo noise (a few units per batch of a few hundred prompts): compare K0s within this table.",
             "", *_md_table(p, ["allocator", "metric", "k0", "extra_budget", "expected", "CI"], _f)]
    for (name, metric), sub in p.groupby(["allocator", "metric"], sort=False):
        best = sub.loc[sub.expected.idxmax()]
        tied = sub[(sub.k0 != best.k0) & (sub.vs_best_high >= 0)].k0.astype(int).tolist()
        tail = (f"; K0 = {', '.join(map(str, tied))} {'is' if len(tied) == 1 else 'are'} within noise of it (paired "
                "95% interval of the difference includes 0)") if tied else "; every other K0 is lower (paired 95% CI)"
        lines += ["", f"With {name}, {METRIC_LABELS[metric]} is highest at K0 = {int(best.k0)} "
                      f"({best.expected:.2f}, CI {best.CI}){tail}."]
    return lines + ["", "![pilot size](pilot_size.png)", ""]


def _history_lines(h, budget, batch_prompts) -> list[str]:
    """The "history across steps" section (``simalloc.advise.history``)."""
    if not (h.with_history > 0).any() or h.logpred_gain.isna().all():
        return ["## A prior from each prompt's history (your log has a step column)", "",
                f"No prompt seen in two steps (over {int(h.steps.iloc[0])} steps): a prior from a prompt's own "
                "history has nothing to go on here, so the allocators keep HORA's flat prior. This is what a log "
                "keyed by a per-batch id (verl's `uid`) or a run shorter than an epoch looks like; key it by the "
                "prompt (its text or a dataset index) to compare the history prior.", ""]
    h = h.copy()
    h["predictive gain (nats / rollout)"] = [f"{g:+.4f} +- {se:.4f}" if np.isfinite(se) else f"{g:+.4f}"
                                             for g, se in zip(h.logpred_gain, h.logpred_gain_se)]
    h["budget moved"] = [f"{m:.1%} +- {se:.1%}" if np.isfinite(se) else f"{m:.1%}"
                         for m, se in zip(h.budget_moved, h.budget_moved_se)]
    h["prompt-steps with history"] = [f"{w:.0%}" for w in h.with_history]
    lines = ["## A prior from each prompt's history (your log has a step column)", "",
             f"Over {int(h.steps.iloc[0])} steps, each prompt's counts at a step were compared with a Beta prior built "
             "from its earlier steps (decay 1: nothing forgotten; 0.5: MoPPS's) and with HORA's flat Beta(1, 1). "
             "Predictive gain: how much better (+) or worse (-) the history predicted the step's outcomes, in nats "
             f"per rollout (se over steps). Budget moved: the share of HORA's {budget} extra rollouts per "
             f"{batch_prompts} prompts that the history prior would have sent to other prompts.", "",
             *_md_table(h, ["decay", "prompt-steps with history", "predictive gain (nats / rollout)", "budget moved"],
                        _f), ""]
    best = h.loc[h.logpred_gain.idxmax()]
    if best.logpred_gain > 2 * (best.logpred_gain_se if np.isfinite(best.logpred_gain_se) else np.inf):
        lines += [f"The history predicts your prompts better than the flat prior (decay {best.decay:g}): "
                  "`simalloc.Planner(decay=...)` with `allocate(..., history_prior=True)` uses it.", ""]
    else:
        lines += ["The history does not predict your prompts better than the flat prior (the policy moves faster "
                  "than the history forgets, or prompts rarely repeat): keep HORA's flat prior.", ""]
    return lines


def write_advice(adv, out: Path) -> Path:
    """Write every file of the report into a temporary folder beside ``out``, then put it in place (module
    docstring); returns ``out``.

    Parameters
    ----------
    adv : Advice
        What ``advise`` found.
    out : Path
        The folder: report.md, fit.png, allocators.png, pilot_size.png, voting.png, allocation.csv,
        results.parquet, settings.json, history.csv (those that apply).

    Returns
    -------
    Path
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} is a file, not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: the folder gets a normally created one's mode
        _write_files(adv, tmp)
        _put_in_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _put_in_place(tmp: Path, out: Path) -> None:
    """``tmp`` becomes ``out``: one rename when ``out`` is missing or empty; else this tool's previous files in
    ``out`` are removed and the new ones moved in one by one (each rename atomic, report.md last)."""
    try:
        os.replace(tmp, out)  # atomic; replaces an empty folder
        return
    except OSError:
        if not out.is_dir() or not any(out.iterdir()):
            raise
    new = {f.name for f in tmp.iterdir()}
    for name in ADVICE_FILES:
        if name not in new and (out / name).is_file():
            (out / name).unlink()
    for name in sorted(new, key=lambda n: n == "report.md"):
        os.replace(tmp / name, out / name)
    tmp.rmdir()


def _allocation_lines(adv) -> list[str]:
    """What ``allocation.csv`` holds, and its share of prompts given nothing beside the table's expectation."""
    s, a = adv.settings, adv.allocation
    sizes = a.group_size
    text = (f"`allocation.csv`: extra rollouts per prompt from **{s['recommended']}** on your own counts"
            + (" (each prompt's latest group)" if s.get("steps") else "") + f", summing to "
            f"{int(a.extra_rollouts.sum()):,}"
            + (f" (the per-batch budget scaled to all {s['n_prompts']:,} prompts)" if s["batch_prompts"] !=
               s["n_prompts"] else "")
            + f"; `group_size` is the next step's group, the pilot K0 plus the extra rollouts ({int(sizes.min())} to "
            f"{int(sizes.max())}, mean {sizes.mean():.1f}). It gives no extra rollout to "
            f"{np.mean(a.extra_rollouts == 0):.0%} of its prompts")
    t = adv.allocators
    row = t[(t.allocator == s["recommended"]) & (t.metric == "zero_extra_share")] if not t.empty else t
    text += (f" (the allocator table's expectation for a batch: {row.expected.iloc[0]:.0%})." if len(row) else ".")
    observed = a.trials.to_numpy()
    if (observed != adv.plan.trials).any():
        text += (f" Your counts come from groups of {_span(observed)} rollouts, not the planned K0 = {s['k0']}: the "
                 "extra rollouts are allocated on the counts you have, so this file and the tables above (planned "
                 "for pilots of K0) need not agree.")
    return [text, ""]


def _span(values) -> str:
    lo, hi = int(np.min(values)), int(np.max(values))
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def _write_files(adv, out: Path) -> None:
    for fig in (_fit_figure, _allocator_figure, _pilot_figure, _voting_figure):
        fig(adv, out)
    atomic_write(out / "allocation.csv", lambda p: adv.allocation.to_csv(p, index=False))
    atomic_write(out / "results.parquet", lambda p: adv.results().to_parquet(p, index=False))
    write_json(adv.settings, out / "settings.json")
    s = adv.settings
    lines = ["# simalloc advise", "", "## How your file was read", "", adv.read.summary(), "",
             f"Plan: batches of {s['batch_prompts']:,} prompts, pilot K0 = {s['k0']}, {s['budget']:,} extra rollouts "
             f"per batch, allocators' prior {'Beta(1, 1)' if s['prior'] == 'uniform' else 'the fitted Beta'}"
             + (f", at most {s['cap']} per prompt" if s["cap"] is not None else "") + f"; objective: {s['objective']}."
             + (f" The pilot is {s['pilot']}: the group the trainer ran, so K0 is its group size; what earlier "
                "steps say about a prompt is the history section's question." if s.get("steps") else ""),
             "", "## Recommendation", "", adv.recommendation, "", *_allocation_lines(adv)]
    lines += evidence_lines(adv.plan.allocators)
    if not adv.fits.empty:
        tm, at_tm, n = adv.worlds.histogram_prompts
        lines += ["## Difficulty world", "", *_md_table(adv.fits, list(adv.fits.columns), _f), "",
                  f"Both worlds are fitted on all {n} prompts; the chi-square test compares the pass-count histogram "
                  f"of the {at_tm} prompts with {tm} rollouts (the most common count) with each fit; p < 0.01 means "
                  "the shape is rejected.", "", "![fit](fit.png)", ""]
    if not adv.allocators.empty:
        lines += ["## Allocators (expected per batch, 95% bootstrap CI over your prompts)", ""]
        if s["failed_resamples"]:
            lines += [f"{s['failed_resamples']} of {s['resamples']} bootstrap refits did not converge and were "
                      "skipped.", ""]
        for metric in BATCH_METRICS:
            sub = adv.allocators[adv.allocators.metric == metric].copy()
            sub["CI"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(sub.ci_low, sub.ci_high)]
            sub["vs uniform (paired CI)"] = [f"{d:+.2f} [{a:+.2f}, {b:+.2f}]" for d, a, b in
                                             zip(sub.vs_uniform, sub.vs_uniform_low, sub.vs_uniform_high)]
            lines += [f"**{METRIC_LABELS[metric]}**", "",
                      *_md_table(sub, ["allocator", "expected", "CI", "vs uniform (paired CI)", "mixture_expected"],
                                 _f), ""]
        lines += ["![allocators](allocators.png)", ""]
    if not adv.pilot.empty:
        lines += _pilot_lines(adv)
    lines += regime_lines(regime_hint(adv.read.rollouts, adv.read.info.get("threshold", 0.5)))
    if adv.history is not None:
        atomic_write(out / "history.csv", lambda p: adv.history.to_csv(p, index=False))
        lines += _history_lines(adv.history, s["budget"], s["batch_prompts"])
    if adv.voting is not None:
        v = adv.voting.copy()
        v["CI"] = [f"[{a:.3f}, {b:.3f}]" for a, b in zip(v.ci_low, v.ci_high)]
        lines += ["## Stopping rules on your recorded answers", "",
                  f"Replayed on {s['vote_prompts']} prompts' recorded answers (random orderings).", "",
                  *_md_table(v, ["rule", "metric", "observed", "CI"], _f), "", "![voting](voting.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
