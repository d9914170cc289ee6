"""The live reward's grader: agreement with math-verify's public cases and a realistic set, safety, time limits."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("math_verify")

from simalloc.live.grading import Grader, GraderSettings, find_answer, plain_number, refusal  # noqa: E402
from simalloc.live.tasks import verify  # noqa: E402

DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    g.grade("Answer: x", "x")  # start the worker once: its start-up (~1 s) is not part of any timed bound below
    yield g
    g.close()


# ------------------------------------------------------------------ math-verify's own public test cases

#: Cases whose expectation depends on a configuration the grader does not use, or on a tolerance it refuses
#: by design; each with the reason. Any other disagreement fails the test below.
KNOWN_DISAGREEMENTS = {
    ("$9$", "Answer $ \n 9 \n $"): "math-verify's case reads LaTeX only (match_types=['latex']); the grader "
                                   "also reads plain numbers, so the 9 is found",
    ("$9$", "Answer \\( \n 9 \n \\)"): "same: LaTeX-only configuration in math-verify's case",
    ("$\\frac{1}{12}$", "$0.0833333333333333$"): "plain numbers compare exactly (no rounding): 0.0833333333333333 "
                                                 "is not 1/12; math-verify rounds both to 6 decimals",
}


def _math_verify_cases() -> list[tuple[str, str, int]]:
    """(gold, pred, expected) from the installed math-verify's sdist tests (``make test`` downloads it beside the
    venv), read by AST, nothing executed. Applicable: cases graded with math-verify's default precision (6) and
    strict mode, without the set-relation option, i.e. what final-answer grading uses."""
    version = importlib.metadata.version("math-verify")
    sdist = Path(sys.prefix) / "sdists" / f"math_verify-{version}.tar.gz"
    if not sdist.is_file():
        pytest.fail(f"{sdist} is missing: `make test` downloads math-verify's sdist (its public test cases) there; "
                    f"or run: pip download --no-deps --no-binary :all: math-verify=={version} -d {sdist.parent}")
    cases = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if "/tests/test_" not in member.name or not member.name.endswith(".py"):
                continue
            tree = ast.parse(tar.extractfile(member).read().decode())
            for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
                if fn.name in ("test_set_rel_assymetry", "test_sqrt_precision", "test_symbols",
                               "test_float_precision", "test_string_extraction") and "yujianll" not in member.name:
                    continue  # other options (set relations, precision 5) or extraction only
                for dec in fn.decorator_list:
                    if not (isinstance(dec, ast.Call) and ast.unparse(dec.func).endswith("parametrize")):
                        continue
                    names = [s.strip() for s in ast.literal_eval(dec.args[0]).split(",")]
                    for values in ast.literal_eval(dec.args[1]):
                        p = dict(zip(names, values))
                        if p.get("precision", 6) != 6 or p.get("strict", True) is not True:
                            continue
                        cases.append((p["gold"], p["pred"], int(p.get("expected", p.get("result")))))
    return cases


def test_agreement_with_math_verify_public_cases(grader):
    cases = _math_verify_cases()
    assert len(cases) >= 200
    wrong = [(gold, pred, exp) for gold, pred, exp in cases if grader.grade(pred, gold) != exp]
    agreement = 1 - len(wrong) / len(cases)
    unexplained = [w for w in wrong if (w[0], w[1]) not in KNOWN_DISAGREEMENTS]
    assert agreement >= 0.96, f"{agreement:.3f}: {wrong}"
    assert not unexplained, unexplained


# --------------------------------------------------------------------------- a realistic GSM8K/MATH set

def test_agreement_on_realistic_completions(grader):
    """>= 150 completions in the formats models write (tests/data/make_grading_cases.py; verdicts by construction):
    >= 96% agreement and at most one false positive."""
    cases = [json.loads(line) for line in (DATA / "grading_cases.jsonl").read_text().splitlines()]
    assert len(cases) >= 150 and {c["kind"] for c in cases} == {"gsm8k", "math"}
    got = [grader.grade(c["completion"], c["reference"]) for c in cases]
    wrong = [(c["reference"], c["completion"][-80:]) for c, g in zip(cases, got) if g != c["expected"]]
    false_pos = [c for c, g in zip(cases, got) if g == 1 and c["expected"] == 0]
    assert 1 - len(wrong) / len(cases) >= 0.96, wrong
    assert len(false_pos) <= 1, false_pos


@pytest.mark.parametrize("completion,reference,expected", [
    ("**Answer:** 72", "72", 1), ("The final answer is: 72", "72", 1), ("Answer: 72 clips", "72", 1),
    ("\\boxed{\\$18}", "18", 1), ("\\boxed{14{,}916}", "14916", 1), ("$\\frac12$", "\\frac{1}{2}", 1),
    ("\\boxed{\\sqrt3}", "\\sqrt{3}", 1), ("\\boxed{\\cfrac{1}{3}}", "1/3", 1), ("\\boxed{x = 3}", "3", 1),
    ("\\boxed{2, 1}", "1, 2", 1), ("$90^\\circ$ is the answer. Answer: $90^\\circ$", "90", 1),
    ("Answer: $5\\text{ cm}$", "5", 1), ("Answer: 25\\%", "25", 1), ("\\boxed{5 \\geq x}", "x \\leq 5", 1),
    ("\\boxed{\\sin x}", "\\sin(x)", 1), ("x = \\boxed{2} and y = \\boxed{3}", "2, 3", 1),
    ("Answer: 1000001", "1000000", 0), ("\\boxed{\\frac{1}{1000000}}", "\\frac{1}{2000000}", 0),
    ("\\boxed{\\sqrt{x^2}}", "x", 0), ("Answer: 12 or 13", "12", 0), ("either 4 or 5. Answer: 4 or 5", "4", 0),
    # a 135M model's prose (docs/live_pool): the question restated is not the answer; the value stated first is
    ('The answer to the question "What is 7 - 1?" is "6".', "6", 1), ("9 - 6 equals 11.", "3", 0),
    ("There is no specific, correct answer to 9 - 6.", "3", 0), ("So, 6 + 5 is ", "11", 0),
    ('The answer is "1", which is "1 + 5"', "6", 0), ('The answer is "5", as 3 + 3 equals 6.', "6", 0),
    ("The final answer is $1, 2$. I hope it is correct.", "1, 2", 1), ("So the answer is 1,234.", "1234", 1),
])
def test_formats_named_in_the_issue(grader, completion, reference, expected):
    assert grader.grade(completion, reference) == expected


@pytest.mark.parametrize("completion,reference,expected", [
    # a letter glued to a number is a variable, not a unit (was a false positive); two-letter units still read
    ("$\\boxed{\\frac{1}{2}x}$", "\\frac{1}{2}", 0), ("\\boxed{2x}", "2", 0), ("Answer: 10km", "10", 1),
    ("Answer: 3 m", "3", 1),
    # a worded aside after the value stated first
    ("Answer: 72 (48 in April and 24 in May)", "72", 1), ("Answer: 72 (48 in April and 24 in May)", "48", 0),
    # ... but not a second guess: another value offered in doubt after it is a hedge (was graded 1)
    ("Answer: 72 (but maybe 73)", "72", 0), ("Answer: 72, but maybe 73", "72", 0), ("Answer: 18 (wrong: 20)", "18", 0),
    ("Answer: 72, probably 73", "72", 0), ("Answer: 72 (maybe fewer)", "72", 1),
    ("Answer: 72, which is actually 8 more than 64", "72", 1), ("Answer: 72 (it might help: 48 + 24)", "72", 1),
    # an equation's roots joined by "or" against a reference that lists them; against one value it is a hedge
    ("\\boxed{x = -2 \\text{ or } x = 3}", "-2, 3", 1), ("\\boxed{x = -2 \\text{ or } x = 3}", "3, -2", 1),
    ("\\boxed{x = -2 \\text{ or } x = 4}", "-2, 3", 0), ("\\boxed{x = -2 \\text{ or } x = 3}", "-2", 0),
    ("\\boxed{x = -2 \\text{ or } x = 3 \\text{ or } x = 5}", "-2, 3", 0), ("Answer: 2 or 3", "2, 3", 1),
])
def test_issue_38_residuals(grader, completion, reference, expected):
    """The hidden realistic set's three residuals (issue 38, item 9) and their neighbours, verdicts by hand."""
    assert grader.grade(completion, reference) == expected


def test_exact_numbers_have_no_tolerance():
    """The plain-number path is exact (a relative tolerance of 1e-6 once accepted 1000001 for 1000000)."""
    assert plain_number("1000001")[0] != plain_number("1,000,000")[0]
    assert plain_number("\\frac{1}{1000000}")[0] != plain_number("\\frac{1}{2000000}")[0]
    assert plain_number("0.5")[0] == plain_number("\\tfrac12")[0] == plain_number("50\\%")[0] / 100
    assert find_answer("#### 1,234\nsome trailing words").text == "1,234"


# ------------------------------------------------------------------------------ safety and time limits

HOSTILE = [
    "Answer: 9**9**9**9", "\\boxed{10^{10^{10^{10}}}}", "Answer: " + "(" * 5000 + "1" + ")" * 5000,
    "Answer: " + "1+" * 100_000 + "1", "Answer: 1e999999999", "Answer: 100000!", "Answer: 123456789^{123456789}",
    "lorem ipsum dolor sit amet " * 8000, "\\boxed{" + "\\frac{" * 3000 + "1" + "}{2}" * 3000 + "}",
    "Answer: __import__('pathlib').Path('{marker}').touch()", "\\boxed{__import__('os').system('touch {marker}')}",
    "Answer: (lambda: open('{marker}', 'w'))()", "The answer is $\\sqrt{" * 40 + "2" + "}" * 40 + "$",
]


def _hostile_run(grader, marker) -> list[tuple[float, float]]:
    out = []
    for text in HOSTILE:
        for reference in ("42", "1e999999999", "x + 1", "100000!"):
            start = time.perf_counter()
            reward = grader.grade(text.replace("{marker}", str(marker)), reference)
            out.append((reward, time.perf_counter() - start))
    return out


def test_hostile_inputs_score_zero_quickly_from_the_main_thread(grader, tmp_path):
    """Each 0 within 3 s; nothing executed (no marker file)."""
    marker = tmp_path / "pwned"
    results = _hostile_run(grader, marker)
    assert all(r == 0.0 for r, _ in results) and max(t for _, t in results) < 3.0
    assert not marker.exists()


def test_hostile_inputs_score_zero_quickly_from_a_worker_thread(grader, tmp_path):
    marker = tmp_path / "pwned"
    box: list = []
    thread = threading.Thread(target=lambda: box.extend(_hostile_run(grader, marker)))
    thread.start()
    thread.join(120)
    assert len(box) == 4 * len(HOSTILE)
    assert all(r == 0.0 for r, _ in box) and max(t for _, t in box) < 3.0
    assert not marker.exists()


def test_refusals_name_their_reason():
    assert refusal("Answer: 1e999999999") == "exponent 999999999 > 1000"
    assert refusal("9**9**9**9") == "exponent tower"
    assert refusal("100000!") == "factorial 100000! > 1000!"
    assert refusal("x" * 301) == "answer longer than 300 characters"
    assert refusal("(" * 21 + ")" * 21).startswith("nesting depth 21")
    assert refusal("\\frac{2^{10}}{3}") is None


def test_a_slow_comparison_is_killed_counted_and_the_worker_restarted():
    """sin(x)^900 + cos(x)^900 against 1 keeps sympy busy for seconds: killed at the 1 s limit, scored 0, counted;
    the next answer is graded by a fresh worker."""
    g = Grader(GraderSettings(timeout=1.0))
    try:
        g.grade("Answer: x", "x")
        start = time.perf_counter()
        assert g.grade("\\boxed{\\sin(x)^{900}+\\cos(x)^{900}}", "1") == 0.0
        assert time.perf_counter() - start < 3.0 and g.stats["timeouts"] == 1
        assert g.grade("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{1}{2}\\sqrt3") == 1.0
    finally:
        g.close()


def test_a_dead_worker_is_replaced(grader):
    grader._workers[0].proc.kill()
    grader._workers[0].proc.wait()
    assert grader.grade("\\boxed{\\frac{\\pi}{4}}", "\\pi/4") == 1.0


def test_many_threads_share_one_grader(grader):
    cases = [("\\boxed{\\sqrt{8}}", "2\\sqrt{2}", 1.0), ("Answer: 7", "7", 1.0), ("\\boxed{x+1}", "x+2", 0.0)] * 8
    out = [None] * len(cases)

    def work(i):
        out[i] = grader.grade(cases[i][0], cases[i][1])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert out == [c[2] for c in cases]


@pytest.mark.parametrize("call,word", [
    (lambda: verify(None, "42"), "completion: expected a string"),
    (lambda: verify("Answer: 42", None), "reference: expected"),
    (lambda: verify("Answer: 42", "  "), "reference: must not be empty"),
    (lambda: GraderSettings(timeout=0), "timeout"), (lambda: GraderSettings(max_digits=0), "max_digits"),
])
def test_bad_input_is_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_the_worker_warm_up_exercises_the_lazily_loaded_paths():
    """The worker grades WARM_UP before it says it is ready, so that the first real answer is not timed against
    sympy's lazy imports (a first (x-1)(x+1) vs x^2-1 took 0.94 s on a quiet core, more than a 2 s limit on a loaded
    one). Every warm-up request must be a real success (ok 1, no error): a request that failed in the parser would
    warm nothing."""
    import importlib.util

    from simalloc.live import grading

    spec = importlib.util.spec_from_file_location("grading_worker", grading.WORKER)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    assert len(worker.WARM_UP) >= 4
    for request in worker.WARM_UP:
        assert worker.grade(request, 5) == (1, ""), request
