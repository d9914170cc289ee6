"""Every engine implements what the live loop calls, and the loop runs on each engine's interface."""

from __future__ import annotations

import numpy as np
import pytest

from simalloc.live.engines import ENGINES, CT2Engine, Engine, TransformersEngine, VLLMEngine
from simalloc.live.loop import LiveConfig, run_live
from simalloc.live.tasks import basic_tasks
from simalloc.testing.vllm_standin import FakeLLM, FakeSamplingParams


@pytest.mark.parametrize("cls", [TransformersEngine, CT2Engine, VLLMEngine])
def test_every_engine_implements_the_loop_interface(cls):
    assert issubclass(cls, Engine) and not cls.__abstractmethods__
    for name in ("generate", "encode_prompts", "chat"):
        assert callable(getattr(cls, name)), name
    assert len(ENGINES) == 3


class RecordingTrainer:
    """The GRPO step's interface: records what the loop hands it (``model``: what the engine is synced from)."""

    def __init__(self):
        self.calls = []
        import torch

        self.model = torch.nn.Linear(2, 2)

    def step(self, prompt_ids, groups, rewards):
        self.calls.append((prompt_ids, groups, rewards))
        return {"loss": 0.0, "grad_norm": 0.0, "step_seconds": 0.0}


def test_the_loop_runs_on_the_vllm_engine_through_its_stand_in(tmp_path, monkeypatch):
    """run_live calls encode_prompts (which the vLLM engine once lacked) and generate; the trainer gets the
    chat-templated prompt ids and one group per prompt of pilot + extra rollouts."""
    import simalloc.live.loop as loop

    monkeypatch.setattr(loop, "_save_checkpoint", lambda *a, **k: None)  # no torch trainer state to save
    engine = VLLMEngine(llm=FakeLLM(), sampling_params=FakeSamplingParams, seed=1, max_new_tokens=8)
    trainer = RecordingTrainer()
    tasks = basic_tasks(12, rng=0)
    records = run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=2, seed=0), engine, trainer, tasks,
                       tmp_path, progress=False)
    assert list(records.step) == [1, 2] and len(trainer.calls) == 2
    prompt_ids, groups, rewards = trainer.calls[0]
    assert len(prompt_ids) == len(groups) == len(rewards) == 3
    assert all(isinstance(t, int) for t in prompt_ids[0]) and chr(prompt_ids[0][0]) == "u"  # "user:..." template
    assert sum(len(g) for g in groups) == 3 * 4 and all(len(g) == len(r) for g, r in zip(groups, rewards))
    assert np.isfinite(records["pass@1"]).all()
