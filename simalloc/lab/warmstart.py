"""The warm start: a short supervised phase that leaves the lab policy with a spread of pass rates.

A teacher writes completions ``z y`` for the training pool's prompts and the network is trained on them by
cross-entropy (AdamW, batches of ``batch`` prompts): level-0 prompts (``o2 = +``) get correct completions,
level-1 prompts (``o2 = -``) the correct intermediate and a final answer that is correct with probability
``teacher_accuracy`` and otherwise a uniformly random digit. Level-2 prompts (``o2 = *``) are read one of two ways
(``level2``, both available): "misconception" (the default) shows them with the final answer of ``+`` instead of
``*`` (a systematic wrong rule, as a pretrained model's misconception), "absent" never shows them. The network then
solves level 0, sometimes solves level 1 and rarely level 2: a spread from p ~ 0 to p ~ 1 that RL can move, with
transfer between prompts (``*`` is taught in first place) left to the network. Measured on the default eval set
at temperature 1 (``tests/test_lab.py`` checks it): at least 20% of prompts with p < 0.05, between 0.05 and 0.5,
and above 0.5; "absent" leaves fewer below 0.05 (about 0.2) because an untaught operation is not confidently
wrong.

The v2 task (``simalloc.lab.regimes``) has its own teacher (``RegimeTask.teacher_batch``): taught prompts with
correct completions, narrowing prompts with either path and, under ``level2="misconception"`` (the default), the
expanding family's edge pair ``* -`` with ``-`` in second place read as ``+``; its warm start does not depend on the
spec.

The result is deterministic for its settings on one machine (single-threaded torch, numpy streams), and cached on
disk under ``$SIMALLOC_CACHE_DIR/lab`` (default ``~/.cache/simalloc/lab``), keyed by ``warm_key``: a hash of the
code version (``WARM_VERSION``), the task, the network's shape and these settings; the file is written
atomically, so parallel workers can share it. Float differences between CPUs change the trained weights, so the
default specs' networks ship with the package (``WEIGHTS_DIR``) and are loaded, not retrained, when the key
matches: the same network on every machine (docs/lab.md, "Warm starts on every machine").
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write
from ..validation import as_int
from .policy import LabPolicy, ModelSpec, make_policy
from .regimes import EXPANDING_TEACHERS
from .task import ChainTask

__all__ = ["WarmStart", "warm_start", "warm_key", "cache_dir", "LEVEL2_READINGS", "WARM_VERSION", "WEIGHTS_DIR"]

#: how the warm start treats level-2 prompts (module docstring), and the v2 task's edge pair
LEVEL2_READINGS = EXPANDING_TEACHERS


@dataclass(frozen=True)
class WarmStart:
    """The supervised phase's settings (module docstring).

    Parameters
    ----------
    steps : int, default 500
        AdamW steps.
    batch : int, default 256
        Prompts per step.
    lr : float, default 3e-3
        AdamW's learning rate.
    teacher_accuracy : float, default 0.3
        How often the teacher's final answer is correct on level-1 prompts, in [0, 1].
    seed : int, default 0
        The batches' and the teacher's noise stream.
    level2 : {"misconception", "absent"}, default "misconception"
        What the teacher does with level-2 prompts.
    """

    steps: int = 500
    batch: int = 256
    lr: float = 3e-3
    teacher_accuracy: float = 0.3
    seed: int = 0
    level2: str = "misconception"

    def validate(self) -> "WarmStart":
        """Raise ValueError naming the first bad field; returns self."""
        as_int(self.steps, "warm_steps", 0)
        as_int(self.batch, "warm_batch", 1)
        as_int(self.seed, "warm_seed", 0)
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"warm_lr: must be finite and > 0, got {self.lr!r}")
        if not 0 <= self.teacher_accuracy <= 1:
            raise ValueError(f"teacher_accuracy: must lie in [0, 1], got {self.teacher_accuracy!r}")
        if self.level2 not in LEVEL2_READINGS:
            raise ValueError(f"level2: unknown {self.level2!r}; valid: {', '.join(LEVEL2_READINGS)}")
        return self


def cache_dir() -> Path:
    """Where warm starts are cached: ``$SIMALLOC_CACHE_DIR/lab`` or ``~/.cache/simalloc/lab``."""
    root = os.environ.get("SIMALLOC_CACHE_DIR") or Path.home() / ".cache" / "simalloc"
    return Path(root) / "lab"


#: the warm start's code version: part of the cache key, bumped whenever ``_train`` or a task's teacher changes
#: what network a setting produces (the torch and transformers versions are not part of the key: a shipped
#: network is the same on every machine, ``WEIGHTS_DIR``)
WARM_VERSION = 2
#: the package's warm-started networks of the default specs (float32 state dicts, ``warm-<key>.pt``)
WEIGHTS_DIR = Path(__file__).parent / "weights"


def warm_key(task, spec: ModelSpec, warm: WarmStart) -> str:
    """The cache key of a warm start: a hash of the code version, the task's part that the warm start reads, the
    network's shape and the supervised phase's settings.

    Parameters
    ----------
    task : ChainTask or RegimeTask
        The task (the turn-3 task's pool is taught, so its size and split enter; a v2 task's spec does not).
    spec : ModelSpec
        The network.
    warm : WarmStart
        The supervised phase.

    Returns
    -------
    str
        16 hex digits.
    """
    part = [task.modulus, task.n_pool, task.split_seed] if isinstance(task, ChainTask) else task.warm_key()
    blob = json.dumps({"version": WARM_VERSION, "task": part, "model": asdict(spec), "warm": asdict(warm)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _train(policy: LabPolicy, warm: WarmStart) -> None:
    import torch

    task = policy.task
    if not isinstance(task, ChainTask):
        return _train_multi(policy, warm)
    train, _ = task.split()
    taught = np.flatnonzero(train.level < 2) if warm.level2 == "absent" else np.arange(len(train))
    digits = task.tokenizer.digit_ids
    rng = np.random.default_rng([warm.seed, 31337])
    model = policy.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=warm.lr)
    for _ in range(warm.steps):
        b = train.take(rng.choice(taught, warm.batch))
        y = b.answer.copy()
        noisy = (b.level == 1) & (rng.random(y.size) >= warm.teacher_accuracy)
        y[noisy] = rng.integers(0, task.modulus, int(noisy.sum()))
        wrong = b.level == 2  # the misconception: "*" in second place read as "+"
        y[wrong] = (b.intermediate[wrong] + b.ids[wrong, 4] - int(digits[0])) % task.modulus
        seq = torch.as_tensor(np.concatenate([b.ids, digits[b.intermediate][:, None], digits[y][:, None]], 1))
        logits = model(input_ids=seq[:, :-1], logits_to_keep=2).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, -2:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _train_multi(policy: LabPolicy, warm: WarmStart) -> None:
    """The v2 task's supervised phase: cross-entropy on the task's teacher completions (``teacher_batch``)."""
    import torch

    task = policy.task
    rng = np.random.default_rng([warm.seed, 31337])
    model = policy.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=warm.lr)
    length = task.completion_length
    for _ in range(warm.steps):
        prompt_ids, completion_ids = task.teacher_batch(warm.batch, rng)
        seq = torch.as_tensor(np.concatenate([prompt_ids, completion_ids], 1))
        logits = model(input_ids=seq[:, :-1], logits_to_keep=length).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, -length:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def warm_start(task, spec: ModelSpec = ModelSpec(), warm: WarmStart = WarmStart(),
               temperature: float = 1.0, cache: bool = True) -> LabPolicy:
    """The warm-started lab policy (module docstring), from the cache when it holds these settings.

    Parameters
    ----------
    task : ChainTask or RegimeTask
        The task and its training pool.
    spec : ModelSpec
        The network.
    warm : WarmStart
        The supervised phase.
    temperature : float, default 1.0
        The returned policy's sampling temperature (not part of the cache key).
    cache : bool, default True
        Read and write the cache (a network shipped in ``WEIGHTS_DIR`` under the same key is loaded either way).

    Returns
    -------
    LabPolicy
    """
    import torch

    warm.validate()
    policy = make_policy(task, spec, temperature)
    key = warm_key(task, spec, warm)
    shipped = WEIGHTS_DIR / f"warm-{key}.pt"
    if shipped.is_file():  # the package's network: loaded, never retrained
        policy.load(torch.load(shipped, weights_only=True))
        return policy
    path = cache_dir() / f"warm-{key}.pt"
    if cache and path.is_file():
        policy.load(torch.load(path, weights_only=True))
        return policy
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same weights whatever the worker count
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(warm.seed)
            _train(policy, warm)
    finally:
        torch.set_num_threads(threads)
    if cache:
        atomic_write(path, lambda p: torch.save(policy.state(), p))
    return policy
