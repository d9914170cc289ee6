"""DARS: more rollouts per prompt raise Pass@1 but not Pass@K (the narrowing setting)."""

from ._harness import Result, paired
from ._v4 import at_step, v4_runs

PAPER = "DARS, 'Depth-Breadth Synergy in RLVR' (arXiv 2508.13755)"
CLAIM = "Scaling the rollouts per prompt (breadth) improves Pass@1 but does not improve Pass@K at large K."
SOURCE = "Sec. 1 and the breadth-scaling figure (as summarised in simalloc issue 36 item 4)"
SETTING = ("simulator v4 (log-linear policy, V4_READING), narrowing regime; uniform GRPO at G vs 4G rollouts per "
           "prompt (uniform:x4, same learning rate and steps); Pass@1 and Pass@128 on the held-out eval set at the "
           "end, paired over replicates")
TOLERANCE = ("Pass@1 higher beyond 2 se and by >= 0.005 (the effect floor) and Pass@128 not higher (its difference "
             "below max(2 se, 0.005)); the claim is the contrast, so there is no partial verdict")
USES_SIMULATOR = True


def run(full=False, out=None, regime="narrowing", arm="uniform:x4", reference="uniform"):
    mine, ref = v4_runs(full, regime, arm), v4_runs(full, regime, reference)
    d1, se1 = paired(at_step(mine, "pass@1", -1), at_step(ref, "pass@1", -1))
    dk, sek = paired(at_step(mine, "pass@128", -1), at_step(ref, "pass@128", -1))
    pass1 = d1 > max(2 * se1, 0.005)
    not_k = dk < max(2 * sek, 0.005)
    return Result(
        expected="more rollouts per prompt: Pass@1 higher, Pass@128 not higher",
        observed=(f"{arm} - {reference}: Pass@1 {d1:+.4f} +- {se1:.4f}, Pass@128 {dk:+.4f} +- {sek:.4f} "
                  f"(regime {regime!r})"),
        verdict="reproduced" if pass1 and not_k else "not_reproduced",
        details={"pass@1_diff": d1, "pass@1_se": se1, "pass@128_diff": dk, "pass@128_se": sek},
    )
