"""Peer methods as training arms, at a matched rollout budget: every step may spend n_prompts x G rollouts (the
arm's G), screening, discarded and down-sampled rollouts included, exactly as uniform GRPO spends them.

Arms (``PEER_ARMS``), each driven by the rules transcribed in ``simalloc.planner``:

- ``reinforce_ada`` / ``reinforce_ada_pos``: n_prompts prompts, Reinforce-Ada's rounds (8 samples per active
  prompt, at most 4 rounds, "balanced" / "positive_focused" retirement) while the budget lasts; each prompt trains
  on its ``keep`` kept rollouts (4).
- ``dapo_dynamic`` (``DYNAMIC_SAMPLING``): DAPO's dynamic sampling as DAPO runs it, *not* budget-matched:
  generation batches of n_prompts new prompts x G rollouts, groups without spread dropped, until n_prompts
  informative groups are kept or ``dapo.max_num_gen_batches`` batches were generated (``refill_informative``);
  every generated rollout is counted.
- ``speed_rl_dynamic``: candidates in a random order, screened 4 each; qualified ones extended to G; until
  n_prompts groups are full or the budget is spent. Unqualified screens are spent and discarded.
- ``greso``: GRESO's pre-rollout skipping (a ``Planner`` with the "greso" selector, history across steps) in
  front of DAPO's dynamic sampling (groups of G, zero-variance groups dropped, refilled until n_prompts groups or
  the budget); skipped prompts cost nothing.
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

__all__ = ["PEER_ARMS", "PEER_DEFAULTS", "DYNAMIC_SAMPLING", "PeerGroups", "PeerDrawer", "parse_peer_options",
           "refill_informative"]

#: the arms this module draws
PEER_ARMS = ("reinforce_ada", "reinforce_ada_pos", "speed_rl_dynamic", "greso", "mopps", "pods")
#: DAPO's dynamic sampling: an arm of its own (not a peer of the frontier tables), drawn here with the peers' ``roll``
DYNAMIC_SAMPLING = "dapo_dynamic"

#: every peer arm's parameters, the public code's defaults (``TrainConfig.peer_options`` overrides them, e.g.
#: "reinforce_ada.keep=8,mopps.decay=1")
PEER_DEFAULTS = {
    # DAPO's recipe scripts (verl recipe/dapo, run_dapo_qwen2.5_32b.sh) set max_num_gen_batches=10; verl's config
    # default 0 means no cap (this module: 0 = no cap, the step then stops only when the pool is exhausted)
    "dapo": {"max_num_gen_batches": 10},
    "reinforce_ada": {"round_repeat": 8, "max_rounds": 4, "keep": 4},
    "speed_rl": {"screen": 4},
    "greso": {"p_easy": 0.5, "p_hard": 0.5, "target_zero_variance": 0.25},
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
            self.planner = Planner("greso", **options["greso"])
        elif rule == "mopps":
            o = options["mopps"]
            self.planner = Planner("mopps", decay=o["decay"], target=o["target"])
        if rule == "speed_rl_dynamic" and not 1 <= options["speed_rl"]["screen"] < group:
            raise ValueError(f"peer_options: speed_rl.screen must be in [1, G - 1] = [1, {group - 1}]")
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

    def _run(self, rounds, roll) -> PeerGroups:
        """A multi-round rule played to its end with ``roll``; its trained groups."""
        while (req := rounds.next_round()) is not None:
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
        screen = self.options["speed_rl"]["screen"]
        cand = self.rngs["batch"].permutation(self.n_pool)
        return self._run(SpeedRLRounds(cand, self.budget, self.n_prompts, screen, self.group - screen), roll)

    def _greso(self, roll) -> PeerGroups:
        order = self.rngs["batch"].permutation(self.n_pool)
        g, planner = self.group, self.planner
        kept, pos, spent, at = [], [], 0, 0
        rolled_idx, rolled_s = [], []
        while len(kept) < self.n_prompts and spent + g <= self.budget and at < order.size:
            want = min(self.n_prompts - len(kept), (self.budget - spent) // g)
            chunk = order[at:at + max(want, 1) * 4]  # GRESO's sampling batch: candidates beyond the training need
            at += chunk.size
            idx = planner.select(chunk, min(want, chunk.size), self.rngs["alloc"]).astype(np.int64)
            if not idx.size:
                continue
            s = roll(idx, np.full(idx.size, g, dtype=np.int64))
            spent += idx.size * g
            rolled_idx.append(idx)
            rolled_s.append(s)
            ok = (s > 0) & (s < g)
            kept += idx[ok].tolist()
            pos += s[ok].tolist()
        if rolled_idx:
            ri, rs = np.concatenate(rolled_idx), np.concatenate(rolled_s)
            planner.observe(ri, rs, np.full(ri.size, g))
        planner.end_step()
        kept_a, pos_a = np.asarray(kept, dtype=np.int64), np.asarray(pos, dtype=np.int64)
        return PeerGroups(kept_a, pos_a, g - pos_a, pos_a, np.full(kept_a.size, g), spent)

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
