"""The study runner: a study is one module in ``studies/`` with a typed ``Args``.

A study either has ``run(args, out, progress)`` (small, single process) or is sharded:
``shards(args) -> list[dict]`` (each with a unique "id"), ``run_shard(args, shard) -> dict[name, DataFrame]``
and ``finalize(args, tables, out)``, or is staged: ``stages(args) -> list[Stage]``, run in order, each stage's
shards (``Stage.shards(out)``, which may read what earlier stages wrote) run by the study's ``run_shard`` and its
``Stage.finalize(tables, out, progress)`` done before the next stage's shards are even listed; a stage's marker
(``out/stages/<name>.json``: when it finished, the sha256 of every file it declared) is written last, and a
re-run skips the stages that have one (a resumed protocol never redoes a finished stage).

Shards run in-process, on a local process pool (``workers``) or on Ray (``backend="ray"``). Every finished shard is
written atomically to ``out/shards/`` before the next is awaited, and a re-run into the same folder skips them, so a
killed run resumes. Tables are concatenated in shard order and every shard's randomness depends only on (args,
shard): the final table is identical whatever the backend, the number of workers, or the interruptions.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import importlib
import json
import math
import multiprocessing
import numbers
import os
import pkgutil
import platform
import time
import warnings
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..io import check_out_dir, write_json, write_table
from ..validation import shown

__all__ = ["available_studies", "load_study", "make_args", "run_study", "summary_view", "Stage", "stage_record",
           "BACKENDS", "SMOKE_NOTE"]

BACKENDS = ("local", "ray")
#: what every ``--quick`` run prints and records (meta.json, ``SMOKE_RUN.md`` and the head of any report it writes)
SMOKE_NOTE = "smoke run: not evidence"
#: why, said beside it
SMOKE_WHY = ("--quick runs the study's small preset to check that it runs end to end; its numbers (few "
             "replicates, short training) are not results and credit nothing")
#: the metrics the end-of-run summary shows first, where a study's summary.csv has them
KEY_METRICS = ("frontier_gain@256", "pass@1", "pass@256")
#: the columns that name what a summary row is about (one of them makes a table "long format")
_ROW_NAMES = ("arm", "allocator", "rule", "method", "estimator")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a staged study (module docstring).

    Parameters
    ----------
    name : str
        The stage's name (its marker ``out/stages/<name>.json``; unique within the study).
    shards : callable
        ``shards(out) -> list[dict]``: the stage's shards (unique "id"s across the whole study), listed only once
        every earlier stage has finished; the study's ``run_shard(args, shard)`` runs each.
    finalize : callable
        ``finalize(tables, out, progress)``: writes the stage's outputs from its shards' concatenated tables.
    outputs : tuple of str
        The files ``finalize`` writes (relative to ``out``), hashed into the marker.
    """

    name: str
    shards: object
    finalize: object
    outputs: tuple = ()


def stage_record(out_dir, name: str) -> dict | None:
    """A finished stage's marker (``{"stage", "finished_at", "finished_unix", "started_unix", "seconds", "shards",
    "sha256"}``: ``started_unix`` when its shards were listed, ``sha256`` of every declared output), or
    None if the stage has not finished in ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        The study's output folder.
    name : str
        The stage.

    Returns
    -------
    dict or None
    """
    path = Path(out_dir) / "stages" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_stages(name, study, args, out_dir, workers, backend, progress) -> list[dict]:
    """Run a staged study's stages in order (module docstring); returns every stage's marker. ``study`` needs only
    ``stages(args)`` and ``run_shard(args, shard)``, so a caller may run a subset of a study's stages in another
    folder (``sim_vs_lab.refit``); ``name`` is the study whose ``run_shard`` worker processes load."""
    records = []
    seen = set()
    for stage in study.stages(args):
        if stage.name in seen:
            raise RuntimeError(f"study {name}: stage names are not unique ({stage.name!r})")
        seen.add(stage.name)
        done = stage_record(out_dir, stage.name)
        if done is not None:
            records.append(done)
            continue
        start, started = time.perf_counter(), time.time()
        specs = stage.shards(out_dir)
        ids = [s["id"] for s in specs]
        if len(set(ids)) != len(ids):
            raise RuntimeError(f"study {name}: shard ids of stage {stage.name!r} are not unique")
        todo = [s for s in specs if not _shard_done(out_dir, s)]
        _run_shards(name, study, args, todo, out_dir, workers, backend, progress, len(specs) - len(todo), len(specs))
        parts = [_read_shard(out_dir, s) for s in specs]
        keys = list(dict.fromkeys(key for p in parts for key in p))
        tables = {key: pd.concat([p[key] for p in parts if key in p], ignore_index=True) for key in keys}
        stage.finalize(tables, out_dir, progress)
        missing = [f for f in stage.outputs if not (out_dir / f).is_file()]
        if missing:
            raise RuntimeError(f"study {name}: stage {stage.name!r} did not write {', '.join(missing)}")
        now = time.time()
        record = {"stage": stage.name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                  "finished_unix": now, "started_unix": started,
                  "seconds": round(time.perf_counter() - start, 3), "shards": len(specs),
                  "sha256": {f: _sha256(out_dir / f) for f in stage.outputs}}
        write_json(record, out_dir / "stages" / f"{stage.name}.json")  # last: the stage is done
        records.append(record)
    return records


def available_studies() -> list[str]:
    """The names of the installed studies (the modules of ``simalloc_studies``), sorted."""
    import simalloc_studies as studies

    return sorted(m.name for m in pkgutil.iter_modules(studies.__path__) if not m.name.startswith("_"))


def load_study(name: str):
    """The study module ``name`` (its ``Args``, ``shards``, ``run_shard`` and ``finalize``).

    Parameters
    ----------
    name : str
        One of ``available_studies()`` (``simalloc list`` prints them).

    Returns
    -------
    module

    Raises
    ------
    ValueError
        "study: unknown study ..." listing the studies.
    """
    names = available_studies()
    if name not in names:
        raise ValueError(f"study: unknown study {name!r}; valid: {', '.join(names)}")
    return importlib.import_module(f"simalloc_studies.{name}")


def _convert(field: dataclasses.Field, text: str):
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if kind is tuple:
            items = [t.strip() for t in text.split(",") if t.strip()]
            if not items:
                raise ValueError(f"{field.name}: needs at least one value (comma-separated), got {text!r}")
            inner = type(default[0]) if default else str
            values = tuple(inner(t) for t in items)
        else:
            values = (kind(text),)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError(f"{field.name}: must be a finite number, got {text!r}")
        return values if kind is tuple else values[0]
    except ValueError as exc:
        if str(exc).startswith(f"{field.name}:"):
            raise
        raise ValueError(f"{field.name}: cannot read {text!r} as {kind.__name__}") from None


#: --set keys renamed in 0.1.0 (old -> new); the old spelling still works, with a DeprecationWarning
RENAMED_KEYS = {"eps": "advantage_eps"}


def make_args(study, quick: bool = False, overrides: dict[str, str] | None = None):
    """The study's Args: defaults, then the quick preset, then ``overrides`` (field name -> text). A name that is
    not a field of the Args but of its ``train`` settings (training studies) sets that field of ``train``; a dotted
    name ``group.key`` sets field ``key`` of the Args' settings dataclass ``group`` (``peer_methods``' ``lab``:
    ``--set lab.task=narrowing``).

    Parameters
    ----------
    study : module
        A study (``load_study``).
    quick : bool, default False
        Start from the study's quick preset.
    overrides : dict of str to str, optional
        ``--set`` values as text, converted to each field's type; renamed keys (``RENAMED_KEYS``) still work
        with a DeprecationWarning.

    Returns
    -------
    Args
        Validated.

    Raises
    ------
    ValueError
        "<key>: not an argument of this study; valid: ..." or the field's own range error.
    """
    args = study.Args.quick() if quick else study.Args()
    fields = {f.name: f for f in dataclasses.fields(args)}
    train = getattr(args, "train", None)
    inner = {f.name: f for f in dataclasses.fields(train)} if dataclasses.is_dataclass(train) else {}
    changes, nested = {}, {}
    for key, text in (overrides or {}).items():
        outer, dot, name = key.partition(".")
        if dot:  # "lab.task=...": a field of a nested settings dataclass (peer_methods' ``lab``)
            value = getattr(args, outer, None) if outer in fields else None
            if not dataclasses.is_dataclass(value):
                dotted = sorted(n for n in fields if dataclasses.is_dataclass(getattr(args, n)))
                raise ValueError(f"{key}: {outer!r} is not a settings group of this study; dotted keys take "
                                 f"one of: {', '.join(dotted) or 'none'}")
            sub = {f.name: f for f in dataclasses.fields(value)}
            if name in RENAMED_KEYS and name not in sub:
                warnings.warn(f"{key}: renamed {outer}.{RENAMED_KEYS[name]} in 0.1.0; read as "
                              f"{outer}.{RENAMED_KEYS[name]}", DeprecationWarning, stacklevel=2)
                name = RENAMED_KEYS[name]
            if name not in sub:
                raise ValueError(f"{key}: not an argument of {outer}; valid: {', '.join(sorted(sub))}")
            try:
                nested.setdefault(outer, {})[name] = _convert(sub[name], text)
            except ValueError as exc:  # the field's own message, named by its group
                raise ValueError(f"{outer}.{exc}") from None
            continue
        if key in RENAMED_KEYS and key not in fields and key not in inner:
            warnings.warn(f"{key}: renamed {RENAMED_KEYS[key]} in 0.1.0; read as {RENAMED_KEYS[key]}",
                          DeprecationWarning, stacklevel=2)
            key = RENAMED_KEYS[key]
        if key in fields and key != "train":
            changes[key] = _convert(fields[key], text)
        elif key in inner:  # an undotted key of ``train`` is ``train.<key>``
            nested.setdefault("train", {})[key] = _convert(inner[key], text)
        else:
            valid = sorted((set(fields) - {"train"}) | set(inner))
            raise ValueError(f"{key}: not an argument of this study; valid: {', '.join(valid)}")
    for outer, sub_changes in nested.items():
        changes[outer] = dataclasses.replace(getattr(args, outer), **sub_changes)
    if "arms" in changes:
        _check_arms(changes["arms"])
    args = dataclasses.replace(args, **changes)
    if hasattr(args, "validate"):
        args.validate()
    return args


def _check_arms(arms) -> None:
    """Each ``--set arms=...`` entry parses as a training arm; the first that does not is named in a one-line
    "arms: ..." error (``parse_arm``'s own message, which lists the valid names)."""
    from ..train.arms import parse_arm

    for spec in arms:
        try:
            with warnings.catch_warnings():  # the study's validate parses again and warns there
                warnings.simplefilter("ignore")
                parse_arm(spec)
        except ValueError as exc:
            raise ValueError(f"arms: {exc}") from None


def run_id(args) -> str:
    blob = json.dumps(dataclasses.asdict(args), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _shard_path(out_dir: Path, shard: dict) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in str(shard["id"]))
    return out_dir / "shards" / safe


def _write_shard(out_dir: Path, shard: dict, tables: dict[str, pd.DataFrame]) -> None:
    base = _shard_path(out_dir, shard)
    for name, df in tables.items():
        write_table(df, base.parent, f"{base.name}.{name}", csv=False)
    write_json({"id": shard["id"], "tables": sorted(tables)}, base.parent / f"{base.name}.done.json")  # last


def _shard_done(out_dir: Path, shard: dict) -> bool:
    base = _shard_path(out_dir, shard)
    return (base.parent / f"{base.name}.done.json").is_file()


def _read_shard(out_dir: Path, shard: dict) -> dict[str, pd.DataFrame]:
    base = _shard_path(out_dir, shard)
    names = json.loads((base.parent / f"{base.name}.done.json").read_text())["tables"]
    return {name: pd.read_parquet(base.parent / f"{base.name}.{name}.parquet") for name in names}


def _shard_job(study_name: str, args, shard: dict) -> dict[str, pd.DataFrame]:
    return load_study(study_name).run_shard(args, shard)


def _run_shards(study_name, study, args, todo, out_dir, workers, backend, progress, n_done, n_total):
    bar = tqdm(total=n_total, initial=n_done, desc=study_name, disable=not progress, unit="shard")
    if backend == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS"), num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                     include_dashboard=False, log_to_driver=False)
        job = ray.remote(_shard_job)
        pending = {job.remote(study_name, args, shard): shard for shard in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                _write_shard(out_dir, pending.pop(ref), ray.get(ref))
                bar.update()
    elif workers <= 1:
        for shard in todo:
            _write_shard(out_dir, shard, study.run_shard(args, shard))
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(_shard_job, study_name, args, shard): shard for shard in todo}
            for fut in cf.as_completed(futures):
                _write_shard(out_dir, futures[fut], fut.result())
                bar.update()
    bar.close()


def run_study(name: str, *, quick: bool = False, out=None, overrides=None, progress=True, workers: int = 1,
              backend: str = "local") -> Path:
    """Run study ``name``; returns its output folder (tables, figures, meta.json).

    Re-running into the same ``out`` resumes: finished shards are kept. A folder that holds a run
    with other args is refused rather than mixed.

    Parameters
    ----------
    name : str
        The study.
    quick : bool, default False
        Use the quick preset.
    out : path-like, optional
        The output folder (default: results/<name>).
    overrides : dict of str to str, optional
        ``--set`` values.
    progress : bool, default True
        Show a progress bar and print the summary.
    workers : int, default 1
        Parallel worker processes; the table does not depend on it.
    backend : {"local", "ray"}, default "local"
        Where shards run.

    Returns
    -------
    Path
        The output folder.
    """
    from .. import __version__

    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; valid: {', '.join(BACKENDS)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: must be an integer >= 1, got {shown(workers)}")
    study = load_study(name)
    args = make_args(study, quick, overrides)
    out_dir = Path(out) if out is not None else Path("results") / name / run_id(args)
    check_out_dir(out_dir)
    args_blob = json.loads(json.dumps(dataclasses.asdict(args), default=str))
    record = {"study": name, "args": args_blob}
    args_file = out_dir / "args.json"
    if args_file.is_file():
        found = json.loads(args_file.read_text())
        found = found if "study" in found and "args" in found else {"study": "?", "args": found}
        if found["study"] != name:
            raise ValueError(f"out: {out_dir} holds a run of study {found['study']!r}, not {name!r}; choose another "
                             f"--out")
        if found["args"] != args_blob:
            raise ValueError(f"out: {out_dir} holds a run of {name} with different args; choose another --out")
    elif (out_dir / "shards").is_dir() and any((out_dir / "shards").iterdir()):
        raise ValueError(f"out: {out_dir} has finished shards but no args.json, so the settings that made them are "
                         "unknown; choose another --out (or delete the folder)")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(record, args_file)
    start = time.perf_counter()
    stages = None
    if hasattr(study, "stages"):
        stages = run_stages(name, study, args, out_dir, workers, backend, progress)
    elif hasattr(study, "shards"):
        specs = study.shards(args)
        ids = [s["id"] for s in specs]
        if len(set(ids)) != len(ids):
            raise RuntimeError(f"study {name}: shard ids are not unique")
        todo = [s for s in specs if not _shard_done(out_dir, s)]
        _run_shards(name, study, args, todo, out_dir, workers, backend, progress, len(specs) - len(todo), len(specs))
        parts = [_read_shard(out_dir, s) for s in specs]
        keys = list(dict.fromkeys(key for p in parts for key in p))  # shards may write different tables
        tables = {key: pd.concat([p[key] for p in parts if key in p], ignore_index=True) for key in keys}
        study.finalize(args, tables, out_dir, progress=progress)
    else:
        study.run(args, out_dir, progress=progress)
    meta = {
        "study": name,
        "args": args_blob,
        "seed": getattr(args, "seed", None),
        "quick": quick,
        "backend": backend,
        "workers": workers,
        "simalloc_version": __version__,
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - start, 3),
    }
    if stages is not None:
        meta["stages"] = stages
    if quick:
        meta["smoke_run"], meta["evidence"] = True, f"{SMOKE_NOTE}: {SMOKE_WHY}"
        _mark_smoke(out_dir, name)
    else:
        meta["smoke_run"] = False
    write_json(meta, out_dir / "meta.json")
    if progress:
        print(_closing_summary(out_dir, quick))
    return out_dir


def _mark_smoke(out_dir: Path, name: str) -> None:
    """Say "smoke run: not evidence" in the folder: ``SMOKE_RUN.md``, and the first line of every markdown
    report the study wrote (once)."""
    line = f"**{SMOKE_NOTE}** ({SMOKE_WHY}; `simalloc run {name}` without --quick for results)"
    (out_dir / "SMOKE_RUN.md").write_text(line + "\n")
    for report in out_dir.rglob("*.md"):
        if report.name == "SMOKE_RUN.md":
            continue
        text = report.read_text()
        if not text.startswith(f"**{SMOKE_NOTE}**"):
            report.write_text(f"{line}\n\n{text}")


def _closing_summary(out_dir: Path, quick: bool) -> str:
    """The lines printed at the end of a run: the smoke-run note (quick runs), and a compact view of the study's
    summary.csv (else of the first table it wrote as CSV)."""
    lines = [f"{SMOKE_NOTE.upper()} ({SMOKE_WHY})"] if quick else []
    tables = [out_dir / "summary.csv"] if (out_dir / "summary.csv").is_file() else sorted(out_dir.glob("*.csv"))
    if tables:
        lines.append(f"summary ({tables[0].name}{'; ' + SMOKE_NOTE if quick else ''}):")
        lines.append(summary_view(pd.read_csv(tables[0])))
    return "\n".join(lines)


def summary_view(table: pd.DataFrame, max_rows: int = 20, max_columns: int = 6) -> str:
    """A compact, printable view of a study's summary table (at most ``max_rows`` rows).

    A summary in long format (an arm-like column, ``_ROW_NAMES``; metric; value or mean; optionally se; any setting
    columns beside them) is shown one row per arm (and setting), one column per key metric (``KEY_METRICS`` where
    present, else the first three metrics), each cell "value +- se"; any other table shows its first rows and
    columns.

    Parameters
    ----------
    table : pandas.DataFrame
        The summary (``pd.read_csv(out / "summary.csv")``).
    max_rows : int, default 20
        Rows shown; the rest are counted in a last line.
    max_columns : int, default 6
        Columns shown of a table that is not in the long contract.

    Returns
    -------
    str
        At most ``max_rows`` + 2 lines.

    Examples
    --------
    >>> t = pd.DataFrame({"arm": ["uniform", "hora"], "metric": ["pass@1"] * 2, "value": [0.5, 0.52],
    ...                   "se": [0.01, 0.02]})
    >>> print(summary_view(t))
        arm           pass@1
    uniform 0.5000 +- 0.0100
       hora 0.5200 +- 0.0200
    """
    if table.empty:
        return "(empty)"
    cols = set(table.columns)
    value = next((c for c in ("value", "mean") if c in cols), None)
    if "metric" in cols and value is not None and cols & set(_ROW_NAMES):
        present = list(dict.fromkeys(table["metric"]))
        metrics = [m for m in KEY_METRICS if m in present] or present[:3]
        keys = [c for c in table.columns if c not in ("metric", value, "se", "sd", "n", "n_reps")]
        rows = table[table["metric"].isin(metrics)]
        se = rows["se"] if "se" in rows else pd.Series(float("nan"), index=rows.index)
        cells = [f"{v:.4f}" + (f" +- {s:.4f}" if pd.notna(s) else "") if isinstance(v, numbers.Real) else str(v)
                 for v, s in zip(rows[value], se)]
        wide = (rows.assign(cell=cells).pivot_table(index=keys, columns="metric", values="cell", aggfunc="first",
                                                    sort=False).reindex(columns=metrics).fillna("").reset_index())
        wide.columns.name = None
    else:
        wide = table.iloc[:, :max_columns]
    shown = wide.head(max_rows).to_string(index=False, float_format=lambda x: f"{x:.4g}")
    more = len(wide) - max_rows
    return shown + (f"\n... {more} more rows" if more > 0 else "")
