"""The brief's evidence read in batches (issue #17: the week page): ``brief_stage.answers`` answers all
the series in one read and all the quote sets in three, and its answers equal the one-by-one
``brief_stage.answer`` of every query, on the real store of the web tests (generated tickets through
ingest, understanding, topics, counts and surges; SQLite and PostgreSQL): the brief's own queries,
then every kind of cell and quote set over its topics, products, batches and themes, with a topic
merged into another."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, text, update

from tests import test_web
from tests.test_web import TODAY, WEEK, Store
from voc.flows import brief_stage
from voc.reports import assembly
from voc.reports.assembly import CellTopics, Query, Quotes, Series, Workaround
from voc.store import themes
from voc.store.models import Topic, WeeklyCount

store = test_web.store  # the same real store, built anew for this module (SQLite and PostgreSQL)


def _one_by_one(conn: Connection, queries: set[Query]) -> dict[Query, Any]:
    return {q: brief_stage.answer(conn, q) for q in queries}


@contextmanager
def _statements(conn: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", count)


def _brief_queries(conn: Connection, store: Store) -> tuple[set[Query], set[Query]]:
    facts = brief_stage.load_brief_facts(conn, store.cfg, WEEK, TODAY)
    about = assembly.about_queries(facts.surge)
    plan = assembly.plan_brief(facts, _one_by_one(conn, about))
    return about, plan.queries()


def test_the_briefs_answers_in_batches_equal_the_one_by_one_answers(store: Store) -> None:
    with store.engine.connect() as conn:
        about, queries = _brief_queries(conn, store)
        kinds = {type(q) for q in queries}
        assert {Series, Quotes, Workaround} <= kinds and len(queries) > 20
        assert len({q.topics for q in queries if isinstance(q, Series)}) > 5
        assert any(q.product for q in queries if isinstance(q, Quotes))
        for qs in (about, queries):
            assert brief_stage.answers(conn, qs) == _one_by_one(conn, qs)
        assert any(brief_stage.answers(conn, queries)[q] for q in queries if isinstance(q, Quotes))

        with _statements(conn) as batched:
            brief_stage.answers(conn, queries)
        with _statements(conn) as one:
            _one_by_one(conn, queries)
        # one read per shape of series (which of topic, product, model, batch it names), three for the
        # quote sets (merged topics, candidates, the candidates' texts); workarounds as before (two each)
        shapes = {
            (q.topics is not None, bool(q.product), bool(q.model), bool(q.batch))
            for q in queries
            if isinstance(q, Series)
        }
        assert 1 < len(shapes) <= 4
        workarounds = sum(isinstance(q, Workaround | CellTopics) for q in queries)
        assert len(batched) <= len(shapes) + 3 + 2 * workarounds < len(one)


def _every_cell(conn: Connection) -> tuple[set[Query], list[int]]:
    """Series and quote sets over every topic, product, batch and theme the store counts, of both
    kinds of week range the brief asks (12 weeks, the last one), with and without a product, batch or
    model, the safety counts and safety quotes, whole products (no topic) and an empty theme."""
    w = WEEK.ordinal()
    cells = conn.execute(
        select(WeeklyCount.topic_id, WeeklyCount.product, WeeklyCount.model, WeeklyCount.batch)
        .where(WeeklyCount.week == w)
        .distinct()
    ).all()
    topics = sorted({c.topic_id for c in cells})
    theme_topics = [tuple(t.topic_ids) for t in themes.load_themes(conn)][:4]
    out: set[Query] = set()
    for first in (w - 11, w):
        for t in topics:
            out |= {
                Series(("complaint",), t, None, None, None, first, w),
                Series(("suggestion",), t, None, None, None, first, w),
                Series(("complaint", "question"), t, None, None, None, first, w, safety_only=True),
                Quotes(t, first, w),
                Quotes(t, first, w, safety_only=True),
            }
        for c in cells[:40]:
            out |= {
                Series(
                    ("complaint",), c.topic_id, c.product or None, c.model or None, c.batch or None, first, w
                ),
                Series(("complaint", "question"), None, c.product or None, None, c.batch or None, first, w),
                Series(
                    ("complaint", "question"), None, c.product or None, None, None, first, w, safety_only=True
                ),
                Quotes(c.topic_id, first, w, c.product or None, c.batch or None),
                Quotes(c.topic_id, first, w, c.product or None, None),
                Quotes(c.topic_id, first, w, c.product or None, None, safety_only=True),
            }
        for tt in [*theme_topics, (), tuple(topics[:3])]:
            out.add(Series(("complaint", "question"), tt, None, None, None, first, w))
            out.add(Series(("complaint", "question"), tt, cells[0].product or None, None, None, first, w))
    return out, topics


def test_every_kind_of_cell_in_batches_equals_one_by_one(store: Store) -> None:
    with store.engine.connect() as conn:
        queries, topics = _every_cell(conn)
        assert len(queries) > 100
        batched = brief_stage.answers(conn, queries)
        assert batched == _one_by_one(conn, queries)
        assert sum(bool(v) for v in batched.values()) > len(queries) // 2  # most cells have answers
    # a topic merged into another: its tickets count as the other's quotes (in a transaction rolled back)
    with store.engine.connect() as conn:
        keep, gone = topics[0], topics[1]
        conn.execute(update(Topic).where(Topic.id == gone).values(merged_into=keep, status="merged"))
        merged = {q for q in queries if isinstance(q, Quotes | Workaround) and q.topic in (keep, gone)}
        assert len(merged) > 4 and any(brief_stage.answers(conn, merged).values())
        assert brief_stage.answers(conn, merged) == _one_by_one(conn, merged)
        conn.rollback()


def test_a_safety_cells_quotes_are_its_safety_tickets(store: Store) -> None:
    """A safety cell quotes its safety-severity complaints and questions only, never the rest of its
    topic (the ⚠ item of an air fryer showed an error-code ticket of the same topic)."""
    w = WEEK.ordinal()
    with store.engine.connect() as conn:
        sev = {
            t[:280]: (s_, i)
            for t, s_, i in conn.execute(
                text(
                    "SELECT text_clean, severity, intent FROM tickets WHERE week = :w AND text_clean IS NOT NULL"
                ),
                {"w": w},
            )
        }
        rows = conn.execute(
            text(
                "SELECT a.topic_id, t.product_n, count(*) AS n,"
                " sum(CASE WHEN t.severity = 'safety' THEN 1 ELSE 0 END) AS s"
                " FROM assignments a JOIN tickets t ON t.id = a.ticket_id WHERE t.week = :w"
                " GROUP BY a.topic_id, t.product_n"
            ),
            {"w": w},
        ).all()
        mixed = [r for r in rows if 0 < r.s < r.n and r.product_n]
        assert mixed, "the store has a topic mixing safety and other tickets of a product"
        other_quoted = 0
        for r in mixed:
            safe = Quotes(r.topic_id, w, w, r.product_n, None, safety_only=True)
            plain = Quotes(r.topic_id, w, w, r.product_n, None)
            got = brief_stage.answers(conn, [safe, plain])
            assert got[safe] == _one_by_one(conn, [safe])[safe]
            assert all(sev[q][0] == "safety" and sev[q][1] in ("complaint", "question") for q, _ in got[safe])
            other_quoted += sum(sev[q][0] != "safety" for q, _ in got[plain])
        assert other_quoted, "without the filter, some of these quotes are not safety tickets"


def test_nothing_asked_reads_nothing(store: Store) -> None:
    with store.engine.connect() as conn:
        with _statements(conn) as seen:
            assert brief_stage.answers(conn, set()) == {}
        assert seen == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_brief_is_the_one_it_was(store: Store, lang: str) -> None:
    """The brief built on the batched answers is the brief built on the one-by-one answers."""
    with store.engine.connect() as conn:
        facts = brief_stage.load_brief_facts(conn, store.cfg, WEEK, TODAY)
        about = assembly.about_queries(facts.surge)
        plan = assembly.plan_brief(facts, _one_by_one(conn, about))
        one = assembly.assemble_brief(facts, plan, _one_by_one(conn, plan.queries()), lang)
        assert brief_stage.load_brief(conn, store.cfg, WEEK, TODAY).brief(lang) == one
        assert one.surges and one.top_topics


def test_the_kpis_come_from_the_weekly_sums_kept_with_the_counts(store: Store) -> None:
    """``kpi_rows`` reads ``weekly_kpis`` (refreshed by the counts stage) and equals the rates summed
    from the tickets themselves; a week missing from the sums is summed from its tickets."""
    from voc.store import kpis
    from voc.store.models import WeeklyKpi

    first, last = WEEK.ordinal() - 11, WEEK.ordinal()
    with store.engine.connect() as conn:
        kept = kpis.kpi_rows(conn, first, last)
        live = {
            r[0]: kpis._rates(dict(zip(("week", *kpis.SUMS), r, strict=True)))
            for r in conn.execute(kpis.sums_select((kpis.T.c.week >= first) & (kpis.T.c.week <= last)))
        }
        assert kept == live and len(kept) == 12
        assert kept[last]["tickets"] and 0 < (kept[last]["fcr_rate"] or 0) <= 1
        with _statements(conn) as seen:
            kpis.kpi_rows(conn, first, last)
        assert len(seen) == 1 and "weekly_kpis" in seen[0]  # every week kept: no ticket is read
    with store.engine.begin() as conn:  # a week whose sums are not kept is summed from its tickets
        conn.execute(WeeklyKpi.__table__.delete().where(WeeklyKpi.week == last))
    with store.engine.connect() as conn:
        with _statements(conn) as seen:
            assert kpis.kpi_rows(conn, first, last) == live
        assert len(seen) == 2 and "tickets" in seen[1]
    with store.engine.begin() as conn:
        kpis.refresh(conn, kpis.T.c.week == last, WeeklyKpi.week == last)
