"""The README's Python snippet runs as written (it once referenced undefined names)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_in_python_snippet_runs():
    """The block under "## In Python" (the trainer snippets above it need your model and data)."""
    text = README.read_text()
    block = re.search(r"```python\n(.*?)```", text[text.index("## In Python"):], flags=re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own documentation
