"""The lab network's forward pass as plain tensor code over R stacked networks, with prompt caching.

The lab's network is ``transformers.LlamaForCausalLM`` (``simalloc.lab.policy.make_policy``). Here the same
arithmetic is written over parameters with a leading network axis, ``params[name]`` of shape (R, ...), so that R
networks (arms x replicates) run as one batched matmul per layer (``torch.bmm``), and a prompt is computed once
however many completions extend it:

- ``prompt_pass``: the prompts, (R, P, Lp) tokens, through every layer; returns the logits of the token after
  each prompt and the prompts' keys and values (the cache).
- ``extend``: N sequences of L tokens per network, each continuing prompt ``owner[r, n]`` at positions
  Lp..Lp+L-1; each token attends to its prompt's cached keys/values and, causally, to its own sequence.
- ``completion_logps``: per-token log-probs of completions under softmax(logits / T), the prompt computed once per
  group: 64 prompts x 5 tokens + 1,024 completions x (Lc - 1) tokens instead of 1,024 x (5 + Lc).

Which tokens: the first completion token is predicted by the prompt's last position, so the completion pass
needs only its first Lc - 1 tokens. Completions of any length Lc >= 1 work (Lc = 1: no completion pass).

The arithmetic is LlamaForCausalLM's (eager attention, RMSNorm in float32, rotary embeddings from the model's own
``rotary_emb`` module, SiLU-gated MLP, untied ``lm_head``) with the prompt/completion split of attention scores
(softmax over the concatenated scores, the same function); results equal the model's to float32 reordering
(``tests/test_lab_batched.py``). ``check_supported`` refuses configs outside that arithmetic (grouped-query
attention, biases, other activations or rotary types).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAYER_NAMES", "check_supported", "model_parameters", "stack_parameters", "unstack_parameters",
           "rotary_tables", "prompt_pass", "extend", "completion_logps", "continuation_logits", "pad_rows", "Layout"]

#: a decoder block's parameters, by their name in ``LlamaDecoderLayer``
LAYER_NAMES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
               "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm")


def check_supported(model) -> None:
    """Raise ValueError when ``model``'s config is outside the arithmetic of this module (module docstring).

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        The network.
    """
    c = model.config
    problems = []
    if c.num_key_value_heads != c.num_attention_heads:
        problems.append("num_key_value_heads must equal num_attention_heads")
    if getattr(c, "attention_bias", False) or getattr(c, "mlp_bias", False):
        problems.append("attention_bias and mlp_bias must be False")
    if c.hidden_act != "silu":
        problems.append(f"hidden_act must be silu, got {c.hidden_act!r}")
    rope = getattr(c, "rope_parameters", None) or {"rope_type": "default"}
    if rope.get("rope_type", "default") != "default":
        problems.append(f"rope_type must be default, got {rope.get('rope_type')!r}")
    if getattr(c, "tie_word_embeddings", False):
        problems.append("tie_word_embeddings must be False")
    if model.lm_head._forward_hooks and (len(model.lm_head._forward_hooks) > 1
                                         or getattr(model.lm_head, "output_mask", None) is None):
        problems.append("lm_head has forward hooks other than mask_output_head's (they would be bypassed)")
    if problems:
        raise ValueError("model: the lab's batched forward does not support this config: " + "; ".join(problems))


def _names(model) -> list[str]:
    n = model.config.num_hidden_layers
    return (["model.embed_tokens.weight"] + [f"model.layers.{i}.{x}.weight" for i in range(n) for x in LAYER_NAMES]
            + ["model.norm.weight", "lm_head.weight"])


def model_parameters(model) -> dict:
    """One network's parameters as views with a network axis of 1 (gradients flow to ``model``'s own tensors).

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        The network.

    Returns
    -------
    dict of str to torch.Tensor, each of shape (1, ...)
    """
    check_supported(model)
    named = dict(model.named_parameters())
    return {k: named[k].unsqueeze(0) for k in _names(model)}


def stack_parameters(models) -> dict:
    """R networks' parameters stacked along a new first axis (copies, detached).

    Parameters
    ----------
    models : sequence of transformers.LlamaForCausalLM
        Networks of one shape.

    Returns
    -------
    dict of str to torch.Tensor, each of shape (R, ...)
    """
    import torch

    for m in models:
        check_supported(m)
    named = [dict(m.named_parameters()) for m in models]
    return {k: torch.stack([n[k].detach() for n in named]).clone() for k in _names(models[0])}


def unstack_parameters(params: dict, r: int) -> dict:
    """Network ``r``'s parameters as a ``state_dict``-style mapping (copies).

    Parameters
    ----------
    params : dict of str to torch.Tensor, each (R, ...)
        Stacked parameters.
    r : int
        The network.

    Returns
    -------
    dict of str to torch.Tensor
    """
    return {k: v[r].detach().clone() for k, v in params.items()}


def rotary_tables(model, length: int):
    """cos and sin of the rotary embedding at positions 0..length-1, from the model's own module.

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        The network (its ``model.rotary_emb``).
    length : int
        Positions.

    Returns
    -------
    cos, sin : torch.Tensor, shape (length, head_dim)
    """
    import torch

    pos = torch.arange(length)[None, :]
    cos, sin = model.model.rotary_emb(torch.zeros(1, dtype=torch.float32), pos)
    return cos[0], sin[0]


def _rms(x, w, eps):
    """LlamaRMSNorm over the last axis; x (R, M, D), w (R, D)."""
    import torch

    return w[:, None, :] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _linear(x, w):
    """x (R, M, in) @ w(R, out, in)^T."""
    import torch

    return torch.bmm(x, w.transpose(1, 2))


def _rotate(x, cos, sin):
    """Rotary embedding of x (..., L, d) with cos/sin (L, d) (``apply_rotary_pos_emb``)."""
    import torch

    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _scores(q, k):
    """q (..., L, d) . k (..., M, d) -> (..., L, M), as a broadcast product: the attention's matrices are a few
    tokens wide, where a batched matmul pays its per-matrix overhead thousands of times."""
    return (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1)


def _mix(att, v):
    """att (..., L, M) times v (..., M, d) -> (..., L, d), as a broadcast product (``_scores``)."""
    return (att.unsqueeze(-1) * v.unsqueeze(-3)).sum(-2)


class Layout:
    """What the passes need besides the parameters: layers, heads, RMSNorm's epsilon, the rotary tables.

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        Any network of the shape (its config and rotary module are read).
    length : int
        The longest sequence (prompt + completion) the passes will see.
    """

    def __init__(self, model, length: int):
        c = model.config
        self.layers, self.heads = c.num_hidden_layers, c.num_attention_heads
        self.head_dim = c.hidden_size // c.num_attention_heads
        self.eps = c.rms_norm_eps
        self.cos, self.sin = rotary_tables(model, length)
        self.padding_idx = model.model.embed_tokens.padding_idx
        #: ``mask_output_head``'s additive logit mask (V,), or None: the hook it registers is bypassed here
        self.output_mask = getattr(model.lm_head, "output_mask", None) if model.lm_head._forward_hooks else None


def _block_input(params, i):
    p = f"model.layers.{i}."
    return [params[p + x + ".weight"] for x in LAYER_NAMES]


def _embed(net, params, ids):
    """Token embeddings of ids (R, ...) from each network's own table; as ``nn.Embedding(padding_idx=...)``, the
    padding token's row gets no gradient."""
    import torch

    emb = params["model.embed_tokens.weight"]
    r = torch.arange(emb.shape[0]).view(-1, *([1] * (ids.dim() - 1)))
    h = emb[r, ids]
    if net.padding_idx is None or not bool((ids == net.padding_idx).any()):
        return h
    return torch.where((ids == net.padding_idx)[..., None], h.detach(), h)


def _head(net, params, h):
    """The final norm and the output head, with the network's output mask (``mask_output_head``) added, as the
    model's own ``lm_head`` forward hook adds it."""
    logits = _linear(_rms(h, params["model.norm.weight"], net.eps), params["lm_head.weight"])
    if net.output_mask is None:
        return logits
    return logits + net.output_mask.to(logits.dtype).to(logits.device)


def prompt_pass(net: Layout, params: dict, ids):
    """The prompts through every layer.

    Parameters
    ----------
    net : Layout
        ``Layout(model, length)``.
    params : dict
        Stacked parameters, (R, ...).
    ids : torch.Tensor of int64, shape (R, P, Lp)
        The prompts of each network.

    Returns
    -------
    logits : torch.Tensor, shape (R, P, V)
        Of the token after each prompt.
    cache : list of (keys, values), each (R, P, H, Lp, d)
        Per layer, after the rotary embedding.
    """
    import torch

    R, P, L = ids.shape
    H, d = net.heads, net.head_dim
    h = _embed(net, params, ids).reshape(R, P * L, -1)
    cos, sin = net.cos[:L], net.sin[:L]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    cache = []
    for i in range(net.layers):
        wq, wk, wv, wo, wg, wu, wd, n1, n2 = _block_input(params, i)
        x = _rms(h, n1, net.eps)
        q, k, v = (_linear(x, w).view(R, P, L, H, d).transpose(2, 3) for w in (wq, wk, wv))
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        scores = _scores(q, k) * d ** -0.5
        att = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        out = _mix(att, v).transpose(2, 3).reshape(R, P * L, H * d)
        h = h + _linear(out, wo)
        x = _rms(h, n2, net.eps)
        h = h + _linear(torch.nn.functional.silu(_linear(x, wg)) * _linear(x, wu), wd)
        cache.append((k, v))
    last = h.view(R, P, L, -1)[:, :, -1]
    return _head(net, params, last), cache


def extend(net: Layout, params: dict, cache, owner, tokens):
    """Sequences continuing cached prompts: logits after every token.

    Parameters
    ----------
    net : Layout
        ``Layout(model, length)`` with length >= Lp + L.
    params : dict
        Stacked parameters, (R, ...).
    cache : list of (keys, values)
        ``prompt_pass``'s, (R, P, H, Lp, d) per layer.
    owner : torch.Tensor of int64, shape (R, N), or int
        The prompt each sequence continues; an int G: G sequences per prompt in prompt order (N = P G; the
        prompt's keys are then read by broadcasting instead of gathered per sequence, as exact enumeration needs).
    tokens : torch.Tensor of int64, shape (R, N, L)
        The sequences' tokens (positions Lp..Lp+L-1).

    Returns
    -------
    torch.Tensor, shape (R, N, L, V)
        Logits of the token after each position.
    """
    import torch

    R, N, L = tokens.shape
    H, d = net.heads, net.head_dim
    lp = cache[0][0].shape[3]
    cos, sin = net.cos[lp:lp + L], net.sin[lp:lp + L]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    rows = torch.arange(R)[:, None]
    grouped = isinstance(owner, int)
    if grouped:
        P, G = cache[0][0].shape[1], owner
        if P * G != N:
            raise ValueError(f"owner: {G} sequences per prompt need {P * G} sequences, got {N}")
    h = _embed(net, params, tokens).reshape(R, N * L, -1)
    for i in range(net.layers):
        wq, wk, wv, wo, wg, wu, wd, n1, n2 = _block_input(params, i)
        x = _rms(h, n1, net.eps)
        q, k, v = (_linear(x, w).view(R, N, L, H, d).transpose(2, 3) for w in (wq, wk, wv))
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        scale = d ** -0.5
        kc, vc = cache[i]
        if grouped:  # (R, P, G, H, L, .) against the prompt's (R, P, 1, H, Lp, d): no copy per sequence
            kp, vp = kc[:, :, None], vc[:, :, None]
            qs = q.reshape(R, P, G, H, L, d)
        else:
            kp, vp = kc[rows, owner], vc[rows, owner]  # (R, N, H, Lp, d): each sequence's prompt
            qs = q
        s_prompt = _scores(qs, kp).reshape(R, N, H, L, lp) * scale
        s_self = (_scores(q, k) * scale).masked_fill(~causal, float("-inf"))
        att = torch.softmax(torch.cat((s_prompt, s_self), dim=-1), dim=-1)
        out = _mix(att[..., :lp].reshape(qs.shape[:-1] + (lp,)), vp).reshape(R, N, H, L, d) + _mix(att[..., lp:], v)
        h = h + _linear(out.transpose(2, 3).reshape(R, N * L, H * d), wo)
        x = _rms(h, n2, net.eps)
        h = h + _linear(torch.nn.functional.silu(_linear(x, wg)) * _linear(x, wu), wd)
    return _head(net, params, h).view(R, N, L, -1)


def completion_logps(net: Layout, params: dict, prompts, owner, completions, temperature):
    """Per-token log-probs of completions under softmax(logits / T), each prompt computed once.

    Parameters
    ----------
    net : Layout
        ``Layout(model, length)`` with length >= Lp + Lc.
    params : dict
        Stacked parameters, (R, ...).
    prompts : torch.Tensor of int64, shape (R, P, Lp)
        Each network's prompts.
    owner : torch.Tensor of int64, shape (R, N)
        The prompt of each completion.
    completions : torch.Tensor of int64, shape (R, N, Lc)
        The completions' tokens.
    temperature : torch.Tensor, shape (R,)
        Each network's T.

    Returns
    -------
    torch.Tensor of float32, shape (R, N, Lc)
        log softmax(f(x, c_<t) / T)[c_t].

    Notes
    -----
    The first token's log-prob comes from the prompt pass (``prompt_pass``'s logits gathered by ``owner``); tokens
    2..Lc from ``extend`` on the completions' first Lc - 1 tokens.
    """
    import torch

    R, N, Lc = completions.shape
    t = temperature.view(R, 1, 1)
    first, cache = prompt_pass(net, params, prompts)
    rows = torch.arange(R)[:, None]
    logp0 = torch.log_softmax(first.float() / t, dim=-1)[rows, owner]  # (R, N, V)
    out = [logp0.gather(-1, completions[:, :, :1])]
    if Lc > 1:
        rest = extend(net, params, cache, owner, completions[:, :, :-1])
        logp = torch.log_softmax(rest.float() / t[..., None], dim=-1)
        out.append(logp.gather(-1, completions[:, :, 1:, None]).squeeze(-1))
    return torch.cat(out, dim=-1)


def continuation_logits(net: Layout, params: dict, cache, owner, prefixes, chunk: int = 16384):
    """Logits of the token after each (prompt, prefix) pair, from the prompts' cache, without gradients.

    Parameters
    ----------
    net : Layout
        ``Layout(model, length)``.
    params : dict
        Stacked parameters, (R, ...).
    cache : list of (keys, values)
        ``prompt_pass``'s, (R, P, H, Lp, d) per layer.
    owner : torch.Tensor of int64, shape (R, N), or int
        The prompt each prefix continues (an int G: G prefixes per prompt, in prompt order, as ``extend``).
    prefixes : torch.Tensor of int64, shape (R, N, L)
        Completion prefixes (L >= 1).
    chunk : int, default 16384
        Prefix rows (over all networks) per pass, bounding memory.

    Returns
    -------
    torch.Tensor of float32, shape (R, N, V)
    """
    import torch

    R, N = prefixes.shape[:2]
    with torch.no_grad():
        if isinstance(owner, int):  # chunks of whole prompts
            step = max(1, chunk // max(R * owner, 1))
            parts = [extend(net, params, [(k[:, lo:lo + step], v[:, lo:lo + step]) for k, v in cache], owner,
                            prefixes[:, lo * owner:(lo + step) * owner])[:, :, -1]
                     for lo in range(0, cache[0][0].shape[1], step)]
        else:
            step = max(1, chunk // max(R, 1))
            parts = [extend(net, params, cache, owner[:, lo:lo + step], prefixes[:, lo:lo + step])[:, :, -1]
                     for lo in range(0, N, step)]
    return torch.cat(parts, dim=1) if parts else torch.zeros(R, 0, params["lm_head.weight"].shape[1])


def pad_rows(arrays, fill: int = 0) -> np.ndarray:
    """Stack arrays of equal trailing shape and different lengths into one (R, max_len, ...) array, padded.

    Parameters
    ----------
    arrays : sequence of ndarray, shapes (n_r, ...)
        One per network.
    fill : int, default 0
        The padding value.

    Returns
    -------
    ndarray, shape (R, max n_r, ...)
    """
    n = max((a.shape[0] for a in arrays), default=0)
    out = np.full((len(arrays), n, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
    for r, a in enumerate(arrays):
        out[r, :a.shape[0]] = a
    return out
