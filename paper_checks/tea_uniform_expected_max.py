"""Truth check: Uniform(0, 1) rewards have E[M_N] = N/(N+1); the reward-tail worlds' quadrature must agree."""

from simalloc.worlds.tails import make_tail_world

from ._harness import Result

PAPER = "TEA (arXiv 2605.10716)"
CLAIM = "The best-of-N objective E[M_N]; for Uniform(0, 1) rewards it equals N/(N + 1)."
SOURCE = "truth check: Uniform(0, 1) rewards, E[M_N] = N / (N + 1)"
SETTING = "simalloc's quadrature of E[M_N] = int (1 - F^N) for Uniform(0,1), N = 1..1024, against N/(N+1)"
TOLERANCE = "1e-9 absolute: adaptive quadrature at 1e-12 tolerance"
USES_SIMULATOR = False


def run(full=False, out=None, closed_form=lambda n: n / (n + 1)):
    world = make_tail_world("uniform")
    ns = list(range(1, 1025)) if full else [1, 2, 3, 5, 16, 64, 256, 1024]
    worst = max(abs(world._quadrature_max(n) - closed_form(n)) for n in ns)
    return Result(
        expected="|quadrature - N/(N+1)| <= 1e-9 for every N",
        observed=f"max error {worst:.1e} over {len(ns)} N",
        verdict="reproduced" if worst <= 1e-9 else "not_reproduced",
    )
