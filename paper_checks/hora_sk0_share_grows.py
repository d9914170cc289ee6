"""HORA Sec. 4.1: over training, the Phase-B allocation to prompts whose pre-rollouts all succeeded (s = K0) grows."""

import numpy as np

from ._harness import Result, _runs, train_budget

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("Over training, the allocation to [s = K0] grows gradually as the policy improves and more prompts become "
         "saturated after Phase A.")
SOURCE = "Sec. 4.1 (discussion of Fig. 3)"
SETTING = ("simulator, hora_vs_grpo setting (Beta(0.5, 0.5) world, Zipf 1.5); per replicate, the Phase-B share given "
           "to s = K0 prompts in the last tenth of training minus that in the first tenth")
TOLERANCE = ("'grows' = mean growth >= 0.01 (one point of the Phase-B budget: a smaller change is invisible in a "
             "Fig.-3-style plot) and >= 2 se over paired replicates; partial if only one of the two holds")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora"):
    tables, _ = _runs(full, arm, "beta:0.5,0.5", 1.5, 0)
    growth = []
    for t in tables:
        t = t[t.step > 0].dropna(subset=["budget_share_sK0"])  # warm-up steps have no allocation
        lo, hi = t.step.min(), t.step.max()
        cut = (hi - lo + 1) / 10
        early = t[t.step < lo + cut].budget_share_sK0.mean()
        late = t[t.step > hi - cut].budget_share_sK0.mean()
        growth.append(late - early)
    g = np.array(growth)
    mean, se = float(g.mean()), float(g.std(ddof=1) / np.sqrt(g.size))
    big, sure = mean >= 0.01, mean > 2 * se
    verdict = "reproduced" if big and sure else ("partial" if big or sure else "not_reproduced")
    steps = train_budget(full)[0].get("steps", 200)
    return Result(
        expected="growth of the s = K0 Phase-B share >= 0.01 and >= 2 se",
        observed=f"{arm}: growth {mean:+.4f} +- {se:.4f} over {g.size} replicates ({steps} steps)",
        verdict=verdict,
        details={"growth": g.tolist()},
    )
