"""Result files: tidy tables and metadata, written atomically (a crash never leaves half a file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "write_table", "write_json", "read_table"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same directory, so the rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600; a result file gets the permissions of a normally created one (0666 less umask),
        # so teammates on a shared cluster can read it
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_table(df: pd.DataFrame, out_dir: Path, name: str = "table", csv: bool = True) -> Path:
    """``<out_dir>/<name>.parquet`` (and ``.csv``), atomically."""
    out_dir = Path(out_dir)
    path = atomic_write(out_dir / f"{name}.parquet", lambda p: df.to_parquet(p, index=False))
    if csv:
        atomic_write(out_dir / f"{name}.csv", lambda p: df.to_csv(p, index=False))
    return path


def write_json(obj, path: Path) -> Path:
    return atomic_write(Path(path), lambda p: p.write_text(json.dumps(obj, indent=2, default=str) + "\n"))


def read_table(out_dir: Path, name: str = "table") -> pd.DataFrame:
    return pd.read_parquet(Path(out_dir) / f"{name}.parquet")
