"""simalloc.integrations.verl with the real verl (``make test-integrations``; skipped when verl is absent)."""

from __future__ import annotations

import numpy as np
import pytest

verl = pytest.importorskip("verl", reason="the verl extra is not installed (make test-integrations)")
torch = pytest.importorskip("torch")

from verl import DataProto  # noqa: E402
from verl.trainer.ppo.core_algos import AdvantageEstimator  # noqa: E402
from verl.trainer.ppo.ray_trainer import RayPPOTrainer, compute_advantage  # noqa: E402

from simalloc import Planner  # noqa: E402
from simalloc.estimators import group_advantages  # noqa: E402
from simalloc.integrations.verl import (  # noqa: E402
    AllocatingTrainerMixin,
    generate_allocated,
    grpo_advantages,
    pad_to_multiple,
    repeat_by_allocation,
    unpad,
)

RESP = 3  # response length of the stand-in rollouts


def _prompts(n, width=5):
    ids = torch.arange(n * width).reshape(n, width)
    return DataProto.from_dict(tensors={"input_ids": ids, "attention_mask": torch.ones_like(ids)},
                               non_tensors={"qid": np.array([f"q{i}" for i in range(n)], dtype=object)})


def _scored(batch, rewards):
    """Token-level scores with the sequence reward on the last response token (verl's outcome reward layout)."""
    scores = torch.zeros(len(batch), RESP)
    scores[:, -1] = torch.as_tensor(rewards, dtype=torch.float32)
    batch.batch["token_level_scores"] = scores
    batch.batch["token_level_rewards"] = scores
    batch.batch["response_mask"] = torch.ones(len(batch), RESP)
    return batch


def test_repeat_by_allocation_groups_each_prompt_under_its_uid():
    counts = np.array([3, 1, 0, 5])
    batch = repeat_by_allocation(_prompts(4), counts)
    assert len(batch) == 9
    uids = batch.non_tensor_batch["uid"]
    assert [int((uids == u).sum()) for u in dict.fromkeys(uids.tolist())] == [3, 1, 5]
    assert batch.non_tensor_batch["qid"].tolist() == ["q0"] * 3 + ["q1"] + ["q3"] * 5
    assert torch.equal(batch.batch["input_ids"][3], torch.arange(5, 10))
    with pytest.raises(ValueError, match="counts"):
        repeat_by_allocation(_prompts(2), [1, -1])


def test_verl_advantages_equal_simalloc_for_every_group():
    """Acceptance: verl's own compute_grpo_outcome_advantage on a batch built from a known allocation gives
    simalloc's advantages group by group (groups of >= 2; verl's group of one is documented apart)."""
    rng = np.random.default_rng(0)
    counts = np.array([2, 5, 8, 3, 4, 6])
    batch = repeat_by_allocation(_prompts(counts.size), counts)
    rewards = rng.integers(0, 2, counts.sum()).astype(np.float64)
    rewards[:2] = [1.0, 1.0]  # a group without spread: 0 on both sides
    adv = grpo_advantages(_scored(batch, rewards))[:, -1].numpy()
    ours = group_advantages(rewards, counts, "grpo", eps=1e-6)
    assert np.allclose(adv, ours, atol=1e-5)  # verl computes in float32 (rel. 6e-8); advantages are O(3) at most
    # verl's group of one: mean 0, std 1, so its advantage is its reward; simalloc's is 0
    one = repeat_by_allocation(_prompts(2), np.array([1, 2]))
    adv1 = grpo_advantages(_scored(one, [1.0, 1.0, 0.0]))[:, -1].numpy()
    assert adv1[0] == pytest.approx(1.0 / (1 + 1e-6)) and group_advantages([1.0, 1.0, 0.0], [1, 2], "grpo")[0] == 0


def test_the_advantage_check_can_fail():
    """Mutation: the uids shuffled across rows (groups mixed): the comparison must break."""
    counts = np.array([4, 4, 4])
    batch = repeat_by_allocation(_prompts(3), counts)
    rewards = np.array([1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1], dtype=np.float64)
    batch.non_tensor_batch["uid"] = np.random.default_rng(1).permutation(batch.non_tensor_batch["uid"])
    adv = grpo_advantages(_scored(batch, rewards))[:, -1].numpy()
    assert not np.allclose(adv, group_advantages(rewards, counts, "grpo", eps=1e-6), atol=1e-5)


def test_padded_then_unpadded_equals_the_batch():
    batch = repeat_by_allocation(_prompts(3), np.array([2, 3, 2]))
    padded, pad = pad_to_multiple(batch, 4)
    assert len(padded) == 8 and pad == 1
    back = unpad(padded, pad)
    assert len(back) == len(batch)
    for key in batch.batch.keys():
        assert torch.equal(back.batch[key], batch.batch[key])
    for key, value in batch.non_tensor_batch.items():
        assert (back.non_tensor_batch[key] == value).all()


class StandInRollout:
    """generate_sequences of a rollout manager: a response per row and rm_scores drawn from each prompt's pass rate
    (by qid); records the sizes it was asked for."""

    def __init__(self, p, seed=0, world_size=2):
        self.p, self.gen = p, torch.Generator().manual_seed(seed)
        self.world_size, self.calls = world_size, []

    def generate_sequences(self, batch):
        n = len(batch)
        assert n % self.world_size == 0, "padded to the data-parallel size"
        self.calls.append(n)
        q = torch.tensor([self.p[int(x[1:])] for x in batch.non_tensor_batch["qid"]])
        reward = (torch.rand(n, generator=self.gen) < q).float()
        out = DataProto.from_dict(tensors={"responses": torch.randint(0, 50, (n, RESP), generator=self.gen),
                                           "rm_scores": torch.nn.functional.pad(reward[:, None], (RESP - 1, 0))},
                                  non_tensors=dict(batch.non_tensor_batch), meta_info={"timing": {}})
        return out


def test_generate_allocated_pilot_then_extra():
    p = np.array([0.0, 0.5, 0.9, 0.2])
    gen_batch = _prompts(4)
    gen_batch.non_tensor_batch["uid"] = np.array(["a", "b", "c", "d"], dtype=object)
    rollout = StandInRollout(p)
    planner = Planner()
    batch, counts = generate_allocated(gen_batch, rollout.generate_sequences,
                                       lambda out: out.batch["rm_scores"].sum(-1).numpy(), k0=2, budget=10,
                                       planner=planner, ids=["q0", "q1", "q2", "q3"], pad_multiple=2)
    assert counts.sum() == 4 * 2 + 10 and len(batch) == counts.sum()
    uids = batch.non_tensor_batch["uid"].tolist()
    assert uids == sorted(uids, key="abcd".index)  # grouped by prompt, pilot then extra
    assert [uids.count(u) for u in "abcd"] == counts.tolist()
    assert rollout.calls == [8, 10]  # the pilot (4 x 2), then the extra (10)
    assert planner.history(["q0", "q1"])["seen"].tolist() == [1, 1]


def test_the_mixin_runs_inside_fits_generation_and_advantage_lines():
    """The lines of RayPPOTrainer.fit (verl 0.9.1) from the generation batch to compute_advantage, transcribed, run
    with the mixin's hooks: the union aligns, every prompt's group has its allocated size, and the advantages are
    simalloc's."""
    from omegaconf import OmegaConf

    class Trainer(AllocatingTrainerMixin, RayPPOTrainer):
        allocation_k0, allocation_budget = 2, 12

        def __init__(self, rollout):  # RayPPOTrainer.__init__ builds Ray workers: only what fit's lines read
            self.config = OmegaConf.create({"algorithm": {"adv_estimator": "grpo"},
                                            "actor_rollout_ref": {"rollout": {"n": 8}}})
            self.async_rollout_manager = rollout

    p = np.array([0.0, 0.5, 0.9, 0.2, 0.6])
    trainer = Trainer(StandInRollout(p, world_size=1))
    trainer.async_rollout_manager = __import__("simalloc.integrations.verl", fromlist=["x"])._PassThroughRollout(
        trainer.async_rollout_manager)  # what init_workers does
    batch = _prompts(5)
    batch.non_tensor_batch["uid"] = np.array([f"u{i}" for i in range(5)], dtype=object)
    # --- RayPPOTrainer.fit, verl 0.9.1 (the generation stage, non-REMAX branch) ---
    gen_batch = trainer._get_gen_batch(batch)
    gen_batch.meta_info["global_steps"] = 1
    rollout_n = trainer.config.actor_rollout_ref.rollout.n
    gen_batch_output = gen_batch.repeat(repeat_times=rollout_n, interleave=True)
    combined_gen_batch = gen_batch_output
    num_sampled_prompts = len(gen_batch_output)
    combined_gen_output = trainer.async_rollout_manager.generate_sequences(combined_gen_batch)
    combined_gen_output.meta_info.pop("timing", None)
    gen_batch_output = combined_gen_output.slice(0, num_sampled_prompts)
    batch = batch.repeat(repeat_times=trainer.config.actor_rollout_ref.rollout.n, interleave=True)
    batch = batch.union(gen_batch_output)
    # --- then the reward and advantage stage ---
    rewards = batch.batch["rm_scores"]
    batch.batch["token_level_scores"] = rewards
    batch.batch["token_level_rewards"] = rewards
    batch.batch["response_mask"] = torch.ones_like(rewards)
    batch = compute_advantage(batch, adv_estimator=AdvantageEstimator.GRPO, num_repeat=rollout_n,
                              norm_adv_by_std_in_grpo=True, config=trainer.config.algorithm)
    uids = batch.non_tensor_batch["uid"].tolist()
    sizes = [uids.count(f"u{i}") for i in range(5)]
    assert sum(sizes) == 5 * 2 + 12 and min(sizes) >= 2 and len(set(sizes)) > 1
    assert batch.non_tensor_batch["qid"].tolist() == [f"q{i}" for i, k in enumerate(sizes) for _ in range(k)]
    r = rewards.sum(-1).numpy().astype(np.float64)
    ours = group_advantages(r, np.array(sizes), "grpo", eps=1e-6)
    assert np.allclose(batch.batch["advantages"][:, -1].numpy(), ours, atol=1e-5)
    assert trainer.async_rollout_manager.inner.calls == [10, 12]  # pilot and extra only, nothing generated twice
