"""HORA Table 2: the hard-first heuristic is worse than hit-utility allocation."""

from ._harness import WORLDS, Result, final_metric, paired

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("This heuristic [all Phase-B budget to prompts with s = 0] performs worse than the hit-utility allocator, "
         "reducing Pass@1 on all four benchmarks and lowering AIME 2025 Pass@k.")
SOURCE = "Table 2, Sec. 4.2"
SETTING = "simulator, the four difficulty worlds at Zipf 1.5; hard_first vs hora, paired replicates; Pass@1 and Pass@256"
TOLERANCE = ("'reduces' = paired mean difference < 0; the Pass@k half holds when hard-first's Pass@256 is lower in "
             "at least one world (the paper reports one benchmark)")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hard_first", reference="hora"):
    d1, dk = {}, {}
    for wname, world in WORLDS.items():
        d1[wname] = paired(final_metric(full, arm, "pass@1", world), final_metric(full, reference, "pass@1", world))
        dk[wname] = paired(final_metric(full, arm, "pass@256", world), final_metric(full, reference, "pass@256", world))
    pass1_lower = sum(d < 0 for d, _ in d1.values())
    passk_lower = sum(d < 0 for d, _ in dk.values())
    if pass1_lower == 4 and passk_lower >= 1:
        verdict = "reproduced"
    elif pass1_lower == 4 or passk_lower >= 1:
        verdict = "partial"
    else:
        verdict = "not_reproduced"
    text = "; ".join(f"{w}: dPass@1 {d1[w][0]:+.4f}, dPass@256 {dk[w][0]:+.4f}" for w in WORLDS)
    return Result(
        expected="hard-first has lower Pass@1 than HORA in 4/4 worlds and lower Pass@k in at least one",
        observed=f"Pass@1 lower in {pass1_lower}/4, Pass@256 lower in {passk_lower}/4 ({text})",
        verdict=verdict,
        details={"pass1_lower": pass1_lower, "passk_lower": passk_lower},
    )
