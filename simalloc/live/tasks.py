"""Tasks and verifiers for live rollouts: generated arithmetic, user JSONL datasets, answer checking.

Prompt template (chat format, applied with the tokenizer's chat template):
    user: "{question}\\nGive only the final answer after 'Answer:'."
Grading (``verify``) is ``simalloc.live.grading``: answer extraction, a safe pre-filter, exact rational equality
for plain numbers and math-verify for everything else, in a worker process with a hard time limit. Model text is
never evaluated as code: the RL policy is optimized against this function.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .grading import default_grader, find_answer

__all__ = [
    "Task",
    "PROMPT_SUFFIX",
    "arithmetic_tasks",
    "basic_tasks",
    "BASIC_KINDS",
    "load_jsonl",
    "extract_answer",
    "answers_equivalent",
    "verify",
]

PROMPT_SUFFIX = "\nGive only the final answer after 'Answer:'."


@dataclass(frozen=True)
class Task:
    """One question with its reference answer.

    Attributes
    ----------
    question : str
        The question text; ``prompt()`` appends ``PROMPT_SUFFIX``.
    answer : str
        The reference answer the grader compares with.
    difficulty : int, default 0
        The generator's level (``arithmetic_tasks``) or kind index (``basic_tasks``); 0 for loaded tasks.
    """

    question: str
    answer: str
    difficulty: int = 0

    def prompt(self) -> str:
        """The user message: the question and ``PROMPT_SUFFIX`` (asks for the answer after 'Answer:')."""
        return self.question + PROMPT_SUFFIX


def arithmetic_tasks(n: int, rng=None, levels=(0, 1, 2, 3, 4)) -> list[Task]:
    """Arithmetic and short word problems with graded difficulty (0: one-digit sums ... 4: two-step word problems),
    so a small model shows pass rates spread between 0 and 1.

    Parameters
    ----------
    n : int
        How many tasks (>= 1); levels cycle in the order of ``levels``.
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    levels : sequence of int, default (0, 1, 2, 3, 4)
        0: one-digit sums, 1: two-digit sums, 2: times tables, 3: a*b - c, 4: two-step word problems.

    Returns
    -------
    list of Task
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    rng = np.random.default_rng(rng)
    names = ["Ana", "Ben", "Chen", "Dia", "Eli", "Fay"]
    items = ["apples", "books", "coins", "pens", "stamps"]
    out = []
    for i in range(n):
        level = int(levels[i % len(levels)])
        if level == 0:
            a, b = rng.integers(1, 10, 2)
            q, ans = f"What is {a} + {b}?", a + b
        elif level == 1:
            a, b = rng.integers(10, 100, 2)
            q, ans = f"What is {a} + {b}?", a + b
        elif level == 2:
            a, b = rng.integers(3, 13, 2)
            q, ans = f"What is {a} times {b}?", a * b
        elif level == 3:
            a, b, c = rng.integers(12, 60, 3)
            q, ans = f"What is {a} * {b} - {c}?", a * b - c
        else:
            nm, it = names[rng.integers(len(names))], items[rng.integers(len(items))]
            a, b, c = rng.integers(5, 40), rng.integers(2, 9), rng.integers(3, 20)
            q = (
                f"{nm} has {a} {it}. {nm} buys {b} boxes with {c} {it} each, then gives away {a // 2} {it}. "
                f"How many {it} does {nm} have now?"
            )
            ans = a + b * c - a // 2
        out.append(Task(q, str(int(ans)), level))
    return out


#: the kinds of ``basic_tasks``, in the order they cycle (the ``difficulty`` field is the index here)
BASIC_KINDS = (
    "next number",
    "one-digit sum",
    "ten plus",
    "times table",
    "larger of two",
    "one-digit difference",
    "half",
    "double",
)


def basic_tasks(n: int, rng=None) -> list[Task]:
    """Very short numeric questions cycling through ``BASIC_KINDS``, for a 135M-parameter model.

    ``arithmetic_tasks`` is too hard for SmolLM2-135M (a pilot of 8 samples on 50 tasks at temperature 0.7: no
    two-digit sum, three-number expression or word problem was ever solved). These kinds each had pass rates
    between 0 and ~0.6 in a pilot of 8 tasks x 8 samples per kind, so a pool of them spreads over (0, 1) with a
    minority never solved (docs/live_pool/README.md reports the histogram of the recorded pool).

    Parameters
    ----------
    n : int
        How many tasks (>= 1).
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).

    Returns
    -------
    list of Task
        ``difficulty`` is the index of the task's kind in ``BASIC_KINDS``.
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    rng = np.random.default_rng(rng)
    out = []
    for i in range(n):
        kind = i % len(BASIC_KINDS)
        if kind == 0:
            a = int(rng.integers(1, 30))
            q, ans = f"What number comes after {a}?", a + 1
        elif kind == 1:
            a, b = (int(x) for x in rng.integers(1, 10, 2))
            q, ans = f"What is {a} + {b}?", a + b
        elif kind == 2:
            b = int(rng.integers(1, 10))
            q, ans = f"What is 10 + {b}?", 10 + b
        elif kind == 3:
            a, b = (int(x) for x in rng.integers(2, 10, 2))
            q, ans = f"What is {a} times {b}?", a * b
        elif kind == 4:
            a, b = (int(x) for x in rng.choice(np.arange(1, 50), 2, replace=False))
            q, ans = f"Which number is larger, {a} or {b}?", max(a, b)
        elif kind == 5:
            a = int(rng.integers(5, 10))
            b = int(rng.integers(1, a))
            q, ans = f"What is {a} - {b}?", a - b
        elif kind == 6:
            a = int(rng.integers(2, 10))
            q, ans = f"What is half of {2 * a}?", a
        else:
            a = int(rng.integers(2, 10))
            q, ans = f"What is double {a}?", 2 * a
        out.append(Task(q, str(ans), kind))
    return out


def load_jsonl(path, question_key=None, answer_key=None) -> list[Task]:
    """Tasks from a JSONL file in the common format: {"question": ..., "answer": ...} (also "problem"/"solution";
    GSM8K answers "... #### 42" keep the part after ####, MATH solutions their last \\boxed{}).

    Parameters
    ----------
    path : path-like
        The JSONL file, one task per line (blank lines skipped).
    question_key, answer_key : str, optional
        Field names when they are not question/problem and answer/solution.

    Returns
    -------
    list of Task

    Raises
    ------
    ValueError
        "<file> line <n>: ..." for a line that is not JSON or has no question or answer; an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such JSONL file {str(path)!r}")
    tasks = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} line {line_no}: not valid JSON ({exc.msg})") from None
        q = row.get(question_key or "question", row.get("problem"))
        a = row.get(answer_key or "answer", row.get("solution"))
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"{path.name} line {line_no}: no question (expected a 'question' or 'problem' string)")
        if a is None or (isinstance(a, str) and not a.strip()):
            raise ValueError(f"{path.name} line {line_no}: no answer (expected an 'answer' or 'solution' field)")
        a = str(a)
        if "####" in a:
            a = a.split("####")[-1].strip()
        elif "\\boxed" in a:
            span = find_answer(a)
            a = span.text if span is not None and span.source == "boxed" else a
        tasks.append(Task(q.strip(), a.strip()))
    if not tasks:
        raise ValueError(f"{path.name}: no tasks")
    return tasks


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?|-?\.\d+")


def extract_answer(completion: str) -> str | None:
    """The final answer in a completion, or None: the grader's answer span (``grading.find_answer``: boxed,
    ``####``, "answer:"), else the last number in the text's tail. Used as the vote label of a rollout.

    Parameters
    ----------
    completion : str
        The model's text (only the last ``GraderSettings.max_text_chars`` characters are read).

    Returns
    -------
    str or None
        The answer text; None for a non-string or a completion with no answer.

    Examples
    --------
    >>> extract_answer("6 + 7 is 13. Answer: 13")
    '13'
    >>> extract_answer("She has 5 + 37 = 42 apples.\\n#### 42")
    '42'
    >>> extract_answer("the sum is 12, so 12 + 1 = 13")
    '13'
    """
    if not isinstance(completion, str):
        return None
    settings = default_grader().settings
    tail = completion[-settings.max_text_chars :]
    span = find_answer(tail, settings)
    if span is not None:
        return span.text
    nums = _NUMBER.findall(tail[-2000:])
    return nums[-1] if nums else None


def answers_equivalent(predicted: str | None, reference: str) -> bool:
    """Whether an extracted answer equals the reference (``Grader.grade_answer``: exact numbers, else
    math-verify); None is never equivalent.

    Parameters
    ----------
    predicted : str or None
        An extracted answer (``extract_answer``).
    reference : str
        The reference answer.

    Returns
    -------
    bool
    """
    return default_grader().grade_answer(predicted, reference) == 1.0


def verify(completion: str, reference: str) -> float:
    """Reward 1.0 if the completion's final answer equals the reference, else 0.0.

    The default ``simalloc.live.grading.Grader`` decides (``configure_grader`` changes its settings): answer
    extraction, a safe pre-filter, exact rational equality for plain numbers, math-verify in a worker process
    with a hard time limit for everything else; hedged answers ("12 or 13") score 0.

    Parameters
    ----------
    completion : str
        The model's text.
    reference : str
        The reference answer (non-empty).

    Returns
    -------
    float
        1.0 or 0.0 (a grading timeout or worker crash scores 0.0 and is counted in the grader's stats).

    Raises
    ------
    ValueError
        If ``completion`` or ``reference`` is not a string, or ``reference`` is empty.
    """
    return default_grader().grade(completion, reference)
