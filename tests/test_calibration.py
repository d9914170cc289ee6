"""The simulator against the lab (simalloc.train.calibration, studies sim_calibration, sim_vs_lab_committed) and the
readings study: the fit loss and the verdicts by hand, the studies end to end, a mis-set simulator refuted, and a lab
that agrees with the simulator by construction confirmed (the verdict can go both ways)."""

import shutil

import numpy as np
import pandas as pd
import pytest

from simalloc.sim.runner import run_study
from simalloc.train.calibration import (
    LAB_FILES,
    calibration_table,
    lab_matched_config,
    parse_failure_reading,
    read_lab,
    uniform_fit_loss,
)


def _runs(shift=0.0, snr=0.2):
    rows = []
    for arm in ("uniform", "uniform:lr0.5"):
        for rep in range(2):
            for step in (0, 20, 40):
                rows.append({"arm": arm, "rep": rep, "step": step, "pass@1": 0.3 + step / 100 + shift,
                             "pass@4": 0.5 + shift, "pass@16": 0.6 + shift, "pass@64": 0.7 + shift,
                             "pass@256": 0.8 + shift, "grad_snr": snr if step else np.nan})
    return pd.DataFrame(rows)


def test_fit_loss_by_hand():
    """Identical tables: 0. Every Pass@k off by 0.1: 0.01. SNR off by 0.5 at weight 0.01: 0.0025."""
    lab = _runs()
    assert uniform_fit_loss(_runs(), lab)["loss"] == pytest.approx(0.0, abs=1e-15)
    off = uniform_fit_loss(_runs(shift=0.1), lab)
    assert off["passk"] == pytest.approx(0.01) and off["snr"] == pytest.approx(0.0) and off["n"] == 6
    assert uniform_fit_loss(_runs(snr=0.7), lab)["snr"] == pytest.approx(0.0025)
    assert np.isnan(uniform_fit_loss(_runs().assign(arm="hora"), lab)["loss"])


def _summary(gains):
    rows = []
    for arm, (g, se, credited) in gains.items():
        rows += [(arm, "frontier_gain@256", g, se, 4), (arm, "credited@256", credited, np.nan, 4)]
    return pd.DataFrame(rows, columns=["arm", "metric", "value", "se", "n_reps"])


def _final(diffs):
    return pd.DataFrame([{"arm": a, "k": 1, "vs_uniform": d, "vs_uniform_se": s} for a, (d, s) in diffs.items()])


def test_verdicts_by_hand():
    lab = {"summary": _summary({"uniform": (0, 0, 0), "hora": (0.16, 0.02, 1), "placebo": (0.01, 0.01, 0),
                                "x2": (0.0, 0.01, np.nan)}),
           "final_passk": _final({"uniform": (0, 0), "hora": (0.03, 0.005), "placebo": (0.0, 0.01),
                                  "x2": (-0.005, 0.01)})}
    sim = _summary({"uniform": (0, 0, 0), "hora": (-0.02, 0.001, -1), "placebo": (0.002, 0.003, 0),
                    "x2": (0.0, 0.01, 0)})
    sim_final = _final({"uniform": (0, 0), "hora": (0.05, 0.01), "placebo": (0.0, 0.01), "x2": (-0.05, 0.01)})
    t = calibration_table(sim, sim_final, lab, ["uniform", "hora", "placebo", "x2"]).set_index(["arm", "metric"])
    assert "uniform" not in t.index.get_level_values(0)
    assert t.loc[("hora", "frontier_gain@256"), "verdict"] == "refuted"
    assert t.loc[("hora", "pass@1_vs_uniform"), "verdict"] == "confirmed"  # both +1: 0.03 - 0.01 > 0.01
    assert t.loc[("placebo", "frontier_gain@256"), "verdict"] == "confirmed"
    assert t.loc[("x2", "frontier_gain@256"), "verdict"] == "undetermined"  # the lab side has no reading
    assert t.loc[("x2", "pass@1_vs_uniform"), "verdict"] == "refuted"  # lab 0, sim -1


def test_lab_inputs_and_failure_readings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="lab_dir"):
        read_lab(tmp_path)
    for bad in ("prompt:1.5", "own", "shared:0.5"):
        with pytest.raises(ValueError, match="failure_grid"):
            parse_failure_reading(bad)
    cfg = lab_matched_config(lr=0.01)
    assert (cfg.n_prompts, cfg.group_size, cfg.k0, cfg.steps, cfg.temperature) == (64, 16, 4, 200, 1.0)
    assert cfg.world.startswith("empirical:") and cfg.lr == 0.01


def test_sim_vs_lab_end_to_end_a_mis_set_simulator_is_refuted_and_an_agreeing_lab_confirmed(tmp_path):
    """The quick study with v2's reading (shared failures, no per-rollout noise): calibration.csv has the schema,
    >= 5 arms and at least one refuted prediction (the lab's HORA gain is +0.16, credited; v2 predicts none).
    Mutation of the other side: a lab folder whose summary and Pass@1 table are the simulator's own must be
    confirmed on every row with a reading."""
    out = run_study("sim_vs_lab_committed", quick=True, out=tmp_path / "v2",
                    overrides={"failures": "shared", "rollout_noise": "0"}, progress=False)
    table = pd.read_csv(out / "calibration.csv")
    assert list(table.columns) == ["arm", "metric", "lab_value", "lab_se", "sim_value", "sim_se", "lab_effect",
                                   "sim_effect", "verdict"]
    assert table.arm.nunique() >= 5 and set(table.verdict) <= {"confirmed", "refuted", "undetermined"}
    assert (table.verdict == "refuted").any()
    assert {"frontier_gain@256", "pass@1_vs_uniform"} <= set(table.metric)
    fake = tmp_path / "fake_lab"
    fake.mkdir()
    for name in LAB_FILES:
        shutil.copy(f"docs/lab/{name}", fake / name)
    shutil.copy(out / "summary.csv", fake / "summary.csv")
    shutil.copy(out / "final_passk.csv", fake / "final_passk.csv")
    agree = calibration_table(pd.read_csv(out / "summary.csv"), pd.read_csv(out / "final_passk.csv"),
                              read_lab(fake), list(table.arm.unique()))
    known = agree[agree.verdict != "undetermined"]
    assert len(known) >= 5 and (known.verdict == "confirmed").all()


def test_sim_calibration_quick_ranks_grid_points_by_the_uniform_fit(tmp_path):
    out = run_study("sim_calibration", quick=True, out=tmp_path / "fit", progress=False)
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == 4 and fit.loss.is_monotonic_increasing and (fit.compared > 0).all()
    assert np.allclose(fit.loss, fit.passk_part + fit.snr_part)
    assert set(pd.read_parquet(out / "table.parquet").arm) == {"uniform", "uniform:lr0.5", "uniform:lr2"}
    assert (out / "fit.png").stat().st_size > 10_000


def test_readings_study_reports_every_reading(tmp_path):
    out = run_study("hora_readings", quick=True, out=tmp_path / "readings", progress=False)
    table = pd.read_csv(out / "readings.csv")
    assert set(table.reading) == {"adam/rollout/shared", "sgd/rollout/shared"}
    assert set(table.arm) == {"uniform", "hora", "hora_placebo", "uniform:x2"}
    assert table[table.arm == "hora"].frontier_gain.notna().all()
    assert {"credited", "interpolation_bound", "pass1_vs_uniform", "grad_snr"} <= set(table.columns)
    # the readings really differ: SGD at lr 0.3 and Adam at 0.02 train uniform GRPO along different paths
    steps = pd.read_parquet(out / "table.parquet")
    u = steps[(steps.arm == "uniform") & (steps.rep == 0)]
    a, b = (u[u.reading == r].sort_values("step")["pass@256"].to_numpy() for r in (0, 1))
    assert np.abs(a - b).max() > 1e-3


def test_docs_quote_the_committed_calibration():
    """docs/simulator.md's calibration table is docs/lab/calibration.csv, row for row, verdicts included; the
    committed fit's best point is the simulator's default."""
    from simalloc.train import TrainConfig

    page = open("docs/simulator.md").read()
    table = pd.read_csv("docs/lab/calibration.csv")
    assert table.arm.nunique() >= 5
    for r in table.itertuples():
        quoted = (f"| {r.arm} | {r.metric} | {r.lab_value:+.3f} +- {r.lab_se:.3f} | {r.sim_value:+.3f} +- "
                  f"{r.sim_se:.3f} |")
        assert quoted in page, quoted
        assert ("**refuted**" if r.verdict == "refuted" else r.verdict) in page.split(quoted, 1)[1].split("\n", 1)[0]
    best = pd.read_csv("docs/lab/calibration_fit.csv").iloc[0]
    cfg = TrainConfig()
    assert (cfg.failures, cfg.rollout_noise, cfg.order_noise) == (best.failures, best.rollout_noise,
                                                                     best.order_noise)
    assert best.failures == "shared" or cfg.failure_share == best.failure_share
