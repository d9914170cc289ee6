"""The live loop: pilot K0 rollouts -> any registered allocator -> extra rollouts -> verify -> GRPO step.

Per-step records use the simulator's column names (arm, rep, step, informative_share, hits_s0, n_s0, rollouts,
grad_norm, pass@1) plus loss, seconds and rollouts_per_s; pass@1 is the empirical pilot success rate.

Weights: the engine samples from ``engine.policy_version`` (the step whose weights it holds; 0 = the initial
weights). The transformers engine samples from the trained model itself; vLLM and CTranslate2 hold their own copy
and get the trainer's weights (``Engine.sync``) after every ``sync_every``-th update, before the next step's
pilot. Each record says which version sampled its rollouts (``policy_version``) and how many updates behind the
trained weights that was (``staleness``: 0 when synced every step), and the sync's cost (``sync_seconds``).
After every step the checkpoint folder (the trainable parameters and the optimizer state only, the records and
the rng state; with ``trainable="all"`` that is three copies of the model's weights, with ``"last:<n>"`` a few MB)
is written to a temporary folder and renamed into place, so an interrupted run (or a failed generation) leaves the
last complete checkpoint; ``run_live`` on the same folder resumes from it. The per-step metrics are also written
beside it as ``metrics.csv`` and ``metrics.png`` (atomically, after every step).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..allocators import allocate, get_allocator
from ..stopping import make_rule
from ..stopping.rules import read_votes
from .tasks import Task, answers_equivalent, extract_answer, verify

__all__ = ["LiveConfig", "run_live", "vote_with_rule", "write_metrics"]


@dataclass
class LiveConfig:
    """Settings of a live training run (``simalloc live train``).

    Parameters
    ----------
    allocator : str, default "hora"
        How each step's extra rollouts are split (a registered allocator).
    n_prompts : int, default 8
        Prompts per step, >= 1.
    k0 : int, default 4
        Pilot rollouts per prompt, 0 < k0 <= group_size.
    group_size : int, default 8
        Mean rollouts per prompt: the step samples n_prompts x group_size in all.
    steps : int, default 2
        Training steps, >= 0 (a resumed run continues to this count).
    seed : int, default 0
        Seeds the prompt draws and the allocator.
    sync_every : int, default 1
        An engine that samples from its own copy of the weights (vLLM, CTranslate2) gets the trained weights
        after every ``sync_every``-th step (1: every step, on-policy); the transformers engine samples from the
        trained model itself and ignores it.
    """

    allocator: str = "hora"
    n_prompts: int = 8
    k0: int = 4
    group_size: int = 8
    steps: int = 2
    seed: int = 0
    sync_every: int = 1

    def validate(self) -> "LiveConfig":
        """Raise ValueError naming the first bad field; returns self."""
        get_allocator(self.allocator)
        if self.n_prompts < 1:
            raise ValueError(f"n_prompts: must be >= 1, got {self.n_prompts}")
        if self.steps < 0:
            raise ValueError(f"steps: must be >= 0, got {self.steps}")
        if not 0 < self.k0 <= self.group_size:
            raise ValueError(f"k0: must satisfy 0 < k0 <= group_size={self.group_size}, got {self.k0}")
        if isinstance(self.sync_every, bool) or not isinstance(self.sync_every, int) or self.sync_every < 1:
            raise ValueError(f"sync_every: must be an integer >= 1 (steps between weight syncs), got "
                             f"{self.sync_every!r}")
        return self


def _save_checkpoint(out: Path, trainer, records: pd.DataFrame, meta: dict):
    import torch

    tmp = out / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(trainer.trainable_state(), tmp / "policy.pt")
    torch.save(trainer.optimizer.state_dict(), tmp / "optimizer.pt")
    records.to_parquet(tmp / "records.parquet", index=False)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    final = out / "checkpoint"
    old = out / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(out: Path, trainer):
    import torch

    ck = out / "checkpoint"
    if not (ck / "meta.json").is_file():
        return None
    state = torch.load(ck / "policy.pt")
    named = dict(trainer.model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            named[name].copy_(value)
    trainer.optimizer.load_state_dict(torch.load(ck / "optimizer.pt"))
    return json.loads((ck / "meta.json").read_text()), pd.read_parquet(ck / "records.parquet")


def run_live(config: LiveConfig, engine, trainer, tasks: list[Task], out, progress: bool = True) -> pd.DataFrame:
    """Run ``config.steps`` live steps (resuming from ``out/checkpoint`` if present); returns the records.

    Each step draws ``n_prompts`` tasks, samples a pilot of ``k0`` per task with ``engine``, splits the rest of
    n_prompts x group_size with ``config.allocator``, samples the extra rollouts, grades them and takes one
    ``trainer`` step; the checkpoint (trainable weights, optimizer, records) is written atomically after each.

    Parameters
    ----------
    config : LiveConfig
        The run's settings.
    engine : Engine
        Samples the rollouts.
    trainer : GRPOTrainer
        Updates the policy (it shares weights with ``engine`` for the transformers engine).
    tasks : list of Task
        The prompt pool.
    out : path-like
        The run's folder (records.csv, metrics.csv, metrics.png, checkpoint).
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per step: pilot pass rate, informative-group share, loss, gradient norm, rollouts/s ...
    """
    config.validate()
    if len(tasks) < config.n_prompts:
        raise ValueError(f"tasks: need at least n_prompts={config.n_prompts} tasks, got {len(tasks)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"config": asdict(config), "step": 0, "rng": None}
    records = pd.DataFrame()
    loaded = _load_checkpoint(out, trainer)
    if loaded is not None:
        meta_old, records = loaded
        same = lambda c: {k: v for k, v in c.items() if k != "steps"}  # noqa: E731 - more steps extend a run
        if same({"sync_every": 1, **meta_old["config"]}) != same(asdict(config)):
            raise ValueError(f"out: {out} holds a live run with a different config; choose another folder")
        meta = meta_old
        if meta["step"] and not engine.shares_weights:  # the engine starts from the base weights: the resumed ones
            engine.sync(trainer.model, meta.get("policy_version", meta["step"]))
    rng = np.random.default_rng(config.seed)
    if meta["rng"] is not None:
        rng.bit_generator.state = meta["rng"]
    budget = config.n_prompts * (config.group_size - config.k0)
    bar = tqdm(total=config.steps, initial=meta["step"], desc=f"live {config.allocator}", disable=not progress)
    for step in range(meta["step"] + 1, config.steps + 1):
        start = time.perf_counter()
        batch = [tasks[i] for i in rng.choice(len(tasks), config.n_prompts, replace=False)]
        prompts = [t.prompt() for t in batch]
        pilot = engine.generate(prompts, [config.k0] * len(batch))
        pilot_r = [[verify(c.text, t.answer) for c in g] for g, t in zip(pilot, batch)]
        s = np.array([int(sum(r)) for r in pilot_r])
        alloc = allocate(config.allocator, s, config.k0, budget, rng=rng)
        extra = engine.generate(prompts, alloc.tolist())
        extra_r = [[verify(c.text, t.answer) for c in g] for g, t in zip(extra, batch)]
        gen_seconds = time.perf_counter() - start
        groups = [[c.token_ids for c in p + e] for p, e in zip(pilot, extra)]
        rewards = [pr + er for pr, er in zip(pilot_r, extra_r)]
        version = engine.policy_version  # the weights that sampled this step's rollouts
        stats = trainer.step(engine.encode_prompts(prompts), groups, rewards)
        sync_seconds = 0.0  # the next step's pilot samples from the weights after this update (shared: free)
        if engine.shares_weights or step % config.sync_every == 0:
            sync_seconds = engine.sync(trainer.model, step)
        total = np.array([sum(r) for r in rewards])
        sizes = np.array([len(r) for r in rewards])
        rollouts = int(sizes.sum())
        row = {"arm": config.allocator, "rep": config.seed, "step": step,
               "informative_share": float(np.mean((total > 0) & (total < sizes))),
               "hits_s0": int(sum(1 for i in range(len(batch)) if s[i] == 0 and sum(extra_r[i]) > 0)),
               "n_s0": int((s == 0).sum()), "rollouts": rollouts, "grad_norm": stats["grad_norm"],
               "pass@1": float(s.sum() / (config.k0 * len(batch))), "loss": stats["loss"],
               "gen_seconds": gen_seconds, "step_seconds": stats["step_seconds"],
               "rollouts_per_s": rollouts / gen_seconds, "policy_version": version,
               "staleness": step - 1 - version, "sync_seconds": sync_seconds}
        records = pd.concat([records, pd.DataFrame([row])], ignore_index=True)
        meta = {"config": asdict(config), "step": step, "rng": rng.bit_generator.state,
                "policy_version": engine.policy_version}
        _save_checkpoint(out, trainer, records, meta)
        write_metrics(records, out)
        bar.update()
    bar.close()
    return records


def write_metrics(records: pd.DataFrame, out: Path) -> None:
    """``metrics.csv`` and ``metrics.png`` (pilot pass rate, informative-group share, loss, gradient norm and
    rollouts/s per step) in ``out``, each written atomically.

    Parameters
    ----------
    records : pandas.DataFrame
        ``run_live``'s records.
    out : Path
        The run's folder.
    """
    from ..io import atomic_write
    from ..plotting import use_agg

    out = Path(out)
    atomic_write(out / "metrics.csv", lambda p: records.to_csv(p, index=False))
    plt = use_agg()
    panels = [("pass@1", "pilot pass rate"), ("informative_share", "informative-group share"), ("loss", "GRPO loss"),
              ("grad_norm", "gradient norm (before clipping)"), ("rollouts_per_s", "rollouts per second")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    for ax, (col, title) in zip(axes, panels):
        ax.plot(records.step, records[col], "o-", color="#0072B2")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    fig.suptitle(f"Live GRPO with {records.arm.iloc[0]} (seed {records.rep.iloc[0]}), {len(records)} steps")
    fig.tight_layout()
    atomic_write(out / "metrics.png", lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)


def vote_with_rule(engine, tasks: list[Task], rule: str = "bsprt", max_votes: int = 64, **params) -> pd.DataFrame:
    """Majority voting on real votes: draw ``max_votes`` completions per task, then let the stopping rule read
    them one at a time (the same as sampling sequentially, since the rule only sees a prefix).

    Returns per task: votes used, the label (the rule's answer at stopping, from the same kernel as simulation:
    ESC's unanimous window, else the plurality with ties to the answer seen first), whether it is correct, and
    the same for fixed ``max_votes`` majority.

    Parameters
    ----------
    engine : Engine
        Samples the votes.
    tasks : list of Task
        The questions.
    rule : str, default "bsprt"
        A stopping rule (``make_rule``).
    max_votes : int, default 64
        Votes drawn per task (the rule's cap).
    **params
        The rule's parameters.

    Returns
    -------
    pandas.DataFrame
        One row per task.
    """
    rule_obj = make_rule(rule, **params)
    completions = engine.generate([t.prompt() for t in tasks], [max_votes] * len(tasks))
    rows = []
    for t, comps in zip(tasks, completions):
        answers = [extract_answer(c.text) or "<none>" for c in comps]
        labels = {}
        codes = np.array([labels.setdefault(a, len(labels)) for a in answers])
        strings = list(labels)
        used, code = read_votes(rule_obj, codes)
        label_stop = strings[code]
        label_full = strings[read_votes(make_rule("fixed", n=len(answers)), codes)[1]]
        rows.append({"question": t.question, "votes": used, "label": label_stop,
                     "correct": answers_equivalent(label_stop, t.answer),
                     "votes_fixed": len(answers), "label_fixed": label_full,
                     "correct_fixed": answers_equivalent(label_full, t.answer),
                     "n_answers": len(labels)})
    return pd.DataFrame(rows)
