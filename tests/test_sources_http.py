"""Zendesk and Freshdesk pulls against a real local HTTP server, stored in real SQLite and PostgreSQL.

Every test compares the store with what the helpdesk holds: exactly the solved/closed tickets, each
once, in its newest version, whatever faults the server injects or wherever the run is killed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from tests.helpdesk_server import FD_KEY, ZD_EMAIL, ZD_TOKEN, HelpdeskServer, KillAfter, stored
from voc.config.settings import Mapping, Source, VocConfig
from voc.errors import SourceError
from voc.flows.ingest_stage import build_incremental, ingest_source
from voc.sources.incremental import IncrementalSource, pull
from voc.store import ingest_log
from voc.store.db import make_engine, migrate
from voc.store.models import IngestRun, TicketRow

ZD_OPEN = ("new", "open", "pending", "hold")


@pytest.fixture
def server() -> Iterator[HelpdeskServer]:
    with HelpdeskServer(slow_seconds=0.6) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZD_EMAIL", ZD_EMAIL)
    monkeypatch.setenv("ZD_TOKEN", ZD_TOKEN)
    monkeypatch.setenv("FD_KEY", FD_KEY)


class Run:
    """Runs the real ingest stage for one source config, recording the sleeps instead of sleeping."""

    def __init__(self, engine: Engine, src: Source) -> None:
        self.engine, self.src = engine, src
        self.sleeps: list[float] = []
        self.cfg = VocConfig(sources=[src])

    def __call__(self):  # type: ignore[no-untyped-def]
        return ingest_source(self.engine, self.cfg, self.src, sleep=self.sleeps.append, timeout=0.3)

    def source(self) -> IncrementalSource:
        return build_incremental(self.src, sleep=self.sleeps.append, timeout=0.3)


def zendesk(server: HelpdeskServer, page_size: int | None = 4, **kw: object) -> Source:
    return Source(
        name="zd",
        kind="zendesk",
        base_url=server.url,
        email_env="ZD_EMAIL",
        token_env="ZD_TOKEN",
        page_size=page_size,
        **kw,
    )  # type: ignore[arg-type]


def freshdesk(server: HelpdeskServer, page_size: int | None = 4, **kw: object) -> Source:
    return Source(
        name="fd", kind="freshdesk", base_url=server.url, token_env="FD_KEY", page_size=page_size, **kw
    )  # type: ignore[arg-type]


def expected_zendesk(server: HelpdeskServer) -> dict[str, tuple[str, str]]:
    return {
        str(t["id"]): (t["status"], t["description"])
        for t in server.zendesk.values()
        if t["status"] in ("solved", "closed")
    }


def expected_freshdesk(server: HelpdeskServer) -> dict[str, tuple[str, str]]:
    names = {4: "resolved", 5: "closed"}
    return {
        str(t["id"]): (names[t["status"]], t["description_text"])
        for t in server.freshdesk.values()
        if t["status"] in names
    }


def brief(state: dict[str, tuple[str | None, str, str]]) -> dict[str, tuple[str | None, str]]:
    return {k: (v[0], v[1]) for k, v in state.items()}


def seed_zendesk(server: HelpdeskServer, n: int = 14) -> None:
    statuses = ["solved", "closed", "open", "solved", "pending", "closed", "new", "hold"]
    for i in range(1, n + 1):
        server.add_zendesk(
            i, statuses[i % len(statuses)], description=f"烤箱门关不紧 / door won't close #{i}"
        )


def seed_freshdesk(server: HelpdeskServer, n: int = 14) -> None:
    statuses = ["resolved", "closed", "open", "resolved", "pending", "closed"]
    at = server.tick()
    for i in range(1, n + 1):
        if i % 3 == 0:  # several tickets share one updated_at second: ties at page boundaries
            at = server.tick()
        server.add_freshdesk(i, statuses[i % len(statuses)], at=at, description=f"kettle leaks #{i}")


# ---------------------------------------------------------------------------------------------
# Zendesk
# ---------------------------------------------------------------------------------------------


def test_zendesk_full_pull_stores_exactly_closed_tickets_and_second_run_pulls_nothing(
    engine: Engine, server: HelpdeskServer
) -> None:
    seed_zendesk(server)
    run = Run(engine, zendesk(server))
    s = run()
    want = expected_zendesk(server)
    assert brief(stored(engine, "zd")) == want
    assert s.counts.inserted == len(want) and s.skipped == 14 - len(want) and s.quarantined == 0
    assert sum(1 for p, _, _ in server.log if p.endswith("cursor.json")) == 4  # 14 tickets, 4 per page
    with engine.connect() as c:
        wm = ingest_log.get_watermark(c, "zd")
        row = c.execute(
            select(TicketRow.channel, TicketRow.agent, TicketRow.closed_at).where(TicketRow.source_id == "1")
        ).one()
    assert wm  # the last page's after_cursor
    assert (row.channel, row.agent) == ("email", "501") and row.closed_at is not None
    # second run: resumes from the stored cursor, reads nothing, changes nothing
    n_before = len(server.log)
    again = run()
    assert again.read == 0 and again.counts.inserted == again.counts.updated == 0
    assert "cursor" in server.log[n_before][1] and "start_time" not in server.log[n_before][1]
    assert brief(stored(engine, "zd")) == want


def test_zendesk_faults_lose_and_duplicate_nothing(engine: Engine, server: HelpdeskServer) -> None:
    seed_zendesk(server, 20)
    # 1 ok, 2 rate-limited, 3-4 server errors, 5 cut mid-body, 6 connection reset, 7 too slow, then ok
    server.inject(None, "429", "500", "503", "drop", "reset", "slow", None, "429")
    run = Run(engine, zendesk(server))
    s = run()
    assert brief(stored(engine, "zd")) == expected_zendesk(server)
    assert s.counts.duplicates == 0 and s.counts.updated == 0
    assert run.sleeps.count(7.0) == 2  # Retry-After honoured, twice
    assert [x for x in run.sleeps if x != 7.0][:2] == [1.0, 2.0]  # exponential backoff on 5xx
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(TicketRow)).scalar_one() == len(
            expected_zendesk(server)
        )


def test_zendesk_later_updates_replace_old_version_and_new_closures_arrive(
    engine: Engine, server: HelpdeskServer
) -> None:
    seed_zendesk(server, 8)
    run = Run(engine, zendesk(server))
    run()
    before = stored(engine, "zd")
    server.update_zendesk(
        3, status="closed", description="solved: hinge recalibrated"
    )  # solved -> closed, edited
    server.update_zendesk(2, status="solved")  # open -> solved
    server.update_zendesk(5, status="open")  # reopened
    server.add_zendesk(100, "solved", description="brand new")
    s = run()
    after = stored(engine, "zd")
    assert s.counts.inserted == 2 and s.counts.updated == 1 and s.skipped == 1
    assert after["3"][:2] == ("closed", "solved: hinge recalibrated") and after["3"][2] != before["3"][2]
    assert after["2"][0] == "solved" and "100" in after
    # a reopened ticket keeps its last closed version until it closes again
    assert after["5"] == before["5"]
    server.update_zendesk(5, status="solved", description="fixed for good")
    run()
    assert stored(engine, "zd")["5"][:2] == ("solved", "fixed for good")
    assert brief(stored(engine, "zd")) == expected_zendesk(server)


def clean_run_state(tmp_path: Path, src: Source, name: str) -> dict[str, tuple[str | None, str, str]]:
    """What one uninterrupted run stores (in a separate, fresh SQLite store)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    migrate(eng)
    try:
        Run(eng, src)()
        return stored(eng, name)
    finally:
        eng.dispose()


@pytest.mark.parametrize("kind", ["zendesk", "freshdesk"])
def test_kill_mid_batch_then_rerun_equals_clean_run(
    engine: Engine, server: HelpdeskServer, tmp_path: Path, kind: str
) -> None:
    if kind == "zendesk":
        seed_zendesk(server, 20)
        src, name = zendesk(server), "zd"
    else:
        seed_freshdesk(server, 20)
        src, name = freshdesk(server), "fd"
    run = Run(engine, src)
    with pytest.raises(RuntimeError, match="killed"):
        pull(engine, KillAfter(run.source(), rows=3), Mapping())  # 1st page has 2 closed tickets
    partial = stored(engine, name)
    assert len(partial) == 2  # the first batch only: the row already read from the second left no trace
    with engine.connect() as c:
        assert c.execute(select(IngestRun.status)).scalars().all() == ["failed"]
    s = run()  # re-run resumes from the watermark of the last committed batch
    assert s.counts.updated == 0
    assert stored(engine, name) == clean_run_state(tmp_path, src, name)


def test_zendesk_service_down_mid_run_then_rerun_completes(engine: Engine, server: HelpdeskServer) -> None:
    seed_zendesk(server, 20)
    # third page (after pages 1 and 2 and the comments of their 2 + 2 closed tickets): the service stays
    # down past the retry budget
    server.inject(*[None] * 6, *["500"] * 6)
    run = Run(engine, zendesk(server))
    with pytest.raises(SourceError, match="HTTP 500 6 times"):
        run()
    assert 0 < len(stored(engine, "zd")) < len(expected_zendesk(server))
    run()
    assert brief(stored(engine, "zd")) == expected_zendesk(server)


def test_zendesk_bad_token_is_one_clear_line(
    engine: Engine, server: HelpdeskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_zendesk(server, 3)
    monkeypatch.setenv("ZD_TOKEN", "wrong-token")
    with pytest.raises(SourceError) as err:
        Run(engine, zendesk(server))()
    msg = str(err.value)
    assert "\n" not in msg and "'zd'" in msg and "HTTP 401" in msg
    assert "$ZD_EMAIL" in msg and "$ZD_TOKEN" in msg and "wrong-token" not in msg
    assert len(server.log) == 1  # no retries on bad credentials
    with engine.connect() as c:
        assert ingest_log.get_watermark(c, "zd") is None


def test_missing_secret_env_is_named(
    engine: Engine, server: HelpdeskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FD_KEY")
    with pytest.raises(SourceError, match=r"\$FD_KEY .*not set"):
        Run(engine, freshdesk(server))()


# ---------------------------------------------------------------------------------------------
# Freshdesk
# ---------------------------------------------------------------------------------------------


def test_freshdesk_full_pull_with_ties_faults_and_second_run(engine: Engine, server: HelpdeskServer) -> None:
    seed_freshdesk(server, 17)
    server.inject(None, "429", "spent", "503", "drop", "slow", None, "reset")
    run = Run(engine, freshdesk(server, page_size=3))
    s = run()
    want = expected_freshdesk(server)
    assert brief(stored(engine, "fd")) == want
    assert s.counts.inserted == len(want) and s.counts.updated == 0 and s.skipped == 17 - len(want)
    assert 7.0 in run.sleeps and 60.0 in run.sleeps  # Retry-After, and a pause when the budget is spent
    for path, q, _ in server.log:
        if path.endswith("/conversations") or path == "/api/v2/surveys/satisfaction_ratings":  # replies, CSAT
            continue
        assert q["order_by"] == "updated_at" and q["order_type"] == "asc"
        assert "description" in q.get("include", "") or q["filter"] in ("deleted", "spam")  # trash: ids only
    with engine.connect() as c:
        row = c.execute(
            select(TicketRow.channel, TicketRow.agent, TicketRow.status).where(TicketRow.source_id == "1")
        ).one()
    assert tuple(row) == ("phone", "9001", "closed")
    again = run()
    assert again.read == 0 and again.skipped == 0 and again.counts.inserted == 0


def test_freshdesk_ticket_updated_while_paging_is_not_lost(engine: Engine, server: HelpdeskServer) -> None:
    """Plain page=N paging would skip a ticket here: ticket 1 moves to the end between page 1 and 2."""
    for i in range(1, 10):
        server.add_freshdesk(i, "resolved", description=f"item {i}")
    server.hooks[2] = lambda: server.update_freshdesk(1, description_text="item 1, edited")
    run = Run(engine, freshdesk(server, page_size=3))
    s = run()
    assert brief(stored(engine, "fd")) == expected_freshdesk(server)
    assert stored(engine, "fd")["1"][1] == "item 1, edited"
    assert (s.counts.inserted, s.counts.updated) == (9, 1)


def test_freshdesk_later_update_replaces_and_late_tie_arrives(engine: Engine, server: HelpdeskServer) -> None:
    seed_freshdesk(server, 9)
    run = Run(engine, freshdesk(server, page_size=3))
    run()
    last = max(server.freshdesk.values(), key=lambda t: t["updated_at"])["updated_at"]
    # a ticket closed in the same second as the watermark, after we read: must still arrive
    server.add_freshdesk(
        50, "closed", at=datetime.fromisoformat(last.replace("Z", "+00:00")), description="late tie"
    )
    server.update_freshdesk(3, description_text="edited after resolution")
    server.update_freshdesk(2, status="closed")  # was open
    s = run()
    got = stored(engine, "fd")
    assert brief(got) == expected_freshdesk(server)
    assert got["50"][1] == "late tie" and got["3"][1] == "edited after resolution" and got["2"][0] == "closed"
    assert s.counts.inserted == 2 and s.counts.updated == 1


def test_freshdesk_bad_key_is_one_clear_line(
    engine: Engine, server: HelpdeskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FD_KEY", "nope")
    with pytest.raises(SourceError) as err:
        Run(engine, freshdesk(server))()
    msg = str(err.value)
    assert "\n" not in msg and "'fd'" in msg and "HTTP 401" in msg and "$FD_KEY" in msg and "nope" not in msg
