"""Vote worlds: long wrong-answer tails, calibration from answer counts, bad input."""

import numpy as np
import pytest

from simalloc.worlds.votes import (
    VOTE_PRESETS,
    VoteWorld,
    answer_count_statistics,
    fit_vote_world,
    majority_ratio_summary,
)


def test_presets_have_the_documented_answer_spaces():
    math, gpqa = VOTE_PRESETS["math500-like"], VOTE_PRESETS["gpqa-like"]
    assert math.n_classes - 1 >= 20 and gpqa.n_classes == 4
    probs = math.sample(2000, 0)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    # a real tail: among 64 votes a MATH-like prompt shows several distinct wrong strings on average
    assert majority_ratio_summary(math, 4000, rng=0)["mean_distinct_wrong"] > 3


def test_distractor_weights_follow_the_stated_power_law():
    w = VoteWorld(6, distractor_concentration=0.4, tail_exponent=1.0).distractor_weights()
    np.testing.assert_allclose(w, 0.4 / np.arange(1, 6))


def test_answer_count_statistics_by_hand():
    counts = np.array([[3, 1, 0, 0], [1, 2, 1, 0]])
    # correct shares 0.75, 0.25; top wrong shares 1/1, 2/3; distinct wrong / n: 1/4, 2/4
    np.testing.assert_allclose(answer_count_statistics(counts), [0.5, 0.0625, 5 / 6, 0.375])


def test_fit_recovers_a_known_world():
    """Counts drawn from a known world (3000 prompts x 64 votes): the Beta of the correct share comes back within
    15% (method of moments, se ~4% here) and the fitted world reproduces the tail statistics it was fitted to on
    fresh draws (within 0.03 and 0.01: the grid's resolution). Concentration and tail exponent are only jointly
    identified by these two statistics, so they are not compared one by one."""
    truth = VoteWorld(25, 3.5, 1.5, 0.3, tail_exponent=0.5)
    g = np.random.default_rng(5)
    counts = g.multinomial(64, truth.sample(3000, g))
    fit = fit_vote_world(counts, rng=0)
    assert fit.correct_a == pytest.approx(3.5, rel=0.15) and fit.correct_b == pytest.approx(1.5, rel=0.15)
    g2 = np.random.default_rng(6)
    got = answer_count_statistics(g2.multinomial(64, fit.sample(20000, g2)))
    want = answer_count_statistics(g2.multinomial(64, truth.sample(20000, g2)))
    assert abs(got[2] - want[2]) < 0.03 and abs(got[3] - want[3]) < 0.01


@pytest.mark.parametrize(
    "call,word",
    [
        (lambda: VoteWorld(n_classes=True), "n_classes"),
        (lambda: VoteWorld(tail_exponent=-1.0), "tail_exponent"),
        (lambda: fit_vote_world(np.array([[3, 1], [2, 1]])), "same total"),
        (lambda: fit_vote_world(np.array([[3.0, 1.0], [2.0, 2.0]])), "integers"),
        (lambda: fit_vote_world(np.array([3, 1])), "counts"),
    ],
)
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()
