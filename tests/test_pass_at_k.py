from fractions import Fraction
from math import comb

import numpy as np
import pytest

from simalloc import pass_at_k

VECTORS = [((10, 3, 5), 0.9166667), ((10, 0, 1), 0.0), ((200, 13, 10), 0.4975511), ((5, 2, 3), 0.9), ((64, 1, 32), 0.5)]


@pytest.mark.parametrize("args,expected", VECTORS)
def test_design_vectors(args, expected):
    assert float(pass_at_k(*args)) == pytest.approx(expected, abs=5e-8)


def _exact(n, c, k):
    if n - c < k:
        return 1.0
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


def test_matches_exact_rational_arithmetic_up_to_n_1e4():
    rng = np.random.default_rng(0)
    cases = [(10_000, 1, 1), (10_000, 5_000, 1), (10_000, 1, 10_000), (10_000, 9_999, 2), (10_000, 3, 5_000)]
    for _ in range(40):
        n = int(rng.integers(1, 10_001))
        cases.append((n, int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1))))
    n, c, k = map(np.array, zip(*cases))
    got = pass_at_k(n, c, k)
    want = np.array([_exact(*case) for case in cases])
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)


def test_broadcasts_and_edge_values():
    out = pass_at_k(100, np.arange(0, 101), 1)
    np.testing.assert_allclose(out, np.arange(0, 101) / 100, rtol=1e-13)
    assert pass_at_k([[8], [16]], [0, 1, 2], 4).shape == (2, 3)
    assert float(pass_at_k(5, 5, 5)) == 1.0 and float(pass_at_k(5, 0, 5)) == 0.0


@pytest.mark.parametrize(
    "args,exc,word",
    [
        ((0, 0, 1), ValueError, "n"),
        ((5, 6, 1), ValueError, "c"),
        ((5, -1, 1), ValueError, "c"),
        ((5, 2, 0), ValueError, "k"),
        ((5, 2, 6), ValueError, "k"),
        ((5.5, 2, 1), ValueError, "n"),
        (([5, 6], [1, 2, 3], 1), ValueError, "broadcast"),
        (("5", 2, 1), TypeError, "n"),
    ],
)
def test_bad_input(args, exc, word):
    with pytest.raises(exc, match=word):
        pass_at_k(*args)
