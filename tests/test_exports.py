"""Exports as teams have them (issue #19): .xls and .xlsx read with python-calamine, identical rows to
openpyxl; files the reader cannot read are quarantined and said, never a silent "read 0"."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from voc.app.cli import app
from voc.sources.files import RawRow, read_rows
from voc.store.db import make_engine
from voc.store.models import TicketRow

runner = CliRunner()
SUMMARY = re.compile(r"read (\d+), inserted (\d+), .*quarantined (\d+)")


def write_xls(path: Path, rows: list[list[Any]]) -> None:
    """An Excel 97-2003 workbook (BIFF8, what xlwt writes and old ERP / shop back-ends export)."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("工单")
    stamp = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if isinstance(v, datetime):
                ws.write(i, j, v, stamp)
            elif isinstance(v, date):
                ws.write(i, j, v, day)
            elif v is not None:
                ws.write(i, j, v)
    wb.save(str(path))


def write_xlsx(path: Path, rows: list[list[Any]], at: str | None = None) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    if at is None:
        for r in rows:
            ws.append(r)
    else:  # the table starts at cell ``at`` (rows above and columns left of it are empty)
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        col, row0 = coordinate_from_string(at)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                ws.cell(row=row0 + i, column=column_index_from_string(col) + j, value=v)
    wb.save(path)


def openpyxl_rows(path: Path) -> list[RawRow]:
    """The rows as the reader read them before calamine (openpyxl, read-only, cached values)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        out = []
        for n, values in enumerate(rows, 2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            out.append(RawRow(f"{path.name}:{n}", dict(zip(header, values, strict=False))))
        return out
    finally:
        wb.close()


MIXED = [
    ["ticket_id", "closed_at", "created_at", "body", "csat", "score", "order_no", "reopened", "at", "blank"],
    [
        1001,
        datetime(2026, 11, 16, 10, 0, 5),
        date(2026, 11, 15),
        "门关不紧",
        5,
        2.5,
        "00123",
        True,
        time(9, 30),
        None,
    ],
    [
        "T-2",
        datetime(2026, 11, 16, 23, 59, 59, 500000),
        datetime(2026, 1, 2),
        "door won't close",
        None,
        -0.1,
        "1e5",
        False,
        None,
        None,
    ],
    [None, None, None, None, None, None, None, None, None, None],
    ["T-4", "2026-11-16 10:00", None, "多行\n正文", 3.0, 1e20, "=1+1", None, None, None],
    [1631081162000, 1631081162000, None, "  前后空格  ", 4, 12345678901234567, "0.10", None, None, None],
]


@pytest.mark.parametrize("at", [None, "C3"])
def test_xlsx_rows_are_identical_to_openpyxl(tmp_path: Path, at: str | None) -> None:
    """Dates (date-only cells too), whole and fractional numbers, numbers kept as text, empty cells,
    blank rows skipped, and the row numbers of a table that does not start at A1."""
    f = tmp_path / "mixed.xlsx"
    write_xlsx(f, MIXED, at)
    got = list(read_rows(f))
    if at is None:
        assert got == openpyxl_rows(f)
    else:  # openpyxl's reader took the blank row 1 as the header; the header is now the table's first row
        write_xlsx(tmp_path / "a1.xlsx", MIXED)
        assert [{k: v for k, v in r.data.items() if k} for r in got] == [
            r.data for r in read_rows(tmp_path / "a1.xlsx")
        ]
    first = got[0].data
    assert first["ticket_id"] == 1001 and isinstance(first["ticket_id"], int)
    assert first["created_at"] == datetime(2026, 11, 15) and first["order_no"] == "00123"
    assert first["blank"] is None and first["at"] == time(9, 30)
    assert [r.location for r in got] == (
        [f"mixed.xlsx:{n}" for n in (2, 3, 5, 6)] if at is None else [f"mixed.xlsx:{n}" for n in (4, 5, 7, 8)]
    )


def _cli(db: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env={"VOC_DATABASE_URL": db})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def db(db_url: str) -> str:
    code, _, err = _cli(db_url, "init")
    assert code == 0, err
    return db_url


def _tickets(db: str) -> dict[str, dict[str, Any]]:
    eng = make_engine(db)
    try:
        with eng.connect() as c:
            rows = c.execute(
                select(TicketRow.source_id, TicketRow.body, TicketRow.closed_at, TicketRow.csat)
            ).all()
    finally:
        eng.dispose()
    return {r.source_id: r._asdict() for r in rows}


def test_xls_export_is_read(db: str, tmp_path: Path) -> None:
    rows = [
        ["ticket_id", "closed_at", "body", "csat", "order_no"],
        [1001, datetime(2026, 11, 16, 10, 0, 5), "烤箱门关不紧", 2, "00123"],
        ["T-2", date(2026, 11, 17), "水壶漏水", None, "HC0000000001"],
        [None, None, None, None, None],
        ["T-3", "2026/11/18 08:30", "no body problem", 4.5, None],
        ["T-4", datetime(2026, 11, 18, 9, 0), None, True, "00124"],
    ]  # no body: quarantined, dates and all
    f = tmp_path / "export.xls"
    write_xls(f, rows)
    got = list(read_rows(f))
    assert [r.location for r in got] == ["export.xls:2", "export.xls:3", "export.xls:5", "export.xls:6"]
    assert got[0].data == {
        "ticket_id": 1001,
        "closed_at": datetime(2026, 11, 16, 10, 0, 5),
        "body": "烤箱门关不紧",
        "csat": 2,
        "order_no": "00123",
    }
    assert got[1].data["closed_at"] == datetime(2026, 11, 17) and got[1].data["csat"] is None
    code, out, err = _cli(db, "ingest-file", str(f), "--source", "files")
    assert code == 0 and err == "", (out, err)
    assert SUMMARY.search(out).groups() == ("4", "3", "1")  # type: ignore[union-attr]
    code, out, _ = _cli(db, "quarantine", "--json")
    (q,) = json.loads(out)
    assert q["location"] == "export.xls:6" and q["reason"].startswith("body: missing")
    t = _tickets(db)
    assert set(t) == {"1001", "T-2", "T-3"}
    assert t["1001"]["body"] == "烤箱门关不紧" and t["T-3"]["csat"] == 4.5
    assert t["1001"]["closed_at"] == datetime(2026, 11, 16, 2, 0, 5)  # Asia/Shanghai -> UTC


def test_no_file_is_passed_over_in_silence(db: str, tmp_path: Path) -> None:
    """A folder whose files cannot be read says so file by file (exit 0, the rest is read): a
    truncated .xls, an HTML page and an empty file named .xls, a WPS .et workbook; a tab-separated
    text export named .xls (what many back-ends produce) is read as text; office lock files and hidden
    files are not exports."""
    drop = tmp_path / "drop"
    drop.mkdir()
    good = tmp_path / "good.xls"
    write_xls(good, [["ticket_id", "closed_at", "body"], ["X1", "2026-11-16 10:00", "表格里的"]])
    (drop / "a_truncated.xls").write_bytes(good.read_bytes()[:700])
    (drop / "b_page.xls").write_text(
        "<html><body><table><tr><td>ticket_id</td></tr></table></body></html>", encoding="utf-8"
    )
    (drop / "c_empty.xls").write_bytes(b"")
    (drop / "d_text.xls").write_bytes(
        "ticket_id\tclosed_at\tbody\nD1\t2026-11-16 10:00\t文本导出\n".encode("gbk")
    )
    (drop / "e_wps.et").write_bytes(good.read_bytes())
    (drop / "f_good.xls").write_bytes(good.read_bytes())
    (drop / "~$f_good.xls").write_bytes(b"lock")
    (drop / ".DS_Store").write_bytes(b"\x00\x00")
    code, out, err = _cli(db, "ingest-file", str(drop), "--source", "files")
    assert code == 0, (out, err)
    assert SUMMARY.search(out).groups() == ("2", "2", "0")  # type: ignore[union-attr]
    assert "4 file(s) unreadable" in out
    warnings = err.strip().splitlines()
    assert len(warnings) == 4, err
    said = dict(zip(("a_truncated.xls", "b_page.xls", "c_empty.xls", "e_wps.et"), warnings, strict=True))
    for name, w in said.items():
        assert w.startswith("warning: files: file not ingested, quarantined: ") and name in w, w
    assert "cannot be read as .xls" in said["a_truncated.xls"]
    assert "an HTML page saved as .xls" in said["b_page.xls"]
    assert "empty" in said["c_empty.xls"]
    assert "unsupported file type (suffix '.et'" in said["e_wps.et"]
    assert {k: v["body"] for k, v in _tickets(db).items()} == {"X1": "表格里的", "D1": "文本导出"}
    code, out, _ = _cli(db, "quarantine", "--json")
    assert sorted(q["location"] for q in json.loads(out)) == sorted(said)
    # a single file of an unsupported type given by name is an error (exit 2), not "read 0"
    code, out, err = _cli(db, "ingest-file", str(drop / "e_wps.et"), "--source", "files")
    assert code == 2 and "unsupported file type" in out + err


def test_an_empty_workbook_is_quarantined_not_read_as_nothing(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from voc.sources.files import UnreadableFile

    f = tmp_path / "empty.xlsx"
    Workbook().save(f)
    with pytest.raises(UnreadableFile, match="no sheet has a cell"):
        list(read_rows(f))
    g = tmp_path / "second.xlsx"  # the first sheet is empty (a cover sheet): the first with cells is read
    wb = Workbook()
    ws = wb.create_sheet("data")
    ws.append(["ticket_id", "body"])
    ws.append(["S1", "第二个工作表"])
    wb.save(g)
    assert [r.data for r in read_rows(g)] == [{"ticket_id": "S1", "body": "第二个工作表"}]


TW = [
    "烤箱門關不緊，客服說要寄回檢測",
    "熱水壺底座漏水，桌面全濕了",
    "氣炸鍋第一次用就有燒焦味，很失望",
    "掃地機器人常常卡在沙發下面",
    "物流太慢了，一個星期還沒到貨",
]
HK = ["焗爐門閂唔緊，客服話要寄返去檢查", "水煲底座漏水，枱面全濕晒", "氣炸鍋第一次用就有燶味"]
CN = [
    "烤箱门关不紧，客服说要寄回检测",
    "热水壶底座漏水，桌面全湿了",
    "空气炸锅第一次用就有焦糊味",
    "扫地机器人经常卡在沙发下面",
    "物流太慢了，一个星期还没到货",
]


def _csv(bodies: list[str]) -> str:
    return "ticket_id,closed_at,body\n" + "".join(
        f"R{i},2026-11-16 10:00,{b}\n" for i, b in enumerate(bodies)
    )


@pytest.mark.parametrize(
    ("name", "bodies", "encode"),
    [
        ("big5_tw.csv", TW, lambda t: t.encode("cp950")),
        ("big5_one_row.csv", TW[:1], lambda t: t.encode("big5")),
        ("big5hkscs_hk.csv", HK, lambda t: t.encode("big5hkscs")),
        # 丶 is C6BF in HKSCS, where cp950 has the kana せ: not read as cp950
        (
            "big5hkscs_c6bf.csv",
            ["垃圾物品丶根本就沒有的送丶虛偽商家丶欺騙大眾"],
            lambda t: t.encode("big5hkscs"),
        ),
        # GB18030 decodes Shift-JIS bytes too, into rare characters: not taken where it reads as garbage
        (
            "shift_jis.csv",
            ["ドアが閉まらない。返品したいです。電源が入りません"] * 5,
            lambda t: t.encode("shift_jis"),
        ),
        ("gbk.csv", CN, lambda t: t.encode("gbk")),
        ("gbk_one_row.csv", CN[:1], lambda t: t.encode("gbk")),
        ("gb18030.csv", [*CN, "𠀀𪚥 罕见字"], lambda t: t.encode("gb18030")),
        ("utf8_bom.csv", [*CN, *TW], lambda t: t.encode("utf-8-sig")),
        ("utf16.csv", [*CN, *TW], lambda t: t.encode("utf-16")),
        (
            "utf8_and_big5_rows.csv",
            [*CN, *TW],
            lambda t: b"".join(
                line.encode("cp950" if any(w in line for w in TW) else "utf-8")
                for line in t.splitlines(keepends=True)
            ),
        ),
    ],
)
def test_chinese_encodings_are_stored_as_written(
    db: str, tmp_path: Path, name: str, bodies: list[str], encode: Any
) -> None:
    """Big5 (Taiwan, Hong Kong) is no longer read as GB18030 (every Big5 byte pair is valid GB18030):
    each export is stored exactly as written, nothing quarantined."""
    f = tmp_path / name
    f.write_bytes(encode(_csv(bodies)))
    code, out, err = _cli(db, "ingest-file", str(f), "--source", "files")
    assert code == 0 and err == "", (out, err)
    n = len(bodies)
    assert SUMMARY.search(out).groups() == (str(n), str(n), "0"), out  # type: ignore[union-attr]
    assert {k: v["body"] for k, v in _tickets(db).items()} == {f"R{i}": b for i, b in enumerate(bodies)}


def test_the_jd_export_is_still_read_as_gb18030() -> None:
    from tests.conftest import shared_data
    from voc.sources.files import detect_encoding, legacy_cjk

    data = shared_data("zh_jd_aircon_comments_ORIGINAL_gb18030.csv").read_bytes()
    assert detect_encoding(data[: 1 << 16]) == "gb18030"
    lines = data.splitlines()[1:]
    assert all(legacy_cjk(line) == "gb18030" for line in lines[:300] if not line.isascii())


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("1631081162000", datetime(2021, 9, 8, 6, 6, 2)),  # epoch milliseconds (七鱼 and most JS/Java APIs)
        (1631081162000, datetime(2021, 9, 8, 6, 6, 2)),
        (1631081162000.0, datetime(2021, 9, 8, 6, 6, 2)),  # as a spreadsheet or pandas gives it
        ("1631081162", datetime(2021, 9, 8, 6, 6, 2)),  # epoch seconds
        (1631081162.25, datetime(2021, 9, 8, 6, 6, 2, 250000)),
        ("1631081162123456", datetime(2021, 9, 8, 6, 6, 2, 123456)),  # microseconds
        ("20210908", datetime(2021, 9, 7, 16, 0)),  # compact dates, in the mapping's timezone
        ("20210908143000", datetime(2021, 9, 8, 6, 30)),
        ("2021-09-08T14:06:02+08:00", datetime(2021, 9, 8, 6, 6, 2)),
    ],
)
def test_numbers_are_read_as_dates_by_their_size(value: Any, want: datetime) -> None:
    from voc.ticket import parse_datetime

    assert parse_datetime(value, "closed_at", "Asia/Shanghai") == want


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("16310811", "the year 1631"),  # read as an ISO basic date before: silently 1631-08-11
        ("3000000000", "the year 2065"),
        ("1631081162000000000", "19 digits"),
        ("45000", "5 digits"),
    ],
)
def test_numbers_that_are_no_plausible_date_are_refused(value: str, why: str) -> None:
    from voc.errors import RowError
    from voc.ticket import parse_datetime

    with pytest.raises(RowError, match=why):
        parse_datetime(value, "closed_at", "Asia/Shanghai")


def test_mapping_date_formats_and_epochs_through_ingest(db: str, tmp_path: Path) -> None:
    """A mapping's date_formats (Chinese, day-first) and millisecond epochs: stored as the right UTC
    time; a row whose number is no plausible date is quarantined with the reason, never misdated."""
    from voc.config.settings import load_config
    from voc.sources.ingest import ingest_path
    from voc.store.db import migrate

    cfg_file = tmp_path / "voc.yaml"
    cfg_file.write_text(
        """
mappings:
  service_export:
    rename: {会话ID: ticket_id, 开始时间: created_at, 结束时间: closed_at, 留言内容: body}
    date_formats: ['%Y年%m月%d日 %H:%M', '%d/%m/%Y %H:%M']
    timezone: Asia/Shanghai
""",
        encoding="utf-8",
    )
    mapping = load_config(cfg_file).mapping("service_export")
    f = tmp_path / "sessions.csv"
    f.write_text(
        "会话ID,开始时间,结束时间,留言内容\n"
        "S1,2021年09月08日 14:00,2021年09月08日 14:06,门关不紧\n"
        "S2,08/09/2021 14:00,1631081162000,漏水\n"  # day-first: 8 September, not 9 August
        "S3,1631080000,1631081162,焦糊味\n"
        "S4,,16310811,年份不对\n",
        encoding="utf-8",
    )
    eng = make_engine(db)
    try:
        migrate(eng)
        s = ingest_path(eng, f, "svc", mapping)
        with eng.connect() as c:
            rows = {
                r.source_id: (r.created_at, r.closed_at)
                for r in c.execute(select(TicketRow.source_id, TicketRow.created_at, TicketRow.closed_at))
            }
    finally:
        eng.dispose()
    assert (s.read, s.counts.inserted, s.quarantined) == (4, 3, 1)
    assert rows == {
        "S1": (datetime(2021, 9, 8, 6, 0), datetime(2021, 9, 8, 6, 6)),
        "S2": (datetime(2021, 9, 8, 6, 0), datetime(2021, 9, 8, 6, 6, 2)),
        "S3": (datetime(2021, 9, 8, 5, 46, 40), datetime(2021, 9, 8, 6, 6, 2)),
    }
    assert list(s.reasons) == ["closed_at"]


def test_a_date_format_that_cannot_read_back_is_a_config_error(tmp_path: Path) -> None:
    from voc.config.settings import load_config
    from voc.errors import ConfigError

    f = tmp_path / "voc.yaml"
    f.write_text("mappings:\n  m:\n    date_formats: ['%Y-%m']\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"mappings\.m\.date_formats: date format '%Y-%m' is not a strptime"
    ):
        load_config(f)


def test_an_xls_export_that_goes_on_in_further_sheets_is_read_whole(tmp_path: Path) -> None:
    """An .xls sheet holds at most 65,536 rows: longer exports continue in Sheet2... with the same
    header. Those are read (located by sheet); a sheet with another header (notes) is not."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    header = ["ticket_id", "closed_at", "body"]
    for name, ids in (("Sheet1", ["A1", "A2"]), ("说明", None), ("Sheet2", ["B1"]), ("空", [])):
        ws = wb.add_sheet(name)
        if ids is None:
            ws.write(0, 0, "导出说明")
            ws.write(1, 0, "本文件由系统导出")
            continue
        if not ids:
            continue
        for j, h in enumerate(header):
            ws.write(0, j, h)
        for i, tid in enumerate(ids, 1):
            for j, v in enumerate([tid, "2026-11-16 10:00", f"正文{tid}"]):
                ws.write(i, j, v)
    f = tmp_path / "long.xls"
    wb.save(str(f))
    got = list(read_rows(f))
    assert [(r.location, r.data["ticket_id"]) for r in got] == [
        ("long.xls:2", "A1"),
        ("long.xls:3", "A2"),
        ("long.xls:Sheet2!2", "B1"),
    ]


def test_big5_rows_after_the_sample_of_a_utf8_file(db: str, tmp_path: Path) -> None:
    """The encoding is detected on the first 64 KB; later lines that are not UTF-8 are judged one by one
    (GB18030 or Big5), not all taken as GB18030."""
    utf8 = [f"U{i},2026-11-16 10:00,{CN[i % len(CN)]}，第{i}次\n" for i in range(3000)]
    tail = [(f"B{i},2026-11-16 10:00,{t}\n", "cp950") for i, t in enumerate(TW)]
    tail += [(f"G{i},2026-11-16 10:00,{t}\n", "gbk") for i, t in enumerate(CN)]
    f = tmp_path / "appended.csv"
    f.write_bytes(
        b"ticket_id,closed_at,body\n"
        + "".join(utf8).encode()
        + b"".join(line.encode(enc) for line, enc in tail)
    )
    assert len("".join(utf8).encode()) > 1 << 16
    code, out, err = _cli(db, "ingest-file", str(f), "--source", "files")
    assert code == 0 and err == "", (out, err)
    n = len(utf8) + len(tail)
    assert SUMMARY.search(out).groups() == (str(n), str(n), "0"), out  # type: ignore[union-attr]
    bodies = {k: v["body"] for k, v in _tickets(db).items()}
    assert {k: v for k, v in bodies.items() if k[0] in "BG"} == {
        **{f"B{i}": t for i, t in enumerate(TW)},
        **{f"G{i}": t for i, t in enumerate(CN)},
    }


def test_a_workbook_saved_under_the_other_excel_suffix_is_read(tmp_path: Path) -> None:
    """An .xlsx renamed .xls, and an .xls renamed .xlsx (both common in exports): read by content."""
    rows = [["ticket_id", "closed_at", "body"], ["R1", datetime(2026, 11, 16, 10, 0), "改了后缀"]]
    write_xlsx(tmp_path / "a.xlsx", rows)
    write_xls(tmp_path / "b.xls", rows)
    (tmp_path / "a.xlsx").rename(tmp_path / "really_xlsx.xls")
    (tmp_path / "b.xls").rename(tmp_path / "really_xls.xlsx")
    for name in ("really_xlsx.xls", "really_xls.xlsx"):
        (row,) = read_rows(tmp_path / name)
        assert row.data == {"ticket_id": "R1", "closed_at": datetime(2026, 11, 16, 10, 0), "body": "改了后缀"}
