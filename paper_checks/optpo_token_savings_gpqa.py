"""OptPO: BSPRT-stopped voting saves tokens versus TTRL's fixed 64 votes at comparable accuracy (GPQA)."""

from ._optpo import verdict

PAPER = "OptPO (arXiv 2512.02882)"
CLAIM = ("The method achieved substantial token savings of approximately 51% on GPQA while maintaining "
         "competitive performance.")
SOURCE = "Abstract and results (seed summary 000)"
SETTING = ("simulator: the 'gpqa-like' vote world (see simalloc.worlds.votes), BSPRT as this project reads it (alpha = beta = "
           "0.05, cap 64, 5 consecutive confirmations, degradation 0.6) vs fixed 64-vote majority on the same prompts; "
           "tokens from the world's length model; label accuracy of the pseudo-label")
TOLERANCE = ("savings within 10 points of the claim, and label accuracy no more than 1 point below fixed-64: the vote "
             "world is a stylized stand-in for the benchmark, so only the order of magnitude is meaningful")
USES_SIMULATOR = True


def run(full=False, out=None, rule="bsprt"):
    return verdict("gpqa-like", 0.51, full, rule)
