"""Per-prompt group sizes in verl: a batch of prompts plus an allocation becomes a ``DataProto`` with each prompt
repeated its own number of times and one ``uid`` per prompt, which verl's GRPO advantage already groups by.

What verl allows (read in verl 0.9.1): ``core_algos.compute_grpo_outcome_advantage`` groups rollouts by the
``uid`` index, so any group size works; ``DataProto.sample_level_repeat(repeat_times)`` repeats each row its own
number of times; the agent-loop rollout manager splits every batch into ``rollout.agent.num_workers`` equal chunks
(``AgentLoopManager.generate_sequences``: ``prompts.chunk(len(self.agent_loop_workers))``, which asserts equal
chunks), so its input is padded to that divisor (``pad_dataproto_to_divisor`` / ``unpad_dataproto``, as
``_validate`` does). ``RayPPOTrainer.fit`` repeats every prompt ``rollout.n`` times, so a step with per-prompt sizes
needs its own generation stage: ``generate_allocated`` (pilot -> allocation -> extra generation -> one batch for
the update), which ``AllocatingTrainerMixin`` puts where ``fit`` generates (two hooks; ``fit``'s reward, log-prob,
advantage and update stages run unchanged). ``_validate`` (which also calls ``_get_gen_batch``) runs verl's own
path untouched. verl's ``uid`` is new at every step, so the planner is keyed by ``stable_prompt_ids``. verl
splits each update batch into the actor's data-parallel size equal parts, so the step's rows must be a multiple of
it (``AllocatingTrainerMixin.check_update_rows``: a multi-round rule or a selector needs one data-parallel rank).

Tested on CPU with the real verl (``make test-integrations``): verl's own ``RayPPOTrainer.__init__``, ``fit`` and
``_validate`` (validation before training and after each of 2 steps) with CPU stand-ins for the worker groups
only (rollout manager, actor, checkpoint engine); the batch construction; the advantages against
``simalloc.estimators.group_advantages``; padding; a resume from verl's checkpoint. Not run: Ray workers, a GPU
rollout engine, FSDP; verl 0.9.1's default ``trainer.use_v1=True`` trainer (the mixin targets ``RayPPOTrainer``,
which ``trainer.use_v1=False`` selects).

A group of one rollout differs between the two: verl gives it mean 0 and std 1, so its advantage is its reward;
simalloc gives it 0 (no baseline, no signal). Allocations with a pilot of at least 2 never make one.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

__all__ = ["repeat_by_allocation", "pad_to_multiple", "unpad", "grpo_advantages", "generate_allocated",
           "generate_rounds", "stable_prompt_ids", "rollout_divisor", "AllocatingTrainerMixin"]


def _verl():
    try:
        from verl import protocol
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("simalloc.integrations.verl needs verl: pip install 'simalloc[verl]' "
                          "(make test-integrations installs it)") from err
    return protocol


def repeat_by_allocation(prompts, counts, *, uid_key: str = "uid", uids=None):
    """Each prompt row repeated ``counts[i]`` times (``DataProto.sample_level_repeat``), with one uid per prompt.

    Parameters
    ----------
    prompts : verl.DataProto
        One row per prompt (as ``RayPPOTrainer`` builds a generation batch).
    counts : array_like of int
        Rollouts per prompt, >= 0 (0 drops the prompt from this batch).
    uid_key : str, default "uid"
        The non-tensor key verl groups advantages by.
    uids : sequence, optional
        The prompts' uids (default: the batch's own ``uid`` column, else fresh uuid4 strings).

    Returns
    -------
    verl.DataProto
        sum(counts) rows, prompt i's rows consecutive.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size != len(prompts):
        raise ValueError(f"counts: expected one count per prompt ({len(prompts)}), got shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer) or np.any(counts < 0):
        raise ValueError("counts: expected integers >= 0")
    if uids is None:
        uids = prompts.non_tensor_batch.get(uid_key)
        if uids is None:
            uids = np.array([str(uuid.uuid4()) for _ in range(len(prompts))], dtype=object)
    uids = np.asarray(uids, dtype=object)
    if uids.size != len(prompts) or len(set(uids.tolist())) != uids.size:
        raise ValueError("uids: expected one distinct uid per prompt")
    prompts.non_tensor_batch[uid_key] = uids
    return prompts.sample_level_repeat(counts.astype(np.int64))


def pad_to_multiple(batch, multiple: int):
    """``batch`` padded to a multiple of ``multiple`` rows (the rollout workers' data-parallel size), with
    ``verl.protocol.pad_dataproto_to_divisor``.

    Parameters
    ----------
    batch : verl.DataProto
        The rows.
    multiple : int
        The divisor, >= 1.

    Returns
    -------
    (verl.DataProto, int)
        The padded batch and the number of rows added.
    """
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise ValueError(f"multiple: expected an integer >= 1, got {multiple!r}")
    return _verl().pad_dataproto_to_divisor(batch, int(multiple))


def unpad(batch, pad_size: int):
    """The rows of a padded batch before the padding (``verl.protocol.unpad_dataproto``).

    Parameters
    ----------
    batch : verl.DataProto
        A batch ``pad_to_multiple`` padded.
    pad_size : int
        The rows it added.

    Returns
    -------
    verl.DataProto
    """
    return _verl().unpad_dataproto(batch, pad_size=int(pad_size))


def grpo_advantages(batch, *, epsilon: float = 1e-6, norm_by_std: bool = True, uid_key: str = "uid",
                    score_key: str = "token_level_scores", mask_key: str = "response_mask"):
    """verl's own ``compute_grpo_outcome_advantage`` on ``batch`` (grouped by ``uid_key``): the advantages per row.

    Parameters
    ----------
    batch : verl.DataProto
        With token-level scores and a response mask.
    epsilon, norm_by_std : float, bool
        verl's epsilon (1e-6) and ``norm_adv_by_std_in_grpo``.
    uid_key, score_key, mask_key : str
        Where the uids, scores and mask are.

    Returns
    -------
    torch.Tensor
        (rows, response length) advantages.
    """
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    adv, _ = compute_grpo_outcome_advantage(batch.batch[score_key], batch.batch[mask_key],
                                            batch.non_tensor_batch[uid_key], epsilon=epsilon,
                                            norm_adv_by_std_in_grpo=norm_by_std)
    return adv


def stable_prompt_ids(batch, *, index_key: str = "index") -> list:
    """A stable id per prompt row, the same for a prompt at every step (what a ``simalloc.Planner`` is keyed by).

    verl's ``uid`` is a fresh uuid4 per row at every step (``fit``), so a planner keyed by it never sees a prompt
    twice. The id here, per row:

    1. ``"<data_source>/index:<i>"`` when the row's ``extra_info`` dict holds ``index_key`` (verl's data
       preprocessing scripts write the dataset row's index there; ``RLHFDataset`` reads ``extra_info["index"]``);
       the ``data_source`` prefix keeps two datasets' index 0 apart. A missing key is not read as 0 (as
       ``RLHFDataset``'s own ``index`` column does), since that would merge every such prompt into one.
    2. else ``"tokens:<sha256>"`` of the prompt's token ids (``input_ids`` where ``attention_mask`` is 1) when the
       batch holds them (verl before the agent loop, custom datasets);
    3. else ``"prompt:<sha256>"`` of ``raw_prompt`` (the chat messages as JSON with sorted keys): verl 0.9's
       ``RLHFDataset`` tokenises inside the agent loop, so its trainer batch has only the messages.

    Parameters
    ----------
    batch : verl.DataProto
        One row per prompt (a generation batch).
    index_key : str, default "index"
        The key inside ``extra_info``.

    Returns
    -------
    list of str
        One id per row.
    """
    import hashlib
    import json

    n = len(batch)
    nt = batch.non_tensor_batch
    extra = nt.get("extra_info")
    source = nt.get("data_source")
    tensors = batch.batch.keys() if batch.batch is not None else ()
    ids = []
    for i in range(n):
        info = extra[i] if extra is not None else None
        if isinstance(info, dict) and info.get(index_key) is not None:
            prefix = "" if source is None else f"{source[i]}/"
            ids.append(f"{prefix}index:{info[index_key]}")
        elif "input_ids" in tensors:
            tok = batch.batch["input_ids"][i]
            if "attention_mask" in tensors:
                tok = tok[batch.batch["attention_mask"][i].bool()]
            digest = hashlib.sha256(np.asarray(tok.cpu().numpy(), dtype=np.int64).tobytes()).hexdigest()
            ids.append(f"tokens:{digest}")
        elif "raw_prompt" in nt:
            value = nt["raw_prompt"][i]
            value = value.tolist() if isinstance(value, np.ndarray) else value
            text = json.dumps(value, sort_keys=True, default=str)
            ids.append(f"prompt:{hashlib.sha256(text.encode()).hexdigest()}")
        else:
            raise ValueError("batch: expected extra_info[index_key], input_ids or raw_prompt to identify the prompts")
    return ids


def _step_totals(keys, successes, trials):
    """(ids, successes, trials) with a prompt drawn twice in one step reported once, its counts summed (the
    planner wants each prompt once per step)."""
    agg: dict = {}
    for k, s_j, n_j in zip(keys, np.asarray(successes).tolist(), np.asarray(trials).tolist()):
        a = agg.setdefault(k, [0, 0])
        a[0] += int(s_j)
        a[1] += int(n_j)
    return list(agg), [a[0] for a in agg.values()], [a[1] for a in agg.values()]


def _successes(batch, scores, uid_key, threshold):
    """Successes and rollouts per uid, in first-appearance order."""
    uids = batch.non_tensor_batch[uid_key]
    order = list(dict.fromkeys(uids.tolist()))
    s = {u: 0 for u in order}
    n = {u: 0 for u in order}
    for u, r in zip(uids.tolist(), np.asarray(scores, dtype=np.float64).tolist()):
        s[u] += int(r > threshold)
        n[u] += 1
    return order, np.array([s[u] for u in order]), np.array([n[u] for u in order])


def generate_allocated(gen_batch, generate, score, *, k0: int, budget: int, allocator: str = "hora", planner=None,
                       history_prior: bool = False, ids=None, pad_multiple: int = 1, threshold: float = 0.5,
                       uid_key: str = "uid", rng=None):
    """One step's generation with per-prompt group sizes: pilot -> allocation -> extra -> one batch.

    ``generate(DataProto) -> DataProto`` is the rollout (``actor_rollout_wg.generate_sequences`` in a trainer;
    its input is padded to ``pad_multiple`` and its output unpadded), ``score(DataProto) -> array`` the sequence
    rewards of generated rows (the trainer's reward function summed over tokens). The pilot is ``k0`` rollouts per
    prompt; ``budget`` extra rollouts are split by ``allocator`` (through ``planner.allocate`` when a
    ``simalloc.Planner`` is given, which then observes the step's totals under ``ids``); prompt i's pilot and extra
    rows are concatenated and share its uid.

    Parameters
    ----------
    gen_batch : verl.DataProto
        One row per prompt (the generation inputs).
    generate, score : callable
        The rollout and the reward (above).
    k0, budget : int
        Pilot rollouts per prompt (>= 1) and extra rollouts in all (>= 0).
    allocator : str, default "hora"
        A registered allocator.
    planner : simalloc.Planner, optional
        Allocate (and remember) through it.
    history_prior : bool, default False
        With a planner: the prompts' history as the prior.
    ids : sequence, optional
        The prompts' stable ids for the planner (default: ``stable_prompt_ids(gen_batch)``; never verl's per-step
        uids, which are new every step).
    pad_multiple : int, default 1
        The divisor the rollout splits its input by (verl 0.9's ``AgentLoopManager`` chunks every batch into
        ``rollout.agent.num_workers`` equal parts).
    threshold : float, default 0.5
        A rollout succeeds when its score > threshold.
    uid_key : str, default "uid"
        The grouping key.
    rng : seed, optional
        The allocator's ties.

    Returns
    -------
    batch : verl.DataProto
        Every generated row (pilot then extra, grouped by prompt) with its scores under "seq_scores".
    counts : ndarray of int
        Rollouts per prompt (k0 + extra).
    """
    from .. import allocate

    protocol = _verl()
    if isinstance(k0, bool) or not isinstance(k0, (int, np.integer)) or k0 < 1:
        raise ValueError(f"k0: expected an integer >= 1 (pilot rollouts per prompt), got {k0!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValueError(f"budget: expected an integer >= 0 (extra rollouts), got {budget!r}")
    n = len(gen_batch)

    def run(inputs):
        padded, pad = pad_to_multiple(inputs, pad_multiple)
        return unpad(generate(padded), pad)

    pilot_in = repeat_by_allocation(gen_batch, np.full(n, k0), uid_key=uid_key)
    uids = gen_batch.non_tensor_batch[uid_key]
    pilot = run(pilot_in)
    pilot.non_tensor_batch[uid_key] = pilot_in.non_tensor_batch[uid_key]
    pilot_scores = np.asarray(score(pilot), dtype=np.float64)
    _, s, t = _successes(pilot, pilot_scores, uid_key, threshold)
    keys = stable_prompt_ids(gen_batch) if ids is None else list(ids)
    if len(keys) != n:
        raise ValueError(f"ids: expected one id per prompt ({n}), got {len(keys)}")
    if planner is not None:
        extra_n = planner.allocate(keys, s, t, int(budget), allocator=allocator, history_prior=history_prior, rng=rng)
    else:
        extra_n = allocate(allocator, s, t, int(budget), rng=rng)
    parts, scores = [pilot], [pilot_scores]
    if extra_n.sum():
        extra_in = repeat_by_allocation(gen_batch, extra_n, uid_key=uid_key, uids=uids)
        extra = run(extra_in)
        extra.non_tensor_batch[uid_key] = extra_in.non_tensor_batch[uid_key]
        parts.append(extra)
        scores.append(np.asarray(score(extra), dtype=np.float64))
    batch = protocol.DataProto.concat(parts)
    all_scores = np.concatenate(scores)
    position = {u: i for i, u in enumerate(uids)}
    order = np.argsort(np.array([position[u] for u in batch.non_tensor_batch[uid_key]]), kind="stable")
    batch = batch.select_idxs(order)
    batch.non_tensor_batch["seq_scores"] = all_scores[order]
    if planner is not None:
        _, s_all, t_all = _successes(batch, batch.non_tensor_batch["seq_scores"], uid_key, threshold)
        planner.observe(*_step_totals(keys, s_all, t_all))
        planner.end_step()
    return batch, k0 + extra_n


def generate_rounds(gen_batch, generate, score, *, rule: str, budget: int, options=None, planner=None, ids=None,
                    pad_multiple: int = 1, threshold: float = 0.5, uid_key: str = "uid"):
    """One step's generation under a multi-round rule (``simalloc.integrations.rounds``: "reinforce_ada",
    "reinforce_ada_pos", "speed_rl"): each round's rollouts are generated as one batch (padded to
    ``pad_multiple``), and each trained prompt keeps the rollouts the rule keeps, under its uid.

    Parameters
    ----------
    gen_batch : verl.DataProto
        One row per prompt, with a distinct ``uid_key`` each.
    generate, score : callable
        As ``generate_allocated``.
    rule : str
        The rule.
    budget : int
        Rollouts the step may spend (screening and discarded rollouts included), >= 0.
    options : dict, optional
        The rule's parameters.
    planner : simalloc.Planner, optional
        Observes every prompt's drawn totals (under ``ids``) and closes the step.
    ids : sequence, optional
        Stable prompt ids (default ``stable_prompt_ids(gen_batch)``).
    pad_multiple : int, default 1
        The rollout's chunk divisor (``rollout_divisor``).
    threshold : float, default 0.5
        A rollout succeeds when its score > threshold.
    uid_key : str, default "uid"
        The grouping key.

    Returns
    -------
    batch : verl.DataProto
        The kept rows, grouped by prompt in batch order, scores under "seq_scores".
    counts : ndarray of int
        Kept rollouts per prompt (0: not trained this step).
    """
    from .rounds import run_rounds, step_rounds

    protocol = _verl()
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValueError(f"budget: expected an integer >= 0 (rollouts of the step), got {budget!r}")
    n = len(gen_batch)
    uids = np.asarray(gen_batch.non_tensor_batch[uid_key], dtype=object)
    keys = stable_prompt_ids(gen_batch) if ids is None else list(ids)
    if len(keys) != n:
        raise ValueError(f"ids: expected one id per prompt ({n}), got {len(keys)}")
    parts, part_scores = [], []

    def draw(js, counts):
        inputs = repeat_by_allocation(gen_batch.select_idxs(np.asarray(js)), np.asarray(counts, dtype=np.int64),
                                      uid_key=uid_key, uids=uids[js])
        padded, pad = pad_to_multiple(inputs, pad_multiple)
        out = unpad(generate(padded), pad)
        out.non_tensor_batch[uid_key] = inputs.non_tensor_batch[uid_key]
        scores = np.asarray(score(out), dtype=np.float64)
        parts.append(out)
        part_scores.append(scores)
        at, got = 0, []
        for c in counts:
            got.append([((len(parts) - 1, at + t), bool(scores[at + t] > threshold)) for t in range(c)])
            at += c
        return got

    rounds = step_rounds(rule, n, int(budget), options)
    groups, kept = run_rounds(rounds, draw)
    counts = np.zeros(n, dtype=np.int64)
    chosen = {}
    for j, items in zip(groups.ids.tolist(), kept):
        counts[j], chosen[j] = len(items), items
    if not counts.sum():
        raise RuntimeError(f"rule: {rule} kept no rollout this step (nothing to train on); raise the budget")
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    rows = [offsets[pid] + r for j in range(n) for pid, r in chosen.get(j, [])]
    batch = protocol.DataProto.concat(parts).select_idxs(np.asarray(rows, dtype=np.int64))
    batch.non_tensor_batch["seq_scores"] = np.concatenate(part_scores)[rows]
    if planner is not None:
        drawn = rounds.pos + rounds.neg
        planner.observe(*_step_totals([k for k, d in zip(keys, drawn) if d],
                                      rounds.pos[drawn > 0], drawn[drawn > 0]))
        planner.end_step()
    return batch, counts


class _PassThroughRollout:
    """The trainer's rollout manager, returning a step's already generated batch unchanged (see the mixin)."""

    def __init__(self, inner):
        self.inner = inner

    def generate_sequences(self, batch):
        if batch.meta_info.pop(_PREGENERATED, False):
            return batch
        return self.inner.generate_sequences(batch)

    def __getattr__(self, name):
        return getattr(self.inner, name)


_PREGENERATED = "simalloc_pregenerated"
#: the file beside verl's checkpoint that holds the planner's and the allocator's state
PLANNER_FILE = "simalloc_planner.json"


def _repeat_by_counts_once(batch, counts) -> None:
    """Make ``batch.repeat(...)`` (the next call only) repeat prompt i ``counts[i]`` times, as ``fit`` aligns the
    prompt rows with the generated rows."""
    plain = type(batch)

    class _Aligned(plain):
        def repeat(self, repeat_times=2, interleave=True):
            self.__class__ = plain
            return plain.sample_level_repeat(self, np.asarray(counts, dtype=np.int64))

    batch.__class__ = _Aligned


def rollout_divisor(manager, config=None) -> int:
    """The number of equal parts verl's rollout manager splits a batch into, which its input must be a multiple of.

    verl 0.9's ``AgentLoopManager.generate_sequences`` runs ``prompts.chunk(len(self.agent_loop_workers))``, and
    ``DataProto.chunk`` asserts equal chunks; ``_validate`` pads to ``rollout.agent.num_workers`` (default 8), the
    number of workers ``AgentLoopManager`` starts. So: the manager's own worker count when it has one, else the
    config's ``actor_rollout_ref.rollout.agent.num_workers``, else 1.

    Parameters
    ----------
    manager : object
        The trainer's ``async_rollout_manager``.
    config : omegaconf.DictConfig, optional
        The trainer's config.

    Returns
    -------
    int
    """
    workers = getattr(manager, "agent_loop_workers", None)
    if workers is not None:
        return max(len(workers), 1)
    if config is not None:
        from omegaconf import OmegaConf

        value = OmegaConf.select(config, "actor_rollout_ref.rollout.agent.num_workers")
        if value is not None:
            return int(value)
    return 1


class AllocatingTrainerMixin:
    """Per-prompt group sizes inside verl's own ``RayPPOTrainer.fit`` (verl 0.9.1), by two hooks instead of a copy
    of the loop: ``_get_gen_batch`` runs the step's generation itself (``generate_allocated``: pilot, allocation,
    extra; rewards from the rollout's ``rm_scores``) and hands ``fit`` the generated rows, which the rollout
    manager (wrapped by ``init_workers``) passes through unchanged; the prompt rows' next ``repeat`` repeats each
    prompt by its own count, so ``fit``'s union, old log-probs, ``compute_advantage`` (grouped by uid) and actor
    update run on the allocated batch. Settings: ``allocation_k0``, ``allocation_budget`` (extra rollouts per step),
    ``allocation_allocator``, ``allocation_planner`` (a ``simalloc.Planner``: history priors across steps).

    The planner is keyed by ``stable_prompt_ids`` (read from the batch before verl moves the prompt columns);
    validation runs verl's own path (``_validate`` turns allocation off); the rollout input is padded to
    ``rollout_divisor``; ``_save_checkpoint`` / ``_load_checkpoint`` keep the planner's and the allocator's state
    beside verl's checkpoint (``PLANNER_FILE``). Tested on CPU by running verl's own ``fit`` with stand-in worker
    groups (``tests/integrations/test_verl_fit.py``). REMAX (a second, greedy generation per prompt) is refused.

    Usage::

        class AllocatingTrainer(AllocatingTrainerMixin, RayPPOTrainer):
            allocation_k0, allocation_budget = 4, 512

    Attributes
    ----------
    allocation_k0 : int
        Pilot rollouts per prompt.
    allocation_budget : int
        Extra rollouts per step.
    allocation_allocator : str
        A registered allocator.
    allocation_planner : simalloc.Planner or None
        Allocate through it (history priors across steps).
    allocation_seed : int
        Seeds the allocator's random stream (ties), which checkpoints keep.
    allocation_rule : {"reinforce_ada", "reinforce_ada_pos", "speed_rl"} or None
        A multi-round rule instead of pilot + allocation (``generate_rounds``), with the same step budget
        (``allocation_k0`` x prompts + ``allocation_budget`` rollouts, screening and discarded ones included);
        prompts the rule does not train this step are dropped from the update batch.
    allocation_rule_options : dict
        The rule's parameters.
    allocation_select_n : int or None
        Roll out at most this many of the step's prompts, chosen by ``allocation_planner.select`` (its selector:
        "uniform", "greso", "mopps"); the others get no rollout and are dropped from the update batch.
    """

    allocation_k0: int = 4
    allocation_budget: int = 0
    allocation_allocator: str = "hora"
    allocation_planner = None
    allocation_seed: int = 0
    allocation_rule = None
    allocation_rule_options: dict = {}
    allocation_select_n = None

    def __init_subclass__(cls, **kwargs):
        """Refuse a trainer the hooks would not reach: one with a ``fit`` loop but no ``_get_gen_batch`` (verl
        0.9's v1 ``PPOTrainer``, ``trainer.use_v1=True``, generates inside its agent loop), where allocation would
        silently never run."""
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "fit") and not hasattr(super(AllocatingTrainerMixin, cls), "_get_gen_batch"):
            raise ValueError(f"{cls.__name__}: AllocatingTrainerMixin hooks verl's RayPPOTrainer (_get_gen_batch); "
                             "this trainer has none (verl 0.9: set trainer.use_v1=False and use RayPPOTrainer)")

    def _allocation_rng(self):
        """The allocator's random stream (ties), seeded by ``allocation_seed`` and kept in checkpoints."""
        rng = getattr(self, "_simalloc_rng", None)
        if rng is None:
            rng = self._simalloc_rng = np.random.default_rng(self.allocation_seed)
        return rng

    def _save_checkpoint(self):
        """verl's checkpoint, then the planner's state and the allocator's random state beside it
        (``global_step_<n>/simalloc_planner.json``)."""
        import json
        import os

        super()._save_checkpoint()
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        os.makedirs(folder, exist_ok=True)
        state = {"planner": None if self.allocation_planner is None else self.allocation_planner.state_dict(),
                 "rng": self._allocation_rng().bit_generator.state}
        with open(os.path.join(folder, PLANNER_FILE), "w") as f:
            json.dump(state, f)

    def _load_checkpoint(self):
        """verl's resume (``trainer.resume_mode``), then the planner's state and the allocator's random state from
        the same ``global_step_<n>`` folder; a checkpoint without them (written without simalloc) is refused when
        a planner is set, since the run would silently restart every prompt's history."""
        import json
        import os

        out = super()._load_checkpoint()
        if not getattr(self, "global_steps", 0):
            return out
        if self.config.trainer.resume_mode == "resume_path":
            folder = self.config.trainer.resume_from_path
        else:
            folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        if not os.path.isabs(folder):
            folder = os.path.join(os.getcwd(), folder)
        path = os.path.join(folder, PLANNER_FILE)
        if not os.path.exists(path):
            if self.allocation_planner is not None:
                raise ValueError(f"resume: {path} is missing (a checkpoint saved without simalloc's planner); "
                                 "resume from one the allocating trainer saved, or set trainer.resume_mode=disable")
            return out
        try:
            with open(path) as f:
                state = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"resume: {path} is not valid JSON ({err})") from None
        if not isinstance(state, dict) or not {"planner", "rng"} <= state.keys():
            raise ValueError(f"resume: {path} is not a simalloc planner checkpoint (expected keys planner, rng)")
        if self.allocation_planner is not None and state["planner"] is not None:
            self.allocation_planner.load_state_dict(state["planner"])
        self._allocation_rng().bit_generator.state = state["rng"]
        return out

    def init_workers(self):
        """verl's workers, with the rollout manager wrapped to pass pre-generated batches through; then
        ``check_update_rows`` (settings the actor's data-parallel split cannot take are refused before step 1)."""
        super().init_workers()
        self.async_rollout_manager = _PassThroughRollout(self.async_rollout_manager)
        self.check_allocation_settings()
        self.check_update_rows()

    def check_allocation_settings(self) -> None:
        """Refuse bad ``allocation_*`` settings with a one-line error naming the attribute (called by
        ``init_workers``, before validation and step 1, rather than failing inside the first step)."""
        from ..allocators import get_allocator
        from .rounds import TRAINER_RULES, step_rounds

        def count(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")

        count("allocation_k0", 1)
        count("allocation_budget", 0)
        get_allocator(self.allocation_allocator)
        if self.allocation_select_n is not None:
            count("allocation_select_n", 1)
            if self.allocation_planner is None:
                raise ValueError("allocation_select_n: needs allocation_planner (its selector chooses the prompts)")
            if self.allocation_rule is not None:
                raise ValueError(f"allocation_select_n: not used with allocation_rule={self.allocation_rule!r} (its "
                                 "rounds decide which prompts are rolled out); set one of them")
        if self.allocation_rule is not None:
            if self.allocation_rule not in TRAINER_RULES:
                raise ValueError(f"allocation_rule: expected one of {sorted(TRAINER_RULES)} or None, got "
                                 f"{self.allocation_rule!r}")
            if not isinstance(self.allocation_rule_options, dict):
                raise ValueError(f"allocation_rule_options: expected a dict, got {self.allocation_rule_options!r}")
            step_rounds(self.allocation_rule, 1, 0, self.allocation_rule_options)

    def _actor_dp_size(self) -> int:
        """The actor's data-parallel size (verl's ``_get_dp_size``: its worker group's dispatch info)."""
        return int(self._get_dp_size(self.actor_rollout_wg, "actor"))

    def check_update_rows(self, rows=None) -> None:
        """Refuse an update batch the actor cannot split: verl chunks every ``compute_log_prob`` / ``update_actor``
        batch into the actor's data-parallel size (dp) equal parts (``chunk_tensordict`` asserts it, as does
        ``_balance_batch``, on by default), so a step's rows must be a multiple of dp.

        Pilot + allocation trains on ``allocation_k0`` x ``data.train_batch_size`` + ``allocation_budget`` rows
        at every step, so that number must be a multiple of dp (checked from ``init_workers``). A multi-round rule
        or ``allocation_select_n`` trains on a number of rows that varies by step, so with dp > 1 they are refused.

        Parameters
        ----------
        rows : int, optional
            A step's update rows (checked against dp); without it, the settings are checked.
        """
        dp = self._actor_dp_size()
        if rows is not None:
            if rows % dp:
                raise ValueError(f"allocation_budget: this step's update batch has {rows} rows, not a multiple of "
                                 f"the actor's data-parallel size {dp} (verl splits it into {dp} equal parts)")
            return
        if dp == 1:
            return
        for name in ("allocation_rule", "allocation_select_n"):
            if getattr(self, name) is not None:
                raise ValueError(f"{name}: its update batch size varies by step, which the actor's data-parallel "
                                 f"split ({dp} equal parts) cannot take; use it with one data-parallel rank, or "
                                 "pilot + allocation (allocation_k0, allocation_budget)")
        total = int(self.allocation_k0) * int(self.config.data.train_batch_size) + int(self.allocation_budget)
        if total % dp:
            raise ValueError(f"allocation_budget: allocation_k0 x data.train_batch_size + allocation_budget = {total} "
                             f"rows a step, not a multiple of the actor's data-parallel size {dp} (verl splits the "
                             f"update batch into {dp} equal parts); raise allocation_budget by {-total % dp}")

    def allocated_generation(self, gen_batch, ids=None):
        """``generate_allocated`` with the trainer's rollout manager, the planner keyed by ``ids`` (default
        ``stable_prompt_ids(gen_batch)``), the input padded to ``rollout_divisor``; rewards from the rollout's
        ``rm_scores`` (or the colocated reward model when the rollout did not score)."""
        manager = getattr(self.async_rollout_manager, "inner", self.async_rollout_manager)

        def generate(inputs):
            out = manager.generate_sequences(inputs)
            if "rm_scores" not in out.batch.keys():
                out = out.union(self._compute_reward_colocate(out))
            return out

        def score(out):
            return out.batch["rm_scores"].sum(-1).float().cpu().numpy()

        ids = stable_prompt_ids(gen_batch) if ids is None else list(ids)
        pad = rollout_divisor(manager, getattr(self, "config", None))
        if self.allocation_select_n is not None and self.allocation_rule is None:
            return self._selected_generation(gen_batch, ids, generate, score, pad)
        if self.allocation_rule is not None:
            return generate_rounds(gen_batch, generate, score, rule=self.allocation_rule,
                                   budget=self.allocation_k0 * len(gen_batch) + self.allocation_budget,
                                   options=self.allocation_rule_options, planner=self.allocation_planner, ids=ids,
                                   pad_multiple=pad)
        return generate_allocated(gen_batch, generate, score, k0=self.allocation_k0, budget=self.allocation_budget,
                                  allocator=self.allocation_allocator, planner=self.allocation_planner,
                                  history_prior=self.allocation_planner is not None,
                                  ids=ids, rng=self._allocation_rng(), pad_multiple=pad)

    def _selected_generation(self, gen_batch, ids, generate, score, pad):
        """``allocation_select_n`` prompts chosen by the planner's selector get pilot + allocation; the others no
        rollout (count 0: dropped from the update batch)."""
        if self.allocation_planner is None:
            raise ValueError("allocation_select_n: needs allocation_planner (its selector chooses the prompts)")
        n = len(gen_batch)
        chosen = set(np.asarray(self.allocation_planner.select(ids, min(int(self.allocation_select_n), n),
                                                               self._allocation_rng())).tolist())
        active = np.flatnonzero([k in chosen for k in ids])
        out, sub_counts = generate_allocated(
            gen_batch.select_idxs(active), generate, score, k0=self.allocation_k0, budget=self.allocation_budget,
            allocator=self.allocation_allocator, planner=self.allocation_planner, history_prior=True,
            ids=[ids[j] for j in active], rng=self._allocation_rng(), pad_multiple=pad)
        counts = np.zeros(n, dtype=np.int64)
        counts[active] = sub_counts
        return out, counts

    def _validate(self, *args, **kwargs):
        """verl's own validation, with allocation off: ``_validate`` calls ``_get_gen_batch`` too, and its prompts
        (repeated ``val_kwargs.n`` times, then padded and generated by verl itself) must neither be allocated nor
        reach the planner."""
        self._simalloc_validating = True
        try:
            return super()._validate(*args, **kwargs)
        finally:
            self._simalloc_validating = False

    def _get_gen_batch(self, batch):
        if getattr(self, "_simalloc_validating", False):
            return super()._get_gen_batch(batch)
        adv = str(self.config.algorithm.adv_estimator).lower()
        if "remax" in adv:
            raise ValueError("adv_estimator: REMAX's greedy baseline generation is not supported with allocation")
        ids = stable_prompt_ids(batch)  # before verl moves the prompt columns to the generation batch
        gen_batch = super()._get_gen_batch(batch)
        gen_batch.meta_info["global_steps"] = self.global_steps  # what fit sets after this hook (rollout traces)
        start = time.perf_counter()
        out, counts = self.allocated_generation(gen_batch, ids)
        spent = time.perf_counter() - start
        self.check_update_rows(len(out))
        out.non_tensor_batch.pop("seq_scores", None)
        # fit calls this hook before its "step" timer and puts the pass-through's meta_info["timing"] into its
        # timings inside the "step" and "gen" timers, which then add their own time: so the generation's time
        # counts in timing_s/gen and timing_s/step (and the throughput verl derives from the step time)
        timing = out.meta_info.setdefault("timing", {})
        timing["gen"] = timing.get("gen", 0.0) + spent
        timing["step"] = timing.get("step", 0.0) + spent
        out.meta_info.update(gen_batch.meta_info)
        _repeat_by_counts_once(batch, counts)
        return _pregenerated(out)


def _pregenerated(out):
    """A stand-in for fit's ``gen_batch`` whose ``repeat`` returns the generated rows, tagged for the pass-through."""
    plain = type(out)

    class _Generated(plain):
        def repeat(self, repeat_times=2, interleave=True):
            self.__class__ = plain
            self.meta_info[_PREGENERATED] = True
            return self

    out.__class__ = _Generated
    return out
