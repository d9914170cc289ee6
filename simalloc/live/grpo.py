"""A GRPO step in torch with per-prompt group sizes, in TRL's vocabulary.

Per token: log-probs under the policy (logits / temperature, as TRL), importance ratio against the log-probs
before the step, clipped objective min(ratio A, clip(ratio, 1 - epsilon, 1 + epsilon) A), optional KL to a
reference model (k3 estimator, coefficient ``beta``).

Advantages, as TRL computes them and independent of ``loss_type`` (TRL decouples the two): r minus its group's
mean, divided by (group std + 1e-4) for ``scale_rewards="group"`` (TRL's default), by (std of every reward in
the batch + 1e-4) for "batch", not divided for "none"; stds Bessel-corrected, groups of variable size (a group of
size 1 or without spread gets 0). ``loss_type="rloo"`` uses the leave-one-out baseline r - (sum - r)/(G - 1),
unscaled (TRL has RLOO as a separate trainer).

Aggregation: within a completion, ``loss_type="grpo"`` averages its tokens, "dr_grpo" and "rloo" sum them and
divide by ``max_completion_length`` (Dr.GRPO's constant); across completions ``aggregation="rollout"`` (TRL)
weighs every completion 1/N (N completions in the batch), "prompt" weighs each prompt's group mean equally
(1/(n_prompts G_i) per completion). They agree when every group has the same size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..estimators.advantages import group_advantages

__all__ = ["GRPOConfig", "GRPOTrainer", "grpo_advantages", "trl_advantages", "completion_weights", "SCALE_REWARDS"]

#: TRL's names for dividing advantages by a std
SCALE_REWARDS = ("group", "batch", "none")


@dataclass
class GRPOConfig:
    """Settings of the torch GRPO step, named as TRL's GRPOConfig where TRL has the setting.

    Parameters
    ----------
    learning_rate : float, default 1e-5
        AdamW's learning rate, > 0.
    epsilon : float, default 0.2
        The ratio clip: min(ratio A, clip(ratio, 1 - epsilon, 1 + epsilon) A), in (0, 1).
    beta : float, default 0.0
        The KL coefficient against ``ref_model`` (k3 estimator); 0 needs no reference model.
    loss_type : {"dr_grpo", "grpo", "rloo"}, default "dr_grpo"
        Token aggregation (module docstring); "rloo" also switches to the leave-one-out baseline.
    scale_rewards : {"group", "batch", "none"}, default "group"
        What the advantage is divided by (TRL's scale_rewards).
    max_completion_length : int, default 48
        Dr.GRPO's constant divisor of a completion's summed token losses.
    max_grad_norm : float, default 1.0
        Gradient clipping (torch.nn.utils.clip_grad_norm_).
    temperature : float, default 0.7
        Logits are divided by it before log-probs, as the rollouts were sampled.
    trainable : str, default "all"
        "all" or "last:<n>": the last n decoder blocks, the final norm and lm_head (a cheaper CPU step).
    seed : int, default 0
        Recorded with the run (torch's seed is set by the caller).
    aggregation : {"rollout", "prompt"}, default "rollout"
        Across completions: every completion 1/N (TRL) or each prompt's group mean equally.

    References
    ----------
    TRL's GRPOTrainer and GRPOConfig (huggingface/trl); DeepSeekMath, arXiv 2402.03300; Dr. GRPO,
    arXiv 2503.20783.
    """

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
    aggregation: str = "rollout"  # TRL: every completion 1/N; "prompt": each prompt's group mean 1/n_prompts

    def validate(self) -> "GRPOConfig":
        """Raise ValueError naming the first bad field; returns self."""
        if self.loss_type not in ("grpo", "dr_grpo", "rloo"):
            raise ValueError(f"loss_type: unknown {self.loss_type!r}; valid: dr_grpo, grpo, rloo")
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards: unknown {self.scale_rewards!r}; valid: {', '.join(SCALE_REWARDS)}")
        if self.aggregation not in ("rollout", "prompt"):
            raise ValueError(f"aggregation: unknown {self.aggregation!r}; valid: rollout, prompt")
        if not 0 < self.epsilon < 1:
            raise ValueError(f"epsilon: must lie in (0, 1), got {self.epsilon!r}")
        if not self.beta >= 0:
            raise ValueError(f"beta: must be >= 0, got {self.beta!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: must be > 0, got {self.learning_rate!r}")
        if self.trainable != "all" and not (self.trainable.startswith("last:") and self.trainable[5:].isdigit()):
            raise ValueError(f"trainable: 'all' or 'last:<n>', got {self.trainable!r}")
        return self


def trl_advantages(rewards, num_generations: int, scale_rewards="group"):
    """TRL's formula for equal groups, transcribed in torch as a test oracle: (r - group mean) / (std + 1e-4) with
    the group std ("group" or True), the batch std ("batch") or no division ("none" or False); torch.std is
    Bessel-corrected; one generation per group gives 0 (TRL's zero std there).

    Parameters
    ----------
    rewards : array_like
        Flat rewards, ``num_generations`` per prompt in order.
    num_generations : int
        The group size G.
    scale_rewards : {"group", "batch", "none"} or bool, default "group"
        TRL's setting (True and False are its older spellings).

    Returns
    -------
    ndarray of float64
        The advantages, flat.
    """
    import torch

    scale = {True: "group", False: "none"}.get(scale_rewards, scale_rewards)
    r = torch.as_tensor(rewards, dtype=torch.float64)
    grouped = r.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat_interleave(num_generations)
    adv = r - mean
    if scale == "none":
        return adv.numpy()
    if scale == "batch":
        std = r.std().expand_as(r) if r.numel() > 1 else torch.zeros_like(r)
    else:
        # one generation per group: torch.std is undefined there; TRL's advantage is then 0 (r - mean = 0), not NaN
        spread = grouped.std(dim=1) if num_generations > 1 else torch.zeros(grouped.shape[0], dtype=r.dtype)
        std = spread.repeat_interleave(num_generations)
    return (adv / (std + 1e-4)).numpy()


def grpo_advantages(
    rewards: list[list[float]], loss_type: str = "grpo", scale_rewards: str = "group"
) -> list[np.ndarray]:
    """TRL's advantages per group of variable size (module docstring): ``scale_rewards`` decides the division
    for every loss type but "rloo" (leave-one-out, unscaled).

    Parameters
    ----------
    rewards : list of list of float
        One list of rewards per prompt (groups may differ in size).
    loss_type : {"grpo", "dr_grpo", "rloo"}, default "grpo"
        "rloo" uses the leave-one-out baseline.
    scale_rewards : {"group", "batch", "none"}, default "group"
        TRL's scaling.

    Returns
    -------
    list of ndarray
        One advantage per reward, in the groups' shape.
    """
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards: unknown {scale_rewards!r}; valid: {', '.join(SCALE_REWARDS)}")
    sizes = [len(g) for g in rewards]
    flat = np.concatenate([np.asarray(g, dtype=float) for g in rewards]) if sum(sizes) else np.zeros(0)
    filled = [s for s in sizes if s]  # a prompt given no rollout has no group (group_advantages refuses size 0)
    if not flat.size:
        adv = flat
    elif loss_type == "rloo":
        adv = group_advantages(flat, filled, "rloo")
    elif scale_rewards == "group":
        adv = group_advantages(flat, filled, "grpo", eps=1e-4)
    else:
        adv = group_advantages(flat, filled, "dr_grpo")  # r - group mean
        if scale_rewards == "batch":
            adv = adv / ((flat.std(ddof=1) if flat.size > 1 else 0.0) + 1e-4)
    out, pos = [], 0
    for s in sizes:
        out.append(adv[pos : pos + s])
        pos += s
    return out


def completion_weights(group_sizes, aggregation: str = "rollout") -> list[float]:
    """Each completion's weight in the batch loss: 1/N for "rollout" (N = sum of the group sizes, TRL), or
    1/(n_prompts G_i) for "prompt" (each prompt's group mean counts equally); the weights sum to 1.

    Parameters
    ----------
    group_sizes : sequence of int
        Completions per prompt (empty groups allowed).
    aggregation : {"rollout", "prompt"}, default "rollout"
        As ``GRPOConfig.aggregation``.

    Returns
    -------
    list of float
        One weight per completion, in order.
    """
    sizes = [int(g) for g in group_sizes]
    if aggregation == "rollout":
        n_total = sum(sizes)
        return [1.0 / n_total for g in sizes for _ in range(g)]
    if aggregation == "prompt":
        used = sum(1 for g in sizes if g)
        return [1.0 / (used * g) for g in sizes for _ in range(g)]
    raise ValueError(f"aggregation: unknown {aggregation!r}; valid: rollout, prompt")


class GRPOTrainer:
    """The GRPO step on a causal language model: ``step(prompt_ids, groups, rewards)`` is one AdamW update on a
    batch whose prompts have groups of any size (the module docstring gives the loss).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The policy (trained in place).
    tokenizer : transformers.PreTrainedTokenizer
        Its tokenizer.
    config : GRPOConfig
        The step's settings (validated here).
    ref_model : transformers.PreTrainedModel, optional
        The KL reference; required when ``config.beta > 0``.

    Notes
    -----
    One optimisation step per batch (TRL's num_iterations = 1): the old log-probs are the current ones
    detached, so the ratio is 1 in value and only its gradient acts; tests check the gradient against TRL's
    formula on equal groups.
    """

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
        """A copy of the trainable parameters by name (what a checkpoint saves)."""
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _padded_logps(self, model, prompt_ids, completion_ids):
        """Per-token log-probs of the completions (logits / temperature) as an (n, k) tensor with the completions
        right-aligned (left padding), and the (n, k) mask of real completion tokens; k = the longest completion."""
        import torch

        lengths = np.array([len(p) + len(c) for p, c in zip(prompt_ids, completion_ids)])
        comp = np.array([len(c) for c in completion_ids])
        width, k = int(lengths.max()), int(comp.max())
        ids = np.full((lengths.size, width), self.tokenizer.pad_token_id, dtype=np.int64)
        for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):  # left padding aligns the completions' ends
            ids[i, width - lengths[i]:] = [*p, *c]
        dev = next(model.parameters()).device  # a policy on a GPU gets its inputs there
        attention = torch.as_tensor(np.arange(width)[None, :] >= (width - lengths)[:, None], dtype=torch.long,
                                    device=dev)
        ids = torch.as_tensor(ids, device=dev)
        # only the logits that predict completion tokens: the vocabulary (49k for SmolLM2) makes the rest costly
        kept = model(input_ids=ids, attention_mask=attention, logits_to_keep=k + 1).logits[:, :-1]
        logp = torch.log_softmax(kept.float() / self.config.temperature, dim=-1).gather(-1, ids[:, -k:, None])
        mask = torch.as_tensor(np.arange(k)[None, :] >= (k - comp)[:, None], device=dev)
        return logp.squeeze(-1), mask

    def _token_logps(self, model, prompt_ids, completion_ids):
        """Per-token log-probs of each completion (list of 1-D tensors), logits / temperature."""
        logp, mask = self._padded_logps(model, prompt_ids, completion_ids)
        k = logp.shape[1]
        return [logp[i, k - len(c):] for i, c in enumerate(completion_ids)]

    def advantages(self, rewards: list[list[float]]) -> list[np.ndarray]:
        """``grpo_advantages`` with this trainer's loss type and reward scaling."""
        return grpo_advantages(rewards, self.config.loss_type, self.config.scale_rewards)

    def group_logps(self, model, prompt_ids, groups):
        """Per-token log-probs of every completion of every group, in order, as ``_padded_logps`` returns them
        ((n, k) right-aligned, and the mask of real tokens); a subclass may compute them another way (the lab
        computes each prompt once per group: ``simalloc.lab.step.LabGRPOTrainer``)."""
        flat_prompts = [prompt_ids[i] for i, g in enumerate(groups) for _ in g]
        flat_comps = [list(c) for g in groups for c in g]
        return self._padded_logps(model, flat_prompts, flat_comps)

    def loss(self, prompt_ids, groups, rewards, old_logps=None):
        """The clipped surrogate loss for groups of completion token ids with rewards (and its pieces)."""
        import torch

        if not any(len(g) for g in groups):
            return torch.zeros((), requires_grad=True), old_logps
        new, mask = self.group_logps(self.model, prompt_ids, groups)
        ref = None
        if self.config.beta > 0:
            with torch.no_grad():
                ref, _ = self.group_logps(self.ref_model, prompt_ids, groups)
        return self.surrogate(new, mask, [len(g) for g in groups], rewards, old_logps, ref)

    def surrogate(self, new, mask, group_sizes, rewards, old_logps=None, ref=None):
        """The clipped surrogate loss from per-token log-probs (module docstring), and the old log-probs used.

        Parameters
        ----------
        new : torch.Tensor, shape (n, k)
            Per-token log-probs of the batch's n completions (groups in order), right-aligned.
        mask : torch.Tensor of bool, shape (n, k)
            The real completion tokens.
        group_sizes : sequence of int
            Completions per prompt.
        rewards : list of list of float
            One list per prompt.
        old_logps : torch.Tensor or list of torch.Tensor, optional
            Log-probs before the step (default: ``new`` detached).
        ref : torch.Tensor, shape (n, k), optional
            The reference model's log-probs (the KL term, ``beta`` > 0).

        Returns
        -------
        loss : torch.Tensor (scalar)
        old_logps : torch.Tensor, shape (n, k)
        """
        import torch

        advs = self.advantages(rewards)
        weights = torch.tensor(completion_weights(group_sizes, self.config.aggregation), device=new.device)
        adv = torch.tensor(np.concatenate([np.asarray(a, dtype=np.float64) for a in advs]), dtype=torch.float32,
                           device=new.device)
        if old_logps is None:
            old_logps = new.detach()
        elif isinstance(old_logps, (list, tuple)):  # per-completion tensors: right-align them as ``new`` is
            old = torch.zeros_like(new)
            for i, x in enumerate(old_logps):
                old[i, new.shape[1] - len(x):] = x
            old_logps = old
        eps = self.config.epsilon
        ratio = torch.exp(new - old_logps)
        per_token = -torch.minimum(ratio * adv[:, None], torch.clamp(ratio, 1 - eps, 1 + eps) * adv[:, None])
        if self.config.beta > 0:
            d = ref - new
            per_token = per_token + self.config.beta * (torch.exp(d) - d - 1)
        per_token = torch.where(mask, per_token, torch.zeros_like(per_token))
        if self.config.loss_type == "grpo":
            agg = per_token.sum(1) / mask.sum(1).clamp(min=1)
        else:
            agg = per_token.sum(1) / self.config.max_completion_length
        return (weights.to(agg.dtype) * agg).sum(), old_logps

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
        grad_norm = (
            float(torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)) if self.params else 0.0
        )
        self.optimizer.step()
        return {"loss": loss.item(), "grad_norm": grad_norm, "step_seconds": time.perf_counter() - start}
