"""The operations page (``/operations``): ingest runs, the quarantine (with a replay), alert sends
(sent / failed / unknown...) and the weekly stage runs. Reads: ``store/operations.py``.

=============================  ======================================================================
``GET /operations``             the four tables
``POST /operations/replay``     ``sources.ingest.replay_quarantine`` (as ``voc quarantine replay``),
                                then back to the page with how many rows were stored
=============================  ======================================================================

No raw personal data: the quarantine's raw rows are never read; its locations, reasons, run errors
and stage summaries go through the pipeline's redactor (``nlp.redact``) before the page shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voc.sources.ingest import replay_quarantine
from voc.store import operations
from voc.store.operations import AlertProblem, IngestRunView, QuarantineEntry, StageRunView
from voc.web.host import Host, LangPicker
from voc.web.security import check_edit
from voc.weeks import Week

if TYPE_CHECKING:
    from voc.nlp.redact import Redactor


@dataclass(frozen=True)
class OperationsView:
    runs: list[IngestRunView]
    quarantined: int
    quarantine: list[QuarantineEntry]
    alert_counts: dict[str, int]
    alert_problems: list[AlertProblem]
    stages: list[StageRunView]


class OperationsPage:
    def __init__(self, w: Host, pick_lang: LangPicker) -> None:
        self.w = w
        self.pick_lang = pick_lang

    @cached_property
    def redactor(self) -> Redactor:
        from voc.nlp.redact import Redactor

        models = [m for p in self.w.cfg.products for m in p.models]
        return Redactor(models, self.w.cfg.order_patterns)

    def redact(self, text: str | None) -> str:
        return self.redactor.redact(text)[0] if text else ""

    def view(self) -> OperationsView:
        r = self.redact
        with self.w.engine.connect() as conn:
            runs = operations.ingest_runs(conn)
            n, quarantine = operations.quarantine_pending(conn)
            counts = operations.alert_counts(conn)
            problems = operations.alert_problems(conn)
            stages = operations.stage_runs(conn)
        return OperationsView(
            [replace(x, error=r(x.error) or None) for x in runs],
            n,
            [replace(q, location=r(q.location), reason=r(q.reason)) for q in quarantine],
            counts,
            [replace(p, error=r(p.error) or None) for p in problems],
            [replace(s, summary=r(s.summary)) for s in stages],
        )

    def page(self, request: Request) -> Response:  # sync: Starlette runs it in its thread pool
        lang = self.pick_lang(request, self.w.default_lang)
        q = request.query_params
        replayed = (
            (q.get("fixed"), q.get("still"))
            if q.get("fixed", "").isdigit() and q.get("still", "").isdigit()
            else None
        )
        return self.w._page(
            "operations.html.j2",
            {
                **self.w._context(request, lang),
                "v": self.view(),
                "replayed": replayed,
                "week_name": lambda o: str(Week.from_ordinal(o)) if o > 0 else "—",
            },
        )

    async def replay(self, request: Request) -> Response:
        await check_edit(request)
        lang = self.pick_lang(request, self.w.default_lang)
        cfg = self.w.cfg
        fixed, still = await run_in_threadpool(
            replay_quarantine, self.w.engine, None, cfg.source_mappings(), cfg.max_body_chars
        )
        return RedirectResponse(
            "/operations?" + urlencode({"fixed": fixed, "still": still, "lang": lang}) + "#quarantine", 303
        )


def routes(w: Host, pick_lang: LangPicker) -> list[Any]:
    page = OperationsPage(w, pick_lang)
    return [
        Route("/operations", page.page, methods=["GET"]),
        Route("/operations/replay", page.replay, methods=["POST"]),
    ]
