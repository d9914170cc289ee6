"""The critical batch size B_noise from the recorded gradient noise, and what it predicts for uniform GRPO's ladder.

McCandlish et al. (arXiv 1812.06162) define the simple noise scale B_simple = tr(Sigma) / |G|^2 (Sigma the
per-example gradient covariance, G the true gradient) and show that, at each batch size's best learning rate,

    S = S_min (1 + B_noise / B)   (optimisation steps),     E = E_min (1 + B / B_noise)   (examples),

with B_noise ~ B_simple. Here an "example" is a group (a prompt with its rollouts): ``simalloc.train.snr`` records per
measured step the SNR = (|g|^2 - V) / V and the plug-in noise scale tr(Sigma_hat) / |g_bar|^2 over the step's n
groups. With equal group weights (uniform GRPO: every group the same size) V = tr(Sigma_hat) / n, so

    n = noise_scale (SNR + 1),     SNR = (|g|^2 - V) / V  estimates  s = n |G|^2 / tr(Sigma) = B / B_simple,

where |g|^2 - V is the unbiased estimate of |G|^2 (E|g|^2 = |G|^2 + tr(Sigma) / n) and n V = tr(Sigma_hat) the
unbiased one of tr(Sigma).

Averaging over a run's steps. B_simple is not constant along a run (the quick flagship's uniform SNR falls about 4x
from its first measured steps to its last), and the ladder's prediction needs the B_noise for which
S = S_min (1 + B_noise / B) holds for the *whole run*. At its best rate a step at batch B makes 1 / (1 + B_t / B) =
s_t / (1 + s_t) of a noise-free step's progress (McCandlish et al. eq. 2.7-2.11), so with B_t depending on the
progress p (not on B), S(B) = int (1 + B(p) / B) dp = S_min (1 + B_noise / B) exactly, with B_noise the
progress-weighted mean of B_t:

    B_noise = sum_t B_t dp_t / sum_t dp_t = sum_t noise_scale_t / sum_t (1 - noise_scale_t / n_t),

(B_t dp_t = n_t / (1 + s_t) = noise_scale_t and dp_t = s_t / (1 + s_t) = 1 - noise_scale_t / n_t), summed over the
measured steps, which sample the run's steps evenly. For a constant B_simple this is n / s; it is *not* n / mean(SNR)
(the steps' harmonic mean of B_t, an earlier form of this estimator, which reads low wherever the SNR varies along
the run: 40.7 instead of ~65 groups on the quick flagship). Cost: 1 / |g_bar|^2 per step is a ratio of a noisy
estimate, biased up by ~Var(|g_bar|^2) / |g_bar|^4 (a fraction of a percent when the gradient has many
coordinates; a few percent for 20). McCandlish et al. (Appendix A.1) average |G|^2 and tr(Sigma) estimates
separately instead; the recorded columns hold only their ratios.

Reading for the budget ladder: ``uniform:x<m>`` draws m times the rollouts per group, which removes only the
rollout part of a group's noise (not the draw of the prompts); reading it as m times the batch gives the largest
step saving the theory allows. Doubling the batch then cuts steps by (1 + B_noise / B) / (1 + B_noise / (2 B)) and
changes rollouts by (1 + B / B_noise) / (1 + 2 B / B_noise) < 1: twice the batch *never* saves rollouts; it saves
steps when B << B_noise (nearly halves them, at nearly the same rollouts) and neither when B >> B_noise (the same
steps at twice the rollouts). ``uniform:p<m>`` (m times the prompts, each group as large) *is* m times the batch
in this sense: the plain prediction is its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arms import parse_arm

__all__ = ["b_noise", "ladder_prediction", "ladder_verdict", "critical_batch_rows"]


def b_noise(snr, noise_scale) -> tuple[float, float]:
    """(B_noise, B): the critical batch and the batch, in groups, from one run's measured steps (module docstring).

    Parameters
    ----------
    snr, noise_scale : array_like, shape (n_steps,)
        The recorded ``grad_snr`` and ``grad_noise_scale`` of the measured steps (NaN rows are skipped) of a run
        whose groups have equal weights (uniform GRPO or its ``x<m>`` / ``lr<x>`` variants).

    Returns
    -------
    b_noise : float
        sum(noise_scale) / sum(1 - noise_scale / n), the progress-weighted mean of the steps' B_simple (module
        docstring); NaN when no step was measured, inf when the denominator (the run's noise-free progress) is
        <= 0 (the noise swamps the signal: the batch is far below the critical batch).
    batch : float
        mean(n), n = noise_scale (SNR + 1) the groups per step.

    Notes
    -----
    With s_t the steps' SNR, B_t = n_t / s_t and dp_t = s_t / (1 + s_t) the progress of a step at its best rate,
    B_noise = sum_t B_t dp_t / sum_t dp_t, the value for which S = S_min (1 + B_noise / B) holds over the run.

    References
    ----------
    S. McCandlish, J. Kaplan, D. Amodei et al., "An empirical model of large-batch training", arXiv 1812.06162
    (2018), eqs. 2.8 (B_simple) and 2.11-2.12 (S and E), Appendix A.1 (averaging the two estimates over steps).

    Examples
    --------
    >>> b_noise([3.0, 1.0], [0.5, 1.0])  # n = 0.5 x 4 = 1 x 2 = 2 groups; (0.5 + 1) / ((1 - 1/4) + (1 - 1/2))
    (1.2, 2.0)
    """
    s = np.asarray(snr, dtype=np.float64)
    b = np.asarray(noise_scale, dtype=np.float64)
    if s.shape != b.shape or s.ndim != 1:
        raise ValueError(f"snr, noise_scale: must be 1-d arrays of equal length, got shapes {s.shape}, {b.shape}")
    ok = np.isfinite(s) & np.isfinite(b)
    if not ok.any():
        return float("nan"), float("nan")
    s, b = s[ok], b[ok]
    n = b * (s + 1.0)
    progress = float(np.sum(s / (s + 1.0)))  # sum_t dp_t: the run's progress in noise-free steps
    return (float(np.sum(b)) / progress if progress > 0 else float("inf")), float(np.mean(n))


def ladder_prediction(b_noise_groups: float, batch: float, m: float) -> tuple[float, float]:
    """McCandlish et al.'s step and compute multipliers of a batch m times larger (each at its best rate).

    Parameters
    ----------
    b_noise_groups : float
        The critical batch B_noise (groups).
    batch : float
        The batch B (groups per step).
    m : float
        The batch multiplier (> 0).

    Returns
    -------
    step_multiplier : float
        S(B) / S(m B) = (1 + B_noise / B) / (1 + B_noise / (m B)): how many times fewer steps.
    compute_multiplier : float
        E(B) / E(m B) = (1 + B / B_noise) / (1 + m B / B_noise): how many times fewer rollouts (< 1 for m > 1).
        For B_noise = inf (the noise swamps the signal) the limits m and 1.

    Examples
    --------
    >>> ladder_prediction(60.0, 60.0, 2.0)  # B = B_noise: steps (1 + 1) / (1 + 1/2), rollouts (1 + 1) / (1 + 2)
    (1.3333333333333333, 0.6666666666666666)
    """
    if not (np.isfinite(m) and m > 0):
        raise ValueError(f"m: must be finite and > 0, got {m!r}")
    if not (batch > 0) or not (b_noise_groups > 0):
        raise ValueError(f"b_noise_groups, batch: must be > 0, got {b_noise_groups!r}, {batch!r}")
    if np.isinf(b_noise_groups):  # the limit B << B_noise: m times fewer steps at the same rollouts
        return float(m), 1.0
    r = b_noise_groups / batch
    return float((1 + r) / (1 + r / m)), float((1 + 1 / r) / (1 + m / r))


def ladder_verdict(b_noise_groups: float, batch: float) -> str:
    """One sentence: what twice uniform's rollouts should do to steps and rollouts at B and B_noise.

    Parameters
    ----------
    b_noise_groups, batch : float
        B_noise and B (groups).

    Returns
    -------
    str
    """
    if not np.isfinite(batch) or np.isnan(b_noise_groups):
        return "B_noise: not measured (no gradient SNR recorded for uniform)"
    if np.isinf(b_noise_groups):
        return (f"B_noise: unbounded (the steps' noise-free progress sum s / (1 + s) is <= 0: noise swamps the "
                f"signal) at B = {batch:.0f} groups: x2 should cut steps by up to 2x at the same rollouts")
    steps, compute = ladder_prediction(b_noise_groups, batch, 2.0)
    regime = ("B << B_noise: x2 should cut steps, not rollouts" if batch < b_noise_groups / 3 else
              "B >> B_noise: x2 should cut neither steps nor rollouts" if batch > 3 * b_noise_groups else
              "B ~ B_noise: x2 should cut some steps and cost rollouts")
    return (f"B_noise = {b_noise_groups:.1f} groups at B = {batch:.0f}: {regime} (predicted at each batch's best "
            f"rate: {steps:.2f}x fewer steps at {1 / compute:.2f}x the rollouts to the same loss)")


def critical_batch_rows(rows, steps: pd.DataFrame, arms) -> None:
    """Append B_noise (arm "uniform") and the ladder's predicted multipliers to a summary collector.

    Parameters
    ----------
    rows : SummaryRows
        ``simalloc.train.analysis``'s collector (``per_rep`` and ``scalar``).
    steps : pandas.DataFrame
        The per-step table (arm, rep, step, grad_snr, grad_noise_scale).
    arms : sequence of str
        The study's arms; every ``uniform:x<m>`` and ``uniform:p<m>`` among them (no other modifier,
        ``Arm.batch_rung``) gets predictions.

    Notes
    -----
    Rows (per replicate, mean and se over replicates): "uniform" ``b_noise`` and ``b_noise_batch`` (B_noise and B
    in groups, ``b_noise``; a replicate whose progress sum s / (1 + s) is <= 0 is left out of ``b_noise`` and counted in
    ``b_noise_unbounded``); each ladder arm ``predicted_step_multiplier`` and ``predicted_compute_multiplier``
    (``ladder_prediction`` with that replicate's B_noise and m), to be held against the measured
    ``step_multiplier_tuned@m`` and ``compute_multiplier_tuned@m`` (the theory holds at each batch's best rate),
    and ``snr_ratio`` (the arm's mean SNR over uniform's: m if x<m> acted as m times the batch, less where the
    prompts' draw dominates the noise); ``predicted_step_multiplier_snr`` and ``predicted_compute_multiplier_snr``
    read x<m> as snr_ratio times the batch bought with m times the rollouts: S(B) / S(r B) and that over m (the
    prediction for what x<m> is, where the plain rows bound it from above).
    """
    if not {"grad_snr", "grad_noise_scale"} <= set(steps.columns):
        return
    mine = steps[steps.arm == "uniform"].dropna(subset=["grad_snr", "grad_noise_scale"])
    if mine.empty:
        return
    per = {rep: b_noise(run.grad_snr, run.grad_noise_scale) for rep, run in mine.groupby("rep", sort=True)}
    bn = pd.Series({rep: v[0] for rep, v in per.items()}, dtype=np.float64)
    rows.per_rep("uniform", "b_noise", bn.where(np.isfinite(bn)))
    # replicates whose progress sum s / (1 + s) is <= 0 (B_noise unbounded), counted instead of averaged
    rows.scalar("uniform", "b_noise_unbounded", float(np.isinf(bn).sum()), n=len(bn))
    rows.per_rep("uniform", "b_noise_batch", pd.Series({rep: v[1] for rep, v in per.items()}, dtype=np.float64))
    snr_u = mine.groupby("rep").grad_snr.mean()
    for spec in arms:
        scale = parse_arm(spec).batch_rung  # x<m> or p<m> alone on uniform GRPO: the batch m times larger
        if scale is None or scale == 1.0:
            continue
        pred = {rep: ladder_prediction(b, n, scale) for rep, (b, n) in per.items() if not np.isnan(b)}
        rows.per_rep(spec, "predicted_step_multiplier", pd.Series({r: v[0] for r, v in pred.items()}, dtype=float))
        rows.per_rep(spec, "predicted_compute_multiplier", pd.Series({r: v[1] for r, v in pred.items()}, dtype=float))
        other = steps[steps.arm == spec].dropna(subset=["grad_snr"]).groupby("rep").grad_snr.mean()
        if len(other):
            ratio = (other / snr_u.reindex(other.index)).dropna()
            rows.per_rep(spec, "snr_ratio", ratio)
            # x<m> acting as snr_ratio times the batch at m times the rollouts: steps S(B) / S(r B), rollouts
            # B S(B) / (m B S(r B)) = that / m
            eff = {rep: ladder_prediction(per[rep][0], per[rep][1], r)[0] for rep, r in ratio.items()
                   if rep in per and not np.isnan(per[rep][0]) and np.isfinite(r) and r > 0}
            steps_eff = pd.Series(eff, dtype=float)
            rows.per_rep(spec, "predicted_step_multiplier_snr", steps_eff)
            rows.per_rep(spec, "predicted_compute_multiplier_snr", steps_eff / scale)
