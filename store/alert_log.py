"""The alert log (the ``alerts`` table): what alert planning reads, and the rows the alert stage
claims before a send and records after it.

Every send is one row per (dedupe key, channel, recipient), written before the send (:func:`claim`)
and updated after it (:func:`record_outcome`; ``flows/alert_stage.py`` explains why); the lifecycle
(``delivery/lifecycle.py``) reads them as what each recipient was told. The unique (dedupe key,
channel, recipient) is what keeps an alert from being sent twice, also by two runs at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from voc.store.models import AlertSent, StageRun, Surge


@dataclass(frozen=True)
class AlertLogRow:
    """One ``alerts`` row as planning reads it (``week``: the ordinal of the week whose item it showed)."""

    dedupe_key: str
    channel: str
    recipient: str
    owner: str
    status: str  # pending | sent | failed | deferred | superseded | unknown
    week: int
    ratio: float | None


def load(conn: Connection) -> list[AlertLogRow]:
    """Every alert row, in the order they were first written (id order)."""
    a = AlertSent
    q = select(a.dedupe_key, a.channel, a.recipient, a.owner, a.status, a.week, a.ratio).order_by(a.id)
    return [
        AlertLogRow(r.dedupe_key, r.channel, r.recipient, str(r.owner), r.status, int(r.week), r.ratio)
        for r in conn.execute(q)
    ]


def surges_judged(conn: Connection, week: int) -> bool:
    """Did surge detection run for week ``week`` (an ordinal)? Without it, 'not flagged' means nothing."""
    ran = conn.execute(select(exists().where(StageRun.week == week, StageRun.stage == "surges"))).scalar()
    return bool(ran) or bool(conn.execute(select(exists().where(Surge.week == week))).scalar())


CLAIMABLE = ("failed", "deferred", "superseded")  # rows a later run may take over and send
UNKNOWN_NOTE = (
    "outcome unknown: the run stopped after the send started and before its result was "
    "recorded; not re-sent, please check with the recipient"
)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def mark_unknown(engine: Engine) -> int:
    """Rows still 'pending' from an earlier run become 'unknown' (not re-sent); returns how many."""
    with engine.begin() as conn:
        res = conn.execute(
            update(AlertSent)
            .where(AlertSent.status == "pending")
            .values(status="unknown", error=UNKNOWN_NOTE)
        )
    return int(res.rowcount or 0)


def claim(engine: Engine, key: str, channel: str, recipient: str, values: dict[str, Any]) -> int | None:
    """Write the row of (``key``, ``channel``, ``recipient``) with ``values`` (status, week, kind, owner,
    payload_hash, ratio, error) before anything is sent, in its own transaction: a new row, or a
    :data:`CLAIMABLE` one taken over. Returns its id; None when the row is someone else's (sent,
    pending, unknown, or inserted by a concurrent run first)."""
    try:
        with engine.begin() as conn:
            row = conn.execute(
                select(AlertSent.id, AlertSent.status).where(
                    AlertSent.dedupe_key == key,
                    AlertSent.channel == channel,
                    AlertSent.recipient == recipient,
                )
            ).first()
            if row is not None:
                if row.status not in CLAIMABLE:
                    return None
                res = conn.execute(
                    update(AlertSent)
                    .where(AlertSent.id == row.id, AlertSent.status == row.status)
                    .values(**values)
                )
                return int(row.id) if res.rowcount == 1 else None
            res = conn.execute(
                insert(AlertSent).values(
                    dedupe_key=key,
                    channel=channel,
                    recipient=recipient,
                    attempts=0,
                    created_at=_now(),
                    **values,
                )
            )
            assert res.inserted_primary_key is not None  # always set for a single-row insert
            return int(res.inserted_primary_key[0])
    except IntegrityError:  # a concurrent run inserted the same key first
        return None


def record_outcome(
    engine: Engine,
    ids: Sequence[int],
    status: str,
    error: str | None,
    tries: int,
    channel: str,
    recipient: str,
    supersedes: Sequence[str] = (),
) -> None:
    """The outcome of one send on its claimed rows; once sent, the deferred rows of ``supersedes`` (the
    same channel and recipient) are 'superseded'."""
    with engine.begin() as conn:
        conn.execute(
            update(AlertSent)
            .where(AlertSent.id.in_(list(ids)))
            .values(
                status=status,
                attempts=AlertSent.attempts + tries,
                error=error,
                sent_at=_now() if status == "sent" else None,
            )
        )
        if status == "sent" and supersedes:
            conn.execute(
                update(AlertSent)
                .where(
                    AlertSent.dedupe_key.in_(list(supersedes)),
                    AlertSent.channel == channel,
                    AlertSent.recipient == recipient,
                    AlertSent.status == "deferred",
                )
                .values(status="superseded")
            )
