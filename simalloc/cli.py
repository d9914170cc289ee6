"""The ``simalloc`` command: list, run, bench."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

BENCH_SUITES = ("allocation", "simulator", "stopping", "grader", "advise", "live", "lab")
#: run when no --suite is given; "live" (a minute or two, needs the live extra and the model), "advise" (a
#: 1.2M-rollout log, about two minutes) and "lab" (a 200-step lab run and the live model's step, about two
#: minutes) are opt-in
DEFAULT_SUITES = ("allocation", "simulator", "stopping", "grader")


def _cmd_list(ns) -> int:
    from . import ALLOCATORS, OBJECTIVES
    from .sim.runner import available_studies

    print("allocators:")
    for name, alloc in sorted(ALLOCATORS.items()):
        print(f"  {name:<14} {alloc.description}")
    print("objectives:")
    for name, obj in sorted(OBJECTIVES.items()):
        print(f"  {name:<14} {obj.description}")
    print("studies (simalloc run STUDY --help lists a study's --set keys):")
    for name in available_studies():
        print(f"  {name:<16} {study_summary(name)}")
    print("stopping rules:")
    from .stopping import STOPPING_RULES

    for name, rule in STOPPING_RULES.items():
        print(f"  {name:<16} {rule.description}")
    return 0


def study_summary(name: str) -> str:
    """The first line of a study's docstring."""
    from .sim.runner import load_study

    doc = (load_study(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _parse_overrides(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set: expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _study_help(parser, study: str | None) -> int:
    import dataclasses

    from .sim.runner import load_study

    parser.print_help()
    if study is None:
        return 0
    mod = load_study(study)
    print(f"\n{study}: {study_summary(study)}\n\n--set keys (default; --quick preset where it differs):")
    full, quick = mod.Args(), mod.Args.quick() if hasattr(mod.Args, "quick") else mod.Args()
    show = lambda v: ",".join(map(str, v)) if isinstance(v, tuple) else str(v)  # noqa: E731

    def keys(full, quick):  # a training study's train settings are --set keys too
        for f in dataclasses.fields(full):
            a, b = getattr(full, f.name), getattr(quick, f.name)
            if f.name == "train" and dataclasses.is_dataclass(a):
                yield from keys(a, b)
            else:
                yield f.name, a, b

    for name, a, b in keys(full, quick):
        print(f"  {name:<22} {show(a)}" + (f"  (quick: {show(b)})" if a != b else ""))
    return 0


def _cmd_run(ns) -> int:
    from .sim.runner import SMOKE_NOTE, run_study

    if ns.help or ns.study is None:
        return _study_help(ns.parser, ns.study)

    out = run_study(ns.study, quick=ns.quick, out=ns.out, overrides=_parse_overrides(ns.set),
                    progress=not ns.no_progress, workers=ns.workers, backend=ns.backend)
    print(f"results in {out}" + (f" ({SMOKE_NOTE})" if ns.quick else ""))
    return 0


def _cmd_bench(ns) -> int:
    import importlib

    from .io import check_output_file

    if ns.json:
        check_output_file(ns.json)
    rows = []
    for suite in ns.suite or DEFAULT_SUITES:
        rows += importlib.import_module(f"simalloc_benchmarks.{suite}").run(quick=ns.quick)
    print(f"{'name':<22}{'n':>10}{'seconds':>12}{'baseline':>12}{'ratio':>10}  target")
    for r in rows:
        flag = "measured" if r["target"] == "reported" else (
            "n/a (quick)" if r["ok"] is None else ("ok" if r["ok"] else "MISSED"))
        print(
            f"{r['name']:<22}{r['n']:>10}{r['seconds']:>12.5f}{r['baseline']:>12.5f}{r['ratio']:>10.1f}  "
            f"{r['target']} [{flag}]  ({r['note']})"
        )
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(json.dumps(rows, indent=2) + "\n")
    missed = [r["name"] for r in rows if r["target"] != "reported" and r["ok"] is False]
    if missed:  # a regression must fail a script or CI step that runs the benchmarks, not only print a word
        print(f"simalloc bench: {len(missed)} row(s) missed their target: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_check(ns) -> int:
    from simalloc_paper_checks import check_names, run_check, write_report

    from .io import check_output_file

    if ns.json:
        check_output_file(ns.json)
    check_output_file(ns.report, "report")
    out = Path(ns.report).parent
    valid = check_names()
    names = ns.only or valid
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"only: unknown check(s) {unknown}; valid: {', '.join(valid)}")
    rows, failed = [], []
    for i, name in enumerate(names, start=1):
        print(f"[{i}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        try:
            row = run_check(name, full=ns.full, out=out)
        except Exception as exc:  # an erroring check fails the command; it is never a verdict
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        rows.append(row)
        print(f"{row['verdict']:<15} {name:<36} {row['seconds']:>7.1f}s  {row['observed'][:110]}")
    public = [{k: r[k] for k in ("id", "paper", "claim", "source", "expected", "observed", "verdict", "setting",
                                 "tolerance", "uses_simulator", "seconds", "budget", "figures")} for r in rows]
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(json.dumps(public, indent=2) + "\n")
    report = write_report(rows, Path(ns.report))
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("reproduced", "partial", "not_reproduced")}
    print(f"{len(rows)} checks: {counts}; report in {report}")
    if failed:
        print("checks that errored:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


def _read_spec(ns, kind="auto"):
    from .logs import ReadSpec

    columns = {role: getattr(ns, f"{role}_col") for role in READ_ROLES if getattr(ns, f"{role}_col") is not None}
    return ReadSpec.of(columns, kind=ns.kind if kind == "auto" else kind, threshold=ns.threshold,
                       sep="\t" if ns.sep in ("tab", "\\t") else ns.sep, drop_missing=ns.drop_missing)


def _cmd_replay(ns) -> int:
    from .io import check_out_dir
    from .live.replay import ReplayConfig, replay_report
    from .logs import read_data

    check_out_dir(Path(ns.out))
    read = read_data(ns.pool, _read_spec(ns, "log"), progress=True)
    print(read.summary())
    cfg = ReplayConfig(k0=ns.k0, group_size=ns.group_size, n_resamples=ns.resamples, threshold=ns.threshold)
    table = replay_report(read.rollouts, cfg, out=ns.out, rng=ns.seed)
    print(table.round(4).to_string(index=False))
    print(f"report in {Path(ns.out) / 'report.md'}")
    return 0


def _cmd_advise(ns) -> int:
    from .advise import advise
    from .io import check_out_dir

    def integer(text, name):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: must be an integer, got {text!r}") from None

    out = Path(ns.out)
    existed = out.exists()
    check_out_dir(out)
    try:
        spec = _read_spec(ns)
        result = advise(ns.data, integer(ns.budget, "budget"), k0=None if ns.k0 is None else integer(ns.k0, "k0"),
                        cap=None if ns.cap is None else integer(ns.cap, "cap"), objective=ns.objective,
                        resamples=integer(ns.resamples, "resamples"), rng=integer(ns.seed, "seed"),
                        prior=ns.prior, batch_prompts=None if ns.batch_prompts is None else
                        integer(ns.batch_prompts, "batch_prompts"), progress=True,
                        columns={r: getattr(spec, r) for r in READ_ROLES if getattr(spec, r) is not None},
                        kind=spec.kind, threshold=spec.threshold, sep=spec.sep, drop_missing=spec.drop_missing)
        # built in a temporary folder beside out, put in place at the end: a failure leaves nothing behind
        result.write(out)
    except BaseException:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # nothing written on failure, not even the folder the check made
        raise
    print(result.read.summary())
    print(result.recommendation)
    print(f"report in {out / 'report.md'}; allocation in {out / 'allocation.csv'}")
    return 0


#: the column roles a user can name (simalloc.logs.ReadSpec)
READ_ROLES = ("id", "successes", "trials", "reward", "step", "answer", "tokens", "completion", "prompt", "reference")


def _add_read_options(p, counts: bool) -> None:
    g = p.add_argument_group("reading the file (columns are found by common names unless given)")
    if counts:
        g.add_argument("--kind", default="auto", choices=("auto", "counts", "log"),
                       help="counts: one row per prompt; log: one row per rollout (default: counts when the file "
                            "has successes- and trials-like columns)")
    else:
        p.set_defaults(kind="log")
    for role in READ_ROLES:
        if counts or role not in ("successes", "trials"):
            g.add_argument(f"--{role}-col", dest=f"{role}_col", metavar="NAME", help=f"the {role} column")
    if not counts:
        p.set_defaults(successes_col=None, trials_col=None)
    g.add_argument("--threshold", type=float, default=0.5, help="a rollout succeeds when reward > threshold "
                   "(default 0.5)")
    g.add_argument("--sep", default=None, help="CSV separator (default: sniffed from the header); 'tab' for tabs")
    g.add_argument("--drop-missing", action="store_true", help="drop rollouts whose reward is missing (NaN, None, "
                   "null; the count is reported); without it such a log is refused")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simalloc", description="Where to spend rollouts.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="print the registries (allocators, objectives, studies)")
    p.set_defaults(fn=_cmd_list)
    p = sub.add_parser("run", help="run a study from studies/", add_help=False)
    p.add_argument("study", nargs="?", help="the study (simalloc list shows them); with --help: its --set keys")
    p.add_argument("-h", "--help", action="store_true", help="show this help (and the study's --set keys)")
    p.add_argument("--quick", action="store_true", help="the study's small preset")
    p.add_argument("--out", help="output folder (default results/<study>/<run_id>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field of the study's Args")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (or Ray CPUs for a local cluster)")
    p.add_argument("--backend", default="local", choices=("local", "ray"), help="ray: run shards on a Ray cluster "
                   "(RAY_ADDRESS, else a local one)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(fn=_cmd_run, parser=p)
    p = sub.add_parser("bench", help="speed benchmarks, as ratios against baselines measured in the same run")
    p.add_argument("--quick", action="store_true", help="smaller sizes (targets are stated for the full sizes)")
    p.add_argument("--json", help="write the rows as JSON to this path")
    p.add_argument("--suite", action="append", choices=BENCH_SUITES,
                   help="repeatable; default: allocation, simulator, stopping, grader (advise and live are opt-in)")
    p.set_defaults(fn=_cmd_bench)
    p = sub.add_parser("check", help="run paper_checks: every published claim with a verdict")
    p.add_argument("--full", action="store_true", help="the full budget (more replicates and steps)")
    p.add_argument("--json", help="write the results as JSON to this path")
    p.add_argument("--report", default="results/checks/report.md", help="markdown report (figures beside it)")
    p.add_argument("--only", action="append", metavar="CHECK", help="run only this check (repeatable)")
    p.set_defaults(fn=_cmd_check)
    p = sub.add_parser("replay", help="replay a rollout pool (or your rollout log): allocators with CIs, and the "
                       "fitted simulator's predictions confirmed or refuted on held-out tasks")
    p.add_argument("pool", help="a pool folder (simalloc live sample) or a JSONL/CSV/parquet log with prompt id and "
                   "reward")
    p.add_argument("--out", default="results/replay", help="output folder (report.md, figure.png, results.parquet)")
    p.add_argument("--k0", type=int, default=4, help="pilot rollouts per task")
    p.add_argument("--group-size", type=int, default=16, help="mean rollouts per task (pilot + extra)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (tasks and rollout order)")
    p.add_argument("--seed", type=int, default=0)
    _add_read_options(p, counts=False)
    p.set_defaults(fn=_cmd_replay)
    p = sub.add_parser(
        "advise",
        help="your pass counts or rollout log in: how to split your rollouts, with predicted gains and 95%% CIs",
    )
    p.add_argument(
        "data",
        help="per-prompt counts (prompt_id, successes, trials) or a per-rollout log (prompt id and "
        "reward per row: TRL, verl or a pool folder), as CSV/TSV, parquet or JSON lines; or a folder or quoted "
        "glob of log files read as one log (verl's trainer.rollout_data_dir: 1.jsonl, 2.jsonl, ...)",
    )
    p.add_argument("--budget", required=True, help="extra rollouts per batch of your prompts")
    p.add_argument("--k0", help="pilot rollouts per prompt to plan for (default: each prompt's own trial count)")
    p.add_argument(
        "--batch-prompts",
        help="prompts per batch (default: prompts per step of a log with a step column, else all prompts)",
    )
    p.add_argument("--cap", help="most extra rollouts for one prompt (default: none)")
    p.add_argument(
        "--objective",
        default="informative",
        choices=("informative", "solved", "extra_hits", "hits_unsolved"),
        help="what the recommendation maximises (default: informative groups)",
    )
    p.add_argument(
        "--prior",
        default="uniform",
        choices=("uniform", "fitted"),
        help="allocators' Beta prior: uniform Beta(1, 1) as HORA's paper (default), or the fitted world's",
    )
    p.add_argument("--resamples", default="200", help="bootstrap resamples over prompts (default 200)")
    p.add_argument("--seed", default="0")
    p.add_argument(
        "--out", default="results/advise", help="output folder (report.md, figures, allocation.csv, results.parquet); "
        "a reused one loses advise's previous files only"
    )
    _add_read_options(p, counts=True)
    p.set_defaults(fn=_cmd_advise)
    from .live.cli import add_parser as add_live_parser  # argparse only; heavy imports happen when it runs

    add_live_parser(sub)
    return parser


#: the package's convention for bad input: "argument: what is wrong" (e.g. "budget: must be >= 0, got -1")
_INPUT_ERROR = re.compile(r"^(--)?[A-Za-z_][\w\[\]'.-]*(, [A-Za-z_][\w\[\]'.-]*)*: ")


def is_input_error(exc: BaseException) -> bool:
    """Bad input (a one-line message) rather than an internal bug (a traceback): a ValueError or TypeError whose
    message names the argument, as every validator in the package writes it, or a missing optional dependency."""
    if isinstance(exc, ImportError):
        return True
    return isinstance(exc, (ValueError, TypeError)) and bool(_INPUT_ERROR.match(str(exc)))


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.fn(ns)
    except Exception as exc:
        if not is_input_error(exc):
            raise  # an internal bug: the traceback is the useful report
        print(f"simalloc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
