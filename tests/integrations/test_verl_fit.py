"""verl's own ``RayPPOTrainer.fit()`` and ``_validate()`` (verl 0.9.1, unmodified) with the allocating mixin, on CPU.

Only the worker groups are stand-ins (what ``init_workers`` would start as Ray actors on GPUs): the agent-loop
rollout manager (splits its input with verl's own ``DataProto.chunk`` into ``rollout.agent.num_workers`` equal
parts, as ``AgentLoopManager.generate_sequences`` does, and draws a reward per row from the prompt's pass rate),
the actor (log-probs of zeros; records every batch it is asked to update on) and the checkpoint engine. The
trainer is built by verl's own ``__init__`` from verl's generated default config, with verl's ``collate_fn`` and
``StatefulDataLoader``; ``fit`` runs validation before training, 2 training steps, and validation after each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

verl = pytest.importorskip("verl", reason="the verl extra is not installed (make test-integrations)")
torch = pytest.importorskip("torch")

from omegaconf import OmegaConf  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo.ray_trainer import RayPPOTrainer  # noqa: E402
from verl.trainer.ppo.utils import Role  # noqa: E402
from verl.utils import tensordict_utils as tu  # noqa: E402

from simalloc import Planner  # noqa: E402
from simalloc.estimators import group_advantages  # noqa: E402
from simalloc.integrations import verl as adapter  # noqa: E402
from simalloc.integrations.verl import AllocatingTrainerMixin, stable_prompt_ids  # noqa: E402

PROMPT, RESP = 4, 3  # token lengths of the stand-in prompts and responses
PASS = {0: 0.1, 1: 0.5, 2: 0.9, 3: 0.3}  # each training prompt's pass rate (by its dataset index)
K0, BUDGET, WORKERS, VAL_N = 2, 10, 3, 2


class Prompts(torch.utils.data.Dataset):
    """Rows as verl 0.9's RLHFDataset returns them: chat messages (tokenised later, in the agent loop), a dummy
    tensor, the reward keys, and the dataset index in ``extra_info``."""

    def __init__(self, source, n, offset=0):
        self.source, self.n, self.offset = source, n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        i += self.offset
        return {"raw_prompt": [{"role": "user", "content": f"question {i}"}],
                "dummy_tensor": torch.tensor([0], dtype=torch.uint8), "data_source": self.source,
                "reward_model": {"ground_truth": "yes"}, "extra_info": {"index": i}, "index": i}


class StandInAgentLoop:
    """The rollout manager: ``rollout.agent.num_workers`` equal chunks (verl's ``DataProto.chunk`` asserts them,
    as ``AgentLoopManager.generate_sequences``), a response and an ``rm_scores`` row per input row."""

    def __init__(self, workers, seed=0):
        self.agent_loop_workers = [object()] * workers  # what AgentLoopManager holds; its length is the divisor
        self.gen = torch.Generator().manual_seed(seed)
        self.calls = []  # (rows, validate)
        self.steps = []  # meta_info["global_steps"] of each training call (verl's rollout traces read it)

    def generate_sequences(self, prompts):
        chunks = prompts.chunk(len(self.agent_loop_workers))  # verl's own equal-chunk assertion
        n = sum(len(c) for c in chunks)
        self.calls.append((n, bool(prompts.meta_info.get("validate", False))))
        if not prompts.meta_info.get("validate", False):
            self.steps.append(prompts.meta_info.get("global_steps", -1))
        index = np.array([info["index"] for info in prompts.non_tensor_batch["extra_info"]])
        p = torch.tensor([PASS.get(int(i), 0.5) for i in index])
        reward = (torch.rand(n, generator=self.gen) < p).float()
        prompt_ids = torch.randint(5, 50, (n, PROMPT), generator=self.gen)
        responses = torch.randint(5, 50, (n, RESP), generator=self.gen)
        mask = torch.ones(n, PROMPT + RESP, dtype=torch.long)
        tensors = {"prompts": prompt_ids, "responses": responses, "input_ids": torch.cat([prompt_ids, responses], 1),
                   "attention_mask": mask, "position_ids": torch.arange(PROMPT + RESP).expand(n, -1).clone(),
                   "response_mask": torch.ones(n, RESP, dtype=torch.long),
                   "rm_scores": torch.nn.functional.pad(reward[:, None], (RESP - 1, 0))}
        non_tensors = dict(prompts.non_tensor_batch)
        non_tensors["multi_modal_inputs"] = np.array([{} for _ in range(n)], dtype=object)
        return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors, meta_info={"timing": {}})


class StandInActor:
    """The actor worker group: zero log-probs and entropies; records the batches it updates on. ``dp`` data-parallel
    ranks: its dispatch info (what verl's ``_get_dp_size`` reads) names them, and every batch is split into ``dp``
    parts with verl's own ``chunk_tensordict`` (which asserts equal parts), as the worker group's dispatch does."""

    def __init__(self, dp=1):
        self.updates = []
        self.saved = []
        self.dp, self._dispatch_info = dp, {}

    def _query_dispatch_info(self, role):
        return list(range(self.dp))

    def compute_log_prob(self, batch_td):
        tu.chunk_tensordict(batch_td, self.dp)  # verl's equal-chunk assertion
        nnz = batch_td["input_ids"].values().numel()
        out = TensorDict({"log_probs": torch.zeros(nnz), "entropy": torch.zeros(nnz)}, batch_size=[])
        tu.assign_non_tensor(out, metrics={"mfu": 0.0})
        return out

    def update_actor(self, batch_td):
        tu.chunk_tensordict(batch_td, self.dp)
        self.updates.append({"uid": list(tu.get(batch_td, "uid")),
                             "index": [info["index"] for info in tu.get(batch_td, "extra_info")],
                             "advantages": batch_td["advantages"].clone(), "rm_scores": batch_td["rm_scores"].clone()})
        out = TensorDict({}, batch_size=[])
        tu.assign_non_tensor(out, metrics={"mfu": 0.0, "pg_loss": 0.0})
        return out

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        self.saved.append(global_step)

    def load_checkpoint(self, local_path, del_local_after_load=False):
        pass


class StandInCheckpointEngine:
    def update_weights(self, global_steps):
        pass

    def sleep_replicas(self):
        pass


class Pools:
    def get_n_gpus(self):
        return 1


class CPUWorkers(RayPPOTrainer):
    """verl's trainer whose ``init_workers`` installs the CPU stand-ins instead of starting Ray worker groups."""

    actor_dp = 1

    def init_workers(self):
        self.actor_rollout_wg = StandInActor(self.actor_dp)
        self.async_rollout_manager = StandInAgentLoop(self.config.actor_rollout_ref.rollout.agent.num_workers)
        self.checkpoint_manager = StandInCheckpointEngine()
        self.reward_loop_manager = None
        self.async_rollout_mode = True


class RecordingPlanner(Planner):
    """A Planner that records, at each allocation, the ids it was asked about and their prior (its posterior), and
    every observation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked, self.observed = [], []

    def observe(self, ids, successes, trials):
        self.observed.append((list(ids), list(successes), list(trials)))
        return super().observe(ids, successes, trials)

    def allocate(self, ids, *args, **kwargs):
        a, b = self.posterior(ids)
        self.asked.append((list(ids), a.copy(), b.copy()))
        return super().allocate(ids, *args, **kwargs)


def _config(tmp_path, **trainer):
    path = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    cfg = OmegaConf.load(path)
    cfg.algorithm.adv_estimator = "grpo"
    cfg.data.train_batch_size = 4
    cfg.data.dataloader_num_workers = 0
    cfg.data.validation_shuffle = False
    cfg.data.shuffle = False
    cfg.actor_rollout_ref.rollout.n = 4
    cfg.actor_rollout_ref.rollout.agent.num_workers = WORKERS
    cfg.actor_rollout_ref.rollout.val_kwargs.n = VAL_N
    cfg.actor_rollout_ref.actor.ppo_mini_batch_size = 4
    cfg.trainer.update(dict(total_epochs=2, total_training_steps=None, val_before_train=True, test_freq=1,
                            save_freq=-1, logger=["console"], project_name="simalloc", experiment_name="fit",
                            balance_batch=False, resume_mode="disable", device="cpu",
                            default_local_dir=str(tmp_path / "ckpt")))
    cfg.trainer.update(trainer)
    return cfg


def _trainer(tmp_path, planner, mixin=AllocatingTrainerMixin, rule=None, rule_options=None, dp=1, budget=BUDGET,
             k0=K0, **trainer):
    class Trainer(mixin, CPUWorkers):
        allocation_k0, allocation_budget = k0, budget
        allocation_planner = planner
        allocation_rule, allocation_rule_options = rule, dict(rule_options or {})
        actor_dp = dp


    class Tok:
        eos_token_id, pad_token_id = 1, 0

        def decode(self, ids, skip_special_tokens=True):
            return " ".join(str(int(i)) for i in ids)

    t = Trainer(config=_config(tmp_path, **trainer), tokenizer=Tok(), role_worker_mapping={Role.ActorRollout: object},
                resource_pool_manager=Pools(), train_dataset=Prompts("train", 4),
                val_dataset=Prompts("val", 3, offset=100))
    t.init_workers()
    return t


def test_fit_with_validation_allocates_training_only_and_keys_the_planner_by_prompt(tmp_path):
    """verl's fit(): validation before training and after each of 2 steps runs verl's own path (val_kwargs.n rows
    per prompt, never allocated, never observed); each training step is pilot + allocation, the actor updates on
    the allocated groups with simalloc's advantages; every rollout call is a multiple of the agent-loop workers;
    a prompt seen at step 1 has, at step 2, the prior Beta(1 + s, 1 + n - s) of its step-1 counts (decay 1)."""
    planner = RecordingPlanner(decay=1.0)
    trainer = _trainer(tmp_path, planner)
    trainer.fit()
    manager = trainer.async_rollout_manager.inner
    actor = trainer.actor_rollout_wg
    assert len(actor.updates) == 2  # two training steps ran through fit's update stage
    assert all(n % WORKERS == 0 for n, _ in manager.calls)  # padded to the chunk divisor (verl asserts it too)
    val = [n for n, v in manager.calls if v]
    assert len(val) == 3 and all(n == 3 * VAL_N + (-3 * VAL_N) % WORKERS for n in val)  # 3 validations, verl's own
    train = [n for n, v in manager.calls if not v]
    assert train == [4 * K0 + (-4 * K0) % WORKERS, BUDGET + (-BUDGET) % WORKERS] * 2  # pilot, extra; twice
    assert manager.steps == [1, 1, 2, 2]  # each generation call carries its step, as fit's own call would
    # the planner saw the training prompts only, by their stable id, once per step
    ids = stable_prompt_ids(DataProto.from_single_dict(
        verl.utils.dataset.rl_dataset.collate_fn([Prompts("train", 4)[i] for i in range(4)])))
    assert sorted(planner.state_dict()["ids"]) == sorted(ids) and planner.step == 2
    assert planner.history(ids)["seen"].tolist() == [2, 2, 2, 2]
    # each update: groups of the allocated sizes under one uid per prompt, advantages = simalloc's
    for upd in actor.updates:
        uids = upd["uid"]
        order = list(dict.fromkeys(uids))
        sizes = np.array([uids.count(u) for u in order])
        assert sizes.sum() == 4 * K0 + BUDGET and sizes.min() >= K0
        assert all(len({upd["index"][i] for i in range(len(uids)) if uids[i] == u}) == 1 for u in order)
        r = upd["rm_scores"].sum(-1).double().numpy()
        rows = np.concatenate([[i for i in range(len(uids)) if uids[i] == u] for u in order])
        ours = group_advantages(r[rows], sizes, "grpo", eps=1e-6)
        # verl computes in float32 (relative 6e-8) and advantages are O(3) at most: 1e-5 absolute
        assert np.allclose(upd["advantages"][rows, -1].numpy(), ours, atol=1e-5)
    # the prior at step 2: Beta(1 + s, 1 + n - s) from what the actor trained on at step 1 (hand count)
    first = actor.updates[0]
    idx = np.array(first["index"])
    r1 = first["rm_scores"].sum(-1).numpy() > 0.5
    (ids1, a1, b1), (ids2, a2, b2) = planner.asked
    assert np.all(a1 == 1) and np.all(b1 == 1)  # step 1: nothing known yet
    by_index = {int(i): k for i, k in zip(range(4), ids)}
    for k, a, b in zip(ids2, a2, b2):
        i = next(j for j, key in by_index.items() if key == k)
        s, n = int(r1[idx == i].sum()), int((idx == i).sum())
        assert (a, b) == (1 + s, 1 + n - s) and (a, b) != (1, 1)


def test_keying_by_the_per_step_uid_loses_the_history(tmp_path, monkeypatch):
    """Mutation: the planner keyed by verl's per-step uid (the adapter before this fix) never sees a prompt twice:
    at step 2 every prior is (1, 1) again, and the planner grows by the batch size each step."""
    monkeypatch.setattr(adapter, "stable_prompt_ids", lambda batch, **kw: list(batch.non_tensor_batch["uid"]))
    planner = RecordingPlanner(decay=1.0)
    _trainer(tmp_path, planner).fit()
    (_, a2, b2) = planner.asked[1]
    assert np.all(a2 == 1) and np.all(b2 == 1)
    assert len(planner.state_dict()["ids"]) == 8


def test_padding_to_one_breaks_verls_chunking(tmp_path, monkeypatch):
    """Mutation: the rollout input padded to 1 (not to rollout.agent.num_workers) fails verl's equal-chunk check
    (4 prompts x k0 = 8 rows, 3 workers)."""
    monkeypatch.setattr(adapter, "rollout_divisor", lambda manager, config=None: 1)
    with pytest.raises(AssertionError, match="equal chunk"):
        _trainer(tmp_path, Planner()).fit()


def test_resume_from_verls_checkpoint_equals_the_uninterrupted_run(tmp_path):
    """The planner and the allocator's random state are saved beside verl's checkpoint (``_save_checkpoint``) and
    restored by ``_load_checkpoint``: a run stopped after step 1 and resumed (resume_mode=auto) ends with the same
    planner state as the run that went through both steps."""
    whole = Planner(decay=0.5)
    _trainer(tmp_path / "a", whole, val_before_train=False, test_freq=-1).fit()
    first = Planner(decay=0.5)
    t1 = _trainer(tmp_path / "b", first, val_before_train=False, test_freq=-1, save_freq=1, total_training_steps=1)
    t1.fit()
    saved = json.loads((tmp_path / "b" / "ckpt" / "global_step_1" / adapter.PLANNER_FILE).read_text())
    assert saved["planner"]["step"] == 1
    resumed = Planner(decay=0.5)  # a fresh process: the planner comes from the checkpoint
    t2 = _trainer(tmp_path / "b", resumed, val_before_train=False, test_freq=-1, resume_mode="auto")
    t2.async_rollout_manager.gen.set_state(t1.async_rollout_manager.inner.gen.get_state())  # the engine's stream
    t2.fit()
    assert resumed.state_dict() == whole.state_dict()
    # a damaged planner file is a one-line error naming it (was a JSONDecodeError / KeyError traceback)
    planner_file = tmp_path / "b" / "ckpt" / "global_step_1" / adapter.PLANNER_FILE
    for text in ("{", "{}"):
        planner_file.write_text(text)
        with pytest.raises(ValueError, match="resume: .*simalloc_planner.json"):
            _trainer(tmp_path / "b", Planner(), val_before_train=False, test_freq=-1, resume_mode="resume_path",
                     resume_from_path=str(planner_file.parent)).fit()


def test_reinforce_ada_pos_runs_through_fit(tmp_path):
    """allocation_rule="reinforce_ada_pos" in verl's fit(): rounds of 2 per active prompt (at most 3) within the
    step's budget (k0 x 4 + 10 = 18 rollouts), each round padded to the workers; a prompt retires at its first
    positive, so some prompt retires after one round of 2 (the "balanced" rule with keep 4 needs 2 positives and 2
    negatives: here every prompt would draw at least 4); each trained group has at most keep = 4 rows and the
    advantages are simalloc's over them; the planner observes what each prompt drew."""
    planner = RecordingPlanner(decay=1.0)
    trainer = _trainer(tmp_path, planner, rule="reinforce_ada_pos",
                       rule_options={"round_repeat": 2, "max_rounds": 3, "keep": 4})
    trainer.fit()
    actor, manager = trainer.actor_rollout_wg, trainer.async_rollout_manager.inner
    assert len(actor.updates) == 2 and planner.step == 2
    assert all(n % WORKERS == 0 for n, _ in manager.calls)
    drawn = [n for _, _, trials in planner.observed for n in trials]
    assert all(n in (2, 4, 6) for n in drawn) and 2 in drawn
    for _, _, trials in planner.observed:
        assert sum(trials) <= 4 * K0 + BUDGET
    for upd in actor.updates:
        uids = upd["uid"]
        order = list(dict.fromkeys(uids))
        sizes = np.array([uids.count(u) for u in order])
        assert sizes.max() <= 4
        r = upd["rm_scores"].sum(-1).double().numpy()
        rows = np.concatenate([[i for i in range(len(uids)) if uids[i] == u] for u in order])
        ours = group_advantages(r[rows], sizes, "grpo", eps=1e-6)
        assert np.allclose(upd["advantages"][rows, -1].numpy(), ours, atol=1e-5)  # float32, as above


def test_a_planner_selector_chooses_the_prompts_in_fit(tmp_path):
    """allocation_select_n=2 with the "mopps" selector: each step rolls out 2 of the 4 prompts (pilot 2 x 2 rows,
    then the extra budget) and the actor updates on those 2 groups only; the planner sees 2 prompts a step."""

    class Selecting(AllocatingTrainerMixin):
        allocation_select_n = 2

    planner = RecordingPlanner("mopps", decay=0.5)
    trainer = _trainer(tmp_path, planner, mixin=Selecting, val_before_train=False, test_freq=-1)
    trainer.fit()
    actor, manager = trainer.actor_rollout_wg, trainer.async_rollout_manager.inner
    assert [len(set(u["uid"])) for u in actor.updates] == [2, 2]
    assert [len(u["uid"]) for u in actor.updates] == [2 * K0 + BUDGET] * 2
    assert [n for n, _ in manager.calls] == [2 * K0 + (-2 * K0) % WORKERS, BUDGET + (-BUDGET) % WORKERS] * 2
    assert [len(ids) for ids, _, _ in planner.observed] == [2, 2]


def test_fit_on_two_data_parallel_actor_ranks_and_the_refusals(tmp_path):
    """verl splits every update batch into the actor's data-parallel size (dp) equal parts (its dispatch, and
    ``_balance_batch``, on by default). With dp = 2 and k0 x 4 + 10 = 18 rows a step, fit runs with balance_batch
    on; 4 x 2 + 9 = 17 rows, or a rule / selector (rows vary by step), are refused when the workers start, naming
    the setting, instead of verl's assertion inside the update. Mutation: without ``check_update_rows`` the odd
    budget reaches verl's chunking (an AssertionError, not this ValueError)."""
    trainer = _trainer(tmp_path / "a", Planner(), dp=2, balance_batch=True)
    trainer.fit()
    assert [len(u["uid"]) for u in trainer.actor_rollout_wg.updates] == [4 * K0 + BUDGET] * 2
    with pytest.raises(ValueError, match=r"allocation_budget: .* = 17 rows .* raise allocation_budget by 1"):
        _trainer(tmp_path / "b", Planner(), dp=2, budget=9)
    with pytest.raises(ValueError, match="allocation_rule: its update batch size varies"):
        _trainer(tmp_path / "c", Planner(), dp=2, rule="reinforce_ada_pos")
    _trainer(tmp_path / "d", Planner(), dp=1, budget=9, rule="reinforce_ada_pos")  # one rank: any size


def test_bad_allocation_settings_are_refused_when_the_workers_start(tmp_path):
    """Each bad allocation_* setting is a one-line ValueError naming it from init_workers, before validation and
    step 1 (before: allocation_k0 = 0 failed inside the first step, after validation; a bad rule or option name
    likewise; allocation_k0 = "4" was int()-ed)."""

    allocator = type("Settings", (AllocatingTrainerMixin,), {"allocation_allocator": "nope"})
    selector = type("Settings", (AllocatingTrainerMixin,), {"allocation_select_n": 0})
    both = type("Settings", (AllocatingTrainerMixin,), {"allocation_select_n": 2})  # with a rule: was ignored
    for kwargs, name in (({"k0": 0}, "allocation_k0"), ({"k0": "4"}, "allocation_k0"),
                         ({"budget": -1}, "allocation_budget"), ({"mixin": allocator}, "name"),
                         ({"rule": "nope"}, "allocation_rule"),
                         ({"rule": "reinforce_ada", "rule_options": {"bogus": 1}}, "options"),
                         ({"mixin": selector}, "allocation_select_n"),
                         ({"mixin": both, "rule": "reinforce_ada_pos"}, "allocation_select_n: not used with")):
        with pytest.raises(ValueError, match=name):
            _trainer(tmp_path, Planner(), **kwargs)


def test_the_generation_time_counts_in_fits_step_and_gen_timings(tmp_path, monkeypatch):
    """fit calls _get_gen_batch before its "step" timer, so the allocated generation (here each rollout call sleeps
    0.05 s: 2 calls a step) must be carried into timing_s/gen and timing_s/step through the pass-through's
    meta_info; else verl's step time and throughput leave the generation out. Timings >= 0.1 s (the sleeps; a
    lower bound, never flaky) and step >= gen."""
    import time

    import verl.trainer.ppo.ray_trainer as ray_trainer

    seen = []
    real = ray_trainer.compute_timing_metrics
    monkeypatch.setattr(ray_trainer, "compute_timing_metrics",
                        lambda batch, timing_raw: seen.append(dict(timing_raw)) or real(batch, timing_raw))
    trainer = _trainer(tmp_path, Planner(), val_before_train=False, test_freq=-1)
    manager = trainer.async_rollout_manager.inner
    inner = manager.generate_sequences

    def slow(prompts):
        time.sleep(0.05)
        return inner(prompts)

    manager.generate_sequences = slow
    trainer.fit()
    assert len(seen) == 2
    for timing in seen:
        assert timing["gen"] >= 0.1 and timing["step"] >= timing["gen"]
