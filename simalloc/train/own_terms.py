"""Peers on their own terms: each peer's published headline beside what simalloc measures on the same kind of metric.

The study ``peer_methods`` calls ``own_terms`` on each model's step table and writes the rows to
``own_terms.csv`` beside its summary. The published numbers (``PUBLISHED``) were read from the papers' abstracts
(arXiv HTML pages, found with the project's reference search); a number the search did not find is "not found",
never filled in.

Metrics (per model, paired per replicate on common random numbers, mean and se over replicates; a pair in which
either run never reached the level is kept at its censoring value and counted in ``censored_pairs``):

- SPEED-RL (wall-clock to fixed accuracy targets): ``hours_multiplier@pass@1`` (and ``@50%``): the baseline's hours
  to uniform GRPO's Pass@1 target over SPEED-RL's, under the stated cost model ``COST_MODEL``, against uniform GRPO
  and against DAPO's dynamic sampling.
- GRESO (rollouts and hours to the best checkpoint vs dynamic sampling): ``rollouts_multiplier@best_checkpoint``
  (generation time at equal lengths) and ``hours_multiplier@best_checkpoint``.
- PODS (time to GRPO's peak): ``step_multiplier@uniform_peak`` and ``hours_multiplier@uniform_peak``.
- Reinforce-Ada (steps): ``step_multiplier@pass@1`` budget-matched (the same n_prompts x G per step as uniform) and
  as published (``PUBLISHED_ARMS``: up to 32 rollouts per prompt, 4 kept, against GRPO at 4 per prompt).
- Knapsack-RL (compute multiplier): ``compute_multiplier@pass@1`` against uniform GRPO.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import mean_se
from .arms import parse_arm
from .efficiency import (
    best_checkpoint,
    paired_multiplier,
    rollout_seconds,
    time_to_peak,
    time_to_target,
    uniform_target,
)

__all__ = ["PUBLISHED", "COST_MODEL", "published_arms", "trained_per_step", "own_terms"]

#: each peer's headline as published: (peer, published metric, published value, source). The numbers are the
#: abstracts' (arXiv HTML), checked word for word; where the metric's wording comes from elsewhere the source says
#: where. Per-setting tables were not found by the search, so they are not quoted
PUBLISHED = {
    "SPEED-RL": ("wall-clock time to fixed accuracy targets, vs RLOO and DAPO",
                 "2x to 6x faster training without degrading accuracy",
                 "arXiv 2506.09016 (v1), abstract (the number); metric and baselines: Zanette-Labs/speed-rl README"),
    "GRESO": ("rollout and total wall-clock time vs DAPO's dynamic sampling",
              "up to 2.4x faster rollout, up to 2.0x faster total training",
              "arXiv 2506.02177 (v1), abstract (the numbers); baseline: Figure 1's caption"),
    "GRESO rollouts": ("rollouts to the best checkpoint vs dynamic sampling (Qwen2.5-Math-7B)",
                       "not found (issue 34 quotes 13.1M -> 6.3M; not located in the searched text)",
                       "arXiv 2506.02177"),
    "PODS": ("time to vanilla GRPO's peak test accuracy", "at least 1.7x faster", "arXiv 2504.13818 (v3), abstract"),
    "Reinforce-Ada": ("convergence speed vs GRPO at the same total inference budget", "up to 2x faster",
                      "arXiv 2510.04996 (v3), abstract"),
    "Knapsack-RL": ("compute for uniform allocation to match", "about 2x the computational resources",
                    "arXiv 2509.25849 (v1), abstract"),
}

#: the stated cost model (``simalloc.train.efficiency.rollout_seconds``): assumptions, not measurements: 1,000-token
#: completions of 200-token prompts, decode 1e-4 s and prefill 1e-6 s per token per rollout (a batched engine),
#: 3e-5 s per trained token (forward and backward): generation is ~74% of a uniform GRPO step (0.1002 s vs 0.036 s
#: per rollout), the regime GRESO and SPEED-RL describe (rollout dominates)
COST_MODEL = dict(completion_tokens=1000.0, prompt_tokens=200.0, seconds_per_generated_token=1e-4,
                  seconds_per_prefill_token=1e-6, seconds_per_trained_token=3e-5)


def published_arms(group_size: int) -> tuple:
    """The arms Reinforce-Ada's published comparison needs at this G: GRPO at 4 rollouts per prompt
    ("uniform:k4:x<4/G>") and Reinforce-Ada with a budget of 32 per prompt (8 per round x 4 rounds, its released
    script; "reinforce_ada:x<32/G>", plain "reinforce_ada" when G = 32).

    Parameters
    ----------
    group_size : int
        The model's G.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> published_arms(32), published_arms(16)
    (('uniform:k4:x0.125', 'reinforce_ada'), ('uniform:k4:x0.25', 'reinforce_ada:x2'))
    """
    ada = "reinforce_ada" if group_size == 32 else f"reinforce_ada:x{32 / group_size:g}"
    return f"uniform:k4:x{4 / group_size:g}", ada


def trained_per_step(arm: str, n_prompts: int, group_size: int, options: dict) -> float:
    """Rollouts an arm trains on per step (the cost model's update term): n x G (m n x G for a ``p<m>`` arm), PODS
    n x its kept share of G, Reinforce-Ada n x ``keep``; the refilling arms train at most n x G (an upper bound when
    a step stops short).

    Parameters
    ----------
    arm : str
        The arm's spec.
    n_prompts, group_size : int
        The model's n and G.
    options : dict
        ``parse_peer_options``' result.

    Returns
    -------
    float
    """
    a = parse_arm(arm)
    g = group_size * a.rollout_scale
    if a.allocator == "pods":
        return float(n_prompts * max(1, round(options["pods"]["keep_fraction"] * g)))
    if a.allocator.startswith("reinforce_ada"):
        return float(n_prompts * options["reinforce_ada"]["keep"])
    return float(n_prompts * a.prompt_scale * g)


def _with_hours(times: pd.DataFrame, arm: str, cfg, options: dict) -> pd.DataFrame:
    """``times`` with column "hours": the cost model at its rollouts and steps x trained rollouts per step."""
    trained = times.steps * trained_per_step(arm, cfg.n_prompts, cfg.group_size, options)
    return times.assign(hours=rollout_seconds(times.rollouts.to_numpy(), trained.to_numpy(), **COST_MODEL) / 3600)


def _row(model, peer, metric, arm, baseline, ref, mine, col):
    """One table row: the paired multiplier ref / mine of ``col`` (``paired_multiplier``), censored pairs counted."""
    pub_metric, pub_value, source = PUBLISHED[peer]
    if ref is None or mine is None or ref.empty or mine.empty:
        return dict(model=model, peer=peer, published_metric=pub_metric, published_value=pub_value,
                    published_source=source, simalloc_metric=metric, arm=arm, baseline=baseline, value=np.nan,
                    se=np.nan, n_reps=0, censored_pairs=0, note="not run")
    pm = paired_multiplier(ref, mine, col)
    m = mean_se(pm.ratio.to_numpy())
    # an hours read rests on the cost model's assumed constants: the row says so, whoever reads the csv alone
    note = ("hours under an assumed cost model (not measured): "
            + ", ".join(f"{k}={v:g}" for k, v in COST_MODEL.items())) if col == "hours" else ""
    return dict(model=model, peer=peer, published_metric=pub_metric, published_value=pub_value,
                published_source=source, simalloc_metric=metric, arm=arm, baseline=baseline, value=m.mean, se=m.se,
                n_reps=m.n, censored_pairs=int((pm.kind != "exact").sum()), note=note)


def own_terms(steps: pd.DataFrame, model: str, cfg, options: dict) -> pd.DataFrame:
    """The table of peers on their own terms for one model (module docstring).

    Parameters
    ----------
    steps : pandas.DataFrame
        The model's per-step table (every arm and replicate).
    model : str
        "sim" or "lab" (a column of the table).
    cfg : TrainConfig or LabConfig
        n_prompts, group_size, warmup_steps.
    options : dict
        ``parse_peer_options(cfg.peer_options)``.

    Returns
    -------
    pandas.DataFrame
        Columns model, peer, published_metric, published_value, published_source, simalloc_metric, arm, baseline,
        value, se, n_reps, censored_pairs, note ("not run" when an arm is missing; on an hours row, the cost
        model's assumed constants).
    """
    start = getattr(cfg, "warmup_steps", 0)
    ran = set(steps.arm)
    target = uniform_target(steps, "pass@1", start)
    rows = []

    def to_target(arm, fraction):
        if arm not in ran or not target.improved:
            return None
        return _with_hours(time_to_target(steps, arm, "pass@1", target.levels[fraction], start), arm, cfg, options)

    for fraction, suffix in ((1.0, ""), (0.5, "@50%")):
        for base in ("uniform", "dapo_dynamic"):
            rows.append(_row(model, "SPEED-RL", f"hours_multiplier@pass@1{suffix}", "speed_rl_dynamic", base,
                             to_target(base, fraction), to_target("speed_rl_dynamic", fraction), "hours"))

    def at_best(arm):
        return _with_hours(best_checkpoint(steps, arm, "pass@1", start), arm, cfg, options) if arm in ran else None

    ds, greso = at_best("dapo_dynamic"), at_best("greso")
    rows.append(_row(model, "GRESO rollouts", "rollouts_multiplier@best_checkpoint", "greso", "dapo_dynamic", ds,
                     greso, "rollouts"))
    rows.append(_row(model, "GRESO", "hours_multiplier@best_checkpoint", "greso", "dapo_dynamic", ds, greso, "hours"))

    def to_peak(arm):
        if arm not in ran or "uniform" not in ran:
            return None
        return _with_hours(time_to_peak(steps, arm, "uniform", "pass@1", start), arm, cfg, options)

    peak_ref = at_best("uniform")
    for col, name in (("steps", "step_multiplier@uniform_peak"), ("hours", "hours_multiplier@uniform_peak")):
        rows.append(_row(model, "PODS", name, "pods", "uniform", peak_ref, to_peak("pods"), col))
    grpo4, ada = published_arms(cfg.group_size)
    rows.append(_row(model, "Reinforce-Ada", "step_multiplier@pass@1 (budget-matched)", "reinforce_ada", "uniform",
                     to_target("uniform", 1.0), to_target("reinforce_ada", 1.0), "steps"))
    rows.append(_row(model, "Reinforce-Ada", "step_multiplier@pass@1 (as published: 32 vs 4 per prompt)", ada,
                     grpo4, to_target(grpo4, 1.0), to_target(ada, 1.0), "steps"))
    rows.append(_row(model, "Knapsack-RL", "compute_multiplier@pass@1", "knapsack", "uniform",
                     to_target("uniform", 1.0), to_target("knapsack", 1.0), "rollouts"))
    return pd.DataFrame(rows)
