"""Estimators: pass@k, group advantages, best-of-N values."""

from .pass_at_k import pass_at_k

__all__ = ["pass_at_k"]
