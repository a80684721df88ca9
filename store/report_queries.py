"""Aggregating queries behind briefs and reviews: the database does the counting."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection, Select, case, func, literal, select, union_all

from voc.store import kpis
from voc.store.binds import chunks
from voc.store.kpis import CLOSED_24H, FCR, REOPENED, TIMED, TRANSFERRED
from voc.store.models import ActionItemRow, AlertSent, Assignment, Topic, WeeklyCount
from voc.store.models import TicketRow as TR
from voc.ticket import EVIDENCE_INTENTS

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
    """:func:`cell_history` of every cell in a few reads: one grouped read per *shape* of cell (which of
    topic, product, model and batch it names), summed by the database to those keys only, then per
    cell here. The same answers, a handful of statements instead of one per cell (the brief asks for
    ~40 cells over the same 12 weeks). Grouping each shape to its own keys matters on a large store:
    grouped by every key at once, the read returned 40k rows on 1M tickets, summed in Python (~93 ms
    of the week page)."""
    cells = list(dict.fromkeys(cells))
    out: dict[C, dict[int, int]] = {c: {} for c in cells}
    W = WeeklyCount
    shapes: dict[tuple[bool, ...], list[C]] = defaultdict(list)
    for c in cells:
        shapes[(c.topics is not None, bool(c.product), bool(c.model), bool(c.batch))].append(c)
    for (by_topic, *named), group in shapes.items():
        cols = [col for col, on in zip((W.product, W.model, W.batch), named, strict=True) if on]
        keys = [W.week, W.intent] + ([W.topic_id] if by_topic else []) + cols
        q = (
            select(*keys, func.sum(W.n).label("n"), func.sum(W.n_safety).label("n_safety"))
            .where(
                W.intent.in_(sorted({i for c in group for i in c.intents})),
                W.week >= min(c.first for c in group),
                W.week <= max(c.last for c in group),
            )
            .group_by(*keys)
        )
        if by_topic:
            q = q.where(W.topic_id.in_(sorted({t for c in group for t in _topic_ids(c.topics)})))
        for col in cols:
            q = q.where(col.in_(sorted({getattr(c, col.key) for c in group})))
        # rows by (topic or None, the named values): a cell reads only its own topics' rows
        rows: dict[tuple[Any, ...], list[tuple[int, str, int, int]]] = defaultdict(list)
        for r in conn.execute(q):
            key = (r.topic_id if by_topic else None, *r[2 + by_topic :][: len(cols)])
            rows[key].append((r.week, r.intent, r.n or 0, r.n_safety or 0))
        for c in group:
            values = tuple(getattr(c, col.key) for col in cols)
            series = out[c]
            for t in _topic_ids(c.topics) if by_topic else [None]:
                for week, intent, n, n_safety in rows.get((t, *values), ()):
                    if intent in c.intents and c.first <= week <= c.last:
                        series[week] = series.get(week, 0) + (n_safety if c.safety_only else n)
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


def _candidates(
    member: int,
    week_from: int,
    week_to: int,
    product: str | None,
    batch: str | None,
    safety_only: bool,
    candidates: int,
) -> Select[Any]:
    """One topic's most typical quotable tickets of the weeks (text, lang, similarity, ticket id),
    at most ``candidates``: an index walked from the top (see the week condition), so a topic with
    10k tickets a week costs no sort, and a week's other tickets are never read. Equal similarities
    (near-identical texts are common) go by ticket id, latest first, on both databases."""
    q = (
        select(T.c.text_clean, T.c.lang, A.c.similarity, A.c.ticket_id)
        .select_from(A.join(T, A.c.ticket_id == T.c.id))
        .where(
            A.c.topic_id == member,
            # one week (the brief's quotes): the (topic, week, similarity) index gives the order, no
            # sort; a range of weeks (the topics page's quote over a year): the (topic, similarity)
            # index walked from the top until enough tickets of those weeks are found
            *(
                (A.c.week == week_from,)
                if week_from == week_to
                else (T.c.week >= week_from, T.c.week <= week_to)
            ),
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
        q = q.where(
            T.c.severity == "safety", T.c.intent.in_(EVIDENCE_INTENTS)
        )  # as surges.cells counts a safety cell
    return q


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
    One read per member topic (a merged topic's tickets count as the topic's)."""
    rows: list[Any] = []
    for member in _members(conn, topic_id):
        q = _candidates(member, week_from, week_to, product, batch, safety_only, candidates)
        rows += [r[:3] for r in conn.execute(q)]
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


def quote_sets(
    conn: Connection, specs: Iterable[Q], k: int = 3, candidates: int = 60
) -> dict[Q, list[tuple[str, str]]]:
    """:func:`quotes` of every spec in two reads: the merged topics, then every (spec, member topic)
    walk of :func:`quotes` as one statement (``UNION ALL`` of the same limited reads, tagged). The
    brief asks ~46 quote sets; on a 1M-ticket SQLite store their walks take 13 ms, where the read of
    the week's every ticket (43,691) that this replaced took ~100 (see ``_candidates``)."""
    specs = list(dict.fromkeys(specs))
    if not specs:
        return {}
    members = members_of(conn, {s.topic for s in specs})
    walks = [(s, m) for s in specs for m in members[s.topic]]
    rows = _union_walks(conn, walks, candidates)
    out: dict[Q, list[Any]] = {s: [] for s in specs}
    for i, (s, _) in enumerate(walks):
        # each walk in its own order (a UNION ALL keeps no order of its parts' rows)
        walk = sorted(rows.get(i, []), key=lambda r: (r[2], r[3]), reverse=True)
        out[s] += [r[:3] for r in walk]
    return {s: _pick_quotes(r, k, candidates) for s, r in out.items()}


_Walk = tuple[QuoteSpec, int]  # a quote spec and one of its member topics


def _union_walks(conn: Connection, walks: Sequence[_Walk], candidates: int) -> dict[int, list[Any]]:
    """Walk i's rows (text, lang, similarity, ticket id): every :func:`_candidates` read as one
    ``UNION ALL`` statement, each part tagged with its walk. (Tried on PostgreSQL: the walks as a list
    of values read by one ``LATERAL`` subquery, planned once; its generic plan scanned every ticket of
    the weeks for each walk, minutes on 1M tickets.)"""
    rows: dict[int, list[Any]] = defaultdict(list)
    for part in chunks(range(len(walks)), 200):  # a statement of bounded size
        parts = []
        for i in part:
            s, m = walks[i]
            q = _candidates(m, s.first, s.last, s.product, s.batch, s.safety_only, candidates)
            parts.append(select(literal(i).label("walk"), q.subquery()))
        for r in conn.execute(union_all(*parts)) if len(parts) > 1 else conn.execute(parts[0]):
            rows[r.walk].append((r.text_clean, r.lang, r.similarity, r.ticket_id))
    return rows


WORKAROUND_TICKETS = 2000  # the latest tickets of a topic a workaround is counted over


def workaround(conn: Connection, topic_id: int, week_from: int, week_to: int) -> str | None:
    """The most frequent (redacted) resolution among the topic's latest ``WORKAROUND_TICKETS`` tickets
    of those weeks that have one, if it occurs at least twice: what agents already do that works.
    Latest by week, then as the (topic, week, similarity) index orders them, so the same tickets on
    both databases; equal counts go to the first text in text order. (The first 2,000 tickets the
    database returned, in no set order, before: 144 ms on PostgreSQL on a 1M-ticket store.)"""
    parts = [
        select(T.c.resolution_clean, A.c.week, A.c.similarity, A.c.ticket_id)
        .select_from(A.join(T, A.c.ticket_id == T.c.id))
        .where(
            A.c.topic_id == member,
            A.c.week >= week_from,
            A.c.week <= week_to,
            T.c.resolution_clean.is_not(None),
        )
        .order_by(A.c.week.desc(), A.c.similarity.desc(), A.c.ticket_id.desc())
        .limit(WORKAROUND_TICKETS)
        for member in _members(conn, topic_id)
    ]
    walked = (union_all(*(select(p.subquery()) for p in parts)) if len(parts) > 1 else parts[0]).subquery()
    latest = (
        select(walked.c.resolution_clean)
        .order_by(walked.c.week.desc(), walked.c.similarity.desc(), walked.c.ticket_id.desc())
        .limit(WORKAROUND_TICKETS)
        .subquery()
    )
    # counted by the database: the distinct resolutions come back, not 2,000 rows
    q = select(latest.c.resolution_clean, func.count()).group_by(latest.c.resolution_clean)
    c: Counter[str] = Counter()
    for text, n in conn.execute(q):
        if text and text.strip():
            c[text.strip()] += n
    if not c:
        return None
    text, n = min(c.items(), key=lambda kv: (-kv[1], kv[0]))
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
