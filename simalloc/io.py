"""Result files: atomic writes, tidy tables and metadata, and output-path checks made before any work.

Every file a study, a replay, ``advise`` or the CLI writes goes through ``atomic_write``: a crash never leaves
half a file, and a resumed run sees either a finished file or none.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "write_table", "write_json", "read_table", "check_out_dir", "check_output_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same directory, so the rename is atomic).

    Parameters
    ----------
    path : path-like
        The file to create or replace; its folder is created if needed.
    write : callable
        ``write(tmp: Path)`` writes the content to ``tmp``.

    Returns
    -------
    Path
        ``path``.
    """
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
    """Write ``<out_dir>/<name>.parquet`` (and ``.csv``) atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its index is not written.
    out_dir : path-like
        The folder (created if needed).
    name : str, default "table"
        The file stem.
    csv : bool, default True
        Also write a CSV copy for readers without pyarrow.

    Returns
    -------
    Path
        The parquet file.
    """
    out_dir = Path(out_dir)
    path = atomic_write(out_dir / f"{name}.parquet", lambda p: df.to_parquet(p, index=False))
    if csv:
        atomic_write(out_dir / f"{name}.csv", lambda p: df.to_csv(p, index=False))
    return path


def write_json(obj, path: Path) -> Path:
    """Write ``obj`` as indented JSON atomically.

    Parameters
    ----------
    obj : object
        Anything ``json.dumps`` takes; values it cannot hold (paths, numpy scalars) are written as strings.
    path : path-like
        The file.

    Returns
    -------
    Path
        ``path``.
    """
    return atomic_write(Path(path), lambda p: p.write_text(json.dumps(obj, indent=2, default=str) + "\n"))


def read_table(out_dir: Path, name: str = "table") -> pd.DataFrame:
    """Read ``<out_dir>/<name>.parquet`` (as written by ``write_table``).

    Parameters
    ----------
    out_dir : path-like
        The folder.
    name : str, default "table"
        The file stem.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.read_parquet(Path(out_dir) / f"{name}.parquet")


def check_out_dir(out_dir: Path, name: str = "out") -> None:
    """Refuse an output folder that cannot work, before any work: empty, a file, or not writable (probed by
    creating the folder and a temporary file in it: permission bits alone do not tell, e.g. for root).

    Parameters
    ----------
    out_dir : path-like
        The folder; created if missing.
    name : str, default "out"
        The argument's name in the error message.

    Raises
    ------
    ValueError
        "<name>: ..." for an empty path, a file, or a folder that cannot be written.
    """
    out_dir = Path(out_dir)
    if str(out_dir) in ("", "."):
        raise ValueError(f"{name}: an output folder is needed (got an empty path)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{name}: {out_dir} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise ValueError(f"{name}: cannot write in {out_dir} ({exc.strerror or exc})") from None


def check_output_file(path, name: str = "json") -> Path:
    """Refuse an output file that cannot be written, before any work.

    Parameters
    ----------
    path : path-like
        The file to be written later.
    name : str, default "json"
        The argument's name in the error message.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    ValueError
        "<name>: ..." for an empty path, a folder, or a parent folder that cannot be written.
    """
    path = Path(path)
    if str(path) in ("", "."):
        raise ValueError(f"{name}: an output file path is needed")
    if path.is_dir():
        raise ValueError(f"{name}: {path} is a folder, not a file")
    check_out_dir(Path.cwd() if str(path.parent) in ("", ".") else path.parent, name)
    return path
