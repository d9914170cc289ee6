"""Exact outcomes of an allocation once the true pass rates are known (no sampling of the extra rollouts)."""

from __future__ import annotations

import numpy as np

__all__ = ["allocation_outcomes"]


def allocation_outcomes(p, successes, k0: int, alloc) -> tuple[np.ndarray, np.ndarray]:
    """Per-prompt (hit, informative) probabilities, each shape (n_prompts,).

    hit_i = 1 - (1 - p_i)^k_i: the extra rollouts find a success. informative_i: the final group (pilot of
    k0 with s_i successes, plus k_i extra) has both outcomes: 1 if 0 < s_i < k0, hit_i if s_i = 0,
    1 - p_i^k_i if s_i = k0; with no pilot (k0 = 0), 1 - p^k - (1 - p)^k.

    Parameters
    ----------
    p : array_like
        True pass rates.
    successes : array_like of int
        Pilot successes.
    k0 : int
        The pilot size.
    alloc : array_like of int
        Extra rollouts per prompt.

    Returns
    -------
    hit, informative : ndarray of float64
        Exact given p (no sampling of the extra rollouts).
    """
    p, s, k = np.asarray(p, dtype=np.float64), np.asarray(successes), np.asarray(alloc)
    hit = 1.0 - (1.0 - p) ** k
    if k0 == 0:
        return hit, 1.0 - p**k - (1.0 - p) ** k
    informative = np.where((s > 0) & (s < k0), 1.0, np.where(s == 0, hit, 1.0 - p**k))
    return hit, informative
