"""simalloc: where to spend rollouts.

Exact allocation of rollout budgets over prompts, sequential stopping of voting, and best-of-N
estimators, in a Monte Carlo simulator checked against analytical optima.

Public API (stable names): ``allocate``, ``exact_optimum``,
``hit_utility``, ``pass_at_k``, ``Planner``, and the registries ``ALLOCATORS`` and ``OBJECTIVES``.
"""

from .allocators import ALLOCATORS, allocate, get_allocator
from .beliefs import BetaBeliefs
from .estimators import pass_at_k
from .objectives import OBJECTIVES, get_objective, hit_utility
from .optima import exact_optimum
from .planner import Planner

__version__ = "0.1.0"

__all__ = [
    "ALLOCATORS",
    "OBJECTIVES",
    "BetaBeliefs",
    "Planner",
    "allocate",
    "exact_optimum",
    "get_allocator",
    "get_objective",
    "hit_utility",
    "pass_at_k",
    "__version__",
]
