"""网易七鱼 (Qiyu): closed online sessions through the session export of its open API.

Written from Qiyu's server documentation, 在线系统 / 获取会话记录 and 数据校验
(https://qiyukf.com/docs/guide/server/6-%E5%9C%A8%E7%BA%BF%E7%B3%BB%E7%BB%9F.html, mirror
https://m.qi.163.com/docs/guide/server/6-在线系统.html) and its field list for a session
(会话结束推送会话数据, https://qiyukf.apifox.cn/api-10845482):

* **Auth** (数据校验): every call is a ``POST`` of a JSON body with ``?appKey=…&time=…&checksum=…``;
  ``time`` is the current UTC epoch in seconds, ``checksum = SHA1(appSecret + MD5(body) + time)``, both
  hex digests lower case, valid for 5 minutes (so it is recomputed on every retry). Errors come as
  HTTP 200 with ``{"code": 14001|14002|14003, ...}`` (bad appKey, bad checksum, bad time).
* **Export** (获取会话记录): ``/openapi/export/session`` with ``{"start": ms, "end": ms}`` (at most 2
  days apart) answers ``{"code": 200, "message": KEY}``; ``/openapi/export/session/check`` with
  ``{"key": KEY}`` answers ``code 14403`` ("Wait...") until the package is ready, then
  ``{"code": 200, "message": URL}``. The package is a zip (password: the first 12 characters of the
  appKey) of JSON-lines files: the sessions, and ``message.txt`` with their messages.
* **Fields**: a session has ``id``, ``startTime``/``endTime`` (millisecond epochs, as every time in
  this API), ``staffId``/``staffName``, ``fromType`` (web, ios, android, wx, wx_ma, wb, open),
  ``category`` (咨询分类 "a/b"), ``interaction`` (1 = robot session), ``evaluationType`` and
  ``evaluation`` (type 2: 100/1, type 3: 100/50/1, type 5: 100/75/50/25/1), ``closeReason``,
  ``userResolvedStatus``; a message has ``sessionId``, ``from`` (0 staff, 1 visitor), ``time``,
  ``mType`` (1 text), ``autoReply`` (0 manual), ``status`` (1 normal, else withdrawn) and ``msg``.

What was not in the documentation we could read, and is therefore handled defensively rather than
assumed: the names of the package's files other than ``message.txt`` (every other ``.txt`` member is
read as sessions), the zip encryption (ZipCrypto is read; an AES-encrypted package is a clear error),
whether ``start``/``end`` select by start or end time (each window is re-read from its start, and the
window stops ``lag_minutes`` before now so sessions still open are not passed), and a rate-limit
error code (HTTP 429 with Retry-After is honoured like every helpdesk; third-party code reports that
the export may only be called between 02:00 and 06:00 Beijing time: schedule this source there and
any refusal is a one-line error with Qiyu's code and message). Review these against your account.

Incremental: one batch per export window (``window_hours``, at most 48); the window's end (ms) is the
watermark stored with it, so the next run (or the re-run after a crash) exports from there.
Sessions are upserted by id: a window read twice changes nothing.

Row: ``body`` is the visitor's text messages, oldest first; ``resolution`` the staff's last manual
text message (robot answers, automatic replies and withdrawn messages are not replies); ``closed_at``
``endTime``; ``csat`` the evaluation on the canonical 1..5 scale; ``channel`` a name for ``fromType``;
``category`` and ``user_resolved`` are kept for mappings (e.g. product from the category). Robot-only
sessions (``interaction`` 1) and sessions without ``endTime`` are skipped. Reopens and transfers are
not in the session data (a transfer starts a new session): they stay empty.

The appKey and appSecret are read from the environment variables the config names (``app_key_env``,
``token_env``), never from the config file, and never logged.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from voc.errors import SourceError
from voc.sources.files import BROKEN, RawRow
from voc.sources.http import HttpClient, RetryPolicy, since_ms
from voc.sources.incremental import Batch

log = logging.getLogger(__name__)

EXPORT_PATH = "/openapi/export/session"
CHECK_PATH = "/openapi/export/session/check"
OK, WAIT = 200, 14403
AUTH_CODES = {
    14001: "the appKey is not known",
    14002: "the checksum did not verify (wrong appSecret?)",
    14003: "the time was refused (is this machine's clock right?)",
}
MAX_WINDOW_HOURS = 48  # 获取会话记录: start and end at most 2 days apart
FIRST_DAYS = 30  # without `since`, the first run reads the last 30 days
CHANNELS = {
    "web": "web",
    "ios": "ios",
    "android": "android",
    "wx": "wechat",
    "wx_ma": "wechat_miniprogram",
    "wb": "weibo",
    "open": "api",
}
# evaluationType -> {evaluation value: canonical 1..5}
CSAT = {
    2: {100: 5.0, 1: 1.0},
    3: {100: 5.0, 50: 3.0, 1: 1.0},
    5: {100: 5.0, 75: 4.0, 50: 3.0, 25: 2.0, 1: 1.0},
}
STAFF, VISITOR = 0, 1
TEXT = 1


def checksum(app_secret: str, body: bytes, when: str) -> str:
    """数据校验: SHA1(appSecret + md5(body) + time), lower-case hex."""
    md5 = hashlib.md5(body).hexdigest().lower()
    return hashlib.sha1(f"{app_secret}{md5}{when}".encode()).hexdigest().lower()


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return None


def csat(session: dict[str, Any]) -> float | None:
    scale = CSAT.get(_int(session.get("evaluationType")) or 0, {})
    return scale.get(_int(session.get("evaluation")) or 0)


def _texts(messages: list[dict[str, Any]], who: int) -> list[str]:
    out = []
    for m in sorted(messages, key=lambda m: _int(m.get("time")) or 0):
        if _int(m.get("from")) != who or _int(m.get("mType")) != TEXT:
            continue
        if who == STAFF and (_int(m.get("autoReply")) or 0) != 0:
            continue
        if _int(m.get("status")) not in (None, 1):  # withdrawn
            continue
        text = m.get("msg")
        if isinstance(text, str) and text.strip():
            out.append(text.strip())
    return out


def session_row(s: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A Qiyu session and its messages as a canonical-ish row (times stay millisecond epochs: the
    date parser recognises them by magnitude)."""
    visitor = _texts(messages, VISITOR)
    staff = _texts(messages, STAFF)
    resolved = _int(s.get("userResolvedStatus"))
    return {
        "ticket_id": None if s.get("id") is None else str(s["id"]),
        "created_at": s.get("startTime"),
        "closed_at": s.get("endTime"),
        "channel": CHANNELS.get(str(s.get("fromType")), s.get("fromType")),
        "agent": s.get("staffName") or (None if s.get("staffId") is None else str(s["staffId"])),
        "status": "closed",
        "body": "\n".join(visitor) or None,
        "resolution": staff[-1] if staff else None,
        "csat": csat(s),
        "category": s.get("category"),
        "user_resolved": {1: True, 2: False}.get(resolved) if resolved is not None else None,
    }


def read_package(
    data: bytes, password: str
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], int]:
    """(sessions, messages by session id, broken lines) from an export package."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SourceError("the session export package is not a zip file") from None
    sessions: list[dict[str, Any]] = []
    messages: dict[str, list[dict[str, Any]]] = {}
    broken = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            try:
                text = zf.read(info, pwd=password.encode()).decode("utf-8-sig")
            except NotImplementedError:
                raise SourceError(
                    f"the export package member {info.filename!r} uses an encryption or "
                    f"compression this reader does not support (AES?)"
                ) from None
            except RuntimeError as e:  # a bad password
                raise SourceError(
                    f"cannot open the export package ({e}); its password is the first 12 "
                    f"characters of the appKey"
                ) from None
            is_message = info.filename.rsplit("/", 1)[-1].lower().startswith("message")
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    broken += 1
                    continue
                if not isinstance(obj, dict):
                    broken += 1
                elif is_message:
                    messages.setdefault(str(obj.get("sessionId")), []).append(obj)
                else:
                    sessions.append(obj)
    return sessions, messages, broken


class QiyuSource:
    """An :class:`sources.incremental.IncrementalSource` over one Qiyu (七鱼) account."""

    def __init__(
        self,
        name: str,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        since: str | None = None,
        window_hours: int = 24,
        lag_minutes: int = 120,
        poll_seconds: float = 10.0,
        max_polls: int = 90,
        key_env: str = "the appKey variable",
        secret_env: str = "the appSecret variable",
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 1 <= window_hours <= MAX_WINDOW_HOURS:
            raise SourceError(
                f"source {name!r}: window_hours must be 1..{MAX_WINDOW_HOURS} (Qiyu exports at "
                f"most 2 days at a time)"
            )
        self.name = name
        self.window_ms = window_hours * 3600 * 1000
        self.lag_ms = lag_minutes * 60 * 1000
        self.poll_seconds, self.max_polls = poll_seconds, max_polls
        self.sleep, self.now = sleep, now
        self._key, self._secret = app_key, app_secret
        self.first_ms = since_ms(since, now(), FIRST_DAYS)
        self.hint = (
            f"the appKey in ${key_env} and the appSecret in ${secret_env} (七鱼 管理后台 > 设置 > 开发者ID)"
        )
        self.client = HttpClient(
            name,
            base_url.rstrip("/"),
            timeout=timeout,
            policy=policy or RetryPolicy(),
            sleep=sleep,
            auth_hint=self.hint,
        )

    def __repr__(self) -> str:  # never the secret
        return f"QiyuSource({self.name!r}, {self.client.base_url!r})"

    def _call(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

        def signed() -> dict[str, str]:
            when = str(int(time.time()))
            return {"appKey": self._key, "time": when, "checksum": checksum(self._secret, body, when)}

        data = self.client.post(path, body, signed).data
        if not isinstance(data, dict) or _int(data.get("code")) is None:
            raise SourceError(
                f"source {self.name!r}: unexpected answer from {path} (no 'code'); is base_url "
                f"the Qiyu API (https://qiyukf.com)?"
            )
        code = _int(data.get("code"))
        assert code is not None
        if code in AUTH_CODES:
            raise SourceError(
                f"source {self.name!r}: Qiyu refused the call (code {code}: {AUTH_CODES[code]}); "
                f"check {self.hint}"
            )
        return code, data.get("message")

    def _export(self, start: int, end: int) -> bytes:
        code, key = self._call(EXPORT_PATH, {"start": str(start), "end": str(end)})
        if code != OK or not key:
            raise SourceError(
                f"source {self.name!r}: session export {start}..{end} refused (code {code}: "
                f"{str(key)[:200]}); Qiyu may only allow exports at night (02:00-06:00 Beijing)"
            )
        for _ in range(self.max_polls):
            code, message = self._call(CHECK_PATH, {"key": key})
            if code == OK and message:
                return bytes(self.client.get(str(message), raw=True).data)
            if code != WAIT:
                raise SourceError(
                    f"source {self.name!r}: session export failed (code {code}: {str(message)[:200]})"
                )
            self.sleep(self.poll_seconds)
        raise SourceError(
            f"source {self.name!r}: session export not ready after {self.max_polls} checks "
            f"({self.max_polls * self.poll_seconds:.0f}s); run again later"
        )

    def batches(self, watermark: str | None) -> Iterator[Batch]:
        if watermark:
            if not watermark.isdigit():
                raise SourceError(
                    f"source {self.name!r}: stored watermark is not a Qiyu cursor: {watermark[:80]!r}"
                )
            start = int(watermark)
        else:
            start = self.first_ms
        limit = int(self.now().timestamp() * 1000) - self.lag_ms
        try:
            while start < limit:
                end = min(start + self.window_ms, limit)
                sessions, messages, broken = read_package(self._export(start, end), self._key[:12])
                rows = [
                    RawRow(f"qiyu:{start}-{end}", {BROKEN: "export line is not a JSON object"})
                    for _ in range(broken)
                ]
                skipped = 0
                for s in sessions:
                    sid = None if s.get("id") is None else str(s["id"])
                    if _int(s.get("interaction")) == 1 or not _int(s.get("endTime")):
                        skipped += 1  # a robot-only session, or one still open
                        continue
                    rows.append(RawRow(f"qiyu:session/{sid}", session_row(s, messages.get(str(sid), []))))
                log.info("%s: %d sessions %s..%s", self.name, len(sessions), start, end)
                yield Batch(rows, str(end), skipped)
                start = end
        finally:
            self.client.close()
