"""HORA Sec. 4.2 / Fig. 5: learned priors give no consistent gain over the fixed uniform prior."""

from ._harness import WORLDS, Result, final_metric, paired

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("We also consider the prompt-conditioned learned priors in Section 4.2, but these variants do not provide "
         "consistent gains in our experiments.")
SOURCE = "Sec. 4.2 'Prior design', Fig. 5, Appendix F"
SETTING = ("simulator, the four difficulty worlds at Zipf 1.5; hora with per-prompt priors Beta(mu c, (1-mu) c), c = "
           "4, "
           "from a GP on synthetic prompt embeddings (VIP's predictor) and from a noisy oracle (logit noise 0.5), vs "
           "hora's fixed Beta(1, 1); paired replicates; Pass@256")
TOLERANCE = "a consistent gain = a paired Pass@256 gain above 2 standard errors in every world"
USES_SIMULATOR = True


def run(full=False, out=None, arms=("hora:gp", "hora:oracle"), reference="hora"):
    consistent, parts = [], []
    for arm in arms:
        diffs = [paired(final_metric(full, arm, "pass@256", w), final_metric(full, reference, "pass@256", w))
                 for w in WORLDS.values()]
        if all(d > 2 * se for d, se in diffs):
            consistent.append(arm)
        parts.append(f"{arm}: " + ", ".join(f"{d:+.4f}±{se:.4f}" for d, se in diffs))
    return Result(
        expected="no learned prior gains significantly in every world",
        observed=f"consistent gains: {consistent or 'none'} ({'; '.join(parts)})",
        verdict="reproduced" if not consistent else "not_reproduced",
        details={"consistent": consistent},
    )
