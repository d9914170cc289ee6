"""Shared computation of the two OptPO token-savings checks (BSPRT vs fixed 64-vote majority)."""

from functools import lru_cache

import numpy as np

from simalloc.stopping import make_rule, run_rule
from simalloc.worlds.votes import VOTE_PRESETS

from ._harness import Result


@lru_cache(maxsize=None)
def savings(preset: str, full: bool, rule: str = "bsprt"):
    world = VOTE_PRESETS[preset]
    n = 100_000 if full else 20_000
    probs = world.sample(n, np.random.default_rng(11))
    base = run_rule(make_rule("fixed"), probs, np.random.default_rng(12), world=world)
    cand = run_rule(make_rule(rule), probs, np.random.default_rng(12), world=world)
    saved = 1 - cand["tokens"].sum() / base["tokens"].sum()
    d = cand["correct"].astype(float) - base["correct"].astype(float)
    return saved, float(d.mean()), float(d.std(ddof=1) / np.sqrt(n))


def verdict(preset: str, claimed: float, full: bool, rule: str) -> Result:
    saved, dacc, se = savings(preset, full, rule)
    comparable = dacc >= -0.01
    if comparable and abs(saved - claimed) <= 0.10:
        v = "reproduced"
    elif comparable and saved > 0.05:
        v = "partial"
    else:
        v = "not_reproduced"
    return Result(
        expected=f"token savings {claimed:.0%} +- 10 points vs fixed-64 majority, label accuracy within 1 point",
        observed=f"{rule} saves {saved:.1%} of tokens; label accuracy {dacc:+.4f} ± {se:.4f} vs fixed-64",
        verdict=v,
        details={"savings": saved, "accuracy_diff": dacc},
    )
