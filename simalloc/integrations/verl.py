"""Per-prompt group sizes in verl: a batch of prompts plus an allocation becomes a ``DataProto`` with each prompt
repeated its own number of times and one ``uid`` per prompt, which verl's GRPO advantage already groups by.

What verl allows (read in verl 0.9.1): ``core_algos.compute_grpo_outcome_advantage`` groups rollouts by the
``uid`` index, so any group size works; ``DataProto.sample_level_repeat(repeat_times)`` repeats each row its own
number of times; the rollout workers want a batch whose size is a multiple of the data-parallel size
(``pad_dataproto_to_divisor`` / ``unpad_dataproto``). ``RayPPOTrainer.fit`` repeats every prompt
``rollout.n`` times, so a step with per-prompt sizes needs its own generation stage: ``generate_allocated``
(pilot -> allocation -> extra generation -> one batch for the update), which ``AllocatingTrainerMixin`` puts where
``fit`` generates (two hooks; ``fit``'s reward, log-prob, advantage and update stages run unchanged).

Tested on CPU with the real verl (``make test-integrations``): the batch construction, the advantages against
``simalloc.estimators.group_advantages``, padding, ``generate_allocated`` and the mixin's hooks inside ``fit``'s
generation-and-advantage lines with a stand-in rollout manager. Not run here: ``fit`` itself (it needs verl's Ray
workers and a GPU rollout engine).

A group of one rollout differs between the two: verl gives it mean 0 and std 1, so its advantage is its reward;
simalloc gives it 0 (no baseline, no signal). Allocations with a pilot of at least 2 never make one.
"""

from __future__ import annotations

import uuid

import numpy as np

__all__ = ["repeat_by_allocation", "pad_to_multiple", "unpad", "grpo_advantages", "generate_allocated",
           "AllocatingTrainerMixin"]


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
        The prompts' stable ids for the planner (default: their uids, which are new every step).
    pad_multiple : int, default 1
        The data-parallel size the rollout wants.
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
    keys = list(uids) if ids is None else list(ids)
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
        planner.observe(keys, s_all, t_all)
        planner.end_step()
    return batch, k0 + extra_n


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


def _repeat_by_counts_once(batch, counts) -> None:
    """Make ``batch.repeat(...)`` (the next call only) repeat prompt i ``counts[i]`` times, as ``fit`` aligns the
    prompt rows with the generated rows."""
    plain = type(batch)

    class _Aligned(plain):
        def repeat(self, repeat_times=2, interleave=True):
            self.__class__ = plain
            return plain.sample_level_repeat(self, np.asarray(counts, dtype=np.int64))

    batch.__class__ = _Aligned


class AllocatingTrainerMixin:
    """Per-prompt group sizes inside verl's own ``RayPPOTrainer.fit`` (verl 0.9.1), by two hooks instead of a copy
    of the loop: ``_get_gen_batch`` runs the step's generation itself (``generate_allocated``: pilot, allocation,
    extra; rewards from the rollout's ``rm_scores``) and hands ``fit`` the generated rows, which the rollout
    manager (wrapped by ``init_workers``) passes through unchanged; the prompt rows' next ``repeat`` repeats each
    prompt by its own count, so ``fit``'s union, old log-probs, ``compute_advantage`` (grouped by uid) and actor
    update run on the allocated batch. Settings: ``allocation_k0``, ``allocation_budget`` (extra rollouts per step),
    ``allocation_allocator``, ``allocation_planner`` (a ``simalloc.Planner``: history priors across steps).

    **Not run here**: ``fit`` itself needs verl's Ray workers and a GPU rollout engine. On CPU,
    ``tests/integrations/test_verl_adapter.py`` runs ``fit``'s generation-and-advantage lines (transcribed from
    verl 0.9.1) against these hooks with a stand-in rollout manager and verl's own ``DataProto`` and
    ``compute_advantage``. REMAX (a second, greedy generation per prompt) is refused.

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
    """

    allocation_k0: int = 4
    allocation_budget: int = 0
    allocation_allocator: str = "hora"
    allocation_planner = None

    def init_workers(self):
        """verl's workers, with the rollout manager wrapped to pass pre-generated batches through."""
        super().init_workers()
        self.async_rollout_manager = _PassThroughRollout(self.async_rollout_manager)

    def allocated_generation(self, gen_batch):
        """``generate_allocated`` with the trainer's rollout manager; rewards from the rollout's ``rm_scores`` (or
        the colocated reward model when the rollout did not score)."""
        manager = getattr(self.async_rollout_manager, "inner", self.async_rollout_manager)

        def generate(inputs):
            out = manager.generate_sequences(inputs)
            if "rm_scores" not in out.batch.keys():
                out = out.union(self._compute_reward_colocate(out))
            return out

        def score(out):
            return out.batch["rm_scores"].sum(-1).float().cpu().numpy()

        pad = getattr(manager, "world_size", 1)
        return generate_allocated(gen_batch, generate, score, k0=self.allocation_k0, budget=self.allocation_budget,
                                  allocator=self.allocation_allocator, planner=self.allocation_planner,
                                  history_prior=self.allocation_planner is not None, pad_multiple=pad)

    def _get_gen_batch(self, batch):
        adv = str(self.config.algorithm.adv_estimator).lower()
        if "remax" in adv:
            raise ValueError("adv_estimator: REMAX's greedy baseline generation is not supported with allocation")
        gen_batch = super()._get_gen_batch(batch)
        out, counts = self.allocated_generation(gen_batch)
        out.non_tensor_batch.pop("seq_scores", None)
        out.meta_info.setdefault("timing", {})
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
