"""Every number the docs quote from a committed training study is recomputed from the files committed with it.

``docs/quoted_numbers.csv`` lists each quote: the page (``doc``) and its ``section`` (the heading line; the quote is
looked for between it and the next heading of the same or a higher level), optionally the table ``row`` (the
start of the markdown line, e.g. "| hora |"; the phrase must then be on that line), the committed file it comes
from (``source``: a ``replicates.csv``, from which the mean and its standard error over replicates are recomputed,
or a ``summary.csv``, read as written, for rows that are not per-replicate means such as compute multipliers with
censored pairs), the ``arm`` and ``metric``, ``where`` (further columns to match, "reading=sgd/rollout/shared";
empty when the study has none), the ``phrase`` as the page prints it ("0.81 +- 0.02": value, then se; or a value
alone) and ``credit`` ("check": the credit mark printed right after the phrase, "(+1)", "(-1)" or none, must be
the study's own ``credited@`` row for that metric). A quote passes when the phrase is where it is said to be and
each of its numbers equals the recomputed one rounded to the decimals the phrase shows (tolerance: half a unit of
the last printed digit, the rounding itself; the sources are committed files, so nothing depends on the CPU).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUOTES = ROOT / "docs" / "quoted_numbers.csv"
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")  # "1,920" reads 1920


def _rows():
    with QUOTES.open() as f:
        return list(csv.DictReader(f))


def recomputed(source: Path, arm: str, metric: str, where: str = "") -> tuple[float, float, int]:
    """(value, se, n) of ``arm``/``metric`` (and the ``where`` columns, "key=value;key=value") in a committed
    file: replicates.csv -> mean and sd/sqrt(n) of the finite values; summary.csv -> its row."""
    table = pd.read_csv(source)
    if "metric" not in table.columns and "simalloc_metric" in table.columns:  # own_terms.csv
        table = table.rename(columns={"simalloc_metric": "metric"})
    rows = table[(table.arm == arm) & (table.metric == metric)]
    for condition in filter(None, where.split(";")):
        key, value = condition.split("=", 1)
        rows = rows[rows[key].astype(str) == value]
    if rows.empty:
        raise KeyError(f"{source.relative_to(ROOT)} has no row {arm} / {metric} {where}")
    if "rep" in table.columns and rows.rep.duplicated().any():
        raise KeyError(f"{source.relative_to(ROOT)}: {arm} / {metric} has several rows per replicate; name `where`")
    if "rep" in table.columns:
        values = rows.value.astype(float)
        values = values[values.map(math.isfinite)]
        n = len(values)
        se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        return float(values.mean()), se, n
    row = rows.iloc[0]
    return float(row.value), float(row.se), int(row.n_reps)


def section_text(text: str, heading: str) -> str:
    """The lines from ``heading`` (a whole line of the page) to the next heading of the same or a higher level."""
    lines = text.splitlines()
    if heading not in lines:
        raise KeyError(f"no heading {heading!r}")
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("#") and len(lines[i]) - len(lines[i].lstrip("#")) <= level), len(lines))
    return "\n".join(lines[start:end])


def _credit_metric(metric: str) -> str:
    return "credited@" + (metric.split("@", 1)[1] if metric.startswith("frontier_gain@") else metric)


def check_quote(row: dict, root: Path = ROOT) -> list[str]:
    """The problems with one quote (an empty list when it holds)."""
    problems = []
    text = section_text((root / row["doc"]).read_text(), row["section"])
    if row.get("row"):
        text = "\n".join(line for line in text.splitlines() if line.startswith(row["row"]))
        if not text:
            return [f"{row['doc']}: no line starting {row['row']!r} under {row['section']!r}"]
    page = " ".join(text.split())
    phrase = " ".join(row["phrase"].split())
    if phrase not in page:
        problems.append(f"{row['doc']} ({row['section']} {row.get('row') or ''}) does not contain {phrase!r}")
    elif row.get("credit") == "check":
        after = page[page.index(phrase) + len(phrase):].lstrip(" *")
        shown = 1 if after.startswith("(+1)") else -1 if after.startswith("(-1)") else 0
        credited = recomputed(root / row["source"].replace("replicates.csv", "summary.csv"), row["arm"],
                              _credit_metric(row["metric"]), row.get("where") or "")[0]
        if shown != credited:
            problems.append(f"{row['arm']} {row['metric']}: the page marks credit {shown}, the study {credited:g}")
    value, se, _ = recomputed(root / row["source"], row["arm"], row["metric"], row.get("where") or "")
    for shown, actual in zip(NUMBER.findall(phrase), (value, se)):
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        if not abs(float(shown.replace(",", "")) - actual) <= 0.5 * 10 ** -decimals + 1e-12:
            problems.append(f"{row['arm']} {row['metric']}: the page says {shown}, {row['source']} gives {actual:.6g}")
    return problems


def _id(r: dict) -> str:
    return f"{r['source'].split('/')[1]}|{r['row'].strip('| ')}|{r['arm']}|{r['metric']}|{r['where']}"


@pytest.mark.parametrize("row", _rows(), ids=_id)
def test_every_quoted_number_is_recomputed_from_its_committed_source(row):
    assert check_quote(row) == []


def test_the_check_fails_on_a_changed_number_a_wrong_row_or_a_wrong_credit_mark(tmp_path):
    row = next(r for r in _rows() if "+-" in r["phrase"])
    numbers = NUMBER.findall(row["phrase"])
    bumped = f"{float(numbers[0]) + 0.1:.{len(numbers[0].split('.')[1])}f}"
    assert check_quote({**row, "phrase": row["phrase"].replace(numbers[0], bumped, 1)})  # not on the page, and wrong
    assert check_quote({**row, "arm": "uniform" if row["arm"] != "uniform" else "hora"})  # another arm's numbers
    marked = next(r for r in _rows() if r["credit"] == "check" and r["row"] and r["arm"] != "uniform")
    for name in (marked["doc"], marked["source"], marked["source"].replace("replicates.csv", "summary.csv")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    page = (ROOT / marked["doc"]).read_text()
    line = next(x for x in section_text(page, marked["section"]).splitlines() if x.startswith(marked["row"]))
    phrase = marked["phrase"]
    flipped = (line.replace(phrase + " (-1)", phrase + " (+1)") if phrase + " (-1)" in line
               else line.replace(phrase + " (+1)", phrase + " (-1)") if phrase + " (+1)" in line
               else line.replace(phrase, phrase + " (-1)", 1))
    assert flipped != line
    (tmp_path / marked["doc"]).write_text(page.replace(line, flipped))
    assert check_quote(marked, tmp_path)  # a wrong credit mark
    assert check_quote({**marked, "row": "| uniform (GRPO)"}, tmp_path)  # the number looked for on another row


def test_every_quoted_study_commits_its_replicates_beside_its_summary():
    """replicates.csv beside summary.csv, or (a sim_vs_lab run) each side's ``<side>_replicates.csv`` beside its
    ``<side>_summary.csv``."""
    for source in {Path(row["source"]) for row in _rows()}:
        folder, name = source.parent, source.name
        prefix = name.split("_")[0] + "_" if name.startswith(("lab_", "sim_")) else ""
        assert ((ROOT / folder / f"{prefix}replicates.csv").exists()
                and (ROOT / folder / f"{prefix}summary.csv").exists()), source
