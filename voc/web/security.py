"""Who may reach the workbench, and what its pages may do in a browser.

* **Bind.** :func:`check_bind`: a loopback address (127.0.0.1, ::1, localhost) is served without
  authentication; any other address (0.0.0.0, a LAN address, a host name) refuses to start unless
  ``VOC_WEB_TOKEN`` or ``VOC_WEB_EDITOR_TOKEN`` is set (at least :data:`TOKEN_MIN` characters each).
* **Roles.** Two: *viewer* (reads every page) and *editor* (also edits: the topics page, action
  items...). With a token set, every request must carry one (:class:`TokenAuth`): as the password
  of HTTP Basic authentication (the browser asks once; the user name, if any, is who the edit log
  records) or as ``Authorization: Bearer``; never in a URL. ``VOC_WEB_TOKEN`` grants viewer,
  ``VOC_WEB_EDITOR_TOKEN`` editor. Without any token (only possible on loopback) the local user is
  an editor, recorded as ``local``. :func:`role` and :func:`who` read what a request was granted.
* **CSRF.** Every edit is a POST of a plain HTML form (no JavaScript) and must pass
  :func:`require_edit`: the editor role and a valid CSRF token, else 403. The token
  (:func:`csrf_token`, put in every form as ``<input type="hidden" name="csrf">``) is an HMAC-SHA256
  (stdlib ``hmac``) under a per-process random key of a random nonce held in an HttpOnly,
  SameSite=Strict cookie (:class:`CsrfCookie`) and of the request's principal (role and user): a
  page elsewhere can neither read it nor forge it, and a viewer's token is not an editor's.
  Restarting ``voc web`` invalidates open forms (reload the page).
* **Host.** Bound to loopback, only requests naming a loopback host are answered
  (:class:`LoopbackHostOnly`), so a web page elsewhere cannot reach the workbench by DNS rebinding.
* **Headers.** :class:`SecurityHeaders`: on every HTML page a Content-Security-Policy without any
  script source (the pages ship no JavaScript, so ticket text that slipped through escaping still
  could not run); on every response no framing, no referrer, no MIME sniffing, no caching.
* **Edits.** Every POST handler of the workbench starts with the one gate: ``form = await
  require_edit(request)`` (the topics pages) or ``form = await check_edit(request)`` (the action
  items and operations pages), which first refuses a request a browser marks as coming from another
  site (``Sec-Fetch-Site`` other than same-origin/none, or an ``Origin`` naming another host:
  defence in depth on top of the SameSite cookie) and then calls :func:`require_edit`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from voc.errors import VocError

TOKEN_MIN = 16
TOKEN_ENV = "VOC_WEB_TOKEN"
EDITOR_TOKEN_ENV = "VOC_WEB_EDITOR_TOKEN"
VIEWER, EDITOR = "viewer", "editor"
LOCAL = "local"  # who an edit is recorded as when no token is configured (loopback only)
CSRF_FIELD = "csrf"  # the form field carrying the token
CSRF_COOKIE = "voc_csrf"
FORM_MAX = 256 * 1024  # bytes of one edit form
CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, editor_token: str | None = None) -> None:
    """Refuse (a VocError: one line, exit 2) to serve a non-loopback address without a token, a token
    that is too short, or one token for both roles."""
    for name, value in ((TOKEN_ENV, token), (EDITOR_TOKEN_ENV, editor_token)):
        if value is not None and len(value) < TOKEN_MIN:
            raise VocError(
                f"{name} is too short: use at least {TOKEN_MIN} random characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
    if token and editor_token and hmac.compare_digest(token.encode(), editor_token.encode()):
        raise VocError(
            f"{TOKEN_ENV} and {EDITOR_TOKEN_ENV} must differ (one grants viewing, the other editing)"
        )
    if not is_loopback(host) and not (token or editor_token):
        raise VocError(
            f"refusing to serve on {host}: only localhost is served without authentication; "
            f"set {TOKEN_ENV} (viewer) or {EDITOR_TOKEN_ENV} (editor), at least {TOKEN_MIN} "
            "characters, to bind another address"
        )


def _presented(authorization: str | None) -> tuple[bytes, str] | None:
    """(the token, the user name) an ``Authorization`` header carries (Bearer: no user name; Basic:
    the password and the user name), else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode(), ""
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        user, _, password = decoded.partition(b":")
        return password, user.decode("utf-8", "replace")
    return None


def _clean_user(name: str) -> str:
    """A Basic user name as the edit log records it: printable, at most 60 characters."""
    return "".join(ch for ch in name if ch.isprintable()).strip()[:60]


class TokenAuth:
    """ASGI middleware: every HTTP request carries a configured token, else 401 with a Basic
    challenge. The role it grants (``token``: viewer, ``editor_token``: editor) and the Basic user
    name go in the scope (:func:`role`, :func:`who`)."""

    def __init__(self, app: Any, token: str | None = None, editor_token: str | None = None) -> None:
        self.app = app
        self.tokens = [(t.encode(), r) for t, r in ((editor_token, EDITOR), (token, VIEWER)) if t]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = _presented(Headers(scope=scope).get("authorization"))
            granted = None
            if given is not None:
                for tok, r in self.tokens:  # compare with every token: the time does not tell which
                    if hmac.compare_digest(given[0], tok):
                        granted = r
            if granted is None:
                response = PlainTextResponse(
                    "authentication required\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="voc web", charset="UTF-8"'},
                )
                await response(scope, receive, send)
                return
            scope["voc.role"] = granted
            scope["voc.user"] = _clean_user(given[1]) if given else ""
        await self.app(scope, receive, send)


def role(request: Request) -> str:
    """The request's role: what its token granted, else (no token configured) editor."""
    return str(request.scope.get("voc.role", EDITOR))


def who(request: Request) -> str:
    """Who the edit log records: ``local`` without tokens, else the role and the Basic user name
    (``editor``, ``editor:alice``)."""
    if "voc.role" not in request.scope:
        return LOCAL
    user = request.scope.get("voc.user") or ""
    return f"{request.scope['voc.role']}:{user}" if user else str(request.scope["voc.role"])


# --- CSRF --------------------------------------------------------------------------------------------


class CsrfCookie:
    """ASGI middleware: gives every browser a random nonce in an HttpOnly, SameSite=Strict cookie
    (read into the scope for :func:`csrf_token`), and holds the app's per-process HMAC key."""

    def __init__(self, app: Any, key: bytes | None = None) -> None:
        self.app = app
        self.key = key or secrets.token_bytes(32)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        try:
            cookie.load(Headers(scope=scope).get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed Cookie header is no nonce
            cookie = SimpleCookie()
        nonce = cookie[CSRF_COOKIE].value if CSRF_COOKIE in cookie else ""
        fresh = not (16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum())
        if fresh:
            nonce = secrets.token_urlsafe(24)
        scope["voc.csrf"] = (self.key, nonce)

        async def with_cookie(message: Any) -> None:
            if fresh and message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "Set-Cookie", f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict"
                )
            await send(message)

        await self.app(scope, receive, with_cookie)


def _csrf_for(request: Request, nonce: str) -> str:
    key = request.scope["voc.csrf"][0]
    msg = f"{nonce}|{role(request)}|{who(request)}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode().rstrip("=")


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser and principal, for ``<input type="hidden" name="csrf">`` in
    every edit form (the page context carries it as ``csrf``)."""
    return _csrf_for(request, request.scope["voc.csrf"][1])


async def read_form(request: Request) -> dict[str, list[str]]:
    """The url-encoded body of a form POST (at most :data:`FORM_MAX` bytes) as name -> values; any
    other body (JSON, multipart, none) as no fields: an edit's CSRF check then refuses it."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX:
            raise HTTPException(413, "form too large")
    out: dict[str, list[str]] = {}
    for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        out.setdefault(k, []).append(v)
    return out


async def require_edit(request: Request) -> dict[str, list[str]]:
    """Every POST route's first line: a same-site request (:func:`check_origin`), the editor role and
    a valid CSRF token in the form, else 403 (HTTPException). Returns the form (name -> values)."""
    check_origin(request)
    if role(request) != EDITOR:
        raise HTTPException(403, "editing needs the editor role (VOC_WEB_EDITOR_TOKEN)")
    form = await read_form(request)
    given = (form.get(CSRF_FIELD) or [""])[0]
    if not given or not hmac.compare_digest(given.encode(), csrf_token(request).encode()):
        raise HTTPException(403, "invalid or missing CSRF token: reload the page and try again")
    return form


def host_name(host_header: str) -> str:
    """The name of a Host header without its port: ``127.0.0.1:8800`` -> ``127.0.0.1``,
    ``[::1]:8800`` -> ``::1``."""
    h = host_header.strip()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else ""
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


def check_origin(request: Request) -> None:
    """Refuse (``HTTPException(403)``) an edit a browser says came from another site
    (``Sec-Fetch-Site: cross-site`` or ``same-site``), or whose ``Origin`` names another host than the
    request's ``Host``. ``Origin: null`` is what a browser sends for a same-origin form under
    ``Referrer-Policy: no-referrer``, so it is judged by ``Sec-Fetch-Site`` alone. A request without
    either header (curl, a test client) still needs the role and the token (:func:`require_edit`)."""
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


async def check_edit(request: Request) -> FormData:
    """:func:`require_edit` (origin, editor role, CSRF token) with the form as a Starlette
    ``FormData`` (one value per ``get``), for the action and operations pages."""
    form = await require_edit(request)
    return FormData([(k, v) for k, vs in form.items() for v in vs])
