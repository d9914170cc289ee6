"""What an allocation does to a batch: the metrics ``advise`` predicts and ``replay`` observes, defined once.

For prompt i with pilot size t_i, pilot successes s_i, extra rollouts k_i and (for expectations) pass rate p_i:

- extra_hits: successes among the extra rollouts, sum_i k_i p_i;
- hits_unsolved: the same on prompts without a pilot success, sum_{s_i = 0} k_i p_i;
- solved: prompts with a success in the whole group, sum_i [s_i > 0] + [s_i = 0] (1 - (1 - p_i)^{k_i});
- informative: groups with both outcomes (a non-zero GRPO advantage),
  sum_i 1 - [s_i = 0] (1 - p_i)^{k_i} - [s_i = t_i] p_i^{k_i};
- no_signal_share: 1 - informative / n;
- zero_extra_share: the share of prompts given no extra rollout, mean_i [k_i = 0].

``expected_batch_metrics`` takes expectations over the extra rollouts given p exactly (Rao-Blackwellised);
``realized_batch_metrics`` counts what recorded rollouts did; ``simulate_batches`` averages the former over
batches drawn from a difficulty world, every allocator on the same draws (common random numbers).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BATCH_METRICS", "expected_batch_metrics", "realized_batch_metrics", "simulate_batches"]

BATCH_METRICS = ("extra_hits", "hits_unsolved", "solved", "informative", "no_signal_share", "zero_extra_share")


def expected_batch_metrics(p, s, trials, k) -> np.ndarray:
    """``BATCH_METRICS`` of one batch, expected over the extra rollouts given the pass rates ``p``.

    Parameters
    ----------
    p, s, trials, k : array_like, shape (n_prompts,)
        Pass rates, pilot successes, pilot sizes (a scalar broadcasts) and extra rollouts.

    Returns
    -------
    ndarray, shape (len(BATCH_METRICS),)

    Examples
    --------
    >>> expected_batch_metrics([0.5, 0.5], [0, 2], 2, [2, 0]).round(3).tolist()
    [1.0, 1.0, 1.75, 0.75, 0.625, 0.5]
    """
    p, s, k = np.asarray(p, float), np.asarray(s), np.asarray(k)
    t = np.broadcast_to(np.asarray(trials), s.shape)
    gain = k * p
    none = np.where(s == 0, (1.0 - p) ** k, 0.0)
    every = np.where(s == t, p ** k, 0.0)
    informative = float(np.sum(1.0 - none - every))
    return np.array([gain.sum(), gain[s == 0].sum(), np.sum(1.0 - none), informative, 1.0 - informative / p.size,
                     float(np.mean(k == 0))])


def realized_batch_metrics(s, extra, trials, k) -> np.ndarray:
    """``BATCH_METRICS`` of recorded rollouts: pilot successes ``s`` of ``trials``, ``extra`` successes among ``k``
    extra rollouts.

    Parameters
    ----------
    s : array_like of int
        Pilot successes per prompt.
    extra : array_like of int
        Successes among the extra rollouts.
    trials : int or array_like of int
        Pilot sizes.
    k : array_like of int
        Extra rollouts per prompt.

    Returns
    -------
    ndarray of float64, shape (len(BATCH_METRICS),)

    Examples
    --------
    >>> realized_batch_metrics([0, 2], [1, 0], 2, [2, 0]).tolist()
    [1.0, 1.0, 2.0, 1.0, 0.5, 0.5]
    """
    s, extra, k = np.asarray(s), np.asarray(extra), np.asarray(k)
    t = np.broadcast_to(np.asarray(trials), s.shape)
    final, size = s + extra, t + k
    informative = float(np.sum((final > 0) & (final < size)))
    return np.array([float(extra.sum()), float(extra[s == 0].sum()), float(np.sum(final > 0)), informative,
                     1.0 - informative / s.size, float(np.mean(k == 0))])


def simulate_batches(world, trials, budget: int, allocators, *, prior=(1.0, 1.0), cap=None, rng,
                     n_sim: int) -> np.ndarray:
    """Mean ``expected_batch_metrics`` of each allocator over ``n_sim`` batches drawn from ``world``.

    A batch has one prompt per entry of ``trials`` (each prompt's pilot size): p_i from the world, s_i ~
    Binomial(t_i, p_i), then each allocator splits ``budget`` (``allocate``; ``prior``, ``cap``). All allocators
    see the same draws.

    Parameters
    ----------
    world : DifficultyWorld
        Where pass rates come from.
    trials : array_like of int
        One pilot size per prompt of the batch.
    budget : int
        Extra rollouts per batch.
    allocators : sequence of str
        The allocators compared.
    prior : tuple, default (1.0, 1.0)
        The allocators' Beta prior.
    cap : None, int or array_like of int
        Per-prompt caps.
    rng : numpy.random.Generator
        The random state.
    n_sim : int
        Simulated batches.

    Returns
    -------
    ndarray of float64, shape (len(allocators), len(BATCH_METRICS))
    """
    from . import allocate

    trials = np.asarray(trials, dtype=np.int64)
    out = np.zeros((len(allocators), len(BATCH_METRICS)))
    for _ in range(n_sim):
        p = world.sample(trials.size, rng)
        s = rng.binomial(trials, p)
        for j, name in enumerate(allocators):
            k = allocate(name, s, trials, budget, prior=prior, cap=cap, rng=rng)
            out[j] += expected_batch_metrics(p, s, trials, k)
    return out / n_sim
