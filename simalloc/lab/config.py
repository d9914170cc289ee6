"""``LabConfig``: the settings of one lab training run.

The names of the training settings are the simulator's (``simalloc.train.TrainConfig``): ``n_prompts``,
``group_size``, ``k0``, ``steps``, ``phase_b_shards``, ``lr``, ``loss``, ``scale_rewards``, ``aggregation``,
``max_grad_norm``, ``temperature``, ``ks``, ``eval_sets``, ``eval_set_ks``, ``record_every`` mean the same, so a
study switches between the two by switching the config, and the analysis (``summary_long``, the frontier gain)
reads both. What differs: the task (``modulus``, ``n_pool``, ``split_seed``), the network (``hidden``, ``layers``,
``heads``, ``ff``, ``model_seed``), the warm start (``warm_*``, ``teacher_accuracy``, ``level2``), AdamW's ``lr``
(the lab's step is the live mode's torch GRPO step) and ``epsilon`` (its ratio clip), and ``eval_sets`` entries are
``name=w0,w1,w2``: a held-out set with those weights on the three levels.

``task`` is the task spec (``simalloc.lab.spec``: ``"turn3"``, the default, or a mixture of the v2 task's families
such as ``"narrowing:0.5+expanding:0.3+unreachable:0.2"``); ``build_task()`` makes the task. On a v2 task
``modulus`` is the answer digits' base, ``eval_sets`` weights name the four families (the turn-3 default
``"hard=0,1,1"`` is skipped there: the per-family Pass@1 columns replace it), ``level2`` is the expanding family's
edge-pair reading (``RegimeTask.expanding_teacher``: "misconception" shows ``* -`` with ``-`` read as ``+``, as
turn 3's level 2, "absent" never shows it), and ``teacher_accuracy`` is unused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..train.config import check_temperatures
from ..train.evaluation import EVAL_TEMPERATURES, temperature_columns
from ..validation import as_int, check_choice
from .policy import ModelSpec
from .regimes import RegimeTask
from .spec import FAMILIES, TURN3, parse_task
from .task import ChainTask
from .warmstart import LEVEL2_READINGS, WarmStart

__all__ = ["LabConfig", "TURN3_WARM_STEPS", "V2_WARM_STEPS"]

#: the warm start's default length on the turn-3 task (the committed studies')
TURN3_WARM_STEPS = 500
#: and on the v2 task (measured: docs/lab.md, "Lab v2 tasks")
V2_WARM_STEPS = 1500


@dataclass(frozen=True)
class LabConfig:
    """Settings of one lab training run (module docstring; defaults: the ``lab_hora_vs_grpo`` study's).

    Parameters
    ----------
    task : str, default "turn3"
        The task spec (module docstring; ``simalloc.lab.spec``).
    modulus, n_pool, split_seed
        The task (``ChainTask``; on a v2 task ``modulus`` is the digits' base).
    hidden, layers, heads, ff, model_seed
        The network (``ModelSpec``).
    warm_steps, warm_batch, warm_lr, teacher_accuracy, level2, warm_seed
        The warm start (``WarmStart``); ``warm_steps`` 0 (the default) is the task's own: 500 on the turn-3 task,
        ``V2_WARM_STEPS`` on the v2 task (its 3-digit answers take longer to learn).
    n_prompts, group_size, k0, steps, phase_b_shards, cap, warmup_steps
        The batch, as ``TrainConfig``: 64 prompts per step, 16 rollouts per prompt on average, a pilot of 4.
    lr, epsilon, loss, scale_rewards, aggregation, max_grad_norm, temperature
        The GRPO step (``simalloc.live.grpo.GRPOConfig``): AdamW at ``lr``, ratio clip ``epsilon``, TRL's loss type
        and reward scaling, clipping at ``max_grad_norm``, rollouts sampled at ``temperature``.
    prior_concentration, oracle_noise, embed_dim, embed_signal, vip_n_max, peer_options
        The learned priors' settings and the peer arms' parameters, as ``TrainConfig``.
    n_eval, ks, eval_sets, eval_set_ks, bench_sizes, record_every, snr_every
        Recording: the main held-out eval set (the training mix) and its Pass@k, extra held-out sets
        ("name=w0,w1,w2"), a row every ``record_every`` steps, the per-group gradient SNR every ``snr_every``
        steps (0: never).
    """

    task: str = TURN3
    modulus: int = 10
    n_pool: int = 2000
    split_seed: int = 0
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    ff: int = 256
    model_seed: int = 0
    warm_steps: int = 0
    warm_batch: int = 256
    warm_lr: float = 3e-3
    teacher_accuracy: float = 0.3
    level2: str = "misconception"
    warm_seed: int = 0
    n_prompts: int = 64
    group_size: int = 16
    k0: int = 4
    steps: int = 200
    phase_b_shards: int = 4
    cap: int = 0
    warmup_steps: int = 0
    lr: float = 1e-3
    epsilon: float = 0.2
    loss: str = "dr_grpo"
    scale_rewards: str = "group"
    aggregation: str = "rollout"
    max_grad_norm: float = 1.0
    temperature: float = 1.0
    prior_concentration: float = 4.0
    oracle_noise: float = 0.5
    embed_dim: int = 8
    embed_signal: float = 2.0
    vip_n_max: int = 64
    peer_options: str = ""
    n_eval: int = 512
    ks: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    eval_sets: tuple = ("hard=0,1,1",)
    eval_set_ks: tuple = (1, 4, 16, 64, 256)
    bench_sizes: tuple = ()
    #: evaluation temperatures exact Pass@1 / Pass@kmax of the main eval set are also read at (step 0 and the last
    #: step; the simulator's ``eval_temperatures``)
    eval_temperatures: tuple = EVAL_TEMPERATURES
    record_every: int = 10
    snr_every: int = 20

    #: the turn-3 task's extra eval set, skipped on a v2 task (its weights name three levels)
    TURN3_EVAL_SETS = ("hard=0,1,1",)

    # ---- the pieces -------------------------------------------------------------------------------------------
    def build_task(self) -> ChainTask | RegimeTask:
        """The task the spec names (``ChainTask`` for "turn3", else ``RegimeTask``)."""
        spec = parse_task(self.task)
        if spec.name == TURN3:
            return ChainTask(self.modulus, self.n_pool, self.split_seed)
        return RegimeTask(spec, self.modulus, self.n_pool, self.split_seed, expanding_teacher=self.level2)

    def n_families(self) -> int:
        """Weights per ``eval_sets`` entry: 3 levels (turn-3 task) or the v2 task's 4 families."""
        return 3 if parse_task(self.task).name == TURN3 else len(FAMILIES)

    @property
    def model_spec(self) -> ModelSpec:
        """The network's shape."""
        return ModelSpec(self.hidden, self.layers, self.heads, self.ff, self.model_seed)

    @property
    def warm(self) -> WarmStart:
        """The warm start's settings (``warm_steps`` 0: the task's default)."""
        steps = self.warm_steps or (TURN3_WARM_STEPS if parse_task(self.task).name == TURN3 else V2_WARM_STEPS)
        return WarmStart(steps, self.warm_batch, self.warm_lr, self.teacher_accuracy, self.warm_seed,
                         self.level2)

    def eval_set_specs(self) -> list[tuple[str, tuple]]:
        """(name, level weights) of every entry of ``eval_sets``."""
        out = []
        for spec in self._eval_sets():
            name, _, weights = spec.partition("=")
            out.append((name, tuple(float(w) for w in weights.split(","))))
        return out

    def _eval_sets(self) -> tuple:
        if self.n_families() != 3 and tuple(self.eval_sets) == self.TURN3_EVAL_SETS:
            return ()
        return tuple(self.eval_sets)

    def eval_set_columns(self) -> list[str]:
        """The per-step table's eval-set columns: per set, "<name>:pass@<k>" for ``eval_set_ks`` (the simulator's
        names; ``bench_sizes`` must be empty: the lab's eval sets are exact), then the evaluation-temperature
        columns (``simalloc.train.evaluation.temperature_columns``; filled at step 0 and the last step)."""
        return [f"{name}:pass@{k}" for name, _ in self.eval_set_specs() for k in self.eval_set_ks] + \
            temperature_columns(self.ks, self.eval_temperatures)

    def validate(self) -> "LabConfig":
        """Raise ValueError naming the first bad field (before any work); returns self."""
        self.build_task()
        self.model_spec.validate()
        self.warm.validate()
        ints = dict(n_prompts=1, group_size=1, steps=0, phase_b_shards=1, warmup_steps=0, n_eval=1, record_every=1,
                    snr_every=0, vip_n_max=2, embed_dim=1, cap=0)
        for name, low in ints.items():
            as_int(getattr(self, name), name, low)
        if not 0 <= self.k0 <= self.group_size:
            raise ValueError(f"k0: must satisfy 0 <= k0 <= group_size={self.group_size}, got {self.k0}")
        if self.n_prompts > self.n_pool:
            raise ValueError(f"n_prompts: must be <= n_pool={self.n_pool}, got {self.n_prompts}")
        if self.phase_b_shards > self.n_prompts:
            raise ValueError(f"phase_b_shards: must be <= n_prompts={self.n_prompts}")
        check_choice(self.loss, "loss", ("grpo", "dr_grpo", "rloo"))
        from ..train.peers import parse_peer_options

        parse_peer_options(self.peer_options)
        check_choice(self.scale_rewards, "scale_rewards", ("group", "batch", "none"))
        check_choice(self.aggregation, "aggregation", ("rollout", "prompt"))
        for name in ("lr", "temperature", "prior_concentration", "embed_signal"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be finite and > 0, got {v!r}")
        if not 0 < self.epsilon < 1:
            raise ValueError(f"epsilon: must lie in (0, 1), got {self.epsilon!r}")
        if not (np.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise ValueError(f"max_grad_norm: must be finite and >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        if not self.ks or 1 not in self.ks or min(self.ks) < 1:
            raise ValueError(f"ks: integers >= 1 including 1, got {self.ks!r}")
        if not self.eval_set_ks or 1 not in self.eval_set_ks or min(self.eval_set_ks) < 1:
            raise ValueError(f"eval_set_ks: integers >= 1 including 1, got {self.eval_set_ks!r}")
        if self.bench_sizes:
            raise ValueError("bench_sizes: the lab's eval sets are exact; finite benchmarks are not drawn (use ())")
        check_choice(self.level2, "level2", LEVEL2_READINGS)
        check_temperatures(self.eval_temperatures)
        n_w = self.n_families()
        for spec in self._eval_sets():
            name, eq, weights = spec.partition("=") if isinstance(spec, str) else ("", "", "")
            try:
                w = [float(x) for x in weights.split(",")]
            except ValueError:
                w = []
            if not eq or not name.isidentifier() or len(w) != n_w or min(w) < 0 or sum(w) <= 0:
                what = "'name=w0,w1,w2' (level weights >= 0)" if n_w == 3 else \
                    f"'name=' and {n_w} family weights >= 0 ({', '.join(FAMILIES)})"
                raise ValueError(f"eval_sets: each entry must be {what}, got {spec!r}")
        return self
