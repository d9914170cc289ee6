"""One parameter step from a batch: advantages, aggregation, the policy gradient, clipping, the optimizer.

Advantages: group-mean or leave-one-out baseline, then TRL's ``scale_rewards`` (group / batch / none); groups of
size 1 or without spread give no signal. Aggregation: every rollout weighted 1/N (``"rollout"``, TRL's sequence-
level weighting) or each prompt's group mean (``"prompt"``). Gradient: sampled (each rollout's strategy drawn,
the default) or Rao-Blackwellised. Optimizer: Adam (torch's defaults) or SGD on the batch-mean gradient, clipped
to ``max_grad_norm`` first (0: no clipping).

Per-rollout score noise (``rollout_noise`` sigma, v3): each rollout's score function gets an independent
N(0, sigma^2 I) over the parameters, so group i (advantage weights a/s per success, -a/f per failure) adds
N(0, sigma^2 a^2 (1/s + 1/f) I): the part of an LLM's per-token gradients its outcome does not explain, which more
rollouts average out and the strategy-level gradient alone cannot show. Every step draws the groups' summed noise
as one Gaussian of their total variance. On steps that measure the gradient SNR (``simalloc.train.snr``) every
group's gradient is computed on its own with the same draws, and the summed noise is split among the groups by
Gaussian conditioning (parts drawn from a separate stream, ``snr_rng``, given their sum): measuring changes neither
the step nor any later draw.
"""

from __future__ import annotations

import copy

import numpy as np

from ..estimators.advantages import LOSS_CODES, binary_advantage_masses
from .config import UpdateSpec
from .snr import SNRAccumulator, group_weights

__all__ = ["advantage_masses", "coefficients", "Adam", "clip_by_norm", "Updater"]


def advantage_masses(successes, sizes, loss: str, scale_rewards: str, eps: float) -> np.ndarray:
    """a_i = the sum of the successful rollouts' advantages in each binary group (= minus the failures').

    Baseline: group mean ("grpo", "dr_grpo": a = s f / n) or leave-one-out ("rloo": a = s f / (n - 1)), f = n - s;
    then TRL's scale_rewards: "group" divides by the group's reward std (Bessel: sqrt(s f / (n (n - 1)))) + eps,
    "batch" by the std of every reward in the batch (Bessel) + eps, "none" leaves it. 0 for groups without spread.

    Parameters
    ----------
    successes, sizes : array_like of int
        Each group's successes and rollouts.
    loss : {"grpo", "dr_grpo", "rloo"}
        The baseline.
    scale_rewards : {"group", "batch", "none"}
        TRL's reward scaling.
    eps : float
        The std offset (TRL: 1e-4).

    Returns
    -------
    ndarray of float64
        One mass per group.

    References
    ----------
    DeepSeekMath, arXiv 2402.03300 (GRPO); Dr. GRPO, arXiv 2503.20783; W. Kool et al., "Buy 4 REINFORCE samples,
    get a baseline for free!", 2019 (RLOO); TRL's GRPOTrainer (scale_rewards).
    """
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    successes = np.ascontiguousarray(successes, dtype=np.int64)
    code = LOSS_CODES["rloo" if loss == "rloo" else "dr_grpo"]
    base = binary_advantage_masses(successes, sizes, code, eps, np.empty(sizes.size))
    if scale_rewards == "group":
        f = (sizes - successes).astype(np.float64)
        with np.errstate(invalid="ignore"):  # empty groups: 0 / 0 in the branch np.where discards
            std = np.sqrt(np.where(sizes > 1, successes * f / (sizes * np.maximum(sizes - 1.0, 1.0)), 0.0))
        return base / (std + eps)
    if scale_rewards == "batch":
        n, total = float(sizes.sum()), float(successes.sum())
        std = np.sqrt((total - total * total / n) / (n - 1.0)) if n > 1 else 0.0
        return base / (std + eps)
    return base


def coefficients(mass: np.ndarray, sizes: np.ndarray, aggregation: str) -> np.ndarray:
    """Per-prompt gradient coefficients: mass / G_i ("prompt": each group's mean) or mass / mean(G) ("rollout":
    every rollout 1/N, N = n_prompts mean(G)).

    Parameters
    ----------
    mass : ndarray
        ``advantage_masses``.
    sizes : ndarray of int
        Each group's rollouts.
    aggregation : {"prompt", "rollout"}
        How the policy-gradient terms are averaged.

    Returns
    -------
    ndarray of float64
    """
    if aggregation == "prompt":
        return mass / np.maximum(sizes, 1)
    return mass / max(float(sizes.mean()), 1.0) if sizes.size else mass


class Adam:
    """Adam (Kingma & Ba 2015; torch.optim.Adam's defaults) for gradient *ascent*: m = b1 m + (1 - b1) g,
    v = b2 v + (1 - b2) g^2, step = lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

    Parameters
    ----------
    size : int
        The number of parameters.
    beta1, beta2, eps : float
        As torch.optim.Adam (0.9, 0.999, 1e-8).

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015, Algorithm 1.
    """

    def __init__(self, size: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.m, self.v, self.t = np.zeros(size), np.zeros(size), 0
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, g: np.ndarray, lr: float) -> np.ndarray:
        """The parameter change for gradient ``g`` at learning rate ``lr`` (updates the moments)."""
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        return lr * m_hat / (np.sqrt(v_hat) + self.eps)


def clip_by_norm(g: np.ndarray, max_norm: float) -> tuple[np.ndarray, float]:
    """(g scaled to L2 norm ``max_norm`` if it is longer, as torch's clip_grad_norm_; its norm before clipping).

    Parameters
    ----------
    g : ndarray
        The gradient.
    max_norm : float
        The largest L2 norm; 0 or less leaves ``g`` unchanged.

    Returns
    -------
    g : ndarray
        The clipped gradient.
    norm : float
        ``g``'s L2 norm before clipping.
    """
    norm = float(np.sqrt(np.dot(g, g)))
    if max_norm > 0 and norm > max_norm:
        g = g * (max_norm / norm)
    return g, norm


class Updater:
    """Applies one step per batch to a policy (the module docstring): holds the optimizer's state.

    Parameters
    ----------
    spec : UpdateSpec
        The update settings.
    n_params : int
        The policy's parameters (Adam's state size).
    n_prompts : int
        Prompts per step: the summed gradient is divided by the step's prompt count, n_prompts at least (a
        ``p<m>`` arm's step holds m n_prompts prompts; a dynamic-sampling or peer step that kept fewer groups is
        still divided by n_prompts).
    """

    def __init__(self, spec: UpdateSpec, n_params: int, n_prompts: int):
        self.spec, self.n_prompts = spec, n_prompts
        self.adam = Adam(n_params) if spec.optimizer == "adam" else None

    def step(self, policy, batch, lr: float, rng, recording: bool, noise_rng=None,
             measure_snr: bool = False, snr_rng=None) -> tuple[float, float, float, float]:
        """Update ``policy`` from ``batch`` at learning rate ``lr``.

        Returns (the summed gradient's L2 norm, the sampled gradient's noise ||g - g_RB||^2 / ||g_RB||^2 when
        ``recording``, the gradient SNR and noise scale when ``measure_snr`` (``simalloc.train.snr``)); NaN for
        what is not measured. ``noise_rng`` draws the per-rollout score noise (needed when rollout_noise > 0),
        ``snr_rng`` its split among groups on measured steps.
        """
        spec, n = self.spec, self._divisor(batch)
        sizes = np.ascontiguousarray(batch.sizes, dtype=np.int64)
        successes = np.ascontiguousarray(batch.successes, dtype=np.int64)
        mass = advantage_masses(successes, sizes, spec.loss, spec.scale_rewards, spec.advantage_eps)
        coef = coefficients(mass, sizes, spec.aggregation)
        if not batch.idx.size:
            return 0.0, np.nan, np.nan, np.nan
        sigma = spec.rollout_noise
        if sigma > 0 and (noise_rng is None or (measure_snr and snr_rng is None)):
            raise ValueError("noise_rng, snr_rng: needed when rollout_noise > 0")
        if (spec.gradient == "rao_blackwell" and spec.optimizer == "sgd" and spec.max_grad_norm == 0 and sigma == 0
                and not measure_snr):
            return policy.update(batch.idx, batch.p, coef, lr / n), np.nan, np.nan, np.nan  # plain SGD, summed
        noise = snr = scale = np.nan
        var = self._noise_var(successes, sizes, coef) if sigma > 0 else None
        if measure_snr:
            g, snr, scale = self._measured(policy, batch, successes, sizes, coef, rng, noise_rng, var, snr_rng)
        else:
            if spec.gradient == "sampled":
                g = policy.sampled_gradient(batch.idx, successes, sizes, coef, rng)
            else:
                g = policy.gradient(batch.idx, batch.p, coef)
            if var is not None:  # the groups' independent Gaussians summed: one draw of their total variance
                g = g + np.sqrt(np.sum(var)) * noise_rng.standard_normal(g.size)
        if recording and spec.gradient == "sampled":  # the sampling noise relative to the conditional mean
            g_rb = policy.gradient(batch.idx, batch.p, coef)
            den = float(np.dot(g_rb, g_rb))
            noise = float(np.dot(g - g_rb, g - g_rb) / den) if den > 0 else np.nan
        g, mean_norm = clip_by_norm(g / n, spec.max_grad_norm)
        policy.apply(lr * g if spec.optimizer == "sgd" else self.adam.step(g, lr))
        return mean_norm * n, noise, snr, scale  # the grad_norm column: the summed gradient's norm

    def _noise_var(self, successes, sizes, coef) -> np.ndarray:
        """sigma^2 a_i^2 (1/s_i + 1/f_i) per group (0 without spread: every advantage is 0)."""
        f = sizes - successes
        ok = (successes > 0) & (f > 0) & (coef != 0)
        inv = np.where(ok, 1.0 / np.maximum(successes, 1) + 1.0 / np.maximum(f, 1), 0.0)
        return self.spec.rollout_noise ** 2 * coef ** 2 * inv

    def _group_part(self, policy, batch, successes, sizes, coef, rng, r) -> np.ndarray:
        """Group r's part of the summed gradient (the same draws as one batched call, groups taken in order)."""
        sl = slice(r, r + 1)
        if self.spec.gradient == "sampled":
            return policy.sampled_gradient(batch.idx[sl], successes[sl], sizes[sl], coef[sl], rng)
        return policy.gradient(batch.idx[sl], batch.p[sl], coef[sl])

    def _divisor(self, batch) -> int:
        """What the summed gradient is divided by: the step's prompt count, n_prompts at least (class docstring)."""
        return max(self.n_prompts, batch.idx.size)

    def _measured(self, policy, batch, successes, sizes, coef, rng, noise_rng, var, snr_rng):
        """The summed gradient computed group by group, and its SNR from the groups' own-loss gradients (part of
        the batch-mean gradient over the weight w_i), streamed (``SNRAccumulator``: memory of a few parameter
        vectors, whatever the batch). The groups' parts are computed twice from the same random state (once for
        their sum, which the step uses, once for the SNR); the noise is one draw of the total, as an unmeasured
        step, split among the groups by ``_split_gaussian``."""
        n = batch.idx.size
        used = np.flatnonzero(sizes > 0)
        w = np.zeros(n)
        w[used] = group_weights(sizes[used], self.spec.aggregation)
        state = copy.deepcopy(rng.bit_generator.state)
        g = np.zeros(policy.n_params)
        for r in range(n):
            g += self._group_part(policy, batch, successes, sizes, coef, rng, r)
        end = copy.deepcopy(rng.bit_generator.state)
        rng.bit_generator.state = state  # the second pass redraws the same strategies
        noise = None
        if var is not None:
            total = np.sqrt(np.sum(var)) * noise_rng.standard_normal(g.size)
            g = g + total
            noise = _split_gaussian(total, var, snr_rng)
        acc = SNRAccumulator(g.size)
        for r in range(n):
            part = self._group_part(policy, batch, successes, sizes, coef, rng, r)
            if noise is not None:
                part = part + next(noise)
            if sizes[r] > 0:
                acc.add(part / self._divisor(batch) / w[r], w[r])
        rng.bit_generator.state = end
        snr, scale = acc.result()
        return g, snr, scale


def _split_gaussian(total: np.ndarray, var: np.ndarray, rng):
    """Yield parts x_i ~ N(0, var_i I), independent, drawn given their sum ``total``, one at a time:
    x_i = z_i + (var_i / sum var) (total - sum_j z_j) with z_i ~ N(0, var_i I) (Gaussian conditioning; the parts
    sum to ``total`` and have the right joint law). The z_i are drawn twice from the same state of ``rng`` (once for
    their sum, once per part), so memory stays at a few vectors; ``rng`` ends where one pass leaves it. Groups with
    var_i = 0 get 0."""
    sd = np.sqrt(var)
    start = copy.deepcopy(rng.bit_generator.state)
    z_sum = np.zeros(total.size)
    for s in sd:
        z_sum += s * rng.standard_normal(total.size)
    rng.bit_generator.state = start
    shift = total - z_sum
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    for s, c in zip(sd, share):
        yield s * rng.standard_normal(total.size) + c * shift
