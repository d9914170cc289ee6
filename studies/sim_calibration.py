"""Fit the training simulator's free parameters to the lab's uniform-GRPO runs (and to nothing else).

A grid over the failure structure ("shared", or "prompt:<share>": each prompt's own failure mode holding that
share of its failure mass), the per-rollout score noise (``rollout_noise``), the simulator's learning rate (its
scale against the lab's AdamW 1e-3 is free) and each cluster's ranking noise (``order_noise``: how much hard
prompts' strategies overlap other prompts'). Every grid point runs uniform GRPO at lr x1 and at the lab's frontier
learning rates (x0.1 ... x2) on the lab-matched configuration (``simalloc.train.calibration``: the lab's own
initial pass rates as the difficulty world, 64 prompts x 16, pilot 4, 200 steps, T = 1), and is scored by
``uniform_fit_loss`` against ``uniform_runs.csv`` (Pass@1 ... Pass@256 every 20 steps at every learning rate, and
the gradient SNR). No other arm is run: the predictions are ``sim_vs_lab``'s, at the point chosen here.

Outputs: ``fit.csv`` (one row per grid point: its settings, the loss and its two parts, best first), the
``--set`` line of the best point, ``fit.png`` (the lab's uniform curves against the best and the worst point),
table.parquet.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import pandas as pd

from simalloc.io import write_table
from simalloc.train import TrainConfig, TrainingStudyArgs, run_arm_shard
from simalloc.train.arms import frontier_arms
from simalloc.train.calibration import (
    LAB_FRONTIER_LRS,
    lab_matched_config,
    parse_failure_reading,
    read_lab,
    uniform_fit_loss,
)


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform",)
    n_reps: int = 2
    frontier_lrs: tuple = LAB_FRONTIER_LRS
    lab_dir: str = "docs/lab"
    failure_grid: tuple = ("shared", "prompt:0.5", "prompt:0.9")
    noise_grid: tuple = (0.0, 0.1, 0.3, 0.5)
    lr_grid: tuple = (0.02, 0.05, 0.1, 0.2)
    order_noise_grid: tuple = (1.0, 3.0, 6.0)
    snr_weight: float = 0.01
    train: TrainConfig = lab_matched_config()

    @classmethod
    def quick(cls) -> "Args":
        return cls(failure_grid=("shared", "prompt:0.9"), noise_grid=(0.0, 0.3), lr_grid=(0.02,),
                   order_noise_grid=(1.0,), n_reps=1, frontier_lrs=(0.5, 2.0))

    def points(self) -> list[dict]:
        """Every grid point as ``TrainConfig`` changes, in a fixed order (the point index)."""
        return [{**parse_failure_reading(f), "rollout_noise": float(s), "lr": float(lr), "order_noise": float(o)}
                for f, s, lr, o in itertools.product(self.failure_grid, self.noise_grid, self.lr_grid,
                                                     self.order_noise_grid)]

    def validate(self) -> "Args":
        super().validate()
        read_lab(self.lab_dir)
        for name in ("failure_grid", "noise_grid", "lr_grid", "order_noise_grid"):
            if not getattr(self, name):
                raise ValueError(f"{name}: at least one value is needed")
        for point in self.points():
            dataclasses.replace(self.train, **point).validate()
        if self.arms != ("uniform",):
            raise ValueError(f"arms: the fit runs uniform GRPO only (its frontier learning rates beside it), got "
                             f"{self.arms}")
        return self


def shards(args):
    """One shard per (grid point, replicate, uniform arm), named by the point's settings (not its index), so a run
    with a wider grid into a copy of an earlier run's folder reuses the points they share."""
    out = []
    for point in args.points():
        for rep in range(args.n_reps):
            for arm in frontier_arms(args.frontier_lrs):
                out.append({"id": f"{_label(point)}-{arm}-rep{rep}", "arm": arm, "rep": rep, "point": _label(point)})
    return out


def run_shard(args, shard):
    point = next(p for p in args.points() if _label(p) == shard["point"])
    return run_arm_shard(args, shard, **point)


def _label(point: dict) -> str:
    fail = point["failures"] + (f":{point['failure_share']:g}" if point["failures"] == "prompt" else "")
    return f"failures={fail} rollout_noise={point['rollout_noise']:g} lr={point['lr']:g} " \
           f"order_noise={point['order_noise']:g}"


def finalize(args, tables, out, progress=True):
    steps = tables["steps"]
    write_table(steps, out, "table")
    lab = read_lab(args.lab_dir)["uniform_runs"]
    rows = []
    for point in args.points():
        mine = steps[steps.point == _label(point)]
        fit = uniform_fit_loss(mine, lab, snr_weight=args.snr_weight)
        snr = mine[mine.arm == "uniform"].grad_snr.mean()
        rows.append({"point": _label(point), **point, "loss": fit["loss"], "passk_part": fit["passk"],
                     "snr_part": fit["snr"], "compared": fit["n"], "uniform_snr": snr, "label": _label(point)})
    fit = pd.DataFrame(rows).sort_values("loss", kind="stable").reset_index(drop=True)
    write_table(fit, out, "fit")
    _figure(steps, lab, fit, out / "fit.png")
    best = fit.iloc[0]
    if progress:
        print(fit[["label", "loss", "passk_part", "snr_part", "uniform_snr"]].head(8).round(5).to_string(index=False))
        print(f"lab uniform SNR {lab.grad_snr.mean():.3f}; best point: {best.label}")
        fs = best.failures + (f":{best.failure_share:g}" if best.failures == "prompt" else "")
        print(f"--set failures={best.failures}" + (f",failure_share={best.failure_share:g}"
                                                   if best.failures == "prompt" else "")
              + f",rollout_noise={best.rollout_noise:g},lr={best.lr:g},order_noise={best.order_noise:g}  ({fs})")
    return fit


def _figure(steps, lab, fit, path) -> None:
    from simalloc.plotting import use_agg

    plt = use_agg()
    best, worst = fit.point.iloc[0], fit.point.iloc[-1]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, k in zip(axes, (1, 256)):
        col = f"pass@{k}"
        for arm in sorted(set(lab.arm)):
            lc = lab[lab.arm == arm].groupby("step")[col].mean()
            line, = ax.plot(lc.index, lc.values, lw=2, label=f"lab {arm}")
            for point, style in ((best, "--"), (worst, ":")):
                sc = steps[(steps.point == point) & (steps.arm == arm)].groupby("step")[col].mean()
                if len(sc):
                    ax.plot(sc.index, sc.values, style, color=line.get_color(), lw=1)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"Pass@{k} on the held-out eval set")
        ax.set_title(f"Uniform GRPO, Pass@{k}: lab (solid), best fit (dashed), worst (dotted)", fontsize=9)
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Simulator fitted to the lab's uniform-GRPO runs: best {fit.label.iloc[0]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
