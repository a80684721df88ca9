"""The workbench's routes (Starlette): pages rendered with Jinja2 (autoescape on), no JavaScript.

=====================================  ===============================================================
``/weeks``                              every analysed week: figures, surge items, brief files; reviews
``/weeks/{week}``                       the week's brief, built live as the file is, each surge a link
``/weeks/{week}/surge?item=ID``         one surge: series, batches, fine topics, its tickets (paged)
``/weeks/{week}/surge.csv?item=ID``     the same tickets as CSV (formulas neutralised)
``/files/{kind}/{period}/{lang}.{fmt}``  a brief or review file the pipeline recorded (never any path)
``/topics?q=``                          the catalogue: themes, topics, sizes, sparklines, quotes; edits
``/topics/{id}``                        one topic: its tickets (redacted, paged), split off chosen ones
``POST /topics/{id}/{action}``          rename, merge, move, ignore, unignore, split a topic (editor + CSRF)
``POST /themes/{id}/{action}``          rename, merge a theme (editor + CSRF)
``POST /edits/{id}/undo``               undo one logged edit (editor + CSRF)
``/actions``, ``POST /actions[/{id}]``  action items: list, create, update (``actions.py``)
``/operations``, ``POST …/replay``      ingest runs, quarantine and its replay, alerts, stage runs
                                        (``operations.py``)
=====================================  ===============================================================

Every POST passes ``security.require_edit`` first (403 for a request from another site, without the
editor role or without a valid CSRF token; the action and operations pages call it through
``security.check_edit``, which hands them a ``FormData``). The topics POSTs call the store's edit function
(``store.topic_edits``, ``store.themes``, ``store.edit_log``: the CLI's own, so every edit is logged)
and redirect back to the topics page (303).

Every page is in zh-CN or en: ``?lang=`` or the browser's ``Accept-Language`` (else the first of
``report.languages``); links carry ``lang`` on. URLs hold weeks, item keys, product / model / batch
codes and page numbers: no ticket text and no personal data, so neither do the access logs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from voc.config.settings import VocConfig
from voc.errors import VocError
from voc.reports.i18n import normalize_lang
from voc.reports.render import ReportText, brief_summary, html_environment, order_surges
from voc.spreadsheet import safe_cell
from voc.store import edit_log, themes, topic_edits, workbench
from voc.web import actions, operations, pages
from voc.web.pages import Filters, NotFound
from voc.web.security import (
    EDITOR,
    CsrfCookie,
    LoopbackHostOnly,
    SecurityHeaders,
    TokenAuth,
    csrf_token,
    require_edit,
    role,
    who,
)
from voc.weeks import Week

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "pdf": "application/pdf"}
# a streamed export is sent in pieces of about this many characters: one piece per row cost ~0.4 ms a
# row in sends (a 750-row surge export 480 ms on a 1M-ticket store, ~60% of it sends)
CSV_CHUNK = 64 * 1024
CSV_COLUMNS = (
    "ticket",
    "week",
    "closed_at",
    "channel",
    "product",
    "model",
    "batch",
    "intent",
    "severity",
    "lang",
    "text_clean",
    "resolution_clean",
)
_CODE = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")  # a product / model / batch code from a query string


def pick_lang(request: Request, default: str) -> str:
    """``?lang=``, else the first supported language of ``Accept-Language`` (by q), else ``default``."""
    asked = request.query_params.get("lang")
    if asked:
        try:
            return normalize_lang(asked)
        except ValueError:
            pass
    ranked = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        for candidate in (tag, tag.split("-")[0]):
            try:
                return normalize_lang(candidate)
            except ValueError:
                continue
    return default


class Workbench:
    """The pages over one engine and config."""

    def __init__(self, engine: Engine, cfg: VocConfig, today: Callable[[], date] = date.today) -> None:
        self.engine = engine
        self.cfg = cfg
        self.today = today
        self.env: Environment = html_environment(TEMPLATES, cfg.report.templates_dir)
        self.default_lang = cfg.report.languages[0] if cfg.report.languages else "zh"

    # --- rendering ----------------------------------------------------------------------------
    def _context(self, request: Request, lang: str, today: date | None = None) -> dict[str, Any]:
        t = ReportText(lang, today=today or self.today())

        def href(path: str, **params: Any) -> str:
            q = {k: v for k, v in params.items() if v not in (None, "")}
            return path + "?" + urlencode({**q, "lang": lang})

        other = "en" if lang == "zh" else "zh"
        here = {k: v for k, v in request.query_params.items() if k != "lang"}
        # a page answering a refused edit (a POST) switches language on the page of its form's list
        first = request.url.path.split("/")[1]
        path = (
            request.url.path
            if request.method == "GET"
            else f"/{first}"
            if first in ("actions", "operations")
            else "/topics"
        )
        return {
            "t": t,
            "lang": lang,
            "html_lang": t.html_lang,
            "fmt": "html",
            "href": href,
            "other_lang_href": path + "?" + urlencode({**here, "lang": other}),
            "other_lang": other,
            # edit forms: <input type="hidden" name="csrf" value="{{ csrf }}">, shown when editor
            "csrf": csrf_token(request),
            "editor": role(request) == EDITOR,
            "role": role(request),
            "who": who(request),
        }

    def _page(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(template).render(**context), status_code=status)

    def _not_found(self, request: Request, e: NotFound) -> HTMLResponse:
        lang = pick_lang(request, self.default_lang)
        ctx = self._context(request, lang)
        return self._page("error.html.j2", {**ctx, "message": ctx["t"].t(e.key, **e.kw)}, 404)

    # --- pages --------------------------------------------------------------------------------
    def home(self, request: Request) -> Response:
        return RedirectResponse("/weeks" + (f"?{request.url.query}" if request.url.query else ""), 302)

    def weeks(self, request: Request) -> Response:
        lang = pick_lang(request, self.default_lang)
        with self.engine.connect() as conn:
            rows, reviews = pages.weeks(conn, lang)
        return self._page("weeks.html.j2", {**self._context(request, lang), "rows": rows, "reviews": reviews})

    def week(self, request: Request) -> Response:
        lang = pick_lang(request, self.default_lang)
        try:
            week = pages.parse_week(request.path_params["week"])
            with self.engine.connect() as conn:
                brief = pages.brief(conn, self.cfg, week, lang, self.today())
        except NotFound as e:
            return self._not_found(request, e)
        ctx = self._context(request, lang, brief.generated_on)
        t = ctx["t"]
        return self._page(
            "week.html.j2",
            {
                **ctx,
                "brief": brief,
                "surges": order_surges(brief.surges),
                "summary": brief_summary(brief, t),
                "surge_href": lambda s: ctx["href"](f"/weeks/{brief.week}/surge", item=s.surge_identity),
            },
        )

    def _filters(self, request: Request) -> Filters:
        q = request.query_params

        def code(name: str) -> str | None:
            v = q.get(name, "").strip()
            return v if _CODE.match(v) else None

        return Filters(code("product"), code("model"), code("batch"), code("week"))

    def _surge_view(self, request: Request, lang: str) -> pages.SurgeView:
        week = pages.parse_week(request.path_params["week"])
        identity = request.query_params.get("item", "")
        with self.engine.connect() as conn:
            return pages.surge(conn, self.cfg, week, identity, lang, self.today())

    def surge(self, request: Request) -> Response:
        lang = pick_lang(request, self.default_lang)
        filters = self._filters(request)
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 1
        try:
            view = self._surge_view(request, lang)
            with self.engine.connect() as conn:
                tickets = pages.tickets(conn, view, filters, page)
        except NotFound as e:
            return self._not_found(request, e)
        return self._page(
            "surge.html.j2",
            {
                **self._context(request, lang),
                "v": view,
                "s": view.item,
                "filters": filters,
                "tickets": tickets,
                "flt": {k: v for k, v in vars(filters).items() if v},
            },
        )

    def surge_csv(self, request: Request) -> Response:
        lang = pick_lang(request, self.default_lang)
        filters = self._filters(request)
        try:
            view = self._surge_view(request, lang)
        except NotFound as e:
            return self._not_found(request, e)
        engine = self.engine

        def rows() -> Iterator[str]:
            buf = io.StringIO()
            w = csv.writer(buf)
            buf.write("\ufeff")  # a BOM: Excel then reads the Chinese text as UTF-8
            w.writerow(CSV_COLUMNS)
            with engine.connect() as conn:
                for tk in pages.all_tickets(conn, view, filters):
                    if buf.tell() >= CSV_CHUNK:
                        yield buf.getvalue()
                        buf.seek(0)
                        buf.truncate()
                    w.writerow(
                        [
                            safe_cell(x)
                            for x in (
                                tk.id,
                                str(Week.from_ordinal(tk.week)),
                                tk.closed_at.isoformat(sep=" "),
                                tk.channel,
                                tk.product,
                                tk.model,
                                tk.batch,
                                tk.intent,
                                tk.severity,
                                tk.lang,
                                tk.text,
                                tk.resolution,
                            )
                        ]
                    )
            yield buf.getvalue()

        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"surge-{view.week}-{view.item.surge_identity}") + ".csv"
        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- the topic catalogue -------------------------------------------------------------------
    def _topics_page(
        self, request: Request, lang: str, error: str | None = None, status: int = 200
    ) -> Response:
        query = request.query_params.get("q", "")
        with self.engine.connect() as conn:
            view = pages.topics(conn, lang, query)
        try:
            done = int(request.query_params.get("done", ""))
        except ValueError:
            done = None
        return self._page(
            "topics.html.j2",
            {**self._context(request, lang), "v": view, "error": error, "done": done},
            status,
        )

    def topics(self, request: Request) -> Response:
        return self._topics_page(request, pick_lang(request, self.default_lang))

    def topic(self, request: Request) -> Response:
        lang = pick_lang(request, self.default_lang)
        try:
            topic_id = int(request.path_params["id"])
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            return self._not_found(request, NotFound("web.error.not_found"))
        try:
            with self.engine.connect() as conn:
                view = pages.topic(conn, topic_id, lang, page)
        except NotFound as e:
            return self._not_found(request, e)
        return self._page("topic.html.j2", {**self._context(request, lang), "v": view, "r": view.row})

    async def edit(self, request: Request) -> Response:
        """One edit of the catalogue (a POSTed form): the editor role and a CSRF token first."""
        form = await require_edit(request)
        lang = pick_lang(request, self.default_lang)
        kind, action = request.url.path.split("/")[1], request.path_params.get("action", "undo")
        by = who(request)

        def field(name: str) -> str:
            return (form.get(name) or [""])[0].strip()

        def number(name: str) -> int:
            v = field(name).lstrip("#").split(" ", 1)[0]  # "12" or "12 label" from a datalist
            if not v.isdigit():
                raise VocError(f"{name}: give an id")
            return int(v)

        try:
            subject = int(request.path_params["id"])
        except ValueError:
            return self._not_found(request, NotFound("web.error.not_found"))
        e = self.engine
        calls: dict[tuple[str, str], Callable[[], int]] = {
            ("topics", "rename"): lambda: topic_edits.rename(e, subject, field("label"), who=by),
            ("topics", "merge"): lambda: topic_edits.merge(e, subject, number("target"), who=by),
            ("topics", "move"): lambda: themes.move(e, subject, number("theme"), who=by),
            ("topics", "ignore"): lambda: topic_edits.ignore(e, subject, who=by),
            ("topics", "unignore"): lambda: topic_edits.unignore(e, subject, who=by),
            ("topics", "split"): lambda: topic_edits.split(
                e, subject, [int(x) for x in form.get("ticket", []) if x.isdigit()], field("label"), who=by
            ),
            ("themes", "rename"): lambda: themes.rename(
                e, subject, field("label"), field("label_en") or None, who=by
            ),
            ("themes", "merge"): lambda: themes.merge(e, subject, number("target"), who=by),
            ("edits", "undo"): lambda: edit_log.undo(e, subject, by).id,
        }
        call = calls.get((kind, action))
        if call is None:
            return self._not_found(request, NotFound("web.error.not_found"))
        try:
            done = await run_in_threadpool(call)
        except VocError as err:  # shown on the page, not put in a URL
            return self._topics_page(request, lang, str(err), 409)
        back = urlencode({"lang": lang, "done": done, **({"q": field("q")} if field("q") else {})})
        return RedirectResponse(f"/topics?{back}", 303)

    def file(self, request: Request) -> Response:
        p = request.path_params
        lang, _, fmt = str(p["name"]).partition(".")
        with self.engine.connect() as conn:
            found = [
                f
                for f in workbench.rendered_files(conn, p["kind"], p["period"])
                if f.lang == lang and f.fmt == fmt
            ]
        if not found or fmt not in MEDIA or not pages.file_exists(found[0]):
            return self._not_found(request, NotFound("web.error.not_found"))
        return FileResponse(Path(found[0].path).expanduser(), media_type=MEDIA[fmt])


def create_app(
    engine: Engine,
    cfg: VocConfig,
    *,
    token: str | None = None,
    editor_token: str | None = None,
    loopback_only: bool = False,
    today: Callable[[], date] = date.today,
    csrf_key: bytes | None = None,
) -> Starlette:
    """The workbench as an ASGI app. ``token`` (viewer) / ``editor_token`` (editor): with either set,
    every request needs one of them (security.TokenAuth); with neither, every request is the local
    editor. ``loopback_only``: answer only requests naming a loopback host (security.LoopbackHostOnly).
    ``csrf_key``: the CSRF tokens' HMAC key (default: random per process)."""
    w = Workbench(engine, cfg, today)
    routes = [
        Route("/", w.home),
        Route("/weeks", w.weeks),
        Route("/weeks/{week}", w.week),
        Route("/weeks/{week}/surge", w.surge),
        Route("/weeks/{week}/surge.csv", w.surge_csv),
        Route("/files/{kind}/{period}/{name}", w.file),
        Route("/topics", w.topics),
        Route("/topics/{id}", w.topic),
        Route("/topics/{id}/{action}", w.edit, methods=["POST"]),
        Route("/themes/{id}/{action}", w.edit, methods=["POST"]),
        Route("/edits/{id}/undo", w.edit, methods=["POST"]),
        *actions.routes(w, pick_lang),
        *operations.routes(w, pick_lang),
        Route(
            "/favicon.ico", lambda request: FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")
        ),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return w._not_found(request, NotFound("web.error.not_found"))

    middleware = [Middleware(SecurityHeaders)]
    if loopback_only:
        middleware.append(Middleware(LoopbackHostOnly))
    if token or editor_token:
        middleware.append(Middleware(TokenAuth, token=token, editor_token=editor_token))
    middleware.append(Middleware(CsrfCookie, key=csrf_key))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})
