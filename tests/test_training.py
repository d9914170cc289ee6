"""The training simulator: records, common random numbers, bad configs."""

import numpy as np
import pandas as pd
import pytest

from simalloc.sim.training import TrainConfig, parse_arm, simulate_training

SMALL = TrainConfig(n_pool=300, n_eval=200, n_strategies=50, n_prompts=20, group_size=16, k0=4, steps=8,
                    phase_b_shards=2)


@pytest.mark.parametrize("arm", ["uniform", "hora", "hard_first", "plugin", "informative", "dapo", "vip", "knapsack",
                                 "gvm", "hora:gp", "hora:oracle", "hora:k8"])
def test_every_arm_runs_and_records(arm):
    steps, share = simulate_training(SMALL, arm, np.random.SeedSequence([3, 0]))
    assert list(steps.step) == list(range(SMALL.steps + 1))
    curve = steps[[f"pass@{k}" for k in SMALL.ks]].to_numpy()
    assert np.all((curve >= 0) & (curve <= 1))
    assert np.all(steps.rollouts.iloc[1:] <= SMALL.n_prompts * SMALL.group_size)
    if arm == "dapo":
        assert np.all(steps.informative_share.iloc[1:] == 1.0)  # dynamic sampling keeps only groups with spread
    else:
        assert share.budget_share.sum() == pytest.approx(1.0)
        assert share.prompt_share.sum() == pytest.approx(1.0)


def test_common_random_numbers_and_determinism():
    a, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 1]), rep=1)
    b, _ = simulate_training(SMALL, "hora", np.random.SeedSequence([5, 1]), rep=1)
    c, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 1]), rep=1)
    pd.testing.assert_frame_equal(a, c)
    pd.testing.assert_series_equal(a.iloc[0][4:], b.iloc[0][4:], check_names=False)  # same world at step 0
    d, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence([5, 2]), rep=2)
    assert a.iloc[0]["pass@1"] != d.iloc[0]["pass@1"]


def test_hora_puts_budget_on_s0_prompts_in_training():
    _, share = simulate_training(SMALL, "hora", np.random.SeedSequence([1, 0]))
    s0 = share.set_index("s").loc[0]
    assert s0.budget_share > 1.5 * s0.prompt_share


def test_bernoulli_policy_never_lowers_pass_rates_with_dr_grpo():
    cfg = TrainConfig(policy="bernoulli", n_pool=200, n_eval=200, n_prompts=50, steps=30, phase_b_shards=1)
    steps, _ = simulate_training(cfg, "uniform", np.random.SeedSequence([0, 0]))
    assert np.all(np.diff(steps["pass@1"].to_numpy()) >= 0)  # each prompt's update is a_i >= 0 on its own logit


@pytest.mark.parametrize(
    "change,word",
    [(dict(steps=-1), "steps"), (dict(k0=40), "k0"), (dict(loss="ppo"), "loss"), (dict(world="gamma:1"), "world"),
     (dict(n_prompts=5000), "n_prompts"), (dict(lr=float("nan")), "lr"), (dict(ks=(2, 4)), "ks"),
     (dict(policy="mlp"), "policy")],
)
def test_bad_config_is_refused(change, word):
    import dataclasses

    with pytest.raises(ValueError, match=word):
        dataclasses.replace(SMALL, **change).validate()


@pytest.mark.parametrize("spec,word", [("hroa", "hora"), ("hora:mpnet", "modifier"), ("optimal", "optimal"), ("", "arm")])
def test_bad_arm_is_refused(spec, word):
    with pytest.raises(ValueError, match=word):
        parse_arm(spec)


def test_rng_follows_spec7():
    """An int and SeedSequence(int) give the same run; a Generator is accepted; bad types name ``rng``."""
    a, _ = simulate_training(SMALL, "uniform", 7)
    b, _ = simulate_training(SMALL, "uniform", np.random.SeedSequence(7))
    pd.testing.assert_frame_equal(a, b)
    c, _ = simulate_training(SMALL, "uniform", np.random.default_rng(7))
    assert c.shape == a.shape
    with pytest.raises(TypeError, match="rng: expected"):
        simulate_training(SMALL, "uniform", "7")
    with pytest.raises(ValueError, match="rng: an integer seed must be >= 0"):
        simulate_training(SMALL, "uniform", -1)
