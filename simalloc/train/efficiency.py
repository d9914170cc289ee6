"""The efficiency axis: how many steps and rollouts an arm needs to reach uniform GRPO's own targets.

Targets are uniform GRPO's (arm "uniform", lr x1) mean Pass@1 and Pass@k at 50% and 100% of its gain over the start
point (the record at the step the allocators take over: step 0, or ``warmup_steps`` after a warm-up). Per arm and
replicate, the step and the cumulative rollouts at which the metric first reaches a target are interpolated
linearly between records; a run that never reaches it is censored at its last record (counted, never dropped). The
compute multiplier is uniform's rollouts-to-target over the arm's on the same replicate (common random numbers).

Theory to hold the results against (McCandlish et al. 2018, arXiv 1812.06162): at each batch size's best learning
rate, steps S = S_min (1 + B_noise / B) and examples E = E_min (1 + B / B_noise), so a larger batch B cuts steps when
B << B_noise and cannot cut rollouts. At a fixed small rate the batch need not matter, hence the tuned read
(``lr_families``): each arm at its own best learning rate on the grid it shares with uniform, chosen out of fold.

Names in ``summary.csv`` (metric m = "pass@1" or "pass@<largest k>"; the 100% target has no suffix, the 50% target
the suffix "@50%"): ``steps_to_target@m``, ``rollouts_to_target@m``, ``reached@m``, ``km_median_steps@m``,
``step_multiplier@m``, ``compute_multiplier@m``, ``censored_pairs@m``, ``at_matched_rollouts@m``, the tuned read's
``*_tuned@m``, ``best_lr_tuned@m``, ``lr_tuned@m``, ``selection_optimism_tuned@m``, ``lr_tuned_at_edge@m`` and
``reference_lr_tuned_at_edge@m``, ``credited@step_multiplier@m``
and ``credited@compute_multiplier@m`` (and their ``_tuned`` forms); the pseudo-arm "target" holds ``start@m``,
``gain@m``, ``improved@m`` and ``target@m``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ..stats import MeanSE, mean_se
from .arms import parse_arm
from .credit import credit

__all__ = ["TARGET_FRACTIONS", "metric_name", "cumulative_rollouts", "first_reach", "Target", "uniform_target",
           "time_to_target", "best_checkpoint", "time_to_peak", "paired_multiplier", "km_median", "lr_families",
           "common_grid", "crossfit_tuned", "efficiency_rows", "rollout_seconds", "MULTIPLIER_FLOOR"]

#: the targets' share of uniform GRPO's gain over the start point
TARGET_FRACTIONS = (0.5, 1.0)


def metric_name(stat: str, metric: str, fraction: float) -> str:
    """A summary row's name: "<stat>@<metric>" at the 100% target, "<stat>@<metric>@50%" at 50%.

    Parameters
    ----------
    stat : str
        The statistic (e.g. "steps_to_target", "compute_multiplier").
    metric : str
        The metric the target is on (e.g. "pass@1").
    fraction : float
        The target's share of uniform GRPO's gain (1.0 or 0.5).

    Returns
    -------
    str

    Examples
    --------
    >>> metric_name("steps_to_target", "pass@1", 1.0), metric_name("reached", "pass@256", 0.5)
    ('steps_to_target@pass@1', 'reached@pass@256@50%')
    """
    return f"{stat}@{metric}" + ("" if fraction == 1.0 else f"@{fraction:.0%}")


def cumulative_rollouts(run: pd.DataFrame) -> np.ndarray:
    """Cumulative rollouts drawn by each record of one run (one arm and replicate, sorted by step).

    Parameters
    ----------
    run : pandas.DataFrame
        Columns step and rollouts (every rollout the step generated: pilot, screening, discarded, refill), and
        ``cum_rollouts`` where the loop recorded it (every rollout since step 0, unrecorded steps included).

    Returns
    -------
    ndarray, shape (n_records,)
        C_i = cum_rollouts_i - cum_rollouts_0 when the run has a finite ``cum_rollouts`` column (exact whatever
        the recording interval); otherwise C_0 = 0 at the first record, C_i = C_{i-1} + rollouts_i (step_i -
        step_{i-1}).

    Notes
    -----
    The fallback (tables written before ``cum_rollouts`` existed) is exact when every step is recorded
    (``record_every = 1``, the simulator's default); with sparser records each recorded step's spend stands for
    the unrecorded steps since the previous record, exact only when the spend per step is constant (not for DAPO's
    refills or the peers' screens, whose spend varies per step).
    """
    if "cum_rollouts" in run:
        cum = run.cum_rollouts.to_numpy(dtype=np.float64)
        if cum.size and np.isfinite(cum).all():
            return cum - cum[0]
    step = run.step.to_numpy(dtype=np.float64)
    spend = run.rollouts.to_numpy(dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(spend[1:] * np.diff(step))])


class Reach(NamedTuple):
    """When a run first reaches a target: step, cumulative rollouts and whether it was reached (False: censored
    at the last record)."""

    step: float
    rollouts: float
    reached: bool


def first_reach(step, rollouts, values, target: float) -> Reach:
    """The first crossing of ``target`` by a run's metric, linearly interpolated between records.

    Parameters
    ----------
    step, rollouts, values : array_like, shape (n_records,)
        The records' steps, cumulative rollouts and metric, in step order.
    target : float
        The level to reach.

    Returns
    -------
    Reach
        With i the first record at or above the target and f = (target - v_{i-1}) / (v_i - v_{i-1}): step
        t_{i-1} + f (t_i - t_{i-1}) and rollouts C_{i-1} + f (C_i - C_{i-1}); the first record's own values if it
        is already there; the last record's, with reached False, if no record is (right-censored).

    Examples
    --------
    >>> first_reach([0, 10, 20], [0, 100, 200], [0.2, 0.3, 0.5], 0.4)
    Reach(step=15.0, rollouts=150.0, reached=True)
    """
    t, c, v = (np.asarray(a, dtype=np.float64) for a in (step, rollouts, values))
    if t.ndim != 1 or t.size == 0 or not t.shape == c.shape == v.shape:
        raise ValueError(f"step, rollouts, values: must be non-empty 1-d arrays of equal length, got shapes "
                         f"{t.shape}, {c.shape}, {v.shape}")
    hit = np.flatnonzero(v >= target)
    if hit.size == 0:
        return Reach(float(t[-1]), float(c[-1]), False)
    i = int(hit[0])
    if i == 0:
        return Reach(float(t[0]), float(c[0]), True)
    f = (target - v[i - 1]) / (v[i] - v[i - 1])
    return Reach(float(t[i - 1] + f * (t[i] - t[i - 1])), float(c[i - 1] + f * (c[i] - c[i - 1])), True)


class Target(NamedTuple):
    """Uniform GRPO's targets for one metric: its start (mean over replicates), its gain (MeanSE of the paired
    end - start), whether it improved (gain > 0) and the levels {fraction: start + fraction x gain} (empty when
    it did not improve: no target is invented).

    Attributes
    ----------
    start : float
        Uniform's mean metric at the start record.
    gain : MeanSE
        Its paired end - start over replicates.
    improved : bool
        gain.mean > 0.
    levels : dict
        {fraction: start + fraction x gain.mean}.
    """

    start: float
    gain: MeanSE
    improved: bool
    levels: dict


def _runs(steps: pd.DataFrame, arm: str, start_step: int):
    """(rep, the run's records from ``start_step`` on, sorted by step) for every replicate of ``arm``."""
    mine = steps[(steps.arm == arm) & (steps.step >= start_step)]
    for rep, run in mine.groupby("rep", sort=True):
        yield rep, run.sort_values("step")


def uniform_target(steps: pd.DataFrame, metric: str, start_step: int = 0, reference: str = "uniform") -> Target:
    """The targets of ``metric``: ``reference``'s mean at ``start_step`` plus each ``TARGET_FRACTIONS`` of its gain.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table (arm, rep, step, the metric).
    metric : str
        A column, e.g. "pass@1".
    start_step : int, default 0
        The start point's step (the study's ``warmup_steps``).
    reference : str, default "uniform"
        The arm whose gain defines the targets (uniform GRPO at lr x1).

    Returns
    -------
    Target
        Gain = mean over replicates of (value at the last record - value at ``start_step``).
    """
    ends, starts = [], []
    for _, run in _runs(steps, reference, start_step):
        if run.step.iloc[0] == start_step:
            starts.append(float(run[metric].iloc[0]))
            ends.append(float(run[metric].iloc[-1]))
    gain = mean_se(np.subtract(ends, starts)) if ends else MeanSE(float("nan"), float("nan"), 0)
    start = float(np.mean(starts)) if starts else float("nan")
    improved = bool(np.isfinite(gain.mean) and gain.mean > 0)
    levels = {f: start + f * gain.mean for f in TARGET_FRACTIONS} if improved else {}
    return Target(start, gain, improved, levels)


def time_to_target(steps: pd.DataFrame, arm: str, metric: str, level: float, start_step: int = 0) -> pd.DataFrame:
    """Per replicate of ``arm``: steps and rollouts from the start point until ``metric`` first reaches ``level``.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table (arm, rep, step, rollouts, the metric).
    arm : str
        The arm.
    metric : str
        The column read.
    level : float
        The target.
    start_step : int, default 0
        Counting starts at this record (steps and rollouts drawn before it are not counted).

    Returns
    -------
    pandas.DataFrame
        Columns rep, steps, rollouts, reached (``first_reach``; a censored replicate carries its last record's
        steps and rollouts and reached False: it is kept, never dropped).
    """
    rows = []
    for rep, run in _runs(steps, arm, start_step):
        r = first_reach(run.step.to_numpy() - start_step, cumulative_rollouts(run), run[metric].to_numpy(), level)
        rows.append((rep, r.step, r.rollouts, r.reached))
    return pd.DataFrame(rows, columns=["rep", "steps", "rollouts", "reached"])


def best_checkpoint(steps: pd.DataFrame, arm: str, metric: str, start_step: int = 0) -> pd.DataFrame:
    """Per replicate of ``arm``: its best record of ``metric`` (the first of ties) and the steps and cumulative
    rollouts from the start point to it (GRESO's "rollouts at the best checkpoint", arXiv 2506.02177).

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table (arm, rep, step, rollouts, the metric).
    arm, metric : str
        The arm and the column read.
    start_step : int, default 0
        Counting starts at this record.

    Returns
    -------
    pandas.DataFrame
        Columns rep, steps, rollouts, value, reached (always True: a best record exists).
    """
    rows = []
    for rep, run in _runs(steps, arm, start_step):
        v = run[metric].to_numpy(dtype=np.float64)
        i = int(np.nanargmax(v))
        rows.append((rep, float(run.step.iloc[i] - start_step), float(cumulative_rollouts(run)[i]), float(v[i]), True))
    return pd.DataFrame(rows, columns=["rep", "steps", "rollouts", "value", "reached"])


def time_to_peak(steps: pd.DataFrame, arm: str, reference: str, metric: str, start_step: int = 0) -> pd.DataFrame:
    """Per replicate: the steps and rollouts ``arm`` needs to reach ``reference``'s peak of ``metric`` on the same
    replicate (PODS's "peak test accuracy of vanilla GRPO reached faster", arXiv 2504.13818), censored when never.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table.
    arm, reference : str
        The arm read and the arm whose peak is the level (uniform GRPO).
    metric : str
        The column read.
    start_step : int, default 0
        Counting starts at this record.

    Returns
    -------
    pandas.DataFrame
        Columns rep, steps, rollouts, reached (``first_reach`` of the reference's best value on that replicate)
        and level.
    """
    peaks = best_checkpoint(steps, reference, metric, start_step).set_index("rep").value
    rows = []
    for rep, run in _runs(steps, arm, start_step):
        if rep in peaks.index:
            r = first_reach(run.step.to_numpy() - start_step, cumulative_rollouts(run), run[metric].to_numpy(),
                            float(peaks[rep]))
            rows.append((rep, r.step, r.rollouts, r.reached, float(peaks[rep])))
    return pd.DataFrame(rows, columns=["rep", "steps", "rollouts", "reached", "level"])


def paired_multiplier(ref: pd.DataFrame, mine: pd.DataFrame, col: str) -> pd.DataFrame:
    """Per replicate run by both: ``ref``'s ``col`` over ``mine``'s (how many times less the arm needs), and what
    censoring makes of the pair.

    Parameters
    ----------
    ref, mine : pandas.DataFrame
        ``time_to_target`` of the reference (uniform) and of the arm.
    col : {"steps", "rollouts"}
        The cost compared.

    Returns
    -------
    pandas.DataFrame
        Columns rep, ratio, kind: "exact" (both reached), "lower" (only the reference censored: its cost is at
        least the censored value, so the ratio is a lower bound), "upper" (only the arm censored: an upper bound),
        "open" (both censored: the ratio of the costs at censoring, bounded on neither side). A zero cost in the
        arm (the target held from the start) gives ratio NaN and kind "open".
    """
    pair = ref.merge(mine, on="rep", suffixes=("_ref", "_arm"))
    num, den = pair[col + "_ref"].to_numpy(dtype=np.float64), pair[col + "_arm"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    a, b = pair.reached_ref.to_numpy(dtype=bool), pair.reached_arm.to_numpy(dtype=bool)
    kind = np.select([a & b, ~a & b, a & ~b], ["exact", "lower", "upper"], "open")
    kind = np.where(np.isfinite(ratio), kind, "open")
    return pd.DataFrame({"rep": pair.rep, "ratio": ratio, "kind": kind})


def km_median(times, reached) -> float:
    """The Kaplan-Meier median of right-censored times to target.

    Parameters
    ----------
    times : array_like, shape (n,)
        Steps to target (censored ones at their censoring step).
    reached : array_like of bool, shape (n,)
        False for a censored time.

    Returns
    -------
    float
        The smallest time t with estimated P(T <= t) >= 1/2; NaN when the estimate never reaches 1/2 (over half the
        runs censored before it: the median lies beyond the runs).

    Notes
    -----
    S(t) = prod over event times t_i <= t of (1 - d_i / n_i) (d_i events at t_i, n_i at risk), from
    ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``.

    References
    ----------
    E. L. Kaplan and P. Meier, "Nonparametric estimation from incomplete observations", J. Am. Stat. Assoc. 53(282),
    1958.

    Examples
    --------
    >>> km_median([10.0, 20.0, 30.0, 40.0], [True, True, False, False])  # S = 3/4, 1/2 after 10, 20
    20.0
    """
    from scipy.stats import CensoredData, ecdf

    t = np.asarray(times, dtype=np.float64)
    ok = np.asarray(reached, dtype=bool)
    if t.ndim != 1 or t.shape != ok.shape:
        raise ValueError(f"times, reached: must be 1-d arrays of equal length, got shapes {t.shape} and {ok.shape}")
    if t.size == 0 or not ok.any():
        return float("nan")
    cdf = ecdf(CensoredData(uncensored=t[ok], right=t[~ok])).cdf
    at = np.flatnonzero(cdf.probabilities >= 0.5 - 1e-12)  # 1e-12: the product of (1 - d/n) in floating point
    return float(cdf.quantiles[at[0]]) if at.size else float("nan")


def lr_families(arms) -> dict:
    """Group arms that differ only in their learning-rate multiplier: {base spec: {multiplier: arm}}.

    Parameters
    ----------
    arms : iterable of str
        Arm specs ("uniform:x2", "uniform:x2:lr2", ...).

    Returns
    -------
    dict
        Only the bases with at least two rates (a tuned read needs a grid).

    Examples
    --------
    >>> lr_families(["uniform", "uniform:lr2", "hora", "uniform:x2:lr0.5", "uniform:x2"])
    {'uniform': {1.0: 'uniform', 2.0: 'uniform:lr2'}, 'uniform:x2': {0.5: 'uniform:x2:lr0.5', 1.0: 'uniform:x2'}}
    """
    out: dict = {}
    for spec in arms:
        base = ":".join(m for m in spec.split(":") if not (m.startswith("lr") and m != spec.split(":")[0]))
        out.setdefault(base, {})[parse_arm(spec).lr_scale] = spec
    return {b: dict(sorted(v.items())) for b, v in out.items() if len(v) > 1}


def rollout_seconds(generated, trained, *, completion_tokens, prompt_tokens, seconds_per_generated_token,
                    seconds_per_prefill_token, seconds_per_trained_token):
    """A stated cost model turning rollouts into time: generation plus the update.

    Parameters
    ----------
    generated : array_like
        Rollouts generated (pilot, screening, discarded and refill rollouts included).
    trained : array_like
        Rollouts the update trained on.
    completion_tokens : float or array_like
        Mean completion length (tokens) of the generated rollouts.
    prompt_tokens : float
        Mean prompt length (tokens).
    seconds_per_generated_token : float
        Decode time per generated token (throughput of the inference engine at its batch size).
    seconds_per_prefill_token : float
        Prefill time per prompt token per rollout (0 with prefix caching across a group).
    seconds_per_trained_token : float
        Forward + backward time per trained token (prompt and completion).

    Returns
    -------
    ndarray or float
        T = generated (L_p c_prefill + L_c c_gen) + trained (L_p + L_c) c_train, in seconds.

    Notes
    -----
    Neither model records completion lengths today (the simulator's rollouts have no length; the lab's answers are
    one token), so ``summary.csv`` reports rollouts, not hours; with lengths recorded (a live run), hours to target
    = ``rollout_seconds`` at the rollouts to target / 3600. SPEED-RL (arXiv 2506.09016) and GRESO (arXiv
    2506.02177) report such wall-clock times.

    Examples
    --------
    >>> round(rollout_seconds(1000, 500, completion_tokens=100, prompt_tokens=50, seconds_per_generated_token=1e-3,
    ...                       seconds_per_prefill_token=1e-4, seconds_per_trained_token=2e-4), 9)
    120.0
    """
    costs = (completion_tokens, prompt_tokens, seconds_per_generated_token, seconds_per_prefill_token,
             seconds_per_trained_token)
    names = ("completion_tokens", "prompt_tokens", "seconds_per_generated_token", "seconds_per_prefill_token",
             "seconds_per_trained_token")
    for name, value in zip(names, costs):
        if np.any(np.asarray(value, dtype=np.float64) < 0) or not np.all(np.isfinite(value)):
            raise ValueError(f"{name}: must be finite and >= 0, got {value!r}")
    lc, lp, c_gen, c_pre, c_train = (np.asarray(v, dtype=np.float64) for v in costs)
    out = np.asarray(generated, dtype=np.float64) * (lp * c_pre + lc * c_gen) + \
        np.asarray(trained, dtype=np.float64) * (lp + lc) * c_train
    return float(out) if out.ndim == 0 else out


#: the smallest speed-up (or slow-down) credited on the efficiency axis: a multiplier within 10% of 1 is no speed
#: claim anyone makes (the smallest published one is SPEED-RL's 1.1x, arXiv 2506.09016), while common random
#: numbers make far smaller differences "significant" (the placebo read 0.97 +- 0.003 in a quick run)
MULTIPLIER_FLOOR = 0.1


def _multiplier_rows(rows, arm: str, ref: pd.DataFrame, mine: pd.DataFrame, metric: str, fraction: float,
                     suffix: str = "") -> None:
    """The paired step and compute multipliers of ``arm`` over ``ref``, their censored pairs and credit rows."""
    for col, stat in (("steps", "step_multiplier"), ("rollouts", "compute_multiplier")):
        pm = paired_multiplier(ref, mine, col)
        name = metric_name(stat + suffix, metric, fraction)
        m = rows.per_rep(arm, name, pm.set_index("rep").ratio)
        kinds = set(pm.kind)
        rows.scalar(arm, metric_name("censored_pairs" + suffix, metric, fraction) if col == "rollouts" else
                    metric_name("censored_step_pairs" + suffix, metric, fraction),
                    float((pm.kind != "exact").sum()), n=len(pm))
        # a censored pair bounds its ratio from one side only: credit only in the direction every bound allows
        verdict = credit(m.mean - 1.0, m.se, m.n, MULTIPLIER_FLOOR, up=not kinds & {"upper", "open"},
                         down=not kinds & {"lower", "open"})
        rows.scalar(arm, "credited@" + name, verdict, n=m.n)


def _time_rows(rows, arm: str, mine: pd.DataFrame, metric: str, fraction: float, suffix: str = "") -> None:
    """Steps and rollouts to target (censored included), the share reached and the Kaplan-Meier median."""
    per = mine.set_index("rep")
    rows.per_rep(arm, metric_name("steps_to_target" + suffix, metric, fraction), per.steps)
    rows.per_rep(arm, metric_name("rollouts_to_target" + suffix, metric, fraction), per.rollouts)
    rows.per_rep(arm, metric_name("reached" + suffix, metric, fraction), per.reached.astype(np.float64))
    rows.scalar(arm, metric_name("km_median_steps" + suffix, metric, fraction), km_median(per.steps, per.reached),
                n=len(per))


def _best(times: dict, family: dict, reps=None) -> tuple:
    """(multiplier, arm) of the family's variant with the smallest mean steps to target over ``reps`` (all
    replicates when None; censored runs at their censoring step, so a rate that rarely reaches the target is not
    chosen); (NaN, None) when no variant ran on those replicates."""
    def mean_steps(arm):
        t = times[arm] if reps is None else times[arm][times[arm].rep.isin(reps)]
        return t.steps.mean() if len(t) else np.nan

    ran = {m: a for m, a in family.items() if a in times and np.isfinite(mean_steps(a))}
    return min(ran.items(), key=lambda kv: (mean_steps(kv[1]), kv[0])) if ran else (np.nan, None)


def common_grid(family: dict, reference: dict) -> tuple[dict, dict]:
    """The two families restricted to the learning-rate multipliers both ran (the tuned read's fairness: a family
    with more rates would otherwise get a larger selection advantage).

    Parameters
    ----------
    family, reference : dict
        {multiplier: arm} (``lr_families`` entries).

    Returns
    -------
    tuple of dict
        (family, reference) on the shared multipliers.

    Examples
    --------
    >>> common_grid({1.0: "u:x2", 2.0: "u:x2:lr2"}, {0.5: "u:lr0.5", 1.0: "u", 2.0: "u:lr2", 4.0: "u:lr4"})
    ({1.0: 'u:x2', 2.0: 'u:x2:lr2'}, {1.0: 'u', 2.0: 'u:lr2'})
    """
    shared = sorted(set(family) & set(reference))
    return {m: family[m] for m in shared}, {m: reference[m] for m in shared}


def crossfit_tuned(times: dict, family: dict, n_folds: int = 2) -> pd.DataFrame:
    """Each replicate read at the family's best rate chosen on the *other* replicates (winner's-curse-free).

    Parameters
    ----------
    times : dict
        {arm: ``time_to_target`` table} (columns rep, steps, rollouts, reached).
    family : dict
        {multiplier: arm}.
    n_folds : int, default 2
        Replicate r is in fold r mod ``n_folds``.

    Returns
    -------
    pandas.DataFrame
        Columns rep, steps, rollouts, reached (of the chosen variant on that replicate) and lr (the multiplier
        chosen for it); empty when fewer than two folds hold replicates (nothing to choose on out of fold).

    Notes
    -----
    For fold f the rate minimises the mean steps to target over the replicates not in f (``_best``), and the
    replicates in f are read at it. Choosing and reading on the same replicates would favour whichever rate was
    lucky on them (the winner's curse: the minimum of noisy means is biased low); cross-fitting removes that bias
    from the read at the price of choices made on half the replicates.
    """
    reps = sorted({int(r) for arm in family.values() if arm in times for r in times[arm].rep})
    folds = {f: [r for r in reps if r % n_folds == f] for f in range(n_folds)}
    if sum(bool(v) for v in folds.values()) < 2:
        return pd.DataFrame(columns=["rep", "steps", "rollouts", "reached", "lr"])
    parts = []
    for f, mine in folds.items():
        lr, arm = _best(times, family, [r for r in reps if r not in mine])
        if arm is None or not mine:
            continue
        t = times[arm][times[arm].rep.isin(mine)]
        parts.append(t.assign(lr=float(lr)))
    cols = ["rep", "steps", "rollouts", "reached", "lr"]
    return pd.concat(parts, ignore_index=True)[cols].sort_values("rep").reset_index(drop=True) if parts else \
        pd.DataFrame(columns=cols)


def _tuned_rows(rows, times: dict, families: dict, reference: dict, metric: str, fraction: float) -> None:
    """The tuned read (``efficiency_rows``' Notes): per family on the grid it shares with uniform, cross-fitted."""
    for base, family in families.items():
        fam, ref_fam = common_grid(family, reference)
        if len(fam) < 2:
            continue
        mine, ref = crossfit_tuned(times, fam), crossfit_tuned(times, ref_fam)
        lr, best = _best(times, fam)
        if best is None or mine.empty or ref.empty:
            continue
        rows.scalar(base, metric_name("best_lr_tuned", metric, fraction), float(lr), n=len(times[best]))
        rows.per_rep(base, metric_name("lr_tuned", metric, fraction), mine.set_index("rep").lr)
        # the winner's curse the cross-fitting removed: out-of-fold mean steps minus the in-sample best's
        rows.scalar(base, metric_name("selection_optimism_tuned", metric, fraction),
                    float(mine.steps.mean() - times[best].steps.mean()), n=len(mine))
        # a rate chosen at the shared grid's end is no evidence of a best rate (it may lie beyond): counted, per side
        edges = (min(fam), max(fam))
        rows.scalar(base, metric_name("lr_tuned_at_edge", metric, fraction), float(mine.lr.isin(edges).sum()),
                    n=len(mine))
        rows.scalar(base, metric_name("reference_lr_tuned_at_edge", metric, fraction),
                    float(ref.lr.isin(edges).sum()), n=len(ref))
        _time_rows(rows, base, mine, metric, fraction, "_tuned")
        _multiplier_rows(rows, base, ref, mine, metric, fraction, "_tuned")


def _matched_rollouts_rows(rows, steps: pd.DataFrame, arms, metric: str, start_step: int) -> None:
    """Each arm's metric at uniform's total rollouts (same replicate), interpolated on the arm's cumulative
    rollouts; a run that spent less is read at its last record (counted in ``at_matched_rollouts_short@m``)."""
    spent = {rep: cumulative_rollouts(run)[-1] for rep, run in _runs(steps, "uniform", start_step)}
    for arm in arms:
        vals, short = {}, 0
        for rep, run in _runs(steps, arm, start_step):
            if rep in spent:
                c = cumulative_rollouts(run)
                vals[rep] = float(np.interp(spent[rep], c, run[metric].to_numpy(dtype=np.float64)))
                short += bool(c[-1] < spent[rep])
        if vals:
            rows.per_rep(arm, f"at_matched_rollouts@{metric}", pd.Series(vals, dtype=np.float64))
            rows.scalar(arm, f"at_matched_rollouts_short@{metric}", float(short), n=len(vals))


def efficiency_rows(rows, steps: pd.DataFrame, arms, metrics, start_step: int = 0) -> None:
    """Append the efficiency axis of every arm to a summary collector (``simalloc.train.analysis``).

    Parameters
    ----------
    rows : SummaryRows
        Collects summary rows (``scalar``) and per-replicate values (``per_rep``, which returns their MeanSE).
    steps : pandas.DataFrame
        The per-step table (arm, rep, step, rollouts, the metrics).
    arms : sequence of str
        The arms read; "uniform" (lr x1) sets the targets and is the multipliers' reference.
    metrics : sequence of str
        The metrics, e.g. ("pass@1", "pass@256").
    start_step : int, default 0
        The start point's step (``warmup_steps``).

    Notes
    -----
    Per metric m, the pseudo-arm "target" gets start@m, gain@m (se over uniform's replicates), improved@m and the
    levels target@m, target@m@50%. Where uniform does not improve m there is no target: every arm's time rows are
    NaN with n_reps 0, and ``at_matched_rollouts@m`` (every arm at uniform's own spend) reads the metric instead.
    Per arm and target: ``_time_rows``; against uniform on the same replicates, the step and compute multipliers
    (mean of the per-replicate ratios, censored pairs at their bounds, counted in censored_pairs; credited only
    with >= 3 replicates, beyond 2 se of 1 and in a direction every censored bound allows). The tuned read
    (suffix "_tuned"): for each base arm run at several learning rates (``lr_families``), both it and uniform
    restricted to the rates both ran (``common_grid``: the same grid, so neither side gets a larger selection
    advantage), each replicate read at the rate with the fewest mean steps to the target on the replicates of the
    other parity (``crossfit_tuned``: no replicate's read chose its own rate, so the winner's curse does not enter
    the read); ``lr_tuned@m`` holds each replicate's chosen rate, ``best_lr_tuned@m`` the rate chosen on all
    replicates and ``selection_optimism_tuned@m`` the cross-fitted mean steps minus that in-sample best's (the bias
    an in-sample choice would have had); ``lr_tuned_at_edge@m`` and ``reference_lr_tuned_at_edge@m`` count the
    replicates of the family and of uniform read at the smallest or largest rate of their shared grid: there the
    read is not at a best rate (McCandlish et al.'s prediction holds at each batch's best rate, which a larger batch
    finds at a higher rate), and a failed positive control says nothing until the grid is widened.
    """
    arms = tuple(arms)
    families = lr_families(arms)
    reference = families.get("uniform", {1.0: "uniform"})
    for metric in metrics:
        target = uniform_target(steps, metric, start_step)
        n = target.gain.n
        rows.scalar("target", f"start@{metric}", target.start, n=n)
        rows.scalar("target", f"gain@{metric}", target.gain.mean, target.gain.se, n)
        rows.scalar("target", f"improved@{metric}", float(target.improved), n=n)
        _matched_rollouts_rows(rows, steps, arms, metric, start_step)
        for fraction in TARGET_FRACTIONS:
            level = target.levels.get(fraction, float("nan"))
            rows.scalar("target", metric_name("target", metric, fraction), level, n=n)
            if not target.improved:
                for arm in arms:
                    for stat in ("steps_to_target", "rollouts_to_target", "reached", "compute_multiplier"):
                        rows.scalar(arm, metric_name(stat, metric, fraction), float("nan"), n=0)
                continue
            times = {arm: time_to_target(steps, arm, metric, level, start_step) for arm in arms}
            for arm in arms:
                _time_rows(rows, arm, times[arm], metric, fraction)
                if "uniform" in times:
                    _multiplier_rows(rows, arm, times["uniform"], times[arm], metric, fraction)
            _tuned_rows(rows, times, families, reference, metric, fraction)
