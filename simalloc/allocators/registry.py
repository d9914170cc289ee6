"""The allocator protocol and its one registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..beliefs import BetaBeliefs
from ..validation import check_choice, shown

__all__ = ["AllocationProblem", "Allocator", "ALLOCATORS", "Option", "register", "get_allocator"]


@dataclass(frozen=True, eq=False)
class AllocationProblem:
    """A validated allocation request.

    Attributes
    ----------
    beliefs : BetaBeliefs
        Posterior after the pilot, with the pilot counts (successes, trials), shape (n_prompts,).
    budget : int
        Extra rollouts to allocate (Phase B), >= 0.
    cap : ndarray of int64, shape (n_prompts,)
        Per-prompt maximum of extra rollouts (already clipped to ``budget``); sum(cap) >= budget.
    predicted_p : ndarray of float64 in (0, 1), shape (n_prompts,), optional
        A predictor's pass rates, for allocators that use one (VIP, GVM); None means "use the posterior".
    options : dict
        Allocator-specific settings (e.g. VIP's n_min, n_max, gamma; Knapsack's n_max).
    """

    beliefs: BetaBeliefs
    budget: int
    cap: np.ndarray
    predicted_p: np.ndarray | None = None
    options: dict = field(default_factory=dict)

    @property
    def n_prompts(self) -> int:
        return self.beliefs.n_prompts


class Allocator(Protocol):
    """A rule that splits a budget: problem and Generator in, int64 (n_prompts,) summing to budget out.

    Attributes
    ----------
    name : str
        The registry key.
    description : str
        One line for ``simalloc list``.

    Notes
    -----
    ``allocator(problem, rng)`` must return non-negative integers with ``k <= problem.cap`` and
    ``k.sum() == problem.budget``; ``simalloc.testing.run_contract(name)`` checks that on many problems.
    """

    name: str
    description: str

    def __call__(self, problem: AllocationProblem, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True)
class Option:
    """One allocator option, checked by ``allocate`` before the allocator runs.

    Attributes
    ----------
    kind : type
        ``int`` or ``float``.
    low, high : float or None
        The inclusive range (None: unbounded on that side).
    default : float
        The value used when the caller does not set the option.
    """

    kind: type
    low: float | None
    high: float | None
    default: float

    def check(self, name: str, allocator: str, value):
        ok_type = (isinstance(value, (int, np.integer)) and not isinstance(value, bool)) if self.kind is int else (
            isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool))
        rng = f"[{'-inf' if self.low is None else self.low}, {'inf' if self.high is None else self.high}]"
        if not ok_type or not np.isfinite(value):
            raise TypeError(f"options[{name!r}]: {allocator} expects "
                            f"{'an integer' if self.kind is int else 'a number'} "
                            f"in {rng}, got {shown(value)}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"options[{name!r}]: {allocator} expects a value in {rng}, got {shown(value)}")
        return self.kind(value)


@dataclass(frozen=True)
class FunctionAllocator:
    name: str
    description: str
    fn: Callable[[AllocationProblem, np.random.Generator], np.ndarray]
    options: dict = field(default_factory=dict)
    #: objective whose exact greedy this allocator is; ``allocate`` then solves count-typed problems directly
    count_objective: str | None = None

    def __call__(self, problem, rng):
        return self.fn(problem, rng)

    def validate_options(self, options: dict) -> dict:
        """Options checked by name, type and range; defaults filled in. Unknown names are an error."""
        unknown = set(options) - set(self.options)
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"options: {self.name} has no option(s) {sorted(unknown)}; valid: {valid}")
        out = {k: spec.default for k, spec in self.options.items()}
        out.update({k: self.options[k].check(k, self.name, v) for k, v in options.items()})
        return out


ALLOCATORS: dict[str, Allocator] = {}


def register(name: str, description: str, options: dict | None = None, count_objective: str | None = None):
    """Decorator: register ``fn(problem, rng) -> allocation`` under ``name``, with its ``Option`` specs.

    Parameters
    ----------
    name : str
        The registry key; a name already registered is refused.
    description : str
        One line for ``simalloc list``.
    options : dict of str to Option, optional
        The options the allocator reads; ``allocate`` refuses any other and checks each against its range.
    count_objective : str, optional
        The objective ``fn`` maximises with ``solve`` (and nothing else), which lets ``allocate`` take the
        count-typed fast path (``engine.greedy_by_counts``) for shared-prior problems.

    Returns
    -------
    callable
        A decorator that registers ``fn(problem, rng) -> allocation`` and returns it unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from simalloc.allocators import ALLOCATORS, allocate
    >>> @register("first_prompt_doc_example", "everything to prompt 0")
    ... def _first(problem, rng):
    ...     k = np.zeros(problem.n_prompts, dtype=np.int64)
    ...     k[0] = problem.budget
    ...     return k
    >>> allocate("first_prompt_doc_example", [0, 1], 4, 3).tolist()
    [3, 0]
    >>> del ALLOCATORS["first_prompt_doc_example"]
    """

    def wrap(fn):
        if name in ALLOCATORS:
            raise ValueError(f"allocator {name!r} is already registered")
        ALLOCATORS[name] = FunctionAllocator(name, description, fn, dict(options or {}), count_objective)
        return fn

    return wrap


def get_allocator(name) -> Allocator:
    """The registered allocator ``name``.

    Parameters
    ----------
    name : str
        A key of ``ALLOCATORS`` (``simalloc list`` prints them with a description).

    Returns
    -------
    Allocator
        Its ``allocate`` method is what ``simalloc.allocate(name, ...)`` calls.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.

    Examples
    --------
    >>> get_allocator("hora").name
    'hora'
    """
    return ALLOCATORS[check_choice(name, "name", ALLOCATORS)]
