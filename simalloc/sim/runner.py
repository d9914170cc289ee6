"""The study runner: a study is one module in ``studies/`` with a typed ``Args`` and ``run(args, out)``.

``run_study`` resolves the study, builds its Args (defaults, ``--quick`` preset, ``key=value``
overrides, each checked against the dataclass field type), picks the output folder
``results/<study>/<run_id>`` (run_id from the args, so the same config lands in the same place),
runs it and writes ``meta.json`` (args, version, seed, timing).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import pkgutil
import platform
import time
from pathlib import Path

from .results import write_json

__all__ = ["available_studies", "load_study", "make_args", "run_study"]


def available_studies() -> list[str]:
    import studies

    return sorted(m.name for m in pkgutil.iter_modules(studies.__path__) if not m.name.startswith("_"))


def load_study(name: str):
    names = available_studies()
    if name not in names:
        raise ValueError(f"study: unknown study {name!r}; valid: {', '.join(names)}")
    return importlib.import_module(f"studies.{name}")


def _convert(field: dataclasses.Field, text: str):
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if kind is tuple:
            items = [t for t in text.split(",") if t]
            inner = type(default[0]) if default else str
            return tuple(inner(t) for t in items)
        return kind(text)
    except ValueError:
        raise ValueError(f"{field.name}: cannot read {text!r} as {kind.__name__}") from None


def make_args(study, quick: bool = False, overrides: dict[str, str] | None = None):
    """The study's Args: defaults, then the quick preset, then ``overrides`` (field name -> text)."""
    args = study.Args.quick() if quick else study.Args()
    fields = {f.name: f for f in dataclasses.fields(args)}
    changes = {}
    for key, text in (overrides or {}).items():
        if key not in fields:
            raise ValueError(f"{key}: not an argument of this study; valid: {', '.join(sorted(fields))}")
        changes[key] = _convert(fields[key], text)
    args = dataclasses.replace(args, **changes)
    if hasattr(args, "validate"):
        args.validate()
    return args


def run_id(args) -> str:
    blob = json.dumps(dataclasses.asdict(args), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_study(name: str, *, quick: bool = False, out: str | Path | None = None, overrides=None, progress=True) -> Path:
    """Run study ``name``; returns its output folder (table.parquet, meta.json, figures)."""
    from .. import __version__

    study = load_study(name)
    args = make_args(study, quick, overrides)
    out_dir = Path(out) if out is not None else Path("results") / name / run_id(args)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    study.run(args, out_dir, progress=progress)
    meta = {
        "study": name,
        "args": dataclasses.asdict(args),
        "seed": getattr(args, "seed", None),
        "quick": quick,
        "simalloc_version": __version__,
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_json(meta, out_dir / "meta.json")
    return out_dir
