"""HORA Sec. 4.1 / App. E: HORA maintains a heavier entropy tail than compute-matched GRPO."""

from ._harness import Result, final_metric, paired

PAPER = "HORA (arXiv 2605.07114)"
CLAIM = ("HORA also produces longer responses on average and maintains a heavier entropy tail than GRPO, suggesting "
         "that the allocation policy preserves more exploratory sampling behavior.")
SOURCE = "Sec. 4.1, Appendix E (Fig. 9)"
SETTING = ("simulator, hora_vs_grpo setting; entropy (nats) of the shared strategy distribution after training, HORA "
           "minus GRPO on paired replicates (the simulator has no tokens or lengths: only the entropy half is checked)")
TOLERANCE = ("'higher' = paired mean difference >= 0.02 nats (about 2% of GRPO's ~0.9) and >= 2 se; partial if only "
             "one holds. Note: in this simulator a lower learning rate also keeps entropy higher, and HORA's frontier "
             "gain is ~0 (README), so a reproduced verdict is not evidence for the paper's mechanism")
USES_SIMULATOR = True


def run(full=False, out=None, arm="hora", reference="uniform"):
    mean, se = paired(final_metric(full, arm, "entropy"), final_metric(full, reference, "entropy"))
    big, sure = mean >= 0.02, mean > 2 * se
    verdict = "reproduced" if big and sure else ("partial" if big or sure else "not_reproduced")
    return Result(
        expected="entropy(HORA) - entropy(GRPO) >= 0.02 nats and >= 2 se",
        observed=f"{arm} - {reference}: {mean:+.4f} +- {se:.4f} nats after training",
        verdict=verdict,
        details={"difference": mean, "se": se},
    )
