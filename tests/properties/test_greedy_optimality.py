"""Proposition 3.1 by test: every greedy solver reaches the exact optimum, for every objective.

Values are compared, not allocations: ties make the optimum non-unique.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simalloc import allocate
from simalloc.allocators.engine import solve
from simalloc.objectives import OBJECTIVES, get_objective
from simalloc.optima import brute_force_optimum, dp_optimum
from simalloc.testing.strategies import allocation_instances

OBJECTIVE_NAMES = sorted(OBJECTIVES)


def _assert_value_equal(value, optimum, what):
    assert abs(value - optimum) <= 1e-12 * max(1.0, abs(optimum)), (what, value, optimum)


@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
@given(inst=allocation_instances())
def test_every_solver_reaches_the_dp_optimum(objective, inst):
    obj = get_objective(objective)
    opt = dp_optimum(obj, inst.beliefs, inst.budget, inst.cap)
    assert int(opt.allocation.sum()) == inst.budget
    _assert_value_equal(obj.total(inst.beliefs, opt.allocation), opt.value, "dp allocation value")
    for method in ("heap", "merged", "threshold"):
        alloc = solve(obj, inst.beliefs, inst.budget, cap=inst.cap, method=method)
        assert int(alloc.sum()) == inst.budget and alloc.min() >= 0
        if inst.cap is not None:
            assert np.all(alloc <= inst.cap)
        _assert_value_equal(obj.total(inst.beliefs, alloc), opt.value, method)


@settings(max_examples=60)
@given(inst=allocation_instances(max_prompts=4, max_budget=10), objective=st.sampled_from(OBJECTIVE_NAMES))
def test_dp_equals_brute_force(inst, objective):
    dp = dp_optimum(objective, inst.beliefs, inst.budget, inst.cap)
    brute = brute_force_optimum(objective, inst.beliefs, inst.budget, inst.cap)
    _assert_value_equal(dp.value, brute.value, "dp vs brute force")


@given(inst=allocation_instances())
def test_hora_allocator_is_the_hit_optimum(inst):
    """The public entry point (with its own type grouping) reaches the DP optimum of the hit utility."""
    bel = inst.beliefs
    prior = (bel.a - bel.successes, bel.b - (bel.trials - bel.successes))
    if bel.shared_prior:
        prior = (float(prior[0][0]), float(prior[1][0]))
    alloc = allocate("hora", bel.successes, bel.trials, inst.budget, prior=prior, cap=inst.cap)
    opt = dp_optimum("hit", bel, inst.budget, inst.cap)
    _assert_value_equal(get_objective("hit").total(bel, alloc), opt.value, "hora")


def test_greedy_beats_a_wrong_engine():
    """The optimality test can fail: a solver that takes marginals in the wrong order is caught."""
    from simalloc.beliefs import BetaBeliefs

    bel = BetaBeliefs.from_counts([0, 4, 8], 8)
    obj = get_objective("hit")
    opt = dp_optimum(obj, bel, 12)
    wrong = np.array([0, 0, 12])  # everything to the easiest prompt
    assert obj.total(bel, wrong) < opt.value - 1e-3
