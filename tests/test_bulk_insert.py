"""The fast bulk insert (raw executemany on SQLite, COPY on PostgreSQL) stores exactly what the
SQLAlchemy Core insert stores, and the fast parse gives the same tickets."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import voc.store.tickets as st
from voc.store.models import TicketRow
from voc.ticket import parse_ticket


def _raw_rows(n: int) -> list[dict[str, object]]:
    rnd = random.Random(7)
    base = datetime(2025, 12, 29, 23, 59, 59)
    rows = []
    for i in range(n):
        created = base + timedelta(minutes=rnd.randint(0, 200_000), microseconds=rnd.choice([0, 1, 123456]))
        closed = created + timedelta(hours=rnd.random() * 100)
        fmt = i % 5
        if fmt == 0:
            c, k = created.isoformat() + "+08:00", closed.isoformat() + "Z"
        elif fmt == 1:
            c, k = created.strftime("%Y/%m/%d %H:%M"), ""
        elif fmt == 2:
            c, k = "", closed.strftime("%Y年%m月%d日")
        elif fmt == 3:
            c, k = created, closed  # datetime objects (Excel / Parquet sources)
        else:
            c, k = str(int(created.timestamp())), closed.isoformat(" ")
        rows.append(
            {
                "ticket_id": f"  T-{i:05d} ",
                "created_at": c,
                "closed_at": k,
                "channel": rnd.choice(["天猫", " web ", "", "   ", None]),
                "product": "blender",
                "model": rnd.choice(["BL-900", None]),
                "batch": rnd.choice(["B2404", ""]),
                "subject": rnd.choice(["有异响", "", 'quote\'s "x"\ttab']),
                "body": f"body {i} 破壁机\nline two, with comma; and \\ backslash",
                "resolution": rnd.choice(["fixed", None]),
                "status": rnd.choice(["solved", "closed"]),
                "agent": "吴昊",
                "customer_region": rnd.choice(["江苏", ""]),
                "csat": rnd.choice(["", "5", "4.5", 3, None, 0.1]),
                "reopened": rnd.choice(["0", "1", "", "是", None]),
                "transfers": rnd.choice(["0", "2", "", 1.0]),
                "language": rnd.choice(["zh", ""]),
                "intent_hint": rnd.choice(["complaint", None]),
            }
        )
    return rows


def _dump(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    cols = [c for c in TicketRow.__table__.c if c.name not in ("id", "ingested_at")]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(TicketRow.source, TicketRow.source_id))]


def test_fast_insert_stores_the_same_values(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = [parse_ticket(r, src, tz="Asia/Shanghai") for r in _raw_rows(2000) for src in ("a",)]
    tickets += [parse_ticket(r, "b") for r in _raw_rows(300)]
    monkeypatch.setattr(st, "FAST_INSERT", False)
    with engine.begin() as conn:
        c1 = st.upsert_tickets(conn, [t for t in tickets if t.source == "a"])
    slow = _dump(engine)
    with engine.begin() as conn:
        conn.execute(TicketRow.__table__.delete())
    monkeypatch.setattr(st, "FAST_INSERT", True)
    with engine.begin() as conn:
        c2 = st.upsert_tickets(conn, [t for t in tickets if t.source == "a"])
    fast = _dump(engine)
    assert c1 == c2 and c2.inserted == 2000
    assert len(fast) == 2000 and fast == slow
    # a re-read of the same tickets finds them all unchanged (hashes and timestamps compare equal)
    with engine.begin() as conn:
        again = st.upsert_tickets(conn, tickets)
    assert (again.inserted, again.unchanged, again.updated) == (300, 2000, 0)


def test_fast_insert_keeps_the_batch_atomic(engine) -> None:
    tickets = [parse_ticket(r, "a") for r in _raw_rows(50)]
    with pytest.raises(RuntimeError), engine.begin() as conn:
        st.upsert_tickets(conn, tickets)
        raise RuntimeError("crash after the insert")
    assert _dump(engine) == []


def test_fast_insert_skips_a_row_that_appeared_meanwhile(engine) -> None:
    tickets = [parse_ticket(r, "a") for r in _raw_rows(20)]
    with engine.begin() as conn:
        st._insert_new(conn, [st.ticket_row(tickets[3])])
        st._insert_new(conn, [st.ticket_row(t) for t in tickets])  # conflict: the rest still goes in
    assert len(_dump(engine)) == 20


def test_row_matches_the_reference_hash_and_week() -> None:
    from voc.weeks import Week

    for t in (parse_ticket(r, "a") for r in _raw_rows(500)):
        r = dict(zip(st._COLS, st.ticket_row(t), strict=True))
        assert r["content_hash"] == st.content_hash(t)
        assert r["week"] == Week.of(t.event_at).ordinal()
        assert r["event_at"] == t.event_at


def test_sqlite_datetime_text_matches_sqlalchemy() -> None:
    from datetime import UTC, timezone

    from sqlalchemy.dialects import sqlite
    from sqlalchemy.dialects.sqlite import DATETIME

    bind = DATETIME().bind_processor(sqlite.dialect())
    for d in (
        datetime(2026, 1, 2, 3, 4, 5),
        datetime(5, 1, 1),
        datetime(2026, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 1, 1, tzinfo=UTC),
    ):
        assert st._sqlite_dt(d) == bind(d)
    assert st._sqlite_dt(None) is None
