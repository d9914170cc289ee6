"""``simalloc advise``: a practitioner's pass counts (or rollout log) in, a rollout-split recommendation out.

What it computes, for a batch of the user's size (n prompts, pilot K0, ``budget`` extra rollouts, ``cap``):

1. **The difficulty world**: the Beta-Binomial fit (``fit_beta_binomial``) and, as a check on its shape, a
   two-component Beta-Binomial mixture (``fit_beta_binomial_mixture``); each with its log-likelihood, AIC and a
   chi-square goodness-of-fit test of the pass-count histogram (prompts with the most common trial count,
   adjacent bins pooled until every expected count is >= 5; dof = bins - 1 - parameters).
2. **Each allocator's expected gains per batch**: draw p_i from the fitted world, pilot s_i ~ Bin(K0, p_i), let
   the allocator split the budget (prior Beta(1, 1) as in HORA's paper, or the fitted Beta with
   ``prior="fitted"``), and take expectations given
   p exactly (Rao-Blackwellised):
     extra hits = sum_i k_i p_i;  hits on unsolved = sum_{s_i = 0} k_i p_i;
     solved = sum_i [s_i > 0] + [s_i = 0] (1 - (1 - p_i)^{k_i})   (prompts with a success: HORA's objective);
     informative = sum_i 1 - [s_i = 0](1 - p_i)^{k_i} - [s_i = K0] p_i^{k_i}   (groups with both outcomes,
       i.e. a non-zero GRPO advantage); no-signal share = 1 - informative / n.
   All allocators see the same draws (common random numbers), so differences from uniform are paired.
3. **Uncertainty**: a percentile bootstrap over the user's prompts: resample prompts with replacement, refit the
   world, re-simulate; 95% intervals for every number and for every difference from uniform. The intervals
   cover the population value (a fresh batch from the same prompt distribution) and are only as right as the
   Beta-Binomial shape: the report says when the goodness-of-fit test rejects it and shows the mixture's point
   predictions beside it.
4. **Pilot size**: at the same total n K0 + budget, every K0 on a grid (powers of two and the user's K0) with
   HORA and uniform on the rest (no cap): expected solved prompts and informative groups, with intervals.
5. **Voting** (a pool or log with answers): every stopping rule replayed on random orderings of each prompt's
   recorded answers (``simalloc.live.replay.replay_voting``): votes and tokens saved against the fixed-cap
   majority vote at its accuracy change.

The recommendation names the allocator with the largest expected ``objective`` and its gain over uniform with
its interval; when that interval contains 0, or there are fewer than ``MIN_PROMPTS`` prompts, it says the data
cannot tell. ``allocation.csv`` is the recommended allocator run on the user's own counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ._rng import as_generator
from ._validate import as_budget, as_cap, as_counts, as_int, check_choice
from .allocators import allocate
from .worlds.difficulty import BetaWorld, fit_beta_binomial, fit_beta_binomial_mixture

__all__ = ["Advice", "advise", "read_counts", "ADVISE_ALLOCATORS", "OBJECTIVES", "METRICS", "MIN_PROMPTS"]

ADVISE_ALLOCATORS = ("uniform", "hora", "informative", "hard_first", "plugin", "knapsack", "dapo")
#: per-batch expectations, in this order; the first four are objectives
METRICS = ("extra_hits", "hits_unsolved", "solved", "informative", "no_signal_share")
OBJECTIVES = METRICS[:4]
METRIC_LABELS = {"extra_hits": "extra hits per batch", "hits_unsolved": "extra hits on s=0 prompts per batch",
                 "solved": "prompts with a success per batch", "informative": "informative groups per batch",
                 "no_signal_share": "share of groups with no signal"}
#: below this many prompts the recommendation says the data cannot tell
MIN_PROMPTS = 20


# ---------------------------------------------------------------------------------------------------- input

def _counts_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    cols = {str(c).strip().lower(): c for c in frame.columns}
    for col in ("successes", "trials"):
        values = pd.to_numeric(frame[cols[col]], errors="coerce")
        bad = values.isna() | (values != values.round()) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{name}: column {col} must hold non-negative integers; row {i + 1} has "
                             f"{frame[cols[col]].iloc[i]!r}")
    s = pd.to_numeric(frame[cols["successes"]]).to_numpy().astype(np.int64)
    t = pd.to_numeric(frame[cols["trials"]]).to_numpy().astype(np.int64)
    if np.any(t < 1):
        i = int(np.flatnonzero(t < 1)[0])
        raise ValueError(f"{name}: column trials must be >= 1; row {i + 1} has {t[i]}")
    if np.any(s > t):
        i = int(np.flatnonzero(s > t)[0])
        raise ValueError(f"{name}: successes > trials in row {i + 1} ({s[i]} > {t[i]})")
    ids = frame[cols["prompt_id"]].astype(str).to_numpy() if "prompt_id" in cols else np.arange(len(frame)).astype(str)
    return pd.DataFrame({"prompt_id": ids, "successes": s, "trials": t})


def read_counts(data) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(per-prompt counts ``prompt_id, successes, trials``, the rollout table or None) from ``data``.

    ``data`` is a DataFrame with ``successes, trials`` columns, a CSV/parquet of such counts, or a rollout pool
    folder / rollout log (JSONL, CSV, parquet with a prompt id and a reward per rollout; ``read_pool``).
    """
    from .live.pool import pool_counts, read_pool

    if isinstance(data, pd.DataFrame):
        if {"successes", "trials"} <= {str(c).strip().lower() for c in data.columns}:
            return _counts_frame(data, "data"), None
        raise ValueError("data: a DataFrame needs successes and trials columns")
    path = Path(data)
    if path.is_file() and path.suffix.lower() in (".csv", ".parquet"):
        try:
            frame = (pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True) if path.suffix.lower() == ".csv"
                     else pd.read_parquet(path))
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path.name}: the file is empty") from None
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path.name}: cannot read it ({str(exc).splitlines()[0]})") from None
        lower = {str(c).strip().lower() for c in frame.columns}
        if frame.empty:
            raise ValueError(f"{path.name}: no rows")
        if {"successes", "trials"} <= lower:
            return _counts_frame(frame, path.name), None
        if "successes" in lower or "trials" in lower:
            missing = ({"successes", "trials"} - lower).pop()
            raise ValueError(f"{path.name}: a pass-count CSV needs both successes and trials; no {missing} column")
    pool = read_pool(path)
    counts = pool_counts(pool)
    ids = pool.drop_duplicates("task_id").sort_values("task_id").source_id.to_numpy()
    return pd.DataFrame({"prompt_id": ids, "successes": counts.successes.to_numpy(),
                         "trials": counts.trials.to_numpy()}), pool


# ----------------------------------------------------------------------------------------------- the model

def batch_metrics(p, s, k0: int, k) -> np.ndarray:
    """The ``METRICS`` of one batch, expected given the pass rates ``p`` (formulas in the module docstring)."""
    p, s, k = np.asarray(p, float), np.asarray(s), np.asarray(k)
    gain = k * p
    none = np.where(s == 0, (1.0 - p) ** k, 0.0)
    every = np.where(s == k0, p ** k, 0.0)
    informative = float(np.sum(1.0 - none - every))
    return np.array([gain.sum(), gain[s == 0].sum(), np.sum(1.0 - none), informative, 1.0 - informative / p.size])


def simulate(world, prior, n: int, k0: int, budget: int, cap, allocators, rng, n_sim: int) -> np.ndarray:
    """Mean ``batch_metrics`` of each allocator over ``n_sim`` batches of ``n`` prompts from ``world``:
    an array (len(allocators), len(METRICS)); all allocators see the same draws."""
    out = np.zeros((len(allocators), len(METRICS)))
    for _ in range(n_sim):
        p = world.sample(n, rng)
        s = rng.binomial(k0, p)
        for j, name in enumerate(allocators):
            k = allocate(name, s, k0, budget, prior=prior, cap=cap, rng=rng)
            out[j] += batch_metrics(p, s, k0, k)
    return out / n_sim


def _gof(world_pmf, s, t, n_params: int) -> tuple[float, int, float]:
    """Chi-square of the pass-count histogram at the modal trial count (bins pooled to expected >= 5)."""
    values, freq = np.unique(t, return_counts=True)
    tm = int(values[np.argmax(freq)])
    obs = np.bincount(s[t == tm], minlength=tm + 1).astype(float)
    exp = world_pmf(np.arange(tm + 1), tm) * obs.sum()
    o_bins, e_bins, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(obs, exp):
        o_acc, e_acc = o_acc + o, e_acc + e
        if e_acc >= 5:
            o_bins.append(o_acc)
            e_bins.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 and e_bins:
        o_bins[-1] += o_acc
        e_bins[-1] += e_acc
    dof = len(e_bins) - 1 - n_params
    if dof < 1:
        return float("nan"), dof, float("nan")
    chi2 = float(np.sum((np.array(o_bins) - np.array(e_bins)) ** 2 / np.array(e_bins)))
    return chi2, dof, float(stats.chi2.sf(chi2, dof))


def _mixture_pmf(world):
    return lambda x, tm: sum(w * stats.betabinom.pmf(x, tm, a, b) for w, a, b in zip(world.weights, world.a, world.b))


# ---------------------------------------------------------------------------------------------- the result

@dataclass
class Advice:
    """What ``advise`` found; ``write(out)`` saves report.md, figures, allocation.csv and results.parquet."""

    counts: pd.DataFrame
    fits: pd.DataFrame
    histogram: pd.DataFrame
    allocators: pd.DataFrame
    pilot: pd.DataFrame
    voting: pd.DataFrame | None
    allocation: pd.DataFrame
    recommendation: str
    settings: dict = field(default_factory=dict)

    def results(self) -> pd.DataFrame:
        """Every number in one long table (section, allocator/rule, metric, k0, expected, ci_low, ci_high)."""
        parts = [self.allocators.assign(section="allocators"), self.pilot.assign(section="pilot_size")]
        if self.voting is not None:
            parts.append(self.voting.rename(columns={"rule": "allocator", "observed": "expected"})
                         .assign(section="voting"))
        return pd.concat(parts, ignore_index=True)

    def write(self, out) -> Path:
        from ._advise_report import write_advice

        return write_advice(self, Path(out))


def _ci(draws, axis=0):
    lo, hi = np.percentile(draws, [2.5, 97.5], axis=axis)
    return lo, hi


def advise(data, budget, *, k0=None, cap=None, objective: str = "informative", allocators=ADVISE_ALLOCATORS,
           resamples: int = 200, n_sim: int = 4, rng=0, voting: bool = True, pilot_size: bool = True,
           prior: str = "uniform") -> Advice:
    """Advice for splitting ``budget`` extra rollouts over a batch like the user's prompts (module docstring).

    Parameters
    ----------
    data : path or DataFrame
        Per-prompt ``successes, trials`` (optional ``prompt_id``), or a rollout pool / log (``read_pool``).
    budget : int
        Extra rollouts per batch of the user's size, >= 1.
    k0 : int, optional
        Pilot rollouts per prompt to plan for (default: the most common ``trials`` in the data).
    cap : int, optional
        Most extra rollouts one prompt may get (default: no cap); cap x n_prompts must hold the budget.
    objective : {"informative", "solved", "extra_hits", "hits_unsolved"}
        What the recommendation maximises.
    resamples : int
        Bootstrap resamples over prompts (>= 20); ``n_sim`` simulated batches per resample.
    rng : SPEC 7 seed
    voting : bool
        Replay stopping rules when the data has answers.
    pilot_size : bool
        Answer the pilot-size question (K0 grid at a fixed total); off, ``pilot`` is empty.
    prior : {"uniform", "fitted"}
        The Beta prior the allocators use: "uniform" is Beta(1, 1), HORA's paper setting (and ``allocate``'s
        default); "fitted" is the fitted world's Beta (empirical Bayes: refitted in every bootstrap resample).
        They can disagree: a fitted prior that believes unsolved prompts nearly hopeless moves HORA's budget
        away from them.
    """
    counts, pool = read_counts(data)
    s, t = as_counts(counts.successes.to_numpy(), counts.trials.to_numpy())
    n = s.size
    budget = as_budget(budget, "budget")
    if budget < 1:
        raise ValueError("budget: must be >= 1 extra rollout")
    values, freq = np.unique(t, return_counts=True)
    k0 = int(values[np.argmax(freq)]) if k0 is None else as_int(k0, "k0", 1)
    cap_arr = as_cap(cap, n, budget)
    check_choice(objective, "objective", OBJECTIVES)
    check_choice(prior, "prior", ("uniform", "fitted"))
    prior_of = (lambda w: (w.a, w.b)) if prior == "fitted" else (lambda w: (1.0, 1.0))
    allocators = tuple(allocators)
    for name in allocators:
        from .allocators import get_allocator

        get_allocator(name)
    if "uniform" not in allocators:
        allocators = ("uniform",) + allocators
    resamples, n_sim = as_int(resamples, "resamples", 20), as_int(n_sim, "n_sim", 1)
    rng = as_generator(rng)

    # 1. worlds
    beta = fit_beta_binomial(s, t)
    mix = fit_beta_binomial_mixture(s, t, 2, rng=rng)
    ll_beta = float(np.sum(stats.betabinom.logpmf(s, t, beta.a, beta.b)))
    ll_mix = float(np.sum(np.log(_mixture_pmf(mix)(s, t))))
    gof_b = _gof(lambda x, tm: stats.betabinom.pmf(x, tm, beta.a, beta.b), s, t, 2)
    gof_m = _gof(_mixture_pmf(mix), s, t, 5)
    fits = pd.DataFrame([
        ("beta_binomial", f"Beta({beta.a:.3f}, {beta.b:.3f})", ll_beta, 4 - 2 * ll_beta, *gof_b),
        ("beta_binomial_mixture2", "; ".join(f"{w:.2f} x Beta({a:.3f}, {b:.3f})" for w, a, b in
                                             zip(mix.weights, mix.a, mix.b)), ll_mix, 10 - 2 * ll_mix, *gof_m)],
        columns=["world", "parameters", "log_likelihood", "aic", "chi2", "dof", "p_value"])
    tm = int(values[np.argmax(freq)])
    support = np.arange(tm + 1)
    histogram = pd.DataFrame({"successes": support, "trials": tm,
                              "observed": np.bincount(s[t == tm], minlength=tm + 1),
                              "beta_binomial": stats.betabinom.pmf(support, tm, beta.a, beta.b) * np.sum(t == tm),
                              "mixture2": _mixture_pmf(mix)(support, tm) * np.sum(t == tm)})

    # 2-4. point estimates (full-data fit) and the bootstrap
    grid = sorted({g for g in (1, 2, 4, 8, 16, 32, 64) if n * g < n * k0 + budget} | {k0}) if pilot_size else []
    pilot_allocs = ("uniform", "hora")

    def estimate(world, prior, sims, gen):
        main = simulate(world, prior, n, k0, budget, cap_arr, allocators, gen, sims)
        piloted = [simulate(world, prior, n, g, n * k0 + budget - n * g, None, pilot_allocs, gen, sims) for g in grid]
        return main, np.array(piloted).reshape(len(grid), len(pilot_allocs), len(METRICS))

    point_main, point_pilot = estimate(beta, prior_of(beta), max(4 * n_sim, 32), rng)
    mix_main = simulate(mix, prior_of(beta), n, k0, budget, cap_arr, allocators, rng, max(4 * n_sim, 32))
    boot_main = np.empty((resamples,) + point_main.shape)
    boot_pilot = np.empty((resamples,) + point_pilot.shape)
    for r in range(resamples):
        idx = rng.integers(0, n, size=n)
        w = fit_beta_binomial(s[idx], t[idx])
        boot_main[r], boot_pilot[r] = estimate(w, prior_of(w), n_sim, rng)
    lo, hi = _ci(boot_main)
    diff = boot_main - boot_main[:, [allocators.index("uniform")], :]
    dlo, dhi = _ci(diff)
    u = allocators.index("uniform")
    rows = []
    for j, name in enumerate(allocators):
        for m, metric in enumerate(METRICS):
            rows.append((name, metric, point_main[j, m], lo[j, m], hi[j, m], point_main[j, m] - point_main[u, m],
                         dlo[j, m], dhi[j, m], mix_main[j, m]))
    table = pd.DataFrame(rows, columns=["allocator", "metric", "expected", "ci_low", "ci_high", "vs_uniform",
                                        "vs_uniform_low", "vs_uniform_high", "mixture_expected"])
    plo, phi = _ci(boot_pilot)
    prow = []
    for gi, g in enumerate(grid):
        for j, name in enumerate(pilot_allocs):
            for metric in ("solved", "informative"):
                m = METRICS.index(metric)
                prow.append((name, metric, g, n * k0 + budget - n * g, point_pilot[gi, j, m], plo[gi, j, m],
                             phi[gi, j, m]))
    pilot = pd.DataFrame(prow, columns=["allocator", "metric", "k0", "extra_budget", "expected", "ci_low", "ci_high"])

    # 5. voting
    vote_table = None
    if voting and pool is not None and pool.answer.notna().any() and t.min() >= 4:
        from .live.replay import ReplayConfig, replay_voting

        vote_table = replay_voting(pool, ReplayConfig(n_resamples=resamples), rng, orderings=40)

    # recommendation and the user's own allocation
    best = max(allocators, key=lambda a: point_main[allocators.index(a), METRICS.index(objective)])
    row = table[(table.allocator == best) & (table.metric == objective)].iloc[0]
    text = _recommend(best, row, objective, n, budget, fits, vote_table)
    chosen = best if (row.vs_uniform_low > 0 and n >= MIN_PROMPTS) or best == "uniform" else "uniform"
    extra = allocate(chosen, s, t, budget, prior=prior_of(beta), cap=cap_arr, rng=rng)
    allocation = pd.DataFrame({"prompt_id": counts.prompt_id, "successes": s, "trials": t, "extra_rollouts": extra,
                               "allocator": chosen})
    settings = {"n_prompts": n, "budget": budget, "k0": k0, "cap": cap, "objective": objective, "prior": prior,
                "allocators": list(allocators), "resamples": resamples, "n_sim": n_sim, "world": fits.parameters[0],
                "source": str(data) if not isinstance(data, pd.DataFrame) else "DataFrame"}
    return Advice(counts, fits, histogram, table, pilot, vote_table, allocation, text, settings)


def _recommend(best, row, objective, n, budget, fits, votes) -> str:
    label = METRIC_LABELS[objective]
    lines = []
    if n < MIN_PROMPTS:
        lines.append(f"With {n} prompts the data cannot tell allocators apart (fewer than {MIN_PROMPTS}); keep "
                     f"uniform groups and collect pass counts on more prompts.")
    elif best == "uniform":
        lines.append(f"Keep uniform groups: no allocator beats uniform on {label} at this budget.")
    elif row.vs_uniform_low > 0:
        lines.append(f"Use {best}: expected {label} {row.expected:.1f} (95% CI {row.ci_low:.1f} to "
                     f"{row.ci_high:.1f}), {row.vs_uniform:+.1f} over uniform (95% CI {row.vs_uniform_low:+.1f} to "
                     f"{row.vs_uniform_high:+.1f}) for {budget} extra rollouts over {n} prompts.")
    else:
        lines.append(f"The data cannot tell: {best} has the largest expected {label} ({row.vs_uniform:+.1f} over "
                     f"uniform) but the 95% interval of the gain ({row.vs_uniform_low:+.1f} to "
                     f"{row.vs_uniform_high:+.1f}) includes zero; uniform groups are as good within the uncertainty.")
    p = fits.p_value[0]
    if np.isfinite(p) and p < 0.01:
        lines.append(f"Caution: the Beta-Binomial world fits the pass-count histogram poorly (chi-square p = {p:.2g}); "
                     "the intervals assume its shape. The mixture column shows the predictions under a "
                     "two-component mixture.")
    if votes is not None:
        fixed = votes[votes.rule.str.startswith("fixed") & (votes.metric == "votes")].observed.iloc[0]
        acc = votes[votes.metric == "accuracy"].set_index("rule").observed
        vot = votes[votes.metric == "votes"].set_index("rule").observed
        ok = [r for r in vot.index if acc[r] >= acc[vot.index[0]] - 0.01 and not r.startswith("fixed")]
        if ok:
            r = min(ok, key=lambda x: vot[x])
            lines.append(f"Voting: {r} uses {vot[r]:.1f} votes per prompt against {fixed:.0f} for the fixed vote "
                         f"({1 - vot[r] / fixed:.0%} fewer) at accuracy {acc[r]:.3f} vs {acc[vot.index[0]]:.3f}.")
    return " ".join(lines)
