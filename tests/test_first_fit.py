"""The backfill's first fit on a sample (thresholds.topic_fit_sample): the topics are clustered from a
seeded sample of each intent's tickets, every other ticket is assigned to them, and the weeks after run
as usual. On a real store through ingest and understanding, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import understood_sample
from voc.flows.topic_stage import update_topics
from voc.store import analysis
from voc.store.models import Assignment, TicketRow
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _assigned(engine, intent: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    T, A = TicketRow.__table__, Assignment.__table__
    with engine.connect() as c:
        tickets = c.execute(
            select(func.count()).where(T.c.intent == intent, T.c.week <= WEEK.shift(-1).ordinal())
        ).scalar_one()
        assigned = c.execute(
            select(func.count()).select_from(A.join(T, T.c.id == A.c.ticket_id)).where(T.c.intent == intent)
        ).scalar_one()
    return tickets, assigned


def test_first_fit_on_a_sample_assigns_every_ticket(engine, tmp_path: Path) -> None:
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    tickets, _ = _assigned(engine, "complaint")
    sample = tickets // 2
    cfg = cfg.model_copy(
        update={"thresholds": cfg.thresholds.model_copy(update={"topic_fit_sample": sample})}
    )
    summary = update_topics(engine, cfg, WEEK.shift(-1))
    assert summary.assigned["complaint"] == tickets > sample  # the sample path, every ticket assigned
    assert _assigned(engine, "complaint") == (tickets, tickets)
    with engine.connect() as c:
        topics = analysis.load_topics(c, "complaint")
    assert len(topics) >= 3 and {t.status for t in topics} == {"active"}
    line = update_topics(engine, cfg, WEEK).line()  # the next week runs on that catalogue
    assert "complaint: " in line
