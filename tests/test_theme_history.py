"""The theme profiles kept in the store per week (flows.topic_stage.theme_topics) equal a read of every
ticket: cold, warm, after an earlier week changed, and after a weekly update that moved tickets of
earlier weeks into new topics (the moves applied to the kept sums instead of reading the weeks again)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from tests.conftest import understood_sample
from voc.flows.topic_stage import AssignmentChanges, Move, catalogue_terms, theme_topics, update_topics
from voc.nlp.theme_sums import ThemeSums, kept_weeks
from voc.nlp.themes import default_concepts
from voc.store import analysis
from voc.store import themes as theme_store
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
            list(t.profile.items()),  # in order: the theme layer's matrices take their columns so
            list(t.coverage.items()),
            list(t.products.items()),
            None if t.centroid is None else t.centroid.tobytes(),
        )
        for t in topics
    ]


def _first_ticket(c, week: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    T, A = TicketRow.__table__, Assignment.__table__
    return c.execute(
        select(A.c.ticket_id, A.c.topic_id)
        .select_from(A.join(T, T.c.id == A.c.ticket_id))
        .where(T.c.week == week)
        .order_by(A.c.ticket_id)
        .limit(1)
    ).one()


def _stored_weeks(c) -> set[int]:  # type: ignore[no-untyped-def]
    blob = analysis.get_artifact(c, theme_store.THEME_HISTORY)
    return {int(k) for k in json.loads(blob)["weeks"]}


def test_kept_theme_sums_equal_a_full_read(engine, tmp_path: Path) -> None:
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK.shift(-1))
    update_topics(engine, cfg, WEEK)
    terms, w = catalogue_terms(cfg), WEEK.ordinal()

    def full() -> list[tuple]:
        with engine.connect() as c:
            return _key(theme_topics(c, w, terms, default_concepts()))

    def kept(changes: AssignmentChanges | None = None) -> list[tuple]:
        with engine.begin() as c:
            return _key(theme_topics(c, w, terms, changes=changes))

    expected = full()
    assert len(expected) > 3
    assert kept() == expected  # as the weekly update left them
    assert kept() == expected  # again, from the store
    with engine.begin() as c:
        analysis.put_artifact(c, theme_store.THEME_HISTORY, b"{}")
    assert kept() == expected  # cold: every week read
    # a ticket of an earlier week moves to another topic (a refit does that): that week read again
    with engine.begin() as c:
        tid, topic = _first_ticket(c, w - 8)
        other = next(t.id for t in analysis.load_topics(c) if t.id != topic and t.status == "active")
        analysis.reassign(c, [tid], other, [0.5])
    moved = full()
    assert moved != expected
    assert kept() == moved
    # a topic merged into another: resolved at read time, as the counts resolve it
    with engine.begin() as c:
        a, b = [t.id for t in analysis.load_topics(c, "complaint") if t.status == "active"][:2]
        analysis.set_merged_into(c, a, b)
    merged = full()
    assert merged != moved
    assert kept() == merged


def test_reported_moves_are_applied_to_the_kept_sums_without_reading_the_week(engine, tmp_path: Path) -> None:
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK.shift(-1))
    update_topics(engine, cfg, WEEK)
    terms, w = catalogue_terms(cfg), WEEK.ordinal()
    with engine.begin() as c:
        theme_topics(c, w, terms)  # the kept sums hold every week
        before = theme_store.week_fingerprints(c, w + 1)
        moves = []
        for wk in (w - 8, w - 4):
            tid, topic = _first_ticket(c, wk)
            other = next(t.id for t in analysis.load_topics(c) if t.id != topic and t.status == "active")
            analysis.reassign(c, [tid], other, [0.5])
            moves.append(Move(tid, wk, topic, other))
    with engine.connect() as c:
        expected = _key(theme_topics(c, w, terms, default_concepts()))
    read: list[list[int]] = []
    original = theme_store.assigned_rows_of_weeks

    def spy(conn, weeks):  # type: ignore[no-untyped-def]
        read.append(sorted(weeks))
        return original(conn, weeks)

    theme_store.assigned_rows_of_weeks = spy  # type: ignore[assignment]
    try:
        with engine.begin() as c:
            got = _key(theme_topics(c, w, terms, changes=AssignmentChanges(before, moves=moves)))
    finally:
        theme_store.assigned_rows_of_weeks = original  # type: ignore[assignment]
    assert got == expected
    assert read == [[]]  # no week read again: the two moves were applied to the kept sums
    with engine.connect() as c:
        assert {w - 8, w - 4} <= _stored_weeks(c)
        assert _key(theme_topics(c, w, terms)) == expected  # and stored with the weeks' new digests


def test_the_weekly_update_keeps_sums_that_equal_a_full_read(engine, tmp_path: Path) -> None:
    """Three weekly updates in a row, each bringing the kept sums up to date with what it assigned and
    moved; after each, the stored sums are what a read of every ticket gives."""
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    terms = catalogue_terms(cfg)
    update_topics(engine, cfg, WEEK.shift(-3))
    moved = 0
    for k in (2, 1, 0):
        summary = update_topics(engine, cfg, WEEK.shift(-k))
        moved += sum(summary.split.values())
        w = WEEK.shift(-k).ordinal()
        with engine.connect() as c:
            assert _key(theme_topics(c, w, terms)) == _key(theme_topics(c, w, terms, default_concepts()))
    assert moved > 0  # the updates did move earlier tickets into new topics


def test_theme_sums_subtract_what_they_added() -> None:
    a = ThemeSums(3, 1, Counter(x=3, y=1), Counter(x=2), Counter(p=3))
    b = ThemeSums(1, 1, Counter(x=1, y=1), Counter(x=1), Counter(p=1))
    a.sub(b)
    assert a.dump() == [2, 0, {"x": 2}, {"x": 1}, {"p": 2}]
    a.add(b)
    assert a.dump() == [3, 1, {"x": 3, "y": 1}, {"x": 2}, {"p": 3}]


def test_a_week_is_kept_only_while_its_digest_held_and_nothing_of_it_was_assigned() -> None:
    stored = {1: [1.0], 2: [2.0], 3: [3.0], 4: [4.0]}
    before = {1: [1.0], 2: [2.5], 3: [3.0], 5: [5.0]}  # 2 changed since stored, 4 emptied, 5 new
    assert kept_weeks(stored, before, read_again={3}) == {1}
