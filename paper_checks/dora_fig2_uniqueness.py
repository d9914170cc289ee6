"""DORA Fig. 2: uniqueness from the similarity matrix turns three near-duplicates into one direction."""

import numpy as np

from simalloc.allocators.search import dora_weights, search_allocate, uniqueness

from ._harness import Result

PAPER = "DORA (arXiv 2506.15707)"
CLAIM = ("Candidates that share a reasoning direction split that direction's allocation: with three identical "
         "candidates "
         "and one distinct one at equal scores, the uniqueness is (1/3, 1/3, 1/3, 1) and the allocation weights "
         "(1/6, 1/6, 1/6, 1/2).")
SOURCE = "Fig. 2 (worked example), Sec. 4"
SETTING = ("S = [[1,1,1,.1],[1,1,1,.1],[1,1,1,.1],[.1,.1,.1,1]], equal PRM scores, T_s = 0.01, T_b = 0.1, N = 64; "
           "integer budgets by largest-remainder rounding")
TOLERANCE = ("1e-9 on gamma and w' (the off-block terms are e^-90 smaller); integer budgets must sum to N exactly "
             "(plain rounding of 64 x (1/6, 1/6, 1/6, 1/2) gives 65)")
USES_SIMULATOR = False

S = np.array([[1, 1, 1, 0.1], [1, 1, 1, 0.1], [1, 1, 1, 0.1], [0.1, 0.1, 0.1, 1]])


def run(full=False, out=None, similarity=S):
    gamma = uniqueness(similarity, 0.01)
    w = dora_weights(np.zeros(4), similarity, 0.1, 0.01)
    alloc = search_allocate("dora", np.zeros(4), similarity, 64)
    plain = int(np.round(64 * w).sum())
    ok = (
        np.allclose(gamma, [1 / 3, 1 / 3, 1 / 3, 1], atol=1e-9)
        and np.allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2], atol=1e-9)
        and alloc.sum() == 64
    )
    return Result(
        expected="gamma = (1/3, 1/3, 1/3, 1), w' = (1/6, 1/6, 1/6, 1/2), budgets summing to 64",
        observed=(
            f"gamma = {np.round(gamma, 6).tolist()}, w' = {np.round(w, 6).tolist()}, budgets {alloc.tolist()} "
            f"(sum {alloc.sum()}; plain rounding would sum to {plain})"
        ),
        verdict="reproduced" if ok else "not_reproduced",
    )
