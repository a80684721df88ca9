"""Quarterly improvement review: trends of the quarter and whether each fix reduced complaints."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine

from voc.config.settings import VocConfig
from voc.flows.brief_stage import write_rendered
from voc.reports.assembly import ActionRecord, build_kpis
from voc.reports.model import ActionEffect, Review
from voc.reports.render import render_review
from voc.reports.review import action_effect_of, effect_span, review_topics, team_kpis
from voc.store import analysis, report_queries
from voc.weeks import Quarter, Week


def measure_action(
    conn: Connection, a: ActionRecord, labels: Mapping[int, str], latest: int, today: date
) -> ActionEffect | None:
    """The before/after effect of a fixed action item (``reports.review.action_effect_of``), or None
    when it has no fix date or no topic; ``latest``: an ordinal, the last complete week to count. The
    quarterly review and the web workbench's action items page both measure with this."""
    if not a.fix_date or a.topic_id is None:
        return None
    fix = Week.of(a.fix_date).ordinal()
    lo, hi = effect_span(fix)
    complaints = report_queries.cell_history(conn, "complaint", a.topic_id, None, None, None, lo, hi)
    return action_effect_of(
        a, fix, latest, complaints, report_queries.weekly_totals(conn, lo, hi), labels, today
    )


def build_review(engine: Engine, cfg: VocConfig, quarter: Quarter, today: date | None = None) -> Review:
    today = today or date.today()
    complete = [w for w in quarter.weeks() if w.end <= today]  # a running quarter: only weeks that ended
    weeks = [w.ordinal() for w in (complete or quarter.weeks())]
    first, last = weeks[0], weeks[-1]
    with engine.connect() as conn:
        topics = {t.id: t for t in analysis.load_topics(conn)}
        labels = {i: t.label for i, t in topics.items()}
        totals = report_queries.weekly_totals(conn, first, last)
        complaints = report_queries.weekly_totals(conn, first, last, "complaint")
        kpis = build_kpis(report_queries.kpi_rows(conn, first, last), weeks)
        counts: dict[int, dict[int, int]] = {}
        for w in weeks:
            for tid, n in report_queries.topic_counts(conn, "complaint", w).items():
                counts.setdefault(tid, {})[w] = n
        top, emerging = review_topics(topics, counts, weeks)
        latest = min(last, Week.of(today).ordinal() - 1)
        effects = [
            e
            for a in report_queries.actions(conn)
            if (e := measure_action(conn, a, labels, latest, today)) is not None
        ]
        teams = team_kpis(report_queries.kpi_sums_by_agent(conn, first, last), cfg.teams, weeks)
    return Review(
        quarter=str(quarter),
        weeks=tuple(str(Week.from_ordinal(w)) for w in weeks),
        generated_on=today,
        brand=cfg.report.brand,
        totals=tuple(totals.get(w, 0) for w in weeks),
        complaints=tuple(complaints.get(w, 0) for w in weeks),
        top_topics=top,
        effects=tuple(effects),
        emerging=emerging,
        kpis=kpis,
        teams=teams,
    )


def write_review(
    engine: Engine,
    cfg: VocConfig,
    quarter: Quarter,
    out_dir: Path,
    langs: list[str],
    formats: list[str],
    today: date | None = None,
) -> list[Path]:
    review = build_review(engine, cfg, quarter, today)
    paths: list[Path] = []
    for lang in langs:
        paths += write_rendered(
            engine,
            out_dir,
            "review",
            str(quarter),
            lang,
            formats,
            f"review-{quarter}",
            cast(
                Callable[[str], str],
                lambda fmt, lg=lang: render_review(review, lg, fmt, cfg.report.templates_dir),
            ),
        )
    return paths
