"""``Planner``: which prompts to roll out and how many rollouts each, with a memory of every prompt across steps.

Per prompt the planner keeps a decayed Beta posterior of its pass rate (MoPPS's update, ``mopps_update``), its
consecutive all-correct and all-wrong counts (GRESO's runs), the step it was last rolled out and how often it
was. A step with the planner::

    planner = Planner(selector="greso")
    ids = planner.select(candidates, 64, rng)                        # which prompts
    extra = planner.allocate(ids, pilot_s, pilot_n, 768, history_prior=True)   # how many more each
    ...                                                              # roll out, train
    planner.observe(ids, successes, trials)                          # once per prompt per step: its totals
    planner.end_step()                                               # GRESO adapts its exploration

``state_dict`` / ``load_state_dict`` round-trip everything (a JSON-able dict), so a training run can checkpoint
the planner with its model and resume with the same decisions.

Selectors: "uniform" (n candidates at random), "greso" (the candidates read in a random order drawn from the
``rng``, as the public code's shuffled dataloader feeds them, each skipped before rollout with GRESO's probability;
the first n kept), "mopps" (Thompson draws from the posterior, the n nearest ``target``). GRESO's
rewards are 1 / 0.1 / 0 (correct / wrong / bad format), so its thresholds 0.98 and 0.11 mean "all correct" and
"all wrong": with binary rewards the planner counts s = n and s = 0.
"""

from __future__ import annotations

import numpy as np

from ..seeding import as_generator
from ..validation import check_choice, shown
from .rounds import Rounds, make_rounds
from .rules import greso_adapt, greso_skip_probability, mopps_select, mopps_update

__all__ = ["Planner", "SELECTORS"]

#: the selection rules
SELECTORS = ("uniform", "greso", "mopps")

_STATE_VERSION = 1


class Planner:
    """Selection, allocation and multi-round rules with per-prompt history (module docstring).

    Parameters
    ----------
    selector : {"uniform", "greso", "mopps"}, default "uniform"
        The rule ``select`` applies.
    decay : float, default 1.0
        The posterior's decay lambda at each observation (MoPPS: 0.5 in the public scripts; 1: no forgetting).
    prior : (float, float), default (1.0, 1.0)
        (alpha0, beta0): a new prompt's posterior, and what decay pulls toward.
    target : float, default 0.5
        MoPPS's target pass rate.
    p_easy, p_hard : float, default 0.5
        GRESO's initial exploration probabilities.
    target_zero_variance : float, default 0.25
        GRESO's target share of zero-variance groups (easy: a third of it, hard: two thirds).
    adapt : bool, default True
        Whether ``end_step`` adapts GRESO's probabilities (the public code adapts from the second epoch on).
    """

    def __init__(self, selector: str = "uniform", *, decay: float = 1.0, prior=(1.0, 1.0), target: float = 0.5,
                 p_easy: float = 0.5, p_hard: float = 0.5, target_zero_variance: float = 0.25, adapt: bool = True):
        self.selector = check_choice(selector, "selector", SELECTORS)
        if not 0 <= decay <= 1:
            raise ValueError(f"decay: expected a value in [0, 1], got {shown(decay)}")
        a0, b0 = (float(x) for x in prior)
        if not (np.isfinite(a0) and np.isfinite(b0) and a0 > 0 and b0 > 0):
            raise ValueError(f"prior: expected (alpha0, beta0) > 0 and finite, got {shown(prior)}")
        for name, v in (("target", target), ("p_easy", p_easy), ("p_hard", p_hard),
                        ("target_zero_variance", target_zero_variance)):
            if not 0 <= v <= 1:
                raise ValueError(f"{name}: expected a value in [0, 1], got {shown(v)}")
        self.decay, self.prior, self.target = float(decay), (a0, b0), float(target)
        self.p_easy, self.p_hard = float(p_easy), float(p_hard)
        self.target_zero_variance, self.adapt = float(target_zero_variance), bool(adapt)
        self.step = 0
        self._rows: dict = {}
        self._alpha, self._beta = [], []
        self._easy, self._hard, self._last, self._seen = [], [], [], []
        self._step_counts = [0, 0, 0]  # this step's (groups, all correct, all wrong)

    # ---- history -------------------------------------------------------------------------------------------
    def _row(self, key, create: bool):
        key = key.item() if isinstance(key, np.generic) else key
        row = self._rows.get(key)
        if row is None and create:
            row = self._rows[key] = len(self._alpha)
            self._alpha.append(self.prior[0])
            self._beta.append(self.prior[1])
            self._easy.append(0)
            self._hard.append(0)
            self._last.append(-1)
            self._seen.append(0)
        return row

    def posterior(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, beta) of each prompt's decayed posterior (the prior for prompts never observed).

        Parameters
        ----------
        ids : sequence
            Prompt ids.

        Returns
        -------
        (ndarray, ndarray)
        """
        rows = self._rows_of(ids)
        return (_gather(self._alpha, rows, self.prior[0], np.float64),
                _gather(self._beta, rows, self.prior[1], np.float64))

    def _rows_of(self, ids) -> list:
        return [self._row(k, False) for k in np.asarray(ids).tolist()]

    def history(self, ids) -> dict:
        """Per prompt: posterior alpha, beta, all-correct run, all-wrong run, last step seen (-1: never), times seen.

        Parameters
        ----------
        ids : sequence
            Prompt ids.

        Returns
        -------
        dict of str to ndarray
        """
        rows = self._rows_of(ids)
        a, b = self.posterior(ids)
        return {"alpha": a, "beta": b, "easy_run": _gather(self._easy, rows, 0),
                "hard_run": _gather(self._hard, rows, 0), "last_seen": _gather(self._last, rows, -1),
                "seen": _gather(self._seen, rows, 0)}

    def observe(self, ids, successes, trials) -> None:
        """Record one step's results: the posterior update (``mopps_update`` with ``decay``), GRESO's runs (all
        correct: s = n; all wrong: s = 0), the last step seen. Call once per prompt per step with its totals.

        Parameters
        ----------
        ids : sequence
            Prompt ids.
        successes, trials : array_like of int
            Their successes and rollouts this step (trials >= 1).
        """
        keys = np.asarray(ids).tolist()
        s = np.asarray(successes, dtype=np.int64).reshape(-1)
        n = np.asarray(trials, dtype=np.int64).reshape(-1)
        if s.size != len(keys) or n.size != len(keys):
            raise ValueError(f"successes, trials: expected one count per id ({len(keys)}), got {s.size}, {n.size}")
        if np.any(n < 1) or np.any(s < 0) or np.any(s > n):
            raise ValueError("successes, trials: expected 0 <= successes <= trials and trials >= 1")
        if len(set(keys)) != len(keys):
            raise ValueError("ids: each prompt once per observe() (report its step totals)")
        for key, si, ni in zip(keys, s.tolist(), n.tolist()):
            r = self._row(key, True)
            a, b = mopps_update(self._alpha[r], self._beta[r], si, ni, self.decay, self.prior)
            self._alpha[r], self._beta[r] = float(a), float(b)
            self._easy[r] = self._easy[r] + 1 if si == ni else 0
            self._hard[r] = self._hard[r] + 1 if si == 0 else 0
            self._last[r] = self.step
            self._seen[r] += 1
        self._step_counts[0] += len(keys)
        self._step_counts[1] += int(np.sum(s == n))
        self._step_counts[2] += int(np.sum(s == 0))

    def end_step(self) -> None:
        """Close the step: GRESO's exploration probabilities move toward their zero-variance targets (``greso_adapt``;
        from the second step on, as the public code from its second epoch), and the step counter advances."""
        groups, easy, hard = self._step_counts
        if self.adapt and self.step > 0 and groups:
            self.p_hard = greso_adapt(self.p_hard, hard / groups, self.target_zero_variance * 2 / 3)
            self.p_easy = greso_adapt(self.p_easy, easy / groups, self.target_zero_variance / 3)
        self._step_counts = [0, 0, 0]
        self.step += 1

    # ---- decisions -----------------------------------------------------------------------------------------
    def skip_probability(self, ids) -> np.ndarray:
        """GRESO's probability of skipping each prompt before rollout (``greso_skip_probability``).

        Parameters
        ----------
        ids : sequence
            Prompt ids.

        Returns
        -------
        ndarray
        """
        h = self.history(ids)
        out = np.empty(len(h["seen"]))
        for i, (e, d) in enumerate(zip(h["easy_run"], h["hard_run"])):
            pe, ph = greso_skip_probability(int(e), int(d), self.p_easy, self.p_hard)
            out[i] = pe + (1 - pe) * ph
        return out

    def select(self, candidate_ids, n: int, rng=None) -> np.ndarray:
        """Which prompts to roll out: at most ``n`` of ``candidate_ids`` by the planner's selector.

        Parameters
        ----------
        candidate_ids : sequence
            The candidates, in any order: GRESO reads them in a random order drawn from ``rng`` (the public
            code's shuffled dataloader), so ids passed in dataset order do not train on the dataset's start.
        n : int
            Prompts wanted, 0 <= n <= len(candidate_ids).
        rng : int, Generator or None
            Random stream (the same state gives the same selection).

        Returns
        -------
        ndarray
            The selected ids, in the candidates' order (GRESO: fewer than ``n`` when too many candidates are
            skipped).
        """
        cand = np.asarray(candidate_ids)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= cand.size:
            raise ValueError(f"n: expected an integer in [0, {cand.size}] (the candidates), got {shown(n)}")
        rng = as_generator(rng)
        if self.selector == "uniform":
            return cand[np.sort(rng.choice(cand.size, n, replace=False))]
        if self.selector == "mopps":
            a, b = self.posterior(cand)
            pick, _ = mopps_select(a, b, n, rng, self.target)
            return cand[pick]
        order = rng.permutation(cand.size)
        keep = rng.random(cand.size) >= self.skip_probability(cand)[order]
        return cand[np.sort(order[keep][:n])]

    def allocate(self, ids, successes, trials, budget: int, *, allocator: str = "hora", history_prior: bool = False,
                 rng=None, cap=None, options=None) -> np.ndarray:
        """How many extra rollouts each prompt gets: ``simalloc.allocate`` with the planner's posterior as the prior
        when ``history_prior`` (Beta(alpha_i, beta_i) from earlier steps, then this step's pilot on top).

        Parameters
        ----------
        ids : sequence
            The step's prompts.
        successes, trials : array_like of int
            This step's pilot counts.
        budget : int
            Extra rollouts to split.
        allocator : str, default "hora"
            Any registered allocator.
        history_prior : bool, default False
            Use the history as the prior (else ``simalloc.allocate``'s Beta(1, 1)).
        rng, cap, options
            As ``simalloc.allocate``.

        Returns
        -------
        ndarray of int64
            Extra rollouts per prompt, summing to ``budget``.
        """
        from ..allocators import allocate as _allocate  # here: the allocators import the planner's rules

        prior = self.posterior(ids) if history_prior else (1.0, 1.0)
        return _allocate(allocator, successes, trials, budget, prior=prior, cap=cap, rng=rng, options=options)

    def rounds(self, rule: str, ids, budget: int, **options) -> Rounds:
        """A multi-round rule for this step (``simalloc.planner.rounds``): "reinforce_ada" or "speed_rl".

        Parameters
        ----------
        rule : str
            The rule.
        ids : sequence
            The step's prompts (SPEED-RL: candidates in screening order).
        budget : int
            Rollouts the step may spend.
        **options
            The rule's parameters.

        Returns
        -------
        Rounds
            Report its rounds, then pass ``groups()`` totals to ``observe``.
        """
        return make_rounds(rule, ids, budget, **options)

    # ---- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything the planner knows, as plain Python values (JSON-able when the ids are).

        Returns
        -------
        dict
        """
        return {"version": _STATE_VERSION, "selector": self.selector, "decay": self.decay, "prior": list(self.prior),
                "target": self.target, "p_easy": self.p_easy, "p_hard": self.p_hard,
                "target_zero_variance": self.target_zero_variance, "adapt": self.adapt, "step": self.step,
                "ids": list(self._rows), "alpha": list(self._alpha), "beta": list(self._beta),
                "easy_run": list(self._easy), "hard_run": list(self._hard), "last_seen": list(self._last),
                "seen": list(self._seen), "step_counts": list(self._step_counts)}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s output (replaces everything, settings included).

        Parameters
        ----------
        state : dict
            A ``state_dict()``.
        """
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"state: expected a Planner.state_dict() of version {_STATE_VERSION}")
        fresh = Planner(state["selector"], decay=state["decay"], prior=tuple(state["prior"]), target=state["target"],
                        p_easy=state["p_easy"], p_hard=state["p_hard"],
                        target_zero_variance=state["target_zero_variance"], adapt=state["adapt"])
        n = len(state["ids"])
        cols = ("alpha", "beta", "easy_run", "hard_run", "last_seen", "seen")
        if any(len(state[c]) != n for c in cols):
            raise ValueError("state: per-prompt lists of different lengths")
        self.__dict__.update(fresh.__dict__)
        self.step = int(state["step"])
        self._rows = {k: i for i, k in enumerate(state["ids"])}
        self._alpha = [float(x) for x in state["alpha"]]
        self._beta = [float(x) for x in state["beta"]]
        self._easy, self._hard = [int(x) for x in state["easy_run"]], [int(x) for x in state["hard_run"]]
        self._last, self._seen = [int(x) for x in state["last_seen"]], [int(x) for x in state["seen"]]
        self._step_counts = [int(x) for x in state["step_counts"]]


def _gather(values: list, rows: list, default, dtype=np.int64) -> np.ndarray:
    """values[r] for each row r (``default`` where the prompt was never observed: r is None)."""
    return np.array([default if r is None else values[r] for r in rows], dtype=dtype)
