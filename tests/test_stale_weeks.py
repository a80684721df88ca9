"""The counts stage recounts only the weeks a change marked stale (triggers of migration 0010) and the
week it counts, and its counts equal a recount of every week after each kind of change: a weekly
assignment with its splits, a late ticket in an old week, a changed ticket, a human merge and its undo."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from tests.conftest import understood_sample
from voc import sample
from voc.config.settings import Mapping
from voc.flows.topic_stage import update_topics
from voc.flows.understand import understand_pending
from voc.sources.ingest import ingest_path
from voc.store import analysis, topic_edits
from voc.store.db import _alembic_config, migrate
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
W = WEEK.ordinal()
TABLES = {
    "weekly_counts": "week, intent, topic_id, product, model, batch, n, sev_max, n_safety, n_defect, n_service",
    "weekly_volume": "week, product, batch, n",
    "weekly_kpis": "*",
}


def _counts(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {
            t: sorted(tuple(r) for r in c.execute(text(f"SELECT {cols} FROM {t}")))
            for t, cols in TABLES.items()
        }


def _update(engine, week: int = W) -> list[int]:  # type: ignore[no-untyped-def]
    with engine.begin() as c:
        return analysis.update_counts(c, week)


def _same_as_every_week(engine) -> None:  # type: ignore[no-untyped-def]
    got = _counts(engine)
    assert got["weekly_counts"]
    with engine.begin() as c:
        analysis.rebuild_counts(c, W)
    assert got == _counts(engine)


def _marked(engine) -> set[int]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {int(r[0]) for r in c.execute(text("SELECT week FROM stale_weeks"))}


def _weekly(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    update_topics(engine, cfg, WEEK.shift(-1))
    _update(engine, W - 1)
    update_topics(engine, cfg, WEEK)


def test_the_weekly_count_recounts_what_changed_and_equals_a_full_recount(engine, store_templates) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    every = set(range(W - 9, W + 1))
    assert _marked(engine) == every  # ingested and understood
    _weekly(engine, cfg)
    marked = _marked(engine)
    assert W in marked and marked <= every
    assert _update(engine) == sorted(marked) and not _marked(engine)
    _same_as_every_week(engine)
    assert _update(engine) == [W], "nothing changed: the week itself only"


def test_late_and_changed_tickets_and_a_merge_mark_their_weeks(
    engine, store_templates, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    _weekly(engine, cfg)
    _update(engine)
    rows, _ = sample.generate(WEEK, weeks=10, per_week=300, seed=3)  # understood_sample's tickets
    changed = dict(rows[400], body=rows[400]["body"] + " 第二次联系,问题依旧。")  # a ticket of an early week
    late = dict(
        rows[5], ticket_id="LATE-1", body="很满意,谢谢客服!"
    )  # praise: no topic, counted in the volumes
    sample.write_csv(tmp_path / "more.csv", [changed, late])
    ingest_path(engine, tmp_path / "more.csv", "demo", Mapping())
    weeks = _weeks_of(engine, [changed["ticket_id"], "LATE-1"])
    assert max(weeks) < W - 5
    understand_pending(engine, cfg)
    update_topics(engine, cfg, WEEK)
    assert weeks <= _marked(engine)
    assert weeks | {W} <= set(_update(engine))
    _same_as_every_week(engine)

    with engine.connect() as c:
        src, dst, weeks = _two_topics(c)
    topic_edits.merge(engine, src, dst)
    assert weeks <= _marked(engine)
    _update(engine)
    _same_as_every_week(engine)


def test_the_upgrade_marks_every_week(engine, store_templates) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    _weekly(engine, cfg)
    _update(engine)
    alembic = _alembic_config(engine)
    with engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.downgrade(alembic, "0009_topic_queue")
    migrate(engine)
    assert _marked(engine) == set(range(W - 9, W + 1))


def _weeks_of(engine, source_ids: list[str]) -> set[int]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        q = text("SELECT week FROM tickets WHERE source_id IN ('" + "', '".join(source_ids) + "')")
        return {int(r[0]) for r in c.execute(q)}


def _two_topics(conn) -> tuple[int, int, set[int]]:  # type: ignore[no-untyped-def]
    """Two active complaint topics with tickets, and the weeks of the first one's tickets."""
    rows = conn.execute(
        text(
            "SELECT a.topic_id, count(*) FROM assignments a JOIN topics t ON t.id = a.topic_id "
            "WHERE t.intent = 'complaint' AND t.merged_into IS NULL GROUP BY a.topic_id ORDER BY 2 DESC, 1"
        )
    ).all()
    src, dst = int(rows[1][0]), int(rows[0][0])
    weeks = {
        int(r[0]) for r in conn.execute(text(f"SELECT DISTINCT week FROM assignments WHERE topic_id = {src}"))
    }
    return src, dst, weeks


TRIGGERS = {f"voc_mark_{t}_{e}" for t in ("tickets", "assignments") for e in ("ins", "upd", "del")} | {
    "voc_mark_topics_upd"
}


def test_every_trigger_is_there_at_the_newest_revision(engine) -> None:  # type: ignore[no-untyped-def]
    """A later migration that rebuilds one of these tables (SQLite's batch mode copies the table) must
    create its triggers again: without them the counts would miss changes and say nothing."""
    if engine.dialect.name == "sqlite":
        q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        q = (
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
        )
    with engine.connect() as c:
        assert {r[0] for r in c.execute(text(q))} == TRIGGERS
