"""The computations behind ``advise``: the plan, the fitted difficulty worlds, the allocators' expected metrics
with bootstrap intervals, the pilot-size question, and the recommendation text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from ..allocators import allocate, get_allocator
from ..allocators.metrics import BATCH_METRICS, simulate_batches
from ..stats import percentile_interval
from ..validation import as_budget, as_cap, as_int, check_choice
from ..worlds.difficulty import BetaWorld, fit_beta_binomial, fit_beta_binomial_mixture

__all__ = [
    "Plan",
    "make_plan",
    "Worlds",
    "fit_worlds",
    "overdispersion_p_value",
    "bootstrap_worlds",
    "estimate_allocators",
    "estimate_pilot",
    "allocator_table",
    "pilot_table",
    "recommend",
    "user_allocation",
    "data_limits",
    "plain_number",
    "ADVISE_ALLOCATORS",
    "ADVICE_OBJECTIVES",
    "METRIC_LABELS",
    "OBJECTIVE_MEANINGS",
    "MIN_PROMPTS",
    "MAX_EXTRA_PER_PROMPT",
    "MAX_BATCH_PROMPTS",
]

#: the allocators compared; the one-shot peer rules that fit a pilot are in (SPEED-RL's fixed-prompt reading, DARS's
#: two schedules); PODS is not: it generates uniform groups and down-samples what is trained, so its allocation
#: (and every batch metric here) is uniform's by construction
ADVISE_ALLOCATORS = ("uniform", "hora", "informative", "hard_first", "plugin", "knapsack", "dapo", "speed_rl",
                     "dars_et", "dars_hw")
#: the metrics a recommendation may maximise (``simalloc.allocators.metrics``)
ADVICE_OBJECTIVES = ("informative", "solved", "extra_hits", "hits_unsolved")
METRIC_LABELS = {
    "extra_hits": "extra hits per batch",
    "hits_unsolved": "extra hits on s=0 prompts per batch",
    "solved": "prompts with a success per batch",
    "informative": "informative groups per batch",
    "no_signal_share": "share of groups with no signal",
    "zero_extra_share": "share of prompts given no extra rollout",
}
#: what each objective means, in one line (printed with every recommendation)
OBJECTIVE_MEANINGS = {
    "informative": "informative groups: groups with both a success and a failure, the only ones with a non-zero "
    "GRPO advantage (DAPO's 'non-zero signal')",
    "solved": "prompts with at least one success in the whole group (pilot + extra)",
    "extra_hits": "successes among the extra rollouts (what a filter-and-train pipeline keeps)",
    "hits_unsolved": "successes among the extra rollouts on prompts whose pilot had none (HORA's target)",
}
#: why an allocator can win an objective for reasons a reader would not guess
_WHY = {
    ("solved", "hard_first"): "Only prompts without a pilot success can still become solved, so this metric "
    "rewards giving every extra rollout to them (hard_first); HORA's hit utility "
    "also values hits on prompts that already have one.",
    ("extra_hits", "dapo"): "Extra hits grow with the pass rate of the prompts that get the rollouts, so rules "
    "that favour easy prompts (dapo, plugin, knapsack) win this metric while producing "
    "fewer informative groups.",
}
#: the largest budget advised on, per prompt of a batch on average: far beyond any trainer's group size (the
#: allocators' cost grows with the budget; 1e9 extra rollouts over 200 prompts ran for minutes)
MAX_EXTRA_PER_PROMPT = 1024
#: the largest batch advised on (prompts per training step): trainers' batches are 32 to 1,024 prompts, and the
#: bootstrap's cost grows with it (200 prompts ~20 s at the default resamples; 5,000 took minutes at 20 resamples)
MAX_BATCH_PROMPTS = 2048
#: below this many prompts the data cannot tell allocators apart
MIN_PROMPTS = 20
#: a Beta concentration a + b above this means the pass counts show no spread beyond binomial noise
ONE_DIFFICULTY = 1e4


@dataclass(frozen=True)
class Plan:
    """The validated settings: batch size, per-prompt pilot sizes, budget, cap, objective, prior, allocators.

    Attributes
    ----------
    n_prompts, batch_prompts : int
        Prompts in the data and in one planned batch.
    trials : ndarray of int
        Each prompt's pilot size.
    k0_label : str
        How the pilot size is described in the report.
    budget : int
        Extra rollouts per batch.
    cap : int or None
        The per-prompt cap asked for; ``cap_per_prompt`` holds it per prompt.
    objective : str
        The metric the recommendation maximises (``ADVICE_OBJECTIVES``).
    prior : {"uniform", "fitted"}
        The allocators' prior: Beta(1, 1) or the fitted Beta (empirical Bayes).
    allocators : tuple of str
        The allocators compared.
    resamples, n_sim : int
        Bootstrap resamples and simulated batches per world.
    """

    n_prompts: int
    batch_prompts: int
    trials: np.ndarray
    k0_label: str
    budget: int
    cap: int | None
    cap_per_prompt: np.ndarray
    objective: str
    prior: str
    allocators: tuple
    resamples: int
    n_sim: int

    def prior_of(self, world: BetaWorld):
        """The allocators' prior (alpha0, beta0): ``world``'s parameters when ``prior == "fitted"``, else (1, 1)."""
        return (world.a, world.b) if self.prior == "fitted" else (1.0, 1.0)


def make_plan(
    counts: pd.DataFrame, budget, *, k0, cap, objective, prior, allocators, resamples, n_sim, batch_prompts
) -> Plan:
    """Validate the settings against the data; each prompt keeps its own pilot size unless ``k0`` is given.

    Parameters
    ----------
    counts : pandas.DataFrame
        prompt_id, successes, trials per prompt.
    budget : int
        Extra rollouts per batch.
    k0, cap, objective, prior, allocators, resamples, n_sim, batch_prompts
        As ``advise`` takes them.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        Naming the argument and its allowed range (e.g. "budget: at most 1,024 extra rollouts per prompt on
        average ...", ``MAX_EXTRA_PER_PROMPT``; "batch_prompts: at most 2,048 ...", ``MAX_BATCH_PROMPTS``).
    """
    n = len(counts)
    budget = as_budget(budget, "budget")
    if budget < 1:
        raise ValueError("budget: must be >= 1 extra rollout")
    check_choice(objective, "objective", ADVICE_OBJECTIVES)
    check_choice(prior, "prior", ("uniform", "fitted"))
    for name in allocators:
        get_allocator(name)
    allocators = ("uniform",) + tuple(a for a in allocators if a != "uniform")
    if batch_prompts is None and n > MAX_BATCH_PROMPTS:
        raise ValueError(f"batch_prompts: your file has {n:,} prompts, planned as one batch by default; pass "
                         f"--batch-prompts (batch_prompts=) with your trainer's prompts per step, 1 to "
                         f"{MAX_BATCH_PROMPTS:,}")
    batch = n if batch_prompts is None else as_int(batch_prompts, "batch_prompts", 1)
    if batch > MAX_BATCH_PROMPTS:
        raise ValueError(f"batch_prompts: at most {MAX_BATCH_PROMPTS:,} prompts per batch (a trainer's step), got "
                         f"{batch:,}")
    if budget > MAX_EXTRA_PER_PROMPT * batch:
        raise ValueError(f"budget: at most {MAX_EXTRA_PER_PROMPT:,} extra rollouts per prompt on average, so 1 to "
                         f"{MAX_EXTRA_PER_PROMPT * batch:,} for batches of {batch:,} prompts; got {budget:,}")
    t = counts.trials.to_numpy()
    if k0 is None:
        trials, label = t, (f"{t.min()}" if t.min() == t.max() else f"each prompt's own ({t.min()} to {t.max()})")
    else:
        k0 = as_int(k0, "k0", 1)
        trials, label = np.full(n, k0), str(k0)
    if cap is not None and np.ndim(cap) != 0:
        raise ValueError("cap: advise takes one cap for every prompt (an integer), not an array")
    cap = None if cap is None else as_budget(cap, "cap")
    return Plan(
        n,
        batch,
        trials,
        label,
        budget,
        cap,
        as_cap(cap, batch, budget),
        objective,
        prior,
        allocators,
        as_int(resamples, "resamples", 20),
        as_int(n_sim, "n_sim", 1),
    )


def data_limits(counts: pd.DataFrame) -> list[str]:
    """Reasons the data cannot tell allocators apart before anything is fitted.

    Parameters
    ----------
    counts : pandas.DataFrame
        The user's counts.

    Returns
    -------
    list of str
        Empty when nothing stands in the way (e.g. fewer than ``MIN_PROMPTS`` prompts is one reason).
    """
    n = len(counts)
    if n < MIN_PROMPTS:
        return [
            f"{n} prompt{'s' if n != 1 else ''} (fewer than {MIN_PROMPTS}): too few to fit a difficulty distribution"
        ]
    return []


# ------------------------------------------------------------------------------------------------ worlds


@dataclass
class Worlds:
    """The fitted Beta-Binomial and two-component mixture, their fit table and histogram; ``problem`` holds why
    the data cannot tell (a failed fit, one difficulty), else None.

    Attributes
    ----------
    beta : BetaWorld or None
        The Beta-Binomial fit.
    mixture : BetaMixtureWorld or None
        The two-component mixture fit.
    fits : pandas.DataFrame
        Log-likelihood, AIC and the chi-square test of each fit.
    histogram : pandas.DataFrame
        Observed and fitted pass-count histograms at the most common trial count.
    histogram_prompts : tuple of int
        (trial count, prompts with it, all prompts).
    problem : str or None
        Why the data cannot tell, if it cannot.
    """

    beta: BetaWorld | None = None
    mixture: object = None
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    histogram: pd.DataFrame = field(default_factory=pd.DataFrame)
    histogram_prompts: tuple = (0, 0, 0)
    problem: str | None = None


def _gof(world_pmf, s, t, tm, n_params: int) -> tuple[float, int, float]:
    """Chi-square of the pass-count histogram at trial count ``tm`` (bins pooled to expected >= 5)."""
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


def overdispersion_p_value(s, t) -> float:
    """One-sided p-value of Tarone's test that pass counts vary more than one binomial pass rate allows.

    Z = (sum_i (s_i - t_i p)^2 / (p (1 - p)) - sum_i t_i) / sqrt(2 sum_i t_i (t_i - 1)), p = sum s / sum t, is
    N(0, 1) under a single pass rate (Tarone 1979, Biometrika 66, 585-590). NaN when every rollout failed or
    every one succeeded, or every prompt has one rollout.

    Parameters
    ----------
    s, t : array_like of int
        Successes and trials per prompt.

    Returns
    -------
    float

    References
    ----------
    R. E. Tarone, "Testing the goodness of fit of the binomial distribution", Biometrika 66(3), 1979.
    """
    s, t = np.asarray(s, float), np.asarray(t, float)
    p = s.sum() / t.sum()
    denom = 2 * np.sum(t * (t - 1))
    if not 0 < p < 1 or denom == 0:
        return float("nan")
    z = (np.sum((s - t * p) ** 2) / (p * (1 - p)) - t.sum()) / np.sqrt(denom)
    return float(stats.norm.sf(z))


def fit_worlds(s: np.ndarray, t: np.ndarray, rng) -> Worlds:
    """Fit both worlds on every prompt; test their shape on the histogram of the most common trial count. The
    data cannot tell when every rollout has the same outcome, when Tarone's test finds no spread of difficulty
    beyond binomial noise (p > 0.05), or when the fit does not converge.

    Parameters
    ----------
    s, t : ndarray of int
        Successes and trials per prompt.
    rng : numpy.random.Generator
        The random state.

    Returns
    -------
    Worlds
    """
    rate = s.sum() / t.sum()
    spread = overdispersion_p_value(s, t)
    if not 0 < rate < 1:
        return Worlds(
            problem=f"every rollout {'failed' if rate == 0 else 'succeeded'}: pass counts carry no "
            "information on which prompts are harder"
        )
    if not spread <= 0.05:
        return Worlds(
            problem=f"the pass counts show no spread beyond binomial noise (Tarone's test of "
            f"overdispersion, p = {spread:.2f}): the prompts look equally hard (pass rate "
            f"{rate:.3f}), and for equal pass rates uniform groups are already the best split"
        )
    try:
        beta = fit_beta_binomial(s, t)
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        return Worlds(problem=f"the Beta-Binomial fit of the pass counts did not converge ({exc})")
    if beta.a + beta.b > ONE_DIFFICULTY:
        return Worlds(
            beta=beta,
            problem=f"the fitted Beta is concentrated at one pass rate (a + b = "
            f"{beta.a + beta.b:,.0f}): the prompts look equally hard",
        )
    try:
        mix = fit_beta_binomial_mixture(s, t, 2, rng=rng)
        mix_pmf = _mixture_pmf(mix)
    except (RuntimeError, ValueError, FloatingPointError):
        mix, mix_pmf = None, None
    values, freq = np.unique(t, return_counts=True)
    tm = int(values[np.argmax(freq)])
    ll_beta = float(np.sum(stats.betabinom.logpmf(s, t, beta.a, beta.b)))
    rows = [
        (
            "beta_binomial",
            f"Beta({beta.a:.3f}, {beta.b:.3f})",
            ll_beta,
            4 - 2 * ll_beta,
            *_gof(lambda x, m: stats.betabinom.pmf(x, m, beta.a, beta.b), s, t, tm, 2),
        )
    ]
    support = np.arange(tm + 1)
    at_tm = int(np.sum(t == tm))
    histogram = pd.DataFrame(
        {
            "successes": support,
            "trials": tm,
            "observed": np.bincount(s[t == tm], minlength=tm + 1),
            "beta_binomial": stats.betabinom.pmf(support, tm, beta.a, beta.b) * at_tm,
        }
    )
    if mix is not None:
        ll_mix = float(np.sum(np.log(mix_pmf(s, t))))
        rows.append(
            (
                "beta_binomial_mixture2",
                "; ".join(f"{w:.2f} x Beta({a:.3f}, {b:.3f})" for w, a, b in zip(mix.weights, mix.a, mix.b)),
                ll_mix,
                10 - 2 * ll_mix,
                *_gof(mix_pmf, s, t, tm, 5),
            )
        )
        histogram["mixture2"] = mix_pmf(support, tm) * at_tm
    fits = pd.DataFrame(rows, columns=["world", "parameters", "log_likelihood", "aic", "chi2", "dof", "p_value"])
    return Worlds(beta, mix, fits, histogram, (tm, at_tm, len(t)))


# ---------------------------------------------------------------------------------------------- estimates


def _batch_trials(plan: Plan, rng) -> np.ndarray:
    """The pilot sizes of one simulated batch: the plan's own when the batch is all prompts, else a draw."""
    if plan.batch_prompts == plan.n_prompts:
        return plan.trials
    return rng.choice(plan.trials, size=plan.batch_prompts, replace=True)


def _simulate(world, plan: Plan, trials, budget, allocators, cap, rng, n_sim, prior_world=None) -> np.ndarray:
    """``simulate_batches`` with the plan's prior taken from ``prior_world`` (default: ``world`` itself)."""
    return simulate_batches(
        world, trials, budget, allocators, prior=plan.prior_of(prior_world or world), cap=cap, rng=rng, n_sim=n_sim
    )


def bootstrap_worlds(s, t, resamples: int, rng, progress=False) -> tuple[list, int]:
    """Beta-Binomial fits of ``resamples`` bootstrap resamples of the prompts, and how many failed to converge
    (those are skipped).

    Parameters
    ----------
    s, t : ndarray of int
        Successes and trials per prompt.
    resamples : int
        Bootstrap resamples.
    rng : numpy.random.Generator
        The random state.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    worlds : list of BetaWorld
    failed : int
    """
    worlds, failed = [], 0
    for _ in tqdm(range(resamples), desc="bootstrap fits", unit="resample", disable=not progress):
        idx = rng.integers(0, s.size, size=s.size)
        try:
            worlds.append(fit_beta_binomial(s[idx], t[idx]))
        except (RuntimeError, ValueError, FloatingPointError):
            failed += 1
    return worlds, failed


def estimate_allocators(worlds: Worlds, boot: list, plan: Plan, rng) -> dict:
    """Every allocator's ``BATCH_METRICS``: the full-data fit's point estimate, the mixture's, and one draw per
    bootstrap world.

    Parameters
    ----------
    worlds : Worlds
        The fits.
    boot : list of BetaWorld
        Bootstrap fits.
    plan : Plan
        The validated settings.
    rng : numpy.random.Generator
        The random state.

    Returns
    -------
    dict
        "point", "mixture" (allocators x metrics) and "boot" (resamples x allocators x metrics).
    """
    trials = _batch_trials(plan, rng)

    def run(world, sims, prior_world=None):
        return _simulate(world, plan, trials, plan.budget, plan.allocators, plan.cap_per_prompt, rng, sims, prior_world)

    sims = max(4 * plan.n_sim, 32)
    # the mixture's predictions keep the allocators' prior of the Beta fit: only the truth changes
    mixture = run(worlds.mixture, sims, worlds.beta) if worlds.mixture is not None else None
    point = run(worlds.beta, sims)
    return {
        "point": point,
        "mixture": np.full_like(point, np.nan) if mixture is None else mixture,
        "boot": np.array([run(w, plan.n_sim) for w in boot]),
    }


def estimate_pilot(beta, boot: list, plan: Plan, grid, allocators, rng) -> dict:
    """At the plan's total rollouts per batch, each K0 of ``grid`` with ``allocators`` on the rest: point
    estimates and bootstrap draws, shaped (grid, allocators, metrics).

    Parameters
    ----------
    beta : BetaWorld
        The full-data fit.
    boot : list of BetaWorld
        Bootstrap fits.
    plan : Plan
        The validated settings.
    grid : sequence of int
        The K0 compared.
    allocators : sequence of str
        The allocators compared.
    rng : numpy.random.Generator
        The random state.

    Returns
    -------
    dict
        "pilot", "boot_pilot" and "total" (rollouts per batch).
    """
    total = int(round(plan.trials.mean() * plan.batch_prompts)) + plan.budget

    def run(world, sims):
        return np.array(
            [
                _simulate(
                    world,
                    plan,
                    np.full(plan.batch_prompts, g),
                    total - plan.batch_prompts * g,
                    allocators,
                    None,
                    rng,
                    sims,
                )
                for g in grid
            ]
        )

    return {
        "pilot": run(beta, max(4 * plan.n_sim, 32)),
        "boot_pilot": np.array([run(w, plan.n_sim) for w in boot]),
        "total": total,
    }


def allocator_table(est: dict, plan: Plan) -> pd.DataFrame:
    """Long table: allocator, metric, expected, CI, difference from uniform with its paired CI, mixture value.

    Parameters
    ----------
    est : dict
        ``estimate_allocators``.
    plan : Plan
        The validated settings.

    Returns
    -------
    pandas.DataFrame
    """
    point, boot = est["point"], est["boot"]
    lo, hi = percentile_interval(boot)
    dlo, dhi = percentile_interval(boot - boot[:, :1, :])
    rows = []
    for j, name in enumerate(plan.allocators):
        for m, metric in enumerate(BATCH_METRICS):
            rows.append(
                (
                    name,
                    metric,
                    point[j, m],
                    lo[j, m],
                    hi[j, m],
                    point[j, m] - point[0, m],
                    dlo[j, m],
                    dhi[j, m],
                    est["mixture"][j, m],
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "allocator",
            "metric",
            "expected",
            "ci_low",
            "ci_high",
            "vs_uniform",
            "vs_uniform_low",
            "vs_uniform_high",
            "mixture_expected",
        ],
    )


def pilot_table(est: dict, plan: Plan, grid, pilot_allocators) -> pd.DataFrame:
    """Pilot size at a fixed total: expected solved prompts and informative groups per K0 and allocator, with
    intervals, and the paired interval of each K0's difference from the best K0 of the same allocator.

    Parameters
    ----------
    est : dict
        ``estimate_pilot``.
    plan : Plan
        The validated settings.
    grid : sequence of int
        The K0 compared.
    pilot_allocators : sequence of str
        The allocators compared.

    Returns
    -------
    pandas.DataFrame
    """
    if not len(grid):
        return pd.DataFrame(
            columns=[
                "allocator",
                "metric",
                "k0",
                "extra_budget",
                "expected",
                "ci_low",
                "ci_high",
                "vs_best_low",
                "vs_best_high",
            ]
        )
    point, boot = est["pilot"], est["boot_pilot"]
    lo, hi = percentile_interval(boot)
    rows = []
    for j, name in enumerate(pilot_allocators):
        for metric in ("solved", "informative"):
            m = BATCH_METRICS.index(metric)
            best = int(np.argmax(point[:, j, m]))
            dlo, dhi = percentile_interval(boot[:, :, j, m] - boot[:, [best], j, m])
            for gi, g in enumerate(grid):
                rows.append(
                    (
                        name,
                        metric,
                        g,
                        est["total"] - plan.batch_prompts * g,
                        point[gi, j, m],
                        lo[gi, j, m],
                        hi[gi, j, m],
                        dlo[gi],
                        dhi[gi],
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "allocator",
            "metric",
            "k0",
            "extra_budget",
            "expected",
            "ci_low",
            "ci_high",
            "vs_best_low",
            "vs_best_high",
        ],
    )


# ------------------------------------------------------------------------------------------ recommendation


def recommend(table: pd.DataFrame, plan: Plan, fits: pd.DataFrame, votes) -> tuple[str, str]:
    """(the allocator ``allocation.csv`` uses, the recommendation text). The text names the objective's meaning,
    the winner's gain over uniform with its interval, what it costs on every other metric, the share of prompts
    it leaves without extra rollouts, why when the winner is a surprise, and which evidence it rests on (the
    per-batch objective, and what the committed training studies measured: ``simalloc.advise.evidence``).

    Parameters
    ----------
    table : pandas.DataFrame
        ``allocator_table``.
    plan : Plan
        The validated settings.
    fits : pandas.DataFrame
        The fit table (its verdicts are quoted when a fit is rejected).
    votes : pandas.DataFrame or None
        The voting replay.

    Returns
    -------
    chosen : str
    text : str
    """
    label = METRIC_LABELS[plan.objective]
    at = table.set_index(["allocator", "metric"])
    best = max(plan.allocators, key=lambda a: at.loc[(a, plan.objective), "expected"])
    row = at.loc[(best, plan.objective)]
    lines = [f"Objective: {OBJECTIVE_MEANINGS[plan.objective]}."]
    if best == "uniform":
        lines.append(f"Keep uniform groups: no allocator beats uniform on {label} at this budget.")
        chosen = "uniform"
    elif row.vs_uniform_low > 0:
        lines.append(
            f"Use {best}: expected {label} {row.expected:,.1f} (95% CI {row.ci_low:,.1f} to {row.ci_high:,.1f}), "
            f"{row.vs_uniform:+,.1f} over uniform (95% CI {row.vs_uniform_low:+,.1f} to "
            f"{row.vs_uniform_high:+,.1f}) for {plan.budget:,} extra rollouts over {plan.batch_prompts:,} prompts."
        )
        chosen = best
    else:
        lines.append(
            f"The data cannot tell: {best} has the largest expected {label} ({row.vs_uniform:+.1f} over "
            f"uniform) but the 95% interval of the gain ({row.vs_uniform_low:+.1f} to "
            f"{row.vs_uniform_high:+.1f}) includes zero; uniform groups are as good within the uncertainty."
        )
        chosen = "uniform"
    if best != "uniform":
        costs = []
        for metric in ("extra_hits", "hits_unsolved", "solved", "informative", "no_signal_share"):
            if metric == plan.objective:
                continue
            r, u = at.loc[(best, metric)], at.loc[("uniform", metric)]
            rel = f", {r.vs_uniform / u.expected:+.0%}" if metric != "no_signal_share" and u.expected > 0 else ""
            costs.append(
                f"{METRIC_LABELS[metric]} {plain_number(u.expected)} -> {plain_number(r.expected)} "
                f"({plain_number(r.vs_uniform, sign=True)} [{plain_number(r.vs_uniform_low, sign=True)}, "
                f"{plain_number(r.vs_uniform_high, sign=True)}]{rel})"
            )
        zero = at.loc[(best, "zero_extra_share"), "expected"]
        lines.append(
            f"What {best} changes against uniform: " + "; ".join(costs) + f". It gives no extra rollout to "
            f"{zero:.0%} of prompts (uniform: {at.loc[('uniform', 'zero_extra_share'), 'expected']:.0%})."
        )
        if (plan.objective, best) in _WHY:
            lines.append(_WHY[(plan.objective, best)])
    from .evidence import evidence_basis  # here, so `python -m simalloc.advise.evidence` runs a fresh module

    lines.append(evidence_basis(chosen, label, plan.allocators))  # the training evidence it rests on (or not)
    p = fits.p_value.iloc[0] if len(fits) else np.nan
    if np.isfinite(p) and p < 0.01:
        lines.append(
            f"Caution: the Beta-Binomial world fits the pass-count histogram poorly (chi-square p "
            f"{'< 0.0001' if p < 1e-4 else '= ' + plain_number(p, 2)}); "
            "the intervals assume its shape. The mixture column shows the predictions under a "
            "two-component mixture."
        )
    if votes is not None:
        lines.append(_voting_line(votes))
    return chosen, " ".join(line for line in lines if line)


def plain_number(x, digits: int = 3, sign: bool = False) -> str:
    """``x`` to ``digits`` significant digits (at most 4 decimals), never in scientific notation, with thousands
    separators: ``2,220``, ``94.5``, ``0.0123``, ``+1.50`` with ``sign``.

    Parameters
    ----------
    x : float
        The number.
    digits : int, default 3
        Significant digits shown (numbers of more integer digits are shown whole).
    sign : bool, default False
        Always show the sign.

    Returns
    -------
    str
        "n/a" for NaN or an infinity.
    """
    x = float(x)
    if not np.isfinite(x):
        return "n/a"
    decimals = 0 if x == 0 else min(4, max(0, digits - 1 - int(np.floor(np.log10(abs(x))))))
    return f"{x:{'+' if sign else ''},.{decimals}f}"


def _voting_line(votes: pd.DataFrame) -> str:
    fixed_rule = next(r for r in votes.rule if r.startswith("fixed"))
    acc = votes[votes.metric == "accuracy"].set_index("rule").observed
    vot = votes[votes.metric == "votes"].set_index("rule").observed
    ok = [r for r in vot.index if acc[r] >= acc[fixed_rule] - 0.01 and not r.startswith("fixed")]
    if not ok:
        return "Voting: no stopping rule keeps the fixed vote's accuracy within 1 point on these answers."
    r = min(ok, key=lambda x: vot[x])
    return (
        f"Voting: {r} uses {vot[r]:.1f} votes per prompt against {vot[fixed_rule]:.0f} for the fixed vote "
        f"({1 - vot[r] / vot[fixed_rule]:.0%} fewer) at accuracy {acc[r]:.3f} vs {acc[fixed_rule]:.3f}."
    )


def user_allocation(counts: pd.DataFrame, plan: Plan, chosen: str, beta, rng) -> pd.DataFrame:
    """The chosen allocator on the user's own counts: extra rollouts per prompt, the budget scaled to all prompts
    when the plan's batch is smaller (the same average per prompt), and the next step's group size, the plan's
    pilot (``--k0``, else the prompt's own trial count) plus the extra rollouts.

    Parameters
    ----------
    counts : pandas.DataFrame
        The user's counts (``simalloc.advise.pilot_counts``: for a log with steps, each prompt's latest group).
    plan : Plan
        The validated settings.
    chosen : str
        The allocator.
    beta : BetaWorld
        The fit (the prior when ``plan.prior == "fitted"``).
    rng : numpy.random.Generator
        The random state.

    Returns
    -------
    pandas.DataFrame
        prompt_id, (step, for a log with steps), successes, trials, extra_rollouts, group_size, allocator.
    """
    s, t = counts.successes.to_numpy(), counts.trials.to_numpy()
    budget = int(round(plan.budget * plan.n_prompts / plan.batch_prompts))
    cap = as_cap(plan.cap, plan.n_prompts, budget)
    prior = plan.prior_of(beta) if beta is not None else (1.0, 1.0)
    extra = allocate(chosen, s, t, budget, prior=prior, cap=cap, rng=rng)
    out = pd.DataFrame(
        {"prompt_id": counts.prompt_id, "successes": s, "trials": t, "extra_rollouts": extra,
         "group_size": plan.trials + extra, "allocator": chosen}
    )
    if "step" in counts:
        out.insert(1, "step", counts.step.to_numpy())
    return out
