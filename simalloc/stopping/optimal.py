"""The Bayes-optimal stopping rule for majority voting, by backward induction over vote-count states.

The voter sees answer strings, not which one is correct. With a known prior over answer distributions
(M atoms p_m with weights w_m; class 0 correct) and strings labelled at random, the posterior over
(atom, assignment of strings to classes) depends only on the counts per string, and by symmetry only on
the sorted counts: the state is n_1 >= ... >= n_K >= 0 with t = sum n <= cap (about 29,000 states for
K = 4, cap = 64). In each state:

- stopping answers with the plurality string (``answer="plurality"``, the reward of every voting rule: the
  plurality-constrained frontier) or with the string most likely correct (``answer="best"``: the unconstrained
  frontier, which bounds every rule, ESC's window answer included);
- continuing costs c per vote, or c per expected token of the next vote (``per="tokens"``), and moves to the
  state where string s (or a new string) gets the next vote, with the posterior predictive probability.

V(n) = max(R(n), -c c(n) + sum_s P(s | n) V(n + e_s)), V = R at t = cap. Exact for K <= 4 classes; worlds
with long wrong-answer tails are reduced by ``lump_tail`` (the DP only). Sweeping c traces the frontier.
``evaluate_policy`` computes the exact accuracy, votes and tokens of any rule whose decision is a function of
the counts, by calling the rule's own numba kernel in every state (one definition of each rule).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..jit import jit
from ..records import Record
from ..validation import check_choice
from . import kernels as K
from .rules import StoppingRule, _table, make_rule

__all__ = ["PolicyValue", "StoppingSolution", "VoteModel", "optimal_stopping", "evaluate_policy", "frontier",
           "lump_tail", "state_stop"]


@jit
def _posterior_tables(states, logp, w, perms, stop_value, pred, slot_correct, next_correct):
    n_states, k = states.shape
    n_atoms = logp.shape[0]
    n_perm = perms.shape[0]
    ll = np.empty((n_atoms, n_perm))
    probs = np.exp(logp)
    for s_idx in range(n_states):
        n = states[s_idx]
        top = -np.inf
        for m in range(n_atoms):
            for q in range(n_perm):
                v = 0.0
                for s in range(k):
                    if n[s] > 0:
                        v += n[s] * logp[m, perms[q, s]]
                ll[m, q] = v
                if v > top:
                    top = v
        total = 0.0
        nc = 0.0
        for s in range(k + 1):
            pred[s_idx, s] = 0.0
        for s in range(k):
            slot_correct[s_idx, s] = 0.0
        for m in range(n_atoms):
            for q in range(n_perm):
                post = w[m] * np.exp(ll[m, q] - top)
                total += post
                nc += post * probs[m, 0]
                for s in range(k):
                    cls = perms[q, s]
                    if n[s] > 0:
                        pred[s_idx, s] += post * probs[m, cls]
                        if cls == 0:
                            slot_correct[s_idx, s] += post
                    else:
                        pred[s_idx, k] += post * probs[m, cls]  # some unseen string
        best = 0.0
        for s in range(k):
            slot_correct[s_idx, s] /= total
            if n[s] > 0 and slot_correct[s_idx, s] > best:
                best = slot_correct[s_idx, s]
        stop_value[s_idx] = best
        next_correct[s_idx] = nc / total
        for s in range(k + 1):
            pred[s_idx, s] /= total


@jit
def _backward(order, t_of, nxt, pred, stop_value, step_cost, cap, cost, value, stop):
    for j in range(order.size):
        i = order[j]  # states by decreasing t
        if t_of[i] >= cap:
            value[i] = stop_value[i]
            stop[i] = True
            continue
        cont = -cost * step_cost[i]
        for s in range(nxt.shape[1]):
            if nxt[i, s] >= 0:
                cont += pred[i, s] * value[nxt[i, s]]
        if stop_value[i] >= cont and t_of[i] > 0:
            value[i] = stop_value[i]
            stop[i] = True
        else:
            value[i] = cont
            stop[i] = False


@jit
def _forward(order_up, t_of, nxt, pred, answer_value, step_cost, stop, mass):
    acc = 0.0
    votes = 0.0
    spent = 0.0
    for j in range(order_up.size):
        i = order_up[j]  # states by increasing t
        if mass[i] == 0.0:
            continue
        if stop[i]:
            acc += mass[i] * answer_value[i]
            votes += mass[i] * t_of[i]
            continue
        spent += mass[i] * step_cost[i]
        for s in range(nxt.shape[1]):
            if nxt[i, s] >= 0:
                mass[nxt[i, s]] += mass[i] * pred[i, s]
    return acc, votes, spent


@dataclass
class VoteModel:
    """Sorted-count states of a prior over answer distributions, with posterior tables (built once).

    ``tokens`` = (mean tokens of a correct rollout, of a wrong one): the cost of the next vote in a state is its
    posterior expected length, so optimal stopping can minimize tokens, as the rules are reported.

    Build it with ``VoteModel.build(atoms, weights, cap, tokens)``: ``atoms`` (n_atoms, K <= 4) are answer
    distributions (column 0 the correct answer) with prior ``weights``; a state is the vote counts sorted in
    decreasing order (strings are exchangeable), and the tables hold each state's posterior quantities.

    Attributes
    ----------
    states : ndarray of int64, shape (S, K)
        Every sorted count vector with at most ``cap`` votes.
    t : ndarray of int64, shape (S,)
        Votes in each state.
    next, pred : ndarray, shape (S, K + 1)
        The successor state when slot s (or, at K, a new string) gets the next vote (-1: none), and its
        posterior predictive probability.
    stop_value : ndarray, shape (S,)
        P(the string most likely correct is correct | state).
    slot_correct : ndarray, shape (S, K)
        P(the string in slot s is correct | state).
    next_correct : ndarray, shape (S,)
        P(the next vote is correct | state).
    cap : int
        The largest number of votes (1..128).
    tokens : tuple of float
        Mean tokens of a correct and of a wrong rollout.

    References
    ----------
    The backward induction is the standard finite-horizon Bayes stopping problem (DeGroot, Optimal Statistical
    Decisions, 1970, ch. 12); the rules it bounds are OptPO's BSPRT, Adaptive-Consistency and ESC.
    """

    states: np.ndarray  # (S, K) sorted counts
    t: np.ndarray
    next: np.ndarray  # (S, K + 1): successor when slot s (or, at K, a new string) gets the vote; -1 if none
    pred: np.ndarray  # (S, K + 1): posterior predictive probabilities of those successors
    stop_value: np.ndarray  # P(best string correct)
    slot_correct: np.ndarray  # (S, K): P(string in slot s correct)
    next_correct: np.ndarray  # (S,): P(the next vote is correct)
    cap: int
    tokens: tuple = (1.0, 1.0)

    @classmethod
    def build(cls, atoms, weights=None, cap: int = 64, tokens=(1.0, 1.0)) -> "VoteModel":
        atoms = np.asarray(atoms, dtype=np.float64)
        if atoms.ndim != 2 or atoms.shape[1] < 2:
            raise ValueError("atoms: expected (n_atoms, n_classes) answer distributions with n_classes >= 2")
        k = atoms.shape[1]
        if k > 4:
            raise ValueError(f"atoms: the exact DP supports up to 4 answer classes, got {k} (lump the tail: lump_tail)")
        if not isinstance(cap, (int, np.integer)) or isinstance(cap, bool) or not 1 <= cap <= 128:
            raise ValueError(f"cap: must be an integer in [1, 128], got {cap!r}")
        tokens = tuple(float(x) for x in tokens)
        if len(tokens) != 2 or not all(np.isfinite(x) and x > 0 for x in tokens):
            raise ValueError(f"tokens: (correct, wrong) mean lengths, both finite and > 0; got {tokens}")
        w = np.full(atoms.shape[0], 1.0 / atoms.shape[0]) if weights is None else np.asarray(weights, float)
        states = [s for t in range(cap + 1) for s in _partitions(t, k)]
        index = {s: i for i, s in enumerate(states)}
        nxt = np.full((len(states), k + 1), -1, dtype=np.int64)
        for i, s in enumerate(states):
            if sum(s) >= cap:
                continue
            for slot in range(k):
                if s[slot] > 0:
                    nxt[i, slot] = index[tuple(sorted(s[:slot] + (s[slot] + 1,) + s[slot + 1:], reverse=True))]
            if 0 in s:
                z = s.index(0)
                nxt[i, k] = index[tuple(sorted(s[:z] + (1,) + s[z + 1:], reverse=True))]
        st = np.array(states, dtype=np.int64)
        perms = np.array(list(itertools.permutations(range(k))), dtype=np.int64)
        logp = np.log(np.clip(atoms, 1e-300, None))
        stop_value = np.empty(len(states))
        pred = np.empty((len(states), k + 1))
        slot_correct = np.empty((len(states), k))
        next_correct = np.empty(len(states))
        _posterior_tables(st, logp, w / w.sum(), perms, stop_value, pred, slot_correct, next_correct)
        return cls(st, st.sum(1), nxt, pred, stop_value, slot_correct, next_correct, cap, tokens)

    def leader_value(self) -> np.ndarray:
        """Accuracy of answering with the plurality string (ties at random) in each state."""
        n = self.states
        lead = n == n[:, :1]
        lead &= n > 0
        return np.where(lead.any(1), (self.slot_correct * lead).sum(1) / np.maximum(lead.sum(1), 1), 0.0)

    def step_tokens(self) -> np.ndarray:
        """Posterior expected tokens of the next vote in each state."""
        correct, wrong = self.tokens
        return correct * self.next_correct + wrong * (1.0 - self.next_correct)


def lump_tail(atoms, keep: int = 3) -> np.ndarray:
    """Answer distributions with many wrong strings reduced to the DP's classes: the correct answer (column 0),
    the ``keep - 1`` most likely wrong strings, and the rest lumped into one 'other' string (the DP only).

    Parameters
    ----------
    atoms : array_like, shape (n_atoms, K)
        Answer distributions, column 0 correct.
    keep : int, default 3
        Classes kept before the lumped one (the DP supports at most 4 in all).

    Returns
    -------
    ndarray, shape (n_atoms, min(K, keep + 1))

    Notes
    -----
    Lumping changes plurality decisions (the 'other' string can lead), so it is for the exact DP's bound only;
    rules are simulated on the full distributions.
    """
    atoms = np.asarray(atoms, dtype=np.float64)
    if atoms.shape[1] <= keep + 1:
        return atoms
    wrong = -np.sort(-atoms[:, 1:], axis=1)
    return np.column_stack([atoms[:, 0], wrong[:, : keep - 1], wrong[:, keep - 1:].sum(1)])


def _partitions(t, k):
    if k == 1:
        yield (t,)
        return
    for first in range(t, -1, -1):
        for rest in _partitions(t - first, k - 1):
            if rest[0] <= first:
                yield (first, *rest)


ANSWERS = ("plurality", "best")
COSTS = ("votes", "tokens")


def _answer_value(model, answer):
    check_choice(answer, "answer", ANSWERS)
    return model.leader_value() if answer == "plurality" else model.stop_value


def _step_cost(model, per):
    check_choice(per, "per", COSTS)
    return np.ones(model.t.size) if per == "votes" else model.step_tokens()


@dataclass(repr=False)
class PolicyValue(Record):
    """A stopping policy's exact accuracy, expected votes and expected tokens in a ``VoteModel``.

    Attributes
    ----------
    accuracy : float
        P(the answer at stopping is correct).
    votes, tokens : float
        Expected votes and tokens spent.
    """

    accuracy: float
    votes: float
    tokens: float


@dataclass(repr=False)
class StoppingSolution(Record):
    """The Bayes-optimal rule at one cost: its objective value, accuracy, expected votes and tokens, the stop
    decision per count state, the cost and what it was counted in (``per``), and the answer convention.

    Attributes
    ----------
    value : float
        The optimal expected reward minus cost.
    accuracy, votes, tokens : float
        What the optimal rule achieves and spends.
    stop : ndarray of bool
        Stop (True) or continue in each state of the model.
    cost : float
        The price of a vote or token.
    answer, per : str
        The answer convention and what the cost is counted in.
    """

    value: float
    accuracy: float
    votes: float
    tokens: float
    stop: np.ndarray
    cost: float
    answer: str
    per: str


def optimal_stopping(model: VoteModel, cost: float, *, answer: str = "plurality", per: str = "votes"
                     ) -> StoppingSolution:
    """Bayes-optimal stopping by backward induction at ``cost`` per vote (``per="votes"``) or per token.

    V(n) = max(R(n), -cost x c(n) + sum_s P(s | n) V(n + e_s)), V = R at the cap, with c(n) = 1 or the next
    vote's posterior expected tokens. ``answer="plurality"`` sets R(n) = P(the plurality string is correct)
    (ties at random), the reward of every majority-voting rule; ``answer="best"`` answers with the string most
    likely correct, which can be a minority string, and bounds every rule.

    Parameters
    ----------
    model : VoteModel
        The prior over answer distributions and its posterior tables.
    cost : float
        The price of one vote (or one token), finite and >= 0, in units of accuracy.
    answer : {"plurality", "best"}, default "plurality"
        What is answered when sampling stops.
    per : {"votes", "tokens"}, default "votes"
        What ``cost`` is charged for.

    Returns
    -------
    StoppingSolution
        The optimal value, its accuracy, expected votes and tokens, and the stop decision in every state.

    Raises
    ------
    ValueError
        "cost: ..." for a negative or non-finite cost; unknown ``answer`` or ``per``.
    """
    if not (np.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost: must be finite and >= 0, got {cost!r}")
    reward, step = _answer_value(model, answer), _step_cost(model, per)
    order_down = np.argsort(-model.t, kind="stable")
    value, stop = np.empty(model.t.size), np.empty(model.t.size, dtype=np.bool_)
    _backward(order_down, model.t, model.next, model.pred, reward, step, model.cap, float(cost), value, stop)
    acc, votes, tokens = _run_forward(model, reward, stop)
    return StoppingSolution(float(value[0]), acc, votes, tokens, stop, float(cost), answer, per)


def _run_forward(model, answer_value, stop):
    mass = np.zeros(model.t.size)
    mass[0] = 1.0
    order_up = np.argsort(model.t, kind="stable")
    return _forward(order_up, model.t, model.next, model.pred, answer_value, model.step_tokens(), stop, mass)


def state_stop(rule: StoppingRule, states: np.ndarray) -> np.ndarray:
    """The rule's stop decision in each count state, from the rule's own numba kernel (``_stop_now``).

    Parameters
    ----------
    rule : StoppingRule
        A count-based rule (not ESC, not BSPRT with min_confirm > 1).
    states : ndarray of int, shape (S, K)
        Count states.

    Returns
    -------
    ndarray of bool, shape (S,)

    Raises
    ------
    ValueError
        For a rule whose decision depends on the vote path.
    """
    if rule.code == K.ESC or (rule.code == K.BSPRT and rule.params["min_confirm"] > 1):
        raise ValueError(f"{rule.name}: its decision depends on the vote path (windows or consecutive confirmations); "
                         "evaluate it by simulation (run_rule)")
    states = np.ascontiguousarray(states, dtype=np.int64)
    out = np.empty(states.shape[0], dtype=np.bool_)
    return K.state_decisions(rule.code, rule.vector(), states, _table(rule), out)


def evaluate_policy(model: VoteModel, rule: StoppingRule | str) -> PolicyValue:
    """Exact accuracy (plurality answer, ties at random), expected votes and tokens of a count-based rule.

    Parameters
    ----------
    model : VoteModel
        The prior; its cap must be >= the rule's.
    rule : StoppingRule or str
        A rule whose decision depends on the counts only (not ESC's windows or BSPRT's consecutive confirmations,
        which ``run_rule`` simulates).

    Returns
    -------
    PolicyValue
        accuracy, votes, tokens, by a forward pass over the states (no sampling).

    Raises
    ------
    ValueError
        For a path-dependent rule or a rule cap above the model's.
    """
    rule = make_rule(rule) if isinstance(rule, str) else rule
    if rule.cap > model.cap:
        raise ValueError(f"cap: the rule's cap {rule.cap} exceeds the model's cap {model.cap}")
    stop = state_stop(rule, model.states) | (model.t >= model.cap)
    acc, votes, tokens = _run_forward(model, model.leader_value(), stop)
    return PolicyValue(acc, votes, tokens)


def frontier(model: VoteModel, costs=None, *, answer: str = "plurality", per: str = "votes") -> list[dict]:
    """The optimal accuracy-vs-cost frontier: optimal_stopping over a grid of costs (log-spaced).

    Per token the default grid is divided by the mean correct length, so it spans the same trade-offs.

    Parameters
    ----------
    model : VoteModel
        The prior.
    costs : array_like, optional
        The costs to solve at (default: 40 log-spaced values from 1e-5 to 0.2 per vote).
    answer, per : str
        As for ``optimal_stopping``.

    Returns
    -------
    list of dict
        One per cost: value, accuracy, votes, tokens, cost, answer, per.
    """
    if costs is None:
        costs = np.geomspace(1e-5, 0.2, 40) / (model.tokens[0] if per == "tokens" else 1.0)
    sols = [optimal_stopping(model, c, answer=answer, per=per) for c in costs]
    return [{k: sol[k] for k in sol.keys() if k != "stop"} for sol in sols]
