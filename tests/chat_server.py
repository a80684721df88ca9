"""A local stand-in for the chat robots' webhook endpoints, for tests.

Paths mirror the vendors' so the senders use their real URL shapes::

    POST /slack/services/<token>                         Slack incoming webhook   -> "ok"
    POST /dingtalk/robot/send?access_token=T[&timestamp&sign]                     -> {"errcode": 0}
    POST /wecom/cgi-bin/webhook/send?key=K                                        -> {"errcode": 0}
    POST /feishu/open-apis/bot/v2/hook/<token>  (timestamp + sign in the body)    -> {"code": 0}

Every request is checked the way the vendor checks it (JSON shape, message type, size limit,
DingTalk/Feishu signatures with the secret registered for the token) and answered with the
vendor's error code when wrong. ``fail(prefix, *actions)`` queues faults for the next requests
on a path: ``"429"`` (with Retry-After: 0), ``"500"``, ``"timeout"`` (answers after ``delay``
seconds), ``"busy"`` (HTTP 200 with the vendor's rate-limit error code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    vendor: str
    path: str
    query: dict[str, str]
    raw: bytes
    body: Any
    accepted: bool
    problem: str = ""


@dataclass
class ChatServer:
    secrets: dict[str, str] = field(default_factory=dict)  # token -> signing secret (DingTalk, Feishu)
    delay: float = 2.0  # how long a "timeout" fault waits before answering
    requests: list[Received] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> ChatServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                server._handle(self)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def base(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail(self, prefix: str, *actions: str) -> None:
        with self.lock:
            self.faults.setdefault(prefix, []).extend(actions)

    def accepted(self, vendor: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.accepted and (vendor is None or r.vendor == vendor)]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()

    # -- URLs the senders are configured with (these go into environment variables) --------
    def slack_url(self, token: str) -> str:
        return f"{self.base}/slack/services/{token}"

    def dingtalk_url(self, token: str) -> str:
        return f"{self.base}/dingtalk/robot/send?access_token={token}"

    def wecom_url(self, key: str) -> str:
        return f"{self.base}/wecom/cgi-bin/webhook/send?key={key}"

    def feishu_url(self, token: str) -> str:
        return f"{self.base}/feishu/open-apis/bot/v2/hook/{token}"

    # -- handling --------------------------------------------------------------------------
    def _next_fault(self, path: str) -> str | None:
        with self.lock:
            for prefix, queue in self.faults.items():
                if path.startswith(prefix) and queue:
                    return queue.pop(0)
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        vendor = parts.path.strip("/").split("/")[0]
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        fault = self._next_fault(parts.path)
        rec = Received(vendor, parts.path, query, raw, body, accepted=False, problem=fault or "")
        with self.lock:
            self.requests.append(rec)
        if fault == "timeout":
            time.sleep(self.delay)
        if fault in ("429", "500", "timeout"):
            code = int(fault) if fault != "timeout" else 504
            return self._reply(
                h,
                code,
                "rate limited" if code == 429 else "server error",
                {"Retry-After": "0"} if code == 429 else None,
            )
        if fault == "busy":
            busy = {
                "dingtalk": {"errcode": 130101, "errmsg": "send too fast"},
                "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
                "feishu": {"code": 11232, "msg": "frequency limited"},
            }.get(vendor, {"errcode": -1})
            return self._reply(h, 200, busy)
        check = getattr(self, f"_check_{vendor}", None)
        if check is None or body is None:
            return self._reply(
                h, 404 if check is None else 400, "no_service" if check is None else "invalid_payload"
            )
        problem, reply = check(parts.path, query, body)
        rec.accepted, rec.problem = problem is None, problem or ""
        status = 200
        if vendor == "slack" and problem:
            status = 400
        return self._reply(h, status, reply)

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a "timeout" fault)
            pass

    # vendor checks: (problem or None, reply body)
    def _check_slack(self, path: str, query: dict[str, str], body: Any) -> tuple[str | None, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return "slack: no text", "invalid_payload"
        return None, "ok"

    def _check_dingtalk(self, path: str, query: dict[str, str], body: Any) -> tuple[str | None, Any]:
        token = query.get("access_token", "")
        secret = self.secrets.get(token)
        if secret is not None:
            ts = query.get("timestamp", "")
            if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600_000:
                return "dingtalk: bad timestamp", {"errcode": 310000, "errmsg": "invalid timestamp"}
            digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
            if query.get("sign") != base64.b64encode(digest).decode():  # parse_qsl already URL-decoded it
                return "dingtalk: bad sign", {"errcode": 310000, "errmsg": "sign not match"}
        mt = body.get("msgtype") if isinstance(body, dict) else None
        if mt == "markdown":
            md = body.get("markdown") or {}
            if not (
                isinstance(md.get("title"), str)
                and md["title"]
                and isinstance(md.get("text"), str)
                and md["text"].strip()
            ):
                return "dingtalk: markdown needs title and text", {
                    "errcode": 40035,
                    "errmsg": "缺少参数 markdown",
                }
        elif mt == "text":
            if not (body.get("text") or {}).get("content"):
                return "dingtalk: text needs content", {"errcode": 40035, "errmsg": "缺少参数 text"}
        else:
            return "dingtalk: bad msgtype", {"errcode": 40035, "errmsg": "不合法的msgtype"}
        if len(json.dumps(body, ensure_ascii=False).encode()) > 20_000:
            return "dingtalk: too long", {"errcode": 460101, "errmsg": "message too long"}
        return None, {"errcode": 0, "errmsg": "ok"}

    def _check_wecom(self, path: str, query: dict[str, str], body: Any) -> tuple[str | None, Any]:
        if not query.get("key"):
            return "wecom: no key", {"errcode": 93000, "errmsg": "invalid webhook url"}
        if not isinstance(body, dict) or body.get("msgtype") not in ("markdown", "text"):
            return "wecom: bad msgtype", {"errcode": 40008, "errmsg": "invalid message type"}
        content = (body.get(body["msgtype"]) or {}).get("content")
        if not isinstance(content, str) or not content.strip():
            return "wecom: no content", {"errcode": 44004, "errmsg": "empty content"}
        limit = 4096 if body["msgtype"] == "markdown" else 2048
        if len(content.encode("utf-8")) > limit:
            return "wecom: content too long", {"errcode": 40058, "errmsg": "content exceed max length"}
        return None, {"errcode": 0, "errmsg": "ok"}

    def _check_feishu(self, path: str, query: dict[str, str], body: Any) -> tuple[str | None, Any]:
        token = path.rstrip("/").rsplit("/", 1)[-1]
        secret = self.secrets.get(token)
        if not isinstance(body, dict):
            return "feishu: not an object", {"code": 9499, "msg": "Bad Request"}
        if secret is not None:
            ts = str(body.get("timestamp", ""))
            if not ts.isdigit() or abs(time.time() - int(ts)) > 3600:
                return "feishu: bad timestamp", {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }  # noqa: E501
            digest = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
            if body.get("sign") != base64.b64encode(digest).decode():
                return "feishu: bad sign", {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }  # noqa: E501
        mt = body.get("msg_type")
        if mt == "post":
            post = (body.get("content") or {}).get("post") or {}
            lang = next(iter(post.values()), None) if post else None
            if not (
                isinstance(lang, dict)
                and isinstance(lang.get("title"), str)
                and isinstance(lang.get("content"), list)
                and all(
                    isinstance(line, list)
                    and all(
                        isinstance(el, dict) and el.get("tag") == "text" and isinstance(el.get("text"), str)
                        for el in line
                    )
                    for line in lang["content"]
                )
            ):
                return "feishu: bad post", {"code": 9499, "msg": "Bad Request"}
        elif mt == "text":
            if not (body.get("content") or {}).get("text"):
                return "feishu: no text", {"code": 9499, "msg": "Bad Request"}
        else:
            return "feishu: bad msg_type", {"code": 19002, "msg": "params error, msg_type need"}
        return None, {"code": 0, "msg": "success", "data": {}}


# ---------------------------------------------------------------------------------------------
# A real local SMTP server (aiosmtpd) with STARTTLS and AUTH, for the e-mail channel
# ---------------------------------------------------------------------------------------------


def self_signed_cert(folder: Any) -> tuple[str, str]:
    """A throw-away certificate for 127.0.0.1 (cert path, key path)."""
    import datetime as dt
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class MailServer:
    """aiosmtpd on 127.0.0.1 (free port): STARTTLS required (or, ``implicit_tls``, TLS from the first
    byte as on port 465), AUTH LOGIN/PLAIN with one user.

    ``messages`` holds the parsed e-mails (``email.message.EmailMessage``); RCPT TO addresses in
    ``refuse`` get a permanent 550.
    """

    def __init__(
        self, folder: Any, user: str = "voc", password: str = "smtp-pass-Zq81", implicit_tls: bool = False
    ):
        import socket
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.user, self.password = user, password
        self.cert, key = self_signed_cert(folder)
        self.messages: list[Any] = []
        self.raw: list[bytes] = []
        self.refuse: set[str] = set()
        server = self

        class Handler:
            async def handle_RCPT(
                self,
                srv: Any,
                session: Any,
                envelope: Any,
                address: str,  # noqa: N802
                rcpt_options: Any,
            ) -> str:
                if address in server.refuse:
                    return "550 5.1.1 mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                import email
                import email.policy

                server.raw.append(envelope.content)
                server.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)
                )
                return "250 OK"

        def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            ok = (
                getattr(auth_data, "login", b"") == user.encode()
                and getattr(auth_data, "password", b"") == password.encode()
            )
            return AuthResult(success=ok, handled=False)

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert, key)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.implicit_tls = implicit_tls
        if implicit_tls:
            # auth_require_tls=False: aiosmtpd 1.4 on Python 3.11 does not see an implicit-TLS transport as
            # TLS and would not offer AUTH; every byte of this connection is TLS anyway
            self.controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=self.port,
                ssl_context=tls,
                auth_required=True,
                auth_require_tls=False,
                authenticator=authenticator,
            )
        else:
            self.controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=self.port,
                tls_context=tls,
                require_starttls=True,
                auth_required=True,
                auth_require_tls=True,
                authenticator=authenticator,
            )

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def client_tls(self) -> Any:
        import ssl

        return ssl.create_default_context(cafile=self.cert)

    def channel(self, **kw: Any) -> Any:
        from voc.delivery.channels import SmtpChannel

        return SmtpChannel(
            host="127.0.0.1",
            port=self.port,
            sender="voc@hearth.example",
            user=self.user,
            password=self.password,
            starttls=True,
            timeout=5,
            ssl_context=self.client_tls(),
            **kw,
        )

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        self.messages.clear()
        self.raw.clear()
