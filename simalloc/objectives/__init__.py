"""Separable per-prompt objectives and their registry."""

from __future__ import annotations

from ..validation import check_choice
from .separable import (
    HitUtility,
    InformativeGroup,
    KnapsackPlugin,
    KnapsackValue,
    LogMiss,
    Objective,
    PluginHitUtility,
    VarianceReduction,
    beta_moment,
    hit_utility,
)

__all__ = [
    "OBJECTIVES",
    "hit_utility",
    "get_objective",
    "Objective",
    "HitUtility",
    "InformativeGroup",
    "KnapsackValue",
    "PluginHitUtility",
    "KnapsackPlugin",
    "LogMiss",
    "VarianceReduction",
    "beta_moment",
]

OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (HitUtility(), InformativeGroup(), KnapsackValue(), PluginHitUtility(), KnapsackPlugin(), LogMiss())
}


def get_objective(name) -> Objective:
    """The registered objective called ``name``.

    Parameters
    ----------
    name : str or Objective
        A key of ``OBJECTIVES`` ("hit", "informative", "knapsack", ...); an ``Objective`` instance passes through.

    Returns
    -------
    Objective
        Separable per-prompt utilities U_i(k) with their marginal gains.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.

    Examples
    --------
    >>> get_objective("hit").name
    'hit'
    """
    if isinstance(name, Objective):
        return name
    return OBJECTIVES[check_choice(name, "objective", OBJECTIVES)]
