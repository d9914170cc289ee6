"""Breakthroughs: when a run's Pass@1 on a prompt family (a turn-3 level, a v2 family) first crosses 0.5.

Whether a network starts to solve a family within the run is a discrete event (issue 35: the turn-3 task's level 2
breaks through in some replicates and not others), so a lab conclusion is stated as the share of runs that break
through and when, not as a per-seed table. Per run and family: the step at which the recorded "pass@1:<family>"
column first reaches the threshold, linearly interpolated between records (``simalloc.train.efficiency.first_reach``,
the efficiency axis's crossing), right-censored at the last record when it never does; a family at or above the
threshold at the first record breaks through at that step. Per arm: the share of runs that break through (mean and
se over replicates) and the Kaplan-Meier median step (``km_median``: NaN when over half the runs are censored
before it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..train.analysis import SummaryRows
from ..train.efficiency import first_reach, km_median

__all__ = ["breakthroughs", "breakthrough_rows", "BREAKTHROUGH"]

#: the Pass@1 a family must reach
BREAKTHROUGH = 0.5


def breakthroughs(steps: pd.DataFrame, families, threshold: float = BREAKTHROUGH) -> pd.DataFrame:
    """Per (arm, rep, family): the interpolated step at which "pass@1:<family>" first reaches ``threshold``.

    Parameters
    ----------
    steps : pandas.DataFrame
        A lab study's per-step table (columns arm, rep, step and "pass@1:<family>").
    families : sequence of str
        The families (``task.family_names``); a family whose column is absent or all NaN in a run is skipped.
    threshold : float, default 0.5
        The Pass@1 to reach, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns arm, rep, family, step (the crossing, or the last record's step when censored), reached (bool),
        start (the family's Pass@1 at the first record).

    Examples
    --------
    >>> t = pd.DataFrame({"arm": "u", "rep": 0, "step": [0, 10, 20], "pass@1:a": [0.2, 0.4, 0.6]})
    >>> breakthroughs(t, ["a"])[["step", "reached"]].values.tolist()
    [[15.0, True]]
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold: must lie in (0, 1), got {threshold!r}")
    out = []
    for (arm, rep), run in steps.sort_values("step").groupby(["arm", "rep"], sort=False):
        for family in families:
            col = f"pass@1:{family}"
            if col not in run or run[col].isna().all():
                continue
            r = run.dropna(subset=[col])
            reach = first_reach(r.step, r.step, r[col], threshold)
            out.append((arm, int(rep), family, reach.step, bool(reach.reached), float(r[col].iloc[0])))
    return pd.DataFrame(out, columns=["arm", "rep", "family", "step", "reached", "start"])


def breakthrough_rows(steps: pd.DataFrame, families, rows: SummaryRows | None = None,
                      threshold: float = BREAKTHROUGH) -> SummaryRows:
    """The summary's breakthrough rows, per arm and family.

    ``breakthrough_share@<family>``: the share of runs that break through (per replicate 1 or 0; mean and se over
    replicates). ``breakthrough_step@<family>``: the Kaplan-Meier median of the crossing step (censored runs at
    their last record; NaN when the median lies beyond the runs; n_reps the runs); its replicates.csv rows hold
    each run's step (its censoring step when it did not break through).

    Parameters
    ----------
    steps : pandas.DataFrame
        A lab study's per-step table.
    families : sequence of str
        The families.
    rows : SummaryRows, optional
        Rows to add to (default: new).
    threshold : float, default 0.5
        The Pass@1 to reach.

    Returns
    -------
    SummaryRows
    """
    rows = SummaryRows() if rows is None else rows
    table = breakthroughs(steps, families, threshold)
    for (arm, family), runs in table.groupby(["arm", "family"], sort=False):
        runs = runs.set_index("rep")
        rows.per_rep(arm, f"breakthrough_share@{family}", runs.reached.astype(np.float64))
        rows.scalar(arm, f"breakthrough_step@{family}", km_median(runs.step.to_numpy(), runs.reached.to_numpy()),
                    n=len(runs))
        rows.reps += [(arm, int(rep), f"breakthrough_step@{family}", float(s)) for rep, s in runs.step.items()]
    return rows
