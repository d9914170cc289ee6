"""Input validation shared by the public API.

Every message names the argument and the allowed range; nothing invalid reaches a numba kernel.
"""

from __future__ import annotations

import numbers

import numpy as np

from .jit import jit

__all__ = [
    "as_int",
    "as_integer_array",
    "as_budget",
    "as_counts",
    "as_positive_finite",
    "as_cap",
    "as_pilot",
    "check_choice",
    "shown",
]


MAX_BUDGET = 10**12


def shown(value) -> str:
    """``repr(value)`` for an error message, numpy scalars (also inside a tuple or list) as Python's: "nan", not
    "np.float64(nan)".

    Parameters
    ----------
    value : object
        The value a message quotes.

    Returns
    -------
    str

    Examples
    --------
    >>> shown(np.int64(-3)), shown((np.float64(0.5), 1.0)), shown(np.str_("hora"))
    ('-3', '(0.5, 1.0)', "'hora'")
    """
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, (tuple, list)):
        value = type(value)(v.item() if isinstance(v, np.generic) else v for v in value)
    return repr(value)


def as_budget(budget, name: str = "budget") -> int:
    """A non-negative integer <= 10^12 (integral floats such as 1440.0 are accepted).

    Parameters
    ----------
    budget : int or float
        The value to check; bools, strings, 2.5, NaN and negatives are refused.
    name : str
        The argument's name, used in error messages ("<name>: ...").

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        "<name>: ..." with the allowed range.
    """
    if isinstance(budget, bool):
        raise TypeError(f"{name}: expected a non-negative integer, got a bool")
    if isinstance(budget, numbers.Integral):
        value = int(budget)
    elif isinstance(budget, numbers.Real):
        if not np.isfinite(budget) or not float(budget).is_integer():
            raise ValueError(f"{name}: must be a non-negative integer, got {shown(budget)}")
        value = int(budget)
    else:
        raise TypeError(f"{name}: expected a non-negative integer, got {type(budget).__name__}")
    if value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    if value > MAX_BUDGET:
        raise ValueError(f"{name}: must be <= {MAX_BUDGET:.0e} rollouts, got {value}")
    return value


def as_int(value, name: str, low: int = 1) -> int:
    """A plain integer >= ``low`` (numpy integers accepted; bools, floats and strings refused).

    Parameters
    ----------
    value : int
        The value to check.
    name : str
        The argument's name, used in error messages ("<name>: ...").
    low : int, default 1
        The smallest allowed value.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        "<name>: must be an integer >= <low>, got ...".
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: must be an integer >= {low}, got {shown(value)}")
    return int(value)


def as_integer_array(x, name: str) -> np.ndarray:
    """An int64 array of non-negative integers (integral floats accepted; bools, objects, NaN refused).

    Parameters
    ----------
    x : array_like
        The values.
    name : str
        The argument's name, used in error messages ("<name>: ...").

    Returns
    -------
    ndarray of int64
        ``x`` (no copy when it already is int64).

    Raises
    ------
    TypeError, ValueError
        "<name>: ..." naming what was found.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name}: expected an array of non-negative integers ({exc})") from None
    if arr.dtype == bool or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name}: expected an array of non-negative integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        out = arr.astype(np.int64, copy=False)
    else:
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: must be finite non-negative integers, found NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: must be non-negative integers, found non-integer values")
        out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        raise ValueError(f"{name}: must be >= 0, found {int(out.min())}")
    return out


def as_counts(successes, trials) -> tuple[np.ndarray, np.ndarray]:
    """Pilot counts as contiguous int64 arrays of shape (n_prompts,), 0 <= successes <= trials.

    Parameters
    ----------
    successes : array_like of int
        Successes per prompt, shape (n_prompts,), n_prompts >= 1.
    trials : int or array_like of int
        Rollouts per prompt: a scalar (the same pilot size K0 for every prompt) or shape (n_prompts,).

    Returns
    -------
    successes, trials : ndarray of int64
        Both of shape (n_prompts,).

    Raises
    ------
    TypeError, ValueError
        Naming the argument and, for successes > trials, the first prompt that breaks it.
    """
    s = _int64_vector(successes, "successes")
    if s.ndim == 1 and s.size and np.ndim(trials) == 1:  # valid int64 arrays: one compiled pass, no copies
        t = _int64_vector(trials, "trials")
        if t.shape == s.shape and t.size and _scan_pilot(s, t, t[0], np.empty(0, dtype=np.int64))[0] == 0:
            return s, t
    s = as_integer_array(s, "successes")  # the checks below name what is wrong
    if s.ndim != 1:
        raise ValueError(f"successes: expected a 1-D array of shape (n_prompts,), got shape {s.shape}")
    if s.size == 0:
        raise ValueError("successes: expected at least one prompt, got an empty array")
    t = as_integer_array(trials, "trials")
    if t.ndim == 0:  # one pilot size: one reduction checks every prompt
        if int(s.max()) > int(t):
            i = int(np.argmax(s))
            raise ValueError(f"successes: must satisfy 0 <= successes <= trials; prompt {i} has "
                             f"successes={s[i]} > trials={int(t)}")
        return np.ascontiguousarray(s), np.full(s.shape, int(t), dtype=np.int64)
    if t.shape != s.shape:
        raise ValueError(f"trials: shape {t.shape} does not match successes shape {s.shape}")
    bad = s > t
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"successes: must satisfy 0 <= successes <= trials; prompt {i} has successes={s[i]} > trials={t[i]}"
        )
    return np.ascontiguousarray(s), np.ascontiguousarray(t)


@jit
def _scan_pilot(successes, trials, k0, counts):
    """One pass over pilot counts (``trials`` of size 0: every prompt's is ``k0``): (status, shared). status 0:
    valid (0 <= s_i <= t_i); 1: a bad entry (``as_counts`` then names it). shared: every t_i equals k0. Where
    ``counts`` has k0 + 1 slots it receives the bincount of the successes (meaningful when shared)."""
    shared = True
    count = counts.size > 0
    per_prompt = trials.size > 0
    for i in range(successes.size):
        s = successes[i]
        t = trials[i] if per_prompt else k0
        if s < 0 or s > t:
            return 1, False
        if t != k0:
            shared = False
            count = False
        if count:
            counts[s] += 1
    return 0, shared


#: largest pilot size whose success counts ``as_pilot`` tallies during its scan (a k0 + 1 array)
_MAX_TALLY = 1 << 16


def _int64_vector(x, name: str) -> np.ndarray:
    """``x`` itself when it already is a contiguous int64 array (no copy, no pass over it), else
    ``as_integer_array``'s conversion."""
    if isinstance(x, np.ndarray) and x.dtype == np.int64 and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(as_integer_array(x, name))


def as_pilot(successes, trials):
    """Pilot counts checked in one pass, for solvers that need only a shared pilot size and a tally of the counts.

    Parameters
    ----------
    successes : array_like of int, shape (n_prompts,)
        Successes per prompt, n_prompts >= 1.
    trials : int or array_like of int, shape (n_prompts,)
        Rollouts per prompt (a scalar: the same for every prompt).

    Returns
    -------
    (successes, k0, counts) or None
        ``successes`` as contiguous int64 (the input itself when it already is one: no copy), the pilot size
        K0 every prompt shares and ``np.bincount(successes, minlength=K0 + 1)``; None when the pilot sizes differ
        (the caller's general path applies).

    Raises
    ------
    TypeError, ValueError
        As ``as_counts`` (same messages), which names the first bad prompt.

    Notes
    -----
    Valid int64 arrays are read once, by a compiled loop that checks 0 <= s_i <= t_i, whether every t_i is K0
    and tallies the s_i; any other input is converted first (``as_integer_array``).
    """
    s = _int64_vector(successes, "successes")
    if s.ndim != 1 or s.size == 0:
        return as_counts(s, trials)  # raises: the shape is wrong
    if np.ndim(trials) == 0:
        k0 = int(as_integer_array(trials, "trials"))
        t = np.empty(0, dtype=np.int64)
    else:
        t = _int64_vector(trials, "trials")
        if t.shape != s.shape:
            return as_counts(successes, trials)  # raises: the shapes differ
        k0 = int(t[0])
    counts = np.zeros(k0 + 1 if 0 <= k0 < _MAX_TALLY else 0, dtype=np.int64)
    status, shared = _scan_pilot(s, t, k0, counts)
    if status:
        as_counts(successes, trials)  # raises, naming the first bad prompt
        raise AssertionError("unreachable: the scan found a bad pilot count")  # pragma: no cover
    if not shared:
        return None
    if counts.size == 0:
        counts = np.bincount(s, minlength=k0 + 1)
    return s, k0, counts


def as_positive_finite(x, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Float64 array, every entry finite and > 0, broadcast to ``shape`` if given.

    Parameters
    ----------
    x : array_like
        The values (a scalar stays 0-d unless ``shape`` is given).
    name : str
        The argument's name, used in error messages ("<name>: ...").
    shape : tuple of int, optional
        Broadcast to this shape.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    TypeError, ValueError
        "<name>: ..." for non-numbers, NaN, inf, values <= 0 or a shape that does not broadcast.
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected finite positive numbers, got {shown(x)}") from None
    if raw.dtype.kind not in "iuf":  # bools, strings and objects are not numbers here
        raise TypeError(f"{name}: expected finite positive numbers, got {shown(x)} (dtype {raw.dtype})")
    arr = raw.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite and > 0, found NaN or inf")
    if arr.size and arr.min() <= 0:
        raise ValueError(f"{name}: must be finite and > 0, found {float(arr.min())}")
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueError(f"{name}: shape {arr.shape} cannot broadcast to {shape}") from None
    return arr.astype(np.float64, order="C", copy=False)  # keeps 0-d inputs 0-d


def as_cap(cap, n_prompts: int, budget: int) -> np.ndarray:
    """Per-prompt cap on extra rollouts as int64 (n_prompts,); None means 'no cap' (= budget).

    Parameters
    ----------
    cap : None, int or array_like of int
        A scalar cap for every prompt, one per prompt, or None.
    n_prompts : int
        The number of prompts.
    budget : int
        The extra rollouts to place; caps above it are lowered to it.

    Returns
    -------
    ndarray of int64, shape (n_prompts,)

    Raises
    ------
    ValueError
        "cap: ..." for a wrong shape or caps that cannot hold the budget (sum(cap) < budget).
    """
    if cap is None:
        return np.full(n_prompts, budget, dtype=np.int64)
    if np.ndim(cap) == 0:
        c = np.full(n_prompts, as_budget(cap, "cap"), dtype=np.int64)
    else:
        c = as_integer_array(cap, "cap")
        if c.shape != (n_prompts,):
            raise ValueError(f"cap: expected a scalar or shape ({n_prompts},), got shape {c.shape}")
    c = np.minimum(c, budget)
    if int(c.sum()) < budget:
        raise ValueError(
            f"cap: the caps hold at most {int(c.sum())} rollouts but budget={budget}; "
            f"need sum(cap) >= budget (cap * n_prompts >= budget for a scalar cap)"
        )
    return np.ascontiguousarray(c)


def check_choice(value, name: str, choices) -> str:
    """``value`` must be one of ``choices``; the error lists them.

    Parameters
    ----------
    value : str
        The value to check.
    name : str
        The argument's name, used in error messages ("<name>: ...").
    choices : iterable of str
        The allowed values.

    Returns
    -------
    str
        ``value``.

    Raises
    ------
    ValueError
        "<name>: unknown value ...; valid: <sorted choices>".
    """
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: unknown value {shown(value)}; valid: {', '.join(sorted(map(str, choices)))}")
    return value
