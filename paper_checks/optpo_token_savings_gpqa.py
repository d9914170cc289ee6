"""OptPO: BSPRT-stopped voting saves tokens versus TTRL's fixed 64 votes at comparable accuracy (GPQA)."""

from . import _optpo

PAPER = "OptPO (arXiv 2512.02882)"
CLAIM = ("The method achieved substantial token savings of approximately 51% on GPQA while maintaining "
         "competitive performance.")
SOURCE = "Abstract and results (seed summary 000)"
SETTING = _optpo.SETTING.format(preset="gpqa-like")
TOLERANCE = _optpo.TOLERANCE
USES_SIMULATOR = True
READINGS = _optpo.READINGS


def run(full=False, out=None, reading="observed/c5/v1", rule=None):
    return _optpo.verdict("gpqa-like", 0.51, full, reading, rule)
