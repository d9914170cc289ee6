"""The lab: the task, the exact answer distribution against sampling and against a plain enumeration, the GRPO
step against a hand transcription, the warm start's spread, the placebo, the gradient SNR, resume and workers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from scipy import stats  # noqa: E402

from simalloc.lab import (  # noqa: E402
    ChainTask,
    LabConfig,
    WarmStart,
    answer_distribution,
    gradient_snr,
    make_policy,
    make_trainer,
    pass_rates,
    sample,
    train_lab,
    warm_start,
)
from simalloc.train.arms import parse_arm  # noqa: E402
from simalloc.train.batch import BatchDrawer  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """Warm starts go to a cache of this test session, not the user's."""
    monkeypatch.setenv("SIMALLOC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def task():
    return ChainTask(n_pool=600)


@pytest.fixture(scope="module")
def policy(task):
    """A briefly warm-started network: answer distributions that are neither uniform nor one-hot."""
    return warm_start(task, warm=WarmStart(steps=60, batch=128), cache=False)


def test_the_task_writes_the_intermediate_and_the_answer_correctly(task):
    every = task.all_prompts()
    assert len(every) == 9 * 10**3
    tok = task.tokenizer
    for i in np.random.default_rng(0).choice(len(every), 300, replace=False):
        a, o1, b, o2, c = tok.decode(every.ids[i]).split()
        z = eval(f"({a} {o1} {b}) % 10")  # independent arithmetic: Python's own operators
        y = eval(f"({z} {o2} {c}) % 10")
        assert (every.intermediate[i], every.answer[i], every.level[i]) == (z, y, "+-*".index(o2))
    train, held = task.split()
    assert len(train) == 600 and np.bincount(train.level).tolist() == [200, 200, 200]
    assert not set(train.index) & set(held.index)
    hard = task.eval_set(90, (0, 1, 1))
    assert set(hard.level) == {1, 2} and not set(hard.index) & set(train.index)


def test_answer_distribution_equals_a_plain_enumeration(task, policy):
    """Full-sequence forward passes (no key-value cache) for every first token: the same probabilities to 1e-6
    (float32 network arithmetic in another order; probabilities are O(0.1))."""
    prompts = task.eval_set(12)
    got = answer_distribution(policy, prompts)
    ids = torch.as_tensor(prompts.ids)
    vocab = len(task.tokenizer)
    with torch.no_grad():
        first = torch.softmax(policy.model(input_ids=ids).logits[:, -1].double(), -1)
        ext = torch.cat([ids.repeat_interleave(vocab, 0), torch.arange(vocab).repeat(len(prompts))[:, None]], 1)
        second = torch.softmax(policy.model(input_ids=ext).logits[:, -1].double(), -1).view(len(prompts), vocab, vocab)
    joint = torch.einsum("nz,nzy->ny", first, second).numpy()[:, task.tokenizer.digit_ids]
    np.testing.assert_allclose(got[:, :-1], joint, atol=1e-6)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-9)
    assert 0.02 < got.max(1).mean() < 0.98  # not a degenerate policy


def _chi2_p(counts, probs) -> float:
    expected = probs * counts.sum()
    keep = expected >= 5
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def test_sampled_answers_follow_the_exact_distribution_and_a_wrong_temperature_fails(task, policy):
    """4000 sampled final answers per prompt vs answer_distribution: chi-square p > 1e-3 for each of three prompts
    (a false alarm in 1 of 1000 runs per prompt); sampling at temperature 0.7 against the T = 1 distribution must
    be rejected (p < 1e-3)."""
    prompts = task.eval_set(3, (1, 1, 1), seed=5)
    dist = answer_distribution(policy, prompts)
    n = 4000
    for temperature, should_pass in ((None, True), (0.7, False)):
        roll = sample(policy, prompts, n, rng=11, temperature=temperature)
        ps = []
        for i in range(len(prompts)):
            ans = roll.answer[roll.prompt == i]
            counts = np.bincount(np.where(ans < 0, 10, ans), minlength=11).astype(float)
            ps.append(_chi2_p(counts, dist[i]))
        assert (min(ps) > 1e-3) == should_pass, (temperature, ps)


def test_sampling_rewards_and_shapes(task, policy):
    prompts = task.eval_set(4)
    roll = sample(policy, prompts, [0, 3, 1, 2], rng=0)
    assert roll.prompt.tolist() == [1, 1, 1, 2, 3, 3] and roll.tokens.shape == (6, 2)
    np.testing.assert_array_equal(roll.reward, (roll.answer == prompts.answer[roll.prompt]).astype(float))
    a, b = sample(policy, prompts, 5, rng=3), sample(policy, prompts, 5, rng=3)
    np.testing.assert_array_equal(a.tokens, b.tokens)  # same seed, same rollouts
    with pytest.raises(ValueError, match="n: "):
        sample(policy, prompts, -1)


def _hand_loss(policy, prompts, groups, rewards, max_len=2):
    """Dr.GRPO with TRL's group-std scaling, written out: A = (r - mean) / (std_bessel + 1e-4); every completion
    weighted 1/N; per token -A ratio (ratio = exp(logp - logp.detach()) = 1 in value), summed over the completion's
    tokens and divided by max_completion_length."""
    n_total = sum(len(g) for g in groups)
    total = 0.0
    for x, comps, r in zip(prompts, groups, rewards):
        r = np.asarray(r, dtype=np.float64)
        adv = (r - r.mean()) / ((r.std(ddof=1) if r.size > 1 else 0.0) + 1e-4)
        for comp, a in zip(comps, adv):
            seq = torch.as_tensor([list(x) + list(comp)])
            logits = policy.model(input_ids=seq).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            token_logp = torch.stack([logp[len(x) - 1 + t, comp[t]] for t in range(len(comp))])
            ratio = torch.exp(token_logp - token_logp.detach())
            total = total + (1.0 / n_total) * (-(float(a)) * ratio).sum() / max_len
    return total


def test_the_grpo_step_equals_a_hand_transcription(task):
    """Two prompts, groups of 3 and 5: the trainer's loss gradient equals the hand-written loss's (rtol 1e-4:
    float32 sums in another order), and one trainer step equals clipping + AdamW by hand on that gradient."""
    pol = warm_start(task, warm=WarmStart(steps=20, batch=64), cache=False)
    cfg = LabConfig(n_pool=600, lr=1e-3, max_grad_norm=0.5)
    trainer = make_trainer(pol, cfg, cfg.lr)
    prompts = task.eval_set(2, seed=9)
    roll = sample(pol, prompts, [3, 5], rng=2)
    ids = [list(map(int, x)) for x in prompts.ids]
    groups = [[list(map(int, t)) for t in roll.tokens[roll.prompt == i]] for i in range(2)]
    rewards = [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0]]  # fixed rewards: both groups have spread
    params = [p for p in pol.model.parameters()]
    loss, _ = trainer.loss(ids, groups, rewards)
    g_trainer = torch.autograd.grad(loss, params)
    g_hand = torch.autograd.grad(_hand_loss(pol, ids, groups, rewards), params)
    for a, b in zip(g_trainer, g_hand):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-7)
    # mutation: unscaled advantages (Dr.GRPO's "none") must not pass the same comparison
    from dataclasses import replace

    mutant = make_trainer(pol, replace(cfg, scale_rewards="none"), cfg.lr)
    g_mutant = torch.autograd.grad(mutant.loss(ids, groups, rewards)[0], params)
    assert not all(np.allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-7) for a, b in zip(g_mutant, g_hand))
    # the step: clip to max_grad_norm, then AdamW (torch's defaults: betas 0.9/0.999, eps 1e-8, weight decay 0.01)
    flat = torch.cat([g.reshape(-1) for g in g_hand])
    scale = min(1.0, 0.5 / (float(flat.norm()) + 1e-6))
    expected = []
    for p, g in zip(params, g_hand):
        g = g * scale
        m, v = 0.1 * g, 0.001 * g * g
        m_hat, v_hat = m / 0.1, v / 0.001
        expected.append(p.detach() * (1 - 1e-3 * 0.01) - 1e-3 * m_hat / (v_hat.sqrt() + 1e-8))
    trainer.step(ids, groups, rewards)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.detach().numpy(), e.numpy(), rtol=1e-4, atol=1e-6)


def test_the_warm_start_leaves_a_spread_and_an_untrained_network_does_not():
    """The default warm start: >= 20% of the default eval set in each of p < 0.05, 0.05 <= p <= 0.5 and p > 0.5
    (the issue's requirement, measured at temperature 1). The untrained network (the mutation: no warm start) has
    every prompt near chance and fails it."""
    cfg = LabConfig()
    task = cfg.build_task()
    ev = task.eval_set(cfg.n_eval)

    def shares(pol):
        p = pass_rates(pol, ev)
        return np.array([(p < 0.05).mean(), ((p >= 0.05) & (p <= 0.5)).mean(), (p > 0.5).mean()])

    warm = shares(warm_start(task, cfg.model_spec, cfg.warm, cfg.temperature))
    assert (warm >= 0.2).all(), warm
    assert not (shares(make_policy(task, cfg.model_spec)) >= 0.2).all()


def test_the_placebo_permutes_each_shards_group_sizes():
    """Same pilot counts and allocator stream: hora_placebo gives each shard the multiset of HORA's group sizes,
    assigned to other prompts in at least one shard."""
    cfg = LabConfig(n_pool=600, n_prompts=32, phase_b_shards=4)
    from simalloc.lab.loop import _batch_spec
    from simalloc.train.predictors import make_predictor

    s = np.random.default_rng(0).integers(0, cfg.k0 + 1, cfg.n_prompts)
    idx = np.arange(cfg.n_prompts)
    out = {}
    for name in ("hora", "hora_placebo"):
        rngs = {"alloc": np.random.default_rng(5)}
        drawer = BatchDrawer(_batch_spec(cfg), parse_arm(name), cfg.k0, make_predictor("uniform"), rngs)
        out[name] = drawer.allocate(idx, None, s)
    moved = 0
    for shard in np.array_split(idx, cfg.phase_b_shards):
        assert sorted(out["hora"][shard]) == sorted(out["hora_placebo"][shard])
        moved += not np.array_equal(out["hora"][shard], out["hora_placebo"][shard])
    assert moved >= 1 and out["hora"].sum() == cfg.n_prompts * (cfg.group_size - cfg.k0)


def test_gradient_snr_doubles_when_every_group_is_seen_twice(task, policy):
    """Seeing every group twice: the weighted mean gradient is the same and its estimated variance
    n/(n-1) sum w^2 d^2 becomes 2n/(2n-1) (1/4) 2 sum w^2 d^2, so ||g||^2 / V = SNR + 1 grows (2n-1)/(n-1)-fold; the
    per-group spread
    sum d^2 / (n-1) becomes 2 sum d^2 / (2n-1), so the noise scale x 2(n-1)/(2n-1). Exact algebra (rel 1e-6)."""
    cfg = LabConfig(n_pool=600)
    trainer = make_trainer(policy, cfg, 1e-3)
    prompts = task.eval_set(6, seed=3)
    roll = sample(policy, prompts, 6, rng=4)
    ids = [list(map(int, x)) for x in prompts.ids]
    groups = [[list(map(int, t)) for t in roll.tokens[roll.prompt == i]] for i in range(6)]
    rewards = [[float(v) for v in roll.reward[roll.prompt == i]] for i in range(6)]
    rewards[0][0], rewards[0][1] = 1.0, 0.0  # at least one group with spread
    snr, scale = gradient_snr(trainer, ids, groups, rewards)
    snr2, scale2 = gradient_snr(trainer, ids * 2, groups * 2, rewards * 2)
    n = 6
    assert (snr2 + 1) / (snr + 1) == pytest.approx((2 * n - 1) / (n - 1), rel=1e-6)
    assert scale2 / scale == pytest.approx(2 * (n - 1) / (2 * n - 1), rel=1e-6)
    assert np.isnan(gradient_snr(trainer, ids[:1], groups[:1], rewards[:1])[0])


def test_a_short_run_records_the_simulators_columns_and_the_labs():
    cfg = LabConfig(n_pool=600, steps=3, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30,
                    warm_steps=10, record_every=1, snr_every=2)
    steps, share = train_lab(cfg, "hora", 0)
    from simalloc.lab import LAB_COLUMNS
    from simalloc.train import STEP_COLUMNS

    assert list(steps.columns[:len(STEP_COLUMNS)]) == STEP_COLUMNS and set(LAB_COLUMNS) <= set(steps.columns)
    assert list(steps.step) == [0, 1, 2, 3] and (steps.rollouts.iloc[1:] == 32).all()
    assert steps["grad_snr"].notna().sum() == 2 and share.budget_share.sum() == pytest.approx(1.0)
    x2, _ = train_lab(cfg, "uniform:x2", 0)
    assert (x2.rollouts.iloc[1:] == 64).all()
    again, _ = train_lab(cfg, "hora", 0)
    pd.testing.assert_frame_equal(steps.drop(columns="step_seconds"), again.drop(columns="step_seconds"))


def test_resume_and_two_workers_give_the_same_table(tmp_path):
    """Runs are trained in batches fixed by the config (``batch_runs``: one arm's replicates), never by the workers:
    the same shards (batches) and the same tables, bit for bit, with 1 and 2 workers and after a resume. A grouping
    that followed the workers (tried by hand: the runner unbatching the shards when workers > 1) fails on the shard
    names; its numbers need not differ (one arm's runs batched or alone were bit-equal here: the batched matmuls
    compute each network's slice alike), but may after float32 reordering where a batch pads."""
    from simalloc.sim.runner import run_study

    over = {"steps": "3", "n_prompts": "8", "group_size": "4", "k0": "2", "n_eval": "30", "warm_steps": "10",
            "record_every": "1", "snr_every": "3", "n_reps": "2", "arms": "uniform,hora", "frontier_lrs": "2.0",
            "batch_runs": "2"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = run_study("lab_hora_vs_grpo", quick=True, out=tmp_path / "one", overrides=over, progress=False)
        first = pd.read_parquet(one / "table.parquet")
        done = sorted((one / "shards").glob("*.done.json"))[0]  # lose one finished shard, as an interruption would
        for f in (one / "shards").glob(done.name.replace(".done.json", ".*")):
            f.unlink()
        run_study("lab_hora_vs_grpo", quick=True, out=one, overrides=over, progress=False)
        two = run_study("lab_hora_vs_grpo", quick=True, out=tmp_path / "two", overrides=over, progress=False,
                        workers=2)
    batches = {f"{arm}-rep0..rep1.done.json" for arm in ("uniform", "hora", "uniform:lr2")}
    for out in (one, two):
        assert {f.name for f in (out / "shards").glob("*.done.json")} == {b.replace(":", "_") for b in batches}
    drop = ["step_seconds"]
    pd.testing.assert_frame_equal(first.drop(columns=drop), pd.read_parquet(one / "table.parquet").drop(columns=drop),
                                  check_exact=True)
    pd.testing.assert_frame_equal(first.drop(columns=drop), pd.read_parquet(two / "table.parquet").drop(columns=drop),
                                  check_exact=True)
    summary = pd.read_csv(one / "summary.csv")
    pd.testing.assert_frame_equal(summary, pd.read_csv(two / "summary.csv"), check_exact=True)
    assert {"frontier_gain@256", "grad_snr", "pass@1:level2"} <= set(summary.metric)


def test_bad_input():
    with pytest.raises(ValueError, match="k0"):
        LabConfig(k0=20, group_size=16).validate()
    with pytest.raises(ValueError, match="eval_sets"):
        LabConfig(eval_sets=("hard=1,2",)).validate()
    with pytest.raises(ValueError, match="level2"):
        LabConfig(level2="wrong").validate()
    with pytest.raises(ValueError, match="n_pool"):
        ChainTask(n_pool=9000)
    with pytest.raises(ValueError, match="mix"):
        ChainTask().eval_set(10, (1, 1))
    with pytest.raises(ValueError, match="temperature"):
        make_policy(ChainTask(), temperature=0)
    with pytest.raises(ValueError, match="x<m>"):
        parse_arm("uniform:x0")
    with pytest.raises(ValueError, match="bench_sizes"):
        LabConfig(bench_sizes=(30,)).validate()


def test_the_quick_study_runs_end_to_end(tmp_path):
    """``simalloc run lab_hora_vs_grpo --quick``: every output file, the frontier gain and the lab's rows."""
    from simalloc.cli import main

    out = tmp_path / "quick"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", "lab_hora_vs_grpo", "--quick", "--out", str(out)]) in (0, None)
    for name in ("table.parquet", "summary.csv", "figure.png", "frontier.png", "lab.png", "meta.json"):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "summary.csv")
    efficiency = {f"{stat}@pass@{k}" for stat in ("steps_to_target", "rollouts_to_target", "reached",
                                                  "compute_multiplier") for k in (1, 256)}
    for arm in ("uniform", "hora", "hora_placebo", "uniform:x2"):
        assert {"pass@1", "pass@256", "frontier_gain@256", "grad_snr"} | efficiency <= set(
            summary[summary.arm == arm].metric)
    reps = pd.read_csv(out / "replicates.csv")  # the level rows' replicates too: they recompute the summary
    lv = reps[(reps.arm == "hora") & (reps.metric == "pass@1:level2")].value.mean()
    assert lv == pytest.approx(summary.set_index(["arm", "metric"]).loc[("hora", "pass@1:level2"), "value"],
                               rel=1e-12)


def test_the_committed_result_is_what_the_docs_quote():
    """docs/lab.md's table is read from docs/lab/summary.csv (rounded as printed): a re-run that changes the committed
    numbers without the page (or the reverse) fails here."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    summary = pd.read_csv(root / "docs" / "lab" / "summary.csv").set_index(["arm", "metric"])
    page = (root / "docs" / "lab.md").read_text()
    args = __import__("json").loads((root / "docs" / "lab" / "args.json").read_text())["args"]
    from simalloc.sim.runner import load_study
    # the default command reproduces it: each arm runs on its own streams, so arms added to the defaults since (issue
    # 34's ladder, oracle and temperature controls) leave the committed arms' rows unchanged
    default = load_study("lab_hora_vs_grpo").Args().arms
    assert [a for a in default if a in args["arms"]] == list(args["arms"])
    for arm in ("hora", "hard_first", "dapo", "knapsack", "informative", "hora_placebo", "uniform:lr0.5", "uniform:x2",
                "uniform:lr0.35", "uniform:lr0.85"):
        row = summary.loc[(arm, "frontier_gain@256")]
        quoted = f"{row.value:+.3f} +- {row.se:.3f} ({int(row.n_reps)})"
        assert quoted in page, (arm, quoted)
        absent = pd.read_csv(root / "docs" / "lab" / "absent" / "summary.csv").set_index(["arm", "metric"])
        if arm in ("hora", "hard_first", "hora_placebo", "uniform:x2", "dapo", "knapsack", "informative"):
            a = absent.loc[(arm, "frontier_gain@256")]
            assert f"{a.value:+.3f} +- {a.se:.3f}" in page, (arm, "absent")
        p1, pk = summary.loc[(arm, "pass@1"), "value"], summary.loc[(arm, "pass@256"), "value"]
        assert f"| {p1:.3f} | {pk:.3f} |" in page
        hard = summary.loc[(arm, "hard:frontier_gain@256")]
        assert f"{hard.value:+.2f} +- {hard.se:.2f} ({int(hard.n_reps)})" in page, arm
        lv2, snr = summary.loc[(arm, "pass@1:level2"), "value"], summary.loc[(arm, "grad_snr"), "value"]
        assert f"| {lv2:.3f} | {snr:.2f} |" in page, (arm, lv2, snr)
