"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time


def best_of(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` calls after ``warmup`` calls (the least-disturbed run)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def row(name: str, n: int, seconds: float, baseline: float, target: str, ok, note: str = "") -> dict:
    """One result: ``ratio`` = baseline seconds / measured seconds (> 1: faster than the baseline).

    ``ok`` is None where the target is stated for a size this run did not measure (``--quick``).
    """
    return {
        "name": name,
        "n": int(n),
        "seconds": seconds,
        "baseline": baseline,
        "ratio": baseline / seconds if seconds > 0 else float("inf"),
        "target": target,
        "ok": None if ok is None else bool(ok),
        "note": note,
    }
