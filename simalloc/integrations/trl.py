"""Per-prompt group sizes in TRL's ``GRPOTrainer`` through its ``rollout_func`` hook, without subclassing it.

What TRL allows (read in TRL 1.16.0, ``trl/trainer/grpo_trainer.py``): the group size is fixed by
``num_generations`` (``RepeatSampler`` repeats every prompt that many times; advantages use
``rewards.view(-1, num_generations)``), but the baseline is NaN-aware: a completion for which every reward
function returns None is "unscorable", left out of its group's mean and std (``nanmean``/``nanstd``) and given
advantage 0. And a ``rollout_func`` may return an ``env_mask`` per completion that zeroes its tokens in the loss.

So the least invasive reading: set ``num_generations`` to the largest group you allow (G_max); ``AllocatedRollout``
(the ``rollout_func``) draws a pilot of ``k0`` per prompt, grades it, lets the planner split the extra budget
(at most G_max - k0 each), draws the extra completions, and fills each prompt's remaining rows with one-token
placeholders (``env_mask`` 0, ``simalloc_used`` False); ``masked_reward`` wraps each reward function to return
None for them. TRL then normalises every prompt over its own n_i real completions. Only sum(n_i) completions are
generated; the placeholders cost one token of forward pass each in the loss computation.

Supported: TRL >= 1.10 (``rollout_func`` with ``env_mask`` and the NaN-aware baseline); tested with 1.16.0.
Differences to know (TRL 1.16's ``_compute_loss``): ``loss_type="grpo"`` averages per-sequence means over every row
and ``"dr_grpo"`` divides by rows x ``max_completion_length``, so placeholder rows (loss 0) count in the
denominator: the step is scaled by sum(n_i) / (prompts x G_max), like a smaller learning rate; ``"bnpo"`` divides by
the real tokens only. With ``beta > 0`` the placeholders' tokens are masked out of the KL term too (env_mask).
"""

from __future__ import annotations

import numpy as np

__all__ = ["AllocatedRollout", "masked_reward", "transformers_generator", "USED_KEY"]

#: the extra field that marks a real completion (False: a placeholder row beyond the prompt's group size)
USED_KEY = "simalloc_used"


def masked_reward(func):
    """``func`` (a TRL reward function) returning None for placeholder rows, so TRL leaves them out of each
    group's baseline and gives them advantage 0.

    Parameters
    ----------
    func : callable
        ``func(prompts, completions, **kwargs) -> list of float``.

    Returns
    -------
    callable
        The same signature, ``__name__`` kept (TRL logs rewards by it).
    """

    def wrapped(prompts, completions, **kwargs):
        used = kwargs.get(USED_KEY)
        out = func(prompts, completions, **kwargs)
        if used is None:
            return out
        return [r if u else None for r, u in zip(out, used)]

    wrapped.__name__ = getattr(func, "__name__", "reward")
    return wrapped


def transformers_generator(trainer_model_getter, tokenizer, *, max_new_tokens: int, temperature: float = 1.0):
    """A ``generate`` for ``AllocatedRollout`` that samples from a transformers model on its own device.

    Parameters
    ----------
    trainer_model_getter : callable
        Returns the model to sample from (e.g. ``lambda: trainer.model``: the current policy).
    tokenizer : transformers tokenizer
        Its tokenizer (with a chat template for conversational prompts).
    max_new_tokens : int
        Tokens per completion at most.
    temperature : float, default 1.0
        Sampling temperature.

    Returns
    -------
    callable
        ``generate(prompts, counts) -> list of list of (prompt_ids, completion_ids)``.
    """
    import torch

    def encode(prompt):
        if isinstance(prompt, list):  # conversational
            text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        else:
            text = prompt
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(prompts, counts):
        model = trainer_model_getter()
        out = []
        for prompt, k in zip(prompts, counts):
            ids = encode(prompt)
            if k == 0:
                out.append([])
                continue
            x = torch.tensor([ids] * int(k), device=model.device)
            with torch.no_grad():
                gen = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=True,
                                     temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                                     pad_token_id=tokenizer.pad_token_id)
            rows = []
            for seq in gen[:, len(ids):].tolist():
                if tokenizer.eos_token_id in seq:
                    seq = seq[:seq.index(tokenizer.eos_token_id) + 1]
                rows.append((ids, seq))
            out.append(rows)
        return out

    return generate


class AllocatedRollout:
    """TRL ``rollout_func`` with per-prompt group sizes chosen by a planner (module docstring).

    Parameters
    ----------
    generate : callable
        ``generate(prompts, counts) -> list of list of (prompt_ids, completion_ids)``: counts[j] completions of
        prompts[j] (``transformers_generator``, or your vLLM client).
    score : callable
        ``score(prompt, completion_text) -> float``: the pilot's reward (the same rule as your reward function;
        rollout_func sees only prompts, so look the reference answer up by prompt).
    tokenizer : transformers tokenizer
        Decodes completions for ``score``; its EOS is the placeholder token.
    k0 : int
        Pilot completions per prompt, >= 1.
    extra_per_prompt : float
        Extra completions per prompt on average (the step's budget is this times the prompts, rounded).
    allocator : str, default "hora"
        A registered allocator.
    planner : simalloc.Planner, optional
        Allocate through it (and let it observe each step's totals, keyed by prompt text).
    history_prior : bool, default False
        With a planner: each prompt's history as the prior.
    threshold : float, default 0.5
        A completion succeeds when score > threshold.
    rng : int or Generator, optional
        The allocator's ties.

    Attributes
    ----------
    last_sizes : ndarray of int
        The group sizes of the last call, one per prompt (what TRL then normalises over).
    """

    def __init__(self, generate, score, tokenizer, *, k0: int, extra_per_prompt: float, allocator: str = "hora",
                 planner=None, history_prior: bool = False, threshold: float = 0.5, rng=None):
        from ..allocators import get_allocator
        from ..seeding import as_generator

        if isinstance(k0, bool) or not isinstance(k0, (int, np.integer)) or k0 < 1:
            raise ValueError(f"k0: expected an integer >= 1 (pilot completions per prompt), got {k0!r}")
        if not np.isfinite(extra_per_prompt) or extra_per_prompt < 0:
            raise ValueError(f"extra_per_prompt: expected a finite number >= 0, got {extra_per_prompt!r}")
        get_allocator(allocator)
        self.generate, self.score, self.tokenizer = generate, score, tokenizer
        self.k0, self.extra_per_prompt, self.allocator = int(k0), float(extra_per_prompt), allocator
        self.planner, self.history_prior, self.threshold = planner, history_prior, float(threshold)
        self.rng = as_generator(rng)
        self.last_sizes = np.empty(0, dtype=np.int64)

    def _successes(self, prompts, groups) -> np.ndarray:
        """Completions scoring above the threshold, per prompt (each completion graded once)."""
        return np.array([sum(self.score(p, self.tokenizer.decode(c, skip_special_tokens=True)) > self.threshold
                             for _, c in rows) for p, rows in zip(prompts, groups)], dtype=np.int64)

    @staticmethod
    def _key(prompt):
        return prompt if isinstance(prompt, str) else repr(prompt)

    def __call__(self, prompts, trainer) -> dict:
        """Prompts as TRL passes them (each repeated ``trainer.num_generations`` times, consecutively) in; a dict
        with prompt_ids, completion_ids, logprobs (None), env_mask and ``USED_KEY`` out, one row per input row."""
        from .. import allocate

        g = int(trainer.num_generations if trainer.model.training else trainer.num_generations_eval)
        if len(prompts) % g:
            raise ValueError(f"prompts: expected blocks of num_generations={g} repeated prompts, got {len(prompts)}")
        unique = [prompts[i] for i in range(0, len(prompts), g)]
        if g < self.k0:
            raise ValueError(f"k0: the pilot ({self.k0}) exceeds num_generations ({g}), the largest group")
        m = len(unique)
        pilot = self.generate(unique, [self.k0] * m)
        s = self._successes(unique, pilot)
        budget = int(min(round(self.extra_per_prompt * m), m * (g - self.k0)))
        keys = [self._key(p) for p in unique]
        if self.planner is not None:
            extra_n = self.planner.allocate(keys, s, self.k0, budget, allocator=self.allocator,
                                            history_prior=self.history_prior, rng=self.rng, cap=g - self.k0)
        else:
            extra_n = allocate(self.allocator, s, self.k0, budget, rng=self.rng, cap=g - self.k0)
        extra = self.generate(unique, extra_n.tolist())
        eos = self.tokenizer.eos_token_id
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": None, "env_mask": [], USED_KEY: []}
        for j in range(m):
            rows = list(pilot[j]) + list(extra[j])
            for prompt_ids, comp in rows:
                out["prompt_ids"].append(list(prompt_ids))
                out["completion_ids"].append(list(comp))
                out["env_mask"].append([1] * len(comp))
                out[USED_KEY].append(True)
            for _ in range(g - len(rows)):
                out["prompt_ids"].append(list(rows[0][0]))
                out["completion_ids"].append([eos])
                out["env_mask"].append([0])
                out[USED_KEY].append(False)
        self.last_sizes = self.k0 + extra_n
        if self.planner is not None:  # a prompt drawn twice in one batch: its step totals summed
            totals = s + self._successes(unique, extra)
            agg: dict = {}
            for key, s_j, n_j in zip(keys, totals.tolist(), self.last_sizes.tolist()):
                a = agg.setdefault(key, [0, 0])
                a[0] += s_j
                a[1] += n_j
            self.planner.observe(list(agg), [a[0] for a in agg.values()], [a[1] for a in agg.values()])
            self.planner.end_step()
        return out
