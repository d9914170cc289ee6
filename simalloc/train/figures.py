"""The training studies' figures: Pass@k after training, the paired differences from uniform over training and the
Phase-B share (``plot_training``, figure.png), every arm against uniform GRPO's learning-rate frontier
(``plot_frontier``, frontier.png) and the efficiency axis, Pass@1 against steps and rollouts with uniform GRPO's
targets (``plot_efficiency``, efficiency.png).

figure.png and efficiency.png draw a readable subset of the arms (``figure_arms``, ``efficiency_arms``); every arm
is in frontier.png and in the tables. Each function returns the (closed) matplotlib Figure it wrote, so that tests
can read its axes and legend.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .analysis import frontier_table, pareto_mask
from .arms import ORACLE_HORA, START_POINT, frontier_points, parse_arm
from .efficiency import cumulative_rollouts, uniform_target

__all__ = ["MAX_ARMS", "figure_arms", "efficiency_arms", "plot_training", "plot_frontier", "plot_efficiency"]

#: the most arms figure.png draws before it leaves out the optional groups (``figure_arms``)
MAX_ARMS = 10
#: line styles for arms that share a colour (``color_of`` gives "hora" and "hora:truth" the same hue)
_LINESTYLES = ("-", "--", ":", "-.")
_HATCHES = ("", "///", "...", "xx")


def _role(spec: str) -> str:
    """Which group of ``figure_arms`` an arm belongs to: "lr", "core", "ladder", "temperature" or "other"."""
    arm = parse_arm(spec)
    if arm.lr_scale != 1.0:
        return "lr"
    if arm.allocator != "uniform":
        return "core"
    if arm.ladder_rung is not None:
        return "core" if arm.ladder_rung in (1.0, 2.0) else "ladder"
    if replace(arm, temperature_scale=1.0).ladder_rung == 1.0:  # uniform GRPO at another temperature only
        return "temperature"
    return "other"


def figure_arms(arms, max_arms: int = MAX_ARMS) -> tuple:
    """The arms figure.png draws, in the study's order.

    Parameters
    ----------
    arms : sequence of str
        The study's arms (``parse_arm`` specs).
    max_arms : int, default ``MAX_ARMS``
        The most arms drawn when optional groups are added.

    Returns
    -------
    tuple of str

    Notes
    -----
    The rule:

    1. No arm at another learning rate: an arm with an ``lr<x>`` modifier other than x1 (the frontier's
       uniform:lr<x>, the held-out controls uniform:lr0.35 / uniform:lr0.85, the budget ladder's
       <rung>:lr<x> variants) is never drawn; frontier.png draws them all.
    2. Always drawn: uniform, uniform:x2 and every arm whose allocator is not uniform's (the methods, hora:truth,
       the placebos, dynamic sampling, the peers).
    3. Then, each group whole and only while the total stays at most ``max_arms``: the budget ladder's other
       rungs (uniform:x<m>), the temperature controls (uniform:temp<x>), any other uniform variant.

    Rule 2 is never cut (a study with more methods than ``max_arms`` draws them all; the legend sits below the
    panels, so it covers none).

    Examples
    --------
    >>> figure_arms(("uniform", "hora", "uniform:x2", "uniform:lr0.35", "uniform:x0.5", "uniform:x4",
    ...              "uniform:x2:lr2", "uniform:temp2"))
    ('uniform', 'hora', 'uniform:x2', 'uniform:x0.5', 'uniform:x4', 'uniform:temp2')
    >>> figure_arms(("uniform", "hora", "uniform:x2", "uniform:x0.5", "uniform:x4"), max_arms=4)
    ('uniform', 'hora', 'uniform:x2')
    """
    roles = {a: _role(a) for a in dict.fromkeys(arms)}
    shown = [a for a, r in roles.items() if r == "core"]
    for group in ("ladder", "temperature", "other"):
        members = [a for a, r in roles.items() if r == group]
        if members and len(shown) + len(members) <= max_arms:
            shown += members
    return tuple(a for a in roles if a in shown)


def efficiency_arms(arms) -> tuple:
    """The arms efficiency.png draws: uniform GRPO's budget ladder at lr x1 (uniform and uniform:x<m>, by budget),
    the prompts ladder (uniform:p<m>, by budget: ``Arm.batch_rung``), then the methods in the study's order (an
    allocator other than uniform's at lr x1; not the placebos, not the oracle ``ORACLE_HORA`` or any other arm given
    the true pass rates).

    Parameters
    ----------
    arms : sequence of str
        The study's arms (``parse_arm`` specs).

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> efficiency_arms(("uniform", "hora", "hora:truth", "hora_placebo", "uniform:x2", "uniform:x2:lr2",
    ...                  "uniform:lr0.35", "uniform:x4", "uniform:temp2", "uniform:p2"))
    ('uniform', 'uniform:x2', 'uniform:x4', 'uniform:p2', 'hora')
    """
    parsed = {a: parse_arm(a) for a in dict.fromkeys(arms)}
    rungs = sorted((a for a, arm in parsed.items() if arm.ladder_rung is not None), key=lambda a: parsed[a].ladder_rung)
    rungs += sorted((a for a, arm in parsed.items() if arm.ladder_rung is None and arm.batch_rung is not None),
                    key=lambda a: parsed[a].batch_rung)
    methods = []
    for spec, arm in parsed.items():
        if (arm.allocator != "uniform" and arm.lr_scale == 1.0 and not arm.placebo and spec != ORACLE_HORA
                and arm.predictor != "truth"):
            methods.append(spec)
    return tuple(rungs) + tuple(methods)


def _styles(arms) -> dict:
    """Per arm: its colour (``color_of``), a marker and a line style and hatch: dashed for uniform GRPO at another
    budget (uniform:x<m>), and the next style for an arm whose colour an earlier arm took, so that arms of one hue
    stay apart."""
    from ..plotting import MARKERS, color_of

    used, out = {}, {}
    for j, arm in enumerate(arms):
        color = color_of(arm)
        n = used.get(color, 0) + int(parse_arm(arm).ladder_rung not in (None, 1.0))  # uniform's other budgets: dashed
        used[color] = used.get(color, 0) + 1
        out[arm] = {"color": color, "marker": MARKERS[j % len(MARKERS)], "ls": _LINESTYLES[n % len(_LINESTYLES)],
                    "hatch": _HATCHES[n % len(_HATCHES)]}
    return out


def _handle(style: dict, label: str):
    """A legend entry: the arm's colour, line style and marker."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color=style["color"], ls=style["ls"], marker=style["marker"], ms=6, label=label)


def _left_out(arms, shown) -> str:
    """The legend's title: which of the study's arms are not drawn and where they are."""
    rest = [a for a in dict.fromkeys(arms) if a not in shown]
    if not rest:
        return ""
    other_lr = [a for a in rest if _role(a) == "lr"]
    parts = [f"{len(other_lr)} arm{'s' if len(other_lr) > 1 else ''} at other learning rates" if other_lr else ""]
    parts += [a for a in rest if a not in other_lr]
    return "Not drawn (see frontier.png and summary.csv): " + ", ".join(p for p in parts if p)


def plot_frontier(steps: pd.DataFrame, args, path, title):
    """Uniform GRPO's frontier (one point per learning rate, mean over replicates; the line joins the
    Pareto-efficient means, a dominated rate is drawn as a grey cross) and every arm as a point with 95% error bars
    in both coordinates; GRPO at the study's learning rate is a star drawn on top, arms are open
    markers so that an arm on the frontier does not hide it.

    Parameters
    ----------
    steps : pandas.DataFrame
        The study's per-step table.
    args : TrainingStudyArgs
        The study's settings (arms, frontier).
    path : path-like
        The PNG to write.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (closed).
    """
    from ..plotting import MARKERS, color_of, use_agg

    plt = use_agg()
    kmax = max(args.train.ks)
    last = frontier_table(steps, args.train.warmup_steps)
    stats_ = last.groupby("arm")[["pass@1", f"pass@{kmax}"]].agg(["mean", "sem"])
    frontier = [a for a in frontier_points(args.frontier_lrs) if a in stats_.index]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    f = stats_.loc[frontier].sort_values(("pass@1", "mean"))
    keep = pareto_mask(f[("pass@1", "mean")], f[(f"pass@{kmax}", "mean")])
    ax.plot(f[("pass@1", "mean")][keep], f[(f"pass@{kmax}", "mean")][keep], "k--o", ms=4,
            label="uniform GRPO, lr sweep (Pareto-efficient)")
    if not keep.all():
        ax.plot(f[("pass@1", "mean")][~keep], f[(f"pass@{kmax}", "mean")][~keep], "x", color="0.5", ms=7,
                label="uniform GRPO, dominated rate")
    for i, (name, r) in enumerate(f.iterrows()):
        lr = "0" if name == START_POINT else f"{parse_arm(name).lr_scale:g}"
        ax.annotate("start (lr -> 0)" if name == START_POINT else f"x{lr}", (r[("pass@1", "mean")],
                    r[(f"pass@{kmax}", "mean")]), fontsize=7, color="0.3", textcoords="offset points",
                    xytext=(-4, 6) if i % 2 else (5, -11), ha="right" if i % 2 else "left")
    for j, arm in enumerate(a for a in args.arms if a != "uniform"):
        r = stats_.loc[arm]
        ax.errorbar(r[("pass@1", "mean")], r[(f"pass@{kmax}", "mean")], xerr=1.96 * r[("pass@1", "sem")],
                    yerr=1.96 * r[(f"pass@{kmax}", "sem")], fmt=MARKERS[j % len(MARKERS)], ms=8, mfc="white",
                    mew=1.8, capsize=3, color=color_of(arm), label=arm, zorder=3)
    if "uniform" in stats_.index:
        u = stats_.loc["uniform"]
        ax.plot(u[("pass@1", "mean")], u[(f"pass@{kmax}", "mean")], "*", ms=15, color="k", zorder=4,
                label="uniform GRPO (lr x1)")
    ax.set_xlabel("Pass@1 after training (probability)")
    ax.set_ylabel(f"Pass@{kmax} after training (probability)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a point
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def plot_training(steps, share, summary, args, path, title, max_arms: int = MAX_ARMS):
    """figure.png: four panels over the arms ``figure_arms`` picks, one colour, marker and line style per arm in
    every panel and one legend below the panels.

    (a) Pass@k after training against k, with 95% CIs over replicates, and the step-0 policy's; (b) the Phase-B
    budget share by pilot successes s (bars, mean over replicates and steps; cf. HORA Fig. 3) with the share of
    prompts at each s; (c) and (d) each arm's paired difference from uniform (lr x1) over training in Pass@1 and in
    Pass@kmax, mean over replicates with a paired 95% CI band. The legend's title names the study's arms left out
    (``figure_arms``'s rule; all of them are in frontier.png and summary.csv).

    Parameters
    ----------
    steps : pandas.DataFrame
        The study's per-step table.
    share : pandas.DataFrame
        The Phase-B budget share by pilot count.
    summary : pandas.DataFrame
        ``final_summary``.
    args : TrainingStudyArgs
        The study's settings.
    path : path-like
        The PNG to write.
    title : str
        The figure's title.
    max_arms : int, default ``MAX_ARMS``
        Passed to ``figure_arms``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (closed); axes in the order (a), (b), (c), (d).
    """
    from ..plotting import use_agg

    plt = use_agg()
    from matplotlib.ticker import MaxNLocator

    shown = figure_arms(args.arms, max_arms)
    style = _styles(shown)
    fig, axes = plt.subplots(2, 2, figsize=(15, 10), layout="constrained")
    ax_k, ax_share, ax_d1, ax_dk = axes.ravel()
    ks = np.asarray(args.train.ks)
    kmax = int(ks.max())
    handles = [_handle(style[a], a) for a in shown]

    start = summary.groupby("k")["start"].mean().reindex(ks)
    ax_k.plot(ks, start, color="0.45", ls="--", marker="o", ms=4)
    handles.append(_handle({"color": "0.45", "ls": "--", "marker": "o"}, "step 0 (before training), panel a"))
    for arm in shown:
        sub = summary[summary.arm == arm].set_index("k").reindex(ks)
        s = style[arm]
        ax_k.errorbar(ks, sub["final"], yerr=1.96 * sub["final_se"], color=s["color"], ls=s["ls"],
                      marker=s["marker"], ms=5, capsize=2)
    ax_k.set_xscale("log", base=2)
    ax_k.set_xticks(ks, [str(int(k)) for k in ks])
    ax_k.set_xlabel("k (samples per prompt)")
    ax_k.set_ylabel(f"Pass@k after {int(steps.step.max())} steps (probability; exact, eval set)")
    ax_k.set_title("(a) Pass@k after training (95% CI over replicates)")

    sh = share.dropna().groupby(["arm", "s"])[["budget_share", "prompt_share"]].mean().reset_index()
    bars = [a for a in shown if a in set(sh.arm)]
    width = 0.8 / max(len(bars), 1)
    for j, arm in enumerate(bars):
        sub, s = sh[sh.arm == arm], style[arm]
        ax_share.bar(sub.s + j * width - 0.4 + width / 2, sub.budget_share, width, color=s["color"],
                     hatch=s["hatch"], edgecolor="white" if s["hatch"] else None, lw=0)
    if bars:
        ref = sh[sh.arm == bars[0]]
        ax_share.plot(ref.s, ref.prompt_share, color="k", ls=":", marker="s", ms=5)
        handles.append(_handle({"color": "k", "ls": ":", "marker": "s"}, "share of prompts, panel b"))
    ax_share.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_share.set_xlabel("pilot successes s (of K0)")
    ax_share.set_ylabel("share of the Phase-B budget (fraction)")
    ax_share.set_title("(b) Phase-B budget share by pilot count (cf. HORA Fig. 3)")

    base = "uniform" if "uniform" in args.arms else args.arms[0]
    ref = steps[steps.arm == base].set_index(["rep", "step"])
    for ax, col, label in ((ax_d1, "pass@1", "Pass@1"), (ax_dk, f"pass@{kmax}", f"Pass@{kmax}")):
        for arm in (a for a in shown if a != base):
            mine = steps[steps.arm == arm].set_index(["rep", "step"])
            d = (mine[col] - ref[col].reindex(mine.index)).groupby("step")
            mean, se = d.mean(), d.std(ddof=1) / np.sqrt(d.count())
            s = style[arm]
            ax.plot(mean.index, mean, color=s["color"], ls=s["ls"], marker=s["marker"], ms=5,
                    markevery=max(len(mean) // 8, 1), label=arm)
            ax.fill_between(mean.index, mean - 1.96 * se, mean + 1.96 * se, color=s["color"], alpha=0.12, lw=0)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{label}: arm minus {base} (probability; paired 95% CI)")
        ax.set_title(f"({'c' if ax is ax_d1 else 'd'}) {label} over training, paired difference from {base}")

    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=9,
               title=_left_out(args.arms, shown) or None, title_fontsize=9)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def _curve(steps: pd.DataFrame, arm: str, metric: str, start_step: int) -> pd.DataFrame:
    """Mean over replicates, per recorded step from ``start_step`` on, of ``metric`` and of the cumulative rollouts
    since ``start_step`` (``cumulative_rollouts`` of each run)."""
    runs = []
    mine = steps[(steps.arm == arm) & (steps.step >= start_step)]
    for _, run in mine.groupby("rep", sort=True):
        run = run.sort_values("step")
        runs.append(pd.DataFrame({"step": run.step.to_numpy(), "rollouts": cumulative_rollouts(run),
                                  "value": run[metric].to_numpy(dtype=np.float64)}))
    if not runs:
        return pd.DataFrame(columns=["step", "rollouts", "value"])
    return pd.concat(runs).groupby("step", as_index=False)[["rollouts", "value"]].mean()


def plot_efficiency(steps: pd.DataFrame, args, path, title, metric: str = "pass@1"):
    """efficiency.png: the efficiency axis's curves, mean ``metric`` against training steps (left) and against
    rollouts generated (right, log scale), with uniform GRPO's 50% and 100% targets as dashed horizontal lines.

    The arms are ``efficiency_arms`` (uniform, the budget ladder's rungs at lr x1 and the methods). Each curve is
    the mean over replicates at each recorded step from ``warmup_steps`` on; the right panel's x is the mean over
    replicates of ``cumulative_rollouts`` (every rollout generated since that step, screening and refills
    included), drawn from the first record with rollouts > 0. The targets are ``uniform_target``'s levels (the
    rows target@m@50% and target@m of summary.csv); none are drawn when uniform did not improve ``metric``.

    Parameters
    ----------
    steps : pandas.DataFrame
        The study's per-step table (arm, rep, step, rollouts, optionally cum_rollouts, ``metric``).
    args : TrainingStudyArgs
        The study's settings (arms, ``train.warmup_steps``).
    path : path-like
        The PNG to write.
    title : str
        The figure's title.
    metric : str, default "pass@1"
        The column drawn.

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (closed); axes (steps, rollouts).
    """
    from matplotlib.ticker import LogLocator

    from ..plotting import use_agg

    plt = use_agg()
    start_step = args.train.warmup_steps
    shown = tuple(a for a in efficiency_arms(args.arms) if a in set(steps.arm))
    style = _styles(shown)
    label = metric.replace("pass", "Pass")
    fig, (ax_t, ax_c) = plt.subplots(1, 2, figsize=(15, 6.5), layout="constrained")
    handles = []
    for arm in shown:
        curve, s = _curve(steps, arm, metric, start_step), style[arm]
        z = 3 if parse_arm(arm).ladder_rung is not None else 2  # the ladder above the methods
        every = max(len(curve) // 8, 1)
        ax_t.plot(curve.step, curve.value, color=s["color"], ls=s["ls"], marker=s["marker"], ms=5, markevery=every,
                  label=arm, zorder=z)
        spent = curve[curve.rollouts > 0]
        ax_c.plot(spent.rollouts, spent.value, color=s["color"], ls=s["ls"], marker=s["marker"], ms=5,
                  markevery=every, label=arm, zorder=z)
        handles.append(_handle(s, arm))
    target = uniform_target(steps, metric, start_step)
    for fraction in sorted(target.levels, reverse=True):
        level = target.levels[fraction]
        name = f"{fraction:.0%} target: uniform's start + {fraction:.0%} of its gain = {level:.3f}"
        for ax in (ax_t, ax_c):
            ax.axhline(level, color="0.45", ls=(0, (6, 3)), lw=1.1, zorder=1, gid=f"target@{fraction:g}")
            ax.annotate(f"{fraction:.0%} target", (0.005, level), xycoords=ax.get_yaxis_transform(), fontsize=8,
                        color="0.3", xytext=(0, 2), textcoords="offset points", va="bottom")
        handles.append(_handle({"color": "0.45", "ls": (0, (6, 3)), "marker": ""}, name))
    note = None if target.improved else f"uniform did not improve {label}: no targets"
    since = f" since step {start_step}" if start_step else ""
    ax_t.set_xlabel("training step")
    ax_t.set_title(f"Mean {label} against training steps")
    ax_c.set_xscale("log")
    # minor ticks at 2 and 5 per decade only: over 1-2 decades the default labels 2, 3, 4, 6 x 10^k, which collide
    ax_c.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    ax_c.set_xlabel(f"rollouts generated (cumulative{since}; log scale)")
    ax_c.set_title(f"Mean {label} against rollouts generated")
    for ax in (ax_t, ax_c):
        ax.set_ylabel(f"{label} (probability; eval set, mean over {args.n_reps} replicates)")
        ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=9, title=note,
               title_fontsize=9)
    fig.suptitle(f"Efficiency: steps and rollouts to uniform GRPO's {label} targets\n{title}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig
