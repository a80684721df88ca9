"""Store statements stay within database limits at backfill sizes (SQLite: 32,766 bound variables by
default, 250,000 in some builds; a 1M-ticket backfill re-assigns ~450k tickets in one call)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from voc.store import analysis
from voc.store.db import make_engine, migrate
from voc.store.models import Assignment


def test_save_assignments_replaces_more_ids_than_one_statement_can_bind(sqlite_url: str) -> None:
    sqlite_engine = make_engine(sqlite_url)
    migrate(sqlite_engine)
    n = sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1000
    ids = list(range(1, n + 1))
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # the limit is the point here, not topic rows
        # the tickets must exist: save_assignments skips ids no longer stored (an erasure meanwhile)
        conn.exec_driver_sql(
            "INSERT INTO tickets (id, source, source_id, event_at, week, body, content_hash) VALUES (?, 's', ?, "
            "'2026-01-05 00:00:00', 1, '', '')",
            [(i, str(i)) for i in ids],
        )
        conn.commit()
        analysis.save_assignments(conn, ids, [(1, 0.5)] * len(ids), 1)
        analysis.save_assignments(
            conn, ids, [(2, 0.7)] * len(ids), 2
        )  # one unchunked delete would bind n ids
        rows = conn.execute(select(Assignment.topic_id, func.count()).group_by(Assignment.topic_id)).all()
        conn.commit()
    assert rows == [(2, n)]


def test_mark_replayed_marks_more_rows_than_one_statement_can_bind(sqlite_url: str) -> None:
    from datetime import datetime

    from voc.store import ingest_log
    from voc.store.models import QuarantinedRow

    engine = make_engine(sqlite_url)
    migrate(engine)
    n = sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1000
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            QuarantinedRow.__table__.insert(),
            [
                {
                    "source": "s",
                    "location": f"f:{i}",
                    "raw": "x",
                    "raw_hash": str(i),
                    "reason": "r",
                    "created_at": now,
                }
                for i in range(n)
            ],
        )
        ids = list(conn.execute(select(QuarantinedRow.id)).scalars())
        ingest_log.mark_replayed(conn, ids)
        left = conn.execute(
            select(func.count()).select_from(QuarantinedRow).where(QuarantinedRow.replayed_at.is_(None))
        ).scalar_one()
    assert left == 0


@pytest.mark.postgres
def test_statistics_are_refreshed_on_postgresql(pg_url: str) -> None:
    # without statistics after a bulk load the planner scanned whole weeks for the brief's quotes
    from sqlalchemy import text

    from voc.store.db import refresh_statistics

    engine = make_engine(pg_url)
    migrate(engine)
    q = text(
        "select count(*) from pg_stat_user_tables where schemaname = current_schema() "
        "and relname in ('tickets', 'assignments') and last_analyze is not null"
    )
    with engine.connect() as c:
        assert c.execute(q).scalar_one() == 0
    refresh_statistics(engine)
    with engine.connect() as c:
        assert c.execute(q).scalar_one() == 2
    engine.dispose()
