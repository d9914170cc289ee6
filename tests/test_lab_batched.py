"""The lab's prompt-cached forward and many networks in one process (simalloc.lab.forward, .step, .batched).

Oracles: the transformers model's own forward (logits), the live GRPOTrainer's uncached loss, gradients and step,
torch.optim.AdamW, separate ``train_lab`` runs, the loop's per-group gradient path. Tolerances are float32's: the
cached and batched computations add the same terms in another order (attention split into prompt and completion
parts, batched matmuls), so values agree to a few float32 ulps of their magnitude, never bit for bit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from simalloc.lab import ChainTask, LabConfig, LabPolicy, ModelSpec, make_policy, sample, train_lab  # noqa: E402
from simalloc.lab.batched import NetworkGroup, StackedAdamW, run_batched, train_lab_batched  # noqa: E402
from simalloc.lab.forward import Layout, extend, model_parameters, prompt_pass  # noqa: E402
from simalloc.lab.loop import gradient_snr, group_gradients  # noqa: E402
from simalloc.lab.policy import completion_logits  # noqa: E402
from simalloc.lab.step import LabGRPOTrainer  # noqa: E402
from simalloc.live.grpo import GRPOConfig, GRPOTrainer  # noqa: E402
from simalloc.train.snr import snr_from_group_gradients  # noqa: E402

SMALL = ModelSpec(hidden=32, layers=2, heads=4, ff=64, seed=3)
#: float32 with values of order 1-10: reorderings move them by ~1e-6 relative
RTOL, ATOL = 1e-4, 1e-5
#: AdamW's first step moves an element by lr g / (|g| + eps), about lr sign(g): elements whose gradient is float32
#: noise (|g| < 1e-4, where the two computations' gradients may differ in sign) are compared only to that bound
NOISE = 1e-4


def _assert_same_step(after, before, expect, grads, lr):
    """Parameters after one AdamW step: equal where the gradient is above float32 noise, else within 2 lr."""
    big = grads.abs() > NOISE
    torch.testing.assert_close(after[big], expect[big], rtol=RTOL, atol=1e-6)
    assert float((after - before).abs().max()) <= 2.0 * lr * 1.01


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """Warm starts go to a cache of this test session, not the user's."""
    monkeypatch.setenv("SIMALLOC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def task():
    return ChainTask(n_pool=300)


def _policy(task, seed=3):
    torch.manual_seed(0)
    return make_policy(task, dataclasses.replace(SMALL, seed=seed))


def _batch(task, lengths=2, sizes=(5, 3, 0, 4), seed=0):
    """Prompts, groups of random completions (length ``lengths``), rewards with spread."""
    rng = np.random.default_rng(seed)
    pool, _ = task.split()
    prompts = pool.take(rng.choice(len(pool), len(sizes), replace=False))
    ids = [list(map(int, x)) for x in prompts.ids]
    vocab = len(task.tokenizer)
    groups = [[list(map(int, rng.integers(0, vocab, lengths))) for _ in range(n)] for n in sizes]
    rewards = [[float(i % 2) for i in range(n)] for n in sizes]
    return ids, groups, rewards


def test_the_cached_forward_equals_the_model_for_any_completion_length(task):
    policy = _policy(task)
    model, params = policy.model, model_parameters(policy.model)
    ids, groups, _ = _batch(task, lengths=3, sizes=(2, 3))
    prompts = torch.as_tensor(ids)
    comps = torch.as_tensor([c for g in groups for c in g])
    owner = torch.as_tensor([0, 0, 1, 1, 1])
    with torch.no_grad():
        full = model(input_ids=torch.cat([prompts[owner], comps], 1)).logits  # the model on whole sequences
        net = Layout(model, 8)
        first, cache = prompt_pass(net, params, prompts[None])
        rest = extend(net, params, cache, owner[None], comps[None])[0]
        grouped = extend(net, params, cache, 3, comps[None, [2, 3, 4, 2, 3, 4]])[0]  # 3 per prompt, broadcast
    torch.testing.assert_close(first[0], full[[0, 2], 4], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(rest, full[:, 5:], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(grouped[3:], rest[2:], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss_type,scale,aggregation,length", [
    ("dr_grpo", "group", "rollout", 2), ("grpo", "batch", "prompt", 3), ("rloo", "none", "rollout", 1)])
def test_the_cached_step_equals_the_uncached_trainer(task, loss_type, scale, aggregation, length):
    """Loss, gradients and the parameters after one step (clipping at a norm small enough to act, AdamW)."""
    a, b = _policy(task), _policy(task)
    ids, groups, rewards = _batch(task, lengths=length)
    config = GRPOConfig(learning_rate=1e-2, epsilon=0.1, loss_type=loss_type, scale_rewards=scale,
                        aggregation=aggregation, max_completion_length=length, max_grad_norm=0.05, temperature=1.3)
    plain, cached = GRPOTrainer(a.model, a.tokenizer, config), LabGRPOTrainer(b.model, b.tokenizer, config)
    before = [p.detach().clone() for p in a.model.parameters()]
    losses, grads = [], []
    for trainer in (plain, cached):
        loss, _ = trainer.loss(ids, groups, rewards)
        losses.append(loss)
        grads.append(torch.autograd.grad(loss, trainer.params))
    torch.testing.assert_close(losses[1], losses[0], rtol=RTOL, atol=1e-7)  # 0 in value (ratio 1): the gradient
    assert max(float(g.abs().max()) for g in grads[0]) > 1e-3  # the batch has spread: a gradient to compare
    for g0, g1 in zip(*grads):
        torch.testing.assert_close(g1, g0, rtol=RTOL, atol=1e-6)
    out0, out1 = plain.step(ids, groups, rewards), cached.step(ids, groups, rewards)
    assert out0["grad_norm"] > 0.05  # clipping acted
    assert out1["grad_norm"] == pytest.approx(out0["grad_norm"], rel=1e-4)
    for p0, p1, start, g0 in zip(a.model.parameters(), b.model.parameters(), before, grads[0]):
        _assert_same_step(p1.detach(), start, p0.detach(), g0, config.learning_rate)


def test_stacked_adamw_equals_torch_adamw_per_network():
    """Three networks, per-network learning rates, a step that updates only two of them."""
    rng = torch.Generator().manual_seed(0)
    start = {"w": torch.randn(3, 4, 5, generator=rng), "b": torch.randn(3, 5, generator=rng)}
    stacked = StackedAdamW({k: v.clone() for k, v in start.items()})
    separate = [{k: v[r].clone().requires_grad_(True) for k, v in start.items()} for r in range(3)]
    opts = [torch.optim.AdamW(list(s.values()), lr=1.0) for s in separate]
    lrs = np.array([1e-2, 3e-2, 5e-3])
    for rows in ([0, 1, 2], [0, 2], [0, 1, 2]):
        grads = {k: torch.randn(len(rows), *v.shape[1:], generator=rng) for k, v in start.items()}
        stacked.step(rows, grads, lrs[rows])
        for j, r in enumerate(rows):
            opts[r].param_groups[0]["lr"] = float(lrs[r])
            for k, p in separate[r].items():
                p.grad = grads[k][j].clone()
            opts[r].step()
    assert stacked.steps.tolist() == [3, 2, 3]
    for r in range(3):
        for k, p in separate[r].items():
            torch.testing.assert_close(stacked.params[k][r], p.detach(), rtol=1e-6, atol=1e-7)


def test_a_batched_step_equals_separate_steps(task):
    """Three networks with their own weights, batches of different shapes, temperatures, learning rates and
    clipping norms, one batched step against three cached trainers."""
    policies = [_policy(task, seed=s) for s in (1, 2, 3)]
    group = NetworkGroup([p.model for p in policies])
    settings = [dict(temperature=1.0, learning_rate=1e-2, max_grad_norm=1.0),
                dict(temperature=0.7, learning_rate=3e-2, max_grad_norm=0.01),
                dict(temperature=1.5, learning_rate=1e-3, max_grad_norm=1.0)]
    batches = [_batch(task, sizes=s, seed=i) for i, s in enumerate([(5, 3, 0, 4), (2, 2), (8, 1, 3)])]
    trainers = [group.network(r).make_trainer(task.tokenizer, GRPOConfig(max_completion_length=2, **kw))
                for r, kw in enumerate(settings)]
    out = run_batched(group, [lambda r=r: trainers[r].step(*batches[r]) for r in range(3)])  # one gathered step
    for r, (p, kw) in enumerate(zip(policies, settings)):
        ref = LabGRPOTrainer(p.model, p.tokenizer, GRPOConfig(max_completion_length=2, **kw))
        before = {k: v.detach().clone() for k, v in p.model.state_dict().items()}
        grads = dict(zip([n for n, _ in p.model.named_parameters()],
                         torch.autograd.grad(ref.loss(*batches[r])[0], ref.params)))
        expect = ref.step(*batches[r])
        assert out[r]["loss"] == pytest.approx(expect["loss"], rel=1e-4, abs=1e-7)
        assert out[r]["grad_norm"] == pytest.approx(expect["grad_norm"], rel=1e-4)
        for name, value in group.network(r).state_dict().items():
            _assert_same_step(value, before[name], p.model.state_dict()[name], grads[name], kw["learning_rate"])
    assert out[1]["grad_norm"] > 0.01  # network 1 was clipped, the others not: clipping is per network


def test_batched_sampling_and_enumeration_follow_each_network(task):
    """Each handle draws what ``sample`` draws from its own network with the same Generator state, and its
    enumeration equals the network's (networks of different weights in one group)."""
    policies = [_policy(task, seed=s) for s in (1, 2)]
    group = NetworkGroup([p.model for p in policies])
    pool, _ = task.split()
    prompts = pool.take(np.arange(6))
    counts = np.array([3, 0, 5, 1, 2, 4])
    for r, p in enumerate(policies):
        handle = LabPolicy(group.network(r), task, 1.2)
        own = sample(LabPolicy(p.model, task, 1.2), prompts, counts, np.random.default_rng(r))
        batched = sample(handle, prompts, counts, np.random.default_rng(r))
        # float32 reorderings could flip a draw only where u lands within ~1e-6 of a CDF step: not at these seeds
        np.testing.assert_array_equal(batched.tokens, own.tokens)
        np.testing.assert_array_equal(batched.reward, own.reward)
        for x, y in zip(completion_logits(handle, prompts), completion_logits(p, prompts)):
            torch.testing.assert_close(x, y, rtol=RTOL, atol=ATOL)


def test_the_snr_from_one_batched_pass_equals_the_per_group_path(task):
    policy = _policy(task)
    ids, groups, rewards = _batch(task, sizes=(6, 4, 0, 5, 3))
    for scale, aggregation in (("group", "rollout"), ("batch", "prompt")):
        config = GRPOConfig(scale_rewards=scale, aggregation=aggregation, max_completion_length=2)
        trainer = LabGRPOTrainer(policy.model, policy.tokenizer, config)
        got = gradient_snr(trainer, ids, groups, rewards)  # the trainer's group_gradient_rows
        expect = snr_from_group_gradients(*group_gradients(trainer, ids, groups, rewards))
        np.testing.assert_allclose(got, expect, rtol=1e-4)  # float32 gradients; the Gram matrix in float64


def _tiny(**kw):
    return LabConfig(steps=2, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30, warm_steps=5,
                     record_every=1, snr_every=2, hidden=32, ff=64, n_pool=300, eval_temperatures=(1.0,), **kw)


def _assert_tables_close(a, b):
    floats = [c for c in a.columns if a[c].dtype.kind == "f" and c != "step_seconds"]
    rest = [c for c in a.columns if c not in floats and c != "step_seconds"]
    assert a[rest].equals(b[rest])
    np.testing.assert_allclose(a[floats].to_numpy(), b[floats].to_numpy(), rtol=1e-4, atol=1e-5, equal_nan=True)


def test_a_batched_run_equals_separate_runs_however_the_runs_are_grouped():
    cfg = _tiny()
    runs = [("uniform", 0, 0), ("hora", 1, 1), ("uniform:lr0.5", 2, 2)]
    together = train_lab_batched(cfg, runs)
    split = train_lab_batched(cfg, runs[:1]) + train_lab_batched(cfg, runs[1:])
    for (steps, share), (steps2, share2), run in zip(together, split, runs):
        alone, alone_share = train_lab(cfg, run[0], run[1], rep=run[2])
        _assert_tables_close(steps, alone)
        _assert_tables_close(steps2, alone)
        assert share.equals(alone_share)
    assert not np.allclose(together[0][0]["grad_norm"].iloc[1:], together[2][0]["grad_norm"].iloc[1:])  # runs differ


def test_bad_input_and_a_failing_loop(task):
    policy = _policy(task)
    group = NetworkGroup([policy.model, policy.model])
    with pytest.raises(ValueError, match="r: must lie in"):
        group.network(2)
    with pytest.raises(ValueError, match="loops: at most 2"):
        run_batched(group, [lambda: 0] * 3)
    with pytest.raises(ValueError, match="beta"):
        group.network(0).make_trainer(task.tokenizer, GRPOConfig(beta=0.1))
    trainer = group.network(0).make_trainer(task.tokenizer, GRPOConfig(max_completion_length=2))
    ids, groups, rewards = _batch(task)
    groups[0][0] = groups[0][0] + [4]  # one completion longer than the others
    with pytest.raises(ValueError, match="groups: a batched GRPO step"):
        trainer.step(ids, groups, rewards)
    tied = make_policy(task, SMALL)
    tied.model.config.tie_word_embeddings = True
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        model_parameters(tied.model)

    def fails():
        raise RuntimeError("boom")

    def works():  # blocks on a call while the other loop fails: must still finish
        return completion_logits(LabPolicy(group.network(1), task), task.split()[0].take([0]))[0].shape

    with pytest.raises(RuntimeError, match="boom"):
        run_batched(group, [fails, works])


def test_batch_shards_groups_one_arms_replicates_in_fixed_batches():
    """By hand: 5 replicates x 2 arms in batches of 2 -> each arm's reps {0,1}, {2,3}, {4}; a sweep value keeps its
    runs apart; every run in exactly one batch; a bad size is refused in one line."""
    from simalloc.train import batch_shards

    shards = [{"id": f"{arm}-rep{rep}", "arm": arm, "rep": rep} for rep in range(5) for arm in ("uniform", "hora")]
    batches = batch_shards(shards, 2)
    assert [b["id"] for b in batches] == ["uniform-rep0..rep1", "uniform-rep2..rep3", "uniform-rep4",
                                          "hora-rep0..rep1", "hora-rep2..rep3", "hora-rep4"]
    assert [[r["rep"] for r in b["runs"]] for b in batches] == [[0, 1], [2, 3], [4]] * 2
    assert all({r["arm"] for r in b["runs"]} == {b["arm"]} for b in batches)
    swept = batch_shards([{**s, "n": n, "id": f"n{n}-{s['id']}"} for n in (4, 8) for s in shards[:2]], 8)
    assert [(b["n"], len(b["runs"])) for b in swept] == [(4, 1), (4, 1), (8, 1), (8, 1)]
    assert len(batch_shards(shards, 100)) == 2
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="batch_runs: must be an integer >= 1"):
            batch_shards(shards, bad)
