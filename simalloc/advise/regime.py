"""A regime hint from a multi-step log: do prompts without a success become solved, does the spread of pass rates
narrow?

Every prompt seen in at least two steps is read at its first and its last step, on the same number of rollouts
m (the smaller of the two groups; a group's first m rollouts in log order, which are exchangeable). Two readings:

- **Unsolved -> solved.** ``up``: prompts with no success at first and at least one at last; ``down``: the
  reverse. With pass rates fixed across steps, first and last are exchangeable, so P(up) = P(down) for every
  prompt and ``up`` given ``up + down`` is Binomial(up + down, 1/2) (McNemar's exact test). The hint is
  "expanding" when the share of changes that are up-moves has a 95% Clopper-Pearson interval above 1/2, "losing
  solved prompts" when below; otherwise no direction. The share of first-unsolved prompts that became solved is
  reported with its own interval, beside the reverse share (noise alone makes both positive).
- **Spread.** The variance of per-prompt pass rates beyond binomial noise, var(s/m) - mean(x (1 - x) / (m - 1))
  (x = s / m; E[x (1 - x) / (m - 1)] = p (1 - p) / m, the binomial part), at first and last sight of the same
  prompts. Its change is the mean of per-prompt terms psi_i = (x_last - mean_last)^2 - (x_first - mean_first)^2
  - (v_last - v_first), with a normal 95% interval from their standard error (delta method); "narrows" or
  "widens" only when the interval excludes 0.

A hint, not a test of the regime: a selector that repeats prompts because of their outcomes (GRESO's skipping, a
curriculum) makes the repeated prompts unrepresentative, and rising pass rates everywhere also turn unsolved
prompts into solved ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import mean_se

__all__ = ["RegimeHint", "regime_hint", "regime_lines"]

#: the normal quantile of a two-sided 95% interval
_Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class RegimeHint:
    """What ``regime_hint`` found (module docstring); counts are prompts, intervals are 95%.

    Attributes
    ----------
    steps : int
        Steps in the log.
    repeated : int
        Prompts seen in at least two steps.
    unsolved_first, solved_first : int
        Repeated prompts without / with a success at first sight (on m rollouts).
    up, down : int
        Unsolved at first and solved at last; solved at first and unsolved at last.
    up_share, up_share_ci : float, tuple
        up / unsolved_first with its Clopper-Pearson interval (NaN without unsolved prompts).
    down_share, down_share_ci : float, tuple
        down / solved_first with its interval.
    up_of_changes, up_of_changes_ci, p_value : float, tuple, float
        up / (up + down), its interval and McNemar's exact two-sided p-value (NaN without changes).
    spread_first, spread_last : float
        SD of pass rates beyond binomial noise at first and last sight (NaN when no prompt has m >= 2).
    spread_change, spread_change_ci : float, tuple
        The change of that variance (last - first) and its interval.
    direction : str
        "expanding", "losing solved prompts", "no direction" or "not enough data".
    spread : str
        "narrows", "widens", "no clear change" or "not enough data".
    """

    steps: int
    repeated: int
    unsolved_first: int = 0
    solved_first: int = 0
    up: int = 0
    down: int = 0
    up_share: float = np.nan
    up_share_ci: tuple = (np.nan, np.nan)
    down_share: float = np.nan
    down_share_ci: tuple = (np.nan, np.nan)
    up_of_changes: float = np.nan
    up_of_changes_ci: tuple = (np.nan, np.nan)
    p_value: float = np.nan
    spread_first: float = np.nan
    spread_last: float = np.nan
    spread_change: float = np.nan
    spread_change_ci: tuple = (np.nan, np.nan)
    direction: str = "not enough data"
    spread: str = "not enough data"


def _share(k: int, n: int) -> tuple[float, tuple]:
    if n == 0:
        return np.nan, (np.nan, np.nan)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return k / n, (float(ci.low), float(ci.high))


def _first_last(rollouts: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per repeated prompt: m and the successes among the first m rollouts at its first and its last step."""
    log = rollouts.loc[rollouts.step.notna(), ["task_id", "step", "reward"]]
    task = pd.factorize(log.task_id)[0]
    step = pd.factorize(log.step, sort=True)[0]
    order = np.lexsort((step, task))  # stable: a group's rollouts keep their log order
    task, step = task[order], step[order]
    success = np.cumsum(log.reward.to_numpy()[order] > threshold)
    starts = np.flatnonzero(np.r_[True, (task[1:] != task[:-1]) | (step[1:] != step[:-1])])
    sizes = np.diff(np.r_[starts, task.size])
    first = np.flatnonzero(np.r_[True, task[starts][1:] != task[starts][:-1]])  # each prompt's first group
    last = np.r_[first[1:] - 1, starts.size - 1]
    keep = last > first
    first, last = first[keep], last[keep]
    m = np.minimum(sizes[first], sizes[last])

    def successes(group):
        begin = starts[group]
        return success[begin + m - 1] - np.where(begin > 0, success[np.maximum(begin - 1, 0)], 0)

    return pd.DataFrame({"m": m, "s_first": successes(first), "s_last": successes(last)}).astype(np.int64)


def regime_hint(rollouts: pd.DataFrame | None, threshold: float = 0.5) -> RegimeHint | None:
    """The regime hint of a multi-step log (module docstring).

    Parameters
    ----------
    rollouts : pandas.DataFrame or None
        One row per rollout with ``task_id``, ``reward`` and ``step`` (``simalloc.logs.read_data``'s rollouts).
    threshold : float, default 0.5
        A rollout succeeds when reward > threshold.

    Returns
    -------
    RegimeHint or None
        None without a step column or with fewer than two steps; ``direction`` and ``spread`` read "not enough
        data" when no prompt is seen in two steps.

    Notes
    -----
    Under fixed pass rates p_i and equal group sizes m, P(up_i) = (1 - p_i)^m (1 - (1 - p_i)^m) = P(down_i), so
    up | up + down ~ Binomial(up + down, 1/2) (McNemar 1947). Spread: var(x) - mean(x (1 - x) / (m - 1)) is
    unbiased for the variance of p across prompts (up to the (P - 1) / P factor of a population variance).

    References
    ----------
    Q. McNemar, Note on the sampling error of the difference between correlated proportions or percentages,
    Psychometrika 12 (1947) 153-157.

    Examples
    --------
    >>> log = pd.DataFrame({"task_id": [0] * 8, "step": [1] * 4 + [2] * 4, "reward": [0, 0, 0, 0, 1, 0, 1, 0]})
    >>> h = regime_hint(log)
    >>> h.repeated, h.up, h.down, h.direction  # one change cannot show a direction
    (1, 1, 0, 'no direction')
    """
    if rollouts is None or "step" not in rollouts or rollouts.step.isna().all():
        return None
    steps = int(rollouts.step.dropna().nunique())
    if steps < 2:
        return None
    t = _first_last(rollouts, threshold)
    if t.empty:
        return RegimeHint(steps=steps, repeated=0)
    first0, last0 = t.s_first.to_numpy() == 0, t.s_last.to_numpy() == 0
    up, down = int(np.sum(first0 & ~last0)), int(np.sum(~first0 & last0))
    up_share, up_ci = _share(up, int(first0.sum()))
    down_share, down_ci = _share(down, int((~first0).sum()))
    changes, changes_ci = _share(up, up + down)
    p_value = float(stats.binomtest(up, up + down, 0.5).pvalue) if up + down else np.nan
    direction = ("no direction" if up + down == 0 or changes_ci[0] <= 0.5 <= changes_ci[1] else
                 "expanding" if changes_ci[0] > 0.5 else "losing solved prompts")
    spread = dict(spread_first=np.nan, spread_last=np.nan, spread_change=np.nan, spread_change_ci=(np.nan, np.nan),
                  spread="not enough data")
    two = t[t.m >= 2]
    if len(two) >= 2:
        m = two.m.to_numpy(dtype=np.float64)
        x_f, x_l = two.s_first.to_numpy() / m, two.s_last.to_numpy() / m
        v_f, v_l = x_f * (1 - x_f) / (m - 1), x_l * (1 - x_l) / (m - 1)
        psi = (x_l - x_l.mean()) ** 2 - (x_f - x_f.mean()) ** 2 - (v_l - v_f)
        change, se, _ = mean_se(psi)
        ci = (change - _Z95 * se, change + _Z95 * se)
        var_f, var_l = x_f.var() - v_f.mean(), x_l.var() - v_l.mean()
        spread = dict(spread_first=float(np.sqrt(max(var_f, 0.0))), spread_last=float(np.sqrt(max(var_l, 0.0))),
                      spread_change=change, spread_change_ci=ci,
                      spread="no clear change" if not np.isfinite(se) or ci[0] <= 0 <= ci[1] else
                      "narrows" if ci[1] < 0 else "widens")
    return RegimeHint(steps=steps, repeated=len(t), unsolved_first=int(first0.sum()), solved_first=int((~first0).sum()),
                      up=up, down=down, up_share=up_share, up_share_ci=up_ci, down_share=down_share,
                      down_share_ci=down_ci, up_of_changes=changes, up_of_changes_ci=changes_ci, p_value=p_value,
                      direction=direction, **spread)


def _pct(x, ci) -> str:
    return f"{x:.0%} (95% CI {ci[0]:.0%} to {ci[1]:.0%})" if np.isfinite(x) else "n/a"


def regime_lines(hint: RegimeHint | None) -> list[str]:
    """The report's "regime hint" section (markdown lines); empty for a log without steps.

    Parameters
    ----------
    hint : RegimeHint or None
        ``regime_hint``'s result.

    Returns
    -------
    list of str
    """
    if hint is None:
        return []
    lines = ["## Regime hint (your log has a step column)", ""]
    if hint.repeated == 0:
        return lines + [f"Not enough data: no prompt is seen in two of the {hint.steps} steps, so nothing says how "
                        "pass rates move during training.", ""]
    head = (f"A hint, not a test. {hint.repeated} prompts are seen in at least two of {hint.steps} steps; each is "
            "compared at its first and last step on the same number of rollouts. ")
    moves = (f"Of the {hint.unsolved_first} without a success at first, {_pct(hint.up_share, hint.up_share_ci)} "
             f"had one at last; of the {hint.solved_first} with a success, {_pct(hint.down_share, hint.down_share_ci)} "
             "had none at last. Noise alone moves prompts both ways equally often; ")
    if hint.up + hint.down == 0:
        moves += "here no prompt changed, so there is no direction to read."
    else:
        moves += (f"here {hint.up} of {hint.up + hint.down} changes are unsolved -> solved, "
                  f"{_pct(hint.up_of_changes, hint.up_of_changes_ci)}, McNemar p = {hint.p_value:.2g}. ")
        moves += {"expanding": "Hint: **expanding** (training reaches prompts it could not solve; rising pass rates "
                               "everywhere look the same).",
                  "losing solved prompts": "Hint: **losing solved prompts** (a narrowing regime: prompts it "
                                           "solved become unsolved).",
                  "no direction": "No direction beyond noise."}[hint.direction]
    if hint.spread == "not enough data":
        spread = "The spread of pass rates needs groups of at least 2 rollouts: not enough data."
    else:
        spread = (f"Spread of pass rates beyond binomial noise (SD): {hint.spread_first:.3f} at first sight, "
                  f"{hint.spread_last:.3f} at last; variance change {hint.spread_change:+.4f} (95% CI "
                  f"{hint.spread_change_ci[0]:+.4f} to {hint.spread_change_ci[1]:+.4f}): {hint.spread}.")
    return lines + [head + moves, "", spread + " A selector that repeats prompts because of their outcomes (GRESO, "
                    "curricula) makes this unrepresentative.", ""]
