"""simalloc advise: interval coverage on a world whose truth is known, the allocation file, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simalloc.advise import METRICS, advise, batch_metrics, simulate
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
        total += prob * np.array([extra.sum(), extra[s == 0].sum(), np.sum(final > 0), informative, 1 - informative / 3])
    np.testing.assert_allclose(batch_metrics(p, s, k0, k), total, rtol=1e-12)


def test_intervals_cover_the_truth():
    """On Beta(0.6, 1.4) prompts, the 95% intervals of each allocator's expected metrics and of its gain over
    uniform cover the true values (Monte Carlo in the true world, 2000 batches: se well under 1% of the interval
    widths) in >= 90% of 16 seeded trials, pooled over allocators and metrics. Failure budget: nominal is 95%, so
    a pooled coverage below 90% (over 12 x 3 x 4 intervals per kind) is a real undercoverage, not bad luck."""
    world, n, k0, budget = BetaWorld(0.6, 1.4), 120, 4, 480
    allocators = ("uniform", "hora", "informative")
    truth = simulate(world, (1.0, 1.0), n, k0, budget, np.full(n, budget), allocators,
                     np.random.default_rng(123), 2000)
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
    ("successes,trials\n1,4\nx,4\n", [], "successes must hold non-negative integers; row 2"),
    ("successes,trials\n5,4\n", [], "successes > trials in row 1"),
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
