"""HORA vs GRPO on a real network: the flagship comparison in the lab (``simalloc.lab``).

A ~133,000-parameter decoder-only transformer, warm-started to a spread of pass rates on chained modular
arithmetic (levels: taught, noisy teacher, misconception), trained by the live mode's torch GRPO step (AdamW at
1e-3, TRL's std-normalised group advantages, Dr.GRPO's aggregation, max grad norm 1.0, temperature 1) for 200
steps of 64 prompts x 16 rollouts on average, pilot K0 = 4, Phase B in 4 shards of 16 prompts.

Arms: uniform (GRPO), hora, hora_placebo (HORA's group sizes permuted within each shard), knapsack, informative,
dapo (the allocator), hard_first; controls in the same run on common random numbers: ``uniform:x2`` (twice the
rollouts per step at the same learning rate: the positive control of "more signal per step") and
``uniform:lr0.5`` (a point of the frontier: the negative control, its frontier gain must be ~0); ``hora:truth``
(HORA with the exact pass rates, ``answer_distribution``'s, in place of its pilot), ``dapo_dynamic`` (DAPO's
dynamic sampling, refilled as DAPO does), the budget ladder ``uniform:x0.5`` / ``uniform:x4`` (each rung also at
the frontier's rates of ``LADDER_GRID``, for the tuned read) and the
entropy-matched controls ``uniform:temp1.5`` / ``uniform:temp2``. The frontier is
uniform GRPO at learning rates x0.1 ... x2; each arm's frontier gain is its Pass@256 minus the frontier's Pass@256
at the arm's own Pass@1 on the held-out eval set (per replicate, se over replicates), as in the simulator's
studies (one implementation). A second held-out set ("hard": only the noisy-teacher and misconception levels)
gets its own frontier gain. Besides the simulator's summary the lab records, per arm, the gradient
signal-to-noise ratio from per-group gradients, Pass@1 by level (or v2 family), and the breakthroughs: the share of
runs whose level / family Pass@1 crosses 0.5 and the Kaplan-Meier median step (``breakthrough_share@<family>``,
``breakthrough_step@<family>``; ``simalloc.lab.breakthrough``) (``summary.csv``, ``replicates.csv``, ``lab.png``).

``--set task=<spec>`` runs another task (``simalloc.lab.spec``: e.g. ``narrowing``, ``taught+expanding``,
``narrowing:0.5+expanding:0.3+unreachable:0.2``); the default ``turn3`` is the committed study's task.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from simalloc.io import write_table
from simalloc.lab import LabConfig, warm_start
from simalloc.lab.batched import train_lab_shard
from simalloc.lab.breakthrough import breakthrough_rows
from simalloc.train import TrainingStudyArgs, arm_shards, batch_shards, finalize_training
from simalloc.train.analysis import SummaryRows
from simalloc.train.arms import BUDGET_LADDER, ORACLE_HORA, TEMPERATURE_CONTROLS, ladder_arms

# "dapo" here is the allocator (the study means it); parse_arm's rename notice is for old dynamic-sampling configs
warnings.filterwarnings("ignore", message="arm 'dapo'", category=FutureWarning)


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", ORACLE_HORA, "hora_placebo", "knapsack", "informative", "dapo", "hard_first",
                   "dapo_dynamic", "uniform:x2", "uniform:lr0.5", "uniform:lr0.35", "uniform:lr0.85", *BUDGET_LADDER,
                   *ladder_arms(), *TEMPERATURE_CONTROLS)
    n_reps: int = 4
    frontier_lrs: tuple = (0.1, 0.25, 0.5, 0.7, 1.4, 2.0)
    train: LabConfig = LabConfig()
    batch_runs: int = 8  # runs trained together (one arm, consecutive replicates): a shard; fixed by the config

    @classmethod
    def quick(cls) -> "Args":
        quick = cls(arms=("uniform", "hora", "hora_placebo", "uniform:x2"), n_reps=2, frontier_lrs=(0.5, 2.0))
        # the warm start is the task's shipped one (simalloc/lab/weights): loaded, not trained
        return quick.with_train(steps=12, n_prompts=16, group_size=8, k0=2, n_eval=96, record_every=4, snr_every=6)


def shards(args):
    """The simulator's runs (replicate x arm, the frontier included) in batches of ``batch_runs`` (one arm's
    replicates, ``batch_shards``: fixed by the config, whatever the workers); the warm start is built (or read
    from its cache) here, once, before the workers start."""
    cfg = args.train
    warm_start(cfg.build_task(), cfg.model_spec, cfg.warm, cfg.temperature)
    return batch_shards(arm_shards(args), args.batch_runs)


def run_shard(args, shard):
    """A batch of runs trained together (``train_lab_shard``)."""
    return train_lab_shard(args.train, args.seed, shard)


def _lab_summary(steps: pd.DataFrame, args) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per arm: the final Pass@1 by level or family (the gradient SNR rows come from ``summary_tables``, as in the
    simulator) and the breakthroughs (``simalloc.lab.breakthrough``: the share of runs whose family Pass@1 crosses
    0.5, and the Kaplan-Meier median step), with their per-replicate values (rows of replicates.csv)."""
    rows = SummaryRows()
    families = args.train.build_task().family_names
    last = steps[steps.step == steps.step.max()]
    for arm in steps.arm.unique():
        for fam in families:
            values = last[last.arm == arm].set_index("rep")[f"pass@1:{fam}"]
            if values.notna().any():
                rows.per_rep(arm, f"pass@1:{fam}", values)
    breakthrough_rows(steps, families, rows)
    return rows.tables()


def _lab_figure(steps: pd.DataFrame, args, path) -> None:
    """lab.png: per task family, mean Pass@1 over training, and the mean gradient SNR, for the arms figure.png draws
    (``simalloc.train.figures.figure_arms``: the methods and uniform's main rungs; every arm is in summary.csv),
    one legend below the panels."""
    from simalloc.plotting import color_of, use_agg
    from simalloc.train.figures import figure_arms

    plt = use_agg()
    arms = [a for a in figure_arms(args.arms) if a in set(steps.arm)]
    task = args.train.build_task()
    families = [f for f in task.family_names if steps[f"pass@1:{f}"].notna().any()]
    titles = {"level0": "level 0 (taught)", "level1": "level 1 (noisy teacher)", "level2": "level 2 (misconception)"}
    fig, axes = plt.subplots(1, len(families) + 1, figsize=(4.5 * (len(families) + 1), 5.2), layout="constrained")
    for ax, fam in zip(axes[:-1], families):
        for arm in arms:
            curve = steps[steps.arm == arm].groupby("step")[f"pass@1:{fam}"].mean()
            ax.plot(curve.index, curve.values, color=color_of(arm), label=arm)
        ax.set_title(f"Pass@1 on {titles.get(fam, fam)} prompts")
        ax.set_xlabel("training step")
        ax.set_ylabel("Pass@1 (held-out, exact)")
    ax = axes[-1]
    for arm in arms:
        sub = steps[steps.arm == arm].dropna(subset=["grad_snr"]).groupby("step").grad_snr.mean()
        ax.plot(sub.index, sub.values, "o-", color=color_of(arm), label=arm, ms=3)
    ax.axhline(0.0, color="k", lw=0.6)  # one step's estimate can be negative (signal below its noise): linear axis
    ax.set_title("Gradient SNR (per-group gradients)")
    ax.set_xlabel("training step")
    ax.set_ylabel("(||g||^2 - V) / V   (0: all noise)")
    handles, labels = axes[0].get_legend_handles_labels()
    left_out = len(set(args.arms)) - len(arms)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(arms), 7), fontsize=8,
               title=f"{left_out} more arms in summary.csv (figure.png's rule)" if left_out else None, title_fontsize=8)
    fig.suptitle(f"Lab ({args.train.task}): {args.train.n_prompts} prompts x G = {args.train.group_size}, "
                 f"K0 = {args.train.k0}, "
                 f"lr {args.train.lr:g}, {args.n_reps} replicates (means)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def finalize(args, tables, out, progress=True):
    cfg = args.train
    summary = finalize_training(
        args, tables, out, progress=progress,
        title=f"Lab, task {cfg.task}: a {cfg.hidden}-wide {cfg.layers}-layer transformer, {cfg.n_prompts} prompts, "
              f"G = {cfg.group_size}, K0 = {cfg.k0}, {cfg.steps} steps, {args.n_reps} replicates",
    )
    lab, lab_reps = _lab_summary(tables["steps"], args)
    long = pd.concat([pd.read_parquet(out / "summary.parquet"), lab], ignore_index=True)
    write_table(long, out, "summary")
    reps = pd.concat([pd.read_parquet(out / "replicates.parquet"), lab_reps], ignore_index=True)
    write_table(reps, out, "replicates")
    _lab_figure(tables["steps"], args, out / "lab.png")
    if progress:
        view = lab[lab.metric.isin(["grad_snr", "pass@1:level2"]) | lab.metric.str.startswith("breakthrough_share")]
        view = view.round(4)
        print(view.to_string(index=False))
    return summary
