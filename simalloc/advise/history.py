"""What a history-based prior would have changed, read from a multi-step log (a step column).

For every step after the first, each prompt's counts at that step are compared with two priors: HORA's flat
Beta(1, 1) and the prompt's own history, a ``simalloc.Planner`` posterior built from its earlier steps
(alpha <- lambda alpha + (1 - lambda) + s, MoPPS's update; the prompt's prior is Beta(1, 1) until it is seen).
Two questions, for each decay lambda:

- Would the history have predicted the step better? The Beta-Binomial log predictive probability of the
  step's (s, n) under each prior; ``logpred_gain`` is the mean difference (history - flat) per rollout, in nats,
  with a standard error over steps. Negative: the history misleads (the policy moved faster than it forgets).
- How much would it have moved? HORA's allocation of ``budget`` extra rollouts over the step's prompts with each
  prior, the step's counts as the pilot; ``budget_moved`` is the share of the budget that lands on another prompt.

A log without a step column, or with one step, has no history: ``history_table`` returns None.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import mean_se

__all__ = ["HISTORY_DECAYS", "history_table"]

#: the decays compared: 1 (no forgetting) and MoPPS's 0.5
HISTORY_DECAYS = (1.0, 0.5)


def history_table(rollouts: pd.DataFrame, budget_per_prompt: float, threshold: float = 0.5, decays=HISTORY_DECAYS,
                  allocator: str = "hora") -> pd.DataFrame | None:
    """Per decay: how often a prompt came with history, the predictive gain of its history prior and the share of
    HORA's budget it would have moved (module docstring).

    Parameters
    ----------
    rollouts : pandas.DataFrame
        A log read by ``simalloc.logs.read_data``: task_id, reward, step (one row per rollout).
    budget_per_prompt : float
        Extra rollouts per prompt of a step (the step's budget is this times its prompts, rounded).
    threshold : float, default 0.5
        A rollout succeeds when reward > threshold (as the log was read).
    decays : sequence of float
        The planner decays compared.
    allocator : str, default "hora"
        The allocator whose budget is compared.

    Returns
    -------
    pandas.DataFrame or None
        Columns decay, steps, prompt_steps, with_history (share of prompt-steps whose prompt was seen before),
        logpred_gain, logpred_gain_se (nats per rollout, se over steps), budget_moved, budget_moved_se; None
        without at least two steps.
    """
    from .. import Planner, allocate

    if rollouts is None or "step" not in rollouts or rollouts.step.isna().all():
        return None
    log = rollouts.dropna(subset=["step"]).assign(success=lambda f: (f.reward > threshold).astype(np.int64))
    counts = (log.groupby(["step", "task_id"], sort=True).success.agg(["sum", "count"]).reset_index())
    steps = np.sort(counts.step.unique())
    if steps.size < 2:
        return None
    rows = []
    for decay in decays:
        planner = Planner(decay=decay)
        gains, moved, seen, total = [], [], 0, 0
        for i, step in enumerate(steps):
            cur = counts[counts.step == step]
            ids = cur.task_id.to_numpy()
            s, n = cur["sum"].to_numpy(dtype=np.int64), cur["count"].to_numpy(dtype=np.int64)
            if i > 0:
                h = planner.history(ids)
                known = h["seen"] > 0
                seen += int(known.sum())
                total += ids.size
                if known.any():
                    lp_hist = stats.betabinom.logpmf(s, n, h["alpha"], h["beta"])
                    lp_flat = stats.betabinom.logpmf(s, n, 1.0, 1.0)
                    gains.append(float((lp_hist - lp_flat)[known].sum() / n[known].sum()))
                budget = int(round(budget_per_prompt * ids.size))
                if budget > 0:
                    flat = allocate(allocator, s, n, budget, rng=0)
                    hist = allocate(allocator, s, n, budget, prior=(h["alpha"], h["beta"]), rng=0)
                    moved.append(float(np.abs(hist - flat).sum() / 2 / budget))
            planner.observe(ids, s, n)
            planner.end_step()
        g, gse, _ = mean_se(gains)
        m, mse, _ = mean_se(moved)
        rows.append({"decay": decay, "steps": int(steps.size), "prompt_steps": total,
                     "with_history": seen / total if total else np.nan, "logpred_gain": g, "logpred_gain_se": gse,
                     "budget_moved": m, "budget_moved_se": mse})
    return pd.DataFrame(rows)
