"""A real local HTTP server speaking 网易七鱼 (Qiyu)'s session export as its server documentation
describes it (https://qiyukf.com/docs/guide/server/6-%E5%9C%A8%E7%BA%BF%E7%B3%BB%E7%BB%9F.html,
数据校验 and 获取会话记录), on 127.0.0.1 in a background thread.

* Every call is a POST with ``?appKey=&time=&checksum=``: a wrong appKey answers ``code 14001``, a
  ``time`` more than 5 minutes off ``14003``, a checksum that is not ``SHA1(appSecret + md5(body) +
  time)`` over the exact bytes received ``14002`` (all HTTP 200, as Qiyu does).
* ``/openapi/export/session`` ``{"start", "end"}`` (ms, at most 2 days apart, else ``14004``) answers a
  task key; ``/openapi/export/session/check`` ``{"key"}`` answers ``14403`` ("Wait...") ``wait_checks``
  times, then the package URL; ``GET /download/<key>.zip`` serves a zip, encrypted with ZipCrypto
  (password: the appKey's first 12 characters) unless ``encrypt`` is off, holding ``<corp>/session.txt``
  and ``<corp>/message.txt`` as JSON lines.
* Sessions are exported when their ``startTime`` is in ``[start, end)`` and they have ended.
* Faults for the next requests, as in ``tests.helpdesk_server``: ``"429"`` (HTTP 429, Retry-After),
  ``"500"``, ``"drop"`` (half the body, then the connection is closed), ``"refuse"`` (the export
  answers ``code 14515``, 没有权限).
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

QY_KEY, QY_SECRET = "1064deea1c3624c9ee26d1de5ce8481f", "qy-secret-4D2A9F"
CORP = "5284272"
T0 = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# ---- a ZipCrypto (traditional PKWARE) writer: Python's zipfile reads these but cannot write them ------


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


class _Keys:
    def __init__(self, password: bytes) -> None:
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self.update(b)

    def update(self, b: int) -> None:
        k = self.k
        k[0] = _CRC[(k[0] ^ b) & 0xFF] ^ (k[0] >> 8)
        k[1] = (k[1] + (k[0] & 0xFF)) & 0xFFFFFFFF
        k[1] = (k[1] * 134775813 + 1) & 0xFFFFFFFF
        k[2] = _CRC[(k[2] ^ (k[1] >> 24)) & 0xFF] ^ (k[2] >> 8)

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            t = (self.k[2] | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self.update(b)
        return bytes(out)


def zip_files(files: dict[str, bytes], password: str | None) -> bytes:
    """A stored (uncompressed) zip of ``files``, ZipCrypto-encrypted with ``password`` when given."""
    body, central = bytearray(), bytearray()
    for name, data in files.items():
        crc = zlib.crc32(data) & 0xFFFFFFFF
        flags = 0x800  # UTF-8 names
        payload = data
        if password is not None:
            flags |= 1
            keys = _Keys(password.encode())
            header = bytes(11) + bytes([crc >> 24])
            payload = keys.encrypt(header) + keys.encrypt(data)
        fname = name.encode()
        offset = len(body)
        common = struct.pack(
            "<HHHHHIIIHH", 20, flags, 0, 0, 0x21, crc, len(payload), len(data), len(fname), 0
        )
        body += b"PK\x03\x04" + common + fname + payload
        central += (
            b"PK\x01\x02" + struct.pack("<H", 20) + common + struct.pack("<HHHII", 0, 0, 0, 0, offset) + fname
        )
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(files), len(files), len(central), len(body), 0)
    return bytes(body + central + end)


class QiyuServer:
    def __init__(self, *, retry_after: int = 7, wait_checks: int = 1, encrypt: bool = True) -> None:
        self.sessions: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.retry_after, self.wait_checks, self.encrypt = retry_after, wait_checks, encrypt
        self.faults: list[str | None] = []
        self.log: list[tuple[str, dict[str, str], Any]] = []  # (path, query, decoded body)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.clock = T0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> QiyuServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"state": self}))
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> QiyuServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: str | None) -> None:
        with self._lock:
            self.faults.extend(faults)

    def add_session(
        self,
        sid: int,
        start: datetime,
        *,
        minutes: int | None = 10,
        text: str = "",
        reply: str | None = "请按说明书重新校准门铰链",
        interaction: int = 0,
        from_type: str = "wx",
        evaluation: tuple[int, int] | None = (5, 75),
        category: str = "烤箱/KX-30A/门关不紧",
        staff: str = "李娜",
    ) -> dict[str, Any]:
        """A session of the documented shape; its messages: the visitor's text (and a picture), a robot
        answer, an automatic greeting, a withdrawn reply, then the staff's manual reply."""
        end = None if minutes is None else start + timedelta(minutes=minutes)
        s: dict[str, Any] = {
            "id": sid,
            "startTime": ms(start),
            "endTime": ms(end) if end else 0,
            "staffId": 4000 + sid % 7,
            "staffName": staff,
            "fromType": from_type,
            "category": category,
            "interaction": interaction,
            "closeReason": 0,
            "sType": 0,
            "userResolvedStatus": 1,
            "relatedType": 0,
            "fromGroup": "售后",
            "evaluationType": evaluation[0] if evaluation else 0,
            "evaluation": evaluation[1] if evaluation else 0,
            "evaluationRemark": "",
            "staffFirstReplyTime": ms(start) + 30_000,
            "foreignId": f"u{sid}",
        }
        t = ms(start)
        body = text or f"烤箱门关不紧 #{sid}"
        msgs = [
            {
                "id": sid * 10 + 1,
                "sessionId": sid,
                "from": 0,
                "time": t + 1000,
                "mType": 1,
                "autoReply": 1,
                "msg": "您好，请问有什么可以帮您？",
                "status": 1,
                "staffId": s["staffId"],
                "staffName": staff,
            },
            {
                "id": sid * 10 + 2,
                "sessionId": sid,
                "from": 1,
                "time": t + 2000,
                "mType": 1,
                "autoReply": 0,
                "msg": body,
                "status": 1,
                "userId": sid,
                "userName": f"访客{sid}",
            },
            {
                "id": sid * 10 + 3,
                "sessionId": sid,
                "from": 1,
                "time": t + 3000,
                "mType": 2,
                "autoReply": 0,
                "msg": '{"url":"https://nos.example/x.jpg"}',
                "status": 1,
            },
            {
                "id": sid * 10 + 4,
                "sessionId": sid,
                "from": 1,
                "time": t + 4000,
                "mType": 1,
                "autoReply": 0,
                "msg": "批次 B2409",
                "status": 1,
            },
            {
                "id": sid * 10 + 5,
                "sessionId": sid,
                "from": 0,
                "time": t + 5000,
                "mType": 1,
                "autoReply": 0,
                "msg": "撤回的回复",
                "status": 2,
            },
        ]
        if reply:
            msgs.append(
                {
                    "id": sid * 10 + 6,
                    "sessionId": sid,
                    "from": 0,
                    "time": t + 6000,
                    "mType": 1,
                    "autoReply": 0,
                    "msg": reply,
                    "status": 1,
                }
            )
        with self._lock:
            self.sessions[sid] = s
            self.messages[sid] = msgs
        return s

    def package(self, start: int, end: int) -> bytes:
        with self._lock:
            chosen = [s for s in self.sessions.values() if start <= s["startTime"] < end and s["endTime"]]
            msgs = [m for s in chosen for m in self.messages.get(s["id"], [])]
        lines = {f"{CORP}/session.txt": chosen, f"{CORP}/message.txt": msgs}
        files = {
            n: "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in v).encode() for n, v in lines.items()
        }
        return zip_files(files, QY_KEY[:12] if self.encrypt else None)


class _Handler(BaseHTTPRequestHandler):
    state: QiyuServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(
        self, status: int, data: bytes, headers: dict[str, str] | None = None, *, cut: bool = False
    ) -> None:
        self.send_response(status)
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

    def _json(self, body: dict[str, Any], status: int = 200, **kw: Any) -> None:
        self._send(
            status,
            json.dumps(body, ensure_ascii=False).encode(),
            {"Content-Type": "application/json;charset=utf-8"},
            **kw,
        )

    def _fault(self) -> str | None:
        with self.state._lock:
            return self.state.faults.pop(0) if self.state.faults else None

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        s = self.state
        u = urlparse(self.path)
        fault = self._fault()
        s.log.append((u.path, {}, fault))
        if fault == "429":
            return self._send(429, b"{}", {"Retry-After": str(s.retry_after)})
        key = u.path.removeprefix("/download/").removesuffix(".zip")
        task = s.tasks.get(key)
        if not u.path.startswith("/download/") or task is None:
            return self._json({"code": 404}, 404)
        self._send(
            200,
            s.package(task["start"], task["end"]),
            {"Content-Type": "application/zip"},
            cut=fault == "drop",
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        s = self.state
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        fault = self._fault()
        s.log.append((u.path, q, payload))
        if fault == "429":
            return self._send(
                429, b'{"code":429,"message":"too many requests"}', {"Retry-After": str(s.retry_after)}
            )
        if fault == "500":
            return self._send(500, b"{}")
        if q.get("appKey") != QY_KEY:
            return self._json({"code": 14001, "message": "appKey 不正确"})
        try:
            off = abs(time.time() - int(q.get("time", "")))
        except ValueError:
            off = 1e9
        if off > 300:
            return self._json({"code": 14003, "message": "time 参数不正确"})
        want = hashlib.sha1((QY_SECRET + hashlib.md5(raw).hexdigest() + q["time"]).encode()).hexdigest()
        if q.get("checksum") != want:
            return self._json({"code": 14002, "message": "checksum 校验出错"})
        if not isinstance(payload, dict):
            return self._json({"code": 14004, "message": "内容格式不是json"})
        if u.path == "/openapi/export/session":
            if fault == "refuse":
                return self._json({"code": 14515, "message": "没有权限"})
            try:
                start, end = int(payload["start"]), int(payload["end"])
            except (KeyError, TypeError, ValueError):
                return self._json({"code": 14004, "message": "参数不正确"})
            if not 0 < end - start <= 2 * 24 * 3600 * 1000:
                return self._json({"code": 14004, "message": "start和end最大时间间隔不能超过2天"})
            key = hashlib.md5(f"{start}-{end}-{len(s.tasks)}".encode()).hexdigest()
            s.tasks[key] = {"start": start, "end": end, "checks": 0}
            return self._json({"code": 200, "message": key})
        if u.path == "/openapi/export/session/check":
            task = s.tasks.get(str(payload.get("key")))
            if task is None:
                return self._json({"code": 14004, "message": "key 不存在"})
            task["checks"] += 1
            if task["checks"] <= s.wait_checks:
                return self._json({"code": 14403, "message": "Wait..."})
            return self._json(
                {"code": 200, "message": f"{s.url}/download/{payload['key']}.zip"}, cut=fault == "drop"
            )
        return self._json({"code": 404, "message": "not found"}, 404)


# ---- 智齿 (Sobot) ------------------------------------------------------------------------------

SB_APPID, SB_KEY = "sb-appid-1a2b", "sb-app-key-9z8y7x"


class SobotServer:
    """Sobot open platform 5.0 as the tests use it: ``GET /api/get_token`` (appid, create_time within 5
    minutes, sign = md5(appid + create_time + app_key); a new token each time, the old one revoked) and
    ``GET /api/ws/5/ticket/query_tickets_by_update_time`` (``token`` header, else ret_code 900001 empty /
    900002 expired; ``update_start_datetime_ms``..``update_end_datetime_ms`` inclusive, at most 31 days;
    ``page_no``, ``page_size`` ≤ 50; oldest update first). Faults: ``"429"``, ``"500"``, ``"expire"``
    (the current token is revoked before the answer)."""

    def __init__(self, *, retry_after: int = 7) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}
        self.retry_after = retry_after
        self.faults: list[str | None] = []
        self.log: list[tuple[str, dict[str, str], str | None]] = []
        self.token: str | None = None
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    url = QiyuServer.url
    stop = QiyuServer.stop
    inject = QiyuServer.inject

    def start(self) -> SobotServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_SobotHandler,), {"state": self}))
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __enter__(self) -> SobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def put(
        self,
        tid: str,
        status: str,
        updated: datetime,
        *,
        content: str = "",
        score: int | str = 4,
        category: str = "电热水壶/KT-17/漏水",
    ) -> dict[str, Any]:
        with self._lock:
            old = self.tickets.get(tid)
            t = {
                "ticketid": tid,
                "ticket_code": f"2026{len(self.tickets):06d}",
                "ticket_title": f"工单 {tid}",
                "ticket_content": content or f"<p>水壶底座漏水 #{tid}</p>",
                "ticket_status": status,
                "ticket_from": "3",
                "ticket_level": "1",
                "ticket_type_name": category,
                "start_type": "1",
                "deal_agent_name": "周婷",
                "deal_group_name": "电商客服组",
                "create_datetime_ms": old["create_datetime_ms"] if old else ms(updated) - 3_600_000,
                "update_datetime_ms": ms(updated),
                "update_datetime": updated.strftime("%Y-%m-%d %H:%M:%S"),
                "user_nick": "访客",
                "user_tels": "13800000000",
                "score": score,
                "remark": "",
            }
            self.tickets[tid] = t
            return t


class _SobotHandler(_Handler):
    state: SobotServer  # type: ignore[assignment]

    def _ret(self, code: str, msg: str = "", **extra: Any) -> None:
        self._json({"ret_code": code, "ret_msg": msg, **extra})

    def do_POST(self) -> None:  # noqa: N802 - not part of this API
        self._json({"ret_code": "404"}, 404)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        s = self.state
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        fault = self._fault()
        s.log.append((u.path, q, fault))
        if fault == "429":
            return self._send(429, b"{}", {"Retry-After": str(s.retry_after)})
        if fault == "500":
            return self._send(500, b"{}")
        if u.path == "/api/get_token":
            try:
                off = abs(time.time() - int(q.get("create_time", "")))
            except ValueError:
                off = 1e9
            want = hashlib.md5(f"{SB_APPID}{q.get('create_time')}{SB_KEY}".encode()).hexdigest()
            if q.get("appid") != SB_APPID or off > 300 or q.get("sign") != want:
                return self._ret("900005", "sign校验失败")
            with s._lock:
                s.tokens_issued += 1
                s.token = hashlib.md5(f"token-{s.tokens_issued}-{time.time()}".encode()).hexdigest()
                return self._ret("000000", "成功", item={"token": s.token, "expires_in": "86400"})
        if u.path == "/api/ws/5/ticket/query_tickets_by_update_time":
            if fault == "expire":
                s.token = None
            got = self.headers.get("token")
            if not got:
                return self._ret("900001", "token为空")
            if got != s.token:
                return self._ret("900002", "token已过期")
            try:
                start, end = int(q["update_start_datetime_ms"]), int(q["update_end_datetime_ms"])
                page, size = int(q["page_no"]), int(q["page_size"])
            except (KeyError, ValueError):
                return self._ret("100001", "参数错误")
            if not 0 <= end - start <= 31 * 24 * 3600 * 1000 or size > 50 or page < 1:
                return self._ret("100002", "查询时间范围不能超过一个月")
            with s._lock:
                items = sorted(
                    (t for t in s.tickets.values() if start <= t["update_datetime_ms"] <= end),
                    key=lambda t: (t["update_datetime_ms"], t["ticketid"]),
                )
            chunk = items[(page - 1) * size : page * size]
            return self._ret(
                "000000",
                "成功",
                items=chunk,
                page_no=page,
                page_size=size,
                page_count=max(1, -(-len(items) // size)),
                total_count=len(items),
            )
        return self._json({"ret_code": "404"}, 404)
