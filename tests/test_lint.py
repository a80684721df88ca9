"""ruff (lint and format) and mypy are clean on the project (the house style says CI checks them: this is that check).

mypy runs on the installed layout: every package is imported as ``voc.<name>`` (``voc.flows`` is the
folder ``flows/``, pyproject.toml's package-dir), which mypy cannot find on disk by itself and cannot
follow through the editable install's import hook. ``mypy_tree`` builds that layout from links to the
repository's folders, as the wheel would hold it; ``python -m tests.test_lint`` runs the same check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def package_dirs() -> dict[str, str]:
    """pyproject.toml's package-dir: import name -> folder (``voc.flows`` -> ``flows``)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])


def mypy_tree(root: Path) -> Path:
    """``root/voc``: links to everything in ``voc/`` and to each mapped folder under its installed name."""
    if root.exists():
        shutil.rmtree(root)
    top = root / "voc"
    top.mkdir(parents=True)
    for p in sorted((REPO / "voc").iterdir()):
        if p.name != "__pycache__":
            (top / p.name).symlink_to(p)
    for name, folder in package_dirs().items():
        assert name.startswith("voc.") and name.count(".") == 1, name
        (root / name.replace(".", "/")).symlink_to(REPO / folder)
    return root


def mypy(root: Path) -> subprocess.CompletedProcess[str]:
    """mypy on the whole ``voc`` package (every mapped package is one of its subpackages)."""
    tree = mypy_tree(root)
    return _run(
        "mypy",
        "--config-file",
        str(REPO / "pyproject.toml"),
        "--cache-dir",
        str(REPO / ".mypy_cache"),
        "-p",
        "voc",
        cwd=tree,
    )


def test_ruff_is_clean() -> None:
    assert shutil.which("ruff") or _run("ruff", "--version").returncode == 0
    res = _run("ruff", "check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format_is_clean() -> None:
    """The code is as `ruff format` writes it (pyproject.toml [tool.ruff.format]): run it before committing."""
    res = _run("ruff", "format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_mypy_tree_is_the_installed_layout(tmp_path: Path) -> None:
    tree = mypy_tree(tmp_path / "t")
    assert (tree / "voc" / "flows" / "weekly.py").resolve() == REPO / "flows" / "weekly.py"
    assert (tree / "voc" / "app" / "cli.py").resolve() == REPO / "voc" / "app" / "cli.py"
    mapped = {Path(p).name for p in package_dirs().values()}
    folders = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"voc", "tests"}
    assert mapped == folders, (
        "every top-level package folder is mapped under voc (pyproject.toml package-dir)"
    )


def test_mypy_is_clean_on_the_packages(tmp_path: Path) -> None:
    res = mypy(tmp_path / "mypy")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Success" in res.stdout and "source files" in res.stdout, res.stdout


if __name__ == "__main__":
    out = mypy(REPO / "build" / "mypy")
    print(out.stdout + out.stderr, end="")
    sys.exit(out.returncode)
