"""Zendesk: closed tickets through the cursor-based incremental ticket export.

``GET /api/v2/incremental/tickets/cursor.json?start_time=<epoch>`` starts the stream, then
``?cursor=<after_cursor>`` until ``end_of_stream``. Each page is one batch and its ``after_cursor`` is
the watermark stored with it, so the next run (or the re-run after a crash) continues right after the
last committed page. Only solved/closed tickets become rows; the others are skipped and come again in
the stream when they are updated (closing a ticket updates it).

Each closed ticket's ``resolution`` is the agent's last public reply, read from its comments
(``/tickets/{id}/comments.json``, one call or more per closed ticket, paged and rate-limited like
every call); the understanding stage redacts it as it redacts the body. ``closed_at``, reopens and
transfers come from the ticket's metric set (side-loaded by ``include=metric_sets``, else
``/tickets/{id}/metrics.json``), CSAT from its satisfaction rating: see :func:`ticket_row`.

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
from typing import Any

from voc.errors import SourceError
from voc.sources.files import BROKEN, RawRow
from voc.sources.http import HttpClient, RetryPolicy, since_datetime
from voc.sources.incremental import Batch
from voc.store.erasure import Deletion

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
COMMENTS_PATH = "/api/v2/tickets/{}/comments.json"
METRICS_PATH = "/api/v2/tickets/{}/metrics.json"
COMMENTS_PAGE = 100
AGENT_ROLES = ("agent", "admin")
CSAT_SCORES = {"good": 5.0, "bad": 1.0}
CLOSED_STATUSES = ("solved", "closed")
DELETED = "deleted"


def _epoch(since: str | None) -> int:
    if not since:
        return 0
    text = since.strip()
    if text.isdigit():
        return int(text)
    return int(since_datetime(text).timestamp())


def ticket_row(
    t: dict[str, Any], metric: dict[str, Any] | None = None, resolution: str | None = None
) -> dict[str, Any]:
    """A Zendesk ticket object as a canonical-ish row (custom fields kept as ``cf_<id>`` for mappings).

    ``metric`` is the ticket's metric set (the export's side-load, or ``/tickets/{id}/metrics.json``):
    ``closed_at`` is its ``solved_at``, when the customer's problem was solved; without one it falls
    back to ``updated_at``, which for a *closed* ticket is the auto-close time, days later. Reopens and
    transfers come from it too: ``reopened`` is ``reopens > 0``, ``transfers`` the group or assignee
    changes (``max(group_stations, assignee_stations) - 1``); both stay empty without a metric set.
    ``csat``: Zendesk's two-point satisfaction rating on the canonical 1..5 scale (good 5, bad 1;
    offered or unoffered: none). ``resolution``: the agent's last public reply (see ``agent_reply``)."""
    via: dict[str, Any] = t["via"] if isinstance(t.get("via"), dict) else {}
    if not metric:
        metric = t["metric_set"] if isinstance(t.get("metric_set"), dict) else {}
    assignee = t.get("assignee_id")
    rating = t.get("satisfaction_rating")
    score = rating.get("score") if isinstance(rating, dict) else None
    row: dict[str, Any] = {
        "ticket_id": None if t.get("id") is None else str(t["id"]),
        "created_at": t.get("created_at"),
        # when the customer's problem was solved; a later solved->closed change keeps the same time
        "closed_at": metric.get("solved_at") or t.get("updated_at"),
        "subject": t.get("subject"),
        "body": t.get("description"),
        "resolution": resolution,
        "status": t.get("status"),
        "channel": via.get("channel"),
        "agent": None if assignee is None else str(assignee),
        "csat": CSAT_SCORES.get(str(score).lower()) if score is not None else None,
        "reopened": _count(metric.get("reopens"), lambda n: n > 0),
        "transfers": _transfers(metric),
        "updated_at": t.get("updated_at"),
        "tags": ",".join(str(x) for x in t.get("tags") or []),
    }
    for cf in t.get("custom_fields") or []:
        if isinstance(cf, dict) and cf.get("id") is not None:
            row[f"cf_{cf['id']}"] = cf.get("value")
    return row


def _count(value: Any, then: Callable[[int], Any]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return then(value)


def _transfers(metric: dict[str, Any]) -> int | None:
    stations = [
        v
        for v in (metric.get("group_stations"), metric.get("assignee_stations"))
        if isinstance(v, int) and not isinstance(v, bool)
    ]
    return max(0, max(stations) - 1) if stations else None


def agent_reply(
    comments: list[dict[str, Any]], users: dict[Any, str | None], requester_id: Any
) -> str | None:
    """The last public reply of an agent in a ticket's comments (oldest first, the first being the
    description): internal notes, the customer's own comments and the description are not replies.
    An author is an agent by the side-loaded user's role (agent, admin); when the role is not given,
    anyone but the requester."""
    for c in reversed(comments[1:]):
        if not isinstance(c, dict) or c.get("public") is not True:
            continue
        author = c.get("author_id")
        role = users.get(author)
        agent = role in AGENT_ROLES if role is not None else author is not None and author != requester_id
        text = c.get("plain_body") or c.get("body")
        if agent and isinstance(text, str) and text.strip():
            return text.strip()
    return None


def _location(tid: str | None) -> str:
    return f"zendesk:ticket/{tid}"


class ZendeskSource:
    """An :class:`sources.incremental.IncrementalSource` over one Zendesk account."""

    def __init__(
        self,
        name: str,
        base_url: str,
        email: str,
        token: str,
        *,
        statuses: list[str] | None = None,
        page_size: int | None = None,
        since: str | None = None,
        replies: bool = True,
        email_env: str = "the email variable",
        token_env: str = "the token variable",
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.statuses = {s.lower() for s in (statuses or CLOSED_STATUSES)}
        self.page_size = page_size
        self.replies = (
            replies  # fetch each closed ticket's comments for the agent's reply (a call per ticket)
        )
        self.start_time = _epoch(since)
        self.client = HttpClient(
            name,
            base_url.rstrip("/"),
            auth=(f"{email}/token", token),
            timeout=timeout,
            policy=policy or RetryPolicy(),
            sleep=sleep,
            auth_hint=f"the agent email in ${email_env} and the API token in ${token_env} "
            f"(Admin Center > Apps and integrations > Zendesk API; token access enabled)",
        )

    def _params(self, cursor: str | None) -> dict[str, Any]:
        p: dict[str, Any] = {"include": "metric_sets"}
        if cursor:
            p["cursor"] = cursor
        else:
            p["start_time"] = self.start_time
        if self.page_size:
            p["per_page"] = self.page_size
        return p

    def _metric(self, t: dict[str, Any]) -> dict[str, Any]:
        """The ticket's metric set when the export did not side-load one (``solved_at``, reopens,
        stations): ``/tickets/{id}/metrics.json``; none for a ticket gone since (404)."""
        if isinstance(t.get("metric_set"), dict) or t.get("id") is None:
            return {}
        data = self.client.get(METRICS_PATH.format(t["id"]), missing_ok=True).data
        metric = data.get("ticket_metric") if isinstance(data, dict) else None
        return metric if isinstance(metric, dict) else {}

    def _reply(self, t: dict[str, Any]) -> str | None:
        """The agent's last public reply: the ticket's comments with their authors' roles (cursor
        pages of 100, ``links.next`` while ``meta.has_more``; rate limits as every call)."""
        if t.get("id") is None:
            return None
        comments: list[dict[str, Any]] = []
        users: dict[Any, str | None] = {}
        url: str | None = COMMENTS_PATH.format(t["id"])
        params: dict[str, Any] | None = {"include": "users", "page[size]": COMMENTS_PAGE}
        while url:
            data = self.client.get(url, params, missing_ok=True).data
            if not isinstance(data, dict):
                break
            comments += [c for c in data.get("comments") or [] if isinstance(c, dict)]
            users.update({u.get("id"): u.get("role") for u in data.get("users") or [] if isinstance(u, dict)})
            meta, links = data.get("meta"), data.get("links")
            more = isinstance(meta, dict) and meta.get("has_more") and isinstance(links, dict)
            url = (links.get("next") if more else None) or data.get("next_page")  # type: ignore[union-attr]
            params = None  # the next link carries the query
        return agent_reply(comments, users, t.get("requester_id"))

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        cursor = watermark
        try:
            while True:
                data = self.client.get(EXPORT_PATH, self._params(cursor)).data
                tickets = data.get("tickets") if isinstance(data, dict) else None
                if not isinstance(tickets, list):
                    raise SourceError(
                        f"source {self.name!r}: unexpected answer from {EXPORT_PATH} "
                        f"(no 'tickets' list); is base_url a Zendesk account?"
                    )
                metrics = {
                    m.get("ticket_id"): m for m in data.get("metric_sets") or [] if isinstance(m, dict)
                }
                rows: list[RawRow] = []
                skipped = 0
                erase: dict[str, Deletion] = {}
                row_ids: set[str] = set()
                for t in tickets:
                    if not isinstance(t, dict):
                        rows.append(
                            RawRow(f"zendesk:{cursor or 'start'}", {BROKEN: "ticket is not an object"})
                        )
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
                    row = ticket_row(
                        t,
                        metrics.get(t.get("id")) or self._metric(t),
                        self._reply(t) if self.replies else None,
                    )
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
