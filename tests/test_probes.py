"""Probes of bad or extreme input from the hardening review: each answers with the right value or a clear error
naming the argument (never a silent wrong answer, a traceback from inside, or a hang)."""

import numpy as np
import pytest
from scipy import integrate, stats

import simalloc
from simalloc.objectives.moments import log_beta_ratio


@pytest.mark.parametrize("a", [1e10, 1e15, 1e300])
def test_hit_utility_at_huge_symmetric_priors_is_one_half(a):
    """One rollout hits with probability exactly a/(2a) = 0.5; three miss with probability prod_r (a+r)/(2a+r),
    computed here in exact rationals (a is an integer-valued float)."""
    from fractions import Fraction

    assert simalloc.hit_utility(a, a, 1) == pytest.approx(0.5, abs=1e-15)
    A = Fraction(int(a))
    miss = (A / (2 * A)) * ((A + 1) / (2 * A + 1)) * ((A + 2) / (2 * A + 2))
    assert simalloc.hit_utility(a, a, 3) == pytest.approx(float(1 - miss), abs=1e-15)


def test_log_beta_ratio_against_quadrature_and_betaln():
    """Independent oracles: scipy's betaln difference (moderate a, b) and numerical integration of p^i (1-p)^j."""
    from scipy.special import betaln

    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.2, 20, 50), rng.uniform(0.2, 20, 50)
    i, j = rng.integers(0, 6, 50), rng.integers(0, 40, 50)
    np.testing.assert_allclose(log_beta_ratio(a, b, i, j), betaln(a + i, b + j) - betaln(a, b), rtol=1e-12, atol=1e-12)
    for ai, bi, ii, ji in zip(a[:5], b[:5], i[:5], j[:5]):
        quad = integrate.quad(lambda p: p**ii * (1 - p) ** ji * stats.beta(ai, bi).pdf(p), 0, 1, limit=200)[0]
        assert np.exp(log_beta_ratio(ai, bi, ii, ji)) == pytest.approx(quad, rel=1e-7)


@pytest.mark.parametrize("bad", ["1", True, [1.0, "x"], None])
def test_hit_utility_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="a: expected finite positive numbers"):
        simalloc.hit_utility(bad, 1.0, 1)


def test_budget_beyond_int64_is_refused_by_name():
    with pytest.raises(ValueError, match="budget: must be <= 1e\\+12"):
        simalloc.allocate("hora", [0, 1], 8, 2**70)


def test_exact_dp_on_millions_of_prompts_is_refused_at_once():
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match="a, b: the exact DP"):
        simalloc.exact_optimum(np.ones(5_000_000), np.ones(5_000_000), 1)
    assert time.perf_counter() - start < 30  # refused before any DP work, not after minutes


def test_non_integer_rollouts_at_huge_priors_are_refused():
    assert simalloc.hit_utility(2.0, 3.0, 2.5) == pytest.approx(1 - np.exp(
        __import__("scipy").special.betaln(2, 5.5) - __import__("scipy").special.betaln(2, 3)))
    with pytest.raises(ValueError, match="k: a non-integer"):
        simalloc.hit_utility(1e7, 1e7, 2.5)


def test_group_advantages_all_equal_rewards_and_empty_groups():
    """No spread gives 0; an empty group is refused (issue 38), and the live GRPO step, whose prompts may get no
    rollout, drops such groups before scoring."""
    from simalloc.estimators.advantages import group_advantages

    # 0.1 * 3 has a rounded mean whose squared deviations are not exactly 0: no spread must still give 0
    for loss in ("grpo", "dr_grpo", "rloo"):
        np.testing.assert_array_equal(group_advantages([0.1] * 3, [3], loss, eps=0.0), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="group_sizes: expected integers >= 1"):
        group_advantages([1.0, 0.0, 1.0], [0, 2, 0, 1], "dr_grpo")  # empty groups, as K0 = 0 can produce
    from simalloc.live.grpo import grpo_advantages

    out = grpo_advantages([[], [1.0, 0.0], [], [1.0]], "dr_grpo", "none")  # hand: r - mean 0.5; size 1 scores 0
    assert [g.tolist() for g in out] == [[], [0.5, -0.5], [], [0.0]]


def test_trl_formula_with_one_generation_per_group_is_zero():
    pytest.importorskip("torch")
    from simalloc.live.grpo import trl_advantages

    np.testing.assert_array_equal(trl_advantages([1.0, 0.0, 3.0], 1), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "options,exc,word",
    [
        ({"n_mx": 8}, ValueError, "no option\\(s\\) \\['n_mx'\\]; valid: gamma, n_max, n_min"),
        ({"n_max": -1}, ValueError, "n_max"),
        ({"n_max": 2.5}, TypeError, "n_max"),
        ({"gamma": "abc"}, TypeError, "gamma"),
        ({"n_min": True}, TypeError, "n_min"),
        ({"n_min": 8, "n_max": 4}, ValueError, "n_max >= n_min"),
    ],
)
def test_allocator_options_are_validated_by_name(options, exc, word):
    with pytest.raises(exc, match=word):
        simalloc.allocate("vip", [1, 2, 3], 8, 30, options=options)


def test_allocators_without_options_refuse_any():
    with pytest.raises(ValueError, match="hora has no option"):
        simalloc.allocate("hora", [1, 2], 8, 4, options={"n_max": 8})
    np.testing.assert_array_equal(simalloc.allocate("knapsack", [0, 4, 8], 8, 6, options={"n_max": 10}).sum(), 6)


@pytest.mark.parametrize("spec,word", [("beta:1", "takes 2 parameters"), ("beta:abc,1", "must be numbers"),
                                       ("logit_normal:1,2,3", "takes 2"), ("beta_mixture:1", "no parameters"),
                                       ("gamma:1,2", "unknown kind")])
def test_world_strings_are_checked(spec, word):
    from simalloc.worlds.difficulty import make_world

    with pytest.raises(ValueError, match=word):
        make_world(spec)


def test_counts_csv_from_excel_and_with_spaces(tmp_path):
    from simalloc.worlds.difficulty import EmpiricalWorld

    bom = tmp_path / "bom.csv"
    bom.write_bytes("successes,trials\n1,8\n0,8\n".encode("utf-8-sig"))
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("successes, trials\n 1, 8\n0 ,8\n")
    for path in (bom, spaced):
        world = EmpiricalWorld.from_csv(path)
        assert world.successes.tolist() == [1, 0] and world.trials.tolist() == [8, 8]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("successes,trials,note\n1,8,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.csv: not UTF-8"):
        EmpiricalWorld.from_csv(latin)


def test_a_false_shared_prior_claim_is_refused():
    """The merged solver trusts shared_prior: with per-prompt priors it returned [5, 5] where the DP gives [3, 7]."""
    from simalloc.beliefs import BetaBeliefs

    with pytest.raises(ValueError, match="shared_prior"):
        BetaBeliefs(np.array([1.0, 5.0]), np.array([9.0, 1.0]), np.zeros(2, np.int64), np.zeros(2, np.int64), True)


def test_objective_construction_and_codes_are_checked():
    from dataclasses import dataclass

    from simalloc.allocators.engine import solve
    from simalloc.beliefs import BetaBeliefs
    from simalloc.objectives import HitUtility, VarianceReduction

    with pytest.raises(ValueError, match="p_hat, n0"):
        VarianceReduction()

    @dataclass(frozen=True)
    class Mystery(HitUtility):
        name: str = "mystery"
        code: int = 99

    with pytest.raises(ValueError, match="kernel code 99"):
        solve(Mystery(), BetaBeliefs.from_counts([1, 2], 8), 4)


def test_result_files_are_readable_by_the_group(tmp_path):
    import os
    import stat

    from simalloc.io import write_json

    old = os.umask(0o022)
    try:
        path = write_json({"x": 1}, tmp_path / "meta.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
