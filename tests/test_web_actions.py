"""`voc web` (issue #17): the action items and operations pages, and the links alerts and briefs carry
(``web.base_url``). Through Starlette's TestClient on the real store of tests/test_web.py (SQLite and
PostgreSQL), and in a real headless Chromium: an action item created from a surge page appears in
the next rendered brief; every new page loads with no console error and no request leaving
127.0.0.1; an owner name carrying markup shows as text."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from tests import test_web
from tests.test_browser import console_errors
from tests.test_web import TODAY, WEEK, Store, _links, _surge_url
from tests.web_server import Watching, chromium_binary, voc_web
from voc.config.settings import Web
from voc.flows import alert_stage
from voc.flows.brief_stage import build_briefs
from voc.flows.review_stage import build_review
from voc.reports.model import Alert
from voc.reports.render import render_alert, render_brief
from voc.store import ingest_log, report_queries
from voc.store.models import ActionItemRow, AlertSent, TicketRow
from voc.weeks import Quarter

XSS_OWNER = '<img src=x onerror="alert(1)">王磊'
PHONE = "13812345678"
VIEW = "viewer-token-0123456789"
EDIT = "editor-token-0123456789"
store = test_web.store  # the same real store, built once for this module (SQLite and PostgreSQL)


def _csrf(c: TestClient, path: str = "/actions?lang=en", **kw: Any) -> str:
    """The CSRF token of this client's browser (its cookie, which the client keeps) and principal,
    read from an edit form of the page ``path`` (as tests/test_web_topics.py does)."""
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path, **kw).text)
    assert m, f"no edit form on {path}"
    return m.group(1)


def _basic(user: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def _created_id(location: str) -> int:
    return int(parse_qs(urlsplit(location).query)["created"][0])


def _action_row(page: str, aid: int) -> str:
    m = re.search(rf'<tr id="a{aid}".*?</tr>', page, flags=re.S)
    assert m, f"no row for action #{aid}"
    return m.group(0)


def _from_surge(c: TestClient, store: Store, owner: str, lang: str = "en") -> tuple[int, dict[str, str]]:
    """Follow the surge page's "create an action item" link and submit its prefilled form."""
    surge = c.get(_surge_url(store.door, lang)).text
    link = [u for u in _links(surge, "/actions?") if "item=" in u]
    assert len(link) == 1, link
    form_page = c.get(link[0].split("#")[0])
    assert form_page.status_code == 200
    fields = dict(re.findall(r'<input (?:type="hidden" )?name="(\w+)"[^>]*?value="([^"]*)"', form_page.text))
    product = re.search(
        r'<select name="product">.*?<option value="([^"]*)" selected', form_page.text, flags=re.S
    )
    fields = {k: html.unescape(v) for k, v in fields.items()}
    assert fields.get("csrf"), "the form carries the CSRF token"
    fields.update(
        product=product.group(1) if product else "", owner=owner, due="2026-12-04", note="fix the hinge"
    )
    r = c.post(f"/actions?lang={lang}", data=fields, follow_redirects=False)
    assert r.status_code == 303, r.text
    return _created_id(r.headers["location"]), fields


# --- action items ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_action_item_from_a_surge_is_prefilled_and_appears_in_the_next_brief(store: Store) -> None:
    c = store.client()
    aid, fields = _from_surge(c, store, XSS_OWNER)
    # prefilled from the surge: the item's topic, its product and the batch that carries it
    assert fields["topic_id"] == str(store.door.topic_id) and store.door.topic_id
    assert fields["product"] == store.door.product_id == store.planted.surge_product
    assert fields["batch"] == store.planted.surge_batch
    assert fields["week"] == str(WEEK) and fields["item"] == store.door.surge_identity
    with store.engine.connect() as conn:
        a = next(x for x in report_queries.actions(conn) if x.id == aid)
    assert (a.topic_id, a.product, a.batch, a.owner, a.status, a.due) == (
        store.door.topic_id,
        "oven",
        "B2409",
        XSS_OWNER,
        "open",
        date(2026, 12, 4),
    )
    # the next brief, as a file and live on the week page, shows it on the door item, as text
    en = build_briefs(store.engine, store.cfg, WEEK, ["en"], TODAY)["en"]
    door = next(s for s in en.surges if s.surge_identity == store.door.surge_identity)
    assert door.action is not None and door.action.action_id == aid and door.action.owner == XSS_OWNER
    for text in (
        render_brief(en, "en", "html"),
        c.get(f"/weeks/{WEEK}?lang=en").text,
        c.get("/actions?lang=en").text,
    ):
        assert XSS_OWNER not in text and str(escape(XSS_OWNER)) in text
        assert "<img" not in text
    assert "fix the hinge" in c.get(f"/weeks/{WEEK}?lang=zh").text


@pytest.mark.slow
def test_assign_owner_due_status_and_fix_date_then_the_review_measure_shows(store: Store) -> None:
    c = store.client()
    tok = _csrf(c)
    r = c.post(
        "/actions?lang=en",
        data={"topic_id": str(store.door.topic_id), "owner": "Li Na", "note": "supplier change", "csrf": tok},
        follow_redirects=False,
    )
    aid = _created_id(r.headers["location"])
    row = _action_row(c.get("/actions?lang=en").text, aid)
    assert "no fix date yet" in row and "Li Na" in row and "open" in row
    fix = WEEK.shift(-6).start + timedelta(days=2)
    r = c.post(
        f"/actions/{aid}?lang=en",
        data={
            "owner": "Zhang Wei",
            "due": "2026-10-30",
            "status": "done",
            "fix_date": fix.isoformat(),
            "note": "supplier changed",
            "csrf": tok,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"#a{aid}")
    with store.engine.connect() as conn:
        a = next(x for x in report_queries.actions(conn) if x.id == aid)
    assert (a.owner, a.due, a.status, a.fix_date, a.note) == (
        "Zhang Wei",
        date(2026, 10, 30),
        "done",
        fix,
        "supplier changed",
    )
    # the measured effect is the quarterly review's own, figure for figure
    review = build_review(store.engine, store.cfg, Quarter.of(WEEK.start), TODAY)
    e = next(x for x in review.effects if x.action.action_id == aid)
    assert e.weeks == 4 and e.verdict != "too_early"
    for lang, verdict in (
        (
            "en",
            {"worked": "worked", "no_clear_change": "no clear change", "got_worse": "got worse"}[e.verdict],
        ),
        ("zh", {"worked": "有效", "no_clear_change": "无明显变化", "got_worse": "变差"}[e.verdict]),
    ):
        row = _action_row(c.get(f"/actions?lang={lang}").text, aid)
        assert f'class="badge v-{e.verdict}">{verdict}<' in row
        assert f"{e.rate_before:.2f}" in row and f"{e.rate_after:.2f}" in row
        assert f"{e.change_lo:.2f}" in row and f"{e.change_hi:.2f}" in row
    # a fix last week: too early to tell, with the review's rule (fewer than 2 weeks after the fix)
    r = c.post(
        f"/actions/{aid}?lang=en",
        data={"status": "done", "fix_date": (TODAY - timedelta(days=8)).isoformat(), "csrf": tok},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'class="badge v-too_early">too early to tell<' in _action_row(c.get("/actions?lang=en").text, aid)


@pytest.mark.slow
def test_invalid_action_items_are_refused_with_the_reason(store: Store) -> None:
    c = store.client()
    tok = _csrf(c)
    with store.engine.connect() as conn:
        before = len(report_queries.actions(conn))
    for data, reason in (
        ({"topic_id": "3", "owner": "  "}, "needs an --owner"),
        ({"owner": "x"}, "needs a --topic or a --product"),
        ({"topic_id": "3", "owner": "x", "due": "next week"}, "not a date"),
        ({"topic_id": "abc", "owner": "x"}, "must be a topic id"),
        ({"topic_id": "3", "owner": "x" * 201}, "too long"),
        ({"topic_id": "3", "owner": "a\x00b"}, "control characters"),
    ):
        r = c.post("/actions?lang=en", data={**data, "csrf": tok})
        assert r.status_code == 400 and reason in html.unescape(r.text), (data, r.text[:300])
        assert "Not saved" in r.text
    r = c.post("/actions/999999?lang=en", data={"status": "done", "csrf": tok})
    assert r.status_code == 400 and "no action item with id 999999" in r.text
    r = c.post("/actions/1?lang=en", data={"status": "finished", "csrf": tok})
    assert r.status_code == 400 and "status must be one of" in html.unescape(r.text)
    with store.engine.connect() as conn:
        assert len(report_queries.actions(conn)) == before


@pytest.mark.slow
def test_edits_from_another_site_are_refused(store: Store) -> None:
    """``security.check_edit``: a form posted from another site (what a CSRF page does) is refused
    before anything is written, even carrying a valid CSRF token; so is a form without the token
    (``security.require_edit``); the workbench's own form (Origin null under no-referrer, or the
    same origin, Sec-Fetch-Site same-origin, with its token) is not."""
    c = store.client()
    tok = _csrf(c)
    with store.engine.connect() as conn:
        before = len(report_queries.actions(conn))
    data = {"topic_id": str(store.door.topic_id), "owner": "mallory", "csrf": tok}
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ):
        assert c.post("/actions", data=data, headers=headers).status_code == 403, headers
        assert c.post("/actions/1", data={"status": "done", "csrf": tok}, headers=headers).status_code == 403
        assert c.post("/operations/replay", data={"csrf": tok}, headers=headers).status_code == 403
    # without the CSRF token, or with a wrong one, or another browser's: 403 as well
    no_token = {k: v for k, v in data.items() if k != "csrf"}
    for body in (no_token, {**no_token, "csrf": "A" * 43}):
        for headers in ({}, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):
            assert c.post("/actions", data=body, headers=headers).status_code == 403, (body, headers)
    assert c.post("/actions/1", data={"status": "done"}).status_code == 403
    assert c.post("/operations/replay").status_code == 403
    assert store.client().post("/actions", data=data).status_code == 403
    with store.engine.connect() as conn:
        assert len(report_queries.actions(conn)) == before
    ok = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert c.post("/actions", data=data, headers=ok, follow_redirects=False).status_code == 303
    assert (
        c.post(
            "/actions", data=data, headers={"Origin": "http://testserver"}, follow_redirects=False
        ).status_code
        == 303
    )


@pytest.mark.slow
def test_a_viewer_cannot_edit_action_items_or_replay_the_quarantine(store: Store) -> None:
    """The roles of tests/test_web_topics.py hold on these pages too: a viewer sees no edit form, and
    a viewer's POST is refused (403) even with a token taken from the editor's page in the same
    browser; the editor's goes through."""
    c = store.client(token=VIEW, editor_token=EDIT)
    viewer, editor = _basic("vera", VIEW), _basic("alice", EDIT)
    with store.engine.connect() as conn:
        before = len(report_queries.actions(conn))
    for path in ("/actions?lang=en", "/operations?lang=en"):
        assert 'method="post"' not in c.get(path, headers=viewer).text, path
    tok = _csrf(c, headers=editor)
    data = {"topic_id": str(store.door.topic_id), "owner": "vera", "csrf": tok}
    assert c.post("/actions?lang=en", data=data, headers=viewer).status_code == 403
    assert (
        c.post("/actions/1?lang=en", data={"status": "done", "csrf": tok}, headers=viewer).status_code == 403
    )
    assert c.post("/operations/replay?lang=en", data={"csrf": tok}, headers=viewer).status_code == 403
    with store.engine.connect() as conn:
        assert len(report_queries.actions(conn)) == before
    assert "read-only (viewer)" in c.get("/actions?lang=en", headers=viewer).text
    # the editor, same browser (cookie), its own token
    r = c.post(
        "/actions?lang=en",
        data={**data, "owner": "alice", "csrf": _csrf(c, headers=editor)},
        headers=editor,
        follow_redirects=False,
    )
    assert r.status_code == 303
    with store.engine.connect() as conn:
        a = next(x for x in report_queries.actions(conn) if x.id == _created_id(r.headers["location"]))
    assert a.owner == "alice"


# --- operations ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_operations_page_shows_runs_quarantine_alerts_stages_redacted_and_replays(store: Store) -> None:
    c = store.client()
    good = {
        "ticket_id": "replay-1",
        "closed_at": "2026-11-18 10:00:00",
        "body": f"烤箱门关不紧，电话 {PHONE}",
    }
    bad = {"ticket_id": "bad-1", "closed_at": "not a date", "body": f"call me on {PHONE}"}
    with store.engine.begin() as conn:
        ingest_log.quarantine(
            conn,
            "sample",
            None,
            [
                ("replay.csv:2", good, "body over max_body_chars (a limit since raised)"),
                (f"bad.csv:{PHONE}", bad, f"closed_at: cannot parse 'not a date' near {PHONE}"),
            ],
        )
        now = TODAY.isoformat()
        for status, err in (
            ("failed", f"SMTP 550 for {PHONE}"),
            ("unknown", "outcome unknown"),
            ("sent", None),
        ):
            conn.execute(
                insert(AlertSent).values(
                    week=WEEK.ordinal(),
                    dedupe_key=f"k-{status}",
                    kind="start",
                    owner="周敏",
                    channel="email",
                    recipient="zhoumin@example.com",
                    payload_hash="0" * 64,
                    status=status,
                    attempts=3,
                    error=err,
                    ratio=2.0,
                    created_at=date.fromisoformat(now),
                    sent_at=None,
                )
            )
    for lang in ("en", "zh"):
        page = c.get(f"/operations?lang={lang}")
        assert page.status_code == 200
        text = page.text
        assert PHONE not in text  # locations, reasons and errors are redacted; raw rows never read
        assert "烤箱门关不紧" not in text and "call me" not in text
        assert "replay.csv:2" in text and "bad.csv:" in text
        assert str(WEEK) in text and "surges" in text  # the stage runs
        assert "SMTP 550" in text and "outcome unknown" in text
        assert "sample" in text  # the ingest run of the store's file
    en = c.get("/operations?lang=en").text
    assert re.search(r"failed: 1<", en) and re.search(r"unknown: 1<", en) and re.search(r"sent: \d+<", en)
    assert re.search(r"Quarantine \((\d+) rows waiting\)", en)
    waiting = int(re.search(r"Quarantine \((\d+) rows waiting\)", en).group(1))  # type: ignore[union-attr]
    r = c.post(
        "/operations/replay?lang=en", data={"csrf": _csrf(c, "/operations?lang=en")}, follow_redirects=False
    )
    assert r.status_code == 303
    after = c.get(r.headers["location"]).text
    assert "Replayed: 1 rows stored" in after
    assert f"Quarantine ({waiting - 1} rows waiting)" in after
    with store.engine.connect() as conn:
        stored = conn.execute(select(TicketRow.source_id).where(TicketRow.source_id == "replay-1")).all()
    assert len(stored) == 1


# --- links from alerts and briefs ------------------------------------------------------------------

BASE = "https://voc.example.com/wb"


@pytest.mark.slow
def test_alerts_link_each_surge_to_the_workbench_in_the_owners_language(store: Store) -> None:
    linked = store.cfg.model_copy(update={"web": Web(base_url=BASE + "/")})
    planned = alert_stage.plan(store.engine, linked, WEEK, "file", now=None)
    assert planned
    c = store.client()
    langs = set()
    for p in planned:
        a = p.alert
        langs.add(a.language)
        assert a.brief_link == f"{BASE}/weeks/{WEEK}?lang={a.language}" and not a.no_workbench
        for s in a.surges:
            url = a.surge_link(s)
            assert url and url.startswith(f"{BASE}/weeks/") and f"lang={a.language}" in url
            assert url in p.message.text and html.escape(url) in (p.message.html or "")
            assert c.get(url.removeprefix(BASE)).status_code == 200  # the page it names exists
        assert "/" + "out" not in p.message.text and ".html" not in p.message.text
    door = [p for p in planned if any(s.surge_identity == store.door.surge_identity for s in p.alert.surges)]
    assert door
    plain = alert_stage.plan(store.engine, store.cfg, WEEK, "file", now=None)
    for p in plain:
        assert p.alert.brief_link is None and p.alert.no_workbench and not p.alert.surge_links
        sentence = (
            "网页工作台未配置（web.base_url），本消息不附简报链接。"
            if p.alert.language == "zh"
            else "The web workbench is not configured (web.base_url), so this message carries no link to the brief."
        )
        assert sentence in p.message.text and sentence.replace("_", "\\_") in (p.message.markdown or "")
        assert "http" not in p.message.text


def test_no_workbench_sentence_in_both_languages_and_links_in_rendered_messages() -> None:
    from tests import reports_fixtures as fx

    for lang, words in (("zh", "网页工作台未配置"), ("en", "The web workbench is not configured")):
        a = fx.alert(lang)
        bare = Alert(**{**a.__dict__, "brief_link": None, "no_workbench": True})
        for fmt in ("text", "html", "md"):
            out = render_alert(bare, fmt)
            assert words in out, (lang, fmt)
        s = replace(a.surges[0], surge_identity="t12")
        url = f"{BASE}/weeks/{a.week}/surge?item=t12&lang={lang}"
        linked = Alert(
            **{
                **a.__dict__,
                "surges": (s, *a.surges[1:]),
                "surge_links": (("t12", url),),
                "no_workbench": False,
            }
        )
        assert url in render_alert(linked, "text") and url in render_alert(linked, "md")
        assert html.escape(url) in render_alert(linked, "html")
        assert words not in render_alert(linked, "text")
        assert url not in render_alert(a, "text")  # an alert without links has none


def test_brief_titles_link_to_the_workbench_when_the_base_url_is_set() -> None:
    from tests import reports_fixtures as fx

    for lang in ("zh", "en"):
        b = fx.brief(lang)
        plain, linked = render_brief(b, lang, "html"), render_brief(b, lang, "html", web_base=BASE)
        assert BASE not in plain
        hrefs = [html.unescape(h) for h in re.findall(r'<h3><a href="([^"]+)"', linked)]
        assert len(hrefs) == len(b.surges) and all(h.startswith(f"{BASE}/weeks/{b.week}") for h in hrefs)
        assert all(h.endswith(f"lang={lang}") for h in hrefs)
        md = render_brief(b, lang, "md", web_base=BASE)
        assert md.count(f"]({BASE}/weeks/{b.week}") == len(b.surges)


def test_base_url_must_be_a_plain_http_address() -> None:
    from pydantic import ValidationError

    assert Web(base_url=" https://voc.example.com/ ").base_url == "https://voc.example.com"
    assert Web(base_url="").base_url is None and Web().base_url is None
    for bad in (
        "javascript:alert(1)",
        "voc.example.com",
        "https://voc.example.com/?x=1",
        "ftp://x",
        "https://user:pw@voc.example.com",
        "https://voc.example.com/a b",
    ):
        with pytest.raises(ValidationError):
            Web(base_url=bad)


# --- in a real browser -----------------------------------------------------------------------------


@pytest.mark.slow
def test_action_from_a_surge_in_headless_chromium(store: Store, tmp_path: Path) -> None:
    """``voc web`` on the SQLite store, a real headless Chromium: the new pages (action items,
    operations, the prefilled form; zh and en) load with no console error, no script, every request
    to 127.0.0.1; the surge page's link opens the prefilled form, submitting it (a real form POST:
    Origin null, Sec-Fetch-Site same-origin) creates the item, and the week's brief then shows it,
    its owner's markup as text."""
    binary = chromium_binary(store.engine)
    owner = '<b onmouseover="alert(2)">陈</b>owner'
    with voc_web(store.engine, tmp_path) as base:
        browser = Watching(binary, tmp_path)
        try:

            def check(page: Any) -> None:
                assert console_errors(page) == [], page.path.name
                assert page.dom["scripts"] == 0 and page.dom["h1"], page.path.name
                assert [
                    e["method"]
                    for e in page.events
                    if e["method"] in ("Page.javascriptDialogOpening", "Runtime.consoleAPICalled")
                ] == []
                urls = [
                    e["params"]["request"]["url"]
                    for e in page.events
                    if e["method"] == "Network.requestWillBeSent"
                ]
                # data: URLs are no request (Chromium's own date-picker icon); everything else is the workbench
                assert urls and [u for u in urls if not u.startswith((base + "/", "data:"))] == [], urls

            surge_path = _surge_url(store.door, "zh")
            for lang in ("en", "zh"):
                for name, path in (
                    ("actions", f"/actions?lang={lang}"),
                    ("operations", f"/operations?lang={lang}"),
                    ("new", f"/actions?week={WEEK}&item={store.door.surge_identity}&lang={lang}"),
                ):
                    check(
                        browser.open(
                            tmp_path / f"{name}-{lang}.html", url=base + path, pdf=False, charts=False
                        )
                    )

            # the surge page -> its "create an action item" link -> fill in the owner -> submit
            b = browser
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            sid = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            b._events[sid] = []

            def load(url: str | None = None, script: str | None = None) -> None:
                b._events[sid] = [e for e in b._events[sid] if e.get("method") != "Page.loadEventFired"]
                if url:
                    b.send("Page.navigate", {"url": url}, sid)
                else:
                    b.evaluate(script or "", sid)
                until = time.monotonic() + 30
                while not any(e.get("method") == "Page.loadEventFired" for e in b._events[sid]):
                    assert time.monotonic() < until, "no load event"
                    b._on_event(json.loads(b.ws.recv(timeout=max(0.1, until - time.monotonic()))))

            try:
                for domain in ("Page", "Runtime", "Log"):
                    b.send(f"{domain}.enable", session=sid)
                load(base + surge_path)
                href = b.evaluate("document.querySelector('p.create-action a').href", sid)
                assert href.startswith(base + "/actions?")
                load(href)
                prefilled = b.evaluate(
                    "Object.fromEntries(new FormData(document.querySelector('#new form')))", sid
                )
                assert prefilled["topic_id"] == str(store.door.topic_id) and prefilled["batch"] == "B2409"
                assert prefilled["product"] == "oven" and prefilled["item"] == store.door.surge_identity
                load(
                    script="document.querySelector('#new input[name=owner]').value = "
                    + json.dumps(owner)
                    + "; document.querySelector('#new form').submit()"
                )
                landed = b.evaluate("location.href", sid)
                assert landed.startswith(base + "/actions?") and "created=" in landed, landed
                aid = int(parse_qs(urlsplit(landed).query)["created"][0])
                load(base + f"/weeks/{WEEK}?lang=zh")
                shown = b.evaluate(
                    "[...document.querySelectorAll('article.card')].map(a => a.textContent).join('\\n')", sid
                )
                assert f"#{aid}" in shown and owner in shown  # the owner's markup is text on the brief
                assert b.evaluate("document.querySelectorAll('b[onmouseover]').length", sid) == 0
                events = [e["method"] for e in b._events[sid]]
                assert (
                    "Page.javascriptDialogOpening" not in events and "Runtime.consoleAPICalled" not in events
                )
            finally:
                b._events.pop(sid, None)
                b.send("Target.closeTarget", {"targetId": target})
            with store.engine.connect() as conn:
                row = conn.execute(
                    select(ActionItemRow.owner, ActionItemRow.topic_id, ActionItemRow.batch).where(
                        ActionItemRow.id == aid
                    )
                ).one()
            assert tuple(row) == (owner, store.door.topic_id, "B2409")
        finally:
            browser.close()


def test_workbench_urls_quote_the_item_and_carry_the_language() -> None:
    from voc.reports.links import surge_url, week_url

    assert week_url(BASE + "/", "2026-W47", "zh") == f"{BASE}/weeks/2026-W47?lang=zh"
    assert (
        surge_url(BASE, "2026-W47", "t|12/x", "en") == f"{BASE}/weeks/2026-W47/surge?item=t%7C12%2Fx&lang=en"
    )
