"""智齿 (Sobot): resolved/closed tickets (工单) by update time through the Sobot open platform 5.0.

Sources, and how sure each part is:

* **Token** (official: 工单 API, https://developer.zhichi.com/pages/950d89 and
  https://www.sobot.com/developerdocs/service/work_order_center.html, 获取访问 token 编码):
  ``GET /api/get_token?appid=…&create_time=<epoch s>&sign=md5(appid + create_time + app_key)``
  answers ``{"ret_code": "000000", "item": {"token": …, "expires_in": "86400"}}``; every business
  call carries the token in the ``token`` header. A token is reused for the whole run and fetched
  again once when a call answers ``ret_code`` 900001/900002 (empty/expired token).
* **Ticket list by update time** (the 工单 API page's ``query_tickets_by_update_time``; its parameter
  and field tables as summarised by a third-party integration, not read in the official page
  itself — verify on your account): ``GET /api/ws/5/ticket/query_tickets_by_update_time`` with
  ``update_start_datetime_ms``/``update_end_datetime_ms`` (at most about a month apart),
  ``page_no``, ``page_size`` (≤ 50); answer ``{"ret_code": "000000", "items": [...], "page_count",
  "total_count"}``; a ticket has ``ticketid``, ``ticket_title``, ``ticket_content``,
  ``ticket_status`` (0 unclaimed, 1 in progress, 2 awaiting reply, 3 resolved, 99 closed, 98
  deleted), ``ticket_from``, ``ticket_type_name`` (分类 "一级/二级/三级"), ``deal_agent_name``,
  ``deal_group_name``, ``create_datetime_ms``, ``update_datetime_ms``, ``score`` (1–5 stars).

Paging: page numbers over a live list lose tickets when an earlier one is updated while paging, so
a window is never paged: one with more tickets than ``page_size`` is cut in halves until each half
fits on one page (``page_no=1``); only a window of one second that still holds more (a bulk update)
is paged. Windows are half-open, ``[start, end)`` by ``update_datetime_ms``
(asked 1 ms early, as the documentation does not say whether its bounds are inclusive), so a ticket
on a boundary is read once. The watermark is the end (ms) of the last window read; windows
stop ``lag_minutes`` before now. Only resolved/closed tickets become rows; a ticket Sobot reports as
deleted (98) is erased from the store (``Batch.erase``), like Zendesk/Freshdesk deletions.

Row: ``body`` = ``ticket_content`` (HTML tags removed), ``subject`` = ``ticket_title``, ``closed_at`` =
``update_datetime_ms`` (the list has no resolution time; for a closed ticket its last update),
``csat`` = ``score``, ``agent`` = ``deal_agent_name``, ``channel`` = ``ticket_from`` as given,
``category`` (the classification path) and ``agent_group`` kept for mappings. The agent's reply is
not in the list (``get_ticket_by_id``'s ``deal_list``, whose fields we could not confirm): ``resolution``,
reopens and transfers stay empty.

The appid and app_key are read from the environment variables the config names (``app_id_env``,
``token_env``), never from the config file, never logged.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from voc.errors import SourceError
from voc.sources.files import BROKEN, RawRow
from voc.sources.http import HttpClient, RetryPolicy, since_ms
from voc.sources.incremental import Batch
from voc.store.erasure import Deletion

log = logging.getLogger(__name__)

TOKEN_PATH = "/api/get_token"
LIST_PATH = "/api/ws/5/ticket/query_tickets_by_update_time"
OK = "000000"
TOKEN_CODES = {"900001", "900002"}  # token empty / expired: fetch a new one
RESOLVED, CLOSED, DELETED = "3", "99", "98"
MAX_PAGE = 50
MAX_WINDOW_HOURS = 24 * 30  # "查询时间范围一般不超过一个月"
FIRST_DAYS = 30


def sign(appid: str, create_time: str, app_key: str) -> str:
    """md5(appid + create_time + app_key), lower-case hex (获取访问 token 编码)."""
    return hashlib.md5(f"{appid}{create_time}{app_key}".encode()).hexdigest()


def _text(v: Any) -> str | None:
    if not isinstance(v, str) or not v.strip():
        return None
    return html.unescape(re.sub(r"<[^>]+>", " ", v)).strip() or None


def ticket_row(t: dict[str, Any]) -> dict[str, Any]:
    """A Sobot ticket of the list as a canonical-ish row (times stay millisecond epochs)."""
    score = t.get("score")
    return {
        "ticket_id": None if t.get("ticketid") is None else str(t["ticketid"]),
        "created_at": t.get("create_datetime_ms") or t.get("create_datetime"),
        "closed_at": t.get("update_datetime_ms") or t.get("update_datetime"),
        "subject": _text(t.get("ticket_title")),
        "body": _text(t.get("ticket_content")),
        "status": {RESOLVED: "resolved", CLOSED: "closed"}.get(
            str(t.get("ticket_status")), t.get("ticket_status")
        ),
        "agent": t.get("deal_agent_name") or None,
        "agent_group": t.get("deal_group_name") or None,
        "channel": None if t.get("ticket_from") in (None, "") else str(t["ticket_from"]),
        "csat": score if score not in ("", 0, "0") else None,
        "category": t.get("ticket_type_name") or None,
        "ticket_code": t.get("ticket_code"),
    }


class SobotSource:
    """An :class:`sources.incremental.IncrementalSource` over one Sobot (智齿) company."""

    def __init__(
        self,
        name: str,
        base_url: str,
        appid: str,
        app_key: str,
        *,
        since: str | None = None,
        page_size: int | None = None,
        window_hours: int = 24,
        lag_minutes: int = 30,
        statuses: list[str] | None = None,
        id_env: str = "the appid variable",
        key_env: str = "the app_key variable",
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 1 <= window_hours <= MAX_WINDOW_HOURS:
            raise SourceError(f"source {name!r}: window_hours must be 1..{MAX_WINDOW_HOURS} for Sobot")
        self.name = name
        self.page_size = max(1, min(MAX_PAGE, page_size or MAX_PAGE))
        self.window_ms = window_hours * 3600 * 1000
        self.lag_ms = lag_minutes * 60 * 1000
        self.statuses = {str(s) for s in (statuses or (RESOLVED, CLOSED))}
        self.now = now
        self._appid, self._key = appid, app_key
        self._token: str | None = None
        self.first_ms = since_ms(since, now(), FIRST_DAYS)
        self.hint = f"the appid in ${id_env} and the app_key in ${key_env} (from Sobot's after-sales staff)"
        self.client = HttpClient(
            name,
            base_url.rstrip("/"),
            timeout=timeout,
            policy=policy or RetryPolicy(),
            sleep=sleep,
            auth_hint=self.hint,
        )

    def __repr__(self) -> str:  # never the key
        return f"SobotSource({self.name!r}, {self.client.base_url!r})"

    def _fetch_token(self) -> str:
        def signed() -> dict[str, str]:
            now = str(int(time.time()))
            return {"appid": self._appid, "create_time": now, "sign": sign(self._appid, now, self._key)}

        data = self.client.request("GET", TOKEN_PATH, signed).data
        item = data.get("item") if isinstance(data, dict) else None
        token = item.get("token") if isinstance(item, dict) else None
        if not isinstance(data, dict) or str(data.get("ret_code")) != OK or not token:
            code = data.get("ret_code") if isinstance(data, dict) else None
            msg = data.get("ret_msg") if isinstance(data, dict) else None
            raise SourceError(
                f"source {self.name!r}: Sobot refused the token request (ret_code {code}: "
                f"{str(msg)[:120]}); check {self.hint}"
            )
        return str(token)

    def _list(self, start: int, end: int, page: int = 1) -> dict[str, Any]:
        # asked from 1 ms early: whether Sobot's bounds are inclusive is not documented; the caller keeps
        # [start, end) so each ticket belongs to exactly one window
        params = {
            "update_start_datetime_ms": start - 1,
            "update_end_datetime_ms": end,
            "page_no": page,
            "page_size": self.page_size,
        }
        for attempt in range(2):
            if self._token is None:
                self._token = self._fetch_token()
            data = self.client.request("GET", LIST_PATH, params, headers={"token": self._token}).data
            if not isinstance(data, dict):
                raise SourceError(f"source {self.name!r}: unexpected answer from {LIST_PATH} (not an object)")
            code = str(data.get("ret_code"))
            if code in TOKEN_CODES and attempt == 0:
                log.info("%s: token refused (%s), fetching a new one", self.name, code)
                self._token = None
                continue
            if code != OK:
                raise SourceError(
                    f"source {self.name!r}: {LIST_PATH} answered ret_code {code}: "
                    f"{str(data.get('ret_msg'))[:200]}"
                )
            return data
        raise SourceError(f"source {self.name!r}: Sobot refused a fresh token; check {self.hint}")

    def _windows(self, start: int, end: int) -> Iterator[tuple[int, int, list[Any]]]:
        """(start, end, tickets) for consecutive windows covering [start, end], each on one page."""
        data = self._list(start, end)
        items = data.get("items") or []
        total = data.get("total_count")
        more = (
            (isinstance(total, int) and total > len(items))
            or len(items) >= self.page_size
            or (isinstance(data.get("page_count"), int) and data["page_count"] > 1)
        )
        if more and end - start > 1000:
            mid = start + (end - start) // 2
            yield from self._windows(start, mid)
            yield from self._windows(mid, end)
            return
        if more and isinstance(items, list):  # a second with more tickets than a page (a bulk update): paged
            pages = data.get("page_count") if isinstance(data.get("page_count"), int) else None
            page, seen = 1, {str(t.get("ticketid")) for t in items if isinstance(t, dict)}
            while pages is None or page < pages:
                page += 1
                got = self._list(start, end, page).get("items") or []
                new = [t for t in got if not isinstance(t, dict) or str(t.get("ticketid")) not in seen]
                if not new:
                    break
                seen |= {str(t.get("ticketid")) for t in new if isinstance(t, dict)}
                items = items + new
        mine = (
            [
                t
                for t in items
                if not isinstance(t, dict)
                or not isinstance(t.get("update_datetime_ms"), int)
                or start <= t["update_datetime_ms"] < end
            ]
            if isinstance(items, list)
            else []
        )
        yield start, end, mine

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        if watermark:
            if not watermark.isdigit():
                raise SourceError(
                    f"source {self.name!r}: stored watermark is not a Sobot cursor: {watermark[:80]!r}"
                )
            start = int(watermark)
        else:
            start = self.first_ms
        limit = int(self.now().timestamp() * 1000) - self.lag_ms
        try:
            while start < limit:
                end = min(start + self.window_ms, limit)
                for w_start, w_end, items in self._windows(start, end):
                    rows: list[RawRow] = []
                    erase: dict[str, Deletion] = {}
                    skipped = 0
                    for t in items:
                        if not isinstance(t, dict) or t.get("ticketid") in (None, ""):
                            rows.append(
                                RawRow(f"sobot:{w_start}-{w_end}", {BROKEN: "ticket without ticketid"})
                            )
                            continue
                        tid = str(t["ticketid"])
                        status = str(t.get("ticket_status"))
                        if status == DELETED:
                            erase[tid] = Deletion(tid, "deleted", f"sobot:ticket/{tid}")
                            continue
                        if status not in self.statuses:
                            skipped += 1
                            continue
                        rows.append(RawRow(f"sobot:ticket/{tid}", ticket_row(t)))
                    yield Batch(rows, str(w_end), skipped, erase=list(erase.values()))
                start = end
        finally:
            self.client.close()
