"""Alert stage: tell each owner about their surges once, in their language, and record every send.

Intent is recorded before sending (status 'pending'), so a crash after a send but before the
outcome is written never leads to a second message: a pending row is not retried blindly.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from config.settings import Settings, VocConfig
from delivery.channels import Channel, DeliveryError, FileSink, Message, SmtpChannel
from flows.brief_stage import build_brief
from reports.model import Alert, SurgeItem
from reports.render import alert_subject, render_alert
from store.models import AlertSent
from voc.weeks import Week

ESCALATION_FACTOR = 1.5


@dataclass(frozen=True)
class PlannedAlert:
    alert: Alert
    dedupe_keys: tuple[str, ...]
    ratios: tuple[float, ...]
    message: Message


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _escalation_step(ratio: float) -> int:
    return max(0, int(math.floor(math.log(max(ratio, 1.0)) / math.log(ESCALATION_FACTOR))))


def owners_for(cfg: VocConfig, item: SurgeItem) -> list[str]:
    p = cfg.product(item.product_id)
    owners = [p.owner if p and p.owner else cfg.alerts.default_owner]
    if item.severity == "safety":
        owners += cfg.alerts.safety_list
    return list(dict.fromkeys(o for o in owners if o))


def plan(engine: Engine, cfg: VocConfig, week: Week, channel_name: str, brief_link: str | None = None
         ) -> list[PlannedAlert]:
    """Work out who gets what (one digest per owner, in the owner's language); nothing is sent."""
    with engine.connect() as conn:
        sent = {(k, c, r) for k, c, r in conn.execute(
            select(AlertSent.dedupe_key, AlertSent.channel, AlertSent.recipient)
            .where(AlertSent.status != "failed"))}
    briefs = {lang: build_brief(engine, cfg, week, lang) for lang in ("zh", "en")}
    by_owner: dict[str, list[str]] = {}
    for item in briefs["zh"].surges:
        for o in owners_for(cfg, item):
            by_owner.setdefault(o, []).append(item.alert_key)
    out = []
    for owner_name, keys in by_owner.items():
        owner = cfg.owner(owner_name)
        lang = owner.language if owner else "zh"
        recipient = owner.email if owner and owner.email else owner_name
        items, dkeys, ratios, kinds = [], [], [], []
        for s in briefs[lang].surges:
            if s.alert_key not in keys:
                continue
            step = _escalation_step(s.ratio)
            dkey = f"{s.alert_key}|x{step}"
            if (dkey, channel_name, recipient) in sent:
                continue  # told already, and it has not escalated since
            earlier = any(k.startswith(s.alert_key + "|") and c == channel_name and r == recipient
                          for k, c, r in sent)
            items.append(s)
            dkeys.append(dkey)
            ratios.append(s.ratio)
            kinds.append("escalation" if earlier else "start")
        if not items:
            continue
        kind = "escalation" if all(k == "escalation" for k in kinds) else "start"
        alert = Alert(owner=owner_name, language=lang, channel=channel_name, recipient=recipient, week=str(week),
                      kind=kind, surges=tuple(items), brief_link=brief_link)
        msg = Message(recipient=recipient, subject=alert_subject(alert), text=render_alert(alert, "text"),
                      html=render_alert(alert, "html"))
        out.append(PlannedAlert(alert, tuple(dkeys), tuple(ratios), msg))
    return out


def channel_from(settings: Settings, sink_dir: Path | None) -> Channel:
    if sink_dir is not None:
        return FileSink(sink_dir)
    if settings.smtp_host:
        return SmtpChannel(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                           user=settings.smtp_user,
                           password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                           starttls=settings.smtp_starttls)
    raise DeliveryError("no alert channel configured: set VOC_SMTP_HOST or pass --alerts-to DIR", permanent=True)


def send(engine: Engine, planned: list[PlannedAlert], channel: Channel, week: Week, attempts: int = 3,
         retry_delay: float = 1.0) -> dict[str, int]:
    """Send planned alerts; a failing message is recorded and never stops the others."""
    stats = {"sent": 0, "failed": 0}
    for p in planned:
        payload_hash = hashlib.sha256(p.message.text.encode("utf-8")).hexdigest()
        with engine.begin() as conn:
            ids = [_record_intent(conn, p, k, r, channel.name, payload_hash, week)
                   for k, r in zip(p.dedupe_keys, p.ratios, strict=True)]
        status, error, tries = "failed", None, 0
        while tries < attempts:
            tries += 1
            try:
                channel.send(p.message)
                status, error = "sent", None
                break
            except DeliveryError as e:
                error = str(e)
                if e.permanent:
                    break
                time.sleep(min(30.0, retry_delay * 2 ** (tries - 1)))
        with engine.begin() as conn:
            conn.execute(update(AlertSent).where(AlertSent.id.in_(ids)).values(
                status=status, attempts=tries, error=error, sent_at=_now() if status == "sent" else None))
        stats[status] += 1
    return stats


def _record_intent(conn, p: PlannedAlert, key: str, ratio: float, channel: str, payload_hash: str,
                   week: Week) -> int:
    """Insert the 'pending' row before sending; a previously failed row for the same key is reused."""
    row = conn.execute(select(AlertSent.id).where(AlertSent.dedupe_key == key, AlertSent.channel == channel,
                                                  AlertSent.recipient == p.message.recipient)).first()
    values = dict(week=week.ordinal(), kind=p.alert.kind, owner=p.alert.owner, payload_hash=payload_hash,
                  status="pending", ratio=ratio)
    if row is not None:
        conn.execute(update(AlertSent).where(AlertSent.id == row[0]).values(**values))
        return int(row[0])
    res = conn.execute(insert(AlertSent).values(dedupe_key=key, channel=channel, recipient=p.message.recipient,
                                                attempts=0, created_at=_now(), **values))
    return int(res.inserted_primary_key[0])
