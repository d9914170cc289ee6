"""Many lab networks in one process: R networks with stacked parameters, run by one batched executor.

Arms x replicates of a lab study are R networks of one shape. ``NetworkGroup`` holds their parameters stacked,
``params[name]`` of shape (R, ...), with one AdamW state per network (``StackedAdamW``: AdamW is elementwise, so a
stacked AdamW with per-network step counts, learning rates and gradient clipping equals R separate ones), and
executes three operations for any subset of its networks at once (``simalloc.lab.forward``: one ``torch.bmm`` per
layer, each prompt computed once per group):

- ``draw``: sample completions, one token at a time, each network with its own ``numpy`` Generator, drawn in the
  order ``simalloc.lab.policy.sample`` draws them;
- ``logits``: the exact enumeration's logits (``completion_logits``: the first token, and the second after every
  first token);
- ``step``: one GRPO step per network (the live trainer's advantages and surrogate, ``GRPOTrainer.surrogate``).

How a study uses it: each run keeps its own, unchanged training loop (``simalloc.lab.loop.train_lab``), given a
``LabPolicy`` whose ``model`` is a ``BatchedNetwork`` handle. ``sample``, ``completion_logits`` (and all that
builds on it: ``pass_rates``, ``answer_distribution``) and ``make_trainer`` route a handle's calls to the group.
``run_batched`` runs R loops in R threads; a call blocks until every unfinished loop is blocked on a call, then
the last one to arrive executes all waiting calls, batched by kind, and wakes the others. Which calls are batched
together depends only on each loop's own sequence of calls (never on thread timing), and each network's numbers
depend only on its own inputs, up to float32 reordering inside the batched matmuls. Python runs one thread at a
time, torch single-threaded: the threads are a way of writing R loops in lock-step, not parallelism.

Per-group gradients (``simalloc.lab.loop.gradient_snr``) run unbatched on the calling network alone
(``BatchedTrainer.loss`` / ``params``: one network's parameters as leaf tensors).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ..live.grpo import GRPOConfig, GRPOTrainer
from .forward import Layout, completion_logps, continuation_logits, pad_rows, prompt_pass, stack_parameters
from .step import group_gradient_rows, grouped_tensors

__all__ = ["NetworkGroup", "BatchedNetwork", "BatchedTrainer", "StackedAdamW", "run_batched", "train_lab_batched",
           "train_lab_shard",
           "clip_coefficients"]


class StackedAdamW:
    """AdamW over stacked parameters, one state per network (torch's single-tensor AdamW, row by row).

    Parameters
    ----------
    params : dict of str to torch.Tensor, each (R, ...)
        Updated in place.
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
        torch.optim.AdamW's defaults (the GRPO trainer's optimizer).

    Notes
    -----
    For network r at its step t_r with learning rate lr_r and gradient g (Loshchilov & Hutter, arXiv 1711.05101;
    torch.optim.AdamW):

        theta <- theta (1 - lr_r wd);  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
        theta <- theta - lr_r / (1 - beta1^t_r) m / (sqrt(v) / sqrt(1 - beta2^t_r) + eps).
    """

    def __init__(self, params: dict, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        import torch

        self.params = params
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        first = next(iter(params.values()))
        self.steps = np.zeros(first.shape[0], dtype=np.int64)
        self.exp_avg = {k: torch.zeros_like(v) for k, v in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in params.items()}

    def step(self, rows, grads: dict, lrs) -> None:
        """Update networks ``rows`` with their gradients ``grads[name]`` (len(rows), ...) at learning rates ``lrs``."""
        import torch

        rows = np.asarray(rows, dtype=np.int64)
        self.steps[rows] += 1
        t = self.steps[rows].astype(np.float64)
        lr = np.asarray(lrs, dtype=np.float64)
        idx = torch.as_tensor(rows)
        with torch.no_grad():
            for k, p in self.params.items():
                shape = (-1,) + (1,) * (p.dim() - 1)

                def col(x):
                    return torch.as_tensor(x, dtype=p.dtype).view(shape)

                g = grads[k]
                w, m, v = p[idx], self.exp_avg[k][idx], self.exp_avg_sq[k][idx]
                w.mul_(col(1 - lr * self.weight_decay))
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                denom = (v.sqrt() / col((1 - self.beta2 ** t) ** 0.5)).add_(self.eps)
                w.sub_(col(lr / (1 - self.beta1 ** t)) * m / denom)
                p[idx], self.exp_avg[k][idx], self.exp_avg_sq[k][idx] = w, m, v


def clip_coefficients(grads: dict, max_norms) -> tuple:
    """Per-network gradient norms and ``torch.nn.utils.clip_grad_norm_``'s scale min(max_norm / (norm + 1e-6), 1).

    Parameters
    ----------
    grads : dict of str to torch.Tensor, each (R, ...)
    max_norms : array_like, shape (R,)

    Returns
    -------
    norms, scales : torch.Tensor, shape (R,)
    """
    import torch

    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads.values())
    norms = sq.sqrt()
    scale = torch.as_tensor(np.asarray(max_norms, dtype=np.float32)) / (norms + 1e-6)
    return norms, scale.clamp(max=1.0)


class NetworkGroup:
    """R lab networks with stacked parameters and the executor of their batched calls (module docstring).

    Parameters
    ----------
    models : sequence of transformers.LlamaForCausalLM
        The networks' starting weights (copied; the models are not changed).
    length : int, optional
        The longest prompt + completion (default: the config's ``max_position_embeddings``).

    Attributes
    ----------
    params : dict of str to torch.Tensor, each (R, ...)
        The weights (leaf tensors).
    optimizer : StackedAdamW
        One AdamW state per network.
    seconds : dict of str to float
        CPU seconds of the thread doing the work (``time.thread_time``) per part: "draw", "logits",
        "step:forward", "step:backward", "step:adamw", "snr" (per-group gradients); what a benchmark reports.
    """

    def __init__(self, models, length: int | None = None):
        self.template = models[0]
        self.params = stack_parameters(models)
        self.size = len(models)
        self.layout = Layout(self.template, length or self.template.config.max_position_embeddings)
        self.optimizer = StackedAdamW(self.params)
        self.versions = np.zeros(self.size, dtype=np.int64)
        self._cv = threading.Condition()
        self._running = None  # networks whose loops run in threads (run_batched)
        self._waiting: dict[int, tuple] = {}
        self._results: dict[int, tuple] = {}
        self._memo: dict[int, tuple] = {}  # network -> (version, prompt bytes, logits): the last enumeration
        self._draw_memo = None  # (networks, their (version, prompt bytes), prompts, logits, cache): the last draw's
        self.seconds: dict[str, float] = {}

    def _clock(self, part: str, start: float) -> float:
        now = time.thread_time()
        self.seconds[part] = self.seconds.get(part, 0.0) + now - start
        return now

    def network(self, r: int) -> "BatchedNetwork":
        """The handle of network ``r`` (a ``LabPolicy``'s ``model``)."""
        if not 0 <= r < self.size:
            raise ValueError(f"r: must lie in [0, {self.size}), got {r}")
        return BatchedNetwork(self, r)

    # ---- the scheduler --------------------------------------------------------------------------------------
    def call(self, r: int, kind: str, payload):
        """Network ``r``'s call: at once outside ``run_batched``; inside, gathered with the other loops' calls."""
        if self._running is None:
            return self._execute({r: (kind, payload)})[r]
        with self._cv:
            self._waiting[r] = (kind, payload)
            self._running.discard(r)
            if not self._running:
                self._flush()
            while r not in self._results:
                self._cv.wait()
            ok, value = self._results.pop(r)
        if not ok:
            raise value
        return value

    def _flush(self) -> None:
        """Execute every waiting call (the caller holds the lock) and wake their threads."""
        waiting, self._waiting = self._waiting, {}
        self._running.update(waiting)  # running again from now on, before any of them wakes
        try:
            out = self._execute(waiting)
            self._results.update({r: (True, out[r]) for r in waiting})
        except Exception as exc:  # every waiting loop gets the error
            self._results.update({r: (False, exc) for r in waiting})
        self._cv.notify_all()

    def _finished(self, r: int) -> None:
        with self._cv:
            self._running.discard(r)
            if not self._running and self._waiting:
                self._flush()

    def _execute(self, calls: dict) -> dict:
        """Run waiting calls batched by kind: {r: (kind, payload)} -> {r: result}."""
        out = {}
        for kind in sorted({k for k, _ in calls.values()}):
            reqs = {r: p for r, (k, p) in sorted(calls.items()) if k == kind}
            start = time.thread_time()
            out.update(getattr(self, "_" + kind)(reqs))
            if kind != "step":  # the step clocks its parts
                self._clock(kind, start)
        return out

    def _subset(self, rows):
        if len(rows) == self.size and list(rows) == list(range(self.size)):
            return self.params
        idx = np.asarray(rows, dtype=np.int64)
        return {k: v[idx] for k, v in self.params.items()}

    # ---- the batched operations -----------------------------------------------------------------------------
    def _draw(self, reqs: dict) -> dict:
        """{r: (prompt ids (P, Lp), counts (P,), rng, temperature, length)} -> {r: tokens (N, length)}."""
        import torch

        from .policy import _draw as draw_rows

        rows = list(reqs)
        owners = [np.repeat(np.arange(len(reqs[r][1])), reqs[r][1]) for r in rows]
        length = {reqs[r][4] for r in rows}
        if len(length) != 1:
            raise ValueError("length: the networks of one batched draw must sample completions of one length")
        length = length.pop()
        params = self._subset(rows)
        prompts = torch.as_tensor(pad_rows([np.asarray(reqs[r][0], dtype=np.int64) for r in rows]))
        owner = torch.as_tensor(pad_rows(owners))
        tokens = np.zeros((len(rows), owner.shape[1], length), dtype=np.int64)
        first, cache = self._prompt_pass(rows, params, prompts, reqs)
        first = first.double()
        for j, r in enumerate(rows):
            probs = torch.softmax(first[j] / reqs[r][3], -1).numpy()
            tokens[j, :owners[j].size, 0] = draw_rows(probs[owners[j]], reqs[r][2])
        for pos in range(1, length):  # each position from the prefix so far (the prompt's cache is reused)
            nxt = continuation_logits(self.layout, params, cache, owner, torch.as_tensor(tokens[:, :, :pos])).double()
            for j, r in enumerate(rows):
                probs = torch.softmax(nxt[j, :owners[j].size] / reqs[r][3], -1).numpy()
                tokens[j, :owners[j].size, pos] = draw_rows(probs, reqs[r][2])
        return {r: tokens[j, :owners[j].size] for j, r in enumerate(rows)}

    def _prompt_pass(self, rows, params, prompts, reqs):
        """``prompt_pass`` of a draw, reusing the last draw's where every network asks for the same prompts with
        unchanged weights (a step's pilot and its extra rollouts)."""
        import torch

        keys = [(int(self.versions[r]), np.ascontiguousarray(reqs[r][0], dtype=np.int64).tobytes()) for r in rows]
        memo = self._draw_memo
        if memo is not None and memo[0] == list(rows) and memo[1] == keys and memo[2].shape == prompts.shape:
            return memo[3], memo[4]
        with torch.no_grad():
            first, cache = prompt_pass(self.layout, params, prompts)
        self._draw_memo = (list(rows), keys, prompts, first, cache)
        return first, cache

    def _logits(self, reqs: dict) -> dict:
        """{r: prompt ids (P, Lp)} -> {r: (first (P, V), second (P, V, V)) float64}: ``completion_logits``."""
        import torch

        rows = list(reqs)
        vocab = self.template.config.vocab_size
        sizes = [len(reqs[r]) for r in rows]
        prompts = torch.as_tensor(pad_rows([np.asarray(reqs[r], dtype=np.int64) for r in rows]))
        n = prompts.shape[1]
        z = torch.arange(vocab).repeat(n).view(1, -1, 1).expand(len(rows), -1, -1)
        params = self._subset(rows)
        with torch.no_grad():
            first, cache = prompt_pass(self.layout, params, prompts)
        second = continuation_logits(self.layout, params, cache, vocab, z).double().view(len(rows), n, vocab, vocab)
        first = first.double()
        out = {r: (first[j, :sizes[j]], second[j, :sizes[j]]) for j, r in enumerate(rows)}
        for r in rows:
            self._memo[r] = (int(self.versions[r]), reqs[r].tobytes(), out[r])
        return out

    def _step(self, reqs: dict) -> dict:
        """{r: (trainer, prompt ids, groups, rewards)} -> {r: {"loss", "grad_norm"}}: one GRPO step each."""
        import torch

        rows = list(reqs)
        batches = [grouped_tensors(reqs[r][1], reqs[r][2]) for r in rows]
        if any(b is None for b in batches) or len({b[2].shape[1] for b in batches}) != 1:
            raise ValueError("groups: a batched GRPO step needs prompts of one length and completions of one length")
        prompts = torch.as_tensor(pad_rows([b[0] for b in batches]))
        owner = torch.as_tensor(pad_rows([b[1] for b in batches]))
        comps = torch.as_tensor(pad_rows([b[2] for b in batches]))
        start = time.thread_time()
        trainers = [reqs[r][0] for r in rows]
        temps = torch.tensor([t.config.temperature for t in trainers], dtype=torch.float32)
        for v in self.params.values():
            v.requires_grad_(True)
        params = self._subset(rows)
        logp = completion_logps(self.layout, params, prompts, owner, comps, temps)
        losses = []
        for j, (trainer, b) in enumerate(zip(trainers, batches)):
            groups, rewards = reqs[rows[j]][2], reqs[rows[j]][3]
            new = logp[j, :b[1].size]
            loss, _ = trainer.surrogate(new, torch.ones_like(new, dtype=torch.bool), [len(g) for g in groups],
                                        rewards)
            losses.append(loss)
        names = list(self.params)
        start = self._clock("step:forward", start)
        grads = torch.autograd.grad(torch.stack(losses).sum(), [params[k] for k in names])
        start = self._clock("step:backward", start)
        for v in self.params.values():
            v.requires_grad_(False)
        grads = dict(zip(names, grads))
        norms, scale = clip_coefficients(grads, [t.config.max_grad_norm for t in trainers])
        for k, g in grads.items():
            g.mul_(scale.view((-1,) + (1,) * (g.dim() - 1)))
        self.optimizer.step(rows, grads, [t.optimizer.param_groups[0]["lr"] for t in trainers])
        self.versions[rows] += 1
        self._clock("step:adamw", start)
        return {r: {"loss": float(losses[j].detach()), "grad_norm": float(norms[j])} for j, r in enumerate(rows)}


class BatchedNetwork:
    """Network ``r`` of a ``NetworkGroup``: what a ``LabPolicy`` needs of its ``model``.

    ``simalloc.lab.policy.sample`` and ``completion_logits`` call ``draw_tokens`` / ``completion_logits`` on it,
    ``simalloc.lab.step.lab_trainer`` calls ``make_trainer``; ``state_dict`` / ``load_state_dict`` read and set
    the network's row of the stacked weights.

    Parameters
    ----------
    group : NetworkGroup
        The group.
    r : int
        The network's row.
    """

    def __init__(self, group: NetworkGroup, r: int):
        self.group, self.r = group, r
        self.config = group.template.config

    def draw_tokens(self, prompt_ids, counts, rng, temperature: float, length: int = 2) -> np.ndarray:
        """Completions drawn as ``sample`` draws them: (sum(counts), length) token ids, ordered by prompt."""
        return self.group.call(self.r, "draw", (prompt_ids, counts, rng, float(temperature), int(length)))

    def completion_logits(self, prompt_ids):
        """``simalloc.lab.policy.completion_logits`` for this network: (first (n, V), second (n, V, V))."""
        ids = np.ascontiguousarray(prompt_ids, dtype=np.int64)
        memo = self.group._memo.get(self.r)
        if memo is not None and memo[0] == self.group.versions[self.r] and memo[1] == ids.tobytes():
            return memo[2]  # the same prompts, unchanged weights (a recorder reads one set at two temperatures)
        return self.group.call(self.r, "logits", ids)

    def make_trainer(self, tokenizer, config: GRPOConfig) -> "BatchedTrainer":
        """The GRPO trainer of this network (its steps run batched with the group's)."""
        return BatchedTrainer(self, tokenizer, config)

    def state_dict(self) -> dict:
        """The network's weights by the model's parameter names (copies)."""
        return {k: v[self.r].detach().clone() for k, v in self.group.params.items()}

    def load_state_dict(self, state: dict) -> None:
        """Set the network's weights."""
        import torch

        with torch.no_grad():
            for k, v in self.group.params.items():
                v[self.r] = state[k]
        self.group.versions[self.r] += 1

    def parameters(self):
        """The network's weights as tensors (copies; ``LabPolicy.n_params`` counts them)."""
        return [v[self.r].detach().clone().requires_grad_(True) for v in self.group.params.values()]


class _Optimizer:
    """What the loop reads and sets of a trainer's optimizer: ``param_groups[0]["lr"]``."""

    def __init__(self, lr: float):
        self.param_groups = [{"lr": float(lr)}]


class BatchedTrainer(GRPOTrainer):
    """The GRPO trainer of one network of a group: ``step`` runs batched with the group's other networks.

    It is a ``GRPOTrainer`` (the same ``advantages``, ``surrogate``, ``loss``) whose parameters are the network's
    row of the group's stacked weights; ``step`` is gathered and run by ``NetworkGroup``; ``loss`` and ``params``
    (per-group gradients, ``gradient_snr``) run on this network alone with its weights as leaf tensors.

    Parameters
    ----------
    network : BatchedNetwork
    tokenizer : LabTokenizer
    config : GRPOConfig
        ``beta`` must be 0 and ``trainable`` "all".
    """

    def __init__(self, network: BatchedNetwork, tokenizer, config: GRPOConfig):
        self.config = config.validate()
        if config.beta > 0 or config.trainable != "all":
            raise ValueError("config: a batched lab trainer needs beta = 0 and trainable = 'all'")
        self.model, self.tokenizer, self.ref_model = network, tokenizer, None
        self.optimizer = _Optimizer(config.learning_rate)
        self._leaves = (None, None)

    def _leaf_params(self) -> dict:
        net = self.model
        version = int(net.group.versions[net.r])
        if self._leaves[0] != version:
            self._leaves = (version, {k: v[net.r:net.r + 1].detach().clone().requires_grad_(True)
                                      for k, v in net.group.params.items()})
        return self._leaves[1]

    @property
    def params(self) -> list:
        """The network's weights as leaf tensors (the same tensors until its next step or load)."""
        return list(self._leaf_params().values())

    def trainable_state(self) -> dict:
        """A copy of the network's weights by name."""
        return self.model.state_dict()

    def group_logps(self, model, prompt_ids, groups):
        """Per-token log-probs (n, Lc) of the groups' completions under this network's leaf weights (``params``)."""
        import torch

        batch = grouped_tensors(prompt_ids, groups)
        if batch is None:
            raise ValueError("groups: the lab's batched trainer needs prompts of one length and completions of one "
                             "length")
        prompts, owner, comps = (torch.as_tensor(x)[None] for x in batch)
        t = torch.full((1,), float(self.config.temperature))
        logp = completion_logps(self.model.group.layout, self._leaf_params(), prompts, owner, comps, t)[0]
        return logp, torch.ones_like(logp, dtype=torch.bool)

    def group_gradient_rows(self, prompt_ids, groups, rewards):
        """``simalloc.lab.step.group_gradient_rows`` on this network alone (``gradient_snr`` reads it)."""
        start = time.thread_time()
        params = {k: v.detach().requires_grad_(True) for k, v in self._leaf_params().items()}
        out = group_gradient_rows(self, params, self.model.group.layout, prompt_ids, groups, rewards)
        self.model.group._clock("snr", start)
        return out

    def step(self, prompt_ids, groups, rewards) -> dict:
        """One AdamW step of this network, gathered with the group's other networks' steps."""
        if len(prompt_ids) != len(groups) or len(groups) != len(rewards):
            raise ValueError("prompt_ids, groups, rewards: one entry per prompt")
        return self.model.group.call(self.model.r, "step", (self, prompt_ids, groups, rewards))


def run_batched(group: NetworkGroup, loops) -> list:
    """Run one loop per network of ``group`` in lock-step, their network calls batched (module docstring).

    Parameters
    ----------
    group : NetworkGroup
        The networks.
    loops : sequence of callables
        ``loops[r]()`` runs network r's loop (its policy's ``model`` is ``group.network(r)``); at most
        ``group.size`` loops, each network used by one loop.

    Returns
    -------
    list
        Each loop's return value, in order. The first loop that raised re-raises here after the others ended.
    """
    import torch

    if len(loops) > group.size:
        raise ValueError(f"loops: at most {group.size} (the group's networks), got {len(loops)}")
    results, errors = [None] * len(loops), [None] * len(loops)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def body(r):
        try:
            results[r] = loops[r]()
        except BaseException as exc:  # re-raised below, once every loop has ended
            errors[r] = exc
        finally:
            group._finished(r)

    group._running = set(range(len(loops)))
    workers = [threading.Thread(target=body, args=(r,), daemon=True) for r in range(len(loops))]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        group._running = None
        torch.set_num_threads(threads)
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def train_lab_batched(cfg, runs, policy=None, timings: dict | None = None) -> list:
    """``train_lab`` for several (arm, seed, replicate) runs at once, their networks batched (module docstring).

    Parameters
    ----------
    cfg : LabConfig
        The runs' settings.
    runs : sequence of (arm, rng, rep)
        As ``train_lab``'s ``arm``, ``rng`` and ``rep``; each run trains its own copy of the start network.
    policy : LabPolicy, optional
        The start network (default: the config's cached warm start).
    timings : dict, optional
        Filled with the group's CPU seconds per part (``NetworkGroup.seconds``).

    Returns
    -------
    list of (steps, share)
        ``train_lab``'s tables, one per run, in order; equal to separate ``train_lab`` runs to float32 reordering.

    Examples
    --------
    >>> from simalloc.lab import LabConfig
    >>> cfg = LabConfig(steps=1, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30, warm_steps=5,
    ...                 record_every=1, snr_every=0)
    >>> out = train_lab_batched(cfg, [("uniform", 0, 0), ("hora", 0, 0)])
    >>> [list(t.step) for t, _ in out]
    [[0, 1], [0, 1]]
    """
    from .loop import train_lab
    from .policy import LabPolicy
    from .warmstart import warm_start

    cfg.validate()
    runs = list(runs)
    if not runs:
        raise ValueError("runs: at least one (arm, rng, rep)")
    start = policy or warm_start(cfg.build_task(), cfg.model_spec, cfg.warm, cfg.temperature)
    group = NetworkGroup([start.model] * len(runs))

    def loop(r, arm, rng, rep):
        return lambda: train_lab(cfg, arm, rng, rep=rep,
                                 policy=LabPolicy(group.network(r), start.task, cfg.temperature))

    try:
        return run_batched(group, [loop(r, *run) for r, run in enumerate(runs)])
    finally:
        if timings is not None:
            timings.update(group.seconds)


def train_lab_shard(cfg, seed: int, shard: dict) -> dict:
    """Train a study's shard: one (arm, replicate) run, or a batch of them (``simalloc.train.batch_shards``) at once.

    Parameters
    ----------
    cfg : LabConfig
        The runs' settings.
    seed : int
        The study's seed; replicate r trains with ``SeedSequence([seed, r])`` (common random numbers across arms).
    shard : dict
        With ``arm`` and ``rep``, or ``runs``: a list of such shards (trained batched, ``train_lab_batched``, on
        the turn-3 task; one after another on tasks with longer completions, which the batched path lacks).

    Returns
    -------
    dict of str to pandas.DataFrame
        "steps" and "budget_share": the runs' ``train_lab`` tables concatenated in the batch's order.
    """
    import pandas as pd

    from .loop import train_lab

    def rng(rep):
        return np.random.SeedSequence([seed, rep])

    if "runs" not in shard:
        steps, share = train_lab(cfg, shard["arm"], rng(shard["rep"]), rep=shard["rep"])
        return {"steps": steps, "budget_share": share}
    runs = [(run["arm"], rng(run["rep"]), run["rep"]) for run in shard["runs"]]
    if cfg.build_task().completion_length != 2:
        # the batched sampler and enumeration cover the turn-3 task's 2-token completions only: longer (v2)
        # completions train one run after another in the same shard, so the shard ids and the table stay the same
        out = [train_lab(cfg, arm, seed_seq, rep=rep) for arm, seed_seq, rep in runs]
    else:
        out = train_lab_batched(cfg, runs)
    return {"steps": pd.concat([steps for steps, _ in out], ignore_index=True),
            "budget_share": pd.concat([share for _, share in out], ignore_index=True)}
