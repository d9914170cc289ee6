"""Reading training runs: final Pass@k with paired differences, the learning-rate frontier (Pareto-filtered, every
arm read on the same replicates) and every arm's gain over it, the matched learning rate, and the summary contract
(``summary.csv``) with the per-replicate values behind it (``replicates.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import MeanSE, mean_se
from .arms import START_POINT, all_arms, frontier_arms, frontier_points, parse_arm
from .credit import MIN_CREDIT_REPS, credit, frontier_threshold
from .critical_batch import critical_batch_rows
from .efficiency import efficiency_rows

__all__ = ["final_summary", "frontier_table", "frontier_gain", "frontier_reads", "loo_reads", "matched_lr",
           "matched_lr_reads", "pareto_mask", "summary_long", "summary_tables", "SummaryRows", "EFFECT_FLOOR",
           "FRONTIER_METHODS"]


def frontier_table(steps: pd.DataFrame, warmup_steps: int = 0) -> pd.DataFrame:
    """The last step's rows plus, per replicate, the ``START_POINT`` row: the uniform arm's row at step
    ``warmup_steps`` relabelled (left out when that step was not recorded or uniform did not run).

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study (``table.parquet``): arm, rep, step, pass@k columns ...
    warmup_steps : int, default 0
        The step at which the allocators took over (the frontier's lr -> 0 end).

    Returns
    -------
    pandas.DataFrame
        The rows ``frontier_gain`` and ``matched_lr`` read.
    """
    last = steps[steps.step == steps.step.max()]
    start = steps[(steps.arm == "uniform") & (steps.step == warmup_steps)]
    return pd.concat([last, start.assign(arm=START_POINT)], ignore_index=True) if len(start) else last


def final_summary(steps: pd.DataFrame, ks, by=("arm",), baseline: str = "uniform") -> pd.DataFrame:
    """Pass@k at the last step per arm (and sweep value): mean, se, change from step 0, and the paired
    difference to the ``baseline`` arm on the same replicates (common random numbers make it precise).

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study (``table.parquet``): arm, rep, step, pass@k columns ...
    ks : iterable of int
        The k of the Pass@k columns to summarise.
    by : tuple of str, default ("arm",)
        The grouping columns (add a sweep column to summarise per sweep value).
    baseline : str, default "uniform"
        The arm the paired differences are taken against (NaN when it did not run).

    Returns
    -------
    pandas.DataFrame
        One row per group and k: final, final_se, start, change, change_se, n_reps, vs_<baseline>,
        vs_<baseline>_se.
    """
    by = list(by)
    last = steps[steps.step == steps.step.max()]
    first = steps[steps.step == 0]
    rows = []
    for key, grp in last.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        start = first
        for col, val in zip(by, key):
            start = start[start[col] == val]
        for k in ks:
            col = f"pass@{k}"
            vals = grp.set_index("rep")[col]
            delta = vals - start.set_index("rep")[col].reindex(vals.index)
            rows.append((*key, k, vals.mean(), mean_se(vals).se, start[col].mean(), delta.mean(), mean_se(delta).se,
                         len(vals)))
    out = pd.DataFrame(rows, columns=[*by, "k", "final", "final_se", "start", "change", "change_se", "n_reps"])
    return _paired_vs(out, last, by, ks, baseline)


def _paired_vs(summary, last, by, ks, baseline):
    """Add the paired (same replicate, common random numbers) difference to the baseline arm and its se."""
    summary["vs_" + baseline] = np.nan
    summary["vs_" + baseline + "_se"] = np.nan
    if baseline not in set(last.arm):
        return summary
    sweep = [c for c in by if c != "arm"]
    for i, row in summary.iterrows():
        sel = last
        for c in sweep:
            sel = sel[sel[c] == row[c]]
        col = f"pass@{row.k}"
        mine = sel[sel.arm == row.arm].set_index("rep")[col]
        base = sel[sel.arm == baseline].set_index("rep")[col].reindex(mine.index)
        d = mine - base
        summary.loc[i, "vs_" + baseline] = d.mean()
        summary.loc[i, "vs_" + baseline + "_se"] = mean_se(d).se
    return summary


FRONTIER_METHODS = ("pchip", "linear")


def pareto_mask(x, y) -> np.ndarray:
    """The points no other point dominates (Pareto-efficient when both coordinates are to be maximised).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        The points' coordinates (Pass@1 and Pass@k).

    Returns
    -------
    ndarray of bool, shape (n,)
        True for a kept point; of several equal points the first is kept.

    Notes
    -----
    Point i is dominated when some j has x_j >= x_i and y_j >= y_i with one inequality strict (or j is an earlier
    copy of i). Sorting by x descending (y descending within ties) and keeping a point only when its y exceeds
    every y before it finds them in O(n log n). Kept points sorted by x have strictly decreasing y, so the curve
    through them is a function of Pass@1 and a monotone interpolant (PCHIP) never overshoots.

    Examples
    --------
    >>> pareto_mask([0.3, 0.5, 0.6, 0.45], [0.9, 0.8, 0.7, 0.6]).tolist()  # (0.45, 0.6): a collapsed run
    [True, True, True, False]
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x, y: must be 1-d arrays of equal length, got shapes {x.shape} and {y.shape}")
    order = np.lexsort((-y, -x))
    keep = np.zeros(x.size, dtype=bool)
    best = -np.inf
    for i in order:
        if y[i] > best:
            keep[i], best = True, y[i]
    return keep


def _by_rep(last: pd.DataFrame, col: str) -> dict:
    """{rep: {arm: (Pass@1, Pass@k)}} of ``last`` (an arm's first row per replicate), replicates sorted."""
    out: dict = {}
    xs, ys = last["pass@1"].to_numpy(np.float64), last[col].to_numpy(np.float64)
    for rep, arm, x, y in zip(last.rep.to_numpy(), last.arm.to_numpy(), xs, ys):
        out.setdefault(rep, {}).setdefault(arm, (float(x), float(y)))
    return dict(sorted(out.items()))


def _curve(pts: dict, frontier) -> tuple:
    """The Pareto-filtered frontier of one replicate: (Pass@1 ascending, Pass@k, the kept arms), from the
    ``frontier`` arms among ``pts`` ({arm: (Pass@1, Pass@k)})."""
    names = [a for a in frontier if a in pts]
    xy = np.array([pts[a] for a in names], dtype=np.float64).reshape(-1, 2)
    keep = pareto_mask(xy[:, 0], xy[:, 1])
    order = np.flatnonzero(keep)[np.argsort(xy[keep, 0], kind="stable")]
    return xy[order, 0], xy[order, 1], [names[i] for i in order]


def _reference(xs, ys, x: float, method: str, extend: str) -> tuple[float, int]:
    """The frontier's Pass@k at Pass@1 ``x`` and the side (-1 below its range, 0 inside, +1 above). Outside the
    range, ``extend`` "flat" holds the end point's Pass@k (a one-sided bound on the gain: the Pareto frontier
    falls with Pass@1) and "linear" continues the end segment's chord (the leave-one-out reads of end points)."""
    from scipy.interpolate import PchipInterpolator

    side = -1 if x < xs[0] else 1 if x > xs[-1] else 0
    if side and (extend == "flat" or xs.size < 2):
        return float(ys[0] if side < 0 else ys[-1]), side
    if side:
        i = 0 if side < 0 else xs.size - 2
        return float(ys[i] + (ys[i + 1] - ys[i]) * (x - xs[i]) / (xs[i + 1] - xs[i])), side
    if method == "linear" or xs.size < 3:
        return float(np.interp(x, xs, ys)), 0
    return float(PchipInterpolator(xs, ys)(x)), 0


def frontier_reads(last: pd.DataFrame, arm: str, k: int, frontier: tuple, method: str = "pchip",
                   extend: str = "flat") -> pd.DataFrame:
    """Per replicate: ``arm``'s Pass@k minus the Pareto-filtered uniform-GRPO frontier's Pass@k at its own Pass@1,
    and on which side of the frontier's Pass@1 range it fell.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``: one row per arm and replicate, and the start point.
    arm : str
        The arm read.
    k : int
        The Pass@k on the vertical axis.
    frontier : tuple of str
        The frontier's arms (uniform runs only: ``frontier_points``; never a control judged against it).
    method : {"pchip", "linear"}, default "pchip"
        How the frontier is drawn between its points.
    extend : {"flat", "linear"}, default "flat"
        The stated extension beyond the frontier's Pass@1 range (see Notes).

    Returns
    -------
    pandas.DataFrame
        Columns rep, gain, side (-1: below the range, 0: inside, +1: above); one row for every replicate in which
        the arm ran and the frontier has a point.

    Notes
    -----
    Every replicate is read (every arm on the same replicates): a replicate outside the range is *censored*, read
    against the flat extension of the nearest end point. The kept frontier falls with Pass@1, so above the range
    the flat extension is an upper bound of the frontier and the gain a lower bound; below it, an upper bound.
    ``summary_long`` counts them (``frontier_censored@k``) and credits a gain only in the direction its bounds
    allow. Points dominated in (Pass@1, Pass@k) (a collapsed run at a high rate) are dropped first
    (``pareto_mask``).
    """
    if method not in FRONTIER_METHODS:
        raise ValueError(f"method: must be one of {', '.join(FRONTIER_METHODS)}, got {method!r}")
    if extend not in ("flat", "linear"):
        raise ValueError(f"extend: must be 'flat' or 'linear', got {extend!r}")
    rows = []
    for rep, pts in _by_rep(last, f"pass@{k}").items():
        xs, ys, _ = _curve(pts, frontier)
        if xs.size == 0 or arm not in pts:
            continue
        x, y = pts[arm]
        ref, side = _reference(xs, ys, x, method, extend)
        rows.append((rep, y - ref, side))
    return pd.DataFrame(rows, columns=["rep", "gain", "side"])


def frontier_gain(last: pd.DataFrame, arm: str, k: int, frontier: tuple, method: str = "pchip") -> MeanSE:
    """Frontier gain of ``arm`` at Pass@k: the mean over replicates of ``frontier_reads`` (its Pass@k minus the
    Pareto-filtered uniform-GRPO frontier's at its own Pass@1; common random numbers), every replicate read, those
    outside the frontier's range against the flat extension (censored; ``frontier_reads``). An arm that only
    slides along GRPO's learning-rate trade-off scores ~0.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``: the last step's rows (one per arm and replicate) and the start
        point.
    arm : str
        The arm compared.
    k : int
        The Pass@k on the vertical axis.
    frontier : tuple of str
        The frontier's arms (``frontier_points``: uniform at each learning rate and the start point).
    method : {"pchip", "linear"}, default "pchip"
        "pchip" (scipy's monotone cubic PchipInterpolator) or "linear" (chords). The frontier is concave, so chords
        lie below it and hand a point on the true frontier a spurious gain of up to |f''| h^2 / 8 between knots h
        apart; the cubic removes most of that.

    Returns
    -------
    MeanSE
        The mean gain, its se over replicates and the number of replicates read (censored ones included).

    References
    ----------
    F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation", SIAM J. Numer. Anal. 17(2), 1980
    (scipy.interpolate.PchipInterpolator).
    """
    return mean_se(frontier_reads(last, arm, k, frontier, method).gain)


def loo_reads(last: pd.DataFrame, point: str, k: int, frontier: tuple, method: str = "pchip") -> pd.DataFrame:
    """Leave-one-out reads of a frontier point: per replicate, its gain against the frontier built without it, an
    end point against the linear continuation of the remaining end segment (so the end segments are measured
    too), and whether the point is on the Pareto-filtered frontier in that replicate.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``.
    point : str
        A frontier point (``frontier_points``).
    k : int
        The Pass@k on the vertical axis.
    frontier : tuple of str
        The frontier's points, ``point`` among them.
    method : {"pchip", "linear"}, default "pchip"
        How the frontier is drawn between its points.

    Returns
    -------
    pandas.DataFrame
        Columns rep, gain, side (as ``frontier_reads``; +-1: the read extrapolated an end segment) and kept (the
        point survived the Pareto filter: only those reads test the interpolation; a dominated point's gain is
        negative by construction and is not part of the bound).
    """
    kept = {rep: point in _curve(pts, frontier)[2] for rep, pts in _by_rep(last, f"pass@{k}").items()}
    rest = tuple(p for p in frontier if p != point)
    reads = frontier_reads(last, point, k, rest, method, extend="linear")
    return reads.assign(kept=reads.rep.map(kept).astype(bool))


def matched_lr_reads(last: pd.DataFrame, arm: str, frontier: tuple, k: int | None = None) -> pd.Series:
    """Per replicate, the uniform-GRPO learning-rate multiplier whose Pass@1 equals ``arm``'s, on the
    Pareto-filtered frontier (``matched_lr`` averages it).

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``: the last step's rows (one per arm and replicate).
    arm : str
        The arm to match.
    frontier : tuple of str
        The frontier's arms ("uniform" and "uniform:lr<m>"; ``frontier_arms``; a start point is ignored).
    k : int, optional
        The Pass@k the frontier is Pareto-filtered on (default: the largest pass@<k> column of ``last``).

    Returns
    -------
    pandas.Series
        The matched multiplier, indexed by replicate (every replicate in which the arm and a frontier arm ran).

    Notes
    -----
    Per replicate, the frontier's points dominated in (Pass@1, Pass@k) are dropped (``pareto_mask``: Pass@1 is not
    monotone in the rate, a collapsed run at a high rate would make the match ambiguous); log(multiplier) is then
    interpolated linearly against the kept points' Pass@1 (sorted). A replicate outside their Pass@1 range gets the
    nearest end's rate (a bound, counted like the frontier gain's censored replicates). With a frontier gain within
    the effect floor, this rate reproduces the arm.
    """
    if k is None:
        k = max(int(c[5:]) for c in last.columns if c.startswith("pass@") and c[5:].isdigit())
    frontier = tuple(a for a in frontier if a != START_POINT)
    mult = {a: parse_arm(a).lr_scale for a in frontier}
    found = {}
    for rep, pts in _by_rep(last, f"pass@{k}").items():
        xs, _, kept = _curve(pts, frontier)
        if xs.size == 0 or arm not in pts:
            continue
        logs = np.log([mult[a] for a in kept])
        found[rep] = float(np.exp(np.interp(pts[arm][0], xs, logs)))
    return pd.Series(found, name="matched_lr", dtype=np.float64)


#: the smallest frontier gain (Pass@256, probability) counted as an effect: half a point. A 500-problem benchmark
#: measures Pass@256 near 0.9 with a standard error of about 0.013 (sqrt(0.9 x 0.1 / 500)), so a smaller gain could
#: not be seen on any of the paper's benchmarks; common random numbers make far smaller gains "significant".
EFFECT_FLOOR = 0.005



def matched_lr(last: pd.DataFrame, arm: str, frontier: tuple, k: int | None = None) -> MeanSE:
    """The mean over replicates of ``matched_lr_reads``: the GRPO learning-rate multiplier with the arm's Pass@1.

    Parameters
    ----------
    last : pandas.DataFrame
        ``frontier_table(steps, warmup_steps)``.
    arm : str
        The arm to match.
    frontier : tuple of str
        The frontier's arms (``frontier_arms``).
    k : int, optional
        The Pass@k the frontier is Pareto-filtered on (default: the largest in ``last``).

    Returns
    -------
    MeanSE
        The mean multiplier, its se and the replicates read.
    """
    return mean_se(matched_lr_reads(last, arm, frontier, k).to_numpy())


class SummaryRows:
    """Collects a summary's rows (arm, metric, value, se, n_reps) and the per-replicate values behind them
    (arm, rep, metric, value), so that ``replicates.csv`` recomputes every per-replicate row of ``summary.csv``.

    Attributes
    ----------
    rows : list of tuple
        (arm, metric, value, se, n_reps): value and se the mean and standard error over the finite replicates.
    reps : list of tuple
        (arm, rep, metric, value): every replicate's value behind a ``per_rep`` row.
    """

    def __init__(self):
        self.rows, self.reps = [], []

    def per_rep(self, arm: str, metric: str, values: pd.Series) -> MeanSE:
        """Add a row from per-replicate ``values`` (indexed by rep): mean, se and n over the finite ones."""
        values = pd.Series(values, dtype=np.float64)
        m = mean_se(values.to_numpy())
        self.rows.append((arm, metric, m.mean, m.se, m.n))
        self.reps += [(arm, int(rep), metric, float(v)) for rep, v in values.items()]
        return m

    def scalar(self, arm: str, metric: str, value: float, se: float = float("nan"), n: int = 0) -> None:
        """Add a row that is not a mean over replicates (a count, a bound, a verdict, a median)."""
        self.rows.append((arm, metric, float(value), float(se), int(n)))

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(summary: arm, metric, value, se, n_reps; replicates: arm, rep, metric, value)."""
        return (pd.DataFrame(self.rows, columns=["arm", "metric", "value", "se", "n_reps"]),
                pd.DataFrame(self.reps, columns=["arm", "rep", "metric", "value"]))


def summary_long(steps: pd.DataFrame, args) -> pd.DataFrame:
    """The summary contract (``summary.csv``): ``summary_tables(steps, args)[0]``.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study.
    args : TrainingStudyArgs
        The study's settings.

    Returns
    -------
    pandas.DataFrame
        Columns arm, metric, value, se, n_reps.
    """
    return summary_tables(steps, args)[0]


def summary_tables(steps: pd.DataFrame, args) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary contract (``summary.csv``) and the per-replicate values behind it (``replicates.csv``).

    Per arm (every row a mean and se over replicates unless said otherwise): pass@1, pass@<k> for k = 256 and
    1024 when computed and the largest k, the informative-group share (mean over training steps),
    rollouts_per_step (drawn per step after the warm-up, screening and discarded rollouts included), the final
    policy entropy (nats), the growth of the Phase-B share given to s = K0 prompts from the first to the last
    tenth of training, the gradient SNR and noise scale (``simalloc.train.snr``) when measured, the eval sets'
    columns; with a frontier, ``_frontier_rows`` and ``_bound_rows``; B_noise and the budget ladder's predicted
    multipliers (``simalloc.train.critical_batch.critical_batch_rows``) when the SNR was measured; and the
    efficiency axis (``simalloc.train.efficiency.efficiency_rows``) at pass@1 and the largest k.

    Parameters
    ----------
    steps : pandas.DataFrame
        The per-step table of a training study.
    args : TrainingStudyArgs
        The study's settings (arms, frontier, ``train.ks``, eval sets, ``train.warmup_steps``).

    Returns
    -------
    summary : pandas.DataFrame
        Columns arm, metric, value, se, n_reps.
    replicates : pandas.DataFrame
        Columns arm, rep, metric, value: every per-replicate value a summary row averages.
    """
    cfg = args.train
    last = frontier_table(steps, cfg.warmup_steps)
    arms = all_arms(args.arms, args.frontier_lrs)
    rows = SummaryRows()
    reads = {}
    for arm in arms:
        _arm_rows(rows, steps, last, arm, cfg)
        if frontier_arms(args.frontier_lrs):
            reads[arm] = _frontier_rows(rows, last, arm, args)
    if reads:
        _bound_rows(rows, last, args, reads)
    critical_batch_rows(rows, steps, arms)
    if "rollouts" in steps:
        kmax = max(cfg.ks)
        efficiency_rows(rows, steps, arms, dict.fromkeys(("pass@1", f"pass@{kmax}")), cfg.warmup_steps)
    return rows.tables()


def _arm_rows(rows: SummaryRows, steps: pd.DataFrame, last: pd.DataFrame, arm: str, cfg) -> None:
    """An arm's final Pass@k, spend, entropy, SNR, budget-share growth and eval-set rows (``summary_tables``)."""
    mine = last[last.arm == arm].set_index("rep")
    for k in sorted({k for k in (1, 256, 1024, max(cfg.ks)) if k in cfg.ks}):
        rows.per_rep(arm, f"pass@{k}", mine[f"pass@{k}"])
    run = steps[steps.arm == arm]
    rows.per_rep(arm, "informative_share", run[run.step > 0].groupby("rep").informative_share.mean())
    if "rollouts" in steps:  # what an arm spent of its budget per step, screening and discarded rollouts included
        rows.per_rep(arm, "rollouts_per_step", run[run.step > cfg.warmup_steps].groupby("rep").rollouts.mean())
    rows.per_rep(arm, "entropy", mine.entropy)
    if "grad_snr" in steps and run.grad_snr.notna().any():
        for col in ("grad_snr", "grad_noise_scale"):
            rows.per_rep(arm, col, run.dropna(subset=[col]).groupby("rep")[col].mean())
    trained = run[run.step > 0].dropna(subset=["budget_share_sK0"])
    if not trained.empty:  # the s = K0 share of Phase B: first vs last tenth of training (HORA: it grows)
        lo, hi = trained.step.min(), trained.step.max()  # the allocator's steps (after any warm-up)
        cut = (hi - lo + 1) / 10
        early = trained[trained.step < lo + cut].groupby("rep").budget_share_sK0.mean()
        late = trained[trained.step > hi - cut].groupby("rep").budget_share_sK0.mean()
        rows.per_rep(arm, "budget_share_sK0_growth", late - early.reindex(late.index))
    uniform = last[last.arm == "uniform"].set_index("rep")
    for col in cfg.eval_set_columns():  # held-out sets and finite benchmarks, last step
        if col.endswith("_se") or col not in mine:
            continue
        rows.per_rep(arm, col, mine[col])
        if ":bench" in col and arm != "uniform" and len(uniform):
            # per replicate: does one benchmark of this size tell the arm from GRPO (|difference| above 1.96 x the
            # unpaired se sqrt(se_a^2 + se_u^2), as a paper's table would be read); the row is the share
            u = uniform.reindex(mine.index)
            z = (mine[col] - u[col]).abs() / np.sqrt(mine[col + "_se"] ** 2 + u[col + "_se"] ** 2)
            rows.per_rep(arm, col + ":resolved_share", (z > 1.96).astype(np.float64))


def _frontier_rows(rows: SummaryRows, last: pd.DataFrame, arm: str, args) -> pd.DataFrame:
    """An arm's frontier rows; returns its reads at the largest k (for the credit).

    Rows: frontier_gain@<kmax> (``frontier_reads``: every replicate, censored ones against the flat extension;
    a frontier point other than "uniform" is read leave-one-out, ``loo_reads``), frontier_gain_linear@<kmax>
    (chords), frontier_censored_above@<kmax> / _below (counts of censored replicates), matched_lr
    (``matched_lr_reads``), lr_equivalent (1 when |frontier gain| <= max(2 se, EFFECT_FLOOR): that GRPO learning
    rate reproduces the arm's Pass@1 and Pass@k; NaN with fewer than ``MIN_CREDIT_REPS`` replicates, its n_reps
    the gain's own) and per eval set "<set>:frontier_gain@<largest eval_set_ks>" on that set's own Pass@1 and
    Pass@k.
    """
    cfg = args.train
    kmax = max(cfg.ks)
    points = frontier_points(args.frontier_lrs)
    loo = arm in points and arm != "uniform"
    read = (lambda view, k, method: loo_reads(view, arm, k, points, method)) if loo else \
        (lambda view, k, method: frontier_reads(view, arm, k, points, method))
    reads = read(last, kmax, "pchip")
    g = rows.per_rep(arm, f"frontier_gain@{kmax}", reads.set_index("rep").gain)
    rows.per_rep(arm, f"frontier_gain_linear@{kmax}", read(last, kmax, "linear").set_index("rep").gain)
    rows.scalar(arm, f"frontier_censored_above@{kmax}", float((reads.side > 0).sum()), n=len(reads))
    rows.scalar(arm, f"frontier_censored_below@{kmax}", float((reads.side < 0).sum()), n=len(reads))
    rows.per_rep(arm, "matched_lr", matched_lr_reads(last, arm, frontier_arms(args.frontier_lrs), kmax))
    judged = g.n >= MIN_CREDIT_REPS and np.isfinite(g.se)
    on = float(abs(g.mean) <= max(2 * g.se, EFFECT_FLOOR)) if judged else float("nan")
    rows.scalar(arm, "lr_equivalent", on, n=g.n)
    for name, _ in cfg.eval_set_specs():  # the same comparison on each held-out set
        kset = max(cfg.eval_set_ks)
        view = _eval_set_view(last, name, kset)
        if view is not None:
            rows.per_rep(arm, f"{name}:frontier_gain@{kset}", read(view, kset, "pchip").set_index("rep").gain)
    return reads


def _bound_rows(rows: SummaryRows, last: pd.DataFrame, args, reads: dict) -> None:
    """The frontier's interpolation bias and bound, and each arm's credited@<kmax>.

    Every frontier point (uniform runs only: the start point, uniform and the ``frontier_lrs``; never a held-out
    rate or a placebo, which are judged against the bound) is read leave-one-out (``loo_reads``) on the
    replicates where it is Pareto-kept, end points against the linear continuation of the remaining end segment;
    ``interpolation_bias@k`` is the mean over points of their mean gains (se over points),
    ``interpolation_bound@k`` the largest |mean gain|, ``interpolation_ends@k`` how many reads extrapolated an
    end segment. An arm is credited (``simalloc.train.credit.credit``) beyond the bound by 2 se, on at least
    ``MIN_CREDIT_REPS`` replicates, +1 only if none of its replicates lies below the frontier's range (they bound
    the gain from above) and -1 only if none lies above it.
    """
    kmax = max(args.train.ks)
    points = frontier_points(args.frontier_lrs)
    means, ends = [], 0
    for point in points:
        r = loo_reads(last, point, kmax, points)
        r = r[r.kept]
        if len(r):
            means.append(float(r.gain.mean()))
            ends += int((r.side != 0).sum())
    bound = float("nan")
    if means:
        bias = mean_se(np.asarray(means))
        bound = float(np.max(np.abs(means)))
        rows.scalar("frontier", f"interpolation_bias@{kmax}", bias.mean, bias.se, len(means))
        rows.scalar("frontier", f"interpolation_bound@{kmax}", bound, n=len(means))
        rows.scalar("frontier", f"interpolation_ends@{kmax}", float(ends), n=len(means))
    for arm, r in reads.items():
        g = mean_se(r.gain.to_numpy())
        verdict = credit(g.mean, g.se, g.n, frontier_threshold(bound), up=not (r.side < 0).any(),
                         down=not (r.side > 0).any())
        rows.scalar(arm, f"credited@{kmax}", verdict, n=g.n)


def _eval_set_view(last: pd.DataFrame, name: str, k: int):
    """``last`` with pass@1 and pass@k taken from eval set ``name`` ("<name>:pass@1", "<name>:pass@k"), so
    ``frontier_gain`` reads that set's own frontier; None when the columns are absent."""
    cols = {f"{name}:pass@1": "pass@1", f"{name}:pass@{k}": f"pass@{k}"}
    if not set(cols) <= set(last.columns):
        return None
    return last[["arm", "rep", *cols]].rename(columns=cols)
