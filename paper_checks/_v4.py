"""Shared simulator-v4 runs of the regime checks (issue 36 item 4): uniform GRPO on the log-linear policy.

The checks read simulator v4 (``V4_READING``: ``LogLinearPolicy`` with the per-rollout score noise matched to the
lab's SNR) in one of its regimes (``simalloc.train.policies.REGIMES``): "narrowing" (no skill transfer: GRPO only
sharpens the shared strategy popularity) or "expanding" (skills transfer, a tenth of the prompts unreachable).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from simalloc.train import TrainConfig, simulate_training
from simalloc.train.config import V4_READING

#: a held-out set of edge prompts: initial pass rates logit-normal(-6, 1) (median 0.0025)
EDGE_SET = "edge=logit_normal:-6,1"


def v4_config(full: bool, regime: str) -> tuple[TrainConfig, int]:
    """(the checks' v4 TrainConfig in ``regime`` (a ``REGIMES`` name or option string), n_reps): quick is a
    300-prompt batch of 30 x 16 for 90 steps, full the flagship's 60 x 32 for 300 steps."""
    base = dataclasses.replace(TrainConfig(), **{**V4_READING, "policy_options": regime}, eval_sets=(EDGE_SET,),
                               eval_set_ks=(1, 256), eval_temperatures=(), snr_every=0, ks=(1, 16, 128, 256))
    if full:
        return dataclasses.replace(base, steps=300, bench_sizes=(30,)), 8
    return dataclasses.replace(base, steps=90, n_pool=400, n_eval=300, n_prompts=30, group_size=16, k0=4,
                               bench_sizes=(30,)), 4


@lru_cache(maxsize=None)
def v4_runs(full: bool, regime: str, arm: str, seed: int = 0) -> tuple:
    """Per-replicate per-step tables of ``arm`` in ``regime`` (replicate r: SeedSequence([seed, r])), cached."""
    cfg, n_reps = v4_config(full, regime)
    return tuple(simulate_training(cfg, arm, np.random.SeedSequence([seed, r]), rep=r)[0] for r in range(n_reps))


def at_step(tables, column: str, step: int) -> np.ndarray:
    """Per-replicate value of ``column`` at ``step`` (-1: the last record), shape (n_reps,)."""
    return np.array([(t[column].iloc[-1] if step < 0 else t.loc[t.step == step, column].iloc[0]) for t in tables])
