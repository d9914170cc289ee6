"""Simulator throughput: simulated rollouts per second per core, end to end, against baselines timed in the same run.

- raw_bernoulli: a numba loop of ``rng.random() < p`` (one uniform draw per rollout): the draw limit.
- raw_binomial_groups: ``rng.binomial(G, p)`` per group of G = 32, counted in rollouts.
- sampled_step_numba vs sampled_step_numpy: the simulator's sampled update on the cluster policy (M = 200
  strategies, 8 clusters) for a batch of prompts x G = 32 in which every group has both outcomes, so every
  rollout's strategy is drawn (from pi restricted to the prompt's solution set or to its complement) and added
  to the gradient: the numba kernel (``ClusterPolicy.sampled_gradient``) against a vectorised numpy version of
  the same step (row-offset cumulative sums, one searchsorted, np.add.at). Targets: >= 10x numpy and >= 2e7
  drawn rollouts/s on one core.
- sampled_step_loglinear: simulator v4's sampled update (``LogLinearPolicy.sampled_gradient``, M = 200
  strategies, its defaults: the score-shaped noise draws one more action per rollout) on the same kind of batch
  (every group mixed), in drawn rollouts per second (each rollout's own action; the noise draw is counted in the
  time, not in the rollouts). Baseline: the cluster policy's numba step on the same batch size. Target: >= 2e7.
- train_hora_end_to_end: ``simulate_training`` with the simulator's defaults (cluster policy, sampled
  trajectories, Adam) and hora, a batch of 20,000 prompts (quick: 4,000) x G = 32, pool construction included;
  rollouts = steps x batch x G; metrics recorded at the last step only (record_every = 10). Groups without spread carry
  no gradient and draw no strategy: the note gives
  the share whose strategies were drawn. Baseline: raw_bernoulli at the same rollout count.
"""

from __future__ import annotations

import numpy as np

from simalloc.estimators.advantages import LOSS_CODES, binary_advantage_masses
from simalloc.jit import jit
from simalloc.train import TrainConfig, simulate_training
from simalloc.train.policies import ClusterPolicy, LogLinearPolicy
from simalloc.worlds import BetaWorld

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


def sampled_gradient_numpy(pi, cluster, solves, idx, s, n, coef, inv_t, rng):
    """The sampled step of ``ClusterPolicy.sampled_gradient`` in vectorised numpy (the benchmark's baseline):
    per-row cumulative masses of the solution set and its complement, offset by 2 x row so one searchsorted finds
    every draw's strategy, then np.add.at of the per-rollout weights."""
    m = pi.shape[1]
    live = (coef != 0) & (s > 0) & (s < n)
    idx, s, n, coef = idx[live], s[live], n[live], coef[live]
    rows_pi = pi[cluster[idx]]
    sol = solves[idx]
    g_u, g_w = np.zeros(m), np.zeros(pi.shape)
    for mask, count, weight in ((sol, s, coef * inv_t / np.maximum(s, 1)),
                                (~sol, n - s, -coef * inv_t / np.maximum(n - s, 1))):
        cum = np.cumsum(rows_pi * mask, axis=1)
        total = cum[:, -1]
        row_of = np.repeat(np.arange(idx.size), count)
        offset = 2.0 * np.arange(idx.size)
        flat = (cum + offset[:, None]).ravel()
        u = rng.random(row_of.size) * total[row_of] + offset[row_of]
        j = np.searchsorted(flat, u, side="right") - row_of * m
        j = np.minimum(j, m - 1)
        w = np.repeat(weight, count)
        np.add.at(g_u, j, w)
        np.add.at(g_w, (cluster[idx][row_of], j), w)
    return np.concatenate([g_u, g_w.ravel()])


def _sampled_batch(n_prompts, seed=0):
    rng = np.random.default_rng(seed)
    pol = ClusterPolicy.from_world(BetaWorld(1, 1), n_prompts, 10, 200, 1.5, rng, n_clusters=8, temperature=0.7)
    idx = np.arange(n_prompts, dtype=np.int64)
    p = pol.pass_rates(idx)
    n = np.full(n_prompts, 32, dtype=np.int64)
    s = np.clip(rng.binomial(n, p), 1, 31).astype(np.int64)  # every group mixed: every rollout drawn
    coef = binary_advantage_masses(s, n, LOSS_CODES["grpo"], 1e-4, np.empty(n_prompts)) / 32
    return pol, idx, s, n, coef


def _loglinear_batch(n_prompts, seed=0):
    """A v4 batch like ``_sampled_batch``: n_prompts prompts x G = 32, every group mixed."""
    rng = np.random.default_rng(seed)
    pol = LogLinearPolicy.from_world(BetaWorld(1, 1), n_prompts, 10, 200, 1.5, rng, temperature=0.7)
    idx = np.arange(n_prompts, dtype=np.int64)
    n = np.full(n_prompts, 32, dtype=np.int64)
    s = np.clip(rng.binomial(n, pol.pass_rates(idx)), 1, 31).astype(np.int64)
    coef = binary_advantage_masses(s, n, LOSS_CODES["grpo"], 1e-4, np.empty(n_prompts)) / 32
    return pol, idx, s, n, coef


def run(quick: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    n_draws = 20_000_000 if quick else 100_000_000
    raw = best_of(lambda: _bernoulli_draws(rng, 0.3, n_draws), repeat=3)
    raw_rate = n_draws / raw
    n_groups = n_draws // 32
    binom = best_of(lambda: _binomial_groups(rng, 0.3, 32, n_groups), repeat=3)
    binom_rate = 32 * n_groups / binom

    n_batch = 4_000 if quick else 20_000
    pol, idx, s, n, coef = _sampled_batch(n_batch)
    drawn = int(n.sum())
    t_numba = best_of(lambda: pol.sampled_gradient(idx, s, n, coef, rng), repeat=3)
    t_numpy = best_of(lambda: sampled_gradient_numpy(pol._pi, pol.cluster, pol.solves, idx, s, n, coef,
                                                     1 / pol.temperature, rng), repeat=3)
    sampled_rate = drawn / t_numba
    lpol, lidx, ls, ln, lcoef = _loglinear_batch(n_batch)
    t_v4 = best_of(lambda: lpol.sampled_gradient(lidx, ls, ln, lcoef, rng), repeat=3)
    v4_rate = int(ln.sum()) / t_v4

    batch = 4_000 if quick else 20_000
    cfg = TrainConfig(n_pool=2 * batch, n_eval=1000, n_prompts=batch, steps=10, phase_b_shards=1, record_every=10,
                      snr_every=0)  # training throughput; the SNR is a measurement, not part of a step
    seconds = best_of(lambda: simulate_training(cfg, "hora", 0), repeat=3)
    table, _ = simulate_training(cfg, "hora", 0)
    mixed = float(table.informative_share.iloc[1:].mean())
    rollouts = cfg.steps * cfg.n_prompts * cfg.group_size
    rate = rollouts / seconds
    return [
        row("raw_bernoulli", n_draws, raw, raw, f"{raw_rate:.3g} draws/s", True, "the one-uniform-per-rollout limit"),
        row("raw_binomial_groups", 32 * n_groups, binom, raw * 32 * n_groups / n_draws, f"{binom_rate:.3g} rollouts/s",
            True, "baseline: raw_bernoulli at the same rollout count"),
        row("sampled_step_numba", drawn, t_numba, t_numpy,
            f"{sampled_rate:.3g} drawn rollouts/s (>= 2e7), {t_numpy / t_numba:.1f}x numpy (>= 10x)",
            None if quick else (sampled_rate >= 2e7 and t_numpy / t_numba >= 10),
            "baseline: the same sampled step in vectorised numpy (sampled_gradient_numpy), same batch"),
        row("sampled_step_loglinear", int(ln.sum()), t_v4, t_numba * ln.sum() / drawn,
            f"{v4_rate:.3g} drawn rollouts/s (>= 2e7)", None if quick else v4_rate >= 2e7,
            "baseline: the cluster policy's sampled step (sampled_step_numba) at the same rollout count"),
        row("train_hora_end_to_end", rollouts, seconds, raw * rollouts / n_draws,
            f"{rate:.3g} rollouts/s, {mixed:.0%} of groups mixed (their strategies drawn)", None,
            "baseline: raw_bernoulli at the same rollout count"),
    ]
