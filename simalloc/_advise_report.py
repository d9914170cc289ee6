"""Files of ``simalloc advise``: report.md, fit.png, allocators.png, pilot_size.png (voting.png), allocation.csv,
results.parquet. Everything is computed before this runs, so a failure never leaves a partial folder of results
from bad input; each file is written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .advise import METRIC_LABELS, METRICS
from .sim.results import atomic_write, write_json


def _figures(adv, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10})
    names = []
    h = adv.histogram
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.bar(h.successes, h.observed, color="0.7", label="observed prompts")
    ax.plot(h.successes, h.beta_binomial, "o-", color="C0", label="fitted Beta-Binomial")
    ax.plot(h.successes, h.mixture2, "s--", color="C3", label="fitted 2-component mixture")
    ax.set_xlabel(f"successes out of {int(h.trials.iloc[0])} rollouts")
    ax.set_ylabel("prompts")
    ax.set_title(f"Pass-count histogram, observed vs fitted ({int(h.observed.sum())} prompts)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fit.png", dpi=110)
    plt.close(fig)
    names.append("fit.png")

    t = adv.allocators
    shown = [m for m in METRICS]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4.4))
    for ax, metric in zip(axes, shown):
        sub = t[t.metric == metric]
        x = np.arange(len(sub))
        ax.bar(x, sub.expected, color=["0.6" if a == "uniform" else "C0" for a in sub.allocator])
        ax.errorbar(x, sub.expected, yerr=[sub.expected - sub.ci_low, sub.ci_high - sub.expected], fmt="none",
                    ecolor="k", capsize=3)
        ax.set_xticks(x, sub.allocator, rotation=35, ha="right")
        ax.set_title(METRIC_LABELS[metric], fontsize=10)
        ax.set_ylabel("share" if metric == "no_signal_share" else "per batch")
    s = adv.settings
    fig.suptitle(f"Expected per batch of {s['n_prompts']} prompts, K0 = {s['k0']}, {s['budget']} extra rollouts "
                 f"(95% bootstrap CI, {s['resamples']} resamples)")
    fig.tight_layout()
    fig.savefig(out / "allocators.png", dpi=110)
    plt.close(fig)
    names.append("allocators.png")

    p = adv.pilot
    if p.empty:
        return names
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric in zip(axes, ("solved", "informative")):
        for name, color in (("uniform", "0.4"), ("hora", "C0")):
            sub = p[(p.metric == metric) & (p.allocator == name)]
            ax.plot(sub.k0, sub.expected, "o-", color=color, label=name)
            ax.fill_between(sub.k0, sub.ci_low, sub.ci_high, color=color, alpha=0.2)
        ax.axvline(s["k0"], color="k", ls=":", label=f"your K0 = {s['k0']}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("pilot rollouts per prompt K0 (rest of the same total as extra budget)")
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.set_title(f"{METRIC_LABELS[metric]} vs pilot size")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "pilot_size.png", dpi=110)
    plt.close(fig)
    names.append("pilot_size.png")

    return names


def _voting_figure(adv, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    if adv.voting is not None:
        v = adv.voting
        votes = v[v.metric == "votes"].set_index("rule")
        acc = v[v.metric == "accuracy"].set_index("rule")
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, rule in enumerate(votes.index):
            ax.errorbar(votes.observed[rule], acc.observed[rule],
                        xerr=[[votes.observed[rule] - votes.ci_low[rule]], [votes.ci_high[rule] - votes.observed[rule]]],
                        yerr=[[acc.observed[rule] - acc.ci_low[rule]], [acc.ci_high[rule] - acc.observed[rule]]],
                        fmt="o", capsize=2, color=f"C{i % 10}", label=rule)
        ax.set_xlabel("votes per prompt")
        ax.set_ylabel("label accuracy (majority answer correct)")
        ax.set_title("Stopping rules replayed on the recorded answers (95% CI)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "voting.png", dpi=110)
        plt.close(fig)
        names.append("voting.png")
    return names


def _md_table(frame, cols, fmt) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame[cols].itertuples(index=False, name=None):
        lines.append("| " + " | ".join(fmt(c, v) for c, v in zip(cols, r)) + " |")
    return lines


def _f(col, v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else (f"{v:.3g}" if col in ("p_value",) else f"{v:.2f}")
    return str(v)


def write_advice(adv, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figures = _figures(adv, out) + _voting_figure(adv, out)
    atomic_write(out / "allocation.csv", lambda p: adv.allocation.to_csv(p, index=False))
    atomic_write(out / "results.parquet", lambda p: adv.results().to_parquet(p, index=False))
    write_json(adv.settings, out / "settings.json")
    s = adv.settings
    t = adv.allocators
    lines = ["# simalloc advise", "", f"Data: `{s['source']}`: {s['n_prompts']} prompts. Plan: K0 = {s['k0']} pilot "
             f"rollouts per prompt, {s['budget']} extra rollouts per batch, allocators' prior "
             f"{'Beta(1, 1)' if s['prior'] == 'uniform' else 'the fitted Beta'}"
             + (f", at most {s['cap']} per prompt" if s["cap"] is not None else "") + f"; objective: {s['objective']}.",
             "", "## Recommendation", "", adv.recommendation, "",
             f"`allocation.csv`: extra rollouts per prompt from **{adv.allocation.allocator.iloc[0]}** on your own "
             f"counts (sums to {int(adv.allocation.extra_rollouts.sum())}).", "",
             "## Difficulty world", "", *_md_table(adv.fits, list(adv.fits.columns), _f), "",
             "The chi-square test compares the pass-count histogram (prompts with the most common trial count) with "
             "each fit; p < 0.01 means the shape is rejected.", "", "![fit](fit.png)", "",
             "## Allocators (expected per batch, 95% bootstrap CI over your prompts)", ""]
    for metric in METRICS:
        sub = t[t.metric == metric].copy()
        sub["CI"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(sub.ci_low, sub.ci_high)]
        sub["vs uniform (CI)"] = [f"{d:+.2f} [{a:+.2f}, {b:+.2f}]" for d, a, b in
                                  zip(sub.vs_uniform, sub.vs_uniform_low, sub.vs_uniform_high)]
        lines += [f"**{METRIC_LABELS[metric]}**", "",
                  *_md_table(sub, ["allocator", "expected", "CI", "vs uniform (CI)", "mixture_expected"], _f), ""]
    lines += ["![allocators](allocators.png)", ""]
    if not adv.pilot.empty:
        lines += ["## Pilot size at a fixed total", "",
                  f"Total rollouts per batch n K0 + budget = {s['n_prompts'] * s['k0'] + s['budget']}; HORA and "
                  "uniform on the rest (no cap).", ""]
        p = adv.pilot.copy()
        p["CI"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(p.ci_low, p.ci_high)]
        lines += _md_table(p, ["allocator", "metric", "k0", "extra_budget", "expected", "CI"], _f)
        for metric in ("solved", "informative"):
            sub = p[(p.metric == metric) & (p.allocator == "hora")]
            best = sub.loc[sub.expected.idxmax()]
            lines += ["", f"With HORA, {METRIC_LABELS[metric]} is largest at K0 = {int(best.k0)} "
                      f"({best.expected:.2f}, CI {best.CI})."]
        lines += ["", "![pilot size](pilot_size.png)", ""]
    if adv.voting is not None:
        v = adv.voting.copy()
        v["CI"] = [f"[{a:.3f}, {b:.3f}]" for a, b in zip(v.ci_low, v.ci_high)]
        lines += ["## Stopping rules on your recorded answers", "",
                  *_md_table(v, ["rule", "metric", "observed", "CI"], _f), "", "![voting](voting.png)", ""]
    atomic_write(out / "report.md", lambda path: path.write_text("\n".join(lines)))
    return out
