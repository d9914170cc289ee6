"""advise on a multi-step log: what a prior from each prompt's history would have changed, with controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simalloc.advise import advise
from simalloc.advise.history import history_table


def _log(drift: float, repeat: bool = True, steps: int = 12, seed: int = 0, redraw: bool = False) -> pd.DataFrame:
    """40 of 100 prompts per step, 8 rollouts each; with ``drift`` half the prompts' pass rates rise by ``drift``
    per step (the policy moves); with ``redraw`` every prompt's pass rate is drawn afresh each step (a prompt's
    past says nothing about it); without ``repeat`` every step has new prompts."""
    rng = np.random.default_rng(seed)
    n = 100 if repeat else 40 * steps
    p = rng.beta(0.6, 1.4, n)
    moving = rng.random(n) < 0.5
    rows = []
    for step in range(steps):
        ids = rng.choice(100, 40, replace=False) if repeat else np.arange(40 * step, 40 * step + 40)
        q = rng.beta(0.6, 1.4, n) if redraw else np.clip(p + drift * step * moving, 0, 1)
        for i in ids:
            rows += [(f"q{i}", float(r), step) for r in rng.random(8) < q[i]]
    return pd.DataFrame(rows, columns=["prompt_id", "reward", "step"])


def _read(frame):
    from simalloc.logs import ReadSpec, read_data

    return read_data(frame, ReadSpec.of(None, kind="log", threshold=0.5)).rollouts


def test_history_helps_when_prompts_keep_their_difficulty():
    """Positive control: pass rates fixed across steps -> the history predicts each step better (gain > 2 se)."""
    h = history_table(_read(_log(drift=0.0)), 8.0)
    assert (h.logpred_gain > 2 * h.logpred_gain_se).all() and (h.budget_moved > 0).all()
    assert h.with_history.iloc[0] > 0.5


def test_history_does_not_help_when_the_past_says_nothing():
    """Negative control: every prompt's pass rate drawn afresh each step -> the history is not credited (gain not
    above 2 se; it is negative: a prior concentrated on the wrong value) at either decay."""
    noise = history_table(_read(_log(drift=0.0, redraw=True)), 8.0)
    assert not (noise.logpred_gain > 2 * noise.logpred_gain_se).any()
    assert (noise.logpred_gain < 0).all()


def test_a_moving_policy_erodes_the_history_gain():
    """Half the prompts gaining 0.08 per step: the gain shrinks against the stationary log at every decay."""
    moving = history_table(_read(_log(drift=0.08)), 8.0)
    still = history_table(_read(_log(drift=0.0)), 8.0)
    assert (moving.logpred_gain.to_numpy() < still.logpred_gain.to_numpy()).all()


def test_no_repeats_means_no_history_and_nothing_moved():
    """Mutation-style check: with no prompt seen twice the history prior is the flat prior: nothing changes."""
    h = history_table(_read(_log(drift=0.0, repeat=False)), 8.0)
    assert (h.with_history == 0).all() and (h.budget_moved == 0).all() and h.logpred_gain.isna().all()


def test_no_step_column_no_history():
    frame = _log(0.0).drop(columns="step")
    assert history_table(_read(frame), 8.0) is None


def test_advise_reports_history_for_a_stepped_log(tmp_path):
    adv = advise(_log(0.0), 320, resamples=20, n_sim=1, voting=False, pilot_size=False)
    assert adv.history is not None and set(adv.history.decay) == {1.0, 0.5}
    out = adv.write(tmp_path / "adv")
    text = (out / "report.md").read_text()
    assert "history" in text and (out / "history.csv").is_file()
    assert {"speed_rl", "dars_et", "dars_hw"} <= set(adv.allocators.allocator)


@pytest.mark.parametrize("name", ["speed_rl", "dars_et", "dars_hw"])
def test_peer_allocators_in_advise_spend_the_budget(name):
    import simalloc

    s = np.array([0, 1, 3, 4, 2, 0])
    k = simalloc.allocate(name, s, 4, 30, rng=0)
    assert k.sum() == 30 and (k >= 0).all()
