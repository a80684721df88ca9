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
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voc.errors import SourceError

SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".xlsx", ".parquet"}
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
    """BOMs first, then strict UTF-8, then GB18030 (a superset of GBK), then a statistical guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if sample and sample.count(b"\x00") > len(sample) // 4:
        return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
    for enc in ("utf-8", "gb18030"):
        try:
            # the sample may end inside a multibyte character: allow a ragged tail
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return best.encoding if best else "utf-8"


_SURROGATE = re.compile("[\udc80-\udcff]")


def _has_surrogates(values: Any) -> bool:
    """Undecodable bytes survive as lone surrogates (errors='surrogateescape')."""
    return _SURROGATE.search("\x1f".join(v for v in values if isinstance(v, str))) is not None


def _clean(v: str) -> str:
    return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if isinstance(v, str) else v


def _text_stream(path: Path, encoding: str | None) -> tuple[io.TextIOWrapper, str]:
    with path.open("rb") as f:
        sample = f.read(1 << 16)
    enc = encoding or detect_encoding(sample)
    try:
        codecs.lookup(enc)
    except LookupError as e:
        raise SourceError(f"{path}: unknown encoding {enc!r}") from e
    return open(path, encoding=enc, errors="surrogateescape", newline=""), enc  # noqa: SIM115


def _delimited(path: Path, encoding: str | None, delimiter: str | None) -> Iterator[RawRow]:
    stream, _ = _text_stream(path, encoding)
    with stream:
        head = stream.read(1 << 14)
        stream.seek(0)
        if delimiter is None:
            delimiter = "\t" if head.count("\t") > head.count(",") else ","
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield RawRow(f"{path.name}:{reader.line_num}", {BROKEN: f"unparseable CSV line: {e}"})
                continue
            loc = f"{path.name}:{reader.line_num}"
            if not any(v.strip() for v in values):
                continue  # blank line, not a row
            row: dict[str, Any] = {}
            if len(values) != len(header):
                row[BROKEN] = f"expected {len(header)} columns, found {len(values)}"
            if _SURROGATE.search("\x1f".join(values)):  # csv values are always str
                row[UNDECODABLE] = True
                values = [_clean(v) for v in values]
            row.update(zip(header, values, strict=False))
            if len(values) > len(header):
                row["__extra__"] = values[len(header):]
            yield RawRow(loc, row)


def _jsonl(path: Path, encoding: str | None) -> Iterator[RawRow]:
    stream, _ = _text_stream(path, encoding)
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            loc = f"{path.name}:{n}"
            if _has_surrogates([line]):
                yield RawRow(loc, {UNDECODABLE: True, BROKEN: "undecodable bytes", "__line__": _clean(line)})
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield RawRow(loc, {BROKEN: f"invalid JSON: {e.msg} at column {e.colno}", "__line__": line[:2000]})
                continue
            if not isinstance(obj, dict):
                yield RawRow(loc, {BROKEN: f"JSON line is a {type(obj).__name__}, not an object",
                                   "__line__": line[:2000]})
                continue
            yield RawRow(loc, obj)


def _xlsx(path: Path) -> Iterator[RawRow]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        for n, values in enumerate(rows, 2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            yield RawRow(f"{path.name}:{n}", dict(zip(header, values, strict=False)))
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


def read_rows(path: Path, encoding: str | None = None) -> Iterator[RawRow]:
    """Stream the rows of one export file; the format follows the file suffix."""
    if not path.exists():
        raise SourceError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _delimited(path, encoding, None)
    if suffix == ".tsv":
        return _delimited(path, encoding, "\t")
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _jsonl(path, encoding)
    if suffix == ".xlsx":
        return _xlsx(path)
    if suffix == ".parquet":
        return _parquet(path)
    raise SourceError(f"{path}: unsupported file type {suffix!r} (use one of {sorted(SUFFIXES)})")


def list_files(path: Path) -> list[Path]:
    """One file, or every supported file in a folder (sorted, so runs are repeatable)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not path.exists():
        raise SourceError(f"path not found: {path}")
    return [path]
