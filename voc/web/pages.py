"""What each page shows, read from the store (no HTML here; ``voc/web/app.py`` renders it).

The week page is the brief itself: ``flows.brief_stage.load_brief`` (the file brief's own loading
recipe) and ``reports.assembly`` build the same ``Brief`` the files are rendered from. The surge page
starts from the same plan (``brief_stage.surge_plan``): the item is the brief's item, and the cell
whose tickets it lists is the one the item's weekly series counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Connection

from voc.config.settings import VocConfig
from voc.flows import brief_stage
from voc.reports import assembly
from voc.reports.assembly import SEVERITY_ORDER, SurgeSubject, TopicRecord
from voc.reports.model import Brief, SurgeItem
from voc.store import analysis, edit_log, report_queries, themes, workbench
from voc.store.edit_log import EditRecord
from voc.store.themes import ThemeRecord
from voc.store.workbench import CellFilter, FlaggedWeek, RenderedFile, TicketView
from voc.surges.selection import group_surges
from voc.weeks import Week

PAGE_SIZE = 50


class NotFound(Exception):
    """A week that was not analysed, a surge that is not in its week: the page answers 404."""

    def __init__(self, key: str, **kw: object) -> None:
        super().__init__(key)
        self.key = key
        self.kw = kw


def parse_week(text: str) -> Week:
    try:
        return Week.parse(text)
    except Exception:  # noqa: BLE001 - any malformed week in a URL is a page that does not exist
        raise NotFound("web.error.not_found") from None


def require_analysed(conn: Connection, week: Week) -> None:
    if week.ordinal() not in workbench.analysed_weeks(conn):
        raise NotFound("web.error.week", week=str(week))


def file_exists(f: RenderedFile) -> bool:
    return Path(f.path).expanduser().is_file()


# --- weeks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurgeLink:
    identity: str  # surges.selection.SurgeGroup.identity: the item's key on the surge page
    text: str  # the stored sentence of the row that speaks for it, in the page's language
    severity: str


@dataclass(frozen=True)
class WeekRow:
    week: Week
    last_day: date
    tickets: float | None
    complaints: float | None
    complaints_before: float | None
    surges: tuple[SurgeLink, ...]
    global_rise: str | None
    files: tuple[RenderedFile, ...]  # the brief's recorded files that still exist


def weeks(conn: Connection, lang: str) -> tuple[list[WeekRow], list[RenderedFile]]:
    """Every analysed week (latest first) with its figures, surge items and brief files; the quarterly
    reviews' files."""
    ordinals = workbench.analysed_weeks(conn)
    if not ordinals:
        return [], []
    kpis = report_queries.kpi_rows(conn, min(ordinals) - 1, max(ordinals))
    rows = workbench.surges_of_weeks(conn, ordinals)
    theme_of = themes.topic_theme_map(conn)
    files: dict[str, list[RenderedFile]] = {}
    reviews = []
    for f in workbench.rendered_files(conn):
        if not file_exists(f):
            continue
        if f.kind == "weekly":
            files.setdefault(f.period, []).append(f)
        elif f.kind == "review":
            reviews.append(f)
    out = []
    for w in ordinals:
        week = Week.from_ordinal(w)
        groups = sorted(
            group_surges(rows[w], theme_of),
            key=lambda g: (SEVERITY_ORDER.get(g.severity, 9), g.primary.q, -g.primary.ratio),
        )
        links = tuple(
            SurgeLink(
                g.identity, g.primary.explanation_zh if lang == "zh" else g.primary.explanation_en, g.severity
            )
            for g in groups
        )
        glob = next((r for r in rows[w] if r.level == "global"), None)
        now, before = kpis.get(w, {}), kpis.get(w - 1, {})
        out.append(
            WeekRow(
                week,
                week.end - timedelta(days=1),
                now.get("tickets"),
                now.get("complaints"),
                before.get("complaints"),
                links,
                (glob.explanation_zh if lang == "zh" else glob.explanation_en) if glob else None,
                tuple(files.get(str(week), ())),
            )
        )
    return out, sorted(reviews, key=lambda f: (f.period, f.lang, f.fmt), reverse=True)


# --- the week's brief ------------------------------------------------------------------------------


def brief(conn: Connection, cfg: VocConfig, week: Week, lang: str, today: date) -> Brief:
    require_analysed(conn, week)
    return brief_stage.load_brief(conn, cfg, week, today).brief(lang)


# --- a surge -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesWeek:
    week: str
    n: int
    flagged: FlaggedWeek | None  # the cell's stored verdict that week, when it was flagged


@dataclass(frozen=True)
class BatchShare:
    product: str
    batch: str
    now: int
    before: int
    share_now: float
    share_before: float | None


@dataclass(frozen=True)
class TopicShare:
    topic: TopicRecord | None
    topic_id: int
    now: int
    before: int


@dataclass(frozen=True)
class TicketPage:
    tickets: list[TicketView]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Filters:
    """The ticket filters of the surge page (codes only: product, model, batch ids and a week)."""

    product: str | None = None
    model: str | None = None
    batch: str | None = None
    week: str | None = None  # an ISO week of the item's history, or "all" for all of them


@dataclass(frozen=True)
class SurgeView:
    week: Week
    item: SurgeItem
    subject: SurgeSubject
    cell: CellFilter
    series: list[SeriesWeek]
    batches: list[BatchShare]
    before_weeks: int
    topics: list[TopicShare]
    options: dict[str, list[str]]  # product / model / batch values present in the cell's history
    history_weeks: list[str]
    product_names: dict[str, str]  # product id -> its catalogue name in the page's language

    def product_name(self, product_id: str | None) -> str:
        return self.product_names.get(product_id or "", product_id or "")


def _find(
    conn: Connection, cfg: VocConfig, week: Week, identity: str, lang: str, today: date
) -> tuple[SurgeItem, SurgeSubject, assembly.BriefPlan]:
    require_analysed(conn, week)
    plan, evidence = brief_stage.surge_plan(conn, cfg, week, today)
    subject = next((s for s in plan.subjects if s.group.identity == identity), None)
    item = next((i for i in assembly.surge_items(plan, evidence, lang) if i.surge_identity == identity), None)
    if subject is None or item is None:
        raise NotFound("web.error.surge", week=str(week))
    return item, subject, plan


def surge_item(
    conn: Connection, cfg: VocConfig, week: Week, identity: str, lang: str, today: date
) -> SurgeItem:
    """The brief's item ``identity`` of ``week`` (NotFound when it is not in that week's brief)."""
    return _find(conn, cfg, week, identity, lang, today)[0]


def cell_of(subject: SurgeSubject) -> CellFilter:
    s = subject.series
    return CellFilter(s.intents, s.topics, s.product, s.model, s.batch, s.safety_only)


def surge(conn: Connection, cfg: VocConfig, week: Week, identity: str, lang: str, today: date) -> SurgeView:
    item, subject, plan = _find(conn, cfg, week, identity, lang, today)
    facts = plan.facts
    cell = cell_of(subject)
    w = week.ordinal()
    first = facts.weeks[0]
    counts = workbench.cell_counts(conn, cell, first, w)
    per_week: dict[int, int] = {}
    for c in counts:
        per_week[c.week] = per_week.get(c.week, 0) + c.n
    primary = subject.group.primary
    flagged = workbench.flagged_weeks(conn, primary.level, primary.cell)
    series = [SeriesWeek(str(Week.from_ordinal(x)), per_week.get(x, 0), flagged.get(x)) for x in facts.weeks]
    # batches: the cell on its product(s) without its batch, this week against the weeks before
    wide = workbench.cell_counts(conn, replace(cell, batch=None), first, w) if cell.batch else counts
    now: dict[tuple[str, str], int] = {}
    before: dict[tuple[str, str], int] = {}
    for c in wide:
        if not c.batch:
            continue
        into = now if c.week == w else before
        into[(c.product, c.batch)] = into.get((c.product, c.batch), 0) + c.n
    n_now, n_before = sum(now.values()), sum(before.values())
    batches = sorted(
        (
            BatchShare(
                p,
                b,
                now.get((p, b), 0),
                before.get((p, b), 0),
                now.get((p, b), 0) / n_now if n_now else 0.0,
                before.get((p, b), 0) / n_before if n_before else None,
            )
            for p, b in set(now) | set(before)
        ),
        key=lambda x: (-x.now, -x.before, x.product, x.batch),
    )
    by_topic_now: dict[int, int] = {}
    by_topic_before: dict[int, int] = {}
    for c in counts:
        if c.week == w:
            by_topic_now[c.topic_id] = by_topic_now.get(c.topic_id, 0) + c.n
        elif c.week == w - 1:
            by_topic_before[c.topic_id] = by_topic_before.get(c.topic_id, 0) + c.n
    topics = sorted(
        (
            TopicShare(facts.topics.get(t), t, by_topic_now.get(t, 0), by_topic_before.get(t, 0))
            for t in set(by_topic_now) | set(by_topic_before)
            if by_topic_now.get(t)
        ),
        key=lambda x: (-x.now, -x.before, x.topic_id),
    )
    options = {
        key: sorted({getattr(c, key) for c in counts if getattr(c, key)})  # within the cell
        for key in ("product", "model", "batch")
    }
    names = {p: facts.catalogue.name(p, lang) or p for p in {c.product for c in wide if c.product}}
    return SurgeView(
        week,
        item,
        subject,
        cell,
        series,
        batches[:30],
        len(facts.weeks) - 1,
        topics[:30],
        options,
        [str(Week.from_ordinal(x)) for x in facts.weeks],
        names,
    )


def _ticket_weeks(view: SurgeView, filters: Filters) -> tuple[int, int]:
    if filters.week == "all":
        return Week.parse(view.history_weeks[0]).ordinal(), view.week.ordinal()
    if filters.week in view.history_weeks:
        x = Week.parse(filters.week).ordinal()
        return x, x
    return view.week.ordinal(), view.week.ordinal()


def tickets(conn: Connection, view: SurgeView, filters: Filters, page: int) -> TicketPage:
    cell = view.cell.narrowed(filters.product, filters.model, filters.batch)
    if cell is None:
        return TicketPage([], 0, 1, 1)
    lo, hi = _ticket_weeks(view, filters)
    total = workbench.count_cell_tickets(conn, cell, lo, hi)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    return TicketPage(
        workbench.cell_tickets(conn, cell, lo, hi, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
        total,
        page,
        pages,
    )


def all_tickets(conn: Connection, view: SurgeView, filters: Filters) -> Iterator[TicketView]:
    cell = view.cell.narrowed(filters.product, filters.model, filters.batch)
    if cell is None:
        return iter(())
    lo, hi = _ticket_weeks(view, filters)
    return workbench.iter_cell_tickets(conn, cell, lo, hi)


# --- the topic catalogue -----------------------------------------------------------------------------

SPARK_WEEKS = 12
QUOTES_MAX = 300  # topics shown with a quote (read together: report_queries.quote_sets)


LIVE_TOPIC = ("active", "emerging")


@dataclass(frozen=True)
class TopicRow:
    topic: analysis.TopicRecord
    size: int  # tickets over all history, with those of topics merged into it
    weeks: list[int]  # tickets per week of TopicsView.weeks, oldest first
    quote: str | None  # its most typical ticket's redacted text
    merged_here: tuple[int, ...]  # topics merged into it


@dataclass(frozen=True)
class ThemeBlock:
    theme: ThemeRecord | None  # None: live topics without a theme
    label: str  # in the page's language
    topics: list[TopicRow]

    @property
    def size(self) -> int:
        return sum(r.size for r in self.topics)


@dataclass(frozen=True)
class TopicsView:
    blocks: list[ThemeBlock]
    ignored: list[TopicRow]
    merged: list[TopicRow]
    weeks: list[str]  # the sparklines' weeks
    edits: list[EditRecord]
    topic_labels: dict[int, str]
    theme_labels: dict[int, str]
    live_themes: list[tuple[int, str]]
    live_topics: list[tuple[int, str, str]]  # (id, intent, label) for the merge target list
    query: str
    shown: int


def theme_label(th: ThemeRecord, lang: str) -> str:
    return (th.label_en or th.label) if lang == "en" else th.label


def _matches(q: str, t: analysis.TopicRecord, theme: str) -> bool:
    return q == str(t.id) or q in t.label.lower() or q in t.keywords.lower() or q in theme.lower()


def topics(conn: Connection, lang: str, query: str = "", edits: int = 30) -> TopicsView:
    """The two-level catalogue (live themes and their topics, then topics without a theme, ignored and
    merged ones), each topic with its size, weekly sparkline and a redacted quote; filtered by
    ``query`` (an id, or text in a label, the keywords or the theme's label); the latest edits."""
    q = query.strip().lower()[:100]
    all_topics = analysis.load_topics(conn)
    all_themes = themes.load_themes(conn)
    theme_of = themes.topic_theme_map(conn)
    sizes = workbench.topic_sizes(conn)
    last = workbench.last_counted_week(conn)
    span = list(range(last - SPARK_WEEKS + 1, last + 1)) if last is not None else []
    per_week = workbench.topic_weeks(conn, span[0], span[-1]) if span else {}
    by_id = {t.id: t for t in all_topics}
    live_themes = {th.id: th for th in all_themes if th.status in themes.LIVE}
    merged_here: dict[int, list[int]] = {}
    for t in all_topics:
        if t.merged_into is not None:
            merged_here.setdefault(t.merged_into, []).append(t.id)
    theme_names = {th.id: theme_label(th, lang) for th in all_themes}

    def shown(t: analysis.TopicRecord) -> bool:
        return not q or _matches(q, t, theme_names.get(theme_of.get(t.id, -1), ""))

    # the page's topics in display order (theme blocks, topics without a theme, ignored, merged)
    placed: set[int] = set()
    in_themes: list[tuple[ThemeRecord, list[analysis.TopicRecord]]] = []
    for th in live_themes.values():
        members = [by_id[i] for i in th.topic_ids if i in by_id and by_id[i].status in LIVE_TOPIC]
        placed.update(m.id for m in members)
        in_themes.append((th, [m for m in members if shown(m)]))
    loose = [t for t in all_topics if t.status in LIVE_TOPIC and t.id not in placed and shown(t)]
    ignored = [t for t in all_topics if t.status == "ignored" and shown(t)]
    merged = [t for t in all_topics if t.status == "merged" and shown(t)]
    listed = [t for _, ms in in_themes for t in ms] + loose + ignored + merged
    # the first QUOTES_MAX live topics listed get a quote: one read for all of them
    quoted = [t.id for t in listed if t.status in LIVE_TOPIC][:QUOTES_MAX] if span else []
    specs = {tid: assembly.Quotes(tid, span[0] - 52, span[-1]) for tid in quoted}  # the last year and more
    found = report_queries.quote_sets(conn, specs.values(), k=1, candidates=5)

    def row(t: analysis.TopicRecord) -> TopicRow:
        got = found.get(specs[t.id], []) if t.id in specs else []
        weeks = [per_week.get(t.id, {}).get(w, 0) for w in span]
        return TopicRow(
            t, sizes.get(t.id, 0), weeks, got[0][0] if got else None, tuple(merged_here.get(t.id, ()))
        )

    blocks: list[ThemeBlock] = []
    for th, ms in in_themes:
        if ms:
            rows = [row(m) for m in ms]
            blocks.append(
                ThemeBlock(th, theme_names[th.id], sorted(rows, key=lambda r: (-r.size, r.topic.id)))
            )
    blocks.sort(key=lambda b: (-b.size, b.theme.id if b.theme else 0))
    if loose:
        blocks.append(
            ThemeBlock(None, "", sorted((row(t) for t in loose), key=lambda r: (-r.size, r.topic.id)))
        )
    ignored_rows = [row(t) for t in ignored]
    merged_rows = [row(t) for t in merged]
    return TopicsView(
        blocks,
        ignored_rows,
        merged_rows,
        [str(Week.from_ordinal(w)) for w in span],
        edit_log.history(conn, edits),
        {t.id: t.label for t in all_topics},
        theme_names,
        sorted(((th.id, theme_names[th.id]) for th in live_themes.values()), key=lambda x: x[0]),
        [(t.id, t.intent, t.label) for t in all_topics if t.status in LIVE_TOPIC],
        query.strip()[:100],
        sum(len(b.topics) for b in blocks) + len(ignored_rows) + len(merged_rows),
    )


@dataclass(frozen=True)
class TopicView:
    """One topic: its row as on the catalogue page, its theme, its tickets (a page), its edits."""

    row: TopicRow
    theme: str | None
    tickets: TicketPage
    edits: list[EditRecord]
    topic_labels: dict[int, str]
    theme_labels: dict[int, str]


def topic(conn: Connection, topic_id: int, lang: str, page: int) -> TopicView:
    all_topics = analysis.load_topics(conn)
    found = next((t for t in all_topics if t.id == topic_id), None)
    if found is None:
        raise NotFound("web.error.not_found")
    theme_of = themes.topic_theme_map(conn)
    all_themes = themes.load_themes(conn)
    names = {th.id: theme_label(th, lang) for th in all_themes}
    last = workbench.last_counted_week(conn)
    span = list(range(last - SPARK_WEEKS + 1, last + 1)) if last is not None else []
    per_week = workbench.topic_weeks(conn, span[0], span[-1]).get(topic_id, {}) if span else {}
    total, _ = workbench.topic_tickets(conn, topic_id, limit=0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    _, rows = workbench.topic_tickets(conn, topic_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    merged_here = tuple(t.id for t in all_topics if t.merged_into == topic_id)
    row = TopicRow(
        found,
        workbench.topic_sizes(conn).get(topic_id, 0),
        [per_week.get(w, 0) for w in span],
        None,
        merged_here,
    )
    labels = {t.id: t.label for t in all_topics}
    th = theme_of.get(topic_id)
    return TopicView(
        row,
        names.get(th) if th is not None else None,
        TicketPage(rows, total, page, pages),
        edit_log.history(conn, 30, topic_id=topic_id),
        labels,
        names,
    )
