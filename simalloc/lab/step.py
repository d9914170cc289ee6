"""The lab's GRPO step with prompt caching: the live mode's trainer, each prompt computed once per group.

``LabGRPOTrainer`` is ``simalloc.live.grpo.GRPOTrainer`` (same advantages, surrogate, aggregation, clipping, AdamW)
with one method replaced: ``group_logps``, the per-token log-probs of the batch's completions, comes from
``simalloc.lab.forward.completion_logps``, which runs each prompt once and lets its group's completions attend to
its cached keys and values, instead of running prompt + completion for every rollout. The loss and its gradients
equal the uncached trainer's to float32 reordering (``tests/test_lab_batched.py``).
"""

from __future__ import annotations

import numpy as np

from ..live.grpo import GRPOTrainer
from .forward import Layout, completion_logps, model_parameters

__all__ = ["LabGRPOTrainer", "grouped_tensors", "lab_trainer", "group_gradient_rows"]


def grouped_tensors(prompt_ids, groups):
    """The batch as arrays: prompts (P, Lp), owner (N,) and completions (N, Lc); None when lengths differ.

    Parameters
    ----------
    prompt_ids : list of list of int
        One prompt per group.
    groups : list of list of list of int
        Each group's completions.

    Returns
    -------
    (prompts, owner, completions) of int64 ndarrays, or None when prompts or completions differ in length
    (the caller then takes the uncached path).
    """
    comps = [c for g in groups for c in g]
    if not comps or len({len(p) for p in prompt_ids}) != 1 or len({len(c) for c in comps}) != 1 or not comps[0]:
        return None
    owner = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    return np.asarray(prompt_ids, dtype=np.int64), owner, np.asarray(comps, dtype=np.int64)


def group_gradient_rows(trainer, params: dict, layout: Layout, prompt_ids, groups, rewards):
    """Rows with the inner products of the per-group gradients, from one batched pass (``gradient_snr``'s input).

    Group i's gradient g_i is that of its own loss at the step's advantages (``simalloc.lab.loop.group_gradients``,
    the definition). Here the network is copied once per used group (``expand``: group i's prompt and completions
    run through copy i) and the step's own batch loss, sum_i w_i l_i, is differentiated once: its gradient with
    respect to copy i is w_i g_i. The SNR and the noise scale (``simalloc.train.snr``) depend on the g_i only
    through their inner products, so the (n_used, n_params) gradients are replaced by the rows of
    V sqrt(Lambda), K = V Lambda V^T the Gram matrix K_ij = g_i . g_j (float64): rows with the same inner products.

    Parameters
    ----------
    trainer : simalloc.live.grpo.GRPOTrainer
        Its ``surrogate`` (the step's loss) and ``config``.
    params : dict
        The network's parameters with a network axis of 1 (``model_parameters`` or leaf copies).
    layout : Layout
        The network's layout.
    prompt_ids, groups, rewards : list
        As ``GRPOTrainer.step`` takes them.

    Returns
    -------
    rows : ndarray, shape (n_used, n_used)
        Row i . row j = g_i . g_j.
    weights : ndarray, shape (n_used,)
        The groups' weights w_i (``simalloc.train.snr.group_weights``).
    """
    import torch

    from ..train.snr import group_weights

    sizes = np.array([len(g) for g in groups])
    used = np.flatnonzero(sizes > 0)
    weights = group_weights(sizes[used], trainer.config.aggregation)
    batch = grouped_tensors([prompt_ids[i] for i in used], [groups[i] for i in used])
    if batch is None:
        raise ValueError("groups: the lab's cached gradients need prompts of one length and completions of one length")
    prompts, owner, comps = batch
    slot = np.arange(owner.size) - np.repeat(np.cumsum(sizes[used]) - sizes[used], sizes[used])
    padded = np.zeros((used.size, int(sizes.max()), comps.shape[1]), dtype=np.int64)
    padded[owner, slot] = comps
    copies = {k: v.expand(used.size, *v.shape[1:]) for k, v in params.items()}
    t = torch.full((used.size,), float(trainer.config.temperature))
    first = torch.zeros(padded.shape[:2], dtype=torch.long)  # copy i's one prompt
    logp = completion_logps(layout, copies, torch.as_tensor(prompts)[:, None], first, torch.as_tensor(padded), t)
    new = logp[torch.as_tensor(owner), torch.as_tensor(slot)]
    loss, _ = trainer.surrogate(new, torch.ones_like(new, dtype=torch.bool), sizes.tolist(), rewards)
    grads = torch.autograd.grad(loss, list(copies.values()), allow_unused=True)
    gram = np.zeros((used.size, used.size))
    for g in grads:
        if g is not None:
            flat = g.reshape(used.size, -1).double()
            gram += (flat @ flat.T).numpy()
    gram /= np.outer(weights, weights)
    lam, vec = np.linalg.eigh(gram)
    return vec * np.sqrt(np.clip(lam, 0.0, None)), weights


class LabGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` on a lab network with the prompt computed once per group (module docstring).

    Parameters
    ----------
    model, tokenizer, config, ref_model
        As ``GRPOTrainer``; ``model`` a lab network (``simalloc.lab.forward.check_supported``).
    """

    def __init__(self, model, tokenizer, config, ref_model=None):
        super().__init__(model, tokenizer, config, ref_model)
        model_parameters(model)  # refuses a config the cached forward does not implement
        self._layouts = {}

    def _layout(self, model, length: int) -> Layout:
        key = (id(model), length)
        if key not in self._layouts:
            self._layouts[key] = Layout(model, length)
        return self._layouts[key]

    def group_logps(self, model, prompt_ids, groups):
        """Per-token log-probs of every completion (n, Lc), each prompt run once; all-True mask. Prompts or
        completions of different lengths take the parent's padded path."""
        import torch

        batch = grouped_tensors(prompt_ids, groups)
        if batch is None:
            return super().group_logps(model, prompt_ids, groups)
        prompts, owner, comps = (torch.as_tensor(x) for x in batch)
        net = self._layout(model, prompts.shape[1] + comps.shape[1])
        t = torch.full((1,), float(self.config.temperature))
        logp = completion_logps(net, model_parameters(model), prompts[None], owner[None], comps[None], t)[0]
        return logp, torch.ones_like(logp, dtype=torch.bool)

    def group_gradient_rows(self, prompt_ids, groups, rewards):
        """``group_gradient_rows`` on this trainer's network (``simalloc.lab.loop.gradient_snr`` reads it)."""
        lengths = [len(prompt_ids[0]) + len(c) for g in groups for c in g]
        return group_gradient_rows(self, model_parameters(self.model), self._layout(self.model, max(lengths)),
                                   prompt_ids, groups, rewards)


def lab_trainer(policy, config):
    """The GRPO trainer of a lab policy: ``LabGRPOTrainer`` on its network, or, for a network of a batched group
    (``simalloc.lab.batched.BatchedNetwork``), that network's ``BatchedTrainer``.

    Parameters
    ----------
    policy : LabPolicy
        The policy (its ``model`` is trained in place).
    config : simalloc.live.grpo.GRPOConfig
        The step's settings.

    Returns
    -------
    simalloc.live.grpo.GRPOTrainer
    """
    make = getattr(policy.model, "make_trainer", None)
    if make is not None:
        return make(policy.tokenizer, config)
    return LabGRPOTrainer(policy.model, policy.tokenizer, config)
