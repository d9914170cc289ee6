"""The simulator against the lab: a lab-matched configuration, the fit to the lab's uniform-GRPO runs, and the
table of predicted vs measured effects (``docs/lab/calibration.csv``).

The lab's results are read from a folder (``docs/lab`` by default) holding what ``lab_hora_vs_grpo`` wrote and
two extracts of it: ``uniform_runs.csv`` (the uniform-GRPO runs, every learning rate of the frontier, every 20
steps: Pass@k, entropy, gradient SNR) and ``initial_pass_rates.csv`` (the warm start's exact pass rate of each
training prompt, as successes / trials with 100,000 trials, read by the simulator as an ``empirical`` world).

Fit (``uniform_fit_loss``): only uniform GRPO (lr x1 and every frontier learning rate) is compared:

    L = mean over (arm, recorded step, k) of (sim Pass@k - lab Pass@k)^2 + snr_weight x (sim SNR - lab SNR)^2,

both sides averaged over replicates first; the SNR term uses each side's mean over its measured steps. The
policy entropy is not fitted: the lab's is over completions (two tokens), the simulator's over strategies, and
they have no common scale.

Verdicts (``calibration_table``): an effect is read on each side by the same rule, the side's own
``credited@k`` (the frontier gain beyond its interpolation bound by 2 se: +1, -1 or 0); the simulator's
prediction is ``confirmed`` when the classes agree and ``refuted`` otherwise. Pass@1 against uniform GRPO (paired,
per replicate) is read the same way with a floor of 0.01 (one point of Pass@1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .config import TrainConfig

__all__ = ["LAB_FILES", "LAB_FRONTIER_LRS", "lab_matched_config", "parse_failure_reading", "reading_changes",
           "read_lab", "uniform_fit_loss", "calibration_table", "PASS1_FLOOR"]

#: the files a lab results folder must hold
LAB_FILES = ("summary.csv", "final_passk.csv", "uniform_runs.csv", "initial_pass_rates.csv")
#: the lab study's frontier learning-rate multipliers (``lab_hora_vs_grpo``)
LAB_FRONTIER_LRS = (0.1, 0.25, 0.5, 0.7, 1.4, 2.0)
#: the smallest Pass@1 difference read as an effect (one point)
PASS1_FLOOR = 0.01


def lab_matched_config(lab_dir="docs/lab", **changes) -> TrainConfig:
    """The simulator set up as the lab's study: its initial pass rates as the difficulty world, 64 prompts x 16
    rollouts, pilot 4, 200 steps, temperature 1 for rollouts and evaluation, 512 eval prompts, recording every 20
    steps (the lab's extract), SNR every 20, Pass@k to 256; ``changes`` override any field.

    Parameters
    ----------
    lab_dir : str or Path
        The lab's results folder (``LAB_FILES``).
    **changes
        ``TrainConfig`` fields.

    Returns
    -------
    TrainConfig
    """
    world = f"empirical:{Path(lab_dir) / 'initial_pass_rates.csv'}"
    base = dict(world=world, n_pool=2000, n_eval=512, n_prompts=64, group_size=16, k0=4, steps=200,
                phase_b_shards=4, temperature=1.0, eval_temperature=1.0, record_every=20, snr_every=20,
                eval_sets=(), ks=(1, 2, 4, 8, 16, 32, 64, 128, 256))
    base.update(changes)
    return TrainConfig(**base)


def parse_failure_reading(spec: str, name: str = "failure_grid") -> dict:
    """"shared" or "prompt:<share>" as ``TrainConfig`` fields.

    Parameters
    ----------
    spec : str
        The failure structure and, for "prompt", the own failure mode's initial share in (0, 1).
    name : str, default "failure_grid"
        The setting named in the error.

    Returns
    -------
    dict
        ``failures`` and, for "prompt", ``failure_share``.

    Raises
    ------
    ValueError
        "<name>: ..." for anything else.

    Examples
    --------
    >>> parse_failure_reading("prompt:0.9")
    {'failures': 'prompt', 'failure_share': 0.9}
    """
    kind, _, share = str(spec).partition(":")
    if kind == "shared" and not share:
        return {"failures": "shared"}
    if kind == "prompt":
        try:
            value = float(share) if share else 0.9
        except ValueError:
            value = float("nan")
        if 0 < value < 1:
            return {"failures": "prompt", "failure_share": value}
    raise ValueError(f"{name}: each entry must be 'shared' or 'prompt:<share in (0, 1)>', got {spec!r}")


def reading_changes(failure: str, optimizer: str, train: TrainConfig, sgd_lr: float,
                    name: str = "failure_readings") -> dict:
    """The ``TrainConfig`` changes of one reading of the failure structure and the optimizer, as the studies that
    cross them use it (``hora_readings``, ``hora_sweep``): the failure fields (``parse_failure_reading``; "shared"
    keeps ``train``'s failure_share, unused), the optimizer, and its learning rate (``sgd_lr`` for SGD, ``train.lr``
    for Adam: the two optimizers' step sizes are not on one scale).

    Parameters
    ----------
    failure : str
        "shared" or "prompt:<share>".
    optimizer : {"adam", "sgd"}
        The optimizer.
    train : TrainConfig
        The study's base settings.
    sgd_lr : float
        SGD's learning rate.
    name : str, default "failure_readings"
        The setting named in an error.

    Returns
    -------
    dict
        failures, failure_share, optimizer, lr.

    Examples
    --------
    >>> reading_changes("prompt:0.9", "sgd", TrainConfig(), 0.3)
    {'failures': 'prompt', 'failure_share': 0.9, 'optimizer': 'sgd', 'lr': 0.3}
    """
    parsed = parse_failure_reading(failure, name)
    return {"failures": parsed["failures"], "failure_share": parsed.get("failure_share", train.failure_share),
            "optimizer": optimizer, "lr": float(sgd_lr if optimizer == "sgd" else train.lr)}


def read_lab(lab_dir="docs/lab") -> dict[str, pd.DataFrame]:
    """The lab's results folder as tables: "summary", "final_passk", "uniform_runs" (``LAB_FILES``).

    Parameters
    ----------
    lab_dir : str or Path
        The folder.

    Returns
    -------
    dict of str to pandas.DataFrame

    Raises
    ------
    ValueError
        "lab_dir: ..." naming the missing files.
    """
    lab_dir = Path(lab_dir)
    missing = [f for f in LAB_FILES if not (lab_dir / f).is_file()]
    if missing:
        raise ValueError(f"lab_dir: {str(lab_dir)!r} lacks {', '.join(missing)} (a lab_hora_vs_grpo result with "
                         f"its calibration extracts, as docs/lab holds)")
    return {name: pd.read_csv(lab_dir / f"{name}.csv") for name in ("summary", "final_passk", "uniform_runs")}


def uniform_fit_loss(sim_steps: pd.DataFrame, lab_runs: pd.DataFrame, ks=(1, 4, 16, 64, 256),
                     snr_weight: float = 0.01, entropy_weight: float = 0.0, snr_by_arm: bool = False
                     ) -> dict[str, float]:
    """The fit's loss on uniform GRPO (module docstring): the Pass@k part, the SNR part, the entropy part and their
    sum.

    Parameters
    ----------
    sim_steps : pandas.DataFrame
        The simulator's per-step table (arm, rep, step, pass@k, grad_snr, entropy).
    lab_runs : pandas.DataFrame
        ``uniform_runs.csv`` (or any lab per-step table of uniform runs).
    ks : sequence of int
        The Pass@k compared; every other Pass@k column both tables hold by band ("<band>:pass@<k>",
        "pass@<k>:<band>") is compared too, in the same mean.
    snr_weight : float
        The SNR term's weight (0.01: an SNR off by 0.5 costs what Pass@k off by 0.05 costs).
    entropy_weight : float, default 0
        The entropy term's weight (0: not fitted, the default of the committed fit).
    snr_by_arm : bool, default False
        Compare each arm's mean SNR (mean over arms of the squared differences) instead of one mean over all.

    Returns
    -------
    dict
        "passk", "snr", "entropy", "loss" (NaN when no (arm, step) is shared), "n" (the (arm, step) pairs compared).

    Notes
    -----
    The entropy term compares entropy relative to the arm's own step-0 value, H_t / H_0, which is unit-free (the
    lab's entropy is over completions, the simulator's over strategies: their levels have no common scale, their
    relative fall does): entropy = entropy_weight x mean over shared (arm, step) of (sim H_t/H_0 - lab H_t/H_0)^2.
    """
    band = re.compile(r"^(\w+:pass@\d+|pass@\d+:\w+)$")
    bands = sorted(c for c in set(sim_steps.columns) & set(lab_runs.columns)
                   if band.match(c) and sim_steps[c].notna().any() and lab_runs[c].notna().any())
    cols = [f"pass@{k}" for k in ks] + bands
    arms = sorted(set(lab_runs.arm) & set(sim_steps.arm))
    sim_rows, lab_rows = sim_steps[sim_steps.arm.isin(arms)], lab_runs[lab_runs.arm.isin(arms)]
    sim = sim_rows.groupby(["arm", "step"])[cols].mean()
    lab = lab_rows.groupby(["arm", "step"])[cols].mean()
    both = sim.index.intersection(lab.index)
    nan = float("nan")
    if not len(both):
        return {"passk": nan, "snr": nan, "entropy": nan, "loss": nan, "n": 0}
    diff = sim.loc[both].to_numpy() - lab.loc[both].to_numpy()
    passk = float(np.nanmean(diff ** 2))
    if snr_by_arm:
        s_arm, l_arm = (t.groupby("arm").grad_snr.mean() for t in (sim_rows, lab_rows))
        d = (s_arm - l_arm.reindex(s_arm.index)).dropna()
        snr = float(snr_weight * np.mean(d ** 2)) if len(d) else 0.0
    else:
        s_snr, l_snr = sim_rows.grad_snr.mean(), lab_rows.grad_snr.mean()
        snr = float(snr_weight * (s_snr - l_snr) ** 2) if np.isfinite(s_snr) and np.isfinite(l_snr) else 0.0
    entropy = 0.0
    if entropy_weight and "entropy" in sim_rows and "entropy" in lab_rows:
        rel = []
        for t in (sim_rows, lab_rows):
            h = t.groupby(["arm", "step"]).entropy.mean()
            h0 = h.xs(0, level="step") if 0 in h.index.get_level_values("step") else None
            rel.append(h / h0.reindex(h.index.get_level_values("arm")).to_numpy() if h0 is not None else None)
        if rel[0] is not None and rel[1] is not None:
            d = (rel[0].reindex(both) - rel[1].reindex(both)).dropna()
            entropy = float(entropy_weight * np.mean(d ** 2)) if len(d) else 0.0
    return {"passk": passk, "snr": snr, "entropy": entropy, "loss": passk + snr + entropy, "n": len(both)}


def _pass1_class(diff, se) -> float:
    if not (np.isfinite(diff) and np.isfinite(se)):
        return float("nan")
    return float(1.0 if diff - 2 * se > PASS1_FLOOR else -1.0 if diff + 2 * se < -PASS1_FLOOR else 0.0)


def calibration_table(sim_summary: pd.DataFrame, sim_final: pd.DataFrame, lab: dict[str, pd.DataFrame], arms,
                      k: int = 256) -> pd.DataFrame:
    """Predicted (simulator) vs measured (lab) effects per arm: frontier gain at k and Pass@1 against uniform GRPO,
    with the verdict (module docstring).

    Parameters
    ----------
    sim_summary, sim_final : pandas.DataFrame
        The simulator's ``summary.csv`` and ``final_passk`` tables (the lab-matched study).
    lab : dict
        ``read_lab``.
    arms : sequence of str
        The arms compared (those in both; "uniform", the reference, is left out).
    k : int, default 256
        The frontier gain's k.

    Returns
    -------
    pandas.DataFrame
        arm, metric, lab_value, lab_se, sim_value, sim_se, lab_effect, sim_effect, verdict
        (confirmed | refuted; undetermined when a side has no reading, e.g. an arm whose Pass@1 lies outside that
        side's frontier in every replicate).
    """
    rows = []
    s_sum = sim_summary.set_index(["arm", "metric"])
    l_sum = lab["summary"].set_index(["arm", "metric"])
    s_fin = sim_final[sim_final.k == 1].set_index("arm")
    l_fin = lab["final_passk"][lab["final_passk"].k == 1].set_index("arm")
    gain, cred = f"frontier_gain@{k}", f"credited@{k}"
    for arm in arms:
        if arm == "uniform":  # the reference: 0 on both sides by construction
            continue
        if (arm, gain) in s_sum.index and (arm, gain) in l_sum.index:
            lv, ls = l_sum.loc[(arm, gain), ["value", "se"]]
            sv, ss = s_sum.loc[(arm, gain), ["value", "se"]]
            le, se_ = l_sum.loc[(arm, cred), "value"], s_sum.loc[(arm, cred), "value"]
            rows.append((arm, gain, lv, ls, sv, ss, le, se_))
        if arm != "uniform" and arm in s_fin.index and arm in l_fin.index:
            lv, ls = l_fin.loc[arm, ["vs_uniform", "vs_uniform_se"]]
            sv, ss = s_fin.loc[arm, ["vs_uniform", "vs_uniform_se"]]
            rows.append((arm, "pass@1_vs_uniform", lv, ls, sv, ss, _pass1_class(lv, ls), _pass1_class(sv, ss)))
    out = pd.DataFrame(rows, columns=["arm", "metric", "lab_value", "lab_se", "sim_value", "sim_se", "lab_effect",
                                      "sim_effect"])
    known = out.lab_effect.notna() & out.sim_effect.notna()
    out["verdict"] = np.where(~known, "undetermined",
                              np.where(out.lab_effect == out.sim_effect, "confirmed", "refuted"))
    return out
