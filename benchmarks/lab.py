"""The lab's speed on one core: sampling, the GRPO step and a whole run, against the live mode on the same prompts.

Rows (torch single-threaded throughout, the warm start built before timing):

- ``lab_sample``: 64 prompts x 16 completions with the lab's sampler (prompt key-value cache, two tokens) against
  transformers' ``generate`` on the same network and prompts (``do_sample``, ``top_k=0``, two new tokens);
- ``lab_vs_live_sample``: the same 1,024 rollouts against the live transformers engine (SmolLM2-135M) writing
  two-token completions for the same prompts as text, per rollout;
- ``lab_vs_live_step``: the GRPO step (``GRPOTrainer.step``; the lab's subclass computes each prompt once per
  group) per rollout: the lab network on 64 x 16 against SmolLM2-135M on 2 prompts x 4 two-token completions (the
  live model's step is minutes at full size);
- ``lab_run``: one arm, one seed, 200 steps of 64 prompts x 16 rollouts (``--quick``: 20 steps) with recording, the
  issue's target (<= 120 s on one core); its baseline is the same run priced at the live rows' per-rollout costs.
- ``lab_batched``: rollouts per second per core of R = 8 runs (uniform and HORA, four seeds each) trained together
  by ``simalloc.lab.batched.train_lab_batched`` against today's one-run loop (``train_lab`` with the uncached
  ``GRPOTrainer``, the transformers sampler and enumeration, per-group SNR gradients: ``_todays_loop``), on the
  same runs one at a time; default LabConfig (64 prompts x 16, recording every 10 steps, SNR every 20), 40 steps
  (``--quick``: R = 2, 10 steps, 16 prompts x 8, 128 eval prompts). Target >= 3 (issue 35) at full size. CPU seconds
  (``time.process_time``, torch single-threaded), so other processes on the machine do not count; the note gives
  where the batched run's time went.
- ``lab_cached``: one run with prompt caching (``train_lab`` today: ``LabGRPOTrainer``) against today's loop.
"""

from __future__ import annotations

import contextlib
import time

from .timing import best_of, row


@contextlib.contextmanager
def _todays_loop():
    """``train_lab`` as it was before prompt caching: the live ``GRPOTrainer`` (every rollout runs prompt and
    completion; per-group SNR gradients one group at a time) behind ``make_trainer``."""
    import simalloc.lab.step as step
    from simalloc.live.grpo import GRPOTrainer

    cached = step.lab_trainer
    step.lab_trainer = lambda policy, config: GRPOTrainer(policy.model, policy.tokenizer, config)
    try:
        yield
    finally:
        step.lab_trainer = cached


def _batched_rows(quick: bool) -> list[dict]:
    import time

    from simalloc.lab import LabConfig, train_lab
    from simalloc.lab.batched import train_lab_batched

    size = dict(steps=10, n_prompts=16, group_size=8, phase_b_shards=4, n_eval=128) if quick else dict(steps=40)
    cfg = LabConfig(**size)
    n_runs = 2 if quick else 8
    runs = [("uniform" if i % 2 == 0 else "hora", 1000 + i // 2, i // 2) for i in range(n_runs)]
    singles = runs[:2]  # one uniform and one HORA run of today's loop: its cost per run
    train_lab(LabConfig(steps=1, n_prompts=16, group_size=8), "uniform", 0)  # imports, warm start, numba caches
    start = time.process_time()
    with _todays_loop():
        for arm, seed, rep in singles:
            train_lab(cfg, arm, seed, rep=rep)
    today = (time.process_time() - start) / len(singles)
    start = time.process_time()
    for arm, seed, rep in singles:
        train_lab(cfg, arm, seed, rep=rep)
    cached = (time.process_time() - start) / len(singles)
    timings = {}
    start = time.process_time()
    train_lab_batched(cfg, runs, timings=timings)
    batched = (time.process_time() - start) / n_runs
    rollouts = cfg.steps * cfg.n_prompts * cfg.group_size
    parts = dict(timings)
    parts["loop (Python, numpy, recorder)"] = batched * n_runs - sum(timings.values())
    where = ", ".join(f"{k} {v / n_runs / cfg.steps * 1e3:.1f}" for k, v in parts.items())
    size_note = (f"{'QUICK: ' if quick else ''}{cfg.n_prompts} prompts x {cfg.group_size}, {cfg.steps} steps, "
                 f"R = {n_runs}")
    return [
        row("lab_batched", n_runs * rollouts, batched, today, ">= 3x today's one-run loop at full size (issue 35)",
            None if quick else today / batched >= 3,
            f"{size_note}; CPU s per run, torch single-threaded; {rollouts / batched:.0f} vs {rollouts / today:.0f} "
            f"rollouts/s per core; batched ms per run-step: {where}"),
        row("lab_cached", rollouts, cached, today, "reported", None,
            f"{size_note}; one run with prompt caching (LabGRPOTrainer) against today's loop, CPU s per run"),
    ]


def _live_rows(prompts_text, policy_rollouts: int, lab_sample_s: float, lab_step_s: float, quick: bool):
    from simalloc.live.engines import TransformersEngine
    from simalloc.live.grpo import GRPOConfig, GRPOTrainer

    engine = TransformersEngine(None, max_new_tokens=2, seed=0, batch_size=256)
    text = prompts_text[:16] if quick else prompts_text
    n = 4 if quick else 16
    start = time.perf_counter()
    out = engine.generate(text, [n] * len(text))
    live_sample = (time.perf_counter() - start) / (len(text) * n)
    trainer = GRPOTrainer(engine.model, engine.tokenizer, GRPOConfig(max_completion_length=2))
    ids = engine.encode_prompts(text[:2])
    groups = [[c.token_ids for c in g[:4]] for g in out[:2]]
    rewards = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]]
    start = time.perf_counter()
    trainer.step(ids, groups, rewards)
    live_step = (time.perf_counter() - start) / 8
    ours_sample, ours_step = lab_sample_s / policy_rollouts, lab_step_s / policy_rollouts
    return live_sample, live_step, [
        row("lab_vs_live_sample", policy_rollouts, ours_sample, live_sample, "reported", None,
            f"seconds per rollout; baseline: live transformers engine (SmolLM2-135M), the same prompts as text, "
            f"two new tokens ({1 / ours_sample:.0f} vs {1 / live_sample:.0f} rollouts/s)"),
        row("lab_vs_live_step", policy_rollouts, ours_step, live_step, "reported", None,
            f"GRPO step seconds per rollout; baseline: GRPOTrainer (uncached) on SmolLM2-135M, 2 x 4 two-token "
            f"completions ({1 / ours_step:.0f} vs {1 / live_step:.1f} rollouts/s)"),
    ]


def run(quick: bool = False) -> list[dict]:
    import numpy as np
    import torch

    from simalloc.lab import LabConfig, make_trainer, sample, train_lab, warm_start

    torch.set_num_threads(1)
    batched = _batched_rows(quick)
    cfg = LabConfig()
    policy = warm_start(cfg.build_task(), cfg.model_spec, cfg.warm, cfg.temperature)
    pool, _ = cfg.build_task().split()
    prompts = pool.take(np.arange(64))
    ids = torch.as_tensor(prompts.ids)

    def ours():
        return sample(policy, prompts, 16, rng=0)

    def generic():
        with torch.no_grad():
            policy.model.generate(input_ids=ids, do_sample=True, max_new_tokens=2, min_new_tokens=2,
                                  num_return_sequences=16, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=0)

    lab_sample_s = best_of(ours, repeat=3)
    rows = [row("lab_sample", 1024, lab_sample_s, best_of(generic, repeat=3), "reported", None,
                "baseline: transformers generate on the same network and prompts; 64 prompts x 16 completions")]
    roll = ours()
    groups = [[list(map(int, t)) for t in roll.tokens[roll.prompt == i]] for i in range(64)]
    rewards = [[float(v) for v in roll.reward[roll.prompt == i]] for i in range(64)]
    prompt_ids = [list(map(int, x)) for x in prompts.ids]
    trainer = make_trainer(policy, cfg, 0.0 + 1e-12)  # a negligible step: the timed network stays the warm start
    lab_step_s = best_of(lambda: trainer.step(prompt_ids, groups, rewards), repeat=3)
    text = [cfg.build_task().tokenizer.decode(x) for x in prompts.ids]
    live_sample, live_step, live = _live_rows(text, 1024, lab_sample_s, lab_step_s, quick)
    rows += live
    steps = 20 if quick else 200
    run_cfg = LabConfig(steps=steps)
    start = time.perf_counter()
    train_lab(run_cfg, "uniform", 0)
    seconds = time.perf_counter() - start
    priced = steps * run_cfg.n_prompts * run_cfg.group_size * (live_sample + live_step)
    rows.append(row("lab_run", steps, seconds, priced, "<= 120 s for 200 steps on one core",
                    None if quick else seconds <= 120,
                    f"one arm, one seed, 64 prompts x G = 16, recording every 10 steps, SNR every 20; "
                    f"{steps / seconds:.1f} steps/s, {steps * 1024 / seconds:.0f} rollouts/s; baseline: the same "
                    f"rollouts priced at the live rows' per-rollout sampling + step costs"))
    return batched + rows
