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
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a/table.parquet"), pd.read_parquet(tmp_path / "b/table.parquet")
    )


@pytest.mark.parametrize(
    "args,word",
    [
        (["run", "no_such_study"], "unknown study"),
        (["run", "alloc_demo", "--set", "n_reps=many"], "n_reps"),
        (["run", "alloc_demo", "--set", "bogus=1"], "bogus"),
        (["run", "alloc_demo", "--set", "k0=40"], "k0"),
        (["run", "alloc_demo", "--set", "allocators=hora,nope"], "nope"),
        (["run", "alloc_demo", "--set", "allocators="], "allocators: needs at least one value"),
        (["run", "budget_sweep", "--set", "lr=nan"], "lr: must be a finite number"),
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


def test_bench_exits_non_zero_when_a_row_misses_its_target(monkeypatch, capsys):
    """A regression must fail the command (and any CI step running it), not only print MISSED; a row that is only
    reported, or a quick run's n/a, never fails it."""
    import simalloc_benchmarks.allocation as suite

    def rows(ok):
        return lambda quick: [{"name": "hora_1e6", "n": 10, "seconds": 0.02, "baseline": 0.01, "ratio": 2.0,
                               "target": "<= 5 ms", "ok": ok, "note": "fake"},
                              {"name": "other", "n": 1, "seconds": 1.0, "baseline": 1.0, "ratio": 1.0,
                               "target": "reported", "ok": False, "note": "fake"}]

    monkeypatch.setattr(suite, "run", rows(False))
    assert main(["bench", "--suite", "allocation"]) == 1
    assert "1 row(s) missed their target: hora_1e6" in capsys.readouterr().err
    for ok in (True, None):
        monkeypatch.setattr(suite, "run", rows(ok))
        assert main(["bench", "--suite", "allocation"]) == 0


@pytest.mark.parametrize(
    "make_out,word",
    [
        (lambda d: d / "file.txt", "is a file"),
        (lambda d: "", "empty path"),
        (lambda d: "/proc/simalloc_nope", "cannot write"),
    ],
)
def test_bad_out_folders_fail_in_one_line(make_out, word, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["run", "alloc_demo", "--set", "n_reps=2", "--out", str(make_out(tmp_path)), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert word in err and "Traceback" not in err


@pytest.mark.parametrize(
    "cmd", [["bench", "--quick", "--json"], ["check", "--only", "tea_uniform_expected_max", "--json"]]
)
def test_unwritable_json_is_refused_before_any_work(cmd, capsys):
    import time

    start = time.perf_counter()
    assert main([*cmd, "/proc/simalloc_nope/x.json"]) == 2
    assert "json: cannot write" in capsys.readouterr().err
    assert time.perf_counter() - start < 5  # refused up front, not after the benchmarks or checks ran


def test_resume_guards(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "alloc_demo", "--set", "n_reps=2", "--out", str(out), "--no-progress"]) == 0
    # another study into the same folder: the error names the study that is there
    assert main(["run", "dora_gap", "--quick", "--out", str(out), "--no-progress"]) == 2
    assert "holds a run of study 'alloc_demo', not 'dora_gap'" in capsys.readouterr().err
    # a deleted args.json: old shards under new settings must not be reused silently
    sharded = tmp_path / "sharded"
    assert (
        main(
            [
                "run",
                "ttrl",
                "--quick",
                "--set",
                "steps=1",
                "--set",
                "rules=fixed",
                "--set",
                "presets=gpqa-like",
                "--out",
                str(sharded),
                "--no-progress",
            ]
        )
        == 0
    )
    (sharded / "args.json").unlink()
    assert (
        main(
            [
                "run",
                "ttrl",
                "--quick",
                "--set",
                "steps=1",
                "--set",
                "rules=fixed",
                "--set",
                "presets=gpqa-like",
                "--set",
                "seed=1",
                "--out",
                str(sharded),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "no args.json" in capsys.readouterr().err


def test_internal_bugs_keep_their_traceback(monkeypatch):
    import simalloc.cli as cli

    def broken(ns):
        return None + 1  # an internal TypeError, not bad input

    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["list"].set_defaults(fn=broken)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    with pytest.raises(TypeError):
        main(["list"])


def test_run_help_lists_a_studys_keys(capsys):
    assert main(["run", "stopping_pareto", "--help"]) == 0
    out = capsys.readouterr().out
    assert "n_atoms" in out and "quick: 6000" in out
