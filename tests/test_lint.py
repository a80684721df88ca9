"""ruff and mypy are clean on the project (the house style says CI checks them: this is that check)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO

PACKAGES = ["voc", "config", "store", "sources", "nlp", "surges", "reports", "flows", "delivery"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    assert shutil.which("ruff") or _run("ruff", "--version").returncode == 0
    res = _run("ruff", "check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_is_clean_on_the_packages() -> None:
    res = _run("mypy", *PACKAGES)
    assert res.returncode == 0, res.stdout + res.stderr
