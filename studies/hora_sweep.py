"""In how many world/model settings does each HORA claim hold? (a sweep, not one hand-picked setting)

Settings: every combination of difficulty world (the paper checks' four: Beta(0.5, 0.5), a Beta mixture, a hard
and an easy logit-normal world), Zipf exponent of the strategies (how peaked the base model is), number of prompt
clusters (1 = no per-cluster parameters, only the shared logits; 8; 32), failure structure ("shared": v2's, a
failure is another prompt's strategy; "prompt:0.5": each prompt's own failure mode holds half its failure mass at
the start, the calibrated default)
and optimizer (Adam at the flagship's lr; SGD at ``sgd_lr``). Everything else is the flagship's
(the simulator's defaults: 60 prompts, G = 32, K0 = 8, TRL's std-normalised group advantages with Dr.GRPO
aggregation, Adam, T = 0.7, sampled trajectories). Per setting: uniform GRPO at the frontier's learning rates, hora
and hora_placebo, ``n_reps`` replicates with common random numbers.

Claims judged in every setting (effect floor ``EFFECT_FLOOR`` = 0.005, half a point, and 2 se over replicates):
- ``table1_frontier``: HORA's Pass@256 exceeds GRPO's learning-rate frontier at HORA's own Pass@1 (frontier gain).
- ``table1_raw``: HORA's Pass@256 exceeds GRPO's (lr x1) on the same replicates (the paper's Table-1 reading).
- ``pass1_kept``: HORA's Pass@1 is not below GRPO's by more than the floor (the paper: Pass@1 comparable).
- ``placebo_null``: the placebo's frontier gain is within max(floor, 2 se) of zero (the comparison is fair).
- ``fig3_s0_share``: HORA gives s = 0 prompts a Phase-B share above their share of prompts (paper Fig. 3).
Each verdict is ``holds``, ``no_effect`` (within the floor or within 2 se), ``reversed`` (the opposite, beyond both) or
``undetermined`` (HORA's Pass@1 outside the frontier's range in all but at most one replicate); for ``pass1_kept`` and
``placebo_null`` only ``holds`` and ``reversed`` (the claim fails) occur. Outputs: ``claims.csv`` (claim,
counts and the fraction of settings that hold), ``settings.csv`` (one row per setting and claim: value, se,
verdict), ``summary.csv`` (the summary contract, one block per setting), table.parquet, budget_share.parquet and
``figure.png`` (HORA's frontier gain per setting, and raw gain against frontier gain).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.io import write_table
from simalloc.stats import mean_se
from simalloc.train import (
    CONTROLS,
    EFFECT_FLOOR,
    TrainConfig,
    TrainingStudyArgs,
    arm_shards,
    final_summary,
    run_arm_shard,
    summary_tables,
)
from simalloc.train.calibration import reading_changes

#: the difficulty worlds of the sweep by name (the paper checks' four, paper_checks/_harness.py WORLDS); ``worlds``
#: takes these names or any world spec without a comma (``--set`` splits its value on commas)
SWEEP_WORLDS = {"u_shaped": "beta:0.5,0.5", "mixture": "beta_mixture", "hard": "logit_normal:-2.5,1.5",
                "easy": "logit_normal:1,1.5"}
CLAIMS = ("table1_frontier", "table1_raw", "pass1_kept", "placebo_null", "fig3_s0_share")
VERDICTS = ("holds", "no_effect", "reversed", "undetermined")


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", "hora_placebo", *CONTROLS)
    worlds: tuple = tuple(SWEEP_WORLDS)
    zipfs: tuple = (1.2, 1.5, 1.8)
    cluster_counts: tuple = (1, 8, 32)
    failure_readings: tuple = ("shared", "prompt:0.5")
    optimizers: tuple = ("adam", "sgd")
    #: SGD's learning rate (the first simulator's, ``V1_READING``); Adam uses ``train.lr``
    sgd_lr: float = 0.3
    n_reps: int = 3
    train: TrainConfig = TrainConfig(steps=150, n_pool=1000, n_eval=500)

    @classmethod
    def quick(cls) -> "Args":
        return cls(arms=("uniform", "hora", "hora_placebo"), worlds=("u_shaped", "hard"), zipfs=(1.5,),
                   cluster_counts=(8,), failure_readings=("shared",), optimizers=("adam",), n_reps=2,
                   frontier_lrs=(0.25, 0.5, 0.7, 1.4, 2.0)).with_train(steps=60)

    def settings(self) -> list[dict]:
        """Every (world, zipf, n_clusters, failures, optimizer) combination, in a fixed order (the setting index)."""
        return [{"world": SWEEP_WORLDS.get(w, w), "zipf": float(z), "n_clusters": int(c),
                 **reading_changes(f, o, self.train, self.sgd_lr)}
                for w, z, c, f, o in itertools.product(self.worlds, self.zipfs, self.cluster_counts,
                                                       self.failure_readings, self.optimizers)]

    def validate(self) -> "Args":
        super().validate()
        for name in ("worlds", "zipfs", "cluster_counts", "failure_readings", "optimizers"):
            if not getattr(self, name):
                raise ValueError(f"{name}: at least one value is needed")
        for s in self.settings():  # each setting must be a valid TrainConfig (names the bad value)
            self.with_train(**s).train.validate()
        if "hora" not in self.arms or "hora_placebo" not in self.arms:
            raise ValueError(f"arms: the sweep judges hora and hora_placebo, both must be arms; got {self.arms}")
        return self


def shards(args):
    return arm_shards(args, setting=tuple(range(len(args.settings()))))


def run_shard(args, shard):
    return run_arm_shard(args, shard, **args.settings()[shard["setting"]])


def _verdict(value, se, floor=EFFECT_FLOOR, positive=True):
    """holds / reversed when |value| exceeds both the floor and 2 se (sign decides), no_effect otherwise;
    undetermined without a value or a standard error (fewer than 2 replicates)."""
    if not (np.isfinite(value) and np.isfinite(se)):
        return "undetermined"
    bar = max(floor, 2 * se)
    if abs(value) <= bar:
        return "no_effect"
    return "holds" if (value > 0) == positive else "reversed"


def judge_setting(long: pd.DataFrame, final: pd.DataFrame, share: pd.DataFrame, kmax: int) -> list[tuple]:
    """The five claims' (claim, value, se, verdict) in one setting from its summary blocks (see module docstring)."""
    m = long.set_index(["arm", "metric"])
    rows = []
    g, g_se = m.loc[("hora", f"frontier_gain@{kmax}"), ["value", "se"]]
    rows.append(("table1_frontier", g, g_se, _verdict(g, g_se)))
    for claim, k in (("table1_raw", kmax), ("pass1_kept", 1)):
        r = final[(final.arm == "hora") & (final.k == k)].iloc[0]
        v, v_se = float(r["vs_uniform"]), float(r["vs_uniform_se"])
        verdict = _verdict(v, v_se)
        if claim == "pass1_kept":  # kept unless significantly lower by more than the floor
            verdict = "reversed" if verdict == "reversed" else "holds"
        rows.append((claim, v, v_se, verdict))
    p, p_se = m.loc[("hora_placebo", f"frontier_gain@{kmax}"), ["value", "se"]]
    v = _verdict(p, p_se)
    rows.append(("placebo_null", p, p_se, {"no_effect": "holds", "undetermined": "undetermined"}.get(v, "reversed")))
    s0 = share[(share.arm == "hora") & (share.s == 0)].groupby("rep")[["budget_share", "prompt_share"]].mean()
    d = s0.budget_share - s0.prompt_share
    d_se = mean_se(d).se
    rows.append(("fig3_s0_share", float(d.mean()) if len(d) else float("nan"), d_se,
                 _verdict(float(d.mean()), d_se, floor=0.0) if len(d) else "undetermined"))
    return rows


def finalize(args, tables, out, progress=True):
    steps, share = tables["steps"], tables["budget_share"]
    write_table(steps, out, "table")
    write_table(share, out, "budget_share")
    kmax = max(args.train.ks)
    blocks, reps, judged = [], [], []
    for i, setting in enumerate(args.settings()):
        st, sh = steps[steps.setting == i], share[share.setting == i]
        long, rep = summary_tables(st, args)
        blocks.append(long.assign(setting=i, **setting))
        reps.append(rep.assign(setting=i, **setting))
        for claim, value, se, verdict in judge_setting(long, final_summary(st, args.train.ks), sh, kmax):
            judged.append({"setting": i, **setting, "claim": claim, "value": value, "se": se, "verdict": verdict})
    write_table(pd.concat(blocks, ignore_index=True), out, "summary")
    write_table(pd.concat(reps, ignore_index=True), out, "replicates")  # the values behind summary.csv
    settings = pd.DataFrame(judged)
    write_table(settings, out, "settings")
    counts = (settings.groupby("claim").verdict.value_counts().unstack(fill_value=0)
              .reindex(index=list(CLAIMS), columns=list(VERDICTS), fill_value=0))
    counts["n_settings"] = counts[list(VERDICTS)].sum(axis=1)
    counts["fraction_holds"] = counts["holds"] / counts["n_settings"]
    claims = counts.reset_index()
    write_table(claims, out, "claims")
    _plot(settings, args, out / "figure.png")
    if progress:
        print(claims.to_string(index=False))
        gains = settings[settings.claim == "table1_frontier"]
        print(gains[["world", "zipf", "n_clusters", "failures", "optimizer", "value", "se", "verdict"]].round(4)
              .to_string(index=False))
    return claims


def _plot(settings: pd.DataFrame, args, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kmax = max(args.train.ks)
    gains = settings[settings.claim == "table1_frontier"].reset_index(drop=True)
    raw = settings[settings.claim == "table1_raw"].set_index("setting")
    fig, axes = plt.subplots(1, 2, figsize=(13, max(5.2, 1.8 + 0.2 * len(gains))))
    name = {spec: key for key, spec in SWEEP_WORLDS.items()}
    labels = [f"{name.get(w, w)}, Zipf {z:g}, C = {c}, {f}, {o}" for w, z, c, f, o in
              zip(gains.world, gains.zipf, gains.n_clusters, gains.failures, gains.optimizer)]
    y = np.arange(len(gains))
    colors = gains.verdict.map({"holds": "C2", "no_effect": "0.5", "reversed": "C3", "undetermined": "C7"})
    axes[0].errorbar(gains.value, y, xerr=1.96 * gains.se.fillna(0), fmt="none", ecolor="0.3", capsize=2)
    axes[0].scatter(gains.value, y, c=list(colors), zorder=3)
    axes[0].axvline(0, color="k", lw=0.8)
    for x in (-EFFECT_FLOOR, EFFECT_FLOOR):
        axes[0].axvline(x, color="k", lw=0.6, ls=":")
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    axes[0].set_xlabel(f"HORA frontier gain @{kmax} (probability; 95% CI; dotted: effect floor)")
    axes[0].set_title("HORA above (green) / below (red) GRPO's learning-rate frontier")
    r = raw.reindex(gains.setting)
    axes[1].errorbar(r.value, gains.value, xerr=1.96 * r.se.fillna(0), yerr=1.96 * gains.se.fillna(0), fmt="o",
                     ms=4, capsize=2)
    ylo = np.nanmin(gains.value - 1.96 * gains.se.fillna(0))
    yhi = np.nanmax(gains.value + 1.96 * gains.se.fillna(0))
    pad = 0.1 * (yhi - ylo) + 1e-3
    axes[1].set_ylim(min(ylo - pad, -EFFECT_FLOOR), max(yhi + pad, EFFECT_FLOOR))
    axes[1].plot([ylo - pad, yhi + pad], [ylo - pad, yhi + pad], "k:", lw=0.8, label="frontier gain = raw gain")
    axes[1].axhspan(-EFFECT_FLOOR, EFFECT_FLOOR, color="0.9", zorder=0, label="within the effect floor")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].axvline(0, color="k", lw=0.8)
    axes[1].set_xlabel(f"raw Pass@{kmax} gain over GRPO (lr x1; paired)")
    axes[1].set_ylabel(f"frontier gain @{kmax}")
    axes[1].set_title("What the raw comparison credits vs what survives the frontier")
    axes[1].legend(fontsize=8)
    tally = ", ".join(f"{v} {(gains.verdict == v).sum()}" for v in VERDICTS if (gains.verdict == v).any())
    fig.suptitle(f"HORA across {len(gains)} world/model settings ({args.n_reps} replicates each, {args.train.steps} "
                 "steps); "
                 f"frontier gain: {tally}")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / fig.get_figheight()))  # room for the two-line suptitle
    fig.savefig(path, dpi=110)
    plt.close(fig)
