"""The one jit decorator of simalloc.

Every kernel is compiled with ``cache=True`` so a fresh process reuses the machine code from
``__pycache__``. Kernels dispatch on small integer codes rather than taking jitted functions as
arguments: a function argument makes a cached kernel recompile in every process.
"""

from __future__ import annotations

import numba

__all__ = ["jit"]


def jit(fn=None, **options):
    """``numba.njit(cache=True, **options)``, usable bare or with options."""
    options.setdefault("cache", True)
    if fn is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(fn)
