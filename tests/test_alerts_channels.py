"""Chat channels against a real local HTTP server that checks every payload and signature like the
vendors do, and injects 429 / 500 / timeouts / rate-limit codes; secrets stay out of payloads,
logs and the database."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from tests.chat_server import ChatServer, MailServer
from tests.test_alerts import DAY, OVEN, W, add_surge, add_topic
from voc.config.settings import EXAMPLE_CONFIG, VocConfig
from voc.delivery.channels import ChannelSet
from voc.delivery.chat import DingTalkRobot, FeishuBot, WeComRobot
from voc.delivery.message import DeliveryError, Message
from voc.flows import alert_stage
from voc.store.db import make_engine, migrate
from voc.store.models import AlertSent

TOKENS = {
    "slack": "T0001/B0002/slacktoken8f3k2",
    "dingtalk": "ding-access-token-4e7d1",
    "wecom": "wecom-key-6a2b9c",
    "feishu": "feishu-hook-3c9f0e",
}
SECRETS = {"dingtalk": "SECa1b2c3d4e5f6dingtalk-signing", "feishu": "feishu-signing-secret-77x"}
ENV = {
    "VOC_OVEN_SLACK_URL": "slack",
    "VOC_OVEN_DING_URL": "dingtalk",
    "VOC_OVEN_WECOM_URL": "wecom",
    "VOC_OVEN_FEISHU_URL": "feishu",
}


@pytest.fixture(scope="module")
def chat() -> Any:
    server = ChatServer(
        secrets={TOKENS["dingtalk"]: SECRETS["dingtalk"], TOKENS["feishu"]: SECRETS["feishu"]}, delay=1.0
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = MailServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture
def env(chat: ChatServer, mail: MailServer) -> dict[str, str]:
    chat.reset()
    mail.clear()
    return {
        "VOC_OVEN_SLACK_URL": chat.slack_url(TOKENS["slack"]),
        "VOC_OVEN_DING_URL": chat.dingtalk_url(TOKENS["dingtalk"]),
        "VOC_OVEN_DING_SECRET": SECRETS["dingtalk"],
        "VOC_OVEN_WECOM_URL": chat.wecom_url(TOKENS["wecom"]),
        "VOC_OVEN_FEISHU_URL": chat.feishu_url(TOKENS["feishu"]),
        "VOC_OVEN_FEISHU_SECRET": SECRETS["feishu"],
    }


@pytest.fixture
def db(sqlite_url: str) -> Any:
    eng = make_engine(sqlite_url)
    migrate(eng)
    add_topic(eng, 7, "门关不紧")
    add_surge(eng, W, batch="B2409")
    yield eng
    eng.dispose()


def config() -> VocConfig:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    oven = next(o for o in raw["owners"] if o["name"] == "王磊")
    oven["channels"] = [
        "email",
        {"kind": "slack", "webhook_env": "VOC_OVEN_SLACK_URL"},
        {"kind": "dingtalk", "webhook_env": "VOC_OVEN_DING_URL", "secret_env": "VOC_OVEN_DING_SECRET"},
        {"kind": "wecom", "webhook_env": "VOC_OVEN_WECOM_URL"},
        {"kind": "feishu", "webhook_env": "VOC_OVEN_FEISHU_URL", "secret_env": "VOC_OVEN_FEISHU_SECRET"},
    ]
    return VocConfig.model_validate(raw)


def channels(mail: MailServer, env: dict[str, str], timeout: float = 5.0) -> ChannelSet:
    return ChannelSet(smtp=mail.channel(), env=env, timeout=timeout)


def rows(engine: Any) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(AlertSent).order_by(AlertSent.id)))


def test_every_channel_delivers_a_well_formed_signed_payload_and_no_secret_leaks(
    db: Any, chat: ChatServer, mail: MailServer, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config()
    planned = alert_stage.plan(db, cfg, W, "email", now=DAY)
    assert {p.target.channel for p in planned} == {"email", "slack", "dingtalk", "wecom", "feishu"}
    assert {p.target.recipient for p in planned} == {
        OVEN,
        "slack:VOC_OVEN_SLACK_URL",
        "dingtalk:VOC_OVEN_DING_URL",
        "wecom:VOC_OVEN_WECOM_URL",
        "feishu:VOC_OVEN_FEISHU_URL",
    }
    stats = alert_stage.send(db, planned, channels(mail, env), W, sleep=lambda s: None)
    assert stats["sent"] == 5 and stats["failed"] == 0
    assert [r.problem for r in chat.requests] == [""] * 4  # the server found nothing to complain about
    for vendor in ("slack", "dingtalk", "wecom", "feishu"):
        [req] = chat.accepted(vendor)
        assert "门关不紧" in req.raw.decode("utf-8") and "B2409" in req.raw.decode("utf-8")
    ding = chat.accepted("dingtalk")[0]
    assert ding.body["msgtype"] == "markdown" and {"timestamp", "sign"} <= set(ding.query)
    assert chat.accepted("feishu")[0].body["content"]["post"]["zh_cn"]["title"].startswith("投诉激增提醒")
    assert {"timestamp", "sign"} <= set(chat.accepted("feishu")[0].body)
    assert len(mail.messages) == 1
    # same run again: nothing new on any channel
    assert (
        alert_stage.send(db, alert_stage.plan(db, cfg, W, "email", now=DAY), channels(mail, env), W)["sent"]
        == 0
    )
    assert len(chat.requests) == 4

    secrets = [*SECRETS.values(), *TOKENS.values(), *(v for k, v in env.items() if k.endswith("_URL"))]
    bodies = [r.raw.decode("utf-8") for r in chat.requests] + [m.decode("utf-8", "replace") for m in mail.raw]
    db_text = "\n".join(repr(tuple(r)) for r in rows(db))
    for s in secrets:
        assert all(s not in b for b in bodies), "secret in a payload"
        assert s not in caplog.text, "secret in the log"
        assert s not in db_text, "secret in the database"
    assert mail.password not in caplog.text and mail.password not in db_text
    assert mail.password not in repr(ChannelSet(smtp=mail.channel(), env=env))
    assert all(
        s not in repr(ChannelSet(env=env).for_target("dingtalk", "VOC_OVEN_DING_URL", "VOC_OVEN_DING_SECRET"))
        for s in secrets
    )


def test_transient_failures_are_retried_with_backoff(
    db: Any, chat: ChatServer, mail: MailServer, env: dict[str, str]
) -> None:
    chat.fail("/dingtalk", "429", "500")
    chat.fail("/feishu", "timeout")
    chat.fail("/wecom", "busy")
    chat.fail("/slack", "500", "500", "500")  # never recovers within 3 attempts
    sleeps: list[float] = []
    planned = alert_stage.plan(db, config(), W, "email", now=DAY)
    stats = alert_stage.send(
        db, planned, channels(mail, env, timeout=0.5), W, attempts=3, retry_delay=0.25, sleep=sleeps.append
    )
    assert stats["sent"] == 4 and stats["failed"] == 1
    by = {r.channel: r for r in rows(db)}
    assert (by["dingtalk"].status, by["dingtalk"].attempts) == ("sent", 3)
    assert (by["feishu"].status, by["feishu"].attempts) == ("sent", 2)
    assert (by["wecom"].status, by["wecom"].attempts) == ("sent", 2)
    assert (by["slack"].status, by["slack"].attempts, by["slack"].error) == ("failed", 3, "slack: HTTP 500")
    assert by["email"].status == "sent"
    assert len(chat.accepted()) == 3
    # 429 carried Retry-After: 0; otherwise 0.25 s after the first failure, 0.5 s after the second
    assert sorted(sleeps) == [0.0, 0.25, 0.25, 0.25, 0.5, 0.5]
    # the failed one is tried again on the next run, the delivered ones are not
    stats = alert_stage.send(
        db, alert_stage.plan(db, config(), W, "email", now=DAY), channels(mail, env), W, sleep=sleeps.append
    )
    assert stats["sent"] == 1 and len(chat.accepted("slack")) == 1 and len(chat.accepted()) == 4


def test_wrong_signing_secret_is_a_permanent_failure(
    db: Any, chat: ChatServer, mail: MailServer, env: dict[str, str]
) -> None:
    env = {**env, "VOC_OVEN_DING_SECRET": "SECwrong", "VOC_OVEN_FEISHU_SECRET": "wrong"}
    stats = alert_stage.send(
        db, alert_stage.plan(db, config(), W, "email", now=DAY), channels(mail, env), W, sleep=lambda s: None
    )
    assert stats["failed"] == 2 and stats["sent"] == 3
    by = {r.channel: r for r in rows(db)}
    assert by["dingtalk"].attempts == 1 and "310000" in by["dingtalk"].error
    assert by["feishu"].attempts == 1 and "19021" in by["feishu"].error
    assert "SECwrong" not in by["dingtalk"].error


def test_unset_webhook_variable_fails_that_channel_only(
    db: Any, chat: ChatServer, mail: MailServer, env: dict[str, str]
) -> None:
    env = {k: v for k, v in env.items() if k != "VOC_OVEN_WECOM_URL"}
    stats = alert_stage.send(db, alert_stage.plan(db, config(), W, "email", now=DAY), channels(mail, env), W)
    assert stats["failed"] == 1 and stats["sent"] == 4
    assert (
        next(r for r in rows(db) if r.channel == "wecom").error
        == "wecom: environment variable VOC_OVEN_WECOM_URL is not set"
    )


def test_config_refuses_urls_and_secrets_in_the_file() -> None:
    from voc.config.settings import ChannelRef

    with pytest.raises(ValueError, match="NAME of an environment variable"):
        ChannelRef(kind="dingtalk", webhook_env="https://oapi.dingtalk.com/robot/send?access_token=x")
    with pytest.raises(ValueError, match="needs webhook_env"):
        ChannelRef(kind="slack")
    with pytest.raises(ValueError, match="not signed"):
        ChannelRef(kind="wecom", webhook_env="X", secret_env="Y")


def test_senders_against_the_server_directly(chat: ChatServer) -> None:
    chat.reset()
    long = Message("x", "主题", "正文\n" * 10, markdown="长" * 3000)  # 9,000 bytes of Markdown
    WeComRobot(chat.wecom_url("k")).send(long)  # cut to WeCom's 4,096 bytes, still accepted
    assert len(chat.accepted("wecom")[0].body["markdown"]["content"].encode()) <= 4096
    DingTalkRobot(chat.dingtalk_url("unsigned-token")).send(long)  # robot without 加签
    assert "sign" not in chat.accepted("dingtalk")[0].query
    with pytest.raises(DeliveryError) as e:
        FeishuBot(
            chat.feishu_url(TOKENS["feishu"]),
            secret=SECRETS["feishu"],
            clock=lambda: datetime(2020, 1, 1).timestamp(),
        ).send(long)  # stale timestamp
    assert e.value.permanent and "19021" in str(e.value)
    with pytest.raises(DeliveryError) as e:
        FeishuBot("http://127.0.0.1:9/nothing-listens", timeout=0.5).send(long)
    assert not e.value.permanent and "127.0.0.1" not in str(e.value)
