"""Live training keeps its sampler on-policy: weights synced to vLLM (stand-in) and CTranslate2 (a tiny Llama built
here) after every update, the policy version recorded per step, and resumed runs start from the resumed weights."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simalloc.live.engines import VLLMEngine
from simalloc.live.loop import LiveConfig, run_live
from simalloc.live.tasks import basic_tasks
from simalloc.testing.vllm_standin import FakeLLM, FakeSamplingParams

torch = pytest.importorskip("torch")


class TinyTrainer:
    """The GRPO step's interface on a small torch module: every step moves every weight (a plain SGD step on a
    loss that depends on the batch), and ``snapshots[t]`` is the state after step t (0: before training)."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.snapshots = [self._state()]

    def _state(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def trainable_state(self):
        return self._state()

    def step(self, prompt_ids, groups, rewards):
        x = torch.full((1, 3), float(sum(len(g) for g in groups)))
        loss = (self.model(x) ** 2).sum() * 1e-3
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.snapshots.append(self._state())
        return {"loss": float(loss.detach()), "grad_norm": 1.0, "step_seconds": 0.0}


def _engine():
    return VLLMEngine(llm=FakeLLM(), sampling_params=FakeSamplingParams, seed=1, max_new_tokens=8)


def check_synced(llm: FakeLLM, records, trainer: TinyTrainer) -> None:
    """Every step sampled from the weights its record names, and each load carried the trainer's weights of that
    version; raises AssertionError otherwise."""
    version, loads = 0, iter(llm.loads)
    versions_seen = []
    for event, _ in llm.events:
        if event == "load":
            weights = next(loads)
            match = [t for t, snap in enumerate(trainer.snapshots)
                     if snap.keys() == weights.keys() and all(torch.equal(snap[k], weights[k]) for k in snap)]
            assert match, "a load carried weights the trainer never had"
            version = match[-1]
        else:
            versions_seen.append(version)
    # two generate calls per step (pilot, extra); both must come from the recorded version
    per_step = versions_seen[0::2]
    assert versions_seen[0::2] == versions_seen[1::2][:len(per_step)]
    assert per_step == list(records.policy_version), (per_step, list(records.policy_version))


@pytest.mark.parametrize("every,versions", [(1, [0, 1, 2, 3]), (2, [0, 0, 2, 2])])
def test_vllm_gets_the_trained_weights_before_the_next_pilot(tmp_path, every, versions):
    engine, trainer = _engine(), TinyTrainer()
    records = run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=4, seed=0, sync_every=every),
                       engine, trainer, basic_tasks(12, rng=0), tmp_path, progress=False)
    assert list(records.policy_version) == versions
    assert list(records.staleness) == [s - 1 - v for s, v in zip(records.step, versions)]
    assert len(engine.llm.loads) == 4 // every
    check_synced(engine.llm, records, trainer)


def test_the_check_fails_when_a_step_samples_before_the_load(tmp_path, monkeypatch):
    """Mutation: an engine that records the new version without loading the weights: the check must fail."""
    def label_only(self, model, version):
        self.policy_version = version
        return 0.0

    monkeypatch.setattr(VLLMEngine, "sync", label_only)
    engine, trainer = _engine(), TinyTrainer()
    records = run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=3, seed=0), engine, trainer,
                       basic_tasks(12, rng=0), tmp_path, progress=False)
    with pytest.raises(AssertionError):
        check_synced(engine.llm, records, trainer)


def test_the_check_fails_when_the_wrong_tensors_are_loaded(tmp_path, monkeypatch):
    """Mutation: the engine loads the weights before the update (a stale copy): the check must fail."""
    real = VLLMEngine.sync

    def stale(self, model, version):
        with torch.no_grad():
            saved = {k: v.clone() for k, v in model.state_dict().items()}
            for p in model.parameters():
                p.add_(1.0)
            out = real(self, model, version)
            model.load_state_dict(saved)
        return out

    monkeypatch.setattr(VLLMEngine, "sync", stale)
    engine, trainer = _engine(), TinyTrainer()
    records = run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=2, seed=0), engine, trainer,
                       basic_tasks(12, rng=0), tmp_path, progress=False)
    with pytest.raises(AssertionError, match="never had"):
        check_synced(engine.llm, records, trainer)


def test_a_resumed_run_syncs_the_resumed_weights_first(tmp_path):
    trainer = TinyTrainer()
    run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=2, seed=0), _engine(), trainer,
             basic_tasks(12, rng=0), tmp_path, progress=False)
    fresh_engine, fresh_trainer = _engine(), TinyTrainer(seed=5)  # a new process: base weights everywhere
    records = run_live(LiveConfig("hora", n_prompts=3, k0=2, group_size=4, steps=3, seed=0), fresh_engine,
                       fresh_trainer, basic_tasks(12, rng=0), tmp_path, progress=False)
    assert fresh_engine.llm.events[0][0] == "load"  # before any sampling
    first = fresh_engine.llm.loads[0]
    assert all(torch.equal(first[k], trainer.snapshots[2][k]) for k in first)
    assert list(records.policy_version) == [0, 1, 2]


def test_sync_every_is_checked():
    with pytest.raises(ValueError, match="sync_every"):
        LiveConfig(sync_every=0).validate()


# ---------------------------------------------------------------- CTranslate2 on a tiny Llama built here

WORDS = ["<pad>", "<eos>", "<unk>", "<bos>", "what", "is", "two", "plus", "three", "four", "five", "six", "seven",
         "eight", "nine", "ten", "yes"]


def _tiny_llama(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                     bos_token="<bos>")
    hf_tok.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
                      eos_token_id=1, bos_token_id=3, tie_word_embeddings=False)
    net = LlamaForCausalLM(cfg)
    net.save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return net, hf_tok


def _first_token_test(engine, policy, n=3000):
    """Chi-square of the engine's first sampled tokens against ``policy``'s exact first-token distribution.

    Thresholds: p > 1e-3 where the engine samples ``policy`` (a false alarm in 1 of 1,000 seeds, whatever CPU draws
    the samples); p < 1e-6 where it samples the old weights (the two distributions differ by far more than 3,000
    draws can hide). The draws are seeded but not compared exactly, so another CPU's sampler only changes which
    seed-specific p-value comes out."""
    prompt = "what is two plus three"
    ids = engine.encode_prompts([prompt])[0]
    with torch.no_grad():
        logits = policy(input_ids=torch.tensor([ids])).logits[0, -1].double()
    p = torch.softmax(logits / engine.temperature, -1).numpy()
    first = [c.token_ids[0] for c in engine.generate([prompt], [n])[0]]
    counts = np.bincount(first, minlength=p.size)
    big = p * n >= 5
    observed = np.r_[counts[big], counts[~big].sum()]
    expected = np.r_[p[big], p[~big].sum()] * n
    keep = expected > 0
    return stats.chisquare(observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()).pvalue


def test_ct2_samples_follow_the_updated_model_only_when_synced(tmp_path):
    pytest.importorskip("ctranslate2")
    from simalloc.live.engines import CT2Engine

    folder = tmp_path / "tiny"
    policy, _ = _tiny_llama(folder)
    engine = CT2Engine(str(folder), temperature=1.0, max_new_tokens=1, quantization="float32",
                       compute_type="float32", cache_dir=tmp_path / "cache", seed=3)
    assert _first_token_test(engine, policy) > 1e-3  # the converted model samples as the torch model does
    with torch.no_grad():  # a large update: the output layer redrawn
        policy.lm_head.weight.copy_(torch.randn_like(policy.lm_head.weight) * 0.5)
    stale = _first_token_test(engine, policy)
    assert stale < 1e-6  # not synced: the engine still samples the old policy (the mutation)
    seconds = engine.sync(policy, 1)
    assert engine.policy_version == 1 and seconds > 0
    assert _first_token_test(engine, policy) > 1e-3  # synced: it samples the updated policy


def test_ct2_in_the_live_loop_records_its_syncs(tmp_path):
    pytest.importorskip("ctranslate2")
    from simalloc.live.engines import CT2Engine
    from simalloc.live.grpo import GRPOConfig, GRPOTrainer

    folder = tmp_path / "tiny"
    policy, tok = _tiny_llama(folder)
    engine = CT2Engine(str(folder), temperature=1.0, max_new_tokens=2, quantization="float32",
                       compute_type="float32", cache_dir=tmp_path / "cache")
    trainer = GRPOTrainer(policy, tok, GRPOConfig(learning_rate=1e-2, max_completion_length=2, temperature=1.0))
    records = run_live(LiveConfig("uniform", n_prompts=2, k0=2, group_size=4, steps=2, seed=0, sync_every=1),
                       engine, trainer, basic_tasks(6, rng=0), tmp_path / "run", progress=False)
    assert list(records.policy_version) == [0, 1] and (records.sync_seconds > 0).all()
