"""The few statistics every comparison uses: mean and standard error, paired differences, percentile intervals.

One definition each, so that a study, a paper check, a replay and ``advise`` report the same kind of number the
same way: standard errors with Bessel's correction (NaN for a single value), paired differences over common
random numbers, and two-sided percentile intervals of bootstrap draws.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["MeanSE", "mean_se", "paired_difference", "percentile_interval"]


class MeanSE(NamedTuple):
    """A mean, its standard error and the number of values (NaN se for fewer than two); a named tuple, so it
    unpacks as (mean, se, n)."""

    mean: float
    se: float
    n: int


def mean_se(values) -> MeanSE:
    """Mean and standard error sd / sqrt(n) (sd with ddof = 1) of the finite entries of ``values``.

    Examples
    --------
    >>> r = mean_se([1.0, 2.0, 3.0, float("nan")])
    >>> r.mean, round(r.se, 6), r.n
    (2.0, 0.57735, 3)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return MeanSE(float("nan"), float("nan"), 0)
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return MeanSE(float(v.mean()), se, int(v.size))


def paired_difference(a, b) -> MeanSE:
    """``mean_se(a - b)`` over pairs: the right se when a and b share random numbers (replicates, prompts).

    >>> paired_difference([1.0, 2.0, 4.0], [0.5, 1.5, 3.5]).se
    0.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a, b: paired values need equal shapes, got {a.shape} and {b.shape}")
    return mean_se(a - b)


def percentile_interval(draws, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval of bootstrap ``draws`` along ``axis``: the (1 - level)/2 and (1 + level)/2
    quantiles (Efron & Tibshirani 1993, ch. 13).

    >>> lo, hi = percentile_interval(np.arange(101.0))
    >>> round(float(lo), 9), round(float(hi), 9)  # linear interpolation between order statistics
    (2.5, 97.5)
    """
    if not 0 < level < 1:
        raise ValueError(f"level: must lie in (0, 1), got {level!r}")
    tail = 50 * (1 - level)
    lo, hi = np.percentile(np.asarray(draws, dtype=np.float64), [tail, 100 - tail], axis=axis)
    return lo, hi
