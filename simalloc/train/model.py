"""What the one training loop (``simalloc.train.loop.train_arm``) needs from a model, and the simulator's adapter.

The loop draws batches (``BatchDrawer``: allocation, dynamic sampling, peers), updates, lets the arm's predictor
observe and records; the model behind it only answers four questions (``TrainingModel``):

- ``pass_rates(idx)``: the pool prompts' exact pass rates under the rollout policy (learned priors' embeddings,
  the ``oracle`` and ``truth`` predictors, and, where ``rates_in_batch``, the batch's ``p``);
- ``roll(idx, n, rng)``: successes of n[j] new rollouts of prompt idx[j] drawn from the stream ``rng`` (the
  simulator: binomial draws given p; the lab: the network's samples, kept for the step's update);
- ``update(batch, lr, recording, measure)``: one training step on the drawn groups (``StepResult``);
- ``set_rollout_temperature(t)``: sample and train at t from now on (a ``temp<x>`` arm; evaluation is unchanged).

``SimulatedModel`` is the simulator's: a ``Policy`` with the ``Updater``. The lab's is
``simalloc.lab.loop.LabModel`` (the network with the live mode's GRPO trainer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .batch import binomial
from .config import UpdateSpec
from .update import Updater

__all__ = ["StepResult", "TrainingModel", "SimulatedModel"]


@dataclass(frozen=True)
class StepResult:
    """What one update reports to the recorder.

    Attributes
    ----------
    grad_norm : float
        The step's gradient norm (the ``grad_norm`` column).
    grad_noise : float
        The sampled gradient's noise relative to its conditional mean (simulator; NaN where not measured).
    snr, noise_scale : float
        The gradient signal-to-noise ratio and noise scale (``simalloc.train.snr``; NaN on unmeasured steps).
    loss : float
        The step's loss (lab; NaN in the simulator).
    """

    grad_norm: float
    grad_noise: float = np.nan
    snr: float = np.nan
    noise_scale: float = np.nan
    loss: float = np.nan


class TrainingModel(ABC):
    """The interface of a model trained by ``simalloc.train.loop.train_arm`` (module docstring).

    Attributes
    ----------
    rates_in_batch : bool
        Whether every batch carries its prompts' exact pass rates (``Batch.p``). True for the simulator, whose
        update reads them and gets them for free; False for the lab, where they cost a network pass and are
        computed only for predictors that read them (``oracle``, ``truth``).
    """

    rates_in_batch: bool = True

    @abstractmethod
    def pass_rates(self, idx) -> np.ndarray:
        """Exact pass rates of pool prompts ``idx`` under the rollout policy, shape (len(idx),)."""

    @abstractmethod
    def roll(self, idx, n, rng, p=None) -> np.ndarray:
        """Successes of ``n[j]`` new rollouts of pool prompt ``idx[j]`` (n an int or one per prompt), drawn from
        ``rng``; ``p``: the prompts' pass rates when the caller already holds them (a model may ignore them).
        Returns an int64 array of shape (len(idx),)."""

    @abstractmethod
    def update(self, batch, lr: float, recording: bool, measure: bool) -> StepResult:
        """One training step on ``batch``'s groups at learning rate ``lr``; ``recording``: the step is recorded
        (measure what the record needs), ``measure``: also measure the gradient SNR."""

    @abstractmethod
    def set_rollout_temperature(self, temperature: float) -> None:
        """Sample (and train) at ``temperature`` from now on; the recorder keeps evaluating at the study's."""


class SimulatedModel(TrainingModel):
    """The simulator's model: a simulated ``Policy`` whose rollouts are binomial draws given its exact pass rates
    (a sufficient statistic for binary rewards), updated by the ``Updater``.

    Parameters
    ----------
    policy : Policy
        The simulated policy (trained in place).
    spec : UpdateSpec
        The update's settings.
    n_prompts : int
        Prompts per step.
    rngs : dict of str to numpy.random.Generator
        The run's "trajectory", "noise" and "snr" streams (``simalloc.train.loop.STREAMS``).
    """

    rates_in_batch = True

    def __init__(self, policy, spec: UpdateSpec, n_prompts: int, rngs: dict):
        self.policy, self.rngs = policy, rngs
        self.updater = Updater(spec, policy.n_params, n_prompts)

    def pass_rates(self, idx) -> np.ndarray:
        """The policy's pass rates of pool prompts ``idx`` at its rollout temperature."""
        return self.policy.pass_rates(idx)

    def roll(self, idx, n, rng, p=None) -> np.ndarray:
        """Binomial(n_j, p_j) successes (p: the policy's pass rates unless given)."""
        return binomial(rng, n, self.policy.pass_rates(idx) if p is None else p)

    def update(self, batch, lr: float, recording: bool, measure: bool) -> StepResult:
        """``Updater.step`` with the run's trajectory, noise and SNR streams."""
        r = self.rngs
        grad_norm, grad_noise, snr, scale = self.updater.step(self.policy, batch, lr, r["trajectory"], recording,
                                                              r["noise"], measure, r["snr"])
        return StepResult(grad_norm, grad_noise, snr, scale)

    def set_rollout_temperature(self, temperature: float) -> None:
        """``Policy.set_temperature``."""
        self.policy.set_temperature(temperature)
