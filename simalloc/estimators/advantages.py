"""Group-relative advantages for GRPO-family losses, with variable group sizes.

A group of size 1, or a group whose rewards are all equal, carries no relative signal: its
advantages are 0 (some frameworks return the raw reward for size-1 groups; that is a bug here). A group of size 0
is refused: it has no rollout to score, and a caller that passes one has usually misaligned sizes and rewards.
"""

from __future__ import annotations

import math

import numpy as np

from ..jit import jit
from ..validation import check_choice

__all__ = ["LOSS_TYPES", "group_advantages", "binary_advantage_mass", "binary_advantage_masses", "LOSS_CODES"]

LOSS_CODES = {"grpo": 0, "dr_grpo": 1, "rloo": 2}
LOSS_TYPES = tuple(LOSS_CODES)


@jit
def _group_advantages_kernel(rewards, offsets, code, eps, out):
    for g in range(offsets.size - 1):
        lo, hi = offsets[g], offsets[g + 1]
        n = hi - lo
        if n < 2:
            for r in range(lo, hi):
                out[r] = 0.0
            continue
        total = 0.0
        top = rewards[lo]
        bottom = rewards[lo]
        for r in range(lo, hi):
            total += rewards[r]
            top = max(top, rewards[r])
            bottom = min(bottom, rewards[r])
        if top == bottom:  # no spread, tested on the rewards themselves: a rounded mean can leave a tiny spread
            for r in range(lo, hi):
                out[r] = 0.0
            continue
        mean = total / n
        spread = 0.0
        for r in range(lo, hi):
            spread += (rewards[r] - mean) ** 2
        if code == 0:  # GRPO: Bessel-corrected std, as TRL
            std = math.sqrt(spread / (n - 1))
            for r in range(lo, hi):
                out[r] = (rewards[r] - mean) / (std + eps)
        elif code == 1:  # Dr.GRPO
            for r in range(lo, hi):
                out[r] = rewards[r] - mean
        else:  # RLOO: leave-one-out baseline
            for r in range(lo, hi):
                out[r] = rewards[r] - (total - rewards[r]) / (n - 1)
    return out


def group_advantages(rewards, group_sizes, loss_type: str = "grpo", eps: float = 1e-4) -> np.ndarray:
    r"""Per-rollout advantages for consecutive groups of variable size.

    Parameters
    ----------
    rewards : array_like of float, shape (n_rollouts,)
        Rewards, group by group (finite).
    group_sizes : array_like of int, shape (n_groups,)
        Sizes G_i >= 1, summing to n_rollouts (drop a prompt that got no rollout before calling).
    loss_type : {"grpo", "dr_grpo", "rloo"}
    eps : float
        GRPO's std offset (TRL: 1e-4).

    Returns
    -------
    ndarray of float64, shape (n_rollouts,)

    Raises
    ------
    ValueError
        "group_sizes: ..." for sizes that are not integers >= 1 or do not sum to len(rewards); "rewards: ..." for
        non-finite rewards; "loss_type: ..." and "eps: ..." for unknown or negative settings.

    Notes
    -----
    GRPO: (r - mean)/(std + eps), std Bessel-corrected (TRL, scale_rewards="group");
    Dr.GRPO: r - mean; RLOO: r - (sum - r)/(G - 1). Zero for G = 1 and for groups with no spread (max == min).

    References
    ----------
    GRPO: arXiv 2402.03300; Dr.GRPO: arXiv 2503.20783; RLOO: arXiv 2402.14740.

    Examples
    --------
    >>> group_advantages([1.0, 0.0, 0.0, 1.0, 5.0], [4, 1], "dr_grpo").tolist()
    [0.5, -0.5, -0.5, 0.5, 0.0]
    """
    code = LOSS_CODES[check_choice(loss_type, "loss_type", LOSS_CODES)]
    r = np.ascontiguousarray(rewards, dtype=np.float64)
    if r.ndim != 1 or not np.all(np.isfinite(r)):
        raise ValueError("rewards: expected a finite 1-D array")
    sizes = np.asarray(group_sizes)
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError("group_sizes: expected a 1-D array of integers >= 1")
    if sizes.size and sizes.min() < 1:
        g = int(np.argmax(sizes < 1))
        raise ValueError(f"group_sizes: expected integers >= 1 (an empty group has no rollout to score; drop it), "
                         f"got {int(sizes[g])} for group {g}")
    if int(sizes.sum()) != r.size:
        raise ValueError(f"group_sizes: sum {int(sizes.sum())} does not match len(rewards)={r.size}")
    if not eps >= 0:
        raise ValueError(f"eps: must be >= 0, got {eps}")
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return _group_advantages_kernel(r, offsets, code, float(eps), np.empty(r.size))


@jit
def binary_advantage_mass(successes, n, code, eps):
    """Sum of the advantages of the successful rollouts in a binary group (= minus that of the failures).

    For s successes out of n: Dr.GRPO s f / n; GRPO (s f / n) / (std + eps) with
    std = sqrt(s f / (n (n - 1))); RLOO s f / (n - 1); f = n - s. Zero if n < 2 or s in {0, n}.
    """
    f = n - successes
    if n < 2 or successes == 0 or f == 0:
        return 0.0
    sf = successes * f
    if code == 0:
        return (sf / n) / (math.sqrt(sf / (n * (n - 1.0))) + eps)
    if code == 1:
        return sf / n
    return sf / (n - 1.0)


@jit
def binary_advantage_masses(successes, n, code, eps, out):
    """``binary_advantage_mass`` for every group (arrays of int64), into ``out``; jitted here, beside its callee."""
    for i in range(out.size):
        out[i] = binary_advantage_mass(successes[i], n[i], code, eps)
    return out
