"""Team-chat robots over plain httpx: Slack incoming webhook, DingTalk, WeCom, Feishu/Lark.

Why not apprise (installed, and good at many services): its Slack, DingTalk, WeCom (wecombot),
Feishu and Lark plugins post to hard-coded vendor hosts, so they cannot be pointed at a local test
server without patching class attributes; its Feishu/Lark plugins do not sign requests; and it
reports a bare True/False, so a 429 with Retry-After, a 5xx and a rejected signature all look the
same — we need that difference to retry the first two and record the third as permanent. Each
robot here is ~20 lines against its documented webhook API, and the webhook URL comes from the
environment as-is, so a proxy or a private deployment (Lark, DingTalk on-premises) just works.

Secrets: the webhook URL (it carries the token) and the signing secret are never logged, never
put in an error message and never part of a payload. httpx logs each request URL at INFO level,
so its loggers are held at WARNING here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from voc.delivery.message import DeliveryError, Message

for _name in ("httpx", "httpcore"):  # they log full request URLs (= webhook tokens) at INFO/DEBUG
    logging.getLogger(_name).setLevel(logging.WARNING)

WECOM_MAX_BYTES = 4096  # WeCom markdown content limit (UTF-8 bytes)
DINGTALK_MAX_BYTES = 18_000  # DingTalk message limit is ~20,000 bytes


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk '加签': base64(HMAC-SHA256(key=secret, msg=f'{timestamp}\\n{secret}')) (URL-encoded by caller)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark '签名校验': base64(HMAC-SHA256(key=f'{timestamp}\\n{secret}', msg=b''))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def truncate_utf8(text: str, max_bytes: int, tail: str = "\n…") -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    cut = raw[: max_bytes - len(tail.encode("utf-8"))].decode("utf-8", errors="ignore")
    return cut + tail


def _retry_after(r: httpx.Response) -> float | None:
    v = r.headers.get("retry-after")
    try:
        return max(0.0, float(v)) if v is not None else None
    except ValueError:
        return None


class _Webhook:
    name = "webhook"
    transient_codes: frozenset[int] = frozenset()  # application error codes worth another try

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self._url, self._secret, self.timeout, self.clock = url, secret, timeout, clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<url from environment>, signed={self._secret is not None})"

    # subclasses: build the body, adjust the URL, read the vendor's answer
    def payload(self, message: Message) -> dict[str, Any]:
        raise NotImplementedError

    def url(self) -> str:
        return self._url

    def check(self, r: httpx.Response) -> None:
        try:
            body = r.json()
        except ValueError:
            return
        code = (
            body.get("errcode", body.get("code", body.get("StatusCode", 0))) if isinstance(body, dict) else 0
        )
        if code not in (0, None):
            msg = str(body.get("errmsg") or body.get("msg") or body.get("StatusMessage") or "")
            raise DeliveryError(
                f"{self.name}: error {code} {self._scrub(msg)[:200]}".rstrip(),
                permanent=code not in self.transient_codes,
            )

    def _scrub(self, text: str) -> str:
        for s in (self._url, self._secret, urllib.parse.urlsplit(self._url).query):
            if s:
                text = text.replace(s, "[secret]")
        return text

    def send(self, message: Message) -> None:
        body = self.payload(message)
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                r = client.post(self.url(), json=body)
        except httpx.TimeoutException:
            raise DeliveryError(f"{self.name}: no answer within {self.timeout:g}s") from None
        except httpx.HTTPError as e:  # str(e) may contain the URL: name the type only
            raise DeliveryError(f"{self.name}: {type(e).__name__}") from None
        if r.status_code in (408, 425, 429) or r.status_code >= 500:
            raise DeliveryError(f"{self.name}: HTTP {r.status_code}", retry_after=_retry_after(r))
        if r.status_code >= 400:
            raise DeliveryError(
                f"{self.name}: HTTP {r.status_code} {self._scrub(r.text)[:200]}".rstrip(), permanent=True
            )
        self.check(r)


class SlackWebhook(_Webhook):
    """Slack incoming webhook: ``{"text": ...}``; answers ``ok`` or an error word."""

    name = "slack"

    def payload(self, message: Message) -> dict[str, Any]:
        def esc(s: str) -> str:  # Slack's only required escapes; stops <!channel> and link injection
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        return {"text": esc(message.text), "unfurl_links": False, "unfurl_media": False}

    def check(self, r: httpx.Response) -> None:
        if r.text.strip() not in ("ok", ""):
            raise DeliveryError(f"slack: {self._scrub(r.text)[:200]}", permanent=True)


class DingTalkRobot(_Webhook):
    """DingTalk group robot (``/robot/send?access_token=...``); with a secret the URL gets timestamp+sign."""

    name = "dingtalk"
    transient_codes = frozenset({-1, 130101})  # system busy; sending too fast

    def url(self) -> str:
        if not self._secret:
            return self._url
        ts = int(self.clock() * 1000)
        sign = urllib.parse.quote_plus(dingtalk_sign(self._secret, ts))
        sep = "&" if "?" in self._url else "?"
        return f"{self._url}{sep}timestamp={ts}&sign={sign}"

    def payload(self, message: Message) -> dict[str, Any]:
        text = truncate_utf8(message.markdown or message.text, DINGTALK_MAX_BYTES)
        return {"msgtype": "markdown", "markdown": {"title": message.subject[:100], "text": text}}


class WeComRobot(_Webhook):
    """WeCom (企业微信) group robot (``/cgi-bin/webhook/send?key=...``): Markdown, at most 4096 bytes."""

    name = "wecom"
    transient_codes = frozenset({-1, 45009})  # system busy; API frequency limit

    def payload(self, message: Message) -> dict[str, Any]:
        return {
            "msgtype": "markdown",
            "markdown": {"content": truncate_utf8(message.markdown or message.text, WECOM_MAX_BYTES)},
        }


class FeishuBot(_Webhook):
    """Feishu/Lark custom bot (``/open-apis/bot/v2/hook/...``): rich-text post; signed in the body."""

    name = "feishu"
    transient_codes = frozenset({11232})  # frequency limited

    def payload(self, message: Message) -> dict[str, Any]:
        lines = message.text.splitlines()
        if lines and lines[0].strip() == message.subject.strip():  # the subject is the post's title
            lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
        content = [[{"tag": "text", "text": line}] for line in lines]
        body: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": message.subject, "content": content}}},
        }
        if self._secret:
            ts = int(self.clock())
            body = {"timestamp": str(ts), "sign": feishu_sign(self._secret, ts), **body}
        return body


class LarkBot(FeishuBot):
    name = "lark"


SENDERS: dict[str, type[_Webhook]] = {
    "slack": SlackWebhook,
    "dingtalk": DingTalkRobot,
    "wecom": WeComRobot,
    "feishu": FeishuBot,
    "lark": LarkBot,
}
