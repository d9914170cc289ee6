"""``simulate_training``: the training loop as a short sequence of the pipeline's stages.

Each step draws a batch (``batch``), updates the policy (``update``), lets the arm's predictor observe the
groups and records (``evaluation``). The policy (``policies``) and the eval sets are built once per run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..seeding import as_seed_sequence
from ..worlds import make_world
from .arms import Arm, parse_arm
from .batch import BatchDrawer
from .config import TrainConfig
from .evaluation import Recorder, make_eval_sets
from .peers import parse_peer_options
from .policies import make_policy
from .predictors import make_predictor, prompt_embeddings
from .update import Updater

__all__ = ["simulate_training", "STREAMS"]

#: the independent random streams of a run, spawned in this order from its seed (common random numbers: every arm
#: given the same seed sees the same worlds, batches and draws)
STREAMS = ("world", "batch", "pilot", "extra", "alloc", "predictor", "trajectory", "sets", "noise", "snr")


def simulate_training(cfg: TrainConfig, arm: str | Arm, rng, *, rep: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one arm for ``cfg.steps`` steps of simulated GRPO training.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings (validated here).
    arm : str or Arm
        What is trained, e.g. "hora", "uniform:lr0.5", "hora_placebo" (``parse_arm``).
    rng : int, SeedSequence, Generator or BitGenerator
        Split into the ``STREAMS`` (SPEC 7); arms given the same int or SeedSequence see the same worlds, batches
        and draws (common random numbers). A study's replicate r uses ``SeedSequence([seed, r])``.
    rep : int
        Only labels the rows.

    Returns
    -------
    steps : DataFrame
        One row per recorded step: ``STEP_COLUMNS``, ``pass@k`` for every k in ``cfg.ks`` and the eval sets'
        columns (``TrainConfig.eval_set_columns``).
    share : DataFrame
        (arm, rep, s, budget_share, prompt_share): the Phase-B budget and the prompts by pilot count s, summed over
        the run's allocating steps.

    Examples
    --------
    >>> from simalloc.train import TrainConfig
    >>> steps, share = simulate_training(TrainConfig(steps=2, n_pool=100, n_eval=50, n_prompts=10), "hora", 0)
    >>> list(steps.step), round(float(share.budget_share.sum()), 9)
    ([0, 1, 2], 1.0)
    """
    cfg.validate()
    arm = parse_arm(arm) if isinstance(arm, str) else arm
    k0 = cfg.k0 if arm.k0 is None else arm.k0
    if not 0 <= k0 <= cfg.group_size:
        raise ValueError(f"arm {arm.spec!r}: k0 must satisfy 0 <= k0 <= group_size={cfg.group_size}")
    rngs = dict(zip(STREAMS, (np.random.default_rng(s) for s in as_seed_sequence(rng).spawn(len(STREAMS)))))
    policy = _policy(cfg, rngs["world"])
    recorder = Recorder(cfg, arm, rep, k0, policy, make_eval_sets(policy, cfg, rngs["sets"]))
    predictor = _predictor(cfg, arm, policy, rngs)
    if arm.temperature_scale != 1.0:  # a temp<x> arm: the same start, sampled and trained at x T
        policy.set_temperature(cfg.temperature * arm.temperature_scale)
    drawer = BatchDrawer(cfg.batch_spec, arm, k0, predictor, rngs)
    updater = Updater(cfg.update_spec, policy.n_params, cfg.n_prompts)
    recorder.record(0)
    for step in range(1, cfg.steps + 1):
        warm = step <= cfg.warmup_steps  # plain GRPO for every arm: uniform groups of G, the base learning rate
        batch = drawer.draw(policy, warm)
        recording = step % cfg.record_every == 0 or step == cfg.steps
        measure = recording and bool(cfg.snr_every) and (step % cfg.snr_every == 0 or step == cfg.steps)
        lr = cfg.lr * (1.0 if warm else arm.lr_scale)
        grad_norm, grad_noise, snr, noise_scale = updater.step(policy, batch, lr, rngs["trajectory"], recording,
                                                               rngs["noise"], measure, rngs["snr"])
        predictor.observe(batch.idx, batch.successes, batch.sizes)
        recorder.add_budget(batch, warm)
        if recording:
            recorder.record(step, batch, grad_norm, grad_noise, warm, (snr, noise_scale))
    return recorder.tables()


def _policy(cfg: TrainConfig, rng):
    spec = cfg.policy_spec
    options = {"temperature": spec.temperature, "eval_temperature": spec.eval_temperature}
    if spec.policy == "cluster":
        options.update(n_clusters=spec.n_clusters, order_noise=spec.order_noise,
                       failure_share=spec.failure_share if spec.failures == "prompt" else 0.0)
    if spec.policy == "loglinear":
        options.update(policy_options=spec.policy_options)
    return make_policy(spec.policy, make_world(spec.world), spec.n_pool, spec.n_eval, spec.n_strategies, spec.zipf,
                       rng, **options)


def _predictor(cfg: TrainConfig, arm: Arm, policy, rngs):
    """The arm's pass-rate predictor; only the GP reads prompt embeddings (drawn from the world stream, so other
    arms skip the cost without changing their draws)."""
    embeddings = None
    if arm.predictor == "gp":
        p0 = policy.pass_rates(np.arange(cfg.n_pool))
        embeddings = prompt_embeddings(p0, cfg.embed_dim, cfg.embed_signal, rngs["world"])
    decay = parse_peer_options(cfg.peer_options)["history"]["decay"]
    return make_predictor(arm.predictor, embeddings=embeddings, noise=cfg.oracle_noise, rng=rngs["predictor"],
                          decay=decay)
