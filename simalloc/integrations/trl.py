"""Per-prompt group sizes in TRL's ``GRPOTrainer`` through its ``rollout_func`` hook, without subclassing it.

What TRL allows (read in TRL 1.16.0, ``trl/trainer/grpo_trainer.py``): the group size is fixed by
``num_generations`` (``RepeatSampler`` repeats every prompt that many times; advantages use
``rewards.view(-1, num_generations)``), but the baseline is NaN-aware: a completion for which every reward
function returns None is "unscorable", left out of its group's mean and std (``nanmean``/``nanstd``) and given
advantage 0. And a ``rollout_func`` may return an ``env_mask`` per completion that zeroes its tokens in the loss.

So the least invasive reading: set ``num_generations`` to the largest group you allow (G_max); ``AllocatedRollout``
(the ``rollout_func``) draws a pilot of ``k0`` per prompt, grades it, lets the planner split the extra budget
(at most G_max - k0 each), draws the extra completions, and fills each prompt's remaining rows with the
shortest placeholder rows TRL accepts (a one-token prompt and completion, ``env_mask`` 0, ``simalloc_used``
False); ``masked_reward`` wraps each reward function to return None for them. TRL then normalises every prompt over
its own n_i real completions. Eval calls use ``num_generations_eval`` for every prompt and leave the planner alone;
several processes share one allocation (``AllocatedRollout.__call__``); multi-round rules and the planner's
selectors are options; ``checkpoint_callback`` keeps the planner in TRL's checkpoints.

Cost: only sum(n_i) completions are generated, but every placeholder is a full row of TRL's padded
(prompt + completion) tensor, so the update's forward and backward passes run on prompts x G_max rows, as plain
GRPO at G_max. Supported: TRL >= 1.10 (``rollout_func`` with ``env_mask`` and the NaN-aware baseline); tested with
1.16.0. Loss scale (TRL 1.16's ``_compute_loss``): the default ``"dapo"`` and ``"bnpo"`` divide by the real tokens
only; ``"grpo"`` averages per-sequence means over every row and ``"dr_grpo"`` divides by rows x
``max_completion_length``, so placeholder rows (loss 0) count in the denominator: the step is scaled by
sum(n_i) / (prompts x G_max), like a smaller learning rate. With ``beta > 0`` the placeholders' tokens are masked
out of the KL term too (env_mask).
"""

from __future__ import annotations

import numpy as np

__all__ = ["AllocatedRollout", "masked_reward", "transformers_generator", "vllm_generator", "checkpoint_callback",
           "USED_KEY", "ON_POLICY", "PLANNER_FILE"]

#: the extra field that marks a real completion (False: a placeholder row beyond the prompt's group size)
USED_KEY = "simalloc_used"
#: the attribute that marks a generator as sampling from the trainer's current weights
ON_POLICY = "simalloc_on_policy"


#: the file ``checkpoint_callback`` writes into each TRL checkpoint folder
PLANNER_FILE = "simalloc_planner.json"
_NONE_WARNING = "All reward functions returned None"


class _PlaceholderWarningFilter:
    """Drops TRL's "All reward functions returned None" warning when the row it names is a placeholder (its
    kwargs show ``USED_KEY: False``): TRL warns about the first such row of every batch, and placeholders are None
    on purpose. A warning naming a real completion passes through."""

    def filter(self, record) -> bool:
        msg = record.getMessage()
        return not (_NONE_WARNING in msg and f"'{USED_KEY}': False" in msg)


def _install_warning_filter() -> None:
    import logging

    log = logging.getLogger("trl.trainer.grpo_trainer")
    if not any(isinstance(f, _PlaceholderWarningFilter) for f in log.filters):
        log.addFilter(_PlaceholderWarningFilter())


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


def checkpoint_callback(rollout, *, resume_from=None):
    """A ``transformers.TrainerCallback`` that keeps ``rollout``'s planner and random state in TRL's checkpoints.

    ``on_save`` writes ``rollout.state_dict()`` into the checkpoint folder TRL has just written
    (``<output_dir>/checkpoint-<step>/simalloc_planner.json``, process 0); ``on_train_begin`` of a resumed run
    (``trainer.train(resume_from_checkpoint=...)``, ``state.global_step > 0``) reads it back from
    ``<output_dir>/checkpoint-<step>`` or from ``resume_from`` when the checkpoint lies elsewhere, and refuses a
    checkpoint without it when the rollout has a planner (the run would silently restart every prompt's history).

    Parameters
    ----------
    rollout : AllocatedRollout
        The rollout_func.
    resume_from : str, optional
        The checkpoint folder a run resumes from, when not under ``output_dir``.

    Returns
    -------
    transformers.TrainerCallback
        Pass it in ``GRPOTrainer(..., callbacks=[...])``.
    """
    import json
    import os

    from transformers import TrainerCallback

    class PlannerCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, PLANNER_FILE), "w") as f:
                    json.dump(rollout.state_dict(), f)

        def on_train_begin(self, args, state, control, **kwargs):
            if not state.global_step:
                return
            folder = resume_from or os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            path = os.path.join(folder, PLANNER_FILE)
            if not os.path.exists(path):
                if rollout.planner is not None:
                    raise ValueError(f"resume_from: {path} is missing (a checkpoint saved without "
                                     "checkpoint_callback, or elsewhere: pass resume_from=<checkpoint folder>)")
                return
            try:
                with open(path) as f:
                    state = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"resume_from: {path} is not valid JSON ({err})") from None
            if not isinstance(state, dict) or "rng" not in state:
                raise ValueError(f"resume_from: {path} is not a simalloc planner checkpoint (expected keys planner, "
                                 "rng)")
            rollout.load_state_dict(state)

    return PlannerCheckpoint()


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

    def generate(prompts, counts):
        model = trainer_model_getter()
        out = []
        for prompt, k in zip(prompts, counts):
            ids = _encode(tokenizer, prompt)
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

    setattr(generate, ON_POLICY, True)
    return generate


def vllm_generator(trainer_getter, tokenizer):
    """A ``generate`` for ``AllocatedRollout`` on TRL's own vLLM engine (``GRPOConfig(use_vllm=True)``, colocate or
    server mode), returning the sampling logprobs TRL's importance-sampling correction needs.

    TRL syncs the engine's weights before every ``rollout_func`` call of a new step (``_generate``:
    ``vllm_generation.sync_weights()``), so this generator is on-policy. Each call is one
    ``trainer.vllm_generation.generate`` with every prompt repeated its count (``num_generations=1``); every
    process calls it. TRL's server mode (and colocate mode with ``vllm_tensor_parallel_size > 1``) gathers the
    prompts of all processes and hands process r the outputs ``[r L, (r + 1) L)``, with L its own prompt count, so
    it assumes every process sends as many prompts; with per-prompt group sizes they differ, so in those modes,
    with several processes, each process's list is padded to the largest (a one-token prompt, its output
    discarded).

    Parameters
    ----------
    trainer_getter : callable
        Returns the ``GRPOTrainer`` (e.g. ``lambda: trainer``).
    tokenizer : transformers tokenizer
        Encodes the prompts (with the chat template for conversational prompts).

    Returns
    -------
    callable
        ``generate(prompts, counts) -> list of list of (prompt_ids, completion_ids, logprobs)``.
    """

    def generate(prompts, counts):
        trainer = trainer_getter()
        engine = getattr(trainer, "vllm_generation", None)
        if not getattr(trainer, "use_vllm", False) or engine is None:
            raise ValueError("vllm_generator: the trainer has no vLLM engine; set GRPOConfig(use_vllm=True) "
                             "(vllm_mode='colocate' or 'server'), or use transformers_generator")
        flat = [_encode(tokenizer, p) for p, k in zip(prompts, counts) for _ in range(int(k))]
        n_local = len(flat)
        acc = getattr(trainer, "accelerator", None)
        gathers = getattr(engine, "mode", "server") == "server" or getattr(engine, "tensor_parallel_size", 1) > 1
        if acc is not None and acc.num_processes > 1 and gathers:  # equal lists on every process (TRL slices by L)
            from accelerate.utils import gather_object

            width = max(gather_object([n_local]))
            flat = flat + [[tokenizer.eos_token_id]] * (width - n_local)
        if not flat:
            return [[] for _ in counts]
        _, completion_ids, logprobs, _ = engine.generate(prompts=flat, images=None, num_generations=1)
        if len(completion_ids) != len(flat) or logprobs is None or len(logprobs) != len(flat):
            raise RuntimeError(f"vllm_generator: TRL's engine returned {len(completion_ids)} completions (logprobs: "
                               f"{'none' if logprobs is None else len(logprobs)}) for {len(flat)} prompts")
        rows = [(p, c, [lp[0] for lp in seq]) for p, c, seq in zip(flat, completion_ids, logprobs)]
        out, at = [], 0
        for k in counts:
            out.append(rows[at:at + int(k)])
            at += int(k)
        return out

    setattr(generate, ON_POLICY, True)
    return generate


def _encode(tokenizer, prompt) -> list:
    """A prompt's token ids (chat template with the generation prompt for conversational prompts)."""
    if isinstance(prompt, list):
        prompt = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])


class AllocatedRollout:
    """TRL ``rollout_func`` with per-prompt group sizes chosen by a planner (module docstring).

    Parameters
    ----------
    generate : callable
        ``generate(prompts, counts) -> list of list of (prompt_ids, completion_ids[, logprobs])``: counts[j]
        completions of prompts[j], with each completion token's sampling logprob when the generator has them
        (``transformers_generator``, ``vllm_generator``, or your own vLLM client with ``sync_weights``). Every
        process calls it at every step, possibly with no prompts.
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
        The allocator's ties (process 0's allocation is used on every process).
    rule : {"reinforce_ada", "reinforce_ada_pos", "speed_rl"}, optional
        A multi-round rule instead of pilot + allocation (``simalloc.integrations.rounds``): the step spends
        (k0 + extra_per_prompt) x prompts rollouts in the rule's rounds and trains each prompt on the rollouts the
        rule keeps (at most ``num_generations``). ``allocator`` and ``history_prior`` are then unused; the planner
        still observes every prompt's drawn totals.
    rule_options : dict, optional
        The rule's parameters (``round_repeat``, ``max_rounds``, ``keep``; SPEED-RL's ``screen``, ``extend``).
    select_n : int, optional
        Roll out at most this many of the step's prompts, chosen by the planner's selector (``Planner.select``:
        "uniform", "greso", "mopps"); the others get no rollout (placeholders, advantage 0) and cost nothing.
        Needs a planner; refused with a ``rule`` (the rule's rounds decide who is rolled out).
    sync_weights : callable, optional
        ``sync_weights(model)``: push the trainer's current weights to your own generator (e.g. a vLLM client's
        ``update_named_param`` for each parameter); called once per training step before generation, as TRL's own
        vLLM modes do, and before an eval call at a step not yet synced (so ``evaluate()`` samples the current
        weights). Required for a generator not marked on-policy (``ON_POLICY``); refused otherwise.

    Attributes
    ----------
    last_sizes : ndarray of int
        The group sizes of the last call, one per prompt (what TRL then normalises over).
    last_spent : int
        Rollouts drawn in the last training call under a rule (discarded ones included).
    """

    def __init__(self, generate, score, tokenizer, *, k0: int, extra_per_prompt: float, allocator: str = "hora",
                 planner=None, history_prior: bool = False, threshold: float = 0.5, rng=None, sync_weights=None,
                 rule=None, rule_options=None, select_n=None):
        from ..allocators import get_allocator
        from ..seeding import as_generator
        from ..validation import check_choice
        from .rounds import TRAINER_RULES, step_rounds

        if isinstance(k0, bool) or not isinstance(k0, (int, np.integer)) or k0 < 1:
            raise ValueError(f"k0: expected an integer >= 1 (pilot completions per prompt), got {k0!r}")
        for name, value in (("extra_per_prompt", extra_per_prompt), ("threshold", threshold)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(value) or (name == "extra_per_prompt" and value < 0):
                raise ValueError(f"{name}: expected a finite number{' >= 0' if name == 'extra_per_prompt' else ''}, "
                                 f"got {value!r}")
        for name, value in (("generate", generate), ("score", score)):
            if not callable(value):
                raise ValueError(f"{name}: expected a callable, got {value!r}")
        get_allocator(allocator)
        self.rule = None if rule is None else check_choice(rule, "rule", TRAINER_RULES)
        if rule_options is not None and not isinstance(rule_options, dict):
            raise ValueError(f"rule_options: expected a dict of the rule's parameters, got {rule_options!r}")
        self.rule_options = dict(rule_options or {})
        if self.rule is not None:  # unknown or bad options are refused here, not at the first training step
            step_rounds(self.rule, 1, 0, self.rule_options)
        if select_n is not None and (isinstance(select_n, bool) or not isinstance(select_n, (int, np.integer))
                                     or select_n < 1 or planner is None):
            raise ValueError(f"select_n: expected an integer >= 1 with a planner (its selector chooses), got "
                             f"{select_n!r}" + ("" if planner is not None else " and no planner"))
        if select_n is not None and self.rule is not None:
            raise ValueError(f"select_n: not used with rule={self.rule!r} (its rounds decide which prompts are rolled "
                             "out); pass one of them")
        self.select_n = None if select_n is None else int(select_n)
        if sync_weights is None and not getattr(generate, ON_POLICY, False):
            raise ValueError("sync_weights: a generator that does not sample from the trainer's model (your vLLM "
                             "client) needs sync_weights=callable(model) (called once a training step, before "
                             "generation, as TRL's own vLLM modes sync), else the run goes off-policy; or use "
                             "transformers_generator / vllm_generator (use_vllm=True: TRL syncs its vLLM), or mark "
                             f"an on-policy generator with generate.{ON_POLICY} = True")
        if sync_weights is not None and not callable(sync_weights):
            raise ValueError(f"sync_weights: expected a callable(model) or None, got {sync_weights!r}")
        self.sync_weights, self._synced_step = sync_weights, None
        self.generate, self.score, self.tokenizer = generate, score, tokenizer
        self.k0, self.extra_per_prompt, self.allocator = int(k0), float(extra_per_prompt), allocator
        self.planner, self.history_prior, self.threshold = planner, history_prior, float(threshold)
        self.rng = as_generator(rng)
        self.last_sizes = np.empty(0, dtype=np.int64)
        self.last_spent = 0
        _install_warning_filter()

    def state_dict(self) -> dict:
        """The planner's state and the allocator's random state (JSON-able), for a checkpoint.

        Returns
        -------
        dict
        """
        return {"planner": None if self.planner is None else self.planner.state_dict(),
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s output.

        Parameters
        ----------
        state : dict
            A ``state_dict()``.
        """
        if not isinstance(state, dict) or "rng" not in state:
            raise ValueError("state: expected an AllocatedRollout.state_dict()")
        if self.planner is not None and state.get("planner") is not None:
            self.planner.load_state_dict(state["planner"])
        self.rng.bit_generator.state = state["rng"]

    def _successes(self, prompts, groups) -> np.ndarray:
        """Completions scoring above the threshold, per prompt (each completion graded once)."""
        return np.array([sum(self._graded(p, rows)) for p, rows in zip(prompts, groups)], dtype=np.int64)

    @staticmethod
    def _key(prompt):
        return prompt if isinstance(prompt, str) else repr(prompt)

    def _row(self, out, row, used: bool) -> None:
        """Append one row (``(prompt_ids, completion_ids[, logprobs])``) to ``out``."""
        prompt_ids, comp = row[0], row[1]
        out["prompt_ids"].append(list(prompt_ids))
        out["completion_ids"].append(list(comp))
        out["env_mask"].append([1 if used else 0] * len(comp))
        out[USED_KEY].append(used)
        out["logprobs"].append(list(row[2]) if len(row) > 2 and row[2] is not None else None)

    def _placeholder(self):
        """The shortest row TRL accepts: a one-token prompt and a one-token completion (EOS), logprob 0."""
        eos = self.tokenizer.eos_token_id
        return ([eos], [eos], [0.0])

    @staticmethod
    def _finish(out, trainer) -> dict:
        """``logprobs`` as TRL wants it: one list per row when the generator gave them, else None (refused when
        TRL's vLLM importance-sampling correction needs them)."""
        lps = out["logprobs"]
        real = [lp for lp, u in zip(lps, out[USED_KEY]) if u]
        if real and all(lp is not None for lp in real):
            out["logprobs"] = [lp if lp is not None else [0.0] * len(c) for lp, c in zip(lps, out["completion_ids"])]
            return out
        if getattr(trainer, "use_vllm", False) and getattr(trainer, "vllm_importance_sampling_correction", False):
            raise ValueError("generate: TRL's vLLM importance-sampling correction (use_vllm=True, "
                             "vllm_importance_sampling_correction=True) needs each completion's sampling logprobs; "
                             "return (prompt_ids, completion_ids, logprobs) rows (vllm_generator does) or set "
                             "vllm_importance_sampling_correction=False")
        out["logprobs"] = None
        return out

    @staticmethod
    def _layout(trainer, n_local: int, g: int):
        """This process's rows as (group, position) slots of the global generation batch, and the processes.

        TRL gives process r the global rows [r L, (r + 1) L) of a batch in which every prompt fills ``g``
        consecutive rows, so a group may straddle processes."""
        acc = getattr(trainer, "accelerator", None)
        rank, world = (acc.process_index, acc.num_processes) if acc is not None else (0, 1)
        rows = np.arange(rank * n_local, (rank + 1) * n_local)
        return rows // g, rows % g, rank, world

    def _evaluation(self, prompts, trainer, g) -> dict:
        """An eval call: TRL's eval group size (``num_generations_eval``) for every prompt, as plain GRPO evaluates
        (each process generates its own rows); no allocation, no placeholders, and the planner is neither asked nor
        told."""
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], USED_KEY: []}
        group = self._layout(trainer, len(prompts), g)[0]
        js, first, counts = np.unique(group, return_index=True, return_counts=True)
        for rows in self._generate([prompts[i] for i in first], counts.tolist()):
            for row in rows:
                self._row(out, row, True)
        return self._finish(out, trainer)

    def _generate(self, prompts, counts) -> list:
        """``self.generate``, with its output checked: one list per prompt, ``counts[j]`` rows in list j."""
        got = list(self.generate(prompts, counts))
        if len(got) != len(prompts) or any(len(rows) != int(k) for rows, k in zip(got, counts)):
            raise ValueError(f"generate: expected counts[j] rows for prompts[j] ({[int(k) for k in counts]}), got "
                             f"{[len(rows) for rows in got] if len(got) == len(prompts) else f'{len(got)} lists'}")
        return got

    def _gather(self, trainer, value, world):
        """``value`` from every process, in process order (accelerate's ``gather_object``)."""
        if world == 1:
            return [value]
        from accelerate.utils import gather_object

        return gather_object([value])

    def __call__(self, prompts, trainer) -> dict:
        """Prompts as TRL passes them (this process's rows of the generation batch, each prompt repeated
        ``num_generations`` times consecutively, a group possibly straddling processes) in; a dict with
        prompt_ids, completion_ids, logprobs, env_mask and ``USED_KEY`` out, one row per input row.

        Training, on every process: the pilot (positions < k0 of each group) is generated by the process holding
        those rows; the pilot's successes are summed over processes; every process then allocates the same way
        (process 0's allocation is used by all) and generates the extra completions for its own rows; each
        process's planner observes the global totals, so the planners stay equal on all processes."""
        from .. import allocate

        training = bool(trainer.model.training)
        g = int(trainer.num_generations if training else trainer.num_generations_eval)
        step = int(trainer.state.global_step)
        if self.sync_weights is not None and step != self._synced_step:  # as TRL's own vLLM modes: once a step,
            self.sync_weights(trainer.model)                             # before eval generation too
            self._synced_step = step
        if not training:
            return self._evaluation(list(prompts), trainer, g)
        if g < self.k0:
            raise ValueError(f"k0: the pilot ({self.k0}) exceeds num_generations ({g}), the largest group")
        group, pos, rank, world = self._layout(trainer, len(prompts), g)
        every = [p for part in self._gather(trainer, list(prompts), world) for p in part]
        if len(every) % g or len(every) != world * len(prompts):
            raise ValueError(f"prompts: expected blocks of num_generations={g} repeated prompts, equal on every "
                             f"process, got {len(every)} rows in all")
        unique = [every[i] for i in range(0, len(every), g)]
        m = len(unique)
        mine = sorted(set(group.tolist()))

        def draw(lo, hi):
            """Generate this process's slots with lo <= position < hi[group]; (completions per group, successes)."""
            want = {j: int(np.sum((group == j) & (pos >= lo) & (pos < hi[j]))) for j in mine}
            js = [j for j in mine if want[j]]
            got = self._generate([unique[j] for j in js], [want[j] for j in js])  # every process calls (collectives)
            rows = {j: list(r) for j, r in zip(js, got)}
            succ = np.zeros(m, dtype=np.int64)
            succ[js] = self._successes([unique[j] for j in js], [rows[j] for j in js]) if js else 0
            return rows, succ

        keys = [self._key(p) for p in unique]
        if self.rule is not None:
            return self._finish(self._rounds_step(unique, keys, g, group, pos, rank, world, trainer), trainer)
        active = self._selected(keys, trainer, world)
        a = int(active.sum())
        pilot, s_local = draw(0, np.where(active, self.k0, 0))
        s = np.sum(self._gather(trainer, s_local, world), axis=0)
        budget = int(min(round(self.extra_per_prompt * a), a * (g - self.k0)))
        act_keys = [k for k, on in zip(keys, active) if on]
        if self.planner is not None:
            extra_a = self.planner.allocate(act_keys, s[active], self.k0, budget, allocator=self.allocator,
                                            history_prior=self.history_prior, rng=self.rng, cap=g - self.k0)
        else:
            extra_a = allocate(self.allocator, s[active], self.k0, budget, rng=self.rng, cap=g - self.k0)
        extra_n = np.zeros(m, dtype=np.int64)
        extra_n[active] = np.asarray(extra_a, dtype=np.int64)
        extra_n = np.asarray(self._gather(trainer, extra_n, world)[0], dtype=np.int64)  # process 0's allocation
        sizes = np.where(active, self.k0 + extra_n, 0)
        extra, e_local = draw(self.k0, sizes)
        totals = s + np.sum(self._gather(trainer, e_local, world), axis=0)
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], USED_KEY: []}
        queues = {j: pilot.get(j, []) + extra.get(j, []) for j in mine}
        for j, q in zip(group.tolist(), pos.tolist()):
            if q < sizes[j]:
                self._row(out, queues[j].pop(0), True)
            else:
                self._row(out, self._placeholder(), False)
        self.last_sizes = sizes
        self._observe(keys, totals, sizes)
        return self._finish(out, trainer)

    def _selected(self, keys, trainer, world) -> np.ndarray:
        """Which of the step's prompts are rolled out: all, or ``select_n`` chosen by ``planner.select`` (its
        selector; process 0's choice on every process). The others get no rollout (placeholders only)."""
        if self.select_n is None:
            return np.ones(len(keys), dtype=bool)
        chosen = set(np.asarray(self.planner.select(keys, min(self.select_n, len(keys)), self.rng)).tolist())
        active = np.array([k in chosen for k in keys], dtype=bool)
        return np.asarray(self._gather(trainer, active, world)[0], dtype=bool)

    def _observe(self, keys, successes, trials) -> None:
        """The planner observes the step (a prompt drawn twice in one batch: its totals summed; prompts that drew
        nothing are left out) and closes it."""
        if self.planner is None:
            return
        agg: dict = {}
        for key, s_j, n_j in zip(keys, np.asarray(successes).tolist(), np.asarray(trials).tolist()):
            if n_j:
                a = agg.setdefault(key, [0, 0])
                a[0] += int(s_j)
                a[1] += int(n_j)
        self.planner.observe(list(agg), [a[0] for a in agg.values()], [a[1] for a in agg.values()])
        self.planner.end_step()

    def _rounds_step(self, unique, keys, g, group, pos, rank, world, trainer) -> dict:
        """A training step under a multi-round rule (``simalloc.integrations.rounds``): the step's budget is
        (k0 + extra_per_prompt) x prompts rollouts; each round's draws are split over the processes (draw t on
        process t mod world) and gathered, so every process follows the same rule; each prompt's kept rollouts
        fill its first rows, placeholders the rest (an untrained prompt: all placeholders, advantage 0)."""
        from .rounds import run_rounds, step_rounds

        m = len(unique)
        rounds = step_rounds(self.rule, m, int(round((self.k0 + self.extra_per_prompt) * m)), self.rule_options)

        def draw(js, counts):
            flat = [j for j, c in zip(js, counts) for _ in range(c)]
            want: dict = {}
            for t in range(rank, len(flat), world):
                want[flat[t]] = want.get(flat[t], 0) + 1
            order = [j for j in js if want.get(j)]
            got = self._generate([unique[j] for j in order], [want[j] for j in order])
            local = [(j, tuple(row), bool(ok)) for j, rows in zip(order, got)
                     for row, ok in zip(rows, self._graded(unique[j], rows))]
            per: dict = {j: [] for j in js}
            for part in self._gather(trainer, local, world):
                for j, row, ok in part:
                    per[j].append((row, ok))
            return [per[j] for j in js]

        groups, kept = run_rounds(rounds, draw)
        sizes = np.zeros(m, dtype=np.int64)
        rows_of = {}
        for j, items in zip(groups.ids.tolist(), kept):
            sizes[j], rows_of[j] = len(items), items
        if sizes.max(initial=0) > g:
            raise ValueError(f"rule_options: {self.rule} keeps up to {int(sizes.max())} rollouts of a prompt, more "
                             f"than num_generations={g} (the largest group)")
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], USED_KEY: []}
        for j, q in zip(group.tolist(), pos.tolist()):
            self._row(out, rows_of[j][q] if q < sizes[j] else self._placeholder(), bool(q < sizes[j]))
        self.last_sizes = sizes
        self.last_spent = int(groups.spent)
        self._observe(keys, rounds.pos, rounds.pos + rounds.neg)
        return out

    def _graded(self, prompt, rows) -> list:
        """Whether each completion of ``prompt`` succeeds (score > threshold)."""
        return [self.score(prompt, self.tokenizer.decode(row[1], skip_special_tokens=True)) > self.threshold
                for row in rows]
