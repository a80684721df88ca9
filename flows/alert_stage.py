"""Alert stage: tell each owner about their surges once, in their language, on their channels.

The rules live in pure modules: who is told and where in ``delivery/routing.py``; the lifecycle
(start, escalation, resolved, quiet hours, dedupe keys, one product's safety surge across items) in
``delivery/lifecycle.py``. This stage loads what they need from the store, renders the messages,
and claims, sends and records each one.

Every send is one row per (dedupe key, channel, recipient) in ``alerts``. The row is written
*before* sending (``pending``) and updated after. A ``pending`` row found by a later run means the
process stopped between the two: the message may or may not have gone out. It is marked
``unknown`` and **not** re-sent — a duplicate safety e-mail is cheap, but a send loop after a
crash in the "record" step is exactly the spam this stage exists to prevent, and a human can
check one ``unknown`` row (it stays visible in the table and in the run's stats) while they
cannot un-send messages. Transient failures (timeouts, 429, 5xx) are retried with exponential
backoff; permanent ones are recorded as ``failed`` (the next brief lists them) and retried on the
next run. A failing channel never stops the other channels or the flow.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from voc.config.settings import Settings, VocConfig
from voc.delivery import lifecycle
from voc.delivery.channels import ChannelSet, FileSink, SmtpChannel, deliver
from voc.delivery.lifecycle import Flagged, Record, Track, TrackKey, identity, in_quiet_hours
from voc.delivery.message import Channel, Message
from voc.delivery.routing import Target
from voc.flows.brief_stage import answer, catalogue, surge_plan, week_name
from voc.reports import assembly
from voc.reports.assembly import HISTORY
from voc.reports.links import surge_url, week_url
from voc.reports.model import Alert, SurgeItem
from voc.reports.render import alert_subject, render_alert
from voc.store import alert_log, analysis
from voc.surges.selection import SAFETY_LEVELS, group_surges
from voc.weeks import Week

log = logging.getLogger("voc.alerts")


@dataclass(frozen=True)
class PlannedAlert:
    alert: Alert
    dedupe_keys: tuple[str, ...]
    ratios: tuple[float, ...]
    message: Message
    target: Target | None = None
    kinds: tuple[str, ...] = ()  # per key: start | escalation | resolved
    weeks: tuple[int, ...] = ()  # per key: the week (ordinal) whose data the item shows
    deferred: bool = False  # quiet hours: record as 'deferred', send on a later run
    supersedes: tuple[str, ...] = ()  # deferred keys this message makes obsolete


def _load_tracks(conn: Connection) -> dict[TrackKey, Track]:
    """What each (channel, recipient) was told about each surge, from the alert log."""
    return lifecycle.tracks_from(
        Record(r.dedupe_key, r.channel, r.recipient, r.owner, r.status, r.week, r.ratio)
        for r in alert_log.load(conn)
    )


# ---------------------------------------------------------------------------------------------
# Planning (read-only: `voc alerts --dry-run` prints exactly this)
# ---------------------------------------------------------------------------------------------


def _item_from_row(
    conn: Connection,
    cfg: VocConfig,
    row: Any,
    lang: str,
    until: int,
    labels: Mapping[int, str],
    resolved: bool,
    theme_recs: Mapping[int, assembly.ThemeRecord],
) -> SurgeItem:
    """A surge item from a stored surges row (no quotes): for resolved notes and late deferred alerts."""
    theme = theme_recs.get(row.theme_id) if row.theme_id is not None else None
    topics = theme.topic_ids if theme else ()
    series = answer(conn, assembly.surge_series(row, topics, until - HISTORY + 1, until))
    return assembly.item_from_row(
        row, lang, series, until, labels, theme, resolved, catalogue(cfg), week_name
    )


def _payload_hash(m: Message) -> str:
    parts = (m.recipient, m.subject, m.text, m.html or "", m.markdown or "")
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def plan(
    engine: Engine,
    cfg: VocConfig,
    week: Week,
    channel_name: str = "email",
    brief_link: str | None = None,
    *,
    now: datetime | None = None,
    only_safety: bool = False,
) -> list[PlannedAlert]:
    """Work out who gets what, on which channel, in which language; nothing is sent or written.

    Each alert links to the week's brief and each surge to its page in the web workbench, in the
    owner's language, when ``web.base_url`` is set (``reports.links``); else to ``brief_link`` when
    given, else it says the workbench is not configured.

    ``channel_name='file'`` plans for a file sink (one message per owner); anything else uses each
    owner's configured channels. ``only_safety`` (the daily safety check, flows/safety.py): only the
    week's safety surges, starts and escalations; no resolved notes and no late deferred alerts
    (the week is still running: the weekly run judges it whole and takes care of those).
    """
    w = week.ordinal()
    quiet = in_quiet_hours(cfg, now)
    with engine.connect() as conn:
        # this week's items exactly as the brief shows them (the same plan and evidence), in both languages
        items_plan, evidence = surge_plan(conn, cfg, week)
        current = {
            lang: {
                s.surge_identity or identity(s.topic_id, s.product_id): s
                for s in assembly.surge_items(items_plan, evidence, lang)
            }
            for lang in ("zh", "en")
        }
        tracks = _load_tracks(conn)
        theme_of = items_plan.facts.theme_of
        cache: dict[int, dict[str, Any]] = {}
        flagged_cache: dict[int, dict[str, Flagged]] = {}

        def picked(week_ord: int) -> dict[str, Any]:
            """Week ``week_ord``'s brief items (surge groups) by identity."""
            if week_ord not in cache:
                groups = (
                    [s.group for s in items_plan.subjects]
                    if week_ord == w
                    else group_surges(analysis.load_surges(conn, week_ord), theme_of)
                )
                cache[week_ord] = {g.identity: g for g in groups}
                for g in groups:  # a product's safety cell inside a theme / topic item: also its s|product
                    for r in g.rows:
                        if r.level in SAFETY_LEVELS and r.product:
                            cache[week_ord].setdefault(f"s|{r.product}", g)
            return cache[week_ord]

        def flagged(week_ord: int) -> dict[str, Flagged]:
            # the item's severity as the brief shows it (SurgeGroup.severity), not its primary row's:
            # else an item holding a safety cell "becomes safety" again on every run
            if week_ord not in flagged_cache:
                flagged_cache[week_ord] = {
                    k: Flagged(g.primary.product, g.severity, g.primary.observed)
                    for k, g in picked(week_ord).items()
                }
            return flagged_cache[week_ord]

        digests = lifecycle.plan_digests(
            cfg,
            tracks,
            current["zh"],
            flagged,
            w,
            quiet=quiet,
            detected=alert_log.surges_judged(conn, w),
            sink=channel_name == "file",
            only_safety=only_safety,
        )

        labels, theme_recs = items_plan.facts.labels, items_plan.facts.themes
        out = []
        for d in digests:
            tg = d.target
            items = tuple(
                _item_from_row(
                    conn,
                    cfg,
                    picked(e.flagged_week)[e.ident].primary,
                    tg.language,
                    w if e.kind == "resolved" else e.week,
                    labels,
                    e.kind == "resolved",
                    theme_recs,
                )
                if e.flagged_week is not None
                else current[tg.language][e.item or e.ident]
                for e in d.entries
            )
            base = cfg.web.base_url
            links = tuple(
                (
                    item.surge_identity,
                    surge_url(
                        base,
                        str(Week.from_ordinal(e.flagged_week if e.flagged_week is not None else w)),
                        item.surge_identity,
                        tg.language,
                    ),
                )
                for e, item in zip(d.entries, items, strict=True)
                if base and item.surge_identity
            )
            alert = Alert(
                owner=tg.owner,
                language=tg.language,
                channel=tg.channel,
                recipient=tg.recipient,
                week=str(week),
                kind=d.kind,
                surges=items,
                brief_link=week_url(base, str(week), tg.language) if base else brief_link,
                surge_links=links,
                no_workbench=not base and not brief_link,
            )
            msg = Message(
                recipient=tg.recipient,
                subject=alert_subject(alert),
                text=render_alert(alert, "text", cfg.report.templates_dir),
                html=render_alert(alert, "html", cfg.report.templates_dir),
                markdown=render_alert(alert, "md", cfg.report.templates_dir),
            )
            out.append(
                PlannedAlert(
                    alert,
                    tuple(e.key for e in d.entries),
                    tuple(e.ratio for e in d.entries),
                    msg,
                    tg,
                    tuple(e.kind for e in d.entries),
                    tuple(e.week for e in d.entries),
                    d.deferred,
                    d.supersedes,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


def channel_from(settings: Settings, sink_dir: Path | None) -> ChannelSet:
    """All channels: SMTP from ``VOC_SMTP_*``, chat robots from the variables named in the config."""
    smtp = None
    if settings.smtp_host:
        smtp = SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_ssl,
        )
    return ChannelSet(smtp=smtp, sink=FileSink(sink_dir) if sink_dir is not None else None)


def mark_unknown(engine: Engine) -> int:
    """Rows still 'pending' from an earlier run become 'unknown' (not re-sent, see the module notes)."""
    n = alert_log.mark_unknown(engine)
    if n:
        log.warning("%d alert send(s) from an earlier run have an unknown outcome; not re-sent", n)
    return n


def _claim(
    engine: Engine,
    p: PlannedAlert,
    tg: Target,
    i: int,
    payload_hash: str,
    status: str,
    error: str | None = None,
) -> int | None:
    """Claim the row of key ``i`` with ``status`` before anything is sent; None if someone else has it."""
    values = dict(
        week=p.weeks[i] if p.weeks else 0,
        kind=p.kinds[i] if p.kinds else p.alert.kind,
        owner=tg.owner,
        payload_hash=payload_hash,
        status=status,
        ratio=p.ratios[i] if math.isfinite(p.ratios[i]) else 0.0,
        error=error,
    )
    return alert_log.claim(engine, p.dedupe_keys[i], tg.channel, tg.recipient, values)


def send(
    engine: Engine,
    planned: list[PlannedAlert],
    channels: ChannelSet | Channel,
    week: Week,
    attempts: int = 3,
    retry_delay: float = 1.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_delay: float = 60.0,
) -> dict[str, int]:
    """Send planned alerts; every outcome is recorded and a failing message never stops the others.

    ``channels``: a ``ChannelSet`` (each target gets its own channel) or one channel for everything.
    Returns counts: sent, failed, deferred, skipped (someone else had it), unknown (earlier crashes).
    """
    stats = {"sent": 0, "failed": 0, "deferred": 0, "skipped": 0, "unknown": mark_unknown(engine)}
    for p in planned:
        tg = p.target or Target(
            p.alert.owner, p.alert.language, getattr(channels, "name", "email"), p.message.recipient
        )
        payload_hash = _payload_hash(p.message)
        if p.deferred:
            held = [
                _claim(engine, p, tg, i, payload_hash, "deferred", "quiet hours: sent on the next run")
                for i in range(len(p.dedupe_keys))
            ]
            stats["deferred" if any(x is not None for x in held) else "skipped"] += 1
            log.info("alert to %s via %s deferred (quiet hours)", tg.recipient, tg.channel)
            continue
        ids = [
            x
            for x in (_claim(engine, p, tg, i, payload_hash, "pending") for i in range(len(p.dedupe_keys)))
            if x is not None
        ]
        if not ids:
            stats["skipped"] += 1
            continue
        status, error, tries = deliver(p.message, tg, channels, attempts, retry_delay, sleep, max_delay)
        alert_log.record_outcome(engine, ids, status, error, tries, tg.channel, tg.recipient, p.supersedes)
        log.info(
            "alert (%s) to %s via %s: %s after %d attempt(s)",
            p.alert.kind,
            tg.recipient,
            tg.channel,
            status,
            tries,
        )
        stats[status] += 1
    return stats


def run(
    engine: Engine,
    cfg: VocConfig,
    week: Week,
    channels: ChannelSet | Channel,
    brief_link: str | None = None,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    only_safety: bool = False,
) -> dict[str, int]:
    """Plan and send with the config's retry settings (what the weekly flow needs in one call)."""
    name = getattr(channels, "name", "email")
    planned = plan(engine, cfg, week, name, brief_link, now=now, only_safety=only_safety)
    return send(engine, planned, channels, week, cfg.alerts.attempts, cfg.alerts.retry_delay, sleep=sleep)
