"""The CTranslate2 engine on a tiny random Llama built here (word-level tokenizer of 40 tokens, so sampled
frequencies can be checked against the model's own softmax): it samples from the full distribution at the
given temperature, returns n completions per prompt, and is reproducible per seed and distinct per call.
The default model's speed is measured by ``simalloc bench --suite live``, not here."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

from scipy import stats  # noqa: E402

from simalloc.live.engines import CT2Engine, ctranslate2_model, make_engine  # noqa: E402

WORDS = ["<|im_start|>", "<|im_end|>", "<unk>", "user", "assistant", "system", "what", "is", "answer", "the",
         *[str(i) for i in range(20)], "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
TEMPLATE = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
            "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_llama")
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  unk_token="<unk>")
    tok.chat_template = TEMPLATE
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
    net = LlamaForCausalLM(cfg)
    with torch.no_grad():
        net.lm_head.weight.mul_(40.0)  # a peaked next-token distribution: temperature visibly matters
    net.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, net, tok


def _engine(tiny_model, tmp_path, **kw):
    folder = tiny_model[0]
    kw = {"quantization": "float32", "compute_type": "float32", "cache_dir": tmp_path, **kw}
    return CT2Engine(folder, **kw)


def test_first_token_frequencies_match_the_model_softmax(tiny_model, tmp_path):
    """4000 one-token samples vs softmax(logits / 0.7) of the same weights in torch: chi-square p > 0.001
    (bins with expected count >= 5 pooled). Greedy decoding or another temperature fails it (mutations below)."""
    folder, net, tok = tiny_model
    engine = _engine(tiny_model, tmp_path, max_new_tokens=1, temperature=0.7, seed=1)
    prompt = "what is 3"
    samples = [c.token_ids[0] for c in engine.generate([prompt], [4000])[0]]
    ids = torch.tensor([engine.encode_prompts([prompt])[0]])
    with torch.no_grad():
        probs = torch.softmax(net(ids).logits[0, -1] / 0.7, -1).numpy().astype(float)

    def p_value(sample):
        obs = np.bincount(sample, minlength=len(WORDS)).astype(float)
        big = probs * len(sample) >= 5
        o = np.append(obs[big], obs[~big].sum())
        e = np.append(probs[big], probs[~big].sum()) * len(sample)
        keep = e > 0
        o, e = o[keep], e[keep]
        return stats.chisquare(o, e * o.sum() / e.sum()).pvalue

    assert probs.max() < 0.9 and (probs * 4000 >= 5).sum() >= 3  # a distribution worth testing
    assert p_value(samples) > 1e-3
    hot = _engine(tiny_model, tmp_path, max_new_tokens=1, temperature=1.5, seed=1)  # mutation: wrong temperature
    assert p_value([c.token_ids[0] for c in hot.generate([prompt], [4000])[0]]) < 1e-6


def test_counts_lengths_seeds(tiny_model, tmp_path):
    engine = _engine(tiny_model, tmp_path, max_new_tokens=6, seed=3)
    prompts = ["what is 1", "what is 2", "the answer"]
    out = engine.generate(prompts, [3, 0, 5])
    assert [len(g) for g in out] == [3, 0, 5]
    for c in out[0] + out[2]:
        assert 1 <= len(c.token_ids) <= 6 and c.logprobs == [] and isinstance(c.text, str)
        if 1 in c.token_ids:  # the end token ends a completion and is counted
            assert c.token_ids.index(1) == len(c.token_ids) - 1
    again = _engine(tiny_model, tmp_path, max_new_tokens=6, seed=3).generate(prompts, [3, 0, 5])
    assert [c.token_ids for g in out for c in g] == [c.token_ids for g in again for c in g]
    nxt = engine.generate(prompts, [3, 0, 5])  # the next call draws fresh samples
    assert [c.token_ids for g in out for c in g] != [c.token_ids for g in nxt for c in g]
    other = _engine(tiny_model, tmp_path, max_new_tokens=6, seed=4).generate(prompts, [3, 0, 5])
    assert [c.token_ids for g in out for c in g] != [c.token_ids for g in other for c in g]


def test_conversion_is_cached_and_bad_input_is_named(tiny_model, tmp_path):
    first = ctranslate2_model(tiny_model[0], quantization="float32", cache_dir=tmp_path)
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert ctranslate2_model(tiny_model[0], quantization="float32", cache_dir=tmp_path) == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp
    assert ctranslate2_model(first) == first  # an already converted folder is used as it is
    with pytest.raises(ValueError, match="quantization: must be"):
        ctranslate2_model(tiny_model[0], quantization="int4", cache_dir=tmp_path)
    engine = make_engine("ctranslate2", first, max_new_tokens=2)
    with pytest.raises(ValueError, match="n: expected one sample count per prompt"):
        engine.generate(["a"], [1, 2])
    with pytest.raises(ValueError, match="n: sample counts must be >= 0"):
        engine.generate(["a"], [-1])
    with pytest.raises(ValueError, match="temperature: must be > 0"):
        make_engine("ctranslate2", first, temperature=0)
    with pytest.raises(ValueError, match="engine: unknown 'llama'"):
        make_engine("llama", first)
