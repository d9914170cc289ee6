"""The gradient signal-to-noise ratio of a GRPO step, one definition for the simulator and the lab.

A step's gradient is a weighted mean of per-group gradients, g = sum_i w_i g_i, g_i the gradient of group i's own
loss and w_i its weight in the batch loss (n_i / N for TRL's rollout aggregation, 1 / n_groups per prompt).
Treating the groups as independent draws, V = n / (n - 1) sum_i w_i^2 ||g_i - g||^2 estimates Var(g) =
E||g - E g||^2, and since E||g||^2 = ||E g||^2 + Var(g),

    SNR = (||g||^2 - V) / V,        noise scale B = tr(Sigma) / ||g_bar||^2,

with Sigma and g_bar the unweighted covariance (ddof 1) and mean of the g_i. The SNR's numerator estimates the
squared norm of the expected step (signal) without the noise's own share, so one step's value can be negative;
SNR < 1 means a step's direction is mostly noise, and doubling the independent groups of a step doubles it. B is
the batch size, in groups, at which the noise equals the signal (McCandlish et al. 2018, "An empirical model of
large-batch training", B_simple; a plug-in, biased low when the noise dominates ||g_bar||^2). The noise counts
both the draw of the batch's prompts and the draw of each group's rollouts: doubling every group's rollouts
removes only the second.
"""

from __future__ import annotations

import numpy as np

__all__ = ["snr_from_group_gradients", "group_weights", "SNRAccumulator"]


def group_weights(sizes, aggregation: str) -> np.ndarray:
    """Each group's weight w_i in the batch loss: n_i / N ("rollout") or 1 / n_groups ("prompt").

    Parameters
    ----------
    sizes : array_like of int
        The groups' rollouts (only groups with at least one rollout are passed).
    aggregation : {"rollout", "prompt"}
        How the batch loss averages rollouts (``TrainConfig.aggregation``).

    Returns
    -------
    ndarray of float64, summing to 1.

    Examples
    --------
    >>> group_weights([2, 6], "rollout").tolist(), group_weights([2, 6], "prompt").tolist()
    ([0.25, 0.75], [0.5, 0.5])
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if aggregation == "prompt":
        return np.full(sizes.size, 1.0 / sizes.size)
    return sizes / sizes.sum()


def snr_from_group_gradients(grads, weights) -> tuple[float, float]:
    """(SNR, noise scale B) of the step whose gradient is sum_i weights_i grads_i (module docstring).

    Parameters
    ----------
    grads : array_like, shape (n_groups, n_params)
        Each group's own-loss gradient g_i (zeros for a group without reward spread).
    weights : array_like, shape (n_groups,)
        w_i (``group_weights``).

    Returns
    -------
    snr, noise_scale : float
        NaN for fewer than two groups, no spread or a zero mean gradient.

    References
    ----------
    S. McCandlish, J. Kaplan, D. Amodei et al., "An empirical model of large-batch training", arXiv 1812.06162
    (2018), eq. 2.8 (B_simple).

    Examples
    --------
    >>> g = np.array([[1.0, 0.0], [3.0, 0.0]])  # mean (2, 0), deviations +-1
    >>> snr_from_group_gradients(g, [0.5, 0.5])  # ||g||^2 = 4; V = 2 (0.25 + 0.25) = 1: (4 - 1) / 1; B = 2 / 4
    (3.0, 0.5)
    """
    grads = np.asarray(grads, dtype=np.float64)
    acc = SNRAccumulator(grads.shape[1])
    for g_i, w_i in zip(grads, np.asarray(weights, dtype=np.float64)):
        acc.add(g_i, float(w_i))
    return acc.result()


class SNRAccumulator:
    """``snr_from_group_gradients`` without holding the group gradients: add them one at a time (memory of two
    parameter vectors, whatever the number of groups).

    With ||g_i - g||^2 = ||g_i||^2 - 2 g_i . g + ||g||^2, V = n / (n - 1) (sum w_i^2 ||g_i||^2 - 2 g . sum w_i^2 g_i
    + ||g||^2 sum w_i^2), and the spread sum ||g_i - g_bar||^2 = sum ||g_i||^2 - n ||g_bar||^2.

    Parameters
    ----------
    size : int
        The number of parameters (the length of every g_i).

    Attributes
    ----------
    n : int
        Groups added so far.

    References
    ----------
    S. McCandlish et al., "An empirical model of large-batch training", arXiv 1812.06162 (2018).

    Examples
    --------
    >>> acc = SNRAccumulator(2)
    >>> acc.add(np.array([1.0, 0.0]), 0.5); acc.add(np.array([3.0, 0.0]), 0.5)
    >>> acc.result()  # as snr_from_group_gradients([[1, 0], [3, 0]], [0.5, 0.5])
    (3.0, 0.5)
    """

    def __init__(self, size: int):
        self.n = 0
        self.wg, self.w2g, self.g_sum = np.zeros(size), np.zeros(size), np.zeros(size)
        self.w2_sq = self.sq = self.w2 = 0.0

    def add(self, g_i: np.ndarray, w_i: float) -> None:
        """Add group i's own-loss gradient and its weight."""
        sq = float(g_i @ g_i)
        self.n += 1
        self.wg += w_i * g_i
        self.w2g += w_i * w_i * g_i
        self.g_sum += g_i
        self.w2_sq += w_i * w_i * sq
        self.sq += sq
        self.w2 += w_i * w_i

    def result(self) -> tuple[float, float]:
        """(SNR, noise scale) as ``snr_from_group_gradients``; NaN for fewer than two groups."""
        n = self.n
        if n < 2:
            return float("nan"), float("nan")
        g = self.wg
        signal = float(g @ g)
        var = n / (n - 1) * max(self.w2_sq - 2.0 * float(g @ self.w2g) + signal * self.w2, 0.0)
        g_bar = self.g_sum / n
        mean_sq = float(g_bar @ g_bar)
        spread = max(self.sq - n * mean_sq, 0.0) / (n - 1)
        snr = (signal - var) / var if var > 0 else float("nan")
        return float(snr), (spread / mean_sq if mean_sq > 0 else float("nan"))
