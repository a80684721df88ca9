"""Brief assembly: what the weekly brief says, decided from values (pure).

The brief stage (``flows/brief_stage.py``) is a recipe around three calls of this module:

1. it loads the week's facts (:class:`SurgeFacts`, :class:`BriefFacts`: surge rows, the catalogue of
   topics and themes, counts, action items...) and asks :func:`about_queries` what the cells without
   a topic are about (the tickets per topic of a product's or a batch's cell);
2. :func:`plan_brief` decides the items: one per surge group of ``surges.selection`` (which row speaks
   for it, which fine topic gives its quotes), the topics shown under "top", "emerging" and
   "opportunities", the topics resolved after a fix. The plan lists the evidence it needs
   (:meth:`BriefPlan.queries`: weekly series, quotes, workarounds), which the stage loads;
3. :func:`assemble_brief` builds the ``reports.model.Brief`` of one language from the plan and that
   evidence (:func:`surge_items`: the surge items alone, which is what the alerts need).

The store is read through query values (:class:`Series`, :class:`Quotes`, :class:`Workaround`,
:class:`CellTopics`), so a plan made once serves both languages, and tests pass plain dicts.
Records are anything with the attributes of the protocols below (the store's typed rows, or plain
records in tests); the ISO-week arithmetic and the product catalogue come in as values too
(:class:`BriefWeek`, :class:`Catalogue`): ``reports/`` imports neither ``voc`` nor ``config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from voc.reports.explanations import batch_count_clause, batch_share_clause
from voc.reports.model import (
    ActionItem,
    BatchShare,
    Brief,
    DeliveryProblem,
    Kpi,
    MethodNote,
    Quote,
    SurgeItem,
    TopicItem,
)
from voc.surges.selection import SAFETY_LEVELS, SurgeGroup, group_surges, item_model, item_theme
from voc.ticket import EVIDENCE_INTENTS

KPI_KEYS = ("tickets", "complaints", "fcr_rate", "closed_24h", "closed_48h", "reopen_rate", "transfer_rate")
RATE_KEYS = {"fcr_rate", "closed_24h", "closed_48h", "reopen_rate", "transfer_rate"}
HISTORY = 12  # weeks of history on every item, ending with the brief's week
SEVERITY_ORDER = {"safety": 0, "defect": 1, "service": 2, "other": 3}
WORKAROUND_WEEKS = 12  # the workaround: the most common resolution of the 12 weeks before, and this one
FINE_TOPICS = 4  # fine topics named under a theme item
TOP_TOPICS = 10
OPPORTUNITIES = 8
KEYWORDS = 8
RESOLVED_WINDOW = 13  # a fix shipped in the 13 weeks before the brief's week can show as resolved
EFFECT_WEEKS = 4  # resolved: the complaints of up to 4 weeks after the fix vs the 4 weeks before it
DONE_SHOWN_DAYS = 28  # a done action item stays in the brief for 4 weeks after its fix


# --- records (any object with these attributes) ------------------------------------------------


class SurgeRecord(Protocol):
    """A stored surge row (``store.analysis.SurgeRow``)."""

    @property
    def level(self) -> str: ...
    @property
    def cell(self) -> str: ...
    @property
    def topic_id(self) -> int | None: ...
    @property
    def theme_id(self) -> int | None: ...
    @property
    def product(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def observed(self) -> int: ...
    @property
    def expected(self) -> float: ...
    @property
    def ratio(self) -> float: ...
    @property
    def ratio_lo(self) -> float: ...
    @property
    def ratio_hi(self) -> float: ...
    @property
    def q(self) -> float: ...
    @property
    def methods(self) -> str: ...
    @property
    def first_week(self) -> int: ...
    @property
    def new_cell(self) -> bool: ...
    @property
    def severity(self) -> str: ...
    @property
    def conc_batch(self) -> str | None: ...
    @property
    def conc_share(self) -> float | None: ...
    @property
    def conc_expected(self) -> float | None: ...
    @property
    def conc_ratio(self) -> float | None: ...
    @property
    def explanation_zh(self) -> str: ...
    @property
    def explanation_en(self) -> str: ...


class TopicRecord(Protocol):
    """A fine topic of the catalogue (``store.analysis.TopicRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def intent(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def keywords(self) -> str: ...  # " / "-joined
    @property
    def status(self) -> str: ...
    @property
    def created_week(self) -> int: ...


class ThemeRecord(Protocol):
    """A theme with its live topics (``store.themes.ThemeRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def label_en(self) -> str | None: ...
    @property
    def topic_ids(self) -> tuple[int, ...]: ...


class ActionRecord(Protocol):
    """A stored action item (``store.report_queries.ActionRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def topic_id(self) -> int | None: ...
    @property
    def product(self) -> str | None: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def owner(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def due(self) -> date | None: ...
    @property
    def fix_date(self) -> date | None: ...
    @property
    def note(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


# --- plain values the stage builds from the config and the week --------------------------------


@dataclass(frozen=True)
class BriefWeek:
    """The brief's ISO week, and the week arithmetic of ``voc.weeks`` (which lives above ``reports``)."""

    label: str  # "2026-W47"
    ordinal: int  # voc.weeks.Week.ordinal()
    start: date
    end: date  # inclusive (Sunday)
    name_of: Callable[[int], str]  # ordinal -> "2026-W45"
    ordinal_of: Callable[[date], int]  # a day -> its week's ordinal


@dataclass(frozen=True)
class ProductInfo:
    name_zh: str
    name_en: str
    owner: str | None  # the product's owner, else the default owner (delivery.routing.owner_for)


@dataclass(frozen=True)
class Catalogue:
    """The configured products as the brief names them, and who owns a surge on an unknown product."""

    products: Mapping[str, ProductInfo] = field(default_factory=dict)
    default_owner: str | None = None

    def name(self, product_id: str | None, lang: str) -> str | None:
        p = self.products.get(product_id) if product_id is not None else None
        if p is None:
            return product_id
        return p.name_zh if lang == "zh" else p.name_en

    def owner(self, product_id: str | None) -> str | None:
        p = self.products.get(product_id) if product_id is not None else None
        return p.owner if p is not None else self.default_owner


# --- what the assembly asks the store (each answered by the report_queries function named) ------


@dataclass(frozen=True)
class Series:
    """Weekly counts of one cell, weeks ``first..last`` (``cell_history``): ``{week: n}``. ``topics``:
    one topic, a theme's topics (an empty tuple counts nothing) or None (all)."""

    intents: tuple[str, ...]
    topics: int | tuple[int, ...] | None
    product: str | None
    model: str | None
    batch: str | None
    first: int
    last: int
    safety_only: bool = False


@dataclass(frozen=True)
class Quotes:
    """Up to 3 redacted quotes of a topic (``quotes``): ``[(text, lang)]``."""

    topic: int
    first: int
    last: int
    product: str | None = None
    batch: str | None = None
    safety_only: bool = False  # its safety-severity complaints and questions only (a safety cell)


@dataclass(frozen=True)
class Workaround:
    """The most frequent resolution in a topic (``workaround``): text or None."""

    topic: int
    first: int
    last: int


@dataclass(frozen=True)
class CellTopics:
    """Tickets per topic of a product's (or batch's) cell in a week (``cell_topics``): ``{topic: n}``."""

    week: int
    product: str | None
    batch: str | None
    intents: tuple[str, ...]
    safety_only: bool


Query = Series | Quotes | Workaround | CellTopics


# --- facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurgeFacts:
    """What the surge items need: the week's surge rows, the catalogue and this week's counts."""

    week: BriefWeek
    today: date
    surges: Sequence[SurgeRecord]
    topics: Mapping[int, TopicRecord]
    theme_of: Mapping[int, int]  # merge-resolved topic id -> live theme id
    themes: Mapping[int, ThemeRecord]
    week_counts: Mapping[int, int]  # complaints + questions per topic this week
    actions: Sequence[ActionRecord]
    catalogue: Catalogue

    @property
    def labels(self) -> dict[int, str]:
        return {i: t.label for i, t in self.topics.items()}

    @property
    def weeks(self) -> list[int]:
        """The ordinals of the items' history: ``HISTORY`` weeks ending with the brief's."""
        w = self.week.ordinal
        return list(range(w - HISTORY + 1, w + 1))


@dataclass(frozen=True)
class BriefFacts:
    """Everything else the brief shows."""

    surge: SurgeFacts
    brand: str
    method: MethodNote
    kpi_rows: Mapping[int, Mapping[str, float | None]]  # week -> KPI key -> value (report_queries.kpi_rows)
    counts: Mapping[tuple[str, int], Mapping[int, int]]  # (intent, week) of topic_count_keys -> topic -> n
    failed_alerts: Sequence[tuple[str, str, str | None]]  # (channel, recipient, error) since last week


TOPIC_INTENTS = ("complaint", "suggestion")  # the topics listed: biggest complaints, emerging, unmet needs


def topic_count_keys(week: int) -> list[tuple[str, int]]:
    """The (intent, week) topic counts ``BriefFacts.counts`` holds: this week's and the one before."""
    return [(intent, x) for intent in TOPIC_INTENTS for x in (week, week - 1)]


def week_counts(complaints: Mapping[int, int], questions: Mapping[int, int]) -> dict[int, int]:
    """Complaints and questions per topic (what a theme item counts)."""
    out = dict(complaints)
    for tid, n in questions.items():
        out[tid] = out.get(tid, 0) + n
    return out


# --- small pure helpers (also used by the quarterly review) --------------------------------------


def build_kpis(rows: Mapping[int, Mapping[str, Any]], weeks: Sequence[int]) -> tuple[Kpi, ...]:
    out = []
    for key in KPI_KEYS:
        hist = tuple(None if rows.get(w, {}).get(key) is None else float(rows[w][key]) for w in weeks)
        out.append(
            Kpi(
                key=key,
                value=hist[-1],
                previous=hist[-2] if len(hist) > 1 else None,
                history=hist,
                is_rate=key in RATE_KEYS,
            )
        )
    return tuple(out)


def action_item(a: ActionRecord, labels: Mapping[int, str], today: date) -> ActionItem:
    """An action-items row as the brief and the quarterly review show it (days open until its fix, or
    today)."""
    end = a.fix_date if a.status == "done" and a.fix_date else today
    return ActionItem(
        action_id=a.id,
        topic_id=a.topic_id,
        topic_label=labels.get(a.topic_id) if a.topic_id is not None else None,
        product=a.product,
        batch=a.batch,
        owner=a.owner,
        status=a.status,
        due=a.due,
        fix_date=a.fix_date,
        days_open=max(0, (end - a.created_at.date()).days),
        note=a.note,
    )


def surge_series(r: SurgeRecord, theme_topics: tuple[int, ...], first: int, last: int) -> Series:
    """The weekly counts of a flagged cell: a theme counts its topics' complaints and questions, a
    safety cell its safety tickets, other cells complaints."""
    if r.level.startswith("theme"):
        return Series(EVIDENCE_INTENTS, theme_topics, r.product, None, r.batch, first, last)
    if r.level in SAFETY_LEVELS:
        return Series(EVIDENCE_INTENTS, None, r.product, None, None, first, last, safety_only=True)
    model = r.model if r.level == "topic×product×model" else None
    return Series(("complaint",), r.topic_id, r.product, model, r.batch, first, last)


def _label(theme: ThemeRecord, lang: str) -> str:
    return theme.label_en if lang == "en" and theme.label_en else theme.label


def _share(row: Any) -> BatchShare:
    return BatchShare(
        batch=row.conc_batch, share=row.conc_share, expected_share=row.conc_expected, ratio=row.conc_ratio
    )


def _history(series: Mapping[int, int], weeks: Iterable[int]) -> tuple[int, ...]:
    return tuple(series.get(x, 0) for x in weeks)


def _wow(history: tuple[int, ...]) -> float | None:
    prev = history[-2]
    return (history[-1] - prev) / prev if prev else None


# --- surge items -------------------------------------------------------------------------------


def about_query(g: SurgeGroup, facts: SurgeFacts) -> CellTopics | None:
    """A product, batch or safety cell on its own (no theme, no topic): ask what its tickets are about."""
    r = g.primary
    theme = facts.themes.get(g.theme_id) if g.theme_id is not None else None
    if theme is not None or r.topic_id is not None or g.topic_ids or not r.product:
        return None
    safety = r.level in SAFETY_LEVELS
    return CellTopics(
        facts.week.ordinal,
        r.product,
        None if safety else r.batch,
        EVIDENCE_INTENTS if safety else ("complaint",),
        safety,
    )


def about_queries(facts: SurgeFacts) -> set[Query]:
    """Step 1: what the stage loads before :func:`plan_brief` (see the module notes)."""
    return {q for g in group_surges(facts.surges, facts.theme_of) if (q := about_query(g, facts)) is not None}


@dataclass(frozen=True)
class SurgeSubject:
    """One surge item before its evidence is loaded: the group, the theme and fine topic it speaks for."""

    group: SurgeGroup
    theme: ThemeRecord | None
    theme_topics: tuple[int, ...]  # the theme's topics the history counts
    under: tuple[int, ...]  # the fine topics under it with tickets this week, most first
    rep: int | None  # the fine topic whose quotes and workaround the item shows
    series: Series
    quotes: Quotes | None
    workaround: Workaround | None
    # False: the topic the item speaks for is mostly about something else than the cell's tickets (a
    # product's safety tickets that sit in a broad topic): the item is named by its product alone
    named_by_topic: bool = True


# a safety cell is named after the topic holding most of its tickets only when they are at least this
# share of that topic's tickets of the week (else the topic's label names another problem)
SAFETY_LABEL_SHARE = 0.5


def surge_subject(g: SurgeGroup, facts: SurgeFacts, about: Mapping[int, int] | None) -> SurgeSubject:
    """``about``: the answer to :func:`about_query` for this group (None when it asked nothing)."""
    r = g.primary
    w = facts.week.ordinal
    theme = facts.themes.get(g.theme_id) if g.theme_id is not None else None
    theme_topics = tuple(t for t in (theme.topic_ids if theme else ()) if t in facts.topics)
    counts = facts.week_counts
    under = sorted((t for t in theme_topics if counts.get(t)), key=lambda t: (-counts[t], t))
    rep = r.topic_id if r.topic_id is not None else next(iter(g.topic_ids or under), None)
    named = True
    if about is not None:  # the theme holding most of the cell's tickets, and its fine topics
        theme, under, rep = item_theme(about, facts.theme_of, facts.themes)
        theme_topics = ()
        if r.level in SAFETY_LEVELS and r.product and rep is not None:
            named = about.get(rep, 0) >= SAFETY_LABEL_SHARE * max(counts.get(rep, 0), 1)
    return SurgeSubject(
        group=g,
        theme=theme,
        theme_topics=theme_topics,
        under=tuple(under),
        rep=rep,
        series=surge_series(r, theme_topics, facts.weeks[0], w),
        # a safety cell quotes its safety tickets, not whatever else its topic holds
        quotes=Quotes(rep, w, w, r.product, r.batch, r.level in SAFETY_LEVELS) if rep is not None else None,
        workaround=Workaround(rep, w - WORKAROUND_WEEKS, w) if rep is not None else None,
        named_by_topic=named,
    )


def surge_item(
    s: SurgeSubject,
    facts: SurgeFacts,
    answers: Mapping[Any, Any],
    lang: str,
    open_by_topic: Mapping[int | None, ActionItem],
) -> SurgeItem:
    g, r, rep = s.group, s.group.primary, s.rep
    labels = facts.labels
    label = labels.get(rep, "") if rep is not None else ""
    if s.theme is not None:
        label = _label(s.theme, lang) or label
    if not s.named_by_topic:
        label = ""
    history = _history(answers[s.series], facts.weeks)
    qs = answers[s.quotes] if s.quotes is not None else []
    model, src = item_model(r, g.rows)
    conc = None
    if src is None and g.batch_row is not None and g.batch_row is not r and r.level != "product×batch":
        src = g.batch_row if g.batch_row.conc_batch else None
    if src is not None and src.conc_batch:
        conc = _share(src)
    explanation = r.explanation_zh if lang == "zh" else r.explanation_en
    batch = r.batch
    if src is not None and src is not r and src.conc_batch:
        explanation += batch_share_clause(src.conc_share, src.conc_batch, lang)
    elif g.batch_row is not None and g.batch_row is not r and not r.batch:
        b = g.batch_row
        batch = b.batch
        explanation += batch_count_clause(b.batch, b.observed, b.expected, lang)
    return SurgeItem(
        topic_id=rep or 0,
        topic_label=label,
        theme_id=g.theme_id,
        surge_identity=g.identity,
        fine_topics=tuple(labels[t] for t in s.under[:FINE_TOPICS] if labels.get(t) and labels[t] != label)
        if s.named_by_topic
        else (),
        level=r.level,
        product=facts.catalogue.name(r.product, lang),
        model=model,
        batch=batch,
        severity=g.severity,
        observed=r.observed,
        expected=r.expected,
        ratio=r.ratio,
        ratio_lo=r.ratio_lo,
        ratio_hi=r.ratio_hi,
        q_value=r.q,
        wow_change=_wow(history),
        since_week=facts.week.name_of(r.first_week),
        methods=tuple(r.methods.split("+")),
        is_new_topic=r.new_cell,
        concentration=conc,
        history=history,
        quotes=tuple(Quote(t, lg) for t, lg in qs),
        workaround=answers[s.workaround] if s.workaround is not None else None,
        owner=facts.catalogue.owner(r.product),
        action=open_by_topic.get(rep) if rep is not None else None,
        explanation=explanation,
        product_id=r.product,
        alert_key=f"{r.level}|{r.cell}|{r.first_week}",
    )


def item_from_row(
    row: SurgeRecord,
    lang: str,
    series: Mapping[int, int],
    until: int,
    labels: Mapping[int, str],
    theme: ThemeRecord | None,
    resolved: bool,
    catalogue: Catalogue,
    name_of: Callable[[int], str],
) -> SurgeItem:
    """A surge item from a stored surge row alone (no quotes, no workaround): the alerts' resolved notes
    and late deferred alerts. ``series``: the row's :func:`surge_series` up to ``until``, counting the
    theme's topics (all of them) for a theme row. ``resolved``: this week's count against the old
    baseline; the test statistics no longer apply. ``name_of``: ``BriefWeek.name_of``."""
    history = _history(series, range(until - HISTORY + 1, until + 1))
    nan = float("nan")
    conc: BatchShare | None
    if resolved:
        observed = history[-1]
        ratio = observed / row.expected if row.expected else nan
        lo = hi = q = nan
        conc = None
    else:
        observed, ratio, lo, hi, q = row.observed, row.ratio, row.ratio_lo, row.ratio_hi, row.q
        conc = _share(row) if row.conc_batch else None
    return SurgeItem(
        topic_id=row.topic_id or 0,
        topic_label=labels.get(row.topic_id, "") if row.topic_id else (_label(theme, lang) if theme else ""),
        theme_id=theme.id if theme else None,
        level=row.level,
        product=catalogue.name(row.product, lang),
        model=row.model,
        batch=row.batch,
        severity=row.severity,
        observed=observed,
        expected=row.expected,
        ratio=ratio,
        ratio_lo=lo,
        ratio_hi=hi,
        q_value=q,
        wow_change=_wow(history),
        since_week=name_of(row.first_week),
        methods=tuple(row.methods.split("+")),
        is_new_topic=row.new_cell,
        concentration=conc,
        history=history,
        quotes=(),
        workaround=None,
        owner=catalogue.owner(row.product),
        action=None,
        explanation=row.explanation_zh if lang == "zh" else row.explanation_en,
        product_id=row.product,
        alert_key=f"{row.level}|{row.cell}|{row.first_week}",
    )


# --- topic items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicPick:
    """A topic the brief lists: under ``kind`` (top | emerging | opportunity)."""

    topic_id: int
    intent: str
    kind: str
    count: int
    previous: int
    series: Series
    quotes: Quotes


def topic_picks(facts: BriefFacts) -> list[TopicPick]:
    """The biggest complaint topics (``TOP_TOPICS``), the topics born this week, every suggestion topic
    (unmet needs; the brief shows ``OPPORTUNITIES``); ignored and merged topics never."""
    sf = facts.surge
    w = sf.week.ordinal
    out: list[TopicPick] = []
    n_top = 0
    for intent in TOPIC_INTENTS:
        now = facts.counts.get((intent, w), {})
        before = facts.counts.get((intent, w - 1), {})
        for tid, n in sorted(
            now.items(), key=lambda kv: (-kv[1], kv[0])
        ):  # ties by id: one order on every database
            t = sf.topics.get(tid)
            if t is None or t.status in ("ignored", "merged"):
                continue
            is_emerging = t.status == "emerging" and t.created_week == w
            if not (intent == "suggestion" or is_emerging or n_top < TOP_TOPICS):
                continue
            kind = "emerging" if is_emerging else "opportunity" if intent == "suggestion" else "top"
            n_top += kind == "top"
            out.append(
                TopicPick(
                    tid,
                    intent,
                    kind,
                    n,
                    before.get(tid, 0),
                    Series((intent,), tid, None, None, None, sf.weeks[0], w),
                    Quotes(tid, w, w),
                )
            )
    return out


def topic_item(p: TopicPick, facts: SurgeFacts, answers: Mapping[Any, Any]) -> TopicItem:
    t = facts.topics[p.topic_id]
    return TopicItem(
        topic_id=p.topic_id,
        label=t.label,
        intent=p.intent,
        count=p.count,
        previous=p.previous,
        keywords=tuple(k for k in t.keywords.split(" / ") if k)[:KEYWORDS],
        quotes=tuple(Quote(x, lg) for x, lg in answers[p.quotes]),
        history=_history(answers[p.series], facts.weeks),
    )


# --- resolved after a fix ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedCheck:
    """A topic fixed in the window: did its complaints fall after the fix?"""

    topic_id: int
    fix_week: int
    series: Series


def resolved_checks(facts: SurgeFacts) -> list[ResolvedCheck]:
    """Done action items on a known topic whose fix shipped in the ``RESOLVED_WINDOW`` weeks before."""
    w = facts.week.ordinal
    out = []
    for a in facts.actions:
        if a.status != "done" or not a.fix_date or a.topic_id is None or a.topic_id not in facts.topics:
            continue
        fix = facts.week.ordinal_of(a.fix_date)
        if w - RESOLVED_WINDOW <= fix < w:
            out.append(
                ResolvedCheck(
                    a.topic_id,
                    fix,
                    Series(("complaint",), a.topic_id, None, None, None, fix - EFFECT_WEEKS, w),
                )
            )
    return out


def resolved_item(c: ResolvedCheck, facts: SurgeFacts, answers: Mapping[Any, Any]) -> TopicItem | None:
    """The topic, when its complaints per week after the fix (up to ``EFFECT_WEEKS``) fell below the
    weekly mean of the ``EFFECT_WEEKS`` before it; else None."""
    w, fix = facts.week.ordinal, c.fix_week
    hist = answers[c.series]
    before = sum(hist.get(x, 0) for x in range(fix - EFFECT_WEEKS, fix))
    after_weeks = list(range(fix + 1, min(fix + EFFECT_WEEKS + 1, w + 1)))
    after = sum(hist.get(x, 0) for x in after_weeks)
    if not (after_weeks and after / len(after_weeks) < before / EFFECT_WEEKS):
        return None
    t = facts.topics[c.topic_id]
    return TopicItem(
        topic_id=t.id,
        label=t.label,
        intent=t.intent,
        count=hist.get(w, 0),
        previous=hist.get(w - 1, 0),
        keywords=(),
        quotes=(),
        history=_history(hist, facts.weeks),
    )


# --- the plan and the brief ----------------------------------------------------------------------


@dataclass(frozen=True)
class BriefPlan:
    """Step 2 (see the module notes): the items, before their evidence is loaded."""

    facts: SurgeFacts
    subjects: tuple[SurgeSubject, ...]
    topics: tuple[TopicPick, ...] = ()
    resolved: tuple[ResolvedCheck, ...] = ()

    def queries(self) -> set[Query]:
        """The evidence the items show (each answered once, for every language)."""
        out: set[Query] = set()
        for s in self.subjects:
            out.add(s.series)
            out.update(q for q in (s.quotes, s.workaround) if q is not None)
        for p in self.topics:
            out.update((p.series, p.quotes))
        out.update(c.series for c in self.resolved)
        return out


def plan_surges(facts: SurgeFacts, about: Mapping[Any, Any]) -> BriefPlan:
    """The surge items alone (what the alerts need): one per group of ``surges.selection``."""
    subjects = []
    for g in group_surges(facts.surges, facts.theme_of):
        q = about_query(g, facts)
        subjects.append(surge_subject(g, facts, about[q] if q is not None else None))
    return BriefPlan(facts, tuple(subjects))


def plan_brief(facts: BriefFacts, about: Mapping[Any, Any]) -> BriefPlan:
    """``about``: the answers to :func:`about_queries`."""
    surges = plan_surges(facts.surge, about)
    return BriefPlan(
        facts.surge, surges.subjects, tuple(topic_picks(facts)), tuple(resolved_checks(facts.surge))
    )


def _action_items(facts: SurgeFacts) -> list[ActionItem]:
    labels = facts.labels
    return [action_item(a, labels, facts.today) for a in facts.actions]


def surge_items(plan: BriefPlan, answers: Mapping[Any, Any], lang: str) -> tuple[SurgeItem, ...]:
    """Step 3 for the surges: the brief's items in its order (safety first, then by q, then by ratio)."""
    open_by_topic = {a.topic_id: a for a in _action_items(plan.facts) if a.status != "done"}
    items = [surge_item(s, plan.facts, answers, lang, open_by_topic) for s in plan.subjects]
    items.sort(key=lambda s: (SEVERITY_ORDER.get(s.severity, 9), s.q_value, -s.ratio))
    return tuple(items)


def assemble_brief(facts: BriefFacts, plan: BriefPlan, answers: Mapping[Any, Any], lang: str) -> Brief:
    """Step 3: the brief in ``lang`` from the plan of :func:`plan_brief` and the answers to its queries."""
    sf = facts.surge
    today = sf.today
    global_rows = [r for r in sf.surges if r.level == "global"]
    glob = (
        (global_rows[0].explanation_zh if lang == "zh" else global_rows[0].explanation_en)
        if global_rows
        else None
    )
    by_kind: dict[str, list[TopicItem]] = {"top": [], "emerging": [], "opportunity": []}
    for p in plan.topics:
        by_kind[p.kind].append(topic_item(p, sf, answers))
    resolved = [x for c in plan.resolved if (x := resolved_item(c, sf, answers)) is not None]
    actions = _action_items(sf)
    return Brief(
        week=sf.week.label,
        week_start=sf.week.start,
        week_end=sf.week.end,
        generated_on=today,
        brand=facts.brand,
        kpis=build_kpis(facts.kpi_rows, sf.weeks),
        global_rise=glob,
        surges=surge_items(plan, answers, lang),
        emerging=tuple(by_kind["emerging"]),
        opportunities=tuple(by_kind["opportunity"][:OPPORTUNITIES]),
        resolved=tuple(resolved),
        top_topics=tuple(by_kind["top"][:TOP_TOPICS]),
        actions=tuple(
            a
            for a in actions
            if a.status != "done" or (a.fix_date and (today - a.fix_date).days <= DONE_SHOWN_DAYS)
        ),
        delivery_problems=tuple(DeliveryProblem(c, rcp, e or "") for c, rcp, e in facts.failed_alerts),
        method=facts.method,
    )
