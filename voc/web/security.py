"""Who may reach the workbench, and what its pages may do in a browser.

* **Bind.** :func:`check_bind`: a loopback address (127.0.0.1, ::1, localhost) is served without
  authentication; any other address (0.0.0.0, a LAN address, a host name) refuses to start unless
  ``VOC_WEB_TOKEN`` is set (at least :data:`TOKEN_MIN` characters).
* **Token.** With a token set, every request must carry it (:class:`TokenAuth`): as the password of
  HTTP Basic authentication (the browser asks once; any user name) or as ``Authorization: Bearer``.
  Never in a URL. One token, one role (read-only pages): viewer and editor roles come with the edit
  pages (issue #17).
* **Host.** Bound to loopback, only requests naming a loopback host are answered
  (:class:`LoopbackHostOnly`), so a web page elsewhere cannot reach the workbench by DNS rebinding.
* **Headers.** :class:`SecurityHeaders`: on every HTML page a Content-Security-Policy without any
  script source (the pages ship no JavaScript, so ticket text that slipped through escaping still
  could not run); on every response no framing, no referrer, no MIME sniffing, no caching.
* **Edits.** Every POST handler of the workbench starts with ``form = await check_edit(request)``
  (:func:`check_edit`): the one place an edit is allowed or refused (403). This minimal version
  refuses a request a browser marks as coming from another site (``Sec-Fetch-Site`` other than
  same-origin/none, or an ``Origin`` naming another host); the pages' forms also carry
  :func:`edit_token` as a hidden ``csrf_token`` field, empty here. The CSRF token check and the
  editor role (issue #17) belong in these two functions, so the handlers need not change.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, Headers, MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from voc.errors import VocError

TOKEN_MIN = 16
TOKEN_ENV = "VOC_WEB_TOKEN"
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse (a VocError: one line, exit 2) to serve a non-loopback address without a token."""
    if token is not None and len(token) < TOKEN_MIN:
        raise VocError(f"{TOKEN_ENV} is too short: use at least {TOKEN_MIN} random characters "
                       "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    if not is_loopback(host) and not token:
        raise VocError(f"refusing to serve on {host}: only localhost is served without authentication; "
                       f"set {TOKEN_ENV} (at least {TOKEN_MIN} characters) to bind another address")


def _presented(authorization: str | None) -> bytes | None:
    """The token an ``Authorization`` header carries (Bearer, or the Basic password), else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(b":")[2]
    return None


class TokenAuth:
    """ASGI middleware: every HTTP request carries the token, else 401 with a Basic challenge."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = _presented(Headers(scope=scope).get("authorization"))
            if given is None or not hmac.compare_digest(given, self.token):
                response = PlainTextResponse("authentication required\n", status_code=401, headers={
                    "WWW-Authenticate": 'Basic realm="voc web", charset="UTF-8"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(host_header: str) -> str:
    """The name of a Host header without its port: ``127.0.0.1:8800`` -> ``127.0.0.1``,
    ``[::1]:8800`` -> ``::1``."""
    h = host_header.strip()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else ""
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class LoopbackHostOnly:
    """ASGI middleware for a loopback bind: a request naming any other host (a DNS-rebinding page's
    own name) gets 400."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not is_loopback(host_name(Headers(scope=scope).get("host", ""))):
            await PlainTextResponse("invalid host header\n", status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if h.get("content-type", "").startswith("text/html"):  # a PDF brief opens in the viewer
                    h.setdefault("Content-Security-Policy", CSP)
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "no-referrer")
                h.setdefault("X-Frame-Options", "DENY")
                h.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


# --- edits ------------------------------------------------------------------------------------------

SAME_SITE = ("same-origin", "none")  # Sec-Fetch-Site values of a form on the workbench's own pages


def edit_token(request: Request) -> str:
    """The value of the hidden ``csrf_token`` field every edit form carries (empty in this minimal
    version: :func:`check_edit` then relies on the browser's origin headers alone)."""
    return ""


async def check_edit(request: Request) -> FormData:
    """Allow an edit (a POST from one of the workbench's own forms) and return its form, or raise
    ``HTTPException(403)``.

    Refused: a request a browser says came from another site (``Sec-Fetch-Site: cross-site`` or
    ``same-site``), or whose ``Origin`` names another host than the request's ``Host``. ``Origin:
    null`` is what a browser sends for a same-origin form under ``Referrer-Policy: no-referrer``,
    so it is judged by ``Sec-Fetch-Site`` alone. A request without either header is not from a
    browser page (curl, a test client): nothing to forge."""
    h = request.headers
    site = h.get("sec-fetch-site")
    if site is not None and site not in SAME_SITE:
        raise HTTPException(403, "edit refused: the request came from another site")
    origin = h.get("origin")
    if origin and origin != "null":
        host = origin.split("://", 1)[-1]
        if host.lower() != h.get("host", "").lower():
            raise HTTPException(403, "edit refused: the request came from another origin")
    elif origin == "null" and site is None:
        raise HTTPException(403, "edit refused: the request's origin is unknown")
    return await read_form(request)


FORM_MAX = 64 * 1024  # bytes of one edit form


async def read_form(request: Request) -> FormData:
    """The fields of an ``application/x-www-form-urlencoded`` body (what the pages' forms send), read
    here rather than by ``request.form()``, which needs python-multipart (not installed). Other
    bodies: 415; over :data:`FORM_MAX` bytes: 413."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX:
            raise HTTPException(413, "form too large")
    if body and kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "edits are sent as HTML forms (application/x-www-form-urlencoded)")
    try:
        fields: list[tuple[str, str | UploadFile]] = list(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return FormData(fields)
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not UTF-8") from None
