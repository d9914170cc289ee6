"""HORA's ablations (arXiv 2605.07114, Table 2 and the prior ablation) in the simulator.

Arms: uniform, hora, hard_first (all extra budget to s = 0), hora:k16 (pilot K0 = 16), hora:gp (priors from
a Gaussian-process predictor on prompt embeddings), hora:oracle (priors from the true pass rate seen
through logit noise 0.5), plugin (p_hat = s/K0). Paper claims: hard-first is worse than HORA; K0 = 16 is not
uniformly better; learned priors give no consistent gain over the uniform prior.
"""

from __future__ import annotations

from dataclasses import dataclass

from simalloc.train import CONTROLS, TrainingStudyArgs, arm_shards, finalize_training, run_arm_shard


@dataclass(frozen=True)
class Args(TrainingStudyArgs):
    arms: tuple = ("uniform", "hora", "hard_first", "hora:k16", "hora:gp", "hora:oracle", "plugin", *CONTROLS)

    @classmethod
    def quick(cls) -> "Args":
        return cls(arms=("uniform", "hora", "hard_first", "hora:k16", "hora:gp", "hora:oracle", "plugin"),
                   n_reps=2).with_train(steps=100, n_pool=1000, n_eval=500)


#: the runner's hooks: one shard per (replicate, arm), the frontier arms included
shards, run_shard = arm_shards, run_arm_shard


def finalize(args, tables, out, progress=True):
    return finalize_training(args, tables, out, progress=progress,
                             title=f"HORA ablations: world {args.train.world}, {args.train.steps} steps, {args.n_reps} "
                                   "replicates")
