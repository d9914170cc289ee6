"""Rollout pools: real rollouts recorded once (one row each) and replayed many times.

A pool is a folder of parquet shards ``shard-00000.parquet, ...`` (written atomically, so a killed run resumes
at the first missing shard) plus ``pool.json`` with the settings that made it. One row per rollout, columns
``POOL_COLUMNS``: task id, sample index, prompt, completion text, extracted answer, reward, completion tokens,
engine, model, temperature, seed (DESIGN.md 2.9).

``read_pool`` also accepts a practitioner's own rollout log exported from TRL, verl or any trainer: a JSONL,
CSV or parquet file with at least a prompt id and a reward per rollout (answer and token count optional).
Column names are matched case-insensitively against common spellings (``ALIASES``); the error for a missing
column names the file and the spellings it looked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._validate import as_int
from ..sim.results import atomic_write, write_json

__all__ = ["POOL_COLUMNS", "ALIASES", "sample_pool", "read_pool", "pool_counts", "regrade_pool"]

POOL_COLUMNS = ["task_id", "sample_index", "prompt", "completion", "answer", "reward", "completion_tokens", "engine",
                "model", "temperature", "seed", "reference"]

#: accepted spellings of the columns a log must (task_id, reward) or may (the rest) have
ALIASES = {
    "task_id": ("task_id", "task", "prompt_id", "uid", "question_id", "problem_id", "id", "index", "prompt"),
    "reward": ("reward", "rewards", "score", "correct", "is_correct", "acc", "accuracy"),
    "answer": ("answer", "extracted_answer", "pred", "prediction"),
    "completion_tokens": ("completion_tokens", "response_length", "num_tokens", "tokens", "completion_length"),
    "completion": ("completion", "response", "output", "text"),
    "prompt": ("prompt", "question", "problem", "query"),
    "reference": ("reference", "gts", "ground_truth", "gold", "target", "solution"),
}


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.parquet"


def sample_pool(engine, tasks, samples: int, out, *, shard_tasks: int = 25, engine_name: str = "", model: str = "",
                temperature: float = float("nan"), seed: int = 0, progress: bool = True) -> Path:
    """Draw ``samples`` completions for every task with ``engine`` and write the pool to ``out``.

    Tasks go in shards of ``shard_tasks``; each finished shard is written atomically and skipped on a re-run
    with the same settings (a folder holding a pool of other settings is refused). Rewards come from the safe
    verifier (``tasks.verify``); tokens are the completion's token count.
    """
    from tqdm import tqdm

    from .tasks import extract_answer, verify

    samples, shard_tasks = as_int(samples, "samples"), as_int(shard_tasks, "shard_tasks")
    if not tasks:
        raise ValueError("tasks: need at least one task")
    out = Path(out)
    settings = {"n_tasks": len(tasks), "samples": int(samples), "shard_tasks": int(shard_tasks), "engine": engine_name,
                "model": model, "temperature": temperature, "seed": seed,
                "questions_sha": pd.util.hash_pandas_object(pd.Series([t.question for t in tasks])).sum().item()}
    meta = out / "pool.json"
    if meta.is_file() and json.loads(meta.read_text()) != json.loads(json.dumps(settings)):
        raise ValueError(f"out: {out} holds a pool made with other settings; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json(settings, meta)
    starts = list(range(0, len(tasks), shard_tasks))
    todo = [(i, s) for i, s in enumerate(starts) if not (out / _shard_name(i)).is_file()]
    bar = tqdm(total=len(tasks) * samples, initial=(len(starts) - len(todo)) * shard_tasks * samples,
               desc="sampling", unit="rollout", disable=not progress)
    for i, start in todo:
        chunk = tasks[start:start + shard_tasks]
        completions = engine.generate([t.prompt() for t in chunk], [samples] * len(chunk))
        rows = []
        for j, (task, comps) in enumerate(zip(chunk, completions)):
            for k, c in enumerate(comps):
                rows.append((start + j, k, task.question, c.text, extract_answer(c.text), verify(c.text, task.answer),
                             len(c.token_ids), engine_name, model, temperature, seed, task.answer))
        frame = pd.DataFrame(rows, columns=POOL_COLUMNS)
        atomic_write(out / _shard_name(i), lambda p, f=frame: f.to_parquet(p, index=False))
        bar.update(len(rows))
    bar.close()
    return out


def _find(columns, name, path, required):
    lower = {c.lower(): c for c in columns}
    for alias in ALIASES[name]:
        if alias in lower:
            return lower[alias]
    if required:
        raise ValueError(f"{Path(path).name}: no {name} column; looked for {', '.join(ALIASES[name])} "
                         f"(found {', '.join(map(str, columns)) or 'none'})")
    return None


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=suffix == ".jsonl")
        if suffix == ".csv":
            return pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name}: cannot read it as {suffix[1:]} ({str(exc).splitlines()[0]})") from None
    raise ValueError(f"path: {path.name} is not a pool folder, .parquet, .jsonl, .json or .csv file")


def read_pool(path) -> pd.DataFrame:
    """A pool folder, or a rollout log file, as a DataFrame with the ``POOL_COLUMNS`` (missing ones NaN/empty).

    ``task_id`` becomes consecutive integers in order of first appearance (the original id is kept in
    ``source_id``); ``sample_index`` numbers each task's rollouts in file order; rewards must be finite.
    """
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.glob("shard-*.parquet"))
        if not shards:
            raise ValueError(f"path: {path} has no pool shards (shard-*.parquet)")
        frame = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True)
    elif path.is_file():
        frame = _read_table(path)
    else:
        raise ValueError(f"path: no such pool folder or log file {str(path)!r}")
    if frame.empty:
        raise ValueError(f"{path.name}: no rollouts")
    cols = {name: _find(frame.columns, name, path, name in ("task_id", "reward")) for name in ALIASES}
    source = frame[cols["task_id"]].astype(str)
    reward = pd.to_numeric(frame[cols["reward"]].replace({True: 1.0, False: 0.0}), errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(reward)):
        bad = int(np.flatnonzero(~np.isfinite(reward))[0])
        raise ValueError(f"{path.name}: reward must be a finite number in every row; row {bad} has "
                         f"{frame[cols['reward']].iloc[bad]!r}")
    out = pd.DataFrame({"task_id": pd.factorize(source)[0].astype(np.int64), "source_id": source})
    out["sample_index"] = out.groupby("task_id").cumcount().astype(np.int64)
    out["reward"] = reward
    for name in ("prompt", "completion", "answer", "reference"):  # text columns (JSON/CSV readers turn "7" into 7)
        out[name] = frame[cols[name]].map(lambda v: None if pd.isna(v) else str(v)).astype(object) if cols[name] else None
    tokens = cols["completion_tokens"]
    out["completion_tokens"] = pd.to_numeric(frame[tokens], errors="coerce") if tokens else np.nan
    for name in ("engine", "model", "temperature", "seed"):
        out[name] = frame[name] if name in frame.columns else None
    return out[["task_id", "source_id", *[c for c in POOL_COLUMNS if c != "task_id"]]]


def pool_counts(pool: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per task: rollouts (trials) and successes (reward > ``threshold``), the input of ``allocate`` and of the
    difficulty-world fit."""
    grouped = pool.assign(success=pool.reward > threshold).groupby("task_id")
    return pd.DataFrame({"successes": grouped.success.sum().astype(np.int64), "trials": grouped.size().astype(np.int64)})


def regrade_pool(path, tasks=None, progress: bool = True) -> dict:
    """Grade every rollout of a recorded pool again with the current grader (``tasks.verify``) and rewrite its
    shards atomically with the new ``answer`` and ``reward`` (and a ``reference`` column).

    References come from the pool's ``reference`` column, else from ``tasks`` (the ``Task`` list the pool was
    sampled from, matched by question text). Returns and writes (``regrade.json``) the counts: rollouts, rewards
    that flipped 0 -> 1 and 1 -> 0, the grader's statistics, and up to 10 examples of each flip.
    """
    from tqdm import tqdm

    from .tasks import default_grader, extract_answer, verify

    path = Path(path)
    shards = sorted(path.glob("shard-*.parquet"))
    if not shards:
        raise ValueError(f"path: {path} has no pool shards (shard-*.parquet)")
    by_question = {t.question: t.answer for t in tasks or []}
    summary = {"rollouts": 0, "up": 0, "down": 0, "examples_up": [], "examples_down": []}
    frames = []
    for shard in tqdm(shards, desc="regrading", unit="shard", disable=not progress):
        frame = pd.read_parquet(shard)
        if "reference" not in frame.columns or frame["reference"].isna().any():
            missing = sorted(set(frame.prompt) - set(by_question))
            if missing:
                raise ValueError(f"tasks: no reference answer for {len(missing)} question(s) of {shard.name}, e.g. "
                                 f"{missing[0]!r}; pass the tasks the pool was sampled from")
            frame["reference"] = frame.prompt.map(by_question)
        new = np.array([verify(c, r) for c, r in zip(frame.completion, frame.reference)])
        old = frame.reward.to_numpy(float)
        for key, mask in (("up", (old <= 0.5) & (new > 0.5)), ("down", (old > 0.5) & (new <= 0.5))):
            summary[key] += int(mask.sum())
            for i in np.flatnonzero(mask)[: 10 - len(summary[f"examples_{key}"])]:
                summary[f"examples_{key}"].append({"reference": frame.reference.iloc[i],
                                                   "completion": frame.completion.iloc[i][-200:]})
        frame["answer"] = [extract_answer(c) for c in frame.completion]
        frame["reward"] = new
        summary["rollouts"] += len(frame)
        frames.append((shard, frame[POOL_COLUMNS]))
    for shard, frame in frames:  # every shard graded before any is replaced
        atomic_write(shard, lambda p, f=frame: f.to_parquet(p, index=False))
    summary["grader"] = dict(default_grader().stats)
    write_json(summary, path / "regrade.json")
    return summary
