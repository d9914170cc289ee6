"""A training step's batch: prompts, pilot rollouts, the arm's allocation of Phase B, extra rollouts.

Uniform steps (and the warm-up) give every prompt G rollouts. Allocating arms split each Phase-B shard's budget
(``phase_b_shards``, HORA's 4 x 15) with the registry's allocator, optionally with a learned prior from the
arm's predictor; a placebo arm permutes the shard's group sizes over its prompts. ``dapo_dynamic`` and the
peer arms draw their groups through ``simalloc.train.peers.PeerDrawer`` (DAPO's refill: ``refill_informative``).
Rollouts come from the model's ``roll`` (``simalloc.train.model.TrainingModel``): in the simulator binomial draws
given the policy's pass rates (a sufficient statistic for binary rewards), in the lab the network's samples; the
same drawer serves both.

Random streams (each a numpy Generator, used in this order every step): ``batch`` (which prompts), ``pilot``
(pilot successes), ``alloc`` (allocator ties and the placebo's permutation), ``extra`` (extra successes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..allocators import allocate
from ..jit import jit
from .arms import Arm
from .config import BatchSpec
from .peers import PeerDrawer, parse_peer_options
from .predictors import TRUTH_CONCENTRATION

__all__ = ["Batch", "BatchDrawer", "binomial", "arm_prompts"]


@dataclass
class Batch:
    """One step's groups: prompt indices, pass rates, successes and sizes per group, rollouts spent, and for
    allocating steps the pilot successes and the extra rollouts per prompt (None for dynamic sampling).

    Attributes
    ----------
    idx : ndarray of int
        The groups' prompt indices in the pool.
    p : ndarray
        Their pass rates under the rollout policy (NaN where the model does not carry them: the lab's, unless a
        predictor reads them; ``TrainingModel.rates_in_batch``).
    successes, sizes : ndarray of int
        Each group's successes and rollouts.
    rollouts : int
        Rollouts spent by the step.
    pilot, extra, extra_successes : ndarray of int or None
        Pilot successes, extra rollouts and their successes per prompt (allocating steps).
    """

    idx: np.ndarray
    p: np.ndarray
    successes: np.ndarray
    sizes: np.ndarray
    rollouts: int
    pilot: np.ndarray | None = None
    extra: np.ndarray | None = None
    extra_successes: np.ndarray | None = None


@jit
def _binomial(rng, n, p, out):
    """out[i] ~ Binomial(n[i], p[i]) (a numba loop: faster than numpy's per-element dispatch)."""
    for i in range(out.size):
        out[i] = rng.binomial(n[i], p[i]) if n[i] > 0 else 0
    return out


def binomial(rng, n, p) -> np.ndarray:
    """Binomial(n_i, p_i) draws from ``rng`` (n broadcast to p's shape), int64.

    Parameters
    ----------
    rng : numpy.random.Generator
        The stream (numba draws from it and advances it).
    n : int or array_like of int
        Trials.
    p : array_like
        Success probabilities.

    Returns
    -------
    ndarray of int64
    """
    p = np.ascontiguousarray(p, dtype=np.float64)
    n = np.ascontiguousarray(np.broadcast_to(n, p.shape), dtype=np.int64)
    return _binomial(rng, n, p, np.empty(p.size, dtype=np.int64))


def _scaled_count(arm: Arm, modifier: str, scale: float, name: str, base: int, unit: str) -> int:
    """round(scale x base) for an arm's ``<modifier><m>``; ValueError unless it is a positive integer (to 1e-9
    relative: m is parsed from decimal text, so 0.1 x 30 must read as 3)."""
    n = int(round(base * scale))
    if n < 1 or abs(base * scale - n) > 1e-9 * n:
        raise ValueError(f"arm {arm.spec!r}: {modifier}{scale:g} times {name} {base} = {base * scale:g} {unit}; "
                         f"{modifier}<m> needs m x {name} to be a positive integer")
    return n


def arm_prompts(n_prompts: int, n_pool: int, arm: Arm, phase_b_shards: int = 1) -> int:
    """The prompts an arm trains on per step: round(m n_prompts) for a ``p<m>`` arm, else n_prompts (warm-up steps
    draw n_prompts for every arm, as they draw G for an ``x<m>`` arm).

    Parameters
    ----------
    n_prompts, n_pool : int
        The study's prompts per step and training pool.
    arm : Arm
        The arm (its ``prompt_scale`` m).
    phase_b_shards : int, default 1
        The shards Phase B is allocated in (each needs a prompt).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When m n_prompts is not a positive integer, exceeds the pool (prompts are drawn without replacement) or is
        below ``phase_b_shards``.

    Examples
    --------
    >>> from simalloc.train.arms import parse_arm
    >>> arm_prompts(64, 2000, parse_arm("uniform:p2")), arm_prompts(64, 2000, parse_arm("hora"))
    (128, 64)
    """
    n = _scaled_count(arm, "p", arm.prompt_scale, "n_prompts", n_prompts, "prompts per step")
    if n > n_pool:
        raise ValueError(f"arm {arm.spec!r}: {n} prompts per step, more than n_pool={n_pool} (drawn without "
                         "replacement)")
    if n < phase_b_shards:
        raise ValueError(f"arm {arm.spec!r}: {n} prompts per step, fewer than phase_b_shards={phase_b_shards} (each "
                         "shard needs a prompt)")
    return n


class BatchDrawer:
    """Draws each step's batch for one arm (the module docstring gives the rules and the random streams).

    Parameters
    ----------
    spec : BatchSpec
        The batch settings.
    arm : Arm
        The arm.
    k0 : int
        The arm's pilot size.
    predictor : object or None
        The arm's learned-prior predictor (``make_predictor``).
    rngs : dict of str to numpy.random.Generator
        The "batch", "pilot", "alloc" and "extra" streams.
    """

    def __init__(self, spec: BatchSpec, arm: Arm, k0: int, predictor, rngs: dict):
        self.spec, self.arm, self.k0, self.predictor, self.rngs = spec, arm, k0, predictor, rngs
        #: the arm's prompts per step: n_prompts, or m n_prompts for a ``p<m>`` arm (``arm_prompts``)
        self.n_prompts = arm_prompts(spec.n_prompts, spec.n_pool, arm, spec.phase_b_shards)
        self.shards = np.array_split(np.arange(self.n_prompts), spec.phase_b_shards)
        self.options = {"n_max": spec.vip_n_max} if arm.allocator == "vip" else {}
        #: the arm's mean group size: G, or m G for an ``x<m>`` arm
        self.group = _scaled_count(arm, "x", arm.rollout_scale, "group_size", spec.group_size, "rollouts per prompt")
        if self.group < k0:
            raise ValueError(f"arm {arm.spec!r}: {arm.rollout_scale:g} x group_size = {self.group} rollouts per "
                             f"prompt, fewer than the pilot k0 = {k0}")
        #: the peer method's or dynamic sampling's step (``simalloc.train.peers``), None for allocating arms
        self.peer = PeerDrawer(arm.allocator, spec.n_pool, spec.n_prompts, self.group,
                               parse_peer_options(spec.peer_options), rngs) if arm.peer or arm.dynamic else None

    def draw(self, model, warm: bool) -> Batch:
        """The next batch from ``model`` (a ``simalloc.train.model.TrainingModel``: its ``roll`` draws the
        rollouts); ``warm`` steps are plain GRPO (uniform groups of G) for every arm.

        A peer or dynamic-sampling batch keeps, per trained prompt, ``successes`` positive and ``sizes -
        successes`` negative rollouts of those drawn (``pilot`` None); an allocating batch trains on every rollout
        drawn (pilot, then extra)."""
        spec, r = self.spec, self.rngs
        if self.peer is not None and not warm:
            g = self.peer.draw(lambda idx, n: model.roll(idx, n, r["extra"]))
            return Batch(g.idx, self._rates(model, g.idx, False), g.kept_pos, g.kept_pos + g.kept_neg, g.spent)
        k0 = spec.k0 if warm else self.k0
        group = spec.group_size if warm else self.group
        n = spec.n_prompts if warm else self.n_prompts
        idx = r["batch"].choice(spec.n_pool, n, replace=False)
        p = self._rates(model, idx, not warm and self.arm.predictor in ("oracle", "truth"))
        s = model.roll(idx, k0, r["pilot"], p)
        alloc = np.full(n, group - k0, dtype=np.int64) if warm else self.allocate(idx, p, s)
        extra = model.roll(idx, alloc, r["extra"], p)
        return Batch(idx, p, s + extra, k0 + alloc, int(n * group), s, alloc, extra)

    @staticmethod
    def _rates(model, idx, needed: bool) -> np.ndarray:
        """The batch's exact pass rates: the model's where it carries them (``rates_in_batch``) or a predictor
        reads them (``needed``), NaN otherwise."""
        if model.rates_in_batch or needed:
            return model.pass_rates(idx)
        return np.full(len(idx), np.nan)

    def allocate(self, idx, p, s) -> np.ndarray:
        """Phase B shard by shard: the arm's allocator (learned prior for HORA with a predictor; with the
        ``truth`` predictor, any allocator, the point mass at the true p instead of the pilot), then the
        placebo's permutation; each shard's budget is its prompts x (the arm's group size - k0).

        Parameters
        ----------
        idx : ndarray of int
            The batch's prompts (the predictor's keys).
        p : ndarray or None
            Their pass rates (read by the oracle predictor only).
        s : ndarray of int
            Pilot successes.

        Returns
        -------
        ndarray of int64
            Extra rollouts per prompt.
        """
        spec, arm, rng = self.spec, self.arm, self.rngs["alloc"]
        mu = self.predictor.predict(idx, p)
        alloc = np.zeros(self.n_prompts, dtype=np.int64)
        history = getattr(self.predictor, "prior", None)
        truth = arm.predictor == "truth"  # the point mass at the true p replaces the pilot's posterior
        for shard in self.shards:
            prior, pilot, trials = (1.0, 1.0), s[shard], self.k0
            if history is not None:  # the prompts' own decayed posteriors, for any allocator
                prior = history(idx[shard])
            elif truth:
                prior = (mu[shard] * TRUTH_CONCENTRATION, (1.0 - mu[shard]) * TRUTH_CONCENTRATION)
                pilot, trials = np.zeros(shard.size, dtype=np.int64), 0
            elif mu is not None and arm.allocator == "hora":
                c = spec.prior_concentration
                prior = (mu[shard] * c, (1.0 - mu[shard]) * c)
            alloc[shard] = allocate(arm.allocator, pilot, trials, shard.size * (self.group - self.k0),
                                    prior=prior, cap=spec.cap or None, rng=rng,
                                    predicted_p=None if mu is None else mu[shard], options=self.options)
            if arm.placebo:  # same multiset of group sizes, assigned to the shard's prompts at random
                alloc[shard] = rng.permutation(alloc[shard])
        return alloc
