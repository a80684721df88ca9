"""网易七鱼 (Qiyu) pulls against a real local HTTP server speaking its documented session export
(tests/cn_helpdesk_server.py), stored in real SQLite and PostgreSQL.

The server verifies every call's appKey, time and checksum (SHA1(appSecret + md5(body) + time)) over
the bytes it received, answers 14403 until the package is ready, serves a ZipCrypto zip of JSON lines
with millisecond epochs, and can answer HTTP 429 with Retry-After, 500 or a cut-off body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.cn_helpdesk_server import QY_KEY, QY_SECRET, QiyuServer, zip_files
from tests.helpdesk_server import KillAfter
from voc.config.settings import Mapping, Source, VocConfig
from voc.errors import SourceError
from voc.flows.ingest_stage import build_incremental, ingest_source
from voc.sources.incremental import pull
from voc.sources.qiyu import checksum, read_package, session_row
from voc.store import ingest_log
from voc.store.db import make_engine, migrate
from voc.store.models import IngestRun, TicketRow

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = (NOW - timedelta(days=3)).replace(minute=0, second=0)
MAPPING = Mapping(
    extract={
        "product": {"column": "category", "regex": r"^([^/]+)/"},
        "model": {"column": "category", "regex": r"^[^/]+/([^/]+)/"},
    }
)


@pytest.fixture
def server() -> Iterator[QiyuServer]:
    with QiyuServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QY_KEY", QY_KEY)
    monkeypatch.setenv("QY_SECRET", QY_SECRET)


def qiyu(server: QiyuServer, **kw: object) -> Source:
    return Source(
        name="qy",
        kind="qiyu",
        base_url=server.url,
        app_key_env="QY_KEY",
        token_env="QY_SECRET",
        mapping="qiyu",
        since=(BASE - timedelta(hours=1)).isoformat(),
        **kw,
    )  # type: ignore[arg-type]


class Run:
    def __init__(self, engine: Engine, src: Source) -> None:
        self.engine, self.src = engine, src
        self.sleeps: list[float] = []
        self.cfg = VocConfig(sources=[src], mappings={"qiyu": MAPPING})

    def __call__(self):  # type: ignore[no-untyped-def]
        return ingest_source(self.engine, self.cfg, self.src, sleep=self.sleeps.append, timeout=0.5)


def seed(server: QiyuServer, n: int = 12) -> None:
    """n sessions 5 hours apart from BASE; every 5th a robot session, every 7th still open."""
    for i in range(1, n + 1):
        server.add_session(
            i,
            BASE + timedelta(hours=5 * i),
            interaction=1 if i % 5 == 0 else 0,
            minutes=None if i % 7 == 0 else 10,
        )


def expected(server: QiyuServer) -> set[str]:
    return {str(s["id"]) for s in server.sessions.values() if s["interaction"] == 0 and s["endTime"]}


def stored(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as c:
        rows = c.execute(
            select(
                TicketRow.source_id,
                TicketRow.body,
                TicketRow.resolution,
                TicketRow.closed_at,
                TicketRow.created_at,
                TicketRow.csat,
                TicketRow.channel,
                TicketRow.agent,
                TicketRow.product,
                TicketRow.model,
                TicketRow.content_hash,
            ).where(TicketRow.source == "qy")
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_checksum_is_the_documented_formula() -> None:
    # 数据校验: SHA1(appSecret + md5(body) + time), hex lower case
    import hashlib

    body = b'{"start":"1","end":"2"}'
    want = hashlib.sha1(("s3cret" + hashlib.md5(body).hexdigest() + "1463216914").encode()).hexdigest()
    assert checksum("s3cret", body, "1463216914") == want and want == want.lower()


def test_session_row_maps_documented_fields() -> None:
    s = {
        "id": 7,
        "startTime": 1631081000000,
        "endTime": 1631081162000,
        "staffName": "王芳",
        "fromType": "wx_ma",
        "evaluationType": 3,
        "evaluation": 50,
        "category": "烤箱/KX-30A",
        "userResolvedStatus": 2,
    }
    msgs = [
        {"from": 1, "mType": 1, "time": 2, "msg": "第二句"},
        {"from": 1, "mType": 1, "time": 1, "msg": "第一句"},
        {"from": 0, "mType": 1, "time": 3, "msg": "人工回复", "autoReply": 0, "status": 1},
        {"from": 0, "mType": 1, "time": 4, "msg": "自动回复", "autoReply": 1, "status": 1},
        {"from": 0, "mType": 110, "time": 5, "msg": "机器人答案", "autoReply": 0, "status": 1},
    ]
    row = session_row(s, msgs)
    assert row["body"] == "第一句\n第二句" and row["resolution"] == "人工回复"
    assert (row["csat"], row["channel"], row["agent"], row["user_resolved"]) == (
        3.0,
        "wechat_miniprogram",
        "王芳",
        False,
    )
    assert row["closed_at"] == 1631081162000  # the date parser reads it as milliseconds (2021-09-08)


def test_full_pull_stores_closed_human_sessions_and_second_run_adds_nothing(
    engine: Engine, server: QiyuServer
) -> None:
    seed(server)
    run = Run(engine, qiyu(server))
    s = run()
    want = expected(server)
    got = stored(engine)
    assert set(got) == want and s.counts.inserted == len(want) and s.quarantined == 0
    assert s.skipped == 2 and "7" not in got  # the robot sessions (5, 10); the open one (7) is not exported
    body, resolution, closed, created, csat, channel, agent, product, model, _ = got["1"]
    assert body == "烤箱门关不紧 #1\n批次 B2409" and resolution == "请按说明书重新校准门铰链"
    end = server.sessions[1]["endTime"]
    assert closed.replace(tzinfo=None) == datetime.fromtimestamp(end / 1000, UTC).replace(tzinfo=None)
    assert closed.year == NOW.year or closed.year == NOW.year - 1  # never 1631
    assert (closed - created).total_seconds() == 600
    assert (csat, channel, agent, product, model) == (4.0, "wechat", "李娜", "烤箱", "KX-30A")
    # the documented protocol: export windows of at most 2 days, polled with 14403 (waited), then downloaded
    exports = [b for p, _, b in server.log if p == "/openapi/export/session"]
    assert exports and all(int(b["end"]) - int(b["start"]) <= 24 * 3600 * 1000 for b in exports)
    assert all(int(a["end"]) == int(b["start"]) for a, b in zip(exports, exports[1:], strict=False))
    assert run.sleeps.count(10.0) == len(exports)  # one "Wait..." per export, polled after 10 s
    assert all(QY_SECRET not in json.dumps(q) for _, q, _ in server.log)
    with engine.connect() as c:
        wm = ingest_log.get_watermark(c, "qy")
        errors = c.execute(select(IngestRun.error)).scalars().all()
    assert wm == exports[-1]["end"]
    assert QY_SECRET not in json.dumps([str(x) for x in got.values()]) + str(errors) + str(wm)
    # second run: resumes at the watermark; nothing new
    n = len(server.log)
    again = run()
    assert again.read == 0 and again.counts.inserted == again.counts.updated == 0
    later = [b for p, _, b in server.log[n:] if p == "/openapi/export/session"]
    assert all(int(b["start"]) >= int(wm) for b in later) and later[0]["start"] == wm
    assert stored(engine) == got


def test_new_session_after_the_watermark_arrives(engine: Engine, server: QiyuServer) -> None:
    seed(server, 6)
    src = qiyu(server, lag_minutes=60 * 24)  # the first run stops a day before now
    run = Run(engine, src)
    run()
    first = set(stored(engine))
    server.add_session(100, NOW - timedelta(hours=5), text="水壶漏水")
    late = Run(engine, qiyu(server))  # default lag: exports up to 2 h before now
    s = late()
    got = stored(engine)
    assert set(got) == first | {"100"} and s.counts.inserted == 1 and s.counts.updated == 0
    assert got["100"][0].startswith("水壶漏水")


def test_faults_lose_and_duplicate_nothing(engine: Engine, server: QiyuServer) -> None:
    seed(server)
    # 1 export ok, 2 check 429 (Retry-After 7), 3 check 500, 4 check ok ("Wait..."), then the package cut
    server.inject(None, "429", "500", None, None, "drop")
    run = Run(engine, qiyu(server))
    s = run()
    assert set(stored(engine)) == expected(server) and s.counts.updated == 0
    assert 7.0 in run.sleeps and 1.0 in run.sleeps  # Retry-After honoured; backoff on the 500 / the cut body
    # the retried call was signed again (fresh time/checksum): the server accepted every attempt
    assert not [p for p, q, b in server.log if p.startswith("/openapi") and b is None]


def test_unencrypted_package_and_bad_lines(tmp_path: Path) -> None:
    good = json.dumps({"id": 1, "startTime": 1, "endTime": 2}) + "\n[1]\nnot json\n"
    sessions, messages, broken = read_package(
        zip_files({"1/session.txt": good.encode(), "1/message.txt": b'{"sessionId":1,"msg":"x"}\n'}, None),
        QY_KEY[:12],
    )
    assert [x["id"] for x in sessions] == [1] and list(messages) == ["1"] and broken == 2
    with pytest.raises(SourceError, match="password"):
        read_package(zip_files({"s.txt": b"{}"}, "other-passwd"), QY_KEY[:12])
    with pytest.raises(SourceError, match="not a zip"):
        read_package(b"PK? no", QY_KEY[:12])


def test_kill_mid_batch_then_rerun_equals_clean_run(
    engine: Engine, server: QiyuServer, tmp_path: Path
) -> None:
    seed(server)
    src = qiyu(server)
    with pytest.raises(RuntimeError, match="killed"):
        pull(engine, KillAfter(build_incremental(src, sleep=lambda s: None, timeout=0.5), rows=5), MAPPING)
    partial = set(stored(engine))
    assert 0 < len(partial) < len(expected(server))
    s = Run(engine, src)()
    assert s.counts.updated == 0
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    migrate(clean)
    try:
        Run(clean, src)()
        assert stored(engine) == stored(clean)
    finally:
        clean.dispose()


def test_bad_secret_is_one_clear_line_without_the_secret(
    engine: Engine, server: QiyuServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, 3)
    monkeypatch.setenv("QY_SECRET", "wrong-secret-value")
    with pytest.raises(SourceError) as err:
        Run(engine, qiyu(server))()
    msg = str(err.value)
    assert "\n" not in msg and "'qy'" in msg and "14002" in msg
    assert "$QY_KEY" in msg and "$QY_SECRET" in msg and "wrong-secret-value" not in msg
    assert len(server.log) == 1  # not retried
    with engine.connect() as c:
        assert ingest_log.get_watermark(c, "qy") is None
        assert "wrong-secret-value" not in str(c.execute(select(IngestRun.error)).scalars().all())


def test_missing_key_env_and_window_limit(
    engine: Engine, server: QiyuServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QY_KEY")
    with pytest.raises(SourceError, match=r"\$QY_KEY .*not set"):
        Run(engine, qiyu(server))()
    with pytest.raises(ValueError, match="window_hours"):
        qiyu(server, window_hours=72)


def test_export_refused_is_one_line_with_qiyus_code(engine: Engine, server: QiyuServer) -> None:
    seed(server, 2)
    server.inject("refuse")  # e.g. called outside the hours the export is allowed
    with pytest.raises(SourceError, match=r"'qy'.*refused \(code 14515: 没有权限\)"):
        Run(engine, qiyu(server, window_hours=48))()
    with engine.connect() as c:
        assert ingest_log.get_watermark(c, "qy") is None
