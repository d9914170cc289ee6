"""HORA Table 1: Pass@k improves over compute-matched GRPO in 10 of 12 settings, Pass@1 comparable; judged by the
frontier gain, so that a move along GRPO's own learning-rate trade-off does not count as a gain."""

import numpy as np

from ._harness import (
    CHECK_FRONTIER_LRS,
    EFFECT_FLOOR,
    POLICIES,
    WORLDS,
    Result,
    final_metric,
    frontier_gain_runs,
    paired,
)

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("Across the twelve model-benchmark configurations, HORA improves upon GRPO on ten settings and matches its "
         "performance on one ... HORA preserves the average correctness achieved by standard GRPO.")
SOURCE = "Table 1, Sec. 4.1"
SETTING = ("the training simulator (cluster policy, sampled trajectories, TRL's std-normalised advantages with Dr.GRPO "
           "aggregation, Adam + max grad norm 1, T = 0.7), the 3 x 4 grid: 3 models (Zipf 1.2 / 1.5 / 1.8; the quick "
           "budget runs Zipf 1.5 only) x 4 difficulty worlds; 60 prompts, G = 32, K0 = 8; per setting uniform GRPO "
           f"at learning rates x{', x'.join(f'{m:g}' for m in CHECK_FRONTIER_LRS)} traces the Pass@1-vs-Pass@256 "
           "frontier and HORA's frontier gain is its Pass@256 minus the frontier's at HORA's own Pass@1")
TOLERANCE = (f"a setting is improved when HORA's frontier gain is above both 2 se and the effect floor "
             f"{EFFECT_FLOOR} (half a point: below what a 500-problem benchmark can resolve), decreased when below "
             "minus both, matched otherwise; a setting whose HORA Pass@1 falls outside the frontier's range is "
             "undetermined. Reproduced: >= 10/12 of the settings improved (the same fraction of the quick budget's 4), "
             "at most 1/12 decreased, and |Pass@1 - GRPO's| <= 0.01 in all; partial: >= 7/12 improved")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora", baseline="uniform", shift=0.0):
    """``shift`` (mutation tests only) adds to the arm's Pass@256 before the frontier comparison."""
    policies = POLICIES if full else {"medium": POLICIES["medium"]}
    rows = []
    for pname, zipf in policies.items():
        for wname, world in WORLDS.items():
            g, g_se, used = frontier_gain_runs(full, arm, world, zipf, shift=shift)
            d1, se1 = paired(final_metric(full, arm, "pass@1", world, zipf),
                             final_metric(full, baseline, "pass@1", world, zipf))
            dk, sek = paired(final_metric(full, arm, "pass@256", world, zipf) + shift,
                             final_metric(full, baseline, "pass@256", world, zipf))
            rows.append((pname, wname, g, g_se, used, d1, se1, dk, sek))
    n = len(rows)
    bar = [max(2 * r[3], EFFECT_FLOOR) if np.isfinite(r[3]) else EFFECT_FLOOR for r in rows]
    determined = [r[4] >= 2 for r in rows]
    wins = sum(d and r[2] > b for r, b, d in zip(rows, bar, determined))
    losses = sum(d and r[2] < -b for r, b, d in zip(rows, bar, determined))
    undetermined = n - sum(determined)
    comparable = sum(abs(r[5]) <= 0.01 for r in rows)
    if wins >= np.ceil(10 / 12 * n) and losses <= n // 12 and comparable == n:
        verdict = "reproduced"
    elif wins >= np.ceil(7 / 12 * n):
        verdict = "partial"
    else:
        verdict = "not_reproduced"
    figures = []
    if out is not None:
        figures.append(_plot(rows, out / "hora_table1_passk_gains.png"))
    detail = "; ".join(
        f"{p}/{w}: frontier gain {g:+.4f}±{se:.4f} ({u} reps), raw dPass@256 {dk:+.4f}, dPass@1 {d1:+.4f}"
        for p, w, g, se, u, d1, _, dk, _ in rows
    )
    return Result(
        expected=(
            f">= {int(np.ceil(10 / 12 * n))} of {n} settings with a frontier gain above max(2 se, "
            f"{EFFECT_FLOOR}), at most {n // 12} below, and |dPass@1| <= 0.01 in all {n}"
        ),
        observed=(
            f"{wins}/{n} improved, {n - wins - losses - undetermined} matched, {losses} decreased, "
            f"{undetermined} undetermined; Pass@1 comparable in {comparable}/{n} ({detail})"
        ),
        verdict=verdict,
        details={"wins": wins, "losses": losses, "undetermined": undetermined, "comparable": comparable, "settings": n},
        figures=figures,
    )


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 5))
    labels = [f"{p}\n{w}" for p, w, *_ in rows]
    x = np.arange(len(rows))
    ax.bar(
        x - 0.27, [r[2] for r in rows], 0.27, yerr=[1.96 * r[3] for r in rows], label="frontier gain @256", capsize=2
    )
    ax.bar(x, [r[7] for r in rows], 0.27, yerr=[1.96 * r[8] for r in rows], label="raw dPass@256 vs GRPO", capsize=2)
    ax.bar(x + 0.27, [r[5] for r in rows], 0.27, yerr=[1.96 * r[6] for r in rows], label="dPass@1 vs GRPO", capsize=2)
    ax.axhline(0, color="k", lw=0.8)
    for y in (EFFECT_FLOOR, -EFFECT_FLOOR):
        ax.axhline(y, color="grey", lw=0.8, ls=":")
    ax.set_xticks(x, labels, fontsize=9)
    ax.set_ylabel("HORA minus GRPO (probability, 95% CI)")
    ax.set_xlabel("model (Zipf) / difficulty world")
    ax.set_title("HORA vs compute-matched GRPO per setting: frontier gain (dotted: effect floor) and raw differences")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
