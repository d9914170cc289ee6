"""DORA Theorem 1 in the metric that matters: does direction-level allocation come close to the exact P(success)
optimum on realistic direction worlds (noisy PRM scores, similarity matrices with noise)?"""

import numpy as np

from simalloc.sim.search import one_step_success
from simalloc.worlds.directions import DirectionWorld

from ._harness import Result

PAPER = "DORA (arXiv 2506.15707)"
CLAIM = ("Allocating rollouts at the direction level (B_j proportional to e^{R_j}) is optimal, and DORA realizes it "
         "from "
         "candidate scores and their similarity matrix.")
SOURCE = "Theorem 1, Sec. 4 (proven for the surrogate sum_j Q_j log B_j, not for P(success))"
SETTING = ("the dora_gap worlds (simalloc.worlds.directions: 6 directions, Dirichlet(0.5) popularity, Beta(1, 4) "
           "quality, "
           "PRM noise, same-direction cosine 0.998 with noise), popularity-quality correlation 0 and -0.5; k = 16 "
           "candidates, N = 16 expansions, T_b = 0.1, T_s = 0.01; exact P(success) under the directions' Beta beliefs "
           "for DORA, REBASE and the exact optimum (greedy on -log E[(1-p)^B], proven exact); common random numbers")
TOLERANCE = ("reproduced when DORA's mean P(success) gap to the optimum is at most 0.01 (upper end of its 95% CI) in "
             "both "
             "worlds AND DORA beats REBASE by a paired, significant margin (z >= 3) in both; partial when only one "
             "holds. "
             "0.01 is a round floor for a loss of success probability a practitioner would not act on (stated, not "
             "fitted: "
             "the full gap distribution is in `simalloc run dora_gap`); the z >= 3 margin makes 'beats' an effect, "
             "not noise")
USES_SIMULATOR = True


def run(full=False, out=None, rule="dora", baseline="rebase"):
    n = 2000 if full else 300
    rows = {}
    for corr in (0.0, -0.5):
        world = DirectionWorld(popularity_quality_corr=corr)
        gaps, wins = [], []
        for ss in np.random.SeedSequence([7, int(corr * 1000) % 2**31]).spawn(n):
            prob_ss, cand_ss = ss.spawn(2)
            problem = world.sample_problem(np.random.default_rng(prob_ss))
            p = {r: one_step_success(world, problem, r, 16, 16, np.random.default_rng(cand_ss))[0]
                 for r in (rule, baseline, "optimal")}
            gaps.append(p["optimal"] - p[rule])
            wins.append(p[rule] - p[baseline])
        gaps, wins = np.array(gaps), np.array(wins)
        rows[corr] = (gaps.mean(), gaps.std(ddof=1) / np.sqrt(n), wins.mean(), wins.std(ddof=1) / np.sqrt(n))
    near = all(g + 1.96 * se <= 0.01 for g, se, _, _ in rows.values())
    beats = all(w >= 3 * se for _, _, w, se in rows.values())
    verdict = "reproduced" if near and beats else ("partial" if near or beats else "not_reproduced")
    text = "; ".join(f"corr {c}: gap {g:.4f} ± {s:.4f}, {rule} - {baseline} {w:+.4f} ± {ws:.4f}"
                     for c, (g, s, w, ws) in rows.items())
    return Result(
        expected=f"{rule}'s P(success) gap to the exact optimum <= 0.01 (95% upper bound) and {rule} > {baseline} "
        "(z >= 3) in both worlds",
        observed=text,
        verdict=verdict,
        details={
            str(c): {"gap": g, "gap_se": s, "vs_baseline": w, "vs_baseline_se": ws} for c, (g, s, w, ws) in rows.items()
        },
    )
