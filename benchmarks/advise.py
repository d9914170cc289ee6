"""``advise`` on a large rollout log: wall time and peak memory against reading the same file with pandas.

The log is written here: ``n_prompts`` prompts x 16 rollouts as JSON lines with the columns a verl dump or a TRL
table carries (a prompt id, a step, the prompt and completion text, the reference, a 0/1 score and the extracted
answer; ~250 bytes a row, 1.2M rows ~ 300 MB). ``advise`` runs in a child process (so its peak resident memory is
its own) with the defaults of ``simalloc advise``; the baseline is ``pandas.read_json(lines=True)`` of the same
file in this process, what the first reader did before anything else. Target (the front-door issue's): a 1.2M-
rollout log in <= 60 s and <= 1 GB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .timing import row


def write_log(path: Path, n_prompts: int, group: int = 16, prompts_per_step: int = 1000, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 1.4, n_prompts)
    with path.open("w") as f:
        for i in range(n_prompts):
            ok = rng.random(group) < p[i]
            wrong = rng.integers(0, 99, group)
            for j in range(group):
                answer = "42" if ok[j] else str(wrong[j])
                f.write(json.dumps({"uid": f"prompt-{i}", "step": i // prompts_per_step,
                                    "input": f"Question {i}: what is x?", "output": "Let me think step by step. " * 4
                                    + f"The answer is {answer}", "gts": "42", "score": float(ok[j]),
                                    "answer": answer}) + "\n")
    return n_prompts * group


def run(quick: bool = False) -> list[dict]:
    import pandas as pd

    n_prompts = 7_500 if quick else 75_000
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "rollouts.jsonl"
        rows = write_log(log, n_prompts)
        script = ("import sys; from simalloc.advise import advise; "
                  "advise(sys.argv[1], 8000, rng=0).write(sys.argv[2])")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script, str(log), str(Path(tmp) / "out")], check=True,
                       capture_output=True)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        from simalloc.logs import read_data

        start = time.perf_counter()
        read_data(log)
        read = time.perf_counter() - start
        start = time.perf_counter()
        pd.read_json(log, lines=True)
        base = time.perf_counter() - start
    ok = None if quick else (seconds <= 60 and peak_mb <= 1024)
    return [row("read_large_log", rows, read, base, "reported", None,
                f"simalloc.logs.read_data (needed columns only) vs pandas.read_json of the whole {rows:,}-row log"),
            row("advise_large_log", rows, seconds, base, "<= 60 s and <= 1 GB for 1.2M rollouts", ok,
                f"end to end (read, fits, 200-resample bootstrap, pilot grid, voting replay, report) in a child "
                f"process, peak RSS {peak_mb:.0f} MB; ratio: pandas reading the file alone / advise end to end")]
