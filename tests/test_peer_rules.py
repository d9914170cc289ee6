"""Peer methods' rules against transcriptions of their public code.

Each reference below is the public code's loop written out in plain Python on sample-level objects (lists of
rewards, dictionaries keyed by prompt), from the file cited; the package's rule works on counts. They are compared
on hand-made cases and on >= 1,000 seeded random inputs, and each comparison carries a mutation of the package's
rule (stated in the test) that must break agreement on the same inputs: the inputs can tell the readings apart.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

import simalloc
from simalloc.planner import (
    Planner,
    ReinforceAdaRounds,
    SpeedRLRounds,
    dars_extra,
    greso_adapt,
    greso_run_lengths,
    greso_skip_probability,
    mopps_select,
    mopps_update,
    pods_select,
    reinforce_ada_finished,
    reinforce_ada_keep,
    speed_rl_qualified,
)

# ------------------------------------------------- Reinforce-Ada (RLHFlow/Reinforce-Ada, ray_trainer.py)


def reinforce_ada_reference(rewards_by_round, n_prompts, keep, choice, max_rounds, positive_threshold=0.7):
    """``_generate_multi_round_adaptive_downsampling`` on given rewards: ``rewards_by_round[r][uid]`` is the list of
    round r's rewards for uid (read only while uid is active). Returns {uid: (kept positives, kept negatives)} and
    the rollouts generated."""
    state = {u: {"finished": False} for u in range(n_prompts)}
    pos_cache, neg_cache = defaultdict(list), defaultdict(list)
    selected = {}
    active = set(range(n_prompts))
    generated = 0

    def downsample_cache(uid, target_total):
        target_pos = min(target_total // 2, len(pos_cache[uid]))
        target_neg = min(target_total - target_pos, len(neg_cache[uid]))
        if target_pos + target_neg < target_total:
            if len(pos_cache[uid]) > target_pos:
                target_pos += min(len(pos_cache[uid]) - target_pos, target_total - (target_pos + target_neg))
            elif len(neg_cache[uid]) > target_neg:
                target_neg += min(len(neg_cache[uid]) - target_neg, target_total - (target_pos + target_neg))
        return len(pos_cache[uid][:target_pos]), len(neg_cache[uid][:target_neg])

    for r in range(max_rounds):
        if not active:
            break
        for uid in sorted(active):
            st = state[uid]
            for rew in rewards_by_round[r][uid]:
                generated += 1
                if st["finished"]:
                    break
                (pos_cache if rew > positive_threshold else neg_cache)[uid].append(rew)
            if not st["finished"]:
                if choice == "balanced":
                    tp, tn = keep // 2, keep - keep // 2
                    if len(pos_cache[uid]) >= tp and len(neg_cache[uid]) >= tn:
                        selected[uid] = downsample_cache(uid, keep)
                        st["finished"] = True
                else:
                    if len(pos_cache[uid]) >= 1:
                        selected[uid] = downsample_cache(uid, keep)
                        st["finished"] = True
        active = {u for u in active if not state[u]["finished"]}
    for uid in range(n_prompts):
        if state[uid]["finished"] or (uid not in pos_cache and uid not in neg_cache):
            continue
        pos_num, neg_num = len(pos_cache[uid]), len(neg_cache[uid])
        n_rows = pos_num + neg_num
        take = min(keep, n_rows)
        target_pos, target_neg = keep // 2, keep - keep // 2  # the loop's last targets ("balanced")
        if choice == "positive_focused":
            ratio = pos_num / n_rows if n_rows > 0 else 0.0
            target_pos = max(min(math.ceil(ratio * keep), take - 1), 1)
            target_neg = take - target_pos
        actual_pos, actual_neg = min(pos_num, target_pos), min(neg_num, target_neg)
        if actual_pos + actual_neg < take:
            if pos_num > actual_pos:
                actual_pos += min(pos_num - actual_pos, take - actual_pos - actual_neg)
            elif neg_num > actual_neg:
                actual_neg += min(neg_num - actual_neg, take - actual_pos - actual_neg)
        selected[uid] = (actual_pos, actual_neg)
    return selected, generated


def run_reinforce_ada(rewards_by_round, n_prompts, keep, choice, max_rounds, round_repeat, finished_rule=None):
    rounds = ReinforceAdaRounds(np.arange(n_prompts), 10**9, round_repeat, max_rounds, keep, choice)
    r = 0
    while (req := rounds.next_round()) is not None:
        ids, n = req
        s = [sum(x > 0.7 for x in rewards_by_round[r][u]) for u in ids]
        if finished_rule is not None:  # a mutated retirement rule
            rounds.report(ids, s, n)
            for row in ids:
                rounds.finished[row] = finished_rule(int(rounds.pos[row]), int(rounds.neg[row]), keep)
        else:
            rounds.report(ids, s, n)
        r += 1
    g = rounds.groups()
    return {int(u): (int(kp), int(ks - kp)) for u, kp, ks in zip(g.ids, g.kept_successes, g.kept_sizes)}, g.spent


def _ada_cases(rng, n_cases):
    for _ in range(n_cases):
        n_prompts = int(rng.integers(1, 6))
        max_rounds, round_repeat = int(rng.integers(1, 5)), int(rng.integers(1, 9))
        keep = int(rng.integers(1, 9))
        p = rng.random(n_prompts) ** rng.choice([0.3, 1.0, 3.0])
        rewards = [[list((rng.random(round_repeat) < p[u]).astype(float)) for u in range(n_prompts)]
                   for _ in range(max_rounds)]
        yield rewards, n_prompts, keep, max_rounds, round_repeat


@pytest.mark.parametrize("choice", ["balanced", "positive_focused"])
def test_reinforce_ada_matches_its_code(choice):
    rng = np.random.default_rng(1)
    for rewards, n_prompts, keep, max_rounds, round_repeat in _ada_cases(rng, 1500):
        want, generated = reinforce_ada_reference(rewards, n_prompts, keep, choice, max_rounds)
        got, spent = run_reinforce_ada(rewards, n_prompts, keep, choice, max_rounds, round_repeat)
        assert got == want and spent == generated


def test_reinforce_ada_hand_cases():
    # keep 4, balanced: 3 positives and 5 negatives in round 1 -> retired, 2 + 2 kept
    assert reinforce_ada_finished(3, 5, 4) and reinforce_ada_keep(3, 5, 4) == (2, 2)
    assert not reinforce_ada_finished(1, 7, 4)  # one positive is short of keep // 2 = 2
    assert reinforce_ada_finished(1, 7, 4, "positive_focused")
    assert reinforce_ada_keep(1, 7, 4, "positive_focused") == (1, 3)
    # fallback after the last round: 0 positives of 32 -> 4 negatives kept; 1 of 32 (balanced) -> 1 + 3
    assert reinforce_ada_keep(0, 32, 4, finished=False) == (0, 4)
    assert reinforce_ada_keep(1, 31, 4, finished=False) == (1, 3)
    # positive_focused fallback: 0 positives -> target_pos forced to 1 but none exist: filled with negatives
    assert reinforce_ada_keep(0, 8, 4, "positive_focused", finished=False) == (0, 4)
    with pytest.raises(ValueError, match="choice"):
        reinforce_ada_keep(1, 1, 4, "greedy")


def test_reinforce_ada_mutation_is_caught():
    """Mutation: retire at >= keep // 2 positives only (the negatives' condition dropped)."""
    rng = np.random.default_rng(2)
    differ = 0
    for rewards, n_prompts, keep, max_rounds, round_repeat in _ada_cases(rng, 300):
        want, _ = reinforce_ada_reference(rewards, n_prompts, keep, "balanced", max_rounds)
        got, _ = run_reinforce_ada(rewards, n_prompts, keep, "balanced", max_rounds, round_repeat,
                                   finished_rule=lambda pos, neg, k: pos >= k // 2)
        differ += got != want
    assert differ > 10


# ------------------------------------------------- SPEED-RL (Zanette-Labs/speed-rl, data_controller.py)


def speed_rl_reference(rewards, target, screen, extend):
    """The DataController's two phases on given rewards (``rewards[uid]``: that prompt's rewards in draw order):
    screen every candidate (``initial_n``); std > 0 qualifies; qualified prompts get ``n_continue`` more and train on
    all of them; the first ``target`` prompts to complete are taken (``get_training_data``)."""
    trained = []
    for uid, rew in enumerate(rewards):
        first = rew[:screen]
        if np.std(first) > 0:
            trained.append((uid, sum(rew[:screen + extend])))
        if len(trained) == target:
            break
    return trained


def _speed_rl_mismatches(n_cases: int) -> int:
    rng = np.random.default_rng(3)
    bad = 0
    for _ in range(n_cases):
        n_cand, screen, extend = int(rng.integers(1, 30)), int(rng.integers(1, 6)), int(rng.integers(1, 13))
        target = int(rng.integers(1, n_cand + 1))
        p = rng.random(n_cand)
        rewards = [list((rng.random(screen + extend) < q).astype(float)) for q in p]
        want = speed_rl_reference(rewards, target, screen, extend)
        rounds = SpeedRLRounds(np.arange(n_cand), 10**9, target, screen, extend, chunk=int(rng.integers(1, 8)))
        drawn = defaultdict(int)
        while (req := rounds.next_round()) is not None:
            ids, n = req
            s = []
            for u, k in zip(ids, n):
                s.append(int(sum(rewards[u][drawn[u]:drawn[u] + k])))
                drawn[u] += k
            rounds.report(ids, s, n)
        g = rounds.groups()
        got = sorted(zip(g.ids.tolist(), g.kept_successes.tolist()))
        assert all(k == screen + extend for k in g.kept_sizes)
        bad += got != sorted(want)
    return bad


def test_speed_rl_matches_its_code():
    assert _speed_rl_mismatches(1000) == 0


def test_speed_rl_mutation_is_caught(monkeypatch):
    """Mutation: qualify by successes > 0 (all-correct screens kept): the comparison must break."""
    import simalloc.planner.rounds as rounds_mod

    s = np.array([0, 1, 4, 2, 4])
    assert speed_rl_qualified(s, 4).tolist() == [False, True, False, True, False]
    monkeypatch.setattr(rounds_mod, "speed_rl_qualified", lambda s, t: np.asarray(s) > 0)
    assert _speed_rl_mismatches(300) > 10
    with pytest.raises(ValueError, match="successes"):
        speed_rl_qualified([5], [4])


def test_speed_rl_budget_counts_screens():
    """Screens of unqualified prompts are spent: 10 all-wrong candidates then a mixed one, budget 30 = 7 screens of
    4 + 2 spare: the rule stops before the mixed prompt, having spent 28 on nothing trainable."""
    rounds = SpeedRLRounds(np.arange(11), 30, target=1, screen=4, extend=12, chunk=11)
    ids, n = rounds.next_round()
    assert ids.tolist() == list(range(7)) and n.tolist() == [4] * 7
    rounds.report(ids, np.zeros(7, dtype=int), n)
    assert rounds.next_round() is None and rounds.spent == 28 and rounds.groups().ids.size == 0


# ------------------------------------------------- DARS (yangzhch6/DARS, ray_dars_trainer.py)


def schedule_et(acc, N, N_max, std=False):  # verbatim from the public file
    if acc <= 1e-6:
        acc = 0.5 / N
    if acc >= 0.5:
        return 0
    if std:
        S_acc = 2 * math.sqrt(acc * (1 - acc))
        A_g_peak = N
    else:
        S_acc = 2 * acc * (1 - acc)
        A_g_peak = 0.5 * N
    A_g_current = N * S_acc
    delt_N = A_g_peak - A_g_current
    delt_N /= S_acc
    return min(math.ceil(delt_N), N_max - N)


def schedule_hw(acc, N, N_max, std=False):  # verbatim from the public file
    if acc <= 1e-6:
        acc = 0.5 / N
    if acc >= 0.5:
        return 0
    if std:
        S_acc = 2 * math.sqrt(acc * (1 - acc))
        A_g_peak = N
    else:
        S_acc = 2 * acc * (1 - acc)
        A_g_peak = 0.5 * N
    A_g_current = N * S_acc
    delt_N = 2 * (1 - acc) * A_g_peak - A_g_current
    delt_N /= S_acc
    return min(math.ceil(delt_N), N_max - N)


def _dars_mismatches(schedule, ref, rule=dars_extra, n_cases=2000) -> int:
    rng = np.random.default_rng(4)
    bad = 0
    for _ in range(n_cases):
        n = int(rng.integers(1, 33))
        n_max = n + int(rng.integers(0, 64))
        acc = int(rng.integers(0, n + 1)) / n
        std = bool(rng.integers(0, 2))
        bad += int(rule(acc, n, n_max, schedule, std)[0]) != ref(acc, n, n_max, std)
    return bad


@pytest.mark.parametrize("schedule,ref", [("et", schedule_et), ("hw", schedule_hw)])
def test_dars_matches_its_code(schedule, ref):
    assert _dars_mismatches(schedule, ref) == 0


@pytest.mark.parametrize("schedule,ref", [("et", schedule_et), ("hw", schedule_hw)])
def test_dars_mutation_is_caught(schedule, ref, monkeypatch):
    """Mutation: the schedule rounded down (math.floor for math.ceil inside the rule): the comparison breaks."""
    import simalloc.planner.rules as rules

    floor_math = type("M", (), {"ceil": staticmethod(math.floor), "sqrt": staticmethod(math.sqrt)})
    monkeypatch.setattr(rules, "math", floor_math)
    assert _dars_mismatches(schedule, ref, rules.dars_extra, 500) > 20
    monkeypatch.undo()
    got = dars_extra(np.arange(0, 9) / 8, 8, 32, "et")
    assert got.tolist()[:2] == [24, 11]  # acc 0 -> 0.5/8; acc 1/8: (4 - 1.75) / 0.21875 = 10.29 -> 11
    assert got[4:].tolist() == [0] * 5  # acc >= 0.5 (acc = 1 included) gets nothing


def test_dars_allocator_reading():
    """When the schedule fits the budget it is paid in full and the rest spread evenly; when it exceeds the budget
    the shares are proportional (largest remainder)."""
    s, k0 = np.array([0, 1, 4, 8]), 8
    want = dars_extra(s / k0, k0, 32, "et")  # [24, 11, 0, 0]
    k = simalloc.allocate("dars_et", s, k0, 39)
    assert k.tolist() == [25, 12, 1, 1]
    k = simalloc.allocate("dars_et", s, k0, 7)
    assert k.sum() == 7 and k[2:].sum() == 0 and k[0] > k[1] and k.tolist() == [5, 2, 0, 0]
    assert want.tolist() == [24, 11, 0, 0]
    with pytest.raises(ValueError, match="n_max"):
        simalloc.allocate("dars_et", s, k0, 7, options={"n_max": 0})


def test_speed_rl_allocator_reading():
    s = np.array([0, 2, 4, 1])
    assert simalloc.allocate("speed_rl", s, 4, 24).tolist() == [0, 12, 0, 12]
    k = simalloc.allocate("speed_rl", s, 4, 30, rng=0)
    assert k[[1, 3]].tolist() == [15, 15] and k.sum() == 30
    with pytest.raises(ValueError, match="extend"):
        simalloc.allocate("speed_rl", s, 4, 8, options={"extend": 0})


# ------------------------------------------------- GRESO (Infini-AI-Lab/GRESO, presampling_selector.py)


def easy_probabilistic_skip_p(trace, p):  # the skip probability of the public function (its coin left out)
    count = 0
    for i in range(len(trace) - 1, -1, -1):
        if trace[i] < 0.98:
            break
        count += 1
    return 1 - max(p ** count, 0.01)


def hard_probabilistic_skip_p(trace, p):
    if len(trace) == 0 or trace[-1] > 0.11:
        return 0.0
    count = 0
    for i in range(len(trace) - 1, -1, -1):
        if trace[i] > 0.11:
            break
        count += 1
    return 1 - max(p ** count, 0.01)


def _greso_mismatches(runs=greso_run_lengths, skip=greso_skip_probability, n_cases=2000) -> int:
    rng = np.random.default_rng(5)
    bad = 0
    for _ in range(n_cases):
        trace = list(rng.choice([0.0, 0.1, 0.05, 0.5, 0.99, 1.0], size=int(rng.integers(0, 8))))
        pe, ph = rng.random(), rng.random()
        easy, hard = runs(trace)
        e, h = skip(easy, hard, pe, ph)
        want_e = easy_probabilistic_skip_p(trace, pe) if trace and easy else 0.0
        # the same float64 operations on both sides: only rounding of a few ulps can differ
        bad += abs(e - want_e) > 1e-12 or abs(h - hard_probabilistic_skip_p(trace, ph)) > 1e-12
    return bad


def test_greso_matches_its_code():
    assert _greso_mismatches() == 0


def test_greso_mutation_is_caught():
    """Mutations: the skip probability without the 0.01 floor, and a hard run counted over the whole trace."""

    def no_floor(e, h, pe, ph):
        return (1 - pe ** e if e else 0.0), (1 - ph ** h if h else 0.0)

    def whole_trace(trace):
        easy, _ = greso_run_lengths(trace)
        return easy, sum(r <= 0.11 for r in trace) if trace and trace[-1] <= 0.11 else 0

    assert _greso_mismatches(skip=no_floor, n_cases=500) > 5
    assert _greso_mismatches(runs=whole_trace, n_cases=500) > 5


def test_greso_planner_runs_equal_the_trace_rule():
    """The planner's incremental runs (binary rewards: all correct / all wrong) equal ``greso_run_lengths`` on the
    trace of mean rewards; mutation: a run that does not reset on a mixed group would differ."""
    rng = np.random.default_rng(6)
    planner, trace = Planner("greso"), []
    for _ in range(60):
        s = int(rng.choice([0, 0, 8, 8, 3]))
        planner.observe([7], [s], [8])
        planner.end_step()
        trace.append(s / 8)
        h = planner.history([7])
        assert (int(h["easy_run"][0]), int(h["hard_run"][0])) == greso_run_lengths(trace)
    assert greso_run_lengths([1.0, 0.5, 1.0]) == (1, 0)  # a mixed group resets the run (mutation: (2, 0))


def test_greso_adapt_matches_its_code():
    # hard ratio >= target -> p_hard - 0.01 (at least 0.05); else + 0.01 (at most 0.95)
    assert greso_adapt(0.5, 0.3, 0.25 * 2 / 3) == pytest.approx(0.49)
    assert greso_adapt(0.05, 0.9, 0.1) == 0.05 and greso_adapt(0.95, 0.0, 0.1) == 0.95
    assert greso_adapt(0.5, 0.0, 0.1) == pytest.approx(0.51)


# ------------------------------------------------- MoPPS (thu-rllab/MoPPS, recipe/ours/mopps.py)


def _mopps_mismatches(update=mopps_update, n_cases=1000) -> int:
    rng = np.random.default_rng(7)
    bad = 0
    for _ in range(n_cases):
        a0, b0, lam, n = rng.random() * 3 + 0.1, rng.random() * 3 + 0.1, rng.random(), int(rng.integers(2, 17))
        alpha, beta, y = rng.random() * 10 + 0.1, rng.random() * 10 + 0.1, int(rng.integers(0, n + 1)) / n
        # PosteriorSampler.train with y the mean reward: alpha*decay + prior*(1-decay) + s*n
        want_a = alpha * lam + a0 * (1 - lam) + y * n
        want_b = beta * lam + b0 * (1 - lam) + (1 - y) * n
        a, b = update(alpha, beta, round(y * n), n, lam, (a0, b0))
        # three float64 terms summed in another order: a few ulps (1e-16 relative) apart at most
        bad += not (np.isclose(float(a), want_a, rtol=1e-12) and np.isclose(float(b), want_b, rtol=1e-12))
    return bad


def test_mopps_matches_its_code():
    assert _mopps_mismatches() == 0
    # sample_batch("topk"): the same Beta draws from the same generator, nearest to the target first
    rng = np.random.default_rng(7)
    a, b = rng.random(50) * 5 + 0.5, rng.random(50) * 5 + 0.5
    r = np.random.default_rng(8).beta(a, b)
    want = np.argsort((r - 0.5) ** 2)[:10]
    pick, draws = mopps_select(a, b, 10, np.random.default_rng(8))
    assert pick.tolist() == want.tolist() and np.allclose(draws, r[want])


def test_mopps_mutation_is_caught():
    """Mutation: no decay toward the prior (alpha + s, beta + n - s): the comparison breaks whenever decay < 1."""
    assert _mopps_mismatches(lambda a, b, s, n, lam, prior: (a + s, b + n - s), 300) > 250


# ------------------------------------------------- PODS (arXiv 2504.13818, max-variance down-sampling)


def _pods_mismatches(select=pods_select, n_cases=300) -> int:
    from itertools import combinations

    rng = np.random.default_rng(9)
    bad = 0
    for _ in range(n_cases):
        n = int(rng.integers(1, 9))
        r = rng.choice([0.0, 1.0, 0.5, 0.2], size=n) if rng.random() < 0.5 else rng.random(n)
        m = int(rng.integers(1, n + 1))
        best = max(np.var(r[list(c)]) for c in combinations(range(n), m))
        got = select(r, m)
        assert got.size == m and len(set(got.tolist())) == m
        bad += abs(np.var(r[got]) - best) > 1e-12  # the same values summed in another order: ulps apart
    return bad


def test_pods_is_the_max_variance_subset():
    """Exhaustive search over every m-subset (n <= 8) gives the same largest variance; mutation: the top-m
    rewards (no bottom part) must fail the same search."""
    assert _pods_mismatches() == 0
    assert _pods_mismatches(lambda r, m: np.sort(np.argsort(-np.asarray(r), kind="stable")[:m])) > 20
    # binary: 6 of 8 correct, keep 4 -> 2 + 2 (mutation: the top-m rewards would give 4 + 0)
    r = np.array([1, 1, 1, 1, 1, 1, 0, 0.0])
    assert r[pods_select(r, 4)].sum() == 2
    with pytest.raises(ValueError, match="m"):
        pods_select(r, 9)
