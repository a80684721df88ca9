"""Freshdesk: resolved/closed tickets through ``GET /api/v2/tickets`` ordered by ``updated_at``.

Pagination is keyset-style, not plain page numbers: after each page the next request asks again
with ``updated_since`` = (last ``updated_at`` seen - 1 s) and ``page=1``. Plain ``page=N`` over a live
helpdesk loses tickets: when a ticket already read is updated it moves to the end of the list, every
later ticket shifts one place left and one of them falls into the page already read. Re-asking from
the last timestamp cannot skip anything; the few tickets seen twice are recognised by the watermark
(the last ``updated_at`` plus the ids already taken at exactly that second) and not yielded again.
Only when a whole page shares one second does it go on to ``page=2, 3, ...`` of the same query.

Watermark (JSON): ``{"updated_at": "2026-01-05T10:00:00Z", "ids": [ids taken at that second],
"ratings_at": "<created_at of the newest satisfaction rating read>"}`` (``ratings_at`` absent before
the first ratings pass; older watermarks without it still resume).

CSAT comes from the satisfaction ratings list, ``GET /api/v2/surveys/satisfaction_ratings?created_since=``
(Freshdesk's "View all satisfaction ratings", read as transcribed at
https://www.withone.ai/knowledge/freshdesk/conn_mod_def%3A%3AGJ2huncp0XI%3A%3Argn2I4AgRIylD3846TAg_A ;
the official page, https://developer.freshdesk.com/api/#satisfaction-ratings, was not reachable from
here: an array of ratings, each with its ``ticket_id``, ``created_at`` and ``ratings`` keyed by question,
``default_question`` being the survey's main one; filters ``created_since`` and ``user_id``; paged by
``page``/``per_page`` and the ``link`` header like every Freshdesk list). A rating is not part
of the ticket, so two things are done: every closed ticket a run stores carries its latest rating (the
ratings are listed back to the oldest ``created_at`` among the run's closed tickets, once, then kept in
memory), and after the ticket pass the ratings created since ``ratings_at`` re-store the tickets they
rate that the pass did not meet (``GET /api/v2/tickets/{id}?include=stats``, its reply as usual), so a
rating given after its ticket was stored reaches the store without the ticket changing. An account
without surveys (the list answering 403/404) stores no CSAT and says so once. Transfers (group or agent
changes) are not in the ticket, its ``stats`` or any list Freshdesk documents: ``transfers`` stays empty.

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

from voc.errors import SourceError
from voc.sources.files import BROKEN, RawRow
from voc.sources.http import HttpClient, RetryPolicy
from voc.sources.incremental import Batch
from voc.store.erasure import Deletion

log = logging.getLogger(__name__)

TICKETS_PATH = "/api/v2/tickets"
CONVERSATIONS_PATH = "/api/v2/tickets/{}/conversations"
TICKET_PATH = "/api/v2/tickets/{}"
RATINGS_PATH = "/api/v2/surveys/satisfaction_ratings"
STATUS_CODES = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
CLOSED_STATUSES = ("resolved", "closed")
# every ``source`` code Freshdesk documents (the ``source`` ticket field's choices: Email 1 ... Whatsapp 13)
SOURCE_NAMES = {
    1: "email",
    2: "portal",
    3: "phone",
    4: "forum",
    5: "twitter",
    6: "facebook",
    7: "chat",
    8: "mobihelp",
    9: "feedback_widget",
    10: "outbound_email",
    11: "ecommerce",
    12: "bot",
    13: "whatsapp",
}
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


def csat_score(rating: dict[str, Any]) -> float | None:
    """A satisfaction rating's ``ratings.default_question`` on the canonical 1..5 scale.

    Freshdesk's documented example answers hold 103, 101 and -102: the sign says satisfied or not and
    the distance from 100 how strongly (up to 3). Read that way 103 -> 5, 102 -> 4.33, 101 -> 3.67,
    100 (neutral) -> 3, -101 -> 2.33, -102 -> 1.67, -103 -> 1; a value outside that scale gives none."""
    ratings = rating.get("ratings")
    value = ratings.get("default_question") if isinstance(ratings, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    degree = abs(value) - 100
    if value == 100:
        return 3.0
    if not 1 <= degree <= 3:
        return None
    return round(3.0 + (2.0 if value > 0 else -2.0) * degree / 3.0, 2)


def ticket_row(t: dict[str, Any], resolution: str | None = None, csat: float | None = None) -> dict[str, Any]:
    """A Freshdesk ticket object as a canonical-ish row (custom fields under their API names, see
    :func:`custom_key`). ``reopened``: ``stats.reopened_at`` is set, or the ticket is open again after a
    resolution (``stats.resolved_at`` set on an open/pending ticket); unknown without ``stats``.
    ``resolution``: the agent's last public reply (:func:`agent_reply`). ``csat``: from the ticket's
    latest satisfaction rating (:func:`csat_score`; the ratings list, not the ticket, holds it).
    Transfers are not in the ticket: they stay empty."""
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
        "csat": csat,
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


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _stamp(r: dict[str, Any]) -> datetime | None:
    try:
        return _parse_ts(str(r["created_at"]))
    except (KeyError, ValueError, TypeError):
        return None


def _new(r: dict[str, Any], last: datetime | None, seen_at_last: set[str]) -> bool:
    """A rating created after the last run's newest one (or at that second and not yet seen)."""
    at = _stamp(r)
    if at is None:
        return False
    return last is None or at > last or (at == last and str(r["id"]) not in seen_at_last)


def _location(tid: str) -> str:
    return f"freshdesk:ticket/{tid}"


class FreshdeskSource:
    """An :class:`sources.incremental.IncrementalSource` over one Freshdesk account."""

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str,
        *,
        statuses: list[str] | None = None,
        page_size: int | None = None,
        since: str | None = None,
        replies: bool = True,
        token_env: str = "the key variable",
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.statuses = {_status_code(s) for s in (statuses or CLOSED_STATUSES)}
        self.per_page = max(1, min(MAX_PER_PAGE, page_size or MAX_PER_PAGE))
        self.replies = replies  # fetch each closed ticket's conversations for the agent's reply
        try:
            self.first_since = _parse_ts(since or FIRST_SINCE)
        except ValueError:
            raise SourceError(f"source {name!r}: since: not an ISO date/time: {since!r}") from None
        self.client = HttpClient(
            name,
            base_url.rstrip("/"),
            auth=(api_key, "X"),
            timeout=timeout,
            policy=policy or RetryPolicy(),
            sleep=sleep,
            auth_hint=f"the API key in ${token_env} (Profile settings > Your API Key)",
        )
        self._ratings: dict[str, dict[str, Any]] = {}  # satisfaction ratings read this run, by rating id
        self._ratings_since: datetime | None = None  # ... every rating created since then
        self._by_ticket: dict[str, dict[str, Any]] = {}  # each rated ticket's latest rating among those
        self._no_surveys = False  # the ratings list answered 403/404: no CSAT this run
        self._ratings_floor = self.first_since  # how far back the ratings pass will read (set per run)

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        boundary: datetime | None = None
        ids: set[str] = set()
        rated: dict[
            str, Any
        ] = {}  # the ratings cursor: {"ratings_at": ..., "rating_ids": [...]}, kept as read
        if watermark:
            try:
                state = json.loads(watermark)
                boundary = _parse_ts(state["updated_at"])
                ids = {str(i) for i in state.get("ids", [])}
                if state.get("ratings_at"):
                    _parse_ts(state["ratings_at"])
                    rated = {
                        "ratings_at": state["ratings_at"],
                        "rating_ids": list(state.get("rating_ids", [])),
                    }
            except (ValueError, KeyError, TypeError, AttributeError):
                raise SourceError(
                    f"source {self.name!r}: stored watermark is not a Freshdesk cursor: {watermark[:80]!r}"
                ) from None
            since = boundary - timedelta(seconds=1)  # inclusive whichever way the API compares
        else:
            since = self.first_since
        taken: set[str] = set()  # closed tickets stored by this run's pass
        # the ratings pass after the tickets reads back to the last run's newest rating; reading that far
        # at once when the tickets first need ratings saves listing twice
        self._ratings_floor = _parse_ts(rated["ratings_at"]) if rated else self.first_since
        page = 1
        try:
            while True:
                params = {
                    "updated_since": _fmt(since),
                    "order_by": "updated_at",
                    "order_type": "asc",
                    "per_page": self.per_page,
                    "page": page,
                    "include": "description,stats",
                }
                resp = self.client.get(TICKETS_PATH, params)
                items = resp.data
                if not isinstance(items, list):
                    raise SourceError(
                        f"source {self.name!r}: unexpected answer from {TICKETS_PATH} (not a list); "
                        f"is base_url a Freshdesk account?"
                    )
                rows: list[RawRow] = []
                closed: list[tuple[str, dict[str, Any], str | None]] = []
                skipped = 0
                erase: list[Deletion] = []
                last_ts: datetime | None = None
                for t in items:
                    try:
                        tid = str(t["id"])
                        ts = _parse_ts(t["updated_at"])
                    except (KeyError, TypeError, ValueError, AttributeError):
                        rows.append(
                            RawRow(
                                f"freshdesk:{_fmt(since)}:{page}",
                                {BROKEN: "ticket without id/updated_at", "__raw__": t},
                            )
                        )
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
                    closed.append((tid, t, self._reply(tid) if self.replies else None))
                self._rate(closed)
                for tid, t, reply in closed:
                    taken.add(tid)
                    rows.append(RawRow(_location(tid), ticket_row(t, reply, self._csat(tid))))
                yield Batch(rows, self._cursor(boundary, ids, rated), skipped, erase=erase)
                if not self._more(resp.headers, items):
                    break
                nxt = (last_ts or since) - timedelta(seconds=1)
                if nxt > since:
                    since, page = nxt, 1
                else:
                    page += 1  # a whole page within one second: step through that second's pages
            yield from self._rated_since_last_run(boundary, ids, rated, taken)
            yield from self._trash()
        finally:
            self.client.close()

    def _cursor(self, boundary: datetime | None, ids: set[str], rated: dict[str, Any]) -> str | None:
        if boundary is None and not rated:
            return None
        if boundary is None:  # ratings read but no ticket listed yet: the tickets resume from `since`
            state: dict[str, Any] = {"updated_at": _fmt(self.first_since + timedelta(seconds=1)), "ids": []}
        else:
            state = {"updated_at": _fmt(boundary), "ids": sorted(ids)}
        return json.dumps({**state, **rated}, separators=(",", ":"))

    # ---- CSAT: the satisfaction ratings list -------------------------------------------------
    def _rate(self, closed: list[tuple[str, dict[str, Any], str | None]]) -> None:
        """Read the ratings back to the oldest creation among these closed tickets (once per run and
        only further back when needed): a ticket's rating is created after the ticket."""
        created = []
        for _, t, _ in closed:
            try:
                created.append(_parse_ts(str(t["created_at"])))
            except (KeyError, ValueError, TypeError):
                created.append(self.first_since)
        if created:
            self._read_ratings(min(*created, self._ratings_floor))

    def _read_ratings(self, since: datetime) -> None:
        if self._no_surveys or (self._ratings_since is not None and self._ratings_since <= since):
            return
        page = 1
        while True:
            resp = self.client.get(
                RATINGS_PATH,
                {"created_since": _fmt(since - timedelta(seconds=1)), "per_page": MAX_PER_PAGE, "page": page},
                answers=(403, 404),
            )
            if resp.status in (403, 404):
                log.warning(
                    "%s: the satisfaction ratings list answered HTTP %s (surveys not enabled on this "
                    "account?): no CSAT stored",
                    self.name,
                    resp.status,
                )
                self._no_surveys = True
                return
            if not isinstance(resp.data, list):
                raise SourceError(f"source {self.name!r}: unexpected answer from {RATINGS_PATH} (not a list)")
            for r in resp.data:
                if isinstance(r, dict) and r.get("id") is not None and r.get("ticket_id") is not None:
                    self._ratings[str(r["id"])] = r
            if not self._more(resp.headers, resp.data, MAX_PER_PAGE):
                break
            page += 1
        self._ratings_since = since
        self._by_ticket = self._latest()

    def _latest(self) -> dict[str, dict[str, Any]]:
        """Each rated ticket's latest rating (by creation, then rating id)."""
        out: dict[str, dict[str, Any]] = {}
        for r in sorted(self._ratings.values(), key=lambda r: (str(r.get("created_at")), _int(r.get("id")))):
            out[str(r["ticket_id"])] = r
        return out

    def _csat(self, tid: str) -> float | None:
        r = self._by_ticket.get(tid)
        return None if r is None else csat_score(r)

    def _rated_since_last_run(
        self, boundary: datetime | None, ids: set[str], rated: dict[str, Any], taken: set[str]
    ) -> Iterator[Batch]:
        """Tickets rated since the last run that this run's pass did not store: fetched one by one
        and stored again with their rating, a page at a time. Then the ratings cursor moves past those
        ratings (a run stopped before that does them again: the same rows, stored unchanged)."""
        last = _parse_ts(rated["ratings_at"]) if rated else None
        seen_at_last = set(rated.get("rating_ids", [])) if rated else set()
        self._read_ratings(last or self.first_since)
        if self._no_surveys:
            return
        new = [r for r in self._ratings.values() if _new(r, last, seen_at_last)]
        latest = self._by_ticket
        rows: list[RawRow] = []
        skipped = 0
        for tid in sorted({str(r["ticket_id"]) for r in new} - taken, key=_int):
            resp = self.client.get(TICKET_PATH.format(tid), {"include": "stats"}, missing_ok=True)
            t = resp.data
            if not isinstance(t, dict) or t.get("deleted") or t.get("spam"):
                continue  # gone, or in the trash: the trash pass erases it
            if t.get("status") not in self.statuses:
                skipped += 1  # rated while open: its rating comes with it when it closes
                continue
            rows.append(
                RawRow(
                    _location(tid),
                    ticket_row(t, self._reply(tid) if self.replies else None, csat_score(latest[tid])),
                )
            )
            if len(rows) >= self.per_page:  # stored as they come; the cursor moves only at the end
                yield Batch(rows, None, skipped)
                rows, skipped = [], 0
        stamps = [
            (_parse_ts(str(r["created_at"])), str(r["id"]))
            for r in self._ratings.values()
            if _stamp(r) is not None
        ]
        if stamps:
            top = max(at for at, _ in stamps)
            if last is None or top > last:
                rated = {"ratings_at": _fmt(top), "rating_ids": sorted(i for at, i in stamps if at == top)}
            else:
                rated = {
                    "ratings_at": rated["ratings_at"],
                    "rating_ids": sorted(seen_at_last | {i for at, i in stamps if at == last}),
                }
        yield Batch(rows, self._cursor(boundary, ids, rated), skipped)

    def _reply(self, tid: str) -> str | None:
        """The agent's last public reply: ``/tickets/{id}/conversations``, pages of 100 (``link``
        header), rate-limited like every call; a ticket gone since it was listed (404) has none."""
        conversations: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.client.get(
                CONVERSATIONS_PATH.format(tid), {"per_page": MAX_PER_PAGE, "page": page}, missing_ok=True
            )
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
                params: dict[str, Any] = {
                    "filter": name,
                    "order_by": "updated_at",
                    "order_type": "asc",
                    "per_page": self.per_page,
                    "page": page,
                }
                if since:
                    params["updated_since"] = since
                resp = self.client.get(TICKETS_PATH, params, answers=(400,) if since else ())
                if resp.status == 400:
                    log.warning(
                        "%s: filter=%s with updated_since refused (HTTP 400); listing it without "
                        "(tickets created in the last 30 days)",
                        self.name,
                        name,
                    )
                    since, page = None, 1
                    continue
                items = resp.data
                if not isinstance(items, list):
                    raise SourceError(
                        f"source {self.name!r}: unexpected answer from {TICKETS_PATH}?filter={name} "
                        f"(not a list)"
                    )
                ids = [str(t["id"]) for t in items if isinstance(t, dict) and t.get("id") is not None]
                yield Batch([], None, erase=[Deletion(i, reason, _location(i)) for i in ids])
                if not self._more(resp.headers, items):
                    break
                page += 1
