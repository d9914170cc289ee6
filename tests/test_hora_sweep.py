"""The settings sweep (studies/hora_sweep.py): verdict rules by hand, the output contract, and a mutation that
must flip a verdict (HORA moved above the frontier in one setting must be counted as holding there)."""

import numpy as np
import pandas as pd
import pytest

from simalloc.sim.runner import load_study, make_args, run_study

SMALL = {"steps": "12", "n_reps": "2", "n_pool": "200", "n_eval": "100", "n_strategies": "40", "n_prompts": "12",
         "group_size": "8", "k0": "2", "phase_b_shards": "2", "worlds": "u_shaped,hard", "zipfs": "1.5",
         "cluster_counts": "1,8", "frontier_lrs": "0.25,0.5,2", "failure_readings": "shared", "optimizers": "adam",
         "arms": "uniform,hora,hora_placebo"}


@pytest.mark.parametrize("value,se,expected", [
    (0.010, 0.001, "holds"),      # above the 0.005 floor and 2 se
    (-0.010, 0.001, "reversed"),
    (0.004, 0.0001, "no_effect"),      # significant but below the floor
    (0.020, 0.015, "no_effect"),       # above the floor but within 2 se
    (float("nan"), 0.1, "undetermined"),
    (0.5, float("nan"), "undetermined"),  # one replicate: no se, no verdict
])
def test_verdict_rule(value, se, expected):
    sweep = load_study("hora_sweep")
    assert sweep._verdict(value, se) == expected


def test_settings_are_the_product_and_names_resolve():
    args = load_study("hora_sweep").Args(worlds=("u_shaped", "beta:2,5"), zipfs=(1.2, 1.8), cluster_counts=(1,))
    s = args.settings()
    assert len(s) == 2 * 2 * 1 * 2 * 2  # worlds x zipfs x clusters x failure readings x optimizers
    assert s[0] == {"world": "beta:0.5,0.5", "zipf": 1.2, "n_clusters": 1, "failures": "shared",
                    "failure_share": args.train.failure_share, "optimizer": "adam", "lr": args.train.lr}
    assert s[1]["optimizer"] == "sgd" and s[1]["lr"] == args.sgd_lr
    assert s[2]["failures"] == "prompt" and s[2]["failure_share"] == 0.5
    assert s[-1]["world"] == "beta:2,5"
    with pytest.raises(ValueError, match="failure_readings"):
        load_study("hora_sweep").Args(failure_readings=("own",)).settings()


def test_bad_sweep_values_fail_before_work(tmp_path):
    with pytest.raises(ValueError, match="n_clusters"):
        run_study("hora_sweep", out=tmp_path / "x", overrides={**SMALL, "cluster_counts": "0"}, progress=False)
    with pytest.raises(ValueError, match="arms"):
        run_study("hora_sweep", out=tmp_path / "y", overrides={**SMALL, "arms": "uniform,hora"}, progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_sweep_outputs_and_a_mutation_flips_the_frontier_verdict(tmp_path):
    sweep = load_study("hora_sweep")
    out = run_study("hora_sweep", out=tmp_path / "run", overrides=SMALL, progress=False)
    claims = pd.read_csv(out / "claims.csv")
    settings = pd.read_csv(out / "settings.csv")
    assert list(claims.claim) == list(sweep.CLAIMS)
    assert (claims[list(sweep.VERDICTS)].sum(axis=1) == 4).all() and (claims.n_settings == 4).all()
    assert np.allclose(claims.fraction_holds, claims.holds / 4)
    assert len(settings) == 4 * len(sweep.CLAIMS) and set(settings.verdict) <= set(sweep.VERDICTS)
    summary = pd.read_csv(out / "summary.csv")
    assert {"setting", "world", "zipf", "n_clusters", "arm", "metric", "value", "se"} <= set(summary.columns)
    assert (out / "figure.png").stat().st_size > 10_000

    # mutation: HORA's Pass@256 raised by 0.3 at the last step of setting 0, every replicate: the same finalize
    # must now see it above GRPO's frontier there (holds), and the other settings' verdicts must not move
    steps = pd.read_parquet(out / "table.parquet")
    last = (steps.setting == 0) & (steps.arm == "hora") & (steps.step == steps.step.max())
    if not np.isfinite(settings[(settings.setting == 0) & (settings.claim == "table1_frontier")].value).all():
        pytest.skip("HORA's Pass@1 fell outside this tiny frontier's range")
    steps.loc[last, "pass@256"] += 0.3
    args = make_args(sweep, overrides=SMALL)
    mutated = tmp_path / "mutated"
    mutated.mkdir()
    sweep.finalize(args, {"steps": steps, "budget_share": pd.read_parquet(out / "budget_share.parquet")}, mutated,
                   progress=False)
    after = pd.read_csv(mutated / "settings.csv")
    frontier = after[after.claim == "table1_frontier"].set_index("setting")
    before = settings[settings.claim == "table1_frontier"].set_index("setting")
    assert frontier.loc[0, "verdict"] == "holds"
    assert frontier.loc[0, "value"] == pytest.approx(before.loc[0, "value"] + 0.3, abs=1e-9)
    assert (frontier.loc[1:, "verdict"] == before.loc[1:, "verdict"]).all()
