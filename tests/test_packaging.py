"""Packaging: every package folder is installed, and none under a generic top-level name."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_installed_packages_match_the_folders():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "simalloc").rglob("__init__.py")}
    assert {p for p in listed if p.startswith("simalloc.") or p == "simalloc"} == folders
    assert cfg["package-dir"] == {"simalloc_studies": "studies", "simalloc_paper_checks": "paper_checks",
                                  "simalloc_benchmarks": "benchmarks"}
    assert not listed & {"studies", "paper_checks", "benchmarks"}  # generic names would collide in site-packages


def test_package_data_lists_every_data_file():
    """Every non-Python file inside simalloc/ is named in [tool.setuptools.package-data], so a non-editable
    install has it (``simalloc/advise/evidence.csv``, which every advise report cites)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"].get("package-data", {})
    listed = {(package, name) for package, names in cfg.items() for name in names}
    files = {(".".join(p.parent.relative_to(ROOT).parts), p.name) for p in (ROOT / "simalloc").rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert ("simalloc.advise", "evidence.csv") in files
    assert listed == files
