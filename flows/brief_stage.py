"""Brief stage: assemble the weekly ``reports.model.Brief`` from queries and render it to files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, insert

from config.settings import VocConfig
from delivery.routing import owner_for
from flows.pdf import html_to_pdf
from reports.explanations import batch_count_clause, batch_share_clause
from reports.model import (
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
from reports.render import render_brief
from store import analysis, report_queries, themes
from store.models import BriefRendered, Topic
from surges.selection import SAFETY_LEVELS, group_surges, item_model, item_theme
from voc.atomic import atomic_write, make_folder
from voc.weeks import Week

KPI_KEYS = ("tickets", "complaints", "fcr_rate", "closed_24h", "closed_48h", "reopen_rate", "transfer_rate")
RATE_KEYS = {"fcr_rate", "closed_24h", "closed_48h", "reopen_rate", "transfer_rate"}
HISTORY = 12
SEVERITY_ORDER = {"safety": 0, "defect": 1, "service": 2, "other": 3}


def product_name(cfg: VocConfig, product_id: str | None, lang: str) -> str | None:
    p = cfg.product(product_id)
    if p is None:
        return product_id
    return p.name_zh if lang == "zh" else p.name_en


def build_kpis(rows: dict[int, dict[str, Any]], weeks: list[int]) -> tuple[Kpi, ...]:
    out = []
    for key in KPI_KEYS:
        hist = tuple(None if rows.get(w, {}).get(key) is None else float(rows[w][key]) for w in weeks)
        out.append(Kpi(key=key, value=hist[-1], previous=hist[-2] if len(hist) > 1 else None, history=hist,
                       is_rate=key in RATE_KEYS))
    return tuple(out)


def action_item(a: Any, labels: dict[int, str], today: date) -> ActionItem:
    """An action-items row as the brief and the quarterly review show it (days open until its fix, or today)."""
    end = a.fix_date if a.status == "done" and a.fix_date else today
    return ActionItem(action_id=a.id, topic_id=a.topic_id, topic_label=labels.get(a.topic_id),
                      product=a.product, batch=a.batch, owner=a.owner, status=a.status, due=a.due,
                      fix_date=a.fix_date, days_open=max(0, (end - a.created_at.date()).days), note=a.note)


def surge_series(conn: Any, r: Any, theme_topics: Sequence[int], w0: int, w: int) -> dict[int, int]:
    """Weekly counts of a flagged cell (a stored surge row): a theme counts its topics' complaints and
    questions, a safety cell its safety tickets, other cells complaints."""
    model = r.model if r.level == "topic×product×model" else None
    if r.level.startswith("theme"):
        return report_queries.cell_history(conn, ("complaint", "question"), theme_topics, r.product, None, r.batch,
                                           w0, w)
    if r.level in SAFETY_LEVELS:
        return report_queries.cell_history(conn, ("complaint", "question"), None, r.product, None, None, w0, w,
                                           safety_only=True)
    return report_queries.cell_history(conn, "complaint", r.topic_id, r.product, model, r.batch, w0, w)


def build_brief(engine: Engine, cfg: VocConfig, week: Week, lang: str, today: date | None = None) -> Brief:
    today = today or date.today()
    w = week.ordinal()
    weeks = list(range(w - HISTORY + 1, w + 1))
    with engine.connect() as conn:
        topics = {t.id: t for t in analysis.load_topics(conn)}
        labels = {i: t.label for i, t in topics.items()}
        kpis = build_kpis(report_queries.kpi_rows(conn, weeks[0], w), weeks)
        surge_rows = analysis.load_surges(conn, w)
        actions_all = report_queries.actions(conn)
        action_items = [action_item(a, labels, today) for a in actions_all]
        open_by_topic = {a.topic_id: a for a in action_items if a.status != "done"}
        theme_of = themes.topic_theme_map(conn)
        theme_recs = {t.id: t for t in themes.load_themes(conn)}
        week_counts = report_queries.topic_counts(conn, "complaint", w)
        for tid, n in report_queries.topic_counts(conn, "question", w).items():
            week_counts[tid] = week_counts.get(tid, 0) + n
        items = []
        for g in group_surges(surge_rows, theme_of):
            r = g.primary
            theme = theme_recs.get(g.theme_id) if g.theme_id is not None else None
            theme_topics = tuple(t for t in (theme.topic_ids if theme else ()) if t in topics)
            # the fine topics under the theme that have tickets this week, most first
            under = sorted((t for t in theme_topics if week_counts.get(t)), key=lambda t: (-week_counts[t], t))
            rep = r.topic_id if r.topic_id is not None else next(iter(g.topic_ids or under), None)
            if rep is None and theme is None and r.product:
                # a product, batch or safety cell on its own: say what its tickets are about (the
                # theme holding most of them, and its fine topics)
                safety = r.level in SAFETY_LEVELS
                about = report_queries.cell_topics(conn, w, r.product, None if safety else r.batch,
                                                   ("complaint", "question") if safety else ("complaint",),
                                                   safety_only=safety)
                theme, under, rep = item_theme(about, theme_of, theme_recs)
                theme_topics = ()
            label = labels.get(rep, "") if rep is not None else ""
            if theme is not None:
                label = (theme.label_en if lang == "en" and theme.label_en else theme.label) or label
            hist = surge_series(conn, r, theme_topics, weeks[0], w)
            history = tuple(hist.get(x, 0) for x in weeks)
            prev = history[-2]
            qs = report_queries.quotes(conn, rep, w, w, r.product, r.batch) if rep is not None else []
            model, src = item_model(r, g.rows)
            conc = None
            if src is None and g.batch_row is not None and g.batch_row is not r and r.level != "product×batch":
                src = g.batch_row if g.batch_row.conc_batch else None
            if src is not None and src.conc_batch:
                conc = BatchShare(batch=src.conc_batch, share=src.conc_share, expected_share=src.conc_expected,
                                  ratio=src.conc_ratio)
            explanation = r.explanation_zh if lang == "zh" else r.explanation_en
            batch = r.batch
            if src is not None and src is not r and src.conc_batch:
                explanation += batch_share_clause(src.conc_share, src.conc_batch, lang)
            elif g.batch_row is not None and g.batch_row is not r and not r.batch:
                b = g.batch_row
                batch = b.batch
                explanation += batch_count_clause(b.batch, b.observed, b.expected, lang)
            items.append(SurgeItem(
                topic_id=rep or 0, topic_label=label, theme_id=g.theme_id, surge_identity=g.identity,
                fine_topics=tuple(labels[t] for t in under[:4] if labels.get(t) and labels[t] != label),
                level=r.level, product=product_name(cfg, r.product, lang), model=model, batch=batch,
                severity=g.severity,
                observed=r.observed, expected=r.expected, ratio=r.ratio,
                ratio_lo=r.ratio_lo, ratio_hi=r.ratio_hi, q_value=r.q,
                wow_change=(history[-1] - prev) / prev if prev else None,
                since_week=str(Week.from_ordinal(r.first_week)), methods=tuple(r.methods.split("+")),
                is_new_topic=r.new_cell, concentration=conc, history=history,
                quotes=tuple(Quote(t, lg) for t, lg in qs),
                workaround=report_queries.workaround(conn, rep, w - 12, w) if rep is not None else None,
                owner=owner_for(cfg, r.product), action=open_by_topic.get(rep) if rep is not None else None,
                explanation=explanation,
                product_id=r.product, alert_key=f"{r.level}|{r.cell}|{r.first_week}"))
        items.sort(key=lambda s: (SEVERITY_ORDER.get(s.severity, 9), s.q_value, -s.ratio))
        global_rows = [r for r in surge_rows if r.level == "global"]
        glob = (global_rows[0].explanation_zh if lang == "zh" else global_rows[0].explanation_en) \
            if global_rows else None
        top: list[TopicItem]
        emerging, opportunities, top = [], [], []
        for intent in ("complaint", "suggestion"):
            now = report_queries.topic_counts(conn, intent, w)
            before = report_queries.topic_counts(conn, intent, w - 1)
            for tid, n in sorted(now.items(), key=lambda kv: -kv[1]):
                t = topics.get(tid)
                if t is None or t.status in ("ignored", "merged"):
                    continue
                is_emerging = t.status == "emerging" and t.created_week == w
                wanted = intent == "suggestion" or is_emerging or len(top) < 10
                if not wanted:
                    continue
                hist = report_queries.cell_history(conn, intent, tid, None, None, None, weeks[0], w)
                item = TopicItem(topic_id=tid, label=t.label, intent=intent, count=n, previous=before.get(tid, 0),
                                 keywords=tuple(k for k in t.keywords.split(" / ") if k)[:8],
                                 quotes=tuple(Quote(x, lg) for x, lg in report_queries.quotes(conn, tid, w, w)),
                                 history=tuple(hist.get(x, 0) for x in weeks))
                if is_emerging:
                    emerging.append(item)
                elif intent == "suggestion":
                    opportunities.append(item)
                else:
                    top.append(item)
        resolved = _resolved(conn, action_items, topics, w, weeks)
        problems = [DeliveryProblem(c, rcp, e or "") for c, rcp, e in report_queries.failed_alerts(conn, w - 1)]
    th = cfg.thresholds
    return Brief(
        week=str(week), week_start=week.start, week_end=week.end - timedelta(days=1), generated_on=today,
        brand=cfg.report.brand, kpis=kpis, global_rise=glob, surges=tuple(items), emerging=tuple(emerging),
        opportunities=tuple(opportunities[:8]), resolved=tuple(resolved), top_topics=tuple(top[:10]),
        actions=tuple(a for a in action_items if a.status != "done" or
                      (a.fix_date and (today - a.fix_date).days <= 28)),
        delivery_problems=tuple(problems),
        method=MethodNote(baseline_weeks=th.baseline_weeks, min_count=th.min_count, fdr_q=th.fdr_q,
                          min_ratio=th.min_ratio))


def _resolved(conn: Any, action_items: list[ActionItem], topics: dict[int, Topic], w: int,
              weeks: list[int]) -> list[TopicItem]:
    """Topics whose complaints fell after a completed action (4 weeks after vs 4 weeks before the fix)."""
    out = []
    for a in action_items:
        if a.status != "done" or not a.fix_date or a.topic_id not in topics:
            continue
        fix = Week.of(a.fix_date).ordinal()
        if not (w - 13 <= fix < w):
            continue
        hist = report_queries.cell_history(conn, "complaint", a.topic_id, None, None, None, fix - 4, w)
        before = sum(hist.get(x, 0) for x in range(fix - 4, fix))
        after_weeks = list(range(fix + 1, min(fix + 5, w + 1)))
        after = sum(hist.get(x, 0) for x in after_weeks)
        if after_weeks and after / len(after_weeks) < before / 4:
            t = topics[a.topic_id]
            out.append(TopicItem(topic_id=t.id, label=t.label, intent=t.intent, count=hist.get(w, 0),
                                 previous=hist.get(w - 1, 0), keywords=(), quotes=(),
                                 history=tuple(hist.get(x, 0) for x in weeks)))
    return out


def ordered_formats(formats: list[str]) -> list[str]:
    """PDF is printed from the HTML file, so HTML is written first."""
    return sorted(formats, key=lambda f: f == "pdf")


def write_brief(engine: Engine, cfg: VocConfig, week: Week, out_dir: Path, langs: list[str], formats: list[str],
                today: date | None = None) -> list[Path]:
    """Render the brief in each language and format, record each file, return the paths."""
    paths: list[Path] = []
    for lang in langs:
        brief = build_brief(engine, cfg, week, lang, today)
        paths += write_rendered(engine, out_dir, "weekly", str(week), lang, formats, f"brief-{week}",
                                cast(Callable[[str], str],
                                     lambda fmt, b=brief, lg=lang: render_brief(b, lg, fmt, cfg.report.templates_dir)))
    return paths


def write_rendered(engine: Engine, out_dir: Path, kind: str, period: str, lang: str, formats: list[str], stem: str,
                   render: Callable[[str], str]) -> list[Path]:
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
        record_output(engine, kind, period, lang, fmt, path, content)
        paths.append(path)
    return paths


def record_output(engine: Engine, kind: str, period: str, lang: str, fmt: str, path: Path,
                  content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    with engine.begin() as conn:
        conn.execute(insert(BriefRendered).values(
            kind=kind, period=period, lang=lang, fmt=fmt, path=str(path),
            sha256=hashlib.sha256(data).hexdigest(), created_at=datetime.now().replace(microsecond=0)))
