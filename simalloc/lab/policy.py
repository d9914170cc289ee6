"""The lab's policy: a small decoder-only transformer (``LlamaForCausalLM`` from a local config), its exact
answer distribution and an autoregressive sampler.

The network is a real causal language model over the task's vocabulary (``LabTokenizer``); the GRPO step that
trains it is the live mode's (``simalloc.live.grpo.GRPOTrainer``), unchanged. Completions are two tokens, so the
probability of each final answer is a sum over the first token:

    P(y | x) = sum_{z in vocabulary} softmax(f(x) / T)_z softmax(f(x, z) / T)_y,

computed exactly by ``answer_distribution`` (one forward pass over the prompts, then one token for every
(prompt, first token) pair from the prompts' key-value cache). ``sample`` draws completions the way a rollout
engine does, one token at a time from the network's own conditionals (a different code path; a test checks the
two against each other by chi-square).

The v2 task (``simalloc.lab.regimes``) has one intermediate token and L = 3 answer tokens; there the correct
answer's probability is P(y* | x) = sum_z P(z | x) prod_j P(y*_j | x, z, y*_<j), one teacher-forced pass per
(prompt, z) (``answer_logits``); ``answer_distribution`` enumerates every digit answer (V B^(L-1) sequences per
prompt: small instances), ``sample`` draws the L + 1 tokens one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..seeding import as_generator
from ..validation import as_int
from .task import ChainTask, LabTokenizer, Prompts

__all__ = ["ModelSpec", "LabPolicy", "make_policy", "answer_distribution", "completion_logits", "completion_tables",
           "pass_rates", "pass_rates_at", "sample", "Rollouts", "sequence_entropy", "answer_logits",
           "mask_output_head", "MASKED_LOGIT"]

#: sequences per forward pass (bounds memory on large eval sets)
CHUNK = 8192


@dataclass(frozen=True)
class ModelSpec:
    """The network's shape.

    Parameters
    ----------
    hidden : int, default 64
        Model width.
    layers : int, default 2
        Decoder blocks.
    heads : int, default 4
        Attention heads (``hidden`` must be divisible by it).
    ff : int, default 256
        MLP width.
    seed : int, default 0
        The initial weights' seed.

    Notes
    -----
    The defaults give about 133,000 parameters for M = 10.
    """

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    ff: int = 256
    seed: int = 0

    def validate(self) -> "ModelSpec":
        """Raise ValueError naming the first bad field; returns self."""
        for name in ("hidden", "layers", "heads", "ff"):
            as_int(getattr(self, name), name, 1)
        as_int(self.seed, "seed", 0)
        if self.hidden % self.heads:
            raise ValueError(f"heads: must divide hidden={self.hidden}, got {self.heads}")
        return self


class LabPolicy:
    """A lab network with its task and sampling temperature.

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        The network.
    task : ChainTask
        The task (its tokenizer is the network's).
    temperature : float, default 1.0
        Rollouts sample from softmax(logits / temperature); exact answer distributions use the same.
    """

    def __init__(self, model, task: ChainTask, temperature: float = 1.0):
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature: must be finite and > 0, got {temperature!r}")
        self.model, self.task, self.temperature = model, task, float(temperature)

    @property
    def tokenizer(self) -> LabTokenizer:
        """The task's tokenizer."""
        return self.task.tokenizer

    @property
    def n_params(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def state(self) -> dict:
        """A copy of the weights (``load`` puts them back)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load(self, state: dict) -> None:
        """Set the weights."""
        self.model.load_state_dict(state)


def make_policy(task: ChainTask, spec: ModelSpec = ModelSpec(), temperature: float = 1.0) -> LabPolicy:
    """A freshly initialised lab network for ``task``.

    Parameters
    ----------
    task : ChainTask
        The task.
    spec : ModelSpec
        The network's shape and seed.
    temperature : float, default 1.0
        The sampling temperature.

    Returns
    -------
    LabPolicy
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    spec.validate()
    vocab = len(task.tokenizer)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=spec.hidden, intermediate_size=spec.ff,
                      num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
                      max_position_embeddings=max(8, task_length(task)), tie_word_embeddings=False, pad_token_id=0,
                      bos_token_id=None,
                      eos_token_id=None, attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model = LlamaForCausalLM(cfg)
    model.eval()
    if task.masked_token_ids:
        mask_output_head(model, task.masked_token_ids)
    return LabPolicy(model, task, temperature)


#: the logit a masked token gets: exp(-1e9 - max) underflows to exactly 0 in float32 and float64 at any temperature
#: the lab uses (T <= 1e6), so its probability and its softmax gradient are exactly 0
MASKED_LOGIT = -1e9


def mask_output_head(model, token_ids) -> None:
    """Make the network's output head never emit ``token_ids``: a forward hook on ``lm_head`` adds
    ``MASKED_LOGIT`` to their logits at every position.

    Every consumer of the logits (sampling, exact pass rates, the GRPO step's log-probs) sees the mask, so those
    tokens have probability exactly 0 and d softmax / d logit = 0 for them: no gradient ever moves them
    (the v2 task's unreachable family, ``simalloc.lab.regimes``). A network that computes logits without calling
    ``model.lm_head``'s forward must add the same mask.

    Parameters
    ----------
    model : transformers.LlamaForCausalLM
        The network (hooked in place).
    token_ids : sequence of int
        The masked tokens.
    """
    import torch

    mask = torch.zeros(model.config.vocab_size)
    mask[list(token_ids)] = MASKED_LOGIT
    model.lm_head.register_forward_hook(lambda module, inputs, out: out + mask.to(out.dtype).to(out.device))
    model.lm_head.output_mask = mask  # for forwards that compute the logits themselves (simalloc.lab.forward)


def task_length(task) -> int:
    """Prompt plus completion tokens of the task's sequences (7 on the turn-3 task, 9 on the v2 task)."""
    return 5 + task.completion_length


def _cache_keyword(model) -> str:
    """transformers >= 5 calls the key-value cache ``cache``; earlier versions ``past_key_values``."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _prompt_pass(model, ids):
    """Logits of the token after each prompt and the key-value cache."""
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1, :], getattr(out, _cache_keyword(model))


def _next_logits(model, tokens, cache):
    """Logits of the token after one more token per row, from the rows' cache."""
    return model(input_ids=tokens, use_cache=True, **{_cache_keyword(model): cache}).logits[:, -1, :]


def completion_logits(policy: LabPolicy, prompts: Prompts | np.ndarray):
    """The network's logits of the first completion token and of the second given every first token.

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts or ndarray of int, shape (n, 5)
        The prompts.

    Returns
    -------
    first : torch.Tensor of float64, shape (n, V)
        f(x).
    second : torch.Tensor of float64, shape (n, V, V)
        f(x, z) for every first token z.
    """
    import torch

    if not _turn3(policy):
        raise ValueError("policy: completion_logits tabulates two-token completions (the turn-3 task); use "
                         "answer_logits for a task with multi-token answers")
    ids = torch.as_tensor(prompts.ids if isinstance(prompts, Prompts) else prompts, dtype=torch.long)
    if hasattr(policy.model, "completion_logits"):  # a network of a batched group (simalloc.lab.batched)
        return policy.model.completion_logits(ids.numpy())
    vocab = len(policy.tokenizer)
    firsts, seconds = [], []
    with torch.no_grad():
        for lo in range(0, ids.shape[0], max(1, CHUNK // vocab)):
            chunk = ids[lo:lo + max(1, CHUNK // vocab)]
            logits, cache = _prompt_pass(policy.model, chunk)
            firsts.append(logits.double())
            cache.batch_repeat_interleave(vocab)
            z = torch.arange(vocab).repeat(chunk.shape[0])[:, None]
            seconds.append(_next_logits(policy.model, z, cache).double().view(chunk.shape[0], vocab, vocab))
    return torch.cat(firsts), torch.cat(seconds)


def completion_tables(policy: LabPolicy, prompts: Prompts | np.ndarray, temperature: float | None = None,
                      logits=None):
    """P(first token) and P(second token | first token) for every prompt, over the whole vocabulary.

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts or ndarray of int, shape (n, 5)
        The prompts.
    temperature : float, optional
        Default: the policy's.
    logits : tuple, optional
        ``completion_logits(policy, prompts)`` when already computed (one network pass for several temperatures).

    Returns
    -------
    first : ndarray of float64, shape (n, V)
        softmax(f(x) / T).
    second : ndarray of float64, shape (n, V, V)
        softmax(f(x, z) / T) for every first token z.
    """
    import torch

    t = policy.temperature if temperature is None else float(temperature)
    first, second = completion_logits(policy, prompts) if logits is None else logits
    return torch.softmax(first / t, -1).numpy(), torch.softmax(second / t, -1).numpy()


def answer_distribution(policy: LabPolicy, prompts, temperature: float | None = None) -> np.ndarray:
    """The exact probability of each final answer: P(y = d | x) = sum_z P(z | x) P(d | x, z).

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts or ndarray of int, shape (n, 5)
        The prompts.
    temperature : float, optional
        Default: the policy's sampling temperature.

    Returns
    -------
    ndarray of float64, shape (n, M + 1)
        Columns 0..M-1: the digits; column M: a malformed completion (a final token that is not a digit). Rows
        sum to 1.

    Examples
    --------
    >>> from simalloc.lab import ChainTask, make_policy
    >>> task = ChainTask(n_pool=100)
    >>> d = answer_distribution(make_policy(task), task.all_prompts().take([0, 1]))
    >>> d.shape, bool(abs(d.sum(1) - 1).max() < 1e-9)
    ((2, 11), True)
    """
    if not _turn3(policy):
        return _answer_distribution_multi(policy, prompts, temperature)
    first, second = completion_tables(policy, prompts, temperature)
    digits = policy.tokenizer.digit_ids
    joint = np.einsum("nz,nzy->ny", first, second)
    out = np.empty((joint.shape[0], digits.size + 1))
    out[:, :-1] = joint[:, digits]
    out[:, -1] = np.clip(1.0 - out[:, :-1].sum(1), 0.0, 1.0)
    return out


def pass_rates_at(policy: LabPolicy, prompts: Prompts, temperatures) -> np.ndarray:
    """Exact pass rates at several sampling temperatures from one network pass (``pass_rates`` at each).

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts
        The prompts with their answers.
    temperatures : sequence of float
        The temperatures.

    Returns
    -------
    ndarray of float64, shape (len(temperatures), n)
    """
    if not _turn3(policy):
        logits = answer_logits(policy, prompts)
        return np.stack([_pass_from_logits(logits, float(t)) for t in temperatures])
    logits = completion_logits(policy, prompts)
    digits, rows = policy.tokenizer.digit_ids, np.arange(len(prompts))
    out = np.empty((len(temperatures), len(prompts)))
    for i, t in enumerate(temperatures):
        first, second = completion_tables(policy, prompts, t, logits)
        out[i] = np.einsum("nz,nzy->ny", first, second)[:, digits][rows, prompts.answer]
    return out


def pass_rates(policy: LabPolicy, prompts: Prompts, temperature: float | None = None) -> np.ndarray:
    """P(the final answer is correct) per prompt, exact.

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts
        The prompts with their answers.
    temperature : float, optional
        Default: the policy's.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    if not _turn3(policy):
        t = policy.temperature if temperature is None else float(temperature)
        return _pass_from_logits(answer_logits(policy, prompts), t)
    dist = answer_distribution(policy, prompts, temperature)
    return dist[np.arange(len(prompts)), prompts.answer]


def sequence_entropy(policy: LabPolicy, prompts, temperature: float | None = None) -> np.ndarray:
    """The entropy (nats) of the two-token completion per prompt: H(z | x) + E_z H(y | x, z), exact.

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts or ndarray of int
        The prompts.
    temperature : float, optional
        Default: the policy's.

    Returns
    -------
    ndarray of float64, shape (n,)

    Notes
    -----
    For a task with multi-token answers (``simalloc.lab.regimes``) the exact sum has V^4 terms per prompt; the
    value is then the Monte Carlo estimate -mean log P(completion) over ``ENTROPY_SAMPLES`` completions drawn
    with a fixed seed (unbiased; the same weights give the same number).
    """
    if not _turn3(policy):
        return _entropy_multi(policy, prompts, temperature)
    first, second = completion_tables(policy, prompts, temperature)

    def h(p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)

    return h(first) + np.sum(first * h(second), axis=1)


@dataclass(frozen=True)
class Rollouts:
    """Sampled completions.

    Attributes
    ----------
    prompt : ndarray of int64, shape (R,)
        Each rollout's prompt (its position in the prompts sampled from).
    tokens : ndarray of int64, shape (R, 2)
        The completion's token ids.
    answer : ndarray of int64, shape (R,)
        The final answer as a digit, -1 for a final token that is not a digit.
    reward : ndarray of float64, shape (R,)
        1.0 when the answer is the prompt's correct answer.
    """

    prompt: np.ndarray
    tokens: np.ndarray
    answer: np.ndarray
    reward: np.ndarray


def _draw(probs, rng) -> np.ndarray:
    """One category per row of ``probs`` by inverse CDF (rows renormalised)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def sample(policy: LabPolicy, prompts: Prompts, n, rng=None, temperature: float | None = None) -> Rollouts:
    """Draw ``n[i]`` completions of prompt i, one token at a time from the network's conditionals.

    The first token is drawn from softmax(f(x) / T), then one forward pass of each drawn (prompt, first token)
    gives the second token's distribution (the prompt's key-value cache is reused).

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts
        The prompts.
    n : int or array_like of int
        Completions per prompt (>= 0).
    rng : None, int, SeedSequence or Generator
        The random state (SPEC 7).
    temperature : float, optional
        Default: the policy's.

    Returns
    -------
    Rollouts
        Ordered by prompt.
    """
    import torch

    rng = as_generator(rng)
    counts = np.broadcast_to(np.asarray(n, dtype=np.int64), (len(prompts),))
    if counts.min(initial=0) < 0:
        raise ValueError("n: completions per prompt must be >= 0")
    t = policy.temperature if temperature is None else float(temperature)
    owner = np.repeat(np.arange(len(prompts)), counts)
    if not _turn3(policy):
        return _sample_multi(policy, prompts, owner, t, rng)
    tokens = np.zeros((owner.size, 2), dtype=np.int64)
    if owner.size and hasattr(policy.model, "draw_tokens"):  # a network of a batched group (simalloc.lab.batched)
        tokens[:] = policy.model.draw_tokens(prompts.ids, counts, rng, t, tokens.shape[1])
    elif owner.size:
        with torch.no_grad():
            logits, cache = _prompt_pass(policy.model, torch.as_tensor(prompts.ids, dtype=torch.long))
            first = torch.softmax(logits.double() / t, -1).numpy()
            tokens[:, 0] = _draw(first[owner], rng)
            cache.batch_select_indices(torch.as_tensor(owner))
            nxt = _next_logits(policy.model, torch.as_tensor(tokens[:, :1]), cache)
            tokens[:, 1] = _draw(torch.softmax(nxt.double() / t, -1).numpy(), rng)
    tok = policy.tokenizer
    answer = tokens[:, 1] - int(tok.digit_ids[0])
    answer = np.where((answer >= 0) & (answer < tok.digit_ids.size), answer, -1)
    reward = (answer == prompts.answer[owner]).astype(np.float64)
    return Rollouts(owner, tokens, answer, reward)


# ---- multi-token completions (the v2 task, ``simalloc.lab.regimes``): one intermediate token, then L answer tokens

#: completions per prompt of ``sequence_entropy``'s Monte Carlo estimate on multi-token tasks
ENTROPY_SAMPLES = 16


def _turn3(policy: LabPolicy) -> bool:
    """Whether the policy's task is the turn-3 task (two-token completions, tabulated exactly over the vocabulary)."""
    return isinstance(policy.task, ChainTask)


def _forward_last(model, seqs, keep: int):
    """float64 logits of the last ``keep`` positions of full sequences (no key-value cache), chunked."""
    import torch

    seqs = torch.as_tensor(seqs, dtype=torch.long)
    out = []
    with torch.no_grad():
        for lo in range(0, seqs.shape[0], CHUNK):
            out.append(model(input_ids=seqs[lo:lo + CHUNK], logits_to_keep=keep).logits.double())
    return torch.cat(out) if out else torch.zeros((0, keep, model.config.vocab_size), dtype=torch.float64)


def answer_logits(policy: LabPolicy, prompts: Prompts):
    """The logits that give the correct answer's exact probability: f(x) over the intermediate token, and for every
    intermediate token z the logits of each answer token after (x, z, y*_<j).

    Parameters
    ----------
    policy : LabPolicy
        The network.
    prompts : Prompts
        The prompts with their answers (``task.answer_token_ids``: L tokens each).

    Returns
    -------
    first : torch.Tensor of float64, shape (n, V)
        f(x).
    answer : torch.Tensor of float64, shape (n, V, L, V)
        f(x, z, y*_1 .. y*_{j-1}) for every z and answer position j.
    targets : ndarray of int64, shape (n, L)
        The correct answer's tokens.

    Notes
    -----
    One full-sequence pass over the n V sequences (x, z, y*_1, ..., y*_{L-1}) reads every needed conditional:
    the answer is teacher-forced, so no answer other than the correct one is enumerated.
    """
    targets = np.asarray(policy.task.answer_token_ids(prompts), dtype=np.int64)
    n, length = targets.shape
    vocab = len(policy.tokenizer)
    ids = np.asarray(prompts.ids, dtype=np.int64)
    seqs = np.concatenate([np.repeat(ids, vocab, 0), np.tile(np.arange(vocab), n)[:, None],
                           np.repeat(targets[:, :-1], vocab, 0)], axis=1)
    logits = _forward_last(policy.model, seqs, length + 1).view(n, vocab, length + 1, vocab)
    return logits[:, 0, 0, :], logits[:, :, 1:, :], targets


def _pass_from_logits(logits, temperature: float) -> np.ndarray:
    """P(y* | x) = sum_z softmax(f(x)/T)_z prod_j softmax(f(x, z, y*_<j)/T)_{y*_j} from ``answer_logits``."""
    import torch

    first, answer, targets = logits
    p_first = torch.softmax(first / temperature, -1)
    logp = torch.log_softmax(answer / temperature, -1)
    idx = torch.as_tensor(targets)[:, None, :, None].expand(-1, answer.shape[1], -1, 1)
    path = torch.exp(logp.gather(-1, idx).squeeze(-1).sum(-1))  # (n, V): P(y* | x, z)
    return (p_first * path).sum(-1).numpy()


def _answer_distribution_multi(policy: LabPolicy, prompts, temperature: float | None) -> np.ndarray:
    """Every digit answer's exact probability for a multi-token task, by enumeration over (z, y_1 .. y_{L-1})."""
    import torch

    t = policy.temperature if temperature is None else float(temperature)
    tok, length = policy.tokenizer, policy.task.completion_length - 1
    digits, vocab = tok.digit_ids, len(tok)
    base = digits.size
    ids = np.asarray(prompts.ids if isinstance(prompts, Prompts) else prompts, dtype=np.int64)
    heads = np.array(np.meshgrid(*[digits] * (length - 1), indexing="ij")).reshape(length - 1, -1).T  # (B^(L-1), L-1)
    out = np.empty((ids.shape[0], base**length + 1))
    for i, x in enumerate(ids):  # one prompt at a time: V B^(L-1) sequences each
        rows = np.concatenate([np.repeat(np.arange(vocab), heads.shape[0])[:, None], np.tile(heads, (vocab, 1))], 1)
        seqs = np.concatenate([np.repeat(x[None], rows.shape[0], 0), rows], 1)
        lp = torch.log_softmax(_forward_last(policy.model, seqs, length + 1) / t, -1)  # (V B^(L-1), L+1, V)
        logp = lp[:, 0, :].gather(-1, torch.as_tensor(rows[:, :1]))[:, 0]  # log P(z)
        for j in range(1, length):
            logp = logp + lp[:, j, :].gather(-1, torch.as_tensor(rows[:, j:j + 1]))[:, 0]
        last = torch.exp(logp[:, None] + lp[:, length, :][:, torch.as_tensor(digits)])  # (V B^(L-1), B)
        joint = last.view(vocab, heads.shape[0], base).sum(0).reshape(-1).numpy()  # y_1 .. y_L in base B order
        out[i, :-1] = joint
        out[i, -1] = np.clip(1.0 - joint.sum(), 0.0, 1.0)
    return out


def _sample_multi(policy: LabPolicy, prompts: Prompts, owner: np.ndarray, t: float, rng) -> Rollouts:
    """``sample`` for a multi-token task: full-sequence passes, one token at a time."""
    tokens, _ = _draw_completions(policy, np.asarray(prompts.ids)[owner], t, rng)
    tok = policy.tokenizer
    targets = np.asarray(policy.task.answer_token_ids(prompts), dtype=np.int64)
    digit = tokens[:, 1:] - int(tok.digit_ids[0])
    ok = ((digit >= 0) & (digit < tok.digit_ids.size)).all(1)
    base = tok.digit_ids.size
    number = (digit * base ** np.arange(digit.shape[1] - 1, -1, -1)).sum(1)
    answer = np.where(ok, number, -1)
    reward = (tokens[:, 1:] == targets[owner]).all(1).astype(np.float64)
    return Rollouts(owner, tokens, answer, reward)


def _draw_completions(policy: LabPolicy, prompt_ids: np.ndarray, t: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Completions drawn token by token at temperature t: (tokens (R, L+1), log P(completion) (R,))."""
    import torch

    length = policy.task.completion_length
    seqs = np.asarray(prompt_ids, dtype=np.int64)
    logp = np.zeros(seqs.shape[0])
    for _ in range(length):
        if seqs.shape[0] == 0:
            seqs = np.concatenate([seqs, np.zeros((0, 1), dtype=np.int64)], 1)
            continue
        probs = torch.softmax(_forward_last(policy.model, seqs, 1)[:, 0] / t, -1).numpy()
        nxt = _draw(probs, rng)
        with np.errstate(divide="ignore"):
            logp += np.log(probs[np.arange(nxt.size), nxt])
        seqs = np.concatenate([seqs, nxt[:, None]], 1)
    return seqs[:, -length:], logp


def _entropy_multi(policy: LabPolicy, prompts, temperature: float | None) -> np.ndarray:
    """-mean log P(completion) over ``ENTROPY_SAMPLES`` completions per prompt (fixed seed)."""
    t = policy.temperature if temperature is None else float(temperature)
    ids = np.asarray(prompts.ids if isinstance(prompts, Prompts) else prompts, dtype=np.int64)
    _, logp = _draw_completions(policy, np.repeat(ids, ENTROPY_SAMPLES, 0), t, np.random.default_rng(0))
    return -logp.reshape(ids.shape[0], ENTROPY_SAMPLES).mean(1)
