"""Every published claim simalloc reproduces, one executable file each; see README.md for the index."""

from ._harness import VERDICTS, Result, check_names, load_check, run_check, write_report

__all__ = ["VERDICTS", "Result", "check_names", "load_check", "run_check", "write_report"]
