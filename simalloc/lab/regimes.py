"""The lab's v2 task: 3-digit answers (1,000 values), and prompt families for the regimes LLM post-training shows.

A prompt is five tokens ``a o1 b o2 c`` (digits modulo the base B, default 10; the turn-3 task's prompts); the
completion is four, the intermediate ``z = a o1 b`` and the answer ``y1 y2 y3``, the chain ``y_j = y_{j-1} o2 c``
(y_0 = z, mod B): the second operation applied three times. The answer takes B^3 values (1,000), so a network
that spreads its mass over the answers has Pass@256 = 1 - (1 - 1/1000)^256 = 0.226: at large k Pass@k measures
whether the network reaches the answer, not how flat it is. Pass@k stays exact: only the correct answer's
probability is needed, P(y* | x) = sum_z P(z | x) prod_j P(y*_j | x, z, y*_<j)
(``simalloc.lab.policy.pass_rates``).

The families (the spec's names, ``simalloc.lab.spec``):

- **taught**: ``+ +``, ``- +``, ``* +`` and ``+ -`` as (o1, o2); the warm start teaches them cleanly.
- **narrowing**: ``o1 = ?`` ("combine a and b"), ``o2 = +``: two solution paths, z = a + b or z = a - b.
  Which one the grader accepts is a fixed property of the prompt that its tokens do not reveal (a hash of the
  prompt: the majority path ``+`` on 1 - ``minority`` of the prompts, ``-`` on the rest). The warm start's
  teacher writes the ``+`` path with probability 1 - ``teacher_minority`` and the ``-`` path otherwise, each
  carried out correctly. GRPO is rewarded for ``+`` on most prompts, so it sharpens onto it; on held-out
  prompts that need ``-`` (which it cannot recognise) the probability of the right path falls: Pass@1 rises,
  Pass@k at large k falls (Yue et al., arXiv 2504.13837).
- **expanding**: ``- -`` and ``* -``: compositions of skills the warm start teaches elsewhere (``-`` and ``*`` in
  first place; ``-`` in second place after ``+``). ``- -`` is never shown (a held-out composition). ``* -`` is the
  edge pair, read one of two ways (``expanding_teacher``, the turn-3 task's ``level2`` readings): "misconception"
  (the default) shows it with a systematic wrong rule, ``-`` in second place read as ``+`` (the turn-3 task's level
  2 misconception). Where 2c = 0 mod B (c in {0, 5} at B = 10, a fifth of the prompts) the wrong rule writes the
  right answer, so those prompts are taught in effect (p ~ 1); on the others the correct answer is rarely but not
  never sampled (the ``-`` chain the network knows from ``+ -``: Pass@256 ~ 0.09 at the shipped network, a tenth of
  them above p = 1e-3). "absent" never shows it (the first v2 network's reading: both pairs then start at Pass@256
  ~ 0.8 and GRPO narrows them, docs/lab.md).
- **unreachable**: ``o2 = #``, whose answer is written ``X y2 y3`` (y_j = z + c_j): ``X`` is a token the
  network's output head masks (logit -1e9 at every position: probability exactly 0 after the softmax's
  underflow, and no gradient reaches it), so the correct answer has probability exactly 0 under every weight
  setting ("The Invisible Leash", arXiv 2507.14843). The warm start never shows these prompts.

(Why this shape, measured on this CPU: with three independent operands ``c1 c2 c3`` (100,000 prompts per operation
pair) or ``*`` in second place, the 133k-parameter network stayed at a cross-entropy of ~1.6 nats per token for
1,500-3,000 warm-start steps; with the turn-3 task's 1,000 prompts per pair and ``-`` / ``+`` in second place it
learns in about a thousand.)

A spec's training pool holds ``n_pool`` prompts, drawn once (``split_seed``) with the families in the spec's shares;
eval sets are drawn from the prompts outside the pool. The warm start does not depend on the spec
(``teacher_batch``: taught, narrowing and, under the misconception, edge prompts drawn afresh from all of them), so
every spec of the same base and readings shares one warm-started network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validation import as_int, check_choice
from .spec import FAMILIES, parse_task
from .task import LabTokenizer, Prompts

__all__ = ["RegimeTask", "SYMBOLS", "FAMILY_OPS", "ANSWER_LENGTH", "EXPANDING_TEACHERS", "EDGE_PAIR",
           "EDGE_TEACHER_SHARE"]

#: the non-digit tokens: the operations, the narrowing family's "?", the unreachable family's "#" and its masked "X"
SYMBOLS = ("+", "-", "*", "?", "#", "X")
#: each family's (o1, o2) pairs
FAMILY_OPS = {
    "taught": (("+", "+"), ("-", "+"), ("*", "+"), ("+", "-")),
    "narrowing": (("?", "+"),),
    "expanding": (("-", "-"), ("*", "-")),
    "unreachable": (("+", "#"), ("-", "#"), ("*", "#")),
}
#: answer tokens
ANSWER_LENGTH = 3
#: how the warm start treats the expanding family's edge pair (the turn-3 task's ``level2`` readings)
EXPANDING_TEACHERS = ("misconception", "absent")
#: the expanding family's edge pair, shown with the misconception (``-`` in second place read as ``+``)
EDGE_PAIR = ("*", "-")
#: the share of the warm start's teacher rows that show the edge pair under the misconception
EDGE_TEACHER_SHARE = 0.2


def _op(op: str, x: np.ndarray, y: np.ndarray, base: int) -> np.ndarray:
    if op in ("+", "#"):
        return (x + y) % base
    if op == "-":
        return (x - y) % base
    return (x * y) % base


def _chain(op: str, z: np.ndarray, c: np.ndarray, base: int) -> np.ndarray:
    """The answer digits y_j = y_{j-1} op c (y_0 = z), shape (n, 3)."""
    out = np.empty((z.size, ANSWER_LENGTH), dtype=np.int64)
    prev = z
    for j in range(ANSWER_LENGTH):
        prev = _op(op, prev, c, base)
        out[:, j] = prev
    return out


def _unit_hash(family: int, index: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per prompt (splitmix64's finaliser): the narrowing family's hidden
    path, the same on every machine and for every spec."""
    with np.errstate(over="ignore"):
        x = index.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(family + 1)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class RegimeTask:
    """The v2 task (module docstring).

    Parameters
    ----------
    spec : str or TaskSpec, default "taught+narrowing+expanding"
        The families and their shares (``simalloc.lab.spec``; not "turn3").
    base : int, default 10
        B >= 2: digits 0..B-1, B^3 answers.
    n_pool : int, default 2000
        Training prompts.
    split_seed : int, default 0
        Which prompts are training prompts.
    minority : float, default 0.25
        Share of narrowing prompts whose accepted path is ``-``, in [0, 1].
    teacher_minority : float, default 0.3
        How often the warm start's teacher writes the ``-`` path on narrowing prompts, in [0, 1].
    expanding_teacher : {"misconception", "absent"}, default "misconception"
        How the warm start treats the edge pair ``* -`` (module docstring; ``LabConfig.level2`` sets it).

    Examples
    --------
    >>> task = RegimeTask("narrowing", base=10, n_pool=500)
    >>> p = task.prompts("narrowing", np.array([0]))
    >>> task.tokenizer.decode(p.ids[0]), task.tokenizer.decode(p.answer_ids[0])
    ('0 ? 0 + 0', '0 0 0')
    """

    spec: object = "taught+narrowing+expanding"
    base: int = 10
    n_pool: int = 2000
    split_seed: int = 0
    minority: float = 0.25
    teacher_minority: float = 0.3
    expanding_teacher: str = "misconception"
    tokenizer: LabTokenizer = field(init=False, repr=False, compare=False)

    #: completion tokens: the intermediate and the three answer digits
    completion_length = 1 + ANSWER_LENGTH
    family_names = FAMILIES

    def __post_init__(self):
        spec = parse_task(self.spec)
        if spec.name != "v2":
            raise ValueError(f"spec: RegimeTask takes a v2 spec (families), got {spec.text!r}")
        object.__setattr__(self, "spec", spec)
        as_int(self.base, "base", 2)
        as_int(self.n_pool, "n_pool", 1)
        as_int(self.split_seed, "split_seed", 0)
        for name in ("minority", "teacher_minority"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must lie in [0, 1], got {getattr(self, name)!r}")
        check_choice(self.expanding_teacher, "expanding_teacher", EXPANDING_TEACHERS)
        object.__setattr__(self, "tokenizer", LabTokenizer(self.base, SYMBOLS))
        for fam, count in zip(FAMILIES, self._counts(self.n_pool, self.shares)):
            if count > self.family_size(fam) // 2:
                raise ValueError(f"n_pool: family {fam!r} has {self.family_size(fam)} prompts, at most half may be "
                                 f"training prompts; {count} of n_pool={self.n_pool} asked (lower n_pool or its share)")

    # ---- the vocabulary ----------------------------------------------------------------------------------------
    @property
    def masked_token_ids(self) -> tuple:
        """The tokens the output head never emits: ``X``."""
        return (self.tokenizer.ids["X"],)

    @property
    def shares(self) -> np.ndarray:
        """The spec's family shares, shape (4,)."""
        return np.asarray(self.spec.shares, dtype=np.float64)

    def family_size(self, family: str) -> int:
        """How many prompts the family has: (o1, o2) pairs x B^3."""
        return len(FAMILY_OPS[family]) * self.base**3

    # ---- prompts ----------------------------------------------------------------------------------------------
    def prompts(self, family: str, index) -> Prompts:
        """The family's prompts with indices ``index`` (in [0, family_size)), answers written out.

        Parameters
        ----------
        family : str
            One of ``FAMILIES``.
        index : array_like of int
            Indices: (o1, o2) pair, then a, b, c in base B (most significant first).

        Returns
        -------
        Prompts
            ``level`` holds the family's position in ``FAMILIES``; ``answer`` the answer's number
            100 y1 + 10 y2 + y3 (base B), -1 for the unreachable family's ``X y2 y3``.
        """
        m = self.base
        f = FAMILIES.index(family)
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= self.family_size(family)):
            raise ValueError(f"index: must lie in [0, {self.family_size(family)}) for family {family!r}")
        a, b, c = ((index // m ** (2 - j)) % m for j in range(3))
        pair = index // m**3
        tok = self.tokenizer
        ops = FAMILY_OPS[family]
        o1 = np.array([tok.ids[ops[i][0]] for i in pair], dtype=np.int64).reshape(-1)
        o2 = np.array([tok.ids[ops[i][1]] for i in pair], dtype=np.int64).reshape(-1)
        z = np.empty_like(a)
        y = np.empty((a.size, ANSWER_LENGTH), dtype=np.int64)
        for i, (op1, op2) in enumerate(ops):
            sel = pair == i
            if op1 == "?":  # the hidden path: "+" on most prompts, "-" on a minority
                minority = _unit_hash(f, index[sel]) < self.minority
                z[sel] = np.where(minority, (a[sel] - b[sel]) % m, (a[sel] + b[sel]) % m)
            else:
                z[sel] = _op(op1, a[sel], b[sel], m)
            y[sel] = _chain(op2, z[sel], c[sel], m)
        d0 = int(tok.digit_ids[0])
        answer_ids = y + d0
        answer = y[:, 0] * m * m + y[:, 1] * m + y[:, 2]
        if family == "unreachable":
            answer_ids[:, 0] = tok.ids["X"]
            answer = np.full_like(answer, -1)
        ids = np.stack([a + d0, o1, b + d0, o2, c + d0], axis=1)
        return Prompts(ids, z, answer, np.full_like(a, f), index, answer_ids)

    def answer_token_ids(self, prompts: Prompts) -> np.ndarray:
        """The correct answer's tokens, shape (n, 3)."""
        return prompts.answer_ids

    @staticmethod
    def _concat(parts: list[Prompts]) -> Prompts:
        return Prompts(*(np.concatenate([getattr(p, name) for p in parts])
                         for name in ("ids", "intermediate", "answer", "level", "index", "answer_ids")))

    def _counts(self, n: int, w: np.ndarray) -> np.ndarray:
        counts = np.floor(n * w / w.sum()).astype(np.int64)
        counts[np.argmax(w)] += n - counts.sum()
        return counts

    def _pool_indices(self) -> dict:
        rng = np.random.default_rng([self.split_seed, 7919])
        counts = self._counts(self.n_pool, self.shares)
        return {fam: np.sort(rng.choice(self.family_size(fam), int(n), replace=False))
                for fam, n in zip(FAMILIES, counts) if n > 0}

    def split(self) -> tuple[Prompts, None]:
        """(the training pool, None): ``n_pool`` prompts with the families in the spec's shares. The held-out
        prompts are every other prompt (too many to list): ``eval_set`` draws from them."""
        pool = self._pool_indices()
        return self._concat([self.prompts(fam, idx) for fam, idx in pool.items()]), None

    def eval_set(self, n: int, mix=None, seed: int = 0) -> Prompts:
        """``n`` prompts outside the training pool with families in proportion to ``mix``.

        Parameters
        ----------
        n : int
            Prompts (each family's share rounded).
        mix : sequence of 4 float, optional
            Relative weights of ``FAMILIES``; default the spec's shares.
        seed : int, default 0
            Which prompts.

        Returns
        -------
        Prompts
        """
        as_int(n, "n", 1)
        w = self.shares if mix is None else np.asarray(mix, dtype=np.float64)
        if w.shape != (len(FAMILIES),) or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
            raise ValueError(f"mix: {len(FAMILIES)} non-negative weights ({', '.join(FAMILIES)}) with a positive "
                             f"sum, got {mix!r}")
        pool = self._pool_indices()
        rng = np.random.default_rng([self.split_seed, seed, 104729])
        parts = []
        for fam, count in zip(FAMILIES, self._counts(n, w)):
            if count == 0:
                continue
            size = self.family_size(fam)
            if count > size // 2:
                raise ValueError(f"n: family {fam!r} has {size} prompts, {count} asked (at most half)")
            taken = pool.get(fam, np.empty(0, dtype=np.int64))
            draw = rng.choice(size, int(count) + taken.size, replace=False)
            parts.append(self.prompts(fam, np.sort(draw[~np.isin(draw, taken)][:count])))
        return self._concat(parts)

    # ---- the warm start's teacher -----------------------------------------------------------------------------
    def teacher_batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A batch of the warm start's supervised examples (module docstring): prompts and completions.

        Half the rows are taught prompts with their correct completions, half narrowing prompts with the ``+``
        path (probability 1 - ``teacher_minority``) or the ``-`` path, carried out correctly; under the
        misconception (``expanding_teacher``) each row is then replaced, with probability ``EDGE_TEACHER_SHARE``,
        by an edge-pair prompt (``* -``) whose chain applies ``+`` (y_j = y_{j-1} + c) after the correct
        intermediate. The spec does not enter: every spec shares the warm start.

        Parameters
        ----------
        n : int
            Rows.
        rng : numpy.random.Generator
            The teacher's stream.

        Returns
        -------
        prompt_ids : ndarray of int64, shape (n, 5)
        completion_ids : ndarray of int64, shape (n, 4)
        """
        narrow = rng.random(n) < 0.5
        parts = []
        for fam, sel in (("taught", ~narrow), ("narrowing", narrow)):
            idx = rng.integers(0, self.family_size(fam), int(sel.sum()))
            p = self.prompts(fam, idx)
            z, ans = p.intermediate.copy(), p.answer_ids.copy()
            if fam == "narrowing":
                d0 = int(self.tokenizer.digit_ids[0])
                a, b, c = p.ids[:, 0] - d0, p.ids[:, 2] - d0, p.ids[:, 4] - d0
                minus = rng.random(len(p)) < self.teacher_minority
                z = np.where(minus, (a - b) % self.base, (a + b) % self.base)
                ans = _chain("+", z, c, self.base) + d0
            comp = np.concatenate([(z + int(self.tokenizer.digit_ids[0]))[:, None], ans], axis=1)
            parts.append((p.ids, comp, np.flatnonzero(sel)))
        prompt_ids = np.empty((n, 5), dtype=np.int64)
        completion_ids = np.empty((n, 1 + ANSWER_LENGTH), dtype=np.int64)
        for ids, comp, rows in parts:
            prompt_ids[rows], completion_ids[rows] = ids, comp
        if self.expanding_teacher == "misconception":
            edge = np.flatnonzero(rng.random(n) < EDGE_TEACHER_SHARE)
            pair = FAMILY_OPS["expanding"].index(EDGE_PAIR)
            p = self.prompts("expanding", pair * self.base**3 + rng.integers(0, self.base**3, edge.size))
            d0 = int(self.tokenizer.digit_ids[0])
            wrong = _chain("+", p.intermediate, p.ids[:, 4] - d0, self.base) + d0  # "-" read as "+"
            prompt_ids[edge] = p.ids
            completion_ids[edge] = np.concatenate([(p.intermediate + d0)[:, None], wrong], axis=1)
        return prompt_ids, completion_ids

    def warm_key(self) -> dict:
        """What of the task the warm start depends on (its cache key; the spec and pool are not)."""
        key = {"task": "v2", "base": self.base, "teacher_minority": self.teacher_minority,
               "expanding_teacher": self.expanding_teacher}
        if self.expanding_teacher == "misconception":  # what the misconception's rows are, so a retuned share or
            key.update(edge_pair=list(EDGE_PAIR), edge_share=EDGE_TEACHER_SHARE)  # pair is another network
        return key
