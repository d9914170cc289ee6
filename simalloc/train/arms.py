"""Training arms: an allocation rule under test with its modifiers, and the learning-rate frontier's arms.

An arm is "allocator[:modifier]..." with the allocator from the registry (``simalloc.ALLOCATORS``) or
``dapo_dynamic`` (DAPO's dynamic sampling as DAPO runs it: generation batches of n_prompts new prompts x G,
groups without spread dropped, refilled until n_prompts informative groups are held or
``dapo.max_num_gen_batches`` batches were generated; every generated rollout counted, so it spends more than
uniform GRPO whenever zero-spread groups occur: ``simalloc.train.peers.refill_informative``), and modifiers:

- a predictor (``gp``, ``oracle``): HORA's learned prior Beta(mu c, (1 - mu) c) from that predictor;
- ``k<K0>``: the arm's own pilot size;
- ``lr<x>``: the learning rate times x (``uniform:lr0.5`` is a point of GRPO's learning-rate frontier);
- ``x<m>``: m times the rollouts per step at the same learning rate (every group, and so the step's budget, m times
  larger; ``uniform:x2`` is the positive control of "more signal per step");
- ``p<m>``: m times the prompts per step, each with the same group size, at the same learning rate (the step's
  budget m times larger; ``uniform:p2`` is "twice the batch" in McCandlish et al.'s sense where the gradient's
  noise is over prompts: the lab's positive control, since doubling every group there does not raise the SNR;
  allocating arms only);
- ``temp<x>``: rollouts sampled (and the update taken) at x times the study's sampling temperature, evaluated at
  the study's evaluation temperature (``uniform:temp1.5``: the entropy-matched GRPO control, a frontier over the
  training temperature beside the learning-rate frontier);
- ``placebo`` (also the suffix ``_placebo``): the allocator's group sizes permuted over each shard's prompts,
  which keeps "group sizes vary" and removes "which prompts get the budget".

``vip`` uses the GP predictor unless told otherwise. The frontier (``frontier_arms``) is uniform GRPO at the
learning-rate multipliers ``FRONTIER_LRS``, anchored at the untrained policy (``START_POINT``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..allocators import ALLOCATORS
from ..validation import check_choice
from .peers import DYNAMIC_SAMPLING, PEER_ARMS
from .predictors import PREDICTORS

__all__ = ["Arm", "parse_arm", "DYNAMIC_SAMPLING", "FRONTIER_LRS", "START_POINT", "frontier_arms",
           "frontier_points", "all_arms", "CONTROLS", "BUDGET_LADDER", "LADDER_LRS", "LADDER_GRID", "ladder_arms",
           "TEMPERATURE_CONTROLS", "ORACLE_HORA"]

#: learning-rate multipliers of the uniform-GRPO arms that trace the Pass@1-vs-Pass@k frontier in every study
FRONTIER_LRS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.7, 1.4, 2.0)
#: the frontier's lr -> 0 end: uniform GRPO's policy when the allocators take over (the step ``warmup_steps``; step 0
#: without warm-up), the point every learning rate starts from; an arm whose Pass@1 lies between it and the smallest
#: rate's is compared with the frontier's first segment instead of being left out
START_POINT = "uniform:lr0"
#: the controls every training study runs by default (v3): ``uniform:x2`` (twice the rollouts per prompt at the
#: same learning rate: the positive control of "more signal per step") and uniform GRPO at two learning rates between
#: the frontier's points, held out of it (negative controls: they must land on the frontier; their frontier gains
#: measure its interpolation error)
CONTROLS = ("uniform:x2", "uniform:lr0.35", "uniform:lr0.85")
#: the rest of uniform GRPO's budget ladder x0.5, x1, x2, x4 (issue 34: what "twice the compute" does in a model;
#: ``uniform:x2`` is in ``CONTROLS``)
BUDGET_LADDER = ("uniform:x0.5", "uniform:x4")
#: the learning-rate multipliers (besides x1) each rung of the budget ladder runs at, for the tuned read (issue 34:
#: McCandlish et al.'s S = S_min (1 + B_noise / B) holds at each batch size's *best* rate): uniform's own frontier
#: rates around x1 in both models, so uniform needs no extra runs and the tuned read's shared grid is all of them
LADDER_LRS = (0.5, 0.7, 1.4, 2.0)
#: the ladder over the grid in the full studies: every rate for x2 (the positive control); for x0.5 the rates below
#: x1 and for x4 those above (a smaller batch's best rate is lower, a larger one's higher: McCandlish et al. Sec. 2.3;
#: the other ends are left out for cost, and the tuned read then restricts uniform to the same rates)
LADDER_GRID = {"uniform:x0.5": (0.5, 0.7), "uniform:x2": LADDER_LRS, "uniform:x4": (1.4, 2.0)}
#: the entropy-matched GRPO control (issue 34): uniform GRPO sampled and trained at 1.5 and 2 times the sampling
#: temperature, evaluated at the study's evaluation temperature, a frontier over temperature beside the rate's
TEMPERATURE_CONTROLS = ("uniform:temp1.5", "uniform:temp2")
#: HORA allocating with the true pass rates (the point mass at p in place of its pilot's posterior)
ORACLE_HORA = "hora:truth"


@dataclass(frozen=True)
class Arm:
    """One arm: its spec string, allocator, predictor, optional pilot size, learning-rate multiplier and placebo
    flag (see the module docstring). Build it with ``parse_arm``.

    Attributes
    ----------
    spec : str
        The text it was parsed from ("hora:gp:k16").
    allocator : str
        A registered allocator or ``DYNAMIC_SAMPLING``.
    predictor : str
        The learned-prior predictor ("uniform": none).
    k0 : int or None
        The arm's own pilot size (None: the study's).
    lr_scale : float
        The learning-rate multiplier.
    rollout_scale : float
        The rollouts-per-step multiplier (``x<m>``).
    placebo : bool
        Permute the allocator's group sizes over each shard's prompts.
    temperature_scale : float
        The sampling-temperature multiplier (``temp<x>``).
    prompt_scale : float
        The prompts-per-step multiplier (``p<m>``).
    """

    spec: str
    allocator: str
    predictor: str = "uniform"
    k0: int | None = None
    lr_scale: float = 1.0
    placebo: bool = False
    rollout_scale: float = 1.0
    temperature_scale: float = 1.0
    prompt_scale: float = 1.0

    @property
    def dynamic(self) -> bool:
        """Whether the arm resamples prompts (DAPO's dynamic sampling) instead of allocating."""
        return self.allocator == DYNAMIC_SAMPLING

    @property
    def peer(self) -> bool:
        """Whether the arm is a peer method's step (``simalloc.train.peers.PEER_ARMS``)."""
        return self.allocator in PEER_ARMS

    @property
    def ladder_rung(self) -> float | None:
        """The rollouts-per-step multiplier m when the arm is a rung of uniform GRPO's budget ladder ("uniform" is
        the rung 1.0, "uniform:x<m>" the rung m: uniform GRPO with no other modifier, at lr x1 and the study's
        temperature), else None.

        Examples
        --------
        >>> parse_arm("uniform:x2").ladder_rung, parse_arm("uniform:x2:lr2").ladder_rung, parse_arm("hora").ladder_rung
        (2.0, None, None)
        """
        rung = self.batch_rung
        return rung if rung is not None and self.prompt_scale == 1.0 else None

    @property
    def batch_rung(self) -> float | None:
        """The batch multiplier m x p when the arm is uniform GRPO whose only modifiers are ``x<m>`` (rollouts per
        prompt) and ``p<p>`` (prompts per step), at lr x1 and the study's temperature, else None: the rung a
        critical-batch prediction reads (``simalloc.train.critical_batch``).

        Examples
        --------
        >>> [parse_arm(a).batch_rung for a in ("uniform:p2", "uniform:x2", "uniform:p2:lr2")]
        [2.0, 2.0, None]
        """
        plain = (self.allocator == "uniform" and self.k0 is None and self.predictor == "uniform" and not self.placebo
                 and self.temperature_scale == 1.0 and self.lr_scale == 1.0)
        return self.rollout_scale * self.prompt_scale if plain else None


def parse_arm(spec: str) -> Arm:
    """Parse "allocator[:predictor][:k<K0>][:lr<x>][:x<m>][:p<m>][:temp<x>][:placebo]" (module docstring); errors list
    the valid names.

    Parameters
    ----------
    spec : str
        The arm's text.

    Returns
    -------
    Arm

    Raises
    ------
    ValueError
        For an unknown allocator or modifier, lr<x>, x<m>, p<m> or temp<x> with a multiplier <= 0, "optimal", a
        placebo of dynamic sampling, or p<m> on a peer arm or dynamic sampling.

    Warns
    -----
    FutureWarning
        For "dapo": it names the allocator; DAPO's dynamic sampling is ``DYNAMIC_SAMPLING``.

    Examples
    --------
    >>> parse_arm("hora:gp:k16")
    Arm(spec='hora:gp:k16', allocator='hora', predictor='gp', k0=16, lr_scale=1.0, placebo=False, rollout_scale=1.0, \
temperature_scale=1.0, prompt_scale=1.0)
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"arm: expected a string like 'hora' or 'hora:gp', got {spec!r}")
    name, *mods = spec.split(":")
    placebo = name.endswith("_placebo")
    name = name[: -len("_placebo")] if placebo else name
    check_choice(name, "arm allocator", (*ALLOCATORS, DYNAMIC_SAMPLING, *PEER_ARMS))
    predictor, k0, lr_scale, rollout_scale = ("gp" if name == "vip" else "uniform"), None, 1.0, 1.0
    temperature_scale = prompt_scale = 1.0
    for mod in mods:
        if mod in PREDICTORS:
            predictor = mod
        elif mod.startswith("k") and mod[1:].isdigit():
            k0 = int(mod[1:])
        elif mod == "placebo":
            placebo = True
        elif mod.startswith("x") and len(mod) > 1:
            rollout_scale = _multiplier(spec, mod, 1, "x<m> needs a rollouts-per-step multiplier m > 0")
        elif mod.startswith("p") and len(mod) > 1:
            prompt_scale = _multiplier(spec, mod, 1, "p<m> needs a prompts-per-step multiplier m > 0")
        elif mod.startswith("temp"):
            temperature_scale = _multiplier(spec, mod, 4, "temp<x> needs a sampling-temperature multiplier x > 0")
        elif mod.startswith("lr"):
            lr_scale = _multiplier(spec, mod, 2, "lr<x> needs a learning-rate multiplier x > 0")
        else:
            raise ValueError(f"arm {spec!r}: unknown modifier {mod!r}; valid: {', '.join(PREDICTORS)}, k<K0>, "
                             "lr<x>, x<m>, p<m>, temp<x>, placebo")
    if name == "optimal":
        raise ValueError("arm: 'optimal' is the DP reference for small problems; use 'hora' (exact for the hit "
                         "utility)")
    if name == "dapo":  # renamed in 0.1.0: the old training arm 'dapo' was dynamic sampling
        warnings.warn(f"arm {spec!r}: 'dapo' is the dapo allocator (extra budget over the pilot's mixed groups); "
                      f"DAPO's dynamic sampling, which this arm name meant before 0.1.0, is '{DYNAMIC_SAMPLING}'",
                      FutureWarning, stacklevel=2)
    if placebo and (name == DYNAMIC_SAMPLING or name in PEER_ARMS):
        raise ValueError(f"arm {spec!r}: {name} has no allocation to permute (placebo applies to allocators)")
    if (name in PEER_ARMS or name == DYNAMIC_SAMPLING) and prompt_scale != 1.0:
        raise ValueError(f"arm {spec!r}: p<m> applies to allocating arms ({name} draws its own prompts; give it "
                         "n_prompts instead)")
    if (name in PEER_ARMS or name == DYNAMIC_SAMPLING) and (predictor != "uniform" or k0 is not None):
        raise ValueError(f"arm {spec!r}: a peer arm or {DYNAMIC_SAMPLING} takes only lr<x>, x<m> and temp<x> (its "
                         "pilot and selection are its own)")
    return Arm(spec, name, predictor, k0, lr_scale=lr_scale, placebo=placebo, rollout_scale=rollout_scale,
               temperature_scale=temperature_scale, prompt_scale=prompt_scale)


def ladder_arms(grid=None) -> tuple:
    """The budget ladder's learning-rate variants: "<rung>:lr<m>" for every rung and rate of ``grid``.

    Parameters
    ----------
    grid : dict of str to sequence of float, optional
        {rung: multipliers}; ``LADDER_GRID`` by default.

    Returns
    -------
    tuple of str
        Each spec parses (``parse_arm``); the rungs themselves (lr x1) are not included.

    Examples
    --------
    >>> ladder_arms({"uniform:x2": (0.5, 1.4)})
    ('uniform:x2:lr0.5', 'uniform:x2:lr1.4')
    """
    grid = LADDER_GRID if grid is None else grid
    out = tuple(f"{rung}:lr{m:g}" for rung, lrs in grid.items() for m in lrs)
    for spec in out:
        parse_arm(spec)
    return out


def _multiplier(spec: str, mod: str, skip: int, need: str) -> float:
    """The number after the modifier's first ``skip`` characters; ValueError with ``need`` unless finite > 0."""
    try:
        x = float(mod[skip:])
    except ValueError:
        x = float("nan")
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"arm {spec!r}: {need}, got {mod!r}")
    return x


def frontier_arms(frontier_lrs) -> tuple:
    """The uniform-GRPO arms that trace the Pass@1-vs-Pass@k frontier: "uniform" and "uniform:lr<m>" for every
    multiplier m in ``frontier_lrs`` (empty when there is none).

    Parameters
    ----------
    frontier_lrs : sequence of float or None
        Learning-rate multipliers (a study's ``frontier_lrs``; ``FRONTIER_LRS`` by default).

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> frontier_arms((0.5, 2.0))
    ('uniform', 'uniform:lr0.5', 'uniform:lr2')
    """
    mults = tuple(frontier_lrs or ())
    return ("uniform",) + tuple(f"uniform:lr{m:g}" for m in mults) if mults else ()


def frontier_points(frontier_lrs) -> tuple:
    """The points of uniform GRPO's frontier: ``START_POINT`` and the ``frontier_arms`` (empty without a frontier).

    Parameters
    ----------
    frontier_lrs : sequence of float or None
        Learning-rate multipliers (a study's ``frontier_lrs``; ``FRONTIER_LRS`` by default).

    Returns
    -------
    tuple of str
    """
    arms = frontier_arms(frontier_lrs)
    return (START_POINT,) + arms if arms else ()


def all_arms(arms, frontier_lrs) -> tuple:
    """A study's arms followed by the frontier arms it does not list itself.

    Parameters
    ----------
    arms : sequence of str
        The study's arms.
    frontier_lrs : sequence of float or None
        Learning-rate multipliers (a study's ``frontier_lrs``; ``FRONTIER_LRS`` by default).

    Returns
    -------
    tuple of str
        The arms to run, in order, each once.
    """
    return tuple(arms) + tuple(a for a in frontier_arms(frontier_lrs) if a not in arms)
