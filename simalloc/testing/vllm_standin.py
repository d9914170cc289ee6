"""A stand-in with vLLM's ``LLM.generate`` / ``SamplingParams`` semantics, for testing without a GPU.

``FakeLLM.generate(prompts, params)`` takes one ``FakeSamplingParams`` per prompt and draws each request's ``n``
samples (three random token ids each) from ``random.Random(params.seed)``, as vLLM's per-request seeding does:
the same seed gives the same samples. Its tokenizer applies a visible chat template and encodes text as character
codes. ``load_weights`` records every weights update (name -> a copy of the tensor or array) in ``loads``, in call
order, so a test can check that an engine synced the trainer's weights before sampling.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FakeSamplingParams", "FakeLLM", "FakeTokenizer"]


@dataclass
class FakeSamplingParams:
    """vLLM's SamplingParams fields the engine sets.

    Attributes
    ----------
    n : int
        Samples for the request.
    temperature : float
        Sampling temperature.
    max_tokens : int
        Tokens per sample at most.
    logprobs : int or None
        Top log-probs per token (0: the sampled token's only).
    seed : int or None
        The request's seed.
    """

    n: int = 1
    temperature: float = 1.0
    max_tokens: int = 16
    logprobs: int | None = None
    seed: int | None = None


@dataclass
class _Logprob:
    logprob: float


@dataclass
class _Completion:
    text: str
    token_ids: list
    logprobs: list


@dataclass
class _RequestOutput:
    prompt: str
    outputs: list = field(default_factory=list)


class FakeTokenizer:
    """Chat template "role:content|...|assistant:"; ``__call__`` encodes text as its character codes.

    Attributes
    ----------
    messages : list
        The chat messages of every ``apply_chat_template`` call, in order.
    """

    def __init__(self):
        self.messages = []

    def apply_chat_template(self, msgs, tokenize=False, add_generation_prompt=True):
        """Records the messages and returns them joined."""
        self.messages.append(msgs)
        return "|".join(f"{m['role']}:{m['content']}" for m in msgs) + "|assistant:"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(ch) for ch in text]}


class FakeLLM:
    """The stand-in LLM (module docstring); ``seen_params`` and ``loads`` record what the engine asked for.

    Attributes
    ----------
    seen_params : list
        The SamplingParams of every generate call.
    loads : list of dict
        Every ``load_weights`` call's weights (copies).
    events : list of tuple
        ("generate", call) and ("load", names) in call order.
    """

    def __init__(self):
        self.tokenizer = FakeTokenizer()
        self.seen_params = []
        self.loads = []
        self.events = []  # ("generate", call) and ("load", names) in call order

    def get_tokenizer(self):
        """The stand-in tokenizer."""
        return self.tokenizer

    def load_weights(self, weights) -> None:
        """Record a weights update: an iterable of (name, tensor) pairs, as vLLM's model ``load_weights`` takes."""
        snapshot = {name: value.detach().clone() if hasattr(value, "detach") else value.copy()
                    for name, value in weights}
        self.loads.append(snapshot)
        self.events.append(("load", tuple(snapshot)))

    def generate(self, prompts, params):
        """n samples per request, drawn from random.Random(the request's seed)."""
        assert isinstance(params, list) and len(params) == len(prompts), "one SamplingParams per prompt"
        self.events.append(("generate", len(self.seen_params)))
        out = []
        for prompt, sp in zip(prompts, params):
            self.seen_params.append(sp)
            rng = random.Random(sp.seed)
            comps = []
            for _ in range(sp.n):
                ids = [rng.randrange(1000) for _ in range(3)]
                comps.append(_Completion(" ".join(map(str, ids)), ids, [{t: _Logprob(-1.0)} for t in ids]))
            out.append(_RequestOutput(prompt, comps))
        return out
