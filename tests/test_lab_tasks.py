"""Lab v2 tasks (issue 35): the task-spec grammar, 3-digit answers with exact pass rates against a brute-force
enumeration, the masked (unreachable) token, sampling against the exact distribution, breakthroughs, the shipped
warm starts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from scipy import stats  # noqa: E402

from simalloc.lab import (  # noqa: E402
    FAMILIES,
    LabConfig,
    RegimeTask,
    WarmStart,
    answer_distribution,
    make_policy,
    parse_task,
    pass_rates,
    sample,
    train_lab,
    warm_key,
    warm_start,
)
from simalloc.lab.breakthrough import breakthrough_rows, breakthroughs  # noqa: E402
from simalloc.lab.warmstart import WEIGHTS_DIR  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """Warm starts go to a cache of this test session, not the user's; torch runs on one thread (these networks are
    tiny: a second thread only adds contention on a shared machine)."""
    monkeypatch.setenv("SIMALLOC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- the grammar -------------------------------------------------------------------------------------------------
def test_task_specs_parse_to_the_stated_shares():
    assert parse_task("turn3").name == "turn3"
    assert parse_task(" narrowing ").shares == (0.0, 1.0, 0.0, 0.0)
    assert parse_task("narrowing:0.5+expanding:0.3+unreachable:0.2").shares == (0.0, 0.5, 0.3, 0.2)
    assert parse_task("taught+expanding").shares == (0.5, 0.0, 0.5, 0.0)  # no shares: equal
    assert parse_task("expanding:0.5+taught:0.5").text == "taught:0.5+expanding:0.5"  # canonical order


@pytest.mark.parametrize("spec, token", [
    ("narowing", "narowing"),                       # unknown family
    ("narrowing:0.5+expanding", "expanding"),       # a share missing
    ("narrowing:0.5+expanding:0.4", "0.9"),         # shares not summing to 1
    ("narrowing:abc", "abc"),                       # unreadable share
    ("narrowing:1.5", "1.5"),                       # share outside (0, 1]
    ("narrowing+narrowing", "narrowing"),           # repeated
    ("turn3+narrowing", "turn3"),                   # turn3 does not mix
    ("narrowing++expanding", "''"),                 # empty term
])
def test_a_malformed_spec_is_refused_in_one_line_naming_the_token(spec, token):
    with pytest.raises(ValueError) as err:
        parse_task(spec)
    msg = str(err.value)
    assert msg.startswith("task: ") and "\n" not in msg and (token if token == "''" else repr(token)) in msg


def test_lab_config_takes_the_spec_and_refuses_a_bad_one():
    cfg = LabConfig(task="narrowing:0.5+expanding:0.5", n_pool=200)
    cfg.validate()
    assert isinstance(cfg.build_task(), RegimeTask) and cfg.eval_set_specs() == []  # turn-3's "hard" set skipped
    with pytest.raises(ValueError, match="^task: unknown family 'bogus'"):
        LabConfig(task="bogus").validate()
    with pytest.raises(ValueError, match="^eval_sets: .*4 family weights"):
        LabConfig(task="narrowing", n_pool=200, eval_sets=("x=1,1,1",)).validate()
    LabConfig(task="narrowing", n_pool=200, eval_sets=("edge=0,0,1,0",)).validate()
    with pytest.raises(ValueError, match="^n_pool: family 'narrowing' has 1000 prompts"):
        LabConfig(task="narrowing").validate()  # 2000 training prompts of a family of 1000


# ---- the v2 task ---------------------------------------------------------------------------------------------------
def test_v2_prompts_are_written_by_independent_arithmetic():
    task = RegimeTask("taught+narrowing+expanding+unreachable", n_pool=400)
    pool, _ = task.split()
    held = task.eval_set(200, seed=3)
    assert np.bincount(pool.level).tolist() == [100] * 4 and not set(zip(pool.level, pool.index)) & \
        set(zip(held.level, held.index))
    tok = task.tokenizer
    minus = 0
    for i in range(len(held)):
        a, o1, b, o2, c = tok.decode(held.ids[i]).split()
        a, b, c = int(a), int(b), int(c)
        fam = FAMILIES[held.level[i]]
        if o1 == "?":  # either path; the grader's is the prompt's hidden one
            z = held.intermediate[i]
            assert z in ((a + b) % 10, (a - b) % 10)
            minus += z != (a + b) % 10
        else:
            z = eval(f"({a} {o1} {b}) % 10")
        y, prev = [], z
        for _ in range(3):  # the chain y_j = y_(j-1) o2 c
            prev = eval(f"({prev} {'+' if o2 == '#' else o2} {c}) % 10")
            y.append(prev)
        want = ["X", str(y[1]), str(y[2])] if o2 == "#" else [str(v) for v in y]
        assert tok.decode(held.answer_ids[i]).split() == want and z == held.intermediate[i]
        assert fam == {"?": "narrowing", "#": "unreachable"}.get(o1 if o1 == "?" else o2,
                                                                  "expanding" if (o1, o2) in (("-", "-"), ("*", "-"))
                                                                  else "taught")
    assert 0 < minus < (held.level == 1).sum()  # both hidden paths occur


def test_the_misconception_teacher_shows_the_edge_pair_with_minus_read_as_plus():
    """Under ``expanding_teacher="misconception"`` (the default) about EDGE_TEACHER_SHARE of the teacher's rows are
    ``* -`` prompts whose completion is the correct intermediate and the chain with ``+`` (checked by independent
    arithmetic on the decoded tokens); every other row is the "absent" teacher's row drawn from the same stream, and
    "absent" shows no expanding prompt at all. The readings key different warm starts."""
    from simalloc.lab.regimes import EDGE_TEACHER_SHARE

    wrong, absent = RegimeTask("narrowing", n_pool=400), RegimeTask("narrowing", n_pool=400,
                                                                      expanding_teacher="absent")
    n = 4000
    pw, cw = wrong.teacher_batch(n, np.random.default_rng(5))
    pa, ca = absent.teacher_batch(n, np.random.default_rng(5))
    tok = wrong.tokenizer
    edge = np.array([tok.decode(r).split()[1::2] == ["*", "-"] for r in pw])
    assert not any(tok.decode(r).split()[3] == "-" and tok.decode(r).split()[1] in "-*" for r in pa)
    sd = np.sqrt(EDGE_TEACHER_SHARE * (1 - EDGE_TEACHER_SHARE) / n)
    assert edge.mean() > 0.1 and abs(edge.mean() - EDGE_TEACHER_SHARE) < 4 * sd
    assert np.array_equal(pw[~edge], pa[~edge]) and np.array_equal(cw[~edge], ca[~edge])
    for row, comp in zip(pw[edge][:200], cw[edge][:200]):
        a, _, b, _, c = (int(t) for t in tok.decode(row).replace("*", "0").replace("-", "0").split())
        z = a * b % 10
        assert tok.decode(comp).split() == [str(v) for v in (z, (z + c) % 10, (z + 2 * c) % 10, (z + 3 * c) % 10)]
    cfg = LabConfig(task="narrowing", n_pool=400)
    assert cfg.build_task().expanding_teacher == "misconception"
    keys = {warm_key(LabConfig(task="narrowing", n_pool=400, level2=r).build_task(), cfg.model_spec, cfg.warm)
            for r in ("misconception", "absent")}
    assert len(keys) == 2
    with pytest.raises(ValueError, match="expanding_teacher"):
        RegimeTask("narrowing", n_pool=400, expanding_teacher="missing")


def test_the_shipped_v2_network_leaves_the_edge_pair_rarely_but_not_never_solved():
    """The regime's premise, measured on the shipped network (exact pass rates, 256 held-out expanding prompts).
    On the edge pair ``* -`` where 2c != 0 mod 10 (the misconception's answer is wrong): Pass@256 below 0.5, most
    prompts below p = 1e-3, and some above it (reached by composition, not by the wrong rule); where 2c = 0 (c in
    {0, 5}) the wrong rule writes the right answer, so those prompts are solved (p > 0.9 on average: taught in
    effect); the held-out composition ``- -`` starts above Pass@256 0.5. Bounds are the premise, not a fit (measured
    on another draw: 0.089, 68% / 9% below / above 1e-3 of the whole pair, 0.9986 on c in {0, 5}; docs/lab.md)."""
    cfg = LabConfig(task="expanding", n_pool=1000)
    task = cfg.build_task()
    policy = warm_start(task, cfg.model_spec, cfg.warm, cache=False)
    held = task.eval_set(256, seed=11)
    p = pass_rates(policy, held)
    pair, c = held.index // 1000, held.index % 10
    coincide = (2 * c) % 10 == 0
    edge, lucky, comp = p[(pair == 1) & ~coincide], p[(pair == 1) & coincide], p[pair == 0]
    at256 = lambda q: float(np.mean(1 - (1 - q) ** 256))  # noqa: E731
    assert at256(edge) < 0.5 < at256(comp)
    assert np.mean(edge < 1e-3) > 0.5 and np.mean(edge > 1e-3) > 0.02
    assert lucky.size and lucky.mean() > 0.9


def test_a_uniform_answer_distribution_has_pass_at_256_at_most_a_quarter():
    """The default v2 task: with the output head zeroed every unmasked token is equally likely (1 / 16), so the
    exact pass rate is 16^-3 (rtol 1e-6: float32 logits that are exactly 0); a uniform distribution over the 1,000
    answers would give 1 - (1 - 1/1000)^256 = 0.226; both are <= 0.25, and so is an untrained network's."""
    task = RegimeTask("taught+narrowing+expanding", n_pool=300)
    prompts = task.eval_set(24, seed=1)
    policy = make_policy(task)
    untrained = pass_rates(policy, prompts)
    assert np.mean(1 - (1 - untrained) ** 256) <= 0.25
    with torch.no_grad():
        policy.model.lm_head.weight.zero_()
    p = pass_rates(policy, prompts)
    np.testing.assert_allclose(p, 16.0**-3, rtol=1e-6)
    assert 1 - (1 - 1 / 1000) ** 256 <= 0.25 and np.mean(1 - (1 - p) ** 256) <= 0.25


@pytest.fixture(scope="module")
def tiny():
    """Base 3 (27 answers, a vocabulary of 10 tokens) and a briefly trained network: every completion can be
    enumerated (10^4 per prompt)."""
    task = RegimeTask("taught+narrowing+expanding+unreachable", base=3, n_pool=40)
    policy = warm_start(task, warm=WarmStart(steps=30, batch=64), cache=False)
    return task, policy


def _brute_force(policy, x):
    """P(completion) for every one of the V^4 completions of prompt x, from full-sequence forward passes (the chain
    rule over all prefixes; nothing teacher-forced)."""
    vocab = len(policy.tokenizer)
    heads = np.array(list(itertools.product(range(vocab), repeat=3)))  # (z, y1, y2)
    seqs = torch.as_tensor(np.concatenate([np.repeat(x[None], len(heads), 0), heads], 1))
    with torch.no_grad():
        lp = torch.log_softmax(policy.model(input_ids=seqs).logits[:, -4:].double(), -1).numpy()
    prefix = sum(lp[np.arange(len(heads)), j, heads[:, j]] for j in range(3))  # log P(z, y1, y2)
    return heads, np.exp(prefix[:, None] + lp[:, 3, :])  # (V^3, V): P(z, y1, y2, y3)


def test_exact_pass_rates_and_answer_distribution_equal_a_brute_force_enumeration(tiny):
    """Tolerance 1e-6: float32 network arithmetic in another order (batch shapes), probabilities O(0.01-1)."""
    task, policy = tiny
    prompts = task.eval_set(4, seed=2)  # one prompt per family
    got = pass_rates(policy, prompts)
    dist = answer_distribution(policy, prompts)
    digits = task.tokenizer.digit_ids
    for i in range(len(prompts)):
        heads, prob = _brute_force(policy, prompts.ids[i])
        np.testing.assert_allclose(prob.sum(), 1.0, atol=1e-6)
        target = prompts.answer_ids[i]
        right = (heads[:, 1:] == target[:2]).all(1)
        np.testing.assert_allclose(got[i], prob[right, target[2]].sum(), atol=1e-6)
        # the distribution over the 27 digit answers: marginalise z, keep digit y1 y2 y3
        marginal = np.zeros(27)
        for (z, y1, y2), row in zip(heads, prob):
            if y1 in digits and y2 in digits:
                marginal[(y1 - digits[0]) * 9 + (y2 - digits[0]) * 3:][:3] += row[digits]
        np.testing.assert_allclose(dist[i, :-1], marginal, atol=1e-6)
    assert (got[prompts.level == 3] == 0).all() and got[prompts.level < 3].min() > 0
    assert np.ptp(got[prompts.level < 3]) > 1e-3  # not a uniform network: the rates differ between prompts


def test_sampled_answers_follow_the_exact_distribution(tiny):
    """2000 rollouts of one prompt vs answer_distribution: chi-square p > 1e-3 (a false alarm in 1 of 1000 runs);
    at temperature 0.6 the same test must reject (p < 1e-3). Rewards are the exact token match."""
    task, policy = tiny
    prompts = task.eval_set(4, (1, 0, 0, 0), seed=4)
    dist = answer_distribution(policy, prompts.take([0]))[0]
    for temperature, should_pass in ((None, True), (0.6, False)):
        roll = sample(policy, prompts.take([0]), 2000, rng=5, temperature=temperature)
        counts = np.bincount(np.where(roll.answer < 0, 27, roll.answer), minlength=28).astype(float)
        expected = dist * counts.sum()
        keep = expected >= 5
        obs, exp = np.append(counts[keep], counts[~keep].sum()), np.append(expected[keep], expected[~keep].sum())
        obs, exp = (obs[:-1], exp[:-1]) if exp[-1] == 0 else (obs, exp)
        pval = stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue
        assert (pval > 1e-3) == should_pass, (temperature, pval)
    roll = sample(policy, prompts, 50, rng=1)
    want = (roll.tokens[:, 1:] == prompts.answer_ids[roll.prompt]).all(1)
    np.testing.assert_array_equal(roll.reward, want.astype(float))
    assert roll.reward.sum() > 0


def test_the_unreachable_token_is_never_emitted_and_gets_no_gradient(tiny):
    """X has probability exactly 0 at every position and its output row's gradient is exactly 0 under a GRPO step's
    loss; without the mask (a fresh head) the same loss moves it."""
    from simalloc.lab import make_trainer

    task, policy = tiny
    x_id = task.tokenizer.ids["X"]
    prompts = task.eval_set(6, (0, 0, 0, 1), seed=0)
    roll = sample(policy, prompts, 20, rng=2)
    assert not (roll.tokens == x_id).any() and roll.reward.sum() == 0
    with torch.no_grad():
        probs = torch.softmax(policy.model(input_ids=torch.as_tensor(prompts.ids)).logits.double(), -1)
    assert (probs[..., x_id] == 0).all()
    cfg = LabConfig(task="unreachable", modulus=3, n_pool=40)
    for masked in (True, False):
        net = make_policy(task)
        net.load(policy.state())
        if not masked:
            net.model.lm_head._forward_hooks.clear()  # the mask removed: the same loss must move X's row
        trainer = make_trainer(net, cfg, 1e-3)
        groups = [[list(t) for t in roll.tokens[roll.prompt == i]] for i in range(len(prompts))]
        rewards = [list(np.arange(len(g)) % 2 * 1.0) for g in groups]  # spread, so advantages are non-zero
        loss, _ = trainer.loss([list(map(int, r)) for r in prompts.ids], groups, rewards)
        trainer.optimizer.zero_grad()
        loss.backward()
        row = net.model.lm_head.weight.grad[x_id]
        assert (row == 0).all() == masked


def test_train_lab_on_a_v2_mixture_records_every_family():
    cfg = LabConfig(task="taught:0.4+narrowing:0.2+expanding:0.2+unreachable:0.2", n_pool=60, steps=2,
                    n_prompts=6, group_size=4, k0=2, phase_b_shards=2, n_eval=20, warm_steps=3, record_every=1,
                    snr_every=0, eval_temperatures=())
    steps, _ = train_lab(cfg, "uniform", 0)
    cols = [f"pass@1:{f}" for f in FAMILIES]
    assert set(cols) <= set(steps.columns) and steps[cols].notna().all().all()
    assert (steps["pass@1:unreachable"] == 0).all() and (steps["pass@256"] < 1).all()
    # a study's batched shard on a v2 task (the batched path covers 2-token completions only) trains the same run
    from simalloc.lab.batched import train_lab_shard

    shard = train_lab_shard(cfg, 0, {"runs": [{"arm": "uniform", "rep": 0}]})["steps"]
    again, _ = train_lab(cfg, "uniform", np.random.SeedSequence([0, 0]), rep=0)
    cols = [c for c in again.columns if c != "step_seconds"]
    pd.testing.assert_frame_equal(shard[cols], again[cols])


# ---- breakthroughs -------------------------------------------------------------------------------------------------
def test_breakthroughs_interpolate_censor_and_take_the_km_median():
    """Hand values: rep 0 crosses 0.5 between steps 10 (0.3) and 20 (0.7): step 15; rep 1 at step 20 exactly;
    rep 2 never (censored at 20); rep 3 starts above: step 0. Share 3/4; KM median: S drops to 3/4 at 0, to 1/2 at
    15 -> 15."""
    t = pd.DataFrame({"arm": "u", "rep": np.repeat([0, 1, 2, 3], 3), "step": [0, 10, 20] * 4,
                      "pass@1:f": [0.1, 0.3, 0.7, 0.1, 0.2, 0.5, 0.1, 0.4, 0.45, 0.6, 0.9, 0.9]})
    b = breakthroughs(t, ["f", "absent"])
    assert b.step.tolist() == [15.0, 20.0, 20.0, 0.0] and b.reached.tolist() == [True, True, False, True]
    summary, reps = breakthrough_rows(t, ["f"]).tables()
    share = summary[summary.metric == "breakthrough_share@f"].iloc[0]
    assert share.value == 0.75 and share.n_reps == 4
    assert summary[summary.metric == "breakthrough_step@f"].value.iloc[0] == 15.0
    assert reps[reps.metric == "breakthrough_step@f"].value.tolist() == [15.0, 20.0, 20.0, 0.0]
    with pytest.raises(ValueError, match="threshold"):
        breakthroughs(t, ["f"], threshold=1.0)


# ---- warm starts ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["turn3", "narrowing"])
def test_the_default_specs_warm_starts_ship_and_are_loaded_not_retrained(spec, monkeypatch):
    from simalloc.lab import warmstart

    cfg = LabConfig(task=spec, n_pool=400)  # the v2 warm start does not read the pool; turn-3's does
    cfg = LabConfig() if spec == "turn3" else cfg
    task = cfg.build_task()
    key = warm_key(task, cfg.model_spec, cfg.warm)
    assert (WEIGHTS_DIR / f"warm-{key}.pt").is_file(), "regenerate the shipped weights (docs/lab.md)"
    monkeypatch.setattr(warmstart, "_train", lambda *a: (_ for _ in ()).throw(AssertionError("retrained")))
    policy = warm_start(task, cfg.model_spec, cfg.warm, cache=False)
    shipped = torch.load(WEIGHTS_DIR / f"warm-{key}.pt", weights_only=True)
    assert all(torch.equal(v, shipped[k]) for k, v in policy.state().items())
