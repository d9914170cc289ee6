"""Grading final answers: a safe pre-filter, exact rational equality for numbers, math-verify for the rest.

``verify(completion, reference)`` (``simalloc.live.tasks``) is the live mode's reward, so a policy is optimized
against it: it must be right on the formats models really write, and it must never run model text or hang.

Pipeline (``Grader.grade``):

1. **Answer span.** From the completion's last ``max_text_chars`` characters, the last of: the final group of
   ``\\boxed{}`` / ``\\fbox{}`` (boxes separated by short connectors form one multi-part answer, "2, 3"); the text
   after ``####``; the rest of the line after "answer:" / "final answer is" / "answer is" (markdown around it
   allowed). With none of these, math-verify's own extraction reads the completion's tail.
2. **Pre-filter** (refused -> reward 0, counted): an answer span longer than ``max_answer_chars``, brackets nested
   deeper than ``max_depth``, exponent towers (an exponent holding another exponent), exponents or scientific
   exponents above ``max_exponent``, digit runs longer than ``max_digits``, factorials above ``max_factorial``.
   Applied to the span, to any text handed to math-verify, and to the reference.
3. **Hedges** score 0: a span offering two different values ("12 or 13").
4. **Plain numbers** (integers, decimals, thousands separators including ``{,}``, fractions ``a/b`` and
   ``\\frac{a}{b}``, scientific notation, with ``$``/``\\$``, percent signs, degrees, trailing units or words, a
   leading "x =") compare by exact rational equality: no tolerance, so 1000001 != 1000000. A percent sign may be
   read either way: "25%" equals 25 and 0.25.
5. **Everything else** goes to math-verify (``parse`` + ``verify``, float rounding 6, strict) in a persistent
   worker process with a hard wall-clock kill: a timed-out or crashed answer scores 0, is counted, and the worker
   is restarted. The worker works the same from threads and Ray workers (math-verify's own ``signal.alarm``
   limits only work in a main thread, which the worker's is).

Nothing evaluates model text as code: this module uses regular expressions and ``fractions.Fraction`` on
bounded strings; math-verify parses LaTeX with a grammar and expressions only after a digits-and-operators regex.

References
----------
Kydlicek et al., Math-Verify (HuggingFace), https://github.com/huggingface/Math-Verify, version 0.9.0.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

__all__ = ["GraderSettings", "Grader", "AnswerSpan", "find_answer", "plain_number", "refusal", "default_grader",
           "configure_grader"]

WORKER = Path(__file__).with_name("grading_worker.py")


@dataclass(frozen=True)
class GraderSettings:
    """The grader's limits; every one is an option with a documented default.

    Attributes
    ----------
    timeout : float
        Hard wall-clock limit in seconds for one math-verify comparison (the worker is killed past it), default 2.
    max_text_chars : int
        How much of a completion's end is read (answers sit at the end), default 16000.
    max_answer_chars : int
        Longest answer span (and reference) graded, default 300.
    max_digits : int
        Longest digit run in an answer, default 100.
    max_exponent : int
        Largest exponent (``^``, ``**``, ``e``-notation), default 1000.
    max_depth : int
        Deepest bracket nesting, default 20.
    max_factorial : int
        Largest n in ``n!``, default 1000.
    workers : int
        math-verify worker processes (each ~150 MB); ``Grader.grade_many`` keeps them all busy, default 1.
    """

    timeout: float = 2.0
    max_text_chars: int = 16000
    max_answer_chars: int = 300
    max_digits: int = 100
    max_exponent: int = 1000
    max_depth: int = 20
    max_factorial: int = 1000
    workers: int = 1

    def __post_init__(self):
        if not (isinstance(self.timeout, (int, float)) and 0 < self.timeout <= 600):
            raise ValueError(f"timeout: must be a number of seconds in (0, 600], got {self.timeout!r}")
        for name in ("max_text_chars", "max_answer_chars", "max_digits", "max_exponent", "max_depth",
                     "max_factorial", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")


# ------------------------------------------------------------------------------------------- answer spans

@dataclass(frozen=True)
class AnswerSpan:
    """The final answer found in a completion: its text, where it came from ("boxed", "####", "marker") and
    where it starts in the text that was searched.

    Attributes
    ----------
    text : str
        The answer (several boxed answers joined by ", ").
    source : {"boxed", "####", "marker"}
        Which rule found it.
    start : int
        Its offset in the searched text.
    """

    text: str
    source: str
    start: int


_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_MARKER = re.compile(r"\banswer\b(?:\s+(?:to|for|of)\b[^\n:]{0,100})?[ \t*_#]*(?::|：|\bis\b:?)[ \t*_]*",
                     re.IGNORECASE)
_LATEX_MATH = re.compile(r"\$|\\[(\[]|\\[A-Za-z]+")
#: a number in prose: not glued to a preceding letter ("AZYUK2A" holds none), units may follow ("1,000.99m²")
_PROSE_NUMBER = re.compile(r"(?<![A-Za-z0-9_.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s*%)?")
_HASHES = re.compile(r"####[ \t]*")
_GAP_NOISE = re.compile(r"\\q?quad|\\text\s*\{|\\[()\[\]]|\$|[{}]")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n\s*\n")


def _balanced(text: str, start: int, limit: int) -> int:
    """Index just past the brace that closes the one opened before ``start`` (-1 if unbalanced or too deep)."""
    depth = 1
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
            if depth > limit:
                return -1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _boxes(text: str, limit: int) -> list[tuple[int, int, str]]:
    out = []
    for m in _BOX.finditer(text):
        end = _balanced(text, m.end(), limit)
        if end > 0:
            out.append((m.start(), end, text[m.end():end - 1].strip()))
    return out


_LEADING_VALUE = re.compile(
    r"[\"'“]?\s*(?P<n>[-+]?\d[\d.,/]*?)\s*[\"'”]?\s*(?:[,;]\s+(?=[A-Za-z]{2})|\s(?:which|because|as|since|"
    r"so|and|but)\b|(?<=\s)\((?=[^()]*[A-Za-z]{3}))"  # "72 (48 in April and 24 in May)": a worded aside
)


#: a word of doubt directly before another value ("maybe 73", "possibly 73", "wrong: 20", "might be 73")
_DOUBT = re.compile(r"\b(?:maybe|perhaps|possibly|probably|might\s+be|could\s+be|unsure|wrong|alternatively)"
                    r"\s*[:,]?\s*[-+$]?\d", re.IGNORECASE)


def _second_guess(rest: str) -> bool:
    """What follows the value stated first offers another value in doubt ("72, but maybe 73", "72 (possibly
    73)", "18 (wrong: 20)"): then the first value is not the answer given. An aside that only explains
    ("72 (48 in April and 24 in May)", "72, which is actually 8 more than 64") is not one."""
    return bool(_DOUBT.search(rest))


def _clean_line(span: str) -> str:
    """The answer in the rest of a marker's line: up to the first sentence end, markdown and $...$ removed, and
    for prose ("The volume of $V$ is 120") what follows the last "is"."""
    span = re.split(r"<\|", span, maxsplit=1)[0]  # chat-template tokens after the answer
    span = re.split(r"\.(?:\s|$)", span, maxsplit=1)[0]
    span = span.strip().strip("*_\"'“”").strip()
    if len(span) >= 2 and span[0] == "$" and span[-1] == "$":
        span = span.strip("$").strip()
    lead = _LEADING_VALUE.match(span)
    if (lead and plain_number(lead.group("n")) is not None and not _hedged(span)
            and not _second_guess(span[lead.end():])):
        return lead.group("n")  # "5", as 3 + 3 equals 6: the value stated first is the answer given
    if plain_number(span) is None:
        m = None
        for m in re.finditer(r"\b(?:is|are|equals)\b\s*:?", span):
            pass
        if m is not None:
            span = span[m.end() :].strip().strip("$\"'“”").strip()
        elif (
            re.search(r"[A-Za-z]{3,}", span)
            and not re.search(r"[\\$^_=+*/{}]", span)
            and len(numbers := _NUMBER.findall(span)) == 1
        ):
            span = "".join(numbers[0])  # prose around one number: "Jane started 3 hours ago"
    return span


def find_answer(text: str, settings: GraderSettings | None = None) -> AnswerSpan | None:
    """The final answer span in ``text`` (see the module docstring), or None when no marker is found.

    Parameters
    ----------
    text : str
        A completion (its last ``max_text_chars`` characters are searched).
    settings : GraderSettings, optional
        The limits (default: the default grader's).

    Returns
    -------
    AnswerSpan or None

    Examples
    --------
    >>> find_answer("**Answer:** 72 clips").text
    '72 clips'
    >>> find_answer("so $x = \\\\boxed{2}$ and $y = \\\\boxed{3}$").text
    '2, 3'
    >>> find_answer("Natalia sold 72 clips.") is None
    True
    """
    settings = settings or GraderSettings()
    text = text[-settings.max_text_chars :]
    found: list[AnswerSpan] = []
    boxes = _boxes(text, settings.max_depth)
    if boxes:
        group = [boxes[-1]]
        for prev in reversed(boxes[:-1]):
            gap = _GAP_NOISE.sub(" ", text[prev[1] : group[0][0]]).strip()
            if len(gap) > 40 or _SENTENCE_END.search(gap):  # a short connector ("and", "for part (b)") only
                break
            group.insert(0, prev)
        parts = list(dict.fromkeys(b[2] for b in group))
        found.append(AnswerSpan(", ".join(parts), "boxed", group[0][0]))
    for source, pattern in (("####", _HASHES), ("marker", _MARKER)):
        last = None
        for last in pattern.finditer(text):
            pass
        if last is not None:
            line = text[last.end() :].split("\n", 1)[0]
            inner = _boxes(line, settings.max_depth)
            span = inner[-1][2] if inner else _clean_line(line)
            if span:
                found.append(AnswerSpan(span, source, last.start()))
    return max(found, key=lambda a: a.start) if found else None


# -------------------------------------------------------------------------------------------- pre-filter

_DIGITS = re.compile(r"\d+")
_POWER = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*([-+]?\s*\d+(?:\.\d+)?)")
_SCI = re.compile(r"\d[eE]\s*([-+]?\d+)")
_FACTORIAL = re.compile(r"(\d+)\s*!")
_TOWER = re.compile(r"(?:\^|\*\*)\s*(?:\{[^{}]*(?:\^|\*\*)|\(?[\w.]+\s*(?:\^|\*\*))")


def refusal(text: str, settings: GraderSettings | None = None, *, span: bool = True) -> str | None:
    """Why ``text`` is refused by the pre-filter (None when it passes): length (answer spans only), nesting,
    exponent towers, large exponents, long digit runs, large factorials.

    Parameters
    ----------
    text : str
        An answer span or reference.
    settings : GraderSettings, optional
        The limits (default: the default grader's).
    span : bool, default True
        Apply the length limit (answer spans only; a whole completion is longer).

    Returns
    -------
    str or None
        The reason, e.g. "exponent 999999999 > 1000".

    Examples
    --------
    >>> refusal("Answer: 1e999999999")
    'exponent 999999999 > 1000'
    >>> refusal("9**9**9**9")
    'exponent tower'
    >>> refusal("\\\\frac{3}{4}") is None
    True
    """
    s = settings or GraderSettings()
    if span and len(text) > s.max_answer_chars:
        return f"answer longer than {s.max_answer_chars} characters"
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    if deepest > s.max_depth:
        return f"nesting depth {deepest} > {s.max_depth}"
    if _TOWER.search(text):
        return "exponent tower"
    for m in _DIGITS.finditer(text):
        if m.end() - m.start() > s.max_digits:
            return f"a number with more than {s.max_digits} digits"
    for pattern in (_POWER, _SCI):
        for m in pattern.finditer(text):
            value = abs(float(m.group(1).replace(" ", "")))
            if value > s.max_exponent:
                return f"exponent {m.group(1).strip()} > {s.max_exponent}"
    for m in _FACTORIAL.finditer(text):
        if int(m.group(1)) > s.max_factorial:
            return f"factorial {m.group(1)}! > {s.max_factorial}!"
    return None


# ------------------------------------------------------------------------------------------ plain numbers

_WRAPPERS = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SPACES = re.compile(r"\\[,;:! ]|\\quad|\\qquad|~|\\left|\\right")
_INT = r"\d+"
_NUM = (
    r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,234,567.8
    r"|\d+,\d+"  # 1000,99 (a decimal comma)
    r"|\d{1,3}(?: \d{3})+(?:\.\d+)?"  # 1 234 567
    r"|\d+\.\d*|\.\d+|\d+"  # 12.5 .5 12
    r")(?:[eE][-+]?\d+)?"
)
_NUMBER = re.compile(rf"(?P<sign>[-+−]?)\s*(?P<num>{_NUM})")
_FRAC = re.compile(
    r"(?P<sign>[-+−]?)\s*\\[dtc]?frac\s*(?:\{\s*(?P<a>-?\d+)\s*\}|(?P<a1>\d))\s*"
    r"(?:\{\s*(?P<b>-?\d+)\s*\}|(?P<b1>\d))"
)
_SLASH = re.compile(r"(?P<sign>[-+−]?)\s*(?P<a>\d+)\s*/\s*(?P<b>\d+)")
_PERCENT = re.compile(r"\s*(?:\\%|%|percent(?:age)?|pct)\s*$", re.IGNORECASE)
_TRAILING = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree|degrees?|\\circ)\s*$")
#: trailing units or words ("72 clips", "5 cm", "10km", "3 m/s"); one letter glued to the number is a variable, not
#: a unit ("\\frac{1}{2}x", "2x" are not numbers)
_UNITS = re.compile(r"(?:\s+[A-Za-z]|[A-Za-z]{2}|[A-Za-z][²³/])[A-Za-z .²³/]*$")


def _decimal_comma(num: str) -> str:
    """'1000,99' and '0,111' are decimal commas (math-verify reads them so); '1,000' is a thousands separator."""
    if re.fullmatch(r"\d+,\d+", num) and not re.fullmatch(r"[1-9]\d{0,2}(?:,\d{3})+", num):
        return num.replace(",", ".")
    return num.replace(",", "").replace(" ", "")


def plain_number(text: str) -> tuple[Fraction, bool] | None:
    """``text`` as an exact rational and whether it carried a percent sign, or None if it is not a plain number.

    Parameters
    ----------
    text : str
        An answer span (LaTeX wrappers, thousands separators, currency and units are stripped first).

    Returns
    -------
    (fractions.Fraction, bool) or None

    Examples
    --------
    >>> plain_number("\\\\$1{,}234.50")
    (Fraction(2469, 2), False)
    >>> plain_number("\\\\frac12")
    (Fraction(1, 2), False)
    >>> plain_number("25\\\\%")
    (Fraction(25, 1), True)
    >>> plain_number("x = 3"), plain_number("72 clips"), plain_number("90^\\\\circ")
    ((Fraction(3, 1), False), (Fraction(72, 1), False), (Fraction(90, 1), False))
    >>> plain_number("x^2 + 1") is None
    True
    """
    s = text.strip()
    if len(s) > 200:
        return None
    s = s.strip("$").strip()
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    s = s.replace("{,}", ",").replace(",\\!", ",").replace("\\$", "").replace("$", "").replace("€", "")
    s = s.replace("£", "").replace("−", "-")
    s = _SPACES.sub(" ", s)
    s = _WRAPPERS.sub(r" \1 ", s).strip()
    s = re.sub(r"^(?:[A-Za-z](?:_\{?\w+\}?)?|\w+)\s*=\s*", "", s)  # "x = 3", "k=3"
    s = re.sub(r"^(?:USD|dollars?)\s*", "", s, flags=re.IGNORECASE)
    percent = bool(_PERCENT.search(s))
    s = _PERCENT.sub("", s)
    s = _TRAILING.sub("", s)
    for pattern in (_FRAC, _SLASH):
        m = pattern.fullmatch(s) or pattern.fullmatch(_UNITS.sub("", s))
        if m:
            a = int(m.group("a") if m.group("a") is not None else m.group("a1"))
            b = int(m.group("b") if m.group("b") is not None else m.group("b1"))
            if b == 0:
                return None
            value = Fraction(a, b)
            return (-value if m.group("sign") in ("-", "−") else value), percent
    m = _NUMBER.fullmatch(s)
    if m is None:
        stripped = _UNITS.sub("", s).strip()
        if stripped != s and stripped:
            m = _NUMBER.fullmatch(stripped)
    if m is None:
        return None
    exponent = re.search(r"[eE]([-+]?\d+)$", m.group("num"))
    if exponent and abs(int(exponent.group(1))) > 1000:  # Fraction would build 10^exponent
        return None
    try:
        value = Fraction(_decimal_comma(m.group("num")))
    except (ValueError, ZeroDivisionError):
        return None
    return (-value if m.group("sign") in ("-", "−") else value), percent


def _numbers_equal(pred: tuple[Fraction, bool], ref: tuple[Fraction, bool]) -> bool:
    (p, p_pct), (r, r_pct) = pred, ref
    if p == r:
        return True
    return (p_pct and p / 100 == r) or (r_pct and r / 100 == p)


_OR = re.compile(r"\s+or\s+|\\text\{\s*or\s*\}|\\lor")


def _alternatives(span: str) -> list[str]:
    """The parts of ``span`` joined by "or" ("12 or 13", "x = -2 \\text{ or } x = 3"), "either" dropped."""
    parts = [p.strip() for p in _OR.split(span) if p.strip()]
    return [re.sub(r"^either\s+", "", p, flags=re.IGNORECASE) for p in parts]


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at the commas outside brackets ("-2, 3" -> two parts; "(1, 2)" stays one)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _roots_against_list(span: str, reference: str) -> float | None:
    """An answer listing values with "or" ("x = -2 or x = 3", an equation's roots) against a reference that lists
    several values ("-2, 3"): the same answer, not a hedge. 1.0 / 0.0 by exact comparison of the two multisets
    when every part is a plain number; None when the rule does not apply (a single-valued reference: then "or"
    is a hedge) or a part is not a plain number."""
    if plain_number(reference) is not None:
        return None  # one value ("1,234"): offering two is a hedge
    ref = [plain_number(p) for p in _top_level_parts(reference)]
    pred = [plain_number(p) for p in _alternatives(span)]
    if len(ref) < 2 or len(pred) < 2 or any(v is None for v in ref + pred):
        return None
    return float(sorted(v[0] for v in pred) == sorted(v[0] for v in ref))


def _hedged(span: str) -> bool:
    """Two different values offered ("12 or 13", "either 4 or 5"): a hedge, never a correct answer."""
    parts = _alternatives(span)
    if len(parts) < 2:
        return False
    values = [plain_number(p) for p in parts]
    if all(v is not None for v in values):
        return len({v[0] for v in values}) > 1
    return len({re.sub(r"\s+", "", p) for p in parts}) > 1


# ------------------------------------------------------------------------------------------------ worker


class _Worker:
    """One math-verify process: one request line out, one answer line back, killed when it overruns."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.pid_owner = os.getpid()
        self.buffer = b""
        self.lock = threading.Lock()

    def _start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(self.timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.pid_owner = os.getpid()
        self.buffer = b""
        line = self._readline(120.0)
        if line is None or not json.loads(line).get("ready"):
            self.kill()
            raise RuntimeError(
                "grader: the math-verify worker did not start; is math-verify installed? (pip install 'simalloc[live]')"
            )

    def _readline(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def kill(self):
        if self.proc is not None and self.pid_owner == os.getpid():
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def ask(self, request: dict) -> tuple[int, str]:
        """(verdict, status): status "" on success, "timeout", "crash" or math-verify's error text. The caller
        holds ``lock``."""
        if self.proc is None or self.pid_owner != os.getpid() or self.proc.poll() is not None:
            self.proc = None  # a forked child never touches its parent's worker
            self._start()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return 0, "crash"
        line = self._readline(self.timeout)
        if line is None:
            status = "crash" if self.proc.poll() is not None else "timeout"
            self.kill()
            return 0, status
        reply = json.loads(line)
        return int(reply["ok"]), reply.get("error", "")


# ------------------------------------------------------------------------------------------------ grader


@dataclass
class Grader:
    """Grades completions against reference answers (the module docstring gives the pipeline).

    Thread-safe; ``settings.workers`` math-verify worker processes, each started on first use and restarted
    after a kill (a thread takes a free one, else waits for its own). ``stats``
    counts what happened: graded, exact (plain-number path), math_verify, refused, hedged, timeouts, crashes,
    errors (math-verify raised).

    Parameters
    ----------
    settings : GraderSettings, optional
        The limits and the number of worker processes.
    stats : dict, optional
        Counters to continue from (default: all zero).

    References
    ----------
    math-verify (huggingface/Math-Verify): ``parse`` and ``verify``, run in the worker.

    Examples
    --------
    >>> g = Grader()
    >>> g.grade("Natalia sold 48 + 24 = 72 clips. #### 72", "72"), g.grade("**Answer:** 1000001", "1000000")
    (1.0, 0.0)
    >>> g.grade("Answer: 12 or 13", "12"), g.grade("Answer: 1e999999999", "42")
    (0.0, 0.0)
    """

    settings: GraderSettings = field(default_factory=GraderSettings)
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        self._workers = [_Worker(self.settings.timeout) for _ in range(self.settings.workers)]
        self._stats_lock = threading.Lock()
        for key in ("graded", "exact", "math_verify", "refused", "hedged", "timeouts", "crashes", "errors"):
            self.stats.setdefault(key, 0)
        atexit.register(self.close)

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def start(self) -> "Grader":
        """Start every worker process now (each takes about a second to import math-verify) instead of on first
        use; returns self."""
        for worker in self._workers:
            with worker.lock:
                if worker.proc is None or worker.pid_owner != os.getpid():
                    worker.proc = None
                    worker._start()
        return self

    def close(self) -> None:
        """Stop the worker processes (a later call starts new ones)."""
        for worker in self._workers:
            with worker.lock:
                worker.kill()

    def grade_many(self, completions, references) -> list[float]:
        """``grade`` for each (completion, reference) pair, spread over the worker processes by as many threads."""
        completions, references = list(completions), list(references)
        if len(completions) != len(references):
            raise ValueError(f"references: expected one per completion ({len(completions)}), got {len(references)}")
        if self.settings.workers == 1:
            return [self.grade(c, r) for c, r in zip(completions, references)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.settings.workers) as pool:
            return list(pool.map(self.grade, completions, references))

    def grade(self, completion: str, reference: str) -> float:
        """1.0 if the completion's final answer equals ``reference``, else 0.0 (refused, hedged, timed out or
        crashed answers included)."""
        if not isinstance(completion, str):
            raise ValueError(f"completion: expected a string (the model's text), got {type(completion).__name__}")
        reference = self._reference(reference)
        self._count("graded")
        if refusal(reference, self.settings, span=False) is not None:
            self._count("refused")
            return 0.0
        text = completion[-self.settings.max_text_chars :]
        span = find_answer(text, self.settings)
        if span is not None:
            return self._compare(span.text, reference, text)
        if refusal(text, self.settings, span=False) is not None:
            self._count("refused")
            return 0.0
        pred, ref = plain_number(text), plain_number(reference)
        if ref is not None and (pred is not None or not _LATEX_MATH.search(text)):
            # the completion is a number, or prose without a marker or LaTeX: its last number is the answer
            # (math-verify's expression extraction would also read a restated "9 - 6" as an answer)
            if pred is None:
                numbers = _PROSE_NUMBER.findall(text)
                pred = plain_number(numbers[-1]) if numbers else None
            self._count("exact")
            return float(pred is not None and _numbers_equal(pred, ref))
        return self._math_verify(reference, text, None)

    def grade_answer(self, answer: str | None, reference: str) -> float:
        """1.0 if an already extracted ``answer`` equals ``reference`` (no extraction), else 0.0."""
        reference = self._reference(reference)
        if answer is None:
            return 0.0
        if not isinstance(answer, str):
            raise ValueError(f"answer: expected a string or None, got {type(answer).__name__}")
        self._count("graded")
        return self._compare(answer.strip(), reference, None)

    def _reference(self, reference) -> str:
        if not isinstance(reference, str):
            raise ValueError(f"reference: expected the reference answer as a string, got {type(reference).__name__}")
        if not reference.strip():
            raise ValueError("reference: must not be empty")
        return reference.strip()

    def _compare(self, span: str, reference: str, text: str | None) -> float:
        if refusal(span, self.settings) is not None or refusal(reference, self.settings, span=False) is not None:
            self._count("refused")
            return 0.0
        roots = _roots_against_list(span, reference)
        if roots is not None:
            self._count("exact")
            return roots
        if _hedged(span):
            self._count("hedged")
            return 0.0
        pred, ref = plain_number(span), plain_number(reference)
        if pred is not None and ref is not None:
            self._count("exact")
            return float(_numbers_equal(pred, ref))
        return self._math_verify(reference, text, span)

    def _math_verify(self, reference: str, text: str | None, span: str | None) -> float:
        if refusal(reference, self.settings, span=False) is not None:
            self._count("refused")
            return 0.0
        self._count("math_verify")
        worker = next((w for w in self._workers if w.lock.acquire(blocking=False)), None)
        if worker is None:  # all busy: wait for this thread's own
            worker = self._workers[threading.get_ident() % len(self._workers)]
            worker.lock.acquire()
        try:
            ok, status = worker.ask({"id": 0, "gold": reference, "pred": text or "", "span": span or ""})
        finally:
            worker.lock.release()
        if status == "timeout":
            self._count("timeouts")
        elif status == "crash":
            self._count("crashes")
        elif status:
            self._count("errors")
        return float(ok)


_DEFAULT: Grader | None = None
_DEFAULT_LOCK = threading.Lock()


def default_grader() -> Grader:
    """The grader ``verify`` uses (created on first use with ``GraderSettings()``)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Grader()
        return _DEFAULT


def configure_grader(**settings) -> Grader:
    """Replace the default grader by one with these ``GraderSettings`` (e.g. ``timeout=5``) and return it.

    Parameters
    ----------
    **settings
        Fields of ``GraderSettings``; the rest keep their defaults.

    Returns
    -------
    Grader
        The new default grader (the old one's workers are closed).
    """
    global _DEFAULT
    new = Grader(replace(GraderSettings(), **settings))
    with _DEFAULT_LOCK:
        if _DEFAULT is not None:
            _DEFAULT.close()
        _DEFAULT = new
    return new
