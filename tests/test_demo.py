"""`voc demo` end to end: the real weekly flow (Prefect ephemeral API) on the bundled sample data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voc import sample
from voc.app.cli import app
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--week", str(WEEK)])
    assert res.exit_code == 0, res.output
    return out, res.stdout


@pytest.mark.slow
def test_demo_brief_names_the_planted_surge(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    _, planted = sample.generate(WEEK)
    zh = (out / f"brief-{WEEK}.zh.md").read_text(encoding="utf-8")
    en = (out / f"brief-{WEEK}.en.md").read_text(encoding="utf-8")
    for text, product in ((zh, "烤箱"), (en, "oven")):
        surges = text.split("\n## ")[1:3]  # the surge section comes first after the headline
        section = next(s for s in text.split("\n## ") if planted.surge_batch in s)
        assert product in section
        assert planted.surge_batch in section
        assert re.search(r"\d+(\.\d+)?×", section), "change vs baseline (ratio) is stated"
        assert surges
        # one item per theme: the planted door defect is listed once (one surge card names its batch),
        # and its label is a phrase customers wrote, not a list of keywords
        heading = "投诉激增" if product == "烤箱" else "Complaint surges"
        cards = next(s for s in text.split("\n## ") if s.startswith(heading)).split("\n### ")[1:]
        door = [c for c in cards if planted.surge_batch in c]
        assert len(door) == 1, [c.split("\n")[0] for c in cards]
        title = door[0].split("\n")[0]
        assert product in title and title.count(" / ") <= 1, title
    stable = re.search(r"topic ids stable across the two weekly runs: (\d+) of (\d+)", stdout)
    assert stable and int(stable.group(1)) >= 0.95 * int(stable.group(2))


@pytest.mark.slow
def test_demo_brief_states_batch_concentration_and_baseline(demo: tuple[Path, str]) -> None:
    out, _ = demo
    en = (out / f"brief-{WEEK}.en.md").read_text(encoding="utf-8")
    first = next(c for c in en.split("\n### ")[1:] if "B2409" in c)  # the door defect's surge card
    assert "oven" in first and "KX-30A" in first
    share = re.search(r"(\d+)% from batch B2409", first)
    assert share and int(share.group(1)) >= 60
    ratio = re.search(r"vs \\?~?([\d.]+) expected \(([\d.]+)×", first)
    assert ratio and float(ratio.group(2)) >= 3


@pytest.mark.slow
def test_demo_global_spike_week_flags_no_topic(demo: tuple[Path, str]) -> None:
    from voc.config.settings import EXAMPLE_CONFIG, load_config
    from voc.flows.surge_stage import detect_week
    from voc.store.db import make_engine

    out, _ = demo
    _, planted = sample.generate(WEEK)
    engine = make_engine(f"sqlite:///{out / 'demo.sqlite3'}")
    rows = detect_week(engine, load_config(EXAMPLE_CONFIG), planted.global_spike_week)
    assert [r for r in rows if r["level"] == "global"], "the volume-wide rise is reported once"
    assert not [r for r in rows if r["level"] != "global"], "no topic or product cell flags in the spike week"


@pytest.mark.slow
def test_demo_outputs_have_no_personal_data_and_escape_html(demo: tuple[Path, str]) -> None:
    out, _ = demo
    _, planted = sample.generate(WEEK)
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in {".html", ".md", ".txt", ".json"}]
    assert len(files) >= 6
    for p in files:
        text = p.read_text(encoding="utf-8")
        for item in planted.pii:
            assert item.value not in text, f"{item.kind} {item.value} leaked into {p.name}"
        assert "<script>alert(1)</script>" not in text, p.name


@pytest.mark.slow
def test_demo_alerts_the_owner_once_in_chinese(demo: tuple[Path, str]) -> None:
    out, _ = demo
    msgs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "outbox").glob("*.json"))]
    oven_owner = next(p["owner"] for p in sample.PRODUCTS if p["id"] == "oven")
    owner_email = next(o["email"] for o in sample.OWNERS if o["name"] == oven_owner)
    to_owner = [m for m in msgs if m["recipient"] == owner_email]
    assert len(to_owner) == 1
    assert "B2409" in to_owner[0]["text"] and "烤箱" in to_owner[0]["text"]


@pytest.mark.slow
def test_demo_action_item_is_measured_and_it_ends_with_the_web_command(demo: tuple[Path, str]) -> None:
    """The sample's action item (fixed 8 weeks before the last week) gets a measured verdict in the
    quarterly review (zh and en) and on the workbench's action items page; the last line is the
    command that browses the demo database."""
    from starlette.testclient import TestClient

    from voc.config.settings import EXAMPLE_CONFIG, load_config
    from voc.store.db import make_engine
    from voc.web import create_app

    out, stdout = demo
    _, planted = sample.generate(WEEK)
    quarter = next(out.glob("review-*.en.md")).read_text(encoding="utf-8")
    section = quarter.split("## Did the actions work?", 1)[1].split("\n## ", 1)[0]
    assert "No action items to assess" not in section
    owner = next(p["owner"] for p in sample.PRODUCTS if p["id"] == planted.action_product)
    assert f"| {owner} |" in section
    verdicts = ("worked", "no clear change", "got worse")
    assert any(v in section for v in verdicts) and "too early to tell" not in section, section
    zh = next(out.glob("review-*.zh.md")).read_text(encoding="utf-8")
    assert "本季度无可评估的行动项" not in zh and any(v in zh for v in ("有效", "无明显变化", "变差"))
    engine = make_engine(f"sqlite:///{out / 'demo.sqlite3'}")
    try:
        page = TestClient(create_app(engine, load_config(EXAMPLE_CONFIG))).get("/actions?lang=en").text
    finally:
        engine.dispose()
    assert re.search(r'class="badge v-(worked|no_clear_change|got_worse)"', page)
    # the alerts say the workbench is not configured (the demo sets no web.base_url): no server path
    msgs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "outbox").glob("*.json"))]
    assert msgs
    for m in msgs:
        assert "网页工作台未配置" in m["text"] or "The web workbench is not configured" in m["text"]
        assert str(out) not in m["text"] and "brief-" not in m["text"]
    last = stdout.strip().splitlines()[-1]
    assert last.startswith(
        f"browse it: VOC_DATABASE_URL=sqlite:///{(out / 'demo.sqlite3').resolve()} voc web"
    )
