"""The grader's worker process: math-verify's parse and verify, one request per line, run as a script.

Started by ``simalloc.live.grading.Grader`` as ``python grading_worker.py TIMEOUT`` (a file path, not an import, so the
worker loads math-verify and nothing of simalloc's numerical stack). Protocol on stdin/stdout, one JSON object per line:
the worker prints ``{"ready": true}`` once math-verify is imported and warmed up (``WARM_UP``), then answers each
request ``{"id", "gold", "pred", "span"}`` with ``{"id", "ok", "error"}``. math-verify's own signal-based time limits
work here because this is the process's main thread; the parent's hard wall-clock kill is the guarantee.

Nothing here evaluates model text as code: math-verify parses LaTeX with an ANTLR grammar and plain expressions through
sympy's parser only after its own digits-and-operators regex (its ``parse_expr`` sees no names).
"""

from __future__ import annotations

import functools
import json
import sys


def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


@functools.lru_cache(maxsize=4096)  # one reference per prompt is graded against every rollout of the prompt
def _gold(reference: str, limit: int):
    """The reference as math-verify sees it: a bare answer is boxed first; one written with $...$, \\boxed or
    as a whole solution is parsed as written."""
    from math_verify import parse

    configs = _configs()
    if "$" not in reference and "\\boxed" not in reference and "\\(" not in reference:
        parsed = parse("\\boxed{" + reference + "}", configs, parsing_timeout=limit)
        if parsed:
            return parsed
    return parse(reference, configs, parsing_timeout=limit)


def grade(request: dict, limit: int) -> tuple[int, str]:
    """1 when math-verify finds the prediction equal to the reference, else 0; the error text when it failed."""
    from math_verify import parse, verify

    configs = _configs()
    try:
        gold = _gold(request["gold"], limit)
        pred = []
        if request.get("span"):
            pred = parse("\\boxed{" + request["span"] + "}", configs, parsing_timeout=limit)
        if not pred and request.get("pred"):
            pred = parse(request["pred"], configs, parsing_timeout=limit)
        if not gold or not pred:
            return 0, "" if gold else "reference not parsed"
        return int(bool(verify(gold, pred, float_rounding=6, strict=True, timeout_seconds=limit))), ""
    except Exception as exc:  # a crash in the parser is a wrong answer, never the caller's exception
        return 0, f"{type(exc).__name__}: {str(exc)[:200]}"


#: graded once before the worker says it is ready: the first LaTeX parse, the first sympy simplification of a
#: polynomial, a sum and a set load modules lazily (0.94 s for the first (x-1)(x+1) vs x^2-1 on a quiet core, 5x that
#: on a loaded one), which would otherwise be timed against the first real answer's limit and score it 0
WARM_UP = (
    {"gold": "1", "pred": "1", "span": "1"},
    {"gold": "\\frac{1}{2}", "pred": "so $\\frac{\\sqrt{4}}{4}$", "span": "\\frac{\\sqrt{4}}{4}"},
    {"gold": "x^2-1", "pred": "Answer: (x-1)(x+1)", "span": "(x-1)(x+1)"},
    {"gold": "F_n = \\sum_{k=1}^{n} k", "pred": "$F_n = \\sum_{k=1}^{n} k$", "span": ""},
    {"gold": "\\{1, 2\\}", "pred": "$x \\in \\{1,2\\}$", "span": ""},
)


def main() -> None:
    limit = max(1, int(float(sys.argv[1]))) if len(sys.argv) > 1 else 1
    import math_verify  # noqa: F401 - import before announcing readiness, so start-up is not timed as grading

    for request in WARM_UP:
        grade(request, limit)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        ok, error = grade(request, limit)
        out.write(json.dumps({"id": request["id"], "ok": ok, "error": error}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
