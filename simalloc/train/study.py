"""The machinery every training study shares: its Args, one shard per (arm, replicate), the output files.

A study's Args compose a ``TrainConfig`` (``train``) with the study's own settings (arms, replicates, the seed
and the frontier's learning-rate multipliers); ``simalloc run STUDY --set steps=300`` sets a field of ``train``
when the study has no field of that name. One shard = one (arm, replicate[, sweep value]); replicate r uses
``SeedSequence([seed, r])`` for every arm (common random numbers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io import write_table
from .analysis import final_summary, summary_tables
from .arms import FRONTIER_LRS, all_arms, frontier_arms, parse_arm
from .batch import arm_prompts
from .config import TrainConfig
from .critical_batch import ladder_verdict
from .figures import plot_efficiency, plot_frontier, plot_training
from .loop import simulate_training

__all__ = ["TrainingStudyArgs", "arm_shards", "batch_shards", "run_arm_shard", "finalize_training"]


@dataclass(frozen=True)
class TrainingStudyArgs:
    """A training study's settings: the arms, replicates, seed, the frontier's learning-rate multipliers and the
    simulator's settings (``train``). Studies subclass it to change defaults or add a sweep axis.

    Parameters
    ----------
    arms : tuple of str
        The arms compared (``parse_arm`` specs); the frontier's arms run beside them.
    n_reps : int
        Replicates per arm; replicate r uses the same random numbers in every arm.
    seed : int
        The study's seed (replicate r's stream is SeedSequence([seed, r])).
    frontier_lrs : tuple of float
        Learning-rate multipliers of uniform GRPO's frontier (empty: no frontier).
    train : TrainConfig
        The simulator's settings (``--set`` keys that are not the study's own go here).
    """

    arms: tuple = ("uniform", "hora")
    n_reps: int = 8
    seed: int = 0
    frontier_lrs: tuple = FRONTIER_LRS
    train: TrainConfig = TrainConfig()

    def with_train(self, **changes) -> "TrainingStudyArgs":
        """A copy with ``train``'s fields changed."""
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))

    def validate(self) -> "TrainingStudyArgs":
        """Raise ValueError naming the first bad setting; returns self."""
        self.train.validate()
        if self.n_reps < 1:
            raise ValueError(f"n_reps: must be >= 1, got {self.n_reps}")
        if not self.arms:
            raise ValueError("arms: at least one arm is needed")
        for spec in self.arms:
            arm = parse_arm(spec)
            if arm.k0 is not None and arm.k0 > self.smallest_group():
                raise ValueError(f"arms: {spec!r} needs a pilot of {arm.k0} rollouts but group_size is "
                                 f"{self.smallest_group()}")
            if arm.prompt_scale != 1.0:  # before any run starts, not when this arm's shard comes up
                try:
                    arm_prompts(self.train.n_prompts, self.train.n_pool, arm, self.train.phase_b_shards)
                except ValueError as exc:
                    raise ValueError(f"arms: {exc}") from None
        return self

    def smallest_group(self) -> int:
        """The smallest mean group size the study runs (a sweep over group sizes overrides it)."""
        return self.train.group_size


def arm_shards(args, **axis) -> list[dict]:
    """One shard per (sweep value, replicate, arm); ``axis`` maps a ``train`` field to its values. The frontier
    arms are run beside the study's own arms.

    Parameters
    ----------
    args : TrainingStudyArgs
        The study's settings.
    **axis
        At most one ``field=values`` sweep over a ``TrainConfig`` field.

    Returns
    -------
    list of dict
        Each with id, arm, rep and the sweep value; the runner's unit of work and of resumption.
    """
    (key, values), = axis.items() if axis else ((None, (None,)),)
    out = []
    for v in values:
        for rep in range(args.n_reps):
            for arm in all_arms(args.arms, args.frontier_lrs):
                sid = f"{arm}-rep{rep}" if key is None else f"{key}{v}-{arm}-rep{rep}"
                out.append({"id": sid, "arm": arm, "rep": rep, **({} if key is None else {key: v})})
    return out


def batch_shards(shards, size: int) -> list[dict]:
    """Group (arm, replicate) shards into fixed batches of at most ``size`` runs, the unit of a batched study.

    A batch holds runs that differ only in their replicate (one arm, one sweep value, one model or stage: every
    key but ``id`` and ``rep`` equal), replicates in increasing order, cut every ``size`` runs. The grouping is a
    function of the shards and ``size`` alone (the study's config), never of the number of workers or the
    backend, so that a study's tables do not depend on how it is run (batched runs equal separate ones only to
    float32 reordering). Runs of one arm draw the same number of rollouts per step, so a batch pads little.

    Parameters
    ----------
    shards : list of dict
        Each with ``id`` and ``rep`` (``arm_shards``'s).
    size : int
        The most runs per batch, >= 1.

    Returns
    -------
    list of dict
        Each with ``id`` (the first run's id, then ``..rep<last>``), the keys its runs share, and ``runs``: the
        runs' shards, in order. Every shard is in exactly one batch; the batches keep the shards' first-seen
        order of their keys.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"batch_runs: must be an integer >= 1, got {size!r}")
    keyed: dict[str, list[dict]] = {}
    for shard in shards:
        key = repr(sorted((k, repr(v)) for k, v in shard.items() if k not in ("id", "rep")))
        keyed.setdefault(key, []).append(shard)
    out = []
    for runs in keyed.values():
        runs = sorted(runs, key=lambda s: s["rep"])
        for i in range(0, len(runs), size):
            part = runs[i:i + size]
            shared = {k: v for k, v in part[0].items() if k not in ("id", "rep")}
            sid = part[0]["id"] if len(part) == 1 else f"{part[0]['id']}..rep{part[-1]['rep']}"
            out.append({**shared, "id": sid, "runs": part})
    return out


def run_arm_shard(args, shard, **changes) -> dict[str, pd.DataFrame]:
    """Simulate one shard (its arm and replicate, ``train`` changed by ``changes``); the sweep value, if any, is
    added as a column to both tables.

    Parameters
    ----------
    args : TrainingStudyArgs
        The study's settings.
    shard : dict
        One entry of ``arm_shards``.
    **changes
        ``TrainConfig`` fields changed for this shard (a sweep value).

    Returns
    -------
    dict of str to pandas.DataFrame
        "steps" (per recorded step) and "budget_share" (the allocation's share by pilot count).
    """
    cfg = dataclasses.replace(args.train, **changes)
    steps, share = simulate_training(cfg, shard["arm"], np.random.SeedSequence([args.seed, shard["rep"]]),
                                     rep=shard["rep"])
    for key, value in shard.items():
        if key not in ("id", "arm", "rep"):
            steps[key], share[key] = value, value
    return {"steps": steps, "budget_share": share}


def finalize_training(args, tables, out, title, progress=True) -> pd.DataFrame:
    """Write a training study's outputs (table, budget_share, final_passk, summary.csv, replicates.csv,
    figure.png, efficiency.png and, with a frontier, frontier.png) and return the final Pass@k summary.

    Parameters
    ----------
    args : TrainingStudyArgs
        The study's settings.
    tables : dict of str to pandas.DataFrame
        The shards' tables concatenated ("steps", "budget_share").
    out : Path
        The study's output folder.
    title : str
        The training figure's title.
    progress : bool, default True
        Print the Pass@k table and the compared arms' frontier gains.

    Returns
    -------
    pandas.DataFrame
        ``final_summary`` of the steps.
    """
    steps, share = tables["steps"], tables["budget_share"]
    summary = final_summary(steps, args.train.ks)
    write_table(steps, out, "table")
    write_table(share, out, "budget_share")
    write_table(summary, out, "final_passk")  # the wide Pass@k table (every k, change from start, vs uniform)
    long, reps = summary_tables(steps, args)
    write_table(long, out, "summary")  # the summary contract: arm, metric, value, se (summary.csv)
    write_table(reps, out, "replicates")  # every per-replicate value behind it: arm, rep, metric, value
    plot_training(steps, share, summary, args, out / "figure.png", title)
    plot_efficiency(steps, args, out / "efficiency.png", title)
    if frontier_arms(args.frontier_lrs):
        plot_frontier(steps, args, out / "frontier.png",
                      f"Frontier gain: every arm against uniform GRPO's learning-rate frontier ({args.n_reps} reps)")
    if progress:
        view = summary[summary.k.isin([1, 16, max(args.train.ks)])].pivot(index="arm", columns="k",
                                                                    values=["final", "change", "vs_uniform"])
        print(view.round(4).to_string())
        # the frontier's own points have a gain of 0 by construction: print the compared arms only
        gains = long[long.metric.str.startswith("frontier_gain") & long.arm.isin(args.arms)]
        if not gains.empty:
            print(gains.round(5).to_string(index=False))
            if gains.value.isna().any():
                print("NaN: no replicate has both the arm and a frontier point (n_reps counts those read)")
        bound = long[(long.arm == "frontier")
                     & long.metric.str.startswith(("interpolation_bias", "interpolation_bound"))]
        for metric, value, se, n in zip(bound.metric, bound.value, bound.se, bound.n_reps):
            print(f"frontier {metric}: {value:+.4f}" + (f" +- {se:.4f}" if np.isfinite(se) else "")
                  + f" over {n} leave-one-out uniform runs (an arm is credited only beyond the bound)")
        _print_efficiency(long)
        bn = long[(long.arm == "uniform") & long.metric.str.startswith("b_noise")].set_index("metric").value
        if "b_noise" in bn:
            unbounded = bn.get("b_noise_unbounded", 0) > 0 and np.isnan(bn["b_noise"])
            print(ladder_verdict(np.inf if unbounded else bn["b_noise"], bn["b_noise_batch"]))
        edge = long[long.metric.str.startswith(("lr_tuned_at_edge", "reference_lr_tuned_at_edge")) & (long.value > 0)]
        if not edge.empty:
            print("tuned read at its grid's smallest or largest rate (a best rate may lie beyond; not a test of the "
                  "ladder there): " + ", ".join(f"{a} {m} {v:.0f}/{n}" for a, m, v, n in
                                                zip(edge.arm, edge.metric, edge.value, edge.n_reps)))
        snr = long[(long.metric == "grad_snr") & long.arm.isin(args.arms)]
        if not snr.empty:
            print("gradient SNR (mean over measured steps): "
                  + ", ".join(f"{a} {v:.2f}" for a, v in zip(snr.arm, snr.value)))
    return summary


def _print_efficiency(long: pd.DataFrame) -> None:
    """Print the efficiency axis's targets and every arm's steps to the 100% targets (``efficiency_rows``)."""
    target = long[(long.arm == "target") & long.metric.str.startswith(("gain@", "target@"))]
    if target.empty:
        return
    print(target[["metric", "value", "se", "n_reps"]].round(4).to_string(index=False))
    view = long[long.metric.str.match(r"^(steps_to_target|reached|compute_multiplier)@pass@\d+$")]
    if not view.empty:
        print(view.pivot(index="arm", columns="metric", values="value").round(3).to_string())
