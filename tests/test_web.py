"""`voc web` (issue #17, the read-only slice): the pages through Starlette's TestClient on a real store
(generated tickets through ingest, understanding, topics, counts and surge detection; SQLite and
PostgreSQL), the CSV export, escaping, the bind refusal through the CLI, and the weeks and surge
pages in a real headless Chromium."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from tests.test_browser import console_errors
from tests.web_server import Watching, chromium_binary, voc_web
from voc import sample
from voc.app.cli import app as cli
from voc.config.settings import EXAMPLE_CONFIG, VocConfig, load_config
from voc.flows.brief_stage import build_briefs, write_brief
from voc.flows.surge_stage import detect_week
from voc.flows.topic_stage import update_topics
from voc.flows.understand import understand_pending
from voc.reports.model import Brief, SurgeItem
from voc.reports.render import render_brief
from voc.sample import Planted
from voc.sources.ingest import ingest_path
from voc.store import analysis, workbench
from voc.store.db import make_engine, migrate
from voc.store.models import StageRun, TicketRow
from voc.web import app as web_app
from voc.web import create_app
from voc.web.pages import cell_of
from voc.web.security import CSP, host_name
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
TODAY = date(2026, 11, 23)
SCRIPT = "<script>alert(1)</script>"
FORMULAS = ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)")
TOKEN = "correct-horse-battery-staple"


@dataclass
class Store:
    engine: Engine
    cfg: VocConfig
    planted: Planted
    out: Path
    door: SurgeItem  # the planted door defect's item (batch B2409)
    script_ticket: int
    formula_tickets: list[int]

    def client(self, **kw: Any) -> TestClient:
        return TestClient(create_app(self.engine, self.cfg, today=lambda: TODAY, **kw))


def _build(engine: Engine, folder: Path) -> Store:
    rows, planted = sample.generate(WEEK, weeks=12, per_week=250)
    sample.write_csv(folder / "tickets.csv", rows)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, folder / "tickets.csv", "sample", cfg.mapping(None))
    understand_pending(engine, cfg)
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    for w in (WEEK.shift(-1), WEEK):
        detect_week(engine, cfg, w)
        with engine.begin() as conn:  # what the weekly flow records after its surge stage
            conn.execute(
                insert(StageRun).values(
                    week=w.ordinal(),
                    stage="surges",
                    status="ok",
                    summary="",
                    finished_at=datetime(2026, 11, 23, 8),
                )
            )
    out = folder / "out"
    write_brief(engine, cfg, WEEK, out, ["zh", "en"], ["html", "md"], today=TODAY)
    brief = build_briefs(engine, cfg, WEEK, ["en"], TODAY)["en"]
    door = next(
        s for s in brief.surges if planted.surge_batch in (s.batch, s.concentration and s.concentration.batch)
    )
    # plant markup and spreadsheet formulas in the redacted text of tickets of the door cell this week
    from voc.flows.brief_stage import surge_plan

    with engine.connect() as conn:
        plan, _ = surge_plan(conn, cfg, WEEK, TODAY)
        subject = next(s for s in plan.subjects if s.group.identity == door.surge_identity)
        ids = [
            t.id
            for t in workbench.cell_tickets(conn, cell_of(subject), WEEK.ordinal(), WEEK.ordinal(), limit=5)
        ]
    assert len(ids) == 5
    with engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ids[0]).values(text_clean=SCRIPT))
        for tid, text in zip(ids[1:], FORMULAS, strict=True):
            conn.execute(
                update(TicketRow).where(TicketRow.id == tid).values(text_clean=text, resolution_clean=text)
            )
    return Store(engine, cfg, planted, out, door, ids[0], ids[1:])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    import sqlalchemy as sa

    folder = tmp_path_factory.mktemp(f"web-{request.param}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'voc.sqlite3'}"
    else:
        server = request.getfixturevalue("pg_server")
        schema = f"voc_web_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(server)
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{server}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    migrate(engine)
    try:
        yield _build(engine, folder)
    finally:
        engine.dispose()
        if schema:
            with admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _links(page: str, prefix: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', page)]


def _surge_url(item: SurgeItem, lang: str = "en", **params: str) -> str:
    from urllib.parse import urlencode

    return f"/weeks/{WEEK}/surge?" + urlencode({"item": item.surge_identity, "lang": lang, **params})


def _count(page: str) -> int:
    m = re.search(r"([\d,]+) tickets · page (\d+) of (\d+)", page)
    assert m, "no ticket count on the page"
    return int(m.group(1).replace(",", ""))


def _ticket_rows(page: str) -> list[tuple[str, str]]:
    body = (
        page.split('<table class="tickets">', 1)[1].split("</table>", 1)[0]
        if 'class="tickets"' in page
        else ""
    )
    return re.findall(r"<tr>\s*<td class=\"nw\">(\d+)</td>(.*?)</tr>", body, flags=re.S)


@pytest.mark.slow
def test_stored_surges_keep_missing_keys_null_and_the_brief_counts_them(store: Store) -> None:
    """A theme × product cell has no batch: stored as NULL on both databases (PostgreSQL stored
    pandas' NaN as the text 'NaN', and the brief's history then counted batch 'NaN': all zeros)."""
    from voc.store.models import Surge

    with store.engine.connect() as conn:
        keys = conn.execute(select(Surge.product, Surge.model, Surge.batch)).all()
    assert keys and not [k for k in keys if "NaN" in k or "nan" in k]
    assert store.door.history[-1] > 0 and sum(store.door.history) > store.door.history[-1]


# --- the weeks page --------------------------------------------------------------------------------


@pytest.mark.slow
def test_weeks_page_lists_analysed_weeks_surges_and_brief_files(store: Store) -> None:
    c = store.client()
    en = c.get("/weeks?lang=en")
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert "2026-W47" in en.text and "2026-W46" in en.text
    assert "16–22 Nov 2026" in en.text  # dates in the page's language
    items = _links(en.text, f"/weeks/{WEEK}/surge?")
    from urllib.parse import urlencode

    assert any(urlencode({"item": store.door.surge_identity}) + "&" in u for u in items), items
    files = _links(en.text, "/files/weekly/")
    assert sorted(files) == sorted(
        f"/files/weekly/{WEEK}/{lang}.{fmt}" for lang in ("zh", "en") for fmt in ("html", "md")
    )
    for f in files:
        r = c.get(f)
        lang, fmt = f.rsplit("/", 1)[1].split(".")
        assert r.status_code == 200
        assert r.content == (store.out / f"brief-{WEEK}.{lang}.{fmt}").read_bytes()
    zh = c.get("/weeks?lang=zh")
    assert (
        '<html lang="zh-CN">' in zh.text
        and "已分析的周次" in zh.text
        and "2026年11月16日至11月22日" in zh.text
    )
    with store.engine.connect() as conn:
        tickets = sum(1 for _ in conn.execute(select(TicketRow.id).where(TicketRow.week == WEEK.ordinal())))
    assert f">{tickets:,}<" in zh.text  # numbers formatted per locale (thousands separators)


@pytest.mark.slow
def test_language_per_request(store: Store) -> None:
    c = store.client()
    assert (
        '<html lang="zh-CN">' in c.get("/weeks", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    )
    assert '<html lang="en">' in c.get("/weeks", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}).text
    assert '<html lang="en">' in c.get("/weeks", headers={"Accept-Language": "fr;q=0.9, en;q=0.4"}).text
    assert '<html lang="zh-CN">' in c.get("/weeks?lang=zh", headers={"Accept-Language": "en"}).text
    page = c.get("/weeks?lang=en").text
    # links keep the language, but for the switch to the other one
    assert [u for u in _links(page, "/weeks") if "lang=en" not in u] == ["/weeks?lang=zh"]


# --- the week's brief ------------------------------------------------------------------------------


def _text(fragment: str) -> str:
    """A fragment of HTML as its text (links and charts dropped)."""
    fragment = re.sub(r"<svg.*?</svg>", "", fragment, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _brief_part(page: str) -> str:
    return page[page.index('<header class="top">') : page.index("</footer>")]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_week_page_is_the_file_brief_with_each_surge_a_link(store: Store, lang: str) -> None:
    brief: Brief = build_briefs(store.engine, store.cfg, WEEK, [lang], TODAY)[lang]
    page = store.client().get(f"/weeks/{WEEK}?lang={lang}")
    assert page.status_code == 200
    file_html = render_brief(brief, lang, "html")
    # the same object rendered by the same template: the page's brief is the file's, plus links
    assert _text(_brief_part(page.text)) == _text(_brief_part(file_html))
    assert _brief_part(re.sub(r'<a href="[^"]*">|</a>', "", page.text)) == _brief_part(file_html)
    links = _links(page.text, f"/weeks/{WEEK}/surge?")
    assert len(links) == len(brief.surges) >= 1
    assert [u for u in links if f"lang={lang}" not in u] == []
    for u in links:
        assert store.client().get(u).status_code == 200


# --- a surge ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_surge_page_shows_series_batches_topics_and_the_cells_tickets(store: Store) -> None:
    c = store.client()
    door = store.door
    page = c.get(_surge_url(door)).text
    assert store.planted.surge_batch in page
    # a reader came from the week's brief (one click) and finds the tickets here and the way back
    assert f'href="/weeks/{WEEK}?lang=en"' in page.split('id="series"', 1)[0]
    # the cell's tickets this week are exactly what its weekly series counts
    assert _count(page) == door.history[-1] == len(_ticket_rows(page))
    # batches: the planted batch carries the rise and is marked
    batches = page.split('id="batches"', 1)[1].split("</section>", 1)[0]
    first = re.search(r"<tbody>\s*<tr( class=\"conc\")?>(.*?)</tr>", batches, flags=re.S)
    assert first and store.planted.surge_batch in first.group(2)
    # the weekly series: the flagged week with its expected level
    series = page.split('id="series"', 1)[1].split("</section>", 1)[0]
    assert f"{door.expected:.1f}".rstrip("0").rstrip(".") in series and series.count("<svg") == 1
    topics = page.split('id="topics"', 1)[1].split("</section>", 1)[0]
    assert "<td" in topics
    # filters: a batch, a week, all weeks (paged)
    by_batch = c.get(_surge_url(door, batch=store.planted.surge_batch)).text
    rows = _ticket_rows(by_batch)
    assert rows and all(store.planted.surge_batch in r[1] for r in rows)
    assert _count(by_batch) <= _count(page)
    last_week = c.get(_surge_url(door, week=str(WEEK.shift(-1)))).text
    assert _count(last_week) == door.history[-2]
    every = c.get(_surge_url(door, week="all")).text
    assert _count(every) == sum(door.history)
    if sum(door.history) > 50:
        p2 = c.get(_surge_url(door, week="all", page="2")).text
        assert {r[0] for r in _ticket_rows(p2)}.isdisjoint({r[0] for r in _ticket_rows(every)})
        assert "page 2 of" in p2
    # every filter offered holds some of the cell's tickets (over the weeks shown)
    for name in ("product", "model", "batch"):
        select_ = re.search(rf'<select name="{name}">(.*?)</select>', page, flags=re.S)
        assert select_, name
        for value in [v for v in re.findall(r'<option value="([^"]*)"', select_.group(1)) if v][:3]:
            assert _count(c.get(_surge_url(door, week="all", **{name: html.unescape(value)})).text) > 0, (
                name,
                value,
            )
    assert door.product_id == "oven"
    assert _count(c.get(_surge_url(door, product="kettle")).text) == 0  # another product: none of its tickets


@pytest.mark.slow
def test_ticket_text_is_escaped_and_no_script_can_run(store: Store) -> None:
    r = store.client().get(_surge_url(store.door))
    assert SCRIPT not in r.text and "<script" not in r.text.lower()
    assert html.escape(SCRIPT, quote=False) in r.text
    assert r.headers["content-security-policy"] == CSP and "script-src" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.slow
def test_csv_export_neutralises_formulas(store: Store) -> None:
    r = store.client().get(_surge_url(store.door).replace("/surge?", "/surge.csv?"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "ticket" and "text_clean" in header and "body" not in header
    assert len(body) == store.door.history[-1]
    by_id = {int(row[0]): dict(zip(header, row, strict=True)) for row in body}
    for tid, formula in zip(store.formula_tickets, FORMULAS, strict=True):
        assert by_id[tid]["text_clean"] == "'" + formula
        assert by_id[tid]["resolution_clean"] == "'" + formula
    assert by_id[store.script_ticket]["text_clean"] == SCRIPT  # plain text in a CSV, not a formula
    for row in body:
        assert not row[-2].startswith(("=", "+", "-", "@")) and not row[-1].startswith(("=", "+", "-", "@"))


@pytest.mark.slow
def test_csv_export_sent_in_pieces_is_the_same_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _surge_url(store.door).replace("/surge?", "/surge.csv?")
    whole = store.client().get(url).content
    pieces: list[bytes] = []
    monkeypatch.setattr(web_app, "CSV_CHUNK", 200)  # a piece every row or two
    with store.client().stream("GET", url) as r:
        pieces.extend(r.iter_raw())
    assert len(pieces) > 5 and b"".join(pieces) == whole


@pytest.mark.slow
def test_no_personal_data_in_pages_urls_or_exports(store: Store) -> None:
    c = store.client()
    seen = [c.get("/weeks?lang=zh").text, c.get("/weeks?lang=en").text, c.get(f"/weeks/{WEEK}?lang=zh").text]
    weeks = _links(seen[1], "/weeks/")
    assert f"/weeks/{WEEK.shift(-1)}?lang=en" in weeks
    for u in [u for u in weeks if "/surge?" in u]:
        for extra in ("", "&week=all"):
            seen.append(c.get(u + extra).text)
            seen.append(c.get(u.replace("/surge?", "/surge.csv?") + extra).text)
    everything = "\n".join(seen)
    urls = "\n".join(re.findall(r'href="([^"]*)"', everything))
    assert len(seen) > 4
    for item in store.planted.pii:
        assert item.value not in everything, f"{item.kind} shown"
        assert item.value not in urls
    with store.engine.connect() as conn:
        raw = conn.execute(select(TicketRow.body).where(TicketRow.id == store.script_ticket)).scalar_one()
    assert raw not in everything  # the body is never shown, only the redacted text


@pytest.mark.slow
def test_unknown_weeks_and_surges_are_404(store: Store) -> None:
    c = store.client()
    r = c.get("/weeks/2026-W30?lang=en")
    assert r.status_code == 404 and "2026-W30 has not been analysed" in r.text
    assert c.get("/weeks/not-a-week").status_code == 404
    r = c.get(f"/weeks/{WEEK}/surge?item=nope&lang=zh")
    assert r.status_code == 404 and '<html lang="zh-CN">' in r.text
    assert c.get("/files/weekly/2026-W47/en.exe").status_code == 404
    assert c.get("/files/weekly/2026-W47/../../etc/passwd").status_code == 404
    md = c.get("/files/weekly/2026-W47/en.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "content-security-policy" not in md.headers and md.headers["x-content-type-options"] == "nosniff"
    assert c.get("/nothing-here").status_code == 404


# --- who may connect -------------------------------------------------------------------------------


@pytest.fixture
def empty(sqlite_url: str) -> Iterator[tuple[Engine, str]]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    yield engine, sqlite_url
    engine.dispose()


def test_an_empty_store_says_what_to_run(empty: tuple[Engine, str]) -> None:
    c = TestClient(create_app(empty[0], load_config(EXAMPLE_CONFIG)))
    assert "run voc analyze or voc run-weekly first" in c.get("/weeks?lang=en").text
    assert c.get("/").status_code == 200  # redirected to /weeks
    assert c.get("/favicon.ico").status_code == 200 and c.get("/static/web.css").status_code == 200


def test_token_is_required_on_every_request(empty: tuple[Engine, str]) -> None:
    import base64

    c = TestClient(create_app(empty[0], load_config(EXAMPLE_CONFIG), token=TOKEN))
    r = c.get("/weeks")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic ")
    assert TOKEN not in r.text
    basic = "Basic " + base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"anyone:guess").decode()
    assert c.get("/weeks", headers={"Authorization": wrong}).status_code == 401
    assert c.get("/weeks", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert c.get("/weeks", headers={"Authorization": basic}).status_code == 200
    assert c.get("/static/web.css", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/static/web.css").status_code == 401


def test_loopback_bind_answers_loopback_host_names_only(empty: tuple[Engine, str]) -> None:
    app = create_app(empty[0], load_config(EXAMPLE_CONFIG), loopback_only=True)
    for base in ("http://127.0.0.1:8800", "http://localhost:8800", "http://[::1]:8800", "http://127.0.0.2"):
        assert TestClient(app, base_url=base).get("/weeks").status_code == 200, base
    for base in ("http://rebound.example:8800", "http://10.0.0.5:8800", "http://127.0.0.1.evil.example"):
        assert TestClient(app, base_url=base).get("/weeks").status_code == 400, base
    assert [host_name(h) for h in ("127.0.0.1:8800", "[::1]:8800", "[::1]", "localhost", "::1")] == [
        "127.0.0.1",
        "::1",
        "::1",
        "localhost",
        "::1",
    ]


def test_cli_refuses_a_non_local_bind_without_a_token(
    empty: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append({"app": app, **kw}))
    monkeypatch.delenv("VOC_WEB_TOKEN", raising=False)
    monkeypatch.setenv("VOC_DATABASE_URL", "sqlite:////nonexistent/folder/never-opened.sqlite3")
    runner = CliRunner()
    for host in ("0.0.0.0", "::", "192.168.1.20", "voc.example.com"):
        res = runner.invoke(cli, ["web", "--host", host])
        assert res.exit_code == 2, res.output
        assert "refusing to serve" in res.output and "VOC_WEB_TOKEN" in res.output
    monkeypatch.setenv("VOC_WEB_TOKEN", "short")
    res = runner.invoke(cli, ["web", "--host", "0.0.0.0"])
    assert (
        res.exit_code == 2 and "too short" in res.output and "short" not in res.output.split("too short")[0]
    )
    assert started == []  # nothing was served, and the database was never opened
    # with a token it starts (every request then needs the token); localhost needs none
    monkeypatch.setenv("VOC_DATABASE_URL", empty[1])
    monkeypatch.setenv("VOC_WEB_TOKEN", TOKEN)
    res = runner.invoke(cli, ["web", "--host", "0.0.0.0", "--port", "8899"])
    assert res.exit_code == 0, res.output
    assert started[-1]["host"] == "0.0.0.0" and started[-1]["port"] == 8899
    assert TestClient(started[-1]["app"]).get("/weeks").status_code == 401
    monkeypatch.delenv("VOC_WEB_TOKEN")
    res = runner.invoke(cli, ["web"])
    assert res.exit_code == 0, res.output
    assert (started[-1]["host"], started[-1]["port"]) == ("127.0.0.1", 8800)
    assert TOKEN not in res.output


# --- in a real browser -------------------------------------------------------------------------------


@pytest.mark.slow
def test_weeks_and_surge_pages_in_headless_chromium(store: Store, tmp_path: Path) -> None:
    """``voc web`` (the command, on the SQLite store) serves the weeks page, the week's brief and the
    door surge page, zh and en, to a real headless Chromium: no console errors (failed loads, CSP
    violations, exceptions), no script and no dialog, charts laid out, every request to the
    workbench itself. Fails (not skips) without Chromium when CI is set."""
    binary = chromium_binary(store.engine)
    with voc_web(store.engine, tmp_path) as base:
        browser = Watching(binary, tmp_path)
        try:
            for lang in ("en", "zh"):
                pages = [
                    browser.open(tmp_path / f"{name}-{lang}.html", url=base + path, pdf=False)
                    for name, path in (
                        ("weeks", f"/weeks?lang={lang}"),
                        ("week", f"/weeks/{WEEK}?lang={lang}"),
                        ("surge", _surge_url(store.door, lang)),
                    )
                ]
                for page in pages:
                    assert console_errors(page) == [], page.path.name
                    assert page.dom["scripts"] == 0 and page.dom["h1"], page.path.name
                    # the pages ship no JavaScript: a dialog or a console call would be ticket text that ran
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
                    assert urls and [u for u in urls if not u.startswith(base + "/")] == [], urls
                weeks, week, surge = pages
                assert any(
                    u.endswith("/static/web.css")
                    for u in (
                        e["params"]["request"]["url"]
                        for e in weeks.events
                        if e["method"] == "Network.requestWillBeSent"
                    )
                )
                assert surge.dom["svgs"] and all(x["w"] >= 1 and x["h"] >= 1 for x in surge.dom["svgs"])
                assert (
                    week.dom["h1"].startswith(("Complaints", "客诉")) and len(week.dom["svgs"]) >= 2
                )  # KPI, surge charts
        finally:
            browser.close()
