"""Alerts from the real pipeline stages on a small generated sample, e-mailed to a real local SMTP
server (STARTTLS + AUTH) and parsed: HTML and text parts, Chinese for the oven owner, the planted
batch named, none of the planted personal data. Also `voc alerts --dry-run --json`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.chat_server import MailServer
from voc import sample
from voc.config.settings import EXAMPLE_CONFIG, load_config
from voc.delivery.channels import ChannelSet
from voc.flows import alert_stage
from voc.flows.surge_stage import detect_week
from voc.flows.topic_stage import update_topics
from voc.flows.understand import understand_pending
from voc.sources.ingest import ingest_path
from voc.store import analysis
from voc.store.db import make_engine, migrate
from voc.store.models import AlertSent
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
DAY = datetime(2026, 11, 23, 10, 0)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("alerts-pipeline")
    rows, planted = sample.generate(WEEK, weeks=12, per_week=250)  # enough volume for the planted surge
    sample.write_csv(folder / "tickets.csv", rows)
    url = f"sqlite:///{folder / 'voc.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, folder / "tickets.csv", "sample", cfg.mapping(None))
    understand_pending(engine, cfg)
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    detect_week(engine, cfg, WEEK)
    yield engine, cfg, planted, url
    engine.dispose()


@pytest.mark.slow
def test_pipeline_surge_is_mailed_to_the_oven_owner_once_in_chinese_without_personal_data(
    pipeline: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg, planted, url = pipeline
    oven_owner = next(p["owner"] for p in sample.PRODUCTS if p["id"] == "oven")
    owner_email = next(o["email"] for o in sample.OWNERS if o["name"] == oven_owner)

    # dry run first: prints what would go out, writes nothing
    monkeypatch.setenv("VOC_DATABASE_URL", url)
    monkeypatch.setenv("VOC_CONFIG", str(EXAMPLE_CONFIG))
    from voc.app.cli import app

    res = CliRunner().invoke(app, ["alerts", "--week", str(WEEK), "--dry-run", "--json"])
    assert res.exit_code == 0, res.output
    dry = json.loads(res.stdout)
    to_owner = [r for r in dry if r["recipient"] == owner_email]
    assert (
        len(to_owner) == 1 and to_owner[0]["language"] == "zh" and planted.surge_batch in to_owner[0]["text"]
    )
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(AlertSent)).scalar() == 0

    mail = MailServer(tmp_path_factory.mktemp("smtp")).start()
    try:
        ch = ChannelSet(smtp=mail.channel())
        stats = alert_stage.send(engine, alert_stage.plan(engine, cfg, WEEK, now=DAY), ch, WEEK)
        assert stats["failed"] == 0 and stats["sent"] == len(dry)
        again = alert_stage.send(engine, alert_stage.plan(engine, cfg, WEEK, now=DAY), ch, WEEK)
        assert again["sent"] == 0
        [m] = mail.to(owner_email)
        assert m.get_content_type() == "multipart/alternative"
        text = m.get_body(preferencelist=("plain",)).get_content()
        html = m.get_body(preferencelist=("html",)).get_content()
        assert m["Subject"].startswith(("投诉激增提醒", "【安全】投诉激增提醒"))
        assert planted.surge_batch in text and "烤箱" in text
        assert planted.surge_batch in html and '<html lang="zh' in html
        assert text.split("\n", 1)[0] == m["Subject"]
        everything = "\n".join(raw.decode("utf-8", "replace") for raw in mail.raw)
        decoded = "\n".join(
            part.get_content()
            for msg in mail.messages
            for part in msg.walk()
            if part.get_content_maintype() == "text"
        )
        for item in planted.pii:
            assert item.value not in decoded and item.value not in everything, f"{item.kind} leaked"
            assert item.value not in "\n".join(str(x["subject"]) for x in dry)
    finally:
        mail.stop()
