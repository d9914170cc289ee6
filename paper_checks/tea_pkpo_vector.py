"""PKPO's binary test vector: n = 4, c = 2, k = 2 gives advantages +-1/12 after centering."""

import numpy as np

from simalloc.estimators.bon import pkpo_advantages

from ._harness import Result

PAPER = "PKPO (arXiv 2505.15201)"
CLAIM = "Pass@k policy optimization: per-sample max@k weights for binary rewards; n = 4, c = 2, k = 2 gives +-1/12 once centered."
SOURCE = "the per-sample weight construction (worked example)"
SETTING = "rewards (1, 1, 0, 0), k = 2"
TOLERANCE = "1e-12: a closed form"
USES_SIMULATOR = False


def run(full=False, out=None, rewards=(1.0, 1.0, 0.0, 0.0)):
    adv = pkpo_advantages([list(rewards)], 2)[0]
    ok = np.allclose(adv, [1 / 12, 1 / 12, -1 / 12, -1 / 12], atol=1e-12)
    return Result(expected="(+1/12, +1/12, -1/12, -1/12)", observed=str(np.round(adv, 6).tolist()),
                  verdict="reproduced" if ok else "not_reproduced")
