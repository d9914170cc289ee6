"""Peer methods as training arms (simalloc.train.peers): budgets, trained groups, the lab, the peer_methods study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simalloc.train import TrainConfig
from simalloc.train.arms import parse_arm
from simalloc.train.loop import simulate_training
from simalloc.train.peers import PEER_ARMS, REFILLING_ARMS, PeerDrawer, parse_peer_options

#: the peers run at uniform's budget per step (the refilling ones are tested in test_dynamic_sampling.py)
MATCHED = tuple(r for r in PEER_ARMS if r not in REFILLING_ARMS)

CFG = TrainConfig(steps=6, n_pool=300, n_eval=60, n_prompts=20, group_size=16, k0=4, phase_b_shards=2,
                  record_every=1, snr_every=0)


def _drawer(rule, n_prompts=20, group=16, text=""):
    rngs = {"batch": np.random.default_rng(1), "alloc": np.random.default_rng(2)}
    return PeerDrawer(rule, 300, n_prompts, group, parse_peer_options(text), rngs)


def _roll(p):
    rng = np.random.default_rng(3)
    calls = []

    def roll(idx, n):
        calls.append((idx.copy(), n.copy()))
        return rng.binomial(n, p[idx])

    return roll, calls


@pytest.mark.parametrize("rule", PEER_ARMS)
def test_every_peer_step_stays_within_the_budget_and_counts_what_it_drew(rule):
    p = np.random.default_rng(0).beta(0.5, 0.5, 300)
    drawer = _drawer(rule)
    for _ in range(5):
        roll, calls = _roll(p)
        g = drawer.draw(roll)
        drawn = sum(int(n.sum()) for _, n in calls)
        assert g.spent == drawn  # screening and discarded rollouts counted
        assert rule in REFILLING_ARMS or drawn <= 20 * 16
        assert np.all(g.kept_pos >= 0) and np.all(g.kept_neg >= 0) and np.all(g.kept_pos <= g.drawn_pos)
        assert np.all(g.kept_pos + g.kept_neg <= g.drawn_trials)
        assert len(set(g.idx.tolist())) == g.idx.size <= 20


def test_trained_groups_follow_each_rule():
    p = np.random.default_rng(0).beta(0.5, 0.5, 300)
    roll, _ = _roll(p)
    g = _drawer("reinforce_ada").draw(roll)
    assert set((g.kept_pos + g.kept_neg).tolist()) <= {4}  # keep = 4 (rollout.n of the public script)
    roll, _ = _roll(p)
    g = _drawer("pods").draw(roll)
    assert set((g.kept_pos + g.kept_neg).tolist()) == {8}  # half of G
    mixed = (g.drawn_pos > 0) & (g.drawn_pos < 16)
    assert np.all(np.abs(g.kept_pos[mixed] - 4) <= np.maximum(0, 4 - np.minimum(g.drawn_pos, 16 - g.drawn_pos))[mixed])
    roll, _ = _roll(p)
    g = _drawer("speed_rl_dynamic").draw(roll)
    assert set(g.drawn_trials.tolist()) == {16}  # screened 4, extended by 12
    roll, _ = _roll(p)
    g = _drawer("greso").draw(roll)
    assert np.all((g.kept_pos > 0) & (g.kept_neg > 0))  # dynamic sampling keeps mixed groups only


def test_peer_options_are_read_and_checked():
    assert parse_peer_options("reinforce_ada.keep=8,mopps.decay=1")["reinforce_ada"]["keep"] == 8
    with pytest.raises(ValueError, match="peer_options"):
        parse_peer_options("reinforce_ada.rounds=3")
    with pytest.raises(ValueError, match="peer_options"):
        parse_peer_options("pods.keep_fraction=x")
    with pytest.raises(ValueError, match="peer_options"):
        TrainConfig(peer_options="nonsense").validate()
    with pytest.raises(ValueError, match="speed_rl.screen"):
        _drawer("speed_rl_dynamic", text="speed_rl.screen=16")


def test_peer_arm_specs():
    assert parse_arm("greso:lr0.5").peer and parse_arm("reinforce_ada:x2").rollout_scale == 2
    with pytest.raises(ValueError, match="placebo"):
        parse_arm("mopps:placebo")
    with pytest.raises(ValueError, match="peer arm"):
        parse_arm("pods:gp")
    with pytest.raises(ValueError, match="arm allocator"):
        parse_arm("reinforce_adaa")


@pytest.mark.parametrize("arm", ["reinforce_ada", "speed_rl_dynamic", "greso", "mopps", "pods", "hora:history",
                                 "dars_et", "speed_rl"])
def test_peer_arms_train_in_the_simulator(arm):
    steps, _ = simulate_training(CFG, arm, 0)
    assert arm in REFILLING_ARMS or (steps.rollouts[steps.step > 0] <= 20 * 16).all()
    assert steps["pass@1"].notna().all()
    again, _ = simulate_training(CFG, arm, 0)
    pd.testing.assert_frame_equal(steps, again)  # seeded: the same table


def test_history_prior_changes_hora_only_through_the_history():
    """One step (no history yet): hora:history is hora exactly. A small pool (prompts repeat): the history prior
    changes the run."""
    one = TrainConfig(steps=1, n_pool=300, n_eval=60, n_prompts=20, group_size=16, k0=4, phase_b_shards=2,
                      record_every=1, snr_every=0)
    a, _ = simulate_training(one, "hora", 0)
    b, _ = simulate_training(one, "hora:history", 0)
    pd.testing.assert_frame_equal(a.drop(columns="arm"), b.drop(columns="arm"))
    small_pool = TrainConfig(steps=6, n_pool=25, n_eval=60, n_prompts=20, group_size=16, k0=4, phase_b_shards=2,
                             record_every=1, snr_every=0)
    c, _ = simulate_training(small_pool, "hora", 0)
    d, _ = simulate_training(small_pool, "hora:history", 0)
    assert not np.allclose(c["pass@1"], d["pass@1"])  # prompts repeat: the history prior changes the allocation


def test_peer_arm_runs_in_the_lab():
    from simalloc.lab import LabConfig, train_lab

    cfg = LabConfig(steps=2, n_prompts=6, group_size=8, k0=2, phase_b_shards=2, n_eval=30, warm_steps=5,
                    record_every=1, snr_every=0)
    for arm in ("reinforce_ada", "pods"):
        steps, _ = train_lab(cfg, arm, 0)
        assert (steps.rollouts[steps.step > 0] <= 48).all() and steps.loss.iloc[1:].notna().all()


def test_peer_methods_quick(tmp_path):
    """The study end to end (both models, >= 8 methods with frontier gains); the summary contract holds. The quick
    preset with shorter runs (20 simulator steps, 3 lab steps: the assertions are about the tables' contract, not
    about what training reached) in this process (the worker pool is tested in test_runner.py and test_lab.py)."""
    from simalloc.sim.runner import run_study

    out = run_study("peer_methods", quick=True, out=tmp_path / "pm", progress=False,
                    overrides={"steps": "20", "lab_steps": "3"})
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["model", "arm", "metric", "value", "se", "n_reps"]
    rank = pd.read_csv(out / "ranking.csv")
    for model in ("sim", "lab"):
        mine = rank[(rank.model == model) & ~rank.control]
        assert mine["frontier_gain@256"].notna().sum() >= 8
        assert (out / model / "summary.csv").is_file() and (out / model / "frontier.png").is_file()
    for model in ("sim", "lab"):
        spend = rank[rank.model == model].set_index("arm")["rollouts_per_step"]
        assert spend["uniform:x2"] == pytest.approx(2 * spend["uniform"])
        # matched: none spends more, but the refilling arms (DAPO's dynamic sampling, SPEED-RL, GRESO: as published)
        # and Reinforce-Ada as published (32 per prompt: reinforce_ada:x<32/G> where G < 32)
        refill = [a for a in spend.index if a in ("dapo_dynamic", *REFILLING_ARMS) or a.startswith("reinforce_ada:x")]
        assert (spend.drop(index=["uniform:x2", *refill]) <= spend["uniform"] + 1e-9).all()
        assert spend["dapo_dynamic"] >= spend["uniform"]
    own = pd.read_csv(out / "own_terms.csv")
    assert set(own.model) == {"sim", "lab"} and own.value.notna().sum() >= 12
    assert (out / "ranking.png").is_file()


def test_docs_quote_the_committed_ranking():
    """docs/peers.md's tables are the committed ranking.csv (each arm's gain, se, Pass@1 and spend as printed)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "peers.md").read_text()
    rank = pd.read_csv(root / "docs" / "peers" / "ranking.csv")
    assert len(rank) >= 2 * 13
    for _, x in rank.iterrows():
        name = x.arm + (" (control)" if x.control else "")
        row = (f"| {name} | {x['frontier_gain@256']:+.4f} +- {x['frontier_gain_se']:.4f} | ")
        assert row in text, row
    readme = (root / "README.md").read_text()
    shown = [x for _, x in rank[(rank.arm != "uniform") & (rank.model == "lab")].iterrows()
             if f"| {x.arm} " in readme]  # the README's lab column quotes them (the held-out rates are left out)
    assert len(shown) >= 12
    for x in shown:
        line = next(li for li in readme.splitlines() if li.startswith(f"| {x.arm} "))
        assert f"{x['frontier_gain@256']:+.4f} +- {x['frontier_gain_se']:.4f}" in line, (x.model, x.arm)
    # the README's simulator columns quote the re-run (docs/peers/sim_reread), checked in test_committed_numbers.py
    credited = rank[rank["credited@256"] == 1]
    assert set(credited[credited.model == "lab"].arm) == {"hora", "hora:history", "dars_hw"}
    assert set(credited[credited.model == "sim"].arm) == {"reinforce_ada_pos"}


def test_docs_quote_the_eight_replicate_lab_run():
    """The 8-replicate lab confirmation quoted in docs/peers.md is docs/peers/lab8/ranking.csv."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "peers.md").read_text()
    rank = pd.read_csv(root / "docs" / "peers" / "lab8" / "ranking.csv").set_index("arm")
    for arm in ("hora", "hora:history", "dars_hw", "reinforce_ada_pos", "hora_placebo"):
        x = rank.loc[arm]
        assert f"{x['frontier_gain@256']:+.4f} +- {x['frontier_gain_se']:.4f}" in text, arm
    assert rank.loc["hora", "credited@256"] == 1 and rank.loc["dars_hw", "credited@256"] == 0
