"""Bookkeeping of ingestion: runs, watermarks, processed files and quarantined rows."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update

from voc.store.binds import chunks, dialect_insert
from voc.store.models import IngestRun, ProcessedFile, QuarantinedRow, Watermark
from voc.store.run_lock import HOST, STALE_AFTER, dead_here

SOURCE_CHARS = int(IngestRun.__table__.c.source.type.length)  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def start_run(conn: Connection, source: str) -> int:
    """Record a new 'running' run; first mark runs that can no longer finish as 'interrupted'."""
    mark_interrupted(conn)
    t = cast(Table, IngestRun.__table__)
    res = conn.execute(
        t.insert().values(
            source=source,
            started_at=_now(),
            status="running",
            read=0,
            inserted=0,
            updated=0,
            unchanged=0,
            quarantined=0,
            holder=f"{HOST}:{os.getpid()}",
        )
    )
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def mark_interrupted(conn: Connection) -> int:
    """'running' runs whose process is gone (same host) or that started over 6 h ago (any host, or
    from before runs named their process) become 'interrupted': a killed ingest does not stay
    'running' forever. Returns how many."""
    now = _now()
    rows = conn.execute(
        select(IngestRun.id, IngestRun.holder, IngestRun.started_at).where(IngestRun.status == "running")
    ).all()
    gone = [r.id for r in rows if r.started_at < now - STALE_AFTER or (r.holder and dead_here(r.holder))]
    for chunk in chunks(gone):
        conn.execute(
            update(IngestRun)
            .where(IngestRun.id.in_(chunk), IngestRun.status == "running")
            .values(
                status="interrupted",
                finished_at=now,
                error="interrupted: its process ended without finishing the run",
            )
        )
    return len(gone)


def finish_run(
    conn: Connection, run_id: int, status: str, counts: dict[str, int], error: str | None = None
) -> None:
    conn.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(status=status, finished_at=_now(), error=error, **counts)
    )


def raw_json(data: dict[str, Any]) -> str:
    """The row as JSON text; a lone surrogate (from a JSON "\\ud800" escape) stays escaped, since
    neither database can store it as a character."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, default=str)
    return text


def _storable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def quarantine(
    conn: Connection, source: str, run_id: int | None, rows: Sequence[tuple[str, dict[str, Any], str]]
) -> int:
    """Store (location, raw row, reason) triples; the same row quarantined twice is kept once.
    Returns how many were new (not already in quarantine)."""
    if not rows:
        return 0
    values = []
    for loc, data, reason in rows:
        raw = raw_json(data)
        values.append(
            dict(
                source=source,
                run_id=run_id,
                location=_storable(loc)[:300],
                raw=raw,
                raw_hash=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                reason=_storable(reason),
                created_at=_now(),
            )
        )
    t = cast(Table, QuarantinedRow.__table__)
    stmt = dialect_insert(conn, t).on_conflict_do_nothing(index_elements=["source", "location", "raw_hash"])
    return len(conn.execute(stmt.returning(t.c.id), values).all())


def resolve_file(conn: Connection, source: str, location: str) -> None:
    """A file quarantined as unreadable was read since: its entry counts as replayed."""
    conn.execute(
        update(QuarantinedRow)
        .where(
            QuarantinedRow.source == source,
            QuarantinedRow.location == location,
            QuarantinedRow.replayed_at.is_(None),
            QuarantinedRow.raw.like('{"__file__"%'),
        )
        .values(replayed_at=_now())
    )


def file_seen(conn: Connection, source: str, path: str, sha256: str) -> bool:
    q = select(ProcessedFile.id).where(
        ProcessedFile.source == source, ProcessedFile.path == path, ProcessedFile.sha256 == sha256
    )
    return conn.execute(q).first() is not None


def record_file(conn: Connection, source: str, path: str, sha256: str, rows: int) -> None:
    t = ProcessedFile.__table__
    conn.execute(
        dialect_insert(conn, t).on_conflict_do_nothing(index_elements=["source", "path", "sha256"]),
        [dict(source=source, path=path, sha256=sha256, rows=rows, processed_at=_now())],
    )


def get_watermark(conn: Connection, source: str) -> str | None:
    return conn.execute(select(Watermark.cursor).where(Watermark.source == source)).scalar_one_or_none()


def set_watermark(conn: Connection, source: str, cursor: str) -> None:
    t = Watermark.__table__
    stmt = dialect_insert(conn, t).values(source=source, cursor=cursor, updated_at=_now())
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["source"], set_={"cursor": cursor, "updated_at": _now()})
    )


def list_quarantine(
    conn: Connection, source: str | None = None, include_replayed: bool = False
) -> list[QuarantinedRow]:
    q = select(QuarantinedRow).order_by(QuarantinedRow.id)
    if source:
        q = q.where(QuarantinedRow.source == source)
    if not include_replayed:
        q = q.where(QuarantinedRow.replayed_at.is_(None))
    from sqlalchemy.orm import Session

    with Session(bind=conn) as s:
        return list(s.scalars(q))


def mark_replayed(conn: Connection, ids: Sequence[int]) -> None:
    for chunk in chunks(ids):
        conn.execute(update(QuarantinedRow).where(QuarantinedRow.id.in_(chunk)).values(replayed_at=_now()))
