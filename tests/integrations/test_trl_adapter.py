"""simalloc.integrations.trl with the real TRL: a GRPOTrainer on a tiny Llama built here trains 2 steps on CPU with
per-prompt group sizes chosen by the planner (``make test-integrations``; skipped when TRL is absent)."""

from __future__ import annotations

import numpy as np
import pytest

trl = pytest.importorskip("trl", reason="the trl extra is not installed (make test-integrations)")
torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

from simalloc import Planner  # noqa: E402
from simalloc.estimators import group_advantages  # noqa: E402
from simalloc.integrations.trl import USED_KEY, AllocatedRollout, masked_reward, transformers_generator  # noqa: E402

WORDS = ["<pad>", "<eos>", "<unk>", "<bos>", "what", "is", "two", "plus", "three", "four", "five", "yes", "no"]


def _tiny(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                     bos_token="<bos>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
                      eos_token_id=1, bos_token_id=3)
    net = LlamaForCausalLM(cfg)
    net.save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return str(folder)


def score(prompt, text):
    """The task's rule: a completion that says "yes" is right."""
    return 1.0 if "yes" in text.split() else 0.0


def reward_yes(prompts, completions, **kwargs):
    return [score(p, c) for p, c in zip(prompts, completions)]


def _spy(trainer, rollout) -> list:
    """Record, for every generation batch, TRL's advantages, the rollout's group sizes and which rows were real."""
    seen = []
    inner = trainer._generate_and_score_completions

    def spy(inputs):
        out = inner(inputs)
        seen.append((out["advantages"].detach().clone(), rollout.last_sizes.copy(), [x[USED_KEY] for x in inputs]))
        return out

    trainer._generate_and_score_completions = spy
    return seen


def test_grpo_trainer_trains_with_planner_group_sizes(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = datasets.Dataset.from_dict({"prompt": ["what is two plus two", "what is three plus two",
                                                     "what is two plus three", "what is four plus five"] * 2})
    g_max, k0 = 6, 2
    planner = Planner(decay=0.5)
    holder = {}
    rollout = AllocatedRollout(transformers_generator(lambda: holder["trainer"].model, tokenizer, max_new_tokens=3),
                               score, tokenizer, k0=k0, extra_per_prompt=2.0, planner=planner, history_prior=True,
                               rng=0)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), num_generations=g_max, per_device_train_batch_size=2 * g_max,
                      max_steps=2, max_completion_length=3, learning_rate=1e-2, beta=0.0, report_to=[],
                      logging_steps=1, save_strategy="no", use_cpu=True, bf16=False, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args, train_dataset=dataset,
                          processing_class=tokenizer, rollout_func=rollout)
    holder["trainer"] = trainer
    seen = _spy(trainer, rollout)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == 2 and len(seen) == 2
    assert any(not torch.equal(before[k], v) for k, v in model.named_parameters())  # it trained
    for adv, sizes, used in seen:
        assert sizes.sum() == 2 * (k0 + 2) and sizes.min() >= k0 and sizes.max() <= g_max
        # the group sizes the trainer used: the rows it scored (the rest are placeholders TRL leaves out)
        assert np.array(used).reshape(-1, g_max).sum(axis=1).tolist() == sizes.tolist()
        blocks = adv.reshape(-1, g_max)
        assert blocks.shape[0] == sizes.size
        for row, n in zip(blocks, sizes):
            assert torch.all(row[n:] == 0)  # placeholders: advantage 0
    assert planner.state_dict()["step"] == 2  # the planner saw both steps (history priors from step 2 on)


def test_advantages_match_simalloc_on_the_trainers_own_rewards(tmp_path):
    """The same training with the reward function recording what it returned: per prompt, TRL's advantages over
    the rows with a reward equal group_advantages over those rewards (eps 1e-4, Bessel std); mutation: without
    masking (placeholders scored 0) they do not."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = datasets.Dataset.from_dict({"prompt": ["what is two plus two", "what is three plus two"] * 4})

    def run(mask: bool):
        model = AutoModelForCausalLM.from_pretrained(path)
        returned = []

        def recording(prompts, completions, **kwargs):
            out = reward_yes(prompts, completions, **kwargs)
            returned.append(out)
            return out

        holder = {}
        rollout = AllocatedRollout(transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3),
                                   score, tokenizer, k0=2, extra_per_prompt=1.0, rng=1)
        func = masked_reward(recording) if mask else recording
        func.__name__ = "yes"
        args = GRPOConfig(output_dir=str(tmp_path / f"o{mask}"), num_generations=5, per_device_train_batch_size=10,
                          max_steps=2, max_completion_length=3, learning_rate=1e-2, beta=0.0, report_to=[],
                          save_strategy="no", use_cpu=True, bf16=False, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[func], args=args, train_dataset=dataset,
                              processing_class=tokenizer, rollout_func=rollout)
        holder["t"] = trainer
        seen = _spy(trainer, rollout)
        trainer.train()
        return seen, returned

    def agree(seen, returned):
        ok = True
        for (adv, sizes, used), rewards in zip(seen, returned):
            r = np.array(rewards, dtype=np.float64)
            used = np.array(used)
            real = r[used]
            ours = group_advantages(real, sizes, "grpo", eps=1e-4)
            # TRL computes in float32 (relative 6e-8) and advantages are O(3) at most: 1e-5 absolute
            ok &= bool(np.allclose(adv.numpy()[used], ours, atol=1e-5)) and bool(np.all(adv.numpy()[~used] == 0))
        return ok

    seen, returned = run(mask=True)
    assert agree(seen, returned)
    seen, returned = run(mask=False)  # placeholders scored 0 join each group's baseline
    assert not agree(seen, returned)


def test_an_eval_call_leaves_the_planner_unchanged(tmp_path):
    """TRL's evaluate() runs the rollout_func in eval mode: every prompt gets TRL's eval group size
    (num_generations_eval, here 3 while training uses 6), the planner is neither asked nor told (its state_dict is
    equal before and after), and every row is real (no placeholders)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = ["what is two plus two", "what is three plus two"]
    dataset = datasets.Dataset.from_dict({"prompt": prompts * 2})
    planner = Planner(decay=0.5)
    planner.observe(["what is two plus two"], [2], [5])  # a history the eval call must not touch
    planner.end_step()
    before = planner.state_dict()
    holder, asked = {}, []
    inner = transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3)

    def generate(ps, counts):
        asked.append(list(counts))
        return inner(ps, counts)

    generate.simalloc_on_policy = True  # it samples from the trainer's model

    rollout = AllocatedRollout(generate, score, tokenizer, k0=2, extra_per_prompt=2.0, planner=planner,
                               history_prior=True, rng=0)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), num_generations=6, num_generations_eval=3,
                      per_device_train_batch_size=12, per_device_eval_batch_size=6, max_steps=1,
                      max_completion_length=3, beta=0.0, report_to=[], save_strategy="no", use_cpu=True, bf16=False,
                      seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args, train_dataset=dataset,
                          eval_dataset=dataset, processing_class=tokenizer, rollout_func=rollout)
    holder["t"] = trainer
    metrics = trainer.evaluate()
    assert "eval_reward" in metrics
    assert planner.state_dict() == before
    assert asked and all(counts == [3] * len(counts) for counts in asked)  # TRL's eval group size, every prompt
    assert sum(map(sum, asked)) == 3 * len(dataset)


def _on_policy(prompts, counts):
    return [[] for _ in prompts]


_on_policy.simalloc_on_policy = True


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="k0"):
        AllocatedRollout(_on_policy, score, None, k0=0, extra_per_prompt=1)
    with pytest.raises(ValueError, match="extra_per_prompt"):
        AllocatedRollout(_on_policy, score, None, k0=2, extra_per_prompt=-1)
    with pytest.raises(ValueError, match="name"):
        AllocatedRollout(_on_policy, score, None, k0=2, extra_per_prompt=1, allocator="nope")
    # a generator that is not the trainer's model (a vLLM client) without a weight sync: the run would go
    # off-policy, so it is refused at construction
    with pytest.raises(ValueError, match="sync_weights"):
        AllocatedRollout(lambda p, c: [], score, None, k0=2, extra_per_prompt=1)
