"""Multi-round rules within one step: the caller asks which prompts need another round and how many samples,
reports the results, until the rule stops or the budget is spent.

Protocol (``Rounds``)::

    rounds = ReinforceAdaRounds(ids, budget=1024)
    while (request := rounds.next_round()) is not None:
        ids, n = request                       # n[j] rollouts for prompt ids[j]
        successes = my_sampler(ids, n)         # the caller's rollouts, graded
        rounds.report(ids, successes, n)
    groups = rounds.groups()                   # what to train on, and what was spent

A round is never started that the remaining budget cannot pay for: when it falls short the round covers the
first prompts (in request order) the budget pays for in full.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import check_choice, shown
from .rules import REINFORCE_ADA_CHOICES, reinforce_ada_finished, reinforce_ada_keep, speed_rl_qualified

__all__ = ["Groups", "Rounds", "ReinforceAdaRounds", "SpeedRLRounds", "ROUND_RULES", "make_rounds"]


@dataclass
class Groups:
    """What a step trains on after a multi-round rule.

    Attributes
    ----------
    ids : ndarray
        The trained prompts.
    kept_successes, kept_sizes : ndarray of int
        Successes and rollouts in each trained group (after any down-sampling).
    drawn_successes, drawn_trials : ndarray of int
        Everything drawn for those prompts (Reinforce-Ada's baseline uses these).
    spent : int
        Rollouts drawn in the step, trained or not (screening and discarded rollouts included).
    rounds : int
        Rounds run.
    """

    ids: np.ndarray
    kept_successes: np.ndarray
    kept_sizes: np.ndarray
    drawn_successes: np.ndarray
    drawn_trials: np.ndarray
    spent: int
    rounds: int


def _check_budget(budget) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValueError(f"budget: expected an integer >= 0 (rollouts for the step), got {shown(budget)}")
    return int(budget)


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {shown(value)}")
    return int(value)


class Rounds:
    """Base class: per-prompt counts, the budget, the request / report cycle (module docstring).

    Parameters
    ----------
    ids : sequence
        The step's prompts (distinct).
    budget : int
        Rollouts the step may spend, >= 0.

    Attributes
    ----------
    spent : int
        Rollouts reported so far.
    n_rounds : int
        Rounds reported so far.
    pos, neg : ndarray of int
        Positives and negatives drawn per prompt.
    """

    def __init__(self, ids, budget: int):
        self.ids = np.asarray(ids)
        if self.ids.ndim != 1 or len(set(self.ids.tolist())) != self.ids.size:
            raise ValueError("ids: expected a 1-d sequence of distinct prompt ids")
        self.budget = _check_budget(budget)
        self.spent = 0
        self.n_rounds = 0
        self.pos = np.zeros(self.ids.size, dtype=np.int64)
        self.neg = np.zeros(self.ids.size, dtype=np.int64)
        self._row = {k: i for i, k in enumerate(self.ids.tolist())}
        self._pending = None

    def _affordable(self, rows: np.ndarray, per: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first prompts of ``rows`` whose ``per`` rollouts the remaining budget pays for in full."""
        left = self.budget - self.spent
        take = int(np.searchsorted(np.cumsum(per), left, side="right"))
        return rows[:take], per[:take]

    def next_round(self):
        """(ids, rollouts per id) for the next round, or None when the rule has stopped or the budget is spent."""
        if self._pending is not None:
            raise RuntimeError("report() the previous round before asking for the next one")
        request = self._request()
        if request is None or request[0].size == 0:
            return None
        rows, per = self._affordable(*request)
        if rows.size == 0:
            return None
        self._pending = (rows, per)
        return self.ids[rows], per.copy()

    def report(self, ids, successes, trials) -> None:
        """Record the round's results: ``successes`` of ``trials`` per id, in the order ``next_round`` gave."""
        if self._pending is None:
            raise RuntimeError("report(): no round is pending; call next_round() first")
        rows, per = self._pending
        s = np.asarray(successes, dtype=np.int64)
        t = np.asarray(trials, dtype=np.int64)
        got = np.asarray([self._row.get(k, -1) for k in np.asarray(ids).tolist()])
        if got.shape != rows.shape or np.any(got != rows):
            raise ValueError("ids: report the ids next_round() returned, in the same order")
        if s.shape != rows.shape or t.shape != rows.shape or np.any(t != per):
            raise ValueError("trials: report the rollouts next_round() asked for, one count per id")
        if np.any(s < 0) or np.any(s > t):
            raise ValueError("successes: expected 0 <= successes <= trials, elementwise")
        self._pending = None
        self.spent += int(t.sum())
        self.n_rounds += 1
        self.pos[rows] += s
        self.neg[rows] += t - s
        self._update(rows)

    # rules implement these
    def _request(self):
        raise NotImplementedError

    def _update(self, rows: np.ndarray) -> None:
        raise NotImplementedError

    def groups(self) -> Groups:
        raise NotImplementedError


class ReinforceAdaRounds(Rounds):
    """Reinforce-Ada: rounds of ``round_repeat`` samples for every prompt still active, at most ``max_rounds``;
    a prompt retires by ``reinforce_ada_finished`` and keeps ``reinforce_ada_keep`` of its rollouts for training;
    prompts still active at the end keep the fallback's selection. The baseline statistics of a trained group are
    everything drawn for it (``Groups.drawn_*``; the public script sets ``global_stat_est=True``).

    Parameters
    ----------
    ids : sequence
        The step's prompts (all of them are active in round 1).
    budget : int
        Rollouts the step may spend.
    round_repeat : int, default 8
        Samples per active prompt per round.
    max_rounds : int, default 4
        Rounds at most.
    keep : int, default 4
        Rollouts kept per prompt (``rollout.n``).
    choice : {"balanced", "positive_focused"}
        The retirement rule.

    References
    ----------
    RLHFlow/Reinforce-Ada, ``verl/trainer/ppo/ray_trainer.py``, ``_generate_multi_round_adaptive_downsampling``
    (defaults from ``verl/trainer/config/ppo_trainer.yaml`` and ``scripts/run_reinforce_ada.sh``).
    """

    def __init__(self, ids, budget: int, round_repeat: int = 8, max_rounds: int = 4, keep: int = 4,
                 choice: str = "balanced"):
        super().__init__(ids, budget)
        self.round_repeat = _positive("round_repeat", round_repeat)
        self.max_rounds = _positive("max_rounds", max_rounds)
        self.keep = _positive("keep", keep)
        self.choice = check_choice(choice, "choice", REINFORCE_ADA_CHOICES)
        self.finished = np.zeros(self.ids.size, dtype=bool)
        self.seen = np.zeros(self.ids.size, dtype=bool)

    def _request(self):
        if self.n_rounds >= self.max_rounds:
            return None
        rows = np.flatnonzero(~self.finished)
        return rows, np.full(rows.size, self.round_repeat, dtype=np.int64)

    def _update(self, rows):
        self.seen[rows] = True
        for r in rows:
            if not self.finished[r]:
                self.finished[r] = reinforce_ada_finished(int(self.pos[r]), int(self.neg[r]), self.keep, self.choice)

    def groups(self) -> Groups:
        """The trained groups: every prompt that drew rollouts, its kept positives and negatives."""
        rows = np.flatnonzero(self.seen)
        kept = np.array([reinforce_ada_keep(int(self.pos[r]), int(self.neg[r]), self.keep, self.choice,
                                            bool(self.finished[r])) for r in rows], dtype=np.int64).reshape(-1, 2)
        return Groups(self.ids[rows], kept[:, 0], kept.sum(axis=1), self.pos[rows], self.pos[rows] + self.neg[rows],
                      self.spent, self.n_rounds)


class SpeedRLRounds(Rounds):
    """SPEED-RL's screen-then-extend: candidates are screened ``screen`` rollouts each, a chunk per round; those
    with 0 < successes < screen (``speed_rl_qualified``) get ``extend`` more in the next round, until ``target``
    prompts have their full ``screen + extend`` rollouts, the candidates run out or the budget is spent. Trained:
    the qualified prompts' full groups (first phase and continuation together); unqualified screens are spent and
    discarded.

    Parameters
    ----------
    ids : sequence
        Candidate prompts, in the order they are screened.
    budget : int
        Rollouts the step may spend.
    target : int
        Prompts to train on (``train_batch_size``).
    screen : int, default 4
        First-phase rollouts (``initial_n``).
    extend : int, default 12
        Continuation rollouts (``n_continue``; the public code wants a multiple of ``screen``).
    chunk : int, optional
        Candidates screened per round (``gen_batch_size``; default ``target``).

    References
    ----------
    Zanette-Labs/speed-rl, ``verl/trainer/ppo/data_controller.py`` (``DataController``).
    """

    def __init__(self, ids, budget: int, target: int, screen: int = 4, extend: int = 12, chunk: int | None = None):
        super().__init__(ids, budget)
        self.target = _positive("target", target)
        self.screen = _positive("screen", screen)
        self.extend = _positive("extend", extend)
        self.chunk = self.target if chunk is None else _positive("chunk", chunk)
        self.next_candidate = 0
        self.waiting = np.empty(0, dtype=np.int64)  # qualified, not yet extended
        self.extended = np.zeros(self.ids.size, dtype=bool)
        self.screened = np.zeros(self.ids.size, dtype=bool)

    def _request(self):
        done = int(self.extended.sum())
        need = self.target - done
        if need <= 0:
            return None
        ext = self.waiting[:need]
        room = need - ext.size  # more candidates to screen only while the waiting ones cannot fill the batch
        n_new = min(self.chunk, self.ids.size - self.next_candidate) if room > 0 else 0
        new = np.arange(self.next_candidate, self.next_candidate + n_new)
        if ext.size == 0 and new.size == 0:
            return None
        rows = np.concatenate([ext, new]).astype(np.int64)
        per = np.concatenate([np.full(ext.size, self.extend), np.full(new.size, self.screen)]).astype(np.int64)
        return rows, per

    def _update(self, rows):
        ext_rows = rows[self.screened[rows]]
        new_rows = rows[~self.screened[rows]]
        self.extended[ext_rows] = True
        self.waiting = np.setdiff1d(self.waiting, ext_rows, assume_unique=True) if ext_rows.size else self.waiting
        self.screened[new_rows] = True
        if new_rows.size:
            self.next_candidate = max(self.next_candidate, int(new_rows.max()) + 1)
            q = speed_rl_qualified(self.pos[new_rows], self.pos[new_rows] + self.neg[new_rows])
            self.waiting = np.concatenate([self.waiting, new_rows[q]])

    def groups(self) -> Groups:
        """The extended prompts' full groups."""
        rows = np.flatnonzero(self.extended)
        total = self.pos[rows] + self.neg[rows]
        return Groups(self.ids[rows], self.pos[rows], total, self.pos[rows], total, self.spent, self.n_rounds)


#: the multi-round rules by name
ROUND_RULES = {"reinforce_ada": ReinforceAdaRounds, "speed_rl": SpeedRLRounds}


def make_rounds(rule: str, ids, budget: int, **options) -> Rounds:
    """The multi-round rule ``rule`` (``ROUND_RULES``) over ``ids`` with ``budget`` rollouts.

    Parameters
    ----------
    rule : {"reinforce_ada", "speed_rl"}
        The rule.
    ids : sequence
        The step's prompts (SPEED-RL: its candidates, in screening order).
    budget : int
        Rollouts the step may spend.
    **options
        The rule's parameters (``ReinforceAdaRounds``, ``SpeedRLRounds``); unknown names are refused.

    Returns
    -------
    Rounds
    """
    check_choice(rule, "rule", ROUND_RULES)
    try:
        return ROUND_RULES[rule](ids, budget, **options)
    except TypeError as err:
        raise ValueError(f"options: {rule} got an unknown or missing option ({err})") from None
