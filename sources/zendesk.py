"""Zendesk: closed tickets through the cursor-based incremental ticket export.

``GET /api/v2/incremental/tickets/cursor.json?start_time=<epoch>`` starts the stream, then
``?cursor=<after_cursor>`` until ``end_of_stream``. Each page is one batch and its ``after_cursor`` is
the watermark stored with it, so the next run (or the re-run after a crash) continues right after the
last committed page. Only solved/closed tickets become rows; the others are skipped and come again in
the stream when they are updated (closing a ticket updates it).

A deleted ticket stays in the export (unless ``exclude_deleted`` is asked for, which we never do) with
``status: "deleted"``; a scrubbed one (an erasure request, spam clean-up) has subject ``SCRUBBED`` and
description ``X``, an unscrubbed one still carries its text. Either way its stored version is erased
(``Batch.erase``), and none of its text becomes a row. On a page that holds one ticket twice, its last
occurrence decides (a ticket solved then deleted is erased; deleted then restored is stored).

Auth is API-token basic auth (``{email}/token:{token}``), both read from the environment variables the
config names (``email_env``, ``token_env``), never from the config file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sources.files import BROKEN, RawRow
from sources.http import HttpClient, RetryPolicy
from sources.incremental import Batch
from store.erasure import Deletion
from voc.errors import SourceError

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
CLOSED_STATUSES = ("solved", "closed")
DELETED = "deleted"


def _epoch(since: str | None) -> int:
    if not since:
        return 0
    text = since.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"since: not an ISO date/time: {since!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def ticket_row(t: dict[str, Any], metric: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Zendesk ticket object as a canonical-ish row (custom fields kept as ``cf_<id>`` for mappings)."""
    via: dict[str, Any] = t["via"] if isinstance(t.get("via"), dict) else {}
    if not metric:
        metric = t["metric_set"] if isinstance(t.get("metric_set"), dict) else {}
    assignee = t.get("assignee_id")
    row: dict[str, Any] = {
        "ticket_id": None if t.get("id") is None else str(t["id"]),
        "created_at": t.get("created_at"),
        # when the customer's problem was solved; a later solved->closed change keeps the same time
        "closed_at": metric.get("solved_at") or t.get("updated_at"),
        "subject": t.get("subject"),
        "body": t.get("description"),
        "status": t.get("status"),
        "channel": via.get("channel"),
        "agent": None if assignee is None else str(assignee),
        "updated_at": t.get("updated_at"),
        "tags": ",".join(str(x) for x in t.get("tags") or []),
    }
    for cf in t.get("custom_fields") or []:
        if isinstance(cf, dict) and cf.get("id") is not None:
            row[f"cf_{cf['id']}"] = cf.get("value")
    return row


def _location(tid: str | None) -> str:
    return f"zendesk:ticket/{tid}"


class ZendeskSource:
    """An :class:`sources.incremental.IncrementalSource` over one Zendesk account."""

    def __init__(self, name: str, base_url: str, email: str, token: str, *,
                 statuses: list[str] | None = None, page_size: int | None = None, since: str | None = None,
                 email_env: str = "the email variable", token_env: str = "the token variable",
                 timeout: float = 30.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.statuses = {s.lower() for s in (statuses or CLOSED_STATUSES)}
        self.page_size = page_size
        self.start_time = _epoch(since)
        self.client = HttpClient(
            name, base_url.rstrip("/"), auth=(f"{email}/token", token), timeout=timeout,
            policy=policy or RetryPolicy(), sleep=sleep,
            auth_hint=f"the agent email in ${email_env} and the API token in ${token_env} "
                      f"(Admin Center > Apps and integrations > Zendesk API; token access enabled)")

    def _params(self, cursor: str | None) -> dict[str, Any]:
        p: dict[str, Any] = {"include": "metric_sets"}
        if cursor:
            p["cursor"] = cursor
        else:
            p["start_time"] = self.start_time
        if self.page_size:
            p["per_page"] = self.page_size
        return p

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        cursor = watermark
        try:
            while True:
                data = self.client.get(EXPORT_PATH, self._params(cursor)).data
                tickets = data.get("tickets") if isinstance(data, dict) else None
                if not isinstance(tickets, list):
                    raise SourceError(f"source {self.name!r}: unexpected answer from {EXPORT_PATH} "
                                      f"(no 'tickets' list); is base_url a Zendesk account?")
                metrics = {m.get("ticket_id"): m for m in data.get("metric_sets") or [] if isinstance(m, dict)}
                rows: list[RawRow] = []
                skipped = 0
                erase: dict[str, Deletion] = {}
                row_ids: set[str] = set()
                for t in tickets:
                    if not isinstance(t, dict):
                        rows.append(RawRow(f"zendesk:{cursor or 'start'}", {BROKEN: "ticket is not an object"}))
                        continue
                    tid = None if t.get("id") is None else str(t["id"])
                    status = str(t.get("status", "")).lower()
                    if status == DELETED and tid is not None:
                        if tid in row_ids:  # solved earlier on this page: the deletion came after
                            rows = [r for r in rows if r.location != _location(tid)]
                            row_ids.discard(tid)
                        erase[tid] = Deletion(tid, "deleted", _location(tid))
                        continue
                    if tid is not None:
                        erase.pop(tid, None)  # restored after a deletion earlier on the page
                    if status not in self.statuses:
                        skipped += 1
                        continue
                    row = ticket_row(t, metrics.get(t.get("id")))
                    rows.append(RawRow(_location(tid), row))
                    if tid is not None:
                        row_ids.add(tid)
                after = data.get("after_cursor") or None
                yield Batch(rows, after, skipped, erase=list(erase.values()))
                if data.get("end_of_stream") or not after or (after == cursor and not tickets):
                    return
                cursor = after
        finally:
            self.client.close()
