"""RL post-training under a rollout allocator, simulated.

Each step: draw a batch of prompts from the pool; pilot K0 rollouts each; the allocator splits the
Phase-B budget n_prompts (G - K0) (in ``phase_b_shards`` shards, as HORA's 4 x 15); extra rollouts;
group advantages (group-mean or leave-one-out baseline, TRL's ``scale_rewards`` group / batch / none; groups of
size 1 or without spread give no signal), every rollout weighted by 1/N (``aggregation="rollout"``, TRL's
sequence-level weighting) or each prompt by 1/G_i (``"prompt"``); the policy gradient, sampled (each rollout's
strategy drawn: the default) or Rao-Blackwellised; one optimizer step (Adam with gradient-norm clipping by
default, or SGD). Pass@1 and the Pass@k curve are computed exactly from the policy's pass rates on a held-out
eval set at the evaluation temperature (the pool itself for the Bernoulli policy).

Defaults (simulator v2, issue 11) follow the HORA paper's training: the cluster policy, TRL's std-normalised
group advantages with Dr.GRPO's aggregation, Adam with max grad norm 1.0, rollout temperature 0.7, sampled
trajectories. ``V1_READING`` restores the v1 simulator (shared-strategy policy, unscaled advantages, per-prompt
weighting, SGD at lr 0.3, Rao-Blackwellised update, temperature 1).

Arms: "allocator[:predictor][:k<K0>][:lr<x>][:placebo]", e.g. "hora", "hora:gp", "hora:oracle", "hora:k16",
"uniform:lr0.5" (GRPO at half the learning rate: the points of uniform's Pass@1-vs-Pass@k frontier),
"hora:placebo" (also "hora_placebo": HORA's group sizes randomly permuted over each shard's prompts, which
keeps "group sizes vary" and removes "which prompts get the budget"), "vip" (VIP uses the GP predictor unless
told otherwise), "dapo" (dynamic sampling: prompts resampled from the
pool, groups of G, those without spread dropped, refilled until the batch is full or the step's
rollout budget n_prompts x G is spent: compute-matched, unlike DAPO's paper which oversamples).

Randomness: per replicate, independent streams for the world, the batches, the pilot draws, the extra
draws, the allocator, the predictor and the trajectories (strategy draws), shared by every arm (common random
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._numba import jit
from .._rng import as_seed_sequence
from .._validate import check_choice
from ..allocators import ALLOCATORS, allocate
from ..estimators.advantages import LOSS_CODES, binary_advantage_masses
from ..worlds import make_world
from .policies import POLICY_KINDS, make_policy, pass_at_k_curve, pass_at_k_per_prompt
from .predictors import PREDICTORS, make_predictor, prompt_embeddings

__all__ = ["TrainConfig", "Arm", "parse_arm", "simulate_training", "STEP_COLUMNS", "AGGREGATIONS", "OPTIMIZERS",
           "SCALE_REWARDS", "GRADIENTS", "V1_READING", "Adam", "clip_by_norm", "advantage_masses"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one simulated training run (defaults: HORA's paper setting)."""

    world: str = "beta:0.5,0.5"
    policy: str = "cluster"
    n_pool: int = 2000
    n_eval: int = 1000
    n_strategies: int = 200
    zipf: float = 1.5
    #: the cluster policy's prompt clusters and the noise of each cluster's view of the strategy ranking
    n_clusters: int = 8
    order_noise: float = 1.0
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
    #: weight 1/G_i, then the mean over prompts; v1's reading). Equal when every G_i is the same.
    aggregation: str = "rollout"
    #: "adam" (Adam on the batch-mean gradient, betas (0.9, 0.999), eps 1e-8, as torch.optim.Adam) or "sgd"
    #: (lr x the batch-mean gradient; v1 used lr 0.3); max_grad_norm > 0 clips the batch-mean gradient to that L2
    #: norm first (the paper: AdamW with max grad norm 1.0); 0 = no clipping
    optimizer: str = "adam"
    max_grad_norm: float = 1.0
    lr: float = 0.02
    #: "sampled": each rollout's strategy is drawn and the REINFORCE sum used; "rao_blackwell": strategies
    #: integrated out given the outcomes (the sampled update's conditional mean; v1's update)
    gradient: str = "sampled"
    #: rollout sampling temperature (the paper: 0.7) and the temperature Pass@k is evaluated at; the worlds'
    #: pass rates are those of the rollout policy at the start
    temperature: float = 0.7
    eval_temperature: float = 0.7
    #: steps of plain GRPO (uniform groups, the base learning rate) before the arm's allocator takes over, as the
    #: paper's format warm-up; every arm shares them exactly (common random numbers)
    warmup_steps: int = 0
    eps: float = 1e-4
    cap: int = 0  # 0: no cap on extra rollouts per prompt
    ks: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    prior_concentration: float = 4.0
    oracle_noise: float = 0.5
    embed_dim: int = 8
    embed_signal: float = 2.0
    vip_n_max: int = 64
    record_every: int = 1
    #: extra held-out eval sets, "name=world" (e.g. "hard=logit_normal:-2.5,1.5"), n_eval prompts each, evaluated at
    #: step 0 and the last step from the same run (the paper trains once, evaluates on four benchmarks): columns
    #: "<name>:pass@<k>" for k in eval_set_ks, and finite-sample benchmarks of ``bench_sizes`` problems drawn
    #: from the set (the same problems for every arm): "<name>:bench<B>:pass@<k>" and its standard error "..._se"
    #: over the problems, for k = 1 and the largest eval_set_ks
    eval_sets: tuple = ()
    eval_set_ks: tuple = (1, 4, 16, 64, 256, 1024)
    bench_sizes: tuple = (30, 500)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field (before any work)."""
        ints = dict(n_pool=1, n_eval=1, n_strategies=2, n_prompts=1, group_size=1, steps=0, phase_b_shards=1,
                    embed_dim=1, record_every=1, vip_n_max=2, n_clusters=1, warmup_steps=0)
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
        check_choice(self.policy, "policy", POLICY_KINDS)
        check_choice(self.loss, "loss", LOSS_CODES)
        check_choice(self.aggregation, "aggregation", AGGREGATIONS)
        check_choice(self.scale_rewards, "scale_rewards", SCALE_REWARDS)
        check_choice(self.gradient, "gradient", GRADIENTS)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        if not (np.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise ValueError(f"max_grad_norm: must be finite and >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        for name in ("lr", "zipf", "prior_concentration", "embed_signal", "temperature", "eval_temperature"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: must be finite and > 0, got {v!r}")
        if not (np.isfinite(self.order_noise) and self.order_noise >= 0):
            raise ValueError(f"order_noise: must be finite and >= 0, got {self.order_noise!r}")
        if self.oracle_noise < 0 or self.eps < 0:
            raise ValueError("oracle_noise, eps: must be >= 0")
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
        if self.eval_sets and any(not 1 <= b <= self.n_eval for b in self.bench_sizes):
            raise ValueError(f"bench_sizes: each must be in 1..n_eval={self.n_eval} (a benchmark is drawn from an eval "
                             f"set of n_eval prompts: lower bench_sizes or raise n_eval), got {self.bench_sizes!r}")
        return self

    def eval_set_specs(self) -> list[tuple[str, str]]:
        """(name, world spec) of every entry of ``eval_sets``."""
        return [(name, world) for name, _, world in (spec.partition("=") for spec in self.eval_sets)]

    def eval_set_columns(self) -> list[str]:
        """The per-step table's eval-set columns (empty without eval_sets), in the order ``simulate_training``
        fills them: per set, Pass@k for eval_set_ks, then per benchmark size, for k = 1 and the largest k, the
        benchmark's Pass@k and its se."""
        cols = []
        kk = (1, max(self.eval_set_ks))
        for name, _ in self.eval_set_specs():
            cols += [f"{name}:pass@{k}" for k in self.eval_set_ks]
            for b in self.bench_sizes:
                for k in kk:
                    cols += [f"{name}:bench{b}:pass@{k}", f"{name}:bench{b}:pass@{k}_se"]
        return cols


@dataclass(frozen=True)
class Arm:
    """One allocation rule under test: allocator, optional predictor, optional pilot size override."""

    spec: str
    allocator: str
    predictor: str = "uniform"
    k0: int | None = None
    options: dict = field(default_factory=dict)
    lr_scale: float = 1.0
    placebo: bool = False


def parse_arm(spec: str) -> Arm:
    """Parse "allocator[:predictor][:k<K0>][:lr<x>][:placebo]" (see module docstring); errors list the valid
    names."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"arm: expected a string like 'hora' or 'hora:gp', got {spec!r}")
    name, *mods = spec.split(":")
    placebo = name.endswith("_placebo")
    name = name[: -len("_placebo")] if placebo else name
    check_choice(name, "arm allocator", ALLOCATORS)
    predictor, k0, lr_scale = ("gp" if name == "vip" else "uniform"), None, 1.0
    for mod in mods:
        if mod in PREDICTORS:
            predictor = mod
        elif mod.startswith("k") and mod[1:].isdigit():
            k0 = int(mod[1:])
        elif mod == "placebo":
            placebo = True
        elif mod.startswith("lr"):
            try:
                lr_scale = float(mod[2:])
            except ValueError:
                lr_scale = float("nan")
            if not np.isfinite(lr_scale) or lr_scale <= 0:
                raise ValueError(f"arm {spec!r}: lr<x> needs a learning-rate multiplier x > 0, got {mod!r}")
        else:
            raise ValueError(f"arm {spec!r}: unknown modifier {mod!r}; valid: {', '.join(PREDICTORS)}, k<K0>, "
                             "lr<x>, placebo")
    if name == "optimal":
        raise ValueError("arm: 'optimal' is the DP reference for small problems; use 'hora' (exact for the hit utility)")
    if placebo and name == "dapo":
        raise ValueError(f"arm {spec!r}: dapo has no allocation to permute (placebo applies to allocators)")
    return Arm(spec, name, predictor, k0, lr_scale=lr_scale, placebo=placebo)


AGGREGATIONS = ("rollout", "prompt")
OPTIMIZERS = ("adam", "sgd")
SCALE_REWARDS = ("group", "batch", "none")
GRADIENTS = ("sampled", "rao_blackwell")
#: the settings of simulator v1 (before issue 11): `dataclasses.replace(TrainConfig(), **V1_READING)`
V1_READING = dict(policy="strategy", scale_rewards="none", aggregation="prompt", optimizer="sgd", max_grad_norm=0.0,
                  lr=0.3, gradient="rao_blackwell", temperature=1.0, eval_temperature=1.0)


class Adam:
    """Adam (Kingma & Ba 2015; torch.optim.Adam's defaults) for gradient *ascent*: m = b1 m + (1 - b1) g,
    v = b2 v + (1 - b2) g^2, step = lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    def __init__(self, size: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.m, self.v, self.t = np.zeros(size), np.zeros(size), 0
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, g: np.ndarray, lr: float) -> np.ndarray:
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        return lr * m_hat / (np.sqrt(v_hat) + self.eps)


def clip_by_norm(g: np.ndarray, max_norm: float) -> tuple[np.ndarray, float]:
    """(g scaled to L2 norm ``max_norm`` if it is longer, as torch's clip_grad_norm_; its norm before clipping)."""
    norm = float(np.sqrt(np.dot(g, g)))
    if max_norm > 0 and norm > max_norm:
        g = g * (max_norm / norm)
    return g, norm

STEP_COLUMNS = ["arm", "rep", "step", "informative_share", "hits_s0", "n_s0", "rollouts", "grad_norm", "entropy",
                "entropy_cluster_min", "entropy_cluster_max", "grad_noise", "budget_share_s0", "budget_share_sK0"]


def advantage_masses(successes, sizes, loss: str, scale_rewards: str, eps: float) -> np.ndarray:
    """a_i = the sum of the successful rollouts' advantages in each binary group (= minus the failures').

    Baseline: group mean ("grpo", "dr_grpo": a = s f / n) or leave-one-out ("rloo": a = s f / (n - 1)), f = n - s;
    then TRL's scale_rewards: "group" divides by the group's reward std (Bessel: sqrt(s f / (n (n - 1)))) + eps,
    "batch" by the std of every reward in the batch (Bessel) + eps, "none" leaves it. 0 for groups without spread.
    """
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    successes = np.ascontiguousarray(successes, dtype=np.int64)
    code = LOSS_CODES["rloo" if loss == "rloo" else "dr_grpo"]
    base = binary_advantage_masses(successes, sizes, code, eps, np.empty(sizes.size))
    if scale_rewards == "group":
        f = (sizes - successes).astype(np.float64)
        with np.errstate(invalid="ignore"):  # empty groups: 0 / 0 in the branch np.where discards
            std = np.sqrt(np.where(sizes > 1, successes * f / (sizes * np.maximum(sizes - 1.0, 1.0)), 0.0))
        return base / (std + eps)
    if scale_rewards == "batch":
        n, total = float(sizes.sum()), float(successes.sum())
        std = np.sqrt((total - total * total / n) / (n - 1.0)) if n > 1 else 0.0
        return base / (std + eps)
    return base


@jit
def _binomial(rng, n, p, out):
    """out[i] ~ Binomial(n[i], p[i]) (a numba loop: faster than numpy's per-element dispatch)."""
    for i in range(out.size):
        out[i] = rng.binomial(n[i], p[i]) if n[i] > 0 else 0
    return out


def binomial(rng, n, p) -> np.ndarray:
    p = np.ascontiguousarray(p, dtype=np.float64)
    n = np.ascontiguousarray(np.broadcast_to(n, p.shape), dtype=np.int64)
    return _binomial(rng, n, p, np.empty(p.size, dtype=np.int64))


def _draw_dynamic_batch(policy, cfg, batch_rng, extra_rng):
    """DAPO dynamic sampling, compute-matched: returns (idx, p, successes, group sizes, rollouts used)."""
    budget = cfg.n_prompts * cfg.group_size
    order = batch_rng.permutation(cfg.n_pool)
    kept_idx, kept_s, used, pos = [], [], 0, 0
    while used + cfg.group_size <= budget and len(kept_idx) < cfg.n_prompts and pos < order.size:
        take = min(cfg.n_prompts - len(kept_idx), (budget - used) // cfg.group_size, order.size - pos)
        idx = order[pos:pos + take]
        pos += take
        s = binomial(extra_rng, cfg.group_size, policy.pass_rates(idx))
        used += take * cfg.group_size
        keep = (s > 0) & (s < cfg.group_size)
        kept_idx.append(idx[keep])
        kept_s.append(s[keep])
    idx = np.concatenate(kept_idx) if kept_idx else np.empty(0, dtype=np.int64)
    s = np.concatenate(kept_s) if kept_s else np.empty(0, dtype=np.int64)
    return idx, policy.pass_rates(idx), s, np.full(idx.size, cfg.group_size), used


def _eval_set_values(policy, eval_sets, set_ks) -> list[float]:
    """The eval-set columns' values (``TrainConfig.eval_set_columns`` order): per set, exact Pass@k over the set,
    then per drawn benchmark, for k = 1 and max(set_ks), its mean Pass@k and the se over its problems."""
    values = []
    kk = [1, int(set_ks.max())]
    for _, handle, benches in eval_sets:
        p_set = policy.set_pass_rates(handle)
        values += list(pass_at_k_curve(p_set, set_ks))
        for idx_b in benches.values():
            for per in pass_at_k_per_prompt(p_set[idx_b], kk):
                values += [float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size)) if per.size > 1 else np.nan]
    return values


def simulate_training(cfg: TrainConfig, arm: str | Arm, rng, *, rep: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one arm for ``cfg.steps`` steps; returns (per-step table, budget-share-by-s table).

    ``rng`` (SPEC 7: int, SeedSequence, Generator or BitGenerator) is split into the world, batch, pilot, extra,
    allocation and predictor streams; arms given the same int or SeedSequence see the same worlds and batches
    (common random numbers). A study's replicate r uses ``SeedSequence([seed, r])``. ``rep`` only labels rows.

    The per-step table has the columns of STEP_COLUMNS plus ``pass@k`` for every k in ``cfg.ks``; the
    share table has (arm, rep, step, s, budget_share, prompt_share), summed over the run's steps at
    the end (one row per s), where s is the pilot count.
    """
    cfg.validate()
    arm = parse_arm(arm) if isinstance(arm, str) else arm
    k0 = cfg.k0 if arm.k0 is None else arm.k0
    if not 0 <= k0 <= cfg.group_size:
        raise ValueError(f"arm {arm.spec!r}: k0 must satisfy 0 <= k0 <= group_size={cfg.group_size}")
    world_ss, batch_ss, pilot_ss, extra_ss, alloc_ss, pred_ss, traj_ss, sets_ss = as_seed_sequence(rng).spawn(8)
    world_rng = np.random.default_rng(world_ss)
    extra_kw = {"temperature": cfg.temperature, "eval_temperature": cfg.eval_temperature}
    if cfg.policy == "cluster":
        extra_kw.update(n_clusters=cfg.n_clusters, order_noise=cfg.order_noise)
    policy = make_policy(cfg.policy, make_world(cfg.world), cfg.n_pool, cfg.n_eval, cfg.n_strategies, cfg.zipf,
                         world_rng, **extra_kw)
    sets_rng = np.random.default_rng(sets_ss)
    eval_sets = []  # (name, handle, {B: problem indices}) with the same prompts and benchmarks for every arm
    for name, world in cfg.eval_set_specs():
        handle = policy.make_eval_set(make_world(world), cfg.n_eval, sets_rng)
        eval_sets.append((name, handle, {b: sets_rng.choice(cfg.n_eval, b, replace=False) for b in cfg.bench_sizes}))
    set_ks = np.asarray(cfg.eval_set_ks)
    n_set_cols = len(cfg.eval_set_columns())  # evaluated at step 0 and the last step only (the paper evaluates once)
    embeddings = None
    if arm.predictor == "gp":  # only the GP reads embeddings; other arms skip the cost (their draws are unaffected)
        p0 = policy.pass_rates(np.arange(cfg.n_pool))
        embeddings = prompt_embeddings(p0, cfg.embed_dim, cfg.embed_signal, world_rng)
    pred_rng = np.random.default_rng(pred_ss)
    predictor = make_predictor(arm.predictor, embeddings=embeddings, noise=cfg.oracle_noise, rng=pred_rng)
    batch_rng, pilot_rng = np.random.default_rng(batch_ss), np.random.default_rng(pilot_ss)
    extra_rng, alloc_rng = np.random.default_rng(extra_ss), np.random.default_rng(alloc_ss)
    traj_rng = np.random.default_rng(traj_ss)
    ks = np.asarray(cfg.ks)
    options = {"n_max": cfg.vip_n_max} if arm.allocator == "vip" else {}
    shards = np.array_split(np.arange(cfg.n_prompts), cfg.phase_b_shards)
    adam = Adam(policy.n_params) if cfg.optimizer == "adam" else None
    budget_by_s = np.zeros(k0 + 1)
    prompts_by_s = np.zeros(k0 + 1)
    rows = []

    def record(step, informative, hits_s0, n_s0, rollouts, grad_norm, grad_noise=np.nan, share_s0=np.nan,
               share_sk0=np.nan):
        curve = pass_at_k_curve(policy.eval_pass_rates(), ks)
        h = policy.cluster_entropies()
        extra = _eval_set_values(policy, eval_sets, set_ks) if step in (0, cfg.steps) else [np.nan] * n_set_cols
        rows.append((arm.spec, rep, step, informative, hits_s0, n_s0, rollouts, grad_norm, policy.entropy(),
                     float(h.min()), float(h.max()), grad_noise, share_s0, share_sk0, *curve, *extra))

    record(0, np.nan, np.nan, np.nan, 0, np.nan)
    for step in range(1, cfg.steps + 1):
        warm = step <= cfg.warmup_steps  # plain GRPO for every arm: uniform groups of G, the base learning rate
        step_k0 = cfg.k0 if warm else k0
        if arm.allocator == "dapo" and not warm:
            idx, p, total_s, sizes, used = _draw_dynamic_batch(policy, cfg, batch_rng, extra_rng)
            hits_s0 = n_s0 = share_s0 = share_sk0 = np.nan
        else:
            idx = batch_rng.choice(cfg.n_pool, cfg.n_prompts, replace=False)
            p = policy.pass_rates(idx)
            s = binomial(pilot_rng, step_k0, p)
            alloc = np.zeros(cfg.n_prompts, dtype=np.int64)
            if warm:
                alloc[:] = cfg.group_size - step_k0
            else:
                mu = predictor.predict(idx, p)
                for shard in shards:
                    prior = (1.0, 1.0)
                    if mu is not None and arm.allocator == "hora":
                        c = cfg.prior_concentration
                        prior = (mu[shard] * c, (1.0 - mu[shard]) * c)
                    alloc[shard] = allocate(
                        arm.allocator, s[shard], k0, shard.size * (cfg.group_size - k0), prior=prior,
                        cap=cfg.cap or None, rng=alloc_rng, predicted_p=None if mu is None else mu[shard],
                        options=options,
                    )
                    if arm.placebo:  # same multiset of group sizes, assigned to the shard's prompts at random
                        alloc[shard] = alloc_rng.permutation(alloc[shard])
            extra = binomial(extra_rng, alloc, p)
            total_s, sizes, used = s + extra, step_k0 + alloc, int(cfg.n_prompts * cfg.group_size)
            n_s0 = int((s == 0).sum())
            hits_s0 = int(((s == 0) & (extra > 0)).sum())
            share_s0 = share_sk0 = np.nan
            if not warm:
                budget_by_s += np.bincount(s, weights=alloc, minlength=k0 + 1)
                prompts_by_s += np.bincount(s, minlength=k0 + 1)
                spent = alloc.sum()
                share_s0 = float(alloc[s == 0].sum() / spent) if spent else np.nan
                share_sk0 = float(alloc[s == k0].sum() / spent) if spent else np.nan
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        total_s = np.ascontiguousarray(total_s, dtype=np.int64)
        mass = advantage_masses(total_s, sizes, cfg.loss, cfg.scale_rewards, cfg.eps)
        if cfg.aggregation == "prompt":
            coef = mass / np.maximum(sizes, 1)  # each prompt's group mean: weight 1/G_i
        else:  # every rollout weighted 1/N: prompt i's terms scaled by n_prompts / N = 1 / mean(G)
            coef = mass / max(float(sizes.mean()), 1.0) if sizes.size else mass
        lr = cfg.lr * (1.0 if warm else arm.lr_scale)
        recording = step % cfg.record_every == 0 or step == cfg.steps
        grad_noise = np.nan
        if not idx.size:
            grad_norm = 0.0
        elif cfg.gradient == "rao_blackwell" and cfg.optimizer == "sgd" and cfg.max_grad_norm == 0:
            grad_norm = policy.update(idx, p, coef, lr / cfg.n_prompts)
        else:  # the batch-mean gradient, clipped, then the optimizer's step
            if cfg.gradient == "sampled":
                g = policy.sampled_gradient(idx, total_s, sizes, coef, traj_rng)
                if recording:  # the trajectory-sampling noise relative to its conditional mean
                    g_rb = policy.gradient(idx, p, coef)
                    den = float(np.dot(g_rb, g_rb))
                    grad_noise = float(np.dot(g - g_rb, g - g_rb) / den) if den > 0 else np.nan
            else:
                g = policy.gradient(idx, p, coef)
            g, mean_norm = clip_by_norm(g / cfg.n_prompts, cfg.max_grad_norm)
            policy.apply(lr * g if cfg.optimizer == "sgd" else adam.step(g, lr))
            grad_norm = mean_norm * cfg.n_prompts  # the grad_norm column: the summed gradient's norm, as above
        predictor.observe(idx, total_s, sizes)
        if recording:
            informative = float(np.mean((total_s > 0) & (total_s < sizes))) if sizes.size else 0.0
            record(step, informative, hits_s0, n_s0, used, grad_norm, grad_noise, share_s0, share_sk0)
    columns = STEP_COLUMNS + [f"pass@{k}" for k in cfg.ks] + cfg.eval_set_columns()
    table = pd.DataFrame(rows, columns=columns)
    total_budget = budget_by_s.sum()
    share = pd.DataFrame({
        "arm": arm.spec, "rep": rep, "s": np.arange(k0 + 1),
        "budget_share": budget_by_s / total_budget if total_budget else np.nan,
        "prompt_share": prompts_by_s / prompts_by_s.sum() if prompts_by_s.sum() else np.nan,
    })
    return table, share
