"""HORA Fig. 2: GRPO's Pass@k at large k drops below the base model; HORA's stays above."""

from ._harness import Result, final_metric, paired

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("While GRPO often drops below the Base model at large values of k, HORA consistently remains above it in "
         "representative 7B settings.")
SOURCE = "Fig. 2, Sec. 4.1"
SETTING = ("simulator, hora_vs_grpo setting (Beta(0.5, 0.5) world, Zipf 1.5 strategies, 60 prompts, G = 32, K0 = 8, "
           "Dr.GRPO); Pass@256 after training vs at step 0 (the base policy), per replicate")
TOLERANCE = "a change counts as a drop when its mean is below -2 standard errors over replicates"
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora", baseline="uniform"):
    start = final_metric(full, baseline, "pass@256", start=True)
    d_base, se_base = paired(final_metric(full, baseline, "pass@256"), start)
    d_arm, se_arm = paired(final_metric(full, arm, "pass@256"), start)
    gap, se_gap = paired(final_metric(full, arm, "pass@256"), final_metric(full, baseline, "pass@256"))
    base_drops = d_base < -2 * se_base
    arm_drops = d_arm < -2 * se_arm
    if base_drops and not arm_drops:
        verdict = "reproduced"
    elif base_drops and gap > 2 * se_gap:
        verdict = "partial"  # both fall below the base, HORA significantly less
    else:
        verdict = "not_reproduced"
    return Result(
        expected="GRPO's Pass@256 falls below the base policy's; HORA's does not",
        observed=(f"change from base: GRPO {d_base:+.4f}±{se_base:.4f}, HORA {d_arm:+.4f}±{se_arm:.4f}; "
                  f"HORA - GRPO {gap:+.4f}±{se_gap:.4f}"),
        verdict=verdict,
        details={"grpo_change": d_base, "hora_change": d_arm, "gap": gap},
    )
