"""Peer methods as training arms. Most are run at a matched rollout budget: every step may spend n_prompts x G
rollouts (the arm's G), screening, discarded and down-sampled rollouts included, exactly as uniform GRPO spends them.
The refilling methods (``dapo_dynamic``, ``speed_rl_dynamic``, ``greso``) are run as published, refilling until the
batch holds n_prompts groups with spread, every generated rollout counted (their claims are about rollouts and
time to a target: the efficiency axis reads them).

Arms (``PEER_ARMS``), each driven by the rules transcribed in ``simalloc.planner``:

- ``reinforce_ada`` / ``reinforce_ada_pos``: n_prompts prompts, Reinforce-Ada's rounds (8 samples per active
  prompt, at most 4 rounds, "balanced" / "positive_focused" retirement) while the budget lasts; each prompt trains
  on its ``keep`` kept rollouts (4).
- ``dapo_dynamic`` (``DYNAMIC_SAMPLING``): DAPO's dynamic sampling as DAPO runs it, *not* budget-matched:
  generation batches of n_prompts new prompts x G rollouts, groups without spread dropped, until n_prompts
  informative groups are kept or ``dapo.max_num_gen_batches`` batches were generated (``refill_informative``);
  every generated rollout is counted.
- ``speed_rl_dynamic``: SPEED-RL's fast-DAPO trainer, *not* budget-matched: each generation call screens
  ``speed_rl.gen_batch_ratio`` x n_prompts new candidates ``screen`` (4) rollouts each and extends the prompts an
  earlier call qualified (0 < s < screen) to G, until n_prompts full groups are held or
  ``speed_rl.max_num_gen_batches`` (50) calls were made (``SpeedRLRounds`` without a budget); every screen and
  extension is counted. Departure: the public trainer carries qualified and completed prompts over to the next step;
  here a step ends with its own groups (new candidates are screened only while the waiting ones cannot fill the
  batch, so little is left over; what is, is spent and dropped, which can only cost SPEED-RL rollouts). For the same
  reason a call screens n_prompts candidates (ratio 1, the trainer's default config) where the released scripts
  screen 4 x n_prompts, and at the cap the step trains the groups it completed where the public DataController
  raises (at its 50th call).
- ``greso``: GRESO as its trainer runs it, *not* budget-matched: pre-rollout skipping (a ``Planner`` with the
  "greso" selector, history across steps) in front of dynamic sampling with GRESO's adaptive sampling batch
  (``greso_refill``: 1.5 x n_prompts prompts first, then sized to the groups still missing, with a last batch);
  every rolled-out rollout is counted; skipped prompts cost nothing.
- ``mopps``: ``candidates`` x n_prompts random candidates, MoPPS's Thompson draws from a decayed Beta posterior
  (decay 0.5), the n_prompts nearest 0.5 get G each.
- ``pods``: n_prompts prompts, G rollouts each, PODS trains on the ``pods_keep`` (G / 2) of maximum reward variance.

HORA with priors from a prompt's history is the arm modifier ``history`` (``hora:history``: the planner's decayed
posterior as each prompt's prior, this step's pilot on top). DARS (``dars_et``, ``dars_hw``) and SPEED-RL's
fixed-prompt reading (``speed_rl``) are registry allocators and need nothing here.

Each arm rolls out through a callable ``roll(idx, n) -> successes`` (the simulator: binomial draws; the lab: the
network's samples), so the simulator and the lab run the same rule code.

Reading choices (named in ``PEER_DEFAULTS``): Reinforce-Ada's baseline from every sample drawn
(``global_stat_est``) is not modelled: the simulator's and the lab's advantages are each trained group's own
(zero-sum) GRPO advantages; the public defaults are kept although the arms' G differs from the papers'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..planner import Planner, ReinforceAdaRounds, SpeedRLRounds, pods_select

__all__ = ["PEER_ARMS", "REFILLING_ARMS", "PEER_DEFAULTS", "DYNAMIC_SAMPLING", "PeerGroups", "PeerDrawer",
           "parse_peer_options", "refill_informative", "greso_refill"]

#: the arms this module draws
PEER_ARMS = ("reinforce_ada", "reinforce_ada_pos", "speed_rl_dynamic", "greso", "mopps", "pods")
#: the peer arms that refill as published (not budget-matched: every generated rollout counted, however many)
REFILLING_ARMS = ("speed_rl_dynamic", "greso")
#: DAPO's dynamic sampling: an arm of its own (not a peer of the frontier tables), drawn here with the peers' ``roll``
DYNAMIC_SAMPLING = "dapo_dynamic"

#: every peer arm's parameters, the public code's defaults (``TrainConfig.peer_options`` overrides them, e.g.
#: "reinforce_ada.keep=8,mopps.decay=1")
PEER_DEFAULTS = {
    # DAPO's recipe scripts (verl recipe/dapo, run_dapo_qwen2.5_32b.sh) set max_num_gen_batches=10; verl's config
    # default 0 means no cap (this module: 0 = no cap, the step then stops only when the pool is exhausted)
    "dapo": {"max_num_gen_batches": 10},
    "reinforce_ada": {"round_repeat": 8, "max_rounds": 4, "keep": 4},
    # SPEED-RL's fast-DAPO trainer (Zanette-Labs/speed-rl recipe/dapo/src/fast_dapo_ray_trainer.py, its
    # DataController): rollout.n = 4 screens (run_fast_rloo_7b.sh; 8 in test_fast_rloo_1.5b_math.sh),
    # max_num_gen_batches = 50 (both scripts; its DataController raises at the 50th call, here the step trains what
    # it holds). gen_batch_ratio 1 is fast_dapo_trainer.yaml's default (gen_batch_size = train_batch_size), NOT the
    # released scripts' 64 / 16 = 4: those carry the leftover qualified prompts to the next step, which this arm
    # does not, so a ratio of 4 here would waste screens the published trainer keeps (a departure)
    "speed_rl": {"screen": 4, "gen_batch_ratio": 1.0, "max_num_gen_batches": 50},
    # GRESO's scripts (Infini-AI-Lab/GRESO train-scripts/*_greso.sh): sampling_batch_size / real_train_batch_size =
    # 384 / 256 (Qwen2.5-Math 1.5B/7B), the adaptive batch's floor 64 prompts = 64 / 256 of the training batch
    "greso": {"p_easy": 0.5, "p_hard": 0.5, "target_zero_variance": 0.25, "sampling_ratio": 1.5,
              "min_sampling_fraction": 0.25},
    "mopps": {"decay": 0.5, "candidates": 8, "target": 0.5},
    "pods": {"keep_fraction": 0.5},
    "history": {"decay": 0.5},
}


def parse_peer_options(text: str) -> dict:
    """``PEER_DEFAULTS`` updated by "rule.key=value,..." (values read as int when they look like one, else float).

    Parameters
    ----------
    text : str
        The overrides ("" for none).

    Returns
    -------
    dict of str to dict
    """
    out = {rule: dict(opts) for rule, opts in PEER_DEFAULTS.items()}
    for item in filter(None, (x.strip() for x in (text or "").split(","))):
        key, sep, value = item.partition("=")
        rule, dot, name = key.partition(".")
        if not sep or not dot or rule not in out or name not in out[rule]:
            valid = ", ".join(f"{r}.{k}" for r, o in PEER_DEFAULTS.items() for k in o)
            raise ValueError(f"peer_options: {item!r} is not rule.key=value with a known key; valid: {valid}")
        try:
            out[rule][name] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            raise ValueError(f"peer_options: {item!r}: the value is not a number") from None
    return out


@dataclass
class PeerGroups:
    """One step's trained groups from a peer arm.

    Attributes
    ----------
    idx : ndarray of int
        Pool indices of the trained prompts.
    kept_pos, kept_neg : ndarray of int
        Positive and negative rollouts each trains on (the first of each kind drawn).
    drawn_pos, drawn_trials : ndarray of int
        Everything drawn for them.
    spent : int
        Rollouts drawn in the step (trained or not).
    """

    idx: np.ndarray
    kept_pos: np.ndarray
    kept_neg: np.ndarray
    drawn_pos: np.ndarray
    drawn_trials: np.ndarray
    spent: int


class PeerDrawer:
    """Draws a peer arm's step (module docstring); holds the arm's planner across steps.

    Parameters
    ----------
    rule : str
        One of ``PEER_ARMS``.
    n_pool, n_prompts, group : int
        The pool, prompts per step, and the arm's G (budget n_prompts x G per step).
    options : dict
        ``parse_peer_options``' result.
    rngs : dict
        The run's "batch" (which prompts) and "alloc" (selectors' draws) streams.
    """

    def __init__(self, rule: str, n_pool: int, n_prompts: int, group: int, options: dict, rngs: dict):
        if rule not in (*PEER_ARMS, DYNAMIC_SAMPLING):
            raise ValueError(f"rule: unknown peer arm {rule!r}; valid: {', '.join((*PEER_ARMS, DYNAMIC_SAMPLING))}")
        self.rule, self.n_pool, self.n_prompts, self.group = rule, n_pool, n_prompts, group
        self.options, self.rngs = options, rngs
        self.budget = n_prompts * group
        self.planner = None
        if rule == "greso":
            o = options["greso"]
            self.planner = Planner("greso", p_easy=o["p_easy"], p_hard=o["p_hard"],
                                   target_zero_variance=o["target_zero_variance"])
            if not (o["sampling_ratio"] > 0 and 0 < o["min_sampling_fraction"] <= o["sampling_ratio"]):
                raise ValueError("peer_options: greso.sampling_ratio must be > 0 and greso.min_sampling_fraction in "
                                 f"(0, sampling_ratio], got {o['sampling_ratio']!r}, {o['min_sampling_fraction']!r}")
        elif rule == "mopps":
            o = options["mopps"]
            self.planner = Planner("mopps", decay=o["decay"], target=o["target"])
        if rule == "speed_rl_dynamic":
            o = options["speed_rl"]
            if not 1 <= o["screen"] < group:
                raise ValueError(f"peer_options: speed_rl.screen must be in [1, G - 1] = [1, {group - 1}]")
            if not o["gen_batch_ratio"] > 0:
                raise ValueError(f"peer_options: speed_rl.gen_batch_ratio must be > 0, got {o['gen_batch_ratio']!r}")
            cap = o["max_num_gen_batches"]
            if not isinstance(cap, int) or cap < 0:
                raise ValueError(f"peer_options: speed_rl.max_num_gen_batches must be an integer >= 0 (0: no cap), "
                                 f"got {cap!r}")
        if rule == "pods" and not 0 < options["pods"]["keep_fraction"] <= 1:
            raise ValueError("peer_options: pods.keep_fraction must be in (0, 1]")
        cap = options["dapo"]["max_num_gen_batches"]
        if rule == DYNAMIC_SAMPLING and (not isinstance(cap, int) or cap < 0):
            raise ValueError(f"peer_options: dapo.max_num_gen_batches must be an integer >= 0 (0: no cap), got {cap!r}")

    def draw(self, roll) -> PeerGroups:
        """The step's trained groups; ``roll(idx, n)`` returns successes of n[j] new rollouts of prompt idx[j]."""
        return getattr(self, "_" + self.rule.replace("_pos", "").replace("_dynamic", ""))(roll)

    def _batch(self) -> np.ndarray:
        return self.rngs["batch"].choice(self.n_pool, self.n_prompts, replace=False)

    def _run(self, rounds, roll, max_rounds: int = 0) -> PeerGroups:
        """A multi-round rule played to its end with ``roll`` (at most ``max_rounds`` rounds; 0: no cap); its
        trained groups."""
        while (max_rounds == 0 or rounds.n_rounds < max_rounds) and (req := rounds.next_round()) is not None:
            ids, n = req
            rounds.report(ids, roll(np.asarray(ids, dtype=np.int64), n), n)
        g = rounds.groups()
        return PeerGroups(g.ids.astype(np.int64), g.kept_successes, g.kept_sizes - g.kept_successes,
                          g.drawn_successes, g.drawn_trials, g.spent)

    def _reinforce_ada(self, roll) -> PeerGroups:
        o = self.options["reinforce_ada"]
        choice = "positive_focused" if self.rule.endswith("_pos") else "balanced"
        return self._run(ReinforceAdaRounds(self._batch(), self.budget, o["round_repeat"], o["max_rounds"],
                                            o["keep"], choice), roll)

    def _speed_rl(self, roll) -> PeerGroups:
        o = self.options["speed_rl"]
        screen = o["screen"]
        cand = self.rngs["batch"].permutation(self.n_pool)
        chunk = max(1, int(round(o["gen_batch_ratio"] * self.n_prompts)))
        # not budget-matched: the rounds may screen and extend every candidate (n_pool x G rollouts at most)
        rounds = SpeedRLRounds(cand, self.n_pool * self.group, self.n_prompts, screen, self.group - screen, chunk)
        return self._run(rounds, roll, o["max_num_gen_batches"])

    def _greso(self, roll) -> PeerGroups:
        """GRESO's step as its trainer runs it (``greso_refill``), the planner's skipping in front."""
        o = self.options["greso"]
        order = self.rngs["batch"].permutation(self.n_pool)
        at = 0

        def candidates(size):
            """The next ``size`` prompts GRESO does not skip, read from the shuffled pool (its dataloader)."""
            nonlocal at
            out = []
            while len(out) < size and at < order.size:
                chunk = order[at:at + size - len(out)]
                at += chunk.size
                out += self.planner.select(chunk, chunk.size, self.rngs["alloc"]).tolist()
            return np.asarray(out, dtype=np.int64)

        g, rolled = greso_refill(candidates, roll, self.n_prompts, self.group, o["sampling_ratio"],
                                 o["min_sampling_fraction"])
        if rolled[0].size:
            self.planner.observe(rolled[0], rolled[1], np.full(rolled[0].size, self.group))
        self.planner.end_step()
        return g

    def _dapo(self, roll) -> PeerGroups:
        fresh = np.ones(self.n_pool, dtype=bool)  # a prompt is generated at most once per step

        def generation_batch():
            rest = np.flatnonzero(fresh)
            idx = self.rngs["batch"].choice(rest, min(self.n_prompts, rest.size), replace=False)
            fresh[idx] = False
            return idx

        return refill_informative(generation_batch, roll, self.n_prompts, self.group,
                                  self.options["dapo"]["max_num_gen_batches"])

    def _mopps(self, roll) -> PeerGroups:
        o = self.options["mopps"]
        m = int(min(self.n_pool, max(self.n_prompts, round(o["candidates"] * self.n_prompts))))
        cand = self.rngs["batch"].choice(self.n_pool, m, replace=False)
        idx = self.planner.select(cand, self.n_prompts, self.rngs["alloc"]).astype(np.int64)
        n = np.full(idx.size, self.group, dtype=np.int64)
        s = roll(idx, n)
        self.planner.observe(idx, s, n)
        self.planner.end_step()
        return PeerGroups(idx, s, n - s, s, n, int(n.sum()))

    def _pods(self, roll) -> PeerGroups:
        idx = self._batch()
        n = np.full(idx.size, self.group, dtype=np.int64)
        s = roll(idx, n)
        m = max(1, int(round(self.options["pods"]["keep_fraction"] * self.group)))
        kp = np.empty(idx.size, dtype=np.int64)
        for j, sj in enumerate(s.tolist()):
            rewards = np.r_[np.ones(sj), np.zeros(self.group - sj)]
            kp[j] = int(rewards[pods_select(rewards, m)].sum())
        return PeerGroups(idx, kp, m - kp, s, n, int(n.sum()))


def refill_informative(generation_batch, roll, n_prompts: int, group: int, max_num_gen_batches: int) -> PeerGroups:
    """DAPO's dynamic sampling: generate whole batches until ``n_prompts`` groups with spread are kept.

    Each generation batch is ``generation_batch()`` (the prompts, possibly fewer than n_prompts when the pool runs
    out) with ``group`` rollouts each; groups whose rewards are all equal (0 or ``group`` successes) are dropped;
    the loop stops once ``n_prompts`` informative groups are held, after ``max_num_gen_batches`` batches (0: no cap)
    or when a batch is empty. An overfull batch keeps the first ``n_prompts`` informative groups in the order
    generated (verl's ``batch[:traj_bsz]``). Every generated rollout counts in ``spent``.

    Parameters
    ----------
    generation_batch : callable
        ``() -> ndarray of int``: the next batch's prompts.
    roll : callable
        ``roll(idx, n) -> successes`` of n[j] new rollouts of prompt idx[j].
    n_prompts : int
        Informative groups a step trains on (DAPO's ``train_prompt_bsz``).
    group : int
        Rollouts per prompt (G; DAPO's ``n_resp_per_prompt``).
    max_num_gen_batches : int
        The cap on generation batches per step (0: none).

    Returns
    -------
    PeerGroups
        The kept groups (at most ``n_prompts``; fewer only when the cap or the pool stopped the step), and the
        rollouts spent: ``group`` x every prompt generated.

    Notes
    -----
    At the cap DAPO's trainer raises an error ("Generated too many"); a study cannot stop there, so the step
    trains on the informative groups it holds. DAPO's recipe generates ``gen_prompt_bsz`` = 3 x train_prompt_bsz
    prompts per batch; here a generation batch is n_prompts prompts (finer refills: the overshoot past the
    last needed group is at most one batch of n_prompts x G, not three).

    References
    ----------
    DAPO, arXiv 2503.14476, Sec. 3.2 and Algorithm 1 (dynamic sampling); verl ``recipe/dapo/dapo_ray_trainer.py``
    (``filter_groups``, ``max_num_gen_batches``).
    """
    kept_idx, kept_s, n_kept, spent, batches = [], [], 0, 0, 0
    while n_kept < n_prompts and (max_num_gen_batches == 0 or batches < max_num_gen_batches):
        idx = np.asarray(generation_batch(), dtype=np.int64)
        if idx.size == 0:
            break
        s = np.asarray(roll(idx, np.full(idx.size, group, dtype=np.int64)), dtype=np.int64)
        spent += idx.size * group
        batches += 1
        ok = (s > 0) & (s < group)
        kept_idx.append(idx[ok])
        kept_s.append(s[ok])
        n_kept += int(ok.sum())
    idx = np.concatenate(kept_idx)[:n_prompts] if kept_idx else np.empty(0, dtype=np.int64)
    s = np.concatenate(kept_s)[:n_prompts] if kept_s else np.empty(0, dtype=np.int64)
    return PeerGroups(idx, s, group - s, s, np.full(idx.size, group, dtype=np.int64), spent)


def greso_refill(candidates, roll, n_prompts: int, group: int, sampling_ratio: float = 1.5,
                 min_sampling_fraction: float = 0.25) -> tuple[PeerGroups, tuple]:
    """GRESO's dynamic sampling with its adaptive sampling batch: roll out until ``n_prompts`` groups with spread.

    The first sampling batch is ``sampling_ratio`` x n_prompts prompts (``candidates(size)``: the prompts not skipped
    before rollout), ``group`` rollouts each; groups whose rewards are all equal are dropped. While fewer than
    n_prompts groups are held, the next batch has max(min(e, b0), b_min) prompts, e = int(r / (1 - z) x 1.25) with r
    the groups still missing and z the last batch's zero-variance share (b0 the first batch's size, b_min =
    ``min_sampling_fraction`` x n_prompts); when e <= b0 that batch is the last: the step then trains on what it
    holds. An overfull step keeps the first n_prompts informative groups (``select_batch_slice``). Every rolled-out
    rollout counts in ``spent``; skipped prompts cost nothing.

    Parameters
    ----------
    candidates : callable
        ``candidates(size) -> ndarray of int``: up to ``size`` prompts to roll out (fewer only when the pool ran
        out; empty stops the step).
    roll : callable
        ``roll(idx, n) -> successes`` of n[j] new rollouts of prompt idx[j].
    n_prompts : int
        Informative groups a step trains on (``real_train_batch_size``).
    group : int
        Rollouts per prompt (``rollout.n``).
    sampling_ratio : float, default 1.5
        The first sampling batch over n_prompts (``sampling_batch_size`` / ``real_train_batch_size`` = 384 / 256).
    min_sampling_fraction : float, default 0.25
        The adaptive batch's floor over n_prompts (64 / 256 in the scripts).

    Returns
    -------
    groups : PeerGroups
        The kept groups (at most n_prompts) and every rollout spent.
    rolled : tuple of ndarray
        (ids, successes) of every prompt rolled out in the step (GRESO's history records them all).

    Notes
    -----
    Each ``candidates`` call fills the batch exactly; GRESO's dataloader adds skip-filtered chunks of
    ``train_batch_size`` (32) prompts until the batch is reached, which may overshoot it by up to 31 prompts. With z
    = 1 (no group with spread) e is unbounded and the next batch is b0 (GRESO's code divides by zero there).

    References
    ----------
    GRESO, arXiv 2506.02177, Algorithm 1; Infini-AI-Lab/GRESO ``verl/trainer/ppo/ray_trainer.py`` (``fit``: the
    ``ttis.type=dynamic_sampling`` branch, ``adaptive_sampling_bs``, ``last_sampling``).
    """
    b0 = max(1, int(round(sampling_ratio * n_prompts)))
    b_min = max(1, int(round(min_sampling_fraction * n_prompts)))
    size, last = b0, False
    kept_idx, kept_s, n_kept, spent = [], [], 0, 0
    all_idx, all_s = [], []
    while True:
        idx = np.asarray(candidates(size), dtype=np.int64)
        if idx.size == 0:
            break
        s = np.asarray(roll(idx, np.full(idx.size, group, dtype=np.int64)), dtype=np.int64)
        spent += idx.size * group
        all_idx.append(idx)
        all_s.append(s)
        ok = (s > 0) & (s < group)
        kept_idx.append(idx[ok])
        kept_s.append(s[ok])
        n_kept += int(ok.sum())
        if n_kept >= n_prompts or last:
            break
        zero = 1.0 - float(ok.mean())
        est = int((n_prompts - n_kept) / (1.0 - zero) * 1.25) if zero < 1.0 else b0 + 1
        last = est <= b0
        size = max(min(est, b0), b_min)
    idx = np.concatenate(kept_idx)[:n_prompts] if kept_idx else np.empty(0, dtype=np.int64)
    s = np.concatenate(kept_s)[:n_prompts] if kept_s else np.empty(0, dtype=np.int64)
    rolled = (np.concatenate(all_idx), np.concatenate(all_s)) if all_idx else \
        (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return PeerGroups(idx, s, group - s, s, np.full(idx.size, group, dtype=np.int64), spent), rolled


class HistoryPredictor:
    """HORA's prior from a prompt's own history: a ``Planner``'s decayed posterior Beta(alpha_i, beta_i) (the
    ``history`` arm modifier; decay from ``PEER_DEFAULTS["history"]``)."""

    name = "history"

    def __init__(self, decay: float):
        self.planner = Planner(decay=decay)

    def predict(self, idx, p_true):
        """The posterior means (for allocators that read a predicted pass rate)."""
        a, b = self.planner.posterior(idx)
        return a / (a + b)

    def prior(self, idx):
        """(alpha, beta) per prompt: the prior HORA's allocation starts from."""
        return self.planner.posterior(idx)

    def observe(self, idx, successes, trials):
        """One step's groups into the history."""
        used = np.asarray(trials) > 0
        self.planner.observe(np.asarray(idx)[used], np.asarray(successes)[used], np.asarray(trials)[used])
        self.planner.end_step()
