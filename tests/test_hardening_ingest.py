"""The ingest boundary under bad input, through the real CLI on SQLite and PostgreSQL (issue #21).

Every case checks the accounting (rows in the file = stored + quarantined + duplicates, as the
summary line reports it), that no traceback escapes, the exit code, and that what was stored is
exactly the text that was written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from voc.app.cli import app
from voc.store.db import make_engine
from voc.store.models import TicketRow

runner = CliRunner()
HEADER = "ticket_id,closed_at,channel,product,batch,subject,body\n"
SUMMARY = re.compile(
    r"read (\d+), inserted (\d+), updated (\d+), unchanged (\d+), duplicates (\d+).*?"
    r"quarantined (\d+)"
)


def _row(
    tid: str,
    body: str,
    *,
    channel: str = "电话",
    product: str = "oven",
    batch: str = "B2409",
    subject: str = "门",
    closed: str = "2026-11-16 10:00",
) -> str:
    return f"{tid},{closed},{channel},{product},{batch},{subject},{body}\n"


def _cli(db_url: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env={"VOC_DATABASE_URL": db_url})
    out, err = res.stdout, res.stderr
    assert "Traceback" not in out + err and res.exception is None or isinstance(res.exception, SystemExit), (
        out,
        err,
        res.exception,
    )
    return res.exit_code, out, err


@pytest.fixture
def db(db_url: str) -> str:
    code, _, err = _cli(db_url, "init")
    assert code == 0, err
    return db_url


def _ingest(
    db: str, path: Path, *extra: str, rows_in: int, bad_files: tuple[str, ...] = ()
) -> tuple[dict[str, int], str]:
    """Run `voc ingest-file` and check that every row in is accounted for exactly once, and that each
    file quarantined whole (``bad_files``) is a warning line of its own on stderr (exit code still 0)."""
    code, out, err = _cli(db, "ingest-file", str(path), *extra)
    assert code == 0, (out, err)
    warnings = err.strip().splitlines()
    assert len(warnings) == len(bad_files), err
    for w, name in zip(warnings, bad_files, strict=True):
        assert w.startswith("warning: files: file not ingested, quarantined: ") and name in w, w
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    m = SUMMARY.search(lines[0])
    assert m, lines[0]
    n = dict(
        zip(
            ("read", "inserted", "updated", "unchanged", "duplicates", "quarantined"),
            map(int, m.groups()),
            strict=True,
        )
    )
    assert n["read"] == rows_in, lines[0]
    assert n["inserted"] + n["updated"] + n["unchanged"] + n["duplicates"] + n["quarantined"] == rows_in, (
        lines[0]
    )
    return n, lines[0]


def _tickets(db: str) -> dict[str, dict[str, object]]:
    eng = make_engine(db)
    try:
        with eng.connect() as c:
            rows = c.execute(
                select(
                    TicketRow.source_id,
                    TicketRow.body,
                    TicketRow.product,
                    TicketRow.channel,
                    TicketRow.batch,
                    TicketRow.subject,
                    TicketRow.closed_at,
                )
            ).all()
    finally:
        eng.dispose()
    return {r.source_id: r._asdict() for r in rows}


def _quarantine(db: str) -> list[dict[str, object]]:
    code, out, _ = _cli(db, "quarantine", "--json")
    assert code == 0
    return json.loads(out)


def test_bad_field_values_are_quarantined_by_name_and_the_folder_goes_on(db: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    bad = {  # id -> (row, the field the reason must name)
        "P1": (_row("P1", "长产品名", product="p" * 201), "product"),
        "P2": (_row("P2", "长渠道", channel="c" * 101), "channel"),
        "P3": (_row("P3", "长批次", batch="b" * 101), "batch"),
        "P4": (_row("P4", "主题有NUL", subject="门\x00坏"), "subject"),
        "P5": (_row("P5", "产品有NUL", product="ov\x00en"), "product"),
        "P\x006": (_row("P\x006", "编号有NUL"), "ticket_id"),
        "P7": (_row("P7", "控制字符", product="ov\x01en"), "product"),
        "P8": (_row("P8", "批次是电话", batch="13812345678"), "batch"),
        "P9": (_row("P9", "渠道是邮箱", channel="someone@example.com"), "channel"),
        "P10": (_row("P10", "次数不是数"), "transfers"),
    }
    (drop / "a.csv").write_text(
        HEADER.replace("\n", ",transfers\n")
        + "".join(r.replace("\n", ",NaN\n" if k == "P10" else ",1\n") for k, (r, _) in bad.items())
        + _row("G1", "好的一行").replace("\n", ",0\n"),
        encoding="utf-8",
    )
    (drop / "b.csv").write_text(HEADER + _row("G2", "第二个文件", product="p" * 200), encoding="utf-8")
    n, line = _ingest(db, drop, rows_in=len(bad) + 2)
    assert (n["inserted"], n["quarantined"]) == (2, len(bad))
    stored = _tickets(db)
    assert stored["G1"]["body"] == "好的一行" and stored["G2"]["product"] == "p" * 200
    assert set(stored) == {"G1", "G2"}
    reasons = {q["location"]: q["reason"] for q in _quarantine(db)}
    assert len(reasons) == len(bad)
    for i, (_, field) in enumerate(bad.values(), 2):
        reason = reasons[f"a.csv:{i}"]
        assert reason.startswith(field + ":"), reason
        assert len(reason) < 120 and "ppppp" not in reason and "13812345678" not in reason, reason


def _numbered(n: int) -> list[str]:
    return [_row(f"T{i}", f"正文{i}") for i in range(n)]


def test_unclosed_quote_in_the_last_column_swallows_nothing(db: str, tmp_path: Path) -> None:
    rows = _numbered(10)
    rows[4] = _row("T4", '"没有结束的引号')
    f = tmp_path / "q.csv"
    f.write_text(HEADER + "".join(rows), encoding="utf-8")
    n, _ = _ingest(db, f, rows_in=10)
    assert (n["inserted"], n["quarantined"]) == (9, 1)
    stored = _tickets(db)
    assert {k: v["body"] for k, v in stored.items()} == {f"T{i}": f"正文{i}" for i in range(10) if i != 4}
    (q,) = _quarantine(db)
    assert q["location"] == "q.csv:6" and q["reason"].startswith("unclosed quote")
    assert q["raw"]["__line__"].startswith("T4,")


def test_unclosed_quote_mid_row_and_a_real_multiline_body(db: str, tmp_path: Path) -> None:
    rows = _numbered(6)
    rows[1] = _row("T1", "正文1", subject='"半个引号')
    rows[3] = _row("T3", '"多行\n正文, 带逗号"')
    f = tmp_path / "q.csv"
    f.write_text(HEADER + "".join(rows), encoding="utf-8")
    n, _ = _ingest(db, f, rows_in=6)
    assert (n["inserted"], n["quarantined"]) == (5, 1)
    bodies = {k: v["body"] for k, v in _tickets(db).items()}
    assert bodies == {"T0": "正文0", "T2": "正文2", "T3": "多行\n正文, 带逗号", "T4": "正文4", "T5": "正文5"}


def _xlsx(path: Path, rows: list[list[object]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(r)
    wb.save(path)


def test_unreadable_file_is_quarantined_and_the_folder_goes_on(db: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text(HEADER + _row("A1", "第一个"), encoding="utf-8")
    good_xlsx = tmp_path / "b.xlsx"
    _xlsx(good_xlsx, [["ticket_id", "closed_at", "body"], ["B1", "2026-11-16 10:00", "表格里的"]])
    (drop / "b.xlsx").write_bytes(good_xlsx.read_bytes()[:300])  # truncated
    (drop / "c.csv").write_text(HEADER + _row("C1", "第三个"), encoding="utf-8")
    n, line = _ingest(db, drop, rows_in=2, bad_files=("b.xlsx",))
    assert n["inserted"] == 2 and "1 file(s) unreadable" in line and "b.xlsx" in line
    assert set(_tickets(db)) == {"A1", "C1"}
    (q,) = _quarantine(db)
    assert q["location"] == "b.xlsx" and q["reason"].startswith("unreadable file: b.xlsx")
    # the same bad file again: reported again (it is still there), kept once in quarantine
    _, line = _ingest(db, drop, rows_in=0, bad_files=("b.xlsx",))
    assert "2 file(s) already ingested" in line and "b.xlsx" in line and len(_quarantine(db)) == 1
    # fixed: read, and its quarantine entry resolved
    (drop / "b.xlsx").write_bytes(good_xlsx.read_bytes())
    n, line = _ingest(db, drop, rows_in=1)
    assert n["inserted"] == 1 and "unreadable" not in line
    assert _tickets(db)["B1"]["body"] == "表格里的" and _quarantine(db) == []


def test_file_mixing_gbk_and_utf8_rows_is_stored_correctly(db: str, tmp_path: Path) -> None:
    gbk = [_row(f"G{i}", f"烤箱门关不紧第{i}次") for i in range(3)]
    utf = [_row(f"U{i}", f"水壶漏水了第{i}次，客服说换货") for i in range(3)]
    f = tmp_path / "mixed.csv"
    f.write_bytes(
        HEADER.encode()
        + b"".join(r.encode("gbk") for r in gbk)
        + b"".join(r.encode() for r in utf)
        + gbk[0].replace("G0", "G9").encode("gbk")
    )
    n, _ = _ingest(db, f, rows_in=7)
    assert n["inserted"] == 7
    bodies = {k: v["body"] for k, v in _tickets(db).items()}
    assert bodies == {
        **{f"G{i}": f"烤箱门关不紧第{i}次" for i in range(3)},
        "G9": "烤箱门关不紧第0次",
        **{f"U{i}": f"水壶漏水了第{i}次，客服说换货" for i in range(3)},
    }
    assert all(v["channel"] == "电话" and v["subject"] == "门" for v in _tickets(db).values())


def _voc(db: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `voc` entry point (a hang would hit the timeout instead of blocking the suite)."""
    exe = Path(sys.executable).with_name("voc")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "VOC_DATABASE_URL": db},
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_named_csv_do_not_hang(db: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    for p, kind in ((fifo, "FIFO"), (zero, "character device")):
        res = _voc(db, "ingest-file", str(p), cwd=tmp_path)
        assert res.returncode == 2 and res.stdout == "", res
        assert (
            len(res.stderr.strip().splitlines()) == 1 and kind in res.stderr and "Traceback" not in res.stderr
        )
    drop = tmp_path / "drop"
    drop.mkdir()
    os.mkfifo(drop / "a.csv")
    (drop / "b.csv").symlink_to("/dev/zero")
    (drop / "c.csv").write_text(HEADER + _row("C1", "正常"), encoding="utf-8")
    res = _voc(db, "ingest-file", str(drop), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "read 1, inserted 1" in res.stdout and "2 file(s) unreadable" in res.stdout
    warnings = res.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: files: file not ingested") for w in warnings)
    assert "a.csv" in warnings[0] and "FIFO" in warnings[0] and "b.csv" in warnings[1], warnings
    assert {q["location"] for q in _quarantine(db)} == {"a.csv", "b.csv"}


def test_json_array_and_object_body(db: str, tmp_path: Path) -> None:
    f = tmp_path / "drop.json"
    items = [
        {"ticket_id": "J1", "closed_at": "2026-11-16T10:00:00Z", "body": "数组里的"},
        {"ticket_id": "J2", "closed_at": "2026-11-16T10:00:00Z", "body": {"text": "对象"}},
        {"ticket_id": "J3", "closed_at": "2026-11-16T10:00:00Z", "body": "第三个"},
    ]
    f.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    n, _ = _ingest(db, f, rows_in=3)
    assert (n["inserted"], n["quarantined"]) == (2, 1)
    assert {k: v["body"] for k, v in _tickets(db).items()} == {"J1": "数组里的", "J3": "第三个"}
    (q,) = _quarantine(db)
    assert q["reason"] == "body: a JSON object, not text" and q["raw"]["body"] == {"text": "对象"}


@pytest.mark.parametrize("header_comma, rows_comma", [(True, False), (False, True), (True, True)])
def test_empty_unnamed_trailing_column_is_ignored(
    db: str, tmp_path: Path, header_comma: bool, rows_comma: bool
) -> None:
    f = tmp_path / "excel.csv"
    header = HEADER.replace("\n", ",\n") if header_comma else HEADER
    rows = [r.replace("\n", ",\n") if rows_comma else r for r in _numbered(3)]
    extra = _row("X", "多一列", batch="B1").replace("\n", ",有值\n")  # a value under no name: not dropped
    f.write_text(header + "".join(rows) + extra, encoding="utf-8")
    n, _ = _ingest(db, f, rows_in=4)
    assert (n["inserted"], n["quarantined"]) == (3, 1)
    assert {k: v["body"] for k, v in _tickets(db).items()} == {f"T{i}": f"正文{i}" for i in range(3)}


def test_corrected_earlier_close_time_updates(db: str, tmp_path: Path) -> None:
    (tmp_path / "w1.csv").write_text(
        HEADER + _row("T1", "门关不紧", closed="2026-11-20T10:00:00Z"), encoding="utf-8"
    )
    _ingest(db, tmp_path / "w1.csv", rows_in=1)
    (tmp_path / "w2.csv").write_text(
        HEADER + _row("T1", "门关不紧", closed="2026-11-18T09:00:00Z"), encoding="utf-8"
    )
    n, _ = _ingest(db, tmp_path / "w2.csv", rows_in=1)
    assert (n["updated"], n["unchanged"]) == (1, 0)
    assert _tickets(db)["T1"]["closed_at"] == datetime(2026, 11, 18, 9, 0)


def test_forced_rerun_does_not_report_old_quarantine_as_new(db: str, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        HEADER + _row("T1", "好") + _row("T2", "坏", closed="never") + _row("T3", ""), encoding="utf-8"
    )
    n, line = _ingest(db, f, rows_in=3)
    assert n["quarantined"] == 2 and "already in quarantine" not in line
    n, line = _ingest(db, f, "--force", rows_in=3)
    assert (n["unchanged"], n["quarantined"]) == (1, 2) and "(2 already in quarantine)" in line
    assert len(_quarantine(db)) == 2


def test_killed_run_is_marked_interrupted_on_the_next_start(db: str, tmp_path: Path) -> None:
    import socket

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    eng = make_engine(db)
    now = datetime.now().replace(microsecond=0)
    with eng.begin() as c:
        for holder, started in (
            (f"{socket.gethostname()}:{dead}", now),  # killed on this host
            (None, datetime(2020, 1, 1)),  # from before runs named their process
            (f"{socket.gethostname()}:{os.getpid()}", now),
        ):  # alive
            c.execute(
                text(
                    "insert into ingest_runs (source, started_at, status, holder, read, inserted, updated,"
                    " unchanged, quarantined) values ('files', :s, 'running', :h, 0, 0, 0, 0, 0)"
                ),
                {"s": started, "h": holder},
            )
    f = tmp_path / "t.csv"
    f.write_text(HEADER + _row("T1", "好"), encoding="utf-8")
    _ingest(db, f, rows_in=1)
    with eng.connect() as c:
        status = c.execute(text("select status from ingest_runs order by id")).scalars().all()
    eng.dispose()
    assert status == ["interrupted", "interrupted", "running", "ok"]
