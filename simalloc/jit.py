"""The one jit decorator of simalloc.

Every kernel is compiled with ``cache=True`` so a fresh process reuses the machine code from
``__pycache__`` (or ``NUMBA_CACHE_DIR``). Kernels dispatch on small integer codes rather than taking jitted
functions as arguments: a function argument makes a cached kernel recompile in every process.

Numba keys a cached kernel on its own source file only, so a jitted function calls (and so inlines) jitted
functions of its own module and never another module's: an edit to a callee in another file would otherwise
leave the caller's cache stale. ``tests/test_numba_cache.py`` enforces the rule over the whole package and edits
a kernel in a temporary copy to check that the new source is what runs. Nothing is deleted at import.
"""

from __future__ import annotations

import numba

__all__ = ["jit"]


def jit(fn=None, **options):
    """``numba.njit(cache=True, **options)``, usable bare (``@jit``) or with options (``@jit(fastmath=False)``).

    Parameters
    ----------
    fn : callable, optional
        The function to compile (bare use).
    **options
        Passed to ``numba.njit``; ``cache`` defaults to True.

    Returns
    -------
    callable
        The compiled function, or a decorator when ``fn`` is None.
    """
    options.setdefault("cache", True)
    if fn is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(fn)
