"""Rollout pools: writing with resume, reading pools and practitioners' logs, bad input (no model needed)."""

import json

import numpy as np
import pandas as pd
import pytest

from simalloc.live.engines import Completion
from simalloc.live.pool import read_pool, sample_pool
from simalloc.live.tasks import Task
from simalloc.logs import LOG_COLUMNS, read_data


def pool_counts(path):
    return read_data(path).counts[["successes", "trials"]]


class CountingEngine:
    """Answers task i's k-th sample with 'Answer: <k mod (i + 2)>'; counts the prompts it was asked."""

    def __init__(self, fail_after=None):
        self.asked, self.fail_after = 0, fail_after

    def generate(self, prompts, n):
        out = []
        for prompt, k in zip(prompts, n):
            if self.fail_after is not None and self.asked >= self.fail_after:
                raise RuntimeError("engine died")
            self.asked += 1
            i = int(prompt.split()[2])
            out.append([Completion(f"Answer: {j % (i + 2)}", [1] * (j + 1), [-1.0] * (j + 1)) for j in range(k)])
        return out


TASKS = [Task(f"What is {i} minus {i}?", "0") for i in range(7)]


def test_pool_schema_rewards_and_counts(tmp_path):
    out = sample_pool(CountingEngine(), TASKS, 4, tmp_path / "pool", shard_tasks=3, engine_name="stub", progress=False)
    assert sorted(p.name for p in out.glob("shard-*.parquet")) == [f"shard-0000{i}.parquet" for i in range(3)]
    pool = read_pool(out)
    assert list(pool.columns) == LOG_COLUMNS and (pool.reference == "0").all()
    assert len(pool) == 7 * 4 and pool.task_id.nunique() == 7
    # task i answers j mod (i + 2) for j = 0..3: the answer 0 (correct) appears at j = 0 and j = i + 2 < 4
    counts = pool_counts(out)
    np.testing.assert_array_equal(counts.successes.to_numpy(), [2, 2, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(counts.trials.to_numpy(), [4] * 7)
    np.testing.assert_array_equal(pool.completion_tokens.to_numpy()[:4], [1, 2, 3, 4])


def test_killed_sampling_resumes_without_redoing_shards(tmp_path):
    with pytest.raises(RuntimeError, match="engine died"):
        sample_pool(CountingEngine(fail_after=4), TASKS, 2, tmp_path, shard_tasks=3, progress=False)
    assert len(list(tmp_path.glob("shard-*.parquet"))) == 1  # the first shard finished, the second did not
    engine = CountingEngine()
    sample_pool(engine, TASKS, 2, tmp_path, shard_tasks=3, progress=False)
    assert engine.asked == 4  # only the tasks of the two missing shards
    full = sample_pool(CountingEngine(), TASKS, 2, tmp_path / "fresh", shard_tasks=3, progress=False)
    pd.testing.assert_frame_equal(read_pool(tmp_path), read_pool(full))
    with pytest.raises(ValueError, match="other settings"):
        sample_pool(CountingEngine(), TASKS, 3, tmp_path, shard_tasks=3, progress=False)


def test_practitioner_logs_in_three_formats(tmp_path):
    rows = [{"Prompt_ID": "a", "score": 1.0, "response_length": 12}, {"Prompt_ID": "b", "score": 0.0},
            {"Prompt_ID": "a", "score": 0.0, "response_length": 7}]
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    csv = tmp_path / "log.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    parquet = tmp_path / "log.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    for path in (jsonl, csv, parquet):
        pool = read_pool(path)
        assert pool.task_id.tolist() == [0, 1, 0] and pool.sample_index.tolist() == [0, 0, 1]
        assert pool.source_id.tolist() == ["a", "b", "a"] and pool.reward.tolist() == [1.0, 0.0, 0.0]
        assert pool_counts(path).to_dict("list") == {"successes": [1, 0], "trials": [2, 1]}


@pytest.mark.parametrize(
    "content,name,word",
    [
        ('{"id": 1}\n', "norew.jsonl", "no reward column; looked for reward"),
        ('{"reward": 1}\n', "noid.jsonl", "no id column"),
        ('{"id": 1, "reward": "yes"}\n', "badrew.jsonl", "must hold a finite number in every row; row 1 has 'yes'"),
        ("", "empty.csv", "empty.csv"),
        ("x", "log.xml", "nor a pool folder"),
    ],
)
def test_bad_logs_are_named(content, name, word, tmp_path):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=word):
        read_pool(path)


def test_bad_sampling_arguments(tmp_path):
    for kwargs, word in (
        ({"samples": 0}, "samples"),
        ({"samples": True}, "samples"),
        ({"shard_tasks": 0}, "shard_tasks"),
    ):
        with pytest.raises(ValueError, match=word):
            sample_pool(CountingEngine(), TASKS, **{"samples": 2, **kwargs}, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="no such file or pool folder"):
        read_pool(tmp_path / "missing")
