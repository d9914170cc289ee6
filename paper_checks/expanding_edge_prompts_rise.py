"""Expanding regime: edge prompts' Pass@1 rises from near 0 (skills learned elsewhere transfer to them)."""

from ._harness import Result, paired
from ._v4 import at_step, v4_runs

PAPER = "simalloc issue 36 item 4 (the LLM expanding regime; cf. 'The Invisible Leash', arXiv 2507.14843)"
CLAIM = "In the expanding setting, edge prompts' Pass@1 rises from near 0."
SOURCE = "issue 36, item 4 (lab v2's expanding spec: edge prompts solvable by composing skills taught elsewhere)"
SETTING = ("simulator v4 (log-linear policy, V4_READING), expanding regime (skills transfer with weight 1, a tenth of "
           "the prompts unreachable); uniform GRPO trained on the Beta(0.5, 0.5) pool; Pass@1 of a held-out edge set "
           "(initial pass rates logit-normal(-6, 1)) at step 0 and at the end, paired over replicates")
TOLERANCE = ("'near 0' = start Pass@1 below 0.02; 'rises' = the change beyond 2 se and at least doubling the start "
             "(a rise from near 0, not a drift); partial if the change is positive beyond 2 se only")
USES_SIMULATOR = True


def run(full=False, out=None, regime="expanding", arm="uniform"):
    tables = v4_runs(full, regime, arm)
    start, end = at_step(tables, "edge:pass@1", 0), at_step(tables, "edge:pass@1", -1)
    d, se = paired(end, start)
    near0 = start.mean() < 0.02
    rises = d > 2 * se and end.mean() >= 2 * start.mean()
    verdict = "reproduced" if near0 and rises else ("partial" if near0 and d > 2 * se else "not_reproduced")
    return Result(
        expected="edge prompts' Pass@1 starts below 0.02 and at least doubles, beyond 2 se",
        observed=f"edge Pass@1 {start.mean():.4f} -> {end.mean():.4f} (change {d:+.4f} +- {se:.4f}; regime {regime!r})",
        verdict=verdict,
        details={"start": float(start.mean()), "end": float(end.mean()), "change": d, "se": se},
    )
