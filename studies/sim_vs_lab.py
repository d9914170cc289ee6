"""Does the simulator, fitted to the lab's uniform runs only, predict the lab's other arms? One protocol, in order.

``simalloc run sim_vs_lab --set task=<spec>`` runs five stages on one lab configuration, each stage's outputs
written atomically (and its marker ``stages/<name>.json``, with the outputs' sha256, last) before the next stage's
work is even listed (``simalloc.sim.runner``'s staged studies), so a resumed run redoes no finished stage and the fit
never sees an arm:

1. ``lab_uniform``: the lab's uniform GRPO at lr x1 and at the frontier's learning rates, ``n_reps`` replicates
   (``lab_uniform.parquet``, ``uniform_runs.csv``) and the warm start's exact pass rate of every training prompt
   (``initial_pass_rates.csv``: the simulator's difficulty world);
2. ``fit``: every point of the simulator reading's grid (``sim_reading``; ``simalloc.train.protocol.SIM_READINGS``)
   runs the same uniform arms (``fit_reps`` replicates) on the lab-matched configuration and is scored by
   ``uniform_fit_loss`` against the lab's uniform runs (Pass@k every recorded step, Pass@k by band where both
   sides record it, the per-arm gradient SNR, entropy relative to step 0); ``fit.csv`` (best first) and
   ``fit.json`` (the chosen point, the grid's size, runs and CPU seconds: the fit's cost);
3. ``predict``: the simulator at the chosen point runs every arm (``sim_reps`` replicates) and writes
   ``predictions.csv`` (``effect_rows``: both axes, value, se, effect class) and its own ``sim_summary.csv``;
4. ``lab_arms``: only now, and only if ``predictions.csv`` is there with the hash its marker recorded, the lab runs
   the other arms (``lab_steps.parquet``, ``lab_summary.csv``, ``lab_effects.csv``);
5. ``calibrate``: ``calibration.csv`` (arm, axis, metric, lab and simulator value with se, each side's class,
   verdict) and ``calibration_summary.csv`` (the target: share confirmed, the lab's credited effects predicted with
   the right sign, and the order check: predictions written before the lab's arms started, unchanged since).

Defaults are the lab study's (``lab_hora_vs_grpo``: its arms, 4 replicates, its frontier, ``LabConfig()``).
The committed-results mode (reading ``docs/lab``) is gone; ``sim_calibration`` still fits to ``docs/lab``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from simalloc_studies.lab_hora_vs_grpo import Args as LabStudyArgs

from simalloc.io import write_json, write_table
from simalloc.lab import LabConfig, pass_rates, warm_start
from simalloc.lab.batched import train_lab_shard
from simalloc.sim.runner import Stage, run_stages, stage_record
from simalloc.train import TrainingStudyArgs, batch_shards
from simalloc.train.analysis import summary_tables
from simalloc.train.arms import all_arms, frontier_arms
from simalloc.train.calibration import LAB_FRONTIER_LRS, uniform_fit_loss
from simalloc.train.loop import simulate_training
from simalloc.train.protocol import (
    calibration_target,
    changes_of,
    compare_effects,
    effect_rows,
    lab_sim_config,
    side_args,
    sim_reading,
)

warnings.filterwarnings("ignore", message="arm 'dapo'", category=FutureWarning)

#: the lab's task spec today (``LabConfig``'s chained modular arithmetic: three levels)
DEFAULT_TASK = "turn3"
#: the stages, in order
STAGES = ("lab_uniform", "fit", "predict", "lab_arms", "calibrate")


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = LabStudyArgs().arms
    n_reps: int = LabStudyArgs().n_reps
    frontier_lrs: tuple = LAB_FRONTIER_LRS
    #: the lab's task spec (``LabConfig.task`` where the lab has task specs)
    task: str = DEFAULT_TASK
    #: the simulator's reading (model family and fit grid: ``SIM_READINGS``) and whether to fit on its quick grid
    sim_reading: str = "v3"
    quick_grid: bool = False
    #: replicates of each grid point's uniform runs, and of the predictions' runs
    fit_reps: int = 2
    sim_reps: int = 8
    #: the fit loss's weights (``uniform_fit_loss``): per-arm SNR and relative entropy
    snr_weight: float = 0.01
    entropy_weight: float = 0.1
    train: LabConfig = LabConfig()
    #: lab runs trained together (one arm's consecutive replicates, ``batch_shards``): a shard; fixed here
    batch_runs: int = 8

    @classmethod
    def quick(cls) -> "Args":
        base = cls(arms=("uniform", "hora", "hora_placebo", "uniform:x2"), n_reps=2, frontier_lrs=(0.5, 2.0),
                   quick_grid=True, fit_reps=1, sim_reps=2)
        return base.with_train(steps=12, n_prompts=16, group_size=8, k0=2, n_eval=96, record_every=4,
                               snr_every=6, warm_steps=150)

    def lab_config(self) -> LabConfig:
        """The lab's settings with the task spec applied."""
        return lab_config(self.train, self.task)

    def validate(self) -> "Args":
        if self.train.task != LabConfig().task:
            raise ValueError(f"train.task: this study's task is set by task (--set task=...), got "
                             f"train.task={self.train.task!r}")
        super().validate()
        self.lab_config().validate()
        reading = sim_reading(self.sim_reading)
        for point in reading.points(self.quick_grid):
            lab_sim_config(self.train, "x.csv", **changes_of(point))
        for name in ("fit_reps", "sim_reps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("snr_weight", "entropy_weight"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
        if not self.frontier_lrs:
            raise ValueError("frontier_lrs: the protocol needs uniform GRPO's frontier (at least one multiplier)")
        return self


def lab_config(train: LabConfig, task: str) -> LabConfig:
    """``train`` with the task spec ``task`` (one-line error when the lab has no such spec).

    Parameters
    ----------
    train : LabConfig
        The lab's settings.
    task : str
        The task spec.

    Returns
    -------
    LabConfig

    Raises
    ------
    ValueError
        "task: ..." when this lab has no task specs and ``task`` is not the default, or the lab's own error.
    """
    if "task" in {f.name for f in dataclasses.fields(LabConfig)}:
        return dataclasses.replace(train, task=task).validate()
    if task != DEFAULT_TASK:
        raise ValueError(f"task: this lab has one task, {DEFAULT_TASK!r} (LabConfig has no task specs yet), got "
                         f"{task!r}")
    return train


def args_of(out) -> Args:
    """The ``Args`` a finished run in ``out`` was made with (its ``args.json``; lists back to tuples).

    Parameters
    ----------
    out : path-like
        A ``sim_vs_lab`` output folder.

    Returns
    -------
    Args
    """
    def tuples(d):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    blob = json.loads((Path(out) / "args.json").read_text())["args"]
    return Args(**tuples({k: v for k, v in blob.items() if k != "train"}), train=LabConfig(**tuples(blob["train"])))


def sim_side(args, out):
    """The simulator side's study args: the lab-matched simulator at the fit's chosen point (``fit.json``), on the
    lab's initial pass rates (``initial_pass_rates.csv``), ``sim_reps`` replicates."""
    best = json.loads((Path(out) / "fit.json").read_text())["best"]
    world = str((Path(out) / "initial_pass_rates.csv").resolve())
    return side_args(args, lab_sim_config(args.train, world, **best), args.sim_reps)


def read_side(steps: pd.DataFrame, side, dest, prefix: str, effects_name: str) -> pd.DataFrame:
    """One side's runs read into ``dest``: ``<prefix>_summary``, ``<prefix>_replicates`` (``summary_tables``) and
    its effects (``effect_rows``) as ``effects_name``; returns the effects."""
    summary, replicates = summary_tables(steps, side)
    write_table(summary, dest, f"{prefix}_summary")
    write_table(replicates, dest, f"{prefix}_replicates")
    effects = effect_rows(steps, side, summary)
    write_table(effects, dest, effects_name)
    return effects


def write_calibration(table: pd.DataFrame, dest, **about) -> dict:
    """``calibration.csv`` (``table``) and ``calibration_summary.csv`` (``calibration_target`` of it, then ``about``:
    what the calibration is of) in ``dest``; returns the target."""
    target = calibration_target(table)
    write_table(table, dest, "calibration")
    write_table(pd.DataFrame([{**target, **about}]), dest, "calibration_summary")
    return target


def reread(out) -> pd.DataFrame:
    """Re-read a finished run on today's rules: effects, classes and verdicts recomputed from its stored runs
    (``sim_steps.parquet``, ``lab_steps.parquet``; nothing is re-run) into ``out/reread/`` (both sides' summary and
    replicates tables, predictions.csv, lab_effects.csv, calibration.csv, calibration_summary.csv). The run's own
    files, and its order check (predictions written before the lab's arms ran), are left as they are: a rule changed
    after a run (e.g. the frontier's effect-size floor, ``simalloc.train.credit.FRONTIER_FLOOR``) re-classifies its
    effects without moving a value.

    Parameters
    ----------
    out : path-like
        A finished ``sim_vs_lab`` output folder.

    Returns
    -------
    pandas.DataFrame
        The re-read calibration table.
    """
    out = Path(out)
    args = args_of(out)
    dest = out / "reread"
    dest.mkdir(exist_ok=True)
    predictions = read_side(pd.read_parquet(out / "sim_steps.parquet"), sim_side(args, out), dest, "sim",
                            "predictions")
    lab = read_side(pd.read_parquet(out / "lab_steps.parquet"), side_args(args, args.lab_config()), dest, "lab",
                    "lab_effects")
    table = compare_effects(lab, predictions)
    write_calibration(table, dest, task=args.task, sim_reading=args.sim_reading, reread_of=str(out.name))
    return table


def refit(out, reading: str, dest=None, progress: bool = False, workers: int = 1) -> pd.DataFrame:
    """The simulator side of a finished run redone with another reading, on the run's stored lab runs: the fit
    (stage 2) and the predictions (stage 3) of reading ``reading``, then the verdicts, into ``dest`` (default
    ``out/refit_<reading>/``). No lab run is repeated (they are read from ``lab_steps.parquet``); the simulator's
    runs use the run's own seeds, so a refit with the run's own reading reproduces its predictions.

    **Not blind**: the predictions are made after the lab's arms ran, so ``calibration_summary.csv`` says
    ``blind`` False, ``refit_of`` the run and ``refit_of_reading`` its reading, and carries no order check. It is
    blind only in the sense its caller must state: that ``reading``'s grid was fixed before the run's lab arms were
    read. Both sides are read on today's rules, so compare a refit with the run's ``reread/`` (``reread``), not
    with its own calibration.csv where the rules changed since; with ``quick_grid`` a reading's quick grid is used
    (``v4wide``'s and ``v4regimes``' are ``v4``'s).

    Parameters
    ----------
    out : path-like
        A finished ``sim_vs_lab`` output folder.
    reading : str
        A ``SIM_READINGS`` name.
    dest : path-like, optional
        Where the refit is written (created).
    progress : bool, default False
        Show progress bars, the fit's best points and the target.
    workers : int, default 1
        Processes for the simulator's runs (the runner's staged studies: shards and stage markers in ``dest``, so
        an interrupted refit resumes).

    Returns
    -------
    pandas.DataFrame
        The refit's calibration table.
    """
    out = Path(out)
    own = args_of(out)
    args = dataclasses.replace(own, sim_reading=reading).validate()
    dest = Path(dest) if dest is not None else out / f"refit_{reading}"
    if stage_record(dest, "fit") is not None:  # a finished stage is skipped on resume: only the same reading's
        done = json.loads((dest / "fit.json").read_text())["sim_reading"]
        if done != reading:
            raise ValueError(f"dest: {dest} holds a refit with reading {done!r}, not {reading!r}; use another folder")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(out / "initial_pass_rates.csv", dest / "initial_pass_rates.csv")
    lab_steps = pd.read_parquet(out / "lab_steps.parquet")  # stage 1's runs are its uniform arms' rows
    uniform = lab_steps[lab_steps.arm.isin(frontier_arms(args.frontier_lrs))].reset_index(drop=True)
    write_table(uniform, dest, "lab_uniform", csv=False)
    simulator = [stage for stage in stages(args) if stage.name in ("fit", "predict")]
    run_stages("sim_vs_lab", SimpleNamespace(stages=lambda _: simulator, run_shard=run_shard), args, dest, workers,
               "local", progress)
    lab = read_side(lab_steps, side_args(args, args.lab_config()), dest, "lab", "lab_effects")
    table = compare_effects(lab, pd.read_csv(dest / "predictions.csv"))
    fit = json.loads((dest / "fit.json").read_text())
    target = write_calibration(table, dest, task=args.task, sim_reading=reading, refit_of=str(out.name),
                               refit_of_reading=own.sim_reading, blind=False, fit_cpu_seconds=fit["cpu_seconds"],
                               fit_grid_size=fit["grid_size"])
    if progress:
        print(f"refit {reading}: confirmed {target['confirmed']}/{target['determined']}; credited effects right "
              f"{target['credited_right_sign']}/{target['lab_credited']}; target {target['target']}")
    return table


def initial_pass_rates(cfg: LabConfig) -> pd.DataFrame:
    """The warm start's exact pass rate of every training prompt, as an ``empirical`` world's table.

    Parameters
    ----------
    cfg : LabConfig
        The lab's settings.

    Returns
    -------
    pandas.DataFrame
        successes, trials (100,000 "trials": the exact rate rounded to 1e-5), p, level; one row per pool prompt.
    """
    task = cfg.build_task()
    policy = warm_start(task, cfg.model_spec, cfg.warm, cfg.temperature)
    pool, _ = task.split()
    p = pass_rates(policy, pool)
    trials = 100_000
    return pd.DataFrame({"successes": np.rint(p * trials).astype(np.int64), "trials": trials, "p": p,
                         "level": pool.level})


def _seed(args, rep):
    return np.random.SeedSequence([args.seed, rep])


def run_shard(args, shard):
    """A batch of lab runs (``side`` "lab", trained together: ``train_lab_shard``) or a simulator run at a grid
    point (``side`` "sim"); its CPU seconds in the table "cost"."""
    start = time.process_time()
    if shard["side"] == "lab":
        tables = train_lab_shard(args.lab_config(), args.seed, shard)
        steps, share = tables["steps"], tables["budget_share"]
    else:
        cfg = lab_sim_config(args.train, shard["world"], **shard["changes"])
        steps, share = simulate_training(cfg, shard["arm"], _seed(args, shard["rep"]), rep=shard["rep"])
        steps["point"], share["point"] = shard["point"], shard["point"]
    cost = pd.DataFrame([{"id": shard["id"], "stage": shard["stage"], "cpu_seconds": time.process_time() - start}])
    return {"steps": steps, "budget_share": share, "cost": cost}


def _lab_shards(args, stage, arms):
    return batch_shards([{"id": f"{stage}-{arm}-rep{rep}", "stage": stage, "side": "lab", "arm": arm, "rep": rep}
                         for rep in range(args.n_reps) for arm in arms], args.batch_runs)


def _sim_shards(args, stage, out, points, arms, reps):
    world = str((Path(out) / "initial_pass_rates.csv").resolve())
    return [{"id": f"{stage}-p{i:03d}-{arm}-rep{rep}", "stage": stage, "side": "sim", "arm": arm, "rep": rep,
             "point": i, "changes": changes, "world": world}
            for i, changes in points for rep in range(reps) for arm in arms]


def stages(args) -> list[Stage]:
    """The protocol's five stages (module docstring), in order."""
    uniform = frontier_arms(args.frontier_lrs)
    others = [a for a in all_arms(args.arms, args.frontier_lrs) if a not in uniform]
    reading = sim_reading(args.sim_reading)

    def lab_uniform_shards(out):
        cfg = args.lab_config()
        warm_start(cfg.build_task(), cfg.model_spec, cfg.warm, cfg.temperature)  # built once, before any worker
        return _lab_shards(args, "lab_uniform", uniform)

    def lab_uniform_finalize(tables, out, progress):
        write_table(initial_pass_rates(args.lab_config()), out, "initial_pass_rates")
        steps = tables["steps"]
        write_table(steps, out, "lab_uniform", csv=False)
        write_table(steps, out, "uniform_runs")

    def fit_shards(out):
        points = [(i, changes_of(p)) for i, p in enumerate(reading.points(args.quick_grid))]
        return _sim_shards(args, "fit", out, points, uniform, args.fit_reps)

    def fit_finalize(tables, out, progress):
        lab = pd.read_parquet(out / "lab_uniform.parquet")
        steps = tables["steps"]
        rows = []
        for i, point in enumerate(reading.points(args.quick_grid)):
            fit = uniform_fit_loss(steps[steps.point == i], lab, snr_weight=args.snr_weight,
                                   entropy_weight=args.entropy_weight, snr_by_arm=True)
            rows.append({"point": i, **{k: v for k, v in changes_of(point).items() if k not in reading.base},
                         "loss": fit["loss"], "passk_part": fit["passk"], "snr_part": fit["snr"],
                         "entropy_part": fit["entropy"], "compared": fit["n"]})
        fit = pd.DataFrame(rows).sort_values(["loss", "point"], kind="stable").reset_index(drop=True)
        if not np.isfinite(fit.loss.iloc[0]):
            raise RuntimeError("fit: no grid point shares a recorded (arm, step) with the lab's uniform runs")
        write_table(fit, out, "fit")
        best = int(fit.point.iloc[0])
        cost = tables["cost"]
        write_json({"sim_reading": reading.name, "best_point": best,
                    "best": changes_of(reading.points(args.quick_grid)[best]), "grid_size": len(rows),
                    "grid": {k: list(v) for k, v in (reading.quick_grid if args.quick_grid else reading.grid).items()},
                    "runs": len(cost), "cpu_seconds": float(cost.cpu_seconds.sum()),
                    "loss_weights": {"snr": args.snr_weight, "entropy": args.entropy_weight, "snr_by_arm": True}},
                   out / "fit.json")
        if progress:
            print(fit.head(5).round(5).to_string(index=False))
            print(f"fit: {len(rows)} grid points, {len(cost)} simulator runs, {cost.cpu_seconds.sum():.1f} CPU s")

    def predict_shards(out):
        best = json.loads((Path(out) / "fit.json").read_text())
        return _sim_shards(args, "predict", out, [(best["best_point"], best["best"])],
                           all_arms(args.arms, args.frontier_lrs), args.sim_reps)

    def predict_finalize(tables, out, progress):
        write_table(tables["steps"], out, "sim_steps", csv=False)
        read_side(tables["steps"], sim_side(args, out), out, "sim", "predictions")

    def lab_arms_shards(out):
        done = stage_record(out, "predict")
        path = Path(out) / "predictions.csv"
        if done is None or not path.is_file():
            raise RuntimeError("lab_arms: the lab's other arms run only after predictions.csv is written (stage "
                               "'predict' has not finished)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != done["sha256"]["predictions.csv"]:
            raise RuntimeError("lab_arms: predictions.csv changed after the predict stage recorded it")
        return _lab_shards(args, "lab_arms", others)

    def lab_arms_finalize(tables, out, progress):
        steps = pd.concat([pd.read_parquet(out / "lab_uniform.parquet"), tables["steps"]], ignore_index=True)
        write_table(steps, out, "lab_steps", csv=False)
        read_side(steps, side_args(args, args.lab_config()), out, "lab", "lab_effects")

    def calibrate_finalize(tables, out, progress):
        table = compare_effects(pd.read_csv(out / "lab_effects.csv"), pd.read_csv(out / "predictions.csv"))
        predict, arms = stage_record(out, "predict"), stage_record(out, "lab_arms")
        sha = hashlib.sha256((out / "predictions.csv").read_bytes()).hexdigest()
        order = dict(predictions_written_at=predict["finished_at"], predictions_sha256=sha,
                     lab_arms_started_unix=arms["started_unix"], predictions_written_unix=predict["finished_unix"],
                     order_ok=bool(predict["finished_unix"] <= arms["started_unix"]
                                   and sha == predict["sha256"]["predictions.csv"]))
        fit = json.loads((out / "fit.json").read_text())
        target = write_calibration(table, out, **order, task=args.task, sim_reading=args.sim_reading,
                                   fit_cpu_seconds=fit["cpu_seconds"], fit_grid_size=fit["grid_size"])
        if not order["order_ok"]:
            raise RuntimeError("calibrate: predictions.csv was not written before the lab's arms ran, or changed")
        if progress:
            print(table.round(4).to_string(index=False))
            print(f"confirmed {target['confirmed']}/{target['determined']} ({target['confirmed_share']:.0%}); the "
                  f"lab's credited effects predicted with the right sign: {target['credited_right_sign']}/"
                  f"{target['lab_credited']} (needed {target['credited_needed']}); target: {target['target']}")

    return [
        Stage("lab_uniform", lab_uniform_shards, lab_uniform_finalize,
              ("initial_pass_rates.csv", "uniform_runs.csv", "lab_uniform.parquet")),
        Stage("fit", fit_shards, fit_finalize, ("fit.csv", "fit.json")),
        Stage("predict", predict_shards, predict_finalize,
              ("predictions.csv", "sim_summary.csv", "sim_replicates.csv")),
        Stage("lab_arms", lab_arms_shards, lab_arms_finalize,
              ("lab_effects.csv", "lab_summary.csv", "lab_replicates.csv")),
        Stage("calibrate", lambda out: [], calibrate_finalize, ("calibration.csv", "calibration_summary.csv")),
    ]
