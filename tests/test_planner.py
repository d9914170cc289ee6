"""``simalloc.Planner``: state round trip, resume equals an uninterrupted run, history priors, the rounds protocol,
selectors, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import simalloc
from simalloc import Planner
from simalloc.planner import make_rounds


def _run(planner: Planner, steps: range, rng: np.random.Generator, p_true: np.ndarray, log: list) -> None:
    """A training run's use of the planner: select 16 of 40 candidates, a pilot of 4, allocate 48 extra with the
    history prior, observe the totals, close the step."""
    for _ in steps:
        cand = rng.choice(p_true.size, 40, replace=False)
        ids = planner.select(cand, 16, rng)
        pilot = rng.binomial(4, p_true[ids])
        extra = planner.allocate(ids, pilot, 4, 48, history_prior=True, rng=rng)
        total = pilot + rng.binomial(extra, p_true[ids])
        planner.observe(ids, total, 4 + extra)
        planner.end_step()
        log.append((ids.tolist(), extra.tolist()))


@pytest.mark.parametrize("selector", ["uniform", "greso", "mopps"])
def test_resume_at_25_equals_50_uninterrupted(selector):
    p_true = np.random.default_rng(0).beta(0.5, 0.5, 200)
    full, resumed = [], []
    rng = np.random.default_rng(1)
    _run(Planner(selector, decay=0.7), range(50), rng, p_true, full)
    rng = np.random.default_rng(1)
    first = Planner(selector, decay=0.7)
    _run(first, range(25), rng, p_true, resumed)
    saved = json.dumps(first.state_dict())  # a checkpoint on disk: JSON
    rng_state = rng.bit_generator.state
    second = Planner()  # a fresh process: default settings, replaced by the checkpoint's
    second.load_state_dict(json.loads(saved))
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    _run(second, range(25, 50), rng, p_true, resumed)
    assert resumed == full
    # mutation: resuming without the history changes the decisions
    rng = np.random.default_rng(1)
    lost = []
    _run(Planner(selector, decay=0.7), range(25), rng, p_true, lost)
    _run(Planner(selector, decay=0.7), range(25, 50), rng, p_true, lost)
    assert lost != full


def test_state_round_trip_gives_the_same_decisions():
    planner = Planner("mopps", decay=0.5)
    planner.observe([1, 2, 3], [0, 4, 2], [4, 4, 4])
    planner.end_step()
    copy = Planner()
    copy.load_state_dict(planner.state_dict())
    assert copy.state_dict() == planner.state_dict()
    a = planner.select(np.arange(10), 3, np.random.default_rng(5))
    b = copy.select(np.arange(10), 3, np.random.default_rng(5))
    assert a.tolist() == b.tolist()
    with pytest.raises(ValueError, match="state"):
        copy.load_state_dict({"version": 99})


def test_history_prior_is_the_decayed_posterior():
    planner = Planner(decay=0.5, prior=(1.0, 1.0))
    planner.observe(["a", "b"], [3, 0], [4, 4])
    planner.end_step()
    planner.observe(["a"], [1], [4])
    # a: (0.5 * 1 + 0.5 + 3) = 4 -> 0.5 * 4 + 0.5 + 1 = 3.5; beta: (0.5 + 0.5 + 1) = 2 -> 1 + 0.5 + 3 = 4.5;
    # b is decayed only when observed (MoPPS's train() updates the trained prompts): 1.0 and 0.5 + 0.5 + 4 = 5
    a, b = planner.posterior(["a", "b", "new"])
    assert a.tolist() == [3.5, 1.0, 1.0] and b.tolist() == [4.5, 5.0, 1.0]
    pilot = np.array([1, 0, 2])
    got = planner.allocate(["a", "b", "new"], pilot, 4, 20, history_prior=True, rng=0)
    want = simalloc.allocate("hora", pilot, 4, 20, prior=(a, b), rng=0)
    assert got.tolist() == want.tolist()
    assert planner.allocate(["a", "b", "new"], pilot, 4, 20, rng=0).tolist() == \
        simalloc.allocate("hora", pilot, 4, 20, rng=0).tolist()
    h = planner.history(["a", "b", "new"])
    assert h["last_seen"].tolist() == [1, 0, -1] and h["seen"].tolist() == [2, 1, 0]


def test_greso_selector_skips_by_history():
    planner = Planner("greso", p_easy=0.5, p_hard=0.5, adapt=False)
    for _ in range(3):  # prompt 0 all correct three times, prompt 1 all wrong twice then mixed, prompt 2 never seen
        planner.observe([0, 1], [4, 0], [4, 4])
        planner.end_step()
    planner.observe([1], [2], [4])
    p = planner.skip_probability([0, 1, 2])
    assert p.tolist() == pytest.approx([1 - 0.5 ** 3, 0.0, 0.0])
    picks = [planner.select([0, 1, 2], 3, np.random.default_rng(s)).tolist() for s in range(400)]
    kept0 = np.mean([0 in x for x in picks])
    assert abs(kept0 - 0.125) < 3 * np.sqrt(0.125 * 0.875 / 400)  # kept with probability 0.5^3
    assert all(1 in x and 2 in x for x in picks)


def test_greso_adapts_toward_its_targets():
    planner = Planner("greso")
    for step in range(3):
        planner.observe(list(range(10)), [4] * 10, [4] * 10)  # every group all correct: the easy ratio is 1
        planner.end_step()
    # adapted after steps 1 and 2 (not after the first): 0.5 - 2 x 0.01; the hard ratio 0 < target: 0.5 + 0.02
    assert planner.p_easy == pytest.approx(0.48) and planner.p_hard == pytest.approx(0.52)


def test_mopps_selector_prefers_prompts_near_half():
    planner = Planner("mopps", decay=1.0)
    planner.observe([0, 1, 2], [200, 0, 100], [200, 200, 200])  # posteriors near 1, 0 and 0.5
    picks = planner.select([0, 1, 2], 1, np.random.default_rng(0))
    assert picks.tolist() == [2]


def test_rounds_protocol_and_budget():
    rounds = make_rounds("reinforce_ada", [10, 11, 12], budget=20, round_repeat=8)
    ids, n = rounds.next_round()
    assert ids.tolist() == [10, 11] and n.tolist() == [8, 8]  # 24 does not fit in 20: the first two only
    with pytest.raises(RuntimeError, match="report"):
        rounds.next_round()
    with pytest.raises(ValueError, match="ids"):
        rounds.report([11, 10], [1, 1], [8, 8])
    with pytest.raises(ValueError, match="trials"):
        rounds.report(ids, [1, 1], [8, 7])
    with pytest.raises(ValueError, match="successes"):
        rounds.report(ids, [9, 1], [8, 8])
    rounds.report(ids, [4, 0], [8, 8])
    assert rounds.next_round() is None and rounds.spent == 16  # 4 left: no prompt's round fits
    g = rounds.groups()
    assert g.ids.tolist() == [10, 11] and g.kept_sizes.tolist() == [4, 4] and g.kept_successes.tolist() == [2, 0]


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="selector"):
        Planner("best")
    with pytest.raises(ValueError, match="decay"):
        Planner(decay=1.5)
    with pytest.raises(ValueError, match="prior"):
        Planner(prior=(0.0, 1.0))
    p = Planner()
    with pytest.raises(ValueError, match="n:"):
        p.select([1, 2], 3, 0)
    with pytest.raises(ValueError, match="successes, trials"):
        p.observe([1], [3], [2])
    with pytest.raises(ValueError, match="ids"):
        p.observe([1, 1], [1, 1], [2, 2])
    with pytest.raises(ValueError, match="rule"):
        make_rounds("dapo", [1], 8)
    with pytest.raises(ValueError, match="options"):
        make_rounds("reinforce_ada", [1], 8, rounds=3)
    with pytest.raises(ValueError, match="budget"):
        make_rounds("speed_rl", [1], -1, target=1)
    with pytest.raises(ValueError, match="name"):
        p.allocate([1], [0], 4, 4, allocator="nope")


def test_greso_selection_covers_a_pool_passed_in_order():
    """Issue 38: 500 ids in dataset order, 64 selected per step, every group mixed (so GRESO skips nothing): the
    selection is then a uniformly random 64-subset each step, so P(a given id is missed for N steps) =
    (1 - 64/500)^N and, by the union bound (the coupon collector's tail), P(some id never chosen) <=
    500 (1 - 64/500)^N = 6e-7 at N = 150. Reading the ids in order (the old behaviour; mutation tried by hand)
    chooses only q0..q63 whatever N."""
    planner = Planner("greso", adapt=False)
    ids = np.array([f"q{i}" for i in range(500)])
    rng = np.random.default_rng(7)
    chosen = set()
    for _ in range(150):
        pick = planner.select(ids, 64, rng)
        assert pick.size == 64 and len(set(pick.tolist())) == 64
        chosen.update(pick.tolist())
        planner.observe(pick, np.ones(pick.size, dtype=int), np.full(pick.size, 2))  # s = 1 of 2: no skip run
        planner.end_step()
    assert chosen == set(ids.tolist())
