"""Bulk, idempotent writes of canonical tickets, and reads for the understanding stage."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store.models import Assignment, TicketRow
from voc.ticket import Ticket

_T = TicketRow.__table__
_HASHED = ("created_at", "closed_at", "channel", "product", "model", "batch", "subject", "body",
           "resolution", "status", "agent", "customer_region", "csat", "reopened", "transfers",
           "language", "intent_hint")


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # repeated (source, id) within the same batch: the newest is kept

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicates += other.duplicates


def content_hash(t: Ticket) -> str:
    """Identity of a ticket version: any field change makes a new hash (one hash call per ticket)."""
    text = "\x1f".join("" if v is None else str(v) for v in (getattr(t, f) for f in _HASHED))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=20).hexdigest()


# A prepared row is a tuple in _COLS order: source, source_id, the hashed fields, then the derived ones.
_COLS = ("source", "source_id", *_HASHED, "event_at", "week", "hours_to_close", "content_hash")
_I_SID, _I_EVENT, _I_HASH = 1, _COLS.index("event_at"), _COLS.index("content_hash")
_DT_IDX = tuple(i for i, c in enumerate(_COLS) if c in ("created_at", "closed_at", "event_at"))
_blake2b = hashlib.blake2b

# Bulk inserts of new rows bypass SQLAlchemy's per-row bind processing (raw executemany on SQLite,
# COPY on PostgreSQL) while storing exactly the same values; False uses the SQLAlchemy Core insert.
FAST_INSERT = True


def _row(t: Ticket) -> tuple[Any, ...]:
    """The stored columns of one ticket (same values and hash as ``content_hash``), as a _COLS tuple."""
    created, closed = t.created_at, t.closed_at
    vals = (created, closed, t.channel, t.product, t.model, t.batch, t.subject, t.body, t.resolution,
            t.status, t.agent, t.customer_region, t.csat, t.reopened, t.transfers, t.language, t.intent_hint)
    text = "\x1f".join(["" if v is None else str(v) for v in vals])
    h = _blake2b(text.encode("utf-8"), digest_size=20).hexdigest()
    hours = None
    if created and closed:
        hours = max(0.0, (closed - created).total_seconds() / 3600)
    ev = closed or created
    # == Week.of(ev).ordinal(): the ISO week's Monday is ev's date minus its weekday
    week = (ev.toordinal() - ev.weekday()) // 7  # type: ignore[union-attr]
    return (t.source, t.ticket_id, *vals, ev, week, hours, h)


def upsert_tickets(conn: Connection, tickets: Sequence[Ticket]) -> UpsertCounts:
    """Insert new tickets, replace changed ones with the newer version, skip identical ones.

    A changed ticket loses its derived fields and topic assignment so later stages redo it.
    Within one batch the last occurrence of a (source, id) wins.
    """
    counts = UpsertCounts()
    if not tickets:
        return counts
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for t in tickets:
        r = _row(t)
        key = (r[0], r[1])
        prev = latest.get(key)
        if prev is None or r[_I_EVENT] >= prev[_I_EVENT]:
            latest[key] = r
    rows = list(latest.values())
    counts.duplicates = len(tickets) - len(rows)
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r[0], []).append(r[1])
    existing: dict[tuple[str, str], tuple[int, str, Any]] = {}
    pg = conn.dialect.name == "postgresql"
    for source, ids in by_source.items():
        for i in range(0, len(ids), 5000):
            chunk = ids[i:i + 5000]
            if pg:  # one array parameter instead of 5000 placeholders for psycopg to parse
                cond = _T.c.source_id == any_(bindparam("ids", chunk, type_=ARRAY(_T.c.source_id.type)))
            else:
                cond = _T.c.source_id.in_(chunk)
            q = select(_T.c.id, _T.c.source_id, _T.c.content_hash, _T.c.event_at).where(
                _T.c.source == source, cond)
            for pk, sid, h, ev in conn.execute(q):
                existing[(source, sid)] = (pk, h, ev)
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    for r in rows:
        old = existing.get((r[0], r[1])) if existing else None
        if old is None:
            new_rows.append(r)
        elif old[1] == r[_I_HASH] or r[_I_EVENT] < old[2]:
            counts.unchanged += 1  # identical, or an older version than we hold
        else:
            changed.append((old[0], r))
    if new_rows:
        _insert_new(conn, new_rows)
        counts.inserted = len(new_rows)
    if changed:
        cols = [*_HASHED, "event_at", "week", "hours_to_close", "content_hash"]
        stmt = (update(_T).where(_T.c.id == bindparam("_pk"))
                .values({c: bindparam(c) for c in cols} | {"nlp_version": None}))
        conn.execute(stmt, [dict(zip(_COLS, r, strict=True)) | {"_pk": pk} for pk, r in changed])
        pks = [pk for pk, _ in changed]
        conn.execute(Assignment.__table__.delete().where(Assignment.__table__.c.ticket_id.in_(pks)))
        counts.updated = len(changed)
    return counts


def _insert_new(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows not yet stored; a (source, id) that appeared meanwhile is left as it is."""
    name = conn.dialect.name
    if FAST_INSERT and name == "sqlite":
        _insert_sqlite(conn, rows)
    elif FAST_INSERT and name == "postgresql" and conn.dialect.driver == "psycopg":
        _insert_pg_copy(conn, rows)
    else:
        _insert_core(conn, rows)


def _insert_core(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """The portable path: SQLAlchemy Core executemany (and the reference the fast paths must match)."""
    ins = pg_insert(_T) if conn.dialect.name == "postgresql" else sqlite_insert(_T)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["source", "source_id"]),
                 [dict(zip(_COLS, r, strict=True)) for r in rows])


def _sqlite_dt(v: datetime | None) -> str | None:
    """A datetime exactly as SQLAlchemy's SQLite DateTime stores it ('%Y-%m-%d %H:%M:%S.%f')."""
    if v is None:
        return None
    if v.tzinfo is None:
        return v.isoformat(" ", "microseconds")
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
            f".{v.microsecond:06d}")  # SQLAlchemy drops the zone: so do we


_SQLITE_INSERT = (f"INSERT INTO {_T.name} ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))}) "
                  "ON CONFLICT (source, source_id) DO NOTHING")


def _insert_sqlite(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Raw DBAPI executemany on the Connection's own sqlite3 connection (same transaction)."""
    c, k, e = _DT_IDX
    dt = _sqlite_dt

    def conv(r: tuple[Any, ...]) -> tuple[Any, ...]:
        lst = list(r)
        lst[c], lst[k], lst[e] = dt(r[c]), dt(r[k]), dt(r[e])
        return tuple(lst)

    dbapi = conn.connection.dbapi_connection
    cur = dbapi.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(_SQLITE_INSERT, map(conv, rows))
    finally:
        cur.close()


_PG_COPY = f"COPY {_T.name} ({', '.join(_COLS)}) FROM STDIN"


def _insert_pg_copy(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """COPY straight into tickets inside a savepoint; if a row appeared meanwhile, fall back to
    the INSERT ... ON CONFLICT DO NOTHING path. Runs on the Connection's own psycopg connection."""
    from psycopg.errors import UniqueViolation

    try:
        with conn.begin_nested():
            dbapi = conn.connection.dbapi_connection
            with dbapi.cursor() as cur, cur.copy(_PG_COPY) as copy:  # type: ignore[union-attr]
                write = copy.write_row
                for r in rows:
                    write(r)
    except UniqueViolation:
        _insert_core(conn, rows)


def count_tickets(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(_T)).scalar_one())

