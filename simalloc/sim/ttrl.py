"""Test-time RL (TTRL / OptPO) with a stopping rule for the pseudo-label, training on the retained votes.

Each step draws a batch of prompts from a pool; the stopping rule votes on each prompt's current answer
distribution and its answer becomes the pseudo-label. The votes it drew ARE the training rollouts (OptPO reuses
them): at most ``train_rollouts`` of them (a uniform subsample: TTRL labels with 64 and trains on 32) and at least
``min_train`` (OptPO's policy-update threshold, 16 or 32: a rule that stopped earlier is topped up with fresh
rollouts, whose tokens count). A rollout is rewarded 1 when it matches the pseudo-label; the group advantage is
the package's binary advantage (Dr.GRPO by default) and each prompt's answer logits move by
theta_i += lr * (1/n) sum_r A_r (e_{y_r} - pi_i). Recorded per step: label accuracy, reward accuracy (reward
equals the true reward), Pass@1 on the pool (exact), votes and tokens spent (labelling + top-up), and their
running totals. TTRL: arXiv 2504.16084; OptPO: arXiv 2512.02882.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import softmax

from ..estimators.advantages import LOSS_CODES, binary_advantage_masses
from ..seeding import as_seed_sequence
from ..stopping.rules import make_rule, run_rule
from ..validation import as_int, check_choice
from ..worlds.votes import make_vote_world

__all__ = ["simulate_ttrl", "counts_gradient"]


def counts_gradient(train, label, pi, code):
    """(1/n_i) sum_r A_r (e_{y_r} - pi_i) per prompt from class counts ``train`` (batch, k), binary rewards
    1[y == label_i], A from the package's binary advantage mass (loss code of LOSS_CODES).

    Parameters
    ----------
    train : ndarray of int, shape (batch, k)
        Training rollouts per class.
    label : ndarray of int, shape (batch,)
        The pseudo-labels.
    pi : ndarray, shape (batch, k)
        The current answer distributions.
    code : int
        The loss code.

    Returns
    -------
    ndarray, shape (batch, k)
        The logits' ascent direction.
    """
    batch = train.shape[0]
    n = train.sum(1)
    s = train[np.arange(batch), label]
    f = n - s
    mass = binary_advantage_masses(np.ascontiguousarray(s, dtype=np.int64), np.ascontiguousarray(n, dtype=np.int64),
                                   code, 1e-4, np.empty(batch))
    pos = np.divide(mass, s, out=np.zeros(batch), where=s > 0)
    neg = -np.divide(mass, f, out=np.zeros(batch), where=f > 0)
    adv = np.where(np.arange(train.shape[1])[None, :] == label[:, None], pos[:, None], neg[:, None])
    weight = train * adv / n[:, None]
    return weight - weight.sum(1, keepdims=True) * pi


def simulate_ttrl(world, rule, *, n_pool: int = 256, batch: int = 64, steps: int = 40, train_rollouts: int = 32,
                  min_train: int = 16, lr: float = 1.0, rng=None, rule_params: dict | None = None,
                  loss_type: str = "dr_grpo") -> pd.DataFrame:
    """Simulate TTRL with ``rule`` labelling each prompt; one row per step (step 0: the start).

    ``rng`` (SPEC 7) is split into world, batch, vote and training streams: rules given the same int or
    SeedSequence see the same prompts and batches.

    Parameters
    ----------
    world : str or VoteWorld
        The prompts' answer distributions.
    rule : str
        The stopping rule that labels (``make_rule``).
    n_pool : int, default 256
        Prompts in the pool.
    batch : int, default 64
        Prompts per step.
    steps : int, default 40
        Training steps.
    train_rollouts : int, default 32
        Most of the votes trained on.
    min_train : int, default 16
        Fewest rollouts trained on (topped up with fresh ones).
    lr : float, default 1.0
        The logits' learning rate.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    rule_params : dict, optional
        The rule's parameters.
    loss_type : str, default "dr_grpo"
        The advantage (``LOSS_CODES``).

    Returns
    -------
    pandas.DataFrame
        One row per step: rule, step, label_accuracy, reward_accuracy, pass@1, votes, tokens and running totals.

    References
    ----------
    TTRL, arXiv 2504.16084; OptPO, arXiv 2512.02882.
    """
    world = make_vote_world(world)
    rule_obj = make_rule(rule, **(rule_params or {}))
    code = LOSS_CODES[check_choice(loss_type, "loss_type", LOSS_CODES)]
    for name, v, low in (("n_pool", n_pool, 1), ("batch", batch, 1), ("steps", steps, 0),
                         ("train_rollouts", train_rollouts, 2), ("min_train", min_train, 1)):
        as_int(v, name, low)
    if batch > n_pool:
        raise ValueError(f"batch: must be <= n_pool={n_pool}")
    if min_train > train_rollouts:
        raise ValueError(f"min_train: must be <= train_rollouts={train_rollouts}, got {min_train}")
    world_ss, batch_ss, vote_ss, train_ss = as_seed_sequence(rng).spawn(4)
    theta = np.log(world.sample(n_pool, np.random.default_rng(world_ss)))
    batch_rng, vote_rng, train_rng = (np.random.default_rng(s) for s in (batch_ss, vote_ss, train_ss))
    k = theta.shape[1]
    rows = [(rule, 0, np.nan, np.nan, float(softmax(theta, axis=1)[:, 0].mean()), np.nan, np.nan, 0.0, 0.0, 0.0)]
    total_tokens = total_votes = total_correct = 0.0
    for step in range(1, steps + 1):
        idx = batch_rng.choice(n_pool, batch, replace=False)
        pi = softmax(theta[idx], axis=1)
        res = run_rule(rule_obj, pi, vote_rng, world=world)
        label, counts = res["answer"], res["counts"]
        tokens = res["tokens"].copy()
        votes = res["votes"].astype(float)
        train = np.empty_like(counts)
        for i in range(batch):
            n_i = int(counts[i].sum())
            if n_i > train_rollouts:  # a uniform subsample of the retained votes
                train[i] = train_rng.multivariate_hypergeometric(counts[i], train_rollouts)
            else:
                train[i] = counts[i]
            if n_i < min_train:  # top up to the update threshold with fresh rollouts
                extra = train_rng.multinomial(min_train - n_i, pi[i])
                train[i] += extra
                ok = np.repeat(np.arange(k), extra) == 0
                tokens[i] += world.lengths(ok, train_rng).sum()
                votes[i] += min_train - n_i
        n = train.sum(1)
        s = train[np.arange(batch), label]
        grad = counts_gradient(train, label, pi, code)
        theta[idx] += lr * grad
        true_match = train[:, 0]  # rollouts with the correct answer
        reward_ok = np.where(label == 0, n, n - s - true_match) / n  # reward == true reward
        total_tokens += tokens.sum()
        total_votes += votes.sum()
        total_correct += float(np.sum(label == 0))
        rows.append((rule, step, float(np.mean(label == 0)), float(reward_ok.mean()),
                     float(softmax(theta, axis=1)[:, 0].mean()), float(votes.mean()), float(tokens.mean()),
                     total_votes, total_tokens, total_correct / (step * batch)))
    return pd.DataFrame(rows, columns=["rule", "step", "label_accuracy", "reward_accuracy", "pass@1", "votes", "tokens",
                                       "cum_votes", "cum_tokens", "cum_label_accuracy"])
