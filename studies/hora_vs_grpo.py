"""HORA vs compute-matched GRPO and the baselines a user would pick instead (the flagship study).

HORA's paper setting: 60 prompts per batch, G = 32 rollouts per prompt on average, pilot K0 = 8, 200
steps, Phase B allocated in 4 shards of 15 prompts, uniform Beta(1, 1) prior; TRL's std-normalised group
advantages with Dr.GRPO's aggregation, Adam with max grad norm 1.0, rollout temperature 0.7 (the simulator's
defaults). The policy is the cluster policy (shared strategy logits plus per-cluster logits, sampled
trajectories) on a Beta(0.5, 0.5) difficulty world; Pass@k is exact on a held-out eval set. Arms: uniform (GRPO), hora,
``hora:truth`` (HORA allocating with the true pass rates: the oracle beside its pilot), and the baselines
dapo_dynamic (DAPO's dynamic sampling as DAPO runs it: refilled until the batch holds n_prompts groups with spread,
every generated rollout counted), vip (GP predictor, 4 <= n_i <= 64), knapsack, gvm; the controls (``CONTROLS``),
uniform GRPO's budget ladder x0.5 / x2 / x4, each also at learning rates of the frontier (``LADDER_GRID``: x2 at
x0.5, x0.7, x1.4, x2; x0.5 at x0.5, x0.7; x4 at x1.4, x2) for the tuned read, and the entropy-matched controls
``uniform:temp1.5`` and ``uniform:temp2`` (trained at 1.5 and 2 times the sampling temperature). Claims checked (HORA
arXiv 2605.07114, Table 1, Fig. 3):
Pass@k at large k improves over compute-matched GRPO at comparable Pass@1; s = 0 prompts get a share of
the Phase-B budget far above their share of prompts.

Frontier comparison: uniform GRPO also runs at learning rates x0.025 ... x2.0; each arm's
frontier gain is its Pass@256 minus that frontier's Pass@256 at the arm's own Pass@1 (per replicate, se over
replicates), so an arm that only trades Pass@1 for Pass@k like a learning-rate change scores ~0.
``hora_placebo`` permutes HORA's group sizes over the prompts of each shard. Outputs: summary.csv (arm,
metric, value, se; with each eval set's Pass@k, its benchmarks' Pass@k and the share of replicates in which such a
benchmark tells the arm from GRPO), frontier.png, final_passk.parquet, table.parquet, budget_share.parquet,
figure.png. The training prompts are the Beta(0.5, 0.5) pool; the eval sets (``EVAL_SETS``) are extra held-out
prompts from four worlds, drawn from their own random stream (the training and the main table do not change).
"""

from __future__ import annotations

from dataclasses import dataclass

from simalloc.train import CONTROLS, TrainConfig, TrainingStudyArgs, arm_shards, finalize_training, run_arm_shard
from simalloc.train.arms import BUDGET_LADDER, ORACLE_HORA, TEMPERATURE_CONTROLS, ladder_arms

#: held-out eval sets at four difficulties, evaluated from the same training run (the paper trains once and
#: evaluates on four benchmarks): the paper checks' worlds; Pass@k to 1024 and 30/500-problem benchmarks with se
EVAL_SETS = ("u_shaped=beta:0.5,0.5", "mixture=beta_mixture", "hard=logit_normal:-2.5,1.5", "easy=logit_normal:1,1.5")


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", ORACLE_HORA, "hora_placebo", "dapo_dynamic", "vip", "knapsack", "gvm", *CONTROLS,
                   *BUDGET_LADDER, *ladder_arms(), *TEMPERATURE_CONTROLS)
    train: TrainConfig = TrainConfig(eval_sets=EVAL_SETS)

    @classmethod
    def quick(cls) -> "Args":
        # one rung of the ladder over the grid (x2 at lr x2: quick uniform's fastest rate), so the tuned read exists
        return cls(arms=("uniform", "hora", "hora_placebo", "hard_first", *CONTROLS, "uniform:x2:lr2"),
                   n_reps=4).with_train(
            steps=150, n_pool=1000, n_eval=500)


#: the runner's hooks: one shard per (replicate, arm), the frontier arms included
shards, run_shard = arm_shards, run_arm_shard


def finalize(args, tables, out, progress=True):
    return finalize_training(
        args, tables, out, progress=progress,
        title=f"HORA vs GRPO: {args.train.n_prompts} prompts, G = {args.train.group_size}, K0 = {args.train.k0}, "
              f"{args.train.steps} steps, {args.train.loss}, world {args.train.world}, {args.n_reps} replicates",
    )
