"""The action items page (``/actions``): list, create (also from a surge page, prefilled), assign an
owner and a due date, set the status and the fix date; once weeks have passed after the fix, the
measured before/after effect, by the quarterly review's own measure (``flows.review_stage.measure_action``).

=============================================  ==========================================================
``GET /actions``                                every action item with its effect; the create form
``GET /actions?week=W&item=ID``                 the create form prefilled from that surge (topic, product, batch)
``POST /actions``                               create one (then back to the list)
``POST /actions/{id}``                          change owner, due date, status, fix date, note
=============================================  ==========================================================

Every POST goes through ``security.check_edit`` first (origin headers, then the editor role and the
form's CSRF token, ``csrf``, which the page context carries). Plain HTML forms, no JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voc.errors import VocError
from voc.flows.review_stage import measure_action
from voc.reports.assembly import action_item
from voc.reports.model import ActionEffect, ActionItem, SurgeItem
from voc.store import action_items, report_queries
from voc.web import pages
from voc.web.host import Host, LangPicker
from voc.web.pages import NotFound
from voc.web.security import check_edit
from voc.weeks import Week


@dataclass(frozen=True)
class ActionRow:
    item: ActionItem
    effect: (
        ActionEffect | None
    )  # measured once it has a fix date and a topic (verdict too_early until 2 weeks)


@dataclass(frozen=True)
class Prefill:
    """The create form's values (from a surge page, or what was just refused)."""

    topic_id: int | None = None
    product: str = ""
    batch: str = ""
    owner: str = ""
    due: str = ""
    note: str = ""
    week: str = ""
    item: str = ""  # the surge item's identity it came from
    surge: SurgeItem | None = None


def action_rows(conn: Connection, today: date) -> list[ActionRow]:
    """Every action item, newest first, each with its effect measured up to last week."""
    records = report_queries.actions(conn)
    labels = action_items.topic_labels(conn, {a.topic_id for a in records if a.topic_id is not None})
    latest = Week.of(today).ordinal() - 1
    return [
        ActionRow(action_item(a, labels, today), measure_action(conn, a, labels, latest, today))
        for a in reversed(records)
    ]


def _date(value: str, what: str) -> date | None:
    v = value.strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise VocError(f"the {what} is not a date (YYYY-MM-DD): {v[:20]!r}") from None


def _href(lang: str, path: str, **params: object) -> str:
    return path + "?" + urlencode({**{k: v for k, v in params.items() if v not in (None, "")}, "lang": lang})


def _field(form: FormData, name: str) -> str:
    v = form.get(name)
    return v if isinstance(v, str) else ""


class ActionsPage:
    def __init__(self, w: Host, pick_lang: LangPicker) -> None:
        self.w = w
        self.pick_lang = pick_lang

    def _render(
        self, request: Request, lang: str, prefill: Prefill, error: str | None = None, status: int = 200
    ) -> Response:
        w = self.w
        today = w.today()
        with w.engine.connect() as conn:
            rows = action_rows(conn, today)
        ctx = w._context(request, lang)
        return w._page(
            "actions.html.j2",
            {
                **ctx,
                "rows": rows,
                "prefill": prefill,
                "error": error,
                "statuses": action_items.STATUSES,
                "created": request.query_params.get("created", ""),
                "products": [(p.id, p.name_zh if lang == "zh" else p.name_en) for p in w.cfg.products],
            },
            status,
        )

    def _prefill(self, request: Request, lang: str) -> Prefill:
        q = request.query_params
        week_text, identity = q.get("week", ""), q.get("item", "")
        if not (week_text and identity):
            return Prefill()
        week = pages.parse_week(week_text)
        with self.w.engine.connect() as conn:
            s = pages.surge_item(conn, self.w.cfg, week, identity, lang, self.w.today())
        return Prefill(
            topic_id=s.topic_id or None,
            product=s.product_id or "",
            batch=s.batch or "",
            week=str(week),
            item=identity,
            surge=s,
        )

    def list(self, request: Request) -> Response:  # sync: Starlette runs it in its thread pool
        lang = self.pick_lang(request, self.w.default_lang)
        try:
            prefill = self._prefill(request, lang)
        except NotFound as e:
            return self.w._not_found(request, e)
        return self._render(request, lang, prefill)

    async def create(self, request: Request) -> Response:
        form = await check_edit(request)
        lang = self.pick_lang(request, self.w.default_lang)
        topic_text = _field(form, "topic_id").strip()
        prefill = Prefill(
            topic_id=int(topic_text) if topic_text.isdigit() else None,
            product=_field(form, "product"),
            batch=_field(form, "batch"),
            owner=_field(form, "owner"),
            due=_field(form, "due"),
            note=_field(form, "note"),
            week=_field(form, "week"),
            item=_field(form, "item"),
        )
        try:
            if topic_text and not topic_text.isdigit():
                raise VocError(f"the topic must be a topic id (a number): {topic_text[:20]!r}")
            aid = await run_in_threadpool(
                action_items.add,
                self.w.engine,
                prefill.topic_id,
                prefill.product.strip() or None,
                prefill.batch.strip() or None,
                prefill.owner,
                _date(prefill.due, "due date"),
                prefill.note,
            )
        except VocError as e:
            return await run_in_threadpool(self._render, request, lang, prefill, str(e), 400)
        return RedirectResponse(_href(lang, "/actions", created=aid) + f"#a{aid}", 303)

    async def update(self, request: Request) -> Response:
        form = await check_edit(request)
        lang = self.pick_lang(request, self.w.default_lang)
        try:
            aid = int(request.path_params["id"])
        except ValueError:
            return self.w._not_found(request, NotFound("web.error.not_found"))
        status = _field(form, "status")
        try:
            fix, due = _date(_field(form, "fix_date"), "fix date"), _date(_field(form, "due"), "due date")
            await run_in_threadpool(
                action_items.update_action,
                self.w.engine,
                aid,
                status or None,
                fix,
                _field(form, "note") if "note" in form else None,
                owner=_field(form, "owner") if "owner" in form else None,
                due=due,
            )
        except VocError as e:
            return await run_in_threadpool(self._render, request, lang, Prefill(), f"#{aid}: {e}", 400)
        return RedirectResponse(_href(lang, "/actions") + f"#a{aid}", 303)


def routes(w: Host, pick_lang: LangPicker) -> list[Any]:
    page = ActionsPage(w, pick_lang)
    return [
        Route("/actions", page.list, methods=["GET"]),
        Route("/actions", page.create, methods=["POST"]),
        Route("/actions/{id:int}", page.update, methods=["POST"]),
    ]
