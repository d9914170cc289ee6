"""Ground truth: exact DP and brute force, slow and obviously correct."""

from .exact import DP_MAX_CELLS, Optimum, brute_force_optimum, dp_optimum, exact_optimum, value_table

__all__ = ["DP_MAX_CELLS", "Optimum", "brute_force_optimum", "dp_optimum", "exact_optimum", "value_table"]
