"""Stopping rules: published values, Wald's bound, exact enumeration, and the DP never beaten."""

import itertools
from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simalloc.stopping import (
    BSPRT_READINGS,
    STOPPING_RULES,
    VoteModel,
    esc_expected_votes,
    evaluate_policy,
    make_rule,
    optimal_stopping,
    run_rule,
)
from simalloc.stopping.kernels import beta_confidence
from simalloc.stopping.optimal import lump_tail
from simalloc.stopping.rules import dirichlet_leader_probability, read_votes
from simalloc.worlds.votes import VOTE_PRESETS, VoteWorld

AC_VALUES = [((3, 0), 0.9375), ((4, 0), 0.96875), ((6, 1), 0.96484), ((7, 2), 0.94531)]


@pytest.mark.parametrize("counts,value", AC_VALUES)
def test_adaptive_consistency_values(counts, value):
    assert beta_confidence(*counts) == pytest.approx(value, abs=5e-6)
    assert dirichlet_leader_probability(counts) == pytest.approx(value, abs=5e-6)  # two answers: Dirichlet = Beta


def test_dirichlet_rule_against_monte_carlo_for_three_answers():
    g = np.random.default_rng(0).dirichlet([6, 3, 2], size=400_000)
    mc = np.mean(g[:, 0] > g[:, 1:].max(1))
    assert dirichlet_leader_probability((5, 2, 1)) == pytest.approx(mc, abs=5 * np.sqrt(mc * (1 - mc) / 4e5))


def test_esc_expected_votes_formula_and_simulation():
    assert esc_expected_votes([0.7, 0.2, 0.1], 5, 40) == pytest.approx(22.90, abs=0.005)
    res = run_rule("esc", np.tile([0.7, 0.2, 0.1], (200_000, 1)), rng=3)
    se = res["votes"].std() / np.sqrt(200_000)
    assert abs(res["votes"].mean() - esc_expected_votes([0.7, 0.2, 0.1])) <= 5 * se  # failure rate < 1e-6


def test_bsprt_error_within_walds_bound():
    """Binary votes with known p0 = 0.65: Wald's SPRT accepts the wrong answer with probability <= alpha/(1-beta)."""
    rule = make_rule("bsprt", p_known=0.65, cap=10_000, min_confirm=1, alpha=0.05, beta=0.05)
    res = run_rule(rule, np.tile([0.65, 0.35], (100_000, 1)), rng=5)
    bound = 0.05 / 0.95
    err = 1 - res["correct"].mean()
    assert err <= bound + 5 * np.sqrt(bound * (1 - bound) / 1e5)
    assert res["votes"].max() < 10_000  # it always stopped by the test, never at the cap


def _fixed_n_exact(p, n):
    """P(plurality of n votes is class 0), ties at random, by enumerating multinomial outcomes."""
    k = len(p)
    total = 0.0
    for counts in itertools.product(range(n + 1), repeat=k):
        if sum(counts) != n:
            continue
        prob = factorial(n) * np.prod([p[c] ** counts[c] / factorial(counts[c]) for c in range(k)])
        top = max(counts)
        if counts[0] == top:
            total += prob / sum(c == top for c in counts)
    return total


@pytest.mark.parametrize("p,n", [((0.5, 0.3, 0.2), 7), ((0.4, 0.35, 0.25), 10), ((0.3, 0.4, 0.2, 0.1), 6)])
def test_fixed_n_matches_exact_enumeration(p, n):
    exact = _fixed_n_exact(p, n)
    model = VoteModel.build(np.array([p]), cap=n)
    assert evaluate_policy(model, make_rule("fixed", n=n))["accuracy"] == pytest.approx(exact, abs=1e-12)
    res = run_rule(make_rule("fixed", n=n), np.tile(p, (200_000, 1)), rng=1)
    assert abs(res["correct"].mean() - exact) <= 5 * np.sqrt(exact * (1 - exact) / 2e5)


def test_exact_policy_evaluation_matches_simulation():
    atoms = VOTE_PRESETS["gpqa-like"].sample(30, 2)
    model = VoteModel.build(atoms, cap=40)
    probs = atoms[np.random.default_rng(0).integers(0, 30, 200_000)]
    for name in ("ac_beta", "ac_dirichlet"):
        exact = evaluate_policy(model, name)
        sim = run_rule(name, probs, rng=4)
        assert abs(sim["correct"].mean() - exact["accuracy"]) <= 5 * np.sqrt(0.25 / 2e5)
        assert abs(sim["votes"].mean() - exact["votes"]) <= 5 * sim["votes"].std() / np.sqrt(2e5)


def _count_rules(cap):
    """Every count-based rule, each evaluated through its own numba kernel (state_stop), BSPRT in every p1 reading."""
    rules = [make_rule("fixed", n=n) for n in range(1, cap + 1)]
    rules += [make_rule("ac_beta", cap=cap), make_rule("ac_dirichlet", cap=cap),
              make_rule("bsprt", cap=cap, min_confirm=1, alpha=0.3, beta=0.3)]
    for reading in BSPRT_READINGS.values():
        if reading["min_confirm"] == 1:
            rules.append(make_rule("bsprt", cap=cap, **{**reading, "min_votes": min(reading["min_votes"], cap)}))
    return rules


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 4), m=st.integers(1, 4), cap=st.integers(2, 12), cost=st.floats(0, 0.1),
       seed=st.integers(0, 10_000), per=st.sampled_from(["votes", "tokens"]))
def test_dp_is_never_beaten_by_a_heuristic(k, m, cap, cost, seed, per):
    """The plurality-constrained DP bounds every voting rule; the unconstrained DP bounds the constrained one."""
    atoms = np.random.default_rng(seed).dirichlet(np.ones(k), size=m)
    model = VoteModel.build(atoms, cap=cap, tokens=(500.0, 650.0))
    scale = 1.0 if per == "votes" else 1 / 500.0
    best = optimal_stopping(model, cost * scale, per=per)
    spent = best["votes"] if per == "votes" else best["tokens"]
    assert best["accuracy"] - cost * scale * spent == pytest.approx(best["value"], abs=1e-12)
    assert optimal_stopping(model, cost * scale, per=per, answer="best")["value"] >= best["value"] - 1e-12
    for rule in _count_rules(cap):
        h = evaluate_policy(model, rule)
        h_spent = h["votes"] if per == "votes" else h["tokens"]
        assert h["accuracy"] - cost * scale * h_spent <= best["value"] + 1e-12, rule


def test_path_dependent_rules_by_simulation_stay_below_the_frontier():
    """ESC (window answer: bounded by the unconstrained DP) and BSPRT with 5 confirmations (plurality answer), by
    simulation on the DP's own prior; tolerance 5 Monte Carlo standard errors (failure rate < 1e-6 per rule)."""
    atoms = np.random.default_rng(3).dirichlet(np.ones(3), size=5)
    model = VoteModel.build(atoms, cap=40)
    probs = atoms[np.random.default_rng(4).integers(0, 5, 200_000)]
    for rule, answer in ((make_rule("esc"), "best"), (make_rule("bsprt", cap=40), "plurality")):
        res = run_rule(rule, probs, rng=5)
        for cost in (0.0, 0.002, 0.01):
            score = res["correct"] - cost * res["votes"]
            bound = optimal_stopping(model, cost, answer=answer)["value"]
            assert score.mean() <= bound + 5 * score.std() / np.sqrt(score.size), (rule.name, cost)


def test_unconstrained_dp_can_answer_a_minority_string():
    """Two atoms: the correct answer holds 0.45 or 0.55 while one wrong string holds the rest: after votes
    (3, 2) the posterior can prefer the runner-up; the plurality-constrained reward cannot."""
    atoms = np.array([[0.2, 0.8], [0.9, 0.1]])
    model = VoteModel.build(atoms, weights=[0.9, 0.1], cap=5)
    i = next(j for j, s in enumerate(model.states) if tuple(s) == (3, 2))
    assert model.stop_value[i] > model.leader_value()[i]


def test_token_cost_tables_by_hand():
    """One atom (0.7, 0.3): the next vote is correct with probability 0.7 in every state, so it costs
    0.7 x 500 + 0.3 x 650 = 545 expected tokens; fixed-3 voting spends exactly 3 x 545."""
    model = VoteModel.build([[0.7, 0.3]], cap=3, tokens=(500.0, 650.0))
    np.testing.assert_allclose(model.step_tokens(), 545.0)
    assert evaluate_policy(model, make_rule("fixed", n=3))["tokens"] == pytest.approx(3 * 545.0, abs=1e-9)


def test_lump_tail_keeps_the_correct_answer_and_the_largest_wrong_strings():
    atoms = np.array([[0.5, 0.05, 0.2, 0.1, 0.15]])
    np.testing.assert_allclose(lump_tail(atoms), [[0.5, 0.2, 0.15, 0.15]])
    np.testing.assert_allclose(lump_tail(atoms).sum(1), 1.0)


@pytest.mark.parametrize(
    "params,expected",
    [
        # all votes agree: p0 = 0.6. observed answers = 1 -> p1 = 0.4, ratio 1.5: lead >= log 19 / log 1.5 = 7.26
        ({"p1": "observed", "min_confirm": 1}, 8),
        # fixed answer space 4 -> p1 = 0.4/3, ratio 4.5: lead >= 1.96
        ({"p1": "space", "answer_space": 4, "min_confirm": 1}, 2),
        # p1 = 0.5 p0, ratio 2: lead >= 4.25
        ({"p1": "ratio", "p1_ratio": 0.5, "min_confirm": 1}, 5),
        # the same, confirmed on 5 consecutive votes: the test first holds at vote 5, so it stops at vote 9
        ({"p1": "ratio", "p1_ratio": 0.5, "min_confirm": 5}, 9),
        # OptPO's update threshold: never before 16 votes
        ({"p1": "space", "answer_space": 4, "min_confirm": 1, "min_votes": 16}, 16),
    ],
)
def test_bsprt_readings_by_hand(params, expected):
    assert read_votes(make_rule("bsprt", **params), [0] * 40) == (expected, 0)


def test_bsprt_observed_reading_needs_a_large_share_with_two_answers():
    """With exactly two answers seen, p1 = 1 - p0: stopping needs p0 = 0.6 x share > 0.5, i.e. share > 0.833.
    A 4:1 pattern (share 0.8) never stops under the 'observed' reading; the 'space' reading stops early."""
    seq = ([0, 0, 0, 0, 1] * 8)[:40]
    assert read_votes(make_rule("bsprt", p1="observed", min_confirm=1), seq)[0] == 40
    assert read_votes(make_rule("bsprt", p1="space", answer_space=4, min_confirm=1), seq)[0] < 10


def test_readings_are_named_and_complete():
    assert len(BSPRT_READINGS) == 18
    for name, params in BSPRT_READINGS.items():
        rule = make_rule("bsprt", **params)
        assert f"c{rule.params['min_confirm']}" in name and f"v{rule.params['min_votes']}" in name


@pytest.mark.parametrize("name,params", [("esc", {}), ("bsprt", {}), ("bsprt", {"p1": "space", "min_votes": 16}),
                                         ("ac_beta", {}), ("ac_dirichlet", {}), ("fixed", {"n": 20})])
def test_simulation_and_reading_a_sequence_agree_vote_for_vote(name, params):
    """run_rule's recorded vote sequences, read back by read_votes (the path live voting takes), give the same
    stop and the same answer for every prompt (ties included: both give a tie to the answer seen first)."""
    rule = make_rule(name, **params)
    probs = VOTE_PRESETS["gpqa-like"].sample(300, 7)
    res = run_rule(rule, probs, rng=8, record_votes=True)
    for i in range(300):
        seq = res["sequence"][i, : res["votes"][i]]
        assert read_votes(rule, seq) == (res["votes"][i], res["answer"][i]), i


@pytest.mark.parametrize("rule", ["esc", "bsprt", "ac_beta"])
def test_live_voting_uses_the_kernels_stop_and_label(rule):
    """vote_with_rule on real answer strings returns what read_votes returns on their labels. The ESC sequence has
    a unanimous third window for '7' while '3' holds the plurality of the prefix: the rule's answer is '7'."""
    pytest.importorskip("torch")
    from simalloc.live.engines import Completion
    from simalloc.live.loop import vote_with_rule
    from simalloc.live.tasks import Task

    answers = ["3", "3", "3", "3", "7", "3", "3", "3", "3", "5"] + ["7"] * 5 + ["3"] * 49

    class Stub:
        def generate(self, prompts, n):
            return [[Completion(f"The answer is {a}", [], []) for a in answers[:k]] for k in n]

    row = vote_with_rule(Stub(), [Task("q", "7")], rule=rule).iloc[0]
    codes = [{"3": 0, "7": 1, "5": 2}[a] for a in answers]
    used, code = read_votes(rule, codes)
    assert row["votes"] == used and row["label"] == ["3", "7", "5"][code]
    if rule == "esc":
        assert (used, row["label"], bool(row["correct"])) == (15, "7", True)


def test_dp_frontier_is_monotone_and_beats_fixed_64():
    atoms = lump_tail(VOTE_PRESETS["math500-like"].sample(40, 1))
    model = VoteModel.build(atoms, cap=64)
    fixed = evaluate_policy(model, "fixed")
    cheap = optimal_stopping(model, 1e-4)
    assert cheap["votes"] < 64 and cheap["value"] >= fixed["accuracy"] - 1e-4 * fixed["votes"] - 1e-12
    assert optimal_stopping(model, 0.0)["accuracy"] >= fixed["accuracy"] - 1e-12
    costs = [1e-4, 1e-3, 1e-2]
    votes = [optimal_stopping(model, c)["votes"] for c in costs]
    assert votes[0] >= votes[1] >= votes[2]


@pytest.mark.parametrize(
    "call,exc,word",
    [
        (lambda: make_rule("bsprt", alpha=1.5), ValueError, "alpha"),
        (lambda: make_rule("bsprt", beta=0.0), ValueError, "beta"),
        (lambda: make_rule("fixed", n=0), ValueError, "n"),
        (lambda: make_rule("esc", cap=0), ValueError, "cap"),
        (lambda: make_rule("bsprt", gamma=1), ValueError, "unknown parameter"),
        (lambda: make_rule("sprt"), ValueError, "bsprt"),
        (lambda: run_rule("fixed", np.empty((0, 3))), ValueError, "probs"),
        (lambda: run_rule("fixed", np.ones((3, 1))), ValueError, "2 answer classes"),
        (lambda: run_rule("fixed", [[0.5, 0.6]]), ValueError, "probability"),
        (lambda: VoteWorld(n_classes=1), ValueError, "n_classes"),
        (lambda: VoteModel.build(np.full((2, 5), 0.2)), ValueError, "up to 4"),
        (lambda: optimal_stopping(VoteModel.build([[0.6, 0.4]], cap=3), -1.0), ValueError, "cost"),
        (lambda: evaluate_policy(VoteModel.build([[0.6, 0.4]], cap=8), "esc"), ValueError, "cap"),
        (lambda: make_rule("fixed", n=True), ValueError, "n"),
        (lambda: make_rule("fixed", n=1e10), ValueError, "n"),
        (lambda: make_rule("fixed", n=2.5), ValueError, "n"),
        (lambda: make_rule("bsprt", p1="uniform"), ValueError, "p1"),
        (lambda: make_rule("bsprt", min_votes=65), ValueError, "min_votes"),
        (lambda: make_rule("bsprt", answer_space=1), ValueError, "answer_space"),
        (lambda: read_votes("esc", [0.0, 1.5]), ValueError, "codes"),
        (lambda: read_votes("esc", ["a", "b"]), ValueError, "codes"),
        (lambda: optimal_stopping(VoteModel.build([[0.6, 0.4]], cap=3), 0.1, answer="mode"), ValueError, "answer"),
        (lambda: VoteModel.build([[0.6, 0.4]], cap=3, tokens=(0, 1)), ValueError, "tokens"),
    ],
)
def test_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_registry_and_tokens():
    assert set(STOPPING_RULES) == {"fixed", "bsprt", "ac_beta", "ac_dirichlet", "esc"}
    world = VOTE_PRESETS["gpqa-like"]
    res = run_rule("bsprt", world.sample(500, 0), rng=0, world=world)
    assert np.all(res["tokens"] > 0) and np.all(res["votes"] <= 64)


@pytest.mark.parametrize("study", ["stopping_pareto", "ttrl"])
def test_stopping_study_smoke(study, tmp_path):
    from simalloc.sim.runner import run_study

    over = {"stopping_pareto": {"n_atoms": "6", "n_prompts": "300", "presets": "gpqa-like"},
            "ttrl": {"steps": "3", "n_reps": "1", "n_pool": "32", "batch": "16", "rules": "fixed,bsprt"}}[study]
    out = run_study(study, out=tmp_path, overrides=over, progress=False)
    assert (out / "table.parquet").is_file() and (out / "figure.png").is_file()


@pytest.mark.parametrize(
    "rule,codes,expected",
    [
        ("esc", [1] * 12, 5),  # the first window is unanimous
        ("esc", [0, 1, 0, 0, 0] + [2] * 5 + [0] * 5, 10),  # the first window is broken, the second is not
        ("ac_beta", [0] * 10, 4),  # (3, 0) gives 0.9375 < 0.95, (4, 0) gives 0.96875
        ("ac_dirichlet", [0] * 10, 4),
        (make_rule("fixed", n=7), [0, 1] * 10, 7),
        (make_rule("bsprt", p_known=0.75, min_confirm=1), [0] * 10, 3),  # lead 3: 3 log 3 >= log 19
        ("fixed", [0, 1, 2], 3),  # a sequence shorter than the rule's cap: all of it is read
    ],
)
def test_stopping_point_on_a_given_sequence(rule, codes, expected):
    from simalloc.stopping.rules import stopping_point

    assert stopping_point(rule, codes) == expected


@pytest.mark.parametrize("loss_type", ["dr_grpo", "grpo", "rloo"])
def test_ttrl_counts_gradient_equals_the_per_rollout_update(loss_type):
    """The update from class counts equals (1/n) sum_r A_r (e_{y_r} - pi) with A from group_advantages on the
    expanded rollouts (a different code path: the per-rollout kernel)."""
    from simalloc.estimators.advantages import LOSS_CODES, group_advantages
    from simalloc.sim.ttrl import counts_gradient

    train = np.array([[5, 2, 1, 0], [0, 3, 3, 2], [4, 0, 0, 0]])
    label = np.array([0, 2, 0])
    pi = np.array([[0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])
    got = counts_gradient(train, label, pi, LOSS_CODES[loss_type])
    for i in range(3):
        y = np.repeat(np.arange(4), train[i])
        adv = group_advantages((y == label[i]).astype(float), [y.size], loss_type)
        want = (adv[:, None] * (np.eye(4)[y] - pi[i])).sum(0) / y.size
        np.testing.assert_allclose(got[i], want, atol=1e-12)


def test_ttrl_reuses_votes_and_tops_up_to_the_update_threshold():
    """A fixed-4 labeller with min_train = 16: every prompt costs exactly 16 rollouts (4 votes reused + 12 fresh);
    running totals add up."""
    from simalloc.sim.ttrl import simulate_ttrl

    t = simulate_ttrl("gpqa-like", "fixed", rule_params={"n": 4}, min_train=16, steps=3, n_pool=40, batch=10)
    assert (t.votes.iloc[1:] == 16).all()
    np.testing.assert_allclose(t.cum_votes.iloc[1:], 16 * 10 * np.arange(1, 4))
    np.testing.assert_allclose(t.cum_tokens.iloc[1:], np.cumsum(t.tokens.iloc[1:] * 10))


def test_read_votes_many_equals_read_votes_row_by_row():
    from simalloc.stopping import BSPRT_READINGS, make_rule
    from simalloc.stopping.rules import read_votes, read_votes_many

    rng = np.random.default_rng(4)
    seqs = rng.integers(0, 4, size=(60, 24))
    rules = [make_rule("fixed", n=24), make_rule("ac_beta", cap=24), make_rule("esc", cap=24, window=5)] + [
        make_rule("bsprt", cap=24, **p) for p in BSPRT_READINGS.values() if p["min_votes"] <= 24]
    for rule in rules:
        used, label = read_votes_many(rule, seqs)
        expect = np.array([read_votes(rule, row) for row in seqs])
        np.testing.assert_array_equal(used, expect[:, 0])
        np.testing.assert_array_equal(label, expect[:, 1])
    with pytest.raises(ValueError, match="codes: expected a non-empty 2-D array"):
        read_votes_many(rules[0], [1, 2, 3])
