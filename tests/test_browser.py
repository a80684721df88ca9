"""The HTML briefs in a real headless Chromium (Debian ``chromium``).

The fixture Brief (tests/reports_fixtures.py, zh and en) is rendered to files and opened in one
Chromium per module, driven over the DevTools protocol (a small client on ``websockets``, which
Prefect already depends on). Per page we record every console call, uncaught exception, log entry
(network/security errors land there) and JavaScript dialog, then check:

* no console errors;
* the ``<script>alert(1)</script>`` planted in a ticket quote did not run: no ``<script>`` element
  in the DOM, no dialog, no console call, and the quote shows it as text;
* the charts are there: every inline ``<svg>`` of the source is in the DOM with a non-zero box,
  and a screenshot of its box has painted pixels;
* Chinese glyphs are real glyphs, not tofu: the font Chromium drew a Chinese text with
  (``CSS.getPlatformFontsForNode``) and a font embedded in the printed PDF (``pdffonts``) are fonts
  that fontconfig says cover its characters, and ``pdftotext`` gives the text back.

Each checker is also run on a page built to break it, so none of them can pass vacuously.

Needs ``/usr/bin/chromium`` (or ``chromium`` on PATH) and ``pdffonts``/``pdftotext`` (poppler-utils):
without them the tests skip locally and FAIL when ``CI`` is set (``.ci/run`` installs them).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import reports_fixtures as fx
from voc.reports.render import render_brief

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT_WIDTH = 1100
TIMEOUT = 30.0  # seconds for any single browser step; the whole module takes a few seconds


def _chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _require_tools() -> str:
    """The Chromium path; skip (locally) or fail (CI set) when a needed tool is missing."""
    missing = []
    chromium = _chromium()
    if chromium is None:
        missing.append("chromium (Debian package chromium)")
    for tool in ("pdffonts", "pdftotext", "fc-list"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} ({'fontconfig' if tool == 'fc-list' else 'poppler-utils'})")
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        missing.append("the Python package websockets (a Prefect dependency)")
    if missing:
        msg = "browser tests need: " + ", ".join(missing) + " (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(msg + " — required on CI")
        pytest.skip(msg)
    assert chromium is not None
    return chromium


# --------------------------------------------------------------------------------------------
# A minimal DevTools-protocol driver
# --------------------------------------------------------------------------------------------


@dataclass
class Page:
    """What one page load produced."""

    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)  # console/exception/log/dialog events
    dom: dict[str, Any] = field(default_factory=dict)
    chart_pngs: list[bytes] = field(default_factory=list)  # a screenshot of each svg's box, in order
    pdf: Path | None = None
    fonts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # text -> fonts that drew it


class Chromium:
    """One headless Chromium with a fresh profile, driven over a browser-level DevTools websocket."""

    _EVENTS = (
        "Runtime.consoleAPICalled",
        "Runtime.exceptionThrown",
        "Log.entryAdded",
        "Page.javascriptDialogOpening",
    )

    def __init__(self, binary: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        from websockets.sync.client import connect

        self.workdir = workdir
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
        self.stderr_path = workdir / "chromium.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            port_file = profile / "DevToolsActivePort"  # "PORT\n/devtools/browser/ID\n"
            deadline = time.monotonic() + TIMEOUT
            lines: list[str] = []
            while len(lines) < 2:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Chromium did not start (rc={self.proc.poll()}): {self._stderr_tail()}"
                    )
                time.sleep(0.05)
                if port_file.exists():
                    lines = port_file.read_text().split()
            self.ws = connect(f"ws://127.0.0.1:{lines[0]}{lines[1]}", max_size=None, open_timeout=TIMEOUT)
        except BaseException:
            self._kill()
            raise
        self._next_id = 0
        self._events: dict[str, list[dict[str, Any]]] = {}

    def _stderr_tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-2000:]

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        my_id = self._next_id
        msg: dict[str, Any] = {"id": my_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == my_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._on_event(reply)

    def _on_event(self, msg: dict[str, Any]) -> None:
        sid, method = msg.get("sessionId"), msg.get("method")
        if sid is None or sid not in self._events:
            return
        if method in self._EVENTS:
            self._events[sid].append(msg)
        if method == "Page.javascriptDialogOpening":  # answer it, or the page blocks for ever
            self._next_id += 1
            self.ws.send(
                json.dumps(
                    {
                        "id": self._next_id,
                        "method": "Page.handleJavaScriptDialog",
                        "params": {"accept": True},
                        "sessionId": sid,
                    }
                )
            )
        if method == "Page.loadEventFired":
            self._events[sid].append(msg)

    def open(
        self,
        path: Path,
        *,
        charts: bool = True,
        pdf: bool = True,
        font_texts: tuple[str, ...] = (),
        url: str | None = None,
    ) -> Page:
        """Load ``path`` (a file), or ``url`` when given (``path`` then only names the PDF printed)."""
        page = Page(path)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._events[sid] = []
        try:
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable", session=sid)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": VIEWPORT_WIDTH, "height": 1400, "deviceScaleFactor": 1, "mobile": False},
                sid,
            )
            self.send("Page.navigate", {"url": url or path.resolve().as_uri()}, sid)
            deadline = time.monotonic() + TIMEOUT
            while not any(e.get("method") == "Page.loadEventFired" for e in self._events[sid]):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path.name}: no load event")
                self._on_event(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
            # The whole document in the viewport, so each chart's box can be clipped directly.
            height = self.evaluate("document.documentElement.scrollHeight", sid)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": VIEWPORT_WIDTH, "height": int(height), "deviceScaleFactor": 1, "mobile": False},
                sid,
            )
            page.dom = self.evaluate(_DOM_PROBE, sid)
            if charts:
                for box in page.dom["svgs"]:
                    if box["w"] >= 1 and box["h"] >= 1:
                        clip = {
                            "x": box["x"],
                            "y": box["y"],
                            "width": box["w"],
                            "height": box["h"],
                            "scale": 1,
                        }
                        shot = self.send("Page.captureScreenshot", {"format": "png", "clip": clip}, sid)
                        page.chart_pngs.append(base64.b64decode(shot["data"]))
                    else:
                        page.chart_pngs.append(b"")
            if font_texts:
                for domain in ("DOM", "CSS"):
                    self.send(f"{domain}.enable", session=sid)
                self.send("DOM.getDocument", {"depth": 0}, sid)
                for text in font_texts:
                    # The innermost element containing the text (descendants come after ancestors).
                    expr = (
                        f"[...document.body.querySelectorAll('*')].filter(e => e.textContent.includes("
                        f"{json.dumps(text)})).pop() || null"
                    )
                    obj = self.send("Runtime.evaluate", {"expression": expr}, sid)["result"]
                    if obj.get("subtype") != "node":
                        page.fonts[text] = []
                        continue
                    node = self.send("DOM.requestNode", {"objectId": obj["objectId"]}, sid)["nodeId"]
                    page.fonts[text] = self.send("CSS.getPlatformFontsForNode", {"nodeId": node}, sid)[
                        "fonts"
                    ]
            if pdf:
                printed = self.send("Page.printToPDF", {"preferCSSPageSize": True}, sid)
                page.pdf = path.with_suffix(".pdf")
                page.pdf.write_bytes(base64.b64decode(printed["data"]))
            self.evaluate("0", sid)  # a round trip, so late console events are in
        finally:
            page.events = [e for e in self._events.pop(sid) if e.get("method") != "Page.loadEventFired"]
            self.send("Target.closeTarget", {"targetId": target})
        return page

    def evaluate(self, expression: str, session: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"probe failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def _kill(self) -> None:
        """End what is left of the process group we started (the wrapper script and the browser's
        helpers)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        self._stderr.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - the connection drops as the browser exits
            pass
        try:
            self.ws.close()
        finally:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            self._kill()


_DOM_PROBE = """(() => {
  const box = e => { const b = e.getBoundingClientRect();
                     return {x: b.x + scrollX, y: b.y + scrollY, w: b.width, h: b.height}; };
  return {
    scripts: document.querySelectorAll('script').length,
    h1: (document.querySelector('h1') || {}).textContent || '',
    quotes: [...document.querySelectorAll('blockquote')].map(q => ({text: q.textContent, html: q.innerHTML})),
    svgs: [...document.querySelectorAll('svg')].map(s => ({
      ...box(s), figure: !!s.closest('figure'), kpi: !!s.closest('.kpi'),
      visible: getComputedStyle(s).visibility === 'visible',
      shapes: s.querySelectorAll('polyline, rect, circle, line, path').length})),
  };
})()"""


# --------------------------------------------------------------------------------------------
# The checks: pure functions of a Page, returning the problems found (empty = fine)
# --------------------------------------------------------------------------------------------


def console_errors(page: Page) -> list[str]:
    """console.error/console.assert calls, uncaught exceptions, error-level log entries (failed
    resource loads, blocked content...)."""
    out = []
    for e in page.events:
        p = e["params"]
        if e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            out.append(
                f"console.{p['type']}: "
                + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            )
        elif e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(
                f"log ({p['entry']['source']}): {p['entry']['text']} {p['entry'].get('url', '')}".rstrip()
            )
    return out


def script_problems(page: Page, planted: str = fx.SCRIPT) -> list[str]:
    """The page ships no JavaScript, so any script element, console call or dialog means markup
    from ticket text was executed; the planted text must be visible as text in a quote."""
    out = []
    if page.dom["scripts"]:
        out.append(f"{page.dom['scripts']} <script> element(s) in the DOM")
    for e in page.events:
        if e["method"] == "Page.javascriptDialogOpening":
            out.append(f"a {e['params']['type']} dialog opened: {e['params']['message']!r}")
        elif e["method"] == "Runtime.consoleAPICalled":
            out.append(f"a script called console.{e['params']['type']}")
    escaped = planted.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not any(planted in q["text"] and escaped in q["html"] for q in page.dom["quotes"]):
        out.append(f"no quote shows {planted!r} as text")
    return out


def _png_pixels(png: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes): (width, height, pixels)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", b""
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = data
        elif kind == b"IDAT":
            idat += data
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG {depth=} {ctype=}"
    bpp = 4 if ctype == 6 else 3
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows = bytearray(stride), []
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, [tuple(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


def chart_problems(page: Page, source_html: str) -> list[str]:
    """Every <svg> of the source is in the DOM, laid out with a non-zero, visible box, has shapes,
    and its screenshot has painted (non-white) pixels."""
    out = []
    svgs = page.dom["svgs"]
    if len(svgs) != source_html.count("<svg"):
        out.append(f"{source_html.count('<svg')} <svg> in the HTML but {len(svgs)} in the DOM")
    for i, (s, png) in enumerate(zip(svgs, page.chart_pngs, strict=True)):
        where = f"svg #{i} ({'figure' if s['figure'] else 'kpi' if s['kpi'] else 'table'})"
        if s["w"] < 1 or s["h"] < 1 or not s["visible"]:
            out.append(f"{where}: box {s['w']:.0f}x{s['h']:.0f}, visible={s['visible']}")
            continue
        if not s["shapes"]:
            out.append(f"{where}: no shapes")
        w, h, px = _png_pixels(png)
        ink = sum(1 for p in px if 255 - min(p) > 48)  # clearly darker than the white/panel background
        if ink < max(20, 0.01 * w * h):
            out.append(f"{where}: only {ink} painted pixels in its {w}x{h} screenshot")
    return out


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def cjk_problems(page: Page, chinese: str) -> list[str]:
    """``chinese`` (text on the page, opened with ``font_texts=(chinese,)``) is drawn with real glyphs.

    * screen: a font Chromium used for the element's text (DevTools ``CSS.getPlatformFontsForNode``)
      is one that fontconfig says covers all its Han characters;
    * print: the PDF embeds such a font (``pdffonts``; synthetic-bold glyphs are unnamed Type 3
      fonts, so this is a whole-document check) and ``pdftotext`` gives the text back.

    Without a CJK font Chromium still lays the text out, in the fallback font's .notdef boxes
    (tofu): the fonts used and embedded are then only e.g. DejaVu, which covers no Han character,
    so both font checks fail (test_cjk_check_fails_without_a_cjk_font hides the CJK fonts to show
    it). ``pdftotext`` alone would not catch it: it recovers most of the text even from tofu.
    """
    assert page.pdf is not None
    out = []
    han = sorted(set(_HAN.findall(chinese)))
    assert han, f"no Chinese characters in {chinese!r}"
    charset = " ".join(f"{ord(c):x}" for c in han)
    covering = subprocess.run(
        ["fc-list", f":charset={charset}", "postscriptname"],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout
    covering_names = set(re.findall(r"postscriptname=([^:\n]+)", covering))
    if not covering_names:
        out.append(
            f"no installed font covers {''.join(han)!r} (install fonts-wqy-microhei or fonts-noto-cjk)"
        )
    used = page.fonts.get(chinese)
    if not used:
        out.append(f"no element with {chinese!r} (or no font information for it)")
    elif not covering_names & {f["postScriptName"] for f in used}:
        out.append(
            f"{chinese!r} is drawn with {[f['familyName'] for f in used]}, none covers {''.join(han)!r}"
        )
    fonts = subprocess.run(
        ["pdffonts", str(page.pdf)], capture_output=True, text=True, check=True, timeout=TIMEOUT
    ).stdout.splitlines()[2:]
    embedded = {
        line.split()[0].split("+", 1)[-1]
        for line in fonts
        if re.search(r"\syes\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", line)
    } - {"[none]"}
    if not covering_names & embedded:
        out.append(f"the PDF embeds no font covering {''.join(han)!r}: only {sorted(embedded)}")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(page.pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout
    if re.sub(r"\s+", "", chinese) not in re.sub(r"\s+", "", text):
        out.append(f"{chinese!r} not found in the PDF text")
    return out


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

LANGS = ("zh", "en")


@pytest.fixture(scope="module")
def chromium_bin() -> str:
    return _require_tools()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def browser(chromium_bin: str, workdir: Path) -> Iterator[Chromium]:
    b = Chromium(chromium_bin, workdir)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def briefs(browser: Chromium, workdir: Path) -> dict[str, tuple[str, Page]]:
    """lang -> (rendered HTML, the page as Chromium loaded it)."""
    out = {}
    for lang in LANGS:
        html = render_brief(fx.brief(lang), lang, "html")
        path = workdir / f"brief.{lang}.html"
        path.write_text(html, encoding="utf-8")
        out[lang] = (html, browser.open(path, font_texts=(_chinese_text(lang, html),)))
    return out


def _chinese_text(lang: str, html: str) -> str:
    """zh: the title; en: a Chinese ticket quote (quotes stay in the customer's language)."""
    if lang == "zh":
        m = re.search(r"<h1>([^<]+)</h1>", html)
        assert m and _HAN.search(m.group(1)), "no Chinese <h1> in the zh brief"
        return m.group(1)
    assert "充电十分钟后手柄很烫" in html
    return "充电十分钟后手柄很烫"


def _write(workdir: Path, name: str, body: str) -> Path:
    path = workdir / name
    path.write_text(
        f'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>t</title></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------------------------
# The briefs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_no_console_errors(briefs: dict[str, tuple[str, Page]], lang: str) -> None:
    assert console_errors(briefs[lang][1]) == []


@pytest.mark.parametrize("lang", LANGS)
def test_planted_script_is_shown_as_text(briefs: dict[str, tuple[str, Page]], lang: str) -> None:
    assert script_problems(briefs[lang][1]) == []


@pytest.mark.parametrize("lang", LANGS)
def test_charts_are_drawn(briefs: dict[str, tuple[str, Page]], lang: str) -> None:
    html, page = briefs[lang]
    assert chart_problems(page, html) == []
    b = fx.brief(lang)
    svgs = page.dom["svgs"]
    assert sum(s["figure"] for s in svgs) == sum(1 for s in b.surges if s.history)  # surge bar charts
    assert sum(s["kpi"] for s in svgs) == sum(1 for k in b.kpis if k.history)  # KPI sparklines
    assert len(svgs) >= 10


@pytest.mark.parametrize("lang", LANGS)
def test_chinese_glyphs_are_rendered(briefs: dict[str, tuple[str, Page]], lang: str) -> None:
    html, page = briefs[lang]
    assert cjk_problems(page, _chinese_text(lang, html)) == []


# --------------------------------------------------------------------------------------------
# The checkers catch what they are for
# --------------------------------------------------------------------------------------------


def test_checkers_flag_errors_and_executed_script(browser: Chromium, workdir: Path) -> None:
    page = browser.open(
        _write(
            workdir,
            "bad.html",
            (
                f"<blockquote>{fx.SCRIPT}</blockquote>"  # unescaped: it runs
                '<script>console.error("planted error")</script>'
                '<script>throw new Error("planted exception")</script>'
                '<img src="missing.png" alt="">'
            ),
        ),
        charts=False,
        pdf=False,
    )
    errors = console_errors(page)
    assert any("planted error" in e for e in errors), errors
    assert any("planted exception" in e for e in errors), errors
    assert any("missing.png" in e for e in errors), errors
    problems = script_problems(page)
    assert any("<script> element" in p for p in problems), problems
    assert any("alert dialog" in p for p in problems), problems
    assert any("no quote shows" in p for p in problems), problems


def test_chart_checker_flags_blank_and_hidden_charts(browser: Chromium, workdir: Path) -> None:
    body = (
        '<svg width="80" height="20"></svg>'  # present but blank
        '<svg width="80" height="20" style="display:none"><rect width="80" height="20"/></svg>'
        '<svg width="80" height="20"><rect width="80" height="20" fill="#1d4ed8"/></svg>'
    )  # fine
    page = browser.open(_write(workdir, "charts.html", body), pdf=False)
    problems = chart_problems(page, body)
    assert [p.split(":")[0] for p in problems] == ["svg #0 (table)"] * 2 + ["svg #1 (table)"], problems
    assert "no shapes" in problems[0] and "painted pixels" in problems[1] and "box 0x0" in problems[2]


def test_cjk_check_fails_without_a_cjk_font(chromium_bin: str, browser: Chromium, workdir: Path) -> None:
    """A Chromium whose fontconfig rejects every font covering the characters prints tofu:
    the check must say so (this is what a machine without fonts-wqy-microhei/Noto CJK gives)."""
    chinese = "客诉周报"
    listed = subprocess.run(
        ["fc-list", ":charset=" + " ".join(f"{ord(c):x}" for c in chinese), "file"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    files = sorted({f.strip().rstrip(":") for f in listed if f.strip()})
    assert files, "no CJK font installed at all (install fonts-wqy-microhei)"
    conf = workdir / "no-cjk-fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        "<selectfont><rejectfont>"
        + "".join(f"<glob>{f}</glob>" for f in files)
        + "</rejectfont></selectfont></fontconfig>",
        encoding="utf-8",
    )
    body = f"<h1>{chinese}</h1><p>{chinese}</p>"  # bold and regular
    nocjk = workdir / "nocjk"
    nocjk.mkdir()
    b = Chromium(chromium_bin, nocjk, env={"FONTCONFIG_FILE": str(conf)})
    try:
        page = b.open(_write(nocjk, "tofu.html", body), charts=False, font_texts=(chinese,))
    finally:
        b.close()
    problems = cjk_problems(page, chinese)
    assert any("is drawn with" in p and "none covers" in p for p in problems), problems  # screen
    assert any("the PDF embeds no font covering" in p for p in problems), problems  # print
    # And with the fonts visible, the same page passes (the check is not just always failing).
    good = browser.open(_write(workdir, "cjk.html", body), charts=False, font_texts=(chinese,))
    assert cjk_problems(good, chinese) == []
