"""The README's Python snippet runs as written (it once referenced undefined names)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_first_python_snippet_runs():
    block = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own documentation
