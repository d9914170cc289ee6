"""The lab: real GRPO on a real (small) neural network, in minutes on a CPU.

A tiny decoder-only transformer (``LlamaForCausalLM`` from a local config, about 133,000 parameters) learns a
synthetic task with a unique final answer and an intermediate token (``task``: two chained operations modulo M),
from a warm start that leaves a spread of pass rates (``warmstart``), and is trained by the live mode's GRPO step
(``simalloc.live.grpo.GRPOTrainer``) under any allocator of the registry (``loop.train_lab``), with the
simulator's batches, arms, records and frontier analysis. Interference, transfer and gradient noise between
prompts are the network's own, not designed; the answer space is small, so Pass@k is exact
(``answer_distribution``). The v2 task (``regimes``, chosen by a task spec, ``spec``) has 3-digit answers, so
that Pass@k at large k measures reach, and prompt families for the narrowing, expanding and unreachable regimes.
It is not an LLM: what it shows is what allocation does to a real network trained by
the real step, on a task whose difficulty and starting point are set by the warm start.
"""

from .config import LabConfig
from .loop import LAB_COLUMNS, gradient_snr, lab_columns, make_trainer, train_lab
from .policy import (
    LabPolicy,
    ModelSpec,
    Rollouts,
    answer_distribution,
    answer_logits,
    completion_tables,
    make_policy,
    pass_rates,
    sample,
    sequence_entropy,
)
from .regimes import RegimeTask
from .spec import FAMILIES, TaskSpec, parse_task
from .task import LEVEL_NAMES, OPERATIONS, ChainTask, LabTokenizer, Prompts
from .warmstart import LEVEL2_READINGS, WarmStart, cache_dir, warm_key, warm_start

__all__ = ["ChainTask", "Prompts", "LabTokenizer", "OPERATIONS", "LEVEL_NAMES", "ModelSpec", "LabPolicy",
           "make_policy", "answer_distribution", "completion_tables", "pass_rates", "sample", "sequence_entropy",
           "Rollouts", "WarmStart", "warm_start", "cache_dir", "LEVEL2_READINGS", "LabConfig", "train_lab",
           "gradient_snr", "make_trainer", "LAB_COLUMNS", "lab_columns", "RegimeTask", "TaskSpec", "parse_task",
           "FAMILIES", "answer_logits", "warm_key"]
