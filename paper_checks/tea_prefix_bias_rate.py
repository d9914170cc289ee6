"""TEA: the prefix-debiased estimator's gradient bias falls faster with m than the direct tail extrapolation's."""

import numpy as np

from simalloc.sim.bon import SoftmaxToy, gradient_diagnostics
from simalloc.worlds.tails import make_tail_world

from ._harness import Result

PAPER = "TEA / Prefix-TEA (arXiv 2605.10716)"
CLAIM = "The prefix variant reduces the bias of tail-extrapolated best-of-N advantages; its gradient bias falls faster with m."
SOURCE = "Prefix-TEA (seed summary 004); the exact estimators are not public"
SETTING = ("exact-gradient toy: softmax over 100 responses with N(0,1) rewards, BoN(256) gradient; this project's "
           "construction: GPD peaks-over-threshold advantages (direct) and their Richardson prefix combination "
           "2 A(m) - A(m/2) (prefix); relative gradient bias (Monte Carlo noise subtracted) at m = 8, 16, 32, 64")
TOLERANCE = ("'falls faster' = the log-log slope of bias vs m is more negative for the prefix variant by at least 0.2, "
             "and its bias at m = 64 is not larger; partial if only the bias at m = 64 is smaller")
USES_SIMULATOR = True


def run(full=False, out=None, direct="tail_direct", candidate="tail_prefix"):
    toy = SoftmaxToy(make_tail_world("gaussian").sample(100, np.random.default_rng(0)))
    ms = [8, 16, 32, 64]
    d = gradient_diagnostics(toy, ms, 256, 4000 if full else 1500, np.random.default_rng(1), estimators=[direct, candidate])
    slopes, last = {}, {}
    for est in (direct, candidate):
        e = d[d.estimator == est].sort_values("m")
        bias = np.maximum(e.rel_bias.to_numpy(), 1e-6)
        slopes[est] = float(np.polyfit(np.log(e.m), np.log(bias), 1)[0])
        last[est] = float(bias[-1])
    faster = slopes[candidate] <= slopes[direct] - 0.2
    smaller = last[candidate] <= last[direct]
    verdict = "reproduced" if faster and smaller else ("partial" if smaller else "not_reproduced")
    text = "; ".join(f"{est}: " + ", ".join(f"m={int(m)}: {b:.3f}" for m, b in
                     zip(d[d.estimator == est].m, d[d.estimator == est].rel_bias)) for est in (direct, candidate))
    return Result(
        expected="prefix slope <= direct slope - 0.2 and prefix bias at m = 64 <= direct bias",
        observed=f"log-log slopes: direct {slopes[direct]:.2f}, prefix {slopes[candidate]:.2f}; relative bias {text}",
        verdict=verdict,
        details={"slopes": slopes, "bias_m64": last},
    )
