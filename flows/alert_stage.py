"""Alert stage: tell each owner about their surges once, in their language, on their channels.

Lifecycle, per surge and per (channel, recipient):

* **start** — the first message about a surge episode;
* **escalation** — again only when the ratio or the count grew by ``alerts.escalation_factor``
  since the last message, or the severity became *safety*;
* **resolved** — one note when a surge someone was told about is no longer flagged;
* nothing otherwise, however often the stage runs.

Each owner gets one digest per channel (all their new or escalated surges in one message; resolved
notes in a second one). In ``alerts.quiet_hours`` non-safety messages are recorded as ``deferred``
and go out on the next run outside quiet hours; safety surges go out at once.

Every send is one row per (dedupe key, channel, recipient) in ``alerts``. The row is written
*before* sending (``pending``) and updated after. A ``pending`` row found by a later run means the
process stopped between the two: the message may or may not have gone out. It is marked
``unknown`` and **not** re-sent — a duplicate safety e-mail is cheap, but a send loop after a
crash in the "record" step is exactly the spam this stage exists to prevent, and a human can
check one ``unknown`` row (it stays visible in the table and in the run's stats) while they
cannot un-send messages. Transient failures (timeouts, 429, 5xx) are retried with exponential
backoff; permanent ones are recorded as ``failed`` (the next brief lists them) and retried on the
next run. A failing channel never stops the other channels or the flow.

Dedupe keys: ``{identity}|w{episode week}|{start|esc<week>|resolved}``. The surge identity is the
brief's item (``surges.selection.SurgeGroup.identity``: ``h{theme}`` for a theme, ``{topic}|{product}``
for a topic without a theme, ``0|{product}`` / ``s|{product}`` for a product's or its safety
complaints), so a surge that moves between levels (theme → theme × product → a fine topic) is still
the same surge. A product's safety surge is one surge whichever item carries it: the daily safety
check (flows/safety.py) tells ``s|{product}``, and a later brief item about the same product's safety
tickets (a theme or topic that took the product's safety cell) continues that episode rather than
starting another (and the other way round). Alerts sent before themes existed used ``{topic}|{product}``: a surge of a theme
that was alerted under such a key is alerted once more under its theme.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from config.settings import Route, Settings, VocConfig
from delivery.channels import Channel, ChannelSet, DeliveryError, FileSink, Message, SmtpChannel
from flows.brief_stage import HISTORY, build_brief, owner_for, product_name, surge_series
from reports.model import Alert, BatchShare, SurgeItem
from reports.render import alert_subject, render_alert
from store import analysis, themes
from store.models import AlertSent, StageRun, Surge
from store.themes import ThemeRecord
from surges.selection import SAFETY_LEVELS, group_surges
from voc.weeks import Week

log = logging.getLogger("voc.alerts")

TOLD = ("sent", "unknown", "pending")  # the recipient was (or may have been) told: never sent again
CLAIMABLE = ("failed", "deferred", "superseded")  # rows a later run may take over and send
UNKNOWN_NOTE = ("outcome unknown: the run stopped after the send started and before its result was "
                "recorded; not re-sent, please check with the recipient")


@dataclass(frozen=True)
class Target:
    """One way to reach one owner. ``recipient`` is an e-mail address or ``kind:VARIABLE_NAME``."""

    owner: str
    language: str
    channel: str  # email | file | slack | dingtalk | wecom | feishu | lark
    recipient: str
    webhook_env: str | None = None
    secret_env: str | None = None


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


@dataclass
class _Entry:
    ident: str
    kind: str
    key: str
    ratio: float
    week: int
    row: Any = None  # a surges row, for items not in this week's brief (resolved, late)
    severity: str = "other"
    item: str = ""  # the brief item's identity when the surge is told under another one (_same_safety)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------


def _route_matches(r: Route, item: SurgeItem) -> bool:
    if r.product is not None and r.product != item.product_id:
        return False
    if r.model is not None and (item.model or "").lower() != r.model.lower():
        return False
    if r.severity is not None and r.severity != item.severity:
        return False
    if r.topic is not None:
        if isinstance(r.topic, int):
            return item.topic_id == r.topic
        return item.topic_label.strip().lower() == r.topic.strip().lower()
    return True


def owners_for(cfg: VocConfig, item: SurgeItem) -> list[str]:
    """Owners of every matching route; else the product's owner; else the default owner. Safety adds the list."""
    routed: list[str | None] = [o for r in cfg.alerts.routes if _route_matches(r, item) for o in r.owners]
    owners = routed or [owner_for(cfg, item.product_id)]
    if item.severity == "safety":
        owners += cfg.alerts.safety_list
    return list(dict.fromkeys(o for o in owners if o))


def targets_for(cfg: VocConfig, owner_name: str, sink: bool = False) -> list[Target]:
    owner = cfg.owner(owner_name)
    lang = owner.language if owner else "zh"
    email = owner.email if owner and owner.email else owner_name
    if sink:  # demo / testing: one file per owner
        return [Target(owner_name, lang, "file", email)]
    if owner is None:
        return [Target(owner_name, lang, "email", email)]
    out: dict[tuple[str, str], Target] = {}
    for ref in owner.channels:
        recipient = email if ref.kind in ("email", "file") else f"{ref.kind}:{ref.webhook_env}"
        out.setdefault((ref.kind, recipient), Target(owner_name, lang, ref.kind, recipient, ref.webhook_env,
                                                     ref.secret_env))
    return list(out.values())


def in_quiet_hours(cfg: VocConfig, now: datetime | None = None) -> bool:
    """Is ``now`` inside ``alerts.quiet_hours`` in ``alerts.timezone``? (naive ``now`` = that timezone)."""
    q = cfg.alerts.quiet_hours
    if q is None or q.start == q.end:
        return False
    tz = ZoneInfo(cfg.alerts.timezone or cfg.schedules.timezone)
    now = now or datetime.now(UTC)
    t = (now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)).time()
    return q.start <= t < q.end if q.start < q.end else (t >= q.start or t < q.end)


# ---------------------------------------------------------------------------------------------
# What has been told
# ---------------------------------------------------------------------------------------------


def identity(topic_id: int | None, product: str | None) -> str:
    """Which surge an alert is about, for items built without a group (see SurgeGroup.identity)."""
    return f"{topic_id or 0}|{product or '-'}"


def _key(ident: str, episode: int, kind: str) -> str:
    return f"{ident}|w{episode}|{kind}"


def _parse(key: str) -> tuple[str, int, str] | None:
    parts = key.rsplit("|", 2)
    if len(parts) != 3 or not parts[1].startswith("w") or not parts[1][1:].isdigit():
        return None  # a key from an older version: ignored
    return parts[0], int(parts[1][1:]), parts[2]


class _Track:
    """All rows for one surge identity and one (channel, recipient)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, int, str]] = []  # (row, episode, kind) by id

    def by_key(self, key: str) -> Any:
        return next((r for r, _, _ in self.rows if r.dedupe_key == key), None)

    @property
    def owner(self) -> str:
        return str(self.rows[-1][0].owner)

    def episode(self) -> int | None:
        return max((e for _, e, _ in self.rows), default=None)

    def is_open(self, ep: int) -> bool:
        mine = [(r, k) for r, e, k in self.rows if e == ep and r.status in TOLD]
        return any(k == "start" for _, k in mine) and not any(k == "resolved" for _, k in mine)

    def last_told(self, ep: int) -> Any:
        told = [r for r, e, k in self.rows if e == ep and r.status in TOLD and k != "resolved"]
        return told[-1] if told else None

    def max_told_week(self) -> int:
        return max((int(r.week) for r, _, _ in self.rows if r.status in TOLD), default=-1)

    def deferred_keys(self) -> list[str]:
        return [r.dedupe_key for r, _, _ in self.rows if r.status == "deferred"]


def _load_tracks(conn: Connection) -> dict[tuple[str, str, str], _Track]:
    tracks: dict[tuple[str, str, str], _Track] = {}
    q = select(AlertSent.id, AlertSent.dedupe_key, AlertSent.kind, AlertSent.owner, AlertSent.channel,
               AlertSent.recipient, AlertSent.status, AlertSent.week, AlertSent.ratio).order_by(AlertSent.id)
    for r in conn.execute(q):
        parsed = _parse(r.dedupe_key)
        if parsed is None:
            continue
        ident, ep, kind = parsed
        tracks.setdefault((r.channel, r.recipient, ident), _Track()).rows.append((r, ep, kind))
    return tracks


def _detected(conn: Connection, w: int) -> bool:
    """Did surge detection run for week ``w``? (without it 'not flagged' means nothing)."""
    ran = conn.execute(select(exists().where(StageRun.week == w, StageRun.stage == "surges"))).scalar()
    return bool(ran) or bool(conn.execute(select(exists().where(Surge.week == w))).scalar())


def _same_safety(tracks: Mapping[tuple[str, str, str], _Track], tg: Target, ident: str, item: SurgeItem,
                 picked: Callable[[int], dict[str, Any]]) -> tuple[_Track, str] | None:
    """An open episode about the same product's safety that this target was told about under another
    identity: the daily safety check tells ``s|{product}`` (it judges only the safety cells), the week's
    brief may carry the same tickets as a theme or topic item (``group_surges`` joins the product's
    safety cell to it), and the other way round. One product's safety surge is one surge."""
    if item.severity != "safety":
        return None
    alias = f"s|{item.product_id or '-'}"
    for (ch, rcp, other), tr in tracks.items():
        if (ch, rcp) != (tg.channel, tg.recipient) or other == ident:
            continue
        ep = tr.episode()
        if ep is None or not tr.is_open(ep):
            continue
        row = picked(int(tr.last_told(ep).week)).get(other)
        if other == alias or (row is not None and row.product == item.product_id and row.severity == "safety"):
            return tr, other
    return None


def _escalated(item: SurgeItem, last_ratio: float, base: Any, factor: float) -> bool:
    if last_ratio > 0 and item.ratio >= last_ratio * factor:
        return True
    if base is not None:
        if base.observed > 0 and item.observed >= base.observed * factor:
            return True
        if item.severity == "safety" and base.severity != "safety":
            return True
    return False


def _decide(tr: _Track | None, ident: str, item: SurgeItem, w: int, factor: float,
            picked: Callable[[int], dict[str, Any]], same_cell: bool = True) -> tuple[str, str] | None:
    """(kind, dedupe key) to tell this target about a flagged surge, or None (told already).
    ``same_cell=False``: the track was told about another cell of the surge (``_same_safety``), whose
    ratio says nothing about this one's: it escalates by count (or by becoming a safety issue) only."""
    if tr is None:
        return "start", _key(ident, w, "start")
    if tr.max_told_week() > w:
        return None  # a later week was handled already: this is a re-run of an old week
    ep = tr.episode()
    if ep is not None and tr.is_open(ep):
        key = _key(ident, ep, f"esc{w}")
        row = tr.by_key(key)
        if row is not None:
            return None if row.status in TOLD else ("escalation", key)
        last = tr.last_told(ep)
        return ("escalation", key) if _escalated(item, float(last.ratio or 0) if same_cell else 0.0,
                                                 picked(int(last.week)).get(ident), factor) else None
    if ep is not None:  # a start that never reached the recipient (deferred, failed): same episode
        row = tr.by_key(_key(ident, ep, "start"))
        if row is not None and row.status not in TOLD:
            return "start", row.dedupe_key
    key = _key(ident, w, "start")
    row = tr.by_key(key)
    return None if row is not None and row.status in TOLD else ("start", key)


# ---------------------------------------------------------------------------------------------
# Planning (read-only: `voc alerts --dry-run` prints exactly this)
# ---------------------------------------------------------------------------------------------


def _item_from_row(conn: Connection, cfg: VocConfig, row: Any, lang: str, until: int, labels: dict[int, str],
                   resolved: bool, theme_recs: Mapping[int, ThemeRecord]) -> SurgeItem:
    """A surge item from a stored surges row (no quotes): for resolved notes and late deferred alerts."""
    weeks = range(until - HISTORY + 1, until + 1)
    theme_id = getattr(row, "theme_id", None)
    theme = theme_recs.get(theme_id) if theme_id is not None else None
    hist = surge_series(conn, row, theme.topic_ids if theme else (), weeks[0], until)
    history = tuple(hist.get(x, 0) for x in weeks)
    prev = history[-2]
    nan = float("nan")
    if resolved:  # this week's count against the old baseline; the test statistics no longer apply
        observed = history[-1]
        ratio = observed / row.expected if row.expected else nan
        lo = hi = q = nan
        conc = None
    else:
        observed, ratio, lo, hi, q = row.observed, row.ratio, row.ratio_lo, row.ratio_hi, row.q
        conc = BatchShare(row.conc_batch, row.conc_share, row.conc_expected, row.conc_ratio) \
            if row.conc_batch else None
    return SurgeItem(
        topic_id=row.topic_id or 0,
        topic_label=labels.get(row.topic_id, "") if row.topic_id else (
            (theme.label_en if lang == "en" and theme.label_en else theme.label) if theme else ""),
        theme_id=theme.id if theme else None,
        level=row.level, product=product_name(cfg, row.product, lang), model=row.model, batch=row.batch,
        severity=row.severity, observed=observed, expected=row.expected, ratio=ratio, ratio_lo=lo, ratio_hi=hi,
        q_value=q, wow_change=(history[-1] - prev) / prev if prev else None,
        since_week=str(Week.from_ordinal(row.first_week)), methods=tuple(row.methods.split("+")),
        is_new_topic=row.new_cell, concentration=conc, history=history, quotes=(), workaround=None,
        owner=owner_for(cfg, row.product), action=None,
        explanation=row.explanation_zh if lang == "zh" else row.explanation_en,
        product_id=row.product, alert_key=f"{row.level}|{row.cell}|{row.first_week}")


def _payload_hash(m: Message) -> str:
    parts = (m.recipient, m.subject, m.text, m.html or "", m.markdown or "")
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def plan(engine: Engine, cfg: VocConfig, week: Week, channel_name: str = "email", brief_link: str | None = None,
         *, now: datetime | None = None, only_safety: bool = False) -> list[PlannedAlert]:
    """Work out who gets what, on which channel, in which language; nothing is sent or written.

    ``channel_name='file'`` plans for a file sink (one message per owner); anything else uses each
    owner's configured channels. ``only_safety`` (the daily safety check, flows/safety.py): only the
    week's safety surges, starts and escalations; no resolved notes and no late deferred alerts
    (the week is still running: the weekly run judges it whole and takes care of those).
    """
    sink = channel_name == "file"
    w = week.ordinal()
    quiet = in_quiet_hours(cfg, now)
    factor = cfg.alerts.escalation_factor
    briefs = {lang: build_brief(engine, cfg, week, lang) for lang in ("zh", "en")}
    current = {lang: {s.surge_identity or identity(s.topic_id, s.product_id): s for s in b.surges} for lang, b in briefs.items()}

    with engine.connect() as conn:
        tracks = _load_tracks(conn)
        theme_of = themes.topic_theme_map(conn)
        cache: dict[int, dict[str, Any]] = {}

        def picked(week_ord: int) -> dict[str, Any]:
            if week_ord not in cache:
                groups = group_surges(analysis.load_surges(conn, week_ord), theme_of)
                cache[week_ord] = {g.identity: g.primary for g in groups}
                for g in groups:  # a product's safety cell inside a theme / topic item: also its s|product
                    for r in g.rows:
                        if r.level in SAFETY_LEVELS and r.product:
                            cache[week_ord].setdefault(f"s|{r.product}", g.primary)
            return cache[week_ord]

        buckets: dict[Target, dict[str, list[_Entry]]] = {}

        def add(tg: Target, bucket: str, e: _Entry) -> None:
            lst = buckets.setdefault(tg, {"now": [], "later": [], "resolved": []})[bucket]
            if all(x.ident != e.ident for x in lst):
                lst.append(e)

        tg: Target | None
        carried: set[tuple[str, str, str]] = set()  # tracks a current item of another identity carries on
        for ident, item in current["zh"].items():
            if only_safety and item.severity != "safety":
                continue
            for owner in owners_for(cfg, item):
                for tg in targets_for(cfg, owner, sink):
                    told_as, tr = ident, tracks.get((tg.channel, tg.recipient, ident))
                    if tr is None and (same := _same_safety(tracks, tg, ident, item, picked)) is not None:
                        tr, told_as = same
                        carried.add((tg.channel, tg.recipient, told_as))
                    decision = _decide(tr, told_as, item, w, factor, picked, same_cell=told_as == ident)
                    if decision is None:
                        continue
                    kind, key = decision
                    bucket = "later" if quiet and item.severity != "safety" else "now"
                    add(tg, bucket, _Entry(told_as, kind, key, item.ratio, w, severity=item.severity, item=ident))

        detected = _detected(conn, w)
        for (ch, rcp, ident), tr in tracks.items():
            if ident in current["zh"] or only_safety or (ch, rcp, ident) in carried:
                continue
            tg = next((t for t in targets_for(cfg, tr.owner, sink) if (t.channel, t.recipient) == (ch, rcp)), None)
            ep = tr.episode()
            if tg is None or ep is None:
                continue  # owner or channel no longer configured
            if tr.is_open(ep):
                last = tr.last_told(ep)
                row = picked(int(last.week)).get(ident)
                if not detected or int(last.week) >= w or row is None:
                    continue
                add(tg, "resolved", _Entry(ident, "resolved", _key(ident, ep, "resolved"), float(last.ratio or 0), w,
                                           row=row, severity=row.severity))
                continue
            start = tr.by_key(_key(ident, ep, "start"))
            if start is not None and start.status == "deferred" and int(start.week) <= w:
                row = picked(int(start.week)).get(ident)  # deferred in quiet hours, not flagged any more: late
                if row is not None:
                    bucket = "later" if quiet and row.severity != "safety" else "now"
                    add(tg, bucket, _Entry(ident, "start", start.dedupe_key, float(start.ratio or 0),
                                           int(start.week), row=row, severity=row.severity))

        from_rows = any(e.row is not None for b in buckets.values() for es in b.values() for e in es)
        labels = {t.id: t.label for t in analysis.load_topics(conn)} if from_rows else {}
        theme_recs = {t.id: t for t in themes.load_themes(conn)} if from_rows else {}
        out = []
        for tg, b in buckets.items():
            for bucket, entries in b.items():
                if not entries:
                    continue
                items = tuple(
                    _item_from_row(conn, cfg, e.row, tg.language, w if e.kind == "resolved" else e.week, labels,
                                   e.kind == "resolved", theme_recs) if e.row is not None
                    else current[tg.language][e.item or e.ident]
                    for e in entries)
                if bucket == "resolved":
                    kind = "resolved"
                else:
                    kind = "escalation" if all(e.kind == "escalation" for e in entries) else "start"
                alert = Alert(owner=tg.owner, language=tg.language, channel=tg.channel, recipient=tg.recipient,
                              week=str(week), kind=kind, surges=items, brief_link=brief_link)
                keys = tuple(e.key for e in entries)
                idents = {e.ident for e in entries}
                obsolete = tuple(k for i in idents for k in tracks.get((tg.channel, tg.recipient, i), _Track())
                                 .deferred_keys() if k not in keys)
                msg = Message(recipient=tg.recipient, subject=alert_subject(alert),
                              text=render_alert(alert, "text", cfg.report.templates_dir),
                              html=render_alert(alert, "html", cfg.report.templates_dir),
                              markdown=render_alert(alert, "md", cfg.report.templates_dir))
                deferred = bucket == "later" or (bucket == "resolved" and quiet)
                out.append(PlannedAlert(alert, keys, tuple(e.ratio for e in entries), msg, tg,
                                        tuple(e.kind for e in entries), tuple(e.week for e in entries), deferred,
                                        obsolete))
    return out


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


def channel_from(settings: Settings, sink_dir: Path | None) -> ChannelSet:
    """All channels: SMTP from ``VOC_SMTP_*``, chat robots from the variables named in the config."""
    smtp = None
    if settings.smtp_host:
        smtp = SmtpChannel(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                           user=settings.smtp_user,
                           password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                           starttls=settings.smtp_starttls, implicit_tls=settings.smtp_ssl)
    return ChannelSet(smtp=smtp, sink=FileSink(sink_dir) if sink_dir is not None else None)


def mark_unknown(engine: Engine) -> int:
    """Rows still 'pending' from an earlier run become 'unknown' (not re-sent, see the module notes)."""
    with engine.begin() as conn:
        res = conn.execute(update(AlertSent).where(AlertSent.status == "pending").values(
            status="unknown", error=UNKNOWN_NOTE))
    n = int(res.rowcount or 0)
    if n:
        log.warning("%d alert send(s) from an earlier run have an unknown outcome; not re-sent", n)
    return n


def _claim(engine: Engine, p: PlannedAlert, tg: Target, i: int, payload_hash: str, status: str,
           error: str | None = None) -> int | None:
    """Write the row for one key with ``status`` before anything is sent; None if someone else has it."""
    key = p.dedupe_keys[i]
    values = dict(week=p.weeks[i] if p.weeks else 0, kind=p.kinds[i] if p.kinds else p.alert.kind,
                  owner=tg.owner, payload_hash=payload_hash, status=status,
                  ratio=p.ratios[i] if math.isfinite(p.ratios[i]) else 0.0, error=error)
    try:
        with engine.begin() as conn:
            row = conn.execute(select(AlertSent.id, AlertSent.status).where(
                AlertSent.dedupe_key == key, AlertSent.channel == tg.channel,
                AlertSent.recipient == tg.recipient)).first()
            if row is not None:
                if row.status not in CLAIMABLE:
                    return None
                res = conn.execute(update(AlertSent).where(AlertSent.id == row.id, AlertSent.status == row.status)
                                   .values(**values))
                return int(row.id) if res.rowcount == 1 else None
            res = conn.execute(insert(AlertSent).values(dedupe_key=key, channel=tg.channel, recipient=tg.recipient,
                                                        attempts=0, created_at=_now(), **values))
            assert res.inserted_primary_key is not None  # always set for a single-row insert
            return int(res.inserted_primary_key[0])
    except IntegrityError:  # a concurrent run inserted the same key first
        return None


def _deliver(message: Message, tg: Target, channels: Any, attempts: int, retry_delay: float,
             sleep: Callable[[float], None], max_delay: float) -> tuple[str, str | None, int]:
    try:
        channel: Channel = channels.for_target(tg.channel, tg.webhook_env, tg.secret_env) \
            if hasattr(channels, "for_target") else channels
    except DeliveryError as e:
        return "failed", str(e), 0
    tries, error = 0, None
    while tries < attempts:
        tries += 1
        retry_after = None
        try:
            channel.send(message)
            return "sent", None, tries
        except DeliveryError as e:
            error, permanent, retry_after = str(e), e.permanent, e.retry_after
        except Exception as e:  # noqa: BLE001 - a broken channel must not stop the others
            error, permanent = f"{type(e).__name__} in the {tg.channel} channel", True
        log.warning("alert to %s via %s failed (attempt %d of %d): %s", tg.recipient, tg.channel, tries, attempts,
                    error)
        if permanent or tries >= attempts:
            break
        sleep(min(max_delay, retry_after if retry_after is not None else retry_delay * 2 ** (tries - 1)))
    return "failed", error, tries


def send(engine: Engine, planned: list[PlannedAlert], channels: ChannelSet | Channel, week: Week,
         attempts: int = 3, retry_delay: float = 1.0, *, sleep: Callable[[float], None] = time.sleep,
         max_delay: float = 60.0) -> dict[str, int]:
    """Send planned alerts; every outcome is recorded and a failing message never stops the others.

    ``channels``: a ``ChannelSet`` (each target gets its own channel) or one channel for everything.
    Returns counts: sent, failed, deferred, skipped (someone else had it), unknown (earlier crashes).
    """
    stats = {"sent": 0, "failed": 0, "deferred": 0, "skipped": 0, "unknown": mark_unknown(engine)}
    for p in planned:
        tg = p.target or Target(p.alert.owner, p.alert.language, getattr(channels, "name", "email"),
                                p.message.recipient)
        payload_hash = _payload_hash(p.message)
        if p.deferred:
            ids = [_claim(engine, p, tg, i, payload_hash, "deferred", "quiet hours: sent on the next run")
                   for i in range(len(p.dedupe_keys))]
            stats["deferred" if any(x is not None for x in ids) else "skipped"] += 1
            log.info("alert to %s via %s deferred (quiet hours)", tg.recipient, tg.channel)
            continue
        ids = [x for x in (_claim(engine, p, tg, i, payload_hash, "pending") for i in range(len(p.dedupe_keys)))
               if x is not None]
        if not ids:
            stats["skipped"] += 1
            continue
        status, error, tries = _deliver(p.message, tg, channels, attempts, retry_delay, sleep, max_delay)
        with engine.begin() as conn:
            conn.execute(update(AlertSent).where(AlertSent.id.in_(ids)).values(
                status=status, attempts=AlertSent.attempts + tries, error=error,
                sent_at=_now() if status == "sent" else None))
            if status == "sent" and p.supersedes:
                conn.execute(update(AlertSent).where(
                    AlertSent.dedupe_key.in_(p.supersedes), AlertSent.channel == tg.channel,
                    AlertSent.recipient == tg.recipient, AlertSent.status == "deferred").values(status="superseded"))
        log.info("alert (%s) to %s via %s: %s after %d attempt(s)", p.alert.kind, tg.recipient, tg.channel, status,
                 tries)
        stats[status] += 1
    return stats


def run(engine: Engine, cfg: VocConfig, week: Week, channels: ChannelSet | Channel, brief_link: str | None = None,
        *, now: datetime | None = None, sleep: Callable[[float], None] = time.sleep, only_safety: bool = False
        ) -> dict[str, int]:
    """Plan and send with the config's retry settings (what the weekly flow needs in one call)."""
    name = getattr(channels, "name", "email")
    planned = plan(engine, cfg, week, name, brief_link, now=now, only_safety=only_safety)
    return send(engine, planned, channels, week, cfg.alerts.attempts, cfg.alerts.retry_delay, sleep=sleep)

