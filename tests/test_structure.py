"""The package's structure: no module imports a private module of another package, no import cycle, every
exported name documented, and the two long pipelines kept short."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import simalloc

ROOT = Path(simalloc.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of the simalloc modules ``name`` imports at module level."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("simalloc"):
                found.add(mod)
                for alias in node.names:
                    found.add(f"{mod}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("simalloc")}
    return found


def test_no_module_imports_a_private_module_of_another_package():
    modules = _modules()
    bad = []
    for name, path in modules.items():
        own = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for target in _imports(name, path) & set(modules):
            pkg, _, last = target.rpartition(".")
            if last.startswith("_") and not last.startswith("__") and pkg != own:
                bad.append((name, target))
    assert not bad, bad


def test_no_import_cycle_at_module_level():
    modules = _modules()
    graph = {n: {t for t in _imports(n, p) if t in modules and t != n} for n, p in modules.items()}
    # a package's __init__ importing its own submodules is the normal layout, not a cycle
    for n in graph:
        graph[n] = {t for t in graph[n] if not (modules[n].name == "__init__.py" and t.startswith(n + "."))}
    seen, stack = {}, []

    def visit(n):
        seen[n] = "open"
        stack.append(n)
        for t in graph[n]:
            if seen.get(t) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(t):] + [t])}")
            if t not in seen:
                visit(t)
        stack.pop()
        seen[n] = "done"

    for n in graph:
        if n not in seen:
            visit(n)


def _section(doc: str, names) -> bool:
    return any(re.search(rf"^{name}\n-+$", doc, re.M) for name in names)


def test_every_exported_name_has_a_numpydoc_docstring():
    """Every class and function in any module's ``__all__``: a function that takes arguments documents them in a
    Parameters section; a class has a Parameters, Attributes, Notes or References section."""
    missing, seen = [], set()
    modules = ["simalloc"] + [m.name for m in pkgutil.walk_packages(simalloc.__path__, "simalloc.")]
    for modname in modules:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            doc = inspect.getdoc(obj) or ""
            if inspect.isclass(obj):
                ok = _section(doc, ("Parameters", "Attributes", "Notes", "References"))
            else:
                takes = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
                ok = bool(doc.strip()) and (not takes or _section(doc, ("Parameters",)))
            if not ok:
                missing.append(f"{obj.__module__}.{name}")
    assert len(seen) > 200  # the walk found the package
    assert not missing, missing


def test_the_numpydoc_check_can_fail():
    def undocumented(x):
        """One line, no sections."""

    assert not _section(inspect.getdoc(undocumented), ("Parameters",))
    assert _section("Summary.\n\nParameters\n----------\nx : int\n", ("Parameters",))


def test_the_pipelines_stay_short():
    """simulate_training and advise read as a sequence of stages (<= 60 lines each, docstring excluded)."""
    from simalloc.advise import advise
    from simalloc.train import simulate_training

    for fn in (simulate_training, advise):
        src = inspect.getsource(fn)
        body = ast.parse(src).body[0].body
        first = body[1] if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body[0]
        lines = src.splitlines()[first.lineno - 1:]
        assert len(lines) <= 60, (fn.__name__, len(lines))
