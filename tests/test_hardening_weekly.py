"""Issue #21 hardening, the weekly run through the installed `voc` on SQLite and PostgreSQL.

* An expected failure inside a Prefect flow or task (a missing source folder) is the CLI's one
  ``error:`` line, exit 2: no Prefect traceback or failure lines on stderr or stdout, while the run is
  still Failed in Prefect with its traceback in the run's logs (the UI keeps the detail).
* One bad row or file never blocks the week: a folder with a good CSV, a truncated .xlsx and a CSV
  with an over-long product and a NUL byte gives a brief, exit 0, the bad file and rows in quarantine,
  and the next run goes past the same place.

The runs whose terminal output is checked run `voc` as a process: Prefect's console handler writes to
whichever stderr was current when Prefect was first imported in the process; in a test session that is
often not CliRunner's captured one (a CliRunner test could pass without seeing Prefect's output), so only
a real process reliably shows what a user sees. The steps whose output is not a terminal's (``init``,
``quarantine --json``, the review and export, the second run's exit and files) run in this process
through typer's runner: each process of its own starts Prefect's API again.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import Result

from tests.conftest import voc_in
from voc.errors import SourceError
from voc.store.db import make_engine
from voc.store.models import TicketRow
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
HEADER = "ticket_id,closed_at,channel,product,batch,subject,body,agent,customer_region,status\n"
# personal data in structured columns that are stored as given but feed no report, export or page
PLANTED = {"agent": "li.na@example.com", "customer_region": "上海 13812345678", "status": "13912345678"}


def _voc(
    db: str, *args: str, cwd: Path, prefect_home: Path | None = None, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("voc")
    env = {**os.environ, "VOC_DATABASE_URL": db, "VOC_LOG_FILE": str(cwd / "voc-errors.log")}
    if config is not None:
        env["VOC_CONFIG"] = str(config)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def _voc_here(db: str, *args: str, cwd: Path) -> Result:
    """The same command in this process through typer's runner (same database, error log and folder as
    `_voc`), for the steps whose point is not what a process of its own shows."""
    return voc_in(cwd, args, {"VOC_DATABASE_URL": db, "VOC_LOG_FILE": str(cwd / "voc-errors.log")})


def test_unset_source_secret_in_the_weekly_run_is_one_line(
    db_url: str, tmp_path: Path, prefect_home: Path
) -> None:
    # (a missing drop folder used to be the example here; it is a warning now: tests/test_ops.py)
    import yaml

    from voc.config.settings import EXAMPLE_CONFIG

    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["sources"] = [
        {
            "name": "helpdesk",
            "kind": "zendesk",
            "subdomain": "nowhere",
            "email_env": "VOC_TEST_UNSET_EMAIL",
            "token_env": "VOC_TEST_UNSET_TOKEN",
        }
    ]
    (tmp_path / "voc.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    os.environ.pop("VOC_TEST_UNSET_EMAIL", None)
    assert _voc_here(db_url, "init", cwd=tmp_path).exit_code == 0
    home = prefect_home  # its own Prefect database, to look at the run afterwards
    res = _voc(
        db_url,
        "run-weekly",
        "--week",
        str(WEEK),
        "--out",
        str(tmp_path / "out"),
        "--alerts-to",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
        prefect_home=home,
        config=tmp_path / "voc.yaml",
    )
    assert res.returncode == 2, res
    assert res.stderr.splitlines() == [
        "error: source 'helpdesk': environment variable $VOC_TEST_UNSET_EMAIL (the agent email) is not set"
    ], res.stderr
    assert res.stdout == "", res.stdout
    # Prefect still knows: the run is Failed, and its logs (sent to the API) keep the traceback
    with sqlite3.connect(home / "prefect.db") as c:
        states = [r[0] for r in c.execute("select state_type from flow_run")]
        logs = [r[0] for r in c.execute("select message from log where level >= 40")]
    assert states == ["FAILED"]
    assert any("Traceback" in m and "SourceError: source 'helpdesk'" in m for m in logs), logs


def _records() -> list[logging.LogRecord]:
    """What Prefect's run loggers emit when a task fails, and the closing lines, in order."""

    def rec(msg: str, exc: BaseException | None, **extra: str) -> logging.LogRecord:
        r = logging.LogRecord(
            "prefect.task_runs" if "task_run_id" in extra else "prefect.flow_runs",
            logging.ERROR,
            __file__,
            1,
            msg,
            None,
            (type(exc), exc, None) if exc is not None else None,
        )
        r.__dict__.update(extra)
        return r

    voc_err, bug = SourceError("source 'drops': ./drops does not exist"), ZeroDivisionError("bug")
    return [
        rec("Task run failed with exception: SourceError(...)", voc_err, task_run_id="t1", flow_run_id="f1"),
        rec(
            "Finished in state Failed('Task run encountered an exception SourceError')",
            None,
            task_run_id="t1",
            flow_run_id="f1",
        ),
        rec("Encountered exception during execution: SourceError(...)", voc_err, flow_run_id="f1"),
        rec(
            "Task run failed with exception: ZeroDivisionError('bug')",
            bug,
            task_run_id="t2",
            flow_run_id="f2",
        ),
        rec(
            "Finished in state Failed('Task run encountered an exception ZeroDivisionError')",
            None,
            task_run_id="t2",
            flow_run_id="f2",
        ),
        rec("Finished in state Completed()", None, task_run_id="t3", flow_run_id="f2"),
        rec("a warning of the run", None, flow_run_id="f1"),
    ]


def test_quiet_filter_drops_only_expected_failures() -> None:
    from voc.app.cli import _QuietExpectedRuns

    f = _QuietExpectedRuns()
    kept = [r.getMessage() for r in _records() if f.filter(r)]
    assert kept == [
        "Task run failed with exception: ZeroDivisionError('bug')",  # a bug keeps its traceback
        "Finished in state Failed('Task run encountered an exception ZeroDivisionError')",
        "Finished in state Completed()",
        "a warning of the run",
    ]


def _drop_folder(tmp_path: Path) -> tuple[Path, int]:
    """drops/ with a good sample CSV, a truncated .xlsx, and a CSV whose rows include an over-long
    product and a NUL byte. Returns the folder and the number of good rows."""
    from openpyxl import Workbook

    from voc import sample

    drops = tmp_path / "drops"
    drops.mkdir()
    rows, _ = sample.generate(WEEK, weeks=3, per_week=50, seed=11)
    sample.write_csv(drops / "a_good.csv", rows)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ticket_id", "closed_at", "body"])
    ws.append(["X1", "2026-11-17 10:00", "表格里的"])
    full = tmp_path / "full.xlsx"
    wb.save(full)
    (drops / "b_truncated.xlsx").write_bytes(full.read_bytes()[:300])
    (drops / "c_bad_rows.csv").write_text(
        HEADER
        + "C1,2026-11-17 10:00,电话,oven,B2409,门,烤箱门关不紧,"
        + ",".join(PLANTED.values())
        + "\n"
        + "C2,2026-11-17 10:00,电话,"
        + "p" * 201
        + ",B2409,门,产品名太长,,,\n"
        + "C3,2026-11-17 10:00,电话,oven,B2409,门,正文有\x00NUL,,,\n",
        encoding="utf-8",
    )
    return drops, len(rows) + 1


def test_bad_file_and_rows_never_block_the_weekly_run(db_url: str, tmp_path: Path) -> None:
    _, good = _drop_folder(tmp_path)
    assert _voc_here(db_url, "init", cwd=tmp_path).exit_code == 0
    out, outbox = tmp_path / "out", tmp_path / "outbox"
    args = ("run-weekly", "--week", str(WEEK), "--out", str(out), "--alerts-to", str(outbox))
    res = _voc(db_url, *args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stdout + res.stderr
    briefs = [Path(p) for p in res.stdout.split()]
    assert {p.name for p in briefs} == {
        f"brief-{WEEK}.{lang}.{ext}" for lang in ("zh", "en") for ext in ("html", "md")
    }
    assert all(p.is_file() and p.stat().st_size > 1000 for p in briefs)

    def quarantined() -> dict[str, str]:
        q = _voc_here(db_url, "quarantine", "--json", cwd=tmp_path)
        assert q.exit_code == 0, q.output
        return {r["location"]: r["reason"] for r in json.loads(q.stdout)}

    reasons = quarantined()
    assert set(reasons) == {"b_truncated.xlsx", "c_bad_rows.csv:3", "c_bad_rows.csv:4"}, reasons
    assert reasons["b_truncated.xlsx"].startswith("unreadable file: b_truncated.xlsx")
    assert reasons["c_bad_rows.csv:3"] == "product: 201 characters, over the limit of 200"
    assert reasons["c_bad_rows.csv:4"].startswith("body: contains control character U+0000 (NUL)")
    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(TicketRow)).scalar() == good
            c1 = c.execute(
                select(TicketRow.body, TicketRow.agent, TicketRow.customer_region, TicketRow.status).where(
                    TicketRow.source_id == "C1"
                )
            ).one()
            assert tuple(c1) == ("烤箱门关不紧", *PLANTED.values())
    finally:
        engine.dispose()
    # stored as given, yet no brief, alert, quarterly review or export shows them
    review = _voc_here(
        db_url, "review", "--quarter", "2026-Q4", "--out", str(tmp_path / "review"), cwd=tmp_path
    )
    export = _voc_here(db_url, "topics", "assignments", "--out", str(tmp_path / "assign.csv"), cwd=tmp_path)
    assert review.exit_code == 0 and export.exit_code == 0, (review.output, export.output)
    written = [f for d in (out, outbox, tmp_path / "review") if d.exists() for f in d.iterdir()]
    written.append(tmp_path / "assign.csv")
    assert len(written) >= 9  # 4 briefs, 4 review files, the export (and any alerts)
    for f in written:
        text = f.read_text(encoding="utf-8")
        assert not [v for v in ("li.na@example.com", "13812345678", "13912345678") if v in text], f

    # the next run (the bad file is still there) goes past the same place, and keeps one entry per problem
    for p in briefs:
        p.unlink()
    again = _voc_here(db_url, *args, cwd=tmp_path)
    assert again.exit_code == 0, again.output[-3000:]
    assert all(p.is_file() for p in briefs)
    assert quarantined() == reasons
