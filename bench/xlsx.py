"""Spreadsheet exports: python-calamine (the reader now) vs openpyxl (the reader before), same rows.

Generates a ticket export workbook (default 100k rows; dates, date-only cells, whole and fractional
numbers, order numbers kept as text, empty cells, Chinese text) and reads it with each reader in a
fresh process, printing seconds, rows/s and peak MB (ru_maxrss of that process), and whether the two
readers gave identical rows (a digest of every (location, column, value) in order, the value's type
included: 1001 is not 1001.0, a date cell is a datetime; empty cells are None). ``--xls`` also
writes the same table as an Excel 97-2003 .xls (65,535 data rows a sheet, the format's limit: the rest
in Sheet2...) and reads it with calamine (openpyxl cannot read .xls), checking it gives the same values.

    python bench/xlsx.py --n 100000 [--xls] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEADER = [
    "ticket_id",
    "created_at",
    "closed_at",
    "channel",
    "product",
    "model",
    "batch",
    "subject",
    "body",
    "csat",
    "order_no",
    "amount",
    "reopened",
]
BODIES = [
    "烤箱门关不紧，合上以后还会自己弹开",
    "水壶底座漏水，桌面全湿了",
    "空气炸锅有焦糊味，第一次用就这样",
    "The robot vacuum keeps getting stuck under the sofa",
    "破壁机噪音很大，客服让我寄回检测",
    "物流太慢了，一个星期还没到",
    "door won't close properly after two weeks",
]


def _rows(n: int, seed: int = 7) -> list[list[Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, 0)
    out = []
    for i in range(n):
        created = start + timedelta(seconds=rng.randrange(0, 300 * 86400))
        closed = created + timedelta(seconds=rng.randrange(60, 5 * 86400))
        out.append(
            [
                f"T{i:07d}" if i % 3 else 100000 + i,  # some ids are numbers, as many exports have them
                created if i % 5 else created.date(),  # a date-only cell now and then
                closed,
                rng.choice(["电话", "在线", "京东", "email"]),
                rng.choice(["oven", "kettle", "airfryer"]),
                rng.choice(["KX-30A", "KT-17", "AF-5L"]),
                f"B24{rng.randrange(1, 13):02d}",
                rng.choice(["门", "漏水", "", None]),
                rng.choice(BODIES) + f"（{i}）",
                rng.choice([1, 2, 3, 4, 5, None]),
                f"{rng.randrange(0, 10**10):010d}",  # an order number with leading zeros: text, not a number
                round(rng.uniform(10, 3000), 2),
                rng.choice([True, False, None]),
            ]
        )
    return out


def write_xlsx(path: Path, rows: list[list[Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("工单")
    ws.append(HEADER)
    for r in rows:
        cells = []
        for v in r:
            c = WriteOnlyCell(ws, value=v)
            if isinstance(v, datetime):
                c.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(v, date):
                c.number_format = "yyyy-mm-dd"
            cells.append(c)
        ws.append(cells)
    wb.save(path)


XLS_ROWS = 65_535  # data rows in one .xls sheet (65,536 with the header): longer exports go on in Sheet2...


def write_xls(path: Path, rows: list[list[Any]]) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    stamp = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for k in range(0, max(len(rows), 1), XLS_ROWS):
        ws = wb.add_sheet(f"Sheet{k // XLS_ROWS + 1}")
        for j, h in enumerate(HEADER):
            ws.write(0, j, h)
        for i, r in enumerate(rows[k : k + XLS_ROWS], 1):
            for j, v in enumerate(r):
                if isinstance(v, datetime):
                    ws.write(i, j, v, stamp)
                elif isinstance(v, date):
                    ws.write(i, j, v, day)
                elif v is not None:
                    ws.write(i, j, v)
    wb.save(str(path))


def _openpyxl_rows(path: Path) -> Any:
    """The reader as it was before calamine (sources/files.py until #19), for comparison."""
    from openpyxl import load_workbook

    from voc.sources.files import RawRow

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        for n, values in enumerate(rows, 2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            yield RawRow(f"{path.name}:{n}", dict(zip(header, values, strict=False)))
    finally:
        wb.close()


def _read(reader: str, path: Path) -> None:
    """In a fresh process: read every row, print seconds, rows, peak MB, digest (JSON)."""
    from voc.sources.files import read_rows

    t0 = time.perf_counter()
    it = _openpyxl_rows(path) if reader == "openpyxl" else read_rows(path)
    h = hashlib.sha256()
    content = hashlib.sha256()  # the values alone (an .xls and an .xlsx of the same rows differ in locations)
    n = 0
    for r in it:
        n += 1
        # an empty cell is None; openpyxl leaves a row's trailing empty cells out when the file has no
        # <dimension> (as openpyxl's own writer makes it), calamine pads the row: the same row either way
        values = repr(sorted((k, v) for k, v in r.data.items() if v is not None))
        h.update(repr(r.location).encode() + values.encode())
        content.update(values.encode())
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "reader": reader,
                "seconds": secs,
                "rows": n,
                "peak_mb": peak,
                "digest": h.hexdigest(),
                "content": content.hexdigest(),
            }
        )
    )


def _run(reader: str, path: Path) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, __file__, "--read", reader, str(path)], capture_output=True, text=True, check=True
    )
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--xls", action="store_true", help="also the same rows as an .xls (65,535 a sheet)")
    ap.add_argument("--keep", type=Path, help="write the workbooks here (default: a temporary folder)")
    ap.add_argument("--read", nargs=2, metavar=("READER", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read:
        _read(args.read[0], Path(args.read[1]))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="voc-xlsx-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(args.n)
    f = folder / f"tickets_{args.n}.xlsx"
    t0 = time.perf_counter()
    write_xlsx(f, rows)
    print(
        f"wrote {f.name}: {args.n:,} rows, {f.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    results = {r: _run(r, f) for r in ("openpyxl", "calamine")}
    for r, m in results.items():
        print(
            f"  .xlsx {r:9s} {m['seconds']:7.2f} s  {m['rows'] / m['seconds']:9,.0f} rows/s  "
            f"peak {m['peak_mb']:6.0f} MB  rows {m['rows']:,}"
        )
    same = results["openpyxl"]["digest"] == results["calamine"]["digest"]
    print(
        f"  identical rows: {same}; calamine {results['openpyxl']['seconds'] / results['calamine']['seconds']:.1f}x "
        f"faster; load {os.getloadavg()[0]:.2f}"
    )
    if args.xls:
        x = folder / f"tickets_{args.n}.xls"
        write_xls(x, rows)
        got = _run("calamine", x)
        sheets = -(-args.n // XLS_ROWS)
        print(
            f"  .xls  calamine  {got['seconds']:7.2f} s  {got['rows'] / got['seconds']:9,.0f} rows/s  "
            f"peak {got['peak_mb']:6.0f} MB  rows {got['rows']:,} in {sheets} sheet(s), "
            f"{x.stat().st_size / 1e6:.1f} MB; the same values as the .xlsx: "
            f"{got['content'] == results['openpyxl']['content']}"
        )
        same = same and got["content"] == results["openpyxl"]["content"]
    if not args.keep:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
