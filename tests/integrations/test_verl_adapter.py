"""simalloc.integrations.verl with the real verl (``make test-integrations``; skipped when verl is absent)."""

from __future__ import annotations

import numpy as np
import pytest

verl = pytest.importorskip("verl", reason="the verl extra is not installed (make test-integrations)")
torch = pytest.importorskip("torch")

from verl import DataProto  # noqa: E402

from simalloc import Planner  # noqa: E402
from simalloc.estimators import group_advantages  # noqa: E402
from simalloc.integrations.verl import (  # noqa: E402
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

    def __init__(self, p, seed=0, workers=2):
        self.p, self.gen = p, torch.Generator().manual_seed(seed)
        self.workers, self.calls = workers, []

    def generate_sequences(self, batch):
        n = len(batch)
        assert n % self.workers == 0, "padded to the rollout divisor"
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


def test_stable_prompt_ids():
    """The id a planner is keyed by: data_source/index from extra_info when present; else a hash of the prompt's
    token ids (left padding ignored); else a hash of the chat messages. The same prompt gets the same id at every
    step (fresh uids), different prompts different ids, and a row without extra_info["index"] is not merged into
    index 0 (RLHFDataset's own default)."""
    from simalloc.integrations.verl import stable_prompt_ids

    def batch(uid_seed, extra, ids=None, mask=None, raw=None):
        tensors = {"dummy_tensor": torch.zeros(len(extra), 1)}
        if ids is not None:
            tensors = {"input_ids": ids, "attention_mask": mask}
        non = {"extra_info": np.array(extra, dtype=object), "data_source": np.array(["a"] * len(extra), dtype=object),
               "uid": np.array([f"{uid_seed}-{i}" for i in range(len(extra))], dtype=object)}
        if raw is not None:
            non["raw_prompt"] = np.fromiter(raw, dtype=object, count=len(raw))  # as verl's collate_fn
        return DataProto.from_dict(tensors=tensors, non_tensors=non)

    by_index = stable_prompt_ids(batch(1, [{"index": 7}, {"index": 0}]))
    assert by_index == ["a/index:7", "a/index:0"]
    assert stable_prompt_ids(batch(2, [{"index": 7}, {"index": 0}])) == by_index  # new uids, same ids
    # token ids: the same tokens under different left padding are one prompt; other tokens another
    ids = torch.tensor([[0, 0, 5, 6], [0, 5, 6, 9], [0, 0, 0, 0]])
    ids[2] = torch.tensor([0, 0, 5, 6])
    mask = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1]])
    tok = stable_prompt_ids(batch(3, [{}, {}, {}], ids=ids, mask=mask))
    assert tok[0] == tok[2] != tok[1] and tok[0].startswith("tokens:")
    padded = torch.tensor([[0, 0, 0, 5, 6]])
    assert stable_prompt_ids(batch(4, [{}], ids=padded, mask=(padded != 0).long())) == [tok[0]]
    # messages (verl 0.9's RLHFDataset tokenises in the agent loop): a hash of the chat, key order irrelevant
    raw = [[{"role": "user", "content": "x"}], [{"content": "x", "role": "user"}], [{"role": "user", "content": "y"}]]
    msg = stable_prompt_ids(batch(5, [{}, None, {"index": None}], raw=raw))
    assert msg[0] == msg[1] != msg[2] and msg[0].startswith("prompt:")


def test_a_trainer_without_the_generation_hook_is_refused():
    """verl 0.9's v1 PPOTrainer (trainer.use_v1=True) has a fit loop but no _get_gen_batch (rollout.n is spawned
    inside its agent loop): the mixin would never run there, so such a class is refused at definition; a mixin-only
    intermediate class (no fit) and a RayPPOTrainer subclass are accepted."""
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

    from simalloc.integrations.verl import AllocatingTrainerMixin

    class V1Like:
        def fit(self):
            pass

    with pytest.raises(ValueError, match="use_v1=False"):
        type("T", (AllocatingTrainerMixin, V1Like), {})
    options = type("Options", (AllocatingTrainerMixin,), {"allocation_select_n": 2})
    assert issubclass(type("T", (options, RayPPOTrainer), {}), RayPPOTrainer)
