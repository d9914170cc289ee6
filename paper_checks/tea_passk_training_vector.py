"""Pass@k training's analytical advantages: n = 8, c = 2, k = 4 gives A_pos = 0.5222, A_neg = -0.1741."""


from simalloc.estimators.bon import passk_advantages

from ._harness import Result

PAPER = "Pass@k Training (arXiv 2508.10751)"
CLAIM = "Analytical group advantages for Pass@k training; with n = 8, c = 2, k = 4: A_pos = 0.5222 and A_neg = -0.1741."
SOURCE = "the analytical advantage formulas (worked example)"
SETTING = "binary rewards with 2 correct out of 8, k = 4"
TOLERANCE = "5e-5: the published values have 4 decimals"
USES_SIMULATOR = False


def run(full=False, out=None, k=4):
    adv = passk_advantages([[1, 1, 0, 0, 0, 0, 0, 0]], k)[0]
    ok = abs(adv[0] - 0.5222) <= 5e-5 and abs(adv[-1] + 0.1741) <= 5e-5
    return Result(expected="A_pos = 0.5222, A_neg = -0.1741", observed=f"A_pos = {adv[0]:.4f}, A_neg = {adv[-1]:.4f}",
                  verdict="reproduced" if ok else "not_reproduced")
