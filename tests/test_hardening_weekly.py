"""Issue #21 hardening, the weekly run through the installed `voc` on SQLite and PostgreSQL.

* An expected failure inside a Prefect flow or task (a missing source folder) is the CLI's one
  ``error:`` line, exit 2: no Prefect traceback or failure lines on stderr or stdout, while the run is
  still Failed in Prefect with its traceback in the run's logs (the UI keeps the detail).

These run `voc` as a process: Prefect's console handler writes to whichever stderr was current when
Prefect was first imported in the process; in a test session that is often not CliRunner's captured one
(a CliRunner test could pass without seeing Prefect's output), so only a real process reliably shows
what a user sees.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from voc.errors import SourceError
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _voc(db: str, *args: str, cwd: Path, prefect_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("voc")
    env = {**os.environ, "VOC_DATABASE_URL": db}
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def test_missing_source_folder_in_the_weekly_run_is_one_line(db_url: str, tmp_path: Path) -> None:
    assert _voc(db_url, "init", cwd=tmp_path).returncode == 0
    home = tmp_path / "prefect"  # its own Prefect database, to look at the run afterwards
    res = _voc(db_url, "run-weekly", "--week", str(WEEK), "--out", str(tmp_path / "out"),
               "--alerts-to", str(tmp_path / "outbox"), cwd=tmp_path, prefect_home=home)
    assert res.returncode == 2, res
    assert res.stderr.splitlines() == [
        f"error: source 'drops': ./drops does not exist (relative to {tmp_path}); create it or change "
        "`sources:` in your VOC_CONFIG"], res.stderr
    assert res.stdout == "", res.stdout
    # Prefect still knows: the run is Failed, and its logs (sent to the API) keep the traceback
    with sqlite3.connect(home / "prefect.db") as c:
        states = [r[0] for r in c.execute("select state_type from flow_run")]
        logs = [r[0] for r in c.execute("select message from log where level >= 40")]
    assert states == ["FAILED"]
    assert any("Traceback" in m and "SourceError: source 'drops'" in m for m in logs), logs


def _records() -> list[logging.LogRecord]:
    """What Prefect's run loggers emit when a task fails, and the closing lines, in order."""
    def rec(msg: str, exc: BaseException | None, **extra: str) -> logging.LogRecord:
        r = logging.LogRecord("prefect.task_runs" if "task_run_id" in extra else "prefect.flow_runs",
                              logging.ERROR, __file__, 1, msg, None,
                              (type(exc), exc, None) if exc is not None else None)
        r.__dict__.update(extra)
        return r

    voc_err, bug = SourceError("source 'drops': ./drops does not exist"), ZeroDivisionError("bug")
    return [
        rec("Task run failed with exception: SourceError(...)", voc_err, task_run_id="t1", flow_run_id="f1"),
        rec("Finished in state Failed('Task run encountered an exception SourceError')", None,
            task_run_id="t1", flow_run_id="f1"),
        rec("Encountered exception during execution: SourceError(...)", voc_err, flow_run_id="f1"),
        rec("Task run failed with exception: ZeroDivisionError('bug')", bug, task_run_id="t2", flow_run_id="f2"),
        rec("Finished in state Failed('Task run encountered an exception ZeroDivisionError')", None,
            task_run_id="t2", flow_run_id="f2"),
        rec("Finished in state Completed()", None, task_run_id="t3", flow_run_id="f2"),
        rec("a warning of the run", None, flow_run_id="f1"),
    ]


def test_quiet_filter_drops_only_expected_failures() -> None:
    from voc.cli import _QuietExpectedRuns

    f = _QuietExpectedRuns()
    kept = [r.getMessage() for r in _records() if f.filter(r)]
    assert kept == ["Task run failed with exception: ZeroDivisionError('bug')",  # a bug keeps its traceback
                    "Finished in state Failed('Task run encountered an exception ZeroDivisionError')",
                    "Finished in state Completed()", "a warning of the run"]
