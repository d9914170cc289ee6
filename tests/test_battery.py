"""The reliability battery of the front-door review: each case a one-line error naming the argument, or a
correct result."""

from __future__ import annotations

import numpy as np
import pytest

import simalloc
from simalloc.cli import main


def test_pass_at_k_returns_a_python_float_for_scalars():
    v = simalloc.pass_at_k(16, 3, 4)
    assert type(v) is float and v == pytest.approx(1 - (13 * 12 * 11 * 10) / (16 * 15 * 14 * 13), abs=1e-15)
    assert simalloc.pass_at_k([16], 3, 4).shape == (1,)


def test_mean_advantage_with_strings_names_the_argument():
    from simalloc.estimators.bon import mean_advantage

    with pytest.raises(ValueError, match="rewards: expected numbers"):
        mean_advantage([["a", "b"]])


def test_an_empty_group_is_refused_naming_the_argument():
    """A size-0 group has no rollout to score: a one-line error naming group_sizes and the group (front-door
    battery, issue 38), as for a negative size; the same groups without it are accepted."""
    from simalloc.estimators.advantages import group_advantages

    for sizes, bad in (([2, 0, 1], "got 0 for group 1"), ([0], "got 0 for group 0"), ([-1, 2], "got -1 for group 0")):
        with pytest.raises(ValueError, match=f"^group_sizes: expected integers >= 1 .*{bad}$"):
            group_advantages([1.0, 0.0, 1.0][: sum(sizes)], sizes, "grpo")  # sizes summing to len(rewards)
    np.testing.assert_allclose(group_advantages([1.0, 0.0, 1.0], [2, 1], "dr_grpo"), [0.5, -0.5, 0.0], rtol=0)


def test_dirichlet_rule_reads_six_answer_classes_in_every_path():
    from simalloc.stopping import run_rule
    from simalloc.stopping.rules import stopping_point

    seq = [0, 1, 2, 3, 4, 5] + [0] * 30
    assert stopping_point("ac_dirichlet", seq) <= 40
    res = run_rule("ac_dirichlet", np.tile([0.5, 0.1, 0.1, 0.1, 0.1, 0.1], (50, 1)), rng=0)
    assert res["votes"].max() <= 40


@pytest.mark.parametrize("argv,needle", [
    (["run", "hora_vs_grpo", "--quick", "--set", "n_reps"], "--set: expected key=value"),
    (["advise", "missing.csv", "--budget", "10"], "data: no such file"),
])
def test_cli_one_line_errors(tmp_path, capsys, argv, needle):
    code = main(argv + (["--out", str(tmp_path / "o")] if argv[0] != "run" else []))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_exact_optimum_limits_are_named():
    """Both documented limits: 5e7 DP cells and 2e6 prompt x k Python steps."""
    a = np.ones(3000)
    with pytest.raises(ValueError, match="limit 50,000,000"):
        simalloc.exact_optimum(a, a, 3000, cap=1000)
    b = np.ones(100_000)
    with pytest.raises(ValueError, match="limit 2,000,000"):
        simalloc.exact_optimum(b, b, 20, cap=20)


def test_named_results_read_as_attributes_and_as_mappings():
    from simalloc.estimators.bon import tail_fit
    from simalloc.stopping import run_rule
    from simalloc.stopping.rules import read_votes

    res = run_rule("fixed", np.tile([0.6, 0.4], (5, 1)), rng=0)
    assert res.votes is res["votes"] and "tokens" not in res and "sequence" not in res.keys()
    assert repr(res).startswith("RuleRun(votes=<array (5,), mean 64>")
    read = read_votes("esc", [1] * 5)
    assert (read.votes, read.answer) == read == (5, 1)
    fit = tail_fit(np.random.default_rng(0).normal(size=(3, 64)))
    assert fit.xi.shape == (3,) and fit.ok.all() and len(fit) == 5


@pytest.mark.parametrize("call,message", [
    (lambda: simalloc.allocate("hora", [0, 1], 8, np.float64(2.5)), "budget: must be a non-negative integer, got 2.5"),
    (lambda: simalloc.allocate(np.str_("hroa"), [0, 1], 8, 4), "unknown value 'hroa'"),
    (lambda: simalloc.Planner().select(np.arange(3), np.int64(5)), "n: expected an integer in [0, 3] (the "
                                                                     "candidates), got 5"),
    (lambda: simalloc.Planner(decay=np.float64(1.5)), "decay: expected a value in [0, 1], got 1.5"),
    (lambda: simalloc.Planner(prior=(np.float64(-1.0), 1.0)), "got (-1.0, 1.0)"),
])
def test_messages_show_python_scalars_not_numpy_reprs(call, message):
    """Issue 38: numpy scalars in a message read as Python's ("2.5", not "np.float64(2.5)")."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert message in str(info.value) and "np." not in str(info.value), str(info.value)
