"""Yue et al. Table 4: in the narrowing setting, longer GRPO training raises Pass@1 and lowers Pass@256."""

from ._harness import Result, paired
from ._v4 import at_step, v4_config, v4_runs

PAPER = "Yue et al., 'Does RL really incentivize reasoning capacity beyond the base model?' (arXiv 2504.13837)"
CLAIM = ("Training longer (step 150 -> 450) raises the training set's Pass@1 (26.1 -> 42.5) while the test set's "
         "Pass@256 falls (68.3 -> 63.9).")
SOURCE = "Table 4"
SETTING = ("simulator v4 (log-linear policy, V4_READING), narrowing regime (no skill transfer); uniform GRPO; Pass@1 "
           "and Pass@256 on the held-out eval set at a third of the run and at its end (the paper's 150 -> 450), "
           "paired over replicates")
TOLERANCE = ("Pass@1 must rise and Pass@256 fall, each beyond 2 se over replicates and by at least 0.005 (half a "
             "point, the project's effect floor); partial if only the direction of both holds")
USES_SIMULATOR = True


def run(full=False, out=None, regime="narrowing", arm="uniform"):
    cfg, _ = v4_config(full, regime)
    tables = v4_runs(full, regime, arm)
    early = cfg.steps // 3
    d1, se1 = paired(at_step(tables, "pass@1", -1), at_step(tables, "pass@1", early))
    d256, se256 = paired(at_step(tables, "pass@256", -1), at_step(tables, "pass@256", early))
    up = d1 > max(2 * se1, 0.005)
    down = -d256 > max(2 * se256, 0.005)
    verdict = "reproduced" if up and down else ("partial" if d1 > 0 > d256 else "not_reproduced")
    return Result(
        expected="Pass@1 rises and Pass@256 falls from a third of the run to its end",
        observed=(f"step {early} -> {cfg.steps}: Pass@1 {d1:+.4f} +- {se1:.4f}, Pass@256 {d256:+.4f} +- "
                  f"{se256:.4f} (regime {regime!r})"),
        verdict=verdict,
        details={"pass@1_change": d1, "pass@1_se": se1, "pass@256_change": d256, "pass@256_se": se256},
    )
