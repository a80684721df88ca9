"""The daily safety check (#16) end to end through ``voc check-safety`` (SQLite and PostgreSQL).

Weeks of generated tickets with about one safety complaint a week about the kettle arrive in a drop
folder; then six kettle safety complaints (smoke, burning, nearly caught fire) arrive mid-week.
``voc check-safety --now <Thursday>`` ingests, understands, assigns and counts them and alerts the
kettle's owner and the safety list once (files via --alerts-to); the check the next day and the Monday
weekly run do not tell them again; six more (twelve in the 7-day window) are an escalation.
The daily check before this (flows/serve.py) judged the current week without ingesting or counting
it and sent nothing: every assertion on alerts here fails on it (and the command did not exist).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from voc import sample
from voc.config.settings import EXAMPLE_CONFIG
from voc.store.db import make_engine
from voc.store.models import AlertSent
from voc.weeks import Week

OWNER = "liu.yang@hearth.example"  # 刘洋, the kettle's owner
SAFETY_LIST = "quality@hearth.example"  # 质量安全组, alerts.safety_list
T1 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thursday of 2026-W48, 18:00 in Shanghai
T2 = T1 + timedelta(days=1)  # Friday
MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 2026-W48 is complete
T3 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # Wednesday of 2026-W49: the window still holds the first six


def _kettle_safety(i: int, when: datetime) -> dict[str, str]:
    return {
        "ticket_id": f"SAFE-{i:03d}",
        "created_at": (when - timedelta(hours=2)).isoformat(),
        "closed_at": when.isoformat(),
        "channel": "电话",
        "product": "电热水壶",
        "model": "KT-17",
        "subject": "冒烟起火",
        "body": "电热水壶烧水的时候底座冒烟，有一股烧焦味，差点起火，太危险了。",
        "resolution": "已升级质量安全团队，安排上门取件检测",
        "status": "closed",
    }


def _closed(row: dict[str, str]) -> datetime:
    return datetime.fromisoformat(row["closed_at"]).astimezone(UTC)


@pytest.fixture
def setup(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    drops, sink = tmp_path / "drops", tmp_path / "outbox"
    drops.mkdir()
    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["sources"] = [{"name": "drops", "kind": "file", "path": str(drops)}]
    cfg_path = tmp_path / "voc.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("VOC_DATABASE_URL", db_url)
    monkeypatch.setenv("VOC_CONFIG", str(cfg_path))
    monkeypatch.setenv("VOC_OUT_DIR", str(tmp_path / "out"))
    for k in ("VOC_SMTP_HOST", "PREFECT_API_URL"):
        monkeypatch.delenv(k, raising=False)
    rows, _ = sample.generate(Week.parse("2026-W49"), weeks=12, per_week=60, seed=21)
    from voc.app.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["init"])
    assert res.exit_code == 0, res.output
    engine = make_engine(db_url)
    yield runner, app, drops, sink, rows, engine
    engine.dispose()


def _drop(drops: Path, name: str, rows: list[dict[str, str]]) -> None:
    sample.write_csv(drops / f"{name}.csv", rows)


def _messages(sink: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(sink.glob("*.json"))]


def _kettle_rows(engine: Any) -> list[Any]:
    with engine.connect() as c:
        return list(
            c.execute(
                select(AlertSent.dedupe_key, AlertSent.recipient, AlertSent.kind, AlertSent.status)
                .where(AlertSent.dedupe_key.like("s|kettle|%"))
                .order_by(AlertSent.id)
            )
        )


def _check(runner: CliRunner, app: Any, now: datetime, sink: Path) -> dict[str, Any]:
    res = runner.invoke(app, ["check-safety", "--now", now.isoformat(), "--alerts-to", str(sink), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # stdout is the JSON document alone


@pytest.mark.slow
def test_a_mid_week_safety_surge_is_alerted_once_then_escalated(setup: Any) -> None:
    runner, app, drops, sink, rows, engine = setup
    first_six = [
        _kettle_safety(i, datetime(2026, 11, 25, 12, 0, tzinfo=UTC) + timedelta(hours=3 * i))
        for i in range(6)
    ]  # Wednesday noon to Thursday 03:00 UTC
    _drop(drops, "a-history", [r for r in rows if _closed(r) < T1] + first_six)

    # Thursday: ingested, understood, counted and judged in one run; owner and safety list told at once
    out = _check(runner, app, T1, sink)
    assert out["ingested"] == sum(1 for r in rows if _closed(r) < T1) + 6
    assert out["tested"] >= 1 and out["flagged"] >= 1 and out["alerts"]["sent"] >= 2, out
    told = _kettle_rows(engine)
    assert {(r.recipient, r.kind, r.status) for r in told} == {
        (OWNER, "start", "sent"),
        (SAFETY_LIST, "start", "sent"),
    }, told
    msgs = _messages(sink)
    to_list = [m for m in msgs if m["recipient"] == SAFETY_LIST]
    assert len(to_list) == 1 and "电热水壶" in to_list[0]["text"] and "安全" in to_list[0]["subject"]
    assert sum(1 for m in msgs if m["recipient"] == OWNER and "电热水壶" in m["text"]) == 1

    # Friday: the same surge, nothing new to say
    _drop(drops, "b-friday", [r for r in rows if T1 <= _closed(r) < T2])
    out = _check(runner, app, T2, sink)
    assert out["flagged"] >= 1 and out["alerts"].get("sent", 0) == 0 and out["suppressed"] >= 1, out
    assert len(_kettle_rows(engine)) == 2 and len(_messages(sink)) == len(msgs)

    # Monday: the weekly run of 2026-W48 does not tell the owner or the safety list again
    _drop(drops, "c-weekend", [r for r in rows if T2 <= _closed(r) < MONDAY])
    before = len(_messages(sink))
    res = runner.invoke(app, ["run-weekly", "--week", "2026-W48", "--alerts-to", str(sink)])
    assert res.exit_code == 0, res.output
    new = _messages(sink)[before:]
    assert not [m for m in new if m["recipient"] in (OWNER, SAFETY_LIST) and "电热水壶" in m["text"]], new
    assert len(_kettle_rows(engine)) == 2

    # six more on Tuesday: twelve in the window ending Wednesday -> one escalation to each of them
    more = [
        _kettle_safety(10 + i, datetime(2026, 12, 1, 2, 0, tzinfo=UTC) + timedelta(hours=2 * i))
        for i in range(6)
    ]
    _drop(drops, "d-tuesday", [r for r in rows if MONDAY <= _closed(r) < T3] + more)
    before = len(_messages(sink))
    out = _check(runner, app, T3, sink)
    assert out["flagged"] >= 1, out
    esc = _kettle_rows(engine)[2:]
    assert {(r.recipient, r.kind, r.status) for r in esc} == {
        (OWNER, "escalation", "sent"),
        (SAFETY_LIST, "escalation", "sent"),
    }, esc
    new = _messages(sink)[before:]
    assert sorted(m["recipient"] for m in new if "电热水壶" in m["text"]) == sorted([OWNER, SAFETY_LIST])


@pytest.mark.slow
def test_check_safety_delivers_through_real_smtp_and_chat_servers(
    setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file sink: one ``voc check-safety --now`` run sends the start alert to the kettle's owner by e-mail
    (a real SMTP server: STARTTLS + AUTH) and to the safety list's Feishu group (the local chat server,
    signature checked) - asserted on what the servers received."""
    from tests.chat_server import ChatServer, MailServer

    runner, app, drops, _sink, rows, engine = setup
    token, secret = "feishu-safety-hook-1", "feishu-safety-secret-9"
    chat = ChatServer(secrets={token: secret}).start()
    (tmp_path / "smtp").mkdir()
    mail = MailServer(tmp_path / "smtp").start()
    try:
        cfg_path = Path(str(os.environ["VOC_CONFIG"]))
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        quality = next(o for o in cfg["owners"] if o["email"] == SAFETY_LIST)
        quality["channels"] = [
            {
                "kind": "feishu",
                "webhook_env": "VOC_QUALITY_FEISHU_URL",
                "secret_env": "VOC_QUALITY_FEISHU_SECRET",
            }
        ]
        cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        for k, v in {
            "VOC_QUALITY_FEISHU_URL": chat.feishu_url(token),
            "VOC_QUALITY_FEISHU_SECRET": secret,
            "VOC_SMTP_HOST": "127.0.0.1",
            "VOC_SMTP_PORT": str(mail.port),
            "VOC_SMTP_USER": mail.user,
            "VOC_SMTP_PASSWORD": mail.password,
            "VOC_SMTP_STARTTLS": "true",
            "VOC_SMTP_FROM": "voc@hearth.example",
            "SSL_CERT_FILE": mail.cert,
        }.items():
            monkeypatch.setenv(
                k, v
            )  # SSL_CERT_FILE: the default TLS context trusts the test server's certificate

        first_six = [
            _kettle_safety(i, datetime(2026, 11, 25, 12, 0, tzinfo=UTC) + timedelta(hours=3 * i))
            for i in range(6)
        ]
        _drop(drops, "a-history", [r for r in rows if _closed(r) < T1] + first_six)
        res = runner.invoke(app, ["check-safety", "--now", T1.isoformat(), "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["flagged"] >= 1 and out["alerts"]["sent"] >= 2 and not out["alerts"].get("failed"), out

        to_owner = [m for m in mail.to(OWNER) if "电热水壶" in m.get_body(("plain",)).get_content()]
        assert len(to_owner) == 1, [m["To"] for m in mail.messages]
        assert "安全" in str(to_owner[0]["Subject"]) and to_owner[0]["From"] == "voc@hearth.example"
        assert not mail.to(SAFETY_LIST)  # the safety list's only channel is its Feishu group
        [req] = chat.accepted("feishu")
        assert req.problem == "" and {"timestamp", "sign"} <= set(req.body)
        assert "电热水壶" in req.raw.decode("utf-8") and secret not in req.raw.decode("utf-8")
        told = _kettle_rows(engine)
        assert {(r.recipient, r.kind, r.status) for r in told} == {
            (OWNER, "start", "sent"),
            ("feishu:VOC_QUALITY_FEISHU_URL", "start", "sent"),
        }, told
    finally:
        chat.stop()
        mail.stop()
