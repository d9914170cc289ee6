"""OptPO: BSPRT-stopped voting saves tokens versus TTRL's fixed 64 votes at comparable accuracy (MATH-500)."""

from . import _optpo

PAPER = "OptPO (arXiv 2512.02882)"
CLAIM = ("The method achieved substantial token savings of approximately 20% on MATH-500 while maintaining "
         "competitive performance.")
SOURCE = "Abstract and results (seed summary 000)"
SETTING = _optpo.SETTING.format(preset="math500-like")
TOLERANCE = _optpo.TOLERANCE
USES_SIMULATOR = True
READINGS = _optpo.READINGS


def run(full=False, out=None, reading="observed/c5/v1", rule=None):
    return _optpo.verdict("math500-like", 0.20, full, reading, rule)
