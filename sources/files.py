"""Reading ticket exports (CSV, TSV, JSONL, Excel, Parquet) as a stream of raw rows.

Each row comes with a location ("file.csv:123") so a bad row can be quarantined with exactly
where it came from. Undecodable bytes do not abort the file: they are kept (surrogate-escaped)
and the row is flagged so the validator quarantines it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import stat
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from voc.errors import SourceError, VocError

# spreadsheets are read with python-calamine (Excel 97-2003 .xls, .xlsx/.xlsm, .xlsb, OpenDocument .ods)
SPREADSHEETS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", *SPREADSHEETS}
UNDECODABLE = "__undecodable__"
BROKEN = "__broken__"
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class RawRow:
    location: str
    data: dict[str, Any]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_encoding(sample: bytes) -> str:
    """BOMs first, then strict UTF-8, then the Chinese legacy encodings (GB18030 or Big5, decided by
    ``legacy_cjk``), then a file mixing UTF-8 and legacy lines, then a statistical guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if sample and sample.count(b"\x00") > len(sample) // 4:
        return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
    if _decodes_ragged(sample, "utf-8"):
        return "utf-8"
    legacy = legacy_cjk(sample)
    if legacy:
        return legacy
    whole = sample.split(b"\n")[:-1] or [sample]  # the last piece may be cut short
    rest = [line for line in whole if not _decodes(line, "utf-8")]
    if not rest:
        return "gb18030"  # only the cut-short last piece is not UTF-8: lines are read one by one anyway
    legacy = legacy_cjk(b"\n".join(rest))
    if legacy and all(_decodes(line, legacy) for line in rest):
        return legacy  # rows in UTF-8 and rows in GBK or Big5: read line by line (see _decoder)
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return best.encoding if best else "utf-8"


def _decodes_ragged(sample: bytes, enc: str) -> bool:
    """Decodes strictly, except that the sample may end inside a multibyte character."""
    try:
        codecs.getincrementaldecoder(enc)().decode(sample, final=False)
        return True
    except UnicodeDecodeError:
        return False


@lru_cache(maxsize=1)
def _common_chars() -> tuple[frozenset[str], frozenset[str]]:
    """The characters text is mostly made of, by how each standard orders them: GB2312's punctuation
    rows and its 3,755 level-1 hanzi (B0A1-D7F9, chosen by frequency), Big5's punctuation and its
    5,401 frequent hanzi (A440-C67E, the 常用字)."""

    def pairs(
        enc: str, leads: Iterable[int], trails: Iterable[int], last: bytes = b"\xff\xff"
    ) -> frozenset[str]:
        out = set()
        for a in leads:
            for b in trails:
                if bytes((a, b)) <= last:
                    try:
                        out.add(bytes((a, b)).decode(enc))
                    except UnicodeDecodeError:
                        pass
        return frozenset(out)

    gb = pairs("gb2312", [0xA1, 0xA2, 0xA3, *range(0xB0, 0xD8)], range(0xA1, 0xFF))
    big5 = pairs("big5", range(0xA1, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)], b"\xc6\x7e")
    return gb, big5


def _common_share(text: str, common: frozenset[str]) -> float:
    n = hit = 0
    for c, k in Counter(text).items():
        if c >= "\x80":
            n += k
            hit += k * (c in common)
    return hit / n if n else 0.0


_KANA = re.compile("[\u3040-\u30ff]")
_FITS = 0.5  # the least share of common characters for a legacy reading to be taken


def legacy_cjk(sample: bytes) -> str | None:
    """GB18030 or Big5 (cp950, else Big5-HKSCS) for bytes that decode strictly in one of them, or None.

    Strict decoding cannot tell them apart (every Big5 byte pair is also valid GB18030, and a short GBK
    text is often valid Big5), so each reading is judged by how much of it is common characters of
    its own standard: real GBK/GB18030 text reads as >= 99% GB2312 punctuation and level-1 hanzi, and
    55-60% common Big5 when read as Big5; real Big5 text 98-100% common Big5 and 10-25% common GB
    (measured on the zh data and the JD GB18030 export: bench/encodings.py). Big5 wins only when it
    decodes strictly and reads as more common text than GB18030 does. GB18030 alone is not taken when
    its reading is less than half common characters (not Chinese: Shift-JIS reads as 0% common)."""
    gb_ok = _decodes_ragged(sample, "gb18030")
    big5 = next((enc for enc in ("cp950", "big5hkscs") if _decodes_ragged(sample, enc)), None)
    if big5 == "cp950" and _decodes_ragged(sample, "big5hkscs"):
        # 255 codes read differently: cp950 has Japanese kana (ETEN) where HKSCS has hanzi (C6BF: せ / 丶)
        tw, hk = sample.decode("cp950", "replace"), sample.decode("big5hkscs", "replace")
        if tw != hk and _KANA.search(tw) and not _KANA.search(hk):
            big5 = "big5hkscs"
    if not gb_ok:
        return big5
    common_gb, common_big5 = _common_chars()
    as_gb = _common_share(sample.decode("gb18030", "replace"), common_gb)
    if big5 is None:
        # GB18030 decodes almost any bytes: only where it reads as mostly common text (Shift-JIS reads as
        # 0% common, GBK in traditional characters 73%); else the statistical guess decides
        return "gb18030" if as_gb >= _FITS else None
    as_big5 = _common_share(sample.decode(big5, "replace"), common_big5)
    return big5 if as_big5 > as_gb else "gb18030"


def _decodes(b: bytes, enc: str) -> bool:
    try:
        b.decode(enc)
        return True
    except UnicodeDecodeError:
        return False


_SURROGATE = re.compile("[\udc80-\udcff]")


def _has_surrogates(values: Any) -> bool:
    """Undecodable bytes survive as lone surrogates (errors='surrogateescape')."""
    return _SURROGATE.search("\x1f".join(v for v in values if isinstance(v, str))) is not None


def _clean(v: str) -> str:
    return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if isinstance(v, str) else v


class UnreadableFile(SourceError):
    """A whole file cannot be read (truncated, not the format its name says, not a regular file):
    the file is quarantined and the rest of the folder is read."""


def _pick_encoding(path: Path, encoding: str | None) -> tuple[str, str | None, bytes]:
    """(encoding, per-line fallback, sample). With detection, a line that is not UTF-8 is read in
    the file's legacy encoding (GB18030 or Big5; judged line by line when the sample was UTF-8): a file that mixes
    UTF-8 and GBK (or Big5) rows is stored correctly either way. A given ``encoding`` is used for every line, no fallback."""
    with path.open("rb") as f:
        sample = f.read(1 << 16)
    enc = encoding or detect_encoding(sample)
    try:
        name = codecs.lookup(enc).name
    except LookupError as e:
        raise SourceError(f"{path}: unknown encoding {enc!r}") from e
    if encoding is not None:
        return enc, None, sample
    return enc, ("gb18030" if name in ("utf-8", "utf-8-sig") else enc), sample


def _ascii_compatible(enc: str) -> bool:
    """Lines can be split on the byte 0x0a and ASCII read as ASCII (not UTF-16/32, not EBCDIC)."""
    probe = 'ticket_id,\t\r\n"'
    try:
        return probe.encode(enc) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _byte_lines(f: io.BufferedReader) -> Iterator[bytes]:
    """Physical lines ending in \n, \r\n or a lone \r (as ``newline=''`` text streams split them)."""
    for chunk in f:
        if b"\r" in chunk and not (chunk.endswith(b"\r\n") and chunk.count(b"\r") == 1):
            yield from (p for p in re.split(rb"(?<=\r)(?!\n)", chunk) if p)
        else:
            yield chunk


_TWO_BYTE = re.compile("[\u0080-\u07ff]")
OK, UNDECODED, AMBIGUOUS = 0, 1, 2  # how a line was decoded
_CJK = {
    "gb18030",
    "gbk",
    "gb2312",
    "big5",
    "big5hkscs",
    "cp950",
    "cp932",
    "shift_jis",
    "euc_jp",
    "euc_kr",
    "cp949",
}


def _decoder(enc: str, fallback: str | None) -> Callable[[bytes], tuple[str, int]]:
    """Decode one line: (text, OK/UNDECODED/AMBIGUOUS). With a fallback: UTF-8 first, then the
    fallback (in a file read as UTF-8: GB18030 or Big5, as ``legacy_cjk`` judges the line). In a file detected as a multibyte CJK encoding, a line both read differently where
    UTF-8 sees Latin/Greek/Cyrillic letters is ambiguous (a short GBK word such as 漏水 is also
    valid UTF-8): it is flagged rather than guessed."""
    primary = "utf-8" if fallback is not None else enc
    legacy = (
        fallback is not None
        and codecs.lookup(fallback).name == codecs.lookup(enc).name
        and codecs.lookup(enc).name in _CJK
    )
    # a file whose sample was UTF-8: a line that is not is judged on its own (GBK or Big5, legacy_cjk)
    per_line = fallback is not None and codecs.lookup(enc).name in ("utf-8", "utf-8-sig")
    if fallback is not None and codecs.lookup(fallback).name == "utf-8":
        fallback = None

    def decode(b: bytes) -> tuple[str, int]:
        if b.isascii():
            return b.decode("ascii"), OK
        try:
            text = b.decode(primary)
        except UnicodeDecodeError:
            if fallback is not None:
                try:
                    return b.decode((legacy_cjk(b) or fallback) if per_line else fallback), OK
                except UnicodeDecodeError:
                    pass
            return b.decode(primary, "surrogateescape"), UNDECODED
        if legacy and fallback is not None and _TWO_BYTE.search(text):
            try:
                other = b.decode(fallback)
            except UnicodeDecodeError:
                return text, OK
            if other != text:
                return b.decode("ascii", "surrogateescape"), AMBIGUOUS
        return text, OK

    return decode


_AMBIGUOUS = (
    "ambiguous encoding: the line reads differently as UTF-8 and as the file's legacy encoding "
    "(set `encoding:` on the source)"
)


class _Lines:
    """Physical lines of a text file, decoded one by one, for csv.reader; remembers the lines each
    record took and can push lines back (to re-read the rows an unclosed quote swallowed)."""

    def __init__(self, path: Path, encoding: str | None) -> None:
        enc, fallback, _ = _pick_encoding(path, encoding)
        self._f: Any
        if not _ascii_compatible(enc):
            self._f = open(path, encoding=enc, errors="surrogateescape", newline="")  # noqa: SIM115
            self._raw: Iterator[tuple[str, int]] = (
                (t, UNDECODED if _has_surrogates([t]) else OK) for t in self._f
            )
        else:
            self._f = path.open("rb")
            decode = _decoder(enc, fallback)
            first = [True]
            bom = codecs.BOM_UTF8

            def raw() -> Iterator[tuple[str, int]]:
                for b in _byte_lines(self._f):
                    if first[0]:
                        first[0] = False
                        b = b[len(bom) :] if b.startswith(bom) else b
                    yield decode(b)

            self._raw = raw()
        self._n = 0
        self._back: deque[tuple[int, str, int]] = deque()
        self.taken: list[tuple[int, str, int]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            item = self._back.popleft()
        else:
            text, bad = next(self._raw)
            self._n += 1
            item = (self._n, text, bad)
        self.taken.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str, int]]:
        t, self.taken = self.taken, []
        return t

    def push_back(self, items: list[tuple[int, str, int]]) -> None:
        self._back.extendleft(reversed(items))

    def close(self) -> None:
        self._f.close()


def _fields_alone(line: str, delimiter: str) -> int:
    """How many fields one physical line has, read on its own (0 if it is not a row by itself)."""
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 0


def _delimited(path: Path, encoding: str | None, delimiter: str | None) -> Iterator[RawRow]:
    """Rows of a CSV/TSV file. Every physical line ends up in exactly one row: a record that a
    stray quote ran on over following lines (csv.Error in strict mode, or the wrong column count)
    while those lines look like rows is quarantined as its first line alone, and the lines after it
    are read again as rows. Trailing unnamed columns (an Excel quirk) are ignored when empty."""
    lines = _Lines(path, encoding)
    try:
        if delimiter is None:
            with path.open("rb") as f:
                head = f.read(1 << 14)
            delimiter = "\t" if head.count(b"\t") > head.count(b",") else ","

        def reader() -> Iterator[list[str]]:
            return csv.reader(lines, delimiter=delimiter, strict=True)

        rd = reader()
        try:
            header = next(rd)
        except StopIteration:
            return
        except csv.Error:
            raise UnreadableFile(f"{path.name}: the header line is not valid CSV") from None
        lines.take()
        header = [h.strip().lstrip("\ufeff") for h in header]
        width = len(header)
        while width and not header[width - 1]:
            width -= 1  # trailing unnamed columns
        header = header[:width]
        while True:
            err = None
            try:
                values = next(rd)
            except StopIteration:
                return
            except csv.Error as e:
                values, err = [], str(e)
            taken = lines.take()
            if not taken:
                return
            loc = f"{path.name}:{taken[0][0]}"
            while len(values) > width and not values[-1].strip():
                values.pop()  # empty cells of the unnamed trailing columns
            if err is not None or (len(taken) > 1 and len(values) != width):
                rd = reader()  # a fresh parser: after an error the old one's state is not defined
                rest = taken[1:]
                if rest and any(_fields_alone(t, delimiter) >= width for _, t, _ in rest):
                    lines.push_back(rest)
                    yield RawRow(
                        loc,
                        {
                            BROKEN: f"unclosed quote: the record ran on over {len(rest)} more "
                            f"line(s), which are read again as rows",
                            "__line__": _clean(taken[0][1]),
                        },
                    )
                    continue
                what = f"unparseable CSV ({err})" if err else f"expected {width} columns, found {len(values)}"
                yield RawRow(
                    loc,
                    {
                        BROKEN: f"{what} in a record of {len(taken)} line(s)",
                        "__line__": _clean("".join(t for _, t, _ in taken)),
                    },
                )
                continue
            if not any(v.strip() for v in values):
                continue  # blank line, not a row
            row: dict[str, Any] = {}
            if len(values) != width:
                row[BROKEN] = f"expected {width} columns, found {len(values)}"
            if any(how for _, _, how in taken):
                row[UNDECODABLE] = True
                values = [_clean(v) for v in values]
                if any(how == AMBIGUOUS for _, _, how in taken):
                    row[BROKEN] = _AMBIGUOUS
            row.update(zip(header, values, strict=False))
            if len(values) > width:
                row["__extra__"] = values[width:]
            yield RawRow(loc, row)
    finally:
        lines.close()


def _jsonl(path: Path, encoding: str | None) -> Iterator[RawRow]:
    lines = _Lines(path, encoding)
    try:
        for line in lines:
            n, _, how = lines.take()[0]
            if not line.strip():
                continue
            loc = f"{path.name}:{n}"
            if how:
                yield RawRow(
                    loc,
                    {
                        UNDECODABLE: True,
                        BROKEN: _AMBIGUOUS if how == AMBIGUOUS else "undecodable bytes",
                        "__line__": _clean(line),
                    },
                )
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                why = (
                    f"{e.msg} at column {e.colno}"
                    if isinstance(e, json.JSONDecodeError)
                    else "nested too deeply"
                )
                yield RawRow(loc, {BROKEN: f"invalid JSON: {why}", "__line__": line[:2000]})
                continue
            yield _json_row(loc, obj, line)
    finally:
        lines.close()


def _json_row(loc: str, obj: Any, text: str | None = None) -> RawRow:
    if isinstance(obj, dict):
        return RawRow(loc, obj)
    what = "JSON line" if text is not None else "JSON array item"
    raw = text[:2000] if text is not None else json.dumps(obj, ensure_ascii=False)[:2000]
    return RawRow(loc, {BROKEN: f"{what} is a {type(obj).__name__}, not an object", "__line__": raw})


def _json(path: Path, encoding: str | None) -> Iterator[RawRow]:
    """A .json file: a JSON array of objects (one row per item), else JSON lines."""
    with path.open("rb") as f:
        start = f.read(1 << 10).lstrip(codecs.BOM_UTF8).lstrip()
    if not start.startswith(b"["):
        yield from _jsonl(path, encoding)
        return
    try:
        items = json.loads(path.read_bytes().decode(encoding or "utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UnreadableFile(f"{path.name}: not a valid JSON array ({_why(e)})") from None
    for i, obj in enumerate(items, 1):
        yield _json_row(f"{path.name}:item {i}", obj)


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls) compound file
_ZIP = b"PK\x03\x04"  # .xlsx, .xlsm, .xlsb, .ods
_HTML = re.compile(rb"^\s*<(?:!doctype|html|table|\?xml|meta|head|body)", re.IGNORECASE)
_EXACT = float(2**53)  # whole numbers below this are exact in a float: read as int, like openpyxl


def _spreadsheet(path: Path, encoding: str | None) -> Iterator[RawRow]:
    """The first sheet that has cells (python-calamine). A ".xls" that is really text (many shops'
    and helpdesks' "Excel" exports are tab-separated text, or Excel's "Unicode text" in UTF-16) is
    read as delimited text; an HTML page saved as .xls is an UnreadableFile that says so."""
    with path.open("rb") as f:
        head = f.read(1 << 12)
    if not head:
        raise UnreadableFile(f"{path.name}: the file is empty (0 bytes), not a spreadsheet")
    if not head.startswith((_OLE2, _ZIP)):
        if _HTML.match(head.lstrip(codecs.BOM_UTF8)):
            raise UnreadableFile(
                f"{path.name}: an HTML page saved as {path.suffix}, not a spreadsheet: open it "
                "in Excel or WPS and save it as .xlsx, or export CSV"
            )
        if (
            head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8))
            or b"\x00" not in head
        ):
            yield from _delimited(path, encoding, None)
            return
    # by content: an .xlsx saved under .xls (or the other way round) is common, and calamine goes by
    # the suffix when it opens a path
    matches = head.startswith(_OLE2) == (path.suffix.lower() == ".xls")
    yield from _calamine(path, by_content=not matches)


def _cell(v: Any) -> Any:
    """A calamine cell as openpyxl gives it: None for an empty cell, int for a whole number, datetime
    for a date (a date-only cell too); text stays text exactly ("00123" is not a number)."""
    cls = v.__class__
    if cls is str:
        return v or None
    if cls is float:
        return int(v) if v.is_integer() and -_EXACT < v < _EXACT else v
    if cls is date:
        return datetime(v.year, v.month, v.day)
    return v


def _sheet_table(sheet: Any) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """(header, (row number, values) of the rows under it) of one calamine sheet. The header is the
    first row with a cell (row 1, unless the table was placed lower down)."""
    pad = [None] * sheet.start[1] if sheet.start else []  # calamine starts rows at the first used column
    rows = enumerate(sheet.iter_rows(), 1)  # rows start at the sheet's row 1: (row number, cells)
    first: list[Any] = next((c for _, c in rows if any(v != "" for v in c)), [])
    header = [str(h).strip() if h is not None else "" for h in pad + [_cell(c) for c in first]]
    return header, ((n, pad + [_cell(c) for c in cells]) for n, cells in rows)


def _named(header: list[str]) -> list[str]:
    """A header without the blank names a wider row below leaves at its end (to compare two sheets')."""
    n = len(header)
    while n and not header[n - 1]:
        n -= 1
    return header[:n]


def _calamine(path: Path, by_content: bool = False) -> Iterator[RawRow]:
    """The first sheet that has cells, then every later sheet whose header row is the same (an .xls
    holds at most 65,536 rows a sheet: longer exports go on in Sheet2, Sheet3...). Rows of a later
    sheet are located as ``file.xls:Sheet2!5``; sheets with another header (notes, a summary) are
    not read."""
    from python_calamine import CalamineWorkbook

    if by_content:
        with path.open("rb") as f:
            wb = CalamineWorkbook.from_filelike(f)
    else:
        wb = CalamineWorkbook.from_path(str(path))
    try:
        names = wb.sheet_names
        header: list[str] | None = None
        for i, name in enumerate(names):
            sheet = wb.get_sheet_by_index(i)
            if not (sheet.height and sheet.width):
                continue
            this, rows = _sheet_table(sheet)
            if header is None:
                header, where = this, f"{path.name}:"
            elif _named(this) != _named(header):
                continue
            else:
                where = f"{path.name}:{name}!"
            for n, values in rows:
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield RawRow(f"{where}{n}", dict(zip(header, values, strict=False)))
        if header is None:
            raise UnreadableFile(f"{path.name}: the workbook is empty (no sheet has a cell)")
    finally:
        wb.close()


def _parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    n = 0
    for batch in pf.iter_batches(batch_size=10_000):
        for rec in batch.to_pylist():
            n += 1
            yield RawRow(f"{path.name}:{n}", rec)


def _why(e: BaseException) -> str:
    """One short line for an exception: its type and the first line of its message."""
    msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _guarded(path: Path, rows: Iterator[RawRow]) -> Iterator[RawRow]:
    """Any failure of a format reader is a property of the file: UnreadableFile, never a traceback."""
    try:
        yield from rows
    except VocError:
        raise
    except Exception as e:  # noqa: BLE001 - truncated zip, bad parquet footer, I/O error ...
        raise UnreadableFile(
            f"{path.name}: cannot be read as {path.suffix.lower() or 'a file'} ({_why(e)})"
        ) from e


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an export file (a FIFO would block, /dev/zero never ends), or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else "not found"
    except OSError as e:
        return f"cannot be opened ({_why(e)})"
    if stat.S_ISREG(st.st_mode):
        return None
    kinds = {
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
        stat.S_ISDIR: "a directory",
    }
    kind = next((name for test, name in kinds.items() if test(st.st_mode)), "not a regular file")
    return f"{kind}, not a regular file"


def read_rows(path: Path, encoding: str | None = None) -> Iterator[RawRow]:
    """Stream the rows of one export file; the format follows the file suffix. A file that fails to
    read raises UnreadableFile (when iterated); a bad encoding name raises SourceError."""
    problem = file_problem(path)
    if problem == "not found":
        raise SourceError(f"file not found: {path}")
    if problem:
        raise UnreadableFile(f"{path}: {problem}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        rows = _delimited(path, encoding, None)
    elif suffix == ".tsv":
        rows = _delimited(path, encoding, "\t")
    elif suffix == ".json":
        rows = _json(path, encoding)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl(path, encoding)
    elif suffix in SPREADSHEETS:
        rows = _spreadsheet(path, encoding)
    elif suffix == ".parquet":
        rows = _parquet(path)
    else:
        raise SourceError(f"{path}: unsupported file type {suffix!r} (use one of {sorted(SUFFIXES)})")
    return _guarded(path, rows)


def _ignored(p: Path) -> bool:
    """Hidden files and the lock / temporary files office programs leave beside an open workbook."""
    return p.name.startswith((".", "~$")) or p.name.endswith("~")


def unsupported(path: Path) -> str | None:
    """Why a folder entry is not read as an export (its suffix), or None when its format is supported."""
    if path.suffix.lower() in SUFFIXES:
        return None
    what = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
    return f"unsupported file type ({what}; use one of {', '.join(sorted(SUFFIXES))})"


def list_files(path: Path) -> list[Path]:
    """One file, or every entry in a folder (sorted, so runs are repeatable) but hidden and office lock
    files. Entries that are not regular files (a FIFO, a link to a device) or not a supported format
    are listed too, to be reported (``file_problem``, ``unsupported``), never silently passed over; a
    given path that is not a regular file or not a supported format is an error."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if not p.is_dir() and not _ignored(p))
    problem = file_problem(path)
    if problem == "not found":
        raise SourceError(f"path not found: {path}")
    if problem:
        raise SourceError(f"{path}: {problem}")
    if unsupported(path):
        raise SourceError(
            f"{path}: unsupported file type {path.suffix.lower()!r} (use one of {sorted(SUFFIXES)})"
        )
    return [path]
