"""Reading practitioners' files strictly: counts vs logs, columns by name, duplicates, separators, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simalloc.cli import main
from simalloc.logs import ReadSpec, read_data


def _log_rows(rng, n_prompts=30, group=8, reward=lambda ok: float(ok)):
    rows = []
    for i in range(n_prompts):
        p = rng.beta(1, 1)
        for _ in range(group):
            ok = rng.random() < p
            rows.append({"prompt_id": f"p{i}", "reward": reward(ok), "answer": "7" if ok else "3"})
    return rows


def test_correct_total_csv_is_read_as_counts_not_as_a_log(tmp_path):
    """prompt_id,correct,total was once read as a log with one rollout per prompt."""
    path = tmp_path / "c.csv"
    pd.DataFrame({"prompt_id": ["a", "b", "c"], "correct": [1, 0, 4], "total": [8, 8, 8]}).to_csv(path, index=False)
    read = read_data(path)
    assert read.info["kind"] == "counts" and read.counts.successes.tolist() == [1, 0, 4]
    assert "as **counts**" in read.summary() and "successes = `correct`" in read.summary()


def test_uid_keys_counts_and_duplicates_are_summed(tmp_path):
    path = tmp_path / "c.csv"
    ids = [f"u{i}" for i in range(500)] + [f"u{i}" for i in range(50)]
    pd.DataFrame({"uid": ids, "successes": 1, "trials": 4}).to_csv(path, index=False)
    read = read_data(path)
    assert len(read.counts) == 500 and read.counts.prompt_id.iloc[0] == "u0"
    assert read.counts.set_index("prompt_id").loc["u3", "trials"] == 8
    assert read.info["duplicates"] == 50 and "50 prompt ids appeared on more than one row" in read.summary()


def test_semicolon_and_tab_separated_files(tmp_path):
    frame = pd.DataFrame({"prompt_id": ["a", "b"], "successes": [1, 2], "trials": [4, 4]})
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    frame.to_csv(tmp_path / "tab.tsv", sep="\t", index=False)
    assert read_data(tmp_path / "semi.csv").counts.successes.tolist() == [1, 2]
    assert read_data(tmp_path / "tab.tsv").counts.trials.tolist() == [4, 4]
    assert "separator: ';'" in read_data(tmp_path / "semi.csv").summary()


def test_verl_dump_columns(tmp_path):
    """verl's rollout dump: input, output, gts, score, step; scores in {-1, 0, 0.5, 1} read with the threshold."""
    rng = np.random.default_rng(0)
    rows = []
    for step in range(3):
        for i in range(10):
            for _ in range(4):
                rows.append({"input": f"question {i}", "output": "... 7", "gts": "7", "step": step,
                             "score": float(rng.choice([-1.0, 0.0, 0.5, 1.0]))})
    path = tmp_path / "0.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    read = read_data(path)
    assert read.info["kind"] == "log" and read.info["columns"]["id"] == "input"
    assert read.info["columns"]["reward"] == "score" and read.info["steps"] == 3
    assert read.counts.trials.eq(12).all()
    assert read.rollouts.reference.iloc[0] == "7"
    text = read.summary()
    assert "reward > 0.5 (values seen: -1, 0, 0.5, 1)" in text and "not 0/1" in text
    strict = read_data(path, ReadSpec(threshold=0.0))
    assert strict.counts.successes.sum() > read.counts.successes.sum()


def test_trl_reward_function_columns(tmp_path):
    base = {"step": 1, "prompt": "q", "completion": "c"}
    one = pd.DataFrame([{**base, "prompt": f"q{i % 5}", "accuracy_reward": float(i % 3 == 0)} for i in range(40)])
    one.to_csv(tmp_path / "one.csv", index=False)
    assert read_data(tmp_path / "one.csv").info["columns"]["reward"] == "accuracy_reward"
    two = one.assign(format_reward=1.0)
    two.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(ValueError, match="several reward columns .*accuracy_reward, format_reward"):
        read_data(tmp_path / "two.csv")
    assert read_data(tmp_path / "two.csv", ReadSpec(reward="accuracy_reward")).counts.trials.eq(8).all()


def test_named_columns_and_kinds(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"q": ["a", "a", "b", "b"], "ok": [1, 0, 1, 1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="id: .* no id column"):
        read_data(path)
    read = read_data(path, ReadSpec(id="q", reward="ok"))
    assert read.counts.successes.tolist() == [1, 2]
    with pytest.raises(ValueError, match="reward: no column 'nope'"):
        read_data(path, ReadSpec(id="q", reward="nope"))
    with pytest.raises(ValueError, match="kind: must be auto, counts or log"):
        ReadSpec(kind="pairs")
    with pytest.raises(ValueError, match="columns: unknown role"):
        ReadSpec.of({"prompt": "q", "rewardz": "ok"})


def test_a_log_with_one_rollout_per_prompt_is_refused(tmp_path):
    path = tmp_path / "flat.csv"
    pd.DataFrame({"prompt_id": ["a", "b", "c"], "reward": [1, 0, 1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="one rollout per prompt.*--successes-col"):
        read_data(path)


def test_a_dataframe_of_rollouts(tmp_path):
    rows = _log_rows(np.random.default_rng(3))
    read = read_data(pd.DataFrame(rows))
    assert read.info["kind"] == "log" and len(read.counts) == 30 and read.counts.trials.eq(8).all()


def test_only_needed_columns_are_read(tmp_path):
    """A JSON lines log with a bulky completion column: the reader asks pyarrow for the needed fields only."""
    rows = [{"prompt_id": f"p{i // 4}", "reward": float(i % 2), "completion": "x" * 2000, "extra": i}
            for i in range(400)]
    path = tmp_path / "big.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    read = read_data(path)
    assert set(read.info["columns"]) == {"id", "reward"} and read.rollouts.completion.isna().all()


def test_advise_cli_with_named_columns_and_threshold(tmp_path, capsys):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(_log_rows(rng, 40, 8, reward=lambda ok: 2.0 if ok else -1.0)).rename(
        columns={"prompt_id": "question_hash", "reward": "r"})
    path = tmp_path / "log.csv"
    frame.to_csv(path, sep=";", index=False)
    out = tmp_path / "out"
    assert main(["advise", str(path), "--budget", "160", "--resamples", "20", "--id-col", "question_hash",
                 "--reward-col", "r", "--threshold", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "as **log**" in printed and "reward > 0" in printed
    report = (out / "report.md").read_text()
    assert report.index("## How your file was read") < report.index("## Recommendation")
