"""What the page modules beside ``app.py`` (``actions.py``, ``operations.py``) need of the
``Workbench`` that mounts them: a protocol, so they do not import ``app`` (which imports them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from voc.config.settings import VocConfig
from voc.web.pages import NotFound

LangPicker = Callable[[Request, str], str]  # app.pick_lang: (request, default) -> "zh" | "en"


class Host(Protocol):
    @property
    def engine(self) -> Engine: ...

    @property
    def cfg(self) -> VocConfig: ...

    @property
    def today(self) -> Callable[[], date]: ...

    @property
    def default_lang(self) -> str: ...

    def _context(self, request: Request, lang: str, today: date | None = None) -> dict[str, Any]: ...

    def _page(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse: ...

    def _not_found(self, request: Request, e: NotFound) -> HTMLResponse: ...
