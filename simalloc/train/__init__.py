"""The training simulator: RL post-training under a rollout allocator, simulated, and the studies' machinery.

The pipeline, one module per stage:

- ``config``: ``TrainConfig`` (the one record a user sets) and the stage views it hands each stage;
- ``arms``: what is compared (``parse_arm``), the learning-rate frontier's arms;
- ``policies``: the simulated policies behind one interface (``Policy``);
- ``batch``: a step's prompts, pilot, allocation (sharded, placebo), extra rollouts; DAPO's dynamic sampling;
- ``update``: advantages, aggregation, gradient, per-rollout noise, clipping, optimizer: one step;
- ``snr``: the gradient signal-to-noise ratio (one definition for the simulator and the lab);
- ``evaluation``: what is recorded;
- ``model``: what the loop needs from a model (``TrainingModel``) and the simulator's (``SimulatedModel``);
- ``loop``: ``train_arm``, the one loop over those stages for the simulator and the lab, and
  ``simulate_training``;
- ``analysis``: final Pass@k, frontier gain (Pareto-filtered), matched learning rate, ``summary.csv`` and
  ``replicates.csv``;
- ``efficiency``: steps and rollouts to uniform GRPO's own targets, compute multipliers, the tuned read;
- ``credit``: when an effect is credited (both axes);
- ``study`` and ``figures``: the training studies' Args, shards and outputs.

Defaults follow the HORA paper's training: the cluster policy, TRL's std-normalised group advantages with
Dr.GRPO's aggregation, Adam with max grad norm 1.0, rollout temperature 0.7, sampled trajectories.
``V1_READING`` restores the first simulator (shared-strategy policy, unscaled advantages, per-prompt weighting,
SGD at lr 0.3, Rao-Blackwellised update, temperature 1).
"""

from __future__ import annotations

from .analysis import (
    EFFECT_FLOOR,
    final_summary,
    frontier_gain,
    frontier_table,
    matched_lr,
    pareto_mask,
    summary_long,
    summary_tables,
)
from .arms import (
    CONTROLS,
    DYNAMIC_SAMPLING,
    FRONTIER_LRS,
    START_POINT,
    Arm,
    all_arms,
    frontier_arms,
    frontier_points,
    parse_arm,
)
from .config import AGGREGATIONS, FAILURES, GRADIENTS, OPTIMIZERS, SCALE_REWARDS, V1_READING, V2_READING, TrainConfig
from .credit import MIN_CREDIT_REPS, credit
from .evaluation import STEP_COLUMNS
from .loop import simulate_training
from .snr import group_weights, snr_from_group_gradients
from .study import TrainingStudyArgs, arm_shards, batch_shards, finalize_training, run_arm_shard
from .update import Adam, advantage_masses, clip_by_norm

__all__ = ["TrainConfig", "Arm", "parse_arm", "simulate_training", "STEP_COLUMNS", "AGGREGATIONS", "OPTIMIZERS",
           "SCALE_REWARDS", "GRADIENTS", "V1_READING", "Adam", "clip_by_norm", "advantage_masses",
           "DYNAMIC_SAMPLING", "FRONTIER_LRS", "START_POINT", "frontier_arms", "frontier_points", "all_arms",
           "EFFECT_FLOOR", "final_summary", "frontier_gain", "frontier_table", "matched_lr", "summary_long",
           "TrainingStudyArgs", "arm_shards", "batch_shards", "run_arm_shard", "finalize_training", "CONTROLS",
           "FAILURES",
           "V2_READING", "snr_from_group_gradients", "group_weights", "summary_tables", "pareto_mask",
           "MIN_CREDIT_REPS", "credit"]
