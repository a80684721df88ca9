"""Bulk, idempotent writes of canonical tickets, and reads for the understanding stage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from voc.store.binds import chunks, dialect_insert
from voc.store.models import Assignment, TicketRow
from voc.ticket import Ticket

_T = cast(Table, TicketRow.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_HASHED = (
    "created_at",
    "closed_at",
    "channel",
    "product",
    "model",
    "batch",
    "subject",
    "body",
    "resolution",
    "status",
    "agent",
    "customer_region",
    "csat",
    "reopened",
    "transfers",
    "language",
    "intent_hint",
)


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # a (source, id) seen before in the same run: the newest version is kept

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicates += other.duplicates


class RunSeen:
    """Which stored tickets one ingest run has already met, so a ticket that occurs again later in
    the run counts as a duplicate, never as 'unchanged' (or 'updated') in whichever batch it falls.

    Rows this run inserted have ids above ``floor``; stored rows it matched are bits in a bitmap
    indexed by id (125 kB per million ids). ``pending`` holds changed versions older (by event time)
    than the stored one: a correction (e.g. an earlier close time) unless a newer version of the
    ticket follows in the same run; ``apply_pending`` stores what is left at the end of the run."""

    def __init__(self, conn: Connection) -> None:
        from sqlalchemy import func

        self.floor = int(conn.execute(select(func.coalesce(func.max(_T.c.id), 0))).scalar_one())
        self._bits = bytearray()
        self.pending: dict[int, tuple[Any, ...]] = {}

    def again(self, pk: int) -> bool:
        """True if this run already inserted or met the ticket ``pk``; marks it met."""
        if pk > self.floor:
            return True
        i, bit = pk >> 3, 1 << (pk & 7)
        if i >= len(self._bits):
            self._bits.extend(bytes(i + 1 - len(self._bits) + 4096))
        if self._bits[i] & bit:
            return True
        self._bits[i] |= bit
        return False


def content_hash(t: Ticket) -> str:
    """Identity of a ticket version: any field change makes a new hash (one hash call per ticket)."""
    text = "\x1f".join("" if v is None else str(v) for v in (getattr(t, f) for f in _HASHED))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=20).hexdigest()


# A prepared row is a tuple in _COLS order: source, source_id, the hashed fields, then the derived ones.
_COLS = ("source", "source_id", *_HASHED, "event_at", "week", "hours_to_close", "content_hash")
_I_SID, _I_EVENT, _I_HASH = 1, _COLS.index("event_at"), _COLS.index("content_hash")
_DT_IDX = tuple(_COLS.index(c) for c in ("created_at", "closed_at", "event_at"))
_blake2b = hashlib.blake2b

# Bulk inserts of new rows bypass SQLAlchemy's per-row bind processing (raw executemany on SQLite,
# COPY on PostgreSQL) while storing exactly the same values; False uses the SQLAlchemy Core insert.
FAST_INSERT = True


def base_row(t: Ticket) -> tuple[Any, ...]:
    """source, id and the hashed fields of a ticket: the first part of its _COLS tuple (plain values,
    so a worker process can make it and hand it to the writer, which adds the rest)."""
    return (
        t.source,
        t.ticket_id,
        t.created_at,
        t.closed_at,
        t.channel,
        t.product,
        t.model,
        t.batch,
        t.subject,
        t.body,
        t.resolution,
        t.status,
        t.agent,
        t.customer_region,
        t.csat,
        t.reopened,
        t.transfers,
        t.language,
        t.intent_hint,
    )


def complete_row(b: tuple[Any, ...]) -> tuple[Any, ...]:
    """A ``base_row`` plus the derived columns (event time, week, hours to close, content hash)."""
    text = "\x1f".join(["" if v is None else str(v) for v in b[2:]])  # == content_hash's text
    h = _blake2b(text.encode("utf-8"), digest_size=20).hexdigest()
    created, closed = b[2], b[3]
    hours = None
    if created and closed:
        hours = max(0.0, (closed - created).total_seconds() / 3600)
    ev = closed or created
    # == Week.of(ev).ordinal(): the ISO week's Monday is ev's date minus its weekday
    week = (ev.toordinal() - ev.weekday()) // 7
    return (*b, ev, week, hours, h)


def ticket_row(t: Ticket) -> tuple[Any, ...]:
    """The stored columns of one ticket (same values and hash as ``content_hash``), as a _COLS tuple."""
    return complete_row(base_row(t))


def upsert_tickets(conn: Connection, tickets: Sequence[Ticket], keep_newer: bool = False) -> UpsertCounts:
    """Insert new tickets, replace changed ones with the newer version, skip identical ones.

    A changed ticket loses its derived fields and topic assignment so later stages redo it.
    Within one batch the newest version (latest event time; on a tie the last occurrence) wins;
    a stored ticket is replaced by any changed version (a later export may correct a close time to
    an earlier one), or with ``keep_newer`` (replaying old rows) only by a version at least as recent.
    """
    return upsert_rows(conn, [ticket_row(t) for t in tickets], keep_newer=keep_newer)


def upsert_rows(
    conn: Connection,
    prepared: Sequence[tuple[Any, ...]],
    seen: RunSeen | None = None,
    keep_newer: bool = False,
) -> UpsertCounts:
    """``upsert_tickets`` for rows already made by ``ticket_row``; with ``seen``, a ticket met earlier
    in the same run counts as a duplicate (and is still replaced if this version is newer, by event
    time, as within a batch). A ticket stored by an earlier run is replaced by any changed version."""
    counts = UpsertCounts()
    if not prepared:
        return counts
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for r in prepared:
        key = (r[0], r[1])
        prev = latest.get(key)
        if prev is None or r[_I_EVENT] >= prev[_I_EVENT]:
            latest[key] = r
    rows = list(latest.values())
    counts.duplicates = len(prepared) - len(rows)
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r[0], []).append(r[1])
    existing = _existing(conn, by_source)
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    for r in rows:
        old = existing.get((r[0], r[1])) if existing else None
        if old is None:
            new_rows.append(r)
            continue
        pk, stored_hash, stored_event = old
        if seen is None or not seen.again(pk):  # first met in this run: compare with the stored version
            if stored_hash == r[_I_HASH] or (keep_newer and r[_I_EVENT] < stored_event):
                counts.unchanged += 1
            elif r[_I_EVENT] >= stored_event or seen is None:
                changed.append((pk, r))
                counts.updated += 1
            else:
                seen.pending[pk] = r  # counted when settled (below, or by apply_pending)
            continue
        counts.duplicates += 1  # met before in this run: the newer of the run's versions is kept
        held = seen.pending.pop(pk, None)
        if held is None:
            if stored_hash != r[_I_HASH] and r[_I_EVENT] >= stored_event:
                changed.append((pk, r))
            continue
        best = held if held[_I_EVENT] > r[_I_EVENT] else r
        if best[_I_EVENT] < stored_event:
            seen.pending[pk] = best
        elif best[_I_HASH] == stored_hash:
            counts.unchanged += 1
        else:
            changed.append((pk, best))
            counts.updated += 1
    if new_rows:
        _insert_new(conn, new_rows)
        counts.inserted = len(new_rows)
    _replace(conn, changed)
    return counts


def apply_pending(conn: Connection, seen: RunSeen) -> UpsertCounts:
    """At the end of a run: store the changed versions older than the stored ones that no newer
    version in the run superseded (corrections); they count as updated."""
    changed = list(seen.pending.items())
    seen.pending.clear()
    _replace(conn, changed)
    return UpsertCounts(updated=len(changed))


def _replace(conn: Connection, changed: list[tuple[int, tuple[Any, ...]]]) -> None:
    """Overwrite stored tickets (by pk) with new versions; their derived fields and topic go. A queued
    ticket stays queued (``topic_queue``): the topic stage reads only understood ones, and it is
    understood again first. Its queue row is not touched here: an ingest beside the weekly run would
    otherwise wait on, or deadlock with, the topic stage's transaction that is dequeuing it."""
    if not changed:
        return
    cols = [*_HASHED, "event_at", "week", "hours_to_close", "content_hash"]
    stmt = (
        update(_T)
        .where(_T.c.id == bindparam("_pk"))
        .values({c: bindparam(c) for c in cols} | {"nlp_version": None})
    )
    conn.execute(stmt, [dict(zip(_COLS, r, strict=True)) | {"_pk": pk} for pk, r in changed])
    pks = [pk for pk, _ in changed]
    for chunk in chunks(pks):
        conn.execute(_ASSIGNMENTS.delete().where(_ASSIGNMENTS.c.ticket_id.in_(chunk)))


_SQLITE_EXISTING = (
    f"SELECT id, source_id, content_hash, event_at FROM {_T.name} "
    "WHERE source = ? AND source_id IN (SELECT value FROM json_each(?))"
)


def _existing(
    conn: Connection, by_source: dict[str, list[str]]
) -> dict[tuple[str, str], tuple[int, str, Any]]:
    """(pk, content hash, event time) of the stored tickets among these ids, in one parameter per
    chunk (a JSON array on SQLite, an array on PostgreSQL) instead of thousands of placeholders."""
    existing: dict[tuple[str, str], tuple[int, str, Any]] = {}
    sqlite = conn.dialect.name == "sqlite"
    for source, ids in by_source.items():
        for chunk in chunks(ids):
            if sqlite:  # raw text back: event_at is parsed as SQLAlchemy's DateTime would
                res = conn.exec_driver_sql(_SQLITE_EXISTING, (source, json.dumps(chunk)))
                for pk, sid, h, ev in res:
                    existing[(source, sid)] = (pk, h, datetime.fromisoformat(ev))
                continue
            if conn.dialect.name == "postgresql":
                cond = _T.c.source_id == any_(bindparam("ids", chunk, type_=ARRAY(_T.c.source_id.type)))
            else:
                cond = _T.c.source_id.in_(chunk)
            q = select(_T.c.id, _T.c.source_id, _T.c.content_hash, _T.c.event_at).where(
                _T.c.source == source, cond
            )
            for pk, sid, h, ev in conn.execute(q):
                existing[(source, sid)] = (pk, h, ev)
    return existing


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
    conn.execute(
        dialect_insert(conn, _T).on_conflict_do_nothing(index_elements=["source", "source_id"]),
        [dict(zip(_COLS, r, strict=True)) for r in rows],
    )


def _sqlite_dt(v: datetime | None) -> str | None:
    """A datetime exactly as SQLAlchemy's SQLite DateTime stores it ('%Y-%m-%d %H:%M:%S.%f')."""
    if v is None:
        return None
    if v.tzinfo is None:
        return v.isoformat(" ", "microseconds")
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}"
    )  # SQLAlchemy drops the zone: so do we


_SQLITE_INSERT = (
    f"INSERT INTO {_T.name} ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))}) "
    "ON CONFLICT (source, source_id) DO NOTHING"
)


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
        cur.executemany(_SQLITE_INSERT, [conv(r) for r in rows])
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
