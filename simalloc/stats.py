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
    """A mean, its standard error and the number of values; a named tuple, so it unpacks as (mean, se, n).

    Attributes
    ----------
    mean : float
        The mean of the finite values (NaN when there is none).
    se : float
        Its standard error sd / sqrt(n), sd with ddof = 1 (NaN for fewer than two values).
    n : int
        How many finite values went in.
    """

    mean: float
    se: float
    n: int


def mean_se(values) -> MeanSE:
    """Mean and standard error sd / sqrt(n) (sd with ddof = 1) of the finite entries of ``values``.

    Parameters
    ----------
    values : array_like
        Any shape; NaN and infinite entries are left out (and not counted in n).

    Returns
    -------
    MeanSE
        (mean, se, n); NaN mean for no finite value, NaN se for one.

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

    Parameters
    ----------
    a, b : array_like
        Paired values of equal shape (entry i of both measured on the same replicate or prompt).

    Returns
    -------
    MeanSE
        Mean and se of the differences a - b.

    Raises
    ------
    ValueError
        If the shapes differ.

    Examples
    --------
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

    Parameters
    ----------
    draws : array_like
        Bootstrap draws of one or more statistics.
    level : float, default 0.95
        Coverage in (0, 1).
    axis : int, default 0
        The axis that indexes the draws.

    Returns
    -------
    lo, hi : ndarray
        The lower and upper ends, shaped as ``draws`` without ``axis`` (0-d arrays for one statistic).

    References
    ----------
    B. Efron and R. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall, 1993, chapter 13.

    Examples
    --------
    >>> lo, hi = percentile_interval(np.arange(101.0))
    >>> round(float(lo), 9), round(float(hi), 9)  # linear interpolation between order statistics
    (2.5, 97.5)
    """
    if not 0 < level < 1:
        raise ValueError(f"level: must lie in (0, 1), got {level!r}")
    tail = 50 * (1 - level)
    lo, hi = np.percentile(np.asarray(draws, dtype=np.float64), [tail, 100 - tail], axis=axis)
    return lo, hi
