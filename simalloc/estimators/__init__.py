"""Estimators: pass@k, group advantages, best-of-N values."""

from .advantages import group_advantages
from .bon import PKPO_VARIANTS, pkpo_advantages
from .pass_at_k import pass_at_k

__all__ = ["pass_at_k", "pkpo_advantages", "PKPO_VARIANTS", "group_advantages"]
