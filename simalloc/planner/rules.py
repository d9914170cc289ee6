"""Peer methods' rules, transcribed from their public code (one function per rule, pure, no state).

Each function cites the file it transcribes. Rewards are binary here (a rollout is a success or not), which is
what the simulator and the lab produce; where a rule reads a mean reward against a threshold the threshold is a
parameter with the public code's value as default.
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_choice, shown

__all__ = ["REINFORCE_ADA_CHOICES", "DARS_SCHEDULES", "reinforce_ada_finished", "reinforce_ada_keep",
           "speed_rl_qualified", "dars_extra", "greso_run_lengths", "greso_skip_probability", "greso_adapt",
           "mopps_update", "mopps_select", "pods_select"]

#: Reinforce-Ada's retirement rules (``algorithm.reinforce_ada_choice``)
REINFORCE_ADA_CHOICES = ("balanced", "positive_focused")
#: DARS's schedules: equal treatment (``schedule_ET``) and hardness weighting (``schedule_HW``)
DARS_SCHEDULES = ("et", "hw")


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {shown(value)}")
    return int(value)


def reinforce_ada_finished(pos: int, neg: int, keep: int, choice: str = "balanced") -> bool:
    """Whether Reinforce-Ada retires a prompt after seeing ``pos`` positives and ``neg`` negatives.

    "balanced": pos >= floor(keep / 2) and neg >= keep - floor(keep / 2); "positive_focused": pos >= 1.

    Parameters
    ----------
    pos, neg : int
        Positive and negative rollouts drawn so far for the prompt (all rounds).
    keep : int
        Rollouts kept per prompt for training (``rollout.n``; 4 in the public script).
    choice : {"balanced", "positive_focused"}
        The retirement rule.

    Returns
    -------
    bool

    References
    ----------
    RLHFlow/Reinforce-Ada, ``verl/trainer/ppo/ray_trainer.py``, ``_generate_multi_round_adaptive_downsampling``.
    """
    pos, neg, keep = _count("pos", pos), _count("neg", neg), _count("keep", keep)
    check_choice(choice, "choice", REINFORCE_ADA_CHOICES)
    if choice == "balanced":
        return pos >= keep // 2 and neg >= keep - keep // 2
    return pos >= 1


def reinforce_ada_keep(pos: int, neg: int, keep: int, choice: str = "balanced", finished: bool = True
                       ) -> tuple[int, int]:
    """(positives kept, negatives kept) for training from a prompt's ``pos`` / ``neg`` drawn rollouts.

    Retired prompts (``finished``): ``downsample_cache``: target_pos = min(keep // 2, pos), target_neg =
    min(keep - target_pos, neg), a shortfall filled from the positives first, else the negatives. Prompts still
    active after the last round (the fallback): take = min(keep, pos + neg); "positive_focused" aims at
    target_pos = max(min(ceil(keep pos / (pos + neg)), take - 1), 1), "balanced" keeps the loop's last targets
    (keep // 2 positives, keep - keep // 2 negatives); then the same shortfall filling up to ``take``.

    Parameters
    ----------
    pos, neg : int
        Positive and negative rollouts drawn for the prompt (all rounds).
    keep : int
        Rollouts kept per prompt (``rollout.n``).
    choice : {"balanced", "positive_focused"}
        The retirement rule.
    finished : bool, default True
        Whether the prompt was retired (else the fallback applies).

    Returns
    -------
    (int, int)

    References
    ----------
    RLHFlow/Reinforce-Ada, ``verl/trainer/ppo/ray_trainer.py`` (``downsample_cache`` and the fallback after the
    rounds).
    """
    pos, neg, keep = _count("pos", pos), _count("neg", neg), _count("keep", keep)
    check_choice(choice, "choice", REINFORCE_ADA_CHOICES)
    if finished:
        total = keep
        t_pos = min(keep // 2, pos)
        t_neg = min(keep - t_pos, neg)
    else:
        n_rows = pos + neg
        if n_rows == 0:
            return 0, 0
        total = min(keep, n_rows)
        if choice == "positive_focused":
            t_pos = max(min(math.ceil(pos / n_rows * keep), total - 1), 1)
            t_neg = total - t_pos
        else:
            t_pos, t_neg = keep // 2, keep - keep // 2
        t_pos, t_neg = min(pos, t_pos), min(neg, t_neg)
    if t_pos + t_neg < total:  # one kind is short: fill from the positives first, else the negatives
        if pos > t_pos:
            t_pos += min(pos - t_pos, total - t_pos - t_neg)
        elif neg > t_neg:
            t_neg += min(neg - t_neg, total - t_pos - t_neg)
    return t_pos, t_neg


def speed_rl_qualified(successes, trials) -> np.ndarray:
    """SPEED-RL's screen: a prompt qualifies for the second phase when its screening rewards have a positive std,
    i.e. 0 < successes < trials.

    Parameters
    ----------
    successes, trials : array_like of int
        Screening counts per prompt.

    Returns
    -------
    ndarray of bool

    References
    ----------
    Zanette-Labs/speed-rl, ``verl/trainer/ppo/data_controller.py``, ``DataController.update_prompts``
    (``std > 0``).
    """
    try:
        s, t = np.broadcast_arrays(np.asarray(successes, dtype=np.int64), np.asarray(trials, dtype=np.int64))
    except ValueError:
        raise ValueError("successes, trials: shapes do not broadcast") from None
    if np.any(s < 0) or np.any(s > t):
        raise ValueError("successes: expected 0 <= successes <= trials, elementwise")
    return (s > 0) & (s < t)


def dars_extra(acc, n: int, n_max: int, schedule: str = "et", std: bool = False) -> np.ndarray:
    """DARS's extra rollouts from a prompt's pilot accuracy ``acc`` over ``n`` rollouts.

    acc <= 1e-6 is read as 0.5 / n; acc >= 0.5 gets 0. With S = 2 acc (1 - acc) and peak A = n / 2 (``std``:
    S = 2 sqrt(acc (1 - acc)), A = n), delta = (A - n S) / S ("et") or (2 (1 - acc) A - n S) / S ("hw"), then
    min(ceil(delta), n_max - n).

    Parameters
    ----------
    acc : float or array_like
        Pilot accuracy in [0, 1].
    n : int
        Pilot rollouts per prompt (``rollout.n``).
    n_max : int
        The largest total per prompt (``algorithm.n_max``: 32 for ET, 64 for HW in the public scripts).
    schedule : {"et", "hw"}
        ``schedule_ET`` or ``schedule_HW``.
    std : bool, default False
        ``grpo_use_std``.

    Returns
    -------
    ndarray of int64

    References
    ----------
    yangzhch6/DARS, ``verl/verl/trainer/ppo/ray_dars_trainer.py``, ``schedule_ET`` and ``schedule_HW``.
    """
    check_choice(schedule, "schedule", DARS_SCHEDULES)
    n = _count("n", n)
    n_max = _count("n_max", n_max)
    if n < 1:
        raise ValueError(f"n: DARS needs a pilot of at least 1 rollout, got {n}")
    a = np.atleast_1d(np.asarray(acc, dtype=np.float64))
    if np.any(~np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise ValueError("acc: expected accuracies in [0, 1]")
    out = np.zeros(a.shape, dtype=np.int64)
    for i, x in np.ndenumerate(a):
        if x <= 1e-6:
            x = 0.5 / n
        if x >= 0.5:
            continue
        s = 2 * math.sqrt(x * (1 - x)) if std else 2 * x * (1 - x)
        peak = n if std else 0.5 * n
        delta = ((peak if schedule == "et" else 2 * (1 - x) * peak) - n * s) / s
        out[i] = min(math.ceil(delta), n_max - n)
    return out


def greso_run_lengths(trace, easy_threshold: float = 0.98, hard_threshold: float = 0.11) -> tuple[int, int]:
    """(easy run, hard run) of a prompt's reward trace (its mean reward each time it was rolled out, oldest
    first): the number of most recent entries >= ``easy_threshold`` (counted from the end, stopping at the first
    below it) and, when the last entry is <= ``hard_threshold``, the number of most recent entries <= it (else 0).

    Parameters
    ----------
    trace : sequence of float
        Mean rewards, oldest first.
    easy_threshold, hard_threshold : float
        GRESO's 0.98 ("all correct") and 0.11 ("too hard").

    Returns
    -------
    (int, int)

    References
    ----------
    Infini-AI-Lab/GRESO, ``verl/trainer/ttis/presampling_selector.py``, ``easy_probabilistic_skip`` and
    ``hard_probabilistic_skip``.
    """
    easy = 0
    for r in reversed(trace):
        if r < easy_threshold:
            break
        easy += 1
    hard = 0
    if len(trace) and trace[-1] <= hard_threshold:
        for r in reversed(trace):
            if r > hard_threshold:
                break
            hard += 1
    return easy, hard


def greso_skip_probability(easy_run: int, hard_run: int, p_easy: float, p_hard: float) -> tuple[float, float]:
    """GRESO's skip probabilities before rollout: 1 - max(p_easy^easy_run, 0.01) for the easy test, then (only if
    the prompt was not skipped as easy) 1 - max(p_hard^hard_run, 0.01) for the hard test; 0 for a run of 0.

    Parameters
    ----------
    easy_run, hard_run : int
        ``greso_run_lengths``.
    p_easy, p_hard : float
        The exploration probabilities (0.5 at the start in the public scripts, adapted by ``greso_adapt``).

    Returns
    -------
    (float, float)
        The easy test's and the hard test's skip probability; the prompt is skipped with probability
        e + (1 - e) h.

    References
    ----------
    Infini-AI-Lab/GRESO, ``verl/trainer/ttis/presampling_selector.py`` (``filter_examples_all_probabilistic``).
    """
    for name, v in (("p_easy", p_easy), ("p_hard", p_hard)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {shown(v)}")
    e = 1 - max(p_easy ** easy_run, 0.01) if easy_run > 0 else 0.0
    h = 1 - max(p_hard ** hard_run, 0.01) if hard_run > 0 else 0.0
    return e, h


def greso_adapt(p: float, ratio: float, target: float, min_p: float = 0.05, max_p: float = 0.95,
                step: float = 0.01) -> float:
    """GRESO's exploration update after a step: p - step (at least ``min_p``) when the observed zero-variance
    ratio is >= its target (filter more), else p + step (at most ``max_p``). The targets are
    ``target_zero_variance`` / 3 for easy and 2 ``target_zero_variance`` / 3 for hard prompts (0.25 in the scripts).

    Parameters
    ----------
    p : float
        p_easy or p_hard.
    ratio : float
        The step's share of rolled-out prompts that were all correct (easy) or too hard (hard).
    target : float
        Its target.
    min_p, max_p, step : float
        The public code's 0.05, 0.95, 0.01.

    Returns
    -------
    float

    References
    ----------
    Infini-AI-Lab/GRESO, ``verl/trainer/ppo/ray_trainer.py`` (the "adjust exploration factor" block).
    """
    return max(p - step, min_p) if ratio >= target else min(p + step, max_p)


def mopps_update(alpha, beta, successes, trials, decay: float, prior=(1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """MoPPS's posterior update of the prompts it trained on: alpha <- decay alpha + (1 - decay) alpha0 + s,
    beta <- decay beta + (1 - decay) beta0 + (n - s).

    Parameters
    ----------
    alpha, beta : array_like
        The prompts' current Beta parameters.
    successes, trials : array_like of int
        This step's counts (the code multiplies the mean reward by ``rollout.n``).
    decay : float
        ``bandit_decay_ratio`` in [0, 1] (0.5 in the public scripts; 1: no forgetting).
    prior : (float, float)
        (alpha0, beta0), default (1, 1).

    Returns
    -------
    (ndarray, ndarray)

    References
    ----------
    thu-rllab/MoPPS, ``recipe/ours/mopps.py``, ``PosteriorSampler.train``.
    """
    if not 0 <= decay <= 1:
        raise ValueError(f"decay: expected a value in [0, 1], got {shown(decay)}")
    a, b = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    s, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    if np.any(s < 0) or np.any(s > n):
        raise ValueError("successes: expected 0 <= successes <= trials")
    return decay * a + (1 - decay) * prior[0] + s, decay * b + (1 - decay) * prior[1] + (n - s)


def mopps_select(alpha, beta, n: int, rng, target: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """MoPPS's "topk" selection: draw r_i ~ Beta(alpha_i, beta_i) for every candidate and take the ``n`` with the
    smallest (r_i - target)^2 (ties by candidate order).

    Parameters
    ----------
    alpha, beta : array_like
        The candidates' Beta parameters.
    n : int
        Prompts to select (<= the number of candidates).
    rng : numpy.random.Generator
        The Thompson draws.
    target : float, default 0.5
        ``bandit_target_mean``.

    Returns
    -------
    (ndarray of int, ndarray)
        The selected candidates' positions and their draws.

    References
    ----------
    thu-rllab/MoPPS, ``recipe/ours/mopps.py``, ``PosteriorSampler.sample_batch`` (``sampling_strategy="topk"``).
    """
    a, b = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    if not 0 <= n <= a.size:
        raise ValueError(f"n: expected 0 <= n <= {a.size} candidates, got {n}")
    r = rng.beta(a, b)
    pick = np.argsort((r - target) ** 2, kind="stable")[:n]
    return pick, r[pick]


def pods_select(rewards, m: int) -> np.ndarray:
    """PODS's max-variance down-sampling: the m of n rollouts whose rewards have the largest variance.

    With rewards sorted, the optimum takes the i largest and the m - i smallest for some i (the paper's lemma);
    every i in 0..m is scored and the first best kept (largest rewards taken from the top of a stable descending
    sort, smallest from the bottom).

    Parameters
    ----------
    rewards : array_like
        The n rewards.
    m : int
        Rollouts kept, 1 <= m <= n.

    Returns
    -------
    ndarray of int
        Positions of the kept rollouts, sorted.

    References
    ----------
    Y. E. Xu et al., "Not all rollouts are useful: down-sampling rollouts in LLM reinforcement learning",
    arXiv 2504.13818 (PODS, max-variance down-sampling).
    """
    r = np.asarray(rewards, dtype=np.float64)
    if not 1 <= m <= r.size:
        raise ValueError(f"m: expected 1 <= m <= {r.size} rollouts, got {m}")
    order = np.argsort(-r, kind="stable")
    best, best_var = None, -1.0
    for i in range(m + 1):
        pick = np.concatenate([order[:i], order[r.size - (m - i):]]) if m - i else order[:i]
        var = float(np.var(r[pick]))
        if var > best_var + 1e-12:
            best, best_var = pick, var
    return np.sort(best)
