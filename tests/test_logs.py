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


# ------------------------------------------------------------------- issue 38: the logs trainers actually write

def _verl_step(path, step, prompts=6, group=4, seed=0, with_step=True):
    """One verl ``trainer.rollout_data_dir`` file: input, output, gts, score, step (``_dump_generations``)."""
    rng = np.random.default_rng(seed + step)
    rows = [{"input": f"question {i}", "output": "... 7", "gts": "7", "score": float(rng.random() < 0.5),
             **({"step": step} if with_step else {})} for i in range(prompts) for _ in range(group)]
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)


@pytest.mark.parametrize("with_step", [True, False])
def test_a_verl_dump_folder_is_one_log_with_its_steps(tmp_path, with_step):
    """Acceptance: a folder of 1.jsonl, 2.jsonl is read as one log with steps 1 and 2; the step comes from the
    step column (verl writes one) or, without it, from the file names, and the summary says which."""
    for step in (1, 2):
        _verl_step(tmp_path / f"{step}.jsonl", step, with_step=with_step)
    read = read_data(tmp_path)
    assert sorted(read.rollouts.step.unique()) == [1, 2] and read.info["steps"] == 2
    assert len(read.rollouts) == 48 and read.counts.trials.eq(8).all()
    assert read.groups.trials.eq(4).all() and len(read.groups) == 12
    text = read.summary()
    assert "2 files in" in text and "(1.jsonl to 2.jsonl) as one **log**" in text
    assert ("step from the `step` column" if with_step else "step from the file names") in text
    assert "4 rollouts per prompt per step" in text


def test_globs_of_csv_and_parquet_and_files_in_number_order(tmp_path):
    """A glob reads its files in the order of the number ending their names (2 before 10), CSV or parquet."""
    for step in (10, 2):
        frame = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(5) for _ in range(4)],
                              "reward": [float((i + step) % 2) for i in range(20)]})
        frame.to_csv(tmp_path / f"rollouts_{step}.csv", index=False)
        frame.to_parquet(tmp_path / f"rollouts_{step}.parquet", index=False)
    for suffix in ("csv", "parquet"):
        read = read_data(str(tmp_path / f"rollouts_*.{suffix}"))
        assert read.info["files"] == [f"rollouts_2.{suffix}", f"rollouts_10.{suffix}"]
        assert read.rollouts.step.tolist() == [2.0] * 20 + [10.0] * 20
    with pytest.raises(ValueError, match=r"data: .* holds files of several types \(csv, parquet\)"):
        read_data(tmp_path)
    with pytest.raises(ValueError, match="data: the pattern .* matches no file"):
        read_data(str(tmp_path / "*.jsonl"))


def test_files_read_together_need_the_same_columns(tmp_path):
    _verl_step(tmp_path / "1.jsonl", 1)
    pd.DataFrame({"input": ["a", "a"], "output": ["x", "y"]}).to_json(tmp_path / "2.jsonl", orient="records",
                                                                      lines=True)
    with pytest.raises(ValueError, match=r"data: 2.jsonl lacks the column\(s\) 'gts', 'score', 'step' \(found "
                                         r"input, output\)"):
        read_data(tmp_path)


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_missing_rewards_are_refused_naming_the_flag_or_dropped_and_counted(tmp_path, suffix):
    """Acceptance: a log with 3 null rewards (TRL's None) is refused with a message naming --drop-missing (it
    showed np.float64(nan)); with drop_missing the 3 rows go and the read summary says so."""
    rows = [{"prompt_id": f"p{i}", "reward": float(j % 2)} for i in range(10) for j in range(4)]
    for k in (5, 17, 30):
        rows[k]["reward"] = None
    path = tmp_path / f"log.{suffix}"
    frame = pd.DataFrame(rows)
    frame.to_json(path, orient="records", lines=True) if suffix == "jsonl" else frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"reward: 3 of 40 rows of log\.\w+ have no reward .*first is row 6\); "
                                         r"pass --drop-missing") as err:
        read_data(path)
    assert "np." not in str(err.value)
    read = read_data(path, ReadSpec(drop_missing=True))
    assert len(read.rollouts) == 37 and read.counts.trials.sum() == 37 and read.info["missing_rewards"] == 3
    assert "3 rollouts had no reward (NaN, None or null) and were dropped (--drop-missing)." in read.summary()
    (tmp_path / "dump").mkdir()
    for step in (1, 2):  # in a folder, the message names the file and its row
        frame.assign(reward=frame.reward if step == 2 else 1.0).to_csv(tmp_path / "dump" / f"{step}.csv",
                                                                       index=False)
    with pytest.raises(ValueError, match=r"3 of 80 rows of dump have no reward .*first is row 6 of 2.csv\)"):
        read_data(tmp_path / "dump")


def test_drop_missing_on_the_command_line(tmp_path, capsys):
    """The refusal is one line naming the flag and writes nothing; the flag reaches the reader (the read itself
    is tested above; a full CLI run costs ~20 s on a loaded 2-core machine)."""
    from simalloc.cli import _read_spec, build_parser

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(_log_rows(rng, 30, 8))
    frame.loc[[3, 50, 100], "reward"] = np.nan
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["advise", str(path), "--budget", "120", "--resamples", "20", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pass --drop-missing" in err and not out.exists()
    for command in ("advise", "replay"):
        ns = build_parser().parse_args([command, str(path), "--drop-missing"] + (["--budget", "1"] if command ==
                                                                                   "advise" else []))
        assert _read_spec(ns).drop_missing
        assert not _read_spec(build_parser().parse_args([command, str(path), "--budget", "1"][:4 if command ==
                                                                                                 "advise" else 2]))\
            .drop_missing


def test_wandb_exports_and_headerless_csvs_are_described(tmp_path):
    """Both were told 'name it with --id-col', which helps neither: say what the file looks like instead."""
    wandb = tmp_path / "wandb_export.csv"
    pd.DataFrame({"Step": [1, 2], "run-a - train/accuracy_reward": [0.2, 0.3],
                  "run-a - train/accuracy_reward__MIN": [0.1, 0.2],
                  "run-a - train/accuracy_reward__MAX": [0.3, 0.4]}).to_csv(wandb, index=False)
    with pytest.raises(ValueError, match="data: wandb_export.csv looks like a wandb export .* not the outcome of "
                                         "each rollout"):
        read_data(wandb)
    history = tmp_path / "history.csv"
    pd.DataFrame({"_step": [0, 1], "_runtime": [1.0, 2.0], "_timestamp": [1e9, 1e9 + 1],
                  "train/reward": [0.1, 0.2]}).to_csv(history, index=False)
    with pytest.raises(ValueError, match="looks like a wandb export"):
        read_data(history)
    keys = tmp_path / "history_keys.csv"  # run.history(keys=[...]): _step and the metrics asked for, nothing else
    pd.DataFrame({"_step": [0, 1], "train/reward": [0.1, 0.2], "train/kl": [0.0, 0.1]}).to_csv(keys, index=False)
    with pytest.raises(ValueError, match="looks like a wandb export"):
        read_data(keys)
    bare = tmp_path / "counts.csv"
    bare.write_text("q0,3,8\nq1,5,8\nq2,0,8\n")
    with pytest.raises(ValueError, match=r"data: counts.csv seems to have no header row .* is q0, 3, 8\); add a "
                                         "header line: prompt_id,successes,trials"):
        read_data(bare)
    with pytest.raises(ValueError, match="seems to have no header row"):
        (tmp_path / "log.csv").write_text("q0,1.0\nq0,0.0\n")
        read_data(tmp_path / "log.csv")


def test_messages_show_values_as_written_not_numpy_reprs(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("prompt_id,successes,trials\na,1,8\nb,2.5,8\n")
    with pytest.raises(ValueError, match=r"row 2 has 2\.5$"):
        read_data(path)
    path.write_text("prompt_id,reward\na,1\na,inf\n")
    with pytest.raises(ValueError, match=r"reward: .* row 2 has inf$"):
        read_data(path)


def test_json_lines_errors_give_the_line_number(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"prompt_id": "a", "reward": 1}\n{"prompt_id": "a", "reward": 0}\n\n{"prompt_id": "b", '
                    '"reward": }\n')
    with pytest.raises(ValueError, match=r"^data: log.jsonl line 4: not valid JSON"):
        read_data(path)
    path.write_text('{"prompt_id": "a", "reward": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"^data: log.jsonl line 2: expected one JSON object per line"):
        read_data(path)


def test_a_null_first_reward_does_not_make_the_column_text(tmp_path):
    """The JSON schema is taken from each column's first non-null value (a leading null once typed the column
    as text)."""
    rows = [{"prompt_id": "a", "reward": None}] + [{"prompt_id": f"p{i % 3}", "reward": float(i % 2)}
                                                   for i in range(12)]
    pd.DataFrame(rows).to_json(tmp_path / "log.jsonl", orient="records", lines=True)
    read = read_data(tmp_path / "log.jsonl", ReadSpec(drop_missing=True))
    assert read.rollouts.reward.dtype == float and read.info["missing_rewards"] == 1
    assert read.info["prompts_dropped"] == 1 and "1 prompt left without a rollout" in read.summary()
