"""Reading a practitioner's data: per-prompt pass counts or a per-rollout log, strictly, and saying how.

Two kinds of file, never confused silently:

- **counts**: one row per prompt with a successes column and a trials column (``prompt_id, successes, trials``;
  also ``uid, correct, total`` and the other spellings in ``ALIASES``). Rows that repeat a prompt id are
  aggregated (successes and trials summed) and the report says how many.
- **log**: one row per rollout with a prompt id and a reward (TRL's completion tables, verl's rollout dumps
  ``input, output, gts, score, step``, a rollout pool). A rollout succeeds when ``reward > threshold`` (0.5 by
  default, so 0/1 and True/False rewards read as they should; the values seen are reported).

Where the data can be: one file; a rollout pool folder (``shard-*.parquet``); a folder of log files of one type,
such as verl's ``trainer.rollout_data_dir`` (``1.jsonl, 2.jsonl, ...``: input, output, gts, score, step), or a
glob of them, read as one log, the step taken from a step column or else from the number ending each file's name
(the summary says which). A log with two or more steps also gets its groups (a prompt in one step, ``groups``).

A missing reward (NaN, None, null) is refused, naming ``drop_missing`` (``--drop-missing``), which drops those
rollouts and counts them in the summary. Files that are neither counts nor a log (a wandb export, a CSV without
a header row) are refused with what they look like and what is needed.

``kind="auto"`` takes a file as counts when it has both a successes-like and a trials-like column, else as a
log; every column can be named instead (``ReadSpec``). CSV separators are sniffed from the header (comma,
semicolon, tab) unless given. Only the columns needed are read (parquet column selection, CSV ``usecols``,
JSON lines through pyarrow with an explicit schema), so a 1.2M-rollout log reads in seconds within a few
hundred MB. ``DataRead.summary`` is the "how your file was read" paragraph every report starts with.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ReadSpec", "DataRead", "ALIASES", "read_data", "read_rollouts", "LOG_COLUMNS"]

#: accepted spellings, matched case-insensitively, in order of preference
ALIASES = {
    "id": ("prompt_id", "task_id", "uid", "id", "question_id", "problem_id", "index", "task", "prompt", "question",
           "problem", "input", "query"),
    "successes": ("successes", "correct", "num_correct", "n_correct", "passes", "solved", "hits"),
    "trials": ("trials", "total", "n", "attempts", "samples", "num_samples", "n_samples", "rollouts",
               "num_rollouts"),
    "reward": ("reward", "rewards", "score", "acc", "accuracy", "is_correct", "correct"),
    "step": ("step", "global_step", "iteration", "training_step"),
    "answer": ("answer", "extracted_answer", "pred", "prediction"),
    "tokens": ("completion_tokens", "response_length", "num_tokens", "tokens", "completion_length"),
    "completion": ("completion", "response", "output", "text"),
    "prompt": ("prompt", "question", "problem", "query", "input"),
    "reference": ("reference", "gts", "ground_truth", "gold", "target", "solution"),
}
#: the columns of a rollout table (``read_rollouts``), as the replay and the live mode use them
LOG_COLUMNS = ["task_id", "source_id", "sample_index", "prompt", "completion", "answer", "reward",
               "completion_tokens", "step", "reference"]
_TEXT = ("answer", "completion", "prompt", "reference")


@dataclass(frozen=True)
class ReadSpec:
    """How to read a file: its kind, the column for each role (None: found by ``ALIASES``), the success
    threshold for rewards and the CSV separator (None: sniffed from the header).

    Attributes
    ----------
    kind : {"auto", "counts", "log"}
        "counts": one row per prompt with successes and trials; "log": one row per rollout with a reward;
        "auto": decided from the columns (an ambiguous file is refused, naming both readings).
    id, successes, trials, reward, step, answer, tokens, completion, prompt, reference : str or None
        The column that holds each role; None looks it up among the common spellings in ``ALIASES``
        (verl's ``uid``/``score``, TRL's ``reward``/``rewards/<name>`` ...).
    threshold : float, default 0.5
        A rollout is a success when its reward > threshold.
    sep : str or None
        The CSV separator (one character); None sniffs it from the header.
    drop_missing : bool, default False
        Drop the rollouts of a log whose reward is missing (NaN, None, null; the count is reported). By default
        such a log is refused, naming this option: a missing reward may be a skipped rollout (TRL gives None when
        a reward function does not apply) or a failed grading that should count as a failure, and only the user
        knows which.

    Raises
    ------
    ValueError
        "kind: ...", "threshold: ..." or "sep: ..." for values outside those ranges.
    """

    kind: str = "auto"
    id: str | None = None
    successes: str | None = None
    trials: str | None = None
    reward: str | None = None
    step: str | None = None
    answer: str | None = None
    tokens: str | None = None
    completion: str | None = None
    prompt: str | None = None
    reference: str | None = None
    threshold: float = 0.5
    sep: str | None = None
    drop_missing: bool = False

    def __post_init__(self):
        if self.kind not in ("auto", "counts", "log"):
            raise ValueError(f"kind: must be auto, counts or log, got {self.kind!r}")
        if not (isinstance(self.threshold, (int, float)) and np.isfinite(self.threshold)):
            raise ValueError(f"threshold: must be a finite number (success = reward > threshold), got "
                             f"{self.threshold!r}")
        if self.sep is not None and (not isinstance(self.sep, str) or len(self.sep) != 1):
            raise ValueError(f"sep: must be one character, e.g. ',' ';' or a tab, got {self.sep!r}")

    @classmethod
    def of(cls, columns=None, **kwargs) -> "ReadSpec":
        """A spec from a ``{role: column}`` dict (roles: the fields above) plus keyword settings."""
        columns = dict(columns or {})
        roles = {f.name for f in fields(cls)} - {"kind", "threshold", "sep", "drop_missing"}
        unknown = sorted(set(columns) - roles)
        if unknown:
            raise ValueError(f"columns: unknown role(s) {unknown}; valid: {', '.join(sorted(roles))}")
        return cls(**columns, **kwargs)


@dataclass
class DataRead:
    """What ``read_data`` read: per-prompt ``counts`` (prompt_id, successes, trials), the rollout table for a log
    (``LOG_COLUMNS``; None for counts), and ``info`` (kind, file, rows, prompts, columns used, trials range,
    duplicates, threshold, reward values, separator, notes).

    Attributes
    ----------
    counts : pandas.DataFrame
        One row per prompt: prompt_id, successes, trials (duplicated ids summed).
    rollouts : pandas.DataFrame or None
        For a log, one row per rollout with ``LOG_COLUMNS`` (columns the file lacks are absent); None for counts.
    info : dict
        How the file was read; ``summary()`` writes it as one paragraph.
    groups : pandas.DataFrame or None
        For a log with at least two steps: one row per group, a prompt in one step (prompt_id, step, successes,
        trials), in step order; None otherwise.
    """

    counts: pd.DataFrame
    rollouts: pd.DataFrame | None
    info: dict = field(default_factory=dict)
    groups: pd.DataFrame | None = None

    def summary(self) -> str:
        """One paragraph: how the file was read."""
        i = self.info
        cols = ", ".join(f"{role} = `{col}`" for role, col in i["columns"].items())
        t_lo, t_hi = i["trials_range"]
        trials = f"{t_lo} rollouts per prompt" if t_lo == t_hi else (
            f"{t_lo} to {t_hi} rollouts per prompt (each prompt is planned with its own pilot size)")
        if self.groups is not None:
            g_lo, g_hi = i["group_range"]
            per_step = f"{g_lo}" if g_lo == g_hi else f"{g_lo} to {g_hi}"
            total = f"{t_lo}" if t_lo == t_hi else f"{t_lo} to {t_hi}"
            trials = (f"{i['steps']:,} steps (step from {i['step_from']}), {len(self.groups):,} groups (a prompt in "
                      f"one step), {per_step} rollouts per prompt per step ({total} over all steps)")
        files = i.get("files")
        what = f"`{i['source']}` as" if not files or len(files) == 1 else (
            f"{len(files):,} files in `{i['source']}` ({files[0]} to {files[-1]}) as one")
        parts = [f"Read {what} **{i['kind']}**: {i['rows']:,} rows, {i['prompts']:,} prompts, {trials}; "
                 f"columns {cols}."]
        if i["kind"] == "log":
            values = i.get("reward_values")
            seen = f" (values seen: {', '.join(f'{v:g}' for v in values)})" if values else ""
            parts.append(f"A rollout counts as a success when reward > {i['threshold']:g}{seen}.")
        if i.get("missing_rewards"):
            gone = i.get("prompts_dropped", 0)
            left = f", and with them {gone:,} prompt{'s' if gone != 1 else ''} left without a rollout" if gone else ""
            parts.append(f"{i['missing_rewards']:,} rollouts had no reward (NaN, None or null) and were dropped "
                         f"(--drop-missing){left}.")
        if i.get("duplicates"):
            parts.append(f"{i['duplicates']:,} prompt ids appeared on more than one row; their counts were summed "
                         f"({i['duplicate_rows']:,} rows merged).")
        if i.get("sep") and i["sep"] != ",":
            parts.append(f"CSV separator: {i['sep']!r}.")
        parts += i.get("notes", [])
        return " ".join(parts)


# ------------------------------------------------------------------------------------------------ files

#: the file types a log or counts file may have (a folder or a glob must hold one family)
_FAMILIES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".jsonl": "json", ".json": "json"}


def _step_of(path: Path) -> int | None:
    """The step number a file name carries at the end of its stem (verl's ``12.jsonl``, ``step_12.parquet``)."""
    m = re.search(r"(\d+)$", path.stem)
    return int(m.group(1)) if m else None


def _resolve(data) -> tuple[list[Path], bool]:
    """The files ``data`` names (a file, a folder of logs or pool shards, or a glob) and whether they are pool
    shards; a folder's or glob's files in step order (``2.jsonl`` before ``10.jsonl``)."""
    text = str(data)
    path = Path(data)
    if any(c in text for c in "*?[") and not path.exists():
        files = [Path(f) for f in glob.glob(text) if Path(f).is_file()]
        if not files:
            raise ValueError(f"data: the pattern {text!r} matches no file")
    elif path.is_dir():
        shards = sorted(path.glob("shard-*.parquet"))
        if shards:
            return shards, True
        files = [f for f in path.iterdir() if f.is_file() and f.suffix.lower() in _FAMILIES
                 and not f.name.startswith(".")]
        if not files:
            raise ValueError(f"data: {path} is a folder without pool shards (shard-*.parquet) or log files "
                             "(.jsonl, .parquet, .csv)")
    elif path.is_file():
        return [path], False
    else:
        raise ValueError(f"data: no such file or pool folder {text!r} (nor a folder of log files)")
    families = sorted({_FAMILIES.get(f.suffix.lower(), f.suffix.lower() or "no suffix") for f in files})
    if len(families) > 1:
        raise ValueError(f"data: {text} holds files of several types ({', '.join(families)}); pass a pattern for "
                         f"one of them, e.g. '{path if path.is_dir() else path.parent}/*.jsonl'")
    return sorted(files, key=lambda f: (_step_of(f) is None, _step_of(f) or 0, f.name)), False


def _sniff_sep(path: Path, sep: str | None) -> str:
    if sep is not None:
        return sep
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        header = f.readline()
    counts = {s: header.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _bad_json_line(path: Path) -> str | None:
    """The first line of a JSON lines file that is not one JSON object, as a message with its line number."""
    with path.open(encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                return f"data: {path.name} line {line_no}: not valid JSON ({exc.msg})"
            if not isinstance(row, dict):
                return f"data: {path.name} line {line_no}: expected one JSON object per line (JSON lines)"
    return None


def _header(path: Path, spec: ReadSpec) -> tuple[list[str], str | None]:
    """The file's column names (and the CSV separator) without reading its rows."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names), None
    if suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"data: {path.name} line {line_no}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise ValueError(f"data: {path.name} line {line_no}: expected one JSON object per line "
                                         "(JSON lines)")
                    return list(row), None
        raise ValueError(f"data: {path.name} is empty")
    if suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" and spec.sep is None else _sniff_sep(path, spec.sep)
        try:
            cols = pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig", skipinitialspace=True).columns
        except pd.errors.EmptyDataError:
            raise ValueError(f"data: {path.name} is empty") from None
        return [str(c).strip() for c in cols], sep
    raise ValueError(f"data: {path.name} is not a .csv, .tsv, .parquet, .jsonl or .json file, nor a pool folder, "
                     "a folder of such files or a pattern of them")


def _json_schema(path: Path, columns: list[str], rows: int = 1000):
    """pyarrow's schema for ``columns``: each column's type from its first non-null value in the first ``rows``
    rows (bool, float64 for numbers, else string)."""
    import pyarrow as pa

    kinds: dict = {}
    with path.open(encoding="utf-8-sig") as f:
        for n, line in enumerate(f):
            if n >= rows or len(kinds) == len(columns):
                break
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    break  # the reader finds it and names its line
                if not isinstance(row, dict):
                    break
                for c in columns:
                    if c not in kinds and row.get(c) is not None:
                        v = row[c]
                        kinds[c] = pa.bool_() if isinstance(v, bool) else (
                            pa.float64() if isinstance(v, (int, float)) else pa.string())
    return pa.schema([(c, kinds.get(c, pa.string())) for c in columns])


def _read_columns(path: Path, columns: list[str], sep: str | None, progress: bool) -> pd.DataFrame:
    """Only ``columns`` of the file, with a progress bar over its bytes for large JSON lines files."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path, columns=columns)
        if suffix in (".csv", ".tsv", ".txt"):
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", skipinitialspace=True,
                                usecols=lambda c: str(c).strip() in columns)
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame
        return _read_json_lines(path, columns, progress)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(text if text.startswith("data: ") else f"data: {path.name}: cannot read it ({text})") \
            from None


def _read_json_lines(path: Path, columns: list[str], progress: bool) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj
    from tqdm import tqdm

    schema = _json_schema(path, columns)
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    size = path.stat().st_size
    block = 16 << 20
    try:
        reader = pj.open_json(path, parse_options=options, read_options=pj.ReadOptions(block_size=block))
        batches = []
        with tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {path.name}",
                  disable=not progress or size < (64 << 20)) as bar:
            for batch in reader:
                batches.append(batch)
                bar.update(min(block, size - bar.n))
    except pa.ArrowInvalid:  # a bad line (pyarrow names a byte offset or a block's row), or a value of another type
        bad = _bad_json_line(path)
        if bad:
            raise ValueError(bad) from None
        with path.open(encoding="utf-8-sig") as f:  # mixed types: row by row, the needed fields only
            rows = [json.loads(line) for line in f if line.strip()]
        return pd.DataFrame({c: [r.get(c) for r in rows] for c in columns})
    return pa.Table.from_batches(batches, schema=schema).to_pandas()


def _explain_columns(columns: list[str], name: str, csv: bool) -> None:
    """Refuse, saying what the file looks like, files that are neither counts nor a log: a wandb export (metrics
    per step, averaged over the batch) and a CSV whose first row holds data instead of column names."""
    lower = [c.lower() for c in columns]
    wandb = (any(c.endswith(("__min", "__max")) for c in lower)
             or len({"_step", "_runtime", "_timestamp"} & set(lower)) >= 2
             # run.history(keys=[...]): "_step" and namespaced metrics only ("train/reward"), never a prompt id
             or ("_step" in lower and len(columns) >= 2 and all("/" in c for c, lc in zip(columns, lower)
                                                                 if lc != "_step"))
             or ("step" in lower and sum(" - " in c for c in columns) >= 1 and len(columns) >= 2
                 and all(" - " in c for c, lc in zip(columns, lower) if lc != "step")))
    if wandb:
        shown = ", ".join(repr(c) for c in columns[:4]) + (", ..." if len(columns) > 4 else "")
        raise ValueError(f"data: {name} looks like a wandb export (columns {shown}): it holds metrics per training "
                         "step, averaged over the batch, not the outcome of each rollout. advise needs a rollout "
                         "log (a prompt id and a reward per rollout: verl's trainer.rollout_data_dir dumps, TRL's "
                         "completions table) or per-prompt counts (prompt_id, successes, trials)")

    def number(text):
        try:
            float(text)
            return True
        except ValueError:
            return False

    if csv and columns and sum(number(c) for c in columns) * 2 >= len(columns):
        shown = ", ".join(columns[:6]) + (", ..." if len(columns) > 6 else "")
        raise ValueError(f"data: {name} seems to have no header row (its first row, read as column names, is "
                         f"{shown}); add a header line: prompt_id,successes,trials for per-prompt counts, or "
                         "prompt_id,reward for a rollout log (one row per rollout)")


# ---------------------------------------------------------------------------------------------- columns

def _pick(columns: list[str], role: str, given: str | None, path_name: str, required: bool) -> str | None:
    lower = {c.lower(): c for c in columns}
    if given is not None:
        if given in columns:
            return given
        if given.lower() in lower:
            return lower[given.lower()]
        raise ValueError(f"{role}: no column {given!r} in {path_name} (found {', '.join(columns) or 'none'})")
    for alias in ALIASES[role]:
        if alias in lower:
            return lower[alias]
    if role == "reward":  # TRL logs one column per reward function: accuracy_reward, format_reward, ...
        named = [c for c in columns if c.lower().endswith("_reward") or c.lower().startswith("rewards/")]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValueError(f"reward: {path_name} has several reward columns ({', '.join(named)}); name the one "
                             f"that means success with the reward column option (--reward-col)")
    if required:
        raise ValueError(f"{role}: {path_name} has no {role} column; looked for {', '.join(ALIASES[role])} "
                         f"(found {', '.join(columns) or 'none'}); name it with --{role}-col")
    return None


def _kind(columns: list[str], spec: ReadSpec) -> str:
    if spec.kind != "auto":
        return spec.kind
    if spec.successes or spec.trials:
        return "counts"
    if spec.reward:
        return "log"
    lower = {c.lower() for c in columns}
    has_s = any(a in lower for a in ALIASES["successes"])
    has_t = any(a in lower for a in ALIASES["trials"])
    has_reward = any(a in lower for a in ALIASES["reward"] if a not in ALIASES["successes"]) or any(
        c.endswith("_reward") for c in lower)
    if has_s != has_t and not has_reward:
        missing = "trials" if has_s else "successes"
        raise ValueError(f"{missing}: a counts file needs a successes and a trials column; there is no {missing} "
                         f"column (looked for {', '.join(ALIASES[missing])}; found {', '.join(columns)}); name it "
                         f"with --{missing}-col")
    return "counts" if has_s and has_t else "log"


def _show(value) -> str:
    """``repr`` of a cell as a user wrote it: numpy scalars as Python ones (``1.5``, not ``np.float64(1.5)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _integers(values: pd.Series, role: str, name: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | (num != num.round()) | (num < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{role}: {name} column {values.name!r} must hold non-negative integers; row {i + 1} has "
                         f"{_show(values.iloc[i])}")
    return num.to_numpy().astype(np.int64)


# ------------------------------------------------------------------------------------------------ reads

def read_data(data, spec: ReadSpec | None = None, *, progress: bool = False) -> DataRead:
    """Read pass counts or a rollout log (a file, a folder, a glob or a DataFrame) as the module docstring says.

    Parameters
    ----------
    data : path-like or DataFrame
        A counts or log file (.csv, .tsv, .parquet, .jsonl, .json); a rollout pool folder (``shard-*.parquet``);
        a folder of log files of one type, such as verl's ``trainer.rollout_data_dir`` (``1.jsonl, 2.jsonl,
        ...``), or a glob of them (``'dumps/*.jsonl'``), read as one log; or a DataFrame with such columns.
        Files read together are taken in the order of the number that ends their names; without a step column,
        that number is the step (the read summary says which).
    spec : ReadSpec, optional
        The kind, column names, success threshold, separator and the handling of missing rewards (default: all
        found automatically; missing rewards refused).
    progress : bool
        Show a progress bar while reading large files.

    Returns
    -------
    DataRead
    """
    spec = spec or ReadSpec()
    files, pool = [], False
    if isinstance(data, pd.DataFrame):
        frame, source, sep = data.rename(columns=lambda c: str(c).strip()), "DataFrame", None
        columns = list(frame.columns)
        name = "the DataFrame"
    else:
        source = str(data)
        files, pool = _resolve(data)
        name = files[0].name if len(files) == 1 else Path(source).name
        if pool:
            frame, sep = pd.concat([pd.read_parquet(s) for s in files], ignore_index=True), None
            columns = list(frame.columns)
        else:
            columns, sep = _header(files[0], spec)
            frame = None
    if not columns:
        raise ValueError(f"data: {source} has no columns")
    if frame is None and not any(getattr(spec, r) for r in ("id", "successes", "trials", "reward")):
        _explain_columns(columns, files[0].name, sep is not None)
    kind = _kind(columns, spec)
    if kind == "counts":
        roles = {"id": _pick(columns, "id", spec.id, name, False),
                 "successes": _pick(columns, "successes", spec.successes, name, True),
                 "trials": _pick(columns, "trials", spec.trials, name, True)}
    else:
        roles = {"id": _pick(columns, "id", spec.id, name, True),
                 "reward": _pick(columns, "reward", spec.reward, name, True)}
        for role in ("step", "answer", "tokens", "reference") + (("completion", "prompt") if frame is not None
                                                                   else ()):
            col = _pick(columns, role, getattr(spec, role), name, False)
            if col is not None and col not in roles.values():
                roles[role] = col
    roles = {k: v for k, v in roles.items() if v is not None}
    info = {"source": source, "kind": kind, "columns": roles, "sep": sep, "threshold": spec.threshold, "notes": []}
    if frame is None:
        frame = _read_files(files, sorted(set(roles.values())), spec, progress)
        if len(files) > 1:
            info["files"] = [f.name for f in files]
            info["rows_per_file"] = frame.attrs["rows_per_file"]
            file_steps = [_step_of(f) for f in files]
            if kind == "log" and "step" not in roles and None not in file_steps \
                    and len(set(file_steps)) == len(files):
                frame["step"] = np.repeat(file_steps, frame.attrs["rows_per_file"])
                roles["step"], info["step_from"] = "step", "the file names"
    if frame.empty:
        raise ValueError(f"data: {name} has no rows")
    info["rows"] = int(len(frame))
    info.setdefault("step_from", f"the `{roles['step']}` column" if "step" in roles else None)
    if kind == "counts":
        return _counts(frame, roles, name, info)
    return _log(frame, roles, name, info, spec)


def _read_files(files: list[Path], columns: list[str], spec: ReadSpec, progress: bool) -> pd.DataFrame:
    """``columns`` of every file, concatenated in order; each file must have them (``attrs["rows_per_file"]``)."""
    frames = []
    for f in files:
        found, sep = _header(f, spec)
        missing = [c for c in columns if c not in found]
        if missing:
            raise ValueError(f"data: {f.name} lacks the column(s) {', '.join(map(repr, missing))} (found "
                             f"{', '.join(found) or 'none'}); every file read together needs the same columns")
        frames.append(_read_columns(f, columns, sep, progress))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame.attrs["rows_per_file"] = [len(f) for f in frames]
    return frame


def _counts(frame, roles, name, info) -> DataRead:
    s = _integers(frame[roles["successes"]], "successes", name)
    t = _integers(frame[roles["trials"]], "trials", name)
    if np.any(t < 1):
        i = int(np.flatnonzero(t < 1)[0])
        raise ValueError(f"trials: every prompt needs at least one rollout; row {i + 1} of {name} has {int(t[i])}")
    if np.any(s > t):
        i = int(np.flatnonzero(s > t)[0])
        raise ValueError(f"successes: row {i + 1} of {name} has more successes than trials ({int(s[i])} > "
                         f"{int(t[i])})")
    ids = frame[roles["id"]].astype(str).to_numpy() if "id" in roles else np.arange(len(frame)).astype(str)
    counts = pd.DataFrame({"prompt_id": ids, "successes": s, "trials": t})
    dup = counts.prompt_id.duplicated(keep=False)
    info["duplicates"] = int(counts.prompt_id[dup].nunique())
    info["duplicate_rows"] = int(dup.sum())
    if info["duplicates"]:
        counts = counts.groupby("prompt_id", sort=False, as_index=False)[["successes", "trials"]].sum()
    if "id" not in roles:
        info["notes"].append("No prompt id column: prompts are numbered by row.")
    return _finish(DataRead(counts, None, info))


def _row(i: int, name: str, info: dict) -> str:
    """Where row ``i`` (0-based) of the data came from: "row 7", or "row 7 of 12.jsonl" in a folder or glob."""
    sizes = info.get("rows_per_file")
    if sizes and len(sizes) > 1:
        f = int(np.searchsorted(np.cumsum(sizes), i, side="right"))
        return f"row {i - int(np.sum(sizes[:f])) + 1} of {info['files'][f]}"
    return f"row {i + 1}"


def _rewards(frame: pd.DataFrame, roles: dict, name: str, info: dict, spec: ReadSpec):
    """(the rows kept, their rewards as floats): missing rewards refused or, with ``drop_missing``, dropped and
    counted; a value that is not a finite number refused with its row."""
    raw = frame[roles["reward"]]
    missing = raw.isna().to_numpy()
    reward = pd.to_numeric(raw.replace({True: 1.0, False: 0.0}) if raw.dtype == object else raw,
                           errors="coerce").to_numpy(float)
    bad = ~missing & ~np.isfinite(reward)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"reward: column {roles['reward']!r} of {name} must hold a finite number in every row; "
                         f"{_row(i, name, info)} has {_show(raw.iloc[i])}")
    if missing.any():
        m, i = int(missing.sum()), int(np.flatnonzero(missing)[0])
        if not spec.drop_missing:
            raise ValueError(f"reward: {m:,} of {len(raw):,} rows of {name} have no reward (NaN, None or null; the "
                             f"first is {_row(i, name, info)}); pass --drop-missing (drop_missing=True) to drop those "
                             "rollouts, or fill them in (e.g. 0 for a failed grading)")
        ids_before = frame[roles["id"]].nunique()
        frame, reward = frame[~missing].reset_index(drop=True), reward[~missing]
        info["missing_rewards"] = m
        info["prompts_dropped"] = int(ids_before - frame[roles["id"]].nunique())
        if frame.empty:
            raise ValueError(f"reward: every row of {name} has no reward (NaN, None or null)")
    return frame, reward


def _log(frame, roles, name, info, spec: ReadSpec) -> DataRead:
    threshold = spec.threshold
    frame, reward = _rewards(frame, roles, name, info, spec)
    source = frame[roles["id"]].astype(str)
    codes, uniques = pd.factorize(source)
    out = pd.DataFrame({"task_id": codes.astype(np.int64), "source_id": source.to_numpy()})
    out["sample_index"] = out.groupby("task_id").cumcount().astype(np.int64)
    out["reward"] = reward
    for role in _TEXT:
        col = roles.get(role)
        out[role] = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) \
            if col else None
    out["completion_tokens"] = pd.to_numeric(frame[roles["tokens"]], errors="coerce") if "tokens" in roles else np.nan
    out["step"] = pd.to_numeric(frame[roles["step"]], errors="coerce") if "step" in roles else np.nan
    if "step" in roles and out.step.isna().any():
        info["notes"].append(f"The step column {roles['step']!r} has {int(out.step.isna().sum()):,} rows without a "
                             "number: steps are ignored (each prompt's rollouts are pooled).")
        out["step"] = np.nan
    success = reward > threshold
    trials = np.bincount(codes, minlength=len(uniques))
    counts = pd.DataFrame({"prompt_id": np.asarray(uniques, dtype=str),
                           "successes": np.bincount(codes, weights=success, minlength=len(uniques)).astype(np.int64),
                           "trials": trials.astype(np.int64)})
    values = np.unique(reward)
    info["reward_values"] = values.tolist() if values.size <= 8 else None
    if values.size > 2 or not set(values.tolist()) <= {0.0, 1.0}:
        info["notes"].append(f"Rewards are not 0/1 ({values.size} distinct values, {values.min():g} to "
                             f"{values.max():g}); check that reward > {threshold:g} means solved, or set the "
                             f"threshold (--threshold).")
    groups = None
    if "step" in roles and out.step.notna().any():
        info["steps"] = int(out.step.nunique())
        if info["steps"] > 1:
            groups = (out.assign(success=success).groupby(["step", "task_id"], sort=True)
                      .success.agg(successes="sum", trials="count").reset_index())
            groups.insert(0, "prompt_id", np.asarray(uniques, dtype=str)[groups.task_id.to_numpy()])
            groups = groups.drop(columns="task_id").astype({"successes": np.int64, "trials": np.int64})
            if np.all(groups.step == groups.step.round()):
                groups["step"] = groups.step.astype(np.int64)
            info["group_range"] = (int(groups.trials.min()), int(groups.trials.max()))
    if np.all(trials == 1):
        raise ValueError(f"data: {name} was read as a rollout log with one rollout per prompt (id column "
                         f"{roles['id']!r}, reward column {roles['reward']!r}): pass rates need several rollouts per "
                         f"prompt. If the file holds pass counts, name their columns (--successes-col, --trials-col)")
    return _finish(DataRead(counts, out[LOG_COLUMNS], info, groups))


def _finish(read: DataRead) -> DataRead:
    t = read.counts.trials.to_numpy()
    read.info["prompts"] = int(len(read.counts))
    read.info["trials_range"] = (int(t.min()), int(t.max()))
    return read


def read_rollouts(data, spec: ReadSpec | None = None, *, progress: bool = False) -> pd.DataFrame:
    """A rollout log (or pool folder) as a table with ``LOG_COLUMNS``; refuses a counts file with a clear error.

    Parameters
    ----------
    data : path-like or DataFrame
        As for ``read_data``.
    spec : ReadSpec, optional
        Columns, threshold and separator; its kind is taken as "log" unless set.
    progress : bool, default False
        Show a progress bar while reading large files.

    Returns
    -------
    pandas.DataFrame
        ``DataRead.rollouts``.

    Raises
    ------
    ValueError
        "data: a rollout log is needed here ..." for per-prompt counts; the reading errors of ``read_data``.
    """
    read = read_data(data, replace(spec or ReadSpec(), kind="log") if (spec is None or spec.kind == "auto") else
                     spec, progress=progress)
    if read.rollouts is None:
        raise ValueError("data: a rollout log is needed here (one row per rollout), not per-prompt counts")
    return read.rollouts
