"""The package's structure: no module imports a private module of another package, no import cycle, every
exported name documented, and the two long pipelines kept short."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
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


def test_every_exported_name_has_a_docstring():
    missing = []
    packages = ["simalloc"] + [f"simalloc.{m.name}" for m in pkgutil.iter_modules(simalloc.__path__) if m.ispkg]
    packages += ["simalloc.train.policies"]
    for pkg in packages:
        mod = importlib.import_module(pkg)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and not (obj.__doc__ or "").strip():
                missing.append(f"{pkg}.{name}")
    assert not missing, missing


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
