"""Aggregating queries behind briefs and reviews: the database does the counting."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection, case, func, select

from voc.store import kpis
from voc.store.binds import chunks
from voc.store.kpis import CLOSED_24H, FCR, REOPENED, TIMED, TRANSFERRED
from voc.store.models import ActionItemRow, AlertSent, Assignment, Topic, WeeklyCount
from voc.store.models import TicketRow as TR

T = TR.__table__
A = Assignment.__table__


# The service KPIs' definitions live in store/kpis.py (the brief's weekly rates and the review's
# per-team sums both count them); kpi_rows reads their weekly sums.
kpi_rows = kpis.kpi_rows


def cell_history(
    conn: Connection,
    intent: str | Sequence[str],
    topic_id: int | Sequence[int] | None,
    product: str | None,
    model: str | None,
    batch: str | None,
    from_week: int,
    until_week: int,
    *,
    safety_only: bool = False,
) -> dict[int, int]:
    """Weekly counts of one cell: an intent (or several), a topic (or a theme's topics), a product,
    model and batch when given; ``safety_only`` counts the safety-severity tickets only."""
    intents = [intent] if isinstance(intent, str) else list(intent)
    n = WeeklyCount.n_safety if safety_only else WeeklyCount.n
    q = select(WeeklyCount.week, func.sum(n)).where(
        WeeklyCount.intent.in_(intents), WeeklyCount.week >= from_week, WeeklyCount.week <= until_week
    )
    if isinstance(topic_id, int):
        q = q.where(WeeklyCount.topic_id == topic_id)
    elif topic_id is not None:
        q = q.where(WeeklyCount.topic_id.in_(list(topic_id)))
    for col, v in ((WeeklyCount.product, product), (WeeklyCount.model, model), (WeeklyCount.batch, batch)):
        if v:
            q = q.where(col == v)
    return {w: int(n) for w, n in conn.execute(q.group_by(WeeklyCount.week))}


class CellSpec(Protocol):
    """The arguments of one :func:`cell_history` (``reports.assembly.Series`` is one)."""

    @property
    def intents(self) -> tuple[str, ...]: ...
    @property
    def topics(self) -> int | tuple[int, ...] | None: ...
    @property
    def product(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def safety_only(self) -> bool: ...


C = TypeVar("C", bound=CellSpec)


def cell_histories(conn: Connection, cells: Iterable[C]) -> dict[C, dict[int, int]]:
    """:func:`cell_history` of every cell in one read: the weekly counts rows of all of them (their
    weeks, intents and topics), summed per cell here. The same answers, one statement instead of one
    per cell (the brief asks for ~40 cells over the same 12 weeks)."""
    cells = list(dict.fromkeys(cells))
    if not cells:
        return {}
    W = WeeklyCount
    # summed over the product, model and batch when no cell asks for one (most cells are whole topics)
    keys = [W.week, W.intent, W.topic_id] + [
        col
        for col, name in ((W.product, "product"), (W.model, "model"), (W.batch, "batch"))
        if any(getattr(c, name) for c in cells)
    ]
    q = (
        select(*keys, func.sum(W.n).label("n"), func.sum(W.n_safety).label("n_safety"))
        .where(
            W.intent.in_(sorted({i for c in cells for i in c.intents})),
            W.week >= min(c.first for c in cells),
            W.week <= max(c.last for c in cells),
        )
        .group_by(*keys)
    )
    if all(c.topics is not None for c in cells):
        q = q.where(W.topic_id.in_(sorted({t for c in cells for t in _topic_ids(c.topics)})))
    rows = conn.execute(q).all()
    by_topic: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        by_topic[r.topic_id].append(r)
    out: dict[C, dict[int, int]] = {}
    for c in cells:
        candidates = (
            rows if c.topics is None else [r for t in _topic_ids(c.topics) for r in by_topic.get(t, ())]
        )
        series: dict[int, int] = {}
        for r in candidates:
            if (
                r.intent in c.intents
                and c.first <= r.week <= c.last
                and (not c.product or r.product == c.product)
                and (not c.model or r.model == c.model)
                and (not c.batch or r.batch == c.batch)
            ):
                series[r.week] = series.get(r.week, 0) + ((r.n_safety if c.safety_only else r.n) or 0)
        out[c] = series
    return out


def _topic_ids(topics: int | Sequence[int] | None) -> list[int]:
    """A cell's topics as :func:`cell_history` reads them (distinct: ``IN`` counts a row once)."""
    if topics is None:
        return []
    return [topics] if isinstance(topics, int) else list(dict.fromkeys(topics))


def cell_topics(
    conn: Connection,
    week: int,
    product: str | None,
    batch: str | None,
    intents: Sequence[str] = ("complaint",),
    *,
    safety_only: bool = False,
) -> dict[int, int]:
    """Tickets per topic of one product (and batch) in a week: what a product-level cell is about
    (``safety_only``: its safety-severity tickets)."""
    n = WeeklyCount.n_safety if safety_only else WeeklyCount.n
    q = (
        select(WeeklyCount.topic_id, func.sum(n))
        .where(WeeklyCount.intent.in_(list(intents)), WeeklyCount.week == week)
        .group_by(WeeklyCount.topic_id)
    )
    if product:
        q = q.where(WeeklyCount.product == product)
    if batch:
        q = q.where(WeeklyCount.batch == batch)
    return {int(t): int(k) for t, k in conn.execute(q) if k}


def topic_counts(conn: Connection, intent: str, week: int) -> dict[int, int]:
    q = (
        select(WeeklyCount.topic_id, func.sum(WeeklyCount.n))
        .where(WeeklyCount.intent == intent, WeeklyCount.week == week)
        .group_by(WeeklyCount.topic_id)
    )
    return {t: int(n) for t, n in conn.execute(q)}


def _members(conn: Connection, topic_id: int) -> list[int]:
    """The topic and every topic merged into it (their tickets count as the topic's)."""
    merged = (
        conn.execute(select(Topic.id).where(Topic.merged_into == topic_id).order_by(Topic.id)).scalars().all()
    )
    return [topic_id, *merged]


def members_of(conn: Connection, topic_ids: Collection[int]) -> dict[int, list[int]]:
    """:func:`_members` of each topic, in one read."""
    merged: dict[int, list[int]] = {t: [] for t in topic_ids}
    if merged:
        for tid, into in conn.execute(
            select(Topic.id, Topic.merged_into)
            .where(Topic.merged_into.in_(sorted(merged)))
            .order_by(Topic.id)
        ):
            merged[into].append(tid)
    return {t: [t, *m] for t, m in merged.items()}


def quotes(
    conn: Connection,
    topic_id: int,
    week_from: int,
    week_to: int,
    product: str | None = None,
    batch: str | None = None,
    k: int = 3,
    candidates: int = 60,
    *,
    safety_only: bool = False,
) -> list[tuple[str, str]]:
    """Up to k redacted quotes: the most typical first, then ones unlike those already chosen.
    ``safety_only``: of its safety-severity complaints and questions only (a safety cell's quotes).

    Walks the (topic, similarity) index from the top, so a topic with 10k tickets a week costs
    no sort: the first matching candidates are the most typical ones.
    """
    rows: list[Any] = []
    # one query per member topic: "topic_id = x ORDER BY similarity" walks the index; with
    # "topic_id IN (...)" PostgreSQL scans the weeks and sorts instead (45 ms vs 1 ms a quote set).
    # Equal similarities (near-identical texts) are common: ties go by ticket id, latest first (the
    # order SQLite's index walk gives anyway; PostgreSQL's sort left it undefined)
    for member in _members(conn, topic_id):
        q = (
            select(T.c.text_clean, T.c.lang, A.c.similarity)
            .select_from(A.join(T, A.c.ticket_id == T.c.id))
            .where(
                A.c.topic_id == member,
                T.c.week >= week_from,
                T.c.week <= week_to,
                T.c.text_clean.is_not(None),
                func.length(T.c.text_clean) >= 6,
            )
            .order_by(A.c.similarity.desc(), A.c.ticket_id.desc())
            .limit(candidates)
        )
        if product:
            q = q.where(T.c.product_n == product)
        if batch:
            q = q.where(T.c.batch_n == batch)
        if safety_only:
            q = q.where(T.c.severity == "safety", T.c.intent.in_(SAFETY_INTENTS))
        rows += conn.execute(q).all()
    return _pick_quotes(rows, k, candidates)


def _pick_quotes(rows: list[Any], k: int, candidates: int) -> list[tuple[str, str]]:
    """The quotes among ``rows`` (text, lang, similarity), as :func:`quotes` picks them."""
    rows.sort(key=lambda r: -(r[2] or 0.0))
    chosen: list[tuple[str, str]] = []
    grams: list[set[str]] = []
    for text, lang, _ in rows[:candidates]:
        g = {text[i : i + 2] for i in range(len(text) - 1)}
        if any(len(g & h) / max(1, len(g | h)) > 0.45 for h in grams):
            continue
        chosen.append((text[:280], lang or ""))
        grams.append(g)
        if len(chosen) == k:
            break
    return chosen


class QuoteSpec(Protocol):
    """The arguments of one :func:`quotes` (``reports.assembly.Quotes`` is one)."""

    @property
    def topic(self) -> int: ...
    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def product(self) -> str | None: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def safety_only(self) -> bool: ...


Q = TypeVar("Q", bound=QuoteSpec)
# the intents a safety cell counts (surges.cells: product×safety / safety count complaints and questions)
SAFETY_INTENTS = ("complaint", "question")


def quote_sets(
    conn: Connection, specs: Iterable[Q], k: int = 3, candidates: int = 60
) -> dict[Q, list[tuple[str, str]]]:
    """:func:`quotes` of every spec in two reads: the merged topics, then the candidate tickets of all
    the topics in the specs' weeks (the brief's quote sets are all of one week), ordered and filtered
    here as :func:`quotes` orders them (similarity descending, then ticket id descending)."""
    specs = list(dict.fromkeys(specs))
    if not specs:
        return {}
    members = members_of(conn, {s.topic for s in specs})
    weeks = (T.c.week >= min(s.first for s in specs), T.c.week <= max(s.last for s in specs))
    # "ticket_id IN (the weeks' tickets)" starts from the week index on both databases; with the join
    # alone SQLite (no statistics) walks every week of each topic's assignments instead (75 vs 6 ms on
    # 100k tickets)
    # the texts are read afterwards for the candidates only: a week's tickets of the quoted topics are
    # thousands of rows on a large store (15,870 on 1M tickets), their texts most of the read's cost
    q = (
        select(
            A.c.topic_id,
            A.c.ticket_id,
            A.c.similarity,
            T.c.week,
            T.c.product_n,
            T.c.batch_n,
            ((T.c.severity == "safety") & T.c.intent.in_(SAFETY_INTENTS)).label("safety"),
        )
        .select_from(A.join(T, A.c.ticket_id == T.c.id))
        .where(
            A.c.topic_id.in_(sorted({m for ms in members.values() for m in ms})),
            A.c.ticket_id.in_(select(T.c.id).where(*weeks)),
            *weeks,
            T.c.text_clean.is_not(None),
            func.length(T.c.text_clean) >= 6,
        )
    )
    by_topic: dict[int, list[Any]] = defaultdict(list)
    for r in conn.execute(q):
        by_topic[r.topic_id].append(r)
    for rows in by_topic.values():
        rows.sort(key=lambda r: (r.similarity is not None, r.similarity or 0.0, r.ticket_id), reverse=True)
    walked: dict[Q, list[Any]] = {}
    for s in specs:
        walked[s] = []
        for member in members[s.topic]:
            walk = (
                r
                for r in by_topic.get(member, ())
                if s.first <= r.week <= s.last
                and (not s.product or r.product_n == s.product)
                and (not s.batch or r.batch_n == s.batch)
                and (not s.safety_only or r.safety)
            )
            walked[s] += islice(walk, candidates)
    texts: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted({r.ticket_id for rows in walked.values() for r in rows})):
        for tid, text, lang in conn.execute(
            select(T.c.id, T.c.text_clean, T.c.lang).where(T.c.id.in_(chunk))
        ):
            texts[tid] = (text, lang)
    return {
        s: _pick_quotes([(*texts[r.ticket_id], r.similarity) for r in rows], k, candidates)
        for s, rows in walked.items()
    }


def workaround(conn: Connection, topic_id: int, week_from: int, week_to: int) -> str | None:
    """The most frequent (redacted) resolution in the topic: what agents already do that works."""
    q = (
        select(T.c.resolution_clean)
        .select_from(A.join(T, A.c.ticket_id == T.c.id))
        .where(
            A.c.topic_id.in_(_members(conn, topic_id)),
            T.c.week >= week_from,
            T.c.week <= week_to,
            T.c.resolution_clean.is_not(None),
        )
        .limit(2000)
    )
    c = Counter(r[0].strip() for r in conn.execute(q) if r[0] and r[0].strip())
    if not c:
        return None
    text, n = c.most_common(1)[0]
    return text[:300] if n >= 2 else None


@dataclass(frozen=True)
class ActionRecord:
    """An action item: who fixes what (a topic, or a product and batch), by when, and when it shipped."""

    id: int
    topic_id: int | None
    product: str | None
    batch: str | None
    owner: str
    status: str  # open | doing | done
    due: date | None
    fix_date: date | None
    note: str
    created_at: datetime
    updated_at: datetime


def actions(conn: Connection) -> list[ActionRecord]:
    """Every action item, by id."""
    a = ActionItemRow
    q = select(
        a.id,
        a.topic_id,
        a.product,
        a.batch,
        a.owner,
        a.status,
        a.due,
        a.fix_date,
        a.note,
        a.created_at,
        a.updated_at,
    ).order_by(a.id)
    return [ActionRecord(*r) for r in conn.execute(q)]


class FailedAlert(NamedTuple):
    """An alert send that failed for good or whose outcome is unknown (the brief lists them)."""

    channel: str
    recipient: str
    error: str | None


def failed_alerts(conn: Connection, from_week: int) -> list[FailedAlert]:
    q = select(AlertSent.channel, AlertSent.recipient, AlertSent.error).where(
        AlertSent.status.in_(["failed", "unknown"]), AlertSent.week >= from_week
    )
    return [FailedAlert(*r) for r in conn.execute(q)]


def weekly_totals(
    conn: Connection, from_week: int, until_week: int, intent: str | None = None
) -> dict[int, int]:
    q = select(T.c.week, func.count()).where(T.c.week >= from_week, T.c.week <= until_week)
    if intent:
        q = q.where(T.c.intent == intent)
    return {w: int(n) for w, n in conn.execute(q.group_by(T.c.week))}


@dataclass(frozen=True)
class AgentKpiSums:
    """One week × agent × channel: tickets and the numerators / denominators of the service KPIs."""

    week: int
    agent: str | None
    channel: str | None
    n: int  # tickets
    fcr: int  # never reopened nor transferred
    timed: int  # with a close time
    h24: int  # closed within 24 h
    reopen: int
    transfer: int


def kpi_sums_by_agent(conn: Connection, from_week: int, until_week: int) -> list[AgentKpiSums]:
    """Per week × agent × channel: ticket count and the numerators/denominators of the service KPIs."""

    def n(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    q = (
        select(
            T.c.week,
            T.c.agent,
            T.c.channel,
            func.count().label("n"),
            n(FCR).label("fcr"),
            n(TIMED).label("timed"),
            n(CLOSED_24H).label("h24"),
            n(REOPENED).label("reopen"),
            n(TRANSFERRED).label("transfer"),
        )
        .where(T.c.week >= from_week, T.c.week <= until_week)
        .group_by(T.c.week, T.c.agent, T.c.channel)
    )
    return [
        AgentKpiSums(int(r.week), r.agent, r.channel, *(int(v or 0) for v in r[3:])) for r in conn.execute(q)
    ]
