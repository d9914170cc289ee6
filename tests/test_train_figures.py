"""The training studies' figures: which arms figure.png and efficiency.png draw, legends outside the panels, the
efficiency targets at uniform GRPO's own levels, efficiency.png written by a study."""

import numpy as np
import pandas as pd
import pytest

from simalloc.sim.runner import load_study
from simalloc.train import TrainingStudyArgs
from simalloc.train.analysis import final_summary
from simalloc.train.arms import frontier_arms
from simalloc.train.efficiency import uniform_target
from simalloc.train.figures import efficiency_arms, figure_arms, plot_efficiency, plot_training

#: hora_vs_grpo's default arms (23: methods, controls, the budget ladder and its learning-rate grid, temperatures)
FLAGSHIP = load_study("hora_vs_grpo").Args().arms
MAIN = ("uniform", "hora", "hora:truth", "hora_placebo", "dapo_dynamic", "vip", "knapsack", "gvm", "uniform:x2")
KS = (1, 2, 4)
N_STEPS = 4


def _tables(arms, uniform_end=0.7):
    """A synthetic study: 2 replicates, steps 0..4, every Pass@k linear in the step. Uniform's Pass@1 goes from
    0.5 (rep 0) and 0.4 (rep 1) to ``uniform_end`` in both, so its targets are known: start 0.45, gain
    uniform_end - 0.45; every other arm ends 0.01 higher per position in ``arms``. An arm "uniform:x<m>" draws m
    times uniform's 100 rollouts per step."""
    rows, share = [], []
    for j, arm in enumerate(arms):
        scale = float(arm.split(":x")[1].split(":")[0]) if ":x" in arm else 1.0
        for rep, start in ((0, 0.5), (1, 0.4)):
            end = uniform_end if arm == "uniform" else 0.7 + 0.01 * j
            for step in range(N_STEPS + 1):
                p1 = start + (end - start) * step / N_STEPS
                rows.append({"arm": arm, "rep": rep, "step": step, "rollouts": 0 if step == 0 else 100 * scale,
                             "cum_rollouts": 100 * scale * step,
                             **{f"pass@{k}": 1 - (1 - p1) ** k for k in KS}})
            for s in range(3):
                share.append({"arm": arm, "rep": rep, "s": s, "budget_share": 1 / 3, "prompt_share": 1 / 3})
    return pd.DataFrame(rows), pd.DataFrame(share)


def _args(arms):
    return TrainingStudyArgs(arms=tuple(arms), n_reps=2, frontier_lrs=(0.5, 2.0)).with_train(ks=KS, steps=N_STEPS)


def test_figure_arms_draws_the_main_arms_of_the_flagship_study():
    """Rule: no arm at another learning rate; the methods, uniform and uniform:x2 always; the ladder's other rungs
    and the temperature controls each as a whole group, only while at most max_arms are drawn."""
    assert len(FLAGSHIP) == 23
    assert figure_arms(FLAGSHIP) == MAIN  # 9 drawn: the ladder (2 more) would make 11 > 10
    assert figure_arms(FLAGSHIP, max_arms=11) == MAIN[:8] + ("uniform:x2", "uniform:x0.5", "uniform:x4")
    assert set(figure_arms(FLAGSHIP, max_arms=50)) == set(MAIN) | {"uniform:x0.5", "uniform:x4", "uniform:temp1.5",
                                                                    "uniform:temp2"}
    assert not any(":lr" in a for a in figure_arms(FLAGSHIP + frontier_arms((0.5, 2.0)), max_arms=100))


def test_figure_arms_never_cuts_a_method():
    methods = ("uniform", "hora", "hora:history", "dapo_dynamic", "speed_rl_dynamic", "dars_et", "dars_hw",
               "reinforce_ada", "reinforce_ada_pos", "greso", "mopps", "pods", "knapsack", "hora_placebo")
    arms = methods + ("uniform:x2", "uniform:lr0.35", "uniform:x4")
    assert figure_arms(arms) == methods + ("uniform:x2",)


def test_efficiency_arms_are_the_budget_ladder_and_the_methods():
    assert efficiency_arms(FLAGSHIP) == ("uniform:x0.5", "uniform", "uniform:x2", "uniform:x4", "hora",
                                         "dapo_dynamic", "vip", "knapsack", "gvm")


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_training_figure_draws_the_main_arms_with_one_legend_outside_the_panels(tmp_path):
    arms = FLAGSHIP + tuple(a for a in frontier_arms((0.5, 2.0)) if a not in FLAGSHIP)
    steps, share = _tables(arms)
    args = _args(FLAGSHIP)
    fig = plot_training(steps, share, final_summary(steps, KS), args, tmp_path / "figure.png", "test")
    assert (tmp_path / "figure.png").stat().st_size > 10_000
    assert len(fig.axes) == 4 and len(fig.legends) == 1
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == [*MAIN, "step 0 (before training), panel a", "share of prompts, panel b"]
    assert legend.get_title().get_text().startswith("Not drawn (see frontier.png and summary.csv): 10 arms at "
                                                    "other learning rates, uniform:x0.5, uniform:x4")
    for ax in fig.axes[2:]:  # the paired differences: one curve per drawn arm but uniform
        labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
        assert labels == list(MAIN[1:])
    drawn = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert not any(":lr" in t for t in texts + drawn)
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert not any(_overlaps(box, ax.get_tightbbox()) for ax in fig.axes)


def test_efficiency_figure_draws_uniforms_targets(tmp_path):
    steps, _ = _tables(FLAGSHIP)
    fig = plot_efficiency(steps, _args(FLAGSHIP), tmp_path / "efficiency.png", "test")
    assert (tmp_path / "efficiency.png").stat().st_size > 10_000
    ax_t, ax_c = fig.axes
    levels = uniform_target(steps, "pass@1").levels
    # by construction: start (0.5 + 0.4) / 2 = 0.45, gain 0.7 - 0.45 = 0.25
    assert levels == pytest.approx({0.5: 0.575, 1.0: 0.7})
    for ax in (ax_t, ax_c):
        lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
        assert set(lines) == {"target@0.5", "target@1"}
        for fraction, level in levels.items():
            y = lines[f"target@{fraction:g}"].get_ydata()
            assert np.allclose(y, level) and lines[f"target@{fraction:g}"].get_linestyle() == "--"
        labels = [line.get_label() for line in ax.get_lines() if not line.get_gid()]
        assert labels == list(efficiency_arms(FLAGSHIP))
    assert ax_c.get_xscale() == "log"
    x4 = next(line for line in ax_c.get_lines() if line.get_label() == "uniform:x4")
    assert list(x4.get_xdata()) == [400, 800, 1200, 1600]  # cumulative rollouts, step 0 (none yet) left out
    assert ax_t.get_xlabel() == "training step" and ax_c.get_xlabel().startswith("rollouts generated (cumulative")
    assert len(fig.legends[0].get_texts()) == len(efficiency_arms(FLAGSHIP)) + 2


def test_efficiency_figure_draws_no_target_when_uniform_does_not_improve(tmp_path):
    steps, _ = _tables(("uniform", "hora"), uniform_end=0.4)  # rep 0 falls 0.1, rep 1 stays: no gain
    fig = plot_efficiency(steps, _args(("uniform", "hora")), tmp_path / "efficiency.png", "test")
    assert not [line for ax in fig.axes for line in ax.get_lines() if line.get_gid()]
    assert fig.legends[0].get_title().get_text() == "uniform did not improve Pass@1: no targets"


def test_a_training_study_writes_efficiency_png(tmp_path):
    from simalloc.sim.runner import run_study

    tiny = {"steps": "2", "n_reps": "2", "n_pool": "200", "n_eval": "100", "n_strategies": "40", "n_prompts": "12",
            "group_size": "8", "k0": "2", "phase_b_shards": "2", "arms": "uniform,hora,uniform:x2",
            "frontier_lrs": "0.5", "bench_sizes": "30"}
    out = run_study("hora_vs_grpo", out=tmp_path / "s", overrides=tiny, progress=False, workers=1)
    for name in ("figure.png", "efficiency.png", "frontier.png"):
        assert (out / name).stat().st_size > 10_000, name
