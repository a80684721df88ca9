"""The quarterly improvement review's measures, from values (pure): did a fix reduce complaints, the
service KPIs per team, the quarter's top and emerging topics.

``flows/review_stage.py`` loads the quarter's counts, action items and KPI sums and calls these; the
web workbench's action items page measures a fix with the same :func:`action_effect_of`. Weeks are
ordinals (consecutive integers); ``reports/`` imports neither ``voc`` nor ``config``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from voc.reports.assembly import EFFECT_WEEKS, ActionRecord, action_item
from voc.reports.model import ActionEffect, Kpi, TeamKpis, TopicItem


def action_effect(
    before: int, before_tickets: int, after: int, after_tickets: int
) -> tuple[float, float, float]:
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


def effect_span(fix: int) -> tuple[int, int]:
    """The weeks (first, last) whose counts :func:`action_effect_of` reads for a fix in week ``fix``."""
    return fix - EFFECT_WEEKS, fix + EFFECT_WEEKS


def action_effect_of(
    a: ActionRecord,
    fix: int,
    latest: int,
    complaints: Mapping[int, int],
    tickets: Mapping[int, int],
    labels: Mapping[int, str],
    today: date,
) -> ActionEffect:
    """The before/after effect of an action item fixed in week ``fix``: complaints on its topic
    (``complaints``: week -> count) per ticket volume (``tickets``: week -> all tickets) in the
    ``EFFECT_WEEKS`` weeks before the fix week against the weeks after it up to ``latest`` (the last
    complete week to count)."""
    before_w = list(range(fix - EFFECT_WEEKS, fix))
    after_w = list(range(fix + 1, min(fix + EFFECT_WEEKS, latest) + 1))
    nb, na = sum(complaints.get(w, 0) for w in before_w), sum(complaints.get(w, 0) for w in after_w)
    vb, va = sum(tickets.get(w, 0) for w in before_w), sum(tickets.get(w, 0) for w in after_w)
    ratio, lo, hi = action_effect(nb, vb, na, va)
    return ActionEffect(
        action=action_item(a, labels, today),
        weeks=len(after_w),
        rate_before=1000 * nb / max(vb, 1),
        rate_after=1000 * na / max(va, 1),
        change_lo=lo,
        change_hi=hi,
        ratio=ratio,
        verdict=verdict(lo, hi, len(after_w)),
    )


TEAM_KPIS = (
    ("fcr_rate", "fcr", "n"),
    ("closed_24h", "h24", "timed"),
    ("reopen_rate", "reopen", "n"),
    ("transfer_rate", "transfer", "n"),
)


def team_kpis(rows: Iterable[Any], teams: Mapping[str, list[str]], weeks: list[int]) -> tuple[TeamKpis, ...]:
    """Service KPIs per team and week; a ticket's team is its agent's configured team, else its channel.
    ``rows``: KPI sums per agent, channel and week (``store.report_queries.kpi_sums_by_agent``)."""
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
            hist = tuple(
                (by_week[w][num] / by_week[w][den]) if w in by_week and by_week[w][den] else None
                for w in weeks
            )
            known = [h for h in hist if h is not None]
            kpis.append(
                Kpi(
                    key=key,
                    value=known[-1] if known else None,
                    previous=known[-2] if len(known) > 1 else None,
                    history=hist,
                    is_rate=True,
                )
            )
        out.append(TeamKpis(team=team, tickets=sum(c["n"] for c in by_week.values()), kpis=tuple(kpis)))
    return tuple(sorted(out, key=lambda t: -t.tickets))


class ReviewTopic(Protocol):
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


def review_topics(
    topics: Mapping[int, ReviewTopic], counts: Mapping[int, Mapping[int, int]], weeks: Sequence[int]
) -> tuple[tuple[TopicItem, ...], tuple[TopicItem, ...]]:
    """(the quarter's ten most complained-about topics, less the ignored ones; the topics that emerged
    in the quarter) from ``counts``: topic -> week -> complaints, over the quarter's ``weeks``.
    Topics of the very first fit are the baseline catalogue, not topics that emerged."""
    first, last = weeks[0], weeks[-1]
    baseline_week = min((t.created_week for t in topics.values()), default=0)
    sums = {tid: sum(by_week.values()) for tid, by_week in counts.items()}
    top = []
    for tid, n in sorted(sums.items(), key=lambda kv: -kv[1])[:10]:
        t = topics.get(tid)
        if t is None or t.status == "ignored":
            continue
        top.append(
            TopicItem(
                topic_id=tid,
                label=t.label,
                intent="complaint",
                count=n,
                previous=0,
                keywords=tuple(k for k in t.keywords.split(" / ") if k)[:8],
                quotes=(),
                history=tuple(counts[tid].get(w, 0) for w in weeks),
            )
        )
    emerging = [
        TopicItem(
            topic_id=t.id,
            label=t.label,
            intent=t.intent,
            count=sums.get(t.id, 0),
            previous=0,
            keywords=(),
            quotes=(),
            history=tuple(counts.get(t.id, {}).get(w, 0) for w in weeks),
        )
        for t in topics.values()
        if first <= t.created_week <= last and t.status != "ignored" and t.created_week > baseline_week
    ]
    return tuple(top), tuple(emerging)
