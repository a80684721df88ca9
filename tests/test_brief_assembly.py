"""reports.assembly: what the weekly brief says, over plain values (no database).

The stage answers the assembly's queries from the store; here a dict does, and a query the plan did
not list is a KeyError: ``BriefPlan.queries`` is exactly what the items read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import pytest

from voc.reports import assembly
from voc.reports.assembly import (
    BriefFacts,
    BriefWeek,
    Catalogue,
    CellTopics,
    ProductInfo,
    Quotes,
    Series,
    SurgeFacts,
    Workaround,
)
from voc.reports.model import MethodNote

W = 100  # the brief's week (an ordinal); the test's calendar: week n starts on day 7n
TODAY = date.fromordinal(7 * (W + 1) + 1)
CREATED = datetime.combine(date.fromordinal(7 * (W - 30)), datetime.min.time())  # action items' creation


def _name(n: int) -> str:
    return f"W{n}"


def _ordinal(d: date) -> int:
    return d.toordinal() // 7


WEEK = BriefWeek(
    label="W100",
    ordinal=W,
    start=date.fromordinal(7 * W),
    end=date.fromordinal(7 * W + 6),
    name_of=_name,
    ordinal_of=_ordinal,
)
CATALOGUE = Catalogue({"oven": ProductInfo("烤箱", "Oven", "ann")}, default_owner="dora")


@dataclass(frozen=True)
class Row:
    level: str
    cell: str = "c"
    topic_id: int | None = None
    theme_id: int | None = None
    product: str | None = None
    model: str | None = None
    batch: str | None = None
    observed: int = 10
    expected: float = 2.0
    ratio: float = 5.0
    ratio_lo: float = 3.0
    ratio_hi: float = 8.0
    q: float = 0.01
    methods: str = "poisson+cusum"
    first_week: int = W - 1
    new_cell: bool = False
    severity: str = "defect"
    conc_batch: str | None = None
    conc_share: float | None = None
    conc_expected: float | None = None
    conc_ratio: float | None = None
    explanation_zh: str = "上升"
    explanation_en: str = "rising"


@dataclass(frozen=True)
class Topic:
    id: int
    label: str
    intent: str = "complaint"
    keywords: str = "door / hinge"
    status: str = "active"
    created_week: int = 1


@dataclass(frozen=True)
class Theme:
    id: int
    label: str
    label_en: str | None = None
    topic_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Action:
    id: int
    topic_id: int | None
    status: str = "open"
    fix_date: date | None = None
    product: str | None = None
    batch: str | None = None
    owner: str = "ann"
    due: date | None = None
    note: str = ""
    created_at: datetime = CREATED


TOPICS = {
    11: Topic(11, "门关不紧"),
    12: Topic(12, "门铰链松"),
    13: Topic(13, "漏水"),
    21: Topic(21, "希望有定时", intent="suggestion"),
}
THEMES = {7: Theme(7, "门关不紧", "door won't close", (11, 12)), 8: Theme(8, "漏水", None, (13,))}
THEME_OF = {11: 7, 12: 7, 13: 8}


def surge_facts(
    surges: list[Row], actions: tuple[Action, ...] = (), counts: dict[int, int] | None = None
) -> SurgeFacts:
    return SurgeFacts(
        week=WEEK,
        today=TODAY,
        surges=surges,
        topics=TOPICS,
        theme_of=THEME_OF,
        themes=THEMES,
        week_counts=counts if counts is not None else {11: 20, 12: 9, 13: 4},
        actions=actions,
        catalogue=CATALOGUE,
    )


def brief_facts(sf: SurgeFacts, counts: dict[tuple[str, int], dict[int, int]] | None = None) -> BriefFacts:
    return BriefFacts(
        surge=sf,
        brand="Acme",
        method=MethodNote(8, 5, 0.1, 1.5),
        kpi_rows={W - 1: {"tickets": 90, "fcr_rate": 0.5}, W: {"tickets": 100, "fcr_rate": None}},
        counts=counts or {},
        failed_alerts=[("email", "a@x", None)],
    )


def fake_answers(queries: set[Any]) -> dict[Any, Any]:
    """Answers that say which query they answer: a series counting 3 a week, 7 this week."""
    out: dict[Any, Any] = {}
    for q in queries:
        if isinstance(q, Series):
            out[q] = {x: (7 if x == q.last else 3) for x in range(q.first, q.last + 1)}
        elif isinstance(q, Quotes):
            out[q] = [(f"quote of {q.topic} {q.product or '-'}", "zh")]
        elif isinstance(q, Workaround):
            out[q] = f"fix {q.topic}"
        else:
            raise AssertionError(q)
    return out


def surges_of(sf: SurgeFacts, about: dict[Any, Any] | None = None, lang: str = "en") -> tuple[Any, ...]:
    plan = assembly.plan_surges(sf, about or {})
    return assembly.surge_items(plan, fake_answers(plan.queries()), lang)


def test_a_theme_with_its_topics_model_and_batch_is_one_item_with_its_evidence() -> None:
    rows = [
        Row("theme×product", theme_id=7, product="oven", observed=30, q=0.001, cell="h7|oven"),
        Row("topic×product", topic_id=11, product="oven", observed=20),
        Row(
            "topic×product×model",
            topic_id=11,
            product="oven",
            model="KX-30A",
            observed=18,
            conc_batch="B2409",
            conc_share=0.83,
            conc_expected=0.2,
            conc_ratio=4.1,
        ),
        Row("global", explanation_en="volume up"),
    ]
    sf = surge_facts(rows, actions=(Action(1, 11), Action(2, 12, status="done", fix_date=TODAY)))
    assert assembly.about_queries(sf) == set()
    (item,) = surges_of(sf)
    assert (item.theme_id, item.surge_identity, item.topic_id) == (7, "h7", 11)
    assert item.topic_label == "door won't close" and item.fine_topics == ("门关不紧", "门铰链松")
    assert (item.product, item.product_id, item.owner, item.model) == ("Oven", "oven", "ann", "KX-30A")
    assert item.concentration is not None and item.concentration.batch == "B2409"
    assert item.explanation == "rising; 83% from batch B2409"
    assert item.history == (3,) * 11 + (7,) and item.wow_change == pytest.approx(4 / 3)
    assert [q.text for q in item.quotes] == ["quote of 11 oven"] and item.workaround == "fix 11"
    assert item.action is not None and item.action.action_id == 1  # the open action on the fine topic
    assert (item.since_week, item.methods) == ("W99", ("poisson", "cusum"))
    assert item.alert_key == "theme×product|h7|oven|99"
    zh = surges_of(sf, lang="zh")[0]
    assert (zh.topic_label, zh.product, zh.explanation) == ("门关不紧", "烤箱", "上升；83% 来自批次 B2409")


def test_the_theme_series_counts_its_known_topics_complaints_and_questions() -> None:
    sf = surge_facts([Row("theme", theme_id=7, observed=30)])
    plan = assembly.plan_surges(sf, {})
    (s,) = plan.subjects
    assert s.series == Series(("complaint", "question"), (11, 12), None, None, None, W - 11, W)
    assert s.quotes == Quotes(11, W, W) and s.workaround == Workaround(11, W - 12, W)


def test_a_product_cell_on_its_own_says_what_its_tickets_are_about() -> None:
    batch = Row("product×batch", product="kettle", batch="K1", observed=12, expected=3.0, cell="kettle|K1")
    sf = surge_facts([batch])
    (q,) = assembly.about_queries(sf)
    assert q == CellTopics(W, "kettle", "K1", ("complaint",), False)
    (item,) = surges_of(sf, {q: {13: 5, 11: 2, 12: 2}})
    # the theme holding most of its tickets (door: 4 vs leak: 5 -> leak), its top topic's quotes
    assert (item.theme_id, item.topic_label, item.topic_id) == (None, "漏水", 13)
    assert item.surge_identity == "0|kettle" and item.product == "kettle" and item.owner == "dora"
    assert item.fine_topics == () and item.batch == "K1"


def test_a_safety_cell_asks_about_its_safety_tickets_of_every_batch() -> None:
    sf = surge_facts([Row("product×safety", product="oven", batch=None, severity="safety")])
    (q,) = assembly.about_queries(sf)
    assert q == CellTopics(W, "oven", None, ("complaint", "question"), True)
    (item,) = surges_of(sf, {q: {}})
    assert item.topic_id == 0 and item.topic_label == "" and item.quotes == () and item.workaround is None
    (s,) = assembly.plan_surges(sf, {q: {}}).subjects
    assert s.series == Series(
        ("complaint", "question"), None, "oven", None, None, W - 11, W, safety_only=True
    )


def test_a_safety_cell_quotes_its_safety_tickets_and_is_named_by_a_topic_only_if_it_is_about_them() -> None:
    sf = surge_facts([Row("product×safety", product="oven", batch=None, severity="safety", cell="oven")])
    (q,) = assembly.about_queries(sf)
    # 15 of topic 11's 20 tickets this week are the oven's safety tickets: the topic names the item
    (s,) = assembly.plan_surges(sf, {q: {11: 15}}).subjects
    assert s.quotes == Quotes(11, W, W, "oven", None, safety_only=True) and s.named_by_topic
    (named,) = surges_of(sf, {q: {11: 15}})
    assert named.topic_label != "" and named.topic_id == 11
    # 3 of its 20: the topic is about something else; the item is named by its product alone
    (s,) = assembly.plan_surges(sf, {q: {11: 3}}).subjects
    assert s.quotes == Quotes(11, W, W, "oven", None, safety_only=True) and not s.named_by_topic
    (broad,) = surges_of(sf, {q: {11: 3}})
    assert broad.topic_label == "" and broad.fine_topics == () and broad.product_id == "oven"


def test_a_flagged_batch_is_named_inside_a_product_item() -> None:
    rows = [
        Row("product", product="kettle", q=0.001, observed=40, cell="kettle"),
        Row("product×batch", product="kettle", batch="K1", observed=12, expected=3.04, q=0.02),
    ]
    sf = surge_facts(rows)
    about = {q: {} for q in assembly.about_queries(sf)}
    (item,) = surges_of(sf, about)
    assert item.level == "product" and item.batch == "K1"
    assert item.explanation == "rising; batch K1: 12 vs ~3.0 expected"


def test_safety_items_come_first_then_by_q() -> None:
    rows = [
        Row("topic", topic_id=11, q=0.001),
        Row("topic", topic_id=13, q=0.05, severity="safety"),
        Row("theme", theme_id=9, q=0.0001),
    ]  # theme 9 is unknown: an item without a label
    sf = surge_facts(rows, counts={})
    items = surges_of(sf)
    assert [i.surge_identity for i in items] == ["h8", "h9", "h7"]
    assert items[1].topic_label == "" and items[1].topic_id == 0


def test_topics_top_emerging_and_opportunities() -> None:
    topics = dict(TOPICS)
    topics.update({100 + i: Topic(100 + i, f"t{i}") for i in range(12)})
    topics[99] = Topic(99, "new", status="emerging", created_week=W)
    topics[98] = Topic(98, "gone", status="ignored")
    topics.update({200 + i: Topic(200 + i, f"s{i}", intent="suggestion") for i in range(9)})
    complaints = {100 + i: 50 - i for i in range(12)} | {99: 1, 98: 100}
    counts = {
        ("complaint", W): complaints,
        ("complaint", W - 1): {100: 40},
        ("suggestion", W): {200 + i: 9 - i for i in range(9)},
    }
    sf = SurgeFacts(
        week=WEEK,
        today=TODAY,
        surges=[],
        topics=topics,
        theme_of={},
        themes={},
        week_counts={},
        actions=(),
        catalogue=CATALOGUE,
    )
    facts = brief_facts(sf, counts)
    plan = assembly.plan_brief(facts, {})
    brief = assembly.assemble_brief(facts, plan, fake_answers(plan.queries()), "en")
    assert [t.topic_id for t in brief.top_topics] == [100 + i for i in range(10)]
    assert (brief.top_topics[0].count, brief.top_topics[0].previous) == (50, 40)
    assert brief.top_topics[0].keywords == ("door", "hinge") and brief.top_topics[0].history[-1] == 7
    assert [t.label for t in brief.emerging] == ["new"]
    assert [t.topic_id for t in brief.opportunities] == [200 + i for i in range(8)]
    assert brief.surges == () and brief.global_rise is None


def test_a_topic_resolved_after_its_fix() -> None:
    fix_week = W - 6
    fixed = date.fromordinal(7 * fix_week + 2)
    actions = (
        Action(1, 11, status="done", fix_date=fixed),
        Action(2, 13, status="done", fix_date=fixed),
        Action(3, 12, status="done", fix_date=date.fromordinal(7 * (W - 20))),
        Action(4, None),
    )
    sf = surge_facts([], actions=actions)
    facts = brief_facts(sf)
    plan = assembly.plan_brief(facts, {})
    assert [(c.topic_id, c.fix_week) for c in plan.resolved] == [(11, fix_week), (13, fix_week)]
    series = {
        c.series: (
            {x: 8 for x in range(fix_week - 4, fix_week)}
            | {x: (1 if c.topic_id == 11 else 9) for x in range(fix_week, W + 1)}
        )
        for c in plan.resolved
    }
    brief = assembly.assemble_brief(facts, plan, series, "zh")
    assert [(t.topic_id, t.count, t.previous) for t in brief.resolved] == [(11, 1, 1)]
    # a done action is listed for 28 days after its fix; an open one always (days open until today)
    assert [(a.action_id, a.days_open) for a in brief.actions] == [(4, (TODAY - CREATED.date()).days)]
    done = assembly.action_item(actions[0], {11: "门关不紧"}, TODAY)
    assert (done.topic_label, done.days_open) == ("门关不紧", (fixed - CREATED.date()).days)


def test_the_brief_frame_kpis_and_delivery_problems() -> None:
    facts = brief_facts(surge_facts([Row("global", explanation_zh="总量上升", explanation_en="volume up")]))
    plan = assembly.plan_brief(facts, {})
    zh = assembly.assemble_brief(facts, plan, fake_answers(plan.queries()), "zh")
    en = assembly.assemble_brief(facts, plan, fake_answers(plan.queries()), "en")
    assert (zh.global_rise, en.global_rise) == ("总量上升", "volume up")
    assert (zh.week, zh.week_start, zh.week_end, zh.generated_on, zh.brand) == (
        "W100",
        WEEK.start,
        WEEK.end,
        TODAY,
        "Acme",
    )
    tickets = next(k for k in zh.kpis if k.key == "tickets")
    assert (tickets.value, tickets.previous, tickets.is_rate) == (100.0, 90.0, False)
    assert len(tickets.history) == 12
    fcr = next(k for k in zh.kpis if k.key == "fcr_rate")
    assert fcr.value is None and fcr.previous == 0.5 and fcr.is_rate
    assert [(p.channel, p.recipient, p.error) for p in zh.delivery_problems] == [("email", "a@x", "")]
    assert zh.method == MethodNote(8, 5, 0.1, 1.5)


def test_one_plan_serves_every_language_and_asks_each_query_once() -> None:
    rows = [Row("theme×product", theme_id=7, product="oven"), Row("topic", topic_id=13, product=None)]
    facts = brief_facts(surge_facts(rows), {("complaint", W): {11: 20, 13: 4}})
    plan = assembly.plan_brief(facts, {})
    queries = plan.queries()
    # topic 13's item and its top-topic entry read the same quotes
    assert Quotes(13, W, W) in queries and len([q for q in queries if isinstance(q, Quotes)]) == 3
    answers = fake_answers(queries)
    briefs = {lang: assembly.assemble_brief(facts, plan, answers, lang) for lang in ("zh", "en")}
    assert [s.topic_label for s in briefs["zh"].surges] == ["门关不紧", "漏水"]
    assert [s.topic_label for s in briefs["en"].surges] == ["door won't close", "漏水"]
    assert briefs["zh"].surges[0].history == briefs["en"].surges[0].history


def test_an_item_from_a_stored_row_alone() -> None:
    row = Row(
        "theme×product",
        theme_id=7,
        product="oven",
        observed=30,
        expected=4.0,
        conc_batch="B1",
        conc_share=0.8,
        conc_expected=0.2,
        conc_ratio=3.0,
    )
    series = {W - 1: 4, W: 6}
    item = assembly.item_from_row(row, "en", series, W, {}, THEMES[7], False, CATALOGUE, _name)
    assert (item.topic_label, item.theme_id, item.observed, item.ratio, item.product) == (
        "door won't close",
        7,
        30,
        5.0,
        "Oven",
    )
    assert item.concentration is not None and item.history[-2:] == (4, 6) and item.wow_change == 0.5
    gone = assembly.item_from_row(row, "zh", {W: 2}, W, {}, THEMES[7], True, CATALOGUE, _name)
    assert (gone.observed, gone.ratio, gone.concentration, gone.wow_change) == (2, 0.5, None, None)
    assert math.isnan(gone.q_value) and math.isnan(gone.ratio_lo) and gone.topic_label == "门关不紧"


def test_catalogue_names_and_owners() -> None:
    assert CATALOGUE.name("oven", "zh") == "烤箱" and CATALOGUE.name("kettle", "en") == "kettle"
    assert CATALOGUE.name(None, "en") is None
    assert CATALOGUE.owner("oven") == "ann"
    assert CATALOGUE.owner("kettle") == CATALOGUE.owner(None) == "dora"
    assert Catalogue({"x": ProductInfo("x", "x", None)}).owner("x") is None


def test_topics_of_equal_counts_are_listed_by_id_whatever_order_the_database_gave() -> None:
    # SQLite and PostgreSQL return a GROUP BY's rows in different orders: the same store gave two
    # different "top topics" and opportunity lists before ties were ordered
    topics = {200 + i: Topic(200 + i, f"s{i}", intent="suggestion") for i in range(10)}
    sf = replace(surge_facts([]), topics=topics, theme_of={}, themes={}, week_counts={})
    listed = []
    for order in (range(10), reversed(range(10))):
        facts = brief_facts(sf, {("suggestion", W): {200 + i: 2 for i in order}})
        plan = assembly.plan_brief(facts, {})
        brief = assembly.assemble_brief(facts, plan, fake_answers(plan.queries()), "en")
        listed.append([t.topic_id for t in brief.opportunities])
    assert listed[0] == listed[1] == [200 + i for i in range(8)]
