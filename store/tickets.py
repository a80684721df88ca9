"""Bulk, idempotent writes of canonical tickets, and reads for the understanding stage."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store.models import Assignment, TicketRow
from voc.ticket import Ticket
from voc.weeks import Week

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


def _row(t: Ticket) -> dict[str, Any]:
    d = {f: getattr(t, f) for f in _HASHED}
    hours = None
    if t.created_at and t.closed_at:
        hours = max(0.0, (t.closed_at - t.created_at).total_seconds() / 3600)
    d.update(source=t.source, source_id=t.ticket_id, event_at=t.event_at, week=Week.of(t.event_at).ordinal(),
             hours_to_close=hours, content_hash=content_hash(t))
    return d


def upsert_tickets(conn: Connection, tickets: Sequence[Ticket]) -> UpsertCounts:
    """Insert new tickets, replace changed ones with the newer version, skip identical ones.

    A changed ticket loses its derived fields and topic assignment so later stages redo it.
    Within one batch the last occurrence of a (source, id) wins.
    """
    counts = UpsertCounts()
    if not tickets:
        return counts
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for t in tickets:
        r = _row(t)
        key = (r["source"], r["source_id"])
        prev = latest.get(key)
        if prev is None or r["event_at"] >= prev["event_at"]:
            latest[key] = r
    rows = list(latest.values())
    counts.duplicates = len(tickets) - len(rows)
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r["source_id"])
    existing: dict[tuple[str, str], tuple[int, str, Any]] = {}
    for source, ids in by_source.items():
        for i in range(0, len(ids), 5000):
            chunk = ids[i:i + 5000]
            q = select(_T.c.id, _T.c.source_id, _T.c.content_hash, _T.c.event_at).where(
                _T.c.source == source, _T.c.source_id.in_(chunk))
            for pk, sid, h, ev in conn.execute(q):
                existing[(source, sid)] = (pk, h, ev)
    new_rows, changed = [], []
    for r in rows:
        old = existing.get((r["source"], r["source_id"]))
        if old is None:
            new_rows.append(r)
        elif old[1] == r["content_hash"] or r["event_at"] < old[2]:
            counts.unchanged += 1  # identical, or an older version than we hold
        else:
            changed.append({**r, "_pk": old[0]})
    if new_rows:
        ins = (pg_insert(_T) if conn.dialect.name == "postgresql" else sqlite_insert(_T))
        conn.execute(ins.on_conflict_do_nothing(index_elements=["source", "source_id"]), new_rows)
        counts.inserted = len(new_rows)
    if changed:
        cols = [*_HASHED, "event_at", "week", "hours_to_close", "content_hash"]
        stmt = (update(_T).where(_T.c.id == bindparam("_pk"))
                .values({c: bindparam(c) for c in cols} | {"nlp_version": None}))
        conn.execute(stmt, [{k: r[k] for k in [*cols, "_pk"]} for r in changed])
        pks = [r["_pk"] for r in changed]
        conn.execute(Assignment.__table__.delete().where(Assignment.__table__.c.ticket_id.in_(pks)))
        counts.updated = len(changed)
    return counts


def count_tickets(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(_T)).scalar_one())

