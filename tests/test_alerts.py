"""Alert lifecycle on SQLite and PostgreSQL: once per surge, again on escalation, one resolved note,
no double send after a crash, quiet hours, failures recorded — delivered to a real local SMTP server.

Surges are inserted into the ``surges`` table directly (the statistics are tested elsewhere).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import insert, select

from tests.chat_server import MailServer
from voc.config.settings import EXAMPLE_CONFIG, VocConfig
from voc.delivery.channels import ChannelSet
from voc.delivery.message import Message
from voc.delivery.routing import owners_for
from voc.flows import alert_stage
from voc.flows.brief_stage import build_brief
from voc.store.models import AlertSent, StageRun, Surge, Topic
from voc.weeks import Week

W = Week.parse("2026-W47")
OVEN = "wang.lei@hearth.example"
KETTLE = "liu.yang@hearth.example"
SAFETY = "quality@hearth.example"
DEFAULT = "zhou.min@hearth.example"
DAY = datetime(2026, 11, 23, 10, 0)  # naive = the configured timezone (Asia/Shanghai)


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = MailServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture
def smtp(mail: MailServer) -> MailServer:
    mail.clear()
    mail.refuse.clear()
    return mail


def config(**alerts: Any) -> VocConfig:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw["alerts"].update(alerts)
    return VocConfig.model_validate(raw)


def add_topic(engine: Any, tid: int, label: str) -> None:
    with engine.begin() as c:
        c.execute(
            insert(Topic).values(
                id=tid,
                intent="complaint",
                label=label,
                human_label=False,
                keywords="",
                status="active",
                merged_into=None,
                centroid=None,
                created_week=W.ordinal() - 20,
                updated_at=datetime(2026, 11, 1),
            )
        )


def add_surge(
    engine: Any,
    week: Week,
    topic_id: int = 7,
    product: str = "oven",
    observed: int = 20,
    expected: float = 4.0,
    severity: str = "defect",
    batch: str | None = None,
) -> None:
    ratio = observed / expected
    with engine.begin() as c:
        c.execute(
            insert(Surge).values(
                week=week.ordinal(),
                level="topic×product",
                cell=f"{topic_id}|{product}",
                topic_id=topic_id,
                product=product,
                model=None,
                batch=batch,
                observed=observed,
                expected=expected,
                ratio=ratio,
                ratio_lo=ratio * 0.7,
                ratio_hi=ratio * 1.4,
                p=1e-5,
                q=1e-4,
                methods="poisson",
                first_week=W.ordinal(),
                new_cell=False,
                severity=severity,
                conc_batch=None,
                conc_share=None,
                conc_expected=None,
                conc_ratio=None,
                explanation_zh="说明",
                explanation_en="explanation",
            )
        )


def mark_detected(engine: Any, week: Week) -> None:
    with engine.begin() as c:
        c.execute(
            insert(StageRun).values(
                week=week.ordinal(),
                stage="surges",
                status="ok",
                summary="",
                finished_at=datetime(2026, 11, 30),
            )
        )


def run(
    engine: Any, cfg: VocConfig, week: Week, channel: Any, now: datetime = DAY, **kw: Any
) -> dict[str, int]:
    planned = alert_stage.plan(engine, cfg, week, "email", now=now)
    return alert_stage.send(engine, planned, channel, week, sleep=lambda s: None, **kw)


def rows(engine: Any) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(AlertSent).order_by(AlertSent.id)))


@pytest.fixture
def db(engine: Any) -> Any:
    add_topic(engine, 7, "门关不紧")
    add_topic(engine, 9, "底座漏电")
    return engine


def test_same_surge_on_consecutive_runs_is_sent_once(db: Any, smtp: MailServer) -> None:
    cfg, ch = config(), ChannelSet(smtp=smtp.channel())
    add_surge(db, W)
    assert run(db, cfg, W, ch)["sent"] == 1
    [m] = smtp.to(OVEN)
    assert "投诉激增提醒" in m["Subject"] and "门关不紧" in m["Subject"]
    assert run(db, cfg, W, ch)["sent"] == 0  # same week again
    add_surge(db, W.shift(1), observed=24, expected=4.5)  # still flagged next week, not much bigger
    assert run(db, cfg, W.shift(1), ch)["sent"] == 0
    assert len(smtp.messages) == 1
    assert [(r.kind, r.status, r.recipient) for r in rows(db)] == [("start", "sent", OVEN)]


def test_escalation_sends_again_then_quiet_until_it_grows_again(db: Any, smtp: MailServer) -> None:
    cfg, ch = config(escalation_factor=1.5), ChannelSet(smtp=smtp.channel())
    add_surge(db, W, observed=20, expected=4.0)  # 5×
    run(db, cfg, W, ch)
    add_surge(db, W.shift(1), observed=32, expected=4.0)  # 8× ≥ 5 × 1.5
    assert run(db, cfg, W.shift(1), ch)["sent"] == 1
    assert "投诉激增升级" in smtp.to(OVEN)[-1]["Subject"]
    add_surge(db, W.shift(2), observed=36, expected=4.0)  # 9× < 8 × 1.5: no message
    assert run(db, cfg, W.shift(2), ch)["sent"] == 0
    add_surge(db, W.shift(3), observed=36, expected=4.0, severity="safety")  # became a safety issue
    assert run(db, cfg, W.shift(3), ch)["sent"] == 2
    assert "【安全】投诉激增升级" in smtp.to(OVEN)[-1]["Subject"]
    assert "【安全】投诉激增提醒" in smtp.to(SAFETY)[0]["Subject"]  # the safety list starts here
    assert [len(smtp.to(OVEN)), len(smtp.to(SAFETY))] == [3, 1]


def test_count_growth_escalates_even_when_the_ratio_does_not(db: Any, smtp: MailServer) -> None:
    cfg, ch = config(), ChannelSet(smtp=smtp.channel())
    add_surge(db, W, observed=20, expected=4.0)
    run(db, cfg, W, ch)
    add_surge(db, W.shift(1), observed=30, expected=6.0)  # same 5×, but 1.5× the complaints
    assert run(db, cfg, W.shift(1), ch)["sent"] == 1


def test_resolved_note_is_sent_once_and_only_after_detection_ran(db: Any, smtp: MailServer) -> None:
    cfg, ch = config(), ChannelSet(smtp=smtp.channel())
    add_surge(db, W)
    run(db, cfg, W, ch)
    nxt = W.shift(1)
    assert run(db, cfg, nxt, ch)["sent"] == 0  # detection has not run for next week: no conclusion
    mark_detected(db, nxt)  # ran, and the cell is not flagged any more
    assert run(db, cfg, nxt, ch)["sent"] == 1
    note = smtp.to(OVEN)[-1]
    assert "投诉激增已回落" in note["Subject"] and "门关不紧" in note["Subject"]
    assert run(db, cfg, nxt, ch)["sent"] == 0
    mark_detected(db, nxt.shift(1))
    assert run(db, cfg, nxt.shift(1), ch)["sent"] == 0
    assert [r.kind for r in rows(db)] == ["start", "resolved"]
    add_surge(db, nxt.shift(2))  # it comes back: a new episode, a new start
    assert run(db, cfg, nxt.shift(2), ch)["sent"] == 1
    assert "投诉激增提醒" in smtp.to(OVEN)[-1]["Subject"]


class Crash(BaseException):
    """The process dies (kill -9, OOM) right after the message left."""


class SendThenCrash:
    name = "email"

    def __init__(self, inner: Any):
        self.inner = inner

    def send(self, message: Message) -> None:
        self.inner.send(message)
        raise Crash()


def test_crash_after_sending_but_before_recording_does_not_send_twice(db: Any, smtp: MailServer) -> None:
    cfg = config()
    add_surge(db, W)
    with pytest.raises(Crash):
        run(db, cfg, W, SendThenCrash(smtp.channel()))
    assert len(smtp.to(OVEN)) == 1
    assert [r.status for r in rows(db)] == ["pending"]  # intent was written before the send
    stats = run(db, cfg, W, ChannelSet(smtp=smtp.channel()))  # the retry
    assert stats["sent"] == 0 and stats["unknown"] == 1
    assert len(smtp.to(OVEN)) == 1
    [r] = rows(db)
    assert r.status == "unknown" and "not re-sent" in r.error


def test_quiet_hours_defer_non_safety_and_send_them_on_the_next_run(db: Any, smtp: MailServer) -> None:
    cfg = config(quiet_hours={"start": "22:00", "end": "08:00"}, timezone="Asia/Shanghai")
    ch = ChannelSet(smtp=smtp.channel())
    add_surge(db, W, topic_id=7, product="oven")
    add_surge(db, W, topic_id=9, product="kettle", severity="safety")
    night = datetime.fromisoformat("2026-11-23T15:30:00+00:00")  # 23:30 in Shanghai
    stats = run(db, cfg, W, ch, now=night)
    assert stats["sent"] == 2 and stats["deferred"] == 1
    assert smtp.to(OVEN) == [] and len(smtp.to(KETTLE)) == 1 and len(smtp.to(SAFETY)) == 1
    assert {r.recipient: r.status for r in rows(db)}[OVEN] == "deferred"
    assert run(db, cfg, W, ch, now=datetime(2026, 11, 24, 7, 59))["sent"] == 0  # still quiet
    morning = datetime.fromisoformat("2026-11-24T01:30:00+00:00")  # 09:30 in Shanghai
    assert run(db, cfg, W, ch, now=morning)["sent"] == 1
    assert len(smtp.to(OVEN)) == 1 and len(smtp.messages) == 3
    assert run(db, cfg, W, ch, now=morning)["sent"] == 0
    assert all(r.status == "sent" for r in rows(db))


def test_deferred_alert_is_not_lost_when_the_next_run_is_a_later_week(db: Any, smtp: MailServer) -> None:
    cfg = config(quiet_hours={"start": "22:00", "end": "08:00"})
    ch = ChannelSet(smtp=smtp.channel())
    add_surge(db, W)
    run(db, cfg, W, ch, now=datetime(2026, 11, 23, 23, 0))
    mark_detected(db, W.shift(1))  # gone by next week; the owner must still hear about it once
    assert run(db, cfg, W.shift(1), ch)["sent"] == 1
    assert "投诉激增提醒" in smtp.to(OVEN)[0]["Subject"]


def test_permanent_failure_is_recorded_shown_in_the_next_brief_and_does_not_stop_others(
    db: Any, smtp: MailServer
) -> None:
    cfg, ch = config(), ChannelSet(smtp=smtp.channel())
    smtp.refuse.add(OVEN)
    add_surge(db, W, topic_id=7, product="oven")
    add_surge(db, W, topic_id=9, product="kettle")
    stats = run(db, cfg, W, ch)
    assert stats == {"sent": 1, "failed": 1, "deferred": 0, "skipped": 0, "unknown": 0}
    assert len(smtp.to(KETTLE)) == 1
    failed = next(r for r in rows(db) if r.recipient == OVEN)
    assert failed.status == "failed" and failed.attempts == 1 and "refused" in failed.error  # not retried
    problems = build_brief(db, cfg, W.shift(1), "en").delivery_problems
    assert [(p.channel, p.recipient) for p in problems] == [("email", OVEN)]
    smtp.refuse.clear()  # fixed: the next run delivers it
    assert run(db, cfg, W, ch)["sent"] == 1 and len(smtp.to(OVEN)) == 1


def test_unconfigured_channel_fails_that_target_only(db: Any, smtp: MailServer) -> None:
    add_surge(db, W)
    stats = run(db, config(), W, ChannelSet(smtp=None))  # no VOC_SMTP_HOST
    assert stats["failed"] == 1
    assert "VOC_SMTP_HOST" in rows(db)[0].error


def test_dry_run_plan_writes_nothing(db: Any, smtp: MailServer, tmp_path: Path) -> None:
    add_surge(db, W, topic_id=9, product="kettle", severity="safety")
    planned = alert_stage.plan(db, config(), W, "email", now=DAY)
    assert {(p.alert.owner, p.target.channel, p.alert.language, p.alert.kind) for p in planned} == {
        ("刘洋", "email", "zh", "start"),
        ("质量安全组", "email", "zh", "start"),
    }
    assert all("底座漏电" in p.message.text for p in planned)
    assert rows(db) == []


def test_routing_rules_product_model_topic_severity_default_and_safety_list() -> None:
    from dataclasses import replace

    from tests.reports_fixtures import surges

    cfg = config(
        routes=[
            {"topic": "物流慢", "owners": ["周敏"]},
            {"product": "oven", "model": "KX-45B", "owners": ["Kevin Zhao"]},
            {"severity": "safety", "product": "kettle", "owners": ["王磊", "刘洋"]},
        ]
    )
    base = surges("zh")[0]
    oven = replace(base, product_id="oven", model=None, topic_id=7, topic_label="门关不紧", severity="defect")
    assert owners_for(cfg, oven) == ["王磊"]  # product owner
    assert owners_for(cfg, replace(oven, model="KX-45B")) == ["Kevin Zhao"]  # model route
    assert owners_for(cfg, replace(oven, topic_label="物流慢")) == ["周敏"]  # topic route
    assert owners_for(cfg, replace(oven, product_id="toaster")) == ["周敏"]  # default owner
    kettle = replace(oven, product_id="kettle", severity="safety")
    assert owners_for(cfg, kettle) == ["王磊", "刘洋", "质量安全组"]
    assert owners_for(cfg, replace(kettle, severity="defect")) == ["刘洋"]


@pytest.mark.parametrize(
    "subject",
    [
        "投诉激增提醒 · 2026-W47 · 关不紧 / 铰链 / 炉门 · 烤箱 · 型号 KX-30A · 批次 B2409",  # folds before "· 批次"
        "Complaint surge · 2026-W47 · door does not close / hinge · oven · model KX-30A · batch B2409 · 12 vs 3",
    ],
)
def test_long_subject_arrives_exactly_as_written(smtp: MailServer, subject: str) -> None:
    # the stdlib's new-policy folder dropped the space before a fold next to an encoded word
    from voc.delivery.message import Message

    smtp.channel().send(
        Message(recipient="owner@example.com", subject=subject, text="正文", html="<p>正文</p>")
    )
    [m] = smtp.to("owner@example.com")
    assert m["Subject"] == subject
    assert m.get_body(preferencelist=("plain",)).get_content().strip() == "正文"
