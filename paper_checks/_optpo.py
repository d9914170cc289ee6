"""Shared computation of the OptPO token-savings checks: BSPRT in each reading vs fixed 64-vote majority."""

from functools import lru_cache

import numpy as np

from simalloc.stopping import BSPRT_READINGS, make_rule, run_rule
from simalloc.worlds.votes import VOTE_PRESETS

from ._harness import Result

#: every reading of BSPRT's unpublished details is a check row of its own (none tuned to the paper)
READINGS = BSPRT_READINGS

SETTING = ("simulator: the '{preset}' vote world (simalloc.worlds.votes: many distinct wrong strings), BSPRT with "
           "alpha = beta = 0.05, cap 64, degradation 0.6 and this row's reading of the unpublished choices (p1 "
           "normaliser / consistency checks c / minimum votes v, see simalloc.stopping.BSPRT_READINGS) vs fixed "
           "64-vote majority on the same prompts; tokens from the world's length model; label accuracy of the "
           "pseudo-label")
TOLERANCE = ("savings within 10 points of the claim, and label accuracy no more than 1 point below fixed-64 (the "
             "paper's 'competitive performance'); partial when accuracy holds and savings exceed 5% but miss the "
             "claim: the vote world is a stand-in for the benchmark, so only the order of magnitude is meaningful")


@lru_cache(maxsize=None)
def _prompts_and_base(preset: str, full: bool):
    """The prompts and the fixed-64 baseline, shared by every reading of a preset (common random numbers)."""
    world = VOTE_PRESETS[preset]
    n = 100_000 if full else 20_000
    probs = world.sample(n, np.random.default_rng(11))
    return probs, run_rule(make_rule("fixed"), probs, np.random.default_rng(12), world=world)


@lru_cache(maxsize=None)
def _savings(preset: str, full: bool, params: tuple):
    world = VOTE_PRESETS[preset]
    probs, base = _prompts_and_base(preset, full)
    n = probs.shape[0]
    rule = make_rule("fixed") if params == ("fixed",) else make_rule("bsprt", **dict(params))
    cand = run_rule(rule, probs, np.random.default_rng(12), world=world)
    saved = 1 - cand["tokens"].sum() / base["tokens"].sum()
    d = cand["correct"].astype(float) - base["correct"].astype(float)
    return saved, float(d.mean()), float(d.std(ddof=1) / np.sqrt(n))


def verdict(preset: str, claimed: float, full: bool, reading: str, rule=None) -> Result:
    """``rule="fixed"`` swaps BSPRT for fixed-64 itself (a mutation: it must save nothing)."""
    if reading not in READINGS:
        raise ValueError(f"reading: unknown {reading!r}; valid: {', '.join(READINGS)}")
    params = ("fixed",) if rule == "fixed" else tuple(sorted(READINGS[reading].items()))
    saved, dacc, se = _savings(preset, full, params)
    comparable = dacc >= -0.01
    if comparable and abs(saved - claimed) <= 0.10:
        v = "reproduced"
    elif comparable and saved > 0.05:
        v = "partial"
    else:
        v = "not_reproduced"
    return Result(
        expected=f"token savings {claimed:.0%} +- 10 points vs fixed-64 majority, label accuracy within 1 point",
        observed=f"BSPRT [{reading}] saves {saved:.1%} of tokens; label accuracy {dacc:+.4f} ± {se:.4f} vs fixed-64",
        verdict=v,
        details={"savings": saved, "accuracy_diff": dacc, "accuracy_diff_se": se, "reading": reading},
    )
