"""A small JSON-over-HTTP client shared by the helpdesk sources, with bounded, honest retries.

* 429: sleep for ``Retry-After`` (seconds or an HTTP date), then retry (bounded).
* 5xx, timeouts, refused / dropped connections, truncated bodies: exponential backoff, bounded.
* 401 / 403: a :class:`voc.errors.SourceError` naming the source and what to check. No retry.
* other 4xx: a SourceError with the status and the start of the body.

``sleep`` is injectable so tests run fast and can assert on the waits.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from voc.errors import SourceError

log = logging.getLogger(__name__)

RETRY_STATUS = {500, 502, 503, 504, 520, 522, 524}


def since_datetime(text: str) -> datetime:
    """A connector's ``since`` option given as an ISO date/time ("2026-11-01", "...T08:00:00Z"); no
    zone = UTC. The one parser of the Zendesk, 七鱼 and 智齿 connectors (each reads epochs itself)."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"since: not an ISO date/time: {text!r}") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def since_ms(since: str | None, now: datetime, first_days: int) -> int:
    """``since`` as epoch milliseconds (13 digits: milliseconds, other digits: seconds, else ISO);
    none = ``first_days`` before ``now``. For the APIs that take millisecond times (七鱼, 智齿)."""
    if not since:
        return int((now - timedelta(days=first_days)).timestamp() * 1000)
    text = since.strip()
    if text.isdigit():
        return int(text) if len(text) == 13 else int(text) * 1000
    return int(since_datetime(text).timestamp() * 1000)


@dataclass
class RetryPolicy:
    max_attempts: int = 6  # for 5xx / network errors: attempts in a row, then give up
    max_rate_limited: int = 20  # 429s in a row before giving up
    backoff: float = 1.0  # first wait; doubles each time
    max_backoff: float = 60.0
    max_retry_after: float = 900.0  # never wait longer than this on one Retry-After


@dataclass
class Response:
    status: int
    data: Any
    headers: Mapping[str, str]
    url: str


@dataclass
class HttpClient:
    """GET JSON from one service; errors are SourceErrors naming ``source``."""

    source: str
    base_url: str
    auth: tuple[str, str] | None = None
    auth_hint: str = "the credentials"
    timeout: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    headers: dict[str, str] = field(default_factory=dict)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                auth=self.auth,
                timeout=self.timeout,
                headers={"Accept": "application/json", **self.headers},
                follow_redirects=False,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, what: str) -> SourceError:
        return SourceError(f"source {self.source!r}: {what}")

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        missing_ok: bool = False,
        answers: Collection[int] = (),
        raw: bool = False,
    ) -> Response:
        """GET ``url`` (absolute, or relative to base_url) and decode JSON, retrying what is transient.
        With ``missing_ok`` a 404 (e.g. a ticket deleted since it was listed) is an answer with data None;
        so is any status in ``answers`` (e.g. 400 when the caller has another way to ask). With ``raw``
        the answer's data is its bytes (a file to download), not decoded."""
        return self.request("GET", url, params, missing_ok=missing_ok, answers=answers, raw=raw)

    def post(
        self,
        url: str,
        content: bytes,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        *,
        content_type: str = "application/json;charset=utf-8",
    ) -> Response:
        """POST ``content`` and decode the JSON answer, with the same retries as :meth:`get`. ``params``
        may be a function: it is called again for every attempt, so a signature that carries the time
        (valid for minutes) is fresh after a long Retry-After."""
        return self.request("POST", url, params, content=content, headers={"Content-Type": content_type})

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        answers: Collection[int] = (),
        raw: bool = False,
    ) -> Response:
        failures = 0
        limited = 0
        while True:
            wait: float
            try:
                query = params() if callable(params) else params
                r = self._http().request(method, url, params=query, content=content, headers=headers)
                body = r.content  # read fully inside the try: a dropped connection raises here
            except httpx.TransportError as e:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise self._fail(
                        f"{type(e).__name__} talking to {self.base_url} after {failures} attempts: {e}"
                    ) from None
                wait = self._backoff(failures)
                log.warning(
                    "%s: %s on %s, retry %d in %.1fs", self.source, type(e).__name__, url, failures, wait
                )
                self.sleep(wait)
                continue
            status = r.status_code
            if (
                status in (401, 403) and status not in answers
            ):  # a caller may expect a 403 (a missing feature)
                word = "rejected the credentials" if status == 401 else "refused access"
                raise self._fail(f"{self.base_url} {word} (HTTP {status}); check {self.auth_hint}")
            if status == 429:
                limited += 1
                if limited > self.policy.max_rate_limited:
                    raise self._fail(
                        f"still rate-limited (HTTP 429) after {limited - 1} waits; "
                        f"try again later or lower the request rate"
                    )
                wait = self._retry_after(r.headers) or self._backoff(limited)
                log.warning("%s: rate-limited, waiting %.1fs", self.source, wait)
                self.sleep(wait)
                continue
            if status in RETRY_STATUS:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise self._fail(
                        f"{self.base_url} answered HTTP {status} {failures} times in a row; "
                        f"the service may be down, try again later"
                    )
                wait = self._retry_after(r.headers) or self._backoff(failures)
                log.warning("%s: HTTP %d on %s, retry %d in %.1fs", self.source, status, url, failures, wait)
                self.sleep(wait)
                continue
            if (status == 404 and missing_ok) or status in answers:
                return Response(status, None, r.headers, str(r.url))
            if status >= 400:
                snippet = body[:200].decode("utf-8", "replace").replace("\n", " ")
                raise self._fail(f"HTTP {status} from {r.url}: {snippet}")
            if raw:
                self._respect_rate_headers(r.headers)
                return Response(status, body, r.headers, str(r.url))
            try:
                data = json.loads(body)
            except ValueError:
                # a body cut short without a protocol error (no Content-Length): treat as transient
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise self._fail(f"{r.url} returned invalid JSON {failures} times in a row") from None
                self.sleep(self._backoff(failures))
                continue
            self._respect_rate_headers(r.headers)
            return Response(status, data, r.headers, str(r.url))

    def _backoff(self, n: int) -> float:
        return min(self.policy.max_backoff, self.policy.backoff * 2 ** (n - 1))

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        value = headers.get("Retry-After")
        if not value:
            return None
        value = value.strip()
        try:
            secs = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            secs = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, min(secs, self.policy.max_retry_after))

    def _respect_rate_headers(self, headers: Mapping[str, str]) -> None:
        """If the service says the budget is spent, wait before the next call instead of earning a 429."""
        remaining = headers.get("X-RateLimit-Remaining") or headers.get("X-Rate-Limit-Remaining")
        if remaining is None:
            return
        try:
            left = int(float(remaining))
        except ValueError:
            return
        if left > 0:
            return
        wait = self._retry_after(headers)
        if wait is None:
            reset = headers.get("ratelimit-reset")  # IETF draft header: seconds until the window resets
            try:
                wait = min(float(reset), self.policy.max_retry_after) if reset else 60.0
            except ValueError:
                wait = 60.0
        log.info("%s: rate-limit budget spent, pausing %.1fs", self.source, wait)
        self.sleep(wait)
