"""Quarterly improvement review: trends of the quarter and whether each fix reduced complaints."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine

from voc.config.settings import VocConfig
from voc.flows.brief_stage import write_rendered
from voc.reports.assembly import ActionRecord, action_item, build_kpis
from voc.reports.model import ActionEffect, Kpi, Review, TeamKpis, TopicItem
from voc.reports.render import render_review
from voc.store import analysis, report_queries
from voc.weeks import Quarter, Week

EFFECT_WEEKS = 4


def action_effect(before: int, before_tickets: int, after: int, after_tickets: int) -> tuple[float, float, float]:
    """Rate ratio after/before (complaints per ticket volume) with a 95% log-normal interval."""
    a, b = after + 0.5, before + 0.5  # continuity correction keeps zero counts finite
    ra, rb = a / max(after_tickets, 1), b / max(before_tickets, 1)
    ratio = ra / rb
    se = math.sqrt(1 / a + 1 / b)
    return ratio, ratio * math.exp(-1.96 * se), ratio * math.exp(1.96 * se)


def verdict(lo: float, hi: float, after_weeks: int) -> str:
    if after_weeks < 2:
        return "too_early"
    if hi < 1:
        return "worked"
    if lo > 1:
        return "got_worse"
    return "no_clear_change"


def measure_action(conn: Connection, a: ActionRecord, labels: Mapping[int, str], latest: int,
                   today: date) -> ActionEffect | None:
    """The before/after effect of a fixed action item (the review's "did the actions work?"), or None
    when it has no fix date or no topic: complaints on its topic per ticket volume in the
    ``EFFECT_WEEKS`` weeks before the fix week against the weeks after it up to ``latest`` (an
    ordinal, the last complete week to count). The quarterly review and the web workbench's action
    items page both measure with this."""
    if not a.fix_date or a.topic_id is None:
        return None
    fix = Week.of(a.fix_date).ordinal()
    before_w = list(range(fix - EFFECT_WEEKS, fix))
    after_w = list(range(fix + 1, min(fix + EFFECT_WEEKS, latest) + 1))
    h = report_queries.cell_history(conn, "complaint", a.topic_id, None, None, None, fix - EFFECT_WEEKS,
                                    fix + EFFECT_WEEKS)
    vol = report_queries.weekly_totals(conn, fix - EFFECT_WEEKS, fix + EFFECT_WEEKS)
    nb, na = sum(h.get(w, 0) for w in before_w), sum(h.get(w, 0) for w in after_w)
    vb, va = sum(vol.get(w, 0) for w in before_w), sum(vol.get(w, 0) for w in after_w)
    ratio, lo, hi = action_effect(nb, vb, na, va)
    return ActionEffect(action=action_item(a, labels, today), weeks=len(after_w),
                        rate_before=1000 * nb / max(vb, 1), rate_after=1000 * na / max(va, 1),
                        change_lo=lo, change_hi=hi, ratio=ratio, verdict=verdict(lo, hi, len(after_w)))


TEAM_KPIS = (("fcr_rate", "fcr", "n"), ("closed_24h", "h24", "timed"), ("reopen_rate", "reopen", "n"),
             ("transfer_rate", "transfer", "n"))


def team_kpis(rows: list, teams: dict[str, list[str]], weeks: list[int]) -> tuple[TeamKpis, ...]:
    """Service KPIs per team and week; a ticket's team is its agent's configured team, else its channel."""
    team_of = {agent: team for team, agents in teams.items() for agent in agents}
    sums: dict[str, dict[int, dict[str, int]]] = {}
    for r in rows:
        team = team_of.get(r.agent or "") or r.channel or "—"
        cell = sums.setdefault(team, {}).setdefault(r.week, {})
        for k in ("n", "fcr", "timed", "h24", "reopen", "transfer"):
            cell[k] = cell.get(k, 0) + int(getattr(r, k) or 0)
    out = []
    for team, by_week in sums.items():
        kpis = []
        for key, num, den in TEAM_KPIS:
            hist = tuple((by_week[w][num] / by_week[w][den]) if w in by_week and by_week[w][den] else None
                         for w in weeks)
            known = [h for h in hist if h is not None]
            kpis.append(Kpi(key=key, value=known[-1] if known else None,
                            previous=known[-2] if len(known) > 1 else None, history=hist, is_rate=True))
        out.append(TeamKpis(team=team, tickets=sum(c["n"] for c in by_week.values()), kpis=tuple(kpis)))
    return tuple(sorted(out, key=lambda t: -t.tickets))


def build_review(engine: Engine, cfg: VocConfig, quarter: Quarter, today: date | None = None) -> Review:
    today = today or date.today()
    complete = [w for w in quarter.weeks() if w.end <= today]  # a running quarter: only weeks that ended
    weeks = [w.ordinal() for w in (complete or quarter.weeks())]
    first, last = weeks[0], weeks[-1]
    with engine.connect() as conn:
        topics = {t.id: t for t in analysis.load_topics(conn)}
        labels = {i: t.label for i, t in topics.items()}
        # topics from the very first fit are the baseline catalogue, not themes that emerged
        baseline_week = min((t.created_week for t in topics.values()), default=0)
        totals = report_queries.weekly_totals(conn, first, last)
        complaints = report_queries.weekly_totals(conn, first, last, "complaint")
        kpis = build_kpis(report_queries.kpi_rows(conn, first, last), weeks)
        sums: dict[int, int] = {}
        hists: dict[int, dict[int, int]] = {}
        for w in weeks:
            for tid, n in report_queries.topic_counts(conn, "complaint", w).items():
                sums[tid] = sums.get(tid, 0) + n
                hists.setdefault(tid, {})[w] = n
        top = []
        for tid, n in sorted(sums.items(), key=lambda kv: -kv[1])[:10]:
            t = topics.get(tid)
            if t is None or t.status == "ignored":
                continue
            h: tuple[int, ...] | dict[int, int]  # reused below for a cell history
            h = tuple(hists[tid].get(w, 0) for w in weeks)
            top.append(TopicItem(topic_id=tid, label=t.label, intent="complaint", count=n, previous=0,
                                 keywords=tuple(k for k in t.keywords.split(" / ") if k)[:8], quotes=(), history=h))
        emerging = [TopicItem(topic_id=t.id, label=t.label, intent=t.intent, count=sums.get(t.id, 0), previous=0,
                              keywords=(), quotes=(), history=tuple(hists.get(t.id, {}).get(w, 0) for w in weeks))
                    for t in topics.values() if first <= t.created_week <= last and t.status != "ignored"
                    and t.created_week > baseline_week]
        latest = min(last, Week.of(today).ordinal() - 1)
        effects = [e for a in report_queries.actions(conn)
                   if (e := measure_action(conn, a, labels, latest, today)) is not None]
        teams = team_kpis(report_queries.kpi_sums_by_agent(conn, first, last), cfg.teams, weeks)
    return Review(quarter=str(quarter), weeks=tuple(str(Week.from_ordinal(w)) for w in weeks), generated_on=today,
                  brand=cfg.report.brand, totals=tuple(totals.get(w, 0) for w in weeks),
                  complaints=tuple(complaints.get(w, 0) for w in weeks), top_topics=tuple(top),
                  effects=tuple(effects), emerging=tuple(emerging), kpis=kpis, teams=teams)


def write_review(engine: Engine, cfg: VocConfig, quarter: Quarter, out_dir: Path, langs: list[str],
                 formats: list[str], today: date | None = None) -> list[Path]:
    review = build_review(engine, cfg, quarter, today)
    paths: list[Path] = []
    for lang in langs:
        paths += write_rendered(engine, out_dir, "review", str(quarter), lang, formats, f"review-{quarter}",
                                cast(Callable[[str], str],
                                     lambda fmt, lg=lang: render_review(review, lg, fmt, cfg.report.templates_dir)))
    return paths
