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


def test_an_empty_group_adds_nothing_to_the_others():
    """A size-0 group (allocate with K0 = 0 can give one) is a correct input: the other groups' advantages are
    the same as without it."""
    from simalloc.estimators.advantages import group_advantages

    with_empty = group_advantages([1.0, 0.0, 1.0], [2, 0, 1], "grpo")
    without = group_advantages([1.0, 0.0, 1.0], [2, 1], "grpo")
    np.testing.assert_array_equal(with_empty, without)
    with pytest.raises(ValueError, match="group_sizes: expected a 1-D array of integers >= 0"):
        group_advantages([1.0], [-1, 2])


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
