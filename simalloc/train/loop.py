"""The one training loop (``train_arm``) and ``simulate_training``, the simulator's run through it.

Each step draws a batch (``batch.BatchDrawer``: the arm's allocation, or its peer rule or DAPO's dynamic
sampling with refills), updates the model (``TrainingModel.update``), lets the arm's predictor observe the groups
and records (``evaluation.Recorder``: cumulative rollouts for the efficiency axis, the gradient SNR on measured
steps). The warm-up steps (``warmup_steps``) are plain GRPO for every arm at the base learning rate; a
``temp<x>`` arm samples and trains at x times the study's temperature. What is model-specific sits behind
``model.TrainingModel``: the simulator's ``SimulatedModel`` here, the lab's network in ``simalloc.lab.train_lab``,
so batch drawing, refills, peers, controls and the records exist once for both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..seeding import as_seed_sequence
from ..worlds import make_world
from .arms import Arm, parse_arm
from .batch import BatchDrawer
from .config import BatchSpec, TrainConfig
from .evaluation import Recorder, make_eval_sets
from .model import SimulatedModel, TrainingModel
from .peers import parse_peer_options
from .policies import make_policy
from .predictors import make_predictor, prompt_embeddings

__all__ = ["simulate_training", "train_arm", "STREAMS", "spawn_streams", "resolve_arm", "StepPlan", "step_plan",
           "arm_predictor", "ArmRun", "start_run", "finish_step"]

#: the independent random streams of a run, spawned in this order from its seed (common random numbers: every arm
#: given the same seed sees the same worlds, batches and draws)
STREAMS = ("world", "batch", "pilot", "extra", "alloc", "predictor", "trajectory", "sets", "noise", "snr")


def spawn_streams(rng) -> dict:
    """The run's ``STREAMS``, one numpy Generator each, spawned in that order from ``rng``.

    Parameters
    ----------
    rng : int, SeedSequence, Generator or BitGenerator
        The run's seed (SPEC 7).

    Returns
    -------
    dict of str to numpy.random.Generator
    """
    return dict(zip(STREAMS, (np.random.default_rng(s) for s in as_seed_sequence(rng).spawn(len(STREAMS)))))


def resolve_arm(arm: str | Arm, k0: int, group_size: int) -> tuple[Arm, int]:
    """(the parsed arm, its pilot size: the arm's own ``k<K0>`` or the study's ``k0``), checked against G.

    Parameters
    ----------
    arm : str or Arm
        The arm (``parse_arm``).
    k0 : int
        The study's pilot size.
    group_size : int
        The study's G.

    Returns
    -------
    tuple of (Arm, int)
    """
    arm = parse_arm(arm) if isinstance(arm, str) else arm
    k0 = k0 if arm.k0 is None else arm.k0
    if not 0 <= k0 <= group_size:
        raise ValueError(f"arm {arm.spec!r}: k0 must satisfy 0 <= k0 <= group_size={group_size}")
    return arm, k0


@dataclass(frozen=True)
class StepPlan:
    """What one step of the loop does besides drawing and updating.

    Attributes
    ----------
    warm : bool
        A warm-up step: plain GRPO (uniform groups of G) at the base learning rate, whatever the arm.
    recording : bool
        The step gets a row (every ``record_every`` steps and the last).
    measure : bool
        The row also gets the gradient SNR (every ``snr_every`` steps and the last; 0: never).
    lr : float
        The step's learning rate.
    """

    warm: bool
    recording: bool
    measure: bool
    lr: float


def step_plan(cfg, arm: Arm, step: int) -> StepPlan:
    """Step ``step``'s plan (1-based) from ``cfg``'s steps, warmup_steps, record_every, snr_every and lr.

    Parameters
    ----------
    cfg : TrainConfig or LabConfig
        The run's settings.
    arm : Arm
        Its ``lr_scale`` applies after the warm-up.
    step : int
        The step, 1..cfg.steps.

    Returns
    -------
    StepPlan
    """
    warm = step <= cfg.warmup_steps
    recording = step % cfg.record_every == 0 or step == cfg.steps
    measure = recording and bool(cfg.snr_every) and (step % cfg.snr_every == 0 or step == cfg.steps)
    return StepPlan(warm, recording, measure, cfg.lr * (1.0 if warm else arm.lr_scale))


def arm_predictor(model: TrainingModel, arm: Arm, spec: BatchSpec, rngs: dict):
    """The arm's pass-rate predictor; only the GP reads prompt embeddings (from the pool's pass rates at the
    study's temperature, drawn from the world stream, so other arms skip the cost without changing their draws).

    Parameters
    ----------
    model : TrainingModel
        Its ``pass_rates`` of the whole pool (GP only).
    arm : Arm
        Its ``predictor``.
    spec : BatchSpec
        n_pool, embed_dim, embed_signal, oracle_noise, peer_options (the history's decay).
    rngs : dict
        The "world" and "predictor" streams.

    Returns
    -------
    object
        ``make_predictor``'s.
    """
    embeddings = None
    if arm.predictor == "gp":
        p0 = model.pass_rates(np.arange(spec.n_pool))
        embeddings = prompt_embeddings(p0, spec.embed_dim, spec.embed_signal, rngs["world"])
    decay = parse_peer_options(spec.peer_options)["history"]["decay"]
    return make_predictor(arm.predictor, embeddings=embeddings, noise=spec.oracle_noise, rng=rngs["predictor"],
                          decay=decay)


@dataclass
class ArmRun:
    """One arm's run in progress: what the loop's stages share (``start_run``, ``finish_step``).

    Attributes
    ----------
    model : TrainingModel
        The model being trained.
    recorder : Recorder
        Its records.
    drawer : BatchDrawer
        The arm's batches.
    predictor : object
        The arm's pass-rate predictor (observes every step's groups).
    cfg : TrainConfig or LabConfig
        The run's settings.
    arm : Arm
        The arm.
    """

    model: TrainingModel
    recorder: Recorder
    drawer: BatchDrawer
    predictor: object
    cfg: object
    arm: Arm


def start_run(model: TrainingModel, recorder: Recorder, cfg, spec: BatchSpec, arm: Arm, k0: int,
              rngs: dict) -> ArmRun:
    """Before the first step: the arm's predictor, the ``temp<x>`` control's rollout temperature, the batch
    drawer, and the step-0 record.

    Parameters
    ----------
    model, recorder, cfg, spec, arm, k0, rngs
        As ``train_arm``.

    Returns
    -------
    ArmRun
    """
    predictor = arm_predictor(model, arm, spec, rngs)
    if arm.temperature_scale != 1.0:  # a temp<x> arm: the same start, sampled and trained at x T
        model.set_rollout_temperature(cfg.temperature * arm.temperature_scale)
    drawer = BatchDrawer(spec, arm, k0, predictor, rngs)
    recorder.record(0)
    return ArmRun(model, recorder, drawer, predictor, cfg, arm)


def finish_step(run: ArmRun, step: int, plan: StepPlan, batch, result, seconds: float) -> None:
    """After a step's update: the predictor observes the groups, the recorder counts the rollouts (cumulative, every
    one generated) and, on recorded steps, adds the row.

    Parameters
    ----------
    run : ArmRun
        The run.
    step : int
        The step.
    plan : StepPlan
        Its plan.
    batch : Batch
        Its batch.
    result : StepResult
        Its update's report.
    seconds : float
        Its wall time so far.
    """
    run.predictor.observe(batch.idx, batch.successes, batch.sizes)
    run.recorder.add_budget(batch, plan.warm)
    if plan.recording:
        run.recorder.record(step, batch, plan.warm, result, seconds)


def train_arm(model: TrainingModel, recorder: Recorder, cfg, spec: BatchSpec, arm: Arm, k0: int,
              rngs: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train ``model`` for ``cfg.steps`` steps under ``arm`` (the module docstring): the one loop of the simulator
    and the lab.

    Parameters
    ----------
    model : TrainingModel
        The model (trained in place).
    recorder : Recorder
        Records the model's evaluation (the simulator's ``Recorder`` or the lab's).
    cfg : TrainConfig or LabConfig
        steps, warmup_steps, record_every, snr_every, lr, temperature.
    spec : BatchSpec
        The batch settings.
    arm : Arm
        The arm.
    k0 : int
        Its pilot size (``resolve_arm``).
    rngs : dict
        The run's streams (``spawn_streams``).

    Returns
    -------
    steps, share : DataFrame
        ``recorder.tables()``.

    Notes
    -----
    Each step: ``step_plan``, ``BatchDrawer.draw``, ``TrainingModel.update``, ``finish_step``. A driver that steps
    several runs together (batched networks) can call the same stages per run.
    """
    run = start_run(model, recorder, cfg, spec, arm, k0, rngs)
    for step in range(1, cfg.steps + 1):
        start = time.perf_counter()
        plan = step_plan(cfg, arm, step)
        batch = run.drawer.draw(model, plan.warm)
        result = model.update(batch, plan.lr, plan.recording, plan.measure)
        finish_step(run, step, plan, batch, result, time.perf_counter() - start)
    return recorder.tables()


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
    arm, k0 = resolve_arm(arm, cfg.k0, cfg.group_size)
    rngs = spawn_streams(rng)
    policy = _policy(cfg, rngs["world"])
    recorder = Recorder(cfg, arm, rep, k0, policy, make_eval_sets(policy, cfg, rngs["sets"]))
    model = SimulatedModel(policy, cfg.update_spec, cfg.n_prompts, rngs)
    return train_arm(model, recorder, cfg, cfg.batch_spec, arm, k0, rngs)


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
