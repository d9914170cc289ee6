"""The settings of one simulated training run and the stage views the pipeline reads.

``TrainConfig`` is the one record a user sets (its fields are the ``--set`` keys of every training study and
the names written to ``args.json``). Each stage of the pipeline reads only its own frozen view of it:
``policy_spec`` (the policy and its world), ``batch_spec`` (batch, pilot, allocation, predictor), ``update_spec``
(advantages, aggregation, optimizer, clipping) and ``eval_spec`` (what is recorded and when).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..estimators.advantages import LOSS_CODES
from ..validation import check_choice
from ..worlds import make_world
from .evaluation import EVAL_TEMPERATURES, temperature_columns
from .policies import POLICY_KINDS, parse_policy_options

__all__ = ["TrainConfig", "PolicySpec", "BatchSpec", "UpdateSpec", "EvalSpec", "AGGREGATIONS", "OPTIMIZERS",
           "SCALE_REWARDS", "GRADIENTS", "V1_READING", "V2_READING", "V3_READING", "V4_READING", "FAILURES"]

AGGREGATIONS = ("rollout", "prompt")
#: the failure structure of the cluster policy: v2's "shared" (a failure is another prompt's strategy) or
#: "prompt" (each prompt also has its own failure mode holding ``failure_share`` of its failure mass at the start)
FAILURES = ("shared", "prompt")
OPTIMIZERS = ("adam", "sgd")
SCALE_REWARDS = ("group", "batch", "none")
GRADIENTS = ("sampled", "rao_blackwell")
#: the first simulator's settings, kept as a reading: `dataclasses.replace(TrainConfig(), **V1_READING)`
V1_READING = dict(policy="strategy", scale_rewards="none", aggregation="prompt", optimizer="sgd", max_grad_norm=0.0,
                  lr=0.3, gradient="rao_blackwell", temperature=1.0, eval_temperature=1.0, rollout_noise=0.0)
#: simulator v2's model (issue 11 to issue 22): shared failures, no per-rollout noise, ranking noise 1; v3's
#: defaults are the point ``sim_calibration`` fitted to the lab (docs/lab/calibration_fit.csv)
V2_READING = dict(failures="shared", rollout_noise=0.0, order_noise=1.0)
#: simulator v3 (issue 22; today's defaults, kept as a reading for when the defaults move): the cluster policy at the
#: point ``sim_calibration`` fitted to the lab
V3_READING = dict(policy="cluster", failures="prompt", failure_share=0.5, rollout_noise=0.1, order_noise=3.0)
#: simulator v4 (issue 36): the log-linear policy (``LogLinearPolicy``; its regime and its score-shaped per-rollout
#: noise in ``policy_options``, whose default sets uniform GRPO's gradient SNR at x1 near the lab's: docs/simulator.md);
#: the isotropic ``rollout_noise`` is off (v4's noise lies in the score's own directions)
V4_READING = dict(policy="loglinear", policy_options="", rollout_noise=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one simulated training run (defaults: HORA's paper setting).

    The fields are flat (``--set key=value`` names them directly); each stage reads its own view
    (``policy_spec``, ``batch_spec``, ``update_spec``, ``eval_spec``). ``validate()`` checks them all before any
    work. The comments beside the fields below say what each choice means.

    Parameters
    ----------
    world, policy, n_pool, n_eval, n_strategies, zipf, n_clusters, order_noise, temperature, eval_temperature
        The policy (``PolicySpec``): the difficulty world of its prompts ("beta:a,b", "logit_normal:mu,sigma",
        ...), the policy kind ("cluster", "strategy", "bernoulli"), the training pool and held-out set sizes,
        the strategies and their Zipf popularity, the cluster structure, the sampling and evaluation
        temperatures.
    policy_options
        The log-linear policy's options (``simalloc.train.policies.parse_policy_options``; others ignore them).
    failures, failure_share
        The cluster policy's failure structure (``FAILURES``; the other policies ignore it): "shared" (v2: a
        failure is one of the shared strategies outside the prompt's solution set) or "prompt" (each prompt also
        has its own failure mode, holding ``failure_share`` of its failure mass at the start; ``ClusterPolicy``).
    n_prompts, group_size, k0, phase_b_shards, cap, warmup_steps
        The batch (``BatchSpec``): prompts per step, rollouts per prompt on average (the step's budget is
        n_prompts x group_size), the pilot size, the shards Phase B is allocated in, the per-prompt cap (0: none)
        and the plain-GRPO warm-up steps.
    prior_concentration, oracle_noise, embed_dim, embed_signal, vip_n_max, peer_options
        The learned prior Beta(mu c, (1 - mu) c)'s concentration c, the oracle predictor's noise, the synthetic
        prompt embeddings of the GP predictor, VIP's largest group, and the peer arms' parameters as
        "rule.key=value,..." over ``simalloc.train.peers.PEER_DEFAULTS`` ("": the public code's defaults).
    loss, scale_rewards, advantage_eps, aggregation, gradient, optimizer, max_grad_norm, lr, rollout_noise
        The update (``UpdateSpec``): TRL's loss type and reward scaling, the advantage's std offset, how rollouts
        are averaged, the sampled or Rao-Blackwellized gradient, Adam or SGD, clipping, the learning rate and the
        per-rollout score noise sigma (each rollout's score function gets N(0, sigma^2 I) over the parameters:
        the part of an LLM's per-token log-probability gradients that the outcome does not explain; 0 = none).
    steps, ks, record_every, snr_every, eval_sets, eval_set_ks, bench_sizes, eval_temperatures
        Recording (``EvalSpec``): training steps, the Pass@k curve's k, how often a step is recorded, how often
        the gradient signal-to-noise ratio is measured (0 = never), the extra held-out sets ("name=world") with
        their k and finite benchmark sizes, and the evaluation temperatures Pass@1 / Pass@kmax are also read at.

    References
    ----------
    HORA, arXiv 2605.07114 (the setting); TRL's GRPOTrainer (loss types, scale_rewards, eps); D. P. Kingma and
    J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
    """

    world: str = "beta:0.5,0.5"
    policy: str = "cluster"
    n_pool: int = 2000
    n_eval: int = 1000
    n_strategies: int = 200
    zipf: float = 1.5
    #: the cluster policy's failure structure (``FAILURES``) and, for "prompt", the own failure mode's initial share
    failures: str = "prompt"
    failure_share: float = 0.5
    #: the log-linear policy's options (``policy=loglinear``, simulator v4): "key=value,..." over solutions, skills,
    #: transfer, unreachable, or a regime name ("narrowing", "expanding"); "" = its defaults
    policy_options: str = ""
    #: the cluster policy's prompt clusters and the noise of each cluster's view of the strategy ranking
    n_clusters: int = 8
    order_noise: float = 3.0
    n_prompts: int = 60
    group_size: int = 32
    k0: int = 8
    steps: int = 200
    phase_b_shards: int = 4
    #: the advantage's baseline: "dr_grpo" and "grpo" the group mean (TRL's loss types differ only in token
    #: aggregation, which equal-length rollouts make the same), "rloo" the leave-one-out mean
    loss: str = "dr_grpo"
    #: TRL's scale_rewards: "group" (divide by the group's reward std, Bessel-corrected, + eps; TRL's default),
    #: "batch" (the whole batch's reward std), "none" (Dr.GRPO's unscaled r - mean)
    scale_rewards: str = "group"
    #: how rollouts' policy-gradient terms are averaged: "rollout" (every rollout weighted 1/N, N = rollouts in
    #: the batch: TRL's grpo and dr_grpo losses at sequence level) or "prompt" (each prompt's group mean, i.e.
    #: weight 1/G_i, then the mean over prompts; ``V1_READING``'s). Equal when every G_i is the same.
    aggregation: str = "rollout"
    #: "adam" (Adam on the batch-mean gradient, betas (0.9, 0.999), eps 1e-8, as torch.optim.Adam) or "sgd"
    #: (lr x the batch-mean gradient; ``V1_READING`` uses lr 0.3); max_grad_norm > 0 clips the batch-mean gradient to
    #: that L2
    #: norm first (the paper: AdamW with max grad norm 1.0); 0 = no clipping
    optimizer: str = "adam"
    max_grad_norm: float = 1.0
    lr: float = 0.02
    #: "sampled": each rollout's strategy is drawn and the REINFORCE sum used; "rao_blackwell": strategies
    #: integrated out given the outcomes (the sampled update's conditional mean; ``V1_READING``'s update)
    gradient: str = "sampled"
    #: rollout sampling temperature (the paper: 0.7) and the temperature Pass@k is evaluated at; the worlds'
    #: pass rates are those of the rollout policy at the start
    temperature: float = 0.7
    eval_temperature: float = 0.7
    #: steps of plain GRPO (uniform groups, the base learning rate) before the arm's allocator takes over, as the
    #: paper's format warm-up; every arm shares them exactly (common random numbers)
    warmup_steps: int = 0
    #: the advantages' std offset (TRL: 1e-4); not Adam's epsilon (1e-8, fixed)
    advantage_eps: float = 1e-4
    #: per-rollout score noise sigma (``TrainConfig`` docstring; 0 = the v2 gradient)
    rollout_noise: float = 0.1
    #: the gradient SNR (``simalloc.train.snr``, the lab's definition) on recorded steps that are multiples of
    #: snr_every, and the last; 0 = never
    snr_every: int = 20
    cap: int = 0  # 0: no cap on extra rollouts per prompt
    ks: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    prior_concentration: float = 4.0
    oracle_noise: float = 0.5
    embed_dim: int = 8
    embed_signal: float = 2.0
    vip_n_max: int = 64
    peer_options: str = ""
    record_every: int = 1
    #: extra held-out eval sets, "name=world" (e.g. "hard=logit_normal:-2.5,1.5"), n_eval prompts each, evaluated at
    #: step 0 and the last step from the same run (the paper trains once, evaluates on four benchmarks): columns
    #: "<name>:pass@<k>" for k in eval_set_ks, and finite-sample benchmarks of ``bench_sizes`` problems drawn
    #: from the set (the same problems for every arm): "<name>:bench<B>:pass@<k>" and its standard error "..._se"
    #: over the problems, for k = 1 and the largest eval_set_ks
    eval_sets: tuple = ()
    eval_set_ks: tuple = (1, 4, 16, 64, 256, 1024)
    bench_sizes: tuple = (30, 500)
    #: evaluation temperatures Pass@1 and Pass@kmax are also read at (step 0 and the last step; the same logits
    #: sampled at each t, exact), with the best Pass@kmax over them (``simalloc.train.evaluation``); () = none
    eval_temperatures: tuple = EVAL_TEMPERATURES

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field (before any work)."""
        ints = dict(n_pool=1, n_eval=1, n_strategies=2, n_prompts=1, group_size=1, steps=0, phase_b_shards=1,
                    embed_dim=1, record_every=1, vip_n_max=2, n_clusters=1, warmup_steps=0, snr_every=0)
        for name, low in ints.items():
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name}: must be an integer >= {low}, got {v!r}")
        if not 0 <= self.k0 <= self.group_size:
            raise ValueError(f"k0: must satisfy 0 <= k0 <= group_size={self.group_size}, got {self.k0}")
        if self.n_prompts > self.n_pool:
            raise ValueError(f"n_prompts: must be <= n_pool={self.n_pool}, got {self.n_prompts}")
        if self.phase_b_shards > self.n_prompts:
            raise ValueError(f"phase_b_shards: must be <= n_prompts={self.n_prompts}")
        if self.cap < 0:
            raise ValueError(f"cap: must be >= 0 (0 = no cap), got {self.cap}")
        from .peers import parse_peer_options

        parse_peer_options(self.peer_options)
        check_choice(self.policy, "policy", POLICY_KINDS)
        opts = parse_policy_options(self.policy_options)
        if self.policy == "loglinear" and opts["solutions"] >= self.n_strategies:
            raise ValueError(f"policy_options: solutions must be < n_strategies={self.n_strategies}, "
                             f"got {opts['solutions']}")
        check_choice(self.loss, "loss", LOSS_CODES)
        check_choice(self.aggregation, "aggregation", AGGREGATIONS)
        check_choice(self.scale_rewards, "scale_rewards", SCALE_REWARDS)
        check_choice(self.gradient, "gradient", GRADIENTS)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.failures, "failures", FAILURES)
        if not (np.isfinite(self.failure_share) and 0.0 < self.failure_share < 1.0):
            raise ValueError(f"failure_share: must be in (0, 1) (the own failure mode's initial share of a prompt's "
                             f"failure mass), got {self.failure_share!r}")
        if not (np.isfinite(self.rollout_noise) and self.rollout_noise >= 0):
            raise ValueError(f"rollout_noise: must be finite and >= 0 (0 = none), got {self.rollout_noise!r}")
        if not (np.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise ValueError(f"max_grad_norm: must be finite and >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        for name in ("lr", "zipf", "prior_concentration", "embed_signal", "temperature", "eval_temperature"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: must be finite and > 0, got {v!r}")
        if not (np.isfinite(self.order_noise) and self.order_noise >= 0):
            raise ValueError(f"order_noise: must be finite and >= 0, got {self.order_noise!r}")
        if self.oracle_noise < 0 or self.advantage_eps < 0:
            raise ValueError("oracle_noise, advantage_eps: must be >= 0")
        if not self.ks or min(self.ks) < 1 or 1 not in self.ks or len(set(self.ks)) != len(self.ks):
            raise ValueError(f"ks: must be distinct integers >= 1 including 1 (Pass@1), got {self.ks!r}")
        make_world(self.world)
        for spec in self.eval_sets:
            name, eq, world = spec.partition("=") if isinstance(spec, str) else ("", "", "")
            if not eq or not name.isidentifier() or not world:
                raise ValueError(f"eval_sets: each entry must be 'name=world' with a plain name, got {spec!r}")
            make_world(world)
        names = [name for name, _ in self.eval_set_specs()]
        if len(set(names)) != len(names):
            raise ValueError(f"eval_sets: names must be distinct, got {names}")
        if self.eval_sets and self.policy == "bernoulli":
            raise ValueError("eval_sets: the bernoulli policy has no held-out prompts (its eval set is the pool)")
        if not self.eval_set_ks or min(self.eval_set_ks) < 1 or 1 not in self.eval_set_ks:
            raise ValueError(f"eval_set_ks: must be integers >= 1 including 1, got {self.eval_set_ks!r}")
        check_temperatures(self.eval_temperatures)
        if self.eval_sets and any(not 1 <= b <= self.n_eval for b in self.bench_sizes):
            raise ValueError(f"bench_sizes: each must be in 1..n_eval={self.n_eval} (a benchmark is drawn from an eval "
                             f"set of n_eval prompts: lower bench_sizes or raise n_eval), got {self.bench_sizes!r}")
        return self

    @property
    def policy_spec(self) -> PolicySpec:
        """The policy stage's settings."""
        return _view(PolicySpec, self)

    @property
    def batch_spec(self) -> BatchSpec:
        """The batch stage's settings."""
        return _view(BatchSpec, self)

    @property
    def update_spec(self) -> UpdateSpec:
        """The update stage's settings."""
        return _view(UpdateSpec, self)

    @property
    def eval_spec(self) -> EvalSpec:
        """The recording stage's settings."""
        return _view(EvalSpec, self)

    def eval_set_specs(self) -> list[tuple[str, str]]:
        """(name, world spec) of every entry of ``eval_sets``."""
        return [(name, world) for name, _, world in (spec.partition("=") for spec in self.eval_sets)]

    def eval_set_columns(self) -> list[str]:
        """The per-step table's columns filled at step 0 and the last step only, in the order ``simulate_training``
        fills them: per eval set, Pass@k for eval_set_ks, then per benchmark size, for k = 1 and the largest k, the
        benchmark's Pass@k and its se; then the evaluation-temperature columns (``temperature_columns``)."""
        cols = []
        kk = (1, max(self.eval_set_ks))
        for name, _ in self.eval_set_specs():
            cols += [f"{name}:pass@{k}" for k in self.eval_set_ks]
            for b in self.bench_sizes:
                for k in kk:
                    cols += [f"{name}:bench{b}:pass@{k}", f"{name}:bench{b}:pass@{k}_se"]
        return cols + temperature_columns(self.ks, self.eval_temperatures)


@dataclass(frozen=True)
class PolicySpec:
    """What builds the policy: its kind, the difficulty world of its prompts, pool and eval sizes, strategies,
    clusters and temperatures (fields as in ``TrainConfig``).

    Notes
    -----
    A read-only view of ``TrainConfig`` (``TrainConfig.policy_spec``); each field means what the same field of
    ``TrainConfig`` means.
    """

    policy: str
    world: str
    n_pool: int
    n_eval: int
    n_strategies: int
    zipf: float
    n_clusters: int
    order_noise: float
    temperature: float
    eval_temperature: float
    failures: str
    failure_share: float
    policy_options: str


@dataclass(frozen=True)
class BatchSpec:
    """What draws a step's batch: sizes, pilot, Phase-B shards, cap, warm-up and the learned priors' settings.

    Notes
    -----
    A read-only view of ``TrainConfig`` (``TrainConfig.batch_spec``); each field means what the same field of
    ``TrainConfig`` means.
    """

    n_pool: int
    n_prompts: int
    group_size: int
    k0: int
    phase_b_shards: int
    cap: int
    warmup_steps: int
    prior_concentration: float
    oracle_noise: float
    embed_dim: int
    embed_signal: float
    vip_n_max: int
    peer_options: str


@dataclass(frozen=True)
class UpdateSpec:
    """What turns a batch into a parameter step: advantages, aggregation, gradient, optimizer and clipping.

    Notes
    -----
    A read-only view of ``TrainConfig`` (``TrainConfig.update_spec``); each field means what the same field of
    ``TrainConfig`` means.
    """

    loss: str
    scale_rewards: str
    advantage_eps: float
    aggregation: str
    gradient: str
    optimizer: str
    max_grad_norm: float
    lr: float
    rollout_noise: float


@dataclass(frozen=True)
class EvalSpec:
    """What is recorded: Pass@k on the eval set, the held-out eval sets and their benchmarks, and how often.

    Notes
    -----
    A read-only view of ``TrainConfig`` (``TrainConfig.eval_spec``); each field means what the same field of
    ``TrainConfig`` means.
    """

    ks: tuple
    eval_sets: tuple
    eval_set_ks: tuple
    bench_sizes: tuple
    n_eval: int
    record_every: int
    snr_every: int
    steps: int
    eval_temperatures: tuple


def _view(cls, cfg):
    return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls)})


def check_temperatures(temperatures) -> tuple:
    """``eval_temperatures`` checked: distinct finite numbers > 0 (empty allowed).

    Parameters
    ----------
    temperatures : sequence of float
        The evaluation-temperature grid.

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        Naming ``eval_temperatures`` and the allowed range.
    """
    try:
        t = tuple(float(x) for x in temperatures)
    except (TypeError, ValueError):
        t = (float("nan"),)
    if any(not (np.isfinite(x) and x > 0) for x in t) or len(set(t)) != len(t):
        raise ValueError(f"eval_temperatures: distinct finite temperatures > 0 (() for none), got {temperatures!r}")
    return t
