"""Rollout pools: real rollouts recorded once (one row each) and replayed many times.

A pool is a folder of parquet shards ``shard-00000.parquet, ...`` (written atomically, so a killed run resumes
at the first missing shard) plus ``pool.json`` with the settings that made it. One row per rollout, columns
``POOL_COLUMNS``: task id, sample index, prompt, completion text, extracted answer, reward, completion tokens,
engine, model, temperature, seed, reference.

``read_pool`` also accepts a practitioner's own rollout log exported from TRL, verl or any trainer
(``simalloc.logs``: columns found by common spellings or named, a success threshold, only the needed columns
read).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write, write_json
from ..logs import read_rollouts
from ..validation import as_int

__all__ = ["POOL_COLUMNS", "sample_pool", "read_pool", "regrade_pool"]

POOL_COLUMNS = ["task_id", "sample_index", "prompt", "completion", "answer", "reward", "completion_tokens", "engine",
                "model", "temperature", "seed", "reference"]

def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.parquet"


def sample_pool(engine, tasks, samples: int, out, *, shard_tasks: int = 25, engine_name: str = "", model: str = "",
                temperature: float = float("nan"), seed: int = 0, progress: bool = True) -> Path:
    """Draw ``samples`` completions for every task with ``engine`` and write the pool to ``out``.

    Tasks go in shards of ``shard_tasks``; each finished shard is written atomically and skipped on a re-run
    with the same settings (a folder holding a pool of other settings is refused). Rewards come from the safe
    verifier (``tasks.verify``); tokens are the completion's token count.

    Parameters
    ----------
    engine : Engine
        Samples the completions.
    tasks : list of Task
        The questions.
    samples : int
        Completions per task, >= 1.
    out : path-like
        The pool folder.
    shard_tasks : int, default 25
        Tasks per shard file.
    engine_name, model : str
        Recorded in the pool's metadata.
    temperature : float
        Recorded in the pool's metadata.
    seed : int, default 0
        Recorded in the pool's metadata (the engine has its own seed).
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    Path
        ``out``.
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


def read_pool(path, spec=None, *, progress: bool = False) -> pd.DataFrame:
    """A pool folder, or a rollout log file, as a rollout table (``simalloc.logs.LOG_COLUMNS``).

    ``task_id`` numbers prompts in order of first appearance (the original id is ``source_id``);
    ``sample_index`` numbers each prompt's rollouts in file order. Columns are found by their common spellings
    or named in ``spec`` (``simalloc.logs.ReadSpec``); see ``simalloc.logs.read_data``.

    Parameters
    ----------
    path : path-like or DataFrame
        A pool folder or a rollout log.
    spec : ReadSpec, optional
        Column names, threshold, separator.
    progress : bool, default False
        Show a progress bar while reading.

    Returns
    -------
    pandas.DataFrame
    """
    return read_rollouts(path, spec, progress=progress)


def regrade_pool(path, tasks=None, progress: bool = True) -> dict:
    """Grade every rollout of a recorded pool again with the current grader (``tasks.verify``) and rewrite its
    shards atomically with the new ``answer`` and ``reward`` (and a ``reference`` column).

    References come from the pool's ``reference`` column, else from ``tasks`` (the ``Task`` list the pool was
    sampled from, matched by question text). Returns and writes (``regrade.json``) the counts: rollouts, rewards
    that flipped 0 -> 1 and 1 -> 0, the grader's statistics, and up to 10 examples of each flip.

    Parameters
    ----------
    path : path-like
        The pool folder.
    tasks : list of Task, optional
        Where references come from when the pool has no ``reference`` column.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    dict
        The counts written to regrade.json.
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
