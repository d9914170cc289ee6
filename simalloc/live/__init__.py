"""Live mode: the same allocators and stopping rules on real model rollouts.

Heavy dependencies (torch, transformers, gguf, vllm) are imported lazily behind ``require``; core simalloc
never imports this package. Install with ``pip install -e '.[live]'`` (CPU) and ``'.[vllm]'`` on a GPU.
"""

from .tasks import PROMPT_SUFFIX, Task, answers_equivalent, arithmetic_tasks, extract_answer, load_jsonl, verify

__all__ = ["PROMPT_SUFFIX", "Task", "answers_equivalent", "arithmetic_tasks", "extract_answer", "load_jsonl", "verify"]
