"""The theme profiles of earlier weeks kept in the store (flows.topic_stage.theme_topics with
``frozen_before``) equal a read of every ticket: cold, warm, topped up, and after an earlier week changed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import understood_sample
from voc.flows.topic_stage import catalogue_terms, theme_topics, update_topics
from voc.store import analysis
from voc.store.models import Assignment, TicketRow
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _key(topics) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [
        (
            t.topic_id,
            t.intent,
            t.size,
            t.size_en,
            t.label,
            t.status,
            dict(t.profile),
            t.coverage,
            t.products,
            None if t.centroid is None else t.centroid.tobytes(),
        )
        for t in topics
    ]


def test_kept_theme_sums_of_earlier_weeks_equal_a_full_read(engine, tmp_path: Path) -> None:
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK.shift(-1))
    update_topics(engine, cfg, WEEK)
    terms, w = catalogue_terms(cfg), WEEK.ordinal()

    def full() -> list[tuple]:
        with engine.connect() as c:
            return _key(theme_topics(c, w, terms))

    def kept(before: int) -> list[tuple]:
        with engine.begin() as c:
            return _key(theme_topics(c, w, terms, frozen_before=before))

    expected = full()
    assert len(expected) > 3
    assert kept(w - 6) == expected  # computed and stored
    assert kept(w - 6) == expected  # from the store
    assert kept(w - 3) == expected  # topped up with three weeks
    assert kept(w - 5) == expected  # an earlier bound than the stored one: recomputed
    # a ticket of an earlier week moves to another topic (a refit does that): recomputed
    T, A = TicketRow.__table__, Assignment.__table__
    with engine.begin() as c:
        tid, topic = c.execute(
            select(A.c.ticket_id, A.c.topic_id)
            .select_from(A.join(T, T.c.id == A.c.ticket_id))
            .where(T.c.week == w - 8)
            .order_by(A.c.ticket_id)
            .limit(1)
        ).one()
        other = next(t.id for t in analysis.load_topics(c) if t.id != topic and t.status == "active")
        analysis.reassign(c, [tid], other, [0.5])
    moved = full()
    assert moved != expected
    assert kept(w - 3) == moved
    # a topic merged into another: resolved at read time, as the counts resolve it
    with engine.begin() as c:
        a, b = [t.id for t in analysis.load_topics(c, "complaint") if t.status == "active"][:2]
        analysis.set_merged_into(c, a, b)
    merged = full()
    assert merged != moved
    assert kept(w - 3) == merged
