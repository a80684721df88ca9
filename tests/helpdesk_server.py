"""A real local HTTP server speaking (the parts we use of) Zendesk's and Freshdesk's ticket APIs.

It runs on 127.0.0.1 on a free port in a background thread, serves tickets from in-memory lists in
the documented JSON shapes (Zendesk cursor-based incremental export; Freshdesk list tickets with
``updated_since``/``page``/``per_page``, ``link`` header and rate-limit headers, view a ticket, the
satisfaction ratings list with ``created_since``), checks basic auth,
and can be told to misbehave on the next requests::

    srv.inject(None, "429", "500", "drop")   # request 1 normal, 2 -> 429, 3 -> 500, 4 -> cut mid-body

Faults: ``"429"`` (with Retry-After), ``"500"``, ``"503"``, ``"slow"`` (answers after ``slow_seconds``),
``"drop"`` (full headers, half the body, then the connection is closed), ``"reset"`` (closed before
any answer), ``"401"``, ``"spent"`` (normal answer reporting ``X-RateLimit-Remaining: 0``).
``hooks[n]`` runs before request n is answered (e.g. a ticket changes while the client pages).

Recorded answers (``../shared/data/helpdesk_fixtures``) are replayed by loading their ticket objects
unchanged (``load_zendesk``, ``load_freshdesk``) and serving them with the vendor's paging: Zendesk's
cursor export ordered by ``generated_timestamp`` with Zendesk's own cursor format, and its recorded
response headers (``zendesk_headers``, e.g. the rate-limit headers of a cassette) and gzip bodies;
Freshdesk's list with ``filter=deleted`` / ``filter=spam`` (deleted and spam tickets leave the
default list, as documented).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from sqlalchemy import Engine, select

from voc.sources.files import RawRow
from voc.sources.incremental import Batch, IncrementalSource
from voc.store.models import TicketRow

ZD_EMAIL, ZD_TOKEN = "agent@example.com", "zd-secret-token"
FD_KEY = "fd-secret-key"
EPOCH = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
FD_STATUS = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HelpdeskServer:
    def __init__(self, *, zendesk_page: int = 1000, retry_after: int = 7, slow_seconds: float = 1.0) -> None:
        self.zendesk: dict[int, dict[str, Any]] = {}
        self.freshdesk: dict[int, dict[str, Any]] = {}
        self.zendesk_page = zendesk_page
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.clock = EPOCH
        self.faults: list[str | None] = []
        self.log: list[tuple[str, dict[str, str], str | None]] = []
        self.hooks: dict[int, Any] = {}  # request number (1-based) -> callable run before answering it
        self.rate_total = 1000
        self.rate_used = 0
        self.rate_reset: str | None = None  # the IETF `ratelimit-reset` header (seconds), when set
        self.zendesk_headers: dict[str, str] = {}  # sent with every export answer (recorded headers)
        self.zendesk_pages: list[dict[str, Any]] = []  # recorded export answers served verbatim, first
        self.zendesk_metric_sets = True  # side-load metric_sets when asked (False: an export without them)
        self.zendesk_comments: dict[int, list[dict[str, Any]]] = {}  # ticket -> comments, oldest first
        self.zendesk_users: dict[int, dict[str, Any]] = {}  # side-loaded with the comments (role)
        self.freshdesk_conversations: dict[int, list[dict[str, Any]]] = {}  # ticket -> conversations
        self.freshdesk_ratings: list[dict[str, Any]] = []  # satisfaction ratings, as the surveys API has them
        self.freshdesk_surveys = True  # False: an account without surveys (the ratings list answers 403)
        self.freshdesk_filter_with_since = True  # False: an account answering 400 to filter + updated_since
        self.gzip = False  # gzip the answers when the client accepts it (as Zendesk does)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> HelpdeskServer:
        handler = type("Handler", (_Handler,), {"state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HelpdeskServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- data ------------------------------------------------------------------------------
    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def inject(self, *faults: str | None) -> None:
        with self._lock:
            self.faults.extend(faults)

    def add_zendesk(
        self,
        tid: int,
        status: str,
        *,
        subject: str = "",
        description: str | None = None,
        at: datetime | None = None,
        channel: str = "email",
        assignee: int | None = 501,
    ) -> dict:
        with self._lock:
            now = at or self.tick()
            t = {
                "id": tid,
                "url": f"/api/v2/tickets/{tid}.json",
                "created_at": _iso(now - timedelta(hours=3)),
                "updated_at": _iso(now),
                "generated_timestamp": int(now.timestamp()),
                "subject": subject or f"ticket {tid}",
                "description": description if description is not None else f"Customer problem number {tid}",
                "status": status,
                "via": {"channel": channel, "source": {}},
                "assignee_id": assignee,
                "tags": ["kx-30a"],
                "custom_fields": [{"id": 360001, "value": f"B24{tid % 10}"}],
            }
            t["_solved_at"] = _iso(now) if status in ("solved", "closed") else None
            self.zendesk[tid] = t
            return t

    def update_zendesk(self, tid: int, **changes: Any) -> dict:
        with self._lock:
            t = self.zendesk[tid]
            now = changes.pop("at", None) or self.tick()
            t.update(changes)
            t["updated_at"], t["generated_timestamp"] = _iso(now), int(now.timestamp())
            if t["status"] in ("solved", "closed") and not t.get("_solved_at"):
                t["_solved_at"] = _iso(now)
            elif t["status"] not in ("solved", "closed"):
                t["_solved_at"] = None
            return t

    def load_zendesk(self, tickets: Iterable[dict[str, Any]]) -> None:
        """Recorded ticket objects, unchanged (a later one with the same id replaces the earlier)."""
        with self._lock:
            for t in tickets:
                t = copy.deepcopy(t)
                metric = t.get("metric_set") if isinstance(t.get("metric_set"), dict) else {}
                t["_solved_at"] = metric.get("solved_at")
                self.zendesk[int(t["id"])] = t

    def load_freshdesk(self, tickets: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for t in tickets:
                self.freshdesk[int(t["id"])] = copy.deepcopy(t)

    def delete_freshdesk(self, tid: int, *, spam: bool = False) -> dict:
        """Move a ticket to the trash (``deleted: true``) or mark it spam: it leaves the default list."""
        with self._lock:
            t = self.freshdesk[tid]
            t["spam" if spam else "deleted"] = True
            t["updated_at"] = _iso(self.tick())
            return t

    def add_freshdesk(
        self,
        tid: int,
        status: str,
        *,
        subject: str = "",
        description: str | None = None,
        at: datetime | None = None,
        source: int = 3,
    ) -> dict:
        with self._lock:
            now = at or self.tick()
            text = description if description is not None else f"Customer problem number {tid}"
            t = {
                "id": tid,
                "subject": subject or f"ticket {tid}",
                "status": FD_STATUS[status],
                "priority": 1,
                "source": source,
                "responder_id": 9001,
                "created_at": _iso(now - timedelta(hours=2)),
                "updated_at": _iso(now),
                "tags": [],
                "custom_fields": {"cf_batch": f"B24{tid % 10}"},
                "description": f"<div>{text}</div>",
                "description_text": text,
                "stats": {
                    "resolved_at": _iso(now) if status in ("resolved", "closed") else None,
                    "closed_at": _iso(now) if status == "closed" else None,
                },
            }
            self.freshdesk[tid] = t
            return t

    def update_freshdesk(self, tid: int, **changes: Any) -> dict:
        with self._lock:
            t = self.freshdesk[tid]
            now = changes.pop("at", None) or self.tick()
            if "status" in changes:
                changes["status"] = FD_STATUS[changes["status"]]
                if changes["status"] in (4, 5) and not t["stats"]["resolved_at"]:
                    t["stats"]["resolved_at"] = _iso(now)
            if "description_text" in changes:
                changes["description"] = f"<div>{changes['description_text']}</div>"
            t.update(changes)
            t["updated_at"] = _iso(now)
            return t

    # ---- API answers -----------------------------------------------------------------------
    def zendesk_export(self, q: dict[str, str]) -> dict[str, Any]:
        per_page = min(int(q.get("per_page", self.zendesk_page)), 1000)
        with self._lock:
            items = sorted(self.zendesk.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        if "cursor" in q:  # Zendesk's own format: base64 of "<generated_timestamp>.0||<id>|"
            stamp, last = base64.urlsafe_b64decode(q["cursor"].encode()).decode().split("||")
            ts, tid = int(float(stamp)), int(last.rstrip("|"))
            items = [t for t in items if (t["generated_timestamp"], t["id"]) > (ts, tid)]
        else:
            start = int(q.get("start_time", "0"))
            items = [t for t in items if t["generated_timestamp"] >= start]
            ts, tid = start - 1, 2**62
        page = items[:per_page]
        if page:
            ts, tid = page[-1]["generated_timestamp"], page[-1]["id"]
        cursor = base64.urlsafe_b64encode(f"{ts}.0||{tid}|".encode()).decode()
        out: dict[str, Any] = {
            "tickets": [{k: v for k, v in t.items() if not k.startswith("_")} for t in page],
            "after_cursor": cursor,
            "before_cursor": None,
            "after_url": f"{self.url}/api/v2/incremental/tickets/cursor.json?cursor={cursor}",
            "before_url": None,
            "end_of_stream": len(items) <= per_page,
        }
        if "metric_sets" in q.get("include", "") and self.zendesk_metric_sets:
            out["metric_sets"] = [self.zendesk_metric(t) for t in page]
        return out

    @staticmethod
    def zendesk_metric(t: dict[str, Any]) -> dict[str, Any]:
        if isinstance(t.get("metric_set"), dict):
            return dict(t["metric_set"])
        return {
            "ticket_id": t["id"],
            "solved_at": t.get("_solved_at"),
            "created_at": t["created_at"],
            **t.get("_metric", {}),
        }

    def zendesk_ticket_comments(self, tid: int, q: dict[str, str]) -> dict[str, Any] | None:
        """``GET /api/v2/tickets/{id}/comments.json``, cursor-paged (``page[size]``, ``page[after]``),
        ``include=users`` side-loads the authors; a ticket without stored comments has its description."""
        with self._lock:
            t = self.zendesk.get(tid)
            if t is None:
                return None
            comments = self.zendesk_comments.get(tid) or [
                {
                    "id": tid * 100,
                    "type": "Comment",
                    "author_id": t.get("requester_id"),
                    "public": True,
                    "body": t.get("description"),
                    "plain_body": t.get("description"),
                    "created_at": t["created_at"],
                }
            ]
            size = min(int(q.get("page[size]", "100")), 100)
            start = int(q.get("page[after]", "0"))
            page = comments[start : start + size]
            more = start + size < len(comments)
            out: dict[str, Any] = {
                "comments": page,
                "meta": {"has_more": more, "after_cursor": str(start + size), "before_cursor": str(start)},
                "links": {
                    "next": f"{self.url}/api/v2/tickets/{tid}/comments.json?"
                    + urlencode({**q, "page[after]": start + size})
                    if more
                    else None,
                    "prev": None,
                },
            }
            if "users" in q.get("include", ""):
                ids = {c.get("author_id") for c in page}
                out["users"] = [u for i, u in self.zendesk_users.items() if i in ids]
            return out

    def freshdesk_ticket_conversations(
        self, tid: int, q: dict[str, str]
    ) -> tuple[list[dict], str | None] | None:
        """``GET /api/v2/tickets/{id}/conversations``: ``page``/``per_page`` (max 100), ``link`` header."""
        with self._lock:
            if tid not in self.freshdesk:
                return None
            items = self.freshdesk_conversations.get(tid, [])
        per_page = int(q.get("per_page", "30"))
        if per_page > 100:
            raise ValueError("per_page must be at most 100")
        page = int(q.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        link = None
        if page * per_page < len(items):
            link = f'<{self.url}/api/v2/tickets/{tid}/conversations?{urlencode({**q, "page": page + 1})}>; rel="next"'
        return chunk, link

    def rate_freshdesk(self, tid: int, value: int, *, feedback: str = "", at: datetime | None = None) -> dict:
        """A customer answers the survey of ticket ``tid`` (``ratings.default_question`` = value). The
        ticket itself does not change (the rating lives in the surveys API)."""
        with self._lock:
            now = at or self.tick()
            r = {
                "id": 5000 + len(self.freshdesk_ratings),
                "survey_id": 1,
                "user_id": 2,
                "agent_id": 9001,
                "feedback": feedback,
                "group_id": None,
                "ticket_id": tid,
                "ratings": {"default_question": value},
                "created_at": _iso(now),
                "updated_at": _iso(now),
            }
            self.freshdesk_ratings.append(r)
            return r

    def freshdesk_rating_list(self, q: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /api/v2/surveys/satisfaction_ratings``: ``created_since``, ``page``/``per_page`` (max 100),
        ``link`` header."""
        per_page = int(q.get("per_page", "30"))
        page = int(q.get("page", "1"))
        if per_page > 100:
            raise ValueError("per_page must be at most 100")
        since = (
            datetime.fromisoformat(q["created_since"].replace("Z", "+00:00"))
            if "created_since" in q
            else None
        )
        with self._lock:
            items = [
                copy.deepcopy(r)
                for r in self.freshdesk_ratings
                if since is None or datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) >= since
            ]
        items.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        chunk = items[(page - 1) * per_page : page * per_page]
        link = None
        if page * per_page < len(items):
            link = f'<{self.url}/api/v2/surveys/satisfaction_ratings?{urlencode({**q, "page": page + 1})}>; rel="next"'
        return chunk, link

    def freshdesk_ticket(self, tid: int, q: dict[str, str]) -> dict[str, Any] | None:
        """``GET /api/v2/tickets/{id}``: the ticket with its description; ``stats`` with ``include=stats``."""
        with self._lock:
            t = copy.deepcopy(self.freshdesk.get(tid))
        if t is not None and "stats" not in q.get("include", "").split(","):
            t.pop("stats", None)
        return t

    def freshdesk_list(self, q: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        per_page = int(q.get("per_page", "30"))
        page = int(q.get("page", "1"))
        if per_page > 100:
            raise ValueError("per_page must be at most 100")
        since = (
            datetime.fromisoformat(q["updated_since"].replace("Z", "+00:00"))
            if "updated_since" in q
            else self.clock - timedelta(days=30)
        )
        wanted = q.get("filter")
        if wanted not in (None, "deleted", "spam"):
            raise ValueError(f"filter {wanted!r} is not supported here")
        if wanted and "updated_since" in q and not self.freshdesk_filter_with_since:
            raise ValueError("updated_since cannot be used with filter")

        def listed(t: dict[str, Any]) -> bool:
            if wanted == "deleted":
                return bool(t.get("deleted"))
            if wanted == "spam":
                return bool(t.get("spam")) and not t.get("deleted")
            return not t.get("deleted") and not t.get("spam")

        with self._lock:
            items = [
                t
                for t in self.freshdesk.values()
                if datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) >= since and listed(t)
            ]
        items.sort(key=lambda t: (t["updated_at"], t["id"]), reverse=q.get("order_type", "desc") == "desc")
        chunk = items[(page - 1) * per_page : page * per_page]
        include = q.get("include", "").split(",")
        out = []
        for t in chunk:
            d = dict(t)
            if "description" not in include:
                d.pop("description", None), d.pop("description_text", None)
            if "stats" not in include:
                d.pop("stats", None)
            out.append(d)
        link = None
        if page * per_page < len(items):
            link = f'<{self.url}/api/v2/tickets?{urlencode({**q, "page": page + 1})}>; rel="next"'
        return out, link


class _Handler(BaseHTTPRequestHandler):
    state: HelpdeskServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, cut: bool = False
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if self.state.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(data)

    def _authorised(self, user: str, password: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            got = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        return got == f"{user}:{password}"

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        s = self.state
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        with s._lock:
            fault = s.faults.pop(0) if s.faults else None
            s.log.append((u.path, q, fault))
            hook = s.hooks.pop(len(s.log), None)
        if hook is not None:
            hook()
        try:
            if fault == "reset":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(s.slow_seconds)
            if fault == "429":
                return self._send(429, {"error": "too many requests"}, {"Retry-After": str(s.retry_after)})
            if fault in ("500", "503"):
                return self._send(int(fault), {"error": "internal error"})
            if u.path == "/api/v2/incremental/tickets/cursor.json":
                if fault == "401" or not self._authorised(f"{ZD_EMAIL}/token", ZD_TOKEN):
                    return self._send(401, {"error": "Couldn't authenticate you"})
                with s._lock:
                    answer = s.zendesk_pages.pop(0) if s.zendesk_pages else None
                return self._send(
                    200, answer or s.zendesk_export(q), dict(s.zendesk_headers), cut=fault == "drop"
                )
            zd = re.fullmatch(r"/api/v2/tickets/(\d+)/(comments|metrics)\.json", u.path)
            if zd:
                if fault == "401" or not self._authorised(f"{ZD_EMAIL}/token", ZD_TOKEN):
                    return self._send(401, {"error": "Couldn't authenticate you"})
                tid = int(zd.group(1))
                if zd.group(2) == "metrics":
                    t = s.zendesk.get(tid)
                    answer = None if t is None else {"ticket_metric": s.zendesk_metric(t)}
                else:
                    answer = s.zendesk_ticket_comments(tid, q)
                if answer is None:
                    return self._send(404, {"error": "RecordNotFound", "description": "Not found"})
                return self._send(200, answer, dict(s.zendesk_headers), cut=fault == "drop")
            fd = re.fullmatch(r"/api/v2/tickets/(\d+)/conversations", u.path)
            one = re.fullmatch(r"/api/v2/tickets/(\d+)", u.path)
            ratings = u.path == "/api/v2/surveys/satisfaction_ratings"
            if u.path == "/api/v2/tickets" or fd or one or ratings:
                if fault == "401" or not self._authorised(FD_KEY, "X"):
                    return self._send(
                        401,
                        {
                            "code": "invalid_credentials",
                            "message": "You have to be logged in to perform this action.",
                        },
                    )
                try:
                    if fd:
                        found = s.freshdesk_ticket_conversations(int(fd.group(1)), q)
                        if found is None:
                            return self._send(404, {"code": "not_found"})
                        body, link = found
                    elif one:
                        body, link = s.freshdesk_ticket(int(one.group(1)), q), None
                        if body is None:
                            return self._send(404, {"code": "not_found"})
                    elif ratings:
                        if not s.freshdesk_surveys:
                            return self._send(
                                403,
                                {
                                    "code": "require_feature",
                                    "message": "The Surveys feature(s) is/are not supported",
                                },
                            )
                        body, link = s.freshdesk_rating_list(q)
                    else:
                        body, link = s.freshdesk_list(q)
                except ValueError as e:
                    return self._send(400, {"description": "Validation failed", "errors": [str(e)]})
                s.rate_used += 1
                headers = {
                    "X-RateLimit-Total": str(s.rate_total),
                    "X-RateLimit-Remaining": "0" if fault == "spent" else str(s.rate_total - s.rate_used),
                    "X-RateLimit-Used-CurrentRequest": "1",
                }
                if s.rate_reset is not None:
                    headers["ratelimit-reset"] = s.rate_reset
                if link:
                    headers["link"] = link
                return self._send(200, body, headers, cut=fault == "drop")
            return self._send(404, {"error": "InvalidEndpoint"})
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (timeout): nothing to do


# ---- helpers shared by the source tests ------------------------------------------------------


def stored(engine: Engine, source: str) -> dict[str, tuple[str | None, str, str]]:
    """ticket id -> (status, body, content hash) as stored."""
    with engine.connect() as c:
        rows = c.execute(
            select(TicketRow.source_id, TicketRow.status, TicketRow.body, TicketRow.content_hash).where(
                TicketRow.source == source
            )
        ).all()
    out = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert len(out) == len(rows)
    return out


class KillAfter:
    """Wraps a real source; raises inside a batch once ``rows`` rows have been handed over."""

    def __init__(self, inner: IncrementalSource, rows: int) -> None:
        self.inner, self.rows, self.name = inner, rows, inner.name

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        n = 0

        def limited(rows: Iterable[RawRow]) -> Iterator[RawRow]:
            nonlocal n
            for r in rows:
                if n == self.rows:
                    raise RuntimeError("killed mid-batch")
                n += 1
                yield r

        for b in self.inner.batches(watermark):
            yield Batch(limited(b.rows), b.cursor, b.skipped, erase=b.erase)
