"""One process of the 2-process TRL run (``test_trl_multiprocess.py`` launches two with ``torchrun
--nproc_per_node 2``; accelerate then runs multi-CPU with gloo): GRPOTrainer trains 2 steps with planner-chosen
group sizes on a generation batch whose middle group straddles the two processes, with pilot + allocation, a
multi-round rule, a selector, and TRL's own server-mode vLLM engine (a stand-in server) in turn; each process
writes what it saw to ``<out>/rank<r>-<mode>.json``.

Usage: ``python trl_two_process.py MODEL_DIR OUT_DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

G, K0, PER_DEVICE = 4, 2, 6  # 2 processes x 6 rows = 3 groups of 4: group 1 has rows 4-7, split 2 / 2


def score(prompt, text):
    return 1.0 if "yes" in text.split() else 0.0


def echo_token(prompt_ids) -> int:
    """The stand-in vLLM server's first completion token for a prompt: a function of the whole prompt (the three
    prompts give 5, 7, 12), so a completion handed to the wrong prompt's row is seen."""
    return 4 + sum(prompt_ids) % 9


class EchoServer:
    """A stand-in for TRL's ``VLLMClient`` (what ``vllm_mode="server"`` talks to): ``generate`` returns ``n``
    completions ``[echo_token(prompt), eos]`` per prompt with logprobs -0.5, -0.25."""

    def generate(self, prompts, features=None, n=1, **sampling):
        comp = [[echo_token(p), 1] for p in prompts for _ in range(n)]
        return {"prompt_ids": prompts, "completion_ids": comp, "logprobs": [[[-0.5], [-0.25]] for _ in comp],
                "logprob_token_ids": None}


def server_engine(accelerator):
    """TRL's own ``VLLMGeneration`` in server mode (its ``generate`` runs unchanged: gather the prompts of every
    process, generate on process 0, broadcast, slice ``[r L, (r + 1) L)``) talking to ``EchoServer``."""
    from trl.generation.vllm_generation import VLLMGeneration

    engine = VLLMGeneration.__new__(VLLMGeneration)  # __init__ would connect to a server
    engine.__dict__.update(mode="server", accelerator=accelerator, vllm_client=EchoServer(), temperature=1.0,
                           top_p=1.0, top_k=0, min_p=0.0, repetition_penalty=1.0, max_completion_length=3,
                           logprobs=0, structured_outputs_regex=None, generation_kwargs={}, enable_sleep_mode=False)
    return engine


def main(model_dir: str, out_dir: str) -> None:
    """Train 2 steps in this process four times (pilot + HORA; reinforce_ada_pos; the mopps selector choosing 2 of
    3 prompts; pilot + HORA through ``vllm_generator`` on TRL's server-mode engine) and write
    ``<out_dir>/rank<r>-<mode>.json`` (the libraries are imported here, so that the main suite's doctest
    collection can import this file without the trl extra)."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from simalloc import Planner
    from simalloc.integrations.trl import (
        USED_KEY,
        AllocatedRollout,
        masked_reward,
        transformers_generator,
        vllm_generator,
    )

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = datasets.Dataset.from_dict({"prompt": ["what is two plus two", "what is three plus two",
                                                     "what is four plus five"] * 2})
    modes = {"allocate": ("uniform", {}),
             "rounds": ("uniform", {"rule": "reinforce_ada_pos",
                                    "rule_options": {"round_repeat": 2, "max_rounds": 2, "keep": 4}}),
             "select": ("mopps", {"select_n": 2}),
             "vllm_server": ("uniform", {})}
    for mode, (selector, extra) in modes.items():
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        planner = Planner(selector, decay=0.5)
        holder: dict = {}
        rewards: list = []

        def reward_yes(prompts, completions, **kwargs):
            out = [score(p, c) for p, c in zip(prompts, completions)]
            rewards.append(out)
            return out

        if mode == "vllm_server":  # TRL's server-mode engine; the trainer itself keeps use_vllm=False
            view = SimpleNamespace(use_vllm=True, vllm_generation=None, accelerator=None)
            generate = vllm_generator(lambda: view, tokenizer)
        else:
            generate = transformers_generator(lambda: holder["t"].model, tokenizer, max_new_tokens=3)
        rollout = AllocatedRollout(generate, score, tokenizer, k0=K0, extra_per_prompt=1.0, planner=planner,
                                   history_prior=True, rng=0, **extra)
        returned: list = []
        call = rollout.__call__

        def recording(prompts, trainer, call=call, returned=returned):
            out = call(prompts, trainer)
            returned.append({"prompt_ids": out["prompt_ids"], "completion_ids": out["completion_ids"]})
            return out
        args = GRPOConfig(output_dir=str(Path(out_dir) / f"trainer-{mode}"), num_generations=G,
                          per_device_train_batch_size=PER_DEVICE, max_steps=2, max_completion_length=3,
                          learning_rate=1e-2, beta=0.0, report_to=[], save_strategy="no", use_cpu=True,
                          bf16=False, seed=0, shuffle_dataset=False)
        trainer = GRPOTrainer(model=model, reward_funcs=[masked_reward(reward_yes)], args=args,
                              train_dataset=dataset, processing_class=tokenizer, rollout_func=recording)
        holder["t"] = trainer
        if mode == "vllm_server":
            view.vllm_generation, view.accelerator = server_engine(trainer.accelerator), trainer.accelerator
        seen = []
        inner = trainer._generate_and_score_completions

        def spy(inputs, inner=inner, rollout=rollout, seen=seen):
            out = inner(inputs)
            seen.append({"advantages": out["advantages"].tolist(), "sizes": rollout.last_sizes.tolist(),
                         "used": [bool(x[USED_KEY]) for x in inputs], "prompts": [x["prompt"] for x in inputs]})
            return out

        trainer._generate_and_score_completions = spy
        trainer.train()
        rank = trainer.accelerator.process_index
        for step, r, out in zip(seen, rewards, returned):
            step["rewards"] = [float(x) for x in r]
            step.update(out)
        record = {"rank": rank, "world": trainer.accelerator.num_processes, "steps": seen,
                  "global_step": trainer.state.global_step, "planner": planner.state_dict()}
        Path(out_dir, f"rank{rank}-{mode}.json").write_text(json.dumps(record))
        if torch.distributed.is_initialized():
            torch.distributed.barrier()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
