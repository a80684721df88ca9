"""SQL source: a helpdesk table in a real SQLite file or PostgreSQL schema, read incrementally into the
real store (SQLite and PostgreSQL), with many rows sharing the watermark timestamp at batch boundaries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from tests.helpdesk_server import KillAfter, stored
from voc.config.settings import Mapping, Source, VocConfig
from voc.errors import SourceError
from voc.flows.ingest_stage import build_incremental, ingest_source
from voc.sources.incremental import pull
from voc.store.db import make_engine, migrate

T0 = datetime(2026, 1, 5, 9, 0, 0)
QUERY = "SELECT case_id, opened, closed, text, status, modified FROM crm_cases WHERE status = 'closed'"
MAPPING = Mapping(
    rename={"case_id": "ticket_id", "opened": "created_at", "closed": "closed_at", "text": "body"},
    timezone="UTC",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The helpdesk's own database: a separate SQLite file, or a table in the PostgreSQL test schema."""
    url = (
        f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(
            sa.text(
                "CREATE TABLE crm_cases (case_id INTEGER PRIMARY KEY, opened TIMESTAMP, "
                "closed TIMESTAMP, text TEXT, status VARCHAR(20), modified TIMESTAMP)"
            )
        )
    eng.dispose()
    monkeypatch.setenv("CRM_URL", url)
    return url


def put(url: str, *rows: tuple[int, str, str, datetime]) -> None:
    """Insert or replace cases: (id, text, status, modified)."""
    eng = sa.create_engine(url)
    with eng.begin() as c:
        for cid, text, status, modified in rows:
            c.execute(sa.text("DELETE FROM crm_cases WHERE case_id = :i"), {"i": cid})
            c.execute(
                sa.text("INSERT INTO crm_cases VALUES (:i, :o, :c, :t, :s, :m)"),
                {
                    "i": cid,
                    "o": modified - timedelta(hours=5),
                    "c": modified,
                    "t": text,
                    "s": status,
                    "m": modified,
                },
            )
    eng.dispose()


def expected(url: str) -> dict[str, tuple[str, str]]:
    eng = sa.create_engine(url)
    with eng.connect() as c:
        rows = c.execute(sa.text("SELECT case_id, status, text FROM crm_cases WHERE status = 'closed'")).all()
    eng.dispose()
    return {str(r[0]): (r[1], r[2]) for r in rows}


def brief(state: dict[str, tuple[str | None, str, str]]) -> dict[str, tuple[str | None, str]]:
    return {k: (v[0], v[1]) for k, v in state.items()}


def seed(url: str) -> None:
    """11 closed + 2 open cases over only 3 distinct timestamps: every batch of 4 ends inside a tie."""
    rows = []
    for i in range(1, 14):
        modified = T0 + timedelta(minutes=[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2][i - 1])
        rows.append((i, f"空调漏水 case {i}", "open" if i in (4, 9) else "closed", modified))
    put(url, *rows)


def crm(**kw: object) -> Source:
    fields: dict[str, object] = dict(
        name="crm",
        kind="sql",
        url_env="CRM_URL",
        query=QUERY,
        watermark_column="modified",
        page_size=4,
        mapping="crm",
    )
    return Source.model_validate(fields | kw)


def run(engine: Engine, src: Source):  # type: ignore[no-untyped-def]
    return ingest_source(engine, VocConfig(sources=[src], mappings={"crm": MAPPING}), src)


def test_sql_pull_with_boundary_ties_late_rows_and_updates(engine: Engine, source_url: str) -> None:
    seed(source_url)
    s = run(engine, crm())
    assert brief(stored(engine, "crm")) == expected(source_url)
    assert (s.read, s.counts.inserted, s.quarantined) == (11, 11, 0)
    again = run(engine, crm())
    assert again.read == 0 and again.counts.inserted == 0  # the rows at the boundary are not re-read
    # rows that arrive later with the very same timestamp as the watermark, a changed row, a new row
    last = T0 + timedelta(minutes=2)
    put(
        source_url,
        (20, "late, same second as the watermark", "closed", last),
        (21, "another late one", "closed", last),
        (2, "case 2, reopened and closed again", "closed", last + timedelta(minutes=5)),
        (4, "case 4 closed now", "closed", last + timedelta(minutes=6)),
    )
    s = run(engine, crm())
    assert (s.read, s.counts.inserted, s.counts.updated) == (4, 3, 1)
    got = stored(engine, "crm")
    assert brief(got) == expected(source_url)
    assert got["2"][1] == "case 2, reopened and closed again"


def test_sql_kill_mid_tie_group_then_rerun_equals_clean_run(
    engine: Engine, source_url: str, tmp_path: Path
) -> None:
    seed(source_url)
    with pytest.raises(RuntimeError, match="killed"):
        pull(engine, KillAfter(build_incremental(crm()), rows=9), MAPPING)  # dies inside the 3rd batch
    # batches 1-2 committed; the watermark is T0+1min with 4 of the 5 rows at that time taken; the 5th
    # (case 11, same timestamp) was being read when the run died and must not be lost by a `>` filter
    assert sorted(stored(engine, "crm"), key=int) == ["1", "2", "3", "5", "6", "7", "8", "10"]
    s = run(engine, crm())
    assert (s.read, s.counts.inserted, s.counts.updated) == (3, 3, 0)
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    migrate(clean)
    run(clean, crm())
    assert stored(engine, "crm") == stored(clean, "crm")
    clean.dispose()


def test_sql_query_with_own_watermark_parameter(sqlite_url: str, source_url: str) -> None:
    seed(source_url)
    q = (
        "SELECT case_id, opened, closed, text, status, modified FROM crm_cases "
        "WHERE status = 'closed' AND modified >= :watermark ORDER BY modified"
    )
    engine = make_engine(sqlite_url)
    migrate(engine)
    src = crm(query=q, since="2026-01-01T00:00:00")
    run(engine, src)
    assert brief(stored(engine, "crm")) == expected(source_url)
    assert run(engine, src).read == 0
    engine.dispose()


def test_sql_errors_are_one_clear_line(
    sqlite_url: str, source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with pytest.raises(SourceError, match=r"'crm'.*changed_at"):
        run(engine, crm(watermark_column="changed_at"))
    with pytest.raises(SourceError) as err:
        run(engine, crm(query="SELECT * FROM no_such_table"))
    assert "'crm'" in str(err.value) and "$CRM_URL" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.delenv("CRM_URL")
    with pytest.raises(SourceError, match=r"\$CRM_URL"):
        run(engine, crm())
    engine.dispose()
