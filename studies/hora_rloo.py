"""HORA with RLOO advantages against RLOO (HORA arXiv 2605.07114, Table 6), on uniform RLOO's frontier.

The flagship setting (60 prompts, G = 32, K0 = 8, 200 steps, 4 Phase-B shards, Beta(0.5, 0.5) world) with the
RLOO leave-one-out advantage r - (sum - r)/(G - 1) (unscaled) instead of GRPO's; the rest is simulator v2's
default. Arms: uniform (RLOO), hora, hora_placebo; uniform RLOO also runs at learning rates x0.025 ... x2 to trace its Pass@1-vs-Pass@256 frontier, so
``summary.csv`` reports each arm's frontier gain (its Pass@256 minus the frontier's at its own Pass@1) with an se
over replicates. Paper claim: HORA improves Pass@k over RLOO as it does over GRPO.
"""

from __future__ import annotations

from dataclasses import dataclass

from simalloc.sim.training import TrainConfig
from simalloc.sim.training_study import arm_shards, finalize_training, run_arm_shard, validate_training_args


@dataclass(frozen=True)
class Args(TrainConfig):
    loss: str = "rloo"
    #: plain leave-one-out advantages, as the paper's RLOO (no std scaling; TRL's RLOO normalises only on request)
    scale_rewards: str = "none"
    arms: tuple = ("uniform", "hora", "hora_placebo")
    n_reps: int = 8
    seed: int = 0
    frontier_lrs: tuple = (0.025, 0.05, 0.1, 0.25, 0.5, 0.7, 1.4, 2.0)

    @classmethod
    def quick(cls) -> "Args":
        return cls(n_reps=3, steps=100, n_pool=1000, n_eval=500)

    def validate(self):
        validate_training_args(self)


def shards(args):
    return arm_shards(args)


def run_shard(args, shard):
    return run_arm_shard(args, shard)


def finalize(args, tables, out, progress=True):
    return finalize_training(
        args, tables, out, progress=progress,
        title=f"HORA vs RLOO: {args.n_prompts} prompts, G = {args.group_size}, K0 = {args.k0}, {args.steps} steps, "
              f"loss {args.loss}, world {args.world}, {args.n_reps} replicates",
    )
