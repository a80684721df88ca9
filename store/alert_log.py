"""Reads of the alert log (the ``alerts`` table) that alert planning needs; the stage writes the rows.

Every send is one row per (dedupe key, channel, recipient), written before the send and updated
after it (``flows/alert_stage.py`` explains why); the lifecycle (``delivery/lifecycle.py``) reads
them as what each recipient was told.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, exists, select

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
    return [AlertLogRow(r.dedupe_key, r.channel, r.recipient, str(r.owner), r.status, int(r.week), r.ratio)
            for r in conn.execute(q)]


def surges_judged(conn: Connection, week: int) -> bool:
    """Did surge detection run for week ``week`` (an ordinal)? Without it, 'not flagged' means nothing."""
    ran = conn.execute(select(exists().where(StageRun.week == week, StageRun.stage == "surges"))).scalar()
    return bool(ran) or bool(conn.execute(select(exists().where(Surge.week == week))).scalar())
