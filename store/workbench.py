"""Reads of the web workbench (``voc web``): analysed weeks, the rendered files, a cell's counts and
its tickets. Read-only; the pages that use them are in ``voc/web``.

A *cell* (:class:`CellFilter`) is what a surge counts, as ``report_queries.cell_history`` counts it:
intents, a topic or a theme's topics (merge-resolved, as ``weekly_counts`` holds them), a product,
model and batch, and optionally only the safety tickets. :func:`cell_tickets` lists exactly the
tickets behind those counts, and only their redacted fields: never the body, subject, raw resolution,
agent, region or source id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from voc.store.analysis import SurgeRow
from voc.store.models import Assignment, BriefRendered, StageRun, Surge, Topic, WeeklyCount
from voc.store.models import TicketRow as TR

T = TR.__table__
A = Assignment.__table__
TICKET_EXPORT_MAX = 100_000  # rows of one CSV export


@dataclass(frozen=True)
class CellFilter:
    """What a surge counts (``reports.assembly.Series`` without its weeks)."""

    intents: tuple[str, ...]
    topics: int | tuple[int, ...] | None  # one topic, a theme's topics (empty: none), None: all
    product: str | None = None
    model: str | None = None
    batch: str | None = None
    safety_only: bool = False

    def narrowed(self, product: str | None, model: str | None, batch: str | None) -> CellFilter | None:
        """The cell within a product/model/batch chosen on the page; None when it contradicts the cell
        (a batch of another product's cell holds none of its tickets)."""
        chosen = {"product": product, "model": model, "batch": batch}
        for name, value in chosen.items():
            mine = getattr(self, name)
            if value and mine and mine != value:
                return None
        return replace(
            self, product=product or self.product, model=model or self.model, batch=batch or self.batch
        )


def analysed_weeks(conn: Connection) -> list[int]:
    """Every week surge detection ran for (a ``surges`` stage run, or stored flagged cells), latest first."""
    ran = set(conn.execute(select(StageRun.week).where(StageRun.stage == "surges")).scalars())
    ran |= set(conn.execute(select(Surge.week).distinct()).scalars())
    return sorted(ran, reverse=True)


def surges_of_weeks(conn: Connection, weeks: Sequence[int]) -> dict[int, list[SurgeRow]]:
    """The flagged cells of these weeks, smallest q first (``analysis.load_surges`` for many weeks)."""
    out: dict[int, list[SurgeRow]] = {w: [] for w in weeks}
    if not weeks:
        return out
    q = select(Surge.__table__).where(Surge.week.in_(list(weeks))).order_by(Surge.week, Surge.q, Surge.id)
    for r in conn.execute(q):
        out[r.week].append(SurgeRow(**r._mapping))
    return out


@dataclass(frozen=True)
class FlaggedWeek:
    """A week the same cell (level and cell key) was flagged in, with what detection expected."""

    week: int
    observed: int
    expected: float
    ratio_lo: float
    ratio_hi: float


def flagged_weeks(conn: Connection, level: str, cell: str) -> dict[int, FlaggedWeek]:
    q = select(Surge.week, Surge.observed, Surge.expected, Surge.ratio_lo, Surge.ratio_hi).where(
        Surge.level == level, Surge.cell == cell
    )
    return {r.week: FlaggedWeek(*r) for r in conn.execute(q)}


@dataclass(frozen=True)
class RenderedFile:
    """The latest recorded file of a brief or review in one language and format."""

    kind: str  # weekly | review
    period: str  # 2026-W47 | 2026-Q4
    lang: str
    fmt: str  # html | md | pdf
    path: str
    created_at: datetime


def rendered_files(
    conn: Connection, kind: str | None = None, period: str | None = None
) -> list[RenderedFile]:
    """The latest record of each (kind, period, lang, format), by period then language and format."""
    b = BriefRendered
    q = select(b.kind, b.period, b.lang, b.fmt, b.path, b.created_at).order_by(b.id)
    if kind:
        q = q.where(b.kind == kind)
    if period:
        q = q.where(b.period == period)
    latest: dict[tuple[str, str, str, str], RenderedFile] = {}
    for r in conn.execute(q):
        latest[(r.kind, r.period, r.lang, r.fmt)] = RenderedFile(*r)
    return sorted(latest.values(), key=lambda f: (f.kind, f.period, f.lang, f.fmt))


def _topic_filter(q: Any, column: Any, topics: int | tuple[int, ...] | None) -> Any:
    if isinstance(topics, int):
        return q.where(column == topics)
    if topics is not None:
        return q.where(column.in_(list(topics)))
    return q


@dataclass(frozen=True)
class CellCount:
    week: int
    topic_id: int
    product: str  # '' when unknown, as weekly_counts stores it
    model: str
    batch: str
    n: int


def cell_counts(conn: Connection, cell: CellFilter, from_week: int, until_week: int) -> list[CellCount]:
    """The cell's counts per week × topic × product × model × batch (``weekly_counts``: its sum per
    week is ``report_queries.cell_history``)."""
    W = WeeklyCount
    n = W.n_safety if cell.safety_only else W.n
    q = (
        select(W.week, W.topic_id, W.product, W.model, W.batch, func.sum(n))
        .where(W.intent.in_(list(cell.intents)), W.week >= from_week, W.week <= until_week)
        .group_by(W.week, W.topic_id, W.product, W.model, W.batch)
        .having(func.sum(n) > 0)  # a safety cell's rows are mostly zeros: not sent
    )
    q = _topic_filter(q, W.topic_id, cell.topics)
    for col, v in ((W.product, cell.product), (W.model, cell.model), (W.batch, cell.batch)):
        if v:
            q = q.where(col == v)
    return [CellCount(int(w), int(t), p, m, b, int(k)) for w, t, p, m, b, k in conn.execute(q) if k]


@dataclass(frozen=True)
class TicketView:
    """A ticket as the workbench shows it: redacted text and codes only."""

    id: int
    week: int
    closed_at: datetime  # event_at: the close time (else the creation time)
    channel: str | None
    product: str | None
    model: str | None
    batch: str | None
    intent: str | None
    severity: str | None
    lang: str | None
    text: str | None  # text_clean: normalised and redacted
    resolution: str | None  # resolution_clean: redacted


def _tickets_query(cell: CellFilter, from_week: int, until_week: int, columns: Sequence[Any]) -> Any:
    topic = func.coalesce(Topic.merged_into, A.c.topic_id)
    q = (
        select(*columns)
        .select_from(T.join(A, A.c.ticket_id == T.c.id).outerjoin(Topic.__table__, Topic.id == A.c.topic_id))
        .where(T.c.intent.in_(list(cell.intents)), T.c.week >= from_week, T.c.week <= until_week)
    )
    q = _topic_filter(q, topic, cell.topics)
    for col, v in ((T.c.product_n, cell.product), (T.c.model_n, cell.model), (T.c.batch_n, cell.batch)):
        if v:
            q = q.where(col == v)
    if cell.safety_only:
        q = q.where(T.c.severity == "safety")
    return q


_VIEW = (
    T.c.id,
    T.c.week,
    T.c.event_at,
    T.c.channel,
    T.c.product_n,
    T.c.model_n,
    T.c.batch_n,
    T.c.intent,
    T.c.severity,
    T.c.lang,
    T.c.text_clean,
    T.c.resolution_clean,
)


def count_cell_tickets(conn: Connection, cell: CellFilter, from_week: int, until_week: int) -> int:
    return int(conn.execute(_tickets_query(cell, from_week, until_week, [func.count()])).scalar_one())


def cell_tickets(
    conn: Connection, cell: CellFilter, from_week: int, until_week: int, *, limit: int, offset: int = 0
) -> list[TicketView]:
    """The cell's tickets of weeks ``from_week..until_week``, latest first."""
    q = (
        _tickets_query(cell, from_week, until_week, _VIEW)
        .order_by(T.c.event_at.desc(), T.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [TicketView(*r) for r in conn.execute(q)]


def iter_cell_tickets(
    conn: Connection, cell: CellFilter, from_week: int, until_week: int, limit: int = TICKET_EXPORT_MAX
) -> Iterator[TicketView]:
    """Like :func:`cell_tickets`, all of them (up to ``limit``), for an export."""
    q = (
        _tickets_query(cell, from_week, until_week, _VIEW)
        .order_by(T.c.event_at.desc(), T.c.id.desc())
        .limit(limit)
    )
    for r in conn.execute(q):
        yield TicketView(*r)


# --- the topics page ----------------------------------------------------------------------------------


def topic_sizes(conn: Connection) -> dict[int, int]:
    """Tickets per topic over every counted week (``weekly_counts``, all intents: merge-resolved as
    counted, so a merged topic's tickets count for its target from the next counts on). The counts
    table, not the assignments: a few thousand rows instead of every ticket."""
    W = WeeklyCount
    return {
        int(t): int(n or 0) for t, n in conn.execute(select(W.topic_id, func.sum(W.n)).group_by(W.topic_id))
    }


def topic_weeks(conn: Connection, from_week: int, until_week: int) -> dict[int, dict[int, int]]:
    """Topic -> week -> tickets (``weekly_counts``, all intents, merge-resolved as counted)."""
    W = WeeklyCount
    q = (
        select(W.topic_id, W.week, func.sum(W.n))
        .where(W.week >= from_week, W.week <= until_week)
        .group_by(W.topic_id, W.week)
    )
    out: dict[int, dict[int, int]] = {}
    for t, w, n in conn.execute(q):
        out.setdefault(int(t), {})[int(w)] = int(n or 0)
    return out


def last_counted_week(conn: Connection) -> int | None:
    return conn.execute(select(func.max(WeeklyCount.week))).scalar()


def topic_tickets(
    conn: Connection, topic_id: int, *, limit: int, offset: int = 0
) -> tuple[int, list[TicketView]]:
    """(how many, a page of) the tickets assigned to this topic itself (not those of topics merged
    into it), latest first: redacted fields only, as :class:`TicketView`."""
    where = A.c.topic_id == topic_id
    total = conn.execute(select(func.count()).select_from(A).where(where)).scalar_one()
    q = (
        select(*_VIEW)
        .select_from(T.join(A, A.c.ticket_id == T.c.id))
        .where(where)
        .order_by(T.c.event_at.desc(), T.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total), [TicketView(*r) for r in conn.execute(q)]
