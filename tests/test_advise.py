"""simalloc advise: interval coverage on a world whose truth is known, the allocation file, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simalloc.advise import advise
from simalloc.allocators.metrics import BATCH_METRICS as METRICS
from simalloc.allocators.metrics import expected_batch_metrics, simulate_batches
from simalloc.cli import main
from simalloc.worlds.difficulty import BetaWorld


def _counts_csv(path, p, trials, rng, ids=True):
    s = rng.binomial(trials, p)
    frame = pd.DataFrame({"successes": s, "trials": trials})
    if ids:
        frame.insert(0, "prompt_id", [f"q{i}" for i in range(len(p))])
    frame.to_csv(path, index=False)
    return frame


def test_batch_metrics_against_enumeration():
    """The Rao-Blackwellised expectations equal exact enumeration over the extra rollouts' outcomes."""
    from itertools import product

    p, s, k0, k = np.array([0.3, 0.6, 0.9]), np.array([0, 1, 2]), 2, np.array([2, 1, 3])
    total = np.zeros(len(METRICS))
    for outcome in product([0, 1], repeat=int(k.sum())):
        prob, pos, extra = 1.0, 0, np.zeros(3)
        for i in range(3):
            for _ in range(k[i]):
                prob *= p[i] if outcome[pos] else 1 - p[i]
                extra[i] += outcome[pos]
                pos += 1
        final = s + extra
        size = k0 + k
        informative = np.sum((final > 0) & (final < size))
        total += prob * np.array([extra.sum(), extra[s == 0].sum(), np.sum(final > 0), informative, 1 - informative / 3,
                                  np.mean(k == 0)])
    # tolerance: 2^6 products of at most six probabilities summed, against closed forms: ~1e-15 relative
    np.testing.assert_allclose(expected_batch_metrics(p, s, k0, k), total, rtol=1e-12)


def test_intervals_cover_the_truth():
    """On Beta(0.6, 1.4) prompts, the 95% intervals of each allocator's expected metrics and of its gain over
    uniform cover the true values (Monte Carlo in the true world, 2000 batches: se well under 1% of the interval
    widths) in >= 90% of 16 seeded trials, pooled over allocators and metrics. Failure budget: nominal is 95%, so
    a pooled coverage below 90% (over 12 x 3 x 4 intervals per kind) is a real undercoverage, not bad luck."""
    world, n, k0, budget = BetaWorld(0.6, 1.4), 120, 4, 480
    allocators = ("uniform", "hora", "informative")
    truth = simulate_batches(world, np.full(n, k0), budget, allocators, rng=np.random.default_rng(123), n_sim=2000)
    gains = truth - truth[[0]]
    cover_level, cover_gain = [], []
    for trial in range(12):
        rng = np.random.default_rng(1000 + trial)
        s = rng.binomial(k0, world.sample(n, rng))
        adv = advise(pd.DataFrame({"successes": s, "trials": k0}), budget, allocators=allocators, resamples=100,
                     n_sim=2, rng=trial, voting=False, pilot_size=False)
        t = adv.allocators
        for j, name in enumerate(allocators):
            for m, metric in enumerate(METRICS[:4]):
                row = t[(t.allocator == name) & (t.metric == metric)].iloc[0]
                cover_level.append(row.ci_low <= truth[j, m] <= row.ci_high)
                if name != "uniform":
                    cover_gain.append(row.vs_uniform_low <= gains[j, m] <= row.vs_uniform_high)
    assert np.mean(cover_level) >= 0.90, np.mean(cover_level)
    assert np.mean(cover_gain) >= 0.90, np.mean(cover_gain)


def test_cli_end_to_end_files_and_caps(tmp_path):
    rng = np.random.default_rng(0)
    _counts_csv(tmp_path / "counts.csv", rng.beta(0.5, 1.0, 60), 8, rng)
    out = tmp_path / "advice"
    assert main(["advise", str(tmp_path / "counts.csv"), "--budget", "300", "--cap", "9", "--resamples", "30",
                 "--out", str(out)]) == 0
    for name in ("report.md", "fit.png", "allocators.png", "pilot_size.png", "allocation.csv", "results.parquet"):
        assert (out / name).is_file(), name
    alloc = pd.read_csv(out / "allocation.csv")
    assert alloc.extra_rollouts.sum() == 300 and alloc.extra_rollouts.max() <= 9 and alloc.extra_rollouts.min() >= 0
    assert list(alloc.prompt_id[:2]) == ["q0", "q1"]
    report = (out / "report.md").read_text()
    assert "## Recommendation" in report and "chi-square" in report
    results = pd.read_parquet(out / "results.parquet")
    assert set(results.section) == {"allocators", "pilot_size"}
    assert json.loads((out / "settings.json").read_text())["budget"] == 300


def test_few_prompts_cannot_tell():
    adv = advise(pd.DataFrame({"successes": [0, 1, 2, 3, 4, 0, 1, 2], "trials": 4}), 32, resamples=20, n_sim=1,
                 pilot_size=False)
    assert "cannot tell" in adv.recommendation
    assert (adv.allocation.allocator == "uniform").all() and adv.allocation.extra_rollouts.sum() == 32


def test_pool_with_answers_replays_voting(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for task in range(24):
        p = rng.beta(1, 1)
        for i in range(16):
            ok = rng.random() < p
            rows.append({"prompt_id": f"t{task}", "reward": float(ok),
                         "answer": "42" if ok else str(rng.integers(0, 3)), "response_length": 20})
    pd.DataFrame(rows).to_json(tmp_path / "log.jsonl", orient="records", lines=True)
    adv = advise(tmp_path / "log.jsonl", 96, resamples=20, n_sim=1, pilot_size=False)
    assert adv.voting is not None and {"votes", "accuracy", "tokens"} <= set(adv.voting.metric)
    assert adv.counts.trials.eq(16).all() and adv.counts.prompt_id.iloc[0] == "t0"
    adv.write(tmp_path / "out")
    assert (tmp_path / "out" / "voting.png").is_file()
    assert "Stopping rules" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("content, args, needle", [
    ("successes,trials\n1,4\nx,4\n", [], "must hold non-negative integers; row 2 has 'x'"),
    ("successes,trials\n5,4\n", [], "row 1 of data.csv has more successes than trials (5 > 4)"),
    ("", [], "empty"),
    ("successes,trials\n1,4\n", ["--budget", "1.5"], "budget: must be an integer"),
    ("successes,trials\n1,4\n", ["--budget", "-3"], "budget: must be >= 0"),
    ("successes\n1\n", [], "no trials column"),
    ('{"prompt_id": "a", "answer": "1"}\n', [], "no reward column"),
    ("successes,trials\n1,4\n2,4\n", ["--cap", "1"], "cap:"),
    ("successes,trials\n1,4\n", ["--objective", "speed"], None),  # argparse's own one-line error
])
def test_bad_input_one_line_error_nothing_written(tmp_path, capsys, content, args, needle):
    suffix = ".jsonl" if content.startswith("{") else ".csv"
    data = tmp_path / f"data{suffix}"
    data.write_text(content)
    out = tmp_path / "out"
    argv = ["advise", str(data), "--out", str(out), "--resamples", "20"]
    if "--budget" not in args:
        argv += ["--budget", "10"]
    try:
        code = main(argv + args)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err
    if needle is not None:
        assert len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_mixture_fit_recovers_a_known_mixture():
    """Two well-separated components (hard and easy prompts) are recovered from 3000 prompts x 16 rollouts:
    weights within 0.05 and component means within 0.05 (sampling error of the fit at this size is ~0.01-0.02)."""
    from simalloc.worlds.difficulty import BetaMixtureWorld, fit_beta_binomial_mixture

    truth = BetaMixtureWorld((0.4, 0.6), (0.5, 6.0), (8.0, 2.0))
    rng = np.random.default_rng(5)
    s = rng.binomial(16, truth.sample(3000, rng))
    fit = fit_beta_binomial_mixture(s, 16, rng=0)
    np.testing.assert_allclose(fit.weights, truth.weights, atol=0.05)
    means = np.array(fit.a) / (np.array(fit.a) + np.array(fit.b))
    np.testing.assert_allclose(means, [0.5 / 8.5, 0.75], atol=0.05)


def test_fitted_prior_changes_hora_and_is_recorded():
    """With a hard world, the fitted prior believes s = 0 prompts nearly hopeless, so HORA sends them less than
    under Beta(1, 1); the choice is recorded in the settings."""
    rng = np.random.default_rng(2)
    s = rng.binomial(8, rng.beta(0.4, 3.0, 150))
    data = pd.DataFrame({"successes": s, "trials": 8})
    kw = dict(allocators=("uniform", "hora"), resamples=20, n_sim=2, voting=False, pilot_size=False, rng=0)
    flat, fitted = advise(data, 600, **kw), advise(data, 600, prior="fitted", **kw)
    pick = lambda a: a.allocators.set_index(["allocator", "metric"]).expected[("hora", "hits_unsolved")]  # noqa
    assert pick(flat) > pick(fitted)
    assert flat.settings["prior"] == "uniform" and fitted.settings["prior"] == "fitted"
    with pytest.raises(ValueError, match="prior: unknown value 'flat'"):
        advise(data, 600, prior="flat", **kw)


# ------------------------------------------------------------- graceful limits and honest recommendations

def _run_cli(tmp_path, frame, *args):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(["advise", str(path), "--resamples", "20", "--out", str(out), *args])
    return code, out


@pytest.mark.parametrize("n,p", [(300, 0.3), (3, 0.5), (2, 0.0)])
def test_the_data_cannot_tell_without_a_traceback(tmp_path, capsys, n, p):
    """One difficulty (300 prompts at p = 0.3: no spread beyond binomial noise) and 2-3 prompts: a report that
    says why, uniform groups in allocation.csv, exit code 0."""
    rng = np.random.default_rng(n)
    frame = pd.DataFrame({"prompt_id": [f"q{i}" for i in range(n)], "successes": rng.binomial(8, p, n), "trials": 8})
    code, out = _run_cli(tmp_path, frame, "--budget", str(8 * n))
    printed = capsys.readouterr().out
    assert code == 0 and "The data cannot tell" in printed
    assert ("no spread beyond binomial noise" in printed) if n == 300 else ("fewer than 20" in printed)
    alloc = pd.read_csv(out / "allocation.csv")
    assert (alloc.allocator == "uniform").all() and alloc.extra_rollouts.sum() == 8 * n
    assert "## How your file was read" in (out / "report.md").read_text()


def test_varying_trials_are_planned_per_prompt_and_reported(tmp_path):
    rng = np.random.default_rng(7)
    t = rng.integers(4, 17, 500)
    frame = pd.DataFrame({"successes": rng.binomial(t, rng.beta(0.7, 1.5, 500)), "trials": t})
    adv = advise(frame, 2000, resamples=20, n_sim=1, voting=False, pilot_size=False)
    assert "4 to 16 rollouts per prompt (each prompt is planned with its own pilot size)" in adv.read.summary()
    assert adv.settings["k0"] == "each prompt's own (4 to 16)"
    tm, at_tm, n = adv.worlds.histogram_prompts
    assert n == 500 and at_tm == int(np.sum(t == tm)) < 100
    adv.write(tmp_path / "out")
    assert f"histogram of the {at_tm} prompts with {tm} rollouts" in (tmp_path / "out" / "report.md").read_text()


def test_the_recommendation_states_its_costs_and_the_objective():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"successes": rng.binomial(8, rng.beta(0.6, 1.4, 200)), "trials": 8})
    adv = advise(frame, 1600, resamples=40, n_sim=2, voting=False, pilot_size=False)
    text = adv.recommendation
    assert text.startswith("Objective: informative groups: groups with both a success and a failure")
    assert "What informative changes against uniform: extra hits per batch" in text
    assert "It gives no extra rollout to" in text and "of prompts (uniform: 0%)" in text
    solved = advise(frame, 1600, objective="solved", resamples=40, n_sim=2, voting=False, pilot_size=False)
    if "hard_first" in solved.recommendation.split(":")[2]:
        assert "Only prompts without a pilot success can still become solved" in solved.recommendation


def test_a_dataframe_of_rollouts_and_verl_scores():
    rng = np.random.default_rng(5)
    rows = [{"uid": f"u{i}", "score": float(rng.choice([-1.0, 0.0, 0.5, 1.0], p=[0.1, 0.4, 0.1, 0.4]))}
            for i in range(60) for _ in range(8)]
    adv = advise(pd.DataFrame(rows), 240, resamples=20, n_sim=1, pilot_size=False)
    assert adv.read.info["kind"] == "log" and len(adv.counts) == 60
    assert "values seen: -1, 0, 0.5, 1" in adv.read.summary()


def test_pilot_size_names_a_best_k0_only_when_resolved(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"successes": rng.binomial(8, rng.beta(0.6, 1.4, 150)), "trials": 8})
    adv = advise(frame, 1200, resamples=30, n_sim=2, voting=False)
    assert set(adv.pilot.allocator) >= {"uniform", "hora", adv.settings["recommended"]}
    adv.write(tmp_path / "out")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "is highest at K0 =" in report and ("within noise" in report or "every other K0 is lower" in report)


def test_tarone_overdispersion_test_has_its_size_and_power():
    """Under one pass rate the p-value is uniform: rejections at 5% in 400 seeded data sets stay within 2.5-8%
    (binomial se of the rate ~1.1%); under Beta(0.6, 1.4) difficulty it rejects every time."""
    from simalloc.advise.model import overdispersion_p_value

    rng = np.random.default_rng(11)
    null = [overdispersion_p_value(rng.binomial(8, 0.3, 300), np.full(300, 8)) <= 0.05 for _ in range(400)]
    assert 0.025 <= np.mean(null) <= 0.08, np.mean(null)
    spread = [overdispersion_p_value(rng.binomial(8, rng.beta(0.6, 1.4, 300)), np.full(300, 8)) for _ in range(20)]
    assert max(spread) < 1e-6
