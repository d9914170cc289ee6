"""Reading a practitioner's data: per-prompt pass counts or a per-rollout log, strictly, and saying how.

Two kinds of file, never confused silently:

- **counts**: one row per prompt with a successes column and a trials column (``prompt_id, successes, trials``;
  also ``uid, correct, total`` and the other spellings in ``ALIASES``). Rows that repeat a prompt id are
  aggregated (successes and trials summed) and the report says how many.
- **log**: one row per rollout with a prompt id and a reward (TRL's completion tables, verl's rollout dumps
  ``input, output, gts, score, step``, a rollout pool). A rollout succeeds when ``reward > threshold`` (0.5 by
  default, so 0/1 and True/False rewards read as they should; the values seen are reported).

``kind="auto"`` takes a file as counts when it has both a successes-like and a trials-like column, else as a
log; every column can be named instead (``ReadSpec``). CSV separators are sniffed from the header (comma,
semicolon, tab) unless given. Only the columns needed are read (parquet column selection, CSV ``usecols``,
JSON lines through pyarrow with an explicit schema), so a 1.2M-rollout log reads in seconds within a few
hundred MB. ``DataRead.summary`` is the "how your file was read" paragraph every report starts with.
"""

from __future__ import annotations

import json
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
        roles = {f.name for f in fields(cls)} - {"kind", "threshold", "sep"}
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
    """

    counts: pd.DataFrame
    rollouts: pd.DataFrame | None
    info: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One paragraph: how the file was read."""
        i = self.info
        cols = ", ".join(f"{role} = `{col}`" for role, col in i["columns"].items())
        t_lo, t_hi = i["trials_range"]
        trials = f"{t_lo} rollouts per prompt" if t_lo == t_hi else (
            f"{t_lo} to {t_hi} rollouts per prompt (each prompt is planned with its own pilot size)")
        parts = [f"Read `{i['source']}` as **{i['kind']}**: {i['rows']:,} rows, {i['prompts']:,} prompts, {trials}; "
                 f"columns {cols}."]
        if i["kind"] == "log":
            values = i.get("reward_values")
            seen = f" (values seen: {', '.join(f'{v:g}' for v in values)})" if values else ""
            parts.append(f"A rollout counts as a success when reward > {i['threshold']:g}{seen}.")
        if i.get("duplicates"):
            parts.append(f"{i['duplicates']:,} prompt ids appeared on more than one row; their counts were summed "
                         f"({i['duplicate_rows']:,} rows merged).")
        if i.get("sep") and i["sep"] != ",":
            parts.append(f"CSV separator: {i['sep']!r}.")
        parts += i.get("notes", [])
        return " ".join(parts)


# ------------------------------------------------------------------------------------------------ files

def _sniff_sep(path: Path, sep: str | None) -> str:
    if sep is not None:
        return sep
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        header = f.readline()
    counts = {s: header.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


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
                        raise ValueError(f"{path.name} line {line_no}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise ValueError(f"{path.name}: expected one JSON object per line (JSON lines)")
                    return list(row), None
        raise ValueError(f"{path.name}: the file is empty")
    if suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" and spec.sep is None else _sniff_sep(path, spec.sep)
        try:
            cols = pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig", skipinitialspace=True).columns
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path.name}: the file is empty") from None
        return [str(c).strip() for c in cols], sep
    raise ValueError(f"data: {path.name} is not a .csv, .tsv, .parquet, .jsonl or .json file, nor a pool folder")


def _json_type(value):
    import pyarrow as pa

    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, (int, float)):
        return pa.float64()
    return pa.string()


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
        raise ValueError(f"{path.name}: cannot read it ({str(exc).splitlines()[0]})") from None


def _read_json_lines(path: Path, columns: list[str], progress: bool) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj
    from tqdm import tqdm

    with path.open(encoding="utf-8-sig") as f:
        first = next(json.loads(line) for line in f if line.strip())
    schema = pa.schema([(c, _json_type(first.get(c))) for c in columns])
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
    except pa.ArrowInvalid as exc:  # a value of another type than the first row's: fall back to pandas
        if "JSON" not in str(exc) and "convert" not in str(exc).lower():
            raise ValueError(f"{path.name}: cannot read it ({exc})") from None
        return pd.read_json(path, lines=True)[columns]
    return pa.Table.from_batches(batches, schema=schema).to_pandas()


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


def _integers(values: pd.Series, role: str, name: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | (num != num.round()) | (num < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{role}: {name} column {values.name!r} must hold non-negative integers; row {i + 1} has "
                         f"{values.iloc[i]!r}")
    return num.to_numpy().astype(np.int64)


# ------------------------------------------------------------------------------------------------ reads

def read_data(data, spec: ReadSpec | None = None, *, progress: bool = False) -> DataRead:
    """Read pass counts or a rollout log (a file, a pool folder, or a DataFrame) as the module docstring says.

    Parameters
    ----------
    data : path-like or DataFrame
        A counts or log file (.csv, .tsv, .parquet, .jsonl, .json), a rollout pool folder (``shard-*.parquet``),
        or a DataFrame with such columns.
    spec : ReadSpec, optional
        The kind, column names, success threshold and separator (default: all found automatically).
    progress : bool
        Show a progress bar while reading large files.

    Returns
    -------
    DataRead
    """
    spec = spec or ReadSpec()
    if isinstance(data, pd.DataFrame):
        frame, source, sep = data.rename(columns=lambda c: str(c).strip()), "DataFrame", None
        columns = list(frame.columns)
    else:
        path = Path(data)
        source = str(data)
        if path.is_dir():
            shards = sorted(path.glob("shard-*.parquet"))
            if not shards:
                raise ValueError(f"data: {path} is a folder without pool shards (shard-*.parquet)")
            frame, sep = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True), None
            columns = list(frame.columns)
        elif path.is_file():
            columns, sep = _header(path, spec)
            frame = None
        else:
            raise ValueError(f"data: no such file or pool folder {source!r}")
    if not columns:
        raise ValueError(f"data: {source} has no columns")
    kind = _kind(columns, spec)
    name = Path(source).name if source != "DataFrame" else "the DataFrame"
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
    if frame is None:
        frame = _read_columns(Path(data), sorted(set(roles.values())), sep, progress)
    if frame.empty:
        raise ValueError(f"data: {name} has no rows")
    info = {"source": source, "kind": kind, "rows": int(len(frame)), "columns": roles, "sep": sep,
            "threshold": spec.threshold, "notes": []}
    if kind == "counts":
        return _counts(frame, roles, name, info)
    return _log(frame, roles, name, info, spec.threshold)


def _counts(frame, roles, name, info) -> DataRead:
    s = _integers(frame[roles["successes"]], "successes", name)
    t = _integers(frame[roles["trials"]], "trials", name)
    if np.any(t < 1):
        i = int(np.flatnonzero(t < 1)[0])
        raise ValueError(f"trials: every prompt needs at least one rollout; row {i + 1} of {name} has {t[i]}")
    if np.any(s > t):
        i = int(np.flatnonzero(s > t)[0])
        raise ValueError(f"successes: row {i + 1} of {name} has more successes than trials ({s[i]} > {t[i]})")
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


def _log(frame, roles, name, info, threshold) -> DataRead:
    raw = frame[roles["reward"]]
    reward = pd.to_numeric(raw.replace({True: 1.0, False: 0.0}) if raw.dtype == object else raw,
                           errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(reward)):
        i = int(np.flatnonzero(~np.isfinite(reward))[0])
        raise ValueError(f"reward: column {roles['reward']!r} of {name} must hold a finite number in every row; "
                         f"row {i + 1} has {raw.iloc[i]!r}")
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
    if "step" in roles:
        info["steps"] = int(out.step.nunique())
    if np.all(trials == 1):
        raise ValueError(f"data: {name} was read as a rollout log with one rollout per prompt (id column "
                         f"{roles['id']!r}, reward column {roles['reward']!r}): pass rates need several rollouts per "
                         f"prompt. If the file holds pass counts, name their columns (--successes-col, --trials-col)")
    return _finish(DataRead(counts, out[LOG_COLUMNS], info))


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
