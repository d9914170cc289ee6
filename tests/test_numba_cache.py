"""The numba cache cannot serve stale code: no jitted function inlines another module's, and an edited kernel
source runs as edited in a fresh process (numba keys each cache on its own file)."""

import importlib
import pkgutil
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numba

import simalloc


def _dispatchers():
    for info in pkgutil.walk_packages(simalloc.__path__, "simalloc."):
        if ".live" in info.name:  # torch-side code; no numba there
            continue
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.py_func.__module__ == mod.__name__:
                yield mod, obj


def test_no_jitted_function_calls_another_modules_jitted_function():
    bad = []
    for mod, disp in _dispatchers():
        g = disp.py_func.__globals__
        names = disp.py_func.__code__.co_names
        for name in names:
            target = g.get(name)
            if isinstance(target, numba.core.registry.CPUDispatcher) and target.py_func.__module__ != mod.__name__:
                bad.append(f"{mod.__name__}.{disp.py_func.__name__} -> {target.py_func.__module__}.{name}")
            if isinstance(target, types.ModuleType):  # K.some_kernel style access
                for attr in names:
                    inner = getattr(target, attr, None)
                    if isinstance(inner, numba.core.registry.CPUDispatcher) and \
                            inner.py_func.__module__ != mod.__name__:
                        bad.append(f"{mod.__name__}.{disp.py_func.__name__} -> {target.__name__}.{attr}")
    assert not bad, bad


def test_an_edited_kernel_runs_as_edited(tmp_path):
    """Run hora in a copy of the package (cache warm), edit the marginal kernel the greedy inlines, run again."""
    pkg = Path(simalloc.__file__).parent
    shutil.copytree(pkg, tmp_path / "simalloc", ignore=shutil.ignore_patterns("__pycache__", "live"))
    (tmp_path / "simalloc" / "live").mkdir()
    (tmp_path / "simalloc" / "live" / "__init__.py").write_text("")
    code = "import simalloc; print(simalloc.allocate('hora', [0, 4, 8], 8, 12).tolist())"
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run():
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=600).stdout.strip()

    assert run() == "[6, 4, 2]"
    assert run() == "[6, 4, 2]"  # from the cache
    kernels = tmp_path / "simalloc" / "objectives" / "kernels.py"
    src = kernels.read_text()
    edited = src.replace("        return a / s, b / s\n", "        return b / s, a / s  # edited\n", 1)
    assert edited != src
    kernels.write_text(edited)
    assert run() != "[6, 4, 2]"  # the edit is what runs, not the cached old callee
