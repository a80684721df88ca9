"""The topic queue (store table ``topic_queue``): the weekly topic stage reads the understood tickets
waiting for a topic from it instead of scanning all history, and finds exactly what the scan found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from tests.conftest import understood_sample
from voc import sample
from voc.config.settings import Mapping
from voc.flows.topic_stage import INTENTS, update_topics
from voc.flows.understand import understand_pending
from voc.sources.ingest import ingest_path
from voc.store import analysis
from voc.store.db import _alembic_config, migrate
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
SCAN = (  # what tickets_for_topics read before the queue: every understood ticket without a topic
    "SELECT t.id FROM tickets t LEFT JOIN assignments a ON a.ticket_id = t.id "
    "WHERE a.ticket_id IS NULL AND t.nlp_version IS NOT NULL AND t.intent IN ('complaint', 'question', 'suggestion')"
)


def _ids(engine, sql: str) -> set[int]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {int(r[0]) for r in c.execute(text(sql))}


def _waiting(engine, week: Week) -> set[int]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {
            d.id
            for i in INTENTS
            for d in analysis.tickets_for_topics(c, i, week.ordinal(), only_unassigned=True)
        }


def test_the_queue_holds_what_a_scan_of_all_history_finds(engine, store_templates) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    queued = _ids(engine, "SELECT ticket_id FROM topic_queue")
    assert len(queued) > 2000 and queued == _ids(engine, SCAN)
    assert not queued & _ids(engine, "SELECT id FROM tickets WHERE intent = 'praise'")
    update_topics(engine, cfg, WEEK.shift(-1))  # the first fit: every week but the last
    last = _ids(engine, f"SELECT id FROM tickets WHERE week = {WEEK.ordinal()} AND intent <> 'praise'")
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == _ids(engine, SCAN) == last
    assert _waiting(engine, WEEK.shift(-1)) == set() and _waiting(engine, WEEK) == last
    update_topics(engine, cfg, WEEK)
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == set() == _ids(engine, SCAN)


def test_a_changed_ticket_waits_again_and_gets_a_topic(engine, store_templates, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    update_topics(engine, cfg, WEEK.shift(-1))
    update_topics(engine, cfg, WEEK)
    rows, _ = sample.generate(WEEK, weeks=10, per_week=300, seed=3)  # understood_sample's tickets
    row = next(r for r in rows if "漏水" in r["body"] or "leak" in r["body"].lower())
    row["body"] += " 第二次联系,问题依旧。"
    sample.write_csv(tmp_path / "changed.csv", [row])
    ingest_path(engine, tmp_path / "changed.csv", "demo", Mapping())
    (pk,) = _ids(engine, f"SELECT id FROM tickets WHERE source_id = '{row['ticket_id']}'")
    # changed: without its topic, and not waiting for one until it is understood again
    assert pk not in _ids(engine, "SELECT ticket_id FROM assignments") | _waiting(engine, WEEK)
    assert understand_pending(engine, cfg) == 1
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == {pk} == _waiting(engine, WEEK)
    update_topics(engine, cfg, WEEK)
    assert pk in _ids(engine, "SELECT ticket_id FROM assignments")
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == set()


def test_the_upgrade_queues_what_the_scan_would_have_found(engine, store_templates) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    update_topics(engine, cfg, WEEK.shift(-1))  # the last week understood, without a topic
    waiting = _ids(engine, SCAN)
    assert waiting
    alembic = _alembic_config(engine)
    with engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.downgrade(alembic, "0008_assignment_week")
    migrate(engine)
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == waiting == _waiting(engine, WEEK)


def test_understanding_again_queues_only_tickets_without_a_topic(engine, store_templates) -> None:  # type: ignore[no-untyped-def]
    """An NLP version change understands every ticket again: those that keep their topic stay off the
    queue (else it would hold all history); a ticket understood as praise leaves it; queueing twice is
    harmless (two understanding runs at once)."""
    cfg = store_templates.copy(engine, understood_sample)
    update_topics(engine, cfg, WEEK.shift(-1))
    assigned = sorted(_ids(engine, "SELECT ticket_id FROM assignments"))
    waiting = sorted(_ids(engine, "SELECT ticket_id FROM topic_queue"))
    with engine.begin() as c:
        analysis.queue_for_topics(c, assigned + waiting)
        analysis.queue_for_topics(c, waiting)
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == set(waiting)
    with engine.begin() as c:
        analysis.queue_for_topics(c, [], waiting[:5])
    assert _ids(engine, "SELECT ticket_id FROM topic_queue") == set(waiting[5:])
