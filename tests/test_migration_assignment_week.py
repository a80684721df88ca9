"""Migration 0008: an existing store's assignments get their ticket's week, and new ones carry it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import command

from voc.store import analysis
from voc.store.db import _alembic_config, make_engine, migrate


def test_existing_assignments_get_their_tickets_week_and_new_ones_carry_it(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007_weekly_kpis")
    with engine.begin() as conn:
        for i, week in enumerate((105700, 105700, 105701, 105702), start=1):
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, source, source_id, event_at, week, body, content_hash, ingested_at) "
                    "VALUES (:i, 's', :sid, :at, :w, 'b', 'h', :at)"
                ),
                {"i": i, "sid": f"t{i}", "at": datetime(2026, 11, 1), "w": week},
            )
        conn.execute(
            sa.text(
                "INSERT INTO assignments (ticket_id, topic_id, similarity, assigned_week) "
                "VALUES (1, 7, .9, 105702), (2, 7, .8, 105702), (3, 8, .7, 105702)"
            )
        )
    migrate(engine)
    with engine.begin() as conn:
        weeks = dict(conn.execute(sa.text("SELECT ticket_id, week FROM assignments")).all())
        assert weeks == {1: 105700, 2: 105700, 3: 105701}
        analysis.save_assignments(conn, [4], [(8, 0.6)], 105703)  # the stage writes the ticket's week
        assert (
            conn.execute(sa.text("SELECT week FROM assignments WHERE ticket_id = 4")).scalar_one() == 105702
        )
        indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(conn).get_indexes("assignments")}
    assert indexes["ix_assignments_topic_week_sim"] == ["topic_id", "week", "similarity", "ticket_id"]
    assert indexes["ix_assignments_topic_sim"] == ["topic_id", "similarity", "ticket_id"]
    engine.dispose()
