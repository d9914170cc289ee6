"""Issue 34's mechanics: DAPO's dynamic sampling refills (both models), the lab's per-group gradients at the
step's own advantages, the budget ladder x<m>, HORA with the true pass rates, Pass@k at evaluation temperatures."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from simalloc.train import TrainConfig, parse_arm, simulate_training
from simalloc.train.batch import BatchDrawer
from simalloc.train.evaluation import temperature_columns, temperature_values
from simalloc.train.loop import STREAMS, _policy
from simalloc.train.model import SimulatedModel
from simalloc.train.peers import PeerDrawer, parse_peer_options, refill_informative
from simalloc.train.policies import pass_at_k_curve
from simalloc.train.predictors import make_predictor

#: a U-shaped world and G = 8: many prompts give groups without spread (p near 0 or 1), so DAPO must refill
SMALL = TrainConfig(n_pool=400, n_eval=100, n_strategies=50, n_prompts=20, group_size=8, k0=4, steps=4,
                    phase_b_shards=2, world="beta:0.3,0.3", eval_temperatures=())


def _rngs(seed):
    return dict(zip(STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS)))))


# ---- DAPO's refill, the shared loop -----------------------------------------------------------------------------
def _scripted(batches, successes):
    """A generation-batch source and a roll that return fixed prompts and fixed successes (by prompt id)."""
    it = iter(batches)
    calls = []

    def generation_batch():
        return np.asarray(next(it, []), dtype=np.int64)

    def roll(idx, n):
        calls.append((idx.tolist(), n.tolist()))
        return np.array([successes[i] for i in idx.tolist()], dtype=np.int64)

    return generation_batch, roll, calls


def test_refill_keeps_the_first_informative_groups_and_counts_every_rollout():
    """G = 4, 3 prompts per batch. Prompt ids: successes 0 (ids 0, 3), 4 (ids 1, 4) or 2 (the rest). Batch 1 =
    [0, 1, 2] keeps {2}; batch 2 = [3, 4, 5] keeps {5}; batch 3 = [6, 7, 8] holds three more: the batch keeps the
    first 3 informative groups in the order generated, [2, 5, 6], and spent 9 prompts x 4 = 36 rollouts."""
    succ = {0: 0, 1: 4, 2: 2, 3: 0, 4: 4, 5: 1, 6: 3, 7: 2, 8: 2, 9: 2}
    gen, roll, calls = _scripted([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]], succ)
    g = refill_informative(gen, roll, n_prompts=3, group=4, max_num_gen_batches=0)
    assert g.idx.tolist() == [2, 5, 6] and g.kept_pos.tolist() == [2, 1, 3] and g.kept_neg.tolist() == [2, 3, 1]
    assert g.spent == 36 and len(calls) == 3 and all(n == [4, 4, 4] for _, n in calls)
    # the cap: two generation batches, then the step trains what it holds
    gen, roll, calls = _scripted([[0, 1, 2], [3, 4, 5], [6, 7, 8]], succ)
    g = refill_informative(gen, roll, n_prompts=3, group=4, max_num_gen_batches=2)
    assert g.idx.tolist() == [2, 5] and g.spent == 24 and len(calls) == 2
    # an exhausted pool (an empty batch) stops an uncapped step
    gen, roll, calls = _scripted([[0, 1]], succ)
    g = refill_informative(gen, roll, n_prompts=3, group=4, max_num_gen_batches=0)
    assert g.idx.size == 0 and g.spent == 8


def _dapo_drawer(cfg, seed, text=""):
    rngs = _rngs(seed)
    model = SimulatedModel(_policy(cfg, rngs["world"]), cfg.update_spec, cfg.n_prompts, rngs)
    spec = dataclasses.replace(cfg, peer_options=text).batch_spec
    return model, BatchDrawer(spec, parse_arm("dapo_dynamic"), cfg.k0, make_predictor("uniform"), rngs)


def test_simulator_dapo_fills_the_batch_with_informative_groups_and_spends_more():
    """Every step trains exactly n_prompts groups, all with spread and G rollouts, of distinct prompts; it spends
    a whole number of generation batches (n_prompts x G each), more than one when zero-spread groups occur."""
    model, drawer = _dapo_drawer(SMALL, 7)
    spent = []
    for _ in range(5):
        b = drawer.draw(model, warm=False)
        assert b.idx.size == SMALL.n_prompts and np.unique(b.idx).size == b.idx.size
        assert np.all((b.successes > 0) & (b.successes < b.sizes)) and np.all(b.sizes == SMALL.group_size)
        assert b.rollouts % (SMALL.n_prompts * SMALL.group_size) == 0
        spent.append(b.rollouts)
    assert min(spent) > SMALL.n_prompts * SMALL.group_size  # the U-shaped world: the first batch never suffices


def test_simulator_dapo_stops_at_its_cap_and_the_table_counts_every_rollout():
    """max_num_gen_batches = 1: one batch per step (uniform's spend), fewer groups trained; the default cap (10)
    spends more per step than uniform GRPO in the study's table."""
    model, drawer = _dapo_drawer(SMALL, 7, "dapo.max_num_gen_batches=1")
    b = drawer.draw(model, warm=False)
    assert b.rollouts == SMALL.n_prompts * SMALL.group_size and 0 < b.idx.size < SMALL.n_prompts
    steps, _ = simulate_training(SMALL, "dapo_dynamic", np.random.SeedSequence([3, 0]))
    uniform, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([3, 0]))
    assert (steps.rollouts.iloc[1:] > uniform.rollouts.iloc[1:]).all()
    assert (steps.informative_share.iloc[1:] == 1.0).all()


def test_dapo_cap_and_modifiers_are_checked():
    with pytest.raises(ValueError, match="dapo_dynamic takes only"):
        parse_arm("dapo_dynamic:truth")
    assert parse_arm("dapo_dynamic:x2:lr0.5").rollout_scale == 2.0
    with pytest.raises(ValueError, match="max_num_gen_batches"):
        PeerDrawer("dapo_dynamic", 100, 10, 8, parse_peer_options("dapo.max_num_gen_batches=-1"), _rngs(0))
    with pytest.raises(ValueError, match="max_num_gen_batches"):
        PeerDrawer("dapo_dynamic", 100, 10, 8, parse_peer_options("dapo.max_num_gen_batches=1.5"), _rngs(0))


# ---- the budget ladder and HORA with the true pass rates ---------------------------------------------------------
def test_fractional_x_gives_m_g_rollouts_and_a_non_integer_m_g_is_refused():
    """x0.5 of G = 8: groups of 4 (n_prompts x 4 per step); x4: groups of 32; x0.3: 2.4 rollouts per prompt."""
    a, _ = simulate_training(dataclasses.replace(SMALL, k0=2), "uniform:x0.5", 3)
    assert (a.rollouts.iloc[1:] == SMALL.n_prompts * 4).all()
    b, _ = simulate_training(SMALL, "uniform:x4", 3)
    assert (b.rollouts.iloc[1:] == SMALL.n_prompts * 32).all()
    with pytest.raises(ValueError, match="x0.3 times group_size 8 = 2.4"):
        simulate_training(SMALL, "uniform:x0.3", 3)
    with pytest.raises(ValueError, match="fewer than the pilot"):
        simulate_training(SMALL, "uniform:x0.25", 3)  # 2 rollouts per prompt, pilot k0 = 4


def test_hora_truth_allocates_by_the_true_pass_rates():
    """hora:truth ignores the pilot: its Phase B maximises sum_i 1 - (1 - p_i)^{n_i} over the shard (the hit
    utility at the true p), checked against exhaustive enumeration of every split of the budget; any pilot
    counts give the same allocation."""
    cfg = TrainConfig(n_pool=50, n_prompts=3, group_size=6, k0=2, phase_b_shards=1)
    p = np.array([0.6, 0.05, 0.3])
    budget = 3 * (6 - 2)
    out = []
    for s in ([2, 0, 1], [0, 2, 2]):
        drawer = BatchDrawer(cfg.batch_spec, parse_arm("hora:truth"), 2, make_predictor("truth"),
                             {"alloc": np.random.default_rng(0)})
        out.append(drawer.allocate(np.arange(3), p, np.array(s)).tolist())
    best = max((n for n in itertools.product(range(budget + 1), repeat=3) if sum(n) == budget),
               key=lambda n: sum(1 - (1 - pi) ** ni for pi, ni in zip(p, n)))
    assert out[0] == out[1] == list(best)


# ---- Pass@k at evaluation temperatures ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cluster", "strategy", "bernoulli"])
def test_eval_pass_rates_at_a_temperature_equal_a_policy_evaluated_there(kind):
    """The same logits with eval_temperature t (the policy's own refresh) give eval_pass_rates(t); bernoulli by
    hand: sigmoid(z / t). float64 reorderings only (rtol 1e-12)."""
    cfg = dataclasses.replace(SMALL, policy=kind, n_eval=SMALL.n_pool if kind == "bernoulli" else SMALL.n_eval)
    pol = _policy(cfg, np.random.default_rng(1))
    at = pol.eval_pass_rates(1.5)
    pol.eval_temperature = 1.5
    if hasattr(pol, "_refresh"):
        pol._refresh()
    np.testing.assert_allclose(at, pol.eval_pass_rates(), rtol=1e-12)
    if kind == "bernoulli":
        np.testing.assert_allclose(at, 1 / (1 + np.exp(-pol.z / 1.5)), rtol=1e-12)
    assert not np.allclose(at, pol.eval_pass_rates(0.5))


def test_temperature_columns_are_recorded_with_their_best():
    """Step 0 and the last step carry Pass@1 / Pass@kmax at every t (as pass_at_k_curve of the rates at t) and the
    best Pass@kmax with its t; other steps NaN."""
    cfg = dataclasses.replace(SMALL, eval_temperatures=(0.5, 0.7, 2.0), steps=2)
    steps, _ = simulate_training(cfg, "uniform", 0)
    cols = temperature_columns(cfg.ks, cfg.eval_temperatures)
    assert cols[-2:] == ["pass@256_best_temperature", "best_temperature@256"] and set(cols) <= set(steps.columns)
    assert steps.loc[steps.step == 1, cols].isna().all(axis=None)
    last = steps[steps.step == 2].iloc[0]
    best = max(last[f"pass@256@T{t:g}"] for t in cfg.eval_temperatures)
    assert last["pass@256_best_temperature"] == best
    assert last[f"pass@256@T{last['best_temperature@256']:g}"] == best
    assert last["pass@1@T0.7"] == pytest.approx(last["pass@1"], rel=1e-12)  # 0.7 is the eval temperature
    p = np.array([0.1, 0.5])
    vals = temperature_values(lambda t: p ** t, (1, 4), (1.0, 2.0))  # hand: Pass@4 of p and of p^2
    np.testing.assert_allclose(vals, [*pass_at_k_curve(p, [1, 4]), *pass_at_k_curve(p**2, [1, 4]),
                                      1 - (0.9**4 + 0.5**4) / 2, 1.0], rtol=1e-12)


def test_a_temperature_arm_samples_hotter_and_is_evaluated_at_the_studys_temperature():
    """uniform:temp2 starts from the same policy, read at the same evaluation temperature (step 0 identical), and
    samples at 2 T: after set_temperature(2 T) the strategy policy's training pass rates are its windows' mass
    under softmax(theta / 2 T), summed by hand."""
    a, _ = simulate_training(SMALL, "uniform", 5)
    b, _ = simulate_training(SMALL, "uniform:temp2", 5)
    cols = [c for c in a.columns if c.startswith("pass@")]
    assert a.loc[0, cols].equals(b.loc[0, cols]) and not a.loc[SMALL.steps, cols].equals(b.loc[SMALL.steps, cols])
    cfg = dataclasses.replace(SMALL, policy="strategy")
    pol = _policy(cfg, np.random.default_rng(2))
    before = pol.pass_rates(np.arange(20))
    pol.set_temperature(2 * cfg.temperature)
    np.testing.assert_allclose(pol.pass_rates(np.arange(20)), _window_mass(pol, np.arange(20), 2 * cfg.temperature),
                               rtol=1e-9)  # float64 sums in another order
    assert not np.allclose(before, pol.pass_rates(np.arange(20)))
    with pytest.raises(ValueError, match="temp<x>"):
        parse_arm("uniform:temp0")


def _window_mass(pol, idx, t):
    """Hand: softmax(theta / t) summed over each prompt's strategy window [lo, hi)."""
    z = pol.theta / t
    pi = np.exp(z - z.max())
    pi /= pi.sum()
    return np.array([pi[pol.lo[i]:pol.hi[i]].sum() for i in idx])


# ---- the lab ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from simalloc.lab import ChainTask, WarmStart, warm_start

    task = ChainTask(n_pool=600)
    return task, warm_start(task, warm=WarmStart(steps=60, batch=128), cache=False)


def test_lab_dapo_fills_the_batch_through_the_same_refill(lab):
    """The lab's dapo_dynamic step: n_prompts groups of G completions, each with spread, of distinct prompts; the
    step spends whole generation batches, more than uniform's n_prompts x G (G = 4: many groups without spread)."""
    from simalloc.lab import LabConfig
    from simalloc.lab.loop import LabModel, _batch_spec

    task, policy = lab
    cfg = LabConfig(n_pool=600, n_prompts=16, group_size=4, k0=2, phase_b_shards=2)
    pool, _ = task.split()
    spent = []
    for seed in range(3):
        rngs = _rngs(seed)
        drawer = BatchDrawer(_batch_spec(cfg), parse_arm("dapo_dynamic"), cfg.k0, make_predictor("uniform"), rngs)
        model = LabModel(policy, pool, cfg, cfg.lr)
        batch = drawer.draw(model, warm=False)
        ids, groups, rewards = model.training_groups(batch)
        assert len(groups) == cfg.n_prompts == np.unique(batch.idx).size
        assert all(len(g) == cfg.group_size and 0 < sum(r) < cfg.group_size for g, r in zip(groups, rewards))
        assert batch.rollouts % (cfg.n_prompts * cfg.group_size) == 0
        spent.append(batch.rollouts)
    assert max(spent) > cfg.n_prompts * cfg.group_size


def test_lab_group_gradients_use_the_steps_advantages(lab):
    """sum_i w_i g_i equals the gradient of the step's own batch loss (autograd of trainer.loss on every group), for
    each reward scaling; under "batch" a group's own std would differ from the batch's (the bug this guards).
    float32 network: rtol 1e-4, atol 1e-7 x the gradient's scale."""
    import torch

    from simalloc.lab import LabConfig, make_trainer, sample
    from simalloc.lab.loop import group_gradients

    task, policy = lab
    prompts = task.eval_set(6, seed=3)
    roll = sample(policy, prompts, 5, rng=4)
    ids = [list(map(int, x)) for x in prompts.ids]
    groups = [[list(map(int, t)) for t in roll.tokens[roll.prompt == i]] for i in range(6)]
    rewards = [[float(v) for v in roll.reward[roll.prompt == i]] for i in range(6)]
    rewards[0][:2] = [1.0, 0.0]
    rewards[1][:3] = [1.0, 1.0, 0.0]  # two groups with different spreads
    for scale in ("group", "batch", "none"):
        trainer = make_trainer(policy, LabConfig(n_pool=600, scale_rewards=scale), 1e-3)
        grads, w = group_gradients(trainer, ids, groups, rewards)
        loss, _ = trainer.loss(ids, groups, rewards)
        full = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, trainer.params, allow_unused=False)])
        full = full.double().numpy()
        np.testing.assert_allclose(w @ grads, full, rtol=1e-4, atol=1e-7 * np.abs(full).max())


def test_lab_ladder_truth_and_temperature_arms_run():
    """uniform:x0.5 spends n_prompts x G / 2 per step, hora:truth and uniform:temp2 run; the temperature columns are
    filled at step 0 and the last step, with Pass@1 at T = the sampling temperature equal to the main Pass@1."""
    pytest.importorskip("torch")
    from simalloc.lab import LabConfig, train_lab

    cfg = LabConfig(n_pool=600, steps=2, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30,
                    warm_steps=10, record_every=1, snr_every=0, eval_temperatures=(1.0, 2.0))
    half, _ = train_lab(cfg, "uniform:x0.5", 0)
    assert (half.rollouts.iloc[1:] == 16).all()
    truth, _ = train_lab(cfg, "hora:truth", 0)
    assert (truth.rollouts.iloc[1:] == 32).all()
    hot, _ = train_lab(cfg, "uniform:temp2", 0)
    assert hot.loc[0, "pass@1"] == truth.loc[0, "pass@1"]  # the same start, evaluated at the same temperature
    last = hot.iloc[-1]
    assert last["pass@1@T1"] == pytest.approx(last["pass@1"], rel=1e-9) and np.isnan(hot.loc[1, "pass@1@T2"])
    assert last["pass@256_best_temperature"] == max(last["pass@256@T1"], last["pass@256@T2"])


def test_lab_p2_is_uniform_with_twice_the_prompts():
    """The lab's uniform:p2 is the same run as uniform with n_prompts doubled (one loop for both models: the
    same batch draws, the GRPO step's 1/N over the step's completions), to float32 reordering of the batch."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from simalloc.lab import LabConfig, train_lab

    cfg = LabConfig(n_pool=600, steps=2, n_prompts=8, group_size=4, k0=2, phase_b_shards=2, n_eval=30,
                    warm_steps=10, record_every=1, snr_every=1)
    a, _ = train_lab(cfg, "uniform:p2", 0)
    b, _ = train_lab(replace(cfg, n_prompts=16), "uniform", 0)
    assert (a.rollouts.iloc[1:] == 64).all()
    cols = ["rollouts", "pass@1", "pass@256", "grad_snr", "grad_noise_scale"]
    # rtol 1e-5: float32 networks; the two runs order the batch's sums alike only up to reordering
    np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), rtol=1e-5)
    u, _ = train_lab(cfg, "uniform", 0)
    assert (u.rollouts.iloc[1:] == 32).all()


def test_lab_pass_rates_at_several_temperatures_equal_one_at_a_time(lab):
    """One network pass for the grid gives pass_rates at each t (the same float64 softmax; rtol 1e-12), and the
    answer distribution depends on t (a flat grid would pass any recorder)."""
    from simalloc.lab import pass_rates
    from simalloc.lab.policy import pass_rates_at

    task, policy = lab
    prompts = task.eval_set(20, seed=5)
    grid = pass_rates_at(policy, prompts, (0.5, 1.0, 2.0))
    for row, t in zip(grid, (0.5, 1.0, 2.0)):
        np.testing.assert_allclose(row, pass_rates(policy, prompts, t), rtol=1e-12)
    assert not np.allclose(grid[0], grid[2])


def test_cum_rollouts_counts_every_steps_spend():
    """cum_rollouts is the running sum of every step's rollouts (DAPO's variable spend included), 0 at step 0; with
    records every 2 steps it still counts the unrecorded steps (uniform: n_prompts x G per step, by hand)."""
    steps, _ = simulate_training(SMALL, "dapo_dynamic", 4)
    assert steps.cum_rollouts.iloc[0] == 0
    assert steps.cum_rollouts.tolist() == steps.rollouts.cumsum().tolist()
    sparse, _ = simulate_training(dataclasses.replace(SMALL, record_every=2, steps=5), "uniform", 4)
    assert sparse.step.tolist() == [0, 2, 4, 5]
    assert sparse.cum_rollouts.tolist() == [0, 2 * 160, 4 * 160, 5 * 160]  # 20 prompts x G = 8


# ---- GRESO's and SPEED-RL's refills, as published -------------------------------------------------------------------
def test_greso_refill_sizes_each_batch_as_its_trainer_and_counts_every_rollout():
    """n = 8 groups, G = 4, first batch b0 = 1.5 x 8 = 12, floor b_min = 0.25 x 8 = 2. Scripted successes: the first
    ``k`` prompts of each batch have spread (s = 2), the rest s = 0.
    (a) k = 4 per batch: batch 1 keeps 4, zero share z = 8/12, e = int(4 / (1/3) x 1.25) = 15 > 12, so batch 2 has
        min(15, 12) = 12 prompts and is not the last; it keeps 4 more: 8 groups, 24 prompts x 4 = 96 rollouts spent
        (uniform: 32).
    (b) k = 6 then 1: z = 1/2, e = int(2 / 0.5 x 1.25) = 5 <= 12: batch 2 has 5 prompts and is the last; it keeps 1:
        the step trains 7 groups (fewer than 8) and spent (12 + 5) x 4 = 68.
    Mutations: a fixed batch (DAPO's) gives sizes [12, 12] in (b); no last-batch rule draws a third batch in (b)."""
    from simalloc.train.peers import greso_refill

    def scripted(ks):
        sizes, nxt, ks = [], iter(range(10_000)), iter(ks)

        def candidates(size):
            sizes.append(size)
            return np.array([next(nxt) for _ in range(size)], dtype=np.int64)

        def roll(idx, n):
            k = next(ks)
            return np.where(np.arange(idx.size) < k, 2, 0)

        return candidates, roll, sizes

    cand, roll, sizes = scripted([4, 4, 4])
    g, rolled = greso_refill(cand, roll, 8, 4)
    assert sizes == [12, 12] and g.spent == 96 and g.idx.tolist() == [0, 1, 2, 3, 12, 13, 14, 15]
    assert rolled[0].size == 24 and g.kept_pos.tolist() == [2] * 8
    cand, roll, sizes = scripted([6, 1, 5])
    g, _ = greso_refill(cand, roll, 8, 4)
    assert sizes == [12, 5] and g.spent == 68 and g.idx.size == 7


def test_speed_rl_refills_past_uniforms_budget_screens_first_and_stops_at_its_cap():
    """n = 4 prompts, G = 16 (screen 4, extend 12), a generation call screens 4 new candidates; half the screens
    qualify (s = 2 of 4), an extension draws s = 6 of 12. Call 1 screens 4 (2 qualify); call 2 extends those 2 and
    screens 4 more (2 qualify); call 3 extends those 2 and screens none (the waiting ones fill the batch): 4 full
    groups of 16 with 8 successes, spent 16 + (24 + 16) + 24 = 80 > uniform's 64. With the cap at 2 calls the step
    trains the 2 groups it completed, having spent 56."""
    for cap, want_groups, want_spent in ((50, 4, 80), (2, 2, 56)):
        drawer = PeerDrawer("speed_rl_dynamic", 100, 4, 16,
                            parse_peer_options(f"speed_rl.max_num_gen_batches={cap}"), _rngs(0))
        calls = []

        def roll(idx, n):
            calls.append(n.tolist())
            screens = np.cumsum(n == 4)
            return np.where(n == 4, np.where(screens % 2 == 1, 2, 0), 6)

        g = drawer.draw(roll)
        assert g.idx.size == want_groups and g.spent == want_spent == sum(map(sum, calls))
        assert g.kept_pos.tolist() == [8] * want_groups and (g.kept_pos + g.kept_neg).tolist() == [16] * want_groups
    assert calls == [[4] * 4, [12, 12, 4, 4, 4, 4]]


def test_refilling_peers_spend_more_than_uniform_in_the_simulator():
    """On a U-shaped world many groups lack spread: SPEED-RL and GRESO refill past uniform's n_prompts x G = 160 in
    some step, each trains at most n_prompts groups, and cum_rollouts adds up every step's spend."""
    for arm in ("speed_rl_dynamic", "greso"):
        steps, _ = simulate_training(SMALL, arm, 3)
        trained = steps[steps.step > 0]
        assert trained.rollouts.max() > SMALL.n_prompts * SMALL.group_size, arm
        assert trained.cum_rollouts.iloc[-1] - steps.cum_rollouts.iloc[0] == trained.rollouts.sum(), arm


def test_refill_options_are_checked():
    with pytest.raises(ValueError, match="speed_rl.max_num_gen_batches"):
        PeerDrawer("speed_rl_dynamic", 100, 10, 8, parse_peer_options("speed_rl.max_num_gen_batches=-2"), _rngs(0))
    with pytest.raises(ValueError, match="speed_rl.gen_batch_ratio"):
        PeerDrawer("speed_rl_dynamic", 100, 10, 8, parse_peer_options("speed_rl.gen_batch_ratio=0"), _rngs(0))
    with pytest.raises(ValueError, match="greso.sampling_ratio"):
        PeerDrawer("greso", 100, 10, 8, parse_peer_options("greso.min_sampling_fraction=2"), _rngs(0))
