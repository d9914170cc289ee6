"""The one jit decorator of simalloc.

Every kernel is compiled with ``cache=True`` so a fresh process reuses the machine code from
``__pycache__``. Kernels dispatch on small integer codes rather than taking jitted functions as
arguments: a function argument makes a cached kernel recompile in every process.

Numba keys a cached kernel on its own source file only: a kernel that inlines a jitted function
from another module keeps the old callee after that module changes (a silently wrong result after an
edit or an upgrade). So at import the sources of every simalloc module are hashed, and when the hash
differs from the one the cache was built with, simalloc's cache files are removed before anything
compiles.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba

__all__ = ["jit"]

_PACKAGE = Path(__file__).resolve().parent


def _invalidate_stale_cache() -> None:
    sources = sorted(_PACKAGE.rglob("*.py"))
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    stamp = _PACKAGE / "__pycache__" / "numba-sources.sha256"
    current = digest.hexdigest()
    try:
        if stamp.is_file() and stamp.read_text() == current:
            return
        for cached in _PACKAGE.rglob("__pycache__/*.nb[ic]"):
            cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(current)
    except OSError:  # a read-only install: numba falls back to its user cache dir; nothing to clean here
        pass


_invalidate_stale_cache()


def jit(fn=None, **options):
    """``numba.njit(cache=True, **options)``, usable bare or with options."""
    options.setdefault("cache", True)
    if fn is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(fn)
