"""When an effect is credited: the one rule both axes of the yardstick use (the frontier gain and the efficiency
axis's multipliers), so that no read credits an arm on a NaN se or on one or two replicates.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_CREDIT_REPS", "FRONTIER_FLOOR", "credit", "frontier_threshold"]

#: an arm (or a paired comparison) read on fewer replicates is never credited on either axis: its se is NaN (one
#: replicate) or rests on one degree of freedom (two); a NaN se never counts as 0
MIN_CREDIT_REPS = 3
#: the smallest frontier gain read as an effect, whatever the interpolation bound: one point of Pass@k (as the
#: Pass@1 comparison's floor, ``simalloc.train.calibration.PASS1_FLOOR``, and the multipliers' 0.1). Where Pass@k
#: saturates the bound is ~0 and common random numbers make gains of 1e-8 "significant" (the simulator's narrowing
#: fit read uniform:temp2 at -7.9e-8 +- 3.5e-8, credited -1, before this floor)
FRONTIER_FLOOR = 0.01


def frontier_threshold(bound: float) -> float:
    """The band a frontier gain must clear: the frontier's interpolation bound, ``FRONTIER_FLOOR`` at least (NaN
    stays NaN: no bound, nothing to judge).

    Parameters
    ----------
    bound : float
        The frontier's interpolation bound (``interpolation_bound@k``).

    Returns
    -------
    float
        max(bound, ``FRONTIER_FLOOR``), or NaN.

    Examples
    --------
    >>> frontier_threshold(0.0), frontier_threshold(0.05)
    (0.01, 0.05)
    """
    return float(bound) if not np.isfinite(bound) else max(float(bound), FRONTIER_FLOOR)


def credit(effect: float, se: float, n: int, threshold: float = 0.0, *, up: bool = True, down: bool = True) -> float:
    """+1, -1 or 0: whether ``effect`` lies beyond ``threshold`` (either way) by more than 2 se.

    Parameters
    ----------
    effect : float
        The measured effect (a frontier gain, or a multiplier minus 1).
    se : float
        Its standard error over replicates.
    n : int
        The replicates it rests on.
    threshold : float, default 0
        The band an effect must clear (the frontier's interpolation bound; 0 for a multiplier).
    up, down : bool, default True
        Whether a positive (negative) credit is allowed: False where censored replicates only bound the effect
        from the other side (``summary_long``).

    Returns
    -------
    float
        NaN when ``effect`` or ``threshold`` is not finite (nothing to judge), 0 when n < ``MIN_CREDIT_REPS`` or
        se is not finite (never credited), else +1 if effect - 2 se > threshold (and ``up``), -1 if
        effect + 2 se < -threshold (and ``down``), 0 otherwise.

    Examples
    --------
    >>> credit(0.1, 0.01, 4), credit(0.1, 0.01, 2), credit(0.1, float("nan"), 4), credit(-0.1, 0.01, 4, down=False)
    (1.0, 0.0, 0.0, 0.0)
    """
    if not (np.isfinite(effect) and np.isfinite(threshold)):
        return float("nan")
    if n < MIN_CREDIT_REPS or not np.isfinite(se):
        return 0.0
    if up and effect - 2 * se > threshold:
        return 1.0
    if down and effect + 2 * se < -threshold:
        return -1.0
    return 0.0
