"""Issue #16 part 2, operations: what a new user and an operator see.

The commands run as real processes (``voc`` from the venv): Prefect's console handler and logging
are set up at import, so only a process of its own shows what a user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voc import sample
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
VOC = Path(sys.executable).with_name("voc")


def _voc(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("VOC_")},
            "VOC_LOG_FILE": str(cwd / "voc-errors.log"), **env}
    return subprocess.run([str(VOC), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=full)


def _export(tmp_path: Path, per_week: int = 50) -> Path:
    rows, _ = sample.generate(WEEK, weeks=3, per_week=per_week, seed=5)
    sample.write_csv(tmp_path / "export.csv", rows)
    return tmp_path / "export.csv"


def test_run_weekly_after_ingest_file_on_the_default_config(sqlite_url: str, tmp_path: Path) -> None:
    """The example config's `drops` source points at ./drops, which a new user has not created: the
    weekly run says so in one warning line and goes on with what `voc ingest-file` stored."""
    db = {"VOC_DATABASE_URL": sqlite_url}
    assert _voc("init", cwd=tmp_path, **db).returncode == 0
    got = _voc("ingest-file", str(_export(tmp_path)), cwd=tmp_path, **db)
    assert got.returncode == 0, got.stderr
    res = _voc("run-weekly", "--week", str(WEEK), "--out", str(tmp_path / "out"), "--alerts-to",
               str(tmp_path / "outbox"), cwd=tmp_path, **db)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [
        f"warning: source 'drops': ./drops does not exist (relative to {tmp_path}), nothing read; create it "
        "(exports dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"], res.stderr
    briefs = res.stdout.split()
    assert briefs and all(Path(p).exists() for p in briefs), res.stdout
    assert any(p.endswith(".html") for p in briefs)
