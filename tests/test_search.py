"""Test-time search allocation: DORA's vectors, REBASE's bias, the exact P(success) optimum, bad input."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import rel_entr, softmax

from simalloc.allocators.search import SEARCH_RULES, dora_weights, rebase_weights, search_allocate, uniqueness
from simalloc.sim.search import run_search
from simalloc.worlds.directions import DirectionWorld, success_probability

FIG2 = np.array([[1, 1, 1, 0.1], [1, 1, 1, 0.1], [1, 1, 1, 0.1], [0.1, 0.1, 0.1, 1]])


def test_fig2_vector():
    np.testing.assert_allclose(uniqueness(FIG2, 0.01), [1 / 3, 1 / 3, 1 / 3, 1], atol=1e-12)
    np.testing.assert_allclose(dora_weights(np.zeros(4), FIG2), [1 / 6, 1 / 6, 1 / 6, 1 / 2], atol=1e-12)
    assert search_allocate("dora", np.zeros(4), FIG2, 64).tolist() == [11, 11, 10, 32]


def test_prop2_rebase_is_solution_level_and_dora_direction_level():
    """The package's weights on candidates grouped in directions (k_j copies, equal scores within a direction):
    REBASE's direction shares equal Prop. 2's k_j e^{R_j}/sum_l k_l e^{R_l}, DORA's equal softmax(R); the
    surrogate gap between them is KL(Q || Q_hat) (scipy's rel_entr as the independent KL)."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        J = int(rng.integers(2, 7))
        k = rng.integers(1, 9, size=J)
        R = rng.normal(size=J)
        dirs = np.repeat(np.arange(J), k)
        sim = np.where(dirs[:, None] == dirs[None, :], 1.0, 0.1)
        rebase = np.bincount(dirs, weights=rebase_weights(R[dirs], t_b=1.0), minlength=J)
        dora = np.bincount(dirs, weights=dora_weights(R[dirs], sim, t_b=1.0, t_s=0.01), minlength=J)
        q_hat = k * np.exp(R) / np.sum(k * np.exp(R))
        np.testing.assert_allclose(rebase, q_hat, atol=1e-12)
        np.testing.assert_allclose(dora, softmax(R), atol=1e-12)
        gap = np.sum(dora * np.log(50 * dora)) - np.sum(dora * np.log(50 * rebase))
        assert gap == pytest.approx(rel_entr(dora, rebase).sum(), abs=1e-12)


@pytest.mark.parametrize("seed", range(25))
def test_greedy_success_optimum_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    J, n = int(rng.integers(1, 5)), int(rng.integers(0, 13))
    a, b = rng.uniform(0.2, 5, size=J), rng.uniform(0.2, 5, size=J)
    dirs = np.arange(J)
    alloc = search_allocate("optimal", np.zeros(J), np.eye(J), n, directions=dirs, a=a, b=b)
    best = max(success_probability(a, b, c) for c in itertools.product(range(n + 1), repeat=J) if sum(c) == n)
    assert success_probability(a, b, alloc) == pytest.approx(best, rel=1e-12, abs=1e-15)


@given(k=st.integers(1, 12), n=st.integers(0, 300), data=st.data())
def test_every_rule_conserves_the_budget(k, n, data):
    scores = np.array(data.draw(st.lists(st.floats(-3, 3), min_size=k, max_size=k)))
    dirs = np.array(data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k)))
    sim = np.where(dirs[:, None] == dirs[None, :], 0.99, 0.2)
    np.fill_diagonal(sim, 1.0)
    truth = {"directions": dirs, "a": np.ones(4), "b": np.full(4, 3.0)}
    for rule in SEARCH_RULES:
        for extra in ({"prune": "rebase"}, {}) if rule == "dora" else ({},):
            out = search_allocate(rule, scores, sim, n, **extra, **(truth if rule == "optimal" else {}))
            assert out.dtype == np.int64 and out.sum() == n and out.min() >= 0


def test_rebase_favours_crowded_directions_and_dora_does_not():
    dirs = np.repeat([0, 1], [16, 2])
    sim = np.where(dirs[:, None] == dirs[None, :], 1.0, 0.2)
    rebase = search_allocate("rebase", np.zeros(18), sim, 90)
    dora = search_allocate("dora", np.zeros(18), sim, 90)
    assert rebase[dirs == 0].sum() == 80
    assert abs(dora[dirs == 0].sum() - 45) <= 1  # per-candidate largest remainders can shift a direction by one unit


def test_search_loop_runs_and_uses_equal_compute():
    """Every rule spends exactly the budget at every step: the same number of expansions per search."""
    world = DirectionWorld()
    rng = np.random.default_rng(0)
    problem = world.sample_problem(rng)
    for rule in SEARCH_RULES:
        res = run_search(world, problem, rule, 32, 3, np.random.default_rng(1))
        assert res["expansions"] == [32, 32, 32], rule
        assert 0 <= res["p_success"] <= 1


@pytest.mark.parametrize(
    "args,kwargs,word",
    [
        (([0.0, 1.0], np.ones((2, 3)), 4), {}, "square"),
        (([0.0, 1.0], [[1.0, 0.2], [0.3, 1.0]], 4), {}, "symmetric"),
        (([0.0, 1.0], np.eye(2), 4), {"t_b": 0.0}, "t_b"),
        (([0.0, 1.0], np.eye(2), 4), {"t_s": -1.0}, "t_s"),
        (([0.0, 1.0], np.eye(2), -1), {}, "N"),
        (([0.0, np.nan], np.eye(2), 4), {}, "scores"),
        (([0.0, 1.0], [[1.0, np.nan], [np.nan, 1.0]], 4), {}, "similarity"),
        (([0.0, 1.0, 2.0], np.eye(2), 4), {}, "similarity"),
    ],
)
def test_bad_input(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        search_allocate("dora", *args, **kwargs)
    with pytest.raises(ValueError, match="unknown value 'dorra'"):
        search_allocate("dorra", [0.0], np.eye(1), 1)
    with pytest.raises(ValueError, match="needs the world"):
        search_allocate("optimal", [0.0], np.eye(1), 1)


@pytest.mark.parametrize("name,options,word", [
    ("dora", {"prune": "beam"}, "prune"), ("dora", {"rounding": "floor"}, "rounding"),
    ("rebase", {"prune": "rebase"}, "takes rounding; got prune"), ("temperature", {"beam_width": 2}, "no options"),
    ("dora", {"directions": [0, 1]}, "got directions")])
def test_unknown_or_bad_options_are_refused(name, options, word):
    """Options a rule does not read are refused, not ignored (prune='rebase' used to be dropped silently)."""
    with pytest.raises(ValueError, match=word):
        search_allocate(name, [0.0, 1.0], np.eye(2), 4, **options)
    from simalloc.allocators.search import parse_search_spec

    assert parse_search_spec("dora:prune=rebase") == ("dora", {"prune": "rebase"})
    for spec, word in (("dora:prune", "key=value"), ("rebase:prune=rebase", "takes rounding"), ("dorra", "dorra")):
        with pytest.raises(ValueError, match=word):
            parse_search_spec(spec)


@pytest.mark.parametrize("study", ["search_budget", "rebase_bias", "dora_gap"])
def test_search_study_smoke(study, tmp_path):
    from simalloc.sim.runner import run_study

    over = {"search_budget": {"n_problems": "4", "budgets": "8,16"}, "rebase_bias": {"ratios": "1,4"},
            "dora_gap": {"n_problems": "5"}}[study]
    out = run_study(study, out=tmp_path, overrides=over, progress=False)
    assert (out / "table.parquet").is_file() and (out / "figure.png").is_file()
