"""A GRPO step in torch with per-prompt group sizes, in TRL's vocabulary.

Per token: log-probs under the policy (logits / temperature, as TRL), importance ratio against the log-probs
before the step, clipped objective min(ratio A, clip(ratio, 1 - epsilon, 1 + epsilon) A), optional KL to a
reference model (k3 estimator, coefficient ``beta``). Advantages come from ``simalloc.estimators.advantages``
with variable group sizes (a group of size 1 or without spread gets 0). Aggregation: each prompt weighs
1/G_i (HORA) and the batch averages over prompts; within a completion, ``loss_type="grpo"`` averages over
its tokens, "dr_grpo" and "rloo" sum them and divide by ``max_completion_length`` (Dr.GRPO's constant).
``scale_rewards`` ("group" | "none") is TRL's switch for dividing by the group std (grpo only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..estimators.advantages import group_advantages

__all__ = ["GRPOConfig", "GRPOTrainer", "grpo_advantages", "trl_advantages"]


@dataclass
class GRPOConfig:
    learning_rate: float = 1e-5
    epsilon: float = 0.2
    beta: float = 0.0
    loss_type: str = "dr_grpo"
    scale_rewards: str = "group"
    max_completion_length: int = 48
    max_grad_norm: float = 1.0
    temperature: float = 0.7
    trainable: str = "all"  # "all" or "last:<n>" (the last n decoder blocks, final norm and lm_head)
    seed: int = 0

    def validate(self):
        if self.loss_type not in ("grpo", "dr_grpo", "rloo"):
            raise ValueError(f"loss_type: unknown {self.loss_type!r}; valid: dr_grpo, grpo, rloo")
        if self.scale_rewards not in ("group", "none"):
            raise ValueError(f"scale_rewards: unknown {self.scale_rewards!r}; valid: group, none")
        if not 0 < self.epsilon < 1 or self.beta < 0 or not self.learning_rate > 0:
            raise ValueError("epsilon must lie in (0, 1), beta >= 0, learning_rate > 0")
        if self.trainable != "all" and not (self.trainable.startswith("last:") and self.trainable[5:].isdigit()):
            raise ValueError(f"trainable: 'all' or 'last:<n>', got {self.trainable!r}")
        return self


def trl_advantages(rewards, num_generations: int, scale_rewards: bool = True):
    """TRL's formula for equal groups: (r - group mean) / (group std + 1e-4), std Bessel-corrected (torch.std)."""
    import torch

    r = torch.as_tensor(rewards, dtype=torch.float64)
    grouped = r.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat_interleave(num_generations)
    # one generation per group: torch.std is undefined there; TRL's advantage is then 0 (r - mean = 0), not NaN
    spread = grouped.std(dim=1) if num_generations > 1 else torch.zeros(grouped.shape[0], dtype=r.dtype)
    std = spread.repeat_interleave(num_generations)
    adv = r - mean
    return (adv / (std + 1e-4) if scale_rewards else adv).numpy()


def grpo_advantages(rewards: list[list[float]], loss_type: str = "grpo", scale_rewards: str = "group") -> list[np.ndarray]:
    """Advantages per group of variable size (``simalloc.estimators.advantages``); grpo with
    scale_rewards="none" is r - mean, as TRL."""
    sizes = [len(g) for g in rewards]
    flat = np.concatenate([np.asarray(g, dtype=float) for g in rewards]) if sum(sizes) else np.zeros(0)
    kind = "dr_grpo" if (loss_type == "grpo" and scale_rewards == "none") else loss_type
    adv = group_advantages(flat, sizes, kind) if flat.size else flat
    out, pos = [], 0
    for s in sizes:
        out.append(adv[pos:pos + s])
        pos += s
    return out


class GRPOTrainer:
    def __init__(self, model, tokenizer, config: GRPOConfig, ref_model=None):
        import torch

        self.config = config.validate()
        self.model, self.tokenizer, self.ref_model = model, tokenizer, ref_model
        if config.beta > 0 and ref_model is None:
            raise ValueError("beta: a KL penalty needs ref_model")
        for p in model.parameters():
            p.requires_grad_(config.trainable == "all")
        if config.trainable != "all":
            n = int(config.trainable[5:])
            blocks = model.model.layers[-n:] if n else []
            for mod in [*blocks, model.model.norm, model.lm_head]:
                for p in mod.parameters():
                    p.requires_grad_(True)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate)

    def trainable_state(self) -> dict:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _token_logps(self, model, prompt_ids, completion_ids):
        """Per-token log-probs of each completion (list of 1-D tensors), logits / temperature."""
        import torch

        seqs = [torch.tensor(p + c) for p, c in zip(prompt_ids, completion_ids)]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):  # left padding keeps the completions aligned at the end
            ids[i, width - len(s):] = s
            mask[i, width - len(s):] = 1
        k = max(len(c) for c in completion_ids)
        # only the logits that predict completion tokens: the vocabulary (49k for SmolLM2) makes the rest costly
        kept = model(input_ids=ids, attention_mask=mask, logits_to_keep=k + 1).logits[:, :-1] / self.config.temperature
        logp = torch.log_softmax(kept.float(), dim=-1).gather(-1, ids[:, -k:, None]).squeeze(-1)
        return [logp[i, k - len(c):] for i, c in enumerate(completion_ids)]

    def advantages(self, rewards: list[list[float]]) -> list[np.ndarray]:
        return grpo_advantages(rewards, self.config.loss_type, self.config.scale_rewards)

    def loss(self, prompt_ids, groups, rewards, old_logps=None):
        """The clipped surrogate loss for groups of completion token ids with rewards (and its pieces)."""
        import torch

        advs = self.advantages(rewards)
        flat_prompts = [prompt_ids[i] for i, g in enumerate(groups) for _ in g]
        flat_comps = [c for g in groups for c in g]
        weights = [1.0 / (len(groups) * len(g)) for g in groups for _ in g]  # each prompt counts equally
        flat_adv = [float(a) for g in advs for a in g]
        if not flat_comps:
            return torch.zeros((), requires_grad=True), old_logps
        new = self._token_logps(self.model, flat_prompts, flat_comps)
        if old_logps is None:
            old_logps = [x.detach() for x in new]
        ref = None
        if self.config.beta > 0:
            with torch.no_grad():
                ref = self._token_logps(self.ref_model, flat_prompts, flat_comps)
        total = 0.0
        eps = self.config.epsilon
        for j, (lp, olp) in enumerate(zip(new, old_logps)):
            ratio = torch.exp(lp - olp)
            a = flat_adv[j]
            per_token = -torch.minimum(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
            if ref is not None:
                d = ref[j] - lp
                per_token = per_token + self.config.beta * (torch.exp(d) - d - 1)
            agg = per_token.mean() if self.config.loss_type == "grpo" else per_token.sum() / self.config.max_completion_length
            total = total + weights[j] * agg
        return total, old_logps

    def step(self, prompt_ids, groups, rewards) -> dict:
        """One optimizer step on a batch: prompt token ids (n_prompts,), groups of completion token ids, rewards."""
        import torch

        if len(prompt_ids) != len(groups) or len(groups) != len(rewards):
            raise ValueError("prompt_ids, groups, rewards: one entry per prompt")
        start = time.perf_counter()
        self.model.train()
        # one optimization step per batch (TRL's num_iterations = 1): the old log-probs are the current ones,
        # detached, so the ratio is 1 in value and only its gradient acts
        loss, _ = self.loss(prompt_ids, groups, rewards)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)) if self.params else 0.0
        self.optimizer.step()
        return {"loss": loss.item(), "grad_norm": grad_norm, "step_seconds": time.perf_counter() - start}
