"""HORA with RLOO advantages against RLOO (HORA arXiv 2605.07114, Table 6), on uniform RLOO's frontier.

The flagship setting (60 prompts, G = 32, K0 = 8, 200 steps, 4 Phase-B shards, Beta(0.5, 0.5) world) with the
RLOO leave-one-out advantage r - (sum - r)/(G - 1) (unscaled) instead of GRPO's; the rest is the simulator's
default. Arms: uniform (RLOO), hora, hora_placebo; uniform RLOO also runs at learning rates x0.025 ... x2 to trace its
Pass@1-vs-Pass@256 frontier, so
``summary.csv`` reports each arm's frontier gain (its Pass@256 minus the frontier's at its own Pass@1) with an se
over replicates. Paper claim: HORA improves Pass@k over RLOO as it does over GRPO.
"""

from __future__ import annotations

from dataclasses import dataclass

from simalloc.train import CONTROLS, TrainConfig, TrainingStudyArgs, arm_shards, finalize_training, run_arm_shard


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", "hora_placebo", *CONTROLS)
    #: plain leave-one-out advantages, as the paper's RLOO (no std scaling; TRL's RLOO normalises only on request)
    train: TrainConfig = TrainConfig(loss="rloo", scale_rewards="none")

    @classmethod
    def quick(cls) -> "Args":
        return cls(arms=("uniform", "hora", "hora_placebo"), n_reps=3).with_train(steps=100, n_pool=1000, n_eval=500)


#: the runner's hooks: one shard per (replicate, arm), the frontier arms included
shards, run_shard = arm_shards, run_arm_shard


def finalize(args, tables, out, progress=True):
    return finalize_training(
        args, tables, out, progress=progress,
        title=f"HORA vs RLOO: {args.train.n_prompts} prompts, G = {args.train.group_size}, K0 = {args.train.k0}, "
              f"{args.train.steps} steps, loss {args.train.loss}, world {args.train.world}, {args.n_reps} replicates",
    )
