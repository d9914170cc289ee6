"""The sim-vs-lab protocol's v4 reading (``SIM_READINGS["v4"]``): its grid as policy-option strings and its quick
grid run by the simulator as the protocol's fit stage builds it (``lab_sim_config``), for two steps."""

import numpy as np
import pandas as pd
import pytest

from simalloc.lab.config import LabConfig
from simalloc.train import simulate_training
from simalloc.train.policies import parse_policy_options
from simalloc.train.protocol import changes_of, lab_sim_config, loglinear_options, sim_reading


def test_loglinear_options_is_the_product_in_order():
    assert loglinear_options(transfer=(0, 0.5), curvature=(50,), score_noise=(6, 12)) == (
        "transfer=0,curvature=50,score_noise=6", "transfer=0,curvature=50,score_noise=12",
        "transfer=0.5,curvature=50,score_noise=6", "transfer=0.5,curvature=50,score_noise=12")


def test_v4_grid_parses_and_the_quick_grid_runs_in_the_fit_stages_setting(tmp_path):
    reading = sim_reading("v4")
    full = reading.points()
    assert len(full) == 3 * 3 * 3 * 3  # transfer x score_noise x curvature x lr
    for point in full:
        parse_policy_options(point["policy_options"])  # every string is a valid option set
    quick = reading.points(quick=True)
    assert len(quick) == 2 and {parse_policy_options(p["policy_options"])["transfer"] for p in quick} == {0.0, 1.0}
    world = tmp_path / "world.csv"
    pd.DataFrame({"successes": [0, 1, 3, 5, 7, 8] * 5, "trials": [8] * 30}).to_csv(world, index=False)
    for point in quick:
        cfg = lab_sim_config(LabConfig(), str(world), **changes_of(point), steps=2, n_pool=30, n_prompts=8,
                             group_size=4, n_eval=20, record_every=1, snr_every=1)
        assert cfg.policy == "loglinear" and parse_policy_options(cfg.policy_options)["curvature"] == 50.0
        steps, _ = simulate_training(cfg, "uniform", np.random.default_rng(0))
        assert len(steps) >= 2 and np.isfinite(steps["pass@1"]).all()


def test_unknown_reading_is_a_one_line_error():
    with pytest.raises(ValueError, match="sim_reading: unknown reading 'v9'; valid: v3, v4, v4wide"):
        sim_reading("v9")


def test_v4wide_grid_extends_past_v4s_corner_and_parses():
    """v4wide's grid reaches beyond the corner where both regimes' v4 fits landed (lr 0.04, score noise 6,
    transfer 1): a larger rate, a smaller noise and a larger transfer, each containing the corner itself."""
    def axis(points, key, option=None):
        return {parse_policy_options(p["policy_options"])[option] if option else p[key] for p in points}

    wide, v4 = sim_reading("v4wide").points(), sim_reading("v4").points()
    assert len(wide) == 3 * 3 * 3 * 2
    for key, option, beyond in (("lr", None, max), ("policy_options", "score_noise", min),
                                ("policy_options", "transfer", max)):
        a, b = axis(wide, key, option), axis(v4, key, option)
        corner = beyond(b)
        assert corner in a and beyond(a) != corner and beyond(beyond(a), corner) == beyond(a)
