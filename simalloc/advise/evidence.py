"""What the project's own committed training studies measured for each allocator ``advise`` compares.

``advise`` scores allocators on a per-batch objective (informative groups, hits, solved prompts) computed from a
user's counts. Whether a per-batch gain becomes a *training* gain is a different question, answered (or not) by the
training studies whose summaries are committed under ``docs/``. This module turns those summaries into one table,
``evidence.csv``, shipped with the package so that every report can cite it:

- one row per (advise allocator, study arm, model, study, regime, metric), read from ``EVIDENCE_SOURCES``;
- ``reading``: ``same`` when the study ran the allocator ``advise`` uses, ``related`` for another form of the same
  method (``ARM_MAP``: DAPO's dynamic sampling beside the ``dapo`` allocator, SPEED-RL's sequential screening
  beside its fixed-prompt reading, HORA with history priors);
- ``credited``: ``yes`` only when the study's own ``credited@256`` is +1 *and* the gain was read on at least
  ``MIN_REPLICATES`` replicates (the project's rule: no credit from fewer than 3). A row the committed table
  credits from fewer replicates is shown ``no``, with a note saying so;
- axis ``frontier``: the frontier gain (Pass@256 minus uniform GRPO's learning-rate frontier at the arm's own
  Pass@1). The efficiency axis (rollouts to a target) is not in any committed summary yet: ``AXES`` lists no
  metric for it and reports say "not yet measured".

The table is generated, never written by hand: ``python -m simalloc.advise.evidence --rebuild`` rereads the
committed summaries (run it after a study's committed outputs change); ``--check`` fails when the shipped file has
drifted from them (``tests/test_advise_evidence.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write

__all__ = ["ARM_MAP", "AXES", "EVIDENCE_COLUMNS", "EVIDENCE_FILE", "EVIDENCE_SOURCES", "MIN_REPLICATES",
           "EvidenceSource", "build_evidence", "evidence_basis", "evidence_lines", "load_evidence", "verdicts",
           "write_evidence"]

#: the shipped table (package data)
EVIDENCE_FILE = Path(__file__).with_name("evidence.csv")
#: no credit from fewer replicates than this (DESIGN 2.15, the yardstick)
MIN_REPLICATES = 3
#: the metrics read per axis; the efficiency axis has none in the committed summaries yet
AXES = {"frontier": ("frontier_gain@256",), "efficiency": ()}
#: the study's credit column for a frontier metric
_CREDIT = {"frontier_gain@256": "credited@256"}
_BOUND = {"frontier_gain@256": "interpolation_bound@256"}

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
                    "n_reps", "bound", "committed_credit", "credited", "note", "source")
_MODELS = {"sim": "simulator", "lab": "lab"}


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
    """

    path: str
    kind: str = "summary"
    model: str = ""
    study: str = ""
    regime: str = ""
    note: str = ""


#: every committed training study output read, in the order reports number them
EVIDENCE_SOURCES = (
    EvidenceSource("docs/lab/summary.csv", model="lab"),
    EvidenceSource("docs/lab/absent/summary.csv", model="lab"),
    EvidenceSource("docs/peers/summary.csv"),
    EvidenceSource("docs/peers/lab8/summary.csv"),
    EvidenceSource("docs/lab/calibration.csv", kind="calibration", model="sim", study="sim_vs_lab",
                   regime="the lab's pass rates, calibrated on its uniform runs",
                   note="the calibrated simulator's prediction of the lab study; its replicate count is not recorded"),
)


def _regime(args: dict, model: str) -> str:
    """The regime a study ran in: the lab's level-2 task (``misconception`` | ``absent``), the simulator's world."""
    a = args["args"]
    if model == "lab":
        level2 = (a.get("lab") or a["train"]).get("level2")
        return f"level2={level2}" if level2 else ""
    world = a["train"].get("world")
    return f"world {world}" if world else ""


def _summary_rows(root: Path, src: EvidenceSource) -> list[dict]:
    table = pd.read_csv(root / src.path)
    args = json.loads((root / src.path).with_name("args.json").read_text())
    if "model" not in table:
        table = table.assign(model=src.model)
    rows = []
    for model, sub in table.groupby("model", sort=False):
        by = sub.set_index(["arm", "metric"])
        for metric in (m for ms in AXES.values() for m in ms):
            bound = by.value.get(("frontier", _BOUND[metric]), np.nan)
            for allocator, arm, reading, _ in _mapped():
                if (arm, metric) not in by.index:
                    continue
                r = by.loc[(arm, metric)]
                credit = by.value.get((arm, _CREDIT[metric]), np.nan)
                rows.append(_row(allocator, arm, reading, model, args["study"], _regime(args, model), metric,
                                 r.value, r.se, r.n_reps, bound, credit, src))
    return rows


def _calibration_rows(root: Path, src: EvidenceSource) -> list[dict]:
    table = pd.read_csv(root / src.path).set_index(["arm", "metric"])
    rows = []
    for metric in (m for ms in AXES.values() for m in ms):
        for allocator, arm, reading, _ in _mapped():
            if (arm, metric) in table.index:
                r = table.loc[(arm, metric)]
                rows.append(_row(allocator, arm, reading, src.model, src.study, src.regime, metric, r.sim_value,
                                 r.sim_se, np.nan, np.nan, r.sim_effect, src))
    return rows


def _mapped():
    for allocator, arms in ARM_MAP.items():
        for arm, reading, what in arms:
            yield allocator, arm, reading, what


def _row(allocator, arm, reading, model, study, regime, metric, value, se, n_reps, bound, credit, src) -> dict:
    """One evidence row, with the project's replicate rule applied to the study's credit."""
    n = int(n_reps) if np.isfinite(n_reps) else None
    notes = [src.note] if src.note else []
    if reading == "related":
        notes.append(next(w for a, r, w in ARM_MAP[allocator] if a == arm))
    if arm == "uniform":
        notes.append("the reference arm: its frontier gain is 0 by construction")
    enough = n is not None and n >= MIN_REPLICATES
    if credit == 1 and not enough:
        notes.append("the committed table credits it, but "
                     + (f"from {n} replicate{'s' if n != 1 else ''}" if n is not None else "with no replicate count")
                     + f": not credited (no credit from fewer than {MIN_REPLICATES})")
    elif credit == -1 and enough:
        notes.append("below the frontier beyond its bound (a loss)")
    elif credit == -1:
        notes.append("below the frontier in the committed table, "
                     + (f"from {n} replicates" if n is not None else "with no replicate count"))
    return {"allocator": allocator, "arm": arm, "reading": reading, "model": _MODELS[model], "study": study,
            "regime": regime, "axis": next(a for a, ms in AXES.items() if metric in ms), "metric": metric,
            "value": float(value), "se": float(se), "n_reps": n, "bound": float(bound),
            "committed_credit": None if not np.isfinite(credit) else int(credit),
            "credited": "yes" if credit == 1 and enough else "no", "note": "; ".join(notes), "source": src.path}


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
        allocator (``ARM_MAP``), same-rule rows first, then source order. An allocator no study ran has one row
        with no value and the note "no committed training study ran it".
    """
    root = Path(root)
    rows = []
    for i, src in enumerate(sources):
        if src.kind not in ("summary", "calibration"):
            raise ValueError(f"sources[{i}].kind: must be 'summary' or 'calibration', got {src.kind!r}")
        if not (root / src.path).is_file():
            raise ValueError(f"root: {root / src.path} not found; run from the repository root (or pass root=)")
        rows += (_summary_rows if src.kind == "summary" else _calibration_rows)(root, src)
    for allocator in ARM_MAP:
        if not any(r["allocator"] == allocator for r in rows):
            rows.append({"allocator": allocator, "arm": "", "reading": "", "model": "", "study": "", "regime": "",
                         "axis": "frontier", "metric": "", "value": np.nan, "se": np.nan, "n_reps": None,
                         "bound": np.nan, "committed_credit": None, "credited": "no",
                         "note": "no committed training study ran it", "source": ""})
    table = pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))
    order = {a: i for i, a in enumerate(ARM_MAP)}
    srcs = {s.path: i for i, s in enumerate(sources)}
    table = table.assign(_a=table.allocator.map(order), _r=(table.reading == "related").astype(int),
                         _s=table.source.map(srcs).fillna(len(srcs)))
    table = table.sort_values(["_a", "_r", "arm", "_s", "model", "metric"], kind="stable")
    table = table.drop(columns=["_a", "_r", "_s"]).reset_index(drop=True)
    table["n_reps"] = table.n_reps.astype("Int64")
    table["committed_credit"] = table.committed_credit.astype("Int64")
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
    >>> row = t[(t.allocator == "informative") & (t.source == "docs/lab/summary.csv")].iloc[0]
    >>> row.model, row.study, round(float(row.value), 3), round(float(row.se), 3), int(row.n_reps), row.credited
    ('lab', 'lab_hora_vs_grpo', 0.012, 0.013, 8, 'no')
    """
    if not EVIDENCE_FILE.is_file():
        raise FileNotFoundError(f"{EVIDENCE_FILE} is missing: the package was installed without its data "
                                "(pyproject.toml [tool.setuptools.package-data])")
    return pd.read_csv(EVIDENCE_FILE, dtype={"n_reps": "Int64", "committed_credit": "Int64"},
                       keep_default_na=False, na_values={"value": [""], "se": [""], "bound": [""],
                                                         "n_reps": [""], "committed_credit": [""]})


@dataclass(frozen=True)
class _Reading:
    """Same-valued rows of one allocator and arm merged (two committed files can hold the same runs:
    ``docs/peers/lab8`` reuses the lab study's), with every source that holds them."""

    allocator: str
    arm: str
    reading: str
    model: str
    regime: str
    value: float
    se: float
    n_reps: float
    credited: str
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
        key = (r["allocator"], r["arm"], r["reading"], r["model"], r["regime"], r["value"], r["se"],
               -1.0 if np.isnan(n) else n, r["credited"])
        if key in merged:
            merged[key]["sources"] += (r["source"],)
        else:
            merged[key] = dict(allocator=r["allocator"], arm=r["arm"], reading=r["reading"], model=r["model"],
                               regime=r["regime"], value=r["value"], se=r["se"], n_reps=n, credited=r["credited"],
                               committed_credit=c, sources=(r["source"],))
    return [_Reading(**m) for m in merged.values()]


def verdicts(table: pd.DataFrame | None = None) -> dict[str, str]:
    """One phrase per allocator summarising its same-rule training evidence.

    Parameters
    ----------
    table : pandas.DataFrame, optional
        The evidence table (default: ``load_evidence()``).

    Returns
    -------
    dict
        allocator -> "the reference arm ..." | "credited in the lab (k of m readings ...), not in the simulator
        (0 of m)" |
        "a per-batch proxy with no demonstrated training effect (m readings, none credited)" | "not measured in
        training" (nothing, or only a related form, was run). A reading is one distinct (model, regime, value,
        se, n) of the rule itself; related forms are not counted.
    """
    table = load_evidence() if table is None else table
    readings = _readings(table)
    out = {}
    for allocator in dict.fromkeys(table.allocator):
        same = [r for r in readings if r.allocator == allocator and r.reading == "same"]
        if allocator == "uniform":
            out[allocator] = "the reference arm (frontier gain 0 by construction)"
        elif not same:
            related = any(r.allocator == allocator for r in readings)
            out[allocator] = "not measured in training" + (" (only a related form was run)" if related else "")
        elif any(r.credited == "yes" for r in same):
            parts, nots = [], []
            for model in sorted(dict.fromkeys(r.model for r in same)):  # "lab" before "simulator"
                g = [r for r in same if r.model == model]
                k = sum(r.credited == "yes" for r in g)
                if not k:
                    nots.append(f"not in the {model} (0 of {len(g)})")
                    continue
                by = [f"{regime} {sum(r.credited == 'yes' for r in g if r.regime == regime)} of "
                      f"{sum(r.regime == regime for r in g)}" for regime in dict.fromkeys(r.regime for r in g)]
                parts.append(f"the {model} ({k} of {len(g)} readings" + (f": {', '.join(by)}" if len(by) > 1 else "")
                             + ")")
            out[allocator] = "credited in " + " and ".join(parts) + "".join(f", {n}" for n in nots)
        else:
            out[allocator] = (f"a per-batch proxy with no demonstrated training effect ({len(same)} reading"
                              f"{'s' if len(same) != 1 else ''}, none credited)")
    return out


def _reading_text(r: _Reading, keys: dict) -> str:
    n = "n ?" if np.isnan(r.n_reps) else f"n {int(r.n_reps)}"
    text = f"{r.value:+.3f} ± {r.se:.3f} ({n})" + (" **credited**" if r.credited == "yes" else "")
    if r.committed_credit == 1 and r.credited != "yes":
        text += f" (credited by its table, not here: < {MIN_REPLICATES} replicates)"
    elif r.committed_credit == -1:
        text += " below the frontier" + ("" if r.n_reps >= MIN_REPLICATES else " (replicates not recorded)"
                                          if np.isnan(r.n_reps) else " (too few replicates to count)")
    if r.reading == "related":
        text = f"{r.arm}: {text}"
    return f"{text} [{', '.join(str(keys[s]) for s in r.sources)}]"


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
    lines = ["## Training evidence for these allocators", "",
             "advise compares allocators per batch: what each does to *this* batch's groups, not whether training "
             "with it ends better, and a per-batch gain need not become a training gain. What the "
             "project's own training studies measured: the **frontier gain** (Pass@256 minus uniform GRPO's "
             "learning-rate frontier at the arm's own Pass@1; mean ± se over the n replicates read; n ?: not "
             f"recorded), credited only beyond the frontier's error bound by 2 se and on at least {MIN_REPLICATES} "
             "replicates. The efficiency axis (rollouts or steps to a target) is not yet measured by any committed "
             "study, and the committed gains were read before the frontier read was repaired (Pareto-filtered "
             "points, every arm on the same replicates, a bound from uniform runs only): they are to be re-read.",
             "", "| allocator | simulator | lab | training evidence |", "|---|---|---|---|"]
    for name in names:
        if name == "uniform":
            lines.append(f"| uniform | reference | reference | {verdict['uniform']} |")
            continue
        cells = ["; ".join(_reading_text(r, keys) for r in readings if r.allocator == name and r.model == m)
                 or "not run" for m in ("simulator", "lab")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {verdict.get(name, 'not measured in training')} |")
    lines += ["", "Sources (committed in the simalloc repository; `simalloc/advise/evidence.csv` holds every row with "
              "its study, regime and notes):", ""]
    for source, key in keys.items():
        mine = [r for r in rows if r["source"] == source]
        runs = "; ".join(f"{m}{', ' + g if g else ''}" for m, g in dict.fromkeys((r["model"], r["regime"])
                                                                                   for r in mine))
        lines.append(f"- [{key}] `{source}`: {mine[0]['study']} ({runs})")
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
        The comparison's allocators; those credited in training (and HORA) are named.
    table : pandas.DataFrame, optional
        The evidence table (default: ``load_evidence()``).

    Returns
    -------
    str
    """
    table = load_evidence() if table is None else table
    verdict = verdicts(table)
    credited = [a for a in dict.fromkeys((*allocators, "hora")) if a != chosen
                and verdict.get(a, "").startswith("credited")]
    if chosen == "uniform":
        text = "Evidence: uniform groups are every training study's reference arm. "
    else:
        text = (f"Evidence: this rests on a per-batch objective ({objective_label}) computed from your counts, not on "
                "training runs, and a per-batch gain need not become a training gain. In the project's training "
                f"studies {chosen} is {verdict.get(chosen, 'not measured in training')}. ")
    if credited:
        text += "By the same studies, " + "; ".join(f"{a} is {verdict[a]}" for a in credited) + ". "
    return text + "See \"Training evidence\" in report.md (docs/lab.md, docs/peers.md)."


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
