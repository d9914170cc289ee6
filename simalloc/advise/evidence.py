"""What the project's own committed training studies measured for each allocator ``advise`` compares.

``advise`` scores allocators on a per-batch objective (informative groups, hits, solved prompts) computed from a
user's counts. Whether a per-batch gain becomes a *training* gain is a different question, answered (or not) by the
training studies whose summaries are committed under ``docs/``. This module turns those summaries into one table,
``evidence.csv``, shipped with the package so that every report can cite it:

- one row per (advise allocator, study arm, model, study, regime, metric), read from ``EVIDENCE_SOURCES``;
- ``reading``: ``same`` when the study ran the allocator ``advise`` uses, ``related`` for another form of the same
  method (``ARM_MAP``: DAPO's dynamic sampling beside the ``dapo`` allocator, SPEED-RL's sequential screening
  beside its fixed-prompt reading, HORA with history priors);
- ``regime``: the lab's level-2 task (``level2=misconception`` | ``level2=absent``), or the simulator's reading and
  world from the study's ``args.json`` ("simulator v3 (policy=cluster), world beta:0.5,0.5"; v4, the log-linear
  policy, with its ``policy_options``: a different model of training, never pooled with v3's);
- two axes (``AXES``). ``frontier``: the frontier gain (Pass@256 minus uniform GRPO's learning-rate frontier at the
  arm's own Pass@1), its ``bound`` the frontier's interpolation bound, ``FRONTIER_FLOOR`` at least. ``efficiency``:
  the paired step and compute multipliers at uniform GRPO's 50% Pass@1 target (uniform's steps, or rollouts, to the
  target over the arm's: above 1 the arm is faster, below 1 slower), its ``bound`` the multiplier floor
  ``MULTIPLIER_FLOOR`` (a multiplier has no interpolation bound: it is credited only beyond 1 +- the floor by 2 se);
- ``committed_credit``: the study's own ``credited@256`` / ``credited@<multiplier>`` (+1, -1, 0); ``credit``: that
  credit after the project's rule (``simalloc.train.credit.credit``) is applied again here: it stands only when the
  row rests on at least ``MIN_REPLICATES`` replicates, has a finite se, and its value clears the bound by 2 se the
  same way, else 0, with a note saying why; ``credited``: ``yes`` when ``credit`` is +1 (a gain, or faster), else
  ``no`` (a credited loss or slow-down is ``credit`` -1 with ``credited`` ``no``);
- ``yardstick``: ``repaired`` when the study wrote ``replicates.csv`` beside its summary (the repaired frontier read
  and the efficiency axis), ``before the repair`` otherwise (its gains are to be re-read).

The table is generated, never written by hand: ``python -m simalloc.advise.evidence --rebuild`` rereads the
committed summaries (run it after a study's committed outputs change); ``--check`` fails when the shipped file has
drifted from them (``tests/test_advise_evidence.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write
from ..train.config import V3_READING, V4_READING
from ..train.credit import MIN_CREDIT_REPS, credit, frontier_threshold
from ..train.efficiency import MULTIPLIER_FLOOR

__all__ = ["ARM_MAP", "AXES", "EVIDENCE_COLUMNS", "EVIDENCE_FILE", "EVIDENCE_SOURCES", "MIN_REPLICATES",
           "EvidenceSource", "build_evidence", "evidence_basis", "evidence_lines", "load_evidence", "verdicts",
           "write_evidence"]

#: the shipped table (package data)
EVIDENCE_FILE = Path(__file__).with_name("evidence.csv")
#: no credit from fewer replicates than this (DESIGN 2.15, the yardstick; the same number both axes use)
MIN_REPLICATES = MIN_CREDIT_REPS
#: the metrics read per axis. Efficiency: the step and compute multipliers at the 50% Pass@1 target only. Every arm
#: of the committed studies reaches that target within its run (no censored pair), so each ratio is measured. The
#: 100% target is uniform's own final mean Pass@1, which uniform reaches late (134.7 +- 20.2 of 200 steps in
#: docs/flagship, censored runs counted at 200) and misses on 3 of 8 replicates there (5 of 8 in docs/flagship_v4;
#: HORA misses it on 8 of 8 in docs/flagship): many pairs are censored, a ratio is then a one-sided bound, and the
#: studies credit it one way at most. Shown beside measured ratios, such a bound would read as one.
AXES = {"frontier": ("frontier_gain@256",),
        "efficiency": ("step_multiplier@pass@1@50%", "compute_multiplier@pass@1@50%")}
#: the study's credit row for each metric (+1, -1, 0)
_CREDIT = {"frontier_gain@256": "credited@256", **{m: f"credited@{m}" for m in AXES["efficiency"]}}
#: the frontier's bound (a row of the pseudo-arm "frontier"); a multiplier has none: its bound is MULTIPLIER_FLOOR
_BOUND = {"frontier_gain@256": "interpolation_bound@256"}
#: the value an effect is measured from: a gain from 0, a multiplier from 1
_ORIGIN = {"frontier_gain@256": 0.0, **{m: 1.0 for m in AXES["efficiency"]}}
#: a multiplier's censored replicate pairs (noted when any: the ratio is then a bound, not a measurement)
_CENSORED = {"step_multiplier@pass@1@50%": "censored_step_pairs@pass@1@50%",
             "compute_multiplier@pass@1@50%": "censored_pairs@pass@1@50%"}
#: what a multiplier counts, and the target it is read at (AXES["efficiency"], in words)
_COST = {"step_multiplier@pass@1@50%": "steps", "compute_multiplier@pass@1@50%": "rollouts"}
_LEVEL = "50% Pass@1"
_TARGET = f"uniform GRPO's {_LEVEL} target"

#: advise allocator -> (study arm, reading, what the arm is when it is not the allocator itself)
ARM_MAP = {
    "uniform": (("uniform", "same", ""),),
    "hora": (("hora", "same", ""),
             ("hora:history", "related", "HORA with each prompt's history as its prior (simalloc.Planner)")),
    "informative": (("informative", "same", ""),),
    "hard_first": (("hard_first", "same", ""),),
    "plugin": (),
    "knapsack": (("knapsack", "same", ""),),
    "dapo": (("dapo", "same", ""),
             ("dapo_dynamic", "related", "DAPO's dynamic sampling: prompts resampled and refilled, not a split")),
    "speed_rl": (("speed_rl_dynamic", "related", "SPEED-RL's sequential screening, not its fixed-prompt reading"),),
    "dars_et": (("dars_et", "same", ""),),
    "dars_hw": (("dars_hw", "same", ""),),
}

EVIDENCE_COLUMNS = ("allocator", "arm", "reading", "model", "study", "regime", "axis", "metric", "value", "se",
                    "n_reps", "bound", "committed_credit", "credit", "credited", "yardstick", "note", "source")
_MODELS = {"sim": "simulator", "lab": "lab"}
#: the simulator readings a study's train settings are matched against (simalloc.train.config), newest first; v4's
#: policy_options are its free parameters (the regime names them), so they are not matched
_SIM_READINGS = (("v4", V4_READING, ("policy_options",)), ("v3", V3_READING, ()))


@dataclass(frozen=True)
class EvidenceSource:
    """One committed study output the table is read from.

    Attributes
    ----------
    path : str
        The file, relative to the repository root (as cited in reports).
    kind : {"summary", "calibration"}
        A training study's ``summary.csv`` (arm, metric, value, se, n_reps, optional model; its ``args.json``
        beside it names the study and regime), or ``sim_vs_lab``'s ``calibration.csv`` (the calibrated
        simulator's side is read: ``sim_value``, ``sim_se``, ``sim_effect``; it records no replicate count).
    model : str
        The model when the file has no ``model`` column ("lab" or "sim").
    study, regime : str
        The study and regime when the file has no ``args.json`` beside it.
    note : str
        Said of every row read from it.
    models : tuple of str
        Read only these models ("lab", "sim") of the file; empty: all. A file whose simulator rows a re-read
        superseded keeps its lab rows this way.
    axes : tuple of str
        Read only these axes (keys of ``AXES``); empty: all. A study whose frontier cannot be read (v4's flagship:
        uniform at lr x1 lies below its own Pareto frontier) contributes its speed rows only.
    """

    path: str
    kind: str = "summary"
    model: str = ""
    study: str = ""
    regime: str = ""
    note: str = ""
    models: tuple = ()
    axes: tuple = ()


#: said of the lab sources read before the repair whose study was re-run since
_PRE_REPAIR_LAB = ("before the repair, on another CPU; the lab study's re-run on the repaired yardstick "
                   "(docs/lab/reread) does not reproduce HORA's frontier credit")

#: every committed training study output read, in the order reports number them. A re-run supersedes its study's
#: older file (docs/lab/reread and docs/lab/absent_reread replace docs/lab/summary.csv and docs/lab/absent/); a
#: file whose simulator rows a re-run superseded keeps its lab rows (``models``: docs/peers/summary.csv, whose
#: simulator side docs/peers/sim_reread re-ran). Adding a study is one line here, then ``--rebuild`` and commit
#: evidence.csv with it.
EVIDENCE_SOURCES = (
    EvidenceSource("docs/lab/reread/summary.csv", model="lab", axes=("efficiency",),
                   note="the lab study re-run on the repaired yardstick (supersedes docs/lab/summary.csv); its "
                        "frontier is uninformative (no learning-rate trade-off, Pass@256 saturated over 10 answers: "
                        "docs/lab.md), so only its speed rows are read"),
    EvidenceSource("docs/lab/absent_reread/summary.csv", model="lab",
                   note="the level2=absent reading re-run on the repaired yardstick (supersedes "
                        "docs/lab/absent/summary.csv)"),
    EvidenceSource("docs/peers/summary.csv", models=("lab",), note=_PRE_REPAIR_LAB),
    EvidenceSource("docs/peers/lab8/summary.csv", note=_PRE_REPAIR_LAB),
    EvidenceSource("docs/flagship/summary.csv", model="sim"),
    EvidenceSource("docs/flagship_v4/summary.csv", model="sim", axes=("efficiency",),
                   note="v4's frontier is uninformative in this study (Pass@1 and Pass@256 rise together with the "
                        "learning rate: docs/simulator.md), so only its speed rows are read"),
    EvidenceSource("docs/peers/sim_reread/summary.csv"),
    EvidenceSource("docs/lab/calibration.csv", kind="calibration", model="sim", study="sim_vs_lab",
                   regime="the lab's pass rates, calibrated on its uniform runs",
                   note="the calibrated simulator's prediction of the lab study; its replicate count is not recorded"),
)


def _regime(args: dict, model: str) -> str:
    """The regime a study ran in: the lab's level-2 task (``misconception`` | ``absent``); the simulator's reading
    (v3, v4: ``_SIM_READINGS``; its policy and policy_options) and world.

    Examples
    --------
    >>> train = {"policy": "loglinear", "policy_options": "curvature=50", "rollout_noise": 0.0, "world": "beta:1,1"}
    >>> _regime({"args": {"train": train}}, "sim")
    'simulator v4 (policy=loglinear, policy_options=curvature=50), world beta:1,1'
    >>> _regime({"args": {"train": {"level2": "absent"}}}, "lab")
    'level2=absent'
    """
    a = args["args"]
    if model == "lab":
        level2 = (a.get("lab") or a["train"]).get("level2")
        return f"level2={level2}" if level2 else ""
    train = a["train"]
    parts = []
    if train.get("policy"):
        version = next((v for v, reading, free in _SIM_READINGS
                        if all(train.get(k) == x for k, x in reading.items() if k not in free)), None)
        options = train.get("policy_options") or ""
        parts.append(f"simulator{' ' + version if version else ''} (policy={train['policy']}"
                     + (f", policy_options={options})" if options else ")"))
    if train.get("world"):
        parts.append(f"world {train['world']}")
    return ", ".join(parts)


def _tag(regime: str) -> str:
    """A regime in a few words, for the report's cells: "v3", "v4", "calibrated", "level2=absent".

    Examples
    --------
    >>> _tag("simulator v4 (policy=loglinear), world beta:0.5,0.5"), _tag("level2=absent")
    ('v4', 'level2=absent')
    """
    m = re.match(r"simulator (v\d+)", regime)
    if m:
        return m.group(1)
    return "calibrated" if "calibrated" in regime else regime


def _yardstick(root: Path, src: EvidenceSource) -> str:
    return "repaired" if (root / src.path).with_name("replicates.csv").is_file() else "before the repair"


def _metrics():
    for axis, metrics in AXES.items():
        for metric in metrics:
            yield axis, metric


def _summary_rows(root: Path, src: EvidenceSource) -> list[dict]:
    table = pd.read_csv(root / src.path)
    args = json.loads((root / src.path).with_name("args.json").read_text())
    if "model" not in table:
        table = table.assign(model=src.model)
    if src.models:
        table = table[table.model.isin(src.models)]
    yardstick = _yardstick(root, src)
    rows = []
    for model, sub in table.groupby("model", sort=False):
        by = sub.set_index(["arm", "metric"])
        for axis, metric in _metrics():
            if src.axes and axis not in src.axes:
                continue
            bound = (frontier_threshold(by.value.get(("frontier", _BOUND[metric]), np.nan)) if metric in _BOUND
                     else MULTIPLIER_FLOOR)
            for allocator, arm, reading, _ in _mapped():
                if (arm, metric) not in by.index:
                    continue
                r = by.loc[(arm, metric)]
                credit_ = by.value.get((arm, _CREDIT[metric]), np.nan)
                censored = by.value.get((arm, _CENSORED[metric]), np.nan) if metric in _CENSORED else np.nan
                rows.append(_row(allocator, arm, reading, model, args["study"], _regime(args, model), metric,
                                 r.value, r.se, r.n_reps, bound, credit_, src, yardstick, censored))
    return rows


def _calibration_rows(root: Path, src: EvidenceSource) -> list[dict]:
    table = pd.read_csv(root / src.path).set_index(["arm", "metric"])
    yardstick = _yardstick(root, src)
    rows = []
    for _, metric in _metrics():
        for allocator, arm, reading, _ in _mapped():
            if (arm, metric) in table.index:
                r = table.loc[(arm, metric)]
                rows.append(_row(allocator, arm, reading, src.model, src.study, src.regime, metric, r.sim_value,
                                 r.sim_se, np.nan, np.nan, r.sim_effect, src, yardstick))
    return rows


def _mapped():
    for allocator, arms in ARM_MAP.items():
        for arm, reading, what in arms:
            yield allocator, arm, reading, what


def _rule(metric, value, se, n, bound, committed) -> tuple:
    """(the committed credit after the project's rule, why it was withdrawn: "" when it stands or is 0 / NaN)."""
    if not np.isfinite(committed) or committed == 0:
        return (None if not np.isfinite(committed) else 0), ""
    if n is None or n < MIN_REPLICATES:
        return 0, ((f"from {n} replicate{'s' if n != 1 else ''}" if n is not None else "with no replicate count")
                   + f": not credited (no credit from fewer than {MIN_REPLICATES})")
    if not np.isfinite(se):
        return 0, "on an unknown se: not credited (a NaN se never counts as 0)"
    if credit(value - _ORIGIN[metric], se, n, bound) != committed:
        return 0, ("with no bound to check it against: not credited" if not np.isfinite(bound) else
                   f"its value and se do not clear the bound ({bound:.3g}) by 2 se: not credited")
    return int(committed), ""


def _row(allocator, arm, reading, model, study, regime, metric, value, se, n_reps, bound, committed, src,
         yardstick, censored=np.nan) -> dict:
    """One evidence row, with the project's credit rule applied again to the study's credit (``_rule``)."""
    n = int(n_reps) if np.isfinite(n_reps) else None
    axis = next(a for a, ms in AXES.items() if metric in ms)
    effect, why = _rule(metric, value, se, n, bound, committed)
    notes = [src.note] if src.note else []
    if reading == "related":
        notes.append(next(w for a, r, w in ARM_MAP[allocator] if a == arm))
    if arm == "uniform" and axis == "efficiency":
        notes.append("the reference arm: its multipliers are 1 by construction")
    elif arm == "uniform" and abs(value) < 1e-9:
        notes.append("the reference arm: its frontier gain is 0 by construction")
    elif arm == "uniform":
        notes.append("the reference arm at lr x1, off uniform's own learning-rate frontier in this reading (its other "
                     "learning rates do better), so its gain is not 0")
    if np.isfinite(censored) and censored > 0:
        notes.append(f"{int(censored)} of {n} replicate pairs censored: the ratio is partly a bound")
    said = ({1: "credits it", -1: "credits it a loss"} if axis == "frontier" else
            {1: "credits it faster", -1: "credits it slower"}).get(committed)
    if why:
        notes.append(f"the committed table {said}, but {why}")
    elif effect == -1:
        notes.append("below the frontier beyond its bound (a loss)" if axis == "frontier" else
                     f"slower than uniform beyond 1 - {bound:g} by 2 se (a credited slow-down)")
    elif effect == 1 and axis == "efficiency":
        notes.append(f"faster than uniform beyond 1 + {bound:g} by 2 se (a credited speed-up)")
    return {"allocator": allocator, "arm": arm, "reading": reading, "model": _MODELS[model], "study": study,
            "regime": regime, "axis": axis, "metric": metric,
            "value": float(value), "se": float(se), "n_reps": n, "bound": float(bound),
            "committed_credit": None if not np.isfinite(committed) else int(committed), "credit": effect,
            "credited": "yes" if effect == 1 else "no", "yardstick": yardstick, "note": "; ".join(notes),
            "source": src.path}


def build_evidence(root=".", sources=EVIDENCE_SOURCES) -> pd.DataFrame:
    """The evidence table read from the committed study outputs under ``root`` (module docstring).

    Parameters
    ----------
    root : path-like, default "."
        The repository root the sources' paths are relative to.
    sources : sequence of EvidenceSource
        The committed outputs to read (``EVIDENCE_SOURCES``).

    Returns
    -------
    pandas.DataFrame
        ``EVIDENCE_COLUMNS``, one row per (allocator, arm, model, study, regime, metric, source), ordered by
        allocator (``ARM_MAP``), same-rule rows first, then arm, source order, model and metric (``AXES``' order).
        An allocator no study ran has one row with no value and the note "no committed training study ran it".
    """
    root = Path(root)
    rows = []
    for i, src in enumerate(sources):
        if src.kind not in ("summary", "calibration"):
            raise ValueError(f"sources[{i}].kind: must be 'summary' or 'calibration', got {src.kind!r}")
        if not set(src.models) <= set(_MODELS):
            raise ValueError(f"sources[{i}].models: must name models of {sorted(_MODELS)}, got {src.models!r}")
        if not (root / src.path).is_file():
            raise ValueError(f"root: {root / src.path} not found; run from the repository root (or pass root=)")
        rows += (_summary_rows if src.kind == "summary" else _calibration_rows)(root, src)
    for allocator in ARM_MAP:
        if not any(r["allocator"] == allocator for r in rows):
            rows.append({"allocator": allocator, "arm": "", "reading": "", "model": "", "study": "", "regime": "",
                         "axis": "frontier", "metric": "", "value": np.nan, "se": np.nan, "n_reps": None,
                         "bound": np.nan, "committed_credit": None, "credit": None, "credited": "no",
                         "yardstick": "", "note": "no committed training study ran it", "source": ""})
    table = pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))
    order = {a: i for i, a in enumerate(ARM_MAP)}
    srcs = {s.path: i for i, s in enumerate(sources)}
    metrics = {m: i for i, (_, m) in enumerate(_metrics())}
    table = table.assign(_a=table.allocator.map(order), _r=(table.reading == "related").astype(int),
                         _s=table.source.map(srcs).fillna(len(srcs)), _m=table.metric.map(metrics).fillna(-1))
    table = table.sort_values(["_a", "_r", "arm", "_s", "model", "_m"], kind="stable")
    table = table.drop(columns=["_a", "_r", "_s", "_m"]).reset_index(drop=True)
    for col in ("n_reps", "committed_credit", "credit"):
        table[col] = table[col].astype("Int64")
    return table


def write_evidence(path=EVIDENCE_FILE, root=".") -> Path:
    """Rebuild the table from the committed outputs under ``root`` and write it to ``path`` (CSV, atomically).

    Parameters
    ----------
    path : path-like, default ``EVIDENCE_FILE``
        The CSV to write.
    root : path-like, default "."
        The repository root (``build_evidence``).

    Returns
    -------
    Path
        ``path``.
    """
    table = build_evidence(root)
    return atomic_write(Path(path), lambda tmp: table.to_csv(tmp, index=False))


@lru_cache(maxsize=1)
def load_evidence() -> pd.DataFrame:
    """The shipped evidence table (``EVIDENCE_FILE``), as ``build_evidence`` wrote it.

    Returns
    -------
    pandas.DataFrame
        ``EVIDENCE_COLUMNS``; callers must not modify it (it is cached).

    Examples
    --------
    >>> t = load_evidence()
    >>> lab = t[(t.allocator == "informative") & (t.source == "docs/lab/absent_reread/summary.csv")]
    >>> row = lab[lab.metric == "frontier_gain@256"].iloc[0]
    >>> row.model, row.study, round(float(row.value), 3), round(float(row.se), 3), int(row.n_reps), row.credited
    ('lab', 'lab_hora_vs_grpo', -0.006, 0.031, 4, 'no')
    >>> sim = t[(t.arm == "hora") & (t.source == "docs/flagship/summary.csv")]
    >>> row = sim[sim.metric == "step_multiplier@pass@1@50%"].iloc[0]
    >>> row.source, row.regime, round(float(row.value), 2), int(row.credit), row.credited
    ('docs/flagship/summary.csv', 'simulator v3 (policy=cluster), world beta:0.5,0.5', 0.81, -1, 'no')
    """
    if not EVIDENCE_FILE.is_file():
        raise FileNotFoundError(f"{EVIDENCE_FILE} is missing: the package was installed without its data "
                                "(pyproject.toml [tool.setuptools.package-data])")
    ints = ("n_reps", "committed_credit", "credit")
    return pd.read_csv(EVIDENCE_FILE, dtype={c: "Int64" for c in ints}, keep_default_na=False,
                       na_values={c: [""] for c in ("value", "se", "bound", *ints)})


@dataclass(frozen=True)
class _Reading:
    """Same-valued rows of one allocator, arm and metric merged (two committed files can hold the same runs:
    ``docs/peers/lab8`` reuses the lab study's, ``docs/peers/sim_reread`` the flagship's), with every source that
    holds them."""

    allocator: str
    arm: str
    reading: str
    model: str
    regime: str
    axis: str
    metric: str
    value: float
    se: float
    n_reps: float
    bound: float
    credited: str
    yardstick: str
    credit: float
    committed_credit: float
    sources: tuple


def _readings(table: pd.DataFrame) -> list[_Reading]:
    # plain Python over a few dozen rows: pandas' per-group overhead would cost ~0.1 s per call
    merged: dict[tuple, dict] = {}
    for r in table.to_dict("records"):
        if pd.isna(r["value"]):
            continue
        n = np.nan if pd.isna(r["n_reps"]) else float(r["n_reps"])
        c = np.nan if pd.isna(r["committed_credit"]) else float(r["committed_credit"])
        e = np.nan if pd.isna(r["credit"]) else float(r["credit"])
        key = (r["allocator"], r["arm"], r["reading"], r["model"], r["regime"], r["metric"], r["value"], r["se"],
               -1.0 if np.isnan(n) else n, r["credited"], -9.0 if np.isnan(e) else e)
        if key in merged:
            merged[key]["sources"] += (r["source"],)
        else:
            merged[key] = dict(allocator=r["allocator"], arm=r["arm"], reading=r["reading"], model=r["model"],
                               regime=r["regime"], axis=r["axis"], metric=r["metric"], value=r["value"], se=r["se"],
                               n_reps=n, bound=r["bound"], credited=r["credited"], credit=e, committed_credit=c,
                               yardstick=r["yardstick"], sources=(r["source"],))
    return [_Reading(**m) for m in merged.values()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _costs(metrics) -> str:
    """"steps", "rollouts" or "steps and rollouts": the costs a set of multiplier metrics counts."""
    return " and ".join(dict.fromkeys(_COST[m] for m in sorted(metrics, key=list(_COST).index)))


def _speed_phrase(eff: list[_Reading]) -> str:
    """The efficiency axis in words for an allocator's same-rule readings (one reading: a model and regime, with
    its step and compute multipliers)."""
    groups: dict[tuple, dict] = {}
    for r in eff:
        groups.setdefault((r.model, r.regime), {})[r.metric] = r.credit
    if not groups:
        return f"speed to {_TARGET} not yet measured"
    out = []
    for sign, word in ((1, "faster"), (-1, "slower")):
        hits = {k: [m for m, c in g.items() if c == sign] for k, g in groups.items()}
        hits = {k: ms for k, ms in hits.items() if ms}
        if not hits:
            continue
        per_model = []
        for model in sorted(dict.fromkeys(k[0] for k in hits)):  # "lab" before "simulator"
            mine = {k: ms for k, ms in hits.items() if k[0] == model}
            which = "; ".join(f"{_tag(k[1])}, in {_costs(ms)}" for k, ms in mine.items())
            per_model.append(f"the {model} ({len(mine)} of {sum(k[0] == model for k in groups)} readings: "
                             f"{which})")
        out.append(f"{word} than uniform GRPO to its {_LEVEL} target, credited in " + " and ".join(per_model))
    if out:
        idle = [k for k, g in groups.items() if not any(c in (1, -1) for c in g.values())]
        for model in sorted(dict.fromkeys(k[0] for k in idle)):
            out.append(f"no speed credit in the {model} ({_plural(sum(k[0] == model for k in idle), 'reading')}: "
                       + ", ".join(_tag(k[1]) for k in idle if k[0] == model) + ")")
    return "; ".join(out) or f"speed to {_TARGET}: {_plural(len(groups), 'reading')}, none credited"


def verdicts(table: pd.DataFrame | None = None) -> dict[str, str]:
    """One phrase per allocator summarising its same-rule training evidence on both axes.

    Parameters
    ----------
    table : pandas.DataFrame, optional
        The evidence table (default: ``load_evidence()``).

    Returns
    -------
    dict
        allocator -> "the reference arm ..." | "credited on the frontier gain in the lab (k of m readings ...), not
        in the simulator (0 of m); <speed>" | "faster than uniform GRPO to its 50% Pass@1 target, credited in ...;
        no credited frontier gain (m frontier-gain readings)" | "a per-batch proxy with no demonstrated training
        gain (m frontier-gain readings, none credited); slower than uniform GRPO ..." | "a per-batch proxy with no
        demonstrated training effect (m frontier-gain readings, none credited; <speed>)" | "not measured in
        training" (nothing, or only a related form, was run). <speed> is "slower (faster) than uniform GRPO to its
        50% Pass@1 target, credited in the simulator (1 of 2 readings: v3, in steps and rollouts)", "speed to
        uniform GRPO's 50% Pass@1 target: m readings, none credited" or "speed to ... not yet measured". A
        frontier-gain reading is one distinct (model, regime, value, se, n) of the rule itself, a speed reading one
        (model, regime) with its step and compute multipliers;
        related forms are not counted.
    """
    table = load_evidence() if table is None else table
    readings = _readings(table)
    out = {}
    for allocator in dict.fromkeys(table.allocator):
        same = [r for r in readings if r.allocator == allocator and r.reading == "same"]
        front = [r for r in same if r.axis == "frontier"]
        eff = [r for r in same if r.axis == "efficiency"]
        speed = _speed_phrase(eff)
        gains = f"{_plural(len(front), 'frontier-gain reading')}, none credited"
        if allocator == "uniform":
            out[allocator] = ("the reference arm (its speed is 1 by construction, and its frontier gain 0 wherever "
                              "lr x1 lies on its own learning-rate frontier)")
        elif not same:
            related = any(r.allocator == allocator for r in readings)
            out[allocator] = "not measured in training" + (" (only a related form was run)" if related else "")
        elif any(r.credited == "yes" for r in front):
            parts, nots = [], []
            for model in sorted(dict.fromkeys(r.model for r in front)):  # "lab" before "simulator"
                g = [r for r in front if r.model == model]
                k = sum(r.credited == "yes" for r in g)
                if not k:
                    nots.append(f"not in the {model} (0 of {len(g)})")
                    continue
                by = [f"{_tag(regime)} {sum(r.credited == 'yes' for r in g if r.regime == regime)} of "
                      f"{sum(r.regime == regime for r in g)}" for regime in dict.fromkeys(r.regime for r in g)]
                parts.append(f"the {model} ({k} of {len(g)} readings" + (f": {', '.join(by)}" if len(by) > 1 else "")
                             + ")")
            stale = all(r.yardstick != "repaired" for r in front if r.credited == "yes")
            out[allocator] = ("credited on the frontier gain in " + " and ".join(parts)
                              + (" only in readings made before the repair, which may share runs (the re-run of "
                                 "the same study on the repaired yardstick does not reproduce it: docs/lab.md)"
                                 if stale else "")
                              + "".join(f", {n}" for n in nots) + f"; {speed}")
        elif any(r.credit == 1 for r in eff):
            out[allocator] = f"{speed}; no credited frontier gain ({_plural(len(front), 'frontier-gain reading')})"
        elif any(r.credit == -1 for r in eff):
            out[allocator] = f"a per-batch proxy with no demonstrated training gain ({gains}); {speed}"
        else:
            out[allocator] = f"a per-batch proxy with no demonstrated training effect ({gains}; {speed})"
    return out


def _se_text(se: float) -> str:
    """An se to 3 decimals, or to one significant digit when smaller (0.0005, not 0.000)."""
    return f"{se:.3f}" if se >= 0.001 or se == 0 or not np.isfinite(se) else f"{se:.1g}"


def _n_text(r: _Reading) -> str:
    return "n ?" if np.isnan(r.n_reps) else f"n {int(r.n_reps)}"


def _gain_text(r: _Reading) -> str:
    text = f"gain {r.value:+.3f} ± {_se_text(r.se)} ({_n_text(r)})" + (" **credited**" if r.credited == "yes" else "")
    if r.committed_credit == 1 and r.credited != "yes":
        text += (f" (credited by its table, not here: < {MIN_REPLICATES} replicates)"
                 if not r.n_reps >= MIN_REPLICATES else " (credited by its table, not here: see evidence.csv)")
    elif r.committed_credit == -1:
        text += " below the frontier" + ("" if r.n_reps >= MIN_REPLICATES else " (replicates not recorded)"
                                          if np.isnan(r.n_reps) else " (too few replicates to count)")
    return text


def _speed_text(r: _Reading, costs: str) -> str:
    """A multiplier in words: "speed ×0.81 ± 0.022 in steps (n 8; slower, credited)"."""
    said = {1: "faster, **credited**", -1: "slower, credited"}.get(r.credit, "")
    if not said and r.committed_credit in (1, -1):
        said = ("faster" if r.committed_credit == 1 else "slower") + " by its table, not credited here"
    return f"speed ×{r.value:.2f} ± {_se_text(r.se)} in {costs} ({_n_text(r)}" + (f"; {said})" if said else ")")


def _cell(readings: list[_Reading], keys: dict) -> str:
    """One model's readings of an allocator: grouped by arm and regime (tagged when the cell holds several
    regimes, and always with the simulator's version), gains before speeds; a step and a compute multiplier that
    read the same are written once."""
    if not readings:
        return "not run"
    several = len(dict.fromkeys(r.regime for r in readings)) > 1
    groups: dict[tuple, list] = {}
    for r in sorted(readings, key=lambda r: r.reading == "related"):  # stable: the table's order otherwise
        groups.setdefault((r.arm, r.reading, r.regime), []).append(r)
    out = []
    for (arm, reading, regime), g in groups.items():
        texts = [(_gain_text(r), r.sources) for r in g if r.axis == "frontier"]
        speeds: dict[tuple, list] = {}
        for r in (r for r in g if r.axis == "efficiency"):
            speeds.setdefault((_speed_text(r, "{}"), r.sources), []).append(r.metric)
        texts += [(text.format(_costs(ms)), sources) for (text, sources), ms in speeds.items()]
        cite = lambda sources: f"[{', '.join(str(keys[s]) for s in sources)}]"  # noqa: E731
        if len({s for _, s in texts}) == 1:
            body = "; ".join(t for t, _ in texts) + f" {cite(texts[0][1])}"
        else:
            body = "; ".join(f"{t} {cite(s)}" for t, s in texts)
        tag = _tag(regime)
        label = ", ".join(x for x in (arm if reading == "related" else "",
                                      tag if several or re.fullmatch(r"v\d+", tag) else "") if x)
        out.append(f"{label}: {body}" if label else body)
    return "; ".join(out)


def evidence_lines(allocators, table: pd.DataFrame | None = None) -> list[str]:
    """The report's "training evidence" section: a small markdown table, one row per allocator, its sources.

    Parameters
    ----------
    allocators : sequence of str
        The allocators of the report's comparison; ``hora`` and ``uniform`` are always shown (HORA is the
        method the lab credits; uniform is every study's reference).
    table : pandas.DataFrame, optional
        The evidence table (default: ``load_evidence()``).

    Returns
    -------
    list of str
        Markdown lines.
    """
    table = load_evidence() if table is None else table
    names = list(dict.fromkeys(("uniform", *allocators, "hora")))
    readings = [r for r in _readings(table) if r.allocator in names]
    rows = [r for r in table.to_dict("records") if r["allocator"] in names and not pd.isna(r["value"])]
    keys = {s: i + 1 for i, s in enumerate(dict.fromkeys(r["source"] for r in rows))}
    verdict = verdicts(table)
    floor = next((r["bound"] for r in rows if r["axis"] == "efficiency"), MULTIPLIER_FLOOR)
    lines = ["## Training evidence for these allocators", "",
             "advise compares allocators per batch: what each does to *this* batch's groups, not whether training "
             "with it ends better, and a per-batch gain need not become a training gain. What the project's own "
             "training studies measured, on two axes (mean ± se over the n replicates read; n ?: not recorded; "
             f"nothing is credited from fewer than {MIN_REPLICATES} replicates or on an unknown se):", "",
             "- **gain**: the frontier gain, Pass@256 minus uniform GRPO's learning-rate frontier at the arm's own "
             "Pass@1 (does training with it end with more problems solvable in 256 tries than uniform GRPO tuned "
             "to the same Pass@1?); credited only beyond the frontier's error bound by 2 se.",
             f"- **speed**: how fast it reaches {_TARGET} (half of uniform's own Pass@1 gain over its run), as "
             "uniform's steps (or rollouts, the compute) to that target over the arm's, paired by replicate: ×1.25 "
             "gets there in 1/1.25 = 0.8 of uniform's steps, ×0.80 needs 1.25 times uniform's. Credited faster or "
             f"slower only beyond 1 ± {floor:g} by 2 se. A speed is not a frontier gain: an arm can reach the "
             "target sooner and end no better, or the reverse.", "",
             "Sources marked *read before the repair* predate the repaired frontier read (Pareto-filtered points, "
             "every arm on the same replicates, a bound from uniform runs only) and measured no speed: their gains "
             "are to be re-read. Simulator v3 and v4 are different models of training (v4: the log-linear policy); "
             "their readings are shown apart, never pooled.",
             "", "| allocator | simulator | lab | training evidence |", "|---|---|---|---|"]
    for name in names:
        if name == "uniform":
            lines.append(f"| uniform | reference | reference | {verdict['uniform']} |")
            continue
        cells = [_cell([r for r in readings if r.allocator == name and r.model == m], keys)
                 for m in ("simulator", "lab")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {verdict.get(name, 'not measured in training')} |")
    lines += ["", "Sources (committed in the simalloc repository; `simalloc/advise/evidence.csv` holds every row with "
              "its study, regime and notes):", ""]
    for source, key in keys.items():
        mine = [r for r in rows if r["source"] == source]
        runs = "; ".join(g if g.startswith(m) else f"{m}{', ' + g if g else ''}"
                         for m, g in dict.fromkeys((r["model"], r["regime"]) for r in mine))
        when = "" if mine[0]["yardstick"] == "repaired" else "; *read before the repair*"
        lines.append(f"- [{key}] `{source}`: {mine[0]['study']} ({runs}{when})")
    related = [f"{arm}: {what}" for a in names for arm, reading, what in ARM_MAP.get(a, ()) if reading == "related"]
    if related:
        lines += ["", "Related forms of a rule (not the allocator advise uses; not counted in its verdict): "
                  + "; ".join(related) + "."]
    return lines + [""]


def evidence_basis(chosen: str, objective_label: str, allocators=(), table: pd.DataFrame | None = None) -> str:
    """The sentence a recommendation ends with: which evidence it rests on.

    Parameters
    ----------
    chosen : str
        The allocator recommended (``uniform`` when none is).
    objective_label : str
        The per-batch objective it optimises, in words ("informative groups per batch").
    allocators : sequence of str
        The comparison's allocators; those credited in training on either axis (a frontier gain, or faster to the
        target), and HORA, are named.
    table : pandas.DataFrame, optional
        The evidence table (default: ``load_evidence()``).

    Returns
    -------
    str
    """
    table = load_evidence() if table is None else table
    verdict = verdicts(table)
    credited = [a for a in dict.fromkeys((*allocators, "hora")) if a != chosen
                and verdict.get(a, "").startswith(("credited", "faster"))]
    if chosen == "uniform":
        text = "Evidence: uniform groups are every training study's reference arm. "
    else:
        text = (f"Evidence: this rests on a per-batch objective ({objective_label}) computed from your counts, not on "
                "training runs, and a per-batch gain need not become a training gain. In the project's training "
                f"studies {chosen} is {verdict.get(chosen, 'not measured in training')}. ")
    if credited:
        text += "By the same studies, " + "; ".join(f"{a} is {verdict[a]}" for a in credited) + ". "
    return text + "See \"Training evidence\" in report.md (docs/lab.md, docs/peers.md, docs/simulator.md)."


def main(argv=None) -> int:
    """``python -m simalloc.advise.evidence --rebuild | --check [--root DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m simalloc.advise.evidence",
                                     description="Rebuild or check simalloc/advise/evidence.csv from the committed "
                                                 "study summaries under docs/.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--rebuild", action="store_true", help="rewrite the shipped evidence.csv")
    action.add_argument("--check", action="store_true", help="exit 1 when the shipped file differs from a rebuild")
    parser.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    ns = parser.parse_args(argv)
    if ns.rebuild:
        print(f"wrote {write_evidence(EVIDENCE_FILE, ns.root)}")
        return 0
    fresh = build_evidence(ns.root).to_csv(index=False)
    same = EVIDENCE_FILE.is_file() and EVIDENCE_FILE.read_text() == fresh
    print(f"{EVIDENCE_FILE} is {'up to date' if same else 'out of date: run with --rebuild'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
