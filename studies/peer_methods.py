"""Every current method on one axis: peer rules at a matched rollout budget, in the simulator and in the lab.

Arms (``ARMS``): uniform GRPO; HORA with its Beta(1, 1) prior and with each prompt's own history as prior
(``hora:history``); DAPO's dynamic sampling (``dapo_dynamic``); SPEED-RL's screen-then-extend
(``speed_rl_dynamic``); DARS's two schedules (``dars_et``, ``dars_hw``: pilot K0, the schedule's extra rollouts fit
to the budget); Reinforce-Ada ("balanced" and "positive_focused"); GRESO (pre-rollout skipping from each prompt's
history, then dynamic sampling); MoPPS (Thompson-sampled prompt selection from a decayed posterior); PODS
(max-variance down-sampling to half the group); Knapsack RL; and the controls (``hora_placebo``, ``uniform:x2``, two
held-out uniform learning rates). Every step of every arm may spend n_prompts x G rollouts, screening and
discarded rollouts included (``simalloc.train.peers``); an arm that stops early spends less, which
``rollouts_per_step`` reports. The exceptions are the refilling methods, run as published: ``dapo_dynamic``
(generation batches of n_prompts x G until the batch holds n_prompts groups with spread, at most
``dapo.max_num_gen_batches`` = 10), ``speed_rl_dynamic`` (screens and extensions until n_prompts full groups) and
``greso`` (skipping, then GRESO's adaptive refill): every generated rollout counted, so they spend more than uniform
GRPO whenever groups without spread occur. Reinforce-Ada's published comparison (up to 32 rollouts per prompt, 4 kept,
against GRPO at 4 per prompt) runs beside its budget-matched one (``simalloc.train.own_terms.published_arms``).

Each arm's frontier gain is its Pass@256 minus uniform GRPO's learning-rate frontier at the arm's own Pass@1
(``simalloc.train.analysis``), credited only beyond the frontier's own interpolation bound by 2 se.

Models (``models``): "sim" (the simulator at its defaults: 60 prompts x G = 32, K0 = 8, 200 steps) and "lab" (the
lab's network: 64 prompts x G = 16, K0 = 4, ``lab_steps`` steps, ``lab_reps`` replicates). Outputs: ``sim/`` and
``lab/`` (each a training study's outputs: summary.csv, frontier.png, figure.png ...), ``summary.csv`` (model,
arm, metric, value, se, n_reps: both models' summaries), ``ranking.csv`` / ``ranking.png`` (per model and arm, both
axes: frontier gain at 256 with se, credited, Pass@1, rollouts per step, informative share, the step and compute
multipliers to uniform's 50% Pass@1 target; ranked by frontier gain) and ``own_terms.csv`` (each peer's published
headline beside simalloc's read of the same kind of metric, per model: ``simalloc.train.own_terms``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simalloc.io import write_table
from simalloc.lab import LabConfig, warm_start
from simalloc.lab.batched import train_lab_shard
from simalloc.train import CONTROLS, TrainConfig, TrainingStudyArgs, arm_shards, finalize_training, run_arm_shard
from simalloc.train.own_terms import own_terms, published_arms
from simalloc.train.peers import parse_peer_options
from simalloc.train.study import batch_shards

#: the compared methods (controls follow)
METHODS = ("uniform", "hora", "hora:history", "dapo_dynamic", "speed_rl_dynamic", "dars_et", "dars_hw",
           "reinforce_ada", "reinforce_ada_pos", "greso", "mopps", "pods", "knapsack")
ARMS = METHODS + ("hora_placebo", *CONTROLS)
#: the lab's frontier (``lab_hora_vs_grpo``'s)
LAB_FRONTIER_LRS = (0.1, 0.25, 0.5, 0.7, 1.4, 2.0)
MODELS = ("sim", "lab")


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    """The study's settings: ``TrainingStudyArgs`` for the simulator, plus the lab's (``lab``, ``lab_reps``,
    ``lab_steps``, ``lab_frontier_lrs``) and which models run; ``--set peer_options=...`` applies to both."""

    arms: tuple = ARMS
    n_reps: int = 8
    train: TrainConfig = TrainConfig()
    models: tuple = MODELS
    lab_reps: int = 4
    lab_steps: int = 200
    lab_frontier_lrs: tuple = LAB_FRONTIER_LRS
    lab: LabConfig = LabConfig()
    lab_batch_runs: int = 8  # lab runs trained together (one arm, consecutive replicates): a shard; fixed here

    @classmethod
    def quick(cls) -> "Args":
        arms = ("uniform", "hora", "hora:history", "dapo_dynamic", "speed_rl_dynamic", "dars_et", "reinforce_ada",
                "greso", "mopps", "pods", "knapsack", "hora_placebo", "uniform:x2")
        quick = cls(arms=arms, n_reps=3, frontier_lrs=(0.25, 0.5, 2.0), lab_reps=2, lab_steps=6,
                    lab_frontier_lrs=(0.5, 2.0),
                    lab=LabConfig(n_prompts=8, group_size=8, k0=2, phase_b_shards=2, n_eval=64, record_every=3,
                                  snr_every=0, warm_steps=150))
        return quick.with_train(steps=60, n_pool=600, n_eval=300, record_every=10, snr_every=0)

    def validate(self) -> "Args":
        super().validate()
        if not self.models or any(m not in MODELS for m in self.models):
            raise ValueError(f"models: expected a non-empty subset of {MODELS}, got {self.models!r}")
        if self.lab.steps != LabConfig().steps:
            raise ValueError(f"lab.steps: this study sets the lab's steps from lab_steps (--set lab_steps=...), "
                             f"got lab.steps={self.lab.steps}")
        if self.lab.peer_options:
            raise ValueError("lab.peer_options: set peer_options (--set peer_options=...: it applies to both "
                             f"models), got lab.peer_options={self.lab.peer_options!r}")
        if self.lab_reps < 1 or self.lab_steps < 1:
            raise ValueError(f"lab_reps, lab_steps: must be >= 1, got {self.lab_reps}, {self.lab_steps}")
        self.lab_args().validate()
        return self

    def sim_args(self) -> TrainingStudyArgs:
        """The simulator's part as a plain training study (``published_arms`` added at the simulator's G)."""
        return TrainingStudyArgs(_with_published(self.arms, self.train.group_size), self.n_reps, self.seed,
                                 self.frontier_lrs, self.train)

    def lab_args(self) -> TrainingStudyArgs:
        """The lab's part as a training study (``train`` is the ``LabConfig``; ``published_arms`` at the lab's G)."""
        lab = dataclasses.replace(self.lab, steps=self.lab_steps, peer_options=self.train.peer_options)
        return TrainingStudyArgs(_with_published(self.arms, lab.group_size), self.lab_reps, self.seed,
                                 self.lab_frontier_lrs, lab)


def _with_published(arms: tuple, group_size: int) -> tuple:
    """The study's arms plus Reinforce-Ada's published comparison at this G (``published_arms``) when the study runs
    reinforce_ada."""
    extra = published_arms(group_size) if "reinforce_ada" in arms else ()
    return tuple(arms) + tuple(a for a in extra if a not in arms)


def shards(args):
    """The simulator's and the lab's (arm, replicate) shards, tagged by model; the lab's warm start is built (or
    read from its cache) once, before the workers start."""
    out = []
    for model in args.models:
        part = args.sim_args() if model == "sim" else args.lab_args()
        if model == "lab":
            cfg = part.train
            warm_start(cfg.build_task(), cfg.model_spec, cfg.warm, cfg.temperature)
        tagged = [{**s, "id": f"{model}-{s['id']}", "model": model} for s in arm_shards(part)]
        out += tagged if model == "sim" else batch_shards(tagged, args.lab_batch_runs)
    return out


def run_shard(args, shard):
    if shard["model"] == "sim":
        plain = {k: v for k, v in shard.items() if k != "model"}
        tables = run_arm_shard(args.sim_args(), plain)
    else:
        tables = train_lab_shard(args.lab_args().train, args.seed, shard)
    return {f"{shard['model']}_{key}": table for key, table in tables.items()}


def ranking(long: pd.DataFrame, arms) -> pd.DataFrame:
    """Per arm: both axes: frontier gain at 256 (se), credited, Pass@1, rollouts per step and informative share, and
    the step and compute multipliers at uniform's 50% Pass@1 target with the latter's se and credit; ranked by
    frontier gain (the controls after the methods)."""
    wide = long[long.arm.isin(arms)].pivot_table(index="arm", columns="metric", values=["value", "se"],
                                                 aggfunc="first")
    rows = []
    for arm in arms:
        if arm not in wide.index:
            continue

        def get(metric, what="value", _arm=arm):
            key = (what, metric)
            return float(wide.loc[_arm, key]) if key in wide.columns else np.nan

        rows.append({"arm": arm, "control": arm not in METHODS,
                     "frontier_gain@256": get("frontier_gain@256"), "frontier_gain_se": get("frontier_gain@256", "se"),
                     "credited@256": get("credited@256"), "pass@1": get("pass@1"), "pass@256": get("pass@256"),
                     "rollouts_per_step": get("rollouts_per_step"), "informative_share": get("informative_share"),
                     # the efficiency axis at uniform's 50% Pass@1 target (the 100% one is often censored in short runs)
                     "step_multiplier@pass@1@50%": get("step_multiplier@pass@1@50%"),
                     "compute_multiplier@pass@1@50%": get("compute_multiplier@pass@1@50%"),
                     "compute_multiplier_se": get("compute_multiplier@pass@1@50%", "se"),
                     "credited@compute_multiplier@pass@1@50%": get("credited@compute_multiplier@pass@1@50%")})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(["control", "frontier_gain@256"], ascending=[True, False], na_position="last")


def _figure(rank: pd.DataFrame, bounds: dict, path) -> None:
    from simalloc.plotting import use_agg

    plt = use_agg()
    models = list(dict.fromkeys(rank.model))
    fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 0.32 * rank.arm.nunique() + 2.4),
                             squeeze=False)
    for ax, model in zip(axes[0], models):
        sub = rank[rank.model == model].iloc[::-1]
        colors = ["tab:green" if c > 0 else "tab:red" if c < 0 else "tab:gray" for c in sub["credited@256"].fillna(0)]
        ax.barh(sub.arm, sub["frontier_gain@256"], xerr=2 * sub["frontier_gain_se"], color=colors,
                hatch=["//" if c else "" for c in sub.control], edgecolor="white")
        ax.axvline(0, color="k", lw=0.7)
        bound = bounds.get(model, np.nan)
        if np.isfinite(bound):
            for x in (-bound, bound):
                ax.axvline(x, color="k", lw=0.7, ls="--")
        ax.set_xlabel("frontier gain, Pass@256 (minus GRPO's lr frontier at the same Pass@1), +- 2 se")
        ax.set_title(f"{model}: dashed = the frontier's interpolation bound; hatched = controls\n"
                     "green / red: credited (beyond the bound by 2 se)", fontsize=10)
    fig.suptitle("Peer methods at a matched rollout budget per step\n"
                 "(the refilling rules at what their trainers spend)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def finalize(args, tables, out, progress=True):
    longs, reps, ranks, terms = [], [], [], []
    for model in args.models:
        part = args.sim_args() if model == "sim" else args.lab_args()
        sub = {key[len(model) + 1:]: t for key, t in tables.items() if key.startswith(model + "_")}
        folder = out / model
        folder.mkdir(parents=True, exist_ok=True)
        cfg = part.train
        finalize_training(part, sub, folder, progress=progress,
                          title=f"Peer methods ({model}): {cfg.n_prompts} prompts, G = {cfg.group_size}, "
                                f"K0 = {cfg.k0}, {cfg.steps} steps, {part.n_reps} replicates")
        long = pd.read_parquet(folder / "summary.parquet")
        longs.append(long.assign(model=model))
        reps.append(pd.read_parquet(folder / "replicates.parquet").assign(model=model))
        ranks.append(ranking(long, part.arms).assign(model=model))
        terms.append(own_terms(sub["steps"], model, cfg, parse_peer_options(cfg.peer_options)))
    long = pd.concat(longs, ignore_index=True)[["model", "arm", "metric", "value", "se", "n_reps"]]
    write_table(long, out, "summary")
    rep = pd.concat(reps, ignore_index=True)
    write_table(rep[["model", "arm", "rep", "metric", "value"]], out, "replicates")
    rank = pd.concat(ranks, ignore_index=True)
    rank = rank[["model"] + [c for c in rank.columns if c != "model"]]
    write_table(rank, out, "ranking")
    bound = long[(long.arm == "frontier") & long.metric.str.startswith("interpolation_bound")]
    _figure(rank, dict(zip(bound.model, bound.value)), out / "ranking.png")
    own = pd.concat(terms, ignore_index=True)
    write_table(own, out, "own_terms")  # each peer's published headline beside simalloc's read of the same metric
    if progress:
        print(rank.round(4).to_string(index=False))
        print(own[["model", "peer", "published_value", "simalloc_metric", "baseline", "value", "se", "n_reps",
                   "censored_pairs"]].round(3).to_string(index=False))
    return rank
