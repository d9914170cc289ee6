"""Test-time RL (TTRL) with a stopping rule for the pseudo-label.

Each step draws a batch of prompts from a pool; the stopping rule votes on each prompt's current answer
distribution and its plurality answer becomes the pseudo-label; ``train_rollouts`` rollouts per prompt are
rewarded 1 when they match the pseudo-label; a Dr.GRPO step moves each prompt's answer logits
(theta_i += lr * mean_r A_r (e_{y_r} - pi_i)). Recorded per step: label accuracy (pseudo-label correct),
reward accuracy (reward equals the true reward), Pass@1 on the pool (mean probability of the correct
answer, exact) and votes and tokens spent on labelling. TTRL (arXiv 2504.16084): 64 votes, train on 32.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import softmax

from ..stopping.rules import make_rule, run_rule
from ..worlds.votes import make_vote_world

__all__ = ["simulate_ttrl"]


def simulate_ttrl(world, rule, *, n_pool: int = 256, batch: int = 64, steps: int = 40, train_rollouts: int = 32,
                  lr: float = 1.0, seed: int = 0, rule_params: dict | None = None) -> pd.DataFrame:
    world = make_vote_world(world)
    rule_obj = make_rule(rule, **(rule_params or {}))
    for name, v, low in (("n_pool", n_pool, 1), ("batch", batch, 1), ("steps", steps, 0), ("train_rollouts", train_rollouts, 2)):
        if v < low:
            raise ValueError(f"{name}: must be >= {low}, got {v}")
    if batch > n_pool:
        raise ValueError(f"batch: must be <= n_pool={n_pool}")
    world_ss, batch_ss, vote_ss, train_ss = np.random.SeedSequence(seed).spawn(4)
    theta = np.log(world.sample(n_pool, np.random.default_rng(world_ss)))
    batch_rng, vote_rng, train_rng = (np.random.default_rng(s) for s in (batch_ss, vote_ss, train_ss))
    rows = [(rule, 0, np.nan, np.nan, float(softmax(theta, axis=1)[:, 0].mean()), np.nan, np.nan)]
    k = theta.shape[1]
    for step in range(1, steps + 1):
        idx = batch_rng.choice(n_pool, batch, replace=False)
        pi = softmax(theta[idx], axis=1)
        res = run_rule(rule_obj, pi, vote_rng, world=world)
        label = res["answer"]
        samples = np.array([train_rng.choice(k, size=train_rollouts, p=p) for p in pi])
        reward = (samples == label[:, None]).astype(float)
        true_reward = (samples == 0).astype(float)
        adv = reward - reward.mean(1, keepdims=True)
        onehot = np.eye(k)[samples]  # (batch, rollouts, k)
        grad = (adv[..., None] * (onehot - pi[:, None, :])).mean(1)
        theta[idx] += lr * grad
        rows.append((rule, step, float(np.mean(label == 0)), float(np.mean(reward == true_reward)),
                     float(softmax(theta, axis=1)[:, 0].mean()), float(res["votes"].mean()), float(res["tokens"].mean())))
    return pd.DataFrame(rows, columns=["rule", "step", "label_accuracy", "reward_accuracy", "pass@1", "votes", "tokens"])
