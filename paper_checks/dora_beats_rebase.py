"""DORA's main claim: at equal compute, direction-level allocation beats REBASE's solution-level allocation."""

import numpy as np

from simalloc.sim.search import run_search
from simalloc.worlds.directions import DirectionWorld

from ._harness import Result

PAPER = "DORA (arXiv 2506.15707)"
CLAIM = ("DORA consistently outperforms strong baselines with comparable computational cost, achieving "
         "state-of-the-art accuracy.")
SOURCE = "Abstract; Sec. 5 (accuracy vs budget on MATH500, AIME2024, AIME2025)"
SETTING = ("simulator: direction worlds (6 directions, Dirichlet(0.5) popularity independent of quality, p_j ~ Beta(4 "
           "w, "
           "4 (1 - w)), w ~ Beta(1, 4), same-direction cosine 0.998), parallel search of depth 4, N = 16 / 64 / 256 "
           "expansions per step for both rules, PRM-weighted majority vote; the same problems and first candidates "
           "for both rules")
TOLERANCE = ("'beats' = paired accuracy difference > 0 pooled over budgets, significant at 2 standard errors; "
             "reproduced if so, partial if >= 0 without significance, else not_reproduced")
USES_SIMULATOR = True


def run(full=False, out=None, rule="dora", baseline="rebase", world=None):
    world = world or DirectionWorld()
    n_problems = 1500 if full else 250
    diffs, per_budget = [], {}
    for n in (16, 64, 256):
        d = []
        for ss in np.random.SeedSequence([7, n]).spawn(n_problems):
            prob_ss, search_ss = ss.spawn(2)
            problem = world.sample_problem(np.random.default_rng(prob_ss))
            a = run_search(world, problem, rule, n, 4, np.random.default_rng(search_ss))["vote_correct"]
            b = run_search(world, problem, baseline, n, 4, np.random.default_rng(search_ss))["vote_correct"]
            d.append(float(a) - float(b))
        per_budget[n] = float(np.mean(d))
        diffs += d
    diffs = np.array(diffs)
    mean, se = diffs.mean(), diffs.std(ddof=1) / np.sqrt(diffs.size)
    verdict = "reproduced" if mean > 2 * se else ("partial" if mean >= 0 else "not_reproduced")
    return Result(
        expected="DORA's accuracy - REBASE's > 0 (2 se), at equal rollouts per step",
        observed=(f"paired accuracy difference {mean:+.4f} ± {se:.4f} over {diffs.size} searches; by budget: "
                  + ", ".join(f"N={n}: {v:+.3f}" for n, v in per_budget.items())),
        verdict=verdict,
        details={"mean": mean, "se": se, "per_budget": per_budget},
    )
