"""The vLLM engine against a stand-in with vLLM's LLM.generate / SamplingParams semantics (runs on CPU).

The stand-in draws each request's n samples from random.Random(request seed), as vLLM's per-request seeding does:
the same seed gives the same samples. Reusing ``seed + i`` on every call (the old bug) therefore makes a step's
extra rollouts repeat the pilot's, which the first test catches.
"""

import pytest

from simalloc.live.engines import VLLMEngine, request_seed
from simalloc.testing.vllm_standin import FakeLLM, FakeSamplingParams


def _engine(**kw):
    return VLLMEngine(llm=FakeLLM(), sampling_params=FakeSamplingParams, **kw)


def test_pilot_and_extra_rollouts_are_not_repeats():
    engine = _engine(seed=3)
    prompts = ["What is 2+2?", "What is 3+5?"]
    pilot = engine.generate(prompts, [8, 8])
    extra = engine.generate(prompts, [8, 8])
    for i in range(2):
        assert {c.text for c in pilot[i]}.isdisjoint({c.text for c in extra[i]})


def test_same_prompt_twice_in_one_call_gets_distinct_samples():
    engine = _engine(seed=0)
    out = engine.generate(["same", "same"], [4, 4])
    assert {c.text for c in out[0]}.isdisjoint({c.text for c in out[1]})


def test_same_engine_seed_reproduces_a_run_and_another_seed_does_not():
    a, b, c = _engine(seed=1), _engine(seed=1), _engine(seed=2)
    runs = [[e.generate(["p"], [5]) for _ in range(2)] for e in (a, b, c)]
    texts = [[[x.text for x in step[0]] for step in run] for run in runs]
    assert texts[0] == texts[1] and texts[0] != texts[2]


def test_system_prompt_and_sampling_parameters_reach_vllm():
    engine = _engine(seed=0, system_prompt="Be terse.", temperature=0.7, max_new_tokens=12)
    out = engine.generate(["q1", "q2", "q3"], [2, 0, 1])
    assert [len(o) for o in out] == [2, 0, 1]
    assert all(m[0] == {"role": "system", "content": "Be terse."} for m in engine.tokenizer.messages)
    sp = engine.llm.seen_params
    assert [p.n for p in sp] == [2, 1] and {p.temperature for p in sp} == {0.7} and {p.max_tokens for p in sp} == {12}
    assert sp[0].logprobs == 0 and sp[0].seed == request_seed(0, 0, 0) and sp[1].seed == request_seed(0, 0, 2)
    assert out[0][0].logprobs == [-1.0, -1.0, -1.0]


def test_request_seeds_never_collide_in_a_long_run():
    seeds = {request_seed(0, call, i) for call in range(200) for i in range(64)}
    assert len(seeds) == 200 * 64 and all(0 <= s < 2**31 for s in seeds)


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        _engine(temperature=0)
    with pytest.raises(ValueError, match="n"):
        _engine().generate(["a"], [1, 2])
