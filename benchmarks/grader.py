"""Grading throughput: the live reward's grader against math-verify called directly, on one realistic mix.

The mix is ``grading_cases.realistic_cases()``: GSM8K- and MATH-style completions of 300-2,000 characters of
reasoning with their final answers in the formats models write. The grader (two worker processes, as on a 2-core
machine) and math-verify's own ``parse`` + ``verify`` (in this process's main thread, its signal-based time limits
on) grade the same completions in the same run; ``ratio`` is the grader's speed-up. Worker start-up is not
timed; both sides first grade a mix drawn with another seed (the same problems in other words: in training the
same references and answer spellings recur, so math-verify's parse caches are warm for both). Target: >= 300
completions/s.
"""

from __future__ import annotations

import time

from .grading_cases import realistic_cases
from .timing import row


def _math_verify_direct(cases) -> float:
    from math_verify import parse, verify

    start = time.perf_counter()
    for c in cases:
        verify(parse(c["reference"]), parse(c["completion"]))
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict]:
    from simalloc.live.grading import Grader, GraderSettings

    cases = realistic_cases()
    if quick:
        cases = cases[::3]
    warm = realistic_cases(seed=1)
    grader = Grader(GraderSettings(workers=2)).start()
    try:
        grader.grade_many([c["completion"] for c in warm], [c["reference"] for c in warm])
        start = time.perf_counter()
        grader.grade_many([c["completion"] for c in cases], [c["reference"] for c in cases])
        seconds = time.perf_counter() - start
    finally:
        grader.close()
    _math_verify_direct(warm)
    base = _math_verify_direct(cases)
    rate = len(cases) / seconds
    return [row("grader_per_completion", len(cases), seconds / len(cases), base / len(cases),
                ">= 300 completions/s", None if quick else rate >= 300,
                f"baseline: math-verify parse + verify called directly; {rate:.0f} vs "
                f"{len(cases) / base:.0f} completions/s")]
