"""Simulated policies whose pass rates move under GRPO-family updates (``Policy`` is their interface).

- ``StrategyPolicy``: one softmax over M solution strategies shared by every prompt (a rank window per prompt);
- ``ClusterPolicy``: shared strategy logits plus logits per prompt cluster, solution sets from each cluster's noisy
  view of the ranking (the simulator's default);
- ``BernoulliPolicy``: an independent logit per prompt;
- ``LogLinearPolicy`` (simulator v4): pi(a | x) proportional to exp(theta . phi(x, a) + b_{x,a}) with shared strategy
  and skill logits: several solutions per prompt, transfer through skills, unreachable prompts (``loglinear``).

The sampled update (``sampled_gradient``, the training simulator's default) draws each rollout's strategy:
given prompt i's s_i successes out of n_i, the successes' strategies from pi restricted to S_i and the failures'
from its complement (the same joint law as drawing the strategy first and reading its outcome). With per-rollout
advantages A+ = a_i / s_i and A- = -a_i / (n_i - s_i), the REINFORCE sum is (a_i / T) (mean_succ e_j - mean_fail
e_j); its expectation given the counts is the Rao-Blackwellised ``gradient`` (tests check it by Monte Carlo).
"""

from __future__ import annotations

from .base import Policy, pass_at_k_curve, pass_at_k_per_prompt, zipf_strategies
from .bernoulli import BernoulliPolicy
from .cluster import ClusterPolicy
from .loglinear import LOGLINEAR_DEFAULTS, REGIMES, LogLinearPolicy, parse_policy_options
from .strategy import StrategyPolicy

__all__ = ["Policy", "StrategyPolicy", "ClusterPolicy", "BernoulliPolicy", "LogLinearPolicy", "make_policy",
           "POLICY_KINDS", "LOGLINEAR_DEFAULTS", "REGIMES", "parse_policy_options", "pass_at_k_curve",
           "pass_at_k_per_prompt", "zipf_strategies"]

POLICY_KINDS = {"strategy": StrategyPolicy, "cluster": ClusterPolicy, "bernoulli": BernoulliPolicy,
                "loglinear": LogLinearPolicy}


def make_policy(kind: str, world, n_pool, n_eval, n_strategies, zipf, rng, **options) -> Policy:
    """The policy ``kind`` (a ``POLICY_KINDS`` name) built by its ``from_world``; ``options``: temperature,
    eval_temperature (every policy), n_clusters, order_noise (the cluster policy only).

    Parameters
    ----------
    kind : {"strategy", "cluster", "bernoulli", "loglinear"}
        The policy.
    world : DifficultyWorld
        The initial pass rates are drawn from it.
    n_pool, n_eval : int
        Training and held-out prompts.
    n_strategies : int
        Strategies (ignored by the Bernoulli policy).
    zipf : float
        The strategies' Zipf exponent.
    rng : numpy.random.Generator
        The random state.
    **options
        temperature, eval_temperature; n_clusters, order_noise and failure_share for the cluster policy,
        policy_options for the log-linear one (others are dropped).

    Returns
    -------
    Policy
    """
    from ...validation import check_choice

    cls = POLICY_KINDS[check_choice(kind, "policy", POLICY_KINDS)]
    own = {"cluster": ("n_clusters", "order_noise", "failure_share"), "loglinear": ("policy_options",)}.get(kind, ())
    options = {k: v for k, v in options.items() if k in ("temperature", "eval_temperature", *own)}
    return cls.from_world(world, n_pool, n_eval, n_strategies, zipf, rng, **options)
