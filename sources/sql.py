"""SQL: any database SQLAlchemy can reach, read incrementally by a watermark column.

The configured query is wrapped::

    SELECT * FROM (<query>) AS voc_q WHERE voc_q.<col> >= :watermark ORDER BY voc_q.<col>

(or, if the query itself mentions ``:watermark``, run as written with that parameter bound; it must
then filter with ``>=`` and order by the column itself). Rows stream in batches (server-side cursor
where the driver has one); each batch's watermark is the highest column value in it.

Ties at the boundary lose nothing: the filter is ``>=``, and the watermark also remembers a short
hash of every row already taken *at* the boundary value, so those rows are not read twice while rows
that share the timestamp but arrived later (or changed) are. Watermark (JSON)::

    {"value": "2026-01-05T10:00:00", "type": "datetime", "seen": ["3f9a...", ...]}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from voc.errors import SourceError
from voc.sources.files import BROKEN, RawRow
from voc.sources.incremental import Batch
from voc.store.ingest_log import raw_json

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _encode(v: Any) -> tuple[Any, str]:
    if isinstance(v, datetime):
        return v.isoformat(), "datetime"
    if isinstance(v, date):
        return v.isoformat(), "date"
    if isinstance(v, bool):
        return int(v), "int"
    if isinstance(v, int):
        return v, "int"
    if isinstance(v, float | Decimal):
        return str(v), "decimal"
    return str(v), "str"


def _decode(value: Any, kind: str) -> Any:
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    return value


def _row_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(raw_json(data).encode("utf-8")).hexdigest()[:16]


def _same(a: Any, b: Any) -> bool:
    """Boundary equality across the round trip through the watermark (naive/aware, Decimal/float)."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return False
        return a == b
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


class SqlSource:
    """An :class:`sources.incremental.IncrementalSource` over one SQL query."""

    def __init__(
        self,
        name: str,
        url: str,
        query: str,
        watermark_column: str,
        *,
        batch_size: int = 1000,
        since: str | None = None,
        url_env: str = "the URL variable",
    ) -> None:
        if not _IDENT.match(watermark_column):
            raise SourceError(
                f"source {name!r}: watermark_column must be a plain column name, got {watermark_column!r}"
            )
        self.name = name
        self.query = query.strip().rstrip(";")
        self.column = watermark_column
        self.batch_size = max(1, batch_size)
        self.since = since
        self.url_env = url_env
        try:
            u = make_url(url)
        except ArgumentError:
            raise SourceError(f"source {name!r}: ${url_env} is not a database URL") from None
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        self.url = u

    def _sql(self, custom: bool, first: bool) -> str:
        if custom:
            return self.query
        col = f"voc_q.{self.column}"
        where = "" if first else f" WHERE {col} >= :watermark"
        return f"SELECT * FROM ({self.query}) AS voc_q{where} ORDER BY {col}"

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        custom = ":watermark" in self.query
        boundary: Any = None
        kind = "str"
        seen: set[str] = set()
        if watermark:
            try:
                state = json.loads(watermark)
                kind = state["type"]
                boundary = _decode(state["value"], kind)
                seen = set(state.get("seen", []))
            except (ValueError, KeyError, TypeError):
                raise SourceError(
                    f"source {self.name!r}: stored watermark is not a SQL cursor: {watermark[:80]!r}"
                ) from None
        elif self.since:
            boundary = datetime.fromisoformat(self.since)
        first = boundary is None
        params = {"watermark": boundary} if custom or not first else {}
        engine: Engine | None = None
        try:
            engine = create_engine(self.url)
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=self.batch_size).execute(
                    text(self._sql(custom, first)), params
                )
                if self.column not in result.keys():
                    raise SourceError(
                        f"source {self.name!r}: the query has no column {self.column!r} "
                        f"(watermark_column); columns: {list(result.keys())}"
                    )
                n = 0
                for chunk in result.partitions(self.batch_size):
                    rows: list[RawRow] = []
                    for r in chunk:
                        n += 1
                        data = dict(r._mapping)
                        v = data[self.column]
                        if v is None:
                            rows.append(
                                RawRow(
                                    f"sql:{self.name}:{n}",
                                    {**data, BROKEN: f"{self.column}: watermark column is empty"},
                                )
                            )
                            continue
                        h = _row_hash(data)
                        if boundary is not None and _same(v, boundary):
                            if h in seen:
                                continue  # taken by the previous batch/run
                            seen.add(h)
                        else:
                            boundary, kind = v, _encode(v)[1]
                            seen = {h}
                        rows.append(RawRow(f"sql:{self.name}:{self.column}={v}", data))
                    cursor = None
                    if boundary is not None:
                        value, kind = _encode(boundary)
                        cursor = json.dumps(
                            {"value": value, "type": kind, "seen": sorted(seen)}, separators=(",", ":")
                        )
                    yield Batch(rows, cursor)
        except SQLAlchemyError as e:
            orig = getattr(e, "orig", None)
            msg = (str(orig if orig is not None else e).strip().splitlines() or [type(e).__name__])[0]
            raise SourceError(
                f"source {self.name!r}: query failed on the database in ${self.url_env}: {msg[:300]}"
            ) from None
        finally:
            if engine is not None:
                engine.dispose()
