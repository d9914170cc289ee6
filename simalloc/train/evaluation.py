"""What a training run records: the per-step table and the Phase-B budget share by pilot count.

Every recorded step: the informative-group share, hits on s = 0 prompts, rollouts (this step's) and cum_rollouts
(every rollout generated since step 0, warm-up, screening, discarded and refill rollouts included, also of the
steps between records: the efficiency axis's spend), the gradient's norm and the
sampling noise, the policy's entropy (and its range over clusters), the budget shares of s = 0 and s = K0
prompts, and exact Pass@k on the eval set for every k. At step 0 and the last step also the held-out eval sets
(``eval_sets``): exact Pass@k over each set and finite benchmarks drawn from it (the same problems for every arm)
with their standard errors, and exact Pass@1 and Pass@kmax at every evaluation temperature of
``eval_temperatures`` with the best over them (``temperature_columns``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..worlds import make_world
from .policies import pass_at_k_curve, pass_at_k_per_prompt

__all__ = ["STEP_COLUMNS", "EVAL_TEMPERATURES", "make_eval_sets", "eval_set_values", "temperature_columns",
           "temperature_values", "update_values", "Recorder"]

#: the evaluation-temperature grid Pass@k is also read at, at step 0 and the last step (issue 34: a Pass@k gain that
#: a higher sampling temperature also buys is entropy, not skill); it contains both models' sampling temperatures
#: (the simulator's 0.7, the lab's 1.0)
EVAL_TEMPERATURES = (0.5, 0.7, 1.0, 1.5, 2.0)

STEP_COLUMNS = ["arm", "rep", "step", "informative_share", "hits_s0", "n_s0", "rollouts", "grad_norm", "entropy",
                "entropy_cluster_min", "entropy_cluster_max", "grad_noise", "budget_share_s0", "budget_share_sK0",
                "grad_snr", "grad_noise_scale", "cum_rollouts"]


def make_eval_sets(policy, cfg, rng) -> list[tuple]:
    """(name, handle, {benchmark size: problem indices}) for every entry of ``cfg.eval_sets``, drawn from ``rng``.

    Parameters
    ----------
    policy : Policy
        Builds each set's prompts (``make_eval_set``).
    cfg : TrainConfig or EvalSpec
        eval_sets, n_eval and bench_sizes.
    rng : numpy.random.Generator
        The eval sets' stream (the same for every arm).

    Returns
    -------
    list of tuple
    """
    out = []
    for name, world in cfg.eval_set_specs():
        handle = policy.make_eval_set(make_world(world), cfg.n_eval, rng)
        out.append((name, handle, {b: rng.choice(cfg.n_eval, b, replace=False) for b in cfg.bench_sizes}))
    return out


def eval_set_values(policy, eval_sets, set_ks) -> list[float]:
    """The eval-set columns' values (``TrainConfig.eval_set_columns`` order): per set, exact Pass@k over the set,
    then per drawn benchmark, for k = 1 and max(set_ks), its mean Pass@k and the se over its problems.

    Parameters
    ----------
    policy : Policy
        The policy now.
    eval_sets : list of tuple
        ``make_eval_sets``.
    set_ks : ndarray of int
        The eval sets' k.

    Returns
    -------
    list of float
    """
    values = []
    kk = [1, int(set_ks.max())]
    for _, handle, benches in eval_sets:
        p_set = policy.set_pass_rates(handle)
        values += list(pass_at_k_curve(p_set, set_ks))
        for idx_b in benches.values():
            for per in pass_at_k_per_prompt(p_set[idx_b], kk):
                values += [float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size)) if per.size > 1 else np.nan]
    return values


def temperature_columns(ks, temperatures) -> list[str]:
    """The evaluation-temperature columns: "pass@<k>@T<t>" for k = 1 and max(ks) at every t, then
    "pass@<kmax>_best_temperature" (the max over the grid) and "best_temperature@<kmax>" (its argmax t).

    Parameters
    ----------
    ks : sequence of int
        The run's Pass@k grid (its largest k is read).
    temperatures : sequence of float
        The evaluation temperatures (empty: no columns).

    Returns
    -------
    list of str

    Examples
    --------
    >>> temperature_columns((1, 4, 256), (0.7, 1.5))
    ['pass@1@T0.7', 'pass@256@T0.7', 'pass@1@T1.5', 'pass@256@T1.5', 'pass@256_best_temperature', \
'best_temperature@256']
    """
    if not temperatures:
        return []
    kmax = max(ks)
    cols = [f"pass@{k}@T{t:g}" for t in temperatures for k in (1, kmax)]
    return cols + [f"pass@{kmax}_best_temperature", f"best_temperature@{kmax}"]


def temperature_values(rates_at, ks, temperatures) -> list[float]:
    """The ``temperature_columns``' values: exact Pass@1 and Pass@kmax of the pass rates ``rates_at(t)`` at every
    t, then the largest Pass@kmax over the grid and the t that gives it (the first on ties).

    Parameters
    ----------
    rates_at : callable
        ``rates_at(t) -> ndarray``: the eval prompts' pass rates when sampled at temperature t.
    ks : sequence of int
        The run's Pass@k grid.
    temperatures : sequence of float
        The evaluation temperatures.

    Returns
    -------
    list of float

    Notes
    -----
    Pass@k = mean_i 1 - (1 - p_i(t))^k (``pass_at_k_curve``), exact given the pass rates.
    """
    if not temperatures:
        return []
    kk = np.array([1, max(ks)])
    curves = np.array([pass_at_k_curve(rates_at(float(t)), kk) for t in temperatures])
    best = int(np.argmax(curves[:, 1]))
    return [float(x) for x in curves.ravel()] + [float(curves[best, 1]), float(temperatures[best])]


def update_values(result) -> tuple[float, float, tuple[float, float]]:
    """(grad_norm, grad_noise, (snr, noise_scale)) of an update's ``StepResult``; NaN for None (step 0).

    Parameters
    ----------
    result : StepResult or None
        ``simalloc.train.model.StepResult``.

    Returns
    -------
    tuple
    """
    if result is None:
        return np.nan, np.nan, (np.nan, np.nan)
    return result.grad_norm, result.grad_noise, (result.snr, result.noise_scale)


class Recorder:
    """Collects the per-step rows and the Phase-B budget by pilot count of one (arm, replicate) run.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings.
    arm : Arm
        The arm.
    rep : int
        The replicate.
    k0 : int
        The arm's pilot size (the budget-share table has one row per pilot count 0..k0).
    policy : Policy
        Evaluated at each recorded step.
    eval_sets : list of tuple
        ``make_eval_sets``.
    """

    def __init__(self, cfg, arm, rep: int, k0: int, policy, eval_sets):
        self.cfg, self.arm, self.rep, self.k0, self.policy, self.eval_sets = cfg, arm, rep, k0, policy, eval_sets
        self.ks, self.set_ks = np.asarray(cfg.ks), np.asarray(cfg.eval_set_ks)
        self.n_set_cols = len(cfg.eval_set_columns())
        self.budget_by_s, self.prompts_by_s = np.zeros(k0 + 1), np.zeros(k0 + 1)
        self.rows = []
        #: rollouts generated since step 0 (``add_budget`` counts every step's)
        self.cum_rollouts = 0

    def batch_stats(self, batch, warm: bool) -> tuple:
        """(informative share, hits on s = 0 prompts, s = 0 prompts, rollouts, Phase-B share of s = 0 prompts, of
        s = K0 prompts) of a step's batch; NaN (and 0 rollouts) for ``batch`` None."""
        informative = hits_s0 = n_s0 = share_s0 = share_sk0 = np.nan
        rollouts = 0
        if batch is not None:
            total, sizes = batch.successes, batch.sizes
            informative = float(np.mean((total > 0) & (total < sizes))) if sizes.size else 0.0
            rollouts = batch.rollouts
            if batch.pilot is not None:
                s, alloc = batch.pilot, batch.extra
                n_s0, hits_s0 = int((s == 0).sum()), int(((s == 0) & (batch.extra_successes > 0)).sum())
                spent = alloc.sum()
                if not warm and spent:
                    share_s0, share_sk0 = float(alloc[s == 0].sum() / spent), float(alloc[s == self.k0].sum() / spent)
        return informative, hits_s0, n_s0, rollouts, share_s0, share_sk0

    def record(self, step: int, batch=None, warm: bool = False, result=None, seconds: float = np.nan) -> None:
        """Add step ``step``'s row (``batch`` None: the start, before any update).

        Parameters
        ----------
        step : int
            The step (0: the start).
        batch : Batch, optional
            The step's batch.
        warm : bool
            A warm-up step (no allocation shares).
        result : StepResult, optional
            The update's report (``simalloc.train.model.StepResult``; None: NaN columns).
        seconds : float
            The step's wall time (read by the lab's recorder; unused here).
        """
        informative, hits_s0, n_s0, rollouts, share_s0, share_sk0 = self.batch_stats(batch, warm)
        grad_norm, grad_noise, snr = update_values(result)
        p = self.policy
        curve = pass_at_k_curve(p.eval_pass_rates(), self.ks)
        entropy, h = self.entropies()
        extra = eval_set_values(p, self.eval_sets, self.set_ks) + \
            temperature_values(p.eval_pass_rates, self.ks, self.cfg.eval_temperatures) \
            if step in (0, self.cfg.steps) else [np.nan] * self.n_set_cols
        self.rows.append((self.arm.spec, self.rep, step, informative, hits_s0, n_s0, rollouts, grad_norm, entropy,
                          float(h.min()), float(h.max()), grad_noise, share_s0, share_sk0, *snr, self.cum_rollouts,
                          *curve, *extra))

    def entropies(self) -> tuple[float, np.ndarray]:
        """(the pool's mean entropy, each cluster's) of the policy sampled at the study's temperature
        ``cfg.temperature``: a ``temp<x>`` arm's policy samples at x T and is read at T, as every other arm."""
        p, t = self.policy, self.cfg.temperature
        if p.temperature == t:
            return p.entropy(), p.cluster_entropies()
        own = p.temperature
        p.set_temperature(t)  # a refresh from the logits: restoring recomputes the same numbers
        try:
            return p.entropy(), p.cluster_entropies()
        finally:
            p.set_temperature(own)

    def add_budget(self, batch, warm: bool) -> None:
        """Count every step's rollouts (``cum_rollouts``) and an allocating step's Phase-B rollouts and prompts by
        pilot successes s; call it once per step, before ``record``."""
        self.cum_rollouts += int(batch.rollouts)
        if warm or batch.pilot is None:
            return
        self.budget_by_s += np.bincount(batch.pilot, weights=batch.extra, minlength=self.k0 + 1)
        self.prompts_by_s += np.bincount(batch.pilot, minlength=self.k0 + 1)

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the per-step table, the budget-share-by-s table)."""
        cfg = self.cfg
        table = pd.DataFrame(self.rows, columns=STEP_COLUMNS + [f"pass@{k}" for k in cfg.ks] + cfg.eval_set_columns())
        total = self.budget_by_s.sum()
        share = pd.DataFrame({
            "arm": self.arm.spec, "rep": self.rep, "s": np.arange(self.k0 + 1),
            "budget_share": self.budget_by_s / total if total else np.nan,
            "prompt_share": self.prompts_by_s / self.prompts_by_s.sum() if self.prompts_by_s.sum() else np.nan,
        })
        return table, share
