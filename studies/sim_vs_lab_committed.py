"""The calibrated simulator against the lab's committed results (docs/lab): frontier gains and Pass@1 costs.

The committed-results mode of ``sim_vs_lab`` (which now runs the whole protocol, the lab included): it reads a
finished ``lab_hora_vs_grpo`` folder and runs only the simulator.

The simulator runs the lab's study (``lab_hora_vs_grpo``: the same arms, the same frontier learning rates, 64
prompts x 16, pilot 4, 200 steps, T = 1) on the lab-matched configuration (``simalloc.train.calibration``: the
lab's own initial pass rates as the difficulty world) with the parameters ``sim_calibration`` chose from the lab's
uniform-GRPO runs alone (failure structure, per-rollout noise, learning rate, ranking noise: the defaults below;
``--set`` any of them to ask what another reading predicts). Nothing about the other arms was fitted: their
frontier gains are predictions.

``calibration.csv``: per arm, the frontier gain at 256 and Pass@1 against uniform GRPO, lab vs simulator with
se, each side's effect class (+1 / 0 / -1, the side's own ``credited@256``; Pass@1 beyond a one-point floor by
2 se) and the verdict ``confirmed`` | ``refuted`` | ``undetermined``. Also the uniform runs' fit loss at this
configuration (``fit.csv``) and the simulator's own study outputs (summary.csv, frontier.png, figure.png ...).
Committed: ``docs/lab/calibration.csv`` (``simalloc run sim_vs_lab_committed --workers 2``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from simalloc.io import write_table
from simalloc.train import TrainConfig, TrainingStudyArgs, arm_shards, finalize_training, run_arm_shard
from simalloc.train.calibration import (
    LAB_FRONTIER_LRS,
    calibration_table,
    lab_matched_config,
    read_lab,
    uniform_fit_loss,
)

#: the lab's "dapo" is the allocator on purpose (as in lab_hora_vs_grpo): its rename warning is noise here
warnings.filterwarnings("ignore", message="arm 'dapo'", category=FutureWarning)

#: the lab study's arms (``lab_hora_vs_grpo``)
LAB_ARMS = ("uniform", "hora", "hora_placebo", "knapsack", "informative", "dapo", "hard_first", "uniform:x2",
            "uniform:lr0.5")
#: the point ``simalloc run sim_calibration --workers 2`` chose (docs/lab/calibration_fit.csv, best first)
CALIBRATED = dict(failures="prompt", failure_share=0.5, rollout_noise=0.1, lr=0.05, order_noise=3.0)


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = LAB_ARMS
    n_reps: int = 8
    frontier_lrs: tuple = LAB_FRONTIER_LRS
    lab_dir: str = "docs/lab"
    train: TrainConfig = lab_matched_config(**CALIBRATED)

    @classmethod
    def quick(cls) -> "Args":
        return cls(n_reps=2)

    def validate(self) -> "Args":
        super().validate()
        read_lab(self.lab_dir)
        return self


shards, run_shard = arm_shards, run_arm_shard


def finalize(args, tables, out, progress=True):
    t = args.train
    final = finalize_training(
        args, tables, out, progress=False,
        title=f"Simulator on the lab's study: failures {t.failures}, rollout_noise {t.rollout_noise:g}, lr {t.lr:g}, "
              f"order_noise {t.order_noise:g}, {args.n_reps} replicates")
    lab = read_lab(args.lab_dir)
    summary = pd.read_csv(out / "summary.csv")
    table = calibration_table(summary, final, lab, args.arms)
    write_table(table, out, "calibration")
    fit = uniform_fit_loss(tables["steps"], lab["uniform_runs"])
    write_table(pd.DataFrame([{**fit, "failures": t.failures, "failure_share": t.failure_share,
                               "rollout_noise": t.rollout_noise, "lr": t.lr, "order_noise": t.order_noise}]),
                out, "fit")
    if progress:
        print(table.round(4).to_string(index=False))
        counts = table.verdict.value_counts()
        print(f"fit loss on the uniform runs {fit['loss']:.5f}; verdicts: "
              + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in ("confirmed", "refuted", "undetermined")))
    return final
