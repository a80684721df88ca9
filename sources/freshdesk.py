"""Freshdesk: resolved/closed tickets through ``GET /api/v2/tickets`` ordered by ``updated_at``.

Pagination is keyset-style, not plain page numbers: after each page the next request asks again
with ``updated_since`` = (last ``updated_at`` seen - 1 s) and ``page=1``. Plain ``page=N`` over a live
helpdesk loses tickets: when a ticket already read is updated it moves to the end of the list, every
later ticket shifts one place left and one of them falls into the page already read. Re-asking from
the last timestamp cannot skip anything; the few tickets seen twice are recognised by the watermark
(the last ``updated_at`` plus the ids already taken at exactly that second) and not yielded again.
Only when a whole page shares one second does it go on to ``page=2, 3, ...`` of the same query.

Watermark (JSON): ``{"updated_at": "2026-01-05T10:00:00Z", "ids": [ids taken at that second]}``.

Deleted (trash) and spam tickets leave the default list without a trace, so after the pass every run
lists ``filter=deleted`` and ``filter=spam`` (ids only: no ``include``, one credit a page) and erases
those it holds (``Batch.erase``); Freshdesk keeps the trash 30 days, so a helpdesk pulled at least
monthly erases every deletion. A ticket flagged ``deleted``/``spam`` in the main list is erased too.
Each closed ticket's ``resolution`` is the agent's last public reply, from its conversations (one call
or more per closed ticket, paged and rate-limited like every call); the understanding stage redacts it
as it redacts the body.

Auth: API key basic auth ``{key}:X``, the key from the variable named by ``token_env``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sources.files import BROKEN, RawRow
from sources.http import HttpClient, RetryPolicy
from sources.incremental import Batch
from store.erasure import Deletion
from voc.errors import SourceError

log = logging.getLogger(__name__)

TICKETS_PATH = "/api/v2/tickets"
CONVERSATIONS_PATH = "/api/v2/tickets/{}/conversations"
STATUS_CODES = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
CLOSED_STATUSES = ("resolved", "closed")
# every ``source`` code Freshdesk documents (the ``source`` ticket field's choices: Email 1 ... Whatsapp 13)
SOURCE_NAMES = {1: "email", 2: "portal", 3: "phone", 4: "forum", 5: "twitter", 6: "facebook", 7: "chat",
                8: "mobihelp", 9: "feedback_widget", 10: "outbound_email", 11: "ecommerce", 12: "bot",
                13: "whatsapp"}
TRASH_FILTERS = (("deleted", "deleted"), ("spam", "spam"))  # (list filter, erasure reason)
FIRST_SINCE = "2000-01-01T00:00:00Z"  # without updated_since Freshdesk returns only the last 30 days
MAX_PER_PAGE = 100


def _parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)


def _fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_code(s: str) -> int:
    s = str(s).strip().lower()
    if s.isdigit():
        return int(s)
    if s not in STATUS_CODES:
        raise SourceError(f"freshdesk statuses: unknown status {s!r} (use {sorted(STATUS_CODES)} or numbers)")
    return STATUS_CODES[s]


def _text(t: dict[str, Any]) -> str | None:
    if t.get("description_text"):
        return str(t["description_text"])
    desc = t.get("description")
    if not desc:
        return None
    return html.unescape(re.sub(r"<[^>]+>", " ", str(desc))).strip() or None


def agent_reply(conversations: list[dict[str, Any]]) -> str | None:
    """The last public reply of an agent among a ticket's conversations (oldest first): not the
    customer's messages (``incoming``), not private notes, not automatic responses."""
    for c in reversed(conversations):
        if not isinstance(c, dict) or c.get("incoming") or c.get("private") or c.get("auto_response"):
            continue
        text = c.get("body_text")
        if not text and c.get("body"):
            text = html.unescape(re.sub(r"<[^>]+>", " ", str(c["body"])))
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def ticket_row(t: dict[str, Any], resolution: str | None = None) -> dict[str, Any]:
    """A Freshdesk ticket object as a canonical-ish row (custom fields under their API names, see
    :func:`custom_key`). ``reopened``: ``stats.reopened_at`` is set, or the ticket is open again after a
    resolution (``stats.resolved_at`` set on an open/pending ticket); unknown without ``stats``.
    ``resolution``: the agent's last public reply (:func:`agent_reply`). Transfers and CSAT are not in
    the ticket (CSAT is in the surveys API): they stay empty."""
    stats: dict[str, Any] = t["stats"] if isinstance(t.get("stats"), dict) else {}
    status = t.get("status")
    responder = t.get("responder_id")
    row: dict[str, Any] = {
        "ticket_id": None if t.get("id") is None else str(t["id"]),
        "created_at": t.get("created_at"),
        "closed_at": stats.get("resolved_at") or stats.get("closed_at") or t.get("updated_at"),
        "subject": t.get("subject"),
        "body": _text(t),
        "resolution": resolution,
        "reopened": _reopened(status, stats) if stats else None,
        "status": STATUS_NAMES.get(status, status) if isinstance(status, int) else status,
        "channel": _channel(t.get("source")),
        "agent": None if responder is None else str(responder),
        "updated_at": t.get("updated_at"),
        "tags": ",".join(str(x) for x in t.get("tags") or []),
    }
    for k, v in (t.get("custom_fields") or {}).items():
        row[custom_key(k)] = v
    return row


def _reopened(status: Any, stats: dict[str, Any]) -> bool:
    return bool(stats.get("reopened_at")) or (status in (2, 3) and bool(stats.get("resolved_at")))


def custom_key(name: str) -> str:
    """A custom field's column for mappings: its API name as Freshdesk gives it (``cf_reference_number``);
    the few without the ``cf_`` prefix get it, so none can take a canonical field's name."""
    return name if name.startswith("cf_") else f"cf_{name}"


def _channel(code: Any) -> Any:
    """The channel's name for a documented source code; a code Freshdesk adds later is ``source_<n>``,
    never a bare number."""
    if isinstance(code, int) and not isinstance(code, bool):
        return SOURCE_NAMES.get(code, f"source_{code}")
    return code


def _location(tid: str) -> str:
    return f"freshdesk:ticket/{tid}"


class FreshdeskSource:
    """An :class:`sources.incremental.IncrementalSource` over one Freshdesk account."""

    def __init__(self, name: str, base_url: str, api_key: str, *, statuses: list[str] | None = None,
                 page_size: int | None = None, since: str | None = None, replies: bool = True,
                 token_env: str = "the key variable",
                 timeout: float = 30.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.statuses = {_status_code(s) for s in (statuses or CLOSED_STATUSES)}
        self.per_page = max(1, min(MAX_PER_PAGE, page_size or MAX_PER_PAGE))
        self.replies = replies  # fetch each closed ticket's conversations for the agent's reply
        try:
            self.first_since = _parse_ts(since or FIRST_SINCE)
        except ValueError:
            raise SourceError(f"source {name!r}: since: not an ISO date/time: {since!r}") from None
        self.client = HttpClient(
            name, base_url.rstrip("/"), auth=(api_key, "X"), timeout=timeout, policy=policy or RetryPolicy(),
            sleep=sleep, auth_hint=f"the API key in ${token_env} (Profile settings > Your API Key)")

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        boundary: datetime | None = None
        ids: set[str] = set()
        if watermark:
            try:
                state = json.loads(watermark)
                boundary = _parse_ts(state["updated_at"])
                ids = {str(i) for i in state.get("ids", [])}
            except (ValueError, KeyError, TypeError):
                raise SourceError(f"source {self.name!r}: stored watermark is not a Freshdesk cursor: "
                                  f"{watermark[:80]!r}") from None
            since = boundary - timedelta(seconds=1)  # inclusive whichever way the API compares
        else:
            since = self.first_since
        page = 1
        try:
            while True:
                params = {"updated_since": _fmt(since), "order_by": "updated_at", "order_type": "asc",
                          "per_page": self.per_page, "page": page, "include": "description,stats"}
                resp = self.client.get(TICKETS_PATH, params)
                items = resp.data
                if not isinstance(items, list):
                    raise SourceError(f"source {self.name!r}: unexpected answer from {TICKETS_PATH} (not a list); "
                                      f"is base_url a Freshdesk account?")
                rows: list[RawRow] = []
                skipped = 0
                erase: list[Deletion] = []
                last_ts: datetime | None = None
                for t in items:
                    try:
                        tid = str(t["id"])
                        ts = _parse_ts(t["updated_at"])
                    except (KeyError, TypeError, ValueError, AttributeError):
                        rows.append(RawRow(f"freshdesk:{_fmt(since)}:{page}",
                                           {BROKEN: "ticket without id/updated_at", "__raw__": t}))
                        continue
                    last_ts = ts
                    if boundary is not None and (ts < boundary or (ts == boundary and tid in ids)):
                        continue  # already taken (this run's overlap, or the previous run's boundary)
                    if boundary is None or ts > boundary:
                        boundary, ids = ts, {tid}
                    else:
                        ids.add(tid)
                    if t.get("deleted") or t.get("spam"):
                        erase.append(Deletion(tid, "spam" if t.get("spam") else "deleted", _location(tid)))
                        continue
                    if t.get("status") not in self.statuses:
                        skipped += 1
                        continue
                    rows.append(RawRow(_location(tid), ticket_row(t, self._reply(tid) if self.replies else None)))
                cursor = None if boundary is None else json.dumps(
                    {"updated_at": _fmt(boundary), "ids": sorted(ids)}, separators=(",", ":"))
                yield Batch(rows, cursor, skipped, erase=erase)
                if not self._more(resp.headers, items):
                    break
                nxt = (last_ts or since) - timedelta(seconds=1)
                if nxt > since:
                    since, page = nxt, 1
                else:
                    page += 1  # a whole page within one second: step through that second's pages
            yield from self._trash()
        finally:
            self.client.close()

    def _reply(self, tid: str) -> str | None:
        """The agent's last public reply: ``/tickets/{id}/conversations``, pages of 100 (``link``
        header), rate-limited like every call; a ticket gone since it was listed (404) has none."""
        conversations: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.client.get(CONVERSATIONS_PATH.format(tid), {"per_page": MAX_PER_PAGE, "page": page},
                                   missing_ok=True)
            if not isinstance(resp.data, list):
                break
            conversations += [c for c in resp.data if isinstance(c, dict)]
            if not self._more(resp.headers, resp.data, MAX_PER_PAGE):
                break
            page += 1
        return agent_reply(conversations)

    def _more(self, headers: Any, items: list[Any], per_page: int | None = None) -> bool:
        link = headers.get("link")
        more = 'rel="next"' in link if link is not None else len(items) >= (per_page or self.per_page)
        return bool(more and items)

    def _trash(self) -> Iterator[Batch]:
        """One batch of erasures per page of the deleted and the spam lists (the watermark stays).

        Asked with ``updated_since`` (the list's default is only tickets created in the last 30 days);
        should an account refuse that beside ``filter`` (HTTP 400), the list is read without it."""
        for name, reason in TRASH_FILTERS:
            page = 1
            since: str | None = _fmt(self.first_since)
            while True:
                params: dict[str, Any] = {"filter": name, "order_by": "updated_at", "order_type": "asc",
                                          "per_page": self.per_page, "page": page}
                if since:
                    params["updated_since"] = since
                resp = self.client.get(TICKETS_PATH, params, answers=(400,) if since else ())
                if resp.status == 400:
                    log.warning("%s: filter=%s with updated_since refused (HTTP 400); listing it without "
                                "(tickets created in the last 30 days)", self.name, name)
                    since, page = None, 1
                    continue
                items = resp.data
                if not isinstance(items, list):
                    raise SourceError(f"source {self.name!r}: unexpected answer from {TICKETS_PATH}?filter={name} "
                                      f"(not a list)")
                ids = [str(t["id"]) for t in items if isinstance(t, dict) and t.get("id") is not None]
                yield Batch([], None, erase=[Deletion(i, reason, _location(i)) for i in ids])
                if not self._more(resp.headers, items):
                    break
                page += 1
