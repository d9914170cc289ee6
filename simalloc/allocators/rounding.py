"""Budget-conserving rounding of proportional shares."""

from __future__ import annotations

import numpy as np

__all__ = ["largest_remainder"]


def largest_remainder(weights, total: int, cap=None) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``weights``, summing exactly to ``total``.

    Parameters
    ----------
    weights : array_like, shape (n,)
        Non-negative finite weights (all zero means equal weights).
    total : int
        Units to distribute, >= 0.
    cap : array_like of int, optional
        Per-entry maximum; proportional shares above a cap are clipped and the excess re-shared
        among the others (water-filling), which needs sum(cap) >= total.

    Returns
    -------
    ndarray of int64, shape (n,)

    Notes
    -----
    Hamilton's method: floor of the quotas, then one more unit to the largest remainders (ties by
    lower index). Plain rounding does not conserve the budget: DORA's Fig. 2 example rounds to 65 of 64.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or w.min() < 0:
        raise ValueError("weights: expected a non-empty 1-D array of finite non-negative numbers")
    total = int(total)
    if total < 0:
        raise ValueError(f"total: must be >= 0, got {total}")
    c = np.full(w.size, total, dtype=np.int64) if cap is None else np.minimum(np.asarray(cap, dtype=np.int64), total)
    if int(c.sum()) < total:
        raise ValueError(f"cap: the caps hold {int(c.sum())} units, fewer than total={total}")
    if total == 0:
        return np.zeros(w.size, dtype=np.int64)
    w = np.ones_like(w) if w.max() == 0 else w / w.max()  # scale-free: tiny weights must not underflow
    quota = np.zeros(w.size)
    free = c > 0
    left = float(total)
    for _ in range(w.size + 1):  # water-fill: clip at caps, re-share the excess
        if left <= 0 or not free.any():
            break
        ws_w = np.where(free, w, 0.0)
        if ws_w.sum() == 0:
            ws_w = free.astype(np.float64)
        q = quota + left * ws_w / ws_w.sum()
        over = free & (q > c + 1e-9 * max(total, 1))
        if not over.any():
            quota = q
            break
        quota[over] = c[over]
        free &= ~over
        left = total - quota.sum()
    base = np.minimum(np.floor(quota + 1e-9).astype(np.int64), c)
    rest = total - int(base.sum())
    if rest > 0:
        remainder = np.where(base < c, quota - base, -np.inf)
        order = np.argsort(-remainder, kind="stable")
        base[order[:rest]] += 1
    return base
