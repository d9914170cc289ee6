"""``train_lab``: real GRPO on the lab network, one arm, through the simulator's loop.

The lab's network is a model of the one training loop (``simalloc.train.loop.train_arm``) through ``LabModel``:
``roll`` samples completions from the network, ``pass_rates`` gives exact pass rates, ``update`` takes one step of
the live mode's GRPO trainer (``simalloc.live.grpo.GRPOTrainer``) on the drawn groups. Everything else is the
simulator's, written once: each step draws ``n_prompts`` training prompts, a pilot of ``k0`` completions per
prompt, splits Phase B with the arm's allocator (``simalloc.train.batch.BatchDrawer``: the shards, learned priors
and placebo), samples the extra completions; peer arms and ``dapo_dynamic`` (DAPO's refill,
``simalloc.train.peers.refill_informative``) draw through ``PeerDrawer`` with the network's samples; the warm-up,
``temp<x>`` (samples and trains at x times ``temperature``, evaluated at ``temperature``), ``lr<x>`` and ``x<m>``
arms are the loop's. Recorded every ``record_every`` steps (``LabRecorder``): exact Pass@k on the held-out eval
sets (``answer_distribution``), the completion entropy, the batch's informative share, hits on s = 0 prompts,
cumulative rollouts, the gradient norm and loss, every ``snr_every`` steps the gradient signal-to-noise ratio from
per-group gradients at the step's own advantages (``gradient_snr``), and at step 0 and the last step exact Pass@1
/ Pass@kmax at every ``eval_temperatures`` entry. The per-step table has the simulator's ``STEP_COLUMNS`` first,
so the studies' analysis (frontier gain, ``summary.csv``) reads it unchanged.

Random streams are the simulator's (``simalloc.train.loop.STREAMS``): arms given the same seed see the same prompt
batches. torch runs single-threaded inside a run, so a table does not depend on how many workers ran the study.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..train.arms import Arm
from ..train.batch import Batch
from ..train.config import BatchSpec
from ..train.evaluation import Recorder, temperature_columns, temperature_values, update_values
from ..train.loop import resolve_arm, spawn_streams, train_arm
from ..train.model import StepResult, TrainingModel
from ..train.policies import pass_at_k_curve
from ..train.snr import group_weights, snr_from_group_gradients
from .config import LabConfig
from .policy import LabPolicy, completion_tables, pass_rates, pass_rates_at, sample, sequence_entropy
from .task import ChainTask, Prompts
from .warmstart import warm_start

__all__ = ["train_lab", "gradient_snr", "group_gradients", "LAB_COLUMNS", "lab_columns", "make_trainer", "LabModel",
           "LabRecorder"]

#: the lab's columns after the simulator's (whose ``STEP_COLUMNS`` include the gradient SNR and noise scale): the
#: loss, the main eval set's Pass@1 by level, seconds per step (the turn-3 task's; ``lab_columns`` in general)
LAB_COLUMNS = ["loss", "pass@1:level0", "pass@1:level1", "pass@1:level2", "step_seconds"]


def lab_columns(task) -> list[str]:
    """The lab's per-step columns for a task, after the simulator's.

    Parameters
    ----------
    task : ChainTask or RegimeTask
        The task (its ``family_names``: level0..level2 on the turn-3 task, taught / narrowing / expanding /
        unreachable on the v2 task).

    Returns
    -------
    list of str
        "loss", the main eval set's Pass@1 per family ("pass@1:<family>", NaN where the eval set holds none of a
        family), "step_seconds".
    """
    return ["loss", *(f"pass@1:{name}" for name in task.family_names), "step_seconds"]


def make_trainer(policy: LabPolicy, cfg: LabConfig, lr: float, temperature: float | None = None):
    """The live mode's GRPO trainer on the lab network with the config's step settings.

    Parameters
    ----------
    policy : LabPolicy
        The network (trained in place).
    cfg : LabConfig
        loss, scale_rewards, aggregation, epsilon, max_grad_norm, temperature.
    lr : float
        AdamW's learning rate.
    temperature : float, optional
        The sampling temperature the loss divides the logits by (default ``cfg.temperature``).

    Returns
    -------
    simalloc.live.grpo.GRPOTrainer
        ``simalloc.lab.step.lab_trainer``'s: the live trainer with each prompt computed once per group.
    """
    from ..live.grpo import GRPOConfig
    from .step import lab_trainer

    config = GRPOConfig(learning_rate=lr, epsilon=cfg.epsilon, beta=0.0, loss_type=cfg.loss,
                        scale_rewards=cfg.scale_rewards, max_completion_length=policy.task.completion_length,
                        max_grad_norm=cfg.max_grad_norm,
                        temperature=cfg.temperature if temperature is None else float(temperature),
                        aggregation=cfg.aggregation)
    return lab_trainer(policy, config)


def group_gradients(trainer, prompt_ids, groups, rewards) -> tuple[np.ndarray, np.ndarray]:
    """Per-group gradients of the batch loss at the step's own advantages, and the groups' weights in it.

    Group i's gradient g_i is that of its own loss with the advantages ``trainer.advantages`` gives the *whole
    batch* (under ``scale_rewards="batch"`` the batch's reward std, not the group's own); with w_i the group's
    weight in the batch loss (``group_weights``), sum_i w_i g_i is the step's gradient.

    Parameters
    ----------
    trainer : simalloc.live.grpo.GRPOTrainer
        Its ``loss`` and ``advantages`` (the step's own functions).
    prompt_ids, groups, rewards : list
        As ``GRPOTrainer.step`` takes them.

    Returns
    -------
    grads : ndarray, shape (n_used, n_params)
        One row per non-empty group (zeros for a group without spread).
    weights : ndarray, shape (n_used,)
        The groups' weights w_i.

    Notes
    -----
    ``trainer.loss`` on one group recomputes that group's advantages on its own; the loss is linear in the
    advantages (one step per batch: the ratio is 1 in value), so the group's gradient is rescaled by c_i, with
    step advantage = c_i x own advantage (c_i = 1 for "group" and "none"; (std_i + eps) / (std_batch + eps) for
    "batch").
    """
    import torch

    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    used = np.flatnonzero(sizes > 0)
    weights = group_weights(sizes[used], trainer.config.aggregation)
    step_adv = trainer.advantages(rewards)
    params = trainer.params
    grads = np.zeros((used.size, sum(p.numel() for p in params)))
    for row, i in enumerate(used):
        if np.ptp(rewards[i]) == 0:  # no spread: every advantage is 0
            continue
        own = np.asarray(trainer.advantages([rewards[i]])[0], dtype=np.float64)
        step = np.asarray(step_adv[i], dtype=np.float64)
        scale = float(step @ own / (own @ own))
        if not np.allclose(step, scale * own, rtol=1e-9, atol=1e-12):  # float64 reorderings only
            raise ValueError("trainer: the step's advantages of a group are not a multiple of its own advantages")
        loss, _ = trainer.loss([prompt_ids[i]], [groups[i]], [rewards[i]])
        g = torch.autograd.grad(loss, params, allow_unused=True)
        grads[row] = scale * torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1)
                                        for x, p in zip(g, params)]).double().numpy()
    return grads, weights


def gradient_snr(trainer, prompt_ids, groups, rewards) -> tuple[float, float]:
    """The batch gradient's signal-to-noise ratio from per-group gradients.

    With g_i the gradient of group i's loss at the step's own advantages and w_i its weight in the batch loss
    (``group_gradients``: n_i / N for TRL's rollout aggregation, 1 / n_groups for per-prompt aggregation), the
    batch gradient is g = sum_i w_i g_i; treating groups as independent draws, V = n/(n-1) sum_i w_i^2
    ||g_i - g||^2 estimates Var(g), and

        SNR = (||g||^2 - V) / V,        noise scale B = tr(Sigma) / ||g_bar||^2,

    Sigma and g_bar the unweighted covariance (ddof 1) and mean of the g_i (``simalloc.train.snr``, the one
    definition the simulator uses too). Groups without spread have zero advantages and g_i = 0.

    Parameters
    ----------
    trainer : simalloc.live.grpo.GRPOTrainer
        Its ``loss`` and ``advantages`` define each group's loss (the same functions as the step's).
    prompt_ids, groups, rewards : list
        As ``GRPOTrainer.step`` takes them.

    Returns
    -------
    snr, noise_scale : float
        NaN for fewer than two groups or a zero gradient.
    """
    if sum(len(g) > 0 for g in groups) < 2:
        return float("nan"), float("nan")
    if hasattr(trainer, "group_gradient_rows"):  # the lab's trainers: one batched pass (simalloc.lab.step)
        return snr_from_group_gradients(*trainer.group_gradient_rows(prompt_ids, groups, rewards))
    return snr_from_group_gradients(*group_gradients(trainer, prompt_ids, groups, rewards))


class LabRecorder(Recorder):
    """The simulator's recorder with the lab's evaluation: exact Pass@k from the network's answer distribution on
    the held-out sets, the completion entropy, and the lab's columns (``LAB_COLUMNS``).

    Parameters
    ----------
    cfg : LabConfig
        The run's settings.
    arm : Arm
        The arm.
    rep : int
        The replicate (labels the rows).
    k0 : int
        The arm's pilot size.
    policy : LabPolicy
        The network at the study's temperature (evaluated at each recorded step).
    main : Prompts
        The main held-out eval set.
    sets : list of (str, Prompts)
        The extra held-out sets (``LabConfig.eval_sets``).
    """

    def __init__(self, cfg: LabConfig, arm: Arm, rep: int, k0: int, policy: LabPolicy, main: Prompts,
                 sets: list[tuple[str, Prompts]]):
        super().__init__(cfg, arm, rep, k0, policy, [])
        self.main, self.sets = main, sets
        self.lab_rows = []

    def record(self, step: int, batch=None, warm: bool = False, result=None, seconds: float = np.nan) -> None:
        """Add step ``step``'s row (``batch`` None: the start, before any update); ``Recorder.record``'s
        arguments, the update's loss and the step's ``seconds`` in the lab's columns."""
        informative, hits_s0, n_s0, rollouts, share_s0, share_sk0 = self.batch_stats(batch, warm)
        grad_norm, _, snr = update_values(result)
        loss = np.nan if result is None else result.loss
        if isinstance(self.policy.task, ChainTask):
            first, second = completion_tables(self.policy, self.main)
            dist = np.einsum("nz,nzy->ny", first, second)[:, self.policy.tokenizer.digit_ids]
            p = dist[np.arange(len(self.main)), self.main.answer]

            def h(q):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return -np.sum(np.where(q > 0, q * np.log(q), 0.0), axis=-1)

            entropy = float(np.mean(h(first) + np.sum(first * h(second), axis=1)))
        else:  # multi-token answers: exact pass rates, Monte Carlo entropy (``sequence_entropy``)
            p = pass_rates(self.policy, self.main)
            entropy = float(np.mean(sequence_entropy(self.policy, self.main)))
        curve = pass_at_k_curve(p, self.ks)
        extra = []
        for _, prompts in self.sets:
            extra += list(pass_at_k_curve(pass_rates(self.policy, prompts), self.set_ks))
        temps = self.cfg.eval_temperatures
        if step in (0, self.cfg.steps) and temps:
            rates = dict(zip(temps, pass_rates_at(self.policy, self.main, temps)))  # one network pass
            extra += temperature_values(rates.__getitem__, self.ks, temps)
        else:
            extra += [np.nan] * len(temperature_columns(self.ks, temps))
        by_level = [float(p[self.main.level == lv].mean()) if (self.main.level == lv).any() else np.nan
                    for lv in range(len(self.policy.task.family_names))]
        self.rows.append((self.arm.spec, self.rep, step, informative, hits_s0, n_s0, rollouts, grad_norm, entropy,
                          np.nan, np.nan, np.nan, share_s0, share_sk0, *snr, self.cum_rollouts, *curve, *extra))
        self.lab_rows.append((loss, *by_level, seconds))

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the per-step table with ``LAB_COLUMNS`` appended, the budget-share-by-s table)."""
        table, share = super().tables()
        lab = pd.DataFrame(self.lab_rows, columns=lab_columns(self.policy.task))
        return pd.concat([table, lab], axis=1), share


def _batch_spec(cfg: LabConfig) -> BatchSpec:
    return BatchSpec(cfg.n_pool, cfg.n_prompts, cfg.group_size, cfg.k0, cfg.phase_b_shards, cfg.cap,
                     cfg.warmup_steps, cfg.prior_concentration, cfg.oracle_noise, cfg.embed_dim, cfg.embed_signal,
                     cfg.vip_n_max, cfg.peer_options)


def train_lab(cfg: LabConfig, arm: str | Arm, rng, *, rep: int = 0, policy: LabPolicy | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train the warm-started lab network with GRPO under one arm (module docstring).

    Parameters
    ----------
    cfg : LabConfig
        The run's settings (validated here).
    arm : str or Arm
        "uniform", "hora", "hora_placebo", "uniform:lr0.5", "uniform:x2", "dapo_dynamic", ... (``parse_arm``).
    rng : int, SeedSequence or Generator
        Split into the simulator's streams; the same value gives every arm the same prompt batches.
    rep : int, default 0
        Labels the rows.
    policy : LabPolicy, optional
        Start from this network instead of the cached warm start (it is trained in place).

    Returns
    -------
    steps : pandas.DataFrame
        One row per recorded step: ``STEP_COLUMNS``, pass@k for ``cfg.ks`` on the main eval set, the eval sets'
        columns, ``LAB_COLUMNS``.
    share : pandas.DataFrame
        The Phase-B budget and prompts by pilot count, as the simulator's.

    Examples
    --------
    >>> from simalloc.lab import LabConfig, train_lab
    >>> cfg = LabConfig(steps=2, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30, warm_steps=5,
    ...                 record_every=1, snr_every=1)
    >>> steps, share = train_lab(cfg, "hora", 0)
    >>> list(steps.step), int(steps.rollouts.iloc[-1])
    ([0, 1, 2], 32)
    """
    import torch

    cfg.validate()
    arm, k0 = resolve_arm(arm, cfg.k0, cfg.group_size)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(cfg, arm, k0, rng, rep, policy)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: LabConfig, arm: Arm, k0: int, rng, rep: int, policy):
    """The lab's pieces (warm start, pool, eval sets, recorder, ``LabModel``) through the one loop."""
    rngs = spawn_streams(rng)
    task = cfg.build_task()
    policy = policy or warm_start(task, cfg.model_spec, cfg.warm, cfg.temperature)
    pool, _ = task.split()
    main = task.eval_set(cfg.n_eval, seed=0)  # the training mix
    sets = [(name, task.eval_set(cfg.n_eval, mix, seed=i + 1)) for i, (name, mix) in enumerate(cfg.eval_set_specs())]
    recorder = LabRecorder(cfg, arm, rep, k0, policy, main, sets)
    model = LabModel(policy, pool, cfg, cfg.lr * arm.lr_scale)
    return train_arm(model, recorder, cfg, _batch_spec(cfg), arm, k0, rngs)


class LabModel(TrainingModel):
    """The lab network as the one loop's model (``simalloc.train.model.TrainingModel``).

    ``roll`` samples completions from the network (``sample``) and keeps them, by pool prompt, in the order drawn;
    ``update`` takes one step of the live mode's GRPO trainer on the batch's groups: for an allocating batch every
    completion drawn for a prompt (pilot, then extra), for a peer or dynamic-sampling batch (``batch.pilot`` None)
    each prompt's first ``successes`` correct and first ``sizes - successes`` wrong completions in the order drawn
    (Reinforce-Ada's caches; PODS's binary max-variance subset; DAPO's whole groups). The kept completions are
    dropped after each update. Exact pass rates (``pass_rates``) cost a network pass, so a batch carries them
    only when a predictor reads them (``rates_in_batch`` False).

    Parameters
    ----------
    policy : LabPolicy
        The network (trained in place).
    pool : Prompts
        The training prompts (the batch drawer's indices are positions in it).
    cfg : LabConfig
        The GRPO step's settings (``make_trainer``).
    lr : float
        AdamW's initial learning rate (the loop sets each step's).
    """

    rates_in_batch = False

    def __init__(self, policy: LabPolicy, pool: Prompts, cfg: LabConfig, lr: float):
        self.policy, self.pool, self.cfg = policy, pool, cfg
        self.trainer = make_trainer(policy, cfg, lr)
        #: completions drawn this step: pool index -> [(tokens, reward), ...] in the order drawn
        self.drawn: dict[int, list] = {}

    def pass_rates(self, idx) -> np.ndarray:
        """Exact pass rates of pool prompts ``idx`` at the sampling temperature (``pass_rates``)."""
        return pass_rates(self.policy, self.pool.take(idx))

    def roll(self, idx, n, rng, p=None) -> np.ndarray:
        """Sample ``n[j]`` completions of pool prompt ``idx[j]`` from the network (``p`` is not read), keep them for
        the update, return their successes."""
        idx = np.asarray(idx, dtype=np.int64)
        r = sample(self.policy, self.pool.take(idx), n, rng)
        s = np.zeros(idx.size, dtype=np.int64)
        for j, tok, rew in zip(r.prompt, r.tokens.tolist(), r.reward):
            self.drawn.setdefault(int(idx[j]), []).append((tok, float(rew)))
            s[j] += int(rew > 0)
        return s

    def training_groups(self, batch: Batch) -> tuple[list, list, list]:
        """(prompt ids, completion groups, reward groups) of ``batch``, as ``GRPOTrainer.step`` takes them (the
        class docstring says which completions a group keeps)."""
        if not batch.idx.size:
            return [], [], []
        ids = [list(map(int, row)) for row in self.pool.take(batch.idx).ids]
        groups, rewards = [], []
        for i, pos, size in zip(batch.idx.tolist(), batch.successes.tolist(), batch.sizes.tolist()):
            drawn = self.drawn.get(i, [])
            if batch.pilot is not None:  # an allocating batch: the whole group, pilot then extra
                kept = drawn
            else:
                kept = [x for x in drawn if x[1] > 0][:pos] + [x for x in drawn if x[1] <= 0][:size - pos]
            if len(kept) != size:
                raise RuntimeError(f"prompt {i}: {len(kept)} completions kept for a group of {size}")
            groups.append([tok for tok, _ in kept])
            rewards.append([rew for _, rew in kept])
        return ids, groups, rewards

    def update(self, batch: Batch, lr: float, recording: bool, measure: bool) -> StepResult:
        """One GRPO step on the batch's groups at ``lr`` (the gradient SNR first when ``measure``)."""
        ids, groups, rewards = self.training_groups(batch)
        self.drawn = {}
        for group in self.trainer.optimizer.param_groups:
            group["lr"] = lr
        snr = (np.nan, np.nan)
        if measure and ids:
            snr = gradient_snr(self.trainer, ids, groups, rewards)
        out = self.trainer.step(ids, groups, rewards) if ids else {"loss": 0.0, "grad_norm": 0.0}
        return StepResult(out["grad_norm"], np.nan, *snr, loss=out["loss"])

    def set_rollout_temperature(self, temperature: float) -> None:
        """Sample and train at ``temperature`` (the recorder keeps the network at the study's)."""
        self.policy = LabPolicy(self.policy.model, self.policy.task, temperature)
        self.trainer = make_trainer(self.policy, self.cfg, self.trainer.config.learning_rate, temperature)
