"""One training loop for the simulator and the lab (issue 35 item 0): both models go through
``simalloc.train.loop.train_arm`` and draw their batches with the same ``BatchDrawer``; the lab's adapter keeps the
groups the drawer's rules name."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import simalloc.train.loop as train_loop  # noqa: E402
import simalloc.train.peers as peers  # noqa: E402
from simalloc.lab import ChainTask, LabConfig, make_policy, train_lab  # noqa: E402
from simalloc.lab.loop import LabModel  # noqa: E402
from simalloc.train import TrainConfig, simulate_training  # noqa: E402
from simalloc.train.batch import Batch, BatchDrawer  # noqa: E402
from simalloc.train.model import SimulatedModel, TrainingModel  # noqa: E402

N_POOL, N_PROMPTS, G, K0 = 300, 8, 4, 2
SIM = TrainConfig(steps=2, n_pool=N_POOL, n_eval=40, n_prompts=N_PROMPTS, group_size=G, k0=K0, phase_b_shards=2,
                  record_every=1, snr_every=0)
LAB = LabConfig(n_pool=N_POOL, steps=2, n_prompts=N_PROMPTS, group_size=G, k0=K0, phase_b_shards=2, n_eval=20,
                record_every=1, snr_every=0, eval_temperatures=())


def _spy(monkeypatch):
    """Record, per model class, the batches ``BatchDrawer.draw`` returned, the loop's step plans and the DAPO
    refills (each wrapped around the real function)."""
    seen = {"draw": [], "plan": 0, "refill": 0}
    draw, plan, refill = BatchDrawer.draw, train_loop.step_plan, peers.refill_informative

    def spy_draw(self, model, warm):
        batch = draw(self, model, warm)
        assert isinstance(model, TrainingModel)
        seen["draw"].append((type(model), batch.idx.copy()))
        return batch

    def spy_plan(*args):
        seen["plan"] += 1
        return plan(*args)

    def spy_refill(*args):
        seen["refill"] += 1
        return refill(*args)

    monkeypatch.setattr(BatchDrawer, "draw", spy_draw)
    monkeypatch.setattr(train_loop, "step_plan", spy_plan)
    monkeypatch.setattr(peers, "refill_informative", spy_refill)
    return seen


@pytest.mark.parametrize("arm", ["uniform", "dapo_dynamic"])
def test_the_simulator_and_the_lab_run_the_same_loop_and_drawer(monkeypatch, arm):
    """Each run's steps go through train_arm's plan and BatchDrawer.draw with its own model class (dapo_dynamic:
    through the one refill); uniform's prompt batches come from the shared ``batch`` stream, so the same seed gives
    both models the same prompts (common random numbers across models)."""
    seen = _spy(monkeypatch)
    simulate_training(SIM, arm, np.random.SeedSequence([4, 0]))
    sim = dict(seen, draw=list(seen["draw"]))
    train_lab(LAB, arm, np.random.SeedSequence([4, 0]), policy=make_policy(LAB.build_task()))
    assert [t for t, _ in seen["draw"]] == [SimulatedModel] * 2 + [LabModel] * 2
    assert sim["plan"] == 2 and seen["plan"] == 4
    if arm == "dapo_dynamic":
        assert sim["refill"] == 2 and seen["refill"] == 4
    else:
        for (_, a), (_, b) in zip(seen["draw"][:2], seen["draw"][2:]):
            np.testing.assert_array_equal(a, b)


def test_lab_groups_keep_what_the_drawer_names():
    """Hand-built draws: an allocating batch trains on every completion drawn, in order; a peer batch on the first
    `successes` correct and first `sizes - successes` wrong ones; a mismatch is an error, not a silent group."""
    task = ChainTask(n_pool=60)
    pool, _ = task.split()
    model = LabModel(make_policy(task), pool, LabConfig(n_pool=60, n_prompts=2, phase_b_shards=1), 1e-3)
    drawn = {3: [("a", 0.0), ("b", 1.0), ("c", 0.0), ("d", 1.0)], 7: [("e", 1.0), ("f", 1.0), ("g", 0.0)]}
    model.drawn = {k: list(v) for k, v in drawn.items()}
    whole = Batch(np.array([3, 7]), np.full(2, np.nan), np.array([2, 2]), np.array([4, 3]), 7,
                  pilot=np.array([1, 1]), extra=np.array([2, 1]), extra_successes=np.array([1, 1]))
    ids, groups, rewards = model.training_groups(whole)
    assert groups == [list("abcd"), list("efg")] and rewards == [[0, 1, 0, 1], [1, 1, 0]]
    assert ids == [list(map(int, row)) for row in pool.take([3, 7]).ids]
    kept = Batch(np.array([3, 7]), np.full(2, np.nan), np.array([1, 2]), np.array([3, 3]), 7)
    _, groups, rewards = model.training_groups(kept)
    assert groups == [list("bac"), list("efg")] and rewards == [[1, 0, 0], [1, 1, 0]]
    with pytest.raises(RuntimeError, match="prompt 7"):
        model.training_groups(Batch(np.array([7]), np.full(1, np.nan), np.array([2]), np.array([4]), 4,
                                    pilot=np.array([1]), extra=np.array([3]), extra_successes=np.array([1])))
