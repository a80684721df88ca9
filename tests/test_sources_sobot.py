"""智齿 (Sobot) pulls against a real local HTTP server (tests/cn_helpdesk_server.py) that checks the
token request's signature (md5(appid + create_time + app_key)), the ``token`` header (900001/900002),
the update-time window (≤ 1 month) and page size (≤ 50), and can answer 429, 500 or expire the token;
stored in real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from tests.cn_helpdesk_server import SB_APPID, SB_KEY, SobotServer
from voc.config.settings import Mapping, Source, VocConfig
from voc.errors import SourceError
from voc.flows.ingest_stage import ingest_source
from voc.sources.sobot import sign, ticket_row
from voc.store import ingest_log
from voc.store.models import IngestRun, TicketRow

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = (NOW - timedelta(days=3)).replace(minute=0, second=0)
MAPPING = Mapping(
    extract={
        "product": {"column": "category", "regex": r"^([^/]+)/"},
        "model": {"column": "category", "regex": r"^[^/]+/([^/]+)/"},
    }
)
LIST = "/api/ws/5/ticket/query_tickets_by_update_time"


@pytest.fixture
def server() -> Iterator[SobotServer]:
    with SobotServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB_APPID", SB_APPID)
    monkeypatch.setenv("SB_KEY", SB_KEY)


def sobot(server: SobotServer, **kw: object) -> Source:
    return Source(
        name="sb",
        kind="sobot",
        base_url=server.url,
        app_id_env="SB_APPID",
        token_env="SB_KEY",
        mapping="sobot",
        page_size=4,
        since=(BASE - timedelta(hours=1)).isoformat(),
        **kw,
    )  # type: ignore[arg-type]


class Run:
    def __init__(self, engine: Engine, src: Source) -> None:
        self.engine, self.src = engine, src
        self.sleeps: list[float] = []
        self.cfg = VocConfig(sources=[src], mappings={"sobot": MAPPING})

    def __call__(self):  # type: ignore[no-untyped-def]
        return ingest_source(self.engine, self.cfg, self.src, sleep=self.sleeps.append, timeout=0.5)


STATUSES = ["3", "99", "1", "3", "2", "99", "0"]


def seed(server: SobotServer, n: int = 20) -> None:
    """n tickets: the first 10 updated within one hour (more than a page), the rest 5 h apart."""
    for i in range(1, n + 1):
        at = BASE + timedelta(minutes=5 * i) if i <= 10 else BASE + timedelta(hours=5 * (i - 9))
        server.put(f"t{i}", STATUSES[i % len(STATUSES)], at)


def expected(server: SobotServer) -> set[str]:
    return {k for k, t in server.tickets.items() if t["ticket_status"] in ("3", "99")}


def stored(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as c:
        rows = c.execute(
            select(
                TicketRow.source_id,
                TicketRow.body,
                TicketRow.closed_at,
                TicketRow.csat,
                TicketRow.agent,
                TicketRow.product,
                TicketRow.model,
                TicketRow.status,
                TicketRow.content_hash,
            ).where(TicketRow.source == "sb")
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_sign_is_the_documented_formula() -> None:
    # the documentation's example: appid 1, create_time 1569397773
    import hashlib

    assert sign("1", "1569397773", "k") == hashlib.md5(b"11569397773k").hexdigest()


def test_ticket_row_maps_fields() -> None:
    row = ticket_row(
        {
            "ticketid": "a1",
            "ticket_content": "<p>漏水&amp;异响</p>",
            "ticket_status": "99",
            "update_datetime_ms": 1631081162000,
            "create_datetime_ms": 1631080000000,
            "score": "5",
            "deal_agent_name": "周婷",
            "ticket_type_name": "水壶/KT-17",
        }
    )
    assert (row["body"], row["status"], row["closed_at"], row["csat"], row["category"]) == (
        "漏水&异响",
        "closed",
        1631081162000,
        "5",
        "水壶/KT-17",
    )


def test_full_pull_windows_fit_one_page_and_second_run_adds_nothing(
    engine: Engine, server: SobotServer
) -> None:
    seed(server)
    run = Run(engine, sobot(server))
    s = run()
    want = expected(server)
    got = stored(engine)
    assert set(got) == want and s.counts.inserted == len(want) and s.quarantined == 0
    assert s.skipped == len(server.tickets) - len(want)
    body, closed, csat, agent, product, model, status, _ = got["t1"]
    t1 = server.tickets["t1"]
    assert body == "水壶底座漏水 #t1" and status == "closed" and got["t3"][6] == "resolved"
    assert closed.replace(tzinfo=None) == datetime.fromtimestamp(
        t1["update_datetime_ms"] / 1000, UTC
    ).replace(tzinfo=None)
    assert (csat, agent, product, model) == (4.0, "周婷", "电热水壶", "KT-17")
    lists = [q for p, q, _ in server.log if p == LIST]
    assert lists and all(
        q["page_no"] == "1" and q["page_size"] == "4" for q in lists
    )  # never paged: bisected
    assert any(
        int(q["update_end_datetime_ms"]) - int(q["update_start_datetime_ms"]) < 24 * 3600 * 1000
        for q in lists
    )  # the busy hour was cut into smaller windows
    assert server.tokens_issued == 1  # one token for the whole run
    with engine.connect() as c:
        wm = ingest_log.get_watermark(c, "sb")
    assert wm == lists[-1]["update_end_datetime_ms"]
    assert SB_KEY not in json.dumps([q for _, q, _ in server.log]) + str(wm)
    n = len(server.log)
    again = run()
    assert again.read == 0 and again.counts.inserted == 0
    later = [q for p, q, _ in server.log[n:] if p == LIST]
    assert (
        later and int(later[0]["update_start_datetime_ms"]) == int(wm) - 1
    )  # asked 1 ms early, kept from wm


def test_update_and_deletion_after_the_watermark(engine: Engine, server: SobotServer) -> None:
    seed(server, 12)
    Run(engine, sobot(server, lag_minutes=60 * 24))()  # the first run stops a day before now
    run = Run(engine, sobot(server))
    before = stored(engine)
    victim = sorted(before)[0]
    at = NOW - timedelta(hours=3)  # before the 2 h lag
    server.put(victim, "98", at)  # deleted in Sobot: erased here
    server.put("t5", "99", at, content="<p>已更换底座，不再漏水</p>")  # was pending, now closed
    server.put("new", "3", at)
    s = run()
    got = stored(engine)
    assert victim not in got and s.erased == 1
    assert got["t5"][0] == "已更换底座，不再漏水" and "new" in got
    assert set(got) == expected(server)


def test_expired_token_429_and_500_are_survived(engine: Engine, server: SobotServer) -> None:
    seed(server)
    # 1 token, 2 list -> 429 (Retry-After 7), 3 list -> 500, 4 list ok, 5 list: token expired -> new token
    server.inject(None, "429", "500", None, "expire")
    run = Run(engine, sobot(server))
    s = run()
    assert set(stored(engine)) == expected(server) and s.counts.updated == 0
    assert 7.0 in run.sleeps and 1.0 in run.sleeps
    assert server.tokens_issued == 2


def test_bad_key_is_one_clear_line_without_the_secret(
    engine: Engine, server: SobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, 3)
    monkeypatch.setenv("SB_KEY", "wrong-app-key-value")
    with pytest.raises(SourceError) as err:
        Run(engine, sobot(server))()
    msg = str(err.value)
    assert "\n" not in msg and "'sb'" in msg and "900005" in msg
    assert "$SB_APPID" in msg and "$SB_KEY" in msg and "wrong-app-key-value" not in msg
    with engine.connect() as c:
        assert ingest_log.get_watermark(c, "sb") is None
        assert "wrong-app-key-value" not in str(c.execute(select(IngestRun.error)).scalars().all())


def test_missing_appid_env_is_named(
    engine: Engine, server: SobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SB_APPID")
    with pytest.raises(SourceError, match=r"\$SB_APPID .*not set"):
        Run(engine, sobot(server))()


def test_bulk_update_within_one_second_is_paged(engine: Engine, server: SobotServer) -> None:
    at = BASE + timedelta(hours=2)
    for i in range(1, 11):  # 10 tickets closed by one automation in the same millisecond, pages of 4
        server.put(f"b{i}", "99", at)
    s = Run(engine, sobot(server))()
    assert set(stored(engine)) == {f"b{i}" for i in range(1, 11)} and s.counts.inserted == 10
    pages = {q["page_no"] for p, q, _ in server.log if p == LIST}
    assert pages == {"1", "2", "3"}
