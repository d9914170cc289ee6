"""One colour per allocator (and training arm) across every figure the package draws.

``color_of(name)`` gives the same colour to ``hora`` in ``advise``'s panels, the replay figure and every study's
frontier plot; an arm with modifiers (``hora:k16``, ``uniform:x2``) takes its base allocator's colour unless it
has its own entry. Names without an entry get a stable colour from the rest of the palette (the same name gives
the same colour in every process: no hash randomisation).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["ARM_COLORS", "MARKERS", "color_of", "interval_err", "use_agg"]

#: colour-blind-safe assignments (Okabe-Ito first, then tab10's remaining hues)
ARM_COLORS = {
    "uniform": "#000000",
    "hora": "#0072B2",
    "hora_placebo": "#56B4E9",
    "informative": "#009E73",
    "hard_first": "#D55E00",
    "plugin": "#CC79A7",
    "knapsack": "#E69F00",
    "dapo": "#8c564b",
    "vip": "#7f7f7f",
    "gvm": "#bcbd22",
    "optimal": "#17becf",
    "uniform:x2": "#444444",
    "uniform:lr0.5": "#9467bd",
    "dapo_dynamic": "#7b4173",
    # the held-out negative controls (``simalloc.train.CONTROLS``)
    "uniform:lr0.35": "#393b79",
    "uniform:lr0.85": "#637939",
    # the peer methods (``simalloc.train.peers``, ``speed_rl``/``dars_*`` allocators) and HORA's history prior
    "hora:history": "#08306b",
    "reinforce_ada": "#a6761d",
    "reinforce_ada_pos": "#e6ab02",
    "speed_rl": "#b3de69",
    "speed_rl_dynamic": "#66a61e",
    "dars_et": "#e7298a",
    "dars_hw": "#980043",
    "greso": "#1b7837",
    "mopps": "#8dd3c7",
    "pods": "#35978f",
}
#: marker shapes cycled over the arms of one figure, so arms of similar hue stay apart
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">", "p", "*")
#: the rest, without the oranges and reds that would read as knapsack or hard_first
_SPARE = ("#e377c2", "#1f77b4", "#2ca02c", "#8c8c00", "#17a589", "#7b4173", "#393b79", "#637939")


def color_of(name: str) -> str:
    """The colour of allocator or arm ``name`` (see the module docstring).

    Parameters
    ----------
    name : str
        An allocator ("hora") or a training arm with modifiers ("hora:k16"); "uniform:lr<x>" frontier points
        get their own colours, not uniform's black.

    Returns
    -------
    str
        A hex colour, the same in every process.

    Examples
    --------
    >>> color_of("hora") == color_of("hora:k16") == ARM_COLORS["hora"]
    True
    """
    if name in ARM_COLORS:
        return ARM_COLORS[name]
    base = str(name).split(":", 1)[0]
    if base in ARM_COLORS and base != "uniform":  # uniform:lr<x> is a frontier point, not GRPO at lr x1
        return ARM_COLORS[base]
    return _SPARE[zlib.crc32(str(name).encode()) % len(_SPARE)]


def use_agg():
    """matplotlib's pyplot on the non-interactive Agg backend (figures are written to files, never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def interval_err(value, low, high) -> np.ndarray:
    """Error-bar lengths ``[value - low, high - value]`` for matplotlib's ``xerr``/``yerr``, never negative.

    A percentile bootstrap interval need not contain the point estimate (the estimate is the full sample's, the
    interval the resamples' quantiles; with few resamples or a skewed statistic the estimate can sit just outside),
    and matplotlib refuses a negative error length. The side the estimate lies beyond is drawn with length 0.

    Parameters
    ----------
    value, low, high : array-like, shape (n,)
        Point estimates and interval ends.

    Returns
    -------
    numpy.ndarray, shape (2, n)
        ``max(value - low, 0)`` and ``max(high - value, 0)``.

    Examples
    --------
    >>> interval_err([1.0, 2.0], [0.5, 2.1], [1.5, 2.5]).tolist()
    [[0.5, 0.0], [0.5, 0.5]]
    """
    value, low, high = (np.asarray(a, dtype=float) for a in (value, low, high))
    return np.maximum(np.stack([value - low, high - value]), 0.0)
