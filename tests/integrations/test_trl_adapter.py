"""simalloc.integrations.trl with the real TRL: a GRPOTrainer on a tiny Llama built here trains 2 steps on CPU with
per-prompt group sizes chosen by the planner (``make test-integrations``; skipped when TRL is absent)."""

from __future__ import annotations

import json
import re

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


def test_grpo_trainer_trains_with_planner_group_sizes(tmp_path, caplog):
    """2 steps; also: TRL's per-batch "All reward functions returned None" warning is not raised for placeholder
    rows (the adapter's log filter; without it TRL logs it at every step with a group below G_max)."""
    import logging

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
    with caplog.at_level(logging.WARNING, logger="trl.trainer.grpo_trainer"):
        trainer.train()
    assert not [r.getMessage() for r in caplog.records if "All reward functions returned None" in r.getMessage()]
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
    # wrong types are one-line errors naming the argument (they were TypeErrors, or a failure at the first step)
    for kwargs, name in (({"extra_per_prompt": "a"}, "extra_per_prompt"), ({"extra_per_prompt": None},
                                                                            "extra_per_prompt"),
                         ({"threshold": "x"}, "threshold"), ({"threshold": float("nan")}, "threshold"),
                         ({"rule": "reinforce_ada", "rule_options": [1]}, "rule_options"),
                         ({"rule": "reinforce_ada_pos", "rule_options": {"bogus": 1}}, "options"),
                         ({"rule": "reinforce_ada", "rule_options": {"keep": 0}}, "keep")):
        with pytest.raises(ValueError, match=name):
            AllocatedRollout(_on_policy, score, None, **{"k0": 2, "extra_per_prompt": 1, **kwargs})
    with pytest.raises(ValueError, match="select_n: not used with rule"):  # was silently ignored
        AllocatedRollout(_on_policy, score, None, k0=2, extra_per_prompt=1, planner=Planner(), select_n=2,
                         rule="reinforce_ada_pos")
    with pytest.raises(ValueError, match="score: expected a callable"):
        AllocatedRollout(_on_policy, 3, None, k0=2, extra_per_prompt=1)


def test_a_generator_returning_too_few_rows_is_named():
    """A generate that returns fewer completions than asked gets a ValueError naming generate and the counts
    (before: IndexError 'pop from empty list' deep in the row assembly)."""
    from types import SimpleNamespace

    def short(prompts, counts):
        return [[([5], [12, 1])] * max(int(k) - 1, 0) for k in counts]

    short.simalloc_on_policy = True

    class Tok:
        eos_token_id = 1

        def decode(self, ids, skip_special_tokens=True):
            return "no"

    trainer = SimpleNamespace(model=SimpleNamespace(training=True), num_generations=4, num_generations_eval=4,
                              accelerator=None, state=SimpleNamespace(global_step=0), use_vllm=False)
    rollout = AllocatedRollout(short, score, Tok(), k0=2, extra_per_prompt=1.0, rng=0)
    message = "generate: expected counts[j] rows for prompts[j] ([2, 2]), got [1, 1]"
    with pytest.raises(ValueError, match=re.escape(message)):
        rollout(["a"] * 4 + ["b"] * 4, trainer)


class StandInVLLMClient:
    """An external generator (what a vLLM client is to TRL with use_vllm=False): its own copy of the model, loaded
    only by ``load_weights`` (recording the trainer's step and the weights it was given); returns each sampled
    token's logprob under its copy."""

    def __init__(self, path, tokenizer):
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(path)
        self.tokenizer, self.syncs = tokenizer, []
        self.gen = torch.Generator().manual_seed(0)

    def load_weights(self, model):
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.model.load_state_dict(state)
        self.syncs.append(state)

    def generate(self, prompts, counts):
        out = []
        for prompt, k in zip(prompts, counts):
            ids = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            rows = []
            for _ in range(int(k)):
                seq, lps = list(ids), []
                with torch.no_grad():
                    for _ in range(3):
                        logp = torch.log_softmax(self.model(torch.tensor([seq])).logits[0, -1], -1)
                        tok = int(torch.multinomial(logp.exp(), 1, generator=self.gen))
                        seq.append(tok)
                        lps.append(float(logp[tok]))
                        if tok == self.tokenizer.eos_token_id:
                            break
                rows.append((ids, seq[len(ids):], lps))
            out.append(rows)
        return out


def test_an_external_vllm_client_is_synced_each_step_and_its_logprobs_reach_trl(tmp_path):
    """The "your vLLM client" route: a generator that is not the trainer's model is refused without sync_weights
    (test_bad_settings_are_refused); with it, the client is loaded with the trainer's current weights once per
    training step before generating (2 syncs for 2 steps, each equal to the policy at that step's start), and the
    sampling logprobs it returns are what TRL receives (placeholder rows: [0.0])."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = datasets.Dataset.from_dict({"prompt": ["what is two plus two", "what is three plus two"] * 2})
    client = StandInVLLMClient(path, tokenizer)
    policy_at_step = []

    def sync(m):
        policy_at_step.append({k: v.detach().clone() for k, v in m.state_dict().items()})
        client.load_weights(m)

    rollout = AllocatedRollout(client.generate, score, tokenizer, k0=2, extra_per_prompt=1.0, rng=0,
                               sync_weights=sync)
    returned = []
    inner_call = rollout.__call__

    class Recording:
        def __call__(self, prompts, trainer):
            out = inner_call(prompts, trainer)
            returned.append(out)
            return out

    args = GRPOConfig(output_dir=str(tmp_path / "out"), num_generations=4, per_device_train_batch_size=8,
                      max_steps=2, max_completion_length=3, learning_rate=5e-2, beta=0.0, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args, train_dataset=dataset,
                          processing_class=tokenizer, rollout_func=Recording())
    trainer.train()
    assert len(client.syncs) == 2 and len(returned) == 2  # one sync per step, before its generation
    assert any(not torch.equal(client.syncs[0][k], client.syncs[1][k]) for k in client.syncs[0])  # step 2: new
    for synced, policy in zip(client.syncs, policy_at_step):
        assert all(torch.equal(synced[k], policy[k]) for k in policy)
    for out in returned:
        assert len(out["logprobs"]) == len(out["completion_ids"])
        for lp, comp, used in zip(out["logprobs"], out["completion_ids"], out[USED_KEY]):
            assert len(lp) == len(comp) and (used or lp == [0.0])
            assert not used or all(x <= 0 for x in lp)


def test_vllm_generator_and_the_importance_sampling_refusal():
    """vllm_generator calls TRL's own engine (trainer.vllm_generation.generate, as TRL's _generate_single_turn)
    once with every prompt repeated its count, and hands the sampled tokens' logprobs on; a generator without
    logprobs is refused when TRL's vLLM importance-sampling correction needs them."""
    from types import SimpleNamespace

    from simalloc.integrations.trl import vllm_generator

    class Tok:
        eos_token_id = 1

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [len(w) for w in text.split()]}

        def decode(self, ids, skip_special_tokens=True):
            return "yes" if ids and ids[0] == 11 else "no"

    class Engine:
        calls = []

        def generate(self, prompts, images, num_generations):
            self.calls.append((len(prompts), num_generations))
            comp = [[11 if i % 2 else 12, 1] for i in range(len(prompts))]
            lps = [[[-0.5], [-0.25]] for _ in prompts]
            return prompts, comp, lps, None

    engine = Engine()
    trainer = SimpleNamespace(use_vllm=True, vllm_importance_sampling_correction=True, vllm_generation=engine,
                              model=SimpleNamespace(training=True), num_generations=4, num_generations_eval=4,
                              state=SimpleNamespace(global_step=0), accelerator=None)
    rollout = AllocatedRollout(vllm_generator(lambda: trainer, Tok()), score, Tok(), k0=2, extra_per_prompt=1.0,
                               rng=0)
    out = rollout(["a b", "a b", "a b", "a b", "c", "c", "c", "c"], trainer)
    assert engine.calls == [(4, 1), (2, 1)]  # the pilot (2 prompts x 2), then the extra (budget 2)
    real = [lp for lp, u in zip(out["logprobs"], out[USED_KEY]) if u]
    assert len(real) == 6 and all(lp == [-0.5, -0.25] for lp in real)
    plain = AllocatedRollout(_on_policy_rows, score, Tok(), k0=2, extra_per_prompt=1.0, rng=0)
    with pytest.raises(ValueError, match="importance-sampling"):
        plain(["a b"] * 4, trainer)
    trainer.use_vllm = False  # vllm_generator without TRL's engine: refused with the fix named
    with pytest.raises(ValueError, match="use_vllm=True"):
        rollout(["a b"] * 4, trainer)


def _on_policy_rows(prompts, counts):
    return [[([5], [12, 1])] * int(k) for k in counts]


_on_policy_rows.simalloc_on_policy = True


def test_resume_from_trls_checkpoint_equals_the_uninterrupted_run(tmp_path):
    """checkpoint_callback writes the planner and the allocator's random state into TRL's checkpoint folder and
    reads them back on resume: 2 steps in one go, and 1 step + resume from checkpoint-1 for the second, end with
    equal planner states (TRL restores the model, optimizer, data order and torch RNG; the adapter its own)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from simalloc.integrations.trl import PLANNER_FILE, checkpoint_callback

    path = _tiny(tmp_path / "tiny")
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = datasets.Dataset.from_dict({"prompt": ["what is two plus two", "what is three plus two"] * 2})

    def run(out, resume=None):
        model = AutoModelForCausalLM.from_pretrained(path)
        planner, holder = Planner(decay=0.5), {}
        rollout = AllocatedRollout(transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3),
                                   score, tokenizer, k0=2, extra_per_prompt=1.0, planner=planner,
                                   history_prior=True, rng=0)
        args = GRPOConfig(output_dir=str(out), num_generations=4, per_device_train_batch_size=8, max_steps=2,
                          max_completion_length=3, learning_rate=5e-2, beta=0.0, report_to=[],
                          save_strategy="steps", save_steps=1, use_cpu=True, bf16=False, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args,
                              train_dataset=dataset, processing_class=tokenizer, rollout_func=rollout,
                              callbacks=[checkpoint_callback(rollout)])
        holder["t"] = trainer
        trainer.train(resume_from_checkpoint=resume)
        return planner

    whole = run(tmp_path / "a")
    # a damaged planner file is a one-line error naming it (was a JSONDecodeError traceback)
    from types import SimpleNamespace

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    callback = checkpoint_callback(AllocatedRollout(_on_policy, score, tokenizer, k0=2, extra_per_prompt=1.0,
                                                    planner=Planner()), resume_from=str(damaged))
    for text in ("{", "[]"):
        (damaged / PLANNER_FILE).write_text(text)
        with pytest.raises(ValueError, match="resume_from: .*simalloc_planner.json"):
            callback.on_train_begin(SimpleNamespace(output_dir=str(tmp_path)), SimpleNamespace(global_step=1), None)
    assert json.loads((tmp_path / "a" / "checkpoint-1" / PLANNER_FILE).read_text())["planner"]["step"] == 1
    resumed = run(tmp_path / "a", resume=str(tmp_path / "a" / "checkpoint-1"))
    assert resumed.state_dict() == whole.state_dict() and resumed.step == 2


def score_half(prompt, text):
    """A rule that passes about 40% of the tiny model's completions: the first word is a number word."""
    words = text.split()
    return 1.0 if words and words[0] in ("two", "three", "four", "five", "yes") else 0.0


def test_reinforce_ada_pos_runs_through_trl(tmp_path):
    """rule="reinforce_ada_pos" (Reinforce-Ada, positive_focused): rounds of 2 per active prompt, at most 3; a prompt
    retires at its first positive, so a prompt with a positive in round 1 drew exactly 2 (the "balanced" rule with
    keep 4 needs 2 positives and 2 negatives: never after one round of 2); TRL's rows and the planner follow the
    kept groups; the step stays within its budget."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = ["what is two plus two", "what is three plus two", "what is four plus five"]
    dataset = datasets.Dataset.from_dict({"prompt": prompts * 2})
    holder, drawn = {}, []
    inner = transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3)

    def generate(ps, counts):
        out = inner(ps, counts)
        drawn.append([(p, [score_half(p, tokenizer.decode(r[1], skip_special_tokens=True)) for r in rows])
                      for p, rows in zip(ps, out)])
        return out

    generate.simalloc_on_policy = True
    planner = Planner()

    def reward_half(prompts, completions, **kwargs):
        return [score_half(p, c) for p, c in zip(prompts, completions)]

    rollout = AllocatedRollout(generate, score_half, tokenizer, k0=2, extra_per_prompt=2.0, planner=planner,
                               rng=0, rule="reinforce_ada_pos", rule_options={"round_repeat": 2, "max_rounds": 3,
                                                                              "keep": 4})
    args = GRPOConfig(output_dir=str(tmp_path / "out"), num_generations=4, per_device_train_batch_size=12,
                      max_steps=2, max_completion_length=3, learning_rate=1e-2, beta=0.0, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, seed=0, shuffle_dataset=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_half)], args=args, train_dataset=dataset,
                          processing_class=tokenizer, rollout_func=rollout)
    holder["t"] = trainer
    seen = _spy(trainer, rollout)
    calls_before = []
    inner_gen = trainer._generate_and_score_completions

    def mark(inputs):
        calls_before.append(len(drawn))
        return inner_gen(inputs)

    trainer._generate_and_score_completions = mark
    trainer.train()
    assert trainer.state.global_step == 2 and len(seen) == 2
    retired_after_one = 0
    for step, (adv, sizes, used) in enumerate(seen):
        lo = calls_before[step]
        hi = calls_before[step + 1] if step + 1 < len(calls_before) else len(drawn)
        per = {p: [] for p in prompts}  # each prompt's successes, round by round
        for call in drawn[lo:hi]:
            for p, oks in call:
                per[p].append(oks)
        assert sum(len(ok) for p in prompts for ok in per[p]) <= 4 * 3  # the step's budget: (2 + 2) x 3
        for j, p in enumerate(prompts):
            rounds = per[p]
            assert all(len(r) == 2 for r in rounds) and 1 <= len(rounds) <= 3
            first_pos = next((i for i, r in enumerate(rounds) if sum(r) > 0), None)
            if first_pos is not None:  # retired at its first positive round
                assert len(rounds) == first_pos + 1
                retired_after_one += first_pos == 0
            assert np.array(used).reshape(-1, 4)[j].sum() == sizes[j] <= 4
        blocks = adv.reshape(-1, 4)
        for row, n in zip(blocks, sizes):
            assert torch.all(row[n:] == 0)
    assert retired_after_one >= 1  # the positive-focused retirement happened (balanced would never here)
    assert planner.step == 2 and planner.history(prompts)["seen"].tolist() == [2, 2, 2]


def test_a_planner_selector_chooses_the_prompts_through_trl(tmp_path):
    """select_n=1 with the "mopps" selector: of the 3 prompts of each step, one is rolled out (pilot + extra, the
    budget of one prompt); the generator is never asked for the others, which TRL gets as placeholders only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = ["what is two plus two", "what is three plus two", "what is four plus five"]
    dataset = datasets.Dataset.from_dict({"prompt": prompts * 2})
    holder, asked = {}, []
    inner = transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3)

    def generate(ps, counts):
        asked.append(list(ps))
        return inner(ps, counts)

    generate.simalloc_on_policy = True
    planner = Planner("mopps", decay=0.5)
    rollout = AllocatedRollout(generate, score, tokenizer, k0=2, extra_per_prompt=2.0, planner=planner, rng=0,
                               select_n=1)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), num_generations=4, per_device_train_batch_size=12,
                      max_steps=2, max_completion_length=3, learning_rate=1e-2, beta=0.0, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, seed=0, shuffle_dataset=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args, train_dataset=dataset,
                          processing_class=tokenizer, rollout_func=rollout)
    holder["t"] = trainer
    seen = _spy(trainer, rollout)
    trainer.train()
    assert len(seen) == 2 and all(len(set(ps)) <= 1 for ps in asked)  # one prompt per generation call
    for adv, sizes, used in seen:
        assert sorted(sizes.tolist()) == [0, 0, 4]  # 2 pilot + 2 extra for the one selected prompt
        assert np.array(used).reshape(3, 4).sum(axis=1).tolist() == sizes.tolist()
    assert planner.step == 2 and sum(planner.history(prompts)["seen"]) == 2
    with pytest.raises(ValueError, match="select_n"):
        AllocatedRollout(_on_policy, score, tokenizer, k0=2, extra_per_prompt=1, select_n=2)  # no planner


def test_an_external_client_is_synced_before_evaluation_too():
    """An eval call at a step whose weights the client has not received syncs first (as TRL's own vLLM modes do
    before every generation at a new step); then it is not synced again at that step (training or eval), and a
    later step syncs once more. Mutation (sync on training calls only): evaluate() before training, or after
    the last step, would sample stale weights: the first assertion fails."""
    from types import SimpleNamespace

    class Tok:
        eos_token_id = 1

        def decode(self, ids, skip_special_tokens=True):
            return "no"

    synced = []
    rollout = AllocatedRollout(_on_policy_rows, score, Tok(), k0=2, extra_per_prompt=1.0, rng=0,
                               sync_weights=lambda model: synced.append(model.tag))
    model = SimpleNamespace(training=False, tag="w0")
    trainer = SimpleNamespace(model=model, num_generations=4, num_generations_eval=2, accelerator=None,
                              state=SimpleNamespace(global_step=0), use_vllm=False)
    rollout(["a"] * 2, trainer)  # evaluate() before training
    assert synced == ["w0"]
    model.training = True
    rollout(["a"] * 4, trainer)  # step 0's training call: the weights are those eval received
    assert synced == ["w0"]
    model.training, model.tag, trainer.state.global_step = False, "w1", 1  # evaluate() after the update
    rollout(["a"] * 2, trainer)
    assert synced == ["w0", "w1"]
    model.training = True
    rollout(["a"] * 4, trainer)
    assert synced == ["w0", "w1"]
