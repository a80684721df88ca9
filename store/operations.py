"""Reads of the workbench's operations page (``voc web`` ``/operations``): ingest runs, the
quarantine, the alert log and the weekly stage runs. Typed records; the quarantine's raw rows are
never read here (they hold the unredacted ticket): only where a row came from and why it was
refused, which the page redacts again before showing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from voc.store.models import AlertSent, IngestRun, QuarantinedRow, StageRun

ALERT_STATUSES = ("sent", "failed", "unknown", "pending", "deferred", "superseded")


@dataclass(frozen=True)
class IngestRunView:
    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | failed | interrupted
    read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    error: str | None


def ingest_runs(conn: Connection, limit: int = 30) -> list[IngestRunView]:
    """The latest ingest runs, newest first."""
    r = IngestRun
    q = (
        select(
            r.id,
            r.source,
            r.started_at,
            r.finished_at,
            r.status,
            r.read,
            r.inserted,
            r.updated,
            r.unchanged,
            r.quarantined,
            r.error,
        )
        .order_by(r.id.desc())
        .limit(limit)
    )
    return [
        IngestRunView(
            int(i),
            src,
            start,
            end,
            status,
            int(rd or 0),
            int(ins or 0),
            int(upd or 0),
            int(unch or 0),
            int(quar or 0),
            err,
        )
        for i, src, start, end, status, rd, ins, upd, unch, quar, err in conn.execute(q)
    ]


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    source: str
    location: str
    reason: str
    created_at: datetime
    whole_file: bool  # a file that could not be read at all (read again by the next ingest of its folder)


def quarantine_pending(conn: Connection, limit: int = 100) -> tuple[int, list[QuarantineEntry]]:
    """How many quarantined rows wait for a replay, and the latest ``limit`` of them (never ``raw``)."""
    q = QuarantinedRow
    pending = q.replayed_at.is_(None)
    total = int(conn.execute(select(func.count()).select_from(q).where(pending)).scalar_one())
    rows = conn.execute(
        select(q.id, q.source, q.location, q.reason, q.created_at, q.raw.like('{"__file__"%'))
        .where(pending)
        .order_by(q.id.desc())
        .limit(limit)
    )
    return total, [QuarantineEntry(int(i), s, loc, reason, at, bool(f)) for i, s, loc, reason, at, f in rows]


@dataclass(frozen=True)
class AlertProblem:
    """An alert send that failed or whose outcome is unknown."""

    week: int
    kind: str
    owner: str
    channel: str
    recipient: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime


def alert_counts(conn: Connection) -> dict[str, int]:
    """Alert rows per status (every status of :data:`ALERT_STATUSES`, 0 when none)."""
    got: dict[str, int] = {
        str(s): int(n)
        for s, n in conn.execute(select(AlertSent.status, func.count()).group_by(AlertSent.status))
    }
    return {s: got.get(s, 0) for s in (*ALERT_STATUSES, *sorted(set(got) - set(ALERT_STATUSES)))}


def alert_problems(conn: Connection, limit: int = 50) -> list[AlertProblem]:
    """The latest failed and unknown sends, newest first."""
    a = AlertSent
    q = (
        select(a.week, a.kind, a.owner, a.channel, a.recipient, a.status, a.attempts, a.error, a.created_at)
        .where(a.status.in_(["failed", "unknown"]))
        .order_by(a.id.desc())
        .limit(limit)
    )
    return [
        AlertProblem(int(w), k, o, c, r, s, int(n or 0), e, at)
        for w, k, o, c, r, s, n, e, at in conn.execute(q)
    ]


@dataclass(frozen=True)
class StageRunView:
    week: int
    stage: str
    status: str
    finished_at: datetime
    summary: str


def stage_runs(conn: Connection, limit: int = 60) -> list[StageRunView]:
    """The latest weekly stage runs, newest first."""
    s = StageRun
    q = (
        select(s.week, s.stage, s.status, s.finished_at, s.summary)
        .order_by(s.finished_at.desc(), s.week.desc(), s.stage)
        .limit(limit)
    )
    return [
        StageRunView(int(w), st, status, at, summary or "") for w, st, status, at, summary in conn.execute(q)
    ]
