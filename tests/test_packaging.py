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
