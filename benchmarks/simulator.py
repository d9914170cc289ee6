"""Simulator throughput: simulated rollouts per second per core, end to end, against raw draw rates.

- raw_bernoulli: a numba loop of ``rng.random() < p`` (one uniform draw per rollout): the draw limit.
- raw_binomial_groups: ``rng.binomial(G, p)`` per group of G = 32, counted in rollouts.
- train_hora_end_to_end: ``simulate_training`` (shared-strategy policy, hora, Dr.GRPO) with a batch of
  20,000 prompts (quick: 4,000) x G = 32, pool construction included; rollouts = steps x batch x G.
  The simulator draws each group's successes as binomial counts (a sufficient statistic for binary
  rewards), which is why it can run faster than one uniform draw per rollout. Target >= 1e8 rollouts/s.
"""

from __future__ import annotations

import numpy as np

from simalloc._numba import jit
from simalloc.sim.training import TrainConfig, simulate_training

from .timing import best_of, row


@jit
def _bernoulli_draws(rng, p, n):
    hits = 0
    for _ in range(n):
        if rng.random() < p:
            hits += 1
    return hits


@jit
def _binomial_groups(rng, p, g, n_groups):
    total = 0
    for _ in range(n_groups):
        total += rng.binomial(g, p)
    return total


def run(quick: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    n_draws = 20_000_000 if quick else 100_000_000
    raw = best_of(lambda: _bernoulli_draws(rng, 0.3, n_draws), repeat=3)
    raw_rate = n_draws / raw
    n_groups = n_draws // 32
    binom = best_of(lambda: _binomial_groups(rng, 0.3, 32, n_groups), repeat=3)
    binom_rate = 32 * n_groups / binom
    batch = 4_000 if quick else 20_000
    cfg = TrainConfig(n_pool=2 * batch, n_eval=1000, n_prompts=batch, steps=10, phase_b_shards=1)
    seconds = best_of(lambda: simulate_training(cfg, "hora", 0), repeat=3)
    rollouts = cfg.steps * cfg.n_prompts * cfg.group_size
    rate = rollouts / seconds
    return [
        row("raw_bernoulli", n_draws, raw, raw, f"{raw_rate:.3g} draws/s", True, "the one-uniform-per-rollout limit"),
        row("raw_binomial_groups", 32 * n_groups, binom, raw * 32 * n_groups / n_draws, f"{binom_rate:.3g} rollouts/s",
            True, "baseline: raw_bernoulli at the same rollout count"),
        row("train_hora_end_to_end", rollouts, seconds, raw * rollouts / n_draws, f"{rate:.3g} rollouts/s (>= 1e8)",
            None if quick else rate >= 1e8, "baseline: raw_bernoulli at the same rollout count"),
    ]
