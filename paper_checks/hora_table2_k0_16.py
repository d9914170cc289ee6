"""HORA Table 2: doubling the pilot to K0 = 16 gives similar Pass@1 and does not uniformly improve Pass@k."""

from ._harness import EFFECT_FLOOR, WORLDS, Result, final_metric, paired

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = "Empirically, K0 = 16 gives similar Pass@1 but does not uniformly improve Pass@k."
SOURCE = "Table 2, Sec. 4.2"
SETTING = ("the training simulator, the four difficulty worlds at Zipf 1.5; hora with K0 = 16 vs K0 = 8 (same G = 32), "
           "paired replicates")
TOLERANCE = ("similar Pass@1: |paired difference| <= 0.01; 'uniformly improves' would need a paired Pass@256 gain "
             f"above max(2 se, {EFFECT_FLOOR}) (the effect floor of hora_table1_passk_gains) in every world whose "
             "reference Pass@256 is below 0.999 (a saturated world cannot "
             "improve, so counting it would make the claim hold whatever the arm does). Verdict: not_reproduced when "
             "the arm does improve uniformly (the claim's core is refuted), partial when only Pass@1 differs")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora:k16", reference="hora", shift=0.0):
    """``shift`` (mutation tests only) adds to the arm's Pass@256."""
    d1, dk = {}, {}
    for wname, world in WORLDS.items():
        d1[wname] = paired(final_metric(full, arm, "pass@1", world), final_metric(full, reference, "pass@1", world))
        dk[wname] = paired(final_metric(full, arm, "pass@256", world) + shift,
                           final_metric(full, reference, "pass@256", world))
    similar = all(abs(d) <= 0.01 for d, _ in d1.values())
    open_worlds = [w for w, world in WORLDS.items() if final_metric(full, reference, "pass@256", world).mean() < 0.999]
    uniformly_better = bool(open_worlds) and all(dk[w][0] > max(2 * dk[w][1], EFFECT_FLOOR) for w in open_worlds)
    if uniformly_better:
        verdict = "not_reproduced"
    else:
        verdict = "reproduced" if similar else "partial"
    text = "; ".join(f"{w}: dPass@1 {d1[w][0]:+.4f}, dPass@256 {dk[w][0]:+.4f}±{dk[w][1]:.4f}" for w in WORLDS)
    return Result(
        expected="|dPass@1| <= 0.01 in every world and Pass@256 not significantly better in every world",
        observed=(f"Pass@1 similar: {similar}; uniformly better Pass@256 over the unsaturated worlds "
                  f"{open_worlds}: {uniformly_better} ({text})"),
        verdict=verdict,
        details={"similar_pass1": similar, "uniformly_better": uniformly_better},
    )
