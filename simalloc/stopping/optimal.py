"""The Bayes-optimal stopping rule for majority voting, by backward induction over vote-count states.

The voter sees answer strings, not which one is correct. With a known prior over answer distributions
(M atoms p_m with weights w_m; class 0 correct) and strings labelled at random, the posterior over
(atom, assignment of strings to classes) depends only on the counts per string, and by symmetry only on
the sorted counts: the state is n_1 >= ... >= n_K >= 0 with t = sum n <= cap (about 29,000 states for
K = 4, cap = 64). In each state:

- stopping answers with the string most likely correct: value max_s P(string s correct | n);
- continuing costs c and moves to the state where string s (or a new string) gets the next vote, with
  the posterior predictive probability.

V(n) = max(stop(n), -c + sum_s P(s | n) V(n + e_s)), V = stop at t = cap. Exact for K <= 4 classes. Sweeping c
traces the optimal accuracy-vs-expected-votes frontier. ``evaluate_policy`` computes the exact accuracy
and expected votes of any rule whose decision is a function of the sorted counts (fixed-N, AC, BSPRT with
min_confirm = 1) on the same prior, so heuristics and the optimum are compared without Monte Carlo noise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .._numba import jit
from . import _kernels as K
from .rules import StoppingRule, dirichlet_leader_table, make_rule

__all__ = ["VoteModel", "optimal_stopping", "evaluate_policy", "frontier"]


@jit
def _posterior_tables(states, logp, w, perms, stop_value, pred, slot_correct):
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
        for s in range(k + 1):
            pred[s_idx, s] = 0.0
        for s in range(k):
            slot_correct[s_idx, s] = 0.0
        for m in range(n_atoms):
            for q in range(n_perm):
                post = w[m] * np.exp(ll[m, q] - top)
                total += post
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
        for s in range(k + 1):
            pred[s_idx, s] /= total


@jit
def _backward(order, t_of, nxt, pred, stop_value, cap, cost, value, stop):
    for j in range(order.size):
        i = order[j]  # states by decreasing t
        if t_of[i] >= cap:
            value[i] = stop_value[i]
            stop[i] = True
            continue
        cont = -cost
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
def _forward(order_up, t_of, nxt, pred, answer_value, stop, mass):
    acc = 0.0
    votes = 0.0
    for j in range(order_up.size):
        i = order_up[j]  # states by increasing t
        if mass[i] == 0.0:
            continue
        if stop[i]:
            acc += mass[i] * answer_value[i]
            votes += mass[i] * t_of[i]
            continue
        for s in range(nxt.shape[1]):
            if nxt[i, s] >= 0:
                mass[nxt[i, s]] += mass[i] * pred[i, s]
    return acc, votes


@dataclass
class VoteModel:
    """Sorted-count states of a prior over answer distributions, with posterior tables (built once)."""

    states: np.ndarray  # (S, K) sorted counts
    t: np.ndarray
    next: np.ndarray  # (S, K + 1): successor when slot s (or, at K, a new string) gets the vote; -1 if none
    pred: np.ndarray  # (S, K + 1): posterior predictive probabilities of those successors
    stop_value: np.ndarray  # P(best string correct)
    slot_correct: np.ndarray  # (S, K): P(string in slot s correct)
    cap: int

    @classmethod
    def build(cls, atoms, weights=None, cap: int = 64) -> "VoteModel":
        atoms = np.asarray(atoms, dtype=np.float64)
        if atoms.ndim != 2 or atoms.shape[1] < 2:
            raise ValueError("atoms: expected (n_atoms, n_classes) answer distributions with n_classes >= 2")
        k = atoms.shape[1]
        if k > 4:
            raise ValueError(f"atoms: the exact DP supports up to 4 answer classes, got {k}")
        if cap < 1:
            raise ValueError(f"cap: must be >= 1, got {cap}")
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
        _posterior_tables(st, logp, w / w.sum(), perms, stop_value, pred, slot_correct)
        return cls(st, st.sum(1), nxt, pred, stop_value, slot_correct, cap)

    def leader_value(self) -> np.ndarray:
        """Accuracy of answering with the plurality string (ties at random) in each state."""
        n = self.states
        lead = n == n[:, :1]
        lead &= n > 0
        return np.where(lead.any(1), (self.slot_correct * lead).sum(1) / np.maximum(lead.sum(1), 1), 0.0)


def _partitions(t, k):
    if k == 1:
        yield (t,)
        return
    for first in range(t, -1, -1):
        for rest in _partitions(t - first, k - 1):
            if rest[0] <= first:
                yield (first, *rest)


def optimal_stopping(model: VoteModel, cost: float) -> dict:
    """Backward induction at cost ``cost`` per vote: value, accuracy, expected votes, stop decision per state."""
    if not (np.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost: must be finite and >= 0, got {cost!r}")
    order_down = np.argsort(-model.t, kind="stable")
    value, stop = np.empty(model.t.size), np.empty(model.t.size, dtype=np.bool_)
    _backward(order_down, model.t, model.next, model.pred, model.stop_value, model.cap, float(cost), value, stop)
    acc, votes = _run_forward(model, model.stop_value, stop)
    return {"value": float(value[0]), "accuracy": acc, "votes": votes, "stop": stop, "cost": float(cost)}


def _run_forward(model, answer_value, stop):
    mass = np.zeros(model.t.size)
    mass[0] = 1.0
    order_up = np.argsort(model.t, kind="stable")
    return _forward(order_up, model.t, model.next, model.pred, answer_value, stop, mass)


def _state_stop(rule: StoppingRule, states: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The rule's stop decision in each sorted-count state (rules that depend on the counts only)."""
    p = rule.params
    top, second = states[:, 0], states[:, 1]
    if rule.code == K.FIXED:
        return t >= p["n"]
    at_cap = t >= p["cap"]
    if rule.code == K.AC_BETA:
        conf = np.array([K.beta_confidence(int(a), int(b)) for a, b in zip(top, second)])
        return at_cap | ((conf >= p["confidence"]) & (t > 0))
    if rule.code == K.AC_DIRICHLET:
        table = dirichlet_leader_table(p["cap"])
        base = p["cap"] + 1
        keys = sum(states[:, i] * base**i for i in range(min(states.shape[1], 4)))
        return at_cap | ((table[np.minimum(keys, table.size - 1)] >= p["confidence"]) & (t > 0) & (t <= p["cap"]))
    if rule.code == K.BSPRT and p["min_confirm"] == 1:
        observed = (states > 0).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p["p_known"] > 0:
                p0, p1 = np.full(t.shape, p["p_known"]), np.full(t.shape, 1 - p["p_known"])
            else:
                p0 = p["degradation"] * top / np.maximum(t, 1)
                p1 = (1 - p0) / np.maximum(observed - 1, 1)
            ok = (p0 > p1) & (p1 > 0) & ((top - second) * np.log(p0 / p1) >= np.log((1 - p["beta"]) / p["alpha"]))
        return at_cap | (ok & (t > 0))
    raise ValueError(f"{rule.name}: its decision depends on the vote path (windows or consecutive confirmations); "
                     "evaluate it by simulation (run_rule)")


def evaluate_policy(model: VoteModel, rule: StoppingRule | str) -> dict:
    """Exact accuracy (plurality answer, ties at random) and expected votes of a count-based rule under the prior."""
    rule = make_rule(rule) if isinstance(rule, str) else rule
    if rule.cap > model.cap:
        raise ValueError(f"rule cap {rule.cap} exceeds the model's cap {model.cap}")
    stop = _state_stop(rule, model.states, model.t) | (model.t >= model.cap)
    acc, votes = _run_forward(model, model.leader_value(), stop)
    return {"accuracy": acc, "votes": votes}


def frontier(model: VoteModel, costs=None) -> list[dict]:
    """The optimal accuracy-vs-expected-votes frontier: optimal_stopping over a grid of costs (log-spaced)."""
    costs = np.geomspace(1e-5, 0.2, 40) if costs is None else costs
    return [{k: v for k, v in optimal_stopping(model, c).items() if k != "stop"} for c in costs]
