"""The paper-check harness: discovery, results, shared simulator runs, the report.

A check is a module in ``paper_checks/`` with PAPER, CLAIM (quoted), SOURCE (table / figure /
proposition), SETTING, TOLERANCE (with its reason), USES_SIMULATOR, and ``run(full=False, out=None,
**inject) -> Result``. ``inject`` lets a test break an input on purpose and watch the verdict change.
A module whose claim depends on an unpublished choice defines ``READINGS`` (name -> parameters): each
reading is a check of its own, ``module[reading]``, run as ``run(..., reading=name)``, with its own verdict.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from simalloc.stats import paired_difference
from simalloc.train import (  # noqa: F401
    EFFECT_FLOOR,
    FRONTIER_LRS,
    START_POINT,
    TrainConfig,
    frontier_arms,
    frontier_gain,
    frontier_table,  # (EFFECT_FLOOR: the checks' floor)
    simulate_training,
)

VERDICTS = ("reproduced", "partial", "not_reproduced")


@dataclass
class Result:
    expected: str
    observed: str
    verdict: str
    details: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: must be one of {VERDICTS}, got {self.verdict!r}")


def _modules() -> list[str]:
    import simalloc_paper_checks as paper_checks

    return sorted(m.name for m in pkgutil.iter_modules(paper_checks.__path__) if not m.name.startswith("_"))


def check_names() -> list[str]:
    """Every check id: a module name, or ``module[reading]`` for each reading of a module with READINGS."""
    names = []
    for mod in _modules():
        readings = getattr(importlib.import_module(f"simalloc_paper_checks.{mod}"), "READINGS", None)
        names += [f"{mod}[{r}]" for r in readings] if readings else [mod]
    return names


def load_check(name: str):
    """(module, reading or None) of a check id."""
    mod_name, _, reading = name.partition("[")
    reading = reading[:-1] if reading.endswith("]") else None
    if name not in check_names():
        raise ValueError(f"check: unknown {name!r}; valid: {', '.join(check_names())}")
    return importlib.import_module(f"simalloc_paper_checks.{mod_name}"), reading


def run_check(name: str, full: bool = False, out: Path | None = None, **inject) -> dict:
    """Run one check; its exceptions propagate (an erroring check is a failure, not a verdict)."""
    mod, reading = load_check(name)
    if reading is not None:
        inject = {"reading": reading, **inject}
    start = time.perf_counter()
    res = mod.run(full=full, out=out, **inject)
    return {
        "id": name,
        "paper": mod.PAPER,
        "claim": mod.CLAIM,
        "source": mod.SOURCE,
        "setting": mod.SETTING,
        "tolerance": mod.TOLERANCE,
        "uses_simulator": mod.USES_SIMULATOR,
        "expected": res.expected,
        "observed": res.observed,
        "verdict": res.verdict,
        "details": res.details,
        "figures": [str(f) for f in res.figures],
        "seconds": round(time.perf_counter() - start, 2),
        "budget": "full" if full else "quick",
    }


# ---------------------------------------------------------------------------------------- simulator runs

#: the "benchmarks" of the simulated Table 1: difficulty worlds from easy to hard
WORLDS = {
    "beta(0.5,0.5)": "beta:0.5,0.5",
    "mixture": "beta_mixture",
    "hard": "logit_normal:-2.5,1.5",
    "easy": "logit_normal:1,1.5",
}
#: the "models": how sharply the shared-strategy policy concentrates (Zipf exponent of its strategies)
POLICIES = {"flat": 1.2, "medium": 1.5, "peaked": 1.8}


def train_budget(full: bool) -> tuple[dict, int]:
    """(TrainConfig overrides, n_reps): quick runs fewer steps and replicates than the paper-like default."""
    if full:
        return {}, 16
    return {"steps": 120, "n_pool": 1000, "n_eval": 500}, 4


def _config(full: bool, world: str, zipf: float):
    """(the checks' TrainConfig in one setting, n_reps)."""
    overrides, n_reps = train_budget(full)
    return dataclasses.replace(TrainConfig(world=world, zipf=zipf), **overrides), n_reps


@lru_cache(maxsize=None)
def _runs(full: bool, arm: str, world: str, zipf: float, seed: int):
    """(per-step tables, budget-share tables) of every replicate, simulated once per setting and shared by all
    checks."""
    cfg, n_reps = _config(full, world, zipf)
    runs = [simulate_training(cfg, arm, np.random.SeedSequence([seed, r]), rep=r) for r in range(n_reps)]
    return tuple(steps for steps, _ in runs), tuple(share for _, share in runs)


def final_metric(full: bool, arm: str, column: str, world="beta:0.5,0.5", zipf=1.5, seed=0, start=False) -> np.ndarray:
    """Per-replicate value of ``column`` (e.g. "pass@256") at the last step (or step 0), shape (n_reps,)."""
    tables, _ = _runs(full, arm, world, zipf, seed)
    row = 0 if start else -1
    return np.array([t[column].iloc[row] for t in tables])


def budget_shares(full: bool, arm: str, world="beta:0.5,0.5", zipf=1.5, seed=0):
    """Per-replicate budget-share-by-s tables of the same runs as ``final_metric``."""
    return _runs(full, arm, world, zipf, seed)[1]


#: the studies' learning-rate frontier (``simalloc.train.FRONTIER_LRS``): one grid for studies and checks
CHECK_FRONTIER_LRS = FRONTIER_LRS


def frontier_gain_runs(
    full: bool, arm: str, world="beta:0.5,0.5", zipf=1.5, seed=0, k=256, shift=0.0, lrs=CHECK_FRONTIER_LRS
):
    """``arm``'s frontier gain at Pass@k (mean, se, replicates used: ``MeanSE``) against uniform GRPO's
    learning-rate frontier in one setting (``simalloc.train.frontier_gain``: monotone cubic through the
    Pareto-filtered points, a replicate outside their Pass@1 range read against the flat extension of the end point).
    ``shift`` is added to the arm's Pass@k (mutation tests only: an arm moved off the frontier)."""
    import pandas as pd

    frontier = frontier_arms(lrs)
    runs = [(name, t) for name in frontier for t in _runs(full, name, world, zipf, seed)[0]]
    runs += [("__arm__", t) for t in _runs(full, arm, world, zipf, seed)[0]]
    steps = pd.concat([t.assign(arm=label) for label, t in runs], ignore_index=True)
    steps.loc[steps.arm == "__arm__", f"pass@{k}"] += shift
    # the last step's rows plus the frontier's lr -> 0 end (uniform's row where the allocators take over)
    last = frontier_table(steps, _config(full, world, zipf)[0].warmup_steps)
    return frontier_gain(last, "__arm__", k, (START_POINT,) + frontier)


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of a - b over paired replicates (common random numbers)."""
    r = paired_difference(a, b)
    return r.mean, r.se


# ---------------------------------------------------------------------------------------------- report


def write_report(rows: list[dict], path: Path) -> Path:
    path = Path(path)
    lines = [
        "# simalloc paper checks",
        "",
        f"Budget: {rows[0]['budget'] if rows else '-'}. "
        "Verdicts: reproduced | partial | not_reproduced. A check marked 'simulator' depends on simalloc's "
        "simulated training dynamics, not on a real model.",
        "",
        "| check | paper | source | verdict | simulator |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['id']}` | {r['paper']} | {r['source']} | **{r['verdict']}** | "
            f"{'yes' if r['uses_simulator'] else 'no'} |"
        )
    for r in rows:
        lines += [
            "",
            f"## `{r['id']}`: {r['verdict']}",
            "",
            f"> {r['claim']}",
            "",
            f"- paper: {r['paper']}, {r['source']}",
            f"- setting: {r['setting']}",
            f"- tolerance: {r['tolerance']}",
            f"- expected: {r['expected']}",
            f"- observed: {r['observed']}",
            f"- time: {r['seconds']} s",
        ]
        for fig in r["figures"]:
            rel = Path(fig).relative_to(path.parent) if Path(fig).is_relative_to(path.parent) else Path(fig)
            lines += ["", f"![{r['id']}]({rel.as_posix()})"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
