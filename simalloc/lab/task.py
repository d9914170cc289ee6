"""The lab's task family: two chained operations modulo M, with the intermediate result written out.

A prompt is five tokens ``a o1 b o2 c`` (digits modulo ``modulus``, operations from ``+ - *``); the completion is
two tokens, the intermediate ``z = a o1 b (mod M)`` and the final answer ``y = z o2 c (mod M)``. The reward is 1
when the final token is the digit y, whatever the intermediate token was (a wrong intermediate usually makes a
wrong final answer: errors compound). The answer space is small (M digits, plus malformed completions), so the
probability of every final answer is exact by enumeration (``simalloc.lab.policy.answer_distribution``).

Difficulty is the second operation's **level**, set by the warm start's teacher (``simalloc.lab.warmstart``):
level 0 (``o2 = +``) is taught cleanly, level 1 (``o2 = -``) by a noisy teacher, level 2 (``o2 = *``) not at all,
so after the warm start the policy mostly solves level 0, sometimes level 1 and rarely level 2, where it applies a
confident wrong rule. The set of all prompts is split once (by ``split_seed``) into a training pool and held-out
prompts; eval sets are drawn from the held-out prompts with a difficulty mix of their own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..validation import as_int

__all__ = ["ChainTask", "Prompts", "LabTokenizer", "OPERATIONS", "LEVEL_NAMES"]

#: the operations, in level order of the second operation: "+" level 0, "-" level 1, "*" level 2
OPERATIONS = ("+", "-", "*")
#: what the warm start does with each level (``simalloc.lab.warmstart``)
LEVEL_NAMES = ("taught", "noisy teacher", "untaught")
PAD = "<pad>"


def _apply(op: str, x: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    if op == "+":
        return (x + y) % m
    if op == "-":
        return (x - y) % m
    return (x * y) % m


class LabTokenizer:
    """A word-level tokenizer over the task's vocabulary: ``<pad>``, the operations, the digits 0..M-1.

    Parameters
    ----------
    modulus : int
        M: the digits are 0..M-1.
    symbols : tuple of str, default ``OPERATIONS``
        The non-digit tokens after ``<pad>`` (the v2 task adds ``?``, ``#`` and ``X``: ``simalloc.lab.regimes``).

    Attributes
    ----------
    vocab : tuple of str
        Token strings by id.
    pad_token_id : int
        0 (the GRPO step reads it; lab sequences have equal lengths and are never padded).
    digit_ids : ndarray of int
        The id of digit d at index d.
    """

    def __init__(self, modulus: int, symbols: tuple = OPERATIONS):
        self.vocab = (PAD, *symbols, *(str(d) for d in range(modulus)))
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.pad_token_id = 0
        self.digit_ids = np.arange(len(symbols) + 1, len(self.vocab))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Ids of the space-separated tokens of ``text`` (an unknown token raises ValueError)."""
        try:
            return [self.ids[w] for w in text.split()]
        except KeyError as exc:
            raise ValueError(f"text: unknown token {exc.args[0]!r}; the vocabulary is {' '.join(self.vocab)}") from None

    def decode(self, ids) -> str:
        """The tokens of ``ids`` joined by spaces."""
        return " ".join(self.vocab[int(i)] for i in ids)

    def digit(self, token_id: int) -> int | None:
        """The digit a token id stands for, or None for a token that is not a digit."""
        d = int(token_id) - int(self.digit_ids[0])
        return d if 0 <= d < self.digit_ids.size else None


@dataclass(frozen=True)
class Prompts:
    """A set of prompts with their answers (arrays of one entry per prompt).

    Attributes
    ----------
    ids : ndarray of int64, shape (n, 5)
        The prompt tokens.
    intermediate, answer : ndarray of int64
        z and y as digits.
    level : ndarray of int64
        The second operation's level (0, 1, 2).
    index : ndarray of int64
        Each prompt's index among all of the task's prompts.
    answer_ids : ndarray of int64, shape (n, L), optional
        The correct answer's tokens, for tasks whose answers take several tokens (``simalloc.lab.regimes``; there
        ``answer`` is the answer's number, -1 for an answer that is not a digit string, and ``level`` the prompt's
        family). None for the turn-3 task, whose answer is the one digit ``answer``.
    """

    ids: np.ndarray
    intermediate: np.ndarray
    answer: np.ndarray
    level: np.ndarray
    index: np.ndarray
    answer_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.answer.size)

    def take(self, idx) -> "Prompts":
        """The prompts at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return Prompts(self.ids[idx], self.intermediate[idx], self.answer[idx], self.level[idx], self.index[idx],
                       None if self.answer_ids is None else self.answer_ids[idx])


@dataclass(frozen=True)
class ChainTask:
    """The task family (module docstring).

    Parameters
    ----------
    modulus : int, default 10
        M >= 2; there are 9 M^3 prompts (9,000 for M = 10).
    n_pool : int, default 2000
        Training prompts, drawn with every level equally likely.
    split_seed : int, default 0
        Which prompts are training and which held out (the same split for every arm and replicate).

    Examples
    --------
    >>> task = ChainTask()
    >>> p = task.all_prompts().take([0])
    >>> task.tokenizer.decode(p.ids[0]), int(p.intermediate[0]), int(p.answer[0])
    ('0 + 0 + 0', 0, 0)
    """

    modulus: int = 10
    n_pool: int = 2000
    split_seed: int = 0
    tokenizer: LabTokenizer = field(init=False, repr=False, compare=False)

    #: completion tokens: the intermediate and the answer digit
    completion_length = 2
    #: the per-family Pass@1 columns' names (``simalloc.lab.loop.lab_columns``): the levels
    family_names = ("level0", "level1", "level2")
    #: tokens the network's output head never emits (none here; ``simalloc.lab.regimes`` masks one)
    masked_token_ids = ()

    def answer_token_ids(self, prompts: Prompts) -> np.ndarray:
        """The correct answer's tokens, shape (n, 1): the digit's token."""
        return self.tokenizer.digit_ids[prompts.answer][:, None]

    def __post_init__(self):
        as_int(self.modulus, "modulus", 2)
        as_int(self.n_pool, "n_pool", 1)
        as_int(self.split_seed, "split_seed", 0)
        if self.n_pool > 9 * self.modulus**3 // 2:
            raise ValueError(f"n_pool: at most half of the {9 * self.modulus ** 3} prompts may be training prompts, "
                             f"got {self.n_pool}")
        object.__setattr__(self, "tokenizer", LabTokenizer(self.modulus))

    def all_prompts(self) -> Prompts:
        """Every prompt, ordered by (o1, o2, a, b, c)."""
        m, tok = self.modulus, self.tokenizer
        rows = list(itertools.product(range(3), range(3), range(m), range(m), range(m)))
        o1, o2, a, b, c = (np.array(col, dtype=np.int64) for col in zip(*rows))
        z = np.empty_like(a)
        y = np.empty_like(a)
        for i, op in enumerate(OPERATIONS):
            z[o1 == i] = _apply(op, a[o1 == i], b[o1 == i], m)
        for i, op in enumerate(OPERATIONS):
            y[o2 == i] = _apply(op, z[o2 == i], c[o2 == i], m)
        d0, op0 = int(tok.digit_ids[0]), tok.ids[OPERATIONS[0]]
        ids = np.stack([a + d0, o1 + op0, b + d0, o2 + op0, c + d0], axis=1)
        return Prompts(ids, z, y, o2, np.arange(a.size, dtype=np.int64))

    def split(self) -> tuple[Prompts, Prompts]:
        """(the training pool, the held-out prompts): ``n_pool`` training prompts, a third of each level."""
        every = self.all_prompts()
        rng = np.random.default_rng([self.split_seed, 7919])
        per_level = [rng.permutation(np.flatnonzero(every.level == lv)) for lv in range(3)]
        counts = np.full(3, self.n_pool // 3) + (np.arange(3) < self.n_pool % 3)
        train = np.sort(np.concatenate([ix[:n] for ix, n in zip(per_level, counts)]))
        held = np.sort(np.concatenate([ix[n:] for ix, n in zip(per_level, counts)]))
        return every.take(train), every.take(held)

    def eval_set(self, n: int, mix=(1.0, 1.0, 1.0), seed: int = 0) -> Prompts:
        """``n`` held-out prompts with levels in proportion to ``mix`` (weights of levels 0, 1, 2).

        Parameters
        ----------
        n : int
            Prompts (each level's share rounded; at most the held-out prompts of a level).
        mix : sequence of 3 float, default (1, 1, 1)
            Relative weights of the levels.
        seed : int, default 0
            Which held-out prompts.

        Returns
        -------
        Prompts
        """
        as_int(n, "n", 1)
        w = np.asarray(mix, dtype=np.float64)
        if w.shape != (3,) or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
            raise ValueError(f"mix: three non-negative weights (levels 0, 1, 2) with a positive sum, got {mix!r}")
        _, held = self.split()
        counts = np.floor(n * w / w.sum()).astype(int)
        counts[np.argmax(w)] += n - counts.sum()
        rng = np.random.default_rng([self.split_seed, seed, 104729])
        chosen = []
        for lv in range(3):
            pool = np.flatnonzero(held.level == lv)
            if counts[lv] > pool.size:
                raise ValueError(f"n: level {lv} has {pool.size} held-out prompts, {counts[lv]} asked")
            chosen.append(rng.choice(pool, counts[lv], replace=False))
        return held.take(np.sort(np.concatenate(chosen)))
