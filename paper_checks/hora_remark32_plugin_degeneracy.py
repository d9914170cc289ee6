"""HORA Remark 3.2: the plug-in estimate starves prompts whose pre-rollouts all failed."""

import numpy as np

from simalloc import allocate

from ._harness import Result

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("Under the plug-in estimate, any prompt with s = 0 has zero estimated success probability and therefore zero "
         "marginal hit utility, causing it to receive no additional rollouts in Phase B except in degenerate cases "
         "where all remaining marginal hit utilities are also zero. The uniform Beta prior avoids this degeneracy.")
SOURCE = "Sec. 3.2, Remark 3.2 (Appendix B.2)"
SETTING = ("batches of 60 prompts with p ~ Beta(0.5, 0.5), pilot K0 = 8, Phase-B budget 60 x 24; the plug-in rule "
           "vs the posterior rule (hora); expected hits on s = 0 prompts computed exactly from the true p")
TOLERANCE = "exact: the claim is about zero vs non-zero budget, so every batch must agree"
USES_SIMULATOR = False


def run(full=False, out=None, allocator="plugin"):
    rng = np.random.default_rng(32)
    n_batches = 2000 if full else 300
    starved = reached = batches = 0
    hits_plugin = hits_hora = 0.0
    for _ in range(n_batches):
        p = rng.beta(0.5, 0.5, size=60)
        s = rng.binomial(8, p)
        if not (s == 0).any() or not (s > 0).any():
            continue
        batches += 1
        a_plug = allocate(allocator, s, 8, 1440)
        a_hora = allocate("hora", s, 8, 1440)
        starved += int(a_plug[s == 0].sum() == 0)
        reached += int(np.all(a_hora[s == 0] > 0))
        hits_plugin += float(np.sum(1 - (1 - p[s == 0]) ** a_plug[s == 0]))
        hits_hora += float(np.sum(1 - (1 - p[s == 0]) ** a_hora[s == 0]))
    ok = starved == batches and reached == batches
    return Result(
        expected="plug-in gives 0 rollouts to s = 0 prompts in 100% of batches; the posterior gives every one "
        "of them > 0",
        observed=(
            f"plug-in starved s = 0 prompts in {starved}/{batches} batches; hora reached all of them in "
            f"{reached}/{batches}; expected hits on s = 0 prompts per batch: plug-in "
            f"{hits_plugin / batches:.2f}, "
            f"hora {hits_hora / batches:.2f}"
        ),
        verdict="reproduced" if ok else "not_reproduced",
        details={"batches": batches, "starved": starved, "reached": reached},
    )
