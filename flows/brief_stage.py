"""Brief stage: load the week's facts, let ``reports.assembly`` decide what the brief says, render it.

A recipe (the rules are in ``reports/assembly.py``): load the facts, answer what the cells without
a topic are about, plan the items (pure), load the evidence the plan asks for (series, quotes,
workarounds: once for every language), assemble each language's brief (pure), render and record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine

from voc.atomic import atomic_write, make_folder
from voc.config.settings import VocConfig
from voc.delivery.routing import owner_for
from voc.flows.pdf import html_to_pdf
from voc.reports import assembly
from voc.reports.assembly import (
    BriefFacts,
    BriefPlan,
    BriefWeek,
    Catalogue,
    CellTopics,
    ProductInfo,
    Query,
    Quotes,
    Series,
    SurgeFacts,
    Workaround,
)
from voc.reports.model import Brief, MethodNote
from voc.reports.render import render_brief
from voc.store import analysis, rendered, report_queries, themes
from voc.weeks import Week


def catalogue(cfg: VocConfig) -> Catalogue:
    """The configured products' names and owners (``cfg.product`` takes the first of an id)."""
    products: dict[str, ProductInfo] = {}
    for p in cfg.products:
        products.setdefault(p.id, ProductInfo(p.name_zh, p.name_en, owner_for(cfg, p.id)))
    return Catalogue(products, cfg.alerts.default_owner)


def week_name(n: int) -> str:
    """An ordinal's ISO week, e.g. ``2026-W47``."""
    return str(Week.from_ordinal(n))


def _week_ordinal(d: date) -> int:
    return Week.of(d).ordinal()


def brief_week(week: Week) -> BriefWeek:
    return BriefWeek(
        label=str(week),
        ordinal=week.ordinal(),
        start=week.start,
        end=week.end - timedelta(days=1),
        name_of=week_name,
        ordinal_of=_week_ordinal,
    )


def answer(conn: Connection, q: Query) -> Any:
    """One question of the assembly, answered by ``store.report_queries``."""
    if isinstance(q, Series):
        return report_queries.cell_history(
            conn, q.intents, q.topics, q.product, q.model, q.batch, q.first, q.last, safety_only=q.safety_only
        )
    if isinstance(q, Quotes):
        return report_queries.quotes(
            conn, q.topic, q.first, q.last, q.product, q.batch, safety_only=q.safety_only
        )
    if isinstance(q, Workaround):
        return report_queries.workaround(conn, q.topic, q.first, q.last)
    if isinstance(q, CellTopics):
        return report_queries.cell_topics(
            conn, q.week, q.product, q.batch, q.intents, safety_only=q.safety_only
        )
    raise TypeError(f"not a brief query: {q!r}")


def answers(conn: Connection, queries: Iterable[Query]) -> dict[Query, Any]:
    """Every query's :func:`answer`, the series and the quotes each in one batch (a read for all the
    series, three for all the quote sets) instead of one read per query."""
    qs = list(queries)
    series = report_queries.cell_histories(conn, [q for q in qs if isinstance(q, Series)])
    quotes = report_queries.quote_sets(conn, [q for q in qs if isinstance(q, Quotes)])
    return {
        q: series[q] if isinstance(q, Series) else quotes[q] if isinstance(q, Quotes) else answer(conn, q)
        for q in qs
    }


def load_surge_facts(conn: Connection, cfg: VocConfig, week: Week, today: date) -> SurgeFacts:
    """What the surge items need (the brief's and the alerts')."""
    w = week.ordinal()
    return SurgeFacts(
        week=brief_week(week),
        today=today,
        surges=analysis.load_surges(conn, w),
        topics={t.id: t for t in analysis.load_topics(conn)},
        theme_of=themes.topic_theme_map(conn),
        themes={t.id: t for t in themes.load_themes(conn)},
        week_counts=assembly.week_counts(
            report_queries.topic_counts(conn, "complaint", w),
            report_queries.topic_counts(conn, "question", w),
        ),
        actions=report_queries.actions(conn),
        catalogue=catalogue(cfg),
    )


def load_brief_facts(conn: Connection, cfg: VocConfig, week: Week, today: date) -> BriefFacts:
    surge = load_surge_facts(conn, cfg, week, today)
    w = week.ordinal()
    th = cfg.thresholds
    return BriefFacts(
        surge=surge,
        brand=cfg.report.brand,
        method=MethodNote(
            baseline_weeks=th.baseline_weeks, min_count=th.min_count, fdr_q=th.fdr_q, min_ratio=th.min_ratio
        ),
        kpi_rows=report_queries.kpi_rows(conn, surge.weeks[0], w),
        counts={
            (intent, x): report_queries.topic_counts(conn, intent, x)
            for intent, x in assembly.topic_count_keys(w)
        },
        failed_alerts=report_queries.failed_alerts(conn, w - 1),
    )


def surge_plan(
    conn: Connection, cfg: VocConfig, week: Week, today: date | None = None
) -> tuple[BriefPlan, dict[Query, Any]]:
    """The week's surge items as the brief plans them, with their evidence (``assembly.surge_items``
    makes them in a language): what alert planning needs, without the rest of the brief."""
    facts = load_surge_facts(conn, cfg, week, today or date.today())
    plan = assembly.plan_surges(facts, answers(conn, assembly.about_queries(facts)))
    return plan, answers(conn, plan.queries())


@dataclass(frozen=True)
class BriefInputs:
    """Everything ``assembly.assemble_brief`` needs for one week, in any language: the facts, the plan
    and the evidence it asked for (what the file brief and the web workbench both build from)."""

    facts: BriefFacts
    plan: BriefPlan
    evidence: dict[Query, Any]

    def brief(self, lang: str) -> Brief:
        return assembly.assemble_brief(self.facts, self.plan, self.evidence, lang)


def load_brief(conn: Connection, cfg: VocConfig, week: Week, today: date) -> BriefInputs:
    """The recipe: load the facts, answer what the cells without a topic are about, plan (pure), load
    the evidence the plan asks for. One plan and one set of reads serve every language."""
    facts = load_brief_facts(conn, cfg, week, today)
    plan = assembly.plan_brief(facts, answers(conn, assembly.about_queries(facts.surge)))
    return BriefInputs(facts, plan, answers(conn, plan.queries()))


def build_briefs(
    engine: Engine, cfg: VocConfig, week: Week, langs: Iterable[str], today: date | None = None
) -> dict[str, Brief]:
    """The brief in each language (one plan, one set of reads for all of them)."""
    with engine.connect() as conn:
        inputs = load_brief(conn, cfg, week, today or date.today())
    return {lang: inputs.brief(lang) for lang in langs}


def build_brief(engine: Engine, cfg: VocConfig, week: Week, lang: str, today: date | None = None) -> Brief:
    return build_briefs(engine, cfg, week, [lang], today)[lang]


def ordered_formats(formats: list[str]) -> list[str]:
    """PDF is printed from the HTML file, so HTML is written first."""
    return sorted(formats, key=lambda f: f == "pdf")


def write_brief(
    engine: Engine,
    cfg: VocConfig,
    week: Week,
    out_dir: Path,
    langs: list[str],
    formats: list[str],
    today: date | None = None,
) -> list[Path]:
    """Render the brief in each language and format, record each file, return the paths."""
    paths: list[Path] = []
    briefs = build_briefs(engine, cfg, week, langs, today)
    for lang in langs:
        brief = briefs[lang]
        paths += write_rendered(
            engine,
            out_dir,
            "weekly",
            str(week),
            lang,
            formats,
            f"brief-{week}",
            cast(
                Callable[[str], str],
                lambda fmt, b=brief, lg=lang: render_brief(
                    b, lg, fmt, cfg.report.templates_dir, cfg.web.base_url
                ),
            ),
        )
    return paths


def write_rendered(
    engine: Engine,
    out_dir: Path,
    kind: str,
    period: str,
    lang: str,
    formats: list[str],
    stem: str,
    render: Callable[[str], str],
) -> list[Path]:
    """Write one document in each format (PDF is printed from the HTML file) and record each."""
    make_folder(out_dir)
    paths = []
    for fmt in ordered_formats(formats):
        path = out_dir / f"{stem}.{lang}.{fmt}"
        content: str | bytes
        if fmt == "pdf":
            html = out_dir / f"{stem}.{lang}.html"
            if "html" not in formats:
                atomic_write(html, render("html"))
            content = html_to_pdf(html, path).read_bytes()
        else:
            content = render(fmt)
            atomic_write(path, content)
        rendered.record(engine, kind, period, lang, fmt, path, content)
        paths.append(path)
    return paths
