"""Rollout sampling throughput on the CPU: the ctranslate2 engine against the transformers engine.

Both engines sample the same rollout-pool workload (``basic_tasks`` prompts, ``samples`` completions each, at
temperature 0.7, at most ``max_new_tokens`` tokens) from the same model in the same run; the measure is
seconds per 1000 generated tokens (end-of-sequence tokens included), so ``ratio`` is the speed-up in tokens/s.
Engine construction (model loading, the one-time CTranslate2 conversion) is not timed. The target (>= 3x) is
the live-mode issue's; it is stated for the full size (8 tasks x 16 samples, 48 tokens).

``live_ct2_sync``: what keeping the CTranslate2 sampler on-policy costs in live training: one ``CT2Engine.sync``
(save the trained torch model, convert, load) against the baseline of sampling the workload above with CTranslate2
in the same run (ratio < 1: a sync costs more than that sampling; ``--sync-every N`` spreads it over N steps).
"""

from __future__ import annotations

import time

from .timing import row


def _per_kilotoken(engine, prompts, samples) -> tuple[float, int]:
    start = time.perf_counter()
    out = engine.generate(prompts, [samples] * len(prompts))
    seconds = time.perf_counter() - start
    tokens = sum(len(c.token_ids) for group in out for c in group)
    return 1000 * seconds / max(tokens, 1), tokens


def run(quick: bool = False) -> list[dict]:
    from simalloc.live.engines import CT2Engine, TransformersEngine
    from simalloc.live.tasks import basic_tasks

    n_tasks, samples, max_new = (4, 8, 32) if quick else (8, 16, 48)
    prompts = [t.prompt() for t in basic_tasks(n_tasks, rng=0)]
    fast = CT2Engine(None, max_new_tokens=max_new, seed=0)
    fast.generate(prompts[:1], [2])  # warm-up
    slow = TransformersEngine(None, max_new_tokens=max_new, seed=0, batch_size=n_tasks * samples)
    slow.generate(prompts[:1], [2])
    base, base_tokens = _per_kilotoken(slow, prompts, samples)
    seconds, tokens = _per_kilotoken(fast, prompts, samples)
    ratio = base / seconds
    start = time.perf_counter()
    fast.generate(prompts, [samples] * len(prompts))
    sample_seconds = time.perf_counter() - start
    sync_seconds = fast.sync(slow.model, 1)  # the transformers engine's model: the torch policy live training trains
    n_params = sum(p.numel() for p in slow.model.parameters())
    return [row("live_ct2_per_1k_tok", tokens, seconds, base, ">= 3x transformers tokens/s",
                None if quick else ratio >= 3,
                f"baseline: transformers engine, same prompts ({base_tokens} tokens); "
                f"{1000 / seconds:.0f} vs {1000 / base:.0f} tokens/s"),
            row("live_ct2_sync", n_params, sync_seconds, sample_seconds, "report (the cost of --sync-every 1)", None,
                f"one sync of {n_params / 1e6:.0f}M parameters vs sampling {len(prompts)} x {samples} rollouts with "
                "CTranslate2 in the same run")]
