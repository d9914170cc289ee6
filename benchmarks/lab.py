"""The lab's speed on one core: sampling, the GRPO step and a whole run, against the live mode on the same prompts.

Rows (torch single-threaded throughout, the warm start built before timing):

- ``lab_sample``: 64 prompts x 16 completions with the lab's sampler (prompt key-value cache, two tokens) against
  transformers' ``generate`` on the same network and prompts (``do_sample``, ``top_k=0``, two new tokens);
- ``lab_vs_live_sample``: the same 1,024 rollouts against the live transformers engine (SmolLM2-135M) writing
  two-token completions for the same prompts as text, per rollout;
- ``lab_vs_live_step``: the GRPO step (``GRPOTrainer.step``, the same code) per rollout: the lab network on 64 x 16
  against SmolLM2-135M on 2 prompts x 4 two-token completions (the live model's step is minutes at full size);
- ``lab_run``: one arm, one seed, 200 steps of 64 prompts x 16 rollouts (``--quick``: 20 steps) with recording, the
  issue's target (<= 120 s on one core); its baseline is the same run priced at the live rows' per-rollout costs.
"""

from __future__ import annotations

import time

from .timing import best_of, row


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
            f"GRPO step seconds per rollout; baseline: the same GRPOTrainer on SmolLM2-135M, 2 x 4 two-token "
            f"completions ({1 / ours_step:.0f} vs {1 / live_step:.1f} rollouts/s)"),
    ]


def run(quick: bool = False) -> list[dict]:
    import numpy as np
    import torch

    from simalloc.lab import LabConfig, make_trainer, sample, train_lab, warm_start

    torch.set_num_threads(1)
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
    return rows
