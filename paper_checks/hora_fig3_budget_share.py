"""HORA Fig. 3: prompts whose pre-rollouts all failed receive a Phase-B share far above their share of prompts."""

import numpy as np

from ._harness import Result, budget_shares

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("HORA reallocates budget toward hard prompts. Averaged over training, prompts with s = 0 account for [a small "
         "share] of the Phase A input distribution but receive [a much larger share] of the Phase B budget. "
         "Conversely, "
         "prompts with s = K0 ... receive only [a small share].")
SOURCE = "Fig. 3, Sec. 4.1 (the paper's percentages were lost in extraction; the direction is checked)"
SETTING = ("simulator, hora_vs_grpo setting; Phase-B budget share and prompt share by pilot count s, averaged over "
           "training")
TOLERANCE = ("'far above' = budget share >= 2 x prompt share for s = 0; s = K0 prompts get less than their prompt "
             "share "
             "(their first marginal is high but the rest drop quickly)")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora"):
    shares = budget_shares(full, arm)
    b = np.mean([t.budget_share.to_numpy() for t in shares], axis=0)
    p = np.mean([t.prompt_share.to_numpy() for t in shares], axis=0)
    ratio0 = b[0] / p[0]
    top_ratio = b[-1] / p[-1]
    ok0, ok_top = ratio0 >= 2, top_ratio < 1
    verdict = "reproduced" if ok0 and ok_top else ("partial" if ok0 or ok_top else "not_reproduced")
    return Result(
        expected="s = 0: budget share >= 2 x prompt share; s = K0: budget share < prompt share",
        observed=(f"s = 0: {b[0]:.1%} of Phase B for {p[0]:.1%} of prompts (x{ratio0:.2f}); s = K0: {b[-1]:.1%} for "
                  f"{p[-1]:.1%} (x{top_ratio:.2f})"),
        verdict=verdict,
        details={"budget_share": b.tolist(), "prompt_share": p.tolist()},
    )
