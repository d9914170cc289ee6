"""A real 2-process TRL run on CPU (``torchrun --nproc_per_node 2``, torch.distributed with gloo): GRPOTrainer
trains 2 steps with planner-chosen group sizes while one group straddles the two processes
(``trl_two_process.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl", reason="the trl extra is not installed (make test-integrations)")
pytest.importorskip("accelerate")

from test_trl_adapter import WORDS, _tiny  # noqa: E402
from trl_two_process import echo_token  # noqa: E402

from simalloc.estimators import group_advantages  # noqa: E402

G, K0 = 4, 2


def test_two_processes_train_with_one_allocation_and_equal_planners(tmp_path):
    """Pilot + HORA, reinforce_ada_pos, the mopps selector, and pilot + HORA through ``vllm_generator`` on TRL's
    own server-mode ``VLLMGeneration.generate`` (a stand-in server; the processes send different numbers of
    prompts, which TRL's slicing does not allow for: each real row must get its own prompt's completion), each on
    2 processes: the same group sizes on both
    (process 0's allocation / the same rounds / process 0's selection), equal planner states after 2 steps; the
    global batch (process 0's rows, then process 1's) holds each prompt's n_i real rows, the rest placeholders with
    advantage 0; TRL's advantages over the real rows equal group_advantages of their rewards (eps 1e-4, Bessel
    std), the straddling group included."""
    model = _tiny(tmp_path / "tiny")
    script = Path(__file__).with_name("trl_two_process.py")
    # torchrun starts the 2 processes (RANK / WORLD_SIZE set); GRPOConfig(use_cpu=True) makes accelerate's state
    # multi-CPU with the gloo backend (accelerate launch --cpu runs a single process without an MPI setup)
    launcher = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, TRL_EXPERIMENTAL_SILENCE="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    run = subprocess.run([str(launcher), "--standalone", "--nproc_per_node", "2", str(script), model, str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    for mode in ("allocate", "rounds", "select", "vllm_server"):
        ranks = [json.loads((tmp_path / f"rank{r}-{mode}.json").read_text()) for r in range(2)]
        assert [r["world"] for r in ranks] == [2, 2] and [r["global_step"] for r in ranks] == [2, 2]
        assert ranks[0]["planner"] == ranks[1]["planner"] and ranks[0]["planner"]["step"] == 2, mode
        for s0, s1 in zip(ranks[0]["steps"], ranks[1]["steps"]):
            assert s0["sizes"] == s1["sizes"], mode
            sizes = np.array(s0["sizes"])
            if mode in ("allocate", "vllm_server"):
                assert sizes.size == 3 and sizes.sum() == 3 * (K0 + 1) and sizes.min() >= K0
            elif mode == "select":  # 2 of the 3 prompts rolled out, the budget of 2
                assert sorted(sizes.tolist())[0] == 0 and sizes.sum() == 2 * (K0 + 1)
            else:  # rounds of 2, kept at most keep = 4
                assert sizes.size == 3 and sizes.max() <= 4 and sizes.sum() >= 2
            prompts = s0["prompts"] + s1["prompts"]
            assert all(len(set(prompts[j * G:(j + 1) * G])) == 1 for j in range(3))  # whole groups of G rows
            used = np.array(s0["used"] + s1["used"])
            assert used.reshape(3, G).sum(axis=1).tolist() == sizes.tolist()  # group 1 split 2 / 2
            if mode == "vllm_server":  # each real row holds its own prompt's tokens and that prompt's completion
                rows = zip(prompts, s0["prompt_ids"] + s1["prompt_ids"], s0["completion_ids"] + s1["completion_ids"])
                for (text, ids, comp), u in zip(rows, used):
                    if u:
                        assert ids == [WORDS.index(w) for w in text.split()] and comp == [echo_token(ids), 1]
            adv = np.array(s0["advantages"] + s1["advantages"])
            rewards = np.array(s0["rewards"] + s1["rewards"])  # what the reward rule returned (before masking)
            assert np.all(adv[~used] == 0)
            # the real rows in global order are each group's rows (positions < n_i); TRL computes in float32
            # (relative 6e-8) and advantages are O(3) at most: 1e-5 absolute
            kept = sizes[sizes > 0]
            ours = group_advantages(rewards[used], kept, "grpo", eps=1e-4)
            assert np.allclose(adv[used], ours, atol=1e-5), mode
