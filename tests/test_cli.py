"""The command line as a user runs it: list, run (the demo study), bench."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from simalloc.cli import main


def _simalloc(*args):
    return subprocess.run([sys.executable, "-m", "simalloc.cli", *args], capture_output=True, text=True, timeout=600)


def test_list_prints_every_registry(capsys):
    from simalloc import ALLOCATORS, OBJECTIVES

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in [*ALLOCATORS, *OBJECTIVES, "alloc_demo"]:
        assert name in out


def test_demo_study_end_to_end(tmp_path):
    proc = _simalloc("run", "alloc_demo", "--set", "n_reps=30", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    for name in ["table.parquet", "table.csv", "budget_share.parquet", "summary.csv", "figure.png", "meta.json"]:
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["args"]["n_reps"] == 30 and meta["seed"] == 0 and meta["simalloc_version"]
    table = pd.read_parquet(tmp_path / "table.parquet")
    assert len(table) == 30 * 4
    means = table.groupby("allocator")[["hits", "hits_s0"]].mean()
    # the qualitative picture of HORA: plug-in never reaches s = 0 prompts, hora reaches them more than uniform
    assert means.loc["plugin", "hits_s0"] == 0
    assert means.loc["hora", "hits_s0"] > means.loc["uniform", "hits_s0"]
    assert means.loc["hora", "hits"] > means.loc["uniform", "hits"]
    share = pd.read_parquet(tmp_path / "budget_share.parquet")
    by = share.groupby(["allocator", "s"])[["budget_share", "prompt_share"]].mean()
    assert by.loc[("hora", 0), "budget_share"] > 2 * by.loc[("hora", 0), "prompt_share"]
    assert by.loc[("hard_first", 0), "budget_share"] == pytest.approx(1.0)


def test_same_seed_same_table(tmp_path):
    for d in ("a", "b"):
        assert main(["run", "alloc_demo", "--set", "n_reps=5", "--out", str(tmp_path / d), "--no-progress"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a/table.parquet"), pd.read_parquet(tmp_path / "b/table.parquet"))


@pytest.mark.parametrize(
    "args,word",
    [
        (["run", "no_such_study"], "unknown study"),
        (["run", "alloc_demo", "--set", "n_reps=many"], "n_reps"),
        (["run", "alloc_demo", "--set", "bogus=1"], "bogus"),
        (["run", "alloc_demo", "--set", "k0=40"], "k0"),
        (["run", "alloc_demo", "--set", "allocators=hora,nope"], "nope"),
    ],
)
def test_bad_run_arguments_fail_clearly_before_work(args, word, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert word in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bench_quick_json(tmp_path):
    path = tmp_path / "bench.json"
    proc = _simalloc("bench", "--quick", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(path.read_text())
    assert {r["name"].split("_")[0] for r in rows} >= {"hora", "threshold"}
    for r in rows:
        assert {"name", "n", "seconds", "baseline", "ratio"} <= set(r)
        assert r["seconds"] > 0 and r["baseline"] > 0
        assert r["ratio"] == pytest.approx(r["baseline"] / r["seconds"])
